//! A seeded market simulator that writes recordings in the exchange's own message
//! formats: books that move, trades that cross the spread, a tick-size change, and
//! brief dislocations between a market's YES and NO books (complement arbitrage).
//!
//! The same seed and parameters always write the same file.

use std::collections::BTreeMap;
use std::io::{self, Write};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

/// What to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimParams {
    /// RNG seed.
    pub seed: u64,
    /// Binary markets (two tokens each).
    pub markets: usize,
    /// Lines (frames) to write.
    pub events: usize,
    /// Time of the first frame, UTC ms.
    pub start_ms: u64,
}

/// 2026-12-01T23:55:00Z: a default start that puts 00:00 UTC inside a short session.
pub const DEFAULT_START_MS: u64 = 1_796_169_300_000;

const ONE: u32 = 1_000_000;

struct Side {
    bids: BTreeMap<u32, u64>,
    asks: BTreeMap<u32, u64>,
}

impl Side {
    fn best_bid(&self) -> Option<u32> {
        self.bids.keys().next_back().copied()
    }
    fn best_ask(&self) -> Option<u32> {
        self.asks.keys().next().copied()
    }
}

struct Market {
    yes: String,
    no: String,
    condition: String,
    tick: u32,
    fee_bps: u32,
    y: Side,
    n: Side,
    /// Events left in a YES/NO dislocation.
    dislocated: u32,
}

fn dec(micros: u64) -> String {
    polybox_core::money::Size::from_micros(micros).to_string()
}

fn levels(map: &BTreeMap<u32, u64>, descending: bool) -> Vec<Value> {
    // Exchange order: "best last" (bids ascending, asks descending).
    let mut v: Vec<Value> = map
        .iter()
        .map(|(p, s)| json!({"price": dec(u64::from(*p)), "size": dec(*s)}))
        .collect();
    if descending {
        v.reverse();
    }
    v
}

struct Sim {
    rng: ChaCha8Rng,
    ts: u64,
}

impl Sim {
    fn digits(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        s.push(char::from(b'1' + self.rng.random_range(0..9u8)));
        for _ in 1..n {
            s.push(char::from(b'0' + self.rng.random_range(0..10u8)));
        }
        s
    }
    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from_digit(self.rng.random_range(0..16u32), 16).unwrap_or('0'))
            .collect()
    }
    fn size(&mut self) -> u64 {
        u64::from(self.rng.random_range(500u32..40_000)) * 10_000
    }
}

fn book_msg(token: &str, m: &Market, side: &Side, ts: u64) -> Value {
    json!({
        "event_type": "book",
        "market": m.condition,
        "asset_id": token,
        "timestamp": ts.to_string(),
        "hash": "",
        "bids": levels(&side.bids, false),
        "asks": levels(&side.asks, true),
        "tick_size": dec(u64::from(m.tick)),
        "min_order_size": "5",
        "neg_risk": false,
    })
}

/// Rebuild the NO book as the mirror of the YES book.
fn mirror(y: &Side) -> Side {
    Side {
        bids: y.asks.iter().map(|(p, s)| (ONE - p, *s)).collect(),
        asks: y.bids.iter().map(|(p, s)| (ONE - p, *s)).collect(),
    }
}

