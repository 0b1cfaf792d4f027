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

/// How errors name the bundled sample.
const SAMPLE_ORIGIN: &str = "(bundled sample)";

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

/// Reads a recording one line at a time, keeping only the current frame's messages: a
/// replay streams a file of any size through it in constant memory.
#[derive(Debug)]
pub struct RecordReader<R> {
    input: R,
    origin: String,
    line: String,
    number: usize,
    parser: FrameParser,
    messages: Vec<MarketMessage>,
}

impl RecordReader<Box<dyn std::io::BufRead>> {
    /// Open a recording file.
    pub fn open(path: &Path) -> Result<Self, RecordingError> {
        let file = std::fs::File::open(path).map_err(|source| RecordingError::Read {
            path: path.to_owned(),
            source,
        })?;
        Ok(RecordReader::new(
            Box::new(std::io::BufReader::with_capacity(1 << 20, file)),
            &path.display().to_string(),
        ))
    }

    /// The bundled sample.
    pub fn sample() -> Self {
        RecordReader::new(Box::new(SAMPLE.as_bytes()), SAMPLE_ORIGIN)
    }
}

impl<R: std::io::BufRead> RecordReader<R> {
    /// Read `input`; `origin` names it in errors.
    pub fn new(input: R, origin: &str) -> Self {
        RecordReader {
            input,
            origin: origin.to_owned(),
            line: String::new(),
            number: 0,
            parser: FrameParser::default(),
            messages: Vec::new(),
        }
    }

    /// Read with `parser`, which already knows the session's ids: a second pass over a
    /// recording then shares each id's text with the first (the desk's own copies), so
    /// comparing them never reads the text.
    pub fn with_parser(mut self, parser: FrameParser) -> Self {
        self.parser = parser;
        self
    }

    /// The parser, with the ids it has seen.
    pub fn into_parser(self) -> FrameParser {
        self.parser
    }

    /// The 1-based line of the frame last returned.
    pub fn line_number(&self) -> usize {
        self.number
    }

    /// The next frame: its receive time and messages (valid until the next call), or
    /// `None` at the end. Blank lines are skipped.
    pub fn next_frame(&mut self) -> Result<Option<(u64, &[MarketMessage])>, RecordingError> {
        loop {
            self.line.clear();
            let read =
                self.input
                    .read_line(&mut self.line)
                    .map_err(|source| RecordingError::Read {
                        path: PathBuf::from(&self.origin),
                        source,
                    })?;
            if read == 0 {
                return Ok(None);
            }
            self.number += 1;
            let raw = self.line.trim_end_matches(['\n', '\r']);
            if raw.trim().is_empty() {
                continue;
            }
            let recv_ts =
                parse_line(&mut self.parser, raw, &mut self.messages).map_err(|message| {
                    RecordingError::Line {
                        origin: self.origin.clone(),
                        line: self.number,
                        message,
                    }
                })?;
            return Ok(Some((recv_ts, &self.messages)));
        }
    }
}

/// One line's receive time, its messages written to `messages`.
fn parse_line(
    parser: &mut FrameParser,
    raw: &str,
    messages: &mut Vec<MarketMessage>,
) -> Result<u64, String> {
    // The usual line is read without a JSON pass of its own over the frame; any other (or
    // a frame that does not parse) goes through the general reader, which also words the
    // error.
    let fast = split_line(raw)
        .and_then(|(recv_ts, frame)| parser.parse_into(frame, messages).ok().map(|()| recv_ts));
    if let Some(recv_ts) = fast {
        return Ok(recv_ts);
    }
    messages.clear();
    let expected =
        "expected {\"recv_ts\": MS, \"msg\": FRAME} or {\"recv_ts\": MS, \"rest_book\": BODY}";
    let line: Line<'_> = serde_json::from_str(raw).map_err(|e| format!("{expected}: {e}"))?;
    match (line.msg, line.rest_book) {
        (Some(frame), None) => parser.parse_into(frame.get(), messages),
        (None, Some(body)) => parser.parse_rest_book(body.get()).map(|m| messages.push(m)),
        _ => return Err(expected.to_owned()),
    }
    .map_err(|e| e.to_string())?;
    Ok(line.recv_ts)
}

/// The markets a session's messages name, gathered message by message: tick and minimum
/// size from each token's first snapshot (or the defaults), fee rate from its first trade
/// that states one (or the default), and the complement of each token (the other token of
/// the same condition, when there are exactly two).
#[derive(Debug)]
pub struct MarketCatalog {
    metas: BTreeMap<TokenId, MarketMeta>,
    seen_snapshot: Vec<TokenId>,
    seen_fee: Vec<TokenId>,
    default_tick: Price,
    default_min_size: Size,
    default_fee_bps: u32,
}

