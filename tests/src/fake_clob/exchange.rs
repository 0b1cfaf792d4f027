//! The exchange's books and matching engine: background liquidity plus the orders of API
//! keys, price-time priority (background first at a level: it was there before), fills at
//! the maker's price, balances checked before an order is accepted.
//!
//! Amounts are integers in micro-units (6 decimals) for both shares and pUSD, as on chain.

use std::collections::{BTreeMap, VecDeque};

use alloy::primitives::Address;

/// One micro-unit less than a whole share or dollar.
pub const ONE: u64 = 1_000_000;

/// Price and aggregate size of each level, micro-units.
pub type Ladder = Vec<(u64, u64)>;

/// BUY or SELL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Bids.
    Buy,
    /// Asks.
    Sell,
}

impl Side {
    /// As on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        }
    }
}

/// GTC, GTD, FOK or FAK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderType {
    /// Rests until cancelled.
    Gtc,
    /// Rests until its expiration.
    Gtd,
    /// Fills completely at once or not at all.
    Fok,
    /// Fills what it can at once; the rest is cancelled.
    Fak,
}

impl OrderType {
    /// From the wire.
    pub fn parse(s: &str) -> Option<OrderType> {
        Some(match s.to_ascii_uppercase().as_str() {
            "GTC" => OrderType::Gtc,
            "GTD" => OrderType::Gtd,
            "FOK" => OrderType::Fok,
            "FAK" => OrderType::Fak,
            _ => return None,
        })
    }

    /// As on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderType::Gtc => "GTC",
            OrderType::Gtd => "GTD",
            OrderType::Fok => "FOK",
            OrderType::Fak => "FAK",
        }
    }
}

/// A market: one condition, two outcome tokens.
#[derive(Debug, Clone)]
pub struct Market {
    /// Condition id, 0x hex.
    pub condition: String,
    /// Token ids (decimal): YES then NO.
    pub tokens: [String; 2],
    /// Tick size, micro-units.
    pub tick: u64,
    /// Minimum order size, micro-shares.
    pub min_size: u64,
    /// Neg-risk (orders are signed for the neg-risk exchange).
    pub neg_risk: bool,
}

/// An order the exchange accepted.
#[derive(Debug, Clone)]
pub struct Order {
    /// The EIP-712 digest, 0x hex.
    pub id: String,
    /// API key.
    pub owner: String,
    /// Funder.
    pub maker: Address,
    /// Token.
    pub token: String,
    /// Condition.
    pub market: String,
    /// "Yes" or "No".
    pub outcome: &'static str,
    /// Side.
    pub side: Side,
    /// Limit price, micro-units.
    pub price: u64,
    /// Size, micro-shares.
    pub original: u64,
    /// Filled so far.
    pub matched: u64,
    /// LIVE, MATCHED or CANCELED.
    pub status: &'static str,
    /// Type.
    pub order_type: OrderType,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds as sent ("0" = none).
    pub expiration: String,
    /// Trades it took part in.
    pub trades: Vec<String>,
}

impl Order {
    /// Unfilled size.
    pub fn remaining(&self) -> u64 {
        self.original - self.matched
    }
}

/// One maker's part of a trade.
#[derive(Debug, Clone)]
pub struct MakerFill {
    /// The maker order (empty for background liquidity).
    pub order_id: String,
    /// Its owner.
    pub owner: String,
    /// Its funder.
    pub maker: Address,
    /// Micro-shares.
    pub size: u64,
    /// Price, micro-units.
    pub price: u64,
}

/// A match, seen from one side.
#[derive(Debug, Clone)]
pub struct Trade {
    /// UUID.
    pub id: String,
    /// The taker order.
    pub taker_order_id: String,
    /// Condition.
    pub market: String,
    /// Token.
    pub token: String,
    /// "Yes"/"No".
    pub outcome: &'static str,
    /// The side of this trade's owner.
    pub side: Side,
    /// Micro-shares.
    pub size: u64,
    /// Price, micro-units.
    pub price: u64,
    /// MATCHED, MINED, CONFIRMED, RETRYING, FAILED.
    pub status: &'static str,
    /// Unix seconds.
    pub match_time: u64,
    /// Owner (API key) of this view.
    pub owner: String,
    /// Funder of this view.
    pub maker_address: Address,
    /// TAKER or MAKER.
    pub trader_side: &'static str,
    /// The makers matched (the taker's view lists them all; a maker's view lists itself).
    pub maker_orders: Vec<MakerFill>,
    /// On-chain hash, 0x hex.
    pub transaction_hash: String,
    /// The statuses it goes through, one per settlement step.
    pub path: &'static [&'static str],
    /// When it matched, unix ms.
    pub born_ms: u64,
}

