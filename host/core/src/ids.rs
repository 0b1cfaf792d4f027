//! Identifiers: tokens, markets, strategies, orders.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::{Serialize, Serializer};

/// A Polymarket outcome-token id (uint256 in decimal). Cheap to clone, and cheap to
/// compare: ids order as their text does, but the first eight bytes are kept as an
/// integer, so two different ids almost always compare without reading the text (the
/// desk looks tokens up in ordered maps many times per message).
#[derive(Clone)]
pub struct TokenId {
    /// The first eight bytes, big-endian, zero-padded: orders as the text's prefix does.
    head: u64,
    id: Arc<str>,
}

impl TokenId {
    /// Wrap a token id. Any non-empty string is accepted: ids are opaque to the host.
    pub fn new(id: &str) -> Self {
        let mut head = [0u8; 8];
        let n = id.len().min(8);
        head[..n].copy_from_slice(&id.as_bytes()[..n]);
        TokenId {
            head: u64::from_be_bytes(head),
            id: Arc::from(id),
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.id
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

impl Ord for TokenId {
    fn cmp(&self, other: &Self) -> Ordering {
        self.head.cmp(&other.head).then_with(|| {
            if Arc::ptr_eq(&self.id, &other.id) {
                Ordering::Equal
            } else {
                self.id.cmp(&other.id)
            }
        })
    }
}

impl PartialOrd for TokenId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for TokenId {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for TokenId {}

impl Hash for TokenId {
    /// The text's hash, as `Borrow<str>` requires.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl fmt::Debug for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TokenId").field(&&*self.id).finish()
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

impl Serialize for TokenId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.id)
    }
}

impl std::borrow::Borrow<str> for TokenId {
    fn borrow(&self) -> &str {
        &self.id
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

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Ids order and compare exactly as their text does, including ids that share
        /// the first eight bytes, are shorter than eight, or hold NUL bytes.
        #[test]
        fn ids_order_as_their_text(
            a in "[0-9\\x00]{0,12}",
            b in "[0-9\\x00]{0,12}",
            shared in "[0-9]{0,10}",
        ) {
            let (a, b) = (format!("{shared}{a}"), format!("{shared}{b}"));
            let (ta, tb) = (TokenId::new(&a), TokenId::new(&b));
            proptest::prop_assert_eq!(ta.cmp(&tb), a.as_str().cmp(b.as_str()));
            proptest::prop_assert_eq!(ta == tb, a == b);
            proptest::prop_assert_eq!(ta.cmp(&ta.clone()), Ordering::Equal);
        }
    }

    #[test]
    fn lookups_by_text_find_the_id() {
        let ids: std::collections::BTreeSet<TokenId> = ["7123", "71234567890", "7", "8", ""]
            .map(TokenId::new)
            .into();
        for s in ["7123", "71234567890", "7", "8", ""] {
            assert_eq!(ids.get(s).map(TokenId::as_str), Some(s));
        }
        assert!(!ids.contains("71234567891"));
        assert_eq!(format!("{:?}", TokenId::new("12")), "TokenId(\"12\")");
    }
}
