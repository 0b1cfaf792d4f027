//! What the exchange tells the host after an order is placed: trades settling on chain (or
//! failing and being reversed), over a user channel that duplicates, reorders, drops and
//! stalls. Fills reach positions once, and the journal ends equal to the exchange.

use std::str::FromStr;
use std::time::Duration;

use polybox::execution::session::Inbound;
use polybox::execution::user_feed::{self, Liveness};
use polybox_core::orders::{ExecEvent, TradeStatus};
use polybox_tests::fake_clob::{FakeClob, WsFault};

use super::exchange::{
    assert_positions_match, bid, connect, fakes, finished, live_run_with, sell_through,
};

/// Sell through our resting BUYs until the exchange counts `fills` fills (or time runs out),
/// stepping the market feed meanwhile.
async fn fill_bids(
    clob: &FakeClob,
    market: &mut polybox_tests::fake_market::FakeMarket,
    fills: u64,
    mut each: impl FnMut(u64),
) {
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        market.step(2);
        let open = clob.open_orders();
        if let Some(o) = open.iter().find(|o| o["side"] == "BUY") {
            sell_through(clob, o);
            let n = clob.counters().fills;
            each(n);
            if n >= fills {
                return;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_channel_brings_fills_without_waiting_for_the_poll() {
    let (clob, mut market, dir, _chain) = fakes(37).await;
    // Polls run when the channel opens; the next timed one would come after the run.
    let sets = [
        format!("exchange.user_ws_url=\"{}\"", clob.ws_url()),
        "exchange.poll_ms=60000".to_owned(),
    ];
    let host = live_run_with(&clob, &market.url(), dir.path(), "6", &sets);
    fill_bids(&clob, &mut market, 1, |_| {}).await;
    assert!(clob.counters().fills > 0, "{}", clob.state());
    // The book stands still from here: no re-quote (whose cancel would ask the exchange
    // about the filled bid) and no timed poll. The fill is journaled during the run only if
    // it came over the channel.
    let mut journaled = false;
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let store = polybox::store::Store::open(dir.path()).unwrap();
        journaled = store
            .load_orders()
            .unwrap()
            .iter()
            .any(|(o, _)| !o.fills.is_empty());
        if journaled {
            break;
        }
    }
    assert!(journaled, "the fill reached the host during the run");
    let v = finished(host).await;
    assert_eq!(v["fills"].as_u64().unwrap(), clob.counters().fills, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trade_that_fails_on_chain_is_reversed_in_the_journal_as_on_the_exchange() {
    let (clob, mut market, dir, _chain) = fakes(43).await;
    clob.set_settle_step(Duration::from_millis(300));
    clob.fail_next_matches(1);
    let sets = [format!("exchange.user_ws_url=\"{}\"", clob.ws_url())];
    let host = live_run_with(&clob, &market.url(), dir.path(), "7", &sets);
    fill_bids(&clob, &mut market, 2, |_| {}).await;
    finished(host).await;
    let store = polybox::store::Store::open(dir.path()).unwrap();
    let statuses: Vec<TradeStatus> = store
        .load_orders()
        .unwrap()
        .iter()
        .flat_map(|(o, _)| o.fills.values().map(|f| f.status).collect::<Vec<_>>())
        .collect();
    assert!(
        statuses.contains(&TradeStatus::Failed),
        "the first match failed on chain: {statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .any(|s| matches!(s, TradeStatus::Mined | TradeStatus::Confirmed)),
        "later matches settled: {statuses:?}"
    );
    // The failed trade is reversed in the journal as on the exchange.
    assert_positions_match(dir.path(), &clob);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_reordered_and_dropped_user_messages_apply_each_fill_once() {
    let (clob, mut market, dir, _chain) = fakes(47).await;
    clob.set_settle_step(Duration::from_millis(200));
    // Fills come only over the user channel: the poll runs at start and then not again.
    let sets = [
        format!("exchange.user_ws_url=\"{}\"", clob.ws_url()),
        "exchange.poll_ms=60000".to_owned(),
    ];
    let host = live_run_with(&clob, &market.url(), dir.path(), "8", &sets);
    clob.user_ws_fault(WsFault::Duplicate);
    let mut dropped = false;
    fill_bids(&clob, &mut market, 4, |n| {
        if n >= 2 && !dropped {
            // Dropped mid-run (what was not told is told on the new socket), then reordered.
            clob.drop_user_sockets();
            clob.user_ws_fault(WsFault::Reorder);
            dropped = true;
        }
    })
    .await;
    assert!(clob.counters().fills >= 2, "{}", clob.state());
    let v = finished(host).await;
    assert_eq!(
        v["fills"].as_u64().unwrap(),
        clob.counters().fills,
        "each fill applied once: {v}"
    );
    assert_positions_match(dir.path(), &clob);
}

/// Wait until the fake has accepted `n` user-channel subscriptions.
async fn connections(clob: &FakeClob, n: u64) {
    for _ in 0..100 {
        if clob.counters().user_connections >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{} user connections, wanted {n}",
        clob.counters().user_connections
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_or_stalled_user_channel_is_reopened_and_brings_what_followed() {
    let clob = FakeClob::start(0).await.unwrap();
    let x = connect(&clob).await;
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let liveness = Liveness {
        ping: Duration::from_millis(100),
        silence: Duration::from_millis(300),
    };
    let feed = tokio::spawn(user_feed::run(
        format!("{}/user", clob.ws_url()),
        x.user_subscription(),
        x.api_key().to_string(),
        liveness,
        tx,
    ));
    connections(&clob, 1).await;
    // Dropped without a close frame: reopened.
    clob.drop_user_sockets();
    connections(&clob, 2).await;
    // Stalled (open, silent, no PONG): noticed by the silence limit and reopened.
    clob.user_ws_fault(WsFault::Stall);
    connections(&clob, 4).await;
    clob.user_ws_fault(WsFault::None);
    // What happens next arrives on the reopened socket.
    let signed = bid(&x, "0.40").await;
    let id = x.post(&[signed]).await.unwrap()[0].order_id.clone();
    let placed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match rx.recv().await {
                Some(Inbound::Events(evs))
                    if evs.iter().any(
                        |e| matches!(e, ExecEvent::Accepted { exchange_id } if *exchange_id == id),
                    ) =>
                {
                    return;
                }
                Some(_) => {}
                None => panic!("the feed ended"),
            }
        }
    })
    .await;
    assert!(
        placed.is_ok(),
        "the placement came over the reopened channel"
    );
    feed.abort();
}

/// Everything at trace but the WebAssembly compiler (megabytes of code generation, no
/// secrets).
const TRACE: &str = "trace,cranelift_codegen=info,cranelift_frontend=info,regalloc2=info,wasmtime=info,wasmtime_cranelift=info";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_most_verbose_logs_of_a_live_run_hold_no_secret() {
    let (clob, mut market, dir, _chain) = fakes(71).await;
    let sets = [
        format!("exchange.user_ws_url=\"{}\"", clob.ws_url()),
        format!("log.level=\"{TRACE}\""),
        "control.listen=\"127.0.0.1:0\"".to_owned(),
    ];
    let host = super::exchange::live_command_with(&clob, &market.url(), dir.path(), "10", &sets)
        .env("POLYBOX_LOG", TRACE)
        .spawn()
        .unwrap();
    // Trace logs make the start slow (the compiler logs too): trade once it is up.
    for _ in 0..600 {
        if dir.path().join("control.addr").exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        market.step(1);
    }
    fill_bids(&clob, &mut market, 1, |_| {}).await;
    // The metrics of a live run carry the exchange's call latencies and the fill.
    let metrics = super::control::scrape_until(dir.path(), |m| {
        m.contains("polybox_fills_total{strategy=\"spread_quoter\"} 1")
    })
    .await;
    for name in [
        "polybox_exchange_call_seconds_bucket{class=\"order\"",
        "polybox_exchange_call_seconds_count{class=\"",
        "polybox_feed_frames_total",
        "polybox_orders{state=\"",
    ] {
        assert!(metrics.contains(name), "{name} in:\n{metrics}");
    }
    let out = host.wait_with_output().await.unwrap();
    assert!(out.status.success());
    let terminal = String::from_utf8_lossy(&out.stderr);
    assert!(
        terminal.lines().count() > 50,
        "trace logs were written: {terminal}"
    );
    // The JSON log file, at trace too: one object per line with structured fields.
    let mut file = String::new();
    for f in std::fs::read_dir(dir.path().join("logs")).unwrap() {
        file += &std::fs::read_to_string(f.unwrap().path()).unwrap();
    }
    let lines: Vec<serde_json::Value> = file
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.len() > 50, "trace lines in the file: {}", lines.len());
    let fill = lines
        .iter()
        .find(|l| l["fields"]["message"] == "fill")
        .unwrap_or_else(|| panic!("a fill in the file log:\n{file}"));
    assert_eq!(fill["fields"]["strategy"], "spread_quoter", "{fill}");
    assert!(fill["fields"]["order"].is_string(), "{fill}");
    assert!(fill["fields"]["token"].is_string(), "{fill}");
    let logs = format!("{terminal}\n{file}");
    let me = alloy::signers::local::PrivateKeySigner::from_str(super::exchange::KEY)
        .unwrap()
        .address();
    let creds = polybox_tests::fake_clob::auth::ApiKey::derive(me, 0);
    let key = super::exchange::KEY.trim_start_matches("0x");
    for (what, secret) in [
        ("private key", key),
        ("API secret", creds.secret.as_str()),
        ("passphrase", creds.passphrase.as_str()),
    ] {
        let line = logs.lines().find(|l| l.contains(secret));
        assert!(line.is_none(), "the {what} is in the logs: {line:?}");
    }
}
