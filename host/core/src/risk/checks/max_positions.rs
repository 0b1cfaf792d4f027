use crate::risk::{Check, GateContext, RejectReason, Rejection};

/// A BUY that would open a new position only below the position limit (positions held or
/// being bought, all strategies together).
#[derive(Debug)]
pub struct MaxPositions;

impl Check for MaxPositions {
    fn name(&self) -> &'static str {
        "max_positions"
    }
    fn check(&self, ctx: &GateContext<'_>) -> Result<(), Rejection> {
        let (open, max) = (ctx.exposure().open_positions, ctx.limits.max_positions);
        if ctx.exposure().opens_position && open >= max {
            return Err(Rejection::new(
                RejectReason::MaxPositions,
                format!(
                    "max positions: {open} held or being bought, limit {max} (risk.max_positions)"
                ),
            ));
        }
        Ok(())
    }
}
