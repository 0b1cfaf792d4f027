//! One file per pre-trade check.

mod balance;
mod book_tradable;
mod breaker;
mod daily_loss;
mod kill_switch_off;
mod max_positions;
mod min_bankroll;
mod min_size;
mod per_trade_limit;
mod post_only;
mod price_band;
mod price_bounds;
mod sellable;
mod strategy_budget;
mod tick;
mod well_formed;

pub use balance::BalanceCovers;
pub use book_tradable::BookTradable;
pub use breaker::Breaker;
pub use daily_loss::DailyLoss;
pub use kill_switch_off::KillSwitchOff;
pub use max_positions::MaxPositions;
pub use min_bankroll::MinBankroll;
pub use min_size::MinSize;
pub use per_trade_limit::PerTradeLimit;
pub use post_only::PostOnly;
pub use price_band::PriceBand;
pub use price_bounds::PriceBounds;
pub use sellable::Sellable;
pub use strategy_budget::StrategyBudget;
pub use tick::OnTick;
pub use well_formed::WellFormed;

use super::Check;

/// The checks of the standard gate, in the order they run (after the rate limit).
pub fn standard() -> Vec<Box<dyn Check>> {
    vec![
        Box::new(KillSwitchOff),
        Box::new(MinBankroll),
        Box::new(Breaker),
        Box::new(WellFormed),
        Box::new(PriceBounds),
        Box::new(OnTick),
        Box::new(MinSize),
        Box::new(PerTradeLimit),
        Box::new(BookTradable),
        Box::new(PriceBand),
        Box::new(PostOnly),
        Box::new(Sellable),
        Box::new(BalanceCovers),
        Box::new(MaxPositions),
        Box::new(DailyLoss),
        Box::new(StrategyBudget),
    ]
}
