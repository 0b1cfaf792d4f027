use crate::risk::{Check, GateContext, RejectReason, Rejection};

/// Size at least the market's minimum.
#[derive(Debug)]
pub struct MinSize;

impl Check for MinSize {
    fn name(&self) -> &'static str {
        "min_size"
    }
    fn check(&self, ctx: &GateContext<'_>) -> Result<(), Rejection> {
        let (s, min) = (ctx.intent.size, ctx.book.min_size());
        if s < min {
            return Err(Rejection::new(
                RejectReason::MinSize,
                format!("size {s} is below the market's minimum of {min} shares"),
            ));
        }
        Ok(())
    }
}
