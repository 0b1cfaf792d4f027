//! Drive a [`Strategy`] natively, without WebAssembly: feed it events, see what it submits.
//!
//! The [`TestHost`] keeps books from the events it is given, answers `submit` with a
//! simple gate (price inside (0, 1), on the tick, at least the minimum size) or with a
//! verdict you script, tracks the strategy's open orders, and records every intent and
//! cancel. It does not simulate fills by itself: send them with [`Harness::fill`].
//!
//! ```
//! use polybox_sdk::testing::Harness;
//! # use polybox_sdk::{Host, MarketInfo, Strategy};
//! # struct Noop;
//! # impl Strategy for Noop {
//! #     fn init(_: &str, m: &[MarketInfo], _: &mut dyn Host) -> Result<(Self, Vec<String>), String> {
//! #         Ok((Noop, m.iter().map(|m| m.token.clone()).collect()))
//! #     }
//! # }
//! let mut h = Harness::<Noop>::start("", &[Harness::<Noop>::market("1")]).unwrap();
//! h.book("1", &[("0.49", "100")], &[("0.51", "100")]);
//! assert!(h.intents().is_empty());
//! ```

use std::collections::BTreeMap;

use crate::units::{Price, Size};
use crate::{
    BookDepth, BookUpdate, Event, Fill, Host, Intent, Level, LevelChange, LogLevel, MarketInfo,
    OpenOrder, OrderId, OrderStatus, OrderUpdate, Position, RejectReason, Rejection, Side,
    Strategy, TimeInForce, TopOfBook, Trade, dispatch,
};

/// A scripted verdict for `submit`.
pub type Verdict = Box<dyn FnMut(&Intent) -> Option<Rejection>>;

/// The host a strategy sees in native tests.
pub struct TestHost {
    now: u64,
    markets: BTreeMap<String, MarketInfo>,
    books: BTreeMap<String, (Vec<Level>, Vec<Level>)>,
    open: BTreeMap<OrderId, OpenOrder>,
    next_id: OrderId,
    intents: Vec<Intent>,
    verdicts: Vec<Result<OrderId, Rejection>>,
    cancels: Vec<OrderId>,
    logs: Vec<(LogLevel, String)>,
    timers: BTreeMap<u64, u64>,
    verdict: Option<Verdict>,
}

impl std::fmt::Debug for TestHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestHost")
            .field("now", &self.now)
            .field("intents", &self.intents.len())
            .field("open", &self.open.len())
            .finish()
    }
}

impl TestHost {
    fn new(markets: &[MarketInfo]) -> Self {
        TestHost {
            now: 0,
            markets: markets
                .iter()
                .map(|m| (m.token.clone(), m.clone()))
                .collect(),
            books: BTreeMap::new(),
            open: BTreeMap::new(),
            next_id: 0,
            intents: Vec::new(),
            verdicts: Vec::new(),
            cancels: Vec::new(),
            logs: Vec::new(),
            timers: BTreeMap::new(),
            verdict: None,
        }
    }

    fn basic_gate(&self, i: &Intent) -> Option<Rejection> {
        let reject = |reason, message: String| Some(Rejection { reason, message });
        let Some(m) = self.markets.get(&i.token) else {
            return reject(
                RejectReason::MarketNotGranted,
                format!("token {} not granted", i.token),
            );
        };
        if Price::from_micros(i.price).is_none() {
            return reject(
                RejectReason::PriceBounds,
                format!("price {} out of (0, 1)", i.price),
            );
        }
        if m.tick == 0 || !i.price.is_multiple_of(m.tick) {
            return reject(
                RejectReason::Tick,
                format!("price {} not on tick {}", i.price, m.tick),
            );
        }
        if i.size < m.min_size {
            return reject(
                RejectReason::MinSize,
                format!("size {} below {}", i.size, m.min_size),
            );
        }
        None
    }
}

impl Host for TestHost {
    fn submit(&mut self, intent: Intent) -> Result<OrderId, Rejection> {
        self.intents.push(intent.clone());
        let refusal = match self.verdict.as_mut() {
            Some(v) => v(&intent),
            None => self.basic_gate(&intent),
        };
        let verdict = match refusal {
            Some(r) => Err(r),
            None => {
                self.next_id += 1;
                if intent.tif == TimeInForce::Gtc {
                    self.open.insert(
                        self.next_id,
                        OpenOrder {
                            id: self.next_id,
                            token: intent.token.clone(),
                            side: intent.side,
                            price: intent.price,
                            size: intent.size,
                            filled: 0,
                        },
                    );
                }
                Ok(self.next_id)
            }
        };
        self.verdicts.push(verdict.clone());
        verdict
    }

