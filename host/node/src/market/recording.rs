//! Recorded market data: one JSON object per line, `{"recv_ts": MS, "msg": FRAME}`, where
//! FRAME is a market-channel WebSocket frame exactly as the exchange sent it (an object
//! or an array of objects) and `recv_ts` the UTC millisecond it was received; or
//! `{"recv_ts": MS, "rest_book": BODY}`, a REST `/book` body as the exchange sent it, which
//! also carries the token's tick size, minimum size and neg-risk.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polybox_core::desk::MarketMeta;
use polybox_core::fees::FeeSchedule;
use polybox_core::ids::TokenId;
use polybox_core::market_message::{FrameParser, MarketMessage};
use polybox_core::money::{Price, Size};
use serde::Deserialize;
use serde_json::value::RawValue;

/// The sample session bundled with polybox: two markets (four tokens), a few thousand
/// events across 00:00 UTC, written by `polybox simulate --seed 7 --markets 2 --events 4000`.
pub const SAMPLE: &str = include_str!("../../data/sample.jsonl");

/// Why a recording could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// The file could not be read.
    #[error("cannot read market data {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The problem.
        source: std::io::Error,
    },
    /// A line is malformed.
    #[error("market data {origin}, line {line}: {message}")]
    Line {
        /// File name.
        origin: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// No events at all.
    #[error("market data {0} holds no events")]
    Empty(String),
}

/// One received frame.
#[derive(Debug, Clone)]
pub struct Record {
    /// 1-based line in the file.
    pub line: usize,
    /// Receive time, UTC ms.
    pub recv_ts: u64,
    /// The messages of the frame.
    pub messages: Vec<MarketMessage>,
}

/// A whole recorded session.
#[derive(Debug, Clone)]
pub struct Recording {
    /// Frames in file order.
    pub records: Vec<Record>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line<'a> {
    recv_ts: u64,
    #[serde(borrow, default)]
    msg: Option<&'a RawValue>,
    #[serde(borrow, default)]
    rest_book: Option<&'a RawValue>,
}

/// The receive time and frame of a line as polybox writes it (`{"recv_ts":N,"msg":FRAME}`,
/// or the simulator's `{"msg":FRAME,"recv_ts":N}`), sliced out; `None` for any other shape.
/// The frame is not checked here: the frame parser refuses anything but one JSON value.
fn split_line(raw: &str) -> Option<(u64, &str)> {
    let ts = |digits: &str| -> Option<u64> {
        let plain = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits.len() == 1 || !digits.starts_with('0'));
        plain.then(|| digits.parse().ok()).flatten()
    };
    if let Some(rest) = raw.strip_prefix("{\"recv_ts\":") {
        let n = rest.bytes().take_while(u8::is_ascii_digit).count();
        let frame = rest[n..].strip_prefix(",\"msg\":")?.strip_suffix('}')?;
        return Some((ts(&rest[..n])?, frame));
    }
    let rest = raw.strip_prefix("{\"msg\":")?.strip_suffix('}')?;
    let at = rest.rfind(",\"recv_ts\":")?;
    Some((ts(&rest[at + ",\"recv_ts\":".len()..])?, &rest[..at]))
}

impl Recording {
    /// Read a recording file.
    pub fn read(path: &Path) -> Result<Recording, RecordingError> {
        let text = std::fs::read_to_string(path).map_err(|source| RecordingError::Read {
            path: path.to_owned(),
            source,
        })?;
        Recording::parse(&text, &path.display().to_string())
    }

    /// The bundled sample.
    pub fn sample() -> Result<Recording, RecordingError> {
        Recording::parse(SAMPLE, "(bundled sample)")
    }

