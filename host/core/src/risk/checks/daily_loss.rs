use crate::money::Usdc;
use crate::order::Side;
use crate::risk::{Check, GateContext, RejectReason, Rejection};

/// The day's loss, counting the worst case of every open order and of this one, stays
/// within the daily limit; once the day's realised loss reached it, no BUY at all.
#[derive(Debug)]
pub struct DailyLoss;

impl Check for DailyLoss {
    fn name(&self) -> &'static str {
        "daily_loss_limit"
    }
    fn check(&self, ctx: &GateContext<'_>) -> Result<(), Rejection> {
        let limit = ctx.limits.max_daily_loss_usdc;
        let realized_loss = -ctx.ledger.realized_today();
        if ctx.intent.side == Side::Buy && realized_loss >= limit {
            return Err(Rejection::new(
                RejectReason::DailyLossLimit,
                format!(
                    "daily loss limit: {realized_loss} USDC lost today, limit {limit} USDC; BUYs resume at the next day"
                ),
            ));
        }
        let worst = ctx.exposure().committed_loss + ctx.exposure().intent_loss;
        if ctx.exposure().intent_loss > Usdc::ZERO && worst > limit {
            return Err(Rejection::new(
                RejectReason::DailyLossLimit,
                format!(
                    "daily loss limit: {worst} USDC worst case today (realised and open orders {} + this order {}) > {limit} USDC",
                    ctx.exposure().committed_loss,
                    ctx.exposure().intent_loss
                ),
            ));
        }
        Ok(())
    }
}
