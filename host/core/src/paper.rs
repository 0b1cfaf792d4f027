//! The paper venue: orders filled against the real book, as the exchange would.
//!
//! - A marketable order walks the opposite side level by level, up to its limit price,
//!   paying the taker fee; GTC remainders rest, FAK remainders are cancelled, an FOK that
//!   cannot fill completely is cancelled with nothing filled.
//! - A resting order fills at its own price (as a maker, no fee) when the book moves
//!   through it (a new or changed opposite level at or through its price) or a trade
//!   prints through its price.
//! - Paper fills do not take liquidity out of the recorded book: the market never saw
//!   our orders. Each level change or trade can fill a resting order at most once.

use std::collections::BTreeMap;

use crate::book::{Level, OrderBook};
use crate::fees::FeeSchedule;
use crate::ids::{OrderId, StrategyId, TokenId};
use crate::money::{Price, Size};
use crate::order::{Fill, OrderStatus, OrderUpdate, Side, TimeInForce};
use crate::risk::{Approved, RejectReason, Rejection};

/// An order the paper venue holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaperOrder {
    /// Id.
    pub id: OrderId,
    /// Owner.
    pub strategy: StrategyId,
    /// Token.
    pub token: TokenId,
    /// Side.
    pub side: Side,
    /// Limit price.
    pub price: Price,
    /// Original size.
    pub size: Size,
    /// Filled so far.
    pub filled: Size,
}

impl PaperOrder {
    /// Size still to fill.
    pub fn remaining(&self) -> Size {
        self.size.saturating_sub(self.filled)
    }

    fn crosses(&self, level_price: Price) -> bool {
        match self.side {
            Side::Buy => level_price <= self.price,
            Side::Sell => level_price >= self.price,
        }
    }

    fn update(&self, status: OrderStatus, fill: Option<Fill>, ts: u64) -> OrderUpdate {
        OrderUpdate {
            id: self.id,
            strategy: self.strategy,
            token: self.token.clone(),
            side: self.side,
            price: self.price,
            size: self.size,
            status,
            filled: self.filled,
            last_fill: fill,
            reason: None,
            ts,
        }
    }

    fn fill(&mut self, price: Price, size: Size, fee: crate::money::Usdc, ts: u64) -> OrderUpdate {
        self.filled = self.filled.saturating_add(size);
        let status = if self.remaining().is_zero() {
            OrderStatus::Filled
        } else {
            OrderStatus::PartiallyFilled
        };
        let fill = Fill {
            order: self.id,
            strategy: self.strategy,
            token: self.token.clone(),
            side: self.side,
            price,
            size,
            fee,
            ts,
        };
        self.update(status, Some(fill), ts)
    }
}

/// Simulated venue: owns the paper orders.
#[derive(Debug, Default)]
pub struct PaperVenue {
    orders: BTreeMap<OrderId, PaperOrder>,
    next_id: u64,
}

impl PaperVenue {
    /// An empty venue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Place an approved order against `book`. Returns its id and the updates it caused
    /// (fills, and the final state of an FAK/FOK), in order.
    pub fn place(
        &mut self,
        approved: Approved,
        book: &OrderBook,
        fees: FeeSchedule,
        ts: u64,
    ) -> (OrderId, Vec<OrderUpdate>) {
        self.next_id += 1;
        let id = OrderId(self.next_id);
        let intent = approved.intent();
        let mut order = PaperOrder {
            id,
            strategy: intent.strategy,
            token: intent.token.clone(),
            side: intent.side,
            price: intent.price,
            size: intent.size,
            filled: Size::ZERO,
        };
        let mut updates = Vec::new();
        let crossing: Vec<Level> = book
            .opposite(order.side)
            .take_while(|l| order.crosses(l.price))
            .collect();
        let available = crossing
            .iter()
            .fold(Size::ZERO, |a, l| a.saturating_add(l.size));
        if intent.tif == TimeInForce::Fok && available < order.size {
            let mut u = order.update(OrderStatus::Cancelled, None, ts);
            u.reason = Some(RejectReason::NotFillable);
            return (id, vec![u]);
        }
        for level in crossing {
            let take = level.size.min(order.remaining());
            if take.is_zero() {
                break;
            }
            let fee = fees.taker_fee(level.price, take);
            updates.push(order.fill(level.price, take, fee, ts));
        }
        if order.remaining().is_zero() {
            return (id, updates);
        }
        match intent.tif {
            TimeInForce::Gtc => {
                if updates.is_empty() {
                    updates.push(order.update(OrderStatus::Open, None, ts));
                }
                self.orders.insert(id, order);
            }
            TimeInForce::Fak | TimeInForce::Fok => {
                let mut u = order.update(OrderStatus::Cancelled, None, ts);
                u.reason = Some(RejectReason::NotFillable);
                updates.push(u);
            }
        }
        (id, updates)
    }

