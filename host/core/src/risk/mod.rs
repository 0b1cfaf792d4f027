//! Pre-trade risk: every intent passes the [`Gate`] before it can become an order.
//!
//! Only this module can make an [`Approved`] intent, and venues take nothing else, so an
//! unchecked order cannot be written. Each limit is one [`Check`] in its own file under
//! `checks/`; the gate runs the rate limit, then the checks in order, and returns the
//! first refusal. The [`Ledger`] keeps the day's P&L, the losing streak and the breaker.

pub mod checks;
mod exposure;
mod gate;
pub mod ledger;
mod limits;
mod rate_limit;

use std::fmt;

use serde::Serialize;

pub use exposure::Exposure;
pub use gate::{Gate, GateContext};
pub use ledger::Ledger;
pub use limits::{Budget, Limits};
pub use rate_limit::TokenBucket;

use crate::order::Intent;

/// Machine-readable reason for a refusal (mirrors the WIT `reject-reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Price not strictly inside (0, 1).
    PriceBounds,
    /// Price not on the market's tick.
    Tick,
    /// Size below the market's minimum.
    MinSize,
    /// Notional above the per-trade limit.
    PerTradeLimit,
    /// Kill switch engaged.
    KillSwitch,
    /// Market not granted to the strategy.
    MarketNotGranted,
    /// No such market.
    UnknownMarket,
    /// Book crossed, stale or unsynchronised.
    BookNotTradable,
    /// Too many intents too fast.
    RateLimit,
    /// Balance (or held shares, for a SELL) does not cover the order.
    InsufficientBalance,
    /// Balance could not be read.
    BalanceUnavailable,
    /// Daily loss limit reached.
    DailyLossLimit,
    /// Too many positions.
    MaxPositions,
    /// Consecutive-loss breaker tripped.
    Breaker,
    /// Bankroll below floor.
    MinBankroll,
    /// Price too far through the book.
    PriceBand,
    /// Per-strategy budget exceeded.
    StrategyBudget,
    /// Post-only order would cross.
    WouldCross,
    /// FOK could not be filled completely.
    NotFillable,
    /// No such open order of this strategy.
    UnknownOrder,
    /// Malformed intent.
    InvalidIntent,
}

impl RejectReason {
    /// The snake_case code used in summaries, logs and metrics.
    pub fn code(self) -> &'static str {
        match self {
            RejectReason::PriceBounds => "price_bounds",
            RejectReason::Tick => "tick",
            RejectReason::MinSize => "min_size",
            RejectReason::PerTradeLimit => "per_trade_limit",
            RejectReason::KillSwitch => "kill_switch",
            RejectReason::MarketNotGranted => "market_not_granted",
            RejectReason::UnknownMarket => "unknown_market",
            RejectReason::BookNotTradable => "book_not_tradable",
            RejectReason::RateLimit => "rate_limit",
            RejectReason::InsufficientBalance => "insufficient_balance",
            RejectReason::BalanceUnavailable => "balance_unavailable",
            RejectReason::DailyLossLimit => "daily_loss_limit",
            RejectReason::MaxPositions => "max_positions",
            RejectReason::Breaker => "breaker",
            RejectReason::MinBankroll => "min_bankroll",
            RejectReason::PriceBand => "price_band",
            RejectReason::StrategyBudget => "strategy_budget",
            RejectReason::WouldCross => "would_cross",
            RejectReason::NotFillable => "not_fillable",
            RejectReason::UnknownOrder => "unknown_order",
            RejectReason::InvalidIntent => "invalid_intent",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A refusal: the reason code and an explanation naming the limit and the observed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Machine-readable reason.
    pub reason: RejectReason,
    /// What was refused and why, for people.
    pub message: String,
}

impl Rejection {
    /// A refusal.
    pub fn new(reason: RejectReason, message: impl Into<String>) -> Self {
        Rejection {
            reason,
            message: message.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.message)
    }
}

/// An intent that passed every check. Only the risk module can make one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approved(Intent);

impl Approved {
    /// The approved intent.
    pub fn intent(&self) -> &Intent {
        &self.0
    }

    /// Build approvals in tests of other modules (venues) without running a gate.
    #[cfg(test)]
    pub fn for_test(intent: Intent) -> Self {
        Approved(intent)
    }
}

/// One pre-trade check.
pub trait Check: Send + Sync {
    /// A stable name for audit records.
    fn name(&self) -> &'static str;
    /// Pass, or refuse with a reason.
    fn check(&self, ctx: &GateContext<'_>) -> Result<(), Rejection>;
}
