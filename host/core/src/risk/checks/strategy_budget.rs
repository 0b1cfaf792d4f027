use crate::money::Usdc;
use crate::order::Side;
use crate::risk::{Check, GateContext, RejectReason, Rejection};

/// The strategy's own budget: exposure (positions and open BUYs), daily loss, open orders.
#[derive(Debug)]
pub struct StrategyBudget;

impl Check for StrategyBudget {
    fn name(&self) -> &'static str {
        "strategy_budget"
    }
    fn check(&self, ctx: &GateContext<'_>) -> Result<(), Rejection> {
        let (b, e) = (ctx.budget, ctx.exposure());
        let refuse = |what: String| {
            Err(Rejection::new(
                RejectReason::StrategyBudget,
                format!("strategy budget: {what}"),
            ))
        };
        if let Some(max) = b.max_open_orders
            && e.strategy_open_orders >= max
        {
            return refuse(format!(
                "{} open orders, limit {max}",
                e.strategy_open_orders
            ));
        }
        if let (Some(max), Side::Buy) = (b.max_exposure_usdc, ctx.intent.side) {
            let after = e.strategy_exposure + ctx.intent.notional();
            if after > max {
                return refuse(format!("exposure would be {after} USDC > {max} USDC"));
            }
        }
        if let Some(max) = b.max_daily_loss_usdc {
            let worst = e.strategy_committed_loss + e.intent_loss;
            if e.intent_loss > Usdc::ZERO && worst > max {
                return refuse(format!(
                    "worst-case loss today would be {worst} USDC > {max} USDC"
                ));
            }
        }
        Ok(())
    }
}
