//! Local order books, exact and cheap to update.
//!
//! A book is built from a snapshot and kept current with per-level deltas ("size is the new
//! aggregate at that price, 0 removes it"), as the Polymarket market channel sends them.
//! Duplicates are harmless (a delta sets, it does not add), deltas older than the snapshot
//! are ignored, and out-of-order deltas resolve per level: the newest timestamp wins, so a
//! late message never overwrites a level that a later one already set. A crossed or locked
//! book is kept as the exchange sent it (the real exchange's bursts cross for a moment) but
//! is reported as not tradable.
//!
//! Each side is a sorted vector (a Polymarket book has at most a few hundred levels, and
//! most updates touch the top): a delta is a binary search and, for a new or removed level,
//! a short move. Vectors keep their capacity, so updating a book allocates nothing once it
//! has held its largest depth.

use crate::ids::TokenId;
use crate::money::{Price, Size};
use crate::order::Side;

/// One price level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    /// Price.
    pub price: Price,
    /// Aggregate size at that price.
    pub size: Size,
}

/// Why a book may not be traded on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookHealth {
    /// Synchronised and not crossed.
    Tradable,
    /// No snapshot yet (or dropped after a tick-size change).
    Unsynced,
    /// Best bid at or above best ask.
    Crossed,
    /// The feed is down: the book may be out of date until the next snapshot.
    Stale,
}

/// Levels of one side, ascending by price.
type Ladder = Vec<(Price, Size)>;

/// When each level was last set (removed levels included), ascending by price.
type Stamps = Vec<(Price, u64)>;

/// The order book of one outcome token.
#[derive(Debug, Clone)]
pub struct OrderBook {
    token: TokenId,
    bids: Ladder,
    asks: Ladder,
    bid_ts: Stamps,
    ask_ts: Stamps,
    tick: Price,
    min_size: Size,
    ts: u64,
    snapshot_ts: u64,
    synced: bool,
    stale: bool,
}

impl OrderBook {
    /// An empty, unsynchronised book with the market's tick and minimum size.
    pub fn new(token: TokenId, tick: Price, min_size: Size) -> Self {
        OrderBook {
            token,
            bids: Vec::new(),
            asks: Vec::new(),
            bid_ts: Vec::new(),
            ask_ts: Vec::new(),
            tick,
            min_size,
            ts: 0,
            snapshot_ts: 0,
            synced: false,
            stale: false,
        }
    }

    /// The token.
    pub fn token(&self) -> &TokenId {
        &self.token
    }

    /// Tick size.
    pub fn tick(&self) -> Price {
        self.tick
    }

    /// Minimum order size.
    pub fn min_size(&self) -> Size {
        self.min_size
    }

    /// Time of the last applied message, ms.
    pub fn ts(&self) -> u64 {
        self.ts
    }

    /// Replace the whole book.
    pub fn apply_snapshot(
        &mut self,
        ts: u64,
        bids: impl IntoIterator<Item = Level>,
        asks: impl IntoIterator<Item = Level>,
    ) {
        self.bids.clear();
        self.asks.clear();
        self.bid_ts.clear();
        self.ask_ts.clear();
        fill(&mut self.bids, bids);
        fill(&mut self.asks, asks);
        self.ts = ts;
        self.snapshot_ts = ts;
        self.synced = true;
        self.stale = false;
    }

    /// The feed went down: hold orders on this book until a fresh snapshot.
    /// Returns true when it was live.
    pub fn mark_stale(&mut self) -> bool {
        !std::mem::replace(&mut self.stale, true)
    }

