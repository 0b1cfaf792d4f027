//! The risk ledger: the day's realised P&L (global and per strategy), the losing streak,
//! the breaker, the bankroll and its peak, and a record of each trading day.
//!
//! The day rolls automatically at 00:00 in the configured time zone, by the kernel clock,
//! so replay and live roll at the same instant. On a roll the day's realised P&L starts
//! again from zero; open positions and orders are untouched (a reset never forgets open
//! exposure: it lives in the portfolio and the venue, not here).
//!
//! Cross-day policy for the streak: consecutive losing closes are counted across midnight.
//! A losing streak describes how a strategy trades, not the calendar, so only a winning
//! close clears it; the tripped breaker stays tripped across days until the operator
//! resets it (`polybox risk reset-breaker`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::StrategyId;
use crate::money::Usdc;

const DAY_MS: i64 = 86_400_000;

/// The trading day of a UTC millisecond timestamp, as days since 1970-01-01 in local time.
pub fn day_of(ts_ms: u64, tz_offset_minutes: i32) -> i64 {
    let local = i64::try_from(ts_ms).unwrap_or(i64::MAX) + i64::from(tz_offset_minutes) * 60_000;
    local.div_euclid(DAY_MS)
}

/// `YYYY-MM-DD` of a day number (proleptic Gregorian; H. Hinnant's civil_from_days).
pub fn date_of(day: i64) -> String {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Why trading stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trip {
    /// When, UTC ms.
    pub ts: u64,
    /// What happened, for people.
    pub reason: String,
}

/// One trading day's totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayRecord {
    /// Local date.
    pub date: String,
    /// Realised P&L of the day, fees included.
    pub realized_pnl: Usdc,
    /// Fills of the day.
    pub fills: u64,
    /// Closes (completed SELL orders) of the day.
    pub closes: u64,
    /// Losing closes of the day.
    pub losing_closes: u64,
}

/// The ledger. Serialisable as a whole for the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    tz_offset_minutes: i32,
    day: Option<i64>,
    realized_today: Usdc,
    strategy_today: BTreeMap<u32, Usdc>,
    consecutive_losses: u32,
    max_consecutive_losses: u32,
    breaker: Option<Trip>,
    halt: Option<Trip>,
    bankroll: Usdc,
    peak_bankroll: Usdc,
    days: Vec<DayRecord>,
    /// Bumped by every change worth persisting (not by bankroll marks alone).
    #[serde(skip)]
    revision: u64,
}

impl Ledger {
    /// A fresh ledger.
    pub fn new(tz_offset_minutes: i32, max_consecutive_losses: u32, bankroll: Usdc) -> Self {
        Ledger {
            tz_offset_minutes,
            day: None,
            realized_today: Usdc::ZERO,
            strategy_today: BTreeMap::new(),
            consecutive_losses: 0,
            max_consecutive_losses,
            breaker: None,
            halt: None,
            bankroll,
            peak_bankroll: bankroll,
            days: Vec::new(),
            revision: 0,
        }
    }

    /// Apply the current limits to a ledger loaded from the store.
    pub fn reconfigure(&mut self, tz_offset_minutes: i32, max_consecutive_losses: u32) {
        self.tz_offset_minutes = tz_offset_minutes;
        self.max_consecutive_losses = max_consecutive_losses;
    }

    /// Move to the day of `now`; on a new day the day's realised P&L starts from zero.
    /// Returns true when the day changed.
    pub fn roll(&mut self, now_ms: u64) -> bool {
        let day = day_of(now_ms, self.tz_offset_minutes);
        if self.day == Some(day) {
            return false;
        }
        if self.day.is_some_and(|d| d > day) {
            return false; // time never goes backwards for the ledger
        }
        self.revision += 1;
        self.day = Some(day);
        self.realized_today = Usdc::ZERO;
        self.strategy_today.clear();
        self.days.push(DayRecord {
            date: date_of(day),
            ..DayRecord::default()
        });
        true
    }

    fn today(&mut self) -> Option<&mut DayRecord> {
        self.days.last_mut()
    }

    /// Realised P&L changed by `delta` (a fill: fees on any fill, gains or losses on a SELL).
    pub fn on_realized(&mut self, strategy: StrategyId, delta: Usdc) {
        self.revision += 1;
        self.realized_today += delta;
        *self.strategy_today.entry(strategy.0).or_default() += delta;
        if let Some(d) = self.today() {
            d.realized_pnl += delta;
            d.fills += 1;
        }
    }

    /// A SELL order completed with this realised P&L: extends or clears the losing streak,
    /// and trips the breaker at the limit. Returns true when this close tripped it.
    pub fn on_close(&mut self, pnl: Usdc, ts: u64) -> bool {
        self.revision += 1;
        let losing = pnl.is_negative();
        if let Some(d) = self.today() {
            d.closes += 1;
            d.losing_closes += u64::from(losing);
        }
        if !losing {
            self.consecutive_losses = 0;
            return false;
        }
        self.consecutive_losses += 1;
        if self.consecutive_losses >= self.max_consecutive_losses && self.breaker.is_none() {
            self.breaker = Some(Trip {
                ts,
                reason: format!("{} consecutive losing closes", self.consecutive_losses),
            });
            return true;
        }
        false
    }

