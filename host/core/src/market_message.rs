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

/// First pass: only the type (every other field is skipped without allocating).
#[derive(Deserialize)]
struct Tag<'a> {
    #[serde(borrow, default)]
    event_type: Option<&'a str>,
}

#[derive(Deserialize)]
struct RawBook<'a> {
    #[serde(borrow)]
    asset_id: &'a str,
    #[serde(borrow, default)]
    market: &'a str,
    #[serde(borrow)]
    timestamp: &'a str,
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
}

#[derive(Deserialize)]
struct RawPriceChange<'a> {
    #[serde(borrow, default)]
    market: &'a str,
    #[serde(borrow)]
    timestamp: &'a str,
    #[serde(borrow)]
    price_changes: SmallVec<[RawChange<'a>; 4]>,
}

#[derive(Deserialize)]
struct RawTickSize<'a> {
    #[serde(borrow)]
    asset_id: &'a str,
    #[serde(borrow, default)]
    market: &'a str,
    #[serde(borrow)]
    timestamp: &'a str,
    #[serde(borrow)]
    old_tick_size: &'a str,
    #[serde(borrow)]
    new_tick_size: &'a str,
}

#[derive(Deserialize)]
struct RawTrade<'a> {
    #[serde(borrow)]
    asset_id: &'a str,
    #[serde(borrow, default)]
    market: &'a str,
    #[serde(borrow)]
    timestamp: &'a str,
    #[serde(borrow)]
    price: &'a str,
    #[serde(borrow)]
    size: &'a str,
    #[serde(borrow)]
    side: &'a str,
    #[serde(borrow, default)]
    fee_rate_bps: Option<&'a str>,
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
        self.book(body)
    }

    fn message(&mut self, text: &str) -> Result<MarketMessage, MessageError> {
        let tag: Tag<'_> = serde_json::from_str(text).map_err(malformed)?;
        match tag.event_type {
            Some("book") => self.book(text),
            Some("price_change") => {
                let raw: RawPriceChange<'_> = serde_json::from_str(text).map_err(malformed)?;
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
                    condition: self.condition(raw.market),
                    ts: ts(raw.timestamp)?,
                    changes,
                })
            }
            Some("tick_size_change") => {
                let raw: RawTickSize<'_> = serde_json::from_str(text).map_err(malformed)?;
                Ok(MarketMessage::TickSize {
                    token: self.token(raw.asset_id),
                    condition: self.condition(raw.market),
                    ts: ts(raw.timestamp)?,
                    old: price("old_tick_size", raw.old_tick_size)?,
                    new: price("new_tick_size", raw.new_tick_size)?,
                })
            }
            Some("last_trade_price") => {
                let raw: RawTrade<'_> = serde_json::from_str(text).map_err(malformed)?;
                Ok(MarketMessage::LastTrade {
                    token: self.token(raw.asset_id),
                    condition: self.condition(raw.market),
                    ts: ts(raw.timestamp)?,
                    price: price("price", raw.price)?,
                    size: size("size", raw.size)?,
                    side: side(raw.side)?,
                    fee_rate_bps: raw.fee_rate_bps.and_then(|f| f.parse().ok()),
                })
            }
            Some(_) => Ok(MarketMessage::Other(String::new())),
            None => Err(MessageError::Malformed(
                "missing field `event_type`".to_owned(),
            )),
        }
    }

    fn book(&mut self, text: &str) -> Result<MarketMessage, MessageError> {
        let raw: RawBook<'_> = serde_json::from_str(text).map_err(malformed)?;
        Ok(MarketMessage::Book(BookSnapshot {
            token: self.token(raw.asset_id),
            condition: self.condition(raw.market),
            ts: ts(raw.timestamp)?,
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
