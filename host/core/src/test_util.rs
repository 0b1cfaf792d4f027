//! Literals for unit tests: `p("0.45")`, `q("10")`, `lvl("0.45", "10")`.

use crate::book::Level;
use crate::money::{Price, Size};

/// A price literal.
pub fn p(s: &str) -> Price {
    Price::parse(s).unwrap()
}

/// A size literal.
pub fn q(s: &str) -> Size {
    Size::parse(s).unwrap()
}

/// A level literal.
pub fn lvl(price: &str, size: &str) -> Level {
    Level {
        price: p(price),
        size: q(size),
    }
}
