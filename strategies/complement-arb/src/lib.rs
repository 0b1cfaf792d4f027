//! Complement arbitrage: a YES and a NO share of one market together pay exactly 1 USDC.
//! When the best asks of both sum, with taker fees, to less than `1 − min_edge`, buy both.
//!
//! - Fee per share at price p: `rate × p × (1 − p)` (Polymarket's taker fee).
//! - Size: the smaller of the two best-ask sizes, capped so each leg stays under
//!   `max_notional` USDC, rounded down to 0.01 share, and at least the minimum size.
//! - Both legs are FAK at the best ask; no new pair is sent while a leg is unresolved,
//!   nor twice at the same pair of prices (the same offers), nor once either token's
//!   holding reaches `max_position` shares.

use std::collections::{BTreeMap, BTreeSet};

use polybox_sdk::{
    BookUpdate, Host, Intent, LogLevel, MarketInfo, OrderStatus, OrderUpdate, Params, Price, Side,
    Size, StateReader, StateWriter, Strategy, TimeInForce, TopOfBook, export_strategy,
};

const LOT: u64 = 10_000; // 0.01 share

/// The complement arbitrage.
#[derive(Debug)]
pub struct ComplementArb {
    min_edge: u32,
    max_notional: u64,
    /// token → (complement, fee bps, min size)
    pairs: BTreeMap<String, (String, u32, u64)>,
    tops: BTreeMap<String, TopOfBook>,
    pending: BTreeSet<u64>,
    pairs_sent: u64,
    max_position: u64,
    /// Shares held, by token (from fills).
    held: BTreeMap<String, u64>,
    /// The ask prices of the last pair sent, by the token that triggered it.
    last_fired: BTreeMap<String, (u32, u32)>,
}

/// Fee per share in micro-USDC for a taker at `price` (rounded up: be conservative).
fn fee_per_share(rate_bps: u32, price: u32) -> u64 {
    let p = u64::from(price);
    (u64::from(rate_bps) * p * (1_000_000 - p)).div_ceil(10_000 * 1_000_000)
}

impl ComplementArb {
    fn try_pair(&mut self, host: &mut dyn Host, token: &str) {
        if !self.pending.is_empty() {
            return;
        }
        let Some((other, fee_a, min_a)) = self.pairs.get(token).cloned() else {
            return;
        };
        let Some(&(_, fee_b, min_b)) = self.pairs.get(&other) else {
            return;
        };
        let (Some(a), Some(b)) = (
            self.tops.get(token).and_then(|t| t.ask),
            self.tops.get(&other).and_then(|t| t.ask),
        ) else {
            return;
        };
        let cost = u64::from(a.price)
            + u64::from(b.price)
            + fee_per_share(fee_a, a.price)
            + fee_per_share(fee_b, b.price);
        if cost + u64::from(self.min_edge) >= 1_000_000 {
            return;
        }
        let key = if token < other.as_str() {
            token.to_owned()
        } else {
            other.clone()
        };
        let prices = if key == token {
            (a.price, b.price)
        } else {
            (b.price, a.price)
        };
        if self.last_fired.get(&key) == Some(&prices) {
            return;
        }
        let held = |t: &str| self.held.get(t).copied().unwrap_or(0);
        let room = self
            .max_position
            .saturating_sub(held(token).max(held(&other)));
        let cap = |p: u32| {
            Price::from_micros(p).map_or(0, |px| {
                Size::affordable(self.max_notional, px, LOT).micros()
            })
        };
        let size = a
            .size
            .min(b.size)
            .min(cap(a.price))
            .min(cap(b.price))
            .min(room);
        let size = size - size % LOT;
        if size < min_a.max(min_b) {
            return;
        }
        host.log(
            LogLevel::Info,
            &format!(
                "pair: asks {} + {} (+fees) = {} < 1, buying {} each",
                a.price, b.price, cost, size
            ),
        );
        for (t, price) in [(token.to_owned(), a.price), (other, b.price)] {
            match host.submit(Intent {
                token: t,
                side: Side::Buy,
                price,
                size,
                tif: TimeInForce::Fak,
                post_only: false,
            }) {
                Ok(id) => {
                    self.pending.insert(id);
                }
                Err(r) => host.log(
                    LogLevel::Warn,
                    &format!("leg refused: {:?}: {}", r.reason, r.message),
                ),
            }
        }
        self.pairs_sent += 1;
        self.last_fired.insert(key, prices);
    }
}

