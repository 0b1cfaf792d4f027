use crate::money::Price;
use crate::risk::{Check, GateContext, RejectReason, Rejection};

/// Price strictly inside (0, 1).
#[derive(Debug)]
pub struct PriceBounds;

impl Check for PriceBounds {
    fn name(&self) -> &'static str {
        "price_bounds"
    }
    fn check(&self, ctx: &GateContext<'_>) -> Result<(), Rejection> {
        let p = ctx.intent.price;
        if p == Price::ZERO || p >= Price::ONE {
            return Err(Rejection::new(
                RejectReason::PriceBounds,
                format!("price {p} is not strictly between 0 and 1"),
            ));
        }
        Ok(())
    }
}
