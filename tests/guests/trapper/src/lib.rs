//! Hostile guest: panics (a trap, with `panic = "abort"`) on its second event.

use polybox_sdk::{BookUpdate, Host, MarketInfo, Strategy, export_strategy};

/// Panics.
pub struct Trapper {
    seen: u64,
}

impl Strategy for Trapper {
    fn init(_: &str, m: &[MarketInfo], _: &mut dyn Host) -> Result<(Self, Vec<String>), String> {
        Ok((
            Trapper { seen: 0 },
            m.iter().map(|m| m.token.clone()).collect(),
        ))
    }
    fn on_book(&mut self, _: &mut dyn Host, _: &BookUpdate) {
        self.seen += 1;
        assert!(
            !self.seen.is_multiple_of(2),
            "trapper: deliberate panic on event {}",
            self.seen
        );
    }
}

export_strategy!(Trapper);
