use crate::risk::{Check, GateContext, RejectReason, Rejection};

/// No new orders once the bankroll fell below its floor (the kill switch of the ledger).
#[derive(Debug)]
pub struct MinBankroll;

impl Check for MinBankroll {
    fn name(&self) -> &'static str {
        "min_bankroll"
    }
    fn check(&self, ctx: &GateContext<'_>) -> Result<(), Rejection> {
        match ctx.ledger.halt() {
            None => Ok(()),
            Some(trip) => Err(Rejection::new(
                RejectReason::MinBankroll,
                format!(
                    "trading halted: {}; no new orders until `polybox resume`",
                    trip.reason
                ),
            )),
        }
    }
}
