//! Polymarket's taker fee: `shares × rate × (p × (1 − p))^exponent`, rounded to 5 decimals
//! (at least 0.00001 when any fee is due). Makers pay nothing.

use rust_decimal::{Decimal, RoundingStrategy};

use crate::money::{Price, Size, Usdc};

/// A market's fee schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeSchedule {
    /// Taker fee rate in basis points (400 = 0.04).
    pub rate_bps: u32,
    /// Exponent of `p × (1 − p)`.
    pub exponent: u32,
}

impl FeeSchedule {
    /// No fees.
    pub const FREE: FeeSchedule = FeeSchedule {
        rate_bps: 0,
        exponent: 1,
    };

    /// The fee a taker pays for `size` shares at `price`.
    pub fn taker_fee(&self, price: Price, size: Size) -> Usdc {
        if self.rate_bps == 0 || size.is_zero() {
            return Usdc::ZERO;
        }
        let p = price.to_decimal();
        let q = (Decimal::ONE - p).max(Decimal::ZERO);
        let mut curve = Decimal::ONE;
        for _ in 0..self.exponent {
            curve *= p * q;
        }
        let raw = size.to_decimal() * Decimal::new(i64::from(self.rate_bps), 4) * curve;
        if raw.is_zero() {
            return Usdc::ZERO;
        }
        let rounded = raw.round_dp_with_strategy(5, RoundingStrategy::MidpointAwayFromZero);
        Usdc::new(rounded.max(Decimal::new(1, 5)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fee_follows_the_formula() {
        let f = FeeSchedule {
            rate_bps: 400,
            exponent: 1,
        };
        // 100 × 0.04 × 0.5 × 0.5 = 1
        let fee = f.taker_fee(Price::parse("0.5").unwrap(), Size::parse("100").unwrap());
        assert_eq!(fee, Usdc::parse("1").unwrap());
        // 10 × 0.04 × 0.01 × 0.99 = 0.00396
        let fee = f.taker_fee(Price::parse("0.01").unwrap(), Size::parse("10").unwrap());
        assert_eq!(fee, Usdc::parse("0.00396").unwrap());
        // tiny fees are at least 0.00001
        let fee = f.taker_fee(Price::parse("0.01").unwrap(), Size::parse("0.01").unwrap());
        assert_eq!(fee, Usdc::parse("0.00001").unwrap());
        assert_eq!(
            FeeSchedule::FREE.taker_fee(Price::parse("0.5").unwrap(), Size::parse("1").unwrap()),
            Usdc::ZERO
        );
    }
}

impl FeeSchedule {
    /// The most taker fee an order could pay: `p × (1 − p)` is largest at 0.5, and a BUY
    /// can fill at any price up to its limit (a SELL at any price down to it).
    pub fn max_taker_fee(&self, side: crate::order::Side, limit: Price, size: Size) -> Usdc {
        let half = Price::from_micros(500_000);
        let worst = match side {
            crate::order::Side::Buy if limit >= half => half,
            crate::order::Side::Sell if limit <= half => half,
            _ => limit,
        };
        self.taker_fee(worst, size)
    }
}

#[cfg(test)]
mod max_fee_tests {
    use super::*;
    use crate::order::Side;

    #[test]
    fn the_worst_fill_price_is_used() {
        let f = FeeSchedule {
            rate_bps: 400,
            exponent: 1,
        };
        let q = Size::parse("100").unwrap();
        let at = |s: &str| Price::parse(s).unwrap();
        assert_eq!(
            f.max_taker_fee(Side::Buy, at("0.9"), q),
            f.taker_fee(at("0.5"), q)
        );
        assert_eq!(
            f.max_taker_fee(Side::Buy, at("0.2"), q),
            f.taker_fee(at("0.2"), q)
        );
        assert_eq!(
            f.max_taker_fee(Side::Sell, at("0.2"), q),
            f.taker_fee(at("0.5"), q)
        );
        assert_eq!(
            f.max_taker_fee(Side::Sell, at("0.9"), q),
            f.taker_fee(at("0.9"), q)
        );
    }
}