/// How a trade settles on chain.
pub const SETTLES: &[&str] = &["MATCHED", "MINED", "CONFIRMED"];
/// How a failing trade ends: resubmitted, then void (its transfers are reversed).
pub const FAILS: &[&str] = &["MATCHED", "RETRYING", "FAILED"];

#[derive(Debug, Default, Clone)]
struct Level {
    background: u64,
    orders: VecDeque<String>,
}

#[derive(Debug, Default, Clone)]
struct Book {
    bids: BTreeMap<u64, Level>,
    asks: BTreeMap<u64, Level>,
}

/// Why an order was refused, in the exchange's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

/// A new order, already verified and decoded.
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// Its id (EIP-712 digest).
    pub id: String,
    /// API key.
    pub owner: String,
    /// Funder.
    pub maker: Address,
    /// Token.
    pub token: String,
    /// Side.
    pub side: Side,
    /// Price, micro-units.
    pub price: u64,
    /// Size, micro-shares.
    pub size: u64,
    /// Type.
    pub order_type: OrderType,
    /// Post-only.
    pub post_only: bool,
    /// Expiration as sent.
    pub expiration: String,
}

/// What placing an order did.
#[derive(Debug, Clone)]
pub struct Placed {
    /// `live` (resting, nothing matched) or `matched`.
    pub status: &'static str,
    /// Shares matched, micro.
    pub matched: u64,
    /// pUSD exchanged, micro.
    pub notional: u64,
    /// The taker's trade ids.
    pub trade_ids: Vec<String>,
}

/// Everything the exchange knows.
#[derive(Debug, Default)]
pub struct Exchange {
    /// Markets in listing order.
    pub markets: Vec<Market>,
    books: BTreeMap<String, Book>,
    /// Orders by id (all states).
    pub orders: BTreeMap<String, Order>,
    /// Trades in match order (each side's view).
    pub trades: Vec<Trade>,
    /// pUSD balance per funder, micro.
    pub collateral: BTreeMap<Address, u64>,
    /// Outcome-token balance per (funder, token), micro.
    pub positions: BTreeMap<(Address, String), u64>,
    /// Starting pUSD of a funder seen for the first time, micro.
    pub default_collateral: u64,
    next_trade: u64,
    /// Current time, unix seconds (set by the server before each call).
    pub now_s: u64,
    /// Current time, unix ms (set with `now_s`).
    pub now_ms: u64,
    /// The next this many matches fail on chain.
    pub fail_next_matches: u32,
    /// Time between settlement statuses, ms.
    pub settle_step_ms: u64,
}

fn outcome(m: &Market, token: &str) -> &'static str {
    if m.tokens[0] == token { "Yes" } else { "No" }
}

impl Exchange {
    /// An exchange with no markets; funders it has not seen start with `collateral`.
    pub fn new(collateral: u64, now_s: u64) -> Exchange {
        Exchange {
            default_collateral: collateral,
            now_s,
            now_ms: now_s * 1_000,
            settle_step_ms: 500,
            ..Exchange::default()
        }
    }

    /// A market with a background book around `mid` (micro-units): ten levels a side.
    pub fn add_market(&mut self, market: Market, mid: u64, depth: u64) {
        for (i, token) in market.tokens.iter().enumerate() {
            let mid = if i == 0 { mid } else { ONE - mid };
            let mut book = Book::default();
            for k in 1..=10 {
                let bid = mid.saturating_sub(k * market.tick);
                let ask = mid + k * market.tick;
                if bid >= market.tick {
                    book.bids.entry(bid).or_default().background = depth;
                }
                if ask <= ONE - market.tick {
                    book.asks.entry(ask).or_default().background = depth;
                }
            }
            self.books.insert(token.clone(), book);
        }
        self.markets.push(market);
    }

    /// The market of a token.
    pub fn market_of(&self, token: &str) -> Option<&Market> {
        self.markets
            .iter()
            .find(|m| m.tokens.iter().any(|t| t == token))
    }

