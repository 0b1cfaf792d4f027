//! Strategy timers, fired in (time, strategy, id) order.

use std::collections::{BTreeMap, BTreeSet};

use polybox_core::ids::StrategyId;

/// Pending timers of all strategies.
#[derive(Debug, Default)]
pub struct Timers {
    at: BTreeMap<(StrategyId, u64), u64>,
    queue: BTreeSet<(u64, StrategyId, u64)>,
}

impl Timers {
    /// Set (or move) a strategy's timer.
    pub fn set(&mut self, strategy: StrategyId, id: u64, at: u64) {
        self.cancel(strategy, id);
        self.at.insert((strategy, id), at);
        self.queue.insert((at, strategy, id));
    }

    /// Forget a timer.
    pub fn cancel(&mut self, strategy: StrategyId, id: u64) {
        if let Some(at) = self.at.remove(&(strategy, id)) {
            self.queue.remove(&(at, strategy, id));
        }
    }

    /// Forget all of a strategy's timers.
    pub fn clear(&mut self, strategy: StrategyId) {
        let ids: Vec<u64> = self
            .at
            .keys()
            .filter(|(s, _)| *s == strategy)
            .map(|(_, id)| *id)
            .collect();
        for id in ids {
            self.cancel(strategy, id);
        }
    }

    /// The earliest timer due at or before `now`, removed.
    pub fn pop_due(&mut self, now: u64) -> Option<(StrategyId, u64)> {
        let &(at, strategy, id) = self.queue.first()?;
        if at > now {
            return None;
        }
        self.queue.remove(&(at, strategy, id));
        self.at.remove(&(strategy, id));
        Some((strategy, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fire_in_time_order_and_replace() {
        let mut t = Timers::default();
        t.set(StrategyId(1), 7, 100);
        t.set(StrategyId(0), 3, 50);
        t.set(StrategyId(0), 3, 150);
        assert_eq!(t.pop_due(120), Some((StrategyId(1), 7)));
        assert_eq!(t.pop_due(120), None);
        assert_eq!(t.pop_due(150), Some((StrategyId(0), 3)));
        t.set(StrategyId(2), 1, 10);
        t.clear(StrategyId(2));
        assert_eq!(t.pop_due(1_000), None);
    }
}
