//! The gate: the rate limit, then every check, against an intent.

use std::cell::OnceCell;
use std::collections::BTreeMap;

use super::checks;
use super::exposure::Exposure;
use super::ledger::Ledger;
use super::limits::{Budget, Limits};
use super::rate_limit::TokenBucket;
use super::{Approved, Check, RejectReason, Rejection};
use crate::book::OrderBook;
use crate::ids::StrategyId;
use crate::kill_switch::KillSwitch;
use crate::order::Intent;

/// What an intent adds to open risk, worked out by the desk when a check first asks.
pub type ExposureOf<'a> = &'a dyn Fn(&Intent) -> Exposure;

/// Everything a check may look at.
pub struct GateContext<'a> {
    /// The intent.
    pub intent: &'a Intent,
    /// The token's book.
    pub book: &'a OrderBook,
    /// The global limits.
    pub limits: &'a Limits,
    /// The strategy's budget.
    pub budget: &'a Budget,
    /// The kill switch.
    pub kill_switch: &'a KillSwitch,
    /// Whether it is engaged, as read for this intent (or for the turn it belongs to).
    pub kill_switch_engaged: bool,
    /// The day's ledger.
    pub ledger: &'a Ledger,
    exposure_of: ExposureOf<'a>,
    exposure: OnceCell<Exposure>,
}

impl GateContext<'_> {
    /// What the intent adds to open risk: worked out at the first check that asks (an
    /// intent refused before that never pays for it), then kept.
    pub fn exposure(&self) -> &Exposure {
        self.exposure
            .get_or_init(|| (self.exposure_of)(self.intent))
    }
}

impl std::fmt::Debug for GateContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GateContext")
            .field("intent", &self.intent)
            .field("kill_switch_engaged", &self.kill_switch_engaged)
            .field("exposure", &self.exposure.get())
            .finish_non_exhaustive()
    }
}

/// The risk manager's front door: owns the limits, budgets, ledger, kill switch and rate
/// buckets, and is the only maker of [`Approved`] intents.
pub struct Gate {
    limits: Limits,
    kill_switch: KillSwitch,
    /// The kill switch as read at the start of the kernel's current turn, if one is open.
    turn_reading: Option<bool>,
    ledger: Ledger,
    budgets: BTreeMap<StrategyId, Budget>,
    buckets: BTreeMap<StrategyId, TokenBucket>,
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

static NO_BUDGET: Budget = Budget {
    max_exposure_usdc: None,
    max_daily_loss_usdc: None,
    max_open_orders: None,
    slippage_pct: None,
    pause_slippage_pct: None,
};

impl Gate {
    /// A gate with every check, the limits' time zone, and a fresh ledger.
    /// `limits` must be valid ([`Limits::problems`] empty).
    pub fn new(limits: Limits, kill_switch: KillSwitch) -> Self {
        let ledger = Ledger::new(
            limits.tz_offset_minutes().unwrap_or(0),
            limits.max_consecutive_losses,
            limits.capital_usdc,
        );
        Self::with_ledger(limits, kill_switch, ledger)
    }

    /// A gate continuing from a stored ledger.
    pub fn with_ledger(limits: Limits, kill_switch: KillSwitch, mut ledger: Ledger) -> Self {
        ledger.reconfigure(
            limits.tz_offset_minutes().unwrap_or(0),
            limits.max_consecutive_losses,
        );
        Gate {
            limits,
            kill_switch,
            turn_reading: None,
            ledger,
            budgets: BTreeMap::new(),
            buckets: BTreeMap::new(),
            checks: checks::standard(),
        }
    }

    /// Give a strategy its budget.
    pub fn set_budget(&mut self, strategy: StrategyId, budget: Budget) {
        self.budgets.insert(strategy, budget);
    }

