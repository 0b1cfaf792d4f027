//! The market-channel client against a fake exchange on 127.0.0.1 that drops, stalls,
//! duplicates, reorders and crosses: afterwards the client's books equal the server's,
//! level by level.

use std::collections::BTreeMap;
use std::time::Duration;

use polybox::market::feed::{self, FeedConfig, FeedEvent};
use polybox_core::book::OrderBook;
use polybox_core::market_message::MarketMessage;
use polybox_core::money::{Price, Size};
use polybox_tests::fake_market::FakeMarket;
use tokio::sync::mpsc;
use tokio::time::timeout;

const TOKENS: [&str; 2] = ["111", "222"];

struct Client {
    rx: mpsc::Receiver<FeedEvent>,
    books: BTreeMap<String, OrderBook>,
    connected: u32,
    disconnects: Vec<String>,
}

impl Client {
    fn new(rx: mpsc::Receiver<FeedEvent>) -> Client {
        Client {
            rx,
            books: BTreeMap::new(),
            connected: 0,
            disconnects: Vec::new(),
        }
    }

    fn apply(&mut self, event: FeedEvent) {
        match event {
            FeedEvent::Connected { connection } => self.connected = connection,
            FeedEvent::Disconnected { reason, .. } => self.disconnects.push(reason),
            FeedEvent::Frame { text, .. } => {
                for m in MarketMessage::parse_frame(&text).unwrap() {
                    match m {
                        MarketMessage::Book(s) => {
                            let book = self.books.entry(s.token.to_string()).or_insert_with(|| {
                                OrderBook::new(
                                    s.token.clone(),
                                    Price::from_micros(10_000),
                                    Size::from_micros(5_000_000),
                                )
                            });
                            book.apply_snapshot(s.ts, s.bids, s.asks);
                        }
                        MarketMessage::PriceChange { ts, changes, .. } => {
                            for c in changes {
                                if let Some(b) = self.books.get_mut(c.token.as_str()) {
                                    b.apply_change(ts, c.side, c.price, c.size);
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    fn matches_tokens(&self, server: &FakeMarket, tokens: &[&str]) -> bool {
        tokens.iter().all(|t| {
            let Some(b) = self.books.get(*t) else {
                return false;
            };
            let (bids, asks) = server.book(t);
            b.bids().map(|l| (l.price, l.size)).eq(bids)
                && b.asks().map(|l| (l.price, l.size)).eq(asks)
        })
    }

    /// Process events until the books equal the server's (or fail after 10 s).
    async fn converge(&mut self, server: &FakeMarket, what: &str) {
        self.converge_on(server, &TOKENS, what).await;
    }

    /// Process events until the books of `tokens` equal the server's.
    async fn converge_on(&mut self, server: &FakeMarket, tokens: &[&str], what: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !self.matches_tokens(server, tokens) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match timeout(left, self.rx.recv()).await {
                Ok(Some(e)) => self.apply(e),
                Ok(None) => panic!("feed ended during {what}"),
                Err(_) => panic!(
                    "books never matched the server after {what}; disconnects: {:?}",
                    self.disconnects
                ),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_survives_drops_stalls_duplicates_reordering_and_crossing() {
    let mut server = FakeMarket::start(&TOKENS, 7).await;
    let (tx, rx) = mpsc::channel(10_000);
    let mut config = FeedConfig::new(&server.url());
    config.ping_every = Duration::from_millis(50);
    config.stale_after = Duration::from_millis(300);
    config.backoff_min = Duration::from_millis(20);
    config.backoff_max = Duration::from_millis(200);
    let tokens: Vec<String> = TOKENS.iter().map(|t| (*t).to_owned()).collect();
    let (_subscription, wanted) = feed::subscription(&tokens);
    let task = tokio::spawn(feed::run(config, wanted, tx, std::sync::Arc::default()));
    let mut client = Client::new(rx);

    client.converge(&server, "the initial snapshot").await;
    server.step(200);
    server.duplicate();
    server.reorder();
    server.cross_briefly(TOKENS[0]);
    server.step(50);
    client
        .converge(&server, "duplicates, reordering and a crossed moment")
        .await;
    assert_eq!(
        client.connected, 1,
        "no reconnect needed so far: {:?}",
        client.disconnects
    );

    server.drop_connections();
    server.step(100);
    client.converge(&server, "a dropped connection").await;
    assert!(client.connected >= 2);

    server.stall(Duration::from_millis(700));
    server.step(100);
    tokio::time::sleep(Duration::from_millis(800)).await;
    server.step(20);
    client.converge(&server, "a silent stall").await;
    assert!(
        client.disconnects.iter().any(|r| r.starts_with("stale")),
        "{:?}",
        client.disconnects
    );

    for (i, sub) in server.subscriptions().iter().enumerate() {
        assert_eq!(sub, &tokens, "subscription {i} resubscribed every token");
    }
    assert!(server.connections() >= 3);
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_follow_the_token_set_on_the_open_socket() {
    let mut server = FakeMarket::start(&["111", "222", "333"], 5).await;
    let (tx, rx) = mpsc::channel(10_000);
    let mut config = FeedConfig::new(&server.url());
    config.stale_after = Duration::from_millis(400);
    config.backoff_min = Duration::from_millis(20);
    let (subscription, wanted) = feed::subscription(&["111".to_owned()]);
    let task = tokio::spawn(feed::run(config, wanted, tx, std::sync::Arc::default()));
    let mut client = Client::new(rx);
    client
        .converge_on(&server, &["111"], "the first subscription")
        .await;

    // A strategy that trades 222 is loaded: subscribe on the same socket.
    subscription.send_replace(["111", "222"].map(str::to_owned).into());
    server.step(30);
    client
        .converge_on(&server, &["111", "222"], "a subscription added")
        .await;
    // The one trading 111 is unloaded.
    subscription.send_replace(["222", "333"].map(str::to_owned).into());
    server.step(30);
    client
        .converge_on(&server, &["222", "333"], "a swap of subscriptions")
        .await;
    assert_eq!(server.connections(), 1, "{:?}", client.disconnects);
    assert_eq!(
        server.operations(),
        vec![
            ("subscribe".to_owned(), vec!["222".to_owned()]),
            ("unsubscribe".to_owned(), vec!["111".to_owned()]),
            ("subscribe".to_owned(), vec!["333".to_owned()]),
        ]
    );

    // Nothing left to follow: the socket closes and no stale watchdog fires meanwhile.
    subscription.send_replace(Default::default());
    tokio::time::sleep(Duration::from_millis(600)).await;
    while let Ok(e) = client.rx.try_recv() {
        client.apply(e);
    }
    assert_eq!(client.disconnects, vec!["no tokens left to follow"]);
    // Following again reconnects with the new set only.
    subscription.send_replace(["111"].map(str::to_owned).into());
    wait_for_connections(&server, 2).await;
    assert_eq!(server.subscriptions()[1], vec!["111".to_owned()]);
    client
        .converge_on(&server, &["111"], "a new subscription")
        .await;
    // Dropping the subscription stops the feed.
    drop(subscription);
    timeout(Duration::from_secs(2), task)
        .await
        .expect("the feed stops when its subscription is dropped")
        .unwrap();
}

#[test]
fn the_subscription_is_the_exchange_s_first_message() {
    let v: serde_json::Value =
        serde_json::from_str(&feed::subscribe_message(&["1".to_owned()].into())).unwrap();
    assert_eq!(v["type"], "market");
    assert_eq!(v["assets_ids"][0], "1");
    assert_eq!(v["initial_dump"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_survives_three_drops_and_replays() {
    let mut server = FakeMarket::start(&TOKENS, 11).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rec.jsonl");
    let mut child = tokio::process::Command::new(polybox_tests::polybox_bin())
        .args([
            "record",
            "--tokens",
            "111,222",
            "--duration",
            "4",
            "--ws-url",
            &server.url(),
        ])
        .args([
            "--set",
            &format!("exchange.clob_url=\"{}\"", server.http_url()),
        ])
        .args([
            "--set",
            "feed.backoff_min_ms=20",
            "--set",
            "feed.backoff_max_ms=100",
            "--out",
        ])
        .arg(&out)
        .env("POLYBOX_LOG", "error")
        .spawn()
        .unwrap();
    for n in 1..=3 {
        wait_for_connections(&server, n).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        server.step(50);
        tokio::time::sleep(Duration::from_millis(100)).await;
        server.drop_connections();
    }
    wait_for_connections(&server, 4).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.step(20);
    let status = child.wait().await.unwrap();
    assert!(status.success());
    assert!(
        server.connections() >= 4,
        "three drops, four connections: {}",
        server.connections()
    );
    let text = std::fs::read_to_string(&out).unwrap();
    // The REST books come first: what the WebSocket does not carry.
    let first: Vec<serde_json::Value> = text
        .lines()
        .take(2)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (line, token) in first.iter().zip(TOKENS) {
        let book = &line["rest_book"];
        assert_eq!(book["asset_id"], token, "{line}");
        assert_eq!(book["tick_size"], "0.01");
        assert_eq!(book["min_order_size"], "5");
        assert_eq!(book["neg_risk"], false);
    }
    assert_eq!(server.rest_books(), 2);
    let snapshots = text
        .lines()
        .filter(|l| l.contains("\"event_type\":\"book\""))
        .count();
    assert!(
        snapshots >= 4,
        "a fresh snapshot after every reconnect: {snapshots}"
    );
    let v = replay_quoter(&out);
    assert!(v["events"].as_u64().unwrap() > 150, "{v}");
    assert!(v["intents"].as_u64().unwrap() > 0, "{v}");
}

async fn wait_for_connections(server: &FakeMarket, n: u32) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while server.connections() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "connection {n} never came"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_trades_paper_on_the_live_feed_through_a_drop_and_a_stuck_crossed_book() {
    let mut server = FakeMarket::start(&TOKENS, 13).await;
    let dir = tempfile::tempdir().unwrap();
    let recorded = dir.path().join("run.jsonl");
    let child = tokio::process::Command::new(polybox_tests::polybox_bin())
        .args([
            "run",
            "--markets",
            "111,222",
            "--duration",
            "6",
            "--json",
            "--strategy",
        ])
        .arg(polybox_tests::component("strategies/spread-quoter"))
        .args(["--set", &format!("exchange.ws_url=\"{}\"", server.url())])
        .args([
            "--set",
            "feed.backoff_min_ms=20",
            "--set",
            "feed.backoff_max_ms=100",
        ])
        .args(["--set", "feed.crossed_grace_ms=200"])
        .args([
            "--set",
            &format!("exchange.clob_url=\"{}\"", server.http_url()),
        ])
        .arg("--record")
        .arg(&recorded)
        .env("POLYBOX_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_connections(&server, 1).await;
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        server.step(20);
    }
    server.drop_connections();
    wait_for_connections(&server, 2).await;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        server.step(20);
    }
    // A book left crossed (a lost message) is resynchronised after the grace.
    server.corrupt(TOKENS[0]);
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        server.step(5);
    }
    wait_for_connections(&server, 3).await;
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["events"].as_u64().unwrap() > 100, "{v}");
    assert!(v["intents"].as_u64().unwrap() > 0, "{v}");
    assert!(v["data"].as_str().unwrap().contains("/market"), "{v}");
    let feed = &v["feed"];
    assert!(feed["connections"].as_u64().unwrap() >= 3, "{feed}");
    assert!(
        feed["disconnects"].as_u64().unwrap() >= 2,
        "a drop and a resync: {feed}"
    );
    assert!(feed["frames"].as_u64().unwrap() > 100, "{feed}");

    // What it traded on was recorded (REST books first) and replays.
    let text = std::fs::read_to_string(&recorded).unwrap();
    assert!(text.starts_with("{\"recv_ts\":"), "{}", &text[..100]);
    assert_eq!(
        text.lines().filter(|l| l.contains("\"rest_book\"")).count(),
        2
    );
    assert!(text.lines().count() as u64 >= feed["frames"].as_u64().unwrap());
    let v = replay_quoter(&recorded);
    assert!(v["events"].as_u64().unwrap() > 0, "{v}");
}

/// `polybox replay --json` of a recording through the spread quoter: it must succeed.
fn replay_quoter(data: &std::path::Path) -> serde_json::Value {
    let replay = std::process::Command::new(polybox_tests::polybox_bin())
        .args(["replay", "--json", "--data"])
        .arg(data)
        .arg("--strategy")
        .arg(polybox_tests::component("strategies/spread-quoter"))
        .env("POLYBOX_LOG", "error")
        .output()
        .unwrap();
    assert_eq!(
        replay.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    serde_json::from_slice(&replay.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_urls_speak_tls() {
    // A plain TCP listener: a TLS client fails in the handshake, which proves that
    // `wss://` is supported (a build without TLS says so before connecting).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            use tokio::io::AsyncWriteExt;
            let _ = s.write_all(b"not tls\r\n\r\n").await;
        }
    });
    let (tx, mut rx) = mpsc::channel(16);
    let mut config = FeedConfig::new(&format!("wss://127.0.0.1:{}", addr.port()));
    config.backoff_min = Duration::from_millis(10);
    let (_subscription, wanted) = feed::subscription(&["1".to_owned()]);
    let task = tokio::spawn(feed::run(config, wanted, tx, std::sync::Arc::default()));
    let event = timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    let FeedEvent::Disconnected { reason, .. } = event else {
        panic!("{event:?}")
    };
    // rustls read the plain-text reply as a TLS record and refused it.
    assert!(reason.contains("InvalidContentType"), "{reason}");
    task.abort();
}
