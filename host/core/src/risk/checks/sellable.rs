use crate::order::Side;
use crate::risk::{Check, GateContext, RejectReason, Rejection};

/// A SELL only of shares held and not already offered.
#[derive(Debug)]
pub struct Sellable;

impl Check for Sellable {
    fn name(&self) -> &'static str {
        "sellable"
    }
    fn check(&self, ctx: &GateContext<'_>) -> Result<(), Rejection> {
        let i = ctx.intent;
        if i.side == Side::Sell && i.size > ctx.exposure().sellable {
            return Err(Rejection::new(
                RejectReason::InsufficientBalance,
                format!(
                    "SELL {} shares of token {} but only {} are held and not already offered",
                    i.size,
                    i.token.short(),
                    ctx.exposure().sellable
                ),
            ));
        }
        Ok(())
    }
}