    /// Parse recording text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Recording, RecordingError> {
        let mut records = Vec::new();
        let mut parser = FrameParser::default();
        for (i, raw) in text.lines().enumerate() {
            if raw.trim().is_empty() {
                continue;
            }
            let err = |message: String| RecordingError::Line {
                origin: origin.to_owned(),
                line: i + 1,
                message,
            };
            let mut messages = Vec::new();
            // The usual line is read without a JSON pass of its own over the frame; any
            // other (or a frame that does not parse) goes through the general reader,
            // which also words the error.
            let fast = split_line(raw).and_then(|(recv_ts, frame)| {
                parser
                    .parse_into(frame, &mut messages)
                    .ok()
                    .map(|()| recv_ts)
            });
            let recv_ts = match fast {
                Some(recv_ts) => recv_ts,
                None => {
                    let expected = "expected {\"recv_ts\": MS, \"msg\": FRAME} or {\"recv_ts\": MS, \"rest_book\": BODY}";
                    let line: Line<'_> =
                        serde_json::from_str(raw).map_err(|e| err(format!("{expected}: {e}")))?;
                    match (line.msg, line.rest_book) {
                        (Some(frame), None) => parser.parse_into(frame.get(), &mut messages),
                        (None, Some(body)) => {
                            parser.parse_rest_book(body.get()).map(|m| messages.push(m))
                        }
                        _ => return Err(err(expected.to_owned())),
                    }
                    .map_err(|e| err(e.to_string()))?;
                    line.recv_ts
                }
            };
            records.push(Record {
                line: i + 1,
                recv_ts,
                messages,
            });
        }
        if records.is_empty() {
            return Err(RecordingError::Empty(origin.to_owned()));
        }
        Ok(Recording { records })
    }

    /// Every market in the session: tick and minimum size from its first snapshot (or
    /// the defaults), fee rate from its trades (or the default), and the complement of
    /// each token (the other token of the same condition, when there are exactly two).
    pub fn markets(
        &self,
        default_tick: Price,
        default_min_size: Size,
        default_fee_bps: u32,
    ) -> Vec<MarketMeta> {
        let mut metas: BTreeMap<TokenId, MarketMeta> = BTreeMap::new();
        let entry =
            |metas: &mut BTreeMap<TokenId, MarketMeta>, token: &TokenId, condition: &str| {
                metas.entry(token.clone()).or_insert_with(|| MarketMeta {
                    token: token.clone(),
                    condition: condition.to_owned(),
                    complement: None,
                    fees: FeeSchedule {
                        rate_bps: default_fee_bps,
                        exponent: 1,
                    },
                    tick: default_tick,
                    min_size: default_min_size,
                    neg_risk: false,
                });
            };
        let mut seen_snapshot: Vec<TokenId> = Vec::new();
        let mut seen_fee: Vec<TokenId> = Vec::new();
        for m in self.records.iter().flat_map(|r| &r.messages) {
            match m {
                MarketMessage::Book(b) => {
                    entry(&mut metas, &b.token, &b.condition);
                    let Some(meta) = metas.get_mut(&b.token) else {
                        continue;
                    };
                    if !seen_snapshot.contains(&b.token) {
                        meta.tick = b.tick.unwrap_or(meta.tick);
                        meta.min_size = b.min_size.unwrap_or(meta.min_size);
                        seen_snapshot.push(b.token.clone());
                    }
                    meta.neg_risk = b.neg_risk.unwrap_or(meta.neg_risk);
                }
                MarketMessage::PriceChange {
                    condition, changes, ..
                } => {
                    for c in changes {
                        entry(&mut metas, &c.token, condition);
                    }
                }
                MarketMessage::LastTrade {
                    token,
                    condition,
                    fee_rate_bps,
                    ..
                } => {
                    entry(&mut metas, token, condition);
                    let Some(meta) = metas.get_mut(token) else {
                        continue;
                    };
                    if let (Some(bps), false) = (fee_rate_bps, seen_fee.contains(token)) {
                        meta.fees.rate_bps = *bps;
                        seen_fee.push(token.clone());
                    }
                }
                MarketMessage::TickSize {
                    token, condition, ..
                } => {
                    entry(&mut metas, token, condition);
                }
                MarketMessage::Other(_) => {}
            }
        }
        let mut by_condition: BTreeMap<String, Vec<TokenId>> = BTreeMap::new();
        for m in metas.values() {
            if !m.condition.is_empty() {
                by_condition
                    .entry(m.condition.clone())
                    .or_default()
                    .push(m.token.clone());
            }
        }
        for tokens in by_condition.values() {
            if let [a, b] = &tokens[..] {
                if let Some(m) = metas.get_mut(a) {
                    m.complement = Some(b.clone());
                }
                if let Some(m) = metas.get_mut(b) {
                    m.complement = Some(a.clone());
                }
            }
        }
        metas.into_values().collect()
    }

    /// Number of market messages.
    pub fn message_count(&self) -> usize {
        self.records.iter().map(|r| r.messages.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_are_named() {
        let text = "{\"recv_ts\":1,\"msg\":{\"event_type\":\"book\",\"asset_id\":\"1\",\"timestamp\":\"1\",\"bids\":[],\"asks\":[]}}\n\nnot json\n";
        let err = Recording::parse(text, "x.jsonl").unwrap_err().to_string();
        assert!(err.contains("x.jsonl, line 3"), "{err}");
        let text = "{\"recv_ts\":1,\"msg\":{\"event_type\":\"book\",\"asset_id\":\"1\",\"timestamp\":\"1\",\"bids\":[{\"price\":\"x\",\"size\":\"1\"}],\"asks\":[]}}";
        let err = Recording::parse(text, "x.jsonl").unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("price"), "{err}");
        assert!(matches!(
            Recording::parse("\n", "e"),
            Err(RecordingError::Empty(_))
        ));
    }

    #[test]
    fn both_key_orders_read_alike_and_near_misses_are_refused_as_before() {
        let frame = r#"{"event_type":"book","asset_id":"1","timestamp":"1","bids":[{"price":"0.4","size":"1"}],"asks":[]}"#;
        let a = Recording::parse(&format!("{{\"recv_ts\":12,\"msg\":{frame}}}"), "a").unwrap();
        let b = Recording::parse(&format!("{{\"msg\":{frame},\"recv_ts\":12}}"), "b").unwrap();
        let c = Recording::parse(&format!("{{ \"msg\": {frame}, \"recv_ts\": 12 }}"), "c").unwrap();
        for r in [&a, &b, &c] {
            assert_eq!(r.records[0].recv_ts, 12);
            assert_eq!(r.records[0].messages, a.records[0].messages);
        }
        assert_eq!(a.records[0].messages.len(), 1);
        for bad in [
            format!("{{\"recv_ts\":12,\"msg\":{frame},\"x\":1}}"),
            format!("{{\"recv_ts\":012,\"msg\":{frame}}}"),
            format!("{{\"msg\":{frame} 1,\"recv_ts\":12}}"),
            format!("{{\"recv_ts\":99999999999999999999,\"msg\":{frame}}}"),
        ] {
            let err = Recording::parse(&bad, "x.jsonl").unwrap_err().to_string();
            assert!(err.contains("x.jsonl, line 1"), "{bad}: {err}");
        }
    }

    #[test]
    fn sample_spans_midnight_with_paired_markets() {
        let r = Recording::sample().unwrap();
        assert!(r.message_count() >= 2_000);
        let first = r.records.first().unwrap().recv_ts;
        let last = r.records.last().unwrap().recv_ts;
        let day = 86_400_000;
        assert!(first / day < last / day, "sample must cross 00:00 UTC");
        let markets = r.markets(Price::from_micros(10_000), Size::from_micros(5_000_000), 0);
        assert!(markets.len() >= 4);
        assert!(markets.iter().all(|m| m.complement.is_some()));
    }
}