impl Strategy for ComplementArb {
    fn init(
        config: &str,
        markets: &[MarketInfo],
        _host: &mut dyn Host,
    ) -> Result<(Self, Vec<String>), String> {
        let p = Params::parse(config, &["min_edge", "max_notional", "max_position"])?;
        let min_edge = p.get("min_edge").map_or(Ok(5_000), |v| {
            Size::parse(v)
                .map_err(|e| format!("config `min_edge`: {e}"))
                .and_then(|s| {
                    u32::try_from(s.micros()).map_err(|_| "config `min_edge` too large".to_owned())
                })
        })?;
        let max_notional = p.size_or("max_notional", Size::shares(10))?.micros();
        let max_position = p.size_or("max_position", Size::shares(100))?.micros();
        let known: BTreeMap<&str, &MarketInfo> =
            markets.iter().map(|m| (m.token.as_str(), m)).collect();
        let pairs: BTreeMap<String, (String, u32, u64)> = markets
            .iter()
            .filter_map(|m| {
                let c = m.complement.as_deref()?;
                known
                    .contains_key(c)
                    .then(|| (m.token.clone(), (c.to_owned(), m.fee_rate_bps, m.min_size)))
            })
            .collect();
        if pairs.is_empty() {
            return Err(
                "no YES/NO pair among the granted markets: grant both tokens of a market"
                    .to_owned(),
            );
        }
        let tokens = pairs.keys().cloned().collect();
        Ok((
            ComplementArb {
                min_edge,
                max_notional,
                pairs,
                tops: BTreeMap::new(),
                pending: BTreeSet::new(),
                pairs_sent: 0,
                max_position,
                held: BTreeMap::new(),
                last_fired: BTreeMap::new(),
            },
            tokens,
        ))
    }

    fn on_book(&mut self, host: &mut dyn Host, u: &BookUpdate) {
        self.tops.insert(u.token.clone(), u.top);
        if u.tradable {
            self.try_pair(host, &u.token);
        }
    }

    fn on_order(&mut self, _host: &mut dyn Host, u: &OrderUpdate) {
        if let (Some(f), Side::Buy) = (&u.last_fill, u.side) {
            *self.held.entry(u.token.clone()).or_default() += f.size;
        }
        if !matches!(u.status, OrderStatus::Open | OrderStatus::PartiallyFilled) {
            self.pending.remove(&u.id);
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        let mut w = StateWriter::new();
        w.u64(self.pairs_sent).u64(self.pending.len() as u64);
        for id in &self.pending {
            w.u64(*id);
        }
        w.u64(self.held.len() as u64);
        for (t, n) in &self.held {
            w.str(t).u64(*n);
        }
        w.u64(self.last_fired.len() as u64);
        for (t, (a, b)) in &self.last_fired {
            w.str(t).u64(u64::from(*a)).u64(u64::from(*b));
        }
        w.finish()
    }

    fn restore(&mut self, _version: &str, data: &[u8]) -> Result<(), String> {
        if data.is_empty() {
            return Ok(());
        }
        let mut r = StateReader::new(data);
        self.pairs_sent = r.u64()?;
        for _ in 0..r.u64()? {
            self.pending.insert(r.u64()?);
        }
        for _ in 0..r.u64()? {
            let t = r.str()?;
            self.held.insert(t, r.u64()?);
        }
        let price = |v: u64| u32::try_from(v).map_err(|e| e.to_string());
        for _ in 0..r.u64()? {
            let t = r.str()?;
            let (a, b) = (price(r.u64()?)?, price(r.u64()?)?);
            self.last_fired.insert(t, (a, b));
        }
        Ok(())
    }
}

export_strategy!(ComplementArb);

#[cfg(test)]
mod tests {
    use super::*;
    use polybox_sdk::testing::Harness;

    type H = Harness<ComplementArb>;

    fn start(fee_bps: u32) -> H {
        let mut m = H::pair("Y", "N");
        for x in &mut m {
            x.fee_rate_bps = fee_bps;
        }
        H::start("min_edge = \"0.005\"\nmax_notional = 10", &m).unwrap()
    }

