//! The chain while trading live: the wallet reported at start, then its pUSD read every
//! `cache_s` and at once when the host's own fills change it (placements are reserved by
//! the desk), and its outcome tokens every `cross_check_s` to check the position tracker.
//! Each pUSD read goes to the desk, whose gate checks every BUY against it; a read that
//! fails makes BUYs fail closed until the next one succeeds.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, U256};
use polybox_core::money::{Size, Usdc};
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

/// What the watch read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// The funder's pUSD (or why it cannot be read).
    Collateral(Result<Usdc, String>),
    /// The funder's outcome tokens, for the cross-check against the position tracker.
    Shares(Result<Vec<(String, Size)>, String>),
}

/// Reads of the chain for the run loop.
#[derive(Debug)]
pub struct BalanceWatch {
    rx: mpsc::Receiver<Reading>,
    wake: Arc<Notify>,
}

/// How often the watch reads what.
#[derive(Debug, Clone, Copy)]
pub struct Cadence {
    /// pUSD, at least this often.
    pub collateral: Duration,
    /// Outcome tokens, this often.
    pub cross_check: Duration,
}

impl BalanceWatch {
    /// Read `cache` now and every `cadence.collateral`, and whenever
    /// [`BalanceWatch::invalidate`] is called; read the outcome tokens `tokens` every
    /// `cadence.cross_check`. With no cache (no node configured), one reading says why.
    pub fn start(
        runtime: &Runtime,
        cache: Result<BalanceCache, String>,
        tokens: &[String],
        cadence: Cadence,
    ) -> BalanceWatch {
        let (tx, rx) = mpsc::channel(4);
        let wake = Arc::new(Notify::new());
        let woken = Arc::clone(&wake);
        let ids: Vec<(String, U256)> = tokens
            .iter()
            .filter_map(|t| t.parse().ok().map(|id| (t.clone(), id)))
            .collect();
        runtime.spawn(async move {
            let cache = match cache {
                Ok(c) => c,
                Err(why) => {
                    let _ = tx.send(Reading::Collateral(Err(why))).await;
                    return;
                }
            };
            let mut cross_check = tokio::time::interval(cadence.cross_check);
            cross_check.tick().await;
            loop {
                let read = cache.held().await.map(usdc);
                if tx.send(Reading::Collateral(read)).await.is_err() {
                    return;
                }
                tokio::select! {
                    () = tokio::time::sleep(cadence.collateral) => {}
                    () = woken.notified() => {}
                    _ = cross_check.tick() => {
                        let shares = cache.shares(&ids).await;
                        if tx.send(Reading::Shares(shares)).await.is_err() {
                            return;
                        }
                    }
                }
                cache.invalidate();
            }
        });
        BalanceWatch { rx, wake }
    }

    /// The host's own fill changed the balance: read it again now.
    pub fn invalidate(&self) {
        self.wake.notify_one();
    }

    /// The next reading (`None` once no more will come).
    pub async fn next(&mut self) -> Option<Reading> {
        self.rx.recv().await
    }
}

/// Where the chain and the position tracker disagree by more than `dust` shares:
/// (token, on chain, tracked), in token order.
pub fn mismatches(
    chain: &[(String, Size)],
    tracked: &BTreeMap<String, Size>,
    dust: Size,
) -> Vec<(String, Size, Size)> {
    chain
        .iter()
        .filter_map(|(token, on_chain)| {
            let mine = tracked.get(token).copied().unwrap_or(Size::ZERO);
            let gap = on_chain.micros().abs_diff(mine.micros());
            (gap > dust.micros()).then(|| (token.clone(), *on_chain, mine))
        })
        .collect()
}

/// What the run loop makes of the readings: the pUSD the gate checks BUYs against, unless
/// the cross-check has found the chain's outcome tokens and the tracker apart by at least
/// `pause` shares twice in a row (once can be a fill not yet settled on chain): new BUYs
/// are then refused until they agree again. Smaller gaps beyond `dust` are logged.
#[derive(Debug)]
pub struct ChainView {
    dust: Size,
    pause: Size,
    last: Option<Result<Usdc, String>>,
    suspect: Vec<String>,
    paused: Option<String>,
}

