//! Polymarket market-channel messages, parsed into exact typed events.
//!
//! A WebSocket frame is one JSON object or an array of them, each with an `event_type`:
//! `book`, `price_change`, `tick_size_change`, `last_trade_price` are used; any other type
//! (`best_bid_ask`, `new_market`, ...) is tolerated and skipped. A REST `/book` body is read
//! as a `book` that also carries tick size, minimum size and neg-risk.
//!
//! [`FrameParser`] reads frames without allocating in the steady state: fields are borrowed
//! from the frame, token and condition ids are interned (a known id is a reference-count
//! bump), the few changes of a `price_change` live inline, and the output vector is reused.
//! Only snapshots (whole books) allocate their levels.

use std::collections::HashSet;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde_json::value::RawValue;
use smallvec::SmallVec;

use crate::book::Level;
use crate::ids::TokenId;
use crate::money::{MoneyError, Price, Size};
use crate::order::Side;

/// A market-channel message the host acts on.
#[derive(Debug, Clone, PartialEq)]
pub enum MarketMessage {
    /// A full book for one token.
    Book(BookSnapshot),
    /// Level changes, possibly for several tokens.
    PriceChange {
        /// Condition id.
        condition: Arc<str>,
        /// Exchange time, ms.
        ts: u64,
        /// The changes, in message order (inline up to four: one per outcome, usually).
        changes: Changes,
    },
    /// The tick size of a token changed.
    TickSize {
        /// Token.
        token: TokenId,
        /// Condition id.
        condition: Arc<str>,
        /// Exchange time, ms.
        ts: u64,
        /// Previous tick.
        old: Price,
        /// New tick.
        new: Price,
    },
    /// A trade printed.
    LastTrade {
        /// Token.
        token: TokenId,
        /// Condition id.
        condition: Arc<str>,
        /// Exchange time, ms.
        ts: u64,
        /// Trade price.
        price: Price,
        /// Trade size.
        size: Size,
        /// Taker side.
        side: Side,
        /// Fee rate of the trade, basis points.
        fee_rate_bps: Option<u32>,
    },
    /// A message type the host does not use.
    Other(String),
}

/// A `book` message.
#[derive(Debug, Clone, PartialEq)]
pub struct BookSnapshot {
    /// Token.
    pub token: TokenId,
    /// Condition id.
    pub condition: Arc<str>,
    /// Exchange time, ms.
    pub ts: u64,
    /// Bids in any order.
    pub bids: Vec<Level>,
    /// Asks in any order.
    pub asks: Vec<Level>,
    /// Tick size, when the message carries it.
    pub tick: Option<Price>,
    /// Minimum order size, when the message carries it.
    pub min_size: Option<Size>,
    /// Neg-risk market, when the message carries it (REST books do).
    pub neg_risk: Option<bool>,
}

/// The changes of one `price_change` message.
pub type Changes = SmallVec<[PriceChange; 4]>;

/// One entry of a `price_change` message.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceChange {
    /// Token.
    pub token: TokenId,
    /// BUY changes bids, SELL changes asks.
    pub side: Side,
    /// Level price.
    pub price: Price,
    /// New aggregate size (0 removes).
    pub size: Size,
}

/// Why a message could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MessageError {
    /// Not JSON, or not the shape of a market-channel message.
    #[error("not a market-channel message: {0}")]
    Malformed(String),
    /// A number field is not an exact decimal.
    #[error("field `{field}`: {source}")]
    Number {
        /// The field.
        field: &'static str,
        /// The problem.
        source: MoneyError,
    },
    /// A side that is neither BUY nor SELL.
    #[error("side `{0}` is neither BUY nor SELL")]
    Side(String),
    /// A timestamp that is not integer milliseconds.
    #[error("timestamp `{0}` is not integer milliseconds")]
    Timestamp(String),
}

#[derive(Deserialize)]
struct RawLevel<'a> {
    #[serde(borrow)]
    price: &'a str,
    #[serde(borrow)]
    size: &'a str,
}

#[derive(Deserialize)]
struct RawChange<'a> {
    #[serde(borrow)]
    asset_id: &'a str,
    #[serde(borrow)]
    price: &'a str,
    #[serde(borrow, default)]
    size: Option<&'a str>,
    #[serde(borrow)]
    side: &'a str,
}