type Change = (bool, &'static str, u32, u64); // (is_yes, side, price, size)

fn set(side: &mut Side, which: &str, price: u32, size: u64) {
    let map = if which == "BUY" {
        &mut side.bids
    } else {
        &mut side.asks
    };
    if size == 0 {
        map.remove(&price);
    } else {
        map.insert(price, size);
    }
}

/// Apply YES changes and their mirror on NO; return the entries of both.
fn mirrored(m: &mut Market, yes_changes: &[(&'static str, u32, u64)]) -> Vec<Change> {
    let mut out = Vec::new();
    for &(side, p, s) in yes_changes {
        set(&mut m.y, side, p, s);
        out.push((true, side, p, s));
        if m.dislocated == 0 {
            let ns = if side == "BUY" { "SELL" } else { "BUY" };
            set(&mut m.n, ns, ONE - p, s);
            out.push((false, ns, ONE - p, s));
        }
    }
    out
}

fn price_change(sim: &mut Sim, m: &Market, changes: &[Change], ts: u64) -> Value {
    let entries: Vec<Value> = changes
        .iter()
        .map(|&(is_yes, side, p, s)| {
            let (token, book) = if is_yes {
                (&m.yes, &m.y)
            } else {
                (&m.no, &m.n)
            };
            json!({
                "asset_id": token,
                "price": dec(u64::from(p)),
                "size": dec(s),
                "side": side,
                "hash": sim.hex(40),
                "best_bid": dec(u64::from(book.best_bid().unwrap_or(0))),
                "best_ask": dec(u64::from(book.best_ask().unwrap_or(ONE))),
            })
        })
        .collect();
    json!({"event_type": "price_change", "market": m.condition, "timestamp": ts.to_string(), "price_changes": entries})
}

/// Write a simulated session.
pub fn simulate(p: &SimParams, out: &mut impl Write) -> io::Result<()> {
    let mut sim = Sim {
        rng: ChaCha8Rng::seed_from_u64(p.seed),
        ts: p.start_ms,
    };
    let mut markets: Vec<Market> = (0..p.markets.max(1))
        .map(|i| {
            let tick = 10_000;
            let fair = sim.rng.random_range(25u32..75) * tick;
            let mut y = Side {
                bids: BTreeMap::new(),
                asks: BTreeMap::new(),
            };
            for k in 1..=8 {
                y.bids.insert(fair - k * tick, sim.size());
                y.asks.insert(fair + k * tick, sim.size());
            }
            let n = mirror(&y);
            Market {
                yes: sim.digits(77),
                no: sim.digits(77),
                condition: format!("0x{}", sim.hex(64)),
                tick,
                fee_bps: if i % 2 == 0 { 0 } else { 200 },
                y,
                n,
                dislocated: 0,
            }
        })
        .collect();
    let mut written = 0usize;
    let emit = |ts: u64, frame: Value, out: &mut dyn Write, sim: &mut Sim| -> io::Result<()> {
        let recv = ts + sim.rng.random_range(5u64..40);
        writeln!(out, "{}", json!({"recv_ts": recv, "msg": frame}))
    };
    // Initial dump: every book, as one array frame (as the exchange sends it).
    let dump: Vec<Value> = markets
        .iter()
        .flat_map(|m| {
            [
                book_msg(&m.yes, m, &m.y, sim.ts),
                book_msg(&m.no, m, &m.n, sim.ts),
            ]
        })
        .collect();
    let ts0 = sim.ts;
    emit(ts0, Value::Array(dump), out, &mut sim)?;
    written += 1;
    let tick_change_at = p.events / 2;
    let mut step = 0usize;
    while written < p.events {
        step += 1;
        sim.ts += sim.rng.random_range(20u64..300);
        let ts = sim.ts;
        let mi = if step == tick_change_at {
            0
        } else {
            sim.rng.random_range(0..markets.len())
        };
        let m = &mut markets[mi];
        if step == tick_change_at && m.tick == 10_000 {
            m.tick = 1_000;
            let frames = vec![
                json!({"event_type":"tick_size_change","asset_id":m.yes,"market":m.condition,"old_tick_size":"0.01","new_tick_size":"0.001","timestamp":ts.to_string()}),
                json!({"event_type":"tick_size_change","asset_id":m.no,"market":m.condition,"old_tick_size":"0.01","new_tick_size":"0.001","timestamp":ts.to_string()}),
                book_msg(&m.yes, m, &m.y, ts),
                book_msg(&m.no, m, &m.n, ts),
            ];
            emit(ts, Value::Array(frames), out, &mut sim)?;
            written += 1;
            continue;
        }
        if m.dislocated > 0 {
            m.dislocated -= 1;
            if m.dislocated == 0 {
                m.n = mirror(&m.y);
                let frame = book_msg(&m.no, m, &m.n, ts);
                emit(ts, frame, out, &mut sim)?;
                written += 1;
                continue;
            }
        }
        let (bb, ba) = (
            m.y.best_bid().unwrap_or(m.tick),
            m.y.best_ask().unwrap_or(ONE - m.tick),
        );
        let tick = m.tick;
        let r: f64 = sim.rng.random();
        let frame = if r < 0.50 {
            // resize or pull one of the top levels
            let buy = sim.rng.random_bool(0.5);
            let (side, levels): (&'static str, Vec<u32>) = if buy {
                ("BUY", m.y.bids.keys().rev().take(5).copied().collect())
            } else {
                ("SELL", m.y.asks.keys().take(5).copied().collect())
            };
            let price = levels[sim
                .rng
                .random_range(0..levels.len().max(1))
                .min(levels.len().saturating_sub(1))];
            let keep = if buy { m.y.bids.len() } else { m.y.asks.len() };
            let size = if sim.rng.random_bool(0.15) && keep > 3 {
                0
            } else {
                sim.size()
            };
            let changes = mirrored(m, &[(side, price, size)]);
            price_change(&mut sim, m, &changes, ts)
        } else if r < 0.75 {
            // the fair price drifts a tick: a new best level inside the spread
            let up = sim.rng.random_bool(0.5);
            let mut yc: Vec<(&'static str, u32, u64)> = Vec::new();
            if up && bb + tick < ba && bb + tick < ONE - tick {
                yc.push(("BUY", bb + tick, sim.size()));
            } else if !up && ba > bb + tick && ba - tick > tick {
                yc.push(("SELL", ba - tick, sim.size()));
            } else if m.y.asks.len() > 3 && up {
                yc.push(("SELL", ba, 0));
            } else if m.y.bids.len() > 3 {
                yc.push(("BUY", bb, 0));
            } else {
                yc.push(("BUY", bb.saturating_sub(8 * tick).max(tick), sim.size()));
            }
            let changes = mirrored(m, &yc);
            price_change(&mut sim, m, &changes, ts)
        } else if r < 0.87 {
            // a taker crosses the spread: the trade, then the level it consumed
            let buy = sim.rng.random_bool(0.5);
            let (price, avail) = if buy {
                (ba, m.y.asks.get(&ba).copied().unwrap_or(0))
            } else {
                (bb, m.y.bids.get(&bb).copied().unwrap_or(0))
            };
            let size = (u64::from(sim.rng.random_range(5u32..60)) * 1_000_000).min(avail);
            let trade = json!({"event_type":"last_trade_price","asset_id":m.yes,"market":m.condition,
                "price":dec(u64::from(price)),"side":if buy {"BUY"} else {"SELL"},"size":dec(size),
                "fee_rate_bps":m.fee_bps.to_string(),"timestamp":ts.to_string(),"transaction_hash":format!("0x{}", sim.hex(64))});
            let side = if buy { "SELL" } else { "BUY" };
            let left = avail - size;
            let left =
                if left == 0 && ((buy && m.y.asks.len() <= 3) || (!buy && m.y.bids.len() <= 3)) {
                    10_000_000
                } else {
                    left
                };
            let changes = mirrored(m, &[(side, price, left)]);
            let pc = price_change(&mut sim, m, &changes, ts);
            emit(ts, trade, out, &mut sim)?;
            written += 1;
            pc
        } else if r < 0.93 && m.dislocated == 0 {
            // dislocation: the NO book offers below the YES book's complement
            let q = ONE - ba - 2 * tick;
            if q > tick {
                m.dislocated = 20;
                let pulled: Vec<u32> = m.n.bids.range(q..).map(|(p, _)| *p).collect();
                let mut changes: Vec<Change> =
                    pulled.iter().map(|&p| (false, "BUY", p, 0)).collect();
                for p in pulled {
                    m.n.bids.remove(&p);
                }
                m.n.asks.insert(q, 15_000_000);
                changes.push((false, "SELL", q, 15_000_000));
                price_change(&mut sim, m, &changes, ts)
            } else {
                book_msg(&m.yes, m, &m.y, ts)
            }
        } else {
            // a fresh snapshot of both tokens
            Value::Array(vec![
                book_msg(&m.yes, m, &m.y, ts),
                book_msg(&m.no, m, &m.n, ts),
            ])
        };
        emit(ts, frame, out, &mut sim)?;
        written += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::recording::Recording;

    fn run(seed: u64) -> String {
        let mut buf = Vec::new();
        simulate(
            &SimParams {
                seed,
                markets: 2,
                events: 500,
                start_ms: DEFAULT_START_MS,
            },
            &mut buf,
        )
        .unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn same_seed_same_file_and_it_parses() {
        let a = run(1);
        assert_eq!(a, run(1));
        assert_ne!(a, run(2));
        let r = Recording::parse(&a, "sim").unwrap();
        assert!(
            r.records.len() >= 500 && r.records.len() <= 501,
            "{}",
            r.records.len()
        );
        let markets = r.markets(
            polybox_core::money::Price::from_micros(10_000),
            polybox_core::money::Size::from_micros(1),
            0,
        );
        assert_eq!(markets.len(), 4);
    }

    #[test]
    fn trades_print_and_the_tick_changes_once() {
        let text = run(3);
        let r = Recording::parse(&text, "sim").unwrap();
        let mut tick_changes = 0;
        let mut trades = 0;
        for m in r.records.iter().flat_map(|r| &r.messages) {
            match m {
                polybox_core::market_message::MarketMessage::TickSize { .. } => tick_changes += 1,
                polybox_core::market_message::MarketMessage::LastTrade { .. } => trades += 1,
                _ => {}
            }
        }
        assert_eq!(
            tick_changes, 2,
            "one tick change, for both tokens of market 0"
        );
        assert!(trades > 10);
    }
}
