//! Spread quoter: posts a bid and an ask around the mid of each market, and cancels and
//! reposts them as the book moves.
//!
//! - Quotes `half_spread_ticks` ticks either side of the mid, never crossing the book
//!   (post-only), `size` shares each.
//! - Polymarket cannot be sold short, so the ask is only posted against inventory bought
//!   by earlier bid fills; bidding stops at `max_inventory` shares.
//! - A quote whose target moved by `requote_ticks` or more is cancelled and reposted.
//! - A refused quote is logged once, not again on every update while the refusal lasts.
//! - State (inventory and live quotes per token) survives a hot swap.

use std::collections::BTreeMap;

use polybox_sdk::{
    BookUpdate, Host, Intent, LogLevel, MarketInfo, OrderStatus, OrderUpdate, Params, RejectReason,
    Side, Size, StateReader, StateWriter, Strategy, TimeInForce, export_strategy,
};

/// One live quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Quote {
    id: u64,
    price: u32,
}

/// One side's quote: what is live, where it should be, and how big.
struct Leg {
    side: Side,
    live: Option<Quote>,
    target: Option<u32>,
    size: u64,
    /// Why its last quote was refused, if it was (logged only when this changes).
    refused: Option<RejectReason>,
}

/// Per-token state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Market {
    tick: u32,
    min_size: u64,
    inventory: u64,
    bid: Option<Quote>,
    ask: Option<Quote>,
    /// The last refusal of the bid and of the ask (not part of the snapshot: after a swap
    /// a lasting refusal is logged once more).
    refused: [Option<RejectReason>; 2],
}

/// The spread quoter.
#[derive(Debug)]
pub struct SpreadQuoter {
    size: u64,
    half_spread_ticks: u32,
    requote_ticks: u32,
    max_inventory: u64,
    markets: BTreeMap<String, Market>,
}

const KEYS: &[&str] = &[
    "size",
    "half_spread_ticks",
    "requote_ticks",
    "max_inventory",
    "tokens",
];

impl SpreadQuoter {
    /// Desired bid and ask for a mid, on the tick, strictly inside the book's top.
    fn targets(&self, m: &Market, u: &BookUpdate) -> (Option<u32>, Option<u32>) {
        let (Some(bid), Some(ask)) = (u.top.bid, u.top.ask) else {
            return (None, None);
        };
        let mid = (bid.price + ask.price) / 2;
        let off = self.half_spread_ticks.saturating_mul(m.tick);
        let b = mid.saturating_sub(off);
        let b = b - b % m.tick;
        let a = mid.saturating_add(off);
        let a = a.div_ceil(m.tick) * m.tick;
        // Never cross: a bid below the best ask, an ask above the best bid.
        let b = (b > 0 && b < ask.price).then_some(b);
        let a = (a < 1_000_000 && a > bid.price).then_some(a);
        (b, a)
    }

    /// The leg's quote after this update, and its refusal.
    fn requote(
        &self,
        host: &mut dyn Host,
        token: &str,
        tick: u32,
        leg: Leg,
    ) -> (Option<Quote>, Option<RejectReason>) {
        let Leg {
            side,
            live,
            target,
            size,
            refused,
        } = leg;
        let far = |q: Quote, t: u32| q.price.abs_diff(t) >= self.requote_ticks.max(1) * tick;
        match (live, target) {
            (Some(q), Some(t)) if !far(q, t) => return (Some(q), refused),
            (Some(q), _) => {
                // A refusal means it is already gone (filled or cancelled): the order
                // update says which, so there is nothing more to do here.
                let _ = host.cancel(q.id);
            }
            (None, _) => {}
        }
        let Some(price) = target else {
            return (None, refused);
        };
        if size == 0 {
            return (None, refused);
        }
        let verdict = host.submit(Intent {
            token: token.to_owned(),
            side,
            price,
            size,
            tif: TimeInForce::Gtc,
            post_only: true,
        });
        match verdict {
            Ok(id) => (Some(Quote { id, price }), None),
            Err(r) => {
                if refused != Some(r.reason) {
                    host.log(
                        LogLevel::Debug,
                        &format!("quote refused: {:?}: {}", r.reason, r.message),
                    );
                }
                (None, Some(r.reason))
            }
        }
    }
}

