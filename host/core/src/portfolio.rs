//! Positions and P&L per strategy and token, in exact decimals.
//!
//! Realised P&L uses average cost and includes fees. Unrealised P&L is marked to the
//! book's mid on every book update the kernel applies (no polling).

use std::collections::BTreeMap;

#[cfg(test)]
use rust_decimal::Decimal;
use serde::Serialize;

use crate::ids::{StrategyId, TokenId};
use crate::money::{Price, Size, Usdc};
use crate::order::{Fill, Side};

/// One strategy's holding of one token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Position {
    /// Shares held.
    pub size: Size,
    /// Cost of the shares held (average-cost basis).
    pub cost: Usdc,
    /// Realised P&L, fees included.
    pub realized: Usdc,
    /// Fees paid.
    pub fees: Usdc,
}

impl Position {
    /// Average entry price, rounded down to a micro-USDC.
    pub fn avg_price(&self) -> Price {
        if self.size.is_zero() {
            return Price::ZERO;
        }
        let avg = self.cost.to_decimal() / self.size.to_decimal();
        Price::try_from_decimal(
            avg.round_dp_with_strategy(6, rust_decimal::RoundingStrategy::ToZero),
            "avg",
        )
        .unwrap_or(Price::ZERO)
    }

    /// Unrealised P&L against a mark.
    pub fn unrealized(&self, mark: Option<Price>) -> Usdc {
        match mark {
            Some(m) if !self.size.is_zero() => Usdc::notional(m, self.size) - self.cost,
            _ => Usdc::ZERO,
        }
    }
}

/// All positions, and the marks they are valued at.
#[derive(Debug, Default, Clone)]
pub struct Portfolio {
    positions: BTreeMap<(StrategyId, TokenId), Position>,
    marks: BTreeMap<TokenId, Price>,
}

impl Portfolio {
    /// An empty portfolio.
    pub fn new() -> Self {
        Self::default()
    }

    /// Apply a fill of one of our orders; returns the realised P&L it caused (fees included).
    pub fn apply_fill(&mut self, fill: &Fill) -> Usdc {
        let pos = self
            .positions
            .entry((fill.strategy, fill.token.clone()))
            .or_default();
        let notional = Usdc::notional(fill.price, fill.size);
        let before = pos.realized;
        match fill.side {
            Side::Buy => {
                pos.size = pos.size.saturating_add(fill.size);
                pos.cost += notional;
            }
            Side::Sell => {
                let sold = fill.size.min(pos.size);
                // Average cost of the shares sold, to the micro-USDC; selling the whole
                // position takes the whole cost, so nothing is lost to rounding.
                let basis = if sold == pos.size {
                    pos.cost
                } else {
                    Usdc::new(
                        (pos.cost.to_decimal() * sold.to_decimal() / pos.size.to_decimal())
                            .round_dp(6),
                    )
                };
                pos.realized += notional - basis;
                pos.cost -= basis;
                pos.size = pos.size.saturating_sub(sold);
                if pos.size.is_zero() {
                    pos.cost = Usdc::ZERO;
                }
            }
        }
        pos.realized -= fill.fee;
        pos.fees += fill.fee;
        pos.realized - before
    }

    /// Every position with shares, all strategies.
    pub fn all(&self) -> impl Iterator<Item = (StrategyId, &TokenId, &Position)> + '_ {
        self.positions
            .iter()
            .filter(|(_, p)| !p.size.is_zero())
            .map(|((s, t), p)| (*s, t, p))
    }

    /// Mark a token (normally at its mid) after a book update.
    pub fn mark(&mut self, token: &TokenId, price: Price) {
        match self.marks.get_mut(token) {
            Some(m) => *m = price,
            None => {
                self.marks.insert(token.clone(), price);
            }
        }
    }

    /// The mark of a token.
    pub fn mark_of(&self, token: &TokenId) -> Option<Price> {
        self.marks.get(token).copied()
    }

    /// One position (zero if none).
    pub fn position(&self, strategy: StrategyId, token: &TokenId) -> Position {
        self.positions
            .get(&(strategy, token.clone()))
            .cloned()
            .unwrap_or_default()
    }

    /// A strategy's positions, by token.
    pub fn positions_of(
        &self,
        strategy: StrategyId,
    ) -> impl Iterator<Item = (&TokenId, &Position)> + '_ {
        self.positions
            .range((strategy, TokenId::new(""))..)
            .take_while(move |((s, _), _)| *s == strategy)
            .map(|((_, t), p)| (t, p))
    }

    /// A strategy's realised P&L, fees and unrealised P&L.
    pub fn pnl_of(&self, strategy: StrategyId) -> Pnl {
        let mut pnl = Pnl::default();
        for (token, pos) in self.positions_of(strategy) {
            pnl.realized += pos.realized;
            pnl.fees += pos.fees;
            pnl.unrealized += pos.unrealized(self.mark_of(token));
        }
        pnl
    }
}

/// P&L totals.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Pnl {
    /// Realised, fees included.
    pub realized: Usdc,
    /// Marked to the book.
    pub unrealized: Usdc,
    /// Fees paid.
    pub fees: Usdc,
}

impl std::ops::AddAssign for Pnl {
    fn add_assign(&mut self, rhs: Pnl) {
        self.realized += rhs.realized;
        self.unrealized += rhs.unrealized;
        self.fees += rhs.fees;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::OrderId;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn fill(side: Side, price: &str, size: &str, fee: &str) -> Fill {
        Fill {
            order: OrderId(1),
            strategy: StrategyId(0),
            token: TokenId::new("t"),
            side,
            price: Price::parse(price).unwrap(),
            size: Size::parse(size).unwrap(),
            fee: Usdc::parse(fee).unwrap(),
            ts: 0,
        }
    }

    #[test]
    fn average_cost_realised_and_marked() {
        let mut pf = Portfolio::new();
        let t = TokenId::new("t");
        pf.apply_fill(&fill(Side::Buy, "0.40", "10", "0.1"));
        pf.apply_fill(&fill(Side::Buy, "0.50", "10", "0"));
        let pos = pf.position(StrategyId(0), &t);
        assert_eq!(pos.avg_price(), Price::parse("0.45").unwrap());
        pf.mark(&t, Price::parse("0.55").unwrap());
        assert_eq!(pf.pnl_of(StrategyId(0)).unrealized.to_decimal(), d("2"));
        pf.apply_fill(&fill(Side::Sell, "0.60", "10", "0"));
        let pnl = pf.pnl_of(StrategyId(0));
        // (0.60 − 0.45) × 10 − 0.1 fee
        assert_eq!(pnl.realized.to_decimal(), d("1.4"));
        assert_eq!(pnl.fees.to_decimal(), d("0.1"));
        assert_eq!(pnl.unrealized.to_decimal(), d("1"));
        assert_eq!(
            pf.position(StrategyId(0), &t).size,
            Size::parse("10").unwrap()
        );
    }

    #[test]
    fn strategies_are_kept_apart() {
        let mut pf = Portfolio::new();
        pf.apply_fill(&fill(Side::Buy, "0.40", "10", "0"));
        assert_eq!(pf.positions_of(StrategyId(1)).count(), 0);
        assert_eq!(pf.positions_of(StrategyId(0)).count(), 1);
    }
}