    /// Cancel one order of `strategy`.
    pub fn cancel(
        &mut self,
        strategy: StrategyId,
        id: OrderId,
        ts: u64,
    ) -> Result<OrderUpdate, Rejection> {
        match self.orders.get(&id) {
            Some(o) if o.strategy == strategy => {}
            _ => {
                return Err(Rejection::new(
                    RejectReason::UnknownOrder,
                    format!("order {id} is not an open order of this strategy"),
                ));
            }
        }
        let order = self.orders.remove(&id).ok_or_else(|| {
            Rejection::new(RejectReason::UnknownOrder, format!("order {id} vanished"))
        })?;
        Ok(order.update(OrderStatus::Cancelled, None, ts))
    }

    /// Cancel every open order of `strategy` (on one token, or all).
    pub fn cancel_all(
        &mut self,
        strategy: StrategyId,
        token: Option<&TokenId>,
        reason: Option<RejectReason>,
        ts: u64,
    ) -> Vec<OrderUpdate> {
        let ids: Vec<OrderId> = self
            .orders
            .values()
            .filter(|o| o.strategy == strategy && token.is_none_or(|t| *t == o.token))
            .map(|o| o.id)
            .collect();
        ids.into_iter()
            .filter_map(|id| self.orders.remove(&id))
            .map(|o| {
                let mut u = o.update(OrderStatus::Cancelled, None, ts);
                u.reason = reason;
                u
            })
            .collect()
    }

    /// A level changed on `token`'s book: resting orders it moves through fill at their price.
    pub fn on_level(
        &mut self,
        token: &TokenId,
        side: Side,
        level: Level,
        ts: u64,
    ) -> Vec<OrderUpdate> {
        // A bid level fills resting SELLs, an ask level resting BUYs.
        let taker = match side {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        };
        self.fill_resting(token, taker, level, ts)
    }

    /// A new snapshot: each crossing level may fill resting orders.
    pub fn on_snapshot(&mut self, book: &OrderBook, ts: u64) -> Vec<OrderUpdate> {
        let mut updates = Vec::new();
        for side in [Side::Buy, Side::Sell] {
            let levels: Vec<Level> = book.opposite(side).collect();
            for level in levels {
                let filled = self.fill_resting(book.token(), side, level, ts);
                if filled.is_empty() {
                    break;
                }
                updates.extend(filled);
            }
        }
        updates
    }

    /// A trade printed: resting orders strictly through its price fill, up to its size.
    pub fn on_trade(
        &mut self,
        token: &TokenId,
        price: Price,
        size: Size,
        ts: u64,
    ) -> Vec<OrderUpdate> {
        let mut updates = Vec::new();
        for side in [Side::Buy, Side::Sell] {
            updates.extend(self.fill_resting_strict(token, side, Level { price, size }, ts));
        }
        updates
    }

    fn fill_resting(
        &mut self,
        token: &TokenId,
        side: Side,
        level: Level,
        ts: u64,
    ) -> Vec<OrderUpdate> {
        self.fill_matching(token, side, level, ts, |o, p| o.crosses(p))
    }

    fn fill_resting_strict(
        &mut self,
        token: &TokenId,
        side: Side,
        level: Level,
        ts: u64,
    ) -> Vec<OrderUpdate> {
        self.fill_matching(token, side, level, ts, |o, p| o.crosses(p) && o.price != p)
    }

    /// Fill resting orders on `side` of `token` that `pred` says the level reaches, best
    /// priced first, then oldest first, up to the level's size.
    fn fill_matching(
        &mut self,
        token: &TokenId,
        side: Side,
        level: Level,
        ts: u64,
        pred: impl Fn(&PaperOrder, Price) -> bool,
    ) -> Vec<OrderUpdate> {
        if level.size.is_zero() {
            return Vec::new();
        }
        let mut hit: Vec<(Price, OrderId)> = self
            .orders
            .values()
            .filter(|o| o.token == *token && o.side == side && pred(o, level.price))
            .map(|o| (o.price, o.id))
            .collect();
        // Best price first: highest bid, lowest offer; ties by id (time priority).
        hit.sort_by(|a, b| match side {
            Side::Buy => b.0.cmp(&a.0).then(a.1.cmp(&b.1)),
            Side::Sell => a.0.cmp(&b.0).then(a.1.cmp(&b.1)),
        });
        let mut left = level.size;
        let mut updates = Vec::new();
        for (_, id) in hit {
            if left.is_zero() {
                break;
            }
            let Some(order) = self.orders.get_mut(&id) else {
                continue;
            };
            let take = order.remaining().min(left);
            left = left.saturating_sub(take);
            let price = order.price;
            updates.push(order.fill(price, take, crate::money::Usdc::ZERO, ts));
            if order.remaining().is_zero() {
                self.orders.remove(&id);
            }
        }
        updates
    }

