//! Intents, orders, fills.

use serde::Serialize;

use crate::ids::{OrderId, StrategyId, TokenId};
use crate::money::{Price, Size, Usdc};
use crate::risk::RejectReason;

/// Order side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Side {
    /// Buy shares.
    Buy,
    /// Sell shares.
    Sell,
}

impl Side {
    /// The wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        }
    }

    /// Parse the wire form `"BUY"` / `"SELL"`.
    pub fn parse(text: &str) -> Option<Side> {
        match text {
            "BUY" | "buy" => Some(Side::Buy),
            "SELL" | "sell" => Some(Side::Sell),
            _ => None,
        }
    }
}

/// How long an order lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum TimeInForce {
    /// Rests until filled or cancelled.
    Gtc,
    /// Fill and kill: fills what it can now, cancels the rest.
    Fak,
    /// Fill or kill: fills completely now or not at all.
    Fok,
}

impl TimeInForce {
    /// The exchange's name (`GTC`, `FAK`, `FOK`).
    pub fn as_str(self) -> &'static str {
        match self {
            TimeInForce::Gtc => "GTC",
            TimeInForce::Fak => "FAK",
            TimeInForce::Fok => "FOK",
        }
    }

    /// From the exchange's name.
    pub fn parse(s: &str) -> Option<TimeInForce> {
        match s {
            "GTC" => Some(TimeInForce::Gtc),
            "FAK" => Some(TimeInForce::Fak),
            "FOK" => Some(TimeInForce::Fok),
            _ => None,
        }
    }
}

/// What a strategy asks for. It becomes an order only through `risk::Gate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// The strategy asking.
    pub strategy: StrategyId,
    /// Outcome token.
    pub token: TokenId,
    /// Buy or sell.
    pub side: Side,
    /// Limit price.
    pub price: Price,
    /// Shares.
    pub size: Size,
    /// Lifetime.
    pub tif: TimeInForce,
    /// Refuse instead of taking liquidity.
    pub post_only: bool,
}

impl Intent {
    /// Price × size.
    pub fn notional(&self) -> Usdc {
        Usdc::notional(self.price, self.size)
    }
}

/// Lifecycle of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Resting, nothing filled.
    Open,
    /// Resting, partly filled.
    PartiallyFilled,
    /// Completely filled.
    Filled,
    /// Cancelled (by the strategy, the host, or an FAK/FOK remainder).
    Cancelled,
    /// Refused by the venue.
    Rejected,
}

impl OrderStatus {
    /// True while the order can still fill.
    pub fn is_open(self) -> bool {
        matches!(self, OrderStatus::Open | OrderStatus::PartiallyFilled)
    }
}

/// One fill of one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fill {
    /// The order filled.
    pub order: OrderId,
    /// Its strategy.
    pub strategy: StrategyId,
    /// Its token.
    pub token: TokenId,
    /// Its side.
    pub side: Side,
    /// Execution price.
    pub price: Price,
    /// Shares filled.
    pub size: Size,
    /// Fee paid.
    pub fee: Usdc,
    /// Kernel time, ms.
    pub ts: u64,
}

/// A snapshot of an order after a change, as reported to its strategy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderUpdate {
    /// The order.
    pub id: OrderId,
    /// Its strategy.
    pub strategy: StrategyId,
    /// Its token.
    pub token: TokenId,
    /// Its side.
    pub side: Side,
    /// Its limit price.
    pub price: Price,
    /// Its original size.
    pub size: Size,
    /// Its status now.
    pub status: OrderStatus,
    /// Cumulative filled size.
    pub filled: Size,
    /// The fill that caused this update.
    pub last_fill: Option<Fill>,
    /// Why the host or venue cancelled or rejected it.
    pub reason: Option<RejectReason>,
    /// Kernel time, ms.
    pub ts: u64,
}