impl MarketCatalog {
    /// An empty catalog with these defaults.
    pub fn new(default_tick: Price, default_min_size: Size, default_fee_bps: u32) -> Self {
        MarketCatalog {
            metas: BTreeMap::new(),
            seen_snapshot: Vec::new(),
            seen_fee: Vec::new(),
            default_tick,
            default_min_size,
            default_fee_bps,
        }
    }

    fn entry(&mut self, token: &TokenId, condition: &str) -> &mut MarketMeta {
        let (tick, min_size, rate_bps) = (
            self.default_tick,
            self.default_min_size,
            self.default_fee_bps,
        );
        self.metas
            .entry(token.clone())
            .or_insert_with(|| MarketMeta {
                token: token.clone(),
                condition: condition.to_owned(),
                complement: None,
                fees: FeeSchedule {
                    rate_bps,
                    exponent: 1,
                },
                tick,
                min_size,
                neg_risk: false,
            })
    }

    /// Take in one message.
    pub fn add(&mut self, m: &MarketMessage) {
        match m {
            MarketMessage::Book(b) => {
                let first = !self.seen_snapshot.contains(&b.token);
                if first {
                    self.seen_snapshot.push(b.token.clone());
                }
                let meta = self.entry(&b.token, &b.condition);
                if first {
                    meta.tick = b.tick.unwrap_or(meta.tick);
                    meta.min_size = b.min_size.unwrap_or(meta.min_size);
                }
                meta.neg_risk = b.neg_risk.unwrap_or(meta.neg_risk);
            }
            MarketMessage::PriceChange {
                condition, changes, ..
            } => {
                for c in changes {
                    self.entry(&c.token, condition);
                }
            }
            MarketMessage::LastTrade {
                token,
                condition,
                fee_rate_bps,
                ..
            } => {
                let first = fee_rate_bps.is_some() && !self.seen_fee.contains(token);
                if first {
                    self.seen_fee.push(token.clone());
                }
                let meta = self.entry(token, condition);
                if let (Some(bps), true) = (fee_rate_bps, first) {
                    meta.fees.rate_bps = *bps;
                }
            }
            MarketMessage::TickSize {
                token, condition, ..
            } => {
                self.entry(token, condition);
            }
            MarketMessage::Other(_) => {}
        }
    }

    /// The markets, with each token's complement.
    pub fn finish(mut self) -> Vec<MarketMeta> {
        let mut by_condition: BTreeMap<String, Vec<TokenId>> = BTreeMap::new();
        for m in self.metas.values() {
            if !m.condition.is_empty() {
                by_condition
                    .entry(m.condition.clone())
                    .or_default()
                    .push(m.token.clone());
            }
        }
        for tokens in by_condition.values() {
            if let [a, b] = &tokens[..] {
                if let Some(m) = self.metas.get_mut(a) {
                    m.complement = Some(b.clone());
                }
                if let Some(m) = self.metas.get_mut(b) {
                    m.complement = Some(a.clone());
                }
            }
        }
        self.metas.into_values().collect()
    }
}

impl Recording {
    /// Read a recording file.
    pub fn read(path: &Path) -> Result<Recording, RecordingError> {
        Recording::from_reader(RecordReader::open(path)?)
    }

    /// The bundled sample.
    pub fn sample() -> Result<Recording, RecordingError> {
        Recording::from_reader(RecordReader::sample())
    }

    /// Parse recording text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Recording, RecordingError> {
        Recording::from_reader(RecordReader::new(text.as_bytes(), origin))
    }

    fn from_reader<R: std::io::BufRead>(
        mut reader: RecordReader<R>,
    ) -> Result<Recording, RecordingError> {
        let mut records = Vec::new();
        while let Some((recv_ts, messages)) = reader.next_frame()? {
            let messages = messages.to_vec();
            records.push(Record {
                line: reader.line_number(),
                recv_ts,
                messages,
            });
        }
        if records.is_empty() {
            return Err(RecordingError::Empty(reader.origin));
        }
        Ok(Recording { records })
    }

    /// Every market in the session (see [`MarketCatalog`]).
    pub fn markets(
        &self,
        default_tick: Price,
        default_min_size: Size,
        default_fee_bps: u32,
    ) -> Vec<MarketMeta> {
        let mut catalog = MarketCatalog::new(default_tick, default_min_size, default_fee_bps);
        for m in self.records.iter().flat_map(|r| &r.messages) {
            catalog.add(m);
        }
        catalog.finish()
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
