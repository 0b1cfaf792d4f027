//! Where approved orders go: the paper venue (fills simulated against the book, at once)
//! or the live exchange (orders become commands for the executor; what the exchange does
//! comes back as [`ExecEvent`]s). The desk sees both through one view of working orders.

use std::collections::BTreeSet;

use crate::ids::{OrderId, StrategyId, TokenId};
use crate::money::{Price, Size};
use crate::order::{Side, TimeInForce};
use crate::orders::{Effect, ExecEvent, OrderState, Orders, TrackedOrder};
use crate::paper::{PaperOrder, PaperVenue};
use crate::risk::{Approved, RejectReason, Rejection};

/// A working order, whatever the venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderView<'a> {
    /// Id.
    pub id: OrderId,
    /// Owner.
    pub strategy: StrategyId,
    /// Token.
    pub token: &'a TokenId,
    /// Side.
    pub side: Side,
    /// Limit price.
    pub price: Price,
    /// Original size.
    pub size: Size,
    /// Filled so far.
    pub filled: Size,
}

impl<'a> From<&'a PaperOrder> for OrderView<'a> {
    fn from(o: &'a PaperOrder) -> Self {
        OrderView {
            id: o.id,
            strategy: o.strategy,
            token: &o.token,
            side: o.side,
            price: o.price,
            size: o.size,
            filled: o.filled,
        }
    }
}

impl<'a> From<&'a TrackedOrder> for OrderView<'a> {
    fn from(o: &'a TrackedOrder) -> Self {
        OrderView {
            id: o.id,
            strategy: o.strategy,
            token: &o.token,
            side: o.side,
            price: o.price,
            size: o.size,
            filled: o.filled,
        }
    }
}

impl OrderView<'_> {
    /// Size still to fill.
    pub fn remaining(&self) -> Size {
        self.size.saturating_sub(self.filled)
    }
}

/// An order for the exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceOrder {
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
}

impl PlaceOrder {
    /// The order as first asked for (to send, or to send again after a refusal).
    pub fn of(o: &TrackedOrder) -> PlaceOrder {
        PlaceOrder {
            id: o.id,
            strategy: o.strategy,
            token: o.token.clone(),
            side: o.side,
            price: o.price,
            size: o.size,
            tif: o.tif,
            post_only: o.post_only,
        }
    }
}

/// What the executor must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Sign, journal and post.
    Place(PlaceOrder),
    /// Cancel on the exchange.
    Cancel {
        /// Host id.
        id: OrderId,
        /// The exchange's id.
        exchange_id: String,
    },
}

/// The live exchange as the desk sees it: the order records, the commands not yet
/// taken by the executor, and the cancels waiting for their order to reach the exchange.
#[derive(Debug, Default)]
pub struct LiveVenue {
    orders: Orders,
    commands: Vec<Command>,
    /// Cancels asked for while the order was being signed or sent: a `DELETE` then could
    /// overtake its `POST` and leave the order resting. They go out once the exchange has
    /// answered (or the order is withdrawn before it leaves, if it is still unsent).
    cancel_wanted: BTreeSet<OrderId>,
}

impl LiveVenue {
    /// Over `orders` (restored from the journal).
    pub fn new(orders: Orders) -> LiveVenue {
        LiveVenue {
            orders,
            ..LiveVenue::default()
        }
    }

    /// The order records.
    pub fn orders(&self) -> &Orders {
        &self.orders
    }

    /// A new order for the exchange.
    pub fn place(&mut self, approved: Approved, now: u64) -> OrderId {
        let id = self.orders.create(approved.intent(), now);
        if let Some(o) = self.orders.get(id) {
            self.commands.push(Command::Place(PlaceOrder::of(o)));
        }
        id
    }

