//! The gate: runs every check against an intent.

use serde::Deserialize;

use super::checks;
use super::{Approved, Check, Rejection};
use crate::book::OrderBook;
use crate::kill_switch::KillSwitch;
use crate::money::{Size, Usdc};
use crate::order::Intent;

/// The limits the gate enforces (the `[risk]` config section).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest notional of one order, USDC (audit: $15).
    pub max_order_usdc: Usdc,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_order_usdc: Usdc::from_micros(15_000_000),
        }
    }
}

/// Everything a check may look at.
#[derive(Debug)]
pub struct GateContext<'a> {
    /// The intent.
    pub intent: &'a Intent,
    /// The token's book.
    pub book: &'a OrderBook,
    /// The limits in force.
    pub limits: &'a Limits,
    /// The kill switch.
    pub kill_switch: &'a KillSwitch,
    /// Shares of this token the strategy holds and has not already offered for sale.
    pub sellable: Size,
}

/// Runs the checks in order; the first refusal wins.
pub struct Gate {
    limits: Limits,
    kill_switch: KillSwitch,
    checks: Vec<Box<dyn Check>>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("limits", &self.limits)
            .field(
                "checks",
                &self.checks.iter().map(|c| c.name()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Gate {
    /// A gate with every check of the spine: kill switch, well-formed intent, price range,
    /// tick, minimum size, per-trade limit, tradable book, post-only crossing, held shares.
    pub fn new(limits: Limits, kill_switch: KillSwitch) -> Self {
        Gate {
            limits,
            kill_switch,
            checks: checks::standard(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The kill switch.
    pub fn kill_switch(&self) -> &KillSwitch {
        &self.kill_switch
    }

    /// Check an intent against its book. `sellable` is what the strategy could sell now.
    pub fn evaluate(
        &self,
        intent: Intent,
        book: &OrderBook,
        sellable: Size,
    ) -> Result<Approved, Rejection> {
        let ctx = GateContext {
            intent: &intent,
            book,
            limits: &self.limits,
            kill_switch: &self.kill_switch,
            sellable,
        };
        for check in &self.checks {
            check.check(&ctx)?;
        }
        Ok(Approved(intent))
    }
}
