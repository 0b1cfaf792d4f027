//! One file per pre-trade check.

mod book_tradable;
mod kill_switch;
mod min_size;
mod per_trade_limit;
mod post_only;
mod price_range;
mod sellable;
mod tick;
mod well_formed;

pub use book_tradable::BookTradable;
pub use kill_switch::KillSwitchOff;
pub use min_size::MinSize;
pub use per_trade_limit::PerTradeLimit;
pub use post_only::PostOnly;
pub use price_range::PriceRange;
pub use sellable::Sellable;
pub use tick::OnTick;
pub use well_formed::WellFormed;

use super::Check;

/// The checks of the standard gate, in the order they run.
pub fn standard() -> Vec<Box<dyn Check>> {
    vec![
        Box::new(KillSwitchOff),
        Box::new(WellFormed),
        Box::new(PriceRange),
        Box::new(OnTick),
        Box::new(MinSize),
        Box::new(PerTradeLimit),
        Box::new(BookTradable),
        Box::new(PostOnly),
        Box::new(Sellable),
    ]
}
