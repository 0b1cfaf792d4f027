//! Orders on a real exchange: the host's record of each order from the approved intent to
//! its final state, and every fill applied exactly once.
//!
//! ```text
//! pending ─► submitted ─► open ─► partially filled ─► filled
//!    │           │          │            │
//!    │           ├─► unknown (no answer: reconciled by exchange id, then open or rejected)
//!    └───────────┴──────────┴────────────┴─► cancelled / expired / rejected
//! ```
//!
//! Events arrive from the exchange in any order and more than once (user channel, REST
//! polling, reconciliation). A state never moves backwards; a fill is identified by its
//! trade id and applied once; a trade that ends `FAILED` is voided and its effect on
//! positions reversed. What the kernel must do next comes back as [`Effect`]s.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::ids::{OrderId, StrategyId, TokenId};
use crate::money::{Price, Size, Usdc};
use crate::order::{Fill, Intent, OrderStatus, OrderUpdate, Side, TimeInForce};

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Journaled, not sent yet.
    Pending,
    /// Sent, no answer yet.
    Submitted,
    /// Sent and no usable answer: the exchange may have it. Reconciled by exchange id.
    Unknown,
    /// Resting on the book.
    Open,
    /// Resting, partly filled.
    PartiallyFilled,
    /// Completely filled.
    Filled,
    /// Cancelled (by us, the exchange, or an FAK/FOK remainder).
    Cancelled,
    /// Expired (GTD).
    Expired,
    /// Refused by the exchange.
    Rejected,
}

impl OrderState {
    /// No further change is possible (except fills learned late).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderState::Filled | OrderState::Cancelled | OrderState::Expired | OrderState::Rejected
        )
    }

    /// May still fill.
    pub fn is_working(self) -> bool {
        !self.is_final()
    }

    /// Every state, for parsing.
    pub const ALL: [OrderState; 9] = [
        OrderState::Pending,
        OrderState::Submitted,
        OrderState::Unknown,
        OrderState::Open,
        OrderState::PartiallyFilled,
        OrderState::Filled,
        OrderState::Cancelled,
        OrderState::Expired,
        OrderState::Rejected,
    ];

    /// Its name (`pending`, `partially_filled`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::Pending => "pending",
            OrderState::Submitted => "submitted",
            OrderState::Unknown => "unknown",
            OrderState::Open => "open",
            OrderState::PartiallyFilled => "partially_filled",
            OrderState::Filled => "filled",
            OrderState::Cancelled => "cancelled",
            OrderState::Expired => "expired",
            OrderState::Rejected => "rejected",
        }
    }

    /// From its name.
    pub fn parse(s: &str) -> Option<OrderState> {
        OrderState::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The status a strategy sees.
    pub fn status(self) -> OrderStatus {
        match self {
            OrderState::Pending
            | OrderState::Submitted
            | OrderState::Unknown
            | OrderState::Open => OrderStatus::Open,
            OrderState::PartiallyFilled => OrderStatus::PartiallyFilled,
            OrderState::Filled => OrderStatus::Filled,
            OrderState::Cancelled | OrderState::Expired => OrderStatus::Cancelled,
            OrderState::Rejected => OrderStatus::Rejected,
        }
    }
}

/// Settlement of a trade on chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TradeStatus {
    /// Matched by the engine.
    Matched,
    /// Being resubmitted on chain.
    Retrying,
    /// In a block.
    Mined,
    /// Final on chain.
    Confirmed,
    /// Failed on chain: the fill is void.
    Failed,
}

impl TradeStatus {
    /// The exchange's name.
    pub fn as_str(self) -> &'static str {
        match self {
            TradeStatus::Matched => "MATCHED",
            TradeStatus::Retrying => "RETRYING",
            TradeStatus::Mined => "MINED",
            TradeStatus::Confirmed => "CONFIRMED",
            TradeStatus::Failed => "FAILED",
        }
    }

    /// From the exchange's text (`MATCHED`, `TRADE_STATUS_CONFIRMED`, ...).
    pub fn parse(s: &str) -> Option<TradeStatus> {
        Some(
            match s
                .trim_start_matches("TRADE_STATUS_")
                .to_ascii_uppercase()
                .as_str()
            {
                "MATCHED" | "MATCHED_NOT_BROADCASTED" => TradeStatus::Matched,
                "RETRYING" => TradeStatus::Retrying,
                "MINED" => TradeStatus::Mined,
                "CONFIRMED" => TradeStatus::Confirmed,
                "FAILED" => TradeStatus::Failed,
                _ => return None,
            },
        )
    }
}