    /// A funder's pUSD, micro.
    pub fn balance(&mut self, who: Address) -> u64 {
        let d = self.default_collateral;
        *self.collateral.entry(who).or_insert(d)
    }

    /// pUSD held by a funder's resting BUYs.
    fn reserved_collateral(&self, who: Address) -> u64 {
        self.orders
            .values()
            .filter(|o| o.maker == who && o.status == "LIVE" && o.side == Side::Buy)
            .map(|o| o.remaining() * o.price / ONE)
            .sum()
    }

    /// Shares of a token held by a funder's resting SELLs.
    fn reserved_shares(&self, who: Address, token: &str) -> u64 {
        self.orders
            .values()
            .filter(|o| {
                o.maker == who && o.status == "LIVE" && o.side == Side::Sell && o.token == token
            })
            .map(Order::remaining)
            .sum()
    }

    /// The book of a token, best last on each side (as the exchange sends it): aggregate
    /// sizes, micro.
    pub fn levels(&self, token: &str) -> Option<(Ladder, Ladder)> {
        let book = self.books.get(token)?;
        let agg = |l: &Level| {
            l.background
                + l.orders
                    .iter()
                    .filter_map(|id| self.orders.get(id))
                    .map(Order::remaining)
                    .sum::<u64>()
        };
        let bids = book
            .bids
            .iter()
            .map(|(p, l)| (*p, agg(l)))
            .filter(|(_, s)| *s > 0)
            .collect();
        let asks = book
            .asks
            .iter()
            .rev()
            .map(|(p, l)| (*p, agg(l)))
            .filter(|(_, s)| *s > 0)
            .collect();
        Some((bids, asks))
    }

    /// Validate, match and (for GTC/GTD) rest an order.
    pub fn place(&mut self, o: NewOrder) -> Result<Placed, Refusal> {
        let refuse = |m: String| Err(Refusal(m));
        let Some(market) = self.market_of(&o.token).cloned() else {
            return refuse("the market is not yet ready to process new orders".to_owned());
        };
        if self.orders.contains_key(&o.id) {
            return refuse(format!("order {} is invalid. Duplicated.", o.id));
        }
        if !o.price.is_multiple_of(market.tick)
            || o.price < market.tick
            || o.price > ONE - market.tick
        {
            return refuse(format!(
                "order {} is invalid. Price ({}) breaks minimum tick size rule: {}",
                o.id,
                dec(o.price),
                dec(market.tick)
            ));
        }
        if o.size < market.min_size && matches!(o.order_type, OrderType::Gtc | OrderType::Gtd) {
            return refuse(format!(
                "order {} is invalid. Size ({}) lower than the minimum: {}",
                o.id,
                dec(o.size),
                dec(market.min_size)
            ));
        }
        if o.post_only && !matches!(o.order_type, OrderType::Gtc | OrderType::Gtd) {
            return refuse(
                "invalid post-only order: only GTC and GTD order types are allowed".to_owned(),
            );
        }
        if o.order_type == OrderType::Gtd {
            let exp: u64 = o.expiration.parse().unwrap_or(0);
            if exp < self.now_s + 60 {
                return refuse("invalid expiration".to_owned());
            }
        }
        match o.side {
            Side::Buy => {
                let need = o.size * o.price / ONE;
                let available = self
                    .balance(o.maker)
                    .saturating_sub(self.reserved_collateral(o.maker));
                if need > available {
                    return refuse(format!(
                        "not enough balance / allowance: the balance is not enough -> balance: {available}, order amount: {need}"
                    ));
                }
            }
            Side::Sell => {
                let held = self
                    .positions
                    .get(&(o.maker, o.token.clone()))
                    .copied()
                    .unwrap_or(0);
                let available = held.saturating_sub(self.reserved_shares(o.maker, &o.token));
                if o.size > available {
                    return refuse(format!(
                        "not enough balance / allowance: the balance is not enough -> balance: {available}, order amount: {}",
                        o.size
                    ));
                }
            }
        }
        let crossing = self.fillable(&o.token, o.side, o.price, &o.owner);
        if o.post_only && crossing > 0 {
            return refuse("invalid post-only order: order crosses book".to_owned());
        }
        match o.order_type {
            OrderType::Fok if crossing < o.size => {
                return refuse(
                    "order couldn't be fully filled. FOK orders are fully filled or killed."
                        .to_owned(),
                );
            }
            OrderType::Fak if crossing == 0 => {
                return refuse("no orders found to match with FAK order. FAK orders are partially filled or killed if no match is found.".to_owned());
            }
            _ => {}
        }
        let order = Order {
            id: o.id.clone(),
            owner: o.owner.clone(),
            maker: o.maker,
            token: o.token.clone(),
            market: market.condition.clone(),
            outcome: outcome(&market, &o.token),
            side: o.side,
            price: o.price,
            original: o.size,
            matched: 0,
            status: "LIVE",
            order_type: o.order_type,
            created_at: self.now_s,
            expiration: o.expiration.clone(),
            trades: Vec::new(),
        };
        self.orders.insert(o.id.clone(), order);
        let (matched, notional, trade_ids) = self.match_taker(&o.id);
        let rests = matches!(o.order_type, OrderType::Gtc | OrderType::Gtd);
        let Some(order) = self.orders.get_mut(&o.id) else {
            return refuse("could not insert order".to_owned());
        };
        if order.remaining() == 0 {
            order.status = "MATCHED";
        } else if !rests {
            order.status = "CANCELED";
        } else {
            let book = self.books.entry(o.token.clone()).or_default();
            let side = match o.side {
                Side::Buy => &mut book.bids,
                Side::Sell => &mut book.asks,
            };
            side.entry(o.price)
                .or_default()
                .orders
                .push_back(o.id.clone());
        }
        Ok(Placed {
            status: if matched > 0 { "matched" } else { "live" },
            matched,
            notional,
            trade_ids,
        })
    }

