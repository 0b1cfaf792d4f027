//! Where the money for a BUY comes from: a balance source. Paper mode uses the
//! [`PaperWallet`]; live mode the [`ChainWallet`], refreshed by the host from the chain.

use crate::money::Usdc;
use crate::order::{Fill, Side};

/// A source of the collateral balance.
pub trait BalanceSource: std::fmt::Debug {
    /// Collateral held now, before subtracting open orders; `Err` says why it is unknown
    /// (BUYs then fail closed with `balance_unavailable`).
    fn balance(&self) -> Result<Usdc, String>;
    /// One of our fills settled.
    fn on_fill(&mut self, fill: &Fill);
}

/// The paper wallet: starts with the configured capital and moves with every fill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaperWallet {
    cash: Usdc,
}

impl PaperWallet {
    /// A wallet holding `capital`.
    pub fn new(capital: Usdc) -> Self {
        PaperWallet { cash: capital }
    }
}

impl BalanceSource for PaperWallet {
    fn balance(&self) -> Result<Usdc, String> {
        Ok(self.cash)
    }

    fn on_fill(&mut self, fill: &Fill) {
        let notional = Usdc::notional(fill.price, fill.size);
        match fill.side {
            Side::Buy => self.cash -= notional + fill.fee,
            Side::Sell => self.cash += notional - fill.fee,
        }
    }
}

/// The wallet on chain as the host last read it: the collateral read (or why there is
/// none), less what our BUY fills have spent since. A SELL's proceeds count only once the
/// chain shows them, so the balance never runs ahead of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainWallet {
    read: Result<Usdc, String>,
    spent: Usdc,
}

impl ChainWallet {
    /// A fresh read of the chain.
    pub fn read(read: Result<Usdc, String>) -> Self {
        ChainWallet {
            read,
            spent: Usdc::ZERO,
        }
    }
}

impl BalanceSource for ChainWallet {
    fn balance(&self) -> Result<Usdc, String> {
        self.read.clone().map(|v| v - self.spent)
    }

    fn on_fill(&mut self, fill: &Fill) {
        if fill.side == Side::Buy {
            self.spent += Usdc::notional(fill.price, fill.size) + fill.fee;
        }
    }
}
