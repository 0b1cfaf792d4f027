//! A strategy that cannot take over another's state: its `restore` always refuses. Swapped
//! in for a running strategy, the swap must fail and the running instance carry on.

use polybox_sdk::{Host, MarketInfo, Strategy, export_strategy};

/// Refuses every state.
pub struct Amnesiac;

impl Strategy for Amnesiac {
    fn init(_: &str, _: &[MarketInfo], _: &mut dyn Host) -> Result<(Self, Vec<String>), String> {
        Ok((Amnesiac, Vec::new()))
    }

    fn restore(&mut self, version: &str, _: &[u8]) -> Result<(), String> {
        Err(format!("cannot read the state of version {version}"))
    }
}

export_strategy!(Amnesiac);
