use crate::book::BookHealth;
use crate::risk::{Check, GateContext, RejectReason, Rejection};

/// No orders on a crossed or unsynchronised book.
#[derive(Debug)]
pub struct BookTradable;

impl Check for BookTradable {
    fn name(&self) -> &'static str {
        "book_tradable"
    }
    fn check(&self, ctx: &GateContext<'_>) -> Result<(), Rejection> {
        let why = match ctx.book.health() {
            BookHealth::Tradable => return Ok(()),
            BookHealth::Crossed => "crossed",
            BookHealth::Unsynced => "waiting for a snapshot",
            BookHealth::Stale => "stale (the market feed is down)",
        };
        Err(Rejection::new(
            RejectReason::BookNotTradable,
            format!(
                "book of token {} is {why}: orders are held until it is whole again",
                ctx.book.token().short()
            ),
        ))
    }
}