    /// Ask for a cancel. An order not yet taken by the executor is cancelled here at once;
    /// one being signed or sent is cancelled as soon as that is over (never before its
    /// post has been answered, so the cancel cannot overtake it).
    pub fn cancel(
        &mut self,
        strategy: StrategyId,
        id: OrderId,
        now: u64,
    ) -> Result<Vec<Effect>, Rejection> {
        let unknown = || {
            Rejection::new(
                RejectReason::UnknownOrder,
                format!("order {id} is not an open order of this strategy"),
            )
        };
        let o = self
            .orders
            .get(id)
            .filter(|o| o.strategy == strategy && o.state.is_working())
            .ok_or_else(unknown)?;
        if o.state == OrderState::Pending {
            // Not taken by the executor yet, or signed and not sent: it never leaves.
            let before = self.commands.len();
            self.commands
                .retain(|c| !matches!(c, Command::Place(p) if p.id == id));
            if self.commands.len() < before || o.exchange_id.is_some() {
                return Ok(self.orders.withdraw(id, now));
            }
        }
        match (&o.exchange_id, o.state) {
            (Some(x), OrderState::Open | OrderState::PartiallyFilled) => {
                let exchange_id = x.clone();
                self.commands.push(Command::Cancel { id, exchange_id });
            }
            _ => {
                self.cancel_wanted.insert(id);
            }
        }
        Ok(Vec::new())
    }

    /// Commands for the executor, oldest first.
    pub fn take_commands(&mut self) -> Vec<Command> {
        std::mem::take(&mut self.commands)
    }

    /// What the exchange did. A wanted cancel goes out once the order rests (or the order
    /// is withdrawn if it was signed and never sent).
    pub fn apply(&mut self, event: ExecEvent, ts: u64) -> Vec<Effect> {
        let signed = matches!(event, ExecEvent::Signed { .. });
        let id = match &event {
            ExecEvent::Accepted { exchange_id }
            | ExecEvent::Trade { exchange_id, .. }
            | ExecEvent::Cancelled { exchange_id, .. }
            | ExecEvent::Expired { exchange_id } => self.orders.by_exchange_id(exchange_id),
            ExecEvent::Signed { id, .. }
            | ExecEvent::Submitted { id }
            | ExecEvent::Amended { id, .. }
            | ExecEvent::Unknown { id, .. }
            | ExecEvent::Rejected { id, .. } => Some(*id),
        };
        let mut effects = self.orders.apply(event, ts);
        let Some(id) = id.filter(|id| self.cancel_wanted.contains(id)) else {
            return effects;
        };
        let Some(o) = self.orders.get(id) else {
            return effects;
        };
        match (o.state, &o.exchange_id) {
            (OrderState::Pending, _) if signed => {
                self.cancel_wanted.remove(&id);
                effects.extend(self.orders.withdraw(id, ts));
            }
            (OrderState::Open | OrderState::PartiallyFilled, Some(x)) => {
                let exchange_id = x.clone();
                self.cancel_wanted.remove(&id);
                self.commands.push(Command::Cancel { id, exchange_id });
            }
            (state, _) if state.is_final() => {
                self.cancel_wanted.remove(&id);
            }
            _ => {}
        }
        effects
    }
}

/// The venue of a desk.
#[derive(Debug)]
pub enum Venue {
    /// Simulated fills.
    Paper(PaperVenue),
    /// The exchange.
    Live(LiveVenue),
}

impl Venue {
    /// Every working order, oldest first.
    pub fn working(&self) -> impl Iterator<Item = OrderView<'_>> + '_ {
        let (paper, live) = match self {
            Venue::Paper(p) => (Some(p.all_orders()), None),
            Venue::Live(l) => (None, Some(l.orders.working())),
        };
        let paper = paper.into_iter().flatten().map(OrderView::from);
        let live = live.into_iter().flatten().map(OrderView::from);
        paper.chain(live)
    }

    /// A strategy's working orders.
    pub fn open_orders(&self, strategy: StrategyId) -> impl Iterator<Item = OrderView<'_>> + '_ {
        self.working().filter(move |o| o.strategy == strategy)
    }

    /// Shares of `token` that `strategy` has offered in working SELLs.
    pub fn offered(&self, strategy: StrategyId, token: &TokenId) -> Size {
        self.open_orders(strategy)
            .filter(|o| o.side == Side::Sell && o.token == token)
            .fold(Size::ZERO, |a, o| a.saturating_add(o.remaining()))
    }
}
