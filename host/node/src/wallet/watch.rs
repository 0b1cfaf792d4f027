//! The chain balance while trading live: read at start (with a report of what the wallet
//! holds and lacks), then again every `cache_s` and at once when the host's own fills or
//! placements change it. Each read goes to the desk, whose gate checks every BUY against
//! it; a read that fails makes BUYs fail closed until the next one succeeds.

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, U256};
use polybox_core::money::Usdc;
use tokio::runtime::Runtime;
use tokio::sync::{Notify, mpsc};

use super::cache::BalanceCache;
use super::{Chain, units};

/// Micro-pUSD as the desk's money (saturating: no wallet holds 9 × 10¹² pUSD).
pub fn usdc(micros: U256) -> Usdc {
    Usdc::from_micros(
        u64::try_from(micros)
            .ok()
            .and_then(|v| i64::try_from(v).ok())
            .unwrap_or(i64::MAX),
    )
}

/// Check the chain and report the wallet before trading. A node serving another chain is
/// an error (the run does not start); an unreachable one is a warning (BUYs will be
/// refused until it answers).
pub fn report(
    runtime: &Runtime,
    chain: &Chain,
    who: Address,
    tokens: &[String],
) -> Result<(), String> {
    let ids: Vec<U256> = tokens.iter().filter_map(|t| t.parse().ok()).collect();
    match runtime.block_on(chain.holdings(who, &ids)) {
        Ok(h) => {
            tracing::info!(
                address = %h.address,
                chain = h.chain_id,
                pusd = %units(h.pusd),
                usdc_e = %units(h.usdc_e),
                "wallet"
            );
            for (name, _, v) in &h.allowances {
                tracing::info!(allowance = %units(*v), "pUSD allowance to the {name}");
            }
            for m in h.missing() {
                tracing::warn!("{m}");
            }
            Ok(())
        }
        Err(e) if e.contains("serves chain") => Err(e),
        Err(e) => {
            tracing::warn!("cannot read the wallet ({e}): BUYs are refused until it can be read");
            Ok(())
        }
    }
}

/// Reads of the chain balance for the run loop.
#[derive(Debug)]
pub struct BalanceWatch {
    rx: mpsc::Receiver<Result<Usdc, String>>,
    wake: Arc<Notify>,
}

impl BalanceWatch {
    /// Read `cache` now, then every `every` and whenever [`BalanceWatch::invalidate`] is
    /// called. With no cache (no node configured), one read that says why.
    pub fn start(
        runtime: &Runtime,
        cache: Result<BalanceCache, String>,
        every: Duration,
    ) -> BalanceWatch {
        let (tx, rx) = mpsc::channel(4);
        let wake = Arc::new(Notify::new());
        let woken = Arc::clone(&wake);
        runtime.spawn(async move {
            let cache = match cache {
                Ok(c) => c,
                Err(why) => {
                    let _ = tx.send(Err(why)).await;
                    return;
                }
            };
            loop {
                let read = cache.held().await.map(usdc);
                if tx.send(read).await.is_err() {
                    return;
                }
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    () = woken.notified() => {}
                }
                cache.invalidate();
            }
        });
        BalanceWatch { rx, wake }
    }

    /// The host's own fill or placement changed the balance: read it again now.
    pub fn invalidate(&self) {
        self.wake.notify_one();
    }

    /// The next read (`None` once no more will come).
    pub async fn next(&mut self) -> Option<Result<Usdc, String>> {
        self.rx.recv().await
    }
}
