//! The funder's pUSD: read from the chain at most once per `ttl` (30 s by default), and
//! at once after an invalidation (the host's own fills). The gate checks BUYs against it
//! through the desk (open BUY orders reserved there), failing closed when it cannot be
//! read; SELLs of held positions do not need it.

use std::sync::Mutex;
use std::time::Duration;

use alloy::primitives::{Address, U256};
use polybox_core::money::Size;
use tokio::time::Instant;

use super::Chain;

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

    /// Forget the cached balance: the host's own fill changed it.
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
}
