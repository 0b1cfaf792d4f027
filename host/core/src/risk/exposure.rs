//! What an intent would add to the book of risk, computed by the desk from positions,
//! open orders and the wallet, so that resting orders count as much as fills.

use crate::money::{Size, Usdc};

/// The numbers the exposure-based checks compare with their limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    /// Shares of the token the strategy holds and has not already offered for sale.
    pub sellable: Size,
    /// Collateral free for a new BUY: balance minus what open BUYs may spend.
    pub available: Result<Usdc, String>,
    /// What this order may spend: notional plus the worst taker fee (BUY), or zero.
    pub spend: Usdc,
    /// Tokens held or being bought, all strategies together.
    pub open_positions: u32,
    /// This BUY would add a token to that set.
    pub opens_position: bool,
    /// Loss already committed today, all strategies: realised loss plus the worst loss of
    /// every open order (fees, SELLs below cost).
    pub committed_loss: Usdc,
    /// The same for this strategy alone.
    pub strategy_committed_loss: Usdc,
    /// The worst loss this intent adds.
    pub intent_loss: Usdc,
    /// Cost of the strategy's positions plus its open BUYs.
    pub strategy_exposure: Usdc,
    /// The strategy's open orders.
    pub strategy_open_orders: u32,
}