    /// Set the aggregate size of one level (0 removes it). Returns false when the delta
    /// was ignored: older than the snapshot or than the level's last change, or no
    /// snapshot yet.
    pub fn apply_change(&mut self, ts: u64, side: Side, price: Price, size: Size) -> bool {
        if !self.synced || ts < self.snapshot_ts {
            return false;
        }
        let (levels, stamps) = match side {
            Side::Buy => (&mut self.bids, &mut self.bid_ts),
            Side::Sell => (&mut self.asks, &mut self.ask_ts),
        };
        match stamps.binary_search_by_key(&price, |(p, _)| *p) {
            Ok(i) if stamps[i].1 > ts => return false,
            Ok(i) => stamps[i].1 = ts,
            Err(i) => stamps.insert(i, (price, ts)),
        }
        match (
            levels.binary_search_by_key(&price, |(p, _)| *p),
            size.is_zero(),
        ) {
            (Ok(i), true) => {
                levels.remove(i);
            }
            (Ok(i), false) => levels[i].1 = size,
            (Err(_), true) => {}
            (Err(i), false) => levels.insert(i, (price, size)),
        }
        self.ts = self.ts.max(ts);
        true
    }

    /// A new tick size. The exchange re-quotes after a tick change, so the book is
    /// dropped until the next snapshot.
    pub fn set_tick(&mut self, tick: Price) {
        self.tick = tick;
        self.bids.clear();
        self.asks.clear();
        self.bid_ts.clear();
        self.ask_ts.clear();
        self.synced = false;
    }

    /// Set the minimum order size (from a snapshot that carries it).
    pub fn set_min_size(&mut self, min_size: Size) {
        self.min_size = min_size;
    }

    /// Best bid.
    pub fn best_bid(&self) -> Option<Level> {
        self.bids.last().map(|&(price, size)| Level { price, size })
    }

    /// Best ask.
    pub fn best_ask(&self) -> Option<Level> {
        self.asks
            .first()
            .map(|&(price, size)| Level { price, size })
    }

    /// Mid price, when both sides exist (rounded down to a micro-USDC).
    pub fn mid(&self) -> Option<Price> {
        let (b, a) = (self.best_bid()?, self.best_ask()?);
        let sum = u64::from(b.price.micros()) + u64::from(a.price.micros());
        u32::try_from(sum / 2).ok().map(Price::from_micros)
    }

    /// Whether orders may be placed on this book now.
    pub fn health(&self) -> BookHealth {
        if !self.synced {
            return BookHealth::Unsynced;
        }
        if self.stale {
            return BookHealth::Stale;
        }
        match (self.best_bid(), self.best_ask()) {
            (Some(b), Some(a)) if b.price >= a.price => BookHealth::Crossed,
            _ => BookHealth::Tradable,
        }
    }

    /// Bids, best (highest) first.
    pub fn bids(&self) -> Levels<'_> {
        Levels {
            ladder: &self.bids,
            best_last: true,
        }
    }

    /// Asks, best (lowest) first.
    pub fn asks(&self) -> Levels<'_> {
        Levels {
            ladder: &self.asks,
            best_last: false,
        }
    }

    /// The levels a taker on `side` would hit, best first: asks for a BUY, bids for a SELL.
    pub fn opposite(&self, side: Side) -> Levels<'_> {
        match side {
            Side::Buy => self.asks(),
            Side::Sell => self.bids(),
        }
    }

    /// Number of levels on each side.
    pub fn depth(&self) -> (usize, usize) {
        (self.bids.len(), self.asks.len())
    }
}

/// Replace a cleared ladder with `levels` (any order; a price given twice keeps the last).
fn fill(ladder: &mut Ladder, levels: impl IntoIterator<Item = Level>) {
    ladder.extend(
        levels
            .into_iter()
            .filter(|l| !l.size.is_zero())
            .map(|l| (l.price, l.size)),
    );
    // Stable: equal prices stay in message order, and the last one wins.
    ladder.sort_by_key(|(p, _)| *p);
    ladder.dedup_by(|later, earlier| {
        let same = later.0 == earlier.0;
        if same {
            earlier.1 = later.1;
        }
        same
    });
}

/// The levels of one side, best first.
#[derive(Debug, Clone)]
pub struct Levels<'a> {
    ladder: &'a [(Price, Size)],
    best_last: bool,
}