/// Every field of every message type the host reads, in one flat struct: one pass, and
/// nothing nested is skipped (skipping nested values makes serde_json allocate).
#[derive(Deserialize)]
struct RawAny<'a> {
    #[serde(borrow, default)]
    event_type: Option<&'a str>,
    #[serde(borrow, default)]
    asset_id: Option<&'a str>,
    #[serde(borrow, default)]
    market: Option<&'a str>,
    #[serde(borrow, default)]
    timestamp: Option<&'a str>,
    #[serde(borrow, default)]
    bids: Vec<RawLevel<'a>>,
    #[serde(borrow, default)]
    asks: Vec<RawLevel<'a>>,
    #[serde(borrow, default)]
    tick_size: Option<&'a str>,
    #[serde(borrow, default)]
    min_order_size: Option<&'a str>,
    #[serde(default)]
    neg_risk: Option<bool>,
    #[serde(borrow, default)]
    price_changes: SmallVec<[RawChange<'a>; 4]>,
    #[serde(borrow, default)]
    old_tick_size: Option<&'a str>,
    #[serde(borrow, default)]
    new_tick_size: Option<&'a str>,
    #[serde(borrow, default)]
    price: Option<&'a str>,
    #[serde(borrow, default)]
    size: Option<&'a str>,
    #[serde(borrow, default)]
    side: Option<&'a str>,
    #[serde(borrow, default)]
    fee_rate_bps: Option<&'a str>,
}

/// Only the type, for a message whose other fields are not what the host expects.
#[derive(Deserialize)]
struct Tag<'a> {
    #[serde(borrow, default)]
    event_type: Option<&'a str>,
}

/// A field a message type must have.
fn req<'a>(v: Option<&'a str>, field: &str) -> Result<&'a str, MessageError> {
    v.ok_or_else(|| MessageError::Malformed(format!("missing field `{field}`")))
}

fn price(field: &'static str, s: &str) -> Result<Price, MessageError> {
    Price::parse(s).map_err(|source| MessageError::Number { field, source })
}

fn size(field: &'static str, s: &str) -> Result<Size, MessageError> {
    Size::parse(s).map_err(|source| MessageError::Number { field, source })
}

fn side(s: &str) -> Result<Side, MessageError> {
    Side::parse(s).ok_or_else(|| MessageError::Side(s.to_owned()))
}

fn ts(s: &str) -> Result<u64, MessageError> {
    s.parse().map_err(|_| MessageError::Timestamp(s.to_owned()))
}

fn levels(raw: &[RawLevel<'_>]) -> Result<Vec<Level>, MessageError> {
    raw.iter()
        .map(|l| {
            Ok(Level {
                price: price("price", l.price)?,
                size: size("size", l.size)?,
            })
        })
        .collect()
}

fn malformed(e: serde_json::Error) -> MessageError {
    MessageError::Malformed(e.to_string())
}

/// Reads frames into [`MarketMessage`]s, interning ids so that the steady state allocates
/// nothing. One per feed; cheap to create.
#[derive(Debug, Default)]
pub struct FrameParser {
    tokens: HashSet<TokenId>,
    conditions: HashSet<Arc<str>>,
}

/// Calls a closure for each element of a JSON array, without collecting them.
struct EachElement<'f, F>(&'f mut F);

