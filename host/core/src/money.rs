//! Exact numbers: prices and sizes as fixed-point integers (micro-units, as on the WIT
//! boundary and in Polymarket's 6-decimal base units), money as `rust_decimal`.
//!
//! A price is micro-USDC per share, strictly inside (0, 1 USDC) for anything tradable;
//! a size is micro-shares. Conversions that could lose precision are checked.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One whole unit (1 USDC or 1 share) in micro-units.
pub const MICROS: u64 = 1_000_000;

/// Errors converting to or from exact numbers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The text is not a decimal number.
    #[error("`{0}` is not a decimal number")]
    NotANumber(String),
    /// The value has more than 6 decimal places.
    #[error("`{0}` has more than 6 decimal places")]
    TooPrecise(String),
    /// The value does not fit the type (negative, or too large).
    #[error("`{value}` is out of range for a {what}")]
    OutOfRange {
        /// The offending value.
        value: String,
        /// What was being built ("price", "size").
        what: &'static str,
    },
}

fn to_micros(d: Decimal, text: &str) -> Result<i128, MoneyError> {
    let scaled = d
        .checked_mul(Decimal::from(MICROS))
        .ok_or_else(|| MoneyError::TooPrecise(text.to_owned()))?;
    if scaled.fract() != Decimal::ZERO {
        return Err(MoneyError::TooPrecise(text.to_owned()));
    }
    scaled
        .to_i128()
        .ok_or_else(|| MoneyError::NotANumber(text.to_owned()))
}

/// `units × 10^-scale` as a decimal without trailing zeros: what `Decimal::normalize`
/// gives, by integer steps (normalising a `Decimal` divides its 96-bit mantissa once per
/// digit, and these conversions run on every order the gate checks).
fn exact(mut units: i128, mut scale: u32) -> Decimal {
    if let Ok(mut small) = i64::try_from(units) {
        while scale > 0 && small % 10 == 0 {
            small /= 10;
            scale -= 1;
        }
        return Decimal::new(small, scale);
    }
    while scale > 0 && units % 10 == 0 {
        units /= 10;
        scale -= 1;
    }
    Decimal::from_i128_with_scale(units, scale)
}

/// Micro-units of a plain decimal text (`"0.48"`, `"200"`, `"12.5"`): up to twelve digits,
/// then at most a point and one to six digits. The exchange writes every price and size
/// so, and this reads one without the general decimal parser; anything else (signs,
/// exponents, spaces, longer text) is left to that parser, which also words the errors.
fn plain_micros(text: &str) -> Option<u64> {
    let (int, frac) = match text.split_once('.') {
        Some((int, frac)) => (int, frac),
        None => (text, ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || int.len() > 12 || frac.len() > 6 || !digits(int) || !digits(frac) {
        return None;
    }
    if text.len() > int.len() && frac.is_empty() {
        return None; // "5." is left to the decimal parser
    }
    let mut micros: u64 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        micros = micros * 10 + u64::from(b - b'0');
    }
    Some(micros * 10u64.pow(6 - frac.len() as u32))
}

fn parse_decimal(text: &str) -> Result<Decimal, MoneyError> {
    Decimal::from_str(text.trim()).map_err(|_| MoneyError::NotANumber(text.to_owned()))
}

/// A price in micro-USDC per share. `Price(500_000)` is 0.50.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Price(u32);

impl Price {
    /// The price 1.00 (a share that surely pays out).
    pub const ONE: Price = Price(MICROS as u32);
    /// The price 0.
    pub const ZERO: Price = Price(0);

    /// From micro-USDC. Any `u32` is a representable price; tradability is the gate's job.
    pub const fn from_micros(micros: u32) -> Self {
        Price(micros)
    }

    /// Micro-USDC per share.
    pub const fn micros(self) -> u32 {
        self.0
    }

    /// Parse a decimal string such as `"0.301"`; more than 6 decimals or a value above
    /// 4294 is an error.
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        match plain_micros(text) {
            Some(m) => u32::try_from(m)
                .map(Price)
                .map_err(|_| MoneyError::OutOfRange {
                    value: text.to_owned(),
                    what: "price",
                }),
            None => Self::try_from_decimal(parse_decimal(text)?, text),
        }
    }

    /// From a decimal, exactly.
    pub fn try_from_decimal(d: Decimal, text: &str) -> Result<Self, MoneyError> {
        let m = to_micros(d, text)?;
        u32::try_from(m)
            .map(Price)
            .map_err(|_| MoneyError::OutOfRange {
                value: text.to_owned(),
                what: "price",
            })
    }

    /// As a decimal number of USDC.
    pub fn to_decimal(self) -> Decimal {
        exact(i128::from(self.0), 6)
    }

    /// `1 - self`, the complementary outcome's price.
    pub fn complement(self) -> Option<Price> {
        Price::ONE.0.checked_sub(self.0).map(Price)
    }

    /// True when this price is a whole multiple of `tick`.
    pub fn is_on_tick(self, tick: Price) -> bool {
        tick.0 != 0 && self.0.is_multiple_of(tick.0)
    }
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_decimal())
    }
}

