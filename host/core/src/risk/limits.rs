//! The operator's limits: global (`[risk]`) and per strategy (`[strategies.NAME]`).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::Usdc;

/// Global limits, with the audit's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Trading capital, USDC: the paper wallet's starting cash and the base of the bankroll floor.
    pub capital_usdc: Usdc,
    /// Largest realised loss of one day (fees included), USDC (audit: $30, 10 %).
    pub max_daily_loss_usdc: Usdc,
    /// Largest notional of one order, USDC (audit: $15, 5 %).
    pub max_order_usdc: Usdc,
    /// Most tokens held (or being bought) at once, all strategies together (audit: 5).
    pub max_positions: u32,
    /// Consecutive losing closes that trip the breaker (audit: 5).
    pub max_consecutive_losses: u32,
    /// Bankroll floor, percent of capital: below it trading halts (audit: 10 %).
    #[serde(deserialize_with = "crate::money::flexible_decimal")]
    pub min_bankroll_pct: Decimal,
    /// Fat-finger guard: a BUY at most this many ticks above the best ask (a SELL below the best bid).
    pub price_band_ticks: u32,
    /// Intents per second per strategy (token bucket rate).
    pub intents_per_sec: u32,
    /// Token bucket burst per strategy.
    pub intent_burst: u32,
    /// Time zone of the trading day, as `UTC` or a fixed offset `+HH:MM` / `-HH:MM`.
    pub timezone: String,
    /// Slippage of a fill against the price expected when the order was sent, percent,
    /// above which it is counted and logged (audit: 1 %).
    #[serde(deserialize_with = "crate::money::flexible_decimal")]
    pub slippage_pct: Decimal,
    /// Slippage, percent, above which the strategy is paused.
    #[serde(deserialize_with = "crate::money::flexible_decimal")]
    pub pause_slippage_pct: Decimal,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            capital_usdc: Usdc::from_micros(300_000_000),
            max_daily_loss_usdc: Usdc::from_micros(30_000_000),
            max_order_usdc: Usdc::from_micros(15_000_000),
            max_positions: 5,
            max_consecutive_losses: 5,
            min_bankroll_pct: Decimal::from(10),
            price_band_ticks: 10,
            intents_per_sec: 20,
            intent_burst: 40,
            timezone: "UTC".to_owned(),
            slippage_pct: Decimal::ONE,
            pause_slippage_pct: Decimal::from(5),
        }
    }
}

impl Limits {
    /// The trading day's offset from UTC in minutes, or why `timezone` is not understood.
    pub fn tz_offset_minutes(&self) -> Result<i32, String> {
        parse_offset(&self.timezone)
    }

    /// The bankroll floor in USDC.
    pub fn min_bankroll(&self) -> Usdc {
        Usdc::new(self.capital_usdc.to_decimal() * self.min_bankroll_pct / Decimal::from(100))
    }

    /// Every problem with these limits.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let positive = |v: Usdc| !v.is_negative() && v.to_micros() > 0;
        for (name, v) in [
            ("risk.capital_usdc", self.capital_usdc),
            ("risk.max_daily_loss_usdc", self.max_daily_loss_usdc),
            ("risk.max_order_usdc", self.max_order_usdc),
        ] {
            if !positive(v) {
                p.push(format!("{name} must be above 0 (got {v})"));
            }
        }
        if self.max_order_usdc > self.capital_usdc {
            p.push(format!(
                "risk.max_order_usdc ({}) must not exceed risk.capital_usdc ({})",
                self.max_order_usdc, self.capital_usdc
            ));
        }
        if self.max_positions == 0 {
            p.push("risk.max_positions must be at least 1".to_owned());
        }
        if self.max_consecutive_losses == 0 {
            p.push("risk.max_consecutive_losses must be at least 1".to_owned());
        }
        if self.min_bankroll_pct < Decimal::ZERO || self.min_bankroll_pct >= Decimal::from(100) {
            p.push(format!(
                "risk.min_bankroll_pct must be in [0, 100) (got {})",
                self.min_bankroll_pct
            ));
        }
        if self.intents_per_sec == 0 || self.intent_burst == 0 {
            p.push("risk.intents_per_sec and risk.intent_burst must be at least 1".to_owned());
        }
        if let Err(e) = self.tz_offset_minutes() {
            p.push(e);
        }
        p
    }
}

fn parse_offset(tz: &str) -> Result<i32, String> {
    let bad = || format!("risk.timezone `{tz}` is not `UTC` or an offset like `+02:00` / `-05:30`");
    let t = tz.trim();
    if t.eq_ignore_ascii_case("utc") || t == "Z" {
        return Ok(0);
    }
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'+') => (1, &t[1..]),
        Some(b'-') => (-1, &t[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(bad)?;
    let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(0..=14).contains(&h) || !(0..60).contains(&m) {
        return Err(bad());
    }
    Ok(sign * (h * 60 + m))
}

/// A strategy's budget inside the global limits; `None` means only the global limits apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Cost of positions plus open BUY orders, USDC.
    pub max_exposure_usdc: Option<Usdc>,
    /// Realised loss of the day, USDC.
    pub max_daily_loss_usdc: Option<Usdc>,
    /// Open orders at once.
    pub max_open_orders: Option<u32>,
    /// Slippage warning threshold, percent (instead of the global one).
    pub slippage_pct: Option<Decimal>,
    /// Slippage pause threshold, percent (instead of the global one).
    pub pause_slippage_pct: Option<Decimal>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_parse() {
        assert_eq!(parse_offset("UTC"), Ok(0));
        assert_eq!(parse_offset("+02:00"), Ok(120));
        assert_eq!(parse_offset("-05:30"), Ok(-330));
        assert!(parse_offset("Europe/Paris").is_err());
        assert!(parse_offset("+25:00").is_err());
    }

    #[test]
    fn defaults_are_the_audits() {
        let l = Limits::default();
        assert!(l.problems().is_empty());
        assert_eq!(l.min_bankroll(), Usdc::parse("30").unwrap());
        assert_eq!(l.max_daily_loss_usdc, Usdc::parse("30").unwrap());
        assert_eq!(l.max_order_usdc, Usdc::parse("15").unwrap());
        assert_eq!((l.max_positions, l.max_consecutive_losses), (5, 5));
    }
}
