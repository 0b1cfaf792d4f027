//! Typed prices and sizes with checked conversions, and helpers to read books.

use std::fmt;

use crate::{BookDepth, Level, TopOfBook};

const MICROS: u64 = 1_000_000;

/// Why a value is not a valid price or size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitError(String);

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UnitError {}

impl From<UnitError> for String {
    fn from(e: UnitError) -> String {
        e.0
    }
}

/// Parse a non-negative decimal with at most 6 decimals into micro-units.
fn parse_micros(text: &str) -> Result<u64, UnitError> {
    let t = text.trim();
    let bad = || {
        UnitError(format!(
            "`{text}` is not a non-negative decimal with at most 6 decimals"
        ))
    };
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if whole.is_empty() && frac.is_empty() || frac.len() > 6 {
        return Err(bad());
    }
    if !whole
        .bytes()
        .chain(frac.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let w: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let mut f: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| bad())?
    };
    for _ in frac.len()..6 {
        f *= 10;
    }
    w.checked_mul(MICROS)
        .and_then(|x| x.checked_add(f))
        .ok_or_else(bad)
}

fn write_micros(f: &mut fmt::Formatter<'_>, micros: u64) -> fmt::Result {
    let (whole, frac) = (micros / MICROS, micros % MICROS);
    if frac == 0 {
        write!(f, "{whole}")
    } else {
        let s = format!("{frac:06}");
        write!(f, "{whole}.{}", s.trim_end_matches('0'))
    }
}

/// A tradable price: micro-USDC per share, strictly between 0 and 1 USDC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Price(u32);

impl Price {
    /// From micro-USDC; `None` unless strictly inside (0, 1_000_000).
    pub fn from_micros(micros: u32) -> Option<Price> {
        (micros > 0 && u64::from(micros) < MICROS).then_some(Price(micros))
    }

    /// Parse `"0.52"`; an error names the value when it is not a price inside (0, 1).
    pub fn parse(text: &str) -> Result<Price, UnitError> {
        let m = parse_micros(text)?;
        u32::try_from(m)
            .ok()
            .and_then(Price::from_micros)
            .ok_or_else(|| UnitError(format!("price `{text}` is not strictly between 0 and 1")))
    }

    /// Micro-USDC.
    pub fn micros(self) -> u32 {
        self.0
    }

    /// Round down to a multiple of `tick` (micro-USDC); `None` if that leaves (0, 1).
    pub fn floor_to(self, tick: u32) -> Option<Price> {
        (tick > 0)
            .then(|| self.0 - self.0 % tick)
            .and_then(Price::from_micros)
    }

    /// Round up to a multiple of `tick`; `None` if that leaves (0, 1).
    pub fn ceil_to(self, tick: u32) -> Option<Price> {
        if tick == 0 {
            return None;
        }
        let r = self.0 % tick;
        let up = if r == 0 {
            self.0
        } else {
            self.0.checked_add(tick - r)?
        };
        Price::from_micros(up)
    }

    /// `self + micros`, if still a price.
    pub fn plus(self, micros: u32) -> Option<Price> {
        self.0.checked_add(micros).and_then(Price::from_micros)
    }

    /// `self - micros`, if still a price.
    pub fn minus(self, micros: u32) -> Option<Price> {
        self.0.checked_sub(micros).and_then(Price::from_micros)
    }

    /// The complementary outcome's price, `1 - self`.
    pub fn complement(self) -> Price {
        Price((MICROS as u32) - self.0)
    }
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_micros(f, u64::from(self.0))
    }
}

/// A size in micro-shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Size(u64);

impl Size {
    /// Whole shares; saturates at the largest size.
    pub fn shares(n: u64) -> Size {
        Size(n.saturating_mul(MICROS))
    }

    /// From micro-shares.
    pub fn from_micros(micros: u64) -> Size {
        Size(micros)
    }

    /// Parse `"12.5"` shares.
    pub fn parse(text: &str) -> Result<Size, UnitError> {
        parse_micros(text).map(Size)
    }

    /// Micro-shares.
    pub fn micros(self) -> u64 {
        self.0
    }

    /// The most shares that `usdc_micros` buys at `price`, rounded down to `lot` micro-shares.
    pub fn affordable(usdc_micros: u64, price: Price, lot: u64) -> Size {
        let raw = usdc_micros.saturating_mul(MICROS) / u64::from(price.0);
        Size(if lot == 0 { raw } else { raw - raw % lot })
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_micros(f, self.0)
    }
}

/// Convenience reads of books and tops of book.
pub trait BookExt {
    /// Best bid level.
    fn best_bid(&self) -> Option<Level>;
    /// Best ask level.
    fn best_ask(&self) -> Option<Level>;
    /// Mid price in micro-USDC (rounded down), when both sides exist.
    fn mid(&self) -> Option<u32> {
        let (b, a) = (self.best_bid()?, self.best_ask()?);
        u32::try_from((u64::from(b.price) + u64::from(a.price)) / 2).ok()
    }
    /// Ask minus bid in micro-USDC, when both sides exist and are not crossed.
    fn spread(&self) -> Option<u32> {
        self.best_ask()?.price.checked_sub(self.best_bid()?.price)
    }
}

impl BookExt for TopOfBook {
    fn best_bid(&self) -> Option<Level> {
        self.bid
    }
    fn best_ask(&self) -> Option<Level> {
        self.ask
    }
}

impl BookExt for BookDepth {
    fn best_bid(&self) -> Option<Level> {
        self.bids.first().copied()
    }
    fn best_ask(&self) -> Option<Level> {
        self.asks.first().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_checked() {
        assert_eq!(Price::parse("0.52").unwrap().micros(), 520_000);
        assert_eq!(Price::parse(".5").unwrap().micros(), 500_000);
        assert!(Price::parse("1").is_err());
        assert!(Price::parse("0").is_err());
        assert!(Price::parse("0.1234567").is_err());
        assert!(Price::parse("-0.1").is_err());
        assert_eq!(
            Price::parse("0.523")
                .unwrap()
                .floor_to(10_000)
                .unwrap()
                .micros(),
            520_000
        );
        assert_eq!(
            Price::parse("0.523")
                .unwrap()
                .ceil_to(10_000)
                .unwrap()
                .micros(),
            530_000
        );
        assert_eq!(Price::parse("0.995").unwrap().ceil_to(10_000), None);
        assert_eq!(Price::parse("0.3").unwrap().complement().to_string(), "0.7");
    }

    #[test]
    fn sizes_are_checked() {
        assert_eq!(Size::parse("12.5").unwrap().micros(), 12_500_000);
        assert_eq!(Size::shares(5).to_string(), "5");
        let p = Price::parse("0.40").unwrap();
        assert_eq!(
            Size::affordable(15_000_000, p, 10_000),
            Size::parse("37.5").unwrap()
        );
        assert_eq!(
            Size::affordable(1_000_000, Price::parse("0.3").unwrap(), 10_000).to_string(),
            "3.33"
        );
    }
}
