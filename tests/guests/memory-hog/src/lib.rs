//! Hostile guest: allocates without bound on its second event. The host's memory cap
//! must stop it, quarantine it, and carry on.

use polybox_sdk::{BookUpdate, Host, MarketInfo, Strategy, export_strategy};

/// Hoards memory.
pub struct MemoryHog {
    seen: u64,
    hoard: Vec<Vec<u8>>,
}

impl Strategy for MemoryHog {
    fn init(_: &str, m: &[MarketInfo], _: &mut dyn Host) -> Result<(Self, Vec<String>), String> {
        Ok((
            MemoryHog {
                seen: 0,
                hoard: Vec::new(),
            },
            m.iter().map(|m| m.token.clone()).collect(),
        ))
    }
    fn on_book(&mut self, _: &mut dyn Host, _: &BookUpdate) {
        self.seen += 1;
        if self.seen.is_multiple_of(2) {
            loop {
                // Reserve without touching: memory grows at once, CPU stays cheap.
                let mut chunk = Vec::<u8>::with_capacity(1 << 20);
                chunk.push(1);
                self.hoard.push(std::hint::black_box(chunk));
            }
        }
    }
}

export_strategy!(MemoryHog);
