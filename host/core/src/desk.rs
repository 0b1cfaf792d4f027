//! The desk: everything an order touches on its way from intent to fill, in one owner.
//!
//! It holds the books, the market facts, the risk gate, the paper venue and the
//! portfolio, and keeps each strategy's counters. The kernel feeds it market messages
//! and strategies' intents; it answers intents at once and queues the order updates
//! they cause, which the kernel delivers to their owners in order.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use smallvec::{SmallVec, smallvec};

use rust_decimal::Decimal;

use crate::balance::{BalanceSource, PaperWallet};
use crate::book::{BookHealth, Level, OrderBook};
use crate::fees::FeeSchedule;
use crate::ids::{OrderId, StrategyId, TokenId};
use crate::market_message::MarketMessage;
use crate::money::{Price, Size, Usdc};
use crate::order::{Intent, OrderUpdate, Side};
use crate::orders::{Effect, ExecEvent, Orders};
use crate::paper::PaperVenue;
use crate::portfolio::{Pnl, Portfolio, Position};
use crate::risk::Exposure;
use crate::risk::{Gate, RejectReason, Rejection};
use crate::venue::{Command, LiveVenue, OrderView, Venue};

/// Static facts about one outcome token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketMeta {
    /// The token.
    pub token: TokenId,
    /// Its market's condition id.
    pub condition: String,
    /// The other outcome of the same market.
    pub complement: Option<TokenId>,
    /// Taker fees.
    pub fees: FeeSchedule,
    /// Tick size when first seen.
    pub tick: Price,
    /// Minimum order size.
    pub min_size: Size,
    /// A neg-risk market (orders go through the neg-risk exchange).
    pub neg_risk: bool,
}

/// The levels one message changed in one book: a `price_change` touches a few, so they
/// are kept inline (no allocation per message).
pub type LevelChanges = SmallVec<[(Side, Level); 4]>;

/// The events of one market message: almost always one, kept inline.
pub type MarketEvents = SmallVec<[MarketEvent; 2]>;

/// A book changed; what strategies subscribed to the token are told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookChange {
    /// Token.
    pub token: TokenId,
    /// Exchange time.
    pub ts: u64,
    /// Replaced by a snapshot.
    pub snapshot: bool,
    /// Levels set (size 0: removed).
    pub changes: LevelChanges,
    /// Best bid after the change.
    pub bid: Option<Level>,
    /// Best ask after the change.
    pub ask: Option<Level>,
    /// Orders may be placed on it.
    pub tradable: bool,
}

/// A market event for strategies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarketEvent {
    /// A book changed.
    Book(BookChange),
    /// A trade printed.
    Trade {
        /// Token.
        token: TokenId,
        /// Time.
        ts: u64,
        /// Price.
        price: Price,
        /// Size.
        size: Size,
        /// Taker side.
        side: Side,
    },
    /// The feed of a token went down (stale) or came back (live, with a fresh snapshot).
    Feed {
        /// Token.
        token: TokenId,
        /// Time.
        ts: u64,
        /// True when live again.
        live: bool,
    },
    /// Tick size changed.
    TickSize {
        /// Token.
        token: TokenId,
        /// Time.
        ts: u64,
        /// Old tick.
        old: Price,
        /// New tick.
        new: Price,
    },
}

impl MarketEvent {
    /// The token the event is about.
    pub fn token(&self) -> &TokenId {
        match self {
            MarketEvent::Book(b) => &b.token,
            MarketEvent::Trade { token, .. }
            | MarketEvent::TickSize { token, .. }
            | MarketEvent::Feed { token, .. } => token,
        }
    }
}

/// One strategy's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Intents submitted.
    pub intents: u64,
    /// Intents the gate approved.
    pub accepted: u64,
    /// Refusals by reason code.
    pub rejected: BTreeMap<&'static str, u64>,
    /// Fills.
    pub fills: u64,
    /// Cancels requested by the strategy.
    pub cancels: u64,
    /// The largest notional any one of its orders filled, USDC.
    pub largest_order_filled: Usdc,
    /// Fills that slipped past the warning threshold.
    pub slippage_warnings: u64,
    /// The worst slippage of a fill, percent (against the price expected at sending).
    pub worst_slippage_pct: Decimal,
    /// Paused: new orders are refused (slippage past the pause threshold).
    pub paused: bool,
}

/// A fill that slipped past a threshold, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlippageNotice {
    /// Strategy.
    pub strategy: StrategyId,
    /// Order.
    pub order: OrderId,
    /// Token.
    pub token: TokenId,
    /// Price expected when the order was sent (best opposite level, or its limit).
    pub expected: Price,
    /// Fill price.
    pub filled: Price,
    /// Slippage, percent (positive: worse than expected).
    pub pct: Decimal,
    /// The strategy was paused for it.
    pub paused: bool,
}

/// Books, gate, venue and portfolio under one owner.
#[derive(Debug)]
pub struct Desk {
    books: BTreeMap<TokenId, OrderBook>,
    meta: BTreeMap<TokenId, MarketMeta>,
    grants: BTreeMap<StrategyId, BTreeSet<TokenId>>,
    gate: Gate,
    venue: Venue,
    portfolio: Portfolio,
    counters: BTreeMap<StrategyId, Counters>,
    outbox: Vec<OrderUpdate>,
    wallet: Box<dyn BalanceSource>,
    /// Fills (and voided fills) applied since start: they change the real balance.
    fills_applied: u64,
    /// Realised P&L of SELL orders still open, for the close they make when they end.
    closing: BTreeMap<OrderId, Usdc>,
    /// Notional filled so far by orders still open.
    filled_notional: BTreeMap<OrderId, Usdc>,
    /// The price each working order was expected to fill at when it was sent.
    expected: BTreeMap<OrderId, Price>,
    /// Slippage past a threshold, not yet taken by the kernel.
    notices: Vec<SlippageNotice>,
    /// Why the exchange link refuses new orders now (a stale heartbeat), if it does.
    held: Option<String>,
    /// Since when each crossed book has been crossed.
    crossed_since: BTreeMap<TokenId, u64>,
    now: u64,
    default_tick: Price,
    default_min_size: Size,
}

impl Desk {
    /// A desk with a gate and a paper wallet holding the gate's capital; unknown markets
    /// get the default tick and minimum size.
    pub fn new(gate: Gate, default_tick: Price, default_min_size: Size) -> Self {
        let wallet = Box::new(PaperWallet::new(gate.limits().capital_usdc));
        Desk {
            wallet,
            fills_applied: 0,
            closing: BTreeMap::new(),
            filled_notional: BTreeMap::new(),
            expected: BTreeMap::new(),
            notices: Vec::new(),
            held: None,
            crossed_since: BTreeMap::new(),
            books: BTreeMap::new(),
            meta: BTreeMap::new(),
            grants: BTreeMap::new(),
            gate,
            venue: Venue::Paper(PaperVenue::new()),
            portfolio: Portfolio::new(),
            counters: BTreeMap::new(),
            outbox: Vec::new(),
            now: 0,
            default_tick,
            default_min_size,
        }
    }