/// A size in micro-shares. `Size(5_000_000)` is 5 shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Size(u64);

impl Size {
    /// Zero shares.
    pub const ZERO: Size = Size(0);

    /// From micro-shares.
    pub const fn from_micros(micros: u64) -> Self {
        Size(micros)
    }

    /// Micro-shares.
    pub const fn micros(self) -> u64 {
        self.0
    }

    /// Parse a decimal string such as `"45.83"`.
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        match plain_micros(text) {
            Some(m) => Ok(Size(m)),
            None => Self::try_from_decimal(parse_decimal(text)?, text),
        }
    }

    /// From a decimal number of shares, exactly.
    pub fn try_from_decimal(d: Decimal, text: &str) -> Result<Self, MoneyError> {
        let m = to_micros(d, text)?;
        u64::try_from(m)
            .map(Size)
            .map_err(|_| MoneyError::OutOfRange {
                value: text.to_owned(),
                what: "size",
            })
    }

    /// As a decimal number of shares.
    pub fn to_decimal(self) -> Decimal {
        exact(i128::from(self.0), 6)
    }

    /// True for zero shares.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `self - other`, floored at zero.
    pub const fn saturating_sub(self, other: Size) -> Size {
        Size(self.0.saturating_sub(other.0))
    }

    /// `self + other`, saturating.
    pub const fn saturating_add(self, other: Size) -> Size {
        Size(self.0.saturating_add(other.0))
    }

    /// The smaller of two sizes.
    pub fn min(self, other: Size) -> Size {
        Size(self.0.min(other.0))
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_decimal())
    }
}

/// An amount of USDC (signed), exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Usdc(Decimal);

impl Usdc {
    /// Zero USDC.
    pub const ZERO: Usdc = Usdc(Decimal::ZERO);

    /// From a decimal number of USDC.
    pub const fn new(d: Decimal) -> Self {
        Usdc(d)
    }

    /// Parse a decimal string such as `"15"` or `"-2.5"`.
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        parse_decimal(text).map(Usdc)
    }

    /// From micro-USDC.
    pub fn from_micros(micros: i64) -> Self {
        Usdc(Decimal::new(micros, 6))
    }

    /// The value of `size` shares at `price`.
    pub fn notional(price: Price, size: Size) -> Self {
        let micro_usdc = i128::from(price.micros()) * i128::from(size.micros());
        Usdc(exact(micro_usdc, 12))
    }

    /// The decimal value.
    pub const fn to_decimal(self) -> Decimal {
        self.0
    }

    /// Micro-USDC, rounded half away from zero; saturates at the `i64` range.
    pub fn to_micros(self) -> i64 {
        let scaled = self
            .0
            .checked_mul(Decimal::from(MICROS))
            .unwrap_or(if self.0.is_sign_negative() {
                Decimal::MIN
            } else {
                Decimal::MAX
            })
            .round();
        scaled.to_i64().unwrap_or(if scaled.is_sign_negative() {
            i64::MIN
        } else {
            i64::MAX
        })
    }

    /// True when below zero.
    pub fn is_negative(self) -> bool {
        self.0.is_sign_negative() && !self.0.is_zero()
    }
}

impl std::ops::Add for Usdc {
    type Output = Usdc;
    fn add(self, rhs: Usdc) -> Usdc {
        Usdc(self.0 + rhs.0)
    }
}

impl std::ops::Sub for Usdc {
    type Output = Usdc;
    fn sub(self, rhs: Usdc) -> Usdc {
        Usdc(self.0 - rhs.0)
    }
}

impl std::ops::AddAssign for Usdc {
    fn add_assign(&mut self, rhs: Usdc) {
        self.0 += rhs.0;
    }
}

impl std::ops::SubAssign for Usdc {
    fn sub_assign(&mut self, rhs: Usdc) {
        self.0 -= rhs.0;
    }
}

impl std::ops::Neg for Usdc {
    type Output = Usdc;
    fn neg(self) -> Usdc {
        Usdc(-self.0)
    }
}

impl std::iter::Sum for Usdc {
    fn sum<I: Iterator<Item = Usdc>>(iter: I) -> Usdc {
        iter.fold(Usdc::ZERO, |a, b| a + b)
    }
}

impl Usdc {
    /// Rounded to the micro-USDC (half away from zero), for display.
    pub fn rounded(self) -> Decimal {
        self.0
            .round_dp_with_strategy(6, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
            .normalize()
    }
}

impl fmt::Display for Usdc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.rounded())
    }
}

