use crate::risk::{Check, GateContext, RejectReason, Rejection};

/// Price on the market's tick.
#[derive(Debug)]
pub struct OnTick;

impl Check for OnTick {
    fn name(&self) -> &'static str {
        "tick"
    }
    fn check(&self, ctx: &GateContext<'_>) -> Result<(), Rejection> {
        let (p, tick) = (ctx.intent.price, ctx.book.tick());
        if !p.is_on_tick(tick) {
            return Err(Rejection::new(
                RejectReason::Tick,
                format!("price {p} is not a multiple of the market's tick {tick}"),
            ));
        }
        Ok(())
    }
}