    #[test]
    fn buys_both_legs_when_asks_sum_below_one() {
        let mut h = start(0);
        h.book("Y", &[("0.40", "100")], &[("0.45", "100")]);
        assert!(h.intents().is_empty(), "one leg alone is no arbitrage");
        h.book("N", &[("0.40", "100")], &[("0.50", "8")]);
        let legs: Vec<_> = h
            .intents()
            .iter()
            .map(|i| (i.token.as_str(), i.side, i.price, i.size, i.tif))
            .collect();
        assert_eq!(
            legs,
            vec![
                ("N", Side::Buy, 500_000, 8_000_000, TimeInForce::Fak),
                ("Y", Side::Buy, 450_000, 8_000_000, TimeInForce::Fak)
            ]
        );
    }

    #[test]
    fn fees_can_eat_the_edge() {
        // 0.45 + 0.53 = 0.98 leaves 0.02; fees at 10 % are ~0.025 + ~0.025: no trade
        let mut h = start(1_000);
        h.book("Y", &[("0.40", "100")], &[("0.45", "100")]);
        h.book("N", &[("0.40", "100")], &[("0.53", "100")]);
        assert!(h.intents().is_empty(), "{:?}", h.intents());
        // without fees the same books trade
        let mut h = start(0);
        h.book("Y", &[("0.40", "100")], &[("0.45", "100")]);
        h.book("N", &[("0.40", "100")], &[("0.53", "100")]);
        assert_eq!(h.intents().len(), 2);
    }

    #[test]
    fn size_is_capped_by_notional_and_waits_for_legs() {
        let mut h = start(0);
        h.book("Y", &[("0.10", "1000")], &[("0.20", "1000")]);
        h.book("N", &[("0.10", "1000")], &[("0.70", "1000")]);
        // 10 USDC at 0.70 buys 14.28 shares
        assert!(
            h.intents().iter().all(|i| i.size == 14_280_000),
            "{:?}",
            h.intents()
        );
        h.clear();
        h.change("N", Side::Sell, "0.70", "999");
        assert!(h.intents().is_empty(), "no new pair while legs are pending");
    }

    #[test]
    fn fires_once_per_offer_pair_and_stops_at_max_position() {
        let mut m = H::pair("Y", "N");
        m[0].fee_rate_bps = 0;
        let mut h = H::start("max_notional = 10\nmax_position = 12", &m).unwrap();
        h.book("Y", &[("0.40", "100")], &[("0.45", "100")]);
        h.book("N", &[("0.40", "100")], &[("0.50", "100")]);
        assert_eq!(h.intents().len(), 2);
        // the FAK legs resolve (filled 10 each: 10 USDC at 0.50 = 20 shares, capped to 12)
        for (id, i) in h.verdicts().to_vec().into_iter().zip(h.intents().to_vec()) {
            let id = id.unwrap();
            assert_eq!(i.size, 12_000_000);
            h.send(polybox_sdk::Event::Order(OrderUpdate {
                id,
                token: i.token.clone(),
                side: Side::Buy,
                price: i.price,
                size: i.size,
                status: OrderStatus::Filled,
                filled: i.size,
                last_fill: Some(polybox_sdk::Fill {
                    price: i.price,
                    size: i.size,
                    fee: 0,
                    ts: 0,
                }),
                reason: None,
                ts: 0,
            }));
        }
        h.clear();
        // same offers again: nothing
        h.change("Y", Side::Buy, "0.41", "5");
        assert!(h.intents().is_empty());
        // new, better offers, but the position is full
        h.book("N", &[("0.40", "100")], &[("0.49", "100")]);
        assert!(h.intents().is_empty(), "{:?}", h.intents());
    }

    #[test]
    fn refuses_markets_without_a_pair() {
        let err = H::start("", &[H::market("Y")]).unwrap_err();
        assert!(err.contains("pair"), "{err}");
    }

    #[test]
    fn fee_formula() {
        assert_eq!(fee_per_share(400, 500_000), 10_000); // 0.04 × 0.25
        assert_eq!(fee_per_share(0, 500_000), 0);
    }
}
