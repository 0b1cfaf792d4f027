//! Identifiers: tokens, markets, strategies, orders.

use std::fmt;
use std::sync::Arc;

use serde::{Serialize, Serializer};

/// A Polymarket outcome-token id (uint256 in decimal). Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenId(Arc<str>);

impl TokenId {
    /// Wrap a token id. Any non-empty string is accepted: ids are opaque to the host.
    pub fn new(id: &str) -> Self {
        TokenId(Arc::from(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A short form for humans: the first and last digits.
    pub fn short(&self) -> String {
        let s = self.as_str();
        if s.len() <= 12 {
            s.to_owned()
        } else {
            format!("{}…{}", &s[..6], &s[s.len() - 4..])
        }
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for TokenId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for TokenId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// The index of a loaded strategy within the kernel (stable for the session).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct StrategyId(pub u32);

/// Host-assigned order id, unique within a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct OrderId(pub u64);

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}