/// One fill of a tracked order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeFill {
    /// Exchange trade id.
    pub trade_id: String,
    /// Price.
    pub price: Price,
    /// Shares.
    pub size: Size,
    /// Fee paid.
    pub fee: Usdc,
    /// Settlement.
    pub status: TradeStatus,
}

/// An order the host placed on the exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedOrder {
    /// Host id.
    pub id: OrderId,
    /// Owner.
    pub strategy: StrategyId,
    /// Token.
    pub token: TokenId,
    /// Side.
    pub side: Side,
    /// Limit price.
    pub price: Price,
    /// Size.
    pub size: Size,
    /// Lifetime.
    pub tif: TimeInForce,
    /// Post-only.
    pub post_only: bool,
    /// The exchange's id (the signed order's digest), once signed.
    pub exchange_id: Option<String>,
    /// State.
    pub state: OrderState,
    /// Shares filled by fills that are not void.
    pub filled: Size,
    /// Fills by trade id.
    pub fills: BTreeMap<String, TradeFill>,
    /// Why it was rejected or cancelled, when the exchange said.
    pub reason: Option<String>,
    /// Kernel time it was created, ms.
    pub created_ms: u64,
}

impl TrackedOrder {
    fn update(&self, last_fill: Option<Fill>, ts: u64) -> OrderUpdate {
        OrderUpdate {
            id: self.id,
            strategy: self.strategy,
            token: self.token.clone(),
            side: self.side,
            price: self.price,
            size: self.size,
            status: self.state.status(),
            filled: self.filled,
            last_fill,
            reason: None,
            ts,
        }
    }

    fn fill(&self, f: &TradeFill, ts: u64) -> Fill {
        Fill {
            order: self.id,
            strategy: self.strategy,
            token: self.token.clone(),
            side: self.side,
            price: f.price,
            size: f.size,
            fee: f.fee,
            ts,
        }
    }

    /// Unfilled shares.
    pub fn remaining(&self) -> Size {
        self.size.saturating_sub(self.filled)
    }
}

/// What the exchange (or the executor talking to it) reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecEvent {
    /// Signed: its exchange id is known (before it is sent).
    Signed {
        /// Host id.
        id: OrderId,
        /// Exchange id.
        exchange_id: String,
    },
    /// Signed again on new terms after a refusal (re-rounded to the exchange's tick, or
    /// shrunk to the balance), before it is sent.
    Amended {
        /// Host id.
        id: OrderId,
        /// Limit price now.
        price: Price,
        /// Size now.
        size: Size,
    },
    /// The request left.
    Submitted {
        /// Host id.
        id: OrderId,
    },
    /// Sent without a usable answer.
    Unknown {
        /// Host id.
        id: OrderId,
        /// What happened.
        reason: String,
    },
    /// On the book (or matched at once: fills follow).
    Accepted {
        /// Exchange id.
        exchange_id: String,
    },
    /// Refused.
    Rejected {
        /// Host id.
        id: OrderId,
        /// The exchange's words.
        reason: String,
    },
    /// A trade of one of our orders, new or with a new settlement status.
    Trade {
        /// Exchange id of our order.
        exchange_id: String,
        /// Trade id.
        trade_id: String,
        /// Price.
        price: Price,
        /// Our shares in it.
        size: Size,
        /// Our fee.
        fee: Usdc,
        /// Settlement.
        status: TradeStatus,
    },
    /// Cancelled (by us, the exchange, an FAK/FOK remainder or the heartbeat).
    Cancelled {
        /// Exchange id.
        exchange_id: String,
        /// Why, when known.
        reason: Option<String>,
    },
    /// Expired (GTD).
    Expired {
        /// Exchange id.
        exchange_id: String,
    },
}

/// What the kernel does with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Tell the owning strategy; a `last_fill` is applied to positions and risk (once per
    /// trade).
    Update(OrderUpdate),
    /// Reverse a fill whose trade failed on chain.
    Void(Fill),
    /// An event about an order the host does not know (reported, not applied).
    Unmatched(String),
}

/// Every order the host placed, by host id and by exchange id.
#[derive(Debug, Default, Clone)]
pub struct Orders {
    orders: BTreeMap<OrderId, TrackedOrder>,
    by_exchange: HashMap<String, OrderId>,
    /// The ids of the orders that may still fill: every submit reads them, and a long
    /// session's finished orders would otherwise be walked each time.
    working: BTreeSet<OrderId>,
    next: u64,
}

