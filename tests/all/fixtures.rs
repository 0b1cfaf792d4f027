//! Books and parsers against messages captured from the real exchange
//! (`../shared/fixtures/polymarket-captured`, read in place, never copied here).

use std::path::PathBuf;

use polybox_core::book::{BookHealth, Level, OrderBook};
use polybox_core::ids::TokenId;
use polybox_core::market_message::MarketMessage;
use polybox_core::money::{Price, Size};

fn fixtures() -> PathBuf {
    let dir = polybox_tests::root().join("../shared/fixtures/polymarket-captured");
    assert!(
        dir.is_dir(),
        "captured fixtures not found at {}: they ship in shared/ beside the repo",
        dir.display()
    );
    dir
}

fn messages(name: &str) -> Vec<MarketMessage> {
    let text = std::fs::read_to_string(fixtures().join(name)).unwrap();
    MarketMessage::parse_frame(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_market_channel_fixture_parses() {
    for name in [
        "ws_book_snapshot_captured.json",
        "ws_market_book_msg.json",
        "ws_market_price_change_msg.json",
        "ws_market_tick_size_msg.json",
        "ws_market_last_trade_msg.json",
        "ws_market_best_bid_ask_msg.json",
        "ws_market_resolved_msg.json",
        "ws_market_new_market_msg.json",
        "ws_market_mixed_known_unknown.json",
        "ws_market_price_change_crossing_burst.json",
    ] {
        assert!(!messages(name).is_empty(), "{name}");
    }
    let mixed = messages("ws_market_mixed_known_unknown.json");
    assert!(matches!(mixed[1], MarketMessage::Other(_)));
    assert!(matches!(mixed[2], MarketMessage::LastTrade { .. }));
}

#[test]
fn the_captured_snapshot_orders_best_last_and_the_book_finds_the_top() {
    let msgs = messages("ws_book_snapshot_captured.json");
    let MarketMessage::Book(s) = &msgs[0] else {
        panic!("not a book")
    };
    let mut book = OrderBook::new(
        s.token.clone(),
        s.tick.unwrap(),
        Size::from_micros(5_000_000),
    );
    book.apply_snapshot(s.ts, s.bids.iter().copied(), s.asks.iter().copied());
    assert_eq!(
        book.best_bid().map(|l| l.price),
        s.bids.last().map(|l| l.price)
    );
    assert_eq!(
        book.best_ask().map(|l| l.price),
        s.asks.last().map(|l| l.price)
    );
    assert_eq!(book.depth(), (s.bids.len(), s.asks.len()));
}

#[test]
fn the_crossing_burst_replays_to_the_final_snapshot_and_is_held_while_crossed() {
    let msgs = messages("ws_market_price_change_crossing_burst.json");
    let (MarketMessage::Book(first), MarketMessage::Book(last)) = (&msgs[0], &msgs[msgs.len() - 1])
    else {
        panic!("burst must start and end with a book")
    };
    let token: TokenId = first.token.clone();
    let mut book = OrderBook::new(
        token.clone(),
        Price::from_micros(1_000),
        Size::from_micros(5_000_000),
    );
    book.apply_snapshot(
        first.ts,
        first.bids.iter().copied(),
        first.asks.iter().copied(),
    );
    let mut health = Vec::new();
    for m in &msgs[1..msgs.len() - 1] {
        let MarketMessage::PriceChange { ts, changes, .. } = m else {
            panic!("expected price_change")
        };
        for c in changes.iter().filter(|c| c.token == token) {
            assert!(
                book.apply_change(*ts, c.side, c.price, c.size),
                "delta refused at {ts}"
            );
        }
        health.push(book.health());
    }
    // The last three deltas: crossed, then locked (still not tradable), then clear.
    let n = health.len();
    assert_eq!(
        &health[n - 3..],
        &[
            BookHealth::Crossed,
            BookHealth::Crossed,
            BookHealth::Tradable
        ]
    );
    assert!(health[..n - 3].iter().all(|h| *h == BookHealth::Tradable));
    let bids: Vec<Level> = book.bids().collect();
    let asks: Vec<Level> = book.asks().collect();
    let mut want_bids = last.bids.clone();
    want_bids.sort_by_key(|l| std::cmp::Reverse(l.price));
    let mut want_asks = last.asks.clone();
    want_asks.sort_by_key(|a| a.price);
    assert_eq!(bids, want_bids);
    assert_eq!(asks, want_asks);
    assert_eq!(
        book.best_bid().unwrap().price,
        Price::parse("0.29").unwrap()
    );
    assert_eq!(
        book.best_ask().unwrap().price,
        Price::parse("0.301").unwrap()
    );
}
