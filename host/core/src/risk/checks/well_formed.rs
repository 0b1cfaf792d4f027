use crate::risk::{Check, GateContext, RejectReason, Rejection};

/// The exchange's lot: 0.01 share, in micro-shares.
pub const LOT: u64 = 10_000;

/// Refuses an intent for zero shares, or for a size the exchange would round (its lot is
/// 0.01 share).
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
                "size is zero: an intent must ask for at least 0.01 share",
            ));
        }
        if !ctx.intent.size.micros().is_multiple_of(LOT) {
            return Err(Rejection::new(
                RejectReason::InvalidIntent,
                format!(
                    "size {} is not a whole number of lots of 0.01 share (the exchange's lot)",
                    ctx.intent.size
                ),
            ));
        }
        Ok(())
    }
}