impl Strategy for SpreadQuoter {
    fn init(
        config: &str,
        markets: &[MarketInfo],
        _host: &mut dyn Host,
    ) -> Result<(Self, Vec<String>), String> {
        let p = Params::parse(config, KEYS)?;
        let wanted: Option<Vec<&str>> = p
            .get("tokens")
            .map(|t| t.split(',').map(str::trim).collect());
        let chosen: BTreeMap<String, Market> = markets
            .iter()
            .filter(|m| {
                wanted
                    .as_ref()
                    .is_none_or(|w| w.contains(&m.token.as_str()))
            })
            .map(|m| {
                (
                    m.token.clone(),
                    Market {
                        tick: m.tick.max(1),
                        min_size: m.min_size,
                        ..Market::default()
                    },
                )
            })
            .collect();
        let q = SpreadQuoter {
            size: p.size_or("size", Size::shares(5))?.micros(),
            half_spread_ticks: u32::try_from(p.u64_or("half_spread_ticks", 2)?)
                .map_err(|e| e.to_string())?,
            requote_ticks: u32::try_from(p.u64_or("requote_ticks", 1)?)
                .map_err(|e| e.to_string())?,
            max_inventory: Size::shares(p.u64_or("max_inventory", 50)?).micros(),
            markets: chosen,
        };
        let tokens = q.markets.keys().cloned().collect();
        Ok((q, tokens))
    }

    fn on_book(&mut self, host: &mut dyn Host, u: &BookUpdate) {
        let Some(m) = self.markets.get(&u.token).cloned() else {
            return;
        };
        let (mut bid_t, ask_t) = if u.tradable {
            self.targets(&m, u)
        } else {
            (None, None)
        };
        let bid_size = self.size.max(m.min_size);
        if m.inventory >= self.max_inventory {
            bid_t = None;
        }
        // Sell only what is held, and only when it is at least the minimum size.
        let ask_size = if m.inventory >= m.min_size {
            m.inventory.min(bid_size)
        } else {
            0
        };
        let (bid, bid_refused) = self.requote(
            host,
            &u.token,
            m.tick,
            Leg {
                side: Side::Buy,
                live: m.bid,
                target: bid_t,
                size: bid_size,
                refused: m.refused[0],
            },
        );
        let (ask, ask_refused) = self.requote(
            host,
            &u.token,
            m.tick,
            Leg {
                side: Side::Sell,
                live: m.ask,
                target: ask_t,
                size: ask_size,
                refused: m.refused[1],
            },
        );
        if let Some(m) = self.markets.get_mut(&u.token) {
            m.bid = bid;
            m.ask = ask;
            m.refused = [bid_refused, ask_refused];
        }
    }

    fn on_order(&mut self, _host: &mut dyn Host, u: &OrderUpdate) {
        let Some(m) = self.markets.get_mut(&u.token) else {
            return;
        };
        if let Some(f) = &u.last_fill {
            match u.side {
                Side::Buy => m.inventory = m.inventory.saturating_add(f.size),
                Side::Sell => m.inventory = m.inventory.saturating_sub(f.size),
            }
        }
        if !matches!(u.status, OrderStatus::Open | OrderStatus::PartiallyFilled) {
            if m.bid.is_some_and(|q| q.id == u.id) {
                m.bid = None;
            }
            if m.ask.is_some_and(|q| q.id == u.id) {
                m.ask = None;
            }
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut w = StateWriter::new();
        w.u64(self.markets.len() as u64);
        let q = |q: Option<Quote>| q.map_or((0, 0), |q| (q.id, u64::from(q.price)));
        for (token, m) in &self.markets {
            let (bi, bp) = q(m.bid);
            let (ai, ap) = q(m.ask);
            w.str(token)
                .u64(m.inventory)
                .u64(bi)
                .u64(bp)
                .u64(ai)
                .u64(ap);
        }
        w.finish()
    }

    fn restore(&mut self, _version: &str, data: &[u8]) -> Result<(), String> {
        if data.is_empty() {
            return Ok(());
        }
        let mut r = StateReader::new(data);
        let q = |id: u64, price: u64| -> Result<Option<Quote>, String> {
            Ok((id != 0).then_some(Quote {
                id,
                price: u32::try_from(price).map_err(|e| e.to_string())?,
            }))
        };
        for _ in 0..r.u64()? {
            let token = r.str()?;
            let (inv, bi, bp, ai, ap) = (r.u64()?, r.u64()?, r.u64()?, r.u64()?, r.u64()?);
            if let Some(m) = self.markets.get_mut(&token) {
                m.inventory = inv;
                m.bid = q(bi, bp)?;
                m.ask = q(ai, ap)?;
            }
        }
        Ok(())
    }
}

export_strategy!(SpreadQuoter);

#[cfg(test)]
mod tests {
    use super::*;
    use polybox_sdk::testing::Harness;

    type H = Harness<SpreadQuoter>;

    fn start() -> H {
        H::start("size = 5\nhalf_spread_ticks = 2", &[H::market("A")]).unwrap()
    }

