use crate::order::Side;
use crate::risk::{Check, GateContext, RejectReason, Rejection};

/// A BUY only if the free balance covers its notional and worst taker fee; fails closed
/// when the balance cannot be read.
#[derive(Debug)]
pub struct BalanceCovers;

impl Check for BalanceCovers {
    fn name(&self) -> &'static str {
        "balance"
    }
    fn check(&self, ctx: &GateContext<'_>) -> Result<(), Rejection> {
        let i = ctx.intent;
        if i.side != Side::Buy {
            return Ok(());
        }
        let spend = ctx.exposure().spend;
        match &ctx.exposure().available {
            Err(why) => Err(Rejection::new(
                RejectReason::BalanceUnavailable,
                format!("balance unavailable ({why}): BUYs are refused until it can be read"),
            )),
            Ok(available) if *available < spend => Err(Rejection::new(
                RejectReason::InsufficientBalance,
                format!(
                    "balance {available} USDC < required {spend} USDC for BUY {} @ {} on token {}",
                    i.size,
                    i.price,
                    i.token.short()
                ),
            )),
            Ok(_) => Ok(()),
        }
    }
}