impl Orders {
    /// Empty; ids continue after `last_id` (from the journal).
    pub fn starting_after(last_id: u64) -> Orders {
        Orders {
            next: last_id,
            ..Orders::default()
        }
    }

    /// A new pending order for an approved intent.
    pub fn create(&mut self, intent: &Intent, now: u64) -> OrderId {
        self.next += 1;
        let id = OrderId(self.next);
        self.orders.insert(
            id,
            TrackedOrder {
                id,
                strategy: intent.strategy,
                token: intent.token.clone(),
                side: intent.side,
                price: intent.price,
                size: intent.size,
                tif: intent.tif,
                post_only: intent.post_only,
                exchange_id: None,
                state: OrderState::Pending,
                filled: Size::ZERO,
                fills: BTreeMap::new(),
                reason: None,
                created_ms: now,
            },
        );
        self.working.insert(id);
        id
    }

    /// Restore an order from the journal.
    pub fn restore(&mut self, order: TrackedOrder) {
        self.next = self.next.max(order.id.0);
        if let Some(x) = &order.exchange_id {
            self.by_exchange.insert(x.clone(), order.id);
        }
        let id = order.id;
        self.orders.insert(id, order);
        self.reindex(id);
    }

    /// Keep `working` in step with the order's state (a voided fill can even bring a
    /// filled order back to working).
    fn reindex(&mut self, id: OrderId) {
        if self.orders.get(&id).is_some_and(|o| o.state.is_working()) {
            self.working.insert(id);
        } else {
            self.working.remove(&id);
        }
    }

    /// An order.
    pub fn get(&self, id: OrderId) -> Option<&TrackedOrder> {
        self.orders.get(&id)
    }

    /// The host id of an exchange id.
    pub fn by_exchange_id(&self, exchange_id: &str) -> Option<OrderId> {
        self.by_exchange.get(exchange_id).copied()
    }

