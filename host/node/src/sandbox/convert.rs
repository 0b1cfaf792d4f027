//! The one place where WIT types and the host's domain types meet.

use polybox_core::book::{Level, OrderBook};
use polybox_core::desk::{BookChange, MarketEvent, MarketMeta};
use polybox_core::ids::{StrategyId, TokenId};
use polybox_core::money::{Price, Size};
use polybox_core::order::{Intent, OrderStatus, OrderUpdate, Side, TimeInForce};
use polybox_core::portfolio::Position;
use polybox_core::risk::{RejectReason, Rejection};
use polybox_core::venue::OrderView;

use super::bindings::types as wit;

/// A strategy's intent, as the gate sees it; `token` is the intent's token id, known to
/// the desk or new.
pub fn intent(strategy: StrategyId, token: TokenId, i: wit::Intent) -> Intent {
    Intent {
        strategy,
        token,
        side: side(i.side),
        price: Price::from_micros(i.price),
        size: Size::from_micros(i.size),
        tif: match i.tif {
            wit::TimeInForce::Gtc => TimeInForce::Gtc,
            wit::TimeInForce::Fak => TimeInForce::Fak,
            wit::TimeInForce::Fok => TimeInForce::Fok,
        },
        post_only: i.post_only,
    }
}

fn side(s: wit::Side) -> Side {
    match s {
        wit::Side::Buy => Side::Buy,
        wit::Side::Sell => Side::Sell,
    }
}

fn wit_side(s: Side) -> wit::Side {
    match s {
        Side::Buy => wit::Side::Buy,
        Side::Sell => wit::Side::Sell,
    }
}

/// A refusal, for the strategy.
pub fn rejection(r: Rejection) -> wit::Rejection {
    wit::Rejection {
        reason: reason(r.reason),
        message: r.message,
    }
}

/// A reason code, for the strategy.
pub fn reason(r: RejectReason) -> wit::RejectReason {
    use wit::RejectReason as W;
    match r {
        RejectReason::PriceBounds => W::PriceBounds,
        RejectReason::Tick => W::Tick,
        RejectReason::MinSize => W::MinSize,
        RejectReason::PerTradeLimit => W::PerTradeLimit,
        RejectReason::KillSwitch => W::KillSwitch,
        RejectReason::MarketNotGranted => W::MarketNotGranted,
        RejectReason::UnknownMarket => W::UnknownMarket,
        RejectReason::BookNotTradable => W::BookNotTradable,
        RejectReason::RateLimit => W::RateLimit,
        RejectReason::InsufficientBalance => W::InsufficientBalance,
        RejectReason::BalanceUnavailable => W::BalanceUnavailable,
        RejectReason::DailyLossLimit => W::DailyLossLimit,
        RejectReason::MaxPositions => W::MaxPositions,
        RejectReason::Breaker => W::Breaker,
        RejectReason::MinBankroll => W::MinBankroll,
        RejectReason::PriceBand => W::PriceBand,
        RejectReason::StrategyBudget => W::StrategyBudget,
        RejectReason::WouldCross => W::WouldCross,
        RejectReason::NotFillable => W::NotFillable,
        RejectReason::UnknownOrder => W::UnknownOrder,
        RejectReason::InvalidIntent => W::InvalidIntent,
    }
}

fn level(l: Level) -> wit::Level {
    wit::Level {
        price: l.price.micros(),
        size: l.size.micros(),
    }
}

fn money(u: polybox_core::money::Usdc) -> i64 {
    u.to_micros()
}

/// An order update, for its strategy.
pub fn order_update(u: &OrderUpdate) -> wit::Event {
    wit::Event::Order(wit::OrderUpdate {
        id: u.id.0,
        token: u.token.to_string(),
        side: wit_side(u.side),
        price: u.price.micros(),
        size: u.size.micros(),
        status: match u.status {
            OrderStatus::Open => wit::OrderStatus::Open,
            OrderStatus::PartiallyFilled => wit::OrderStatus::PartiallyFilled,
            OrderStatus::Filled => wit::OrderStatus::Filled,
            OrderStatus::Cancelled => wit::OrderStatus::Cancelled,
            OrderStatus::Rejected => wit::OrderStatus::Rejected,
        },
        filled: u.filled.micros(),
        last_fill: u.last_fill.as_ref().map(|f| wit::Fill {
            price: f.price.micros(),
            size: f.size.micros(),
            fee: money(f.fee),
            ts: f.ts,
        }),
        reason: u.reason.map(reason),
        ts: u.ts,
    })
}