    /// The bankroll (cash plus marked positions) now; halts trading below `floor`.
    /// Returns true when this update halted trading.
    pub fn on_bankroll(&mut self, bankroll: Usdc, floor: Usdc, ts: u64) -> bool {
        self.bankroll = bankroll;
        if bankroll > self.peak_bankroll {
            self.peak_bankroll = bankroll;
        }
        if bankroll < floor && self.halt.is_none() {
            self.revision += 1;
            self.halt = Some(Trip {
                ts,
                reason: format!("bankroll {bankroll} USDC fell below the floor of {floor} USDC"),
            });
            return true;
        }
        false
    }

    /// Reset the breaker (the operator's decision); the streak starts again.
    pub fn reset_breaker(&mut self) {
        self.revision += 1;
        self.breaker = None;
        self.consecutive_losses = 0;
    }

    /// Lift a bankroll halt (the operator's decision).
    pub fn clear_halt(&mut self) {
        self.revision += 1;
        self.halt = None;
    }

    /// Changes worth persisting so far (not persisted itself).
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Realised P&L of the day, all strategies.
    pub fn realized_today(&self) -> Usdc {
        self.realized_today
    }

    /// Realised P&L of the day of one strategy.
    pub fn strategy_today(&self, strategy: StrategyId) -> Usdc {
        self.strategy_today
            .get(&strategy.0)
            .copied()
            .unwrap_or_default()
    }

    /// Consecutive losing closes.
    pub fn consecutive_losses(&self) -> u32 {
        self.consecutive_losses
    }

    /// The tripped breaker, if any.
    pub fn breaker(&self) -> Option<&Trip> {
        self.breaker.as_ref()
    }

    /// The bankroll halt, if any.
    pub fn halt(&self) -> Option<&Trip> {
        self.halt.as_ref()
    }

    /// Last bankroll seen.
    pub fn bankroll(&self) -> Usdc {
        self.bankroll
    }

    /// Highest bankroll seen.
    pub fn peak_bankroll(&self) -> Usdc {
        self.peak_bankroll
    }

    /// Every trading day seen, oldest first.
    pub fn days(&self) -> &[DayRecord] {
        &self.days
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usdc(s: &str) -> Usdc {
        Usdc::parse(s).unwrap()
    }

    const MIDNIGHT: u64 = 1_795_651_200_000; // 2026-11-26T00:00:00Z

    #[test]
    fn dates() {
        assert_eq!(date_of(0), "1970-01-01");
        assert_eq!(date_of(day_of(MIDNIGHT, 0)), "2026-11-26");
        assert_eq!(date_of(day_of(MIDNIGHT - 1, 0)), "2026-11-25");
        // at UTC+02:00 the day started two hours earlier
        assert_eq!(date_of(day_of(MIDNIGHT - 3_600_000, 120)), "2026-11-26");
        assert_eq!(date_of(day_of(MIDNIGHT + 3_600_000, -120)), "2026-11-25");
    }

    #[test]
    fn the_day_resets_at_midnight_and_keeps_a_record() {
        let mut l = Ledger::new(0, 5, usdc("300"));
        assert!(l.roll(MIDNIGHT - 10));
        l.on_realized(StrategyId(0), usdc("-29"));
        assert_eq!(l.realized_today(), usdc("-29"));
        assert!(!l.roll(MIDNIGHT - 1));
        assert!(l.roll(MIDNIGHT));
        assert_eq!(l.realized_today(), Usdc::ZERO);
        assert_eq!(l.strategy_today(StrategyId(0)), Usdc::ZERO);
        l.on_realized(StrategyId(0), usdc("2"));
        let days = l.days();
        assert_eq!(days.len(), 2);
        assert_eq!(
            (days[0].date.as_str(), days[0].realized_pnl),
            ("2026-11-25", usdc("-29"))
        );
        assert_eq!(
            (days[1].date.as_str(), days[1].realized_pnl),
            ("2026-11-26", usdc("2"))
        );
        // time going backwards does not reopen a day
        assert!(!l.roll(MIDNIGHT - 5));
    }

    #[test]
    fn the_streak_and_the_breaker_carry_across_midnight() {
        let mut l = Ledger::new(0, 5, usdc("300"));
        l.roll(MIDNIGHT - 10);
        for _ in 0..3 {
            assert!(!l.on_close(usdc("-1"), 0));
        }
        l.roll(MIDNIGHT);
        assert_eq!(l.consecutive_losses(), 3);
        assert!(!l.on_close(usdc("-1"), 1));
        assert!(l.on_close(usdc("-1"), 2));
        assert!(l.breaker().is_some());
        l.roll(MIDNIGHT + DAY_MS as u64);
        assert!(
            l.breaker().is_some(),
            "only the operator resets the breaker"
        );
        l.reset_breaker();
        assert_eq!(l.consecutive_losses(), 0);
    }

    #[test]
    fn a_winning_close_clears_the_streak() {
        let mut l = Ledger::new(0, 5, usdc("300"));
        l.roll(0);
        for _ in 0..4 {
            l.on_close(usdc("-1"), 0);
        }
        l.on_close(usdc("0.01"), 0);
        assert_eq!(l.consecutive_losses(), 0);
    }

    #[test]
    fn the_bankroll_floor_halts_and_the_peak_is_kept() {
        let mut l = Ledger::new(0, 5, usdc("300"));
        assert!(!l.on_bankroll(usdc("310"), usdc("30"), 0));
        assert!(l.on_bankroll(usdc("29.99"), usdc("30"), 1));
        assert!(!l.on_bankroll(usdc("20"), usdc("30"), 2), "halts once");
        assert_eq!(l.peak_bankroll(), usdc("310"));
        assert!(l.halt().unwrap().reason.contains("29.99"));
    }
}
