use crate::risk::{Check, GateContext, RejectReason, Rejection};

/// No new orders while the consecutive-loss breaker is tripped (state CRITICAL).
#[derive(Debug)]
pub struct Breaker;

impl Check for Breaker {
    fn name(&self) -> &'static str {
        "breaker"
    }
    fn check(&self, ctx: &GateContext<'_>) -> Result<(), Rejection> {
        match ctx.ledger.breaker() {
            None => Ok(()),
            Some(trip) => Err(Rejection::new(
                RejectReason::Breaker,
                format!(
                    "breaker CRITICAL: {} (limit {}); no new orders until `polybox risk reset-breaker`",
                    trip.reason, ctx.limits.max_consecutive_losses
                ),
            )),
        }
    }
}