impl<'de, F> Visitor<'de> for EachElement<'_, F>
where
    F: FnMut(&'de RawValue) -> bool,
{
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of market messages")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            if !(self.0)(raw) {
                return Err(de::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

impl<'de, F> DeserializeSeed<'de> for EachElement<'_, F>
where
    F: FnMut(&'de RawValue) -> bool,
{
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl FrameParser {
    /// The interned id of `id`.
    pub fn token(&mut self, id: &str) -> TokenId {
        if let Some(t) = self.tokens.get(id) {
            return t.clone();
        }
        let t = TokenId::new(id);
        self.tokens.insert(t.clone());
        t
    }

    fn condition(&mut self, id: &str) -> Arc<str> {
        if let Some(c) = self.conditions.get(id) {
            return Arc::clone(c);
        }
        let c: Arc<str> = Arc::from(id);
        self.conditions.insert(Arc::clone(&c));
        c
    }

    /// Parse a WebSocket frame into `out` (cleared first). On error `out` is left empty:
    /// a frame is used whole or not at all.
    pub fn parse_into(
        &mut self,
        frame: &str,
        out: &mut Vec<MarketMessage>,
    ) -> Result<(), MessageError> {
        out.clear();
        let result = if frame.trim_start().starts_with('[') {
            let mut error = None;
            let mut each = |raw: &RawValue| match self.message(raw.get()) {
                Ok(m) => {
                    out.push(m);
                    true
                }
                Err(e) => {
                    error = Some(e);
                    false
                }
            };
            let mut de = serde_json::Deserializer::from_str(frame);
            let walked = EachElement(&mut each)
                .deserialize(&mut de)
                .and_then(|()| de.end());
            match (error, walked) {
                (Some(e), _) => Err(e),
                (None, Err(e)) => Err(malformed(e)),
                (None, Ok(())) => Ok(()),
            }
        } else {
            self.message(frame).map(|m| out.push(m))
        };
        if result.is_err() {
            out.clear();
        }
        result
    }

    /// Parse a REST `/book` body (a book with tick size, minimum size and neg-risk).
    pub fn parse_rest_book(&mut self, body: &str) -> Result<MarketMessage, MessageError> {
        self.book(serde_json::from_str(body).map_err(malformed)?)
    }

    fn message(&mut self, text: &str) -> Result<MarketMessage, MessageError> {
        let raw: RawAny<'_> = match serde_json::from_str(text) {
            Ok(raw) => raw,
            Err(e) => {
                // A type the host does not read may use the same names differently.
                let tag: Tag<'_> = serde_json::from_str(text).map_err(malformed)?;
                return match tag.event_type {
                    Some("book" | "price_change" | "tick_size_change" | "last_trade_price")
                    | None => Err(malformed(e)),
                    Some(_) => Ok(MarketMessage::Other(String::new())),
                };
            }
        };
        let market = raw.market.unwrap_or_default();
        match raw.event_type {
            Some("book") => self.book(raw),
            Some("price_change") => {
                let mut changes = Changes::new();
                for c in &raw.price_changes {
                    changes.push(PriceChange {
                        token: self.token(c.asset_id),
                        side: side(c.side)?,
                        price: price("price", c.price)?,
                        size: c.size.map_or(Ok(Size::ZERO), |s| size("size", s))?,
                    });
                }
                Ok(MarketMessage::PriceChange {
                    condition: self.condition(market),
                    ts: ts(req(raw.timestamp, "timestamp")?)?,
                    changes,
                })
            }
            Some("tick_size_change") => Ok(MarketMessage::TickSize {
                token: self.token(req(raw.asset_id, "asset_id")?),
                condition: self.condition(market),
                ts: ts(req(raw.timestamp, "timestamp")?)?,
                old: price("old_tick_size", req(raw.old_tick_size, "old_tick_size")?)?,
                new: price("new_tick_size", req(raw.new_tick_size, "new_tick_size")?)?,
            }),
            Some("last_trade_price") => Ok(MarketMessage::LastTrade {
                token: self.token(req(raw.asset_id, "asset_id")?),
                condition: self.condition(market),
                ts: ts(req(raw.timestamp, "timestamp")?)?,
                price: price("price", req(raw.price, "price")?)?,
                size: size("size", req(raw.size, "size")?)?,
                side: side(req(raw.side, "side")?)?,
                fee_rate_bps: raw.fee_rate_bps.and_then(|f| f.parse().ok()),
            }),
            Some(_) => Ok(MarketMessage::Other(String::new())),
            None => Err(MessageError::Malformed(
                "missing field `event_type`".to_owned(),
            )),
        }
    }

    fn book(&mut self, raw: RawAny<'_>) -> Result<MarketMessage, MessageError> {
        Ok(MarketMessage::Book(BookSnapshot {
            token: self.token(req(raw.asset_id, "asset_id")?),
            condition: self.condition(raw.market.unwrap_or_default()),
            ts: ts(req(raw.timestamp, "timestamp")?)?,
            bids: levels(&raw.bids)?,
            asks: levels(&raw.asks)?,
            tick: raw.tick_size.map(|t| price("tick_size", t)).transpose()?,
            min_size: raw
                .min_order_size
                .map(|m| size("min_order_size", m))
                .transpose()?,
            neg_risk: raw.neg_risk,
        }))
    }
}

impl MarketMessage {
    /// Parse one WebSocket frame (an object or an array of objects). Allocates; a feed
    /// should keep a [`FrameParser`].
    pub fn parse_frame(frame: &str) -> Result<Vec<MarketMessage>, MessageError> {
        let mut out = Vec::new();
        FrameParser::default().parse_into(frame, &mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_kind() {
        let frame = r#"[
          {"event_type":"book","asset_id":"7","market":"0xab","timestamp":"1703875200000",
           "bids":[{"price":"0.49","size":"350"}],"asks":[{"price":"0.52","size":"250"}],
           "tick_size":"0.01","min_order_size":"5"},
          {"event_type":"price_change","market":"0xab","timestamp":"1703875201000",
           "price_changes":[{"asset_id":"7","price":"0.51","size":"150","side":"BUY","hash":"h","best_bid":"0.51","best_ask":"0.52"}]},
          {"event_type":"tick_size_change","asset_id":"7","market":"0xab","old_tick_size":"0.1","new_tick_size":"0.01","timestamp":"1"},
          {"event_type":"last_trade_price","asset_id":"7","market":"0xab","price":"0.51","side":"BUY","size":"25","fee_rate_bps":"0","timestamp":"2"},
          {"event_type":"settlement_preview","market":"0xab"}
        ]"#;
        let msgs = MarketMessage::parse_frame(frame).unwrap();
        assert_eq!(msgs.len(), 5);
        match &msgs[0] {
            MarketMessage::Book(b) => {
                assert_eq!(b.ts, 1_703_875_200_000);
                assert_eq!(b.tick, Some(Price::parse("0.01").unwrap()));
                assert_eq!(b.min_size, Some(Size::parse("5").unwrap()));
            }
            other => panic!("expected book, got {other:?}"),
        }
        assert!(
            matches!(&msgs[1], MarketMessage::PriceChange { changes, .. } if changes[0].side == Side::Buy)
        );
        assert!(
            matches!(&msgs[2], MarketMessage::TickSize { new, .. } if *new == Price::parse("0.01").unwrap())
        );
        assert!(matches!(
            &msgs[3],
            MarketMessage::LastTrade {
                fee_rate_bps: Some(0),
                ..
            }
        ));
        assert!(matches!(&msgs[4], MarketMessage::Other(_)));
    }

    #[test]
    fn a_frame_is_used_whole_and_ids_are_interned() {
        let mut p = FrameParser::default();
        let mut out = Vec::new();
        let good = r#"{"event_type":"price_change","market":"0xab","timestamp":"5","price_changes":[{"asset_id":"7","price":"0.5","size":"1","side":"SELL"}]}"#;
        p.parse_into(&format!("[{good},{good}]"), &mut out).unwrap();
        assert_eq!(out.len(), 2);
        let token = |m: &MarketMessage| match m {
            MarketMessage::PriceChange { changes, .. } => changes[0].token.clone(),
            other => panic!("{other:?}"),
        };
        assert!(std::ptr::eq(
            token(&out[0]).as_str(),
            token(&out[1]).as_str()
        ));
        let bad =
            r#"{"event_type":"price_change","market":"0xab","timestamp":"x","price_changes":[]}"#;
        let err = p
            .parse_into(&format!("[{good},{bad}]"), &mut out)
            .unwrap_err();
        assert_eq!(err, MessageError::Timestamp("x".to_owned()));
        assert!(out.is_empty(), "nothing of a bad frame is used");
        assert!(p.parse_into("[{}", &mut out).is_err());
        // A type the host does not read, with fields shaped unlike its own, is skipped.
        p.parse_into(
            r#"{"event_type":"new_market","price":{"a":1},"timestamp":7}"#,
            &mut out,
        )
        .unwrap();
        assert!(matches!(out[..], [MarketMessage::Other(_)]));
        // ... but a known type with a wrong shape is an error.
        assert!(
            p.parse_into(
                r#"{"event_type":"book","asset_id":"7","timestamp":7}"#,
                &mut out
            )
            .is_err()
        );
    }

    #[test]
    fn rest_books_carry_tick_min_size_and_neg_risk() {
        let body = r#"{"market":"0xab","asset_id":"7","timestamp":"1782753357257","hash":"h",
            "bids":[{"price":"0.48","size":"100"},{"price":"0.50","size":"150"}],
            "asks":[{"price":"0.53","size":"90"},{"price":"0.51","size":"120"}],
            "min_order_size":"5","tick_size":"0.01","neg_risk":true,"last_trade_price":"0.50"}"#;
        let MarketMessage::Book(b) = FrameParser::default().parse_rest_book(body).unwrap() else {
            panic!("a book")
        };
        assert_eq!(b.neg_risk, Some(true));
        assert_eq!(b.tick, Some(Price::parse("0.01").unwrap()));
        assert_eq!(b.min_size, Some(Size::parse("5").unwrap()));
        assert_eq!((b.bids.len(), b.asks.len()), (2, 2));
    }

    #[test]
    fn bad_numbers_name_the_field() {
        let frame = r#"{"event_type":"last_trade_price","asset_id":"7","price":"x","side":"BUY","size":"1","timestamp":"2"}"#;
        let err = MarketMessage::parse_frame(frame).unwrap_err();
        assert!(err.to_string().contains("price"), "{err}");
        let frame = r#"{"event_type":"last_trade_price","asset_id":"7","price":"0.5","side":"UP","size":"1","timestamp":"2"}"#;
        assert!(matches!(
            MarketMessage::parse_frame(frame),
            Err(MessageError::Side(_))
        ));
    }
}
