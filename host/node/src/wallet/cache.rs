//! The collateral a BUY may spend: read from the chain at most once per `ttl` (30 s by
//! default), and at once after the host's own fills and placements invalidate it. Amounts
//! reserved by open BUY orders are subtracted. When the chain cannot be read, BUYs are
//! refused (fail closed) with the reason; SELLs of held positions do not come here.

use std::sync::Mutex;
use std::time::Duration;

use alloy::primitives::{Address, U256};
use polybox_core::money::Size;
use tokio::time::Instant;

use super::{Chain, units};

/// Why a BUY cannot be paid for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BalanceRefusal {
    /// The wallet holds less than the order needs.
    #[error("insufficient_balance: the order needs {} pUSD, {} is available", units(*required), units(*available))]
    Insufficient {
        /// Micro-pUSD needed.
        required: U256,
        /// Micro-pUSD available (held minus reserved).
        available: U256,
    },
    /// The balance could not be read: refused until it can.
    #[error("balance_unavailable: {0}")]
    Unavailable(String),
}

impl BalanceRefusal {
    /// The reason code the gate reports.
    pub fn code(&self) -> &'static str {
        match self {
            BalanceRefusal::Insufficient { .. } => "insufficient_balance",
            BalanceRefusal::Unavailable(_) => "balance_unavailable",
        }
    }
}

/// The funder's pUSD, cached.
#[derive(Debug)]
pub struct BalanceCache {
    chain: Chain,
    who: Address,
    ttl: Duration,
    last: Mutex<Option<(Instant, U256)>>,
}

impl BalanceCache {
    /// `who`'s pUSD on `chain`, trusted for `ttl`.
    pub fn new(chain: Chain, who: Address, ttl: Duration) -> BalanceCache {
        BalanceCache {
            chain,
            who,
            ttl,
            last: Mutex::new(None),
        }
    }

    fn last(&self) -> std::sync::MutexGuard<'_, Option<(Instant, U256)>> {
        self.last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Forget the cached balance: the host's own fill or placement changed it.
    pub fn invalidate(&self) {
        *self.last() = None;
    }

    /// The pUSD held (micro-units): the cached read while fresh, else a new one.
    pub async fn held(&self) -> Result<U256, String> {
        if let Some((at, v)) = *self.last()
            && at.elapsed() < self.ttl
        {
            return Ok(v);
        }
        let v = self.chain.collateral(self.who).await?;
        *self.last() = Some((Instant::now(), v));
        Ok(v)
    }

    /// The funder's balance of each outcome token in `ids` (token text, id).
    pub async fn shares(&self, ids: &[(String, U256)]) -> Result<Vec<(String, Size)>, String> {
        let mut out = Vec::with_capacity(ids.len());
        for (token, id) in ids {
            let v = self.chain.shares(self.who, *id).await?;
            out.push((
                token.clone(),
                Size::from_micros(u64::try_from(v).unwrap_or(u64::MAX)),
            ));
        }
        Ok(out)
    }

    /// Whether a BUY needing `required` micro-pUSD can be paid for while open orders
    /// reserve `reserved`. Fails closed: an unreadable balance refuses.
    pub async fn has_sufficient_balance(
        &self,
        required: U256,
        reserved: U256,
    ) -> Result<(), BalanceRefusal> {
        let held = self.held().await.map_err(BalanceRefusal::Unavailable)?;
        let available = held.saturating_sub(reserved);
        if required > available {
            return Err(BalanceRefusal::Insufficient {
                required,
                available,
            });
        }
        Ok(())
    }
}
