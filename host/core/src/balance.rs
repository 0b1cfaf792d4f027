//! Where the money for a BUY comes from: a balance source. Paper mode uses the
//! [`PaperWallet`]; live mode will use the on-chain checker behind the same trait.

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
