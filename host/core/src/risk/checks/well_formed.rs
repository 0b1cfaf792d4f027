use crate::risk::{Check, GateContext, RejectReason, Rejection};

/// Refuses an intent for zero shares.
#[derive(Debug)]
pub struct WellFormed;

impl Check for WellFormed {
    fn name(&self) -> &'static str {
        "well_formed"
    }
    fn check(&self, ctx: &GateContext<'_>) -> Result<(), Rejection> {
        if ctx.intent.size.is_zero() {
            return Err(Rejection::new(
                RejectReason::InvalidIntent,
                "size is zero: an intent must ask for at least one micro-share",
            ));
        }
        Ok(())
    }
}