impl ChainView {
    /// With the cross-check thresholds.
    pub fn new(dust: Size, pause: Size) -> ChainView {
        ChainView {
            dust,
            pause,
            last: None,
            suspect: Vec::new(),
            paused: None,
        }
    }

    fn effective(&self) -> Result<Usdc, String> {
        match (&self.paused, &self.last) {
            (Some(why), _) => Err(why.clone()),
            (None, Some(read)) => read.clone(),
            (None, None) => Err("the wallet's balance has not been read yet".to_owned()),
        }
    }

    /// Take a reading, with the tracker's shares per token; the balance for the desk when
    /// it changed.
    pub fn on_reading(
        &mut self,
        reading: Reading,
        tracked: &BTreeMap<String, Size>,
    ) -> Option<Result<Usdc, String>> {
        match reading {
            Reading::Collateral(read) => {
                self.last = Some(read);
                return Some(self.effective());
            }
            Reading::Shares(Err(e)) => {
                tracing::warn!("cannot read the outcome tokens on chain for the cross-check: {e}");
                return None;
            }
            Reading::Shares(Ok(chain)) => {
                let gaps = mismatches(&chain, tracked, self.dust);
                for (token, on_chain, mine) in &gaps {
                    tracing::warn!(token = %token, chain = %on_chain, tracked = %mine, "the chain and the position tracker disagree");
                }
                let large: Vec<&(String, Size, Size)> = gaps
                    .iter()
                    .filter(|(_, a, b)| a.micros().abs_diff(b.micros()) >= self.pause.micros())
                    .collect();
                let confirmed = large.iter().find(|(t, ..)| self.suspect.contains(t));
                let paused = confirmed.map(|(token, on_chain, mine)| {
                    format!(
                        "the chain holds {on_chain} shares of token {token}, the tracker {mine}: new BUYs are paused until they agree (check the journal's fills against the wallet)"
                    )
                });
                self.suspect = large.iter().map(|(t, ..)| t.clone()).collect();
                if paused == self.paused {
                    return None;
                }
                match &paused {
                    Some(why) => tracing::error!("{why}"),
                    None => tracing::info!(
                        "the chain and the position tracker agree again: BUYs resume"
                    ),
                }
                self.paused = paused;
            }
        }
        Some(self.effective())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Size {
        Size::parse(s).unwrap()
    }

    #[test]
    fn a_large_gap_seen_twice_pauses_buys_until_they_agree() {
        let mut v = ChainView::new(q("0.01"), q("1"));
        let ok = Ok(Usdc::from_micros(50_000_000));
        assert_eq!(
            v.on_reading(Reading::Collateral(ok.clone()), &BTreeMap::new()),
            Some(ok.clone())
        );
        let tracked = BTreeMap::from([("a".to_owned(), q("10"))]);
        let apart = || Reading::Shares(Ok(vec![("a".to_owned(), q("4"))]));
        // Once: maybe a fill not settled yet.
        assert_eq!(v.on_reading(apart(), &tracked), None);
        // Twice: paused, and pUSD reads stay refused while it lasts.
        let paused = v.on_reading(apart(), &tracked).unwrap().unwrap_err();
        assert!(
            paused.contains("holds 4 shares of token a, the tracker 10"),
            "{paused}"
        );
        assert!(
            v.on_reading(Reading::Collateral(ok.clone()), &tracked)
                .unwrap()
                .is_err()
        );
        // They agree: BUYs resume on the last read.
        let agree = Reading::Shares(Ok(vec![("a".to_owned(), q("10"))]));
        assert_eq!(v.on_reading(agree, &tracked), Some(ok));
    }

    #[test]
    fn only_gaps_beyond_dust_are_mismatches() {
        let chain = vec![
            ("a".to_owned(), q("10")),
            ("b".to_owned(), q("5.005")),
            ("c".to_owned(), q("0")),
        ];
        let tracked = BTreeMap::from([
            ("a".to_owned(), q("10")),
            ("b".to_owned(), q("5")),
            ("c".to_owned(), q("3")),
        ]);
        assert_eq!(
            mismatches(&chain, &tracked, q("0.01")),
            vec![("c".to_owned(), q("0"), q("3"))]
        );
    }
}