    /// Register a market before trading starts.
    pub fn add_market(&mut self, meta: MarketMeta) {
        self.books.insert(
            meta.token.clone(),
            OrderBook::new(meta.token.clone(), meta.tick, meta.min_size),
        );
        self.meta.insert(meta.token.clone(), meta);
    }

    /// Every registered market.
    pub fn markets(&self) -> impl Iterator<Item = &MarketMeta> + '_ {
        self.meta.values()
    }

    /// Grant a strategy the right to trade these tokens.
    pub fn grant(&mut self, strategy: StrategyId, tokens: impl IntoIterator<Item = TokenId>) {
        self.grants.entry(strategy).or_default().extend(tokens);
    }

    /// Whether a strategy may trade (and read) a token.
    pub fn is_granted(&self, strategy: StrategyId, token: &str) -> bool {
        self.grants
            .get(&strategy)
            .is_some_and(|g| g.contains(token))
    }

    /// Host time, ms.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Move host time (never backwards); the risk day rolls at its midnight.
    pub fn set_now(&mut self, ts: u64) {
        self.now = self.now.max(ts);
        self.gate.ledger_mut().roll(self.now);
    }

    /// The desk's id of a token it has a book for: a clone of it shares the text.
    pub fn token_id(&self, token: &str) -> Option<TokenId> {
        self.books.get_key_value(token).map(|(t, _)| t.clone())
    }

    /// The book of a token.
    pub fn book(&self, token: &str) -> Option<&OrderBook> {
        self.books.get(token)
    }

    /// The gate.
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// The gate, to set budgets or reset the breaker.
    pub fn gate_mut(&mut self) -> &mut Gate {
        &mut self.gate
    }

    fn book_entry(&mut self, token: &TokenId) -> &mut OrderBook {
        let (tick, min) = (self.default_tick, self.default_min_size);
        self.books
            .entry(token.clone())
            .or_insert_with(|| OrderBook::new(token.clone(), tick, min))
    }

    fn emit(&mut self, updates: Vec<OrderUpdate>) {
        for u in updates {
            if let Some(f) = &u.last_fill {
                self.slippage(u.id, f);
                let realized = self.portfolio.apply_fill(f);
                self.wallet.on_fill(f);
                self.fills_applied += 1;
                self.gate.ledger_mut().on_realized(u.strategy, realized);
                let filled = self.filled_notional.entry(u.id).or_default();
                *filled += Usdc::notional(f.price, f.size);
                let c = self.counters.entry(u.strategy).or_default();
                c.fills += 1;
                c.largest_order_filled = c.largest_order_filled.max(*filled);
                if u.side == Side::Sell {
                    *self.closing.entry(u.id).or_default() += realized;
                }
            }
            if !u.status.is_open() {
                self.filled_notional.remove(&u.id);
                self.expected.remove(&u.id);
                if let Some(pnl) = self.closing.remove(&u.id) {
                    self.gate.ledger_mut().on_close(pnl, u.ts);
                }
            }
            self.outbox.push(u);
        }
        self.update_bankroll();
    }

    /// The collateral the gate checks BUYs against is the chain's from now on, as read at
    /// the last refresh (`Err`: why it cannot be read; BUYs are then refused as
    /// `balance_unavailable`). Called at every refresh; our fills since are accounted.
    pub fn use_chain_balance(&mut self, read: Result<Usdc, String>) {
        self.wallet = Box::new(crate::balance::ChainWallet::read(read));
        self.update_bankroll();
    }

    /// Fills (and voided fills) applied since start: when it moves, the chain balance has
    /// changed and is read again.
    pub fn fills_applied(&self) -> u64 {
        self.fills_applied
    }

    /// Collateral held (before open orders), or why it is unknown.
    pub fn cash(&self) -> Result<Usdc, String> {
        self.wallet.balance()
    }

    /// Every position with shares, all strategies.
    pub fn all_positions(&self) -> impl Iterator<Item = (StrategyId, &TokenId, &Position)> + '_ {
        self.portfolio.all()
    }

    /// Cash plus positions at their marks (at cost where unmarked).
    pub fn bankroll(&self) -> Usdc {
        let cash = self.wallet.balance().unwrap_or(Usdc::ZERO);
        let held: Usdc = self
            .portfolio
            .all()
            .map(|(_, t, p)| {
                self.portfolio
                    .mark_of(t)
                    .map_or(p.cost, |m| Usdc::notional(m, p.size))
            })
            .sum();
        cash + held
    }

    fn update_bankroll(&mut self) {
        // An unknown balance is not a zero one: the floor is judged on known figures only.
        if self.wallet.balance().is_err() {
            return;
        }
        let (bankroll, floor, now) = (self.bankroll(), self.gate.limits().min_bankroll(), self.now);
        self.gate.ledger_mut().on_bankroll(bankroll, floor, now);
    }

    fn mark(&mut self, token: &TokenId) {
        if let Some(mid) = self.books.get(token).and_then(OrderBook::mid) {
            self.portfolio.mark(token, mid);
        }
    }

    fn book_change(
        &self,
        token: &TokenId,
        ts: u64,
        snapshot: bool,
        changes: LevelChanges,
    ) -> BookChange {
        let book = self.books.get(token);
        BookChange {
            token: token.clone(),
            ts,
            snapshot,
            changes,
            bid: book.and_then(OrderBook::best_bid),
            ask: book.and_then(OrderBook::best_ask),
            tradable: book.is_some_and(|b| b.health() == BookHealth::Tradable),
        }
    }

    /// Apply one market message: update books, fill resting paper orders, mark positions.
    /// Returns the events for strategies, in order.
    pub fn apply(&mut self, msg: &MarketMessage) -> MarketEvents {
        let mut events = MarketEvents::new();
        match msg {
            MarketMessage::Book(s) => {
                let was_stale = self
                    .books
                    .get(&s.token)
                    .is_some_and(|b| b.health() == BookHealth::Stale);
                if let Some(meta) = self.meta.get_mut(&s.token) {
                    meta.tick = s.tick.unwrap_or(meta.tick);
                    meta.min_size = s.min_size.unwrap_or(meta.min_size);
                    meta.neg_risk = s.neg_risk.unwrap_or(meta.neg_risk);
                }
                let book = self.book_entry(&s.token);
                if let Some(t) = s.tick
                    && t != book.tick()
                {
                    book.set_tick(t);
                }
                if let Some(m) = s.min_size {
                    book.set_min_size(m);
                }
                book.apply_snapshot(s.ts, s.bids.iter().copied(), s.asks.iter().copied());
                let updates = match self.books.get(&s.token) {
                    Some(b) => match &mut self.venue {
                        Venue::Paper(p) => p.on_snapshot(b, s.ts),
                        Venue::Live(_) => Vec::new(),
                    },
                    None => Vec::new(),
                };
                self.emit(updates);
                self.mark(&s.token);
                if was_stale {
                    events.push(MarketEvent::Feed {
                        token: s.token.clone(),
                        ts: s.ts,
                        live: true,
                    });
                }
                events.push(MarketEvent::Book(self.book_change(
                    &s.token,
                    s.ts,
                    true,
                    LevelChanges::new(),
                )));
            }
            MarketMessage::PriceChange { ts, changes, .. } => {
                // Group by token, keeping first-seen order, so each token gets one event.
                let mut touched: SmallVec<[(TokenId, LevelChanges); 2]> = SmallVec::new();
                for c in changes {
                    let applied = self
                        .book_entry(&c.token)
                        .apply_change(*ts, c.side, c.price, c.size);
                    if !applied {
                        continue;
                    }
                    let level = Level {
                        price: c.price,
                        size: c.size,
                    };
                    let updates = match &mut self.venue {
                        Venue::Paper(p) => p.on_level(&c.token, c.side, level, *ts),
                        Venue::Live(_) => Vec::new(),
                    };
                    self.emit(updates);
                    match touched.iter_mut().find(|(t, _)| *t == c.token) {
                        Some((_, v)) => v.push((c.side, level)),
                        None => touched.push((c.token.clone(), smallvec![(c.side, level)])),
                    }
                }
                for (token, levels) in touched {
                    self.mark(&token);
                    events.push(MarketEvent::Book(
                        self.book_change(&token, *ts, false, levels),
                    ));
                }
            }
            MarketMessage::TickSize {
                token,
                ts,
                old,
                new,
                ..
            } => {
                self.book_entry(token).set_tick(*new);
                events.push(MarketEvent::TickSize {
                    token: token.clone(),
                    ts: *ts,
                    old: *old,
                    new: *new,
                });
            }
            MarketMessage::LastTrade {
                token,
                ts,
                price,
                size,
                side,
                fee_rate_bps,
                ..
            } => {
                if let (Some(bps), Some(meta)) = (fee_rate_bps, self.meta.get_mut(token))
                    && *bps > 0
                {
                    meta.fees.rate_bps = *bps;
                }
                let updates = match &mut self.venue {
                    Venue::Paper(p) => p.on_trade(token, *price, *size, *ts),
                    Venue::Live(_) => Vec::new(),
                };
                self.emit(updates);
                events.push(MarketEvent::Trade {
                    token: token.clone(),
                    ts: *ts,
                    price: *price,
                    size: *size,
                    side: *side,
                });
            }
            MarketMessage::Other(_) => {}
        }
        for e in &events {
            if let MarketEvent::Book(b) = e {
                let crossed = self
                    .books
                    .get(&b.token)
                    .is_some_and(|x| x.health() == BookHealth::Crossed);
                if !crossed {
                    self.crossed_since.remove(&b.token);
                } else if !self.crossed_since.contains_key(&b.token) {
                    self.crossed_since.insert(b.token.clone(), self.now);
                }
            }
        }
        self.update_bankroll();
        events
    }

    /// Books that have stayed crossed for at least `grace_ms`: they need a fresh snapshot.
    pub fn stuck_crossed(&self, grace_ms: u64) -> Vec<TokenId> {
        self.crossed_since
            .iter()
            .filter(|(_, since)| self.now.saturating_sub(**since) >= grace_ms)
            .map(|(t, _)| t.clone())
            .collect()
    }

    /// The market feed went down: every book is stale until its next snapshot, and no
    /// order is placed on it meanwhile. Returns an event per book that was live.
    pub fn feed_down(&mut self) -> Vec<MarketEvent> {
        let now = self.now;
        self.books
            .values_mut()
            .filter_map(|b| {
                b.mark_stale().then(|| MarketEvent::Feed {
                    token: b.token().clone(),
                    ts: now,
                    live: false,
                })
            })
            .collect()
    }

    /// Count a refusal made outside the gate (the sandbox's per-callback intent cap).
    pub fn refuse(&mut self, strategy: StrategyId, rejection: Rejection) -> Rejection {
        let c = self.counters.entry(strategy).or_default();
        c.intents += 1;
        *c.rejected.entry(rejection.reason.code()).or_default() += 1;
        rejection
    }

    /// A strategy's intent: grant, gate, then the venue. `Ok` carries the order id; the
    /// fills and state changes it causes are queued for [`Desk::take_updates`].
    pub fn submit(&mut self, intent: Intent) -> Result<OrderId, Rejection> {
        let strategy = intent.strategy;
        let verdict = self.check(intent);
        let c = self.counters.entry(strategy).or_default();
        c.intents += 1;
        match verdict {
            Ok(approved) => {
                c.accepted += 1;
                let token = approved.intent().token.clone();
                let expected = self.expected_price(approved.intent());
                let fees = self.meta.get(&token).map_or(FeeSchedule::FREE, |m| m.fees);
                let Some(book) = self.books.get(&token) else {
                    return Err(Rejection::new(RejectReason::UnknownMarket, "book vanished"));
                };
                match &mut self.venue {
                    Venue::Paper(p) => {
                        let (id, updates) = p.place(approved, book, fees, self.now);
                        self.expected.insert(id, expected);
                        self.emit(updates);
                        Ok(id)
                    }
                    Venue::Live(l) => {
                        let id = l.place(approved, self.now);
                        self.expected.insert(id, expected);
                        Ok(id)
                    }
                }
            }
            Err(r) => {
                *c.rejected.entry(r.reason.code()).or_default() += 1;
                Err(r)
            }
        }
    }

    /// The price an intent should fill at now: the best opposite level when it crosses,
    /// else its limit.
    fn expected_price(&self, intent: &Intent) -> Price {
        let best = self
            .books
            .get(&intent.token)
            .and_then(|b| b.opposite(intent.side).next());
        match (best, intent.side) {
            (Some(l), Side::Buy) if l.price <= intent.price => l.price,
            (Some(l), Side::Sell) if l.price >= intent.price => l.price,
            _ => intent.price,
        }
    }

    /// Count, queue for the log, and past the pause threshold pause, a fill that slipped.
    fn slippage(&mut self, order: OrderId, f: &crate::order::Fill) {
        let Some(expected) = self.expected.get(&order).copied() else {
            return;
        };
        if expected.micros() == 0 {
            return;
        }
        let (e, p) = (
            Decimal::from(expected.micros()),
            Decimal::from(f.price.micros()),
        );
        let pct = match f.side {
            Side::Buy => (p - e) / e,
            Side::Sell => (e - p) / e,
        } * Decimal::from(100);
        let budget = self.gate.budget(f.strategy);
        let warn = budget
            .slippage_pct
            .unwrap_or(self.gate.limits().slippage_pct);
        let pause = budget
            .pause_slippage_pct
            .unwrap_or(self.gate.limits().pause_slippage_pct);
        let c = self.counters.entry(f.strategy).or_default();
        c.worst_slippage_pct = c.worst_slippage_pct.max(pct);
        if pct <= warn {
            return;
        }
        c.slippage_warnings += 1;
        let paused = pct > pause && !c.paused;
        c.paused |= pct > pause;
        self.notices.push(SlippageNotice {
            strategy: f.strategy,
            order,
            token: f.token.clone(),
            expected,
            filled: f.price,
            pct: pct.round_dp(3),
            paused,
        });
    }

    /// Slippage notices since the last call.
    pub fn take_notices(&mut self) -> Vec<SlippageNotice> {
        std::mem::take(&mut self.notices)
    }

    /// Hold every new order (`Some(why)`: the exchange's heartbeat is stale, so resting
    /// orders may vanish at any moment) or release the hold (`None`). Cancels still go.
    pub fn hold_orders(&mut self, why: Option<String>) {
        self.held = why;
    }

    /// Why new orders may not leave now (the kill switch, or a hold), if they may not:
    /// an order approved before that and still being signed is not sent.
    pub fn sending_stopped(&self) -> Option<String> {
        if self.gate.kill_switch().is_engaged() {
            return Some("kill switch engaged: not sent".to_owned());
        }
        self.held.as_ref().map(|why| format!("{why}: not sent"))
    }

    /// Let a paused strategy trade again (the operator's decision).
    pub fn unpause(&mut self, strategy: StrategyId) {
        self.counters.entry(strategy).or_default().paused = false;
    }

    /// Pause a strategy (the operator's decision): its new orders are refused until
    /// [`Desk::unpause`]; it keeps receiving events.
    pub fn pause(&mut self, strategy: StrategyId) {
        self.counters.entry(strategy).or_default().paused = true;
    }

    fn check(&mut self, intent: Intent) -> Result<crate::risk::Approved, Rejection> {
        if let Some(why) = &self.held {
            return Err(Rejection::new(RejectReason::KillSwitch, why.clone()));
        }
        if self
            .counters
            .get(&intent.strategy)
            .is_some_and(|c| c.paused)
        {
            return Err(Rejection::new(
                RejectReason::StrategyBudget,
                "strategy paused (by the operator, or after a fill slipped past pause_slippage_pct): `polybox strategy resume NAME` lets it trade again",
            ));
        }
        if intent.token.as_str().is_empty() {
            return Err(Rejection::new(
                RejectReason::InvalidIntent,
                "token id is empty",
            ));
        }
        if !self.books.contains_key(&intent.token) {
            return Err(Rejection::new(
                RejectReason::UnknownMarket,
                format!(
                    "token {} is not a market of this session",
                    intent.token.short()
                ),
            ));
        }
        if !self
            .grants
            .get(&intent.strategy)
            .is_some_and(|g| g.contains(&intent.token))
        {
            return Err(Rejection::new(
                RejectReason::MarketNotGranted,
                format!(
                    "token {} is not granted to this strategy",
                    intent.token.short()
                ),
            ));
        }
        self.gate.admit(intent.strategy, self.now)?;
        let Some(book) = self.books.get(&intent.token) else {
            return Err(Rejection::new(RejectReason::UnknownMarket, "book vanished"));
        };
        self.gate.judge(intent, book, &|i| self.exposure(i))
    }

    fn fees_of(&self, token: &TokenId) -> FeeSchedule {
        self.meta.get(token).map_or(FeeSchedule::FREE, |m| m.fees)
    }

    /// Average cost of a strategy's position in `token` (0 when flat).
    fn avg_cost(&self, strategy: StrategyId, token: &TokenId) -> Decimal {
        let pos = self.portfolio.position(strategy, token);
        if pos.size.is_zero() {
            Decimal::ZERO
        } else {
            pos.cost.to_decimal() / pos.size.to_decimal()
        }
    }

    /// Worst loss of an order: its worst taker fee, plus, for a SELL, selling below
    /// `bound`, the highest average cost the position can reach.
    fn worst_loss(
        &self,
        token: &TokenId,
        side: Side,
        price: Price,
        size: Size,
        bound: Decimal,
    ) -> Usdc {
        let fee = self.fees_of(token).max_taker_fee(side, price, size);
        let below_cost = match side {
            Side::Buy => Decimal::ZERO,
            Side::Sell => ((bound - price.to_decimal()) * size.to_decimal()).max(Decimal::ZERO),
        };
        fee + Usdc::new(below_cost)
    }

    /// What `intent` adds to the risk already open. One pass over the open orders.
    pub fn exposure(&self, intent: &Intent) -> Exposure {
        let s = intent.strategy;
        let held = self.portfolio.position(s, &intent.token).size;
        let sellable = held.saturating_sub(self.venue.offered(s, &intent.token));
        let spend = match intent.side {
            Side::Buy => {
                intent.notional()
                    + self.fees_of(&intent.token).max_taker_fee(
                        Side::Buy,
                        intent.price,
                        intent.size,
                    )
            }
            Side::Sell => Usdc::ZERO,
        };
        // The highest BUY price open (this intent included) per strategy and token: while
        // those BUYs fill, the average cost cannot rise above it.
        // (Few orders are open at a time: small inline lists, no allocation per intent.)
        let mut max_buy: SmallVec<[(StrategyId, &TokenId, Price); 8]> = SmallVec::new();
        let buys = self
            .venue
            .working()
            .filter(|o| o.side == Side::Buy)
            .map(|o| (o.strategy, o.token, o.price));
        let this = (intent.side == Side::Buy).then_some((s, &intent.token, intent.price));
        for (strategy, token, price) in buys.chain(this) {
            match max_buy
                .iter_mut()
                .find(|(s2, t2, _)| *s2 == strategy && *t2 == token)
            {
                Some(m) => m.2 = m.2.max(price),
                None => max_buy.push((strategy, token, price)),
            }
        }
        let bound = |strategy: StrategyId, token: &TokenId| {
            let buy = max_buy
                .iter()
                .find(|(s2, t2, _)| *s2 == strategy && *t2 == token)
                .map_or(Decimal::ZERO, |m| m.2.to_decimal());
            self.avg_cost(strategy, token).max(buy)
        };
        let mut reserved = Usdc::ZERO;
        let mut committed = -self.gate.ledger().realized_today();
        let mut strategy_committed = -self.gate.ledger().strategy_today(s);
        let mut strategy_exposure = Usdc::ZERO;
        let mut strategy_open_orders = 0u32;
        // Tokens held or being bought, by anyone: sorted and deduplicated below.
        let mut tokens: SmallVec<[&TokenId; 16]> =
            self.portfolio.all().map(|(_, t, _)| t).collect();
        for o in self.venue.working() {
            let remaining = o.remaining();
            let worst = match o.side {
                Side::Buy => {
                    reserved += Usdc::notional(o.price, remaining)
                        + self
                            .fees_of(o.token)
                            .max_taker_fee(Side::Buy, o.price, remaining);
                    tokens.push(o.token);
                    self.worst_loss(o.token, o.side, o.price, remaining, Decimal::ZERO)
                }
                Side::Sell => self.worst_loss(
                    o.token,
                    o.side,
                    o.price,
                    remaining,
                    bound(o.strategy, o.token),
                ),
            };
            committed += worst;
            if o.strategy == s {
                strategy_committed += worst;
                strategy_open_orders += 1;
                if o.side == Side::Buy {
                    strategy_exposure += Usdc::notional(o.price, remaining);
                }
            }
        }
        strategy_exposure += self.portfolio.positions_of(s).map(|(_, p)| p.cost).sum();
        tokens.sort_unstable();
        tokens.dedup();
        let intent_loss = self.worst_loss(
            &intent.token,
            intent.side,
            intent.price,
            intent.size,
            bound(s, &intent.token),
        );
        Exposure {
            sellable,
            available: self.wallet.balance().map(|b| b - reserved),
            spend,
            open_positions: u32::try_from(tokens.len()).unwrap_or(u32::MAX),
            opens_position: intent.side == Side::Buy
                && tokens.binary_search(&&intent.token).is_err(),
            committed_loss: committed,
            strategy_committed_loss: strategy_committed,
            intent_loss,
            strategy_exposure,
            strategy_open_orders,
        }
    }

    /// Cancel one of the strategy's orders.
    pub fn cancel(&mut self, strategy: StrategyId, id: OrderId) -> Result<(), Rejection> {
        self.counters.entry(strategy).or_default().cancels += 1;
        match &mut self.venue {
            Venue::Paper(p) => {
                let u = p.cancel(strategy, id, self.now)?;
                self.outbox.push(u);
            }
            Venue::Live(l) => {
                let effects = l.cancel(strategy, id, self.now)?;
                self.effects(effects);
            }
        }
        Ok(())
    }

    /// Cancel all of a strategy's orders (on one token or all), with the reason when the
    /// host does it; returns how many.
    pub fn cancel_all(
        &mut self,
        strategy: StrategyId,
        token: Option<&TokenId>,
        reason: Option<RejectReason>,
    ) -> u32 {
        let now = self.now;
        match &mut self.venue {
            Venue::Paper(p) => {
                let updates = p.cancel_all(strategy, token, reason, now);
                let n = u32::try_from(updates.len()).unwrap_or(u32::MAX);
                self.outbox.extend(updates);
                n
            }
            Venue::Live(l) => {
                let ids: Vec<OrderId> = l
                    .orders()
                    .working()
                    .filter(|o| o.strategy == strategy && token.is_none_or(|t| *t == o.token))
                    .map(|o| o.id)
                    .collect();
                let mut effects = Vec::new();
                let mut n = 0u32;
                for id in ids {
                    if let Ok(e) = l.cancel(strategy, id, now) {
                        effects.extend(e);
                        n += 1;
                    }
                }
                self.effects(effects);
                n
            }
        }
    }

    /// Take the queued order updates, oldest first.
    pub fn take_updates(&mut self) -> Vec<OrderUpdate> {
        std::mem::take(&mut self.outbox)
    }

    /// Whether updates are queued.
    pub fn has_updates(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// A strategy's open orders.
    pub fn open_orders(&self, strategy: StrategyId) -> impl Iterator<Item = OrderView<'_>> + '_ {
        self.venue.open_orders(strategy)
    }

    /// Trade on the exchange from now on: approved orders become [`Command`]s for the
    /// executor, and its [`ExecEvent`]s bring fills. `orders` are those restored from the
    /// journal.
    pub fn use_live_venue(&mut self, orders: Orders) {
        // Positions come back from the journal's fills (failed trades excluded).
        for o in orders.all() {
            for f in o
                .fills
                .values()
                .filter(|f| f.status != crate::orders::TradeStatus::Failed)
            {
                let fill = crate::order::Fill {
                    order: o.id,
                    strategy: o.strategy,
                    token: o.token.clone(),
                    side: o.side,
                    price: f.price,
                    size: f.size,
                    fee: f.fee,
                    ts: o.created_ms,
                };
                self.portfolio.apply_fill(&fill);
                self.wallet.on_fill(&fill);
            }
        }
        self.update_bankroll();
        self.venue = Venue::Live(LiveVenue::new(orders));
    }

    /// The exchange's order records (live venue only).
    pub fn live_orders(&self) -> Option<&Orders> {
        match &self.venue {
            Venue::Live(l) => Some(l.orders()),
            Venue::Paper(_) => None,
        }
    }

    /// Commands for the executor (live venue only), oldest first.
    pub fn take_commands(&mut self) -> Vec<Command> {
        match &mut self.venue {
            Venue::Live(l) => l.take_commands(),
            Venue::Paper(_) => Vec::new(),
        }
    }

    /// What the exchange did to our orders: fills reach positions and risk once, updates
    /// reach strategies, failed trades are reversed. Returns exchange ids the host does
    /// not know (to report).
    pub fn apply_exec(&mut self, event: ExecEvent) -> Vec<String> {
        let now = self.now;
        let effects = match &mut self.venue {
            Venue::Live(l) => l.apply(event, now),
            Venue::Paper(_) => Vec::new(),
        };
        self.effects(effects)
    }

    fn effects(&mut self, effects: Vec<Effect>) -> Vec<String> {
        let mut unmatched = Vec::new();
        for e in effects {
            match e {
                Effect::Update(u) => self.emit(vec![u]),
                Effect::Void(f) => {
                    // The trade failed on chain: the opposite fill, fee returned.
                    let reverse = crate::order::Fill {
                        side: match f.side {
                            Side::Buy => Side::Sell,
                            Side::Sell => Side::Buy,
                        },
                        fee: -f.fee,
                        ..f
                    };
                    let realized = self.portfolio.apply_fill(&reverse);
                    self.wallet.on_fill(&reverse);
                    self.fills_applied += 1;
                    self.gate
                        .ledger_mut()
                        .on_realized(reverse.strategy, realized);
                    self.update_bankroll();
                }
                Effect::Unmatched(x) => unmatched.push(x),
            }
        }
        unmatched
    }

    /// A strategy's positions.
    pub fn positions(
        &self,
        strategy: StrategyId,
    ) -> impl Iterator<Item = (&TokenId, &Position)> + '_ {
        self.portfolio.positions_of(strategy)
    }

    /// The mark of a token.
    pub fn mark_of(&self, token: &TokenId) -> Option<Price> {
        self.portfolio.mark_of(token)
    }

    /// A strategy's P&L.
    pub fn pnl(&self, strategy: StrategyId) -> Pnl {
        self.portfolio.pnl_of(strategy)
    }

    /// A strategy's counters.
    pub fn counters(&self, strategy: StrategyId) -> Counters {
        self.counters.get(&strategy).cloned().unwrap_or_default()
    }

    /// Cancel every open order of every strategy (the kill switch's `--cancel-all`);
    /// returns how many.
    pub fn cancel_everything(&mut self) -> u32 {
        let strategies: BTreeSet<StrategyId> = self.venue.working().map(|o| o.strategy).collect();
        strategies
            .into_iter()
            .map(|s| self.cancel_all(s, None, Some(RejectReason::KillSwitch)))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kill_switch::KillSwitch;
    use crate::market_message::{BookSnapshot, PriceChange};
    use crate::order::{OrderStatus, TimeInForce};
    use crate::risk::Limits;
    use crate::test_util::{lvl, p, q};

    fn t(s: &str) -> TokenId {
        TokenId::new(s)
    }

    fn desk() -> Desk {
        let gate = Gate::new(
            Limits::default(),
            KillSwitch::new("/nonexistent/polybox/kill"),
        );
        let mut d = Desk::new(gate, p("0.01"), q("5"));
        for (tok, other) in [("Y", "N"), ("N", "Y")] {
            d.add_market(MarketMeta {
                token: t(tok),
                condition: "0xc".into(),
                complement: Some(t(other)),
                fees: FeeSchedule {
                    rate_bps: 400,
                    exponent: 1,
                },
                tick: p("0.01"),
                min_size: q("5"),
                neg_risk: false,
            });
        }
        d.grant(StrategyId(0), [t("Y"), t("N")]);
        d.apply(&MarketMessage::Book(BookSnapshot {
            token: t("Y"),
            condition: "0xc".into(),
            ts: 1,
            bids: vec![lvl("0.40", "100")],
            asks: vec![lvl("0.45", "100")],
            tick: None,
            min_size: None,
            neg_risk: None,
        }));
        d.take_updates();
        d
    }

    fn intent(side: Side, price: &str, size: &str) -> Intent {
        Intent {
            strategy: StrategyId(0),
            token: t("Y"),
            side,
            price: p(price),
            size: q(size),
            tif: TimeInForce::Gtc,
            post_only: false,
        }
    }

    #[test]
    fn an_approved_taker_fills_and_updates_the_portfolio() {
        let mut d = desk();
        let id = d.submit(intent(Side::Buy, "0.45", "10")).unwrap();
        let ups = d.take_updates();
        assert_eq!(ups.len(), 1);
        assert_eq!((ups[0].id, ups[0].status), (id, OrderStatus::Filled));
        let pos = d.positions(StrategyId(0)).next().unwrap().1.clone();
        assert_eq!(pos.size, q("10"));
        // taker fee 10 × 0.04 × 0.45 × 0.55 = 0.099
        assert_eq!(d.pnl(StrategyId(0)).fees, Usdc::parse("0.099").unwrap());
        let c = d.counters(StrategyId(0));
        assert_eq!((c.intents, c.accepted, c.fills), (1, 1, 1));
    }

    #[test]
    fn refusals_are_counted_by_reason() {
        let mut d = desk();
        let r = d.submit(intent(Side::Buy, "0.45", "100")).unwrap_err();
        assert_eq!(r.reason, RejectReason::PerTradeLimit);
        let mut other = intent(Side::Buy, "0.45", "10");
        other.strategy = StrategyId(1);
        assert_eq!(
            d.submit(other).unwrap_err().reason,
            RejectReason::MarketNotGranted
        );
        let mut unknown = intent(Side::Buy, "0.45", "10");
        unknown.token = t("Z");
        assert_eq!(
            d.submit(unknown).unwrap_err().reason,
            RejectReason::UnknownMarket
        );
        // N has no snapshot yet: its book is not tradable
        let mut no = intent(Side::Buy, "0.45", "10");
        no.token = t("N");
        assert_eq!(
            d.submit(no).unwrap_err().reason,
            RejectReason::BookNotTradable
        );
        // selling what is not held
        assert_eq!(
            d.submit(intent(Side::Sell, "0.40", "5"))
                .unwrap_err()
                .reason,
            RejectReason::InsufficientBalance
        );
        let c = d.counters(StrategyId(0));
        assert_eq!(c.intents, 4);
        assert_eq!(c.rejected["per_trade_limit"], 1);
        assert_eq!(c.rejected["insufficient_balance"], 1);
        assert!(d.take_updates().is_empty());
    }

    #[test]
    fn on_the_chain_s_balance_buys_fail_closed_and_sells_of_held_shares_go() {
        let mut d = desk();
        // Capital 40: the bankroll floor is 4.
        let limits = Limits {
            capital_usdc: Usdc::parse("40").unwrap(),
            ..Limits::default()
        };
        *d.gate_mut() = Gate::new(limits, KillSwitch::new("/nonexistent/polybox/kill"));
        d.submit(intent(Side::Buy, "0.41", "10")).unwrap();
        // The chain shows 5 pUSD: a 4.5 BUY would fit, but not next to the 4.1 resting.
        d.use_chain_balance(Ok(Usdc::parse("5").unwrap()));
        let r = d.submit(intent(Side::Buy, "0.45", "10")).unwrap_err();
        assert_eq!(r.reason, RejectReason::InsufficientBalance);
        assert!(r.message.contains("required"), "{r:?}");
        // The chain cannot be read: BUYs refused with the reason; the bankroll floor is
        // not judged on an unknown balance.
        d.use_chain_balance(Err("the node at http://x refused".to_owned()));
        let r = d.submit(intent(Side::Buy, "0.30", "5")).unwrap_err();
        assert_eq!(r.reason, RejectReason::BalanceUnavailable);
        assert!(r.message.contains("the node at http://x refused"), "{r:?}");
        assert!(d.gate().ledger().halt().is_none(), "no halt on a blip");
        // A SELL of shares held does not need collateral.
        d.use_chain_balance(Ok(Usdc::parse("100").unwrap()));
        let b = d.submit(intent(Side::Buy, "0.45", "10")).unwrap();
        assert!(
            d.open_orders(StrategyId(0)).all(|o| o.id != b),
            "filled at once"
        );
        d.use_chain_balance(Err("down".to_owned()));
        assert!(d.submit(intent(Side::Sell, "0.40", "10")).is_ok());
    }

    #[test]
    fn shares_offered_for_sale_cannot_be_offered_twice() {
        let mut d = desk();
        d.submit(intent(Side::Buy, "0.45", "10")).unwrap();
        d.submit(intent(Side::Sell, "0.50", "10")).unwrap();
        assert_eq!(
            d.submit(intent(Side::Sell, "0.50", "5"))
                .unwrap_err()
                .reason,
            RejectReason::InsufficientBalance
        );
    }

    #[test]
    fn a_price_change_moves_books_fills_resting_orders_and_marks() {
        let mut d = desk();
        let id = d.submit(intent(Side::Buy, "0.42", "10")).unwrap();
        assert_eq!(d.take_updates()[0].status, OrderStatus::Open);
        let events = d.apply(&MarketMessage::PriceChange {
            condition: "0xc".into(),
            ts: 2,
            changes: smallvec::smallvec![
                PriceChange {
                    token: t("Y"),
                    side: Side::Sell,
                    price: p("0.42"),
                    size: q("4"),
                },
                PriceChange {
                    token: t("N"),
                    side: Side::Buy,
                    price: p("0.58"),
                    size: q("4"),
                },
                PriceChange {
                    token: t("Y"),
                    side: Side::Buy,
                    price: p("0.41"),
                    size: q("7"),
                },
            ],
        });
        // one event per token touched (N ignored: no snapshot yet)
        assert_eq!(events.len(), 1);
        let MarketEvent::Book(b) = &events[0] else {
            panic!()
        };
        assert_eq!(b.changes.len(), 2);
        assert_eq!(b.bid.map(|l| l.price), Some(p("0.41")));
        let ups = d.take_updates();
        assert_eq!(ups.len(), 1);
        assert_eq!(
            (ups[0].id, ups[0].filled, ups[0].status),
            (id, q("4"), OrderStatus::PartiallyFilled)
        );
        assert_eq!(d.mark_of(&t("Y")), Some(p("0.415")));
        // the ask at 0.42 crosses nothing but our order; the book itself is not crossed
        assert!(b.tradable);
    }

    #[test]
    fn the_kill_switch_blocks_new_orders_but_never_a_cancel() {
        let dir = std::env::temp_dir().join(format!("polybox-desk-kill-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ks = KillSwitch::new(dir.join("kill"));
        let mut d = desk();
        *d.gate_mut() = Gate::new(Limits::default(), ks.clone());
        let id = d.submit(intent(Side::Buy, "0.30", "10")).unwrap();
        assert_eq!(d.sending_stopped(), None);
        ks.engage("test").unwrap();
        // An order approved before and still being signed does not leave either.
        assert_eq!(
            d.sending_stopped().as_deref(),
            Some("kill switch engaged: not sent")
        );
        assert_eq!(
            d.submit(intent(Side::Buy, "0.30", "10"))
                .unwrap_err()
                .reason,
            RejectReason::KillSwitch
        );
        d.cancel(StrategyId(0), id).unwrap();
        assert_eq!(d.open_orders(StrategyId(0)).count(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_feed_drop_holds_orders_until_a_fresh_snapshot() {
        let mut d = desk();
        let events = d.feed_down();
        let now = d.now();
        assert_eq!(events.len(), 2, "both books go stale");
        assert!(events.contains(&MarketEvent::Feed {
            token: t("Y"),
            ts: now,
            live: false
        }));
        assert!(d.feed_down().is_empty(), "already stale");
        let r = d.submit(intent(Side::Buy, "0.45", "10")).unwrap_err();
        assert_eq!(r.reason, RejectReason::BookNotTradable);
        let events = d.apply(&MarketMessage::Book(BookSnapshot {
            token: t("Y"),
            condition: "0xc".into(),
            ts: 5,
            bids: vec![lvl("0.40", "100")],
            asks: vec![lvl("0.45", "100")],
            tick: Some(p("0.01")),
            min_size: Some(q("6")),
            neg_risk: None,
        }));
        assert!(matches!(events[0], MarketEvent::Feed { live: true, .. }));
        let meta = d.markets().find(|m| m.token == t("Y")).unwrap().clone();
        assert_eq!(meta.min_size, q("6"));
        assert!(d.submit(intent(Side::Buy, "0.45", "10")).is_ok());
    }

    #[test]
    fn a_book_that_stays_crossed_is_reported_after_the_grace() {
        let mut d = desk();
        d.set_now(1_000);
        let cross = |d: &mut Desk, size: &str| {
            let now = d.now();
            d.apply(&MarketMessage::PriceChange {
                condition: "0xc".into(),
                ts: now,
                changes: smallvec::smallvec![PriceChange {
                    token: t("Y"),
                    side: Side::Buy,
                    price: p("0.50"),
                    size: q(size),
                }],
            });
        };
        cross(&mut d, "5");
        assert!(d.stuck_crossed(2_000).is_empty());
        d.set_now(2_500);
        assert!(d.stuck_crossed(2_000).is_empty());
        d.set_now(3_000);
        assert_eq!(d.stuck_crossed(2_000), vec![t("Y")]);
        cross(&mut d, "0");
        assert!(d.stuck_crossed(2_000).is_empty(), "uncrossed");
    }

    #[test]
    fn cancel_all_reports_each_order() {
        let mut d = desk();
        d.submit(intent(Side::Buy, "0.30", "10")).unwrap();
        d.submit(intent(Side::Buy, "0.31", "10")).unwrap();
        d.take_updates();
        assert_eq!(d.cancel_all(StrategyId(0), None, None), 2);
        assert!(
            d.take_updates()
                .iter()
                .all(|u| u.status == OrderStatus::Cancelled)
        );
        assert_eq!(d.open_orders(StrategyId(0)).count(), 0);
    }

    #[test]
    fn on_the_live_venue_orders_become_commands_and_exchange_events_bring_fills() {
        use crate::orders::TradeStatus;
        let mut d = desk();
        d.use_live_venue(Orders::default());
        // Marketable, but nothing fills here: the exchange decides.
        let id = d.submit(intent(Side::Buy, "0.45", "10")).unwrap();
        assert!(d.take_updates().is_empty());
        let cmds = d.take_commands();
        assert!(matches!(&cmds[..], [Command::Place(p)] if p.id == id && p.size == q("10")));
        assert_eq!(
            d.open_orders(StrategyId(0)).count(),
            1,
            "working while pending"
        );
        d.apply_exec(ExecEvent::Signed {
            id,
            exchange_id: "0xa".to_owned(),
        });
        d.apply_exec(ExecEvent::Submitted { id });
        d.apply_exec(ExecEvent::Accepted {
            exchange_id: "0xa".to_owned(),
        });
        let trade = |status| ExecEvent::Trade {
            exchange_id: "0xa".to_owned(),
            trade_id: "t1".to_owned(),
            price: p("0.45"),
            size: q("10"),
            fee: crate::money::Usdc::ZERO,
            status,
        };
        d.apply_exec(trade(TradeStatus::Matched));
        d.apply_exec(trade(TradeStatus::Matched));
        assert_eq!(
            d.positions(StrategyId(0)).next().unwrap().1.size,
            q("10"),
            "applied once"
        );
        let updates = d.take_updates();
        assert_eq!(updates.last().unwrap().status, OrderStatus::Filled);
        // The trade fails on chain: the position goes back.
        d.apply_exec(trade(TradeStatus::Failed));
        assert!(d.positions(StrategyId(0)).all(|(_, p)| p.size.is_zero()));

        // A cancel before the executor took the order withdraws it here; after, it is a command.
        let a = d.submit(intent(Side::Buy, "0.30", "10")).unwrap();
        d.cancel(StrategyId(0), a).unwrap();
        assert_eq!(
            d.take_updates().last().unwrap().status,
            OrderStatus::Cancelled
        );
        assert!(d.take_commands().is_empty(), "never sent");
        // Cancelled while being signed: withdrawn once signed, never sent.
        let c = d.submit(intent(Side::Buy, "0.30", "10")).unwrap();
        d.take_commands();
        d.cancel(StrategyId(0), c).unwrap();
        assert!(d.take_updates().is_empty(), "still being signed");
        d.apply_exec(ExecEvent::Signed {
            id: c,
            exchange_id: "0xc".to_owned(),
        });
        assert_eq!(
            d.take_updates().last().unwrap().status,
            OrderStatus::Cancelled
        );
        assert!(
            d.take_commands().is_empty(),
            "never sent, nothing to cancel"
        );
        // Cancelled while its post is in flight: the cancel waits for the answer, so it
        // cannot overtake the post.
        let b = d.submit(intent(Side::Buy, "0.30", "10")).unwrap();
        d.take_commands();
        d.apply_exec(ExecEvent::Signed {
            id: b,
            exchange_id: "0xb".to_owned(),
        });
        d.apply_exec(ExecEvent::Submitted { id: b });
        d.cancel(StrategyId(0), b).unwrap();
        assert!(d.take_commands().is_empty(), "the post is not answered yet");
        d.apply_exec(ExecEvent::Accepted {
            exchange_id: "0xb".to_owned(),
        });
        assert_eq!(
            d.take_commands(),
            vec![Command::Cancel {
                id: b,
                exchange_id: "0xb".to_owned()
            }]
        );
        // Resting: the cancel goes at once.
        d.cancel(StrategyId(0), b).unwrap();
        assert_eq!(d.take_commands().len(), 1);
        assert_eq!(
            d.apply_exec(ExecEvent::Cancelled {
                exchange_id: "0xzz".to_owned(),
                reason: None
            }),
            vec!["0xzz".to_owned()]
        );
    }

    #[test]
    fn fills_that_slip_are_counted_logged_and_past_the_pause_threshold_pause_the_strategy() {
        let mut d = desk();
        // Asks: 10 at 0.45, then 100 at 0.48; a BUY up to 0.50 expects 0.45.
        d.apply(&MarketMessage::Book(BookSnapshot {
            token: t("Y"),
            condition: "0xc".into(),
            ts: 2,
            bids: vec![lvl("0.40", "100")],
            asks: vec![lvl("0.45", "10"), lvl("0.48", "100")],
            tick: None,
            min_size: None,
            neg_risk: None,
        }));
        d.take_updates();
        d.submit(intent(Side::Buy, "0.50", "20")).unwrap();
        let notices = d.take_notices();
        assert_eq!(
            notices.len(),
            1,
            "0.45 is as expected, 0.48 slipped: {notices:?}"
        );
        assert_eq!(
            (notices[0].expected, notices[0].filled),
            (p("0.45"), p("0.48"))
        );
        assert_eq!(notices[0].pct, Decimal::new(6667, 3));
        assert!(notices[0].paused, "6.667 % > 5 %");
        let c = d.counters(StrategyId(0));
        assert_eq!((c.slippage_warnings, c.paused), (1, true));
        let r = d.submit(intent(Side::Buy, "0.40", "10")).unwrap_err();
        assert_eq!(r.reason, RejectReason::StrategyBudget);
        assert!(r.message.contains("paused"), "{r:?}");
        d.unpause(StrategyId(0));
        assert!(d.submit(intent(Side::Buy, "0.30", "10")).is_ok());
        // A per-strategy threshold overrides the global one.
        d.gate_mut().set_budget(
            StrategyId(0),
            crate::risk::Budget {
                slippage_pct: Some(Decimal::from(10)),
                ..Default::default()
            },
        );
        d.submit(intent(Side::Buy, "0.50", "20")).unwrap();
        assert!(d.take_notices().is_empty(), "6.667 % is under its 10 %");
    }

    #[test]
    fn a_hold_refuses_new_orders_but_never_a_cancel() {
        let mut d = desk();
        let id = d.submit(intent(Side::Buy, "0.30", "10")).unwrap();
        d.hold_orders(Some(
            "the exchange has not acknowledged a heartbeat for 12 s".to_owned(),
        ));
        let r = d.submit(intent(Side::Buy, "0.31", "10")).unwrap_err();
        assert_eq!(r.reason, RejectReason::KillSwitch);
        assert!(r.message.contains("heartbeat"), "{r:?}");
        assert!(d.sending_stopped().is_some_and(|w| w.contains("heartbeat")));
        d.cancel(StrategyId(0), id).unwrap();
        d.hold_orders(None);
        assert_eq!(d.sending_stopped(), None);
        assert!(d.submit(intent(Side::Buy, "0.31", "10")).is_ok());
    }
}
