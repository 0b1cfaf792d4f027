//! Where approved orders go: the paper venue (fills simulated against the book, at once)
//! or the live exchange (orders become commands for the executor; what the exchange does
//! comes back as [`ExecEvent`]s). The desk sees both through one view of working orders.

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

/// The live exchange as the desk sees it: the order records and the commands not yet
/// taken by the executor.
#[derive(Debug, Default)]
pub struct LiveVenue {
    orders: Orders,
    commands: Vec<Command>,
}

impl LiveVenue {
    /// Over `orders` (restored from the journal).
    pub fn new(orders: Orders) -> LiveVenue {
        LiveVenue {
            orders,
            commands: Vec::new(),
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

    /// Ask for a cancel. An order not yet taken by the executor is cancelled here at once.
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
            let before = self.commands.len();
            self.commands
                .retain(|c| !matches!(c, Command::Place(p) if p.id == id));
            if self.commands.len() < before {
                return Ok(self.orders.withdraw(id, now));
            }
        }
        match &o.exchange_id {
            Some(x) => {
                let exchange_id = x.clone();
                self.commands.push(Command::Cancel { id, exchange_id });
                Ok(Vec::new())
            }
            None => Err(Rejection::new(
                RejectReason::UnknownOrder,
                format!("order {id} is being signed: cancel it once it is placed"),
            )),
        }
    }

    /// Commands for the executor, oldest first.
    pub fn take_commands(&mut self) -> Vec<Command> {
        std::mem::take(&mut self.commands)
    }

    /// What the exchange did.
    pub fn apply(&mut self, event: ExecEvent, ts: u64) -> Vec<Effect> {
        self.orders.apply(event, ts)
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
