//! A strategy that loses on purpose: it buys the minimum size at the best ask and sells it
//! back at the best bid, over and over, paying the spread (and fees) each round trip.
//! It drives the daily-loss limit and the consecutive-loss breaker in tests.

use std::collections::BTreeMap;

use polybox_sdk::{
    BookUpdate, Host, Intent, MarketInfo, OrderStatus, OrderUpdate, Side, Strategy, TimeInForce,
    export_strategy,
};

/// Round-trips at a loss.
pub struct Loser {
    min_size: BTreeMap<String, u64>,
    held: BTreeMap<String, u64>,
    pending: Option<u64>,
}

impl Strategy for Loser {
    fn init(_: &str, m: &[MarketInfo], _: &mut dyn Host) -> Result<(Self, Vec<String>), String> {
        let min_size = m.iter().map(|m| (m.token.clone(), m.min_size)).collect();
        let l = Loser {
            min_size,
            held: BTreeMap::new(),
            pending: None,
        };
        Ok((l, m.iter().take(1).map(|m| m.token.clone()).collect()))
    }

    fn on_book(&mut self, host: &mut dyn Host, u: &BookUpdate) {
        if self.pending.is_some() || !u.tradable {
            return;
        }
        let held = self.held.get(&u.token).copied().unwrap_or(0);
        let (side, level, size) = if held == 0 {
            (
                Side::Buy,
                u.top.ask,
                self.min_size.get(&u.token).copied().unwrap_or(5_000_000),
            )
        } else {
            (Side::Sell, u.top.bid, held)
        };
        let Some(level) = level else { return };
        let intent = Intent {
            token: u.token.clone(),
            side,
            price: level.price,
            size,
            tif: TimeInForce::Fak,
            post_only: false,
        };
        if let Ok(id) = host.submit(intent) {
            self.pending = Some(id);
        }
    }

    fn on_order(&mut self, _: &mut dyn Host, u: &OrderUpdate) {
        if let Some(f) = &u.last_fill {
            let h = self.held.entry(u.token.clone()).or_default();
            match u.side {
                Side::Buy => *h += f.size,
                Side::Sell => *h = h.saturating_sub(f.size),
            }
        }
        if !matches!(u.status, OrderStatus::Open | OrderStatus::PartiallyFilled)
            && self.pending == Some(u.id)
        {
            self.pending = None;
        }
    }
}

export_strategy!(Loser);