    /// Every open order, oldest first.
    pub fn all_orders(&self) -> impl Iterator<Item = &PaperOrder> + '_ {
        self.orders.values()
    }

    /// Open orders of a strategy, oldest first.
    pub fn open_orders(&self, strategy: StrategyId) -> impl Iterator<Item = &PaperOrder> + '_ {
        self.orders.values().filter(move |o| o.strategy == strategy)
    }

    /// Shares of `token` that `strategy` has offered in open SELLs.
    pub fn offered(&self, strategy: StrategyId, token: &TokenId) -> Size {
        self.open_orders(strategy)
            .filter(|o| o.side == Side::Sell && o.token == *token)
            .fold(Size::ZERO, |a, o| a.saturating_add(o.remaining()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::Intent;
    use crate::test_util::{lvl, p, q};

    fn book() -> OrderBook {
        let mut b = OrderBook::new(TokenId::new("t"), p("0.01"), q("5"));
        b.apply_snapshot(
            1,
            [lvl("0.48", "100"), lvl("0.49", "50")],
            [lvl("0.51", "20"), lvl("0.52", "30"), lvl("0.60", "1000")],
        );
        b
    }
    fn intent(side: Side, price: &str, size: &str, tif: TimeInForce) -> Approved {
        Approved::for_test(Intent {
            strategy: StrategyId(0),
            token: TokenId::new("t"),
            side,
            price: p(price),
            size: q(size),
            tif,
            post_only: false,
        })
    }
    const FEES: FeeSchedule = FeeSchedule {
        rate_bps: 400,
        exponent: 1,
    };

    #[test]
    fn marketable_buy_walks_levels_and_rests_the_rest() {
        let mut v = PaperVenue::new();
        let (id, ups) = v.place(
            intent(Side::Buy, "0.52", "60", TimeInForce::Gtc),
            &book(),
            FEES,
            5,
        );
        assert_eq!(ups.len(), 2);
        let f0 = ups[0].last_fill.as_ref().unwrap();
        assert_eq!((f0.price, f0.size), (p("0.51"), q("20")));
        assert!(f0.fee > crate::money::Usdc::ZERO);
        let f1 = ups[1].last_fill.as_ref().unwrap();
        assert_eq!((f1.price, f1.size), (p("0.52"), q("30")));
        assert_eq!(ups[1].status, OrderStatus::PartiallyFilled);
        let resting: Vec<_> = v.open_orders(StrategyId(0)).collect();
        assert_eq!(resting.len(), 1);
        assert_eq!(resting[0].id, id);
        assert_eq!(resting[0].remaining(), q("10"));
    }

    #[test]
    fn fok_all_or_nothing_and_fak_cancels_the_rest() {
        let mut v = PaperVenue::new();
        let (_, ups) = v.place(
            intent(Side::Buy, "0.52", "60", TimeInForce::Fok),
            &book(),
            FEES,
            5,
        );
        assert_eq!(ups.len(), 1);
        assert_eq!(ups[0].status, OrderStatus::Cancelled);
        assert_eq!(ups[0].reason, Some(RejectReason::NotFillable));
        let (_, ups) = v.place(
            intent(Side::Buy, "0.52", "60", TimeInForce::Fak),
            &book(),
            FEES,
            5,
        );
        assert_eq!(ups.len(), 3);
        assert_eq!(ups[2].status, OrderStatus::Cancelled);
        assert_eq!(ups[2].filled, q("50"));
        assert_eq!(v.open_orders(StrategyId(0)).count(), 0);
    }

    #[test]
    fn resting_order_fills_as_maker_when_the_book_moves_through() {
        let mut v = PaperVenue::new();
        let (id, ups) = v.place(
            intent(Side::Buy, "0.50", "10", TimeInForce::Gtc),
            &book(),
            FEES,
            5,
        );
        assert_eq!(ups[0].status, OrderStatus::Open);
        // an ask appears at 0.50 for 4 shares: partial maker fill at our price, no fee
        let ups = v.on_level(&TokenId::new("t"), Side::Sell, lvl("0.50", "4"), 6);
        assert_eq!(ups.len(), 1);
        let f = ups[0].last_fill.as_ref().unwrap();
        assert_eq!(
            (f.price, f.size, f.fee),
            (p("0.50"), q("4"), crate::money::Usdc::ZERO)
        );
        // a bid level never fills a resting BUY
        assert!(
            v.on_level(&TokenId::new("t"), Side::Buy, lvl("0.50", "100"), 7)
                .is_empty()
        );
        // a trade at our price does not fill (queue unknown), one through it does
        assert!(
            v.on_trade(&TokenId::new("t"), p("0.50"), q("100"), 8)
                .is_empty()
        );
        let ups = v.on_trade(&TokenId::new("t"), p("0.49"), q("100"), 9);
        assert_eq!(ups[0].status, OrderStatus::Filled);
        assert_eq!(ups[0].id, id);
        assert_eq!(v.open_orders(StrategyId(0)).count(), 0);
    }

    #[test]
    fn cancel_is_scoped_to_the_owner() {
        let mut v = PaperVenue::new();
        let (id, _) = v.place(
            intent(Side::Sell, "0.55", "10", TimeInForce::Gtc),
            &book(),
            FEES,
            5,
        );
        assert_eq!(v.offered(StrategyId(0), &TokenId::new("t")), q("10"));
        let err = v.cancel(StrategyId(1), id, 6).unwrap_err();
        assert_eq!(err.reason, RejectReason::UnknownOrder);
        let u = v.cancel(StrategyId(0), id, 6).unwrap();
        assert_eq!(u.status, OrderStatus::Cancelled);
        assert!(v.cancel(StrategyId(0), id, 6).is_err());
    }
}
