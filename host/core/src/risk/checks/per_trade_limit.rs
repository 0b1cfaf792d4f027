use crate::risk::{Check, GateContext, RejectReason, Rejection};

/// Notional (price × size) at most the per-trade limit.
#[derive(Debug)]
pub struct PerTradeLimit;

impl Check for PerTradeLimit {
    fn name(&self) -> &'static str {
        "per_trade_limit"
    }
    fn check(&self, ctx: &GateContext<'_>) -> Result<(), Rejection> {
        let notional = ctx.intent.notional();
        let limit = ctx.limits.max_order_usdc;
        if notional > limit {
            return Err(Rejection::new(
                RejectReason::PerTradeLimit,
                format!(
                    "per-trade limit: {notional} USDC > {limit} USDC ({} shares at {}; risk.max_order_usdc)",
                    ctx.intent.size, ctx.intent.price
                ),
            ));
        }
        Ok(())
    }
}
