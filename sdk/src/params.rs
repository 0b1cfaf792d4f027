//! Read a strategy's config: `key = value` lines (a TOML subset: integers, decimals,
//! booleans, quoted strings, `#` comments). Unknown keys are an error, so a typo in a
//! config file is caught at load instead of silently ignored.

use std::collections::BTreeMap;

use crate::units::{Price, Size};

/// Parsed config parameters.
#[derive(Debug, Clone, Default)]
pub struct Params {
    values: BTreeMap<String, String>,
}

impl Params {
    /// Parse config text; `allowed` lists the keys the strategy understands.
    pub fn parse(text: &str, allowed: &[&str]) -> Result<Params, String> {
        let mut values = BTreeMap::new();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() || line.starts_with('[') {
                continue;
            }
            let (k, v) = line.split_once('=').ok_or_else(|| {
                format!("config line {}: expected `key = value`, got `{raw}`", n + 1)
            })?;
            let key = k.trim();
            if !allowed.contains(&key) {
                return Err(format!(
                    "config line {}: unknown key `{key}` (known: {})",
                    n + 1,
                    allowed.join(", ")
                ));
            }
            let value = v.trim().trim_matches('"').to_owned();
            values.insert(key.to_owned(), value);
        }
        Ok(Params { values })
    }

    /// The raw text of a key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// An unsigned integer, or `default` when absent.
    pub fn u64_or(&self, key: &str, default: u64) -> Result<u64, String> {
        self.get(key).map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| format!("config `{key}`: `{v}` is not a whole number"))
        })
    }

    /// A price, or `default` when absent.
    pub fn price_or(&self, key: &str, default: Price) -> Result<Price, String> {
        self.get(key).map_or(Ok(default), |v| {
            Price::parse(v).map_err(|e| format!("config `{key}`: {e}"))
        })
    }

    /// A size in shares, or `default` when absent.
    pub fn size_or(&self, key: &str, default: Size) -> Result<Size, String> {
        self.get(key).map_or(Ok(default), |v| {
            Size::parse(v).map_err(|e| format!("config `{key}`: {e}"))
        })
    }
}

/// A compact byte encoding for [`crate::Strategy::snapshot`]: write fields in order,
/// read them back in the same order.
#[derive(Debug, Default, Clone)]
pub struct StateWriter(Vec<u8>);

impl StateWriter {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }
    /// Append a number.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    /// Append a string.
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.u64(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
        self
    }
    /// The bytes.
    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.0)
    }
}

/// Reads what a [`StateWriter`] wrote.
#[derive(Debug, Clone)]
pub struct StateReader<'a>(&'a [u8]);

impl<'a> StateReader<'a> {
    /// Read from bytes.
    pub fn new(bytes: &'a [u8]) -> Self {
        StateReader(bytes)
    }
    /// True when everything was read.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Next number.
    pub fn u64(&mut self) -> Result<u64, String> {
        let (head, rest) = self
            .0
            .split_first_chunk::<8>()
            .ok_or_else(|| "state ended early".to_owned())?;
        self.0 = rest;
        Ok(u64::from_le_bytes(*head))
    }
    /// Next string.
    pub fn str(&mut self) -> Result<String, String> {
        let n = usize::try_from(self.u64()?).map_err(|_| "state string too long".to_owned())?;
        if n > self.0.len() {
            return Err("state ended early".to_owned());
        }
        let (s, rest) = self.0.split_at(n);
        self.0 = rest;
        String::from_utf8(s.to_vec()).map_err(|_| "state string is not UTF-8".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_keys_and_refuses_others() {
        let p = Params::parse("size = 5 # shares\nedge = \"0.01\"\n", &["size", "edge"]).unwrap();
        assert_eq!(p.u64_or("size", 1).unwrap(), 5);
        assert_eq!(
            p.price_or("edge", Price::parse("0.5").unwrap())
                .unwrap()
                .micros(),
            10_000
        );
        let err = Params::parse("sise = 5", &["size"]).unwrap_err();
        assert!(err.contains("unknown key `sise`"), "{err}");
    }

    #[test]
    fn state_round_trips() {
        let bytes = StateWriter::new().u64(7).str("abc").finish();
        let mut r = StateReader::new(&bytes);
        assert_eq!(r.u64().unwrap(), 7);
        assert_eq!(r.str().unwrap(), "abc");
        assert!(r.is_empty());
        assert!(r.u64().is_err());
    }
}
