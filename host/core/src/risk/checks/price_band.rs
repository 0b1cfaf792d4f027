use crate::money::Price;
use crate::order::Side;
use crate::risk::{Check, GateContext, RejectReason, Rejection};

/// Fat-finger guard: a BUY at most N ticks above the best ask, a SELL at most N ticks below
/// the best bid.
#[derive(Debug)]
pub struct PriceBand;

impl Check for PriceBand {
    fn name(&self) -> &'static str {
        "price_band"
    }
    fn check(&self, ctx: &GateContext<'_>) -> Result<(), Rejection> {
        let i = ctx.intent;
        let band = ctx
            .book
            .tick()
            .micros()
            .saturating_mul(ctx.limits.price_band_ticks);
        let (beyond, reference) = match i.side {
            Side::Buy => match ctx.book.best_ask() {
                Some(a) => (
                    i.price.micros() > a.price.micros().saturating_add(band),
                    a.price,
                ),
                None => return Ok(()),
            },
            Side::Sell => match ctx.book.best_bid() {
                Some(b) => (
                    i.price.micros() < b.price.micros().saturating_sub(band),
                    b.price,
                ),
                None => return Ok(()),
            },
        };
        if beyond {
            return Err(Rejection::new(
                RejectReason::PriceBand,
                format!(
                    "price band: {:?} at {} is more than {} ticks ({}) through the best {} {reference}",
                    i.side,
                    i.price,
                    ctx.limits.price_band_ticks,
                    Price::from_micros(band),
                    if i.side == Side::Buy { "ask" } else { "bid" },
                ),
            ));
        }
        Ok(())
    }
}