    /// Orders that may still fill.
    pub fn working(&self) -> impl Iterator<Item = &TrackedOrder> + '_ {
        self.working.iter().filter_map(|id| self.orders.get(id))
    }

    /// Every order.
    pub fn all(&self) -> impl Iterator<Item = &TrackedOrder> + '_ {
        self.orders.values()
    }

    /// Cancel an order that never left the host.
    pub fn withdraw(&mut self, id: OrderId, ts: u64) -> Vec<Effect> {
        let out = match self.orders.get_mut(&id) {
            Some(o) if o.state == OrderState::Pending => {
                o.state = OrderState::Cancelled;
                vec![Effect::Update(o.update(None, ts))]
            }
            _ => Vec::new(),
        };
        self.reindex(id);
        out
    }

    fn advance(o: &mut TrackedOrder, to: OrderState) -> bool {
        // Forward only; a final state is never left.
        if o.state.is_final() || to <= o.state {
            return false;
        }
        o.state = to;
        true
    }

    /// Apply one event at kernel time `ts`.
    pub fn apply(&mut self, event: ExecEvent, ts: u64) -> Vec<Effect> {
        let touched = match &event {
            ExecEvent::Signed { id, .. }
            | ExecEvent::Amended { id, .. }
            | ExecEvent::Submitted { id }
            | ExecEvent::Unknown { id, .. }
            | ExecEvent::Rejected { id, .. } => Some(*id),
            ExecEvent::Accepted { exchange_id }
            | ExecEvent::Trade { exchange_id, .. }
            | ExecEvent::Cancelled { exchange_id, .. }
            | ExecEvent::Expired { exchange_id } => self.by_exchange.get(exchange_id).copied(),
        };
        let out = self.apply_event(event, ts);
        if let Some(id) = touched {
            self.reindex(id);
        }
        out
    }

    fn apply_event(&mut self, event: ExecEvent, ts: u64) -> Vec<Effect> {
        let mut out = Vec::new();
        let lookup = |this: &Self, x: &str| this.by_exchange.get(x).copied();
        match event {
            ExecEvent::Signed { id, exchange_id } => {
                if let Some(o) = self.orders.get_mut(&id) {
                    o.exchange_id = Some(exchange_id.clone());
                    self.by_exchange.insert(exchange_id, id);
                }
            }
            ExecEvent::Amended { id, price, size } => {
                if let Some(o) = self.orders.get_mut(&id)
                    && o.state.is_working()
                    && o.filled.is_zero()
                    && (o.price, o.size) != (price, size)
                {
                    o.price = price;
                    o.size = size;
                    out.push(Effect::Update(o.update(None, ts)));
                }
            }
            ExecEvent::Submitted { id } => {
                if let Some(o) = self.orders.get_mut(&id) {
                    Self::advance(o, OrderState::Submitted);
                }
            }
            ExecEvent::Unknown { id, reason } => {
                if let Some(o) = self.orders.get_mut(&id)
                    && o.state <= OrderState::Submitted
                {
                    o.state = OrderState::Unknown;
                    o.reason = Some(reason);
                }
            }
            ExecEvent::Accepted { exchange_id } => {
                match lookup(self, &exchange_id).and_then(|id| self.orders.get_mut(&id)) {
                    Some(o) => {
                        if Self::advance(o, OrderState::Open) {
                            out.push(Effect::Update(o.update(None, ts)));
                        }
                    }
                    None => out.push(Effect::Unmatched(exchange_id)),
                }
            }
            ExecEvent::Rejected { id, reason } => {
                if let Some(o) = self.orders.get_mut(&id)
                    && o.state.is_working()
                    && o.filled.is_zero()
                {
                    o.state = OrderState::Rejected;
                    let mut u = o.update(None, ts);
                    u.reason = Some(crate::rejection::classify(&reason).0);
                    o.reason = Some(reason);
                    out.push(Effect::Update(u));
                }
            }
            ExecEvent::Trade {
                exchange_id,
                trade_id,
                price,
                size,
                fee,
                status,
            } => {
                let Some(o) = lookup(self, &exchange_id).and_then(|id| self.orders.get_mut(&id))
                else {
                    out.push(Effect::Unmatched(exchange_id));
                    return out;
                };
                match o.fills.get_mut(&trade_id) {
                    None if status == TradeStatus::Failed => {
                        // Never applied, nothing to reverse; remember it so a late MATCHED is ignored.
                        o.fills.insert(
                            trade_id.clone(),
                            TradeFill {
                                trade_id,
                                price,
                                size,
                                fee,
                                status,
                            },
                        );
                    }
                    None => {
                        let f = TradeFill {
                            trade_id: trade_id.clone(),
                            price,
                            size,
                            fee,
                            status,
                        };
                        o.filled = o.filled.saturating_add(size).min(o.size);
                        let fill = o.fill(&f, ts);
                        o.fills.insert(trade_id, f);
                        if o.state < OrderState::Open || o.state == OrderState::Unknown {
                            o.state = OrderState::Open;
                        }
                        if o.state.is_working() {
                            o.state = if o.remaining().is_zero() {
                                OrderState::Filled
                            } else {
                                OrderState::PartiallyFilled
                            };
                        }
                        out.push(Effect::Update(o.update(Some(fill), ts)));
                    }
                    Some(f) if f.status == TradeStatus::Failed => {}
                    Some(f) if status == TradeStatus::Failed => {
                        f.status = TradeStatus::Failed;
                        let voided = f.clone();
                        o.filled = o.filled.saturating_sub(voided.size);
                        let fill = o.fill(&voided, ts);
                        if o.state == OrderState::Filled || o.state == OrderState::PartiallyFilled {
                            // Back to resting only if the exchange still has it; a later
                            // cancel or reconciliation settles it.
                            o.state = if o.filled.is_zero() {
                                OrderState::Open
                            } else {
                                OrderState::PartiallyFilled
                            };
                        }
                        out.push(Effect::Void(fill));
                        out.push(Effect::Update(o.update(None, ts)));
                    }
                    Some(f) => {
                        if status > f.status {
                            f.status = status;
                        }
                    }
                }
            }
            ExecEvent::Cancelled {
                exchange_id,
                reason,
            } => match lookup(self, &exchange_id).and_then(|id| self.orders.get_mut(&id)) {
                Some(o) => {
                    if o.state.is_working() {
                        o.state = OrderState::Cancelled;
                        o.reason = reason;
                        out.push(Effect::Update(o.update(None, ts)));
                    }
                }
                None => out.push(Effect::Unmatched(exchange_id)),
            },
            ExecEvent::Expired { exchange_id } => {
                if let Some(o) = lookup(self, &exchange_id).and_then(|id| self.orders.get_mut(&id))
                    && o.state.is_working()
                {
                    o.state = OrderState::Expired;
                    out.push(Effect::Update(o.update(None, ts)));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{p, q};

    fn intent(size: &str) -> Intent {
        Intent {
            strategy: StrategyId(1),
            token: TokenId::new("7"),
            side: Side::Buy,
            price: p("0.50"),
            size: q(size),
            tif: TimeInForce::Gtc,
            post_only: false,
        }
    }

    fn trade(id: &str, size: &str, status: TradeStatus) -> ExecEvent {
        ExecEvent::Trade {
            exchange_id: "0xa".to_owned(),
            trade_id: id.to_owned(),
            price: p("0.50"),
            size: q(size),
            fee: Usdc::ZERO,
            status,
        }
    }

    fn placed() -> (Orders, OrderId) {
        let mut o = Orders::default();
        let id = o.create(&intent("10"), 1);
        o.apply(
            ExecEvent::Signed {
                id,
                exchange_id: "0xa".to_owned(),
            },
            1,
        );
        o.apply(ExecEvent::Submitted { id }, 1);
        (o, id)
    }

    fn fills(effects: &[Effect]) -> usize {
        effects
            .iter()
            .filter(|e| matches!(e, Effect::Update(u) if u.last_fill.is_some()))
            .count()
    }

    #[test]
    fn an_order_signed_again_on_new_terms_shows_them_until_it_has_fills() {
        let mut o = Orders::default();
        let id = o.create(&intent("10"), 1);
        let amend = |price: &str, size: &str| ExecEvent::Amended {
            id,
            price: p(price),
            size: q(size),
        };
        // The same terms: nothing to tell.
        assert!(o.apply(amend("0.50", "10"), 1).is_empty());
        // Shrunk to the balance: the strategy sees the new size.
        let e = o.apply(amend("0.50", "6"), 2);
        assert!(matches!(&e[..], [Effect::Update(u)] if u.size == q("6")));
        assert_eq!(
            (o.get(id).unwrap().price, o.get(id).unwrap().size),
            (p("0.50"), q("6"))
        );
        // Once it has a fill its terms are the exchange's: no more amendments.
        o.apply(
            ExecEvent::Signed {
                id,
                exchange_id: "0xa".to_owned(),
            },
            3,
        );
        o.apply(trade("t1", "1", TradeStatus::Matched), 4);
        assert!(o.apply(amend("0.40", "6"), 5).is_empty());
        assert_eq!(o.get(id).unwrap().price, p("0.50"));
    }

    #[test]
    fn fills_apply_once_and_states_only_move_forward() {
        let (mut o, id) = placed();
        let e = o.apply(
            ExecEvent::Accepted {
                exchange_id: "0xa".to_owned(),
            },
            2,
        );
        assert_eq!(o.get(id).unwrap().state, OrderState::Open);
        assert_eq!(e.len(), 1);
        assert_eq!(
            fills(&o.apply(trade("t1", "4", TradeStatus::Matched), 3)),
            1
        );
        assert_eq!(o.get(id).unwrap().state, OrderState::PartiallyFilled);
        // The same trade again (user channel, then REST): nothing.
        assert!(
            o.apply(trade("t1", "4", TradeStatus::Matched), 4)
                .is_empty()
        );
        // A late "accepted" does not move it back.
        assert!(
            o.apply(
                ExecEvent::Accepted {
                    exchange_id: "0xa".to_owned()
                },
                5
            )
            .is_empty()
        );
        assert_eq!(o.get(id).unwrap().state, OrderState::PartiallyFilled);
        // Settlement progresses without new fills; it never goes back.
        assert!(
            o.apply(trade("t1", "4", TradeStatus::Confirmed), 6)
                .is_empty()
        );
        o.apply(trade("t1", "4", TradeStatus::Mined), 7);
        assert_eq!(
            o.get(id).unwrap().fills["t1"].status,
            TradeStatus::Confirmed
        );
        assert_eq!(
            fills(&o.apply(trade("t2", "6", TradeStatus::Matched), 8)),
            1
        );
        assert_eq!(o.get(id).unwrap().state, OrderState::Filled);
        assert!(
            o.apply(
                ExecEvent::Cancelled {
                    exchange_id: "0xa".to_owned(),
                    reason: None
                },
                9
            )
            .is_empty()
        );
        assert_eq!(o.get(id).unwrap().filled, q("10"));
    }

    #[test]
    fn a_failed_trade_is_voided_once() {
        let (mut o, id) = placed();
        o.apply(trade("t1", "4", TradeStatus::Matched), 2);
        let e = o.apply(trade("t1", "4", TradeStatus::Failed), 3);
        assert!(matches!(&e[0], Effect::Void(f) if f.size == q("4")));
        assert_eq!(o.get(id).unwrap().filled, Size::ZERO);
        assert!(o.apply(trade("t1", "4", TradeStatus::Failed), 4).is_empty());
        assert!(
            o.apply(trade("t1", "4", TradeStatus::Matched), 5)
                .is_empty(),
            "a failed trade stays failed"
        );
        // A trade first seen as FAILED is never applied.
        assert!(o.apply(trade("t9", "1", TradeStatus::Failed), 6).is_empty());
        assert_eq!(o.get(id).unwrap().filled, Size::ZERO);
    }

    #[test]
    fn unknown_outcomes_settle_by_what_the_exchange_reports() {
        let (mut o, id) = placed();
        o.apply(
            ExecEvent::Unknown {
                id,
                reason: "timeout".to_owned(),
            },
            2,
        );
        assert_eq!(o.get(id).unwrap().state, OrderState::Unknown);
        // Found among open orders: open.
        o.apply(
            ExecEvent::Accepted {
                exchange_id: "0xa".to_owned(),
            },
            3,
        );
        assert_eq!(o.get(id).unwrap().state, OrderState::Open);
        // A fill straight after an unknown outcome also settles it.
        let (mut o, id) = placed();
        o.apply(
            ExecEvent::Unknown {
                id,
                reason: "reset".to_owned(),
            },
            2,
        );
        o.apply(trade("t1", "10", TradeStatus::Matched), 3);
        assert_eq!(o.get(id).unwrap().state, OrderState::Filled);
        // Rejected only when nothing filled.
        assert!(
            o.apply(
                ExecEvent::Rejected {
                    id,
                    reason: "late".to_owned()
                },
                4
            )
            .is_empty()
        );
        // Events for orders the host never placed are reported.
        assert!(
            matches!(&o.apply(ExecEvent::Cancelled { exchange_id: "0xzz".to_owned(), reason: None }, 5)[0], Effect::Unmatched(x) if x == "0xzz")
        );
    }

    #[test]
    fn trade_statuses_parse_the_exchange_s_spellings() {
        assert_eq!(
            TradeStatus::parse("TRADE_STATUS_CONFIRMED"),
            Some(TradeStatus::Confirmed)
        );
        assert_eq!(
            TradeStatus::parse("MATCHED_NOT_BROADCASTED"),
            Some(TradeStatus::Matched)
        );
        assert_eq!(TradeStatus::parse("failed"), Some(TradeStatus::Failed));
        assert_eq!(TradeStatus::parse("WHATEVER"), None);
    }

    proptest::proptest! {
        /// Whatever happens to orders, in whatever order (fills voided after the order
        /// filled included), the working index is exactly the orders in a working state.
        #[test]
        fn the_working_index_follows_every_state_change(
            ops in proptest::collection::vec((0u8..11, 0u64..4, 0u8..3, 1u8..12), 1..60)
        ) {
            let mut orders = Orders::default();
            for (op, n, k, size) in ops {
                let id = OrderId(n + 1);
                let x = format!("0x{n}");
                let statuses = [TradeStatus::Matched, TradeStatus::Confirmed, TradeStatus::Failed];
                let event = match op {
                    0 => {
                        orders.create(&intent("10"), 1);
                        continue;
                    }
                    1 => {
                        orders.withdraw(id, 2);
                        continue;
                    }
                    2 => ExecEvent::Signed { id, exchange_id: x },
                    3 => ExecEvent::Submitted { id },
                    4 => ExecEvent::Unknown { id, reason: "timeout".to_owned() },
                    5 => ExecEvent::Accepted { exchange_id: x },
                    6 => ExecEvent::Rejected { id, reason: "no".to_owned() },
                    7 => ExecEvent::Trade {
                        exchange_id: x,
                        trade_id: format!("t{k}"),
                        price: p("0.50"),
                        size: q(&size.to_string()),
                        fee: Usdc::ZERO,
                        status: statuses[usize::from(k)],
                    },
                    8 => ExecEvent::Cancelled { exchange_id: x, reason: None },
                    9 => ExecEvent::Expired { exchange_id: x },
                    _ => ExecEvent::Amended { id, price: p("0.40"), size: q("10") },
                };
                orders.apply(event, 3);
                let indexed: Vec<OrderId> = orders.working().map(|o| o.id).collect();
                let scanned: Vec<OrderId> = orders
                    .all()
                    .filter(|o| o.state.is_working())
                    .map(|o| o.id)
                    .collect();
                proptest::prop_assert_eq!(indexed, scanned);
            }
        }
    }
}