    /// A strategy's budget.
    pub fn budget(&self, strategy: StrategyId) -> &Budget {
        self.budgets.get(&strategy).unwrap_or(&NO_BUDGET)
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The kill switch.
    pub fn kill_switch(&self) -> &KillSwitch {
        &self.kill_switch
    }

    /// Read the kill switch once for a turn of the kernel (one market message and every
    /// intent it causes), and return the reading: until [`Gate::end_turn`], intents are
    /// judged on it instead of each reading the file again. The switch still stops every
    /// order from the next message on; a file created during a turn cannot be told apart
    /// from one created just after it.
    pub fn begin_turn(&mut self) -> bool {
        let engaged = self.kill_switch.is_engaged();
        self.turn_reading = Some(engaged);
        engaged
    }

    /// Close the turn: intents read the kill switch themselves again.
    pub fn end_turn(&mut self) {
        self.turn_reading = None;
    }

    /// The ledger.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The ledger, to record fills, closes, the bankroll and day rolls.
    pub fn ledger_mut(&mut self) -> &mut Ledger {
        &mut self.ledger
    }

    /// The rate limit: take a token from the strategy's bucket at kernel time `now_ms`.
    pub fn admit(&mut self, strategy: StrategyId, now_ms: u64) -> Result<(), Rejection> {
        let (rate, burst) = (self.limits.intents_per_sec, self.limits.intent_burst);
        let bucket = self
            .buckets
            .entry(strategy)
            .or_insert_with(|| TokenBucket::full(burst, now_ms));
        if !bucket.try_take(now_ms, rate, burst) {
            return Err(Rejection::new(
                RejectReason::RateLimit,
                format!(
                    "rate limit: more than {rate} intents/s (burst {burst}) from this strategy"
                ),
            ));
        }
        Ok(())
    }

    /// Every check, in order, against an intent already admitted by the rate limit.
    /// `exposure_of` is called once, when the first check needs the exposure.
    pub fn judge(
        &self,
        intent: Intent,
        book: &OrderBook,
        exposure_of: ExposureOf<'_>,
    ) -> Result<Approved, Rejection> {
        let ctx = GateContext {
            intent: &intent,
            book,
            limits: &self.limits,
            budget: self.budgets.get(&intent.strategy).unwrap_or(&NO_BUDGET),
            kill_switch: &self.kill_switch,
            kill_switch_engaged: self
                .turn_reading
                .unwrap_or_else(|| self.kill_switch.is_engaged()),
            ledger: &self.ledger,
            exposure_of,
            exposure: OnceCell::new(),
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
    use crate::ids::TokenId;
    use crate::money::{Size, Usdc};
    use crate::order::{Side, TimeInForce};
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

    fn usdc(s: &str) -> Usdc {
        Usdc::parse(s).unwrap()
    }

    /// Room everywhere: only the intent itself and the book can refuse.
    fn roomy() -> Exposure {
        Exposure {
            sellable: Size::ZERO,
            available: Ok(usdc("1000")),
            spend: Usdc::ZERO,
            open_positions: 0,
            opens_position: true,
            committed_loss: Usdc::ZERO,
            strategy_committed_loss: Usdc::ZERO,
            intent_loss: Usdc::ZERO,
            strategy_exposure: Usdc::ZERO,
            strategy_open_orders: 0,
        }
    }

    /// The rate limit, then every check, as the desk asks them.
    fn evaluate(g: &mut Gate, i: Intent, now_ms: u64) -> Result<Approved, Rejection> {
        g.admit(i.strategy, now_ms)?;
        g.judge(i, &book(), &|_| roomy())
    }

    fn verdict_with(gate: &mut Gate, i: Intent, e: &Exposure) -> Result<(), RejectReason> {
        gate.admit(i.strategy, 0).map_err(|r| r.reason)?;
        gate.judge(i, &book(), &|_| e.clone())
            .map(|_| ())
            .map_err(|r| r.reason)
    }

    fn verdict(gate: &mut Gate, i: Intent) -> Result<(), RejectReason> {
        verdict_with(gate, i, &roomy())
    }

    fn gate() -> Gate {
        Gate::new(
            Limits::default(),
            KillSwitch::new("/nonexistent/polybox/kill"),
        )
    }

    #[test]
    fn each_intent_check_refuses_with_its_reason() {
        let g = &mut gate();
        assert_eq!(verdict(g, intent("0.42", "10")), Ok(()));
        assert_eq!(
            verdict(g, intent("0.42", "0")),
            Err(RejectReason::InvalidIntent)
        );
        assert_eq!(
            verdict(g, intent("1", "10")),
            Err(RejectReason::PriceBounds)
        );
        assert_eq!(
            verdict(g, intent("0", "10")),
            Err(RejectReason::PriceBounds)
        );
        assert_eq!(verdict(g, intent("0.425", "10")), Err(RejectReason::Tick));
        assert_eq!(
            verdict(g, intent("0.42", "4.99")),
            Err(RejectReason::MinSize)
        );
        // $15 limit: 35 × 0.42 = 14.70 passes, 36 × 0.42 = 15.12 does not
        assert_eq!(verdict(g, intent("0.42", "35")), Ok(()));
        assert_eq!(
            verdict(g, intent("0.42", "36")),
            Err(RejectReason::PerTradeLimit)
        );
        let mut post = intent("0.45", "10");
        post.post_only = true;
        assert_eq!(verdict(g, post), Err(RejectReason::WouldCross));
        let mut sell = intent("0.50", "10");
        sell.side = Side::Sell;
        assert_eq!(verdict(g, sell), Err(RejectReason::InsufficientBalance));
        // price band: best ask 0.45, 10 ticks = 0.55 still fine, 0.56 is a fat finger
        assert_eq!(verdict(g, intent("0.55", "10")), Ok(()));
        assert_eq!(
            verdict(g, intent("0.56", "10")),
            Err(RejectReason::PriceBand)
        );
        let mut low = intent("0.29", "10");
        low.side = Side::Sell;
        let e = Exposure {
            sellable: q("10"),
            ..roomy()
        };
        assert_eq!(verdict_with(g, low, &e), Err(RejectReason::PriceBand));
    }

    #[test]
    fn exposure_checks_refuse_with_their_reasons() {
        let g = &mut gate();
        let buy = || intent("0.42", "10");
        let e = Exposure {
            available: Ok(usdc("4")),
            spend: usdc("4.3"),
            ..roomy()
        };
        assert_eq!(
            verdict_with(g, buy(), &e),
            Err(RejectReason::InsufficientBalance)
        );
        let e = Exposure {
            available: Err("rpc down".to_owned()),
            ..roomy()
        };
        assert_eq!(
            verdict_with(g, buy(), &e),
            Err(RejectReason::BalanceUnavailable)
        );
        let e = Exposure {
            open_positions: 5,
            ..roomy()
        };
        assert_eq!(verdict_with(g, buy(), &e), Err(RejectReason::MaxPositions));
        let e = Exposure {
            open_positions: 5,
            opens_position: false,
            ..roomy()
        };
        assert_eq!(
            verdict_with(g, buy(), &e),
            Ok(()),
            "adding to a held token opens nothing"
        );
        let e = Exposure {
            committed_loss: usdc("29.99"),
            intent_loss: usdc("0.02"),
            ..roomy()
        };
        assert_eq!(
            verdict_with(g, buy(), &e),
            Err(RejectReason::DailyLossLimit)
        );
        g.set_budget(
            StrategyId(0),
            Budget {
                max_open_orders: Some(3),
                ..Budget::default()
            },
        );
        let e = Exposure {
            strategy_open_orders: 3,
            ..roomy()
        };
        assert_eq!(
            verdict_with(g, buy(), &e),
            Err(RejectReason::StrategyBudget)
        );
        g.set_budget(
            StrategyId(0),
            Budget {
                max_exposure_usdc: Some(usdc("10")),
                ..Budget::default()
            },
        );
        let e = Exposure {
            strategy_exposure: usdc("6"),
            ..roomy()
        };
        assert_eq!(
            verdict_with(g, buy(), &e),
            Err(RejectReason::StrategyBudget),
            "6 + 4.2 > 10"
        );
        g.set_budget(
            StrategyId(0),
            Budget {
                max_daily_loss_usdc: Some(usdc("1")),
                ..Budget::default()
            },
        );
        let e = Exposure {
            strategy_committed_loss: usdc("0.99"),
            intent_loss: usdc("0.02"),
            ..roomy()
        };
        assert_eq!(
            verdict_with(g, buy(), &e),
            Err(RejectReason::StrategyBudget)
        );
    }

    #[test]
    fn the_day_s_realised_loss_stops_buys_and_the_breaker_stops_everything() {
        let g = &mut gate();
        g.ledger_mut().roll(0);
        g.ledger_mut().on_realized(StrategyId(0), usdc("-30"));
        assert_eq!(
            verdict(g, intent("0.42", "10")),
            Err(RejectReason::DailyLossLimit)
        );
        let mut sell = intent("0.42", "10");
        sell.side = Side::Sell;
        let e = Exposure {
            sellable: q("10"),
            ..roomy()
        };
        assert_eq!(
            verdict_with(g, sell.clone(), &e),
            Ok(()),
            "a SELL at no loss still reduces risk"
        );
        for _ in 0..5 {
            g.ledger_mut().on_close(usdc("-1"), 0);
        }
        assert_eq!(verdict_with(g, sell, &e), Err(RejectReason::Breaker));
        g.ledger_mut().on_bankroll(usdc("1"), usdc("30"), 0);
        assert_eq!(
            verdict(g, intent("0.42", "10")),
            Err(RejectReason::MinBankroll)
        );
    }

    #[test]
    fn the_rate_limit_is_a_token_bucket_on_kernel_time() {
        let g = &mut gate();
        let mut ok = 0;
        for _ in 0..100 {
            if evaluate(g, intent("0.42", "10"), 1_000).is_ok() {
                ok += 1;
            }
        }
        assert_eq!(ok, 40);
        let r = evaluate(g, intent("0.42", "10"), 1_000).unwrap_err();
        assert_eq!(r.reason, RejectReason::RateLimit);
        assert!(evaluate(g, intent("0.42", "10"), 1_050).is_ok());
    }

    #[test]
    fn the_per_trade_message_names_the_limit_and_the_value() {
        let r = evaluate(&mut gate(), intent("0.42", "36"), 0).unwrap_err();
        assert!(
            r.message.contains("per-trade limit: 15.12 USDC > 15 USDC"),
            "{}",
            r.message
        );
    }

    #[test]
    fn the_kill_switch_refuses_everything_while_the_file_exists() {
        let dir = std::env::temp_dir().join(format!("polybox-gate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ks = KillSwitch::new(dir.join("kill"));
        let g = &mut Gate::new(Limits::default(), ks.clone());
        assert_eq!(verdict(g, intent("0.42", "10")), Ok(()));
        ks.engage("test").unwrap();
        assert_eq!(
            verdict(g, intent("0.42", "10")),
            Err(RejectReason::KillSwitch)
        );
        ks.release().unwrap();
        assert_eq!(verdict(g, intent("0.42", "10")), Ok(()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_exposure_is_worked_out_once_and_only_when_a_check_needs_it() {
        let g = &mut gate();
        let calls = std::cell::Cell::new(0);
        let counted = |_: &Intent| {
            calls.set(calls.get() + 1);
            roomy()
        };
        // Off the tick: refused before any check that looks at the exposure.
        let r = g.judge(intent("0.425", "10"), &book(), &counted);
        assert_eq!(r.map(|_| ()).map_err(|r| r.reason), Err(RejectReason::Tick));
        assert_eq!(calls.get(), 0);
        // Approved: every exposure check ran, on one computation.
        assert!(g.judge(intent("0.42", "10"), &book(), &counted).is_ok());
        assert_eq!(calls.get(), 1);
    }

    #[test]
    fn within_a_turn_intents_are_judged_on_the_turn_s_reading_and_after_it_on_the_file() {
        let dir = std::env::temp_dir().join(format!("polybox-turn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ks = KillSwitch::new(dir.join("kill"));
        let g = &mut Gate::new(Limits::default(), ks.clone());
        ks.engage("drill").unwrap();
        assert!(g.begin_turn());
        ks.release().unwrap();
        assert_eq!(
            verdict(g, intent("0.42", "10")),
            Err(RejectReason::KillSwitch),
            "the turn's reading holds for the turn"
        );
        g.end_turn();
        assert_eq!(verdict(g, intent("0.42", "10")), Ok(()));
        assert!(!g.begin_turn());
        ks.engage("drill").unwrap();
        assert_eq!(verdict(g, intent("0.42", "10")), Ok(()));
        g.end_turn();
        assert_eq!(
            verdict(g, intent("0.42", "10")),
            Err(RejectReason::KillSwitch),
            "outside a turn every intent reads the file"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