    fn cancel(&mut self, id: OrderId) -> Result<(), Rejection> {
        match self.open.remove(&id) {
            Some(_) => {
                self.cancels.push(id);
                Ok(())
            }
            None => Err(Rejection {
                reason: RejectReason::UnknownOrder,
                message: format!("order {id} is not open"),
            }),
        }
    }

    fn cancel_all(&mut self, token: Option<&str>) -> u32 {
        let ids: Vec<OrderId> = self
            .open
            .values()
            .filter(|o| token.is_none_or(|t| o.token == t))
            .map(|o| o.id)
            .collect();
        for id in &ids {
            self.open.remove(id);
            self.cancels.push(*id);
        }
        u32::try_from(ids.len()).unwrap_or(u32::MAX)
    }

    fn book(&mut self, token: &str, depth: u32) -> Option<BookDepth> {
        let (bids, asks) = self.books.get(token)?;
        let d = depth as usize;
        Some(BookDepth {
            token: token.to_owned(),
            ts: self.now,
            tick: self.markets.get(token).map_or(10_000, |m| m.tick),
            bids: bids.iter().take(d).copied().collect(),
            asks: asks.iter().take(d).copied().collect(),
            tradable: true,
        })
    }

    fn positions(&mut self) -> Vec<Position> {
        Vec::new()
    }

    fn open_orders(&mut self) -> Vec<OpenOrder> {
        self.open.values().cloned().collect()
    }

    fn now(&mut self) -> u64 {
        self.now
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        self.logs.push((level, message.to_owned()));
    }

    fn set_timer(&mut self, id: u64, at: u64) {
        self.timers.insert(id, at);
    }

    fn cancel_timer(&mut self, id: u64) {
        self.timers.remove(&id);
    }
}

/// Runs one strategy against a [`TestHost`].
pub struct Harness<S: Strategy> {
    strategy: S,
    host: TestHost,
    subscribed: Vec<String>,
}

impl<S: Strategy> std::fmt::Debug for Harness<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness").field("host", &self.host).finish()
    }
}

fn levels(side: &[(&str, &str)]) -> Vec<Level> {
    side.iter()
        .map(|(p, s)| Level {
            price: Price::parse(p)
                .map(Price::micros)
                .unwrap_or_else(|e| panic!("{e}")),
            size: Size::parse(s)
                .map(Size::micros)
                .unwrap_or_else(|e| panic!("{e}")),
        })
        .collect()
}

impl<S: Strategy> Harness<S> {
    /// A market with tick 0.01, minimum size 5 shares, no fees.
    pub fn market(token: &str) -> MarketInfo {
        MarketInfo {
            token: token.to_owned(),
            condition: "0xtest".to_owned(),
            complement: None,
            tick: 10_000,
            min_size: 5_000_000,
            fee_rate_bps: 0,
        }
    }

    /// A YES/NO pair of complementary markets.
    pub fn pair(yes: &str, no: &str) -> [MarketInfo; 2] {
        let mut y = Self::market(yes);
        let mut n = Self::market(no);
        y.complement = Some(no.to_owned());
        n.complement = Some(yes.to_owned());
        [y, n]
    }

    /// Initialise the strategy with its config and markets.
    pub fn start(config: &str, markets: &[MarketInfo]) -> Result<Self, String> {
        let mut host = TestHost::new(markets);
        let (strategy, subscribed) = S::init(config, markets, &mut host)?;
        Ok(Harness {
            strategy,
            host,
            subscribed,
        })
    }

    /// The tokens the strategy subscribed to.
    pub fn subscribed(&self) -> &[String] {
        &self.subscribed
    }

    /// Replace the built-in gate: return `Some(rejection)` to refuse an intent.
    pub fn set_verdict(&mut self, verdict: impl FnMut(&Intent) -> Option<Rejection> + 'static) {
        self.host.verdict = Some(Box::new(verdict));
    }

    /// Move host time forward by `ms`, firing due timers.
    pub fn advance(&mut self, ms: u64) {
        self.host.now += ms;
        let due: Vec<u64> = self
            .host
            .timers
            .iter()
            .filter(|&(_, &at)| at <= self.host.now)
            .map(|(&id, _)| id)
            .collect();
        for id in due {
            self.host.timers.remove(&id);
            self.send(Event::Timer(id));
        }
    }

    /// Send any event.
    pub fn send(&mut self, event: Event) {
        dispatch(&mut self.strategy, &mut self.host, &event);
    }

    fn top(&self, token: &str) -> TopOfBook {
        let (bids, asks) = self.host.books.get(token).cloned().unwrap_or_default();
        TopOfBook {
            bid: bids.first().copied(),
            ask: asks.first().copied(),
        }
    }

