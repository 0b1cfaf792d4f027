//! Polymarket market-channel messages, parsed into exact typed events.
//!
//! A WebSocket frame is one JSON object or an array of them, each with an `event_type`:
//! `book`, `price_change`, `tick_size_change`, `last_trade_price` are used; any other type
//! (`best_bid_ask`, `new_market`, ...) is tolerated and skipped.

use serde::Deserialize;

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
        condition: String,
        /// Exchange time, ms.
        ts: u64,
        /// The changes, in message order.
        changes: Vec<PriceChange>,
    },
    /// The tick size of a token changed.
    TickSize {
        /// Token.
        token: TokenId,
        /// Condition id.
        condition: String,
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
        condition: String,
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
    pub condition: String,
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
}

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

#[derive(Deserialize)]
#[serde(tag = "event_type", rename_all = "snake_case")]
enum Raw<'a> {
    Book {
        #[serde(borrow)]
        asset_id: &'a str,
        #[serde(borrow, default)]
        market: &'a str,
        #[serde(borrow)]
        timestamp: &'a str,
        #[serde(borrow)]
        bids: Vec<RawLevel<'a>>,
        #[serde(borrow)]
        asks: Vec<RawLevel<'a>>,
        #[serde(borrow, default)]
        tick_size: Option<&'a str>,
        #[serde(borrow, default)]
        min_order_size: Option<&'a str>,
    },
    PriceChange {
        #[serde(borrow, default)]
        market: &'a str,
        #[serde(borrow)]
        timestamp: &'a str,
        #[serde(borrow)]
        price_changes: Vec<RawChange<'a>>,
    },
    TickSizeChange {
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
    },
    LastTradePrice {
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
    },
    #[serde(other)]
    Other,
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

impl MarketMessage {
    /// Parse one WebSocket frame (an object or an array of objects).
    pub fn parse_frame(frame: &str) -> Result<Vec<MarketMessage>, MessageError> {
        let trimmed = frame.trim_start();
        if trimmed.starts_with('[') {
            let raws: Vec<Raw<'_>> =
                serde_json::from_str(frame).map_err(|e| MessageError::Malformed(e.to_string()))?;
            raws.into_iter().map(Self::from_raw).collect()
        } else {
            let raw: Raw<'_> =
                serde_json::from_str(frame).map_err(|e| MessageError::Malformed(e.to_string()))?;
            Ok(vec![Self::from_raw(raw)?])
        }
    }

    fn from_raw(raw: Raw<'_>) -> Result<MarketMessage, MessageError> {
        Ok(match raw {
            Raw::Book {
                asset_id,
                market,
                timestamp,
                bids,
                asks,
                tick_size,
                min_order_size,
            } => MarketMessage::Book(BookSnapshot {
                token: TokenId::new(asset_id),
                condition: market.to_owned(),
                ts: ts(timestamp)?,
                bids: levels(&bids)?,
                asks: levels(&asks)?,
                tick: tick_size.map(|t| price("tick_size", t)).transpose()?,
                min_size: min_order_size
                    .map(|m| size("min_order_size", m))
                    .transpose()?,
            }),
            Raw::PriceChange {
                market,
                timestamp,
                price_changes,
            } => MarketMessage::PriceChange {
                condition: market.to_owned(),
                ts: ts(timestamp)?,
                changes: price_changes
                    .iter()
                    .map(|c| {
                        Ok(PriceChange {
                            token: TokenId::new(c.asset_id),
                            side: side(c.side)?,
                            price: price("price", c.price)?,
                            size: c.size.map_or(Ok(Size::ZERO), |s| size("size", s))?,
                        })
                    })
                    .collect::<Result<_, MessageError>>()?,
            },
            Raw::TickSizeChange {
                asset_id,
                market,
                timestamp,
                old_tick_size,
                new_tick_size,
            } => MarketMessage::TickSize {
                token: TokenId::new(asset_id),
                condition: market.to_owned(),
                ts: ts(timestamp)?,
                old: price("old_tick_size", old_tick_size)?,
                new: price("new_tick_size", new_tick_size)?,
            },
            Raw::LastTradePrice {
                asset_id,
                market,
                timestamp,
                price: p,
                size: s,
                side: sd,
                fee_rate_bps,
            } => MarketMessage::LastTrade {
                token: TokenId::new(asset_id),
                condition: market.to_owned(),
                ts: ts(timestamp)?,
                price: price("price", p)?,
                size: size("size", s)?,
                side: side(sd)?,
                fee_rate_bps: fee_rate_bps.and_then(|f| f.parse().ok()),
            },
            Raw::Other => MarketMessage::Other(String::new()),
        })
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