    #[test]
    fn quotes_a_bid_around_the_mid_and_no_ask_without_inventory() {
        let mut h = start();
        assert_eq!(h.subscribed(), ["A"]);
        h.book("A", &[("0.48", "100")], &[("0.54", "100")]);
        // mid 0.51, two ticks below: 0.49; no inventory so no ask
        assert_eq!(h.intents().len(), 1);
        let i = &h.intents()[0];
        assert_eq!(
            (i.side, i.price, i.size, i.post_only),
            (Side::Buy, 490_000, 5_000_000, true)
        );
    }

    #[test]
    fn posts_an_ask_once_it_holds_shares() {
        let mut h = start();
        h.book("A", &[("0.48", "100")], &[("0.54", "100")]);
        let id = h.verdicts()[0].clone().unwrap();
        h.fill(id, "0.49", "5");
        h.clear();
        h.change("A", Side::Buy, "0.47", "10");
        // the bid was filled, so a new bid goes out, and an ask against the 5 shares held
        let sides: Vec<_> = h
            .intents()
            .iter()
            .map(|i| (i.side, i.price, i.size))
            .collect();
        assert!(
            sides.contains(&(Side::Buy, 490_000, 5_000_000)),
            "{sides:?}"
        );
        assert!(
            sides.contains(&(Side::Sell, 530_000, 5_000_000)),
            "{sides:?}"
        );
    }

    #[test]
    fn requotes_when_the_book_moves_and_not_before() {
        let mut h = start();
        h.book("A", &[("0.48", "100")], &[("0.54", "100")]);
        let first = h.verdicts()[0].clone().unwrap();
        h.clear();
        // a size change at the top: same mid, nothing to do
        h.change("A", Side::Sell, "0.54", "40");
        assert!(h.intents().is_empty());
        assert!(h.cancels().is_empty());
        // the book moves up two cents: cancel and repost higher
        h.book("A", &[("0.50", "100")], &[("0.56", "100")]);
        assert_eq!(h.cancels(), [first]);
        assert_eq!(h.intents()[0].price, 510_000);
    }

    #[test]
    fn never_crosses_a_tight_book() {
        let mut h = start();
        h.book("A", &[("0.50", "100")], &[("0.51", "100")]);
        for i in h.intents() {
            assert!(i.price < 510_000, "bid {i:?} would cross");
        }
    }

    #[test]
    fn stops_bidding_at_max_inventory() {
        let mut h = H::start("size = 5\nmax_inventory = 5", &[H::market("A")]).unwrap();
        h.book("A", &[("0.48", "100")], &[("0.54", "100")]);
        let id = h.verdicts()[0].clone().unwrap();
        h.fill(id, "0.49", "5");
        h.clear();
        h.book("A", &[("0.40", "100")], &[("0.46", "100")]);
        assert!(
            h.intents().iter().all(|i| i.side == Side::Sell),
            "{:?}",
            h.intents()
        );
    }

    #[test]
    fn state_survives_a_swap() {
        let mut h = start();
        h.book("A", &[("0.48", "100")], &[("0.54", "100")]);
        let id = h.verdicts()[0].clone().unwrap();
        h.fill(id, "0.49", "5");
        let before = h.strategy().markets.clone();
        h.swap("size = 5\nhalf_spread_ticks = 2").unwrap();
        assert_eq!(h.strategy().markets, before);
    }

    #[test]
    fn a_lasting_refusal_is_logged_once_and_again_when_its_reason_changes() {
        let mut h = start();
        let reason = std::rc::Rc::new(std::cell::Cell::new(RejectReason::MaxPositions));
        let r = reason.clone();
        h.set_verdict(move |_| {
            Some(polybox_sdk::Rejection {
                reason: r.get(),
                message: "no".to_owned(),
            })
        });
        let refusals = |h: &H| {
            h.logs()
                .iter()
                .filter(|(_, m)| m.starts_with("quote refused"))
                .count()
        };
        h.book("A", &[("0.48", "100")], &[("0.54", "100")]);
        h.book("A", &[("0.47", "100")], &[("0.53", "100")]);
        h.book("A", &[("0.48", "100")], &[("0.54", "100")]);
        assert_eq!(h.intents().len(), 3, "it still tries on every update");
        assert_eq!(refusals(&h), 1);
        reason.set(RejectReason::RateLimit);
        h.book("A", &[("0.47", "100")], &[("0.53", "100")]);
        assert_eq!(refusals(&h), 2);
    }

    #[test]
    fn bad_config_is_refused_with_the_key() {
        let err = H::start("sise = 5", &[H::market("A")]).unwrap_err();
        assert!(err.contains("sise"), "{err}");
    }
}
