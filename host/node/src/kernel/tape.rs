//! What an operator looks back at: the most recent fills and the session's equity curve
//! (realised plus unrealised P&L over kernel time), both bounded.

use std::collections::VecDeque;

use polybox_core::money::Usdc;
use polybox_core::order::Fill;
use serde::Serialize;

/// Fills kept for the dashboard and `/api/fills`.
const FILLS: usize = 200;
/// Points kept on the equity curve; when full, every other one is dropped and the
/// sampling interval doubles, so the curve always spans the whole session.
const POINTS: usize = 512;
/// Kernel time between two equity points at the start, ms.
const FIRST_INTERVAL_MS: u64 = 1_000;

/// One point of the equity curve.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct EquityPoint {
    /// Kernel time, ms.
    pub ts: u64,
    /// Realised plus unrealised P&L, all strategies, USDC.
    pub pnl: Usdc,
}

/// Recent fills and the equity curve.
#[derive(Debug)]
pub struct Tape {
    fills: VecDeque<Fill>,
    equity: Vec<EquityPoint>,
    interval_ms: u64,
}

impl Default for Tape {
    fn default() -> Self {
        Tape {
            fills: VecDeque::with_capacity(FILLS),
            equity: Vec::with_capacity(POINTS),
            interval_ms: FIRST_INTERVAL_MS,
        }
    }
}

impl Tape {
    /// Keep a fill (the oldest goes once 200 are kept).
    pub fn fill(&mut self, fill: &Fill) {
        if self.fills.len() == FILLS {
            self.fills.pop_front();
        }
        self.fills.push_back(fill.clone());
    }

    /// Whether an equity point is due at kernel time `ts`.
    pub fn due(&self, ts: u64) -> bool {
        self.equity
            .last()
            .is_none_or(|p| ts >= p.ts.saturating_add(self.interval_ms))
    }

    /// Add an equity point (call when [`Tape::due`]).
    pub fn sample(&mut self, ts: u64, pnl: Usdc) {
        if self.equity.len() == POINTS {
            let mut keep = 0;
            self.equity.retain(|_| {
                keep += 1;
                keep % 2 == 1
            });
            self.interval_ms = self.interval_ms.saturating_mul(2);
        }
        self.equity.push(EquityPoint { ts, pnl });
    }

    /// The most recent fills, newest last.
    pub fn fills(&self) -> impl DoubleEndedIterator<Item = &Fill> + '_ {
        self.fills.iter()
    }

    /// The equity curve, oldest first.
    pub fn equity(&self) -> &[EquityPoint] {
        &self.equity
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polybox_core::ids::{OrderId, StrategyId, TokenId};
    use polybox_core::money::{Price, Size};
    use polybox_core::order::Side;

    fn fill(n: u64) -> Fill {
        Fill {
            order: OrderId(n),
            strategy: StrategyId(0),
            token: TokenId::new("T"),
            side: Side::Buy,
            price: Price::parse("0.5").unwrap(),
            size: Size::parse("1").unwrap(),
            fee: Usdc::ZERO,
            ts: n,
        }
    }

    #[test]
    fn keeps_the_latest_fills_only() {
        let mut t = Tape::default();
        for n in 0..(FILLS as u64 + 5) {
            t.fill(&fill(n));
        }
        let kept: Vec<u64> = t.fills().map(|f| f.order.0).collect();
        assert_eq!(kept.len(), FILLS);
        assert_eq!(kept[0], 5);
        assert_eq!(*kept.last().unwrap(), FILLS as u64 + 4);
    }

    #[test]
    fn the_curve_thins_out_but_spans_the_whole_session() {
        let mut t = Tape::default();
        let mut ts = 0;
        for _ in 0..10_000 {
            if t.due(ts) {
                t.sample(ts, Usdc::from_micros(i64::try_from(ts).unwrap()));
            }
            ts += 250;
        }
        let e = t.equity();
        assert!(e.len() <= POINTS && e.len() > POINTS / 4, "{}", e.len());
        assert_eq!(e[0].ts, 0, "the start is kept");
        assert!(
            e.last().unwrap().ts >= ts - 250 - t.interval_ms,
            "reaches the end"
        );
        assert!(e.windows(2).all(|w| w[0].ts < w[1].ts));
    }
}
