//! Hostile guest: loops forever on its third event. The host must cut it at its CPU
//! budget, quarantine it, and carry on.

use polybox_sdk::{Host, MarketInfo, Strategy, export_strategy};

/// Counts events; never returns from the third.
pub struct Looper {
    seen: u64,
}

impl Strategy for Looper {
    fn init(_: &str, m: &[MarketInfo], _: &mut dyn Host) -> Result<(Self, Vec<String>), String> {
        Ok((
            Looper { seen: 0 },
            m.iter().map(|m| m.token.clone()).collect(),
        ))
    }
    fn on_book(&mut self, host: &mut dyn Host, _: &polybox_sdk::BookUpdate) {
        self.seen += 1;
        if self.seen.is_multiple_of(3) {
            let mut x: u64 = host.now();
            loop {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
    }
}

export_strategy!(Looper);