fn book_update(b: &BookChange) -> wit::BookUpdate {
    wit::BookUpdate {
        token: b.token.to_string(),
        ts: b.ts,
        snapshot: b.snapshot,
        changes: b.changes.iter().map(level_change).collect(),
        top: wit::TopOfBook {
            bid: b.bid.map(level),
            ask: b.ask.map(level),
        },
        tradable: b.tradable,
    }
}

/// A market event for subscribed strategies, written over `out`: a book update or a trade
/// over one of its kind reuses its text and list buffers, so delivering them allocates
/// nothing once warm.
pub fn write_market_event(e: &MarketEvent, out: &mut wit::Event) {
    if let (
        MarketEvent::Trade {
            token,
            ts,
            price,
            size,
            side,
        },
        wit::Event::Trade(t),
    ) = (e, &mut *out)
    {
        t.token.clear();
        t.token.push_str(token.as_str());
        (t.ts, t.price, t.size, t.side) = (*ts, price.micros(), size.micros(), wit_side(*side));
        return;
    }
    let (MarketEvent::Book(b), wit::Event::Book(u)) = (e, &mut *out) else {
        *out = market_event(e);
        return;
    };
    u.token.clear();
    u.token.push_str(b.token.as_str());
    u.ts = b.ts;
    u.snapshot = b.snapshot;
    u.changes.clear();
    u.changes.extend(b.changes.iter().map(level_change));
    u.top = wit::TopOfBook {
        bid: b.bid.map(level),
        ask: b.ask.map(level),
    };
    u.tradable = b.tradable;
}

fn level_change((s, l): &(Side, Level)) -> wit::LevelChange {
    wit::LevelChange {
        side: wit_side(*s),
        price: l.price.micros(),
        size: l.size.micros(),
    }
}

/// A market event, for subscribed strategies.
fn market_event(e: &MarketEvent) -> wit::Event {
    match e {
        MarketEvent::Book(b) => wit::Event::Book(book_update(b)),
        MarketEvent::Trade {
            token,
            ts,
            price,
            size,
            side: s,
        } => wit::Event::Trade(wit::Trade {
            token: token.to_string(),
            ts: *ts,
            price: price.micros(),
            size: size.micros(),
            side: wit_side(*s),
        }),
        MarketEvent::Feed { token, ts, live } => wit::Event::Feed(wit::FeedStatus {
            token: token.to_string(),
            ts: *ts,
            live: *live,
        }),
        MarketEvent::TickSize {
            token,
            ts,
            old,
            new,
        } => wit::Event::TickSize(wit::TickChange {
            token: token.to_string(),
            ts: *ts,
            old_tick: old.micros(),
            new_tick: new.micros(),
        }),
    }
}

/// Market facts for `init`.
pub fn market_info(m: &MarketMeta) -> wit::MarketInfo {
    wit::MarketInfo {
        token: m.token.to_string(),
        condition: m.condition.clone(),
        complement: m.complement.as_ref().map(ToString::to_string),
        tick: m.tick.micros(),
        min_size: m.min_size.micros(),
        fee_rate_bps: m.fees.rate_bps,
    }
}

/// A book with depth.
pub fn book_depth(b: &OrderBook, depth: u32) -> wit::BookDepth {
    let d = depth as usize;
    wit::BookDepth {
        token: b.token().to_string(),
        ts: b.ts(),
        tick: b.tick().micros(),
        bids: b.bids().take(d).map(level).collect(),
        asks: b.asks().take(d).map(level).collect(),
        tradable: b.health() == polybox_core::book::BookHealth::Tradable,
    }
}

/// A position.
pub fn position(token: &TokenId, p: &Position, mark: Option<Price>) -> wit::Position {
    wit::Position {
        token: token.to_string(),
        size: p.size.micros(),
        avg_price: p.avg_price().micros(),
        realized_pnl: money(p.realized),
        unrealized_pnl: money(p.unrealized(mark)),
    }
}

/// An open order.
pub fn open_order(o: OrderView<'_>) -> wit::OpenOrder {
    wit::OpenOrder {
        id: o.id.0,
        token: o.token.to_string(),
        side: wit_side(o.side),
        price: o.price.micros(),
        size: o.size.micros(),
        filled: o.filled.micros(),
    }
}