    /// Shares an order at `price` could take now (not counting `owner`'s own orders).
    fn fillable(&self, token: &str, side: Side, price: u64, owner: &str) -> u64 {
        let Some(book) = self.books.get(token) else {
            return 0;
        };
        let levels: Box<dyn Iterator<Item = (&u64, &Level)>> = match side {
            Side::Buy => Box::new(book.asks.range(..=price)),
            Side::Sell => Box::new(book.bids.range(price..).rev()),
        };
        levels
            .map(|(_, l)| {
                l.background
                    + l.orders
                        .iter()
                        .filter_map(|id| self.orders.get(id))
                        .filter(|o| o.owner != owner)
                        .map(Order::remaining)
                        .sum::<u64>()
            })
            .sum()
    }

    fn trade_id(&mut self) -> String {
        self.next_trade += 1;
        format!("00000000-0000-4000-8000-{:012x}", self.next_trade)
    }

    /// Match a new order against the book; returns (shares, pUSD, the taker's trade ids).
    fn match_taker(&mut self, id: &str) -> (u64, u64, Vec<String>) {
        let Some(taker) = self.orders.get(id).cloned() else {
            return (0, 0, Vec::new());
        };
        let mut fills: Vec<MakerFill> = Vec::new();
        let mut left = taker.original;
        let prices: Vec<u64> = match self.books.get(&taker.token) {
            None => Vec::new(),
            Some(b) => match taker.side {
                Side::Buy => b.asks.range(..=taker.price).map(|(p, _)| *p).collect(),
                Side::Sell => b.bids.range(taker.price..).rev().map(|(p, _)| *p).collect(),
            },
        };
        for price in prices {
            if left == 0 {
                break;
            }
            let Some(level) = self
                .books
                .get_mut(&taker.token)
                .and_then(|b| match taker.side {
                    Side::Buy => b.asks.get_mut(&price),
                    Side::Sell => b.bids.get_mut(&price),
                })
            else {
                continue;
            };
            let take = left.min(level.background);
            if take > 0 {
                level.background -= take;
                left -= take;
                fills.push(MakerFill {
                    order_id: String::new(),
                    owner: "00000000-0000-4000-8000-000000000000".to_owned(),
                    maker: Address::ZERO,
                    size: take,
                    price,
                });
            }
            let queue: Vec<String> = level.orders.iter().cloned().collect();
            for maker_id in queue {
                if left == 0 {
                    break;
                }
                let Some(m) = self.orders.get_mut(&maker_id) else {
                    continue;
                };
                if m.owner == taker.owner || m.status != "LIVE" {
                    continue;
                }
                let take = left.min(m.remaining());
                m.matched += take;
                left -= take;
                fills.push(MakerFill {
                    order_id: maker_id.clone(),
                    owner: m.owner.clone(),
                    maker: m.maker,
                    size: take,
                    price,
                });
            }
            self.prune(&taker.token, taker.side, price);
        }
        let matched: u64 = fills.iter().map(|f| f.size).sum();
        let notional: u64 = fills.iter().map(|f| f.size * f.price / ONE).sum();
        if matched == 0 {
            return (0, 0, Vec::new());
        }
        // The taker's view: one trade at the worst price reached, as the exchange reports it.
        let price = fills
            .iter()
            .map(|f| f.price)
            .fold(0, |a, p| match taker.side {
                Side::Buy => a.max(p),
                Side::Sell => {
                    if a == 0 {
                        p
                    } else {
                        a.min(p)
                    }
                }
            });
        let tid = self.trade_id();
        let hash = format!("0x{:064x}", self.next_trade);
        let path = if self.fail_next_matches > 0 {
            self.fail_next_matches -= 1;
            FAILS
        } else {
            SETTLES
        };
        let born_ms = self.now_ms;
        self.settle(taker.maker, &taker.token, taker.side, matched, notional);
        if let Some(t) = self.orders.get_mut(id) {
            t.matched += matched;
            t.trades.push(tid.clone());
        }
        self.trades.push(Trade {
            id: tid.clone(),
            taker_order_id: id.to_owned(),
            market: taker.market.clone(),
            token: taker.token.clone(),
            outcome: taker.outcome,
            side: taker.side,
            size: matched,
            price,
            status: "MATCHED",
            match_time: self.now_s,
            owner: taker.owner.clone(),
            maker_address: taker.maker,
            trader_side: "TAKER",
            maker_orders: fills.clone(),
            transaction_hash: hash.clone(),
            path,
            born_ms,
        });
        // Each user maker's view.
        let maker_side = match taker.side {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        };
        for f in fills.iter().filter(|f| !f.order_id.is_empty()) {
            self.settle(
                f.maker,
                &taker.token,
                maker_side,
                f.size,
                f.size * f.price / ONE,
            );
            if let Some(m) = self.orders.get_mut(&f.order_id) {
                m.trades.push(tid.clone());
                if m.remaining() == 0 {
                    m.status = "MATCHED";
                }
            }
            self.trades.push(Trade {
                id: tid.clone(),
                taker_order_id: id.to_owned(),
                market: taker.market.clone(),
                token: taker.token.clone(),
                outcome: taker.outcome,
                side: maker_side,
                size: f.size,
                price: f.price,
                status: "MATCHED",
                match_time: self.now_s,
                owner: f.owner.clone(),
                maker_address: f.maker,
                trader_side: "MAKER",
                maker_orders: vec![f.clone()],
                transaction_hash: hash.clone(),
                path,
                born_ms,
            });
        }
        (matched, notional, vec![tid])
    }

