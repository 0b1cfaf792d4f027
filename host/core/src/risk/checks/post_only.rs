use crate::order::Side;
use crate::risk::{Check, GateContext, RejectReason, Rejection};

/// A post-only order must not cross the book.
#[derive(Debug)]
pub struct PostOnly;

impl Check for PostOnly {
    fn name(&self) -> &'static str {
        "post_only"
    }
    fn check(&self, ctx: &GateContext<'_>) -> Result<(), Rejection> {
        let i = ctx.intent;
        if !i.post_only {
            return Ok(());
        }
        let crosses = match i.side {
            Side::Buy => ctx.book.best_ask().is_some_and(|a| i.price >= a.price),
            Side::Sell => ctx.book.best_bid().is_some_and(|b| i.price <= b.price),
        };
        if crosses {
            return Err(Rejection::new(
                RejectReason::WouldCross,
                format!("post-only {:?} at {} would cross the book", i.side, i.price),
            ));
        }
        Ok(())
    }
}
