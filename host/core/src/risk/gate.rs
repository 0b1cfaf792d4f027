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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{StrategyId, TokenId};
    use crate::order::{Side, TimeInForce};
    use crate::risk::RejectReason;
    use crate::test_util::{lvl, p, q};

    fn book() -> OrderBook {
        let mut b = OrderBook::new(TokenId::new("t"), p("0.01"), q("5"));
        b.apply_snapshot(1, [lvl("0.40", "100")], [lvl("0.45", "100")]);
        b
    }

    fn intent(price: &str, size: &str) -> Intent {
        Intent {
            strategy: StrategyId(0),
            token: TokenId::new("t"),
            side: Side::Buy,
            price: p(price),
            size: q(size),
            tif: TimeInForce::Gtc,
            post_only: false,
        }
    }

    fn verdict(gate: &Gate, i: Intent) -> Result<(), RejectReason> {
        gate.evaluate(i, &book(), Size::ZERO)
            .map(|_| ())
            .map_err(|r| r.reason)
    }

    fn gate() -> Gate {
        Gate::new(
            Limits::default(),
            KillSwitch::new("/nonexistent/polybox/kill"),
        )
    }

    #[test]
    fn each_check_refuses_with_its_reason() {
        let g = gate();
        assert_eq!(verdict(&g, intent("0.42", "10")), Ok(()));
        assert_eq!(
            verdict(&g, intent("0.42", "0")),
            Err(RejectReason::InvalidIntent)
        );
        assert_eq!(
            verdict(&g, intent("1", "10")),
            Err(RejectReason::PriceOutOfRange)
        );
        assert_eq!(
            verdict(&g, intent("0", "10")),
            Err(RejectReason::PriceOutOfRange)
        );
        assert_eq!(
            verdict(&g, intent("0.425", "10")),
            Err(RejectReason::OffTick)
        );
        assert_eq!(
            verdict(&g, intent("0.42", "4.99")),
            Err(RejectReason::BelowMinSize)
        );
        // $15 limit: 35 × 0.42 = 14.70 passes, 36 × 0.42 = 15.12 does not
        assert_eq!(verdict(&g, intent("0.42", "35")), Ok(()));
        assert_eq!(
            verdict(&g, intent("0.42", "36")),
            Err(RejectReason::PerTradeLimit)
        );
        let mut post = intent("0.45", "10");
        post.post_only = true;
        assert_eq!(verdict(&g, post), Err(RejectReason::WouldCross));
        let mut sell = intent("0.50", "10");
        sell.side = Side::Sell;
        assert_eq!(verdict(&g, sell), Err(RejectReason::InsufficientBalance));
    }

    #[test]
    fn the_per_trade_message_names_the_limit_and_the_value() {
        let r = gate()
            .evaluate(intent("0.42", "36"), &book(), Size::ZERO)
            .unwrap_err();
        assert!(
            r.message.contains("15.12") && r.message.contains("15 USDC"),
            "{}",
            r.message
        );
    }

    #[test]
    fn the_kill_switch_refuses_everything_while_the_file_exists() {
        let dir = std::env::temp_dir().join(format!("polybox-gate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ks = KillSwitch::new(dir.join("kill"));
        let g = Gate::new(Limits::default(), ks.clone());
        assert_eq!(verdict(&g, intent("0.42", "10")), Ok(()));
        ks.engage("test").unwrap();
        assert_eq!(
            verdict(&g, intent("0.42", "10")),
            Err(RejectReason::KillSwitch)
        );
        ks.release().unwrap();
        assert_eq!(verdict(&g, intent("0.42", "10")), Ok(()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