    /// Move every trade along its settlement path to `now_ms`; a trade that reaches
    /// `FAILED` is reversed (pUSD and shares go back, its order's matched size is given
    /// back, and an order that was completely matched is cancelled: it does not rest again).
    pub fn advance_settlement(&mut self) {
        let step = self.settle_step_ms.max(1);
        let mut failed = Vec::new();
        for (i, t) in self.trades.iter_mut().enumerate() {
            if t.path.last() == Some(&t.status) {
                continue;
            }
            let k = usize::try_from(self.now_ms.saturating_sub(t.born_ms) / step)
                .unwrap_or(usize::MAX)
                .min(t.path.len() - 1);
            if t.path[k] != t.status {
                t.status = t.path[k];
                if t.status == "FAILED" {
                    failed.push(i);
                }
            }
        }
        for i in failed {
            let t = self.trades[i].clone();
            let back = match t.side {
                Side::Buy => Side::Sell,
                Side::Sell => Side::Buy,
            };
            let notional = t.maker_orders.iter().map(|m| m.size * m.price / ONE).sum();
            self.settle(t.maker_address, &t.token, back, t.size, notional);
            let order = if t.trader_side == "TAKER" {
                t.taker_order_id.clone()
            } else {
                t.maker_orders[0].order_id.clone()
            };
            if let Some(o) = self.orders.get_mut(&order) {
                o.matched = o.matched.saturating_sub(t.size);
                if o.status == "MATCHED" {
                    o.status = "CANCELED";
                }
            }
        }
    }