impl Serialize for Usdc {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.rounded().to_string())
    }
}

/// Read a decimal from a string (`"15.5"`), an integer or a float, as config files write
/// numbers.
pub fn flexible_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Int(i64),
        Float(f64),
    }
    match Raw::deserialize(d)? {
        Raw::Text(t) => parse_decimal(&t).map_err(serde::de::Error::custom),
        Raw::Int(i) => Ok(Decimal::from(i)),
        // TOML floats such as `15.5` are read through their shortest decimal text,
        // which is exact for every value a person writes in a config file.
        Raw::Float(f) => parse_decimal(&f.to_string()).map_err(serde::de::Error::custom),
    }
}

impl<'de> Deserialize<'de> for Usdc {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        flexible_decimal(d).map(Usdc)
    }
}

impl Serialize for Price {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_parse_exactly() {
        assert_eq!(Price::parse("0.301").unwrap().micros(), 301_000);
        assert_eq!(Price::parse("0.5").unwrap().micros(), 500_000);
        assert_eq!(Price::parse("1").unwrap(), Price::ONE);
        assert!(matches!(
            Price::parse("0.0000001"),
            Err(MoneyError::TooPrecise(_))
        ));
        assert!(matches!(
            Price::parse("-0.1"),
            Err(MoneyError::OutOfRange { .. })
        ));
        assert!(matches!(
            Price::parse("abc"),
            Err(MoneyError::NotANumber(_))
        ));
    }

    #[test]
    fn sizes_parse_exactly() {
        assert_eq!(
            Size::parse("3149725.72").unwrap().micros(),
            3_149_725_720_000
        );
        assert_eq!(Size::parse("0").unwrap(), Size::ZERO);
        assert_eq!(Size::parse("45.83").unwrap().to_string(), "45.83");
    }

    #[test]
    fn notional_is_exact() {
        let n = Usdc::notional(Price::parse("0.24").unwrap(), Size::parse("15").unwrap());
        assert_eq!(n, Usdc::parse("3.6").unwrap());
        assert_eq!(n.to_micros(), 3_600_000);
        let n = Usdc::notional(Price::parse("0.82").unwrap(), Size::parse("101").unwrap());
        assert_eq!(n.to_micros(), 82_820_000);
    }

    #[test]
    fn tick_and_complement() {
        let p = Price::parse("0.31").unwrap();
        assert!(p.is_on_tick(Price::parse("0.01").unwrap()));
        assert!(
            !Price::parse("0.315")
                .unwrap()
                .is_on_tick(Price::parse("0.01").unwrap())
        );
        assert_eq!(p.complement().unwrap(), Price::parse("0.69").unwrap());
    }

    #[test]
    fn usdc_reads_config_numbers() {
        let v: Usdc = serde_json::from_str("15.5").unwrap();
        assert_eq!(v, Usdc::parse("15.5").unwrap());
        let v: Usdc = serde_json::from_str("\"0.1\"").unwrap();
        assert_eq!(v.to_micros(), 100_000);
    }

    use proptest::strategy::Strategy as _;

    proptest::proptest! {
        /// Prices and sizes read by the plain-text fast path are what the decimal parser
        /// reads, value and error alike, for plain numbers and for near misses.
        #[test]
        fn the_fast_path_reads_as_the_decimal_parser(
            text in "[0-9]{0,14}(\\.[0-9]{0,8})?|-?[0-9]{1,3}\\.?[0-9]{0,3}(e[0-9])?| ?0\\.5 ?|1_0"
        ) {
            let slow_price = parse_decimal(&text).and_then(|d| Price::try_from_decimal(d, &text));
            let slow_size = parse_decimal(&text).and_then(|d| Size::try_from_decimal(d, &text));
            proptest::prop_assert_eq!(Price::parse(&text), slow_price);
            proptest::prop_assert_eq!(Size::parse(&text), slow_size);
        }

        /// The integer normaliser gives what `Decimal::normalize` gives, digit for digit,
        /// on both of its paths (values within `i64` and beyond).
        #[test]
        fn exact_matches_decimal_normalize(
            units in proptest::prop_oneof![
                -1_000_000_000_000i128..1_000_000_000_000,
                (0i128..10_000).prop_map(|u| u * 1_000_000),
                (u64::MAX as i128)..(u64::MAX as i128) * 1_000_000,
            ],
            scale in 0u32..=12,
        ) {
            let want = Decimal::from_i128_with_scale(units, scale).normalize();
            let got = exact(units, scale);
            proptest::prop_assert_eq!(got, want);
            proptest::prop_assert_eq!(got.scale(), want.scale());
            proptest::prop_assert_eq!(got.to_string(), want.to_string());
        }
    }
}