    /// A book snapshot: `(price, size)` levels, best first.
    pub fn book(&mut self, token: &str, bids: &[(&str, &str)], asks: &[(&str, &str)]) {
        self.host
            .books
            .insert(token.to_owned(), (levels(bids), levels(asks)));
        self.send_book(token, true, Vec::new());
    }

    /// Tell the strategy its book changed (tradable unless crossed or locked).
    fn send_book(&mut self, token: &str, snapshot: bool, changes: Vec<LevelChange>) {
        let top = self.top(token);
        let tradable = match (top.bid, top.ask) {
            (Some(b), Some(a)) => b.price < a.price,
            _ => true,
        };
        self.send(Event::Book(BookUpdate {
            token: token.to_owned(),
            ts: self.host.now,
            snapshot,
            changes,
            top,
            tradable,
        }));
    }

    /// Change one level (size "0" removes it).
    pub fn change(&mut self, token: &str, side: Side, price: &str, size: &str) {
        let level = levels(&[(price, size)])[0];
        let book = self.host.books.entry(token.to_owned()).or_default();
        let list = match side {
            Side::Buy => &mut book.0,
            Side::Sell => &mut book.1,
        };
        list.retain(|l| l.price != level.price);
        if level.size > 0 {
            // Best first: bids descending, asks ascending.
            let better = |l: &Level| match side {
                Side::Buy => level.price > l.price,
                Side::Sell => level.price < l.price,
            };
            let at = list.iter().position(better).unwrap_or(list.len());
            list.insert(at, level);
        }
        let change = LevelChange {
            side,
            price: level.price,
            size: level.size,
        };
        self.send_book(token, false, vec![change]);
    }

    /// A trade printed on the exchange.
    pub fn trade(&mut self, token: &str, side: Side, price: &str, size: &str) {
        let l = levels(&[(price, size)])[0];
        self.send(Event::Trade(Trade {
            token: token.to_owned(),
            ts: self.host.now,
            price: l.price,
            size: l.size,
            side,
        }));
    }

    /// Fill `size` of open order `id` at `price`, and tell the strategy.
    pub fn fill(&mut self, id: OrderId, price: &str, size: &str) {
        let l = levels(&[(price, size)])[0];
        let Some(order) = self.host.open.get_mut(&id) else {
            panic!("order {id} is not open");
        };
        order.filled = order.filled.saturating_add(l.size).min(order.size);
        let done = order.filled == order.size;
        let update = OrderUpdate {
            id,
            token: order.token.clone(),
            side: order.side,
            price: order.price,
            size: order.size,
            status: if done {
                OrderStatus::Filled
            } else {
                OrderStatus::PartiallyFilled
            },
            filled: order.filled,
            last_fill: Some(Fill {
                price: l.price,
                size: l.size,
                fee: 0,
                ts: self.host.now,
            }),
            reason: None,
            ts: self.host.now,
        };
        if done {
            self.host.open.remove(&id);
        }
        self.send(Event::Order(update));
    }

    /// Every intent submitted so far, accepted or not.
    pub fn intents(&self) -> &[Intent] {
        &self.host.intents
    }

    /// The verdict returned for each intent, in order.
    pub fn verdicts(&self) -> &[Result<OrderId, Rejection>] {
        &self.host.verdicts
    }

    /// Forget the intents, verdicts and cancels recorded so far.
    pub fn clear(&mut self) {
        self.host.intents.clear();
        self.host.verdicts.clear();
        self.host.cancels.clear();
    }

    /// Orders cancelled so far (one by one or through cancel-all).
    pub fn cancels(&self) -> &[OrderId] {
        &self.host.cancels
    }

    /// The strategy's open orders.
    pub fn open_orders(&mut self) -> Vec<OpenOrder> {
        self.host.open_orders()
    }

    /// Messages the strategy logged.
    pub fn logs(&self) -> &[(LogLevel, String)] {
        &self.host.logs
    }

    /// The strategy itself, to inspect its state.
    pub fn strategy(&self) -> &S {
        &self.strategy
    }

    /// Snapshot the strategy, start a fresh instance from the same config and markets,
    /// and restore the snapshot into it: what a hot swap or a restart does.
    pub fn swap(&mut self, config: &str) -> Result<(), String> {
        let data = self.strategy.snapshot();
        let markets: Vec<MarketInfo> = self.host.markets.values().cloned().collect();
        let (mut fresh, _) = S::init(config, &markets, &mut self.host)?;
        fresh.restore("test", &data)?;
        self.strategy = fresh;
        Ok(())
    }
}