    /// Move pUSD and shares for one side of a fill.
    fn settle(&mut self, who: Address, token: &str, side: Side, shares: u64, notional: u64) {
        let cash = self.balance(who);
        let pos = self.positions.entry((who, token.to_owned())).or_insert(0);
        match side {
            Side::Buy => {
                *pos += shares;
                self.collateral.insert(who, cash.saturating_sub(notional));
            }
            Side::Sell => {
                *pos = pos.saturating_sub(shares);
                self.collateral.insert(who, cash + notional);
            }
        }
    }

    /// Drop filled and cancelled orders and empty levels at a price.
    fn prune(&mut self, token: &str, taker_side: Side, price: u64) {
        let orders = &self.orders;
        if let Some(b) = self.books.get_mut(token) {
            let side = match taker_side {
                Side::Buy => &mut b.asks,
                Side::Sell => &mut b.bids,
            };
            if let Some(l) = side.get_mut(&price) {
                l.orders.retain(|id| {
                    orders
                        .get(id)
                        .is_some_and(|o| o.status == "LIVE" && o.remaining() > 0)
                });
                if l.background == 0 && l.orders.is_empty() {
                    side.remove(&price);
                }
            }
        }
    }

    /// Cancel one order of `owner`; `Err` says why not.
    pub fn cancel(&mut self, owner: &str, id: &str) -> Result<(), String> {
        let Some(o) = self.orders.get_mut(id) else {
            return Err("order not found".to_owned());
        };
        if o.owner != owner {
            return Err("order not found".to_owned());
        }
        if o.status != "LIVE" {
            return Err("already canceled or matched".to_owned());
        }
        o.status = "CANCELED";
        let (token, side, price) = (o.token.clone(), o.side, o.price);
        let taker_side = match side {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        };
        self.prune(&token, taker_side, price);
        Ok(())
    }

    /// Live orders of `owner`, optionally of one market or token.
    pub fn live_orders(
        &self,
        owner: &str,
        market: Option<&str>,
        token: Option<&str>,
    ) -> Vec<String> {
        self.orders
            .values()
            .filter(|o| o.owner == owner && o.status == "LIVE")
            .filter(|o| market.is_none_or(|m| o.market == m))
            .filter(|o| token.is_none_or(|t| o.token == t))
            .map(|o| o.id.clone())
            .collect()
    }

    /// A synthetic taker from the rest of the market: `size` shares on `side` against the
    /// book of `token`, down to `limit`. Resting orders of every key can fill.
    pub fn market_take(&mut self, token: &str, side: Side, limit: u64, size: u64) -> u64 {
        let id = format!("0x{:064x}", u64::MAX - self.next_trade);
        let Some(market) = self.market_of(token).cloned() else {
            return 0;
        };
        self.orders.insert(
            id.clone(),
            Order {
                id: id.clone(),
                owner: "00000000-0000-4000-8000-000000000000".to_owned(),
                maker: Address::ZERO,
                token: token.to_owned(),
                market: market.condition.clone(),
                outcome: outcome(&market, token),
                side,
                price: limit,
                original: size,
                matched: 0,
                status: "LIVE",
                order_type: OrderType::Fak,
                created_at: self.now_s,
                expiration: "0".to_owned(),
                trades: Vec::new(),
            },
        );
        let (matched, _, _) = self.match_taker(&id);
        // The market's own view is not kept.
        self.orders.remove(&id);
        self.trades
            .retain(|t| t.trader_side != "TAKER" || t.taker_order_id != id);
        matched
    }
}

