//! The replay/run summary: counters, P&L and health, totals and per strategy.

use std::collections::BTreeMap;

use polybox_core::money::Usdc;
use polybox_core::risk::ledger::{DayRecord, Trip};
use serde::Serialize;

use super::{Kernel, Status};

/// One strategy's line.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StrategySummary {
    /// Name (file stem).
    pub name: String,
    /// Version it reported.
    pub version: String,
    /// running, quarantined or failed.
    pub state: &'static str,
    /// Events it handled.
    pub events: u64,
    /// Events it missed while quarantined.
    pub events_missed: u64,
    /// Intents submitted.
    pub intents: u64,
    /// Intents approved.
    pub accepted: u64,
    /// Refusals by reason code.
    pub rejected: BTreeMap<&'static str, u64>,
    /// Fills.
    pub fills: u64,
    /// Fees paid, USDC.
    pub fees: Usdc,
    /// The largest notional any one of its orders filled, USDC.
    pub largest_order_filled: Usdc,
    /// Fills that slipped past the warning threshold.
    pub slippage_warnings: u64,
    /// The worst slippage of a fill, percent.
    pub worst_slippage_pct: rust_decimal::Decimal,
    /// Paused (by the operator, or for slippage): new orders refused until resumed.
    pub paused: bool,
    /// Realised P&L (fees included), USDC.
    pub realized_pnl: Usdc,
    /// Unrealised P&L at the last marks, USDC.
    pub unrealized_pnl: Usdc,
    /// Faults by kind.
    pub faults: BTreeMap<&'static str, u64>,
    /// Restarts after quarantine.
    pub restarts: u32,
    /// Hot swaps.
    pub swaps: u32,
    /// Kernel time since it was loaded (or since the first event), ms.
    pub uptime_ms: u64,
    /// Linear memory of the running instance, bytes (0 when none runs).
    pub memory_bytes: u64,
}

/// Totals and per-strategy lines.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// Market messages processed.
    pub events: u64,
    /// Intents submitted.
    pub intents: u64,
    /// Intents approved.
    pub accepted: u64,
    /// Refusals by reason code.
    pub rejected: BTreeMap<&'static str, u64>,
    /// Fills.
    pub fills: u64,
    /// Fees, USDC.
    pub fees: Usdc,
    /// Realised P&L, USDC.
    pub realized_pnl: Usdc,
    /// Unrealised P&L, USDC.
    pub unrealized_pnl: Usdc,
    /// Hot swaps, all strategies.
    pub swaps: u32,
    /// Events strategies missed while down, all strategies (0 when no strategy faulted:
    /// a swap misses none).
    pub events_missed: u64,
    /// Per strategy, in load order.
    pub strategies: Vec<StrategySummary>,
    /// The risk ledger at the end.
    pub risk: RiskSummary,
}

/// The risk ledger, for the summary.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RiskSummary {
    /// Each trading day seen: realised P&L, fills, closes.
    pub days: Vec<DayRecord>,
    /// Consecutive losing closes at the end.
    pub consecutive_losses: u32,
    /// The breaker, when tripped.
    pub breaker: Option<Trip>,
    /// The bankroll halt, when engaged.
    pub halt: Option<Trip>,
    /// Bankroll at the end (cash plus marked positions).
    pub bankroll: Usdc,
    /// Highest bankroll seen.
    pub peak_bankroll: Usdc,
}

impl Summary {
    pub(super) fn collect(k: &Kernel) -> Summary {
        let desk = k.desk();
        let strategies: Vec<StrategySummary> = k
            .slots
            .iter()
            .map(|s| {
                let c = desk.counters(s.id);
                let pnl = desk.pnl(s.id);
                StrategySummary {
                    name: s.name.to_string(),
                    version: s.version.clone(),
                    state: match s.status {
                        Status::Running => "running",
                        Status::Quarantined { .. } => "quarantined",
                        Status::Failed => "failed",
                        Status::Unloaded => "unloaded",
                    },
                    events: s.events,
                    events_missed: s.events_missed,
                    intents: c.intents,
                    accepted: c.accepted,
                    rejected: c.rejected,
                    fills: c.fills,
                    fees: pnl.fees,
                    largest_order_filled: c.largest_order_filled,
                    slippage_warnings: c.slippage_warnings,
                    worst_slippage_pct: c.worst_slippage_pct.round_dp(3),
                    paused: c.paused,
                    realized_pnl: pnl.realized,
                    unrealized_pnl: pnl.unrealized,
                    faults: s.faults.clone(),
                    restarts: s.restarts,
                    swaps: s.swaps,
                    uptime_ms: s.loaded_at.map_or(0, |t| desk.now().saturating_sub(t)),
                    memory_bytes: s.instance.as_ref().map_or(0, |i| i.memory_bytes() as u64),
                }
            })
            .collect();
        let mut rejected = BTreeMap::new();
        for s in &strategies {
            for (r, n) in &s.rejected {
                *rejected.entry(*r).or_default() += n;
            }
        }
        let ledger = desk.gate().ledger();
        let risk = RiskSummary {
            days: ledger.days().to_vec(),
            consecutive_losses: ledger.consecutive_losses(),
            breaker: ledger.breaker().cloned(),
            halt: ledger.halt().cloned(),
            bankroll: ledger.bankroll(),
            peak_bankroll: ledger.peak_bankroll(),
        };
        Summary {
            risk,
            events: k.events,
            intents: strategies.iter().map(|s| s.intents).sum(),
            accepted: strategies.iter().map(|s| s.accepted).sum(),
            rejected,
            fills: strategies.iter().map(|s| s.fills).sum(),
            fees: strategies.iter().map(|s| s.fees).sum(),
            realized_pnl: strategies.iter().map(|s| s.realized_pnl).sum(),
            unrealized_pnl: strategies.iter().map(|s| s.unrealized_pnl).sum(),
            swaps: strategies.iter().map(|s| s.swaps).sum(),
            events_missed: strategies.iter().map(|s| s.events_missed).sum(),
            strategies,
        }
    }
}