impl Iterator for Levels<'_> {
    type Item = Level;

    fn next(&mut self) -> Option<Level> {
        let (&(price, size), rest) = if self.best_last {
            self.ladder.split_last()?
        } else {
            self.ladder.split_first()?
        };
        self.ladder = rest;
        Some(Level { price, size })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.ladder.len(), Some(self.ladder.len()))
    }
}

impl ExactSizeIterator for Levels<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{lvl, p, q};

    fn book() -> OrderBook {
        let mut b = OrderBook::new(TokenId::new("1"), p("0.01"), q("5"));
        b.apply_snapshot(
            10,
            [lvl("0.49", "350"), lvl("0.50", "200")],
            [lvl("0.52", "250"), lvl("0.51", "150")],
        );
        b
    }

    #[test]
    fn snapshot_orders_levels_best_first() {
        let b = book();
        assert_eq!(b.best_bid(), Some(lvl("0.50", "200")));
        assert_eq!(b.best_ask(), Some(lvl("0.51", "150")));
        assert_eq!(b.mid(), Some(p("0.505")));
        let asks: Vec<_> = b.asks().map(|l| l.price).collect();
        assert_eq!(asks, vec![p("0.51"), p("0.52")]);
        assert_eq!(b.health(), BookHealth::Tradable);
    }

    #[test]
    fn deltas_set_and_remove_and_are_idempotent() {
        let mut b = book();
        assert!(b.apply_change(11, Side::Buy, p("0.50"), q("10")));
        assert!(b.apply_change(11, Side::Buy, p("0.50"), q("10")));
        assert_eq!(b.best_bid(), Some(lvl("0.50", "10")));
        assert!(b.apply_change(12, Side::Sell, p("0.51"), Size::ZERO));
        assert_eq!(b.best_ask(), Some(lvl("0.52", "250")));
    }

    #[test]
    fn older_deltas_are_ignored() {
        let mut b = book();
        assert!(!b.apply_change(9, Side::Buy, p("0.50"), Size::ZERO));
        assert_eq!(b.best_bid(), Some(lvl("0.50", "200")));
    }

    #[test]
    fn out_of_order_deltas_resolve_per_level() {
        let mut b = book();
        // ts 13 arrives before ts 12; both touch 0.49, 12 also touches 0.48
        assert!(b.apply_change(13, Side::Buy, p("0.49"), q("1")));
        assert!(
            !b.apply_change(12, Side::Buy, p("0.49"), q("999")),
            "a late write loses"
        );
        assert!(
            b.apply_change(12, Side::Buy, p("0.48"), q("7")),
            "a late write to another level lands"
        );
        let bids: Vec<_> = b.bids().collect();
        assert_eq!(
            bids,
            vec![lvl("0.50", "200"), lvl("0.49", "1"), lvl("0.48", "7")]
        );
        // a removal is remembered too
        assert!(b.apply_change(20, Side::Sell, p("0.51"), Size::ZERO));
        assert!(!b.apply_change(15, Side::Sell, p("0.51"), q("3")));
        assert_eq!(b.best_ask(), Some(lvl("0.52", "250")));
    }

    #[test]
    fn crossed_book_is_kept_but_not_tradable() {
        let mut b = book();
        b.apply_change(11, Side::Buy, p("0.51"), q("5"));
        assert_eq!(b.health(), BookHealth::Crossed);
        b.apply_change(12, Side::Buy, p("0.51"), Size::ZERO);
        assert_eq!(b.health(), BookHealth::Tradable);
    }

    #[test]
    fn tick_change_unsyncs_until_snapshot() {
        let mut b = book();
        b.set_tick(p("0.001"));
        assert_eq!(b.health(), BookHealth::Unsynced);
        assert!(!b.apply_change(20, Side::Buy, p("0.5"), q("1")));
        b.apply_snapshot(21, [lvl("0.5", "1")], [lvl("0.6", "1")]);
        assert_eq!(b.health(), BookHealth::Tradable);
    }
}