/// Micro-units as a decimal string ("0.55", "5").
pub fn dec(micros: u64) -> String {
    rust_decimal::Decimal::new(micros as i64, 6)
        .normalize()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange() -> Exchange {
        let mut x = Exchange::new(1_000 * ONE, 1_800_000_000);
        x.add_market(
            Market {
                condition: "0xc".to_owned(),
                tokens: ["1".to_owned(), "2".to_owned()],
                tick: 10_000,
                min_size: 5 * ONE,
                neg_risk: false,
            },
            500_000,
            100 * ONE,
        );
        x
    }

    fn order(id: &str, owner: &str, side: Side, price: u64, size: u64, t: OrderType) -> NewOrder {
        NewOrder {
            id: id.to_owned(),
            owner: owner.to_owned(),
            maker: Address::repeat_byte(owner.as_bytes()[1]),
            token: "1".to_owned(),
            side,
            price,
            size,
            order_type: t,
            post_only: false,
            expiration: "0".to_owned(),
        }
    }

    #[test]
    fn a_marketable_buy_walks_the_asks_and_the_rest_rests() {
        let mut x = exchange();
        // Asks at 0.51.. with 100 each: 150 at up to 0.52 fills 100 @0.51 and 50 @0.52.
        let p = x
            .place(order(
                "a",
                "k1",
                Side::Buy,
                520_000,
                150 * ONE,
                OrderType::Gtc,
            ))
            .unwrap();
        assert_eq!((p.status, p.matched), ("matched", 150 * ONE));
        assert_eq!(p.notional, 51 * ONE + 26 * ONE);
        assert_eq!(x.orders["a"].status, "MATCHED");
        let p = x
            .place(order(
                "b",
                "k1",
                Side::Buy,
                450_000,
                10 * ONE,
                OrderType::Gtc,
            ))
            .unwrap();
        assert_eq!(p.status, "live");
        let (bids, _) = x.levels("1").unwrap();
        assert_eq!(
            bids.iter().find(|(p, _)| *p == 450_000).unwrap().1,
            110 * ONE
        );
        // Another key's SELL through 0.45 fills the background first, then our bid.
        x.positions
            .insert((Address::repeat_byte(b'2'), "1".to_owned()), 500 * ONE);
        let p = x.place(order(
            "c",
            "k2",
            Side::Sell,
            450_000,
            105 * ONE,
            OrderType::Fak,
        ));
        assert!(p.is_ok());
        assert_eq!(x.orders["b"].matched, 0, "0.49..0.46 came first");
    }

    #[test]
    fn refusals_use_the_exchange_s_words() {
        let mut x = exchange();
        // (side, price, size, type, the refusal's words); k1 holds no shares.
        let cases = [
            (
                Side::Buy,
                505_000,
                10 * ONE,
                OrderType::Gtc,
                "breaks minimum tick size rule: 0.01",
            ),
            (
                Side::Buy,
                400_000,
                ONE,
                OrderType::Gtc,
                "lower than the minimum: 5",
            ),
            (
                Side::Buy,
                990_000,
                2_000 * ONE,
                OrderType::Fok,
                "not enough balance / allowance",
            ),
            (
                Side::Buy,
                520_000,
                500 * ONE,
                OrderType::Fok,
                "FOK orders are fully filled or killed",
            ),
            (
                Side::Buy,
                300_000,
                10 * ONE,
                OrderType::Fak,
                "FAK orders are partially filled",
            ),
            (
                Side::Sell,
                600_000,
                10 * ONE,
                OrderType::Gtc,
                "not enough balance",
            ),
        ];
        for (side, price, size, t, words) in cases {
            let e = x.place(order("a", "k1", side, price, size, t)).unwrap_err();
            assert!(e.0.contains(words), "{words}: {e:?}");
        }
        let bid = || order("a", "k1", Side::Buy, 300_000, 10 * ONE, OrderType::Gtc);
        x.place(bid()).unwrap();
        let e = x.place(bid()).unwrap_err();
        assert!(e.0.ends_with("Duplicated."), "{e:?}");
    }

    #[test]
    fn resting_orders_fill_against_the_market_and_cancel_once() {
        let mut x = exchange();
        x.place(order(
            "b",
            "k1",
            Side::Buy,
            490_000,
            10 * ONE,
            OrderType::Gtc,
        ))
        .unwrap();
        // Background at 0.49 first (100), then ours.
        assert_eq!(
            x.market_take("1", Side::Sell, 490_000, 104 * ONE),
            104 * ONE
        );
        assert_eq!(x.orders["b"].matched, 4 * ONE);
        let maker_view = x.trades.iter().find(|t| t.owner == "k1").unwrap();
        assert_eq!(
            (maker_view.trader_side, maker_view.size, maker_view.price),
            ("MAKER", 4 * ONE, 490_000)
        );
        assert_eq!(
            x.positions[&(Address::repeat_byte(b'1'), "1".to_owned())],
            4 * ONE
        );
        assert_eq!(x.cancel("k2", "b"), Err("order not found".to_owned()));
        assert_eq!(x.cancel("k1", "b"), Ok(()));
        assert_eq!(
            x.cancel("k1", "b"),
            Err("already canceled or matched".to_owned())
        );
        assert!(x.live_orders("k1", None, None).is_empty());
    }
}
