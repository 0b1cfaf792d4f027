//! The host's exchange door against the fake CLOB: every failure kind classified, retried
//! only when safe, and posts whose outcome is unknown reconciled instead of re-posted.

use std::str::FromStr;
use std::time::Duration;

use alloy::sol_types::SolStruct;
use polybox::execution::exchange::{
    Exchange, ExchangeError, Restriction, Secrets, order_id, same_order,
};
use polybox::execution::rate_limit::{Class, Limits};
use polybox::execution::retry::RetryPolicy;
use polybox_tests::anvil::Anvil;
use polybox_tests::fake_clob::{FakeClob, Fault, FaultKind, Mode, TOKENS};
use polymarket_client_sdk_v2::clob::types::request::OrdersRequest;
use polymarket_client_sdk_v2::clob::types::{OrderPayload, OrderStatusType, Side, SignedOrder};
use polymarket_client_sdk_v2::types::{Decimal, U256};

pub(crate) const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

pub(crate) fn fast() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        timeout: Duration::from_millis(500),
        backoff_min: Duration::from_millis(10),
        backoff_max: Duration::from_millis(40),
    }
}

pub(crate) fn limits() -> Limits {
    Limits {
        min_spacing: Duration::from_millis(1),
        ..Limits::default()
    }
}

pub(crate) async fn connect(clob: &FakeClob) -> Exchange {
    let secrets = Secrets {
        private_key: KEY.to_owned(),
        api: None,
    };
    Exchange::connect(&clob.url(), &secrets, fast(), limits())
        .await
        .unwrap()
}

pub(crate) async fn bid(x: &Exchange, price: &str) -> SignedOrder {
    let order = x
        .client()
        .limit_order()
        .token_id(U256::from_str(TOKENS[0]).unwrap())
        .side(Side::Buy)
        .price(Decimal::from_str(price).unwrap())
        .size(Decimal::from(10))
        .build()
        .await
        .unwrap();
    x.client().sign(x.signer(), order).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_are_signed_and_answered_with_the_local_order_id() {
    let clob = FakeClob::start(0).await.unwrap();
    let x = connect(&clob).await;
    let signed = bid(&x, "0.40").await;
    let id = order_id(&signed, false).unwrap();
    // The id is the order's EIP-712 digest under either exchange's domain.
    let OrderPayload::V2(p) = &signed.payload else {
        panic!("a V2 order")
    };
    for neg_risk in [false, true] {
        assert_eq!(
            order_id(&signed, neg_risk).unwrap(),
            p.order
                .eip712_signing_hash(&polybox_tests::fake_clob::signing::order_domain(neg_risk))
                .to_string()
        );
    }
    let r = x.post(&[signed]).await.unwrap();
    assert_eq!(
        (r[0].order_id.as_str(), &r[0].status),
        (id.as_str(), &OrderStatusType::Live)
    );
    // A batch, one leg refused by the exchange (below the minimum size).
    let ok = bid(&x, "0.41").await;
    let small = x
        .client()
        .limit_order()
        .token_id(U256::from_str(TOKENS[0]).unwrap())
        .side(Side::Buy)
        .price(Decimal::from_str("0.41").unwrap())
        .size(Decimal::from(1))
        .build()
        .await
        .unwrap();
    let small = x.client().sign(x.signer(), small).await.unwrap();
    let r = x.post(&[ok, small]).await.unwrap();
    assert!(r[0].error_msg.as_deref().unwrap_or_default().is_empty());
    assert!(
        r[1].error_msg
            .as_deref()
            .unwrap_or_default()
            .contains("lower than the minimum"),
        "{:?}",
        r[1]
    );
    assert_eq!(clob.counters().orders_accepted, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_is_unknown_and_resending_the_same_order_is_refused_as_a_duplicate() {
    let clob = FakeClob::start(0).await.unwrap();
    let x = connect(&clob).await;
    let signed = bid(&x, "0.42").await;
    let id = order_id(&signed, false).unwrap();
    let again = same_order(&signed);
    clob.fault(Fault {
        on: "POST /order".to_owned(),
        kind: FaultKind::LoseResponse(Duration::from_secs(2)),
        count: 1,
    });
    let e = x.post(&[signed]).await.unwrap_err();
    assert!(matches!(e, ExchangeError::Unknown { .. }), "{e}");
    // The exchange has it: reconcile by id, not by posting again.
    let open = x
        .call("GET /data/order", Class::Read, false, |c| {
            let id = id.clone();
            async move { c.order(&id).await }
        })
        .await
        .unwrap();
    assert_eq!(open.id, id);
    let e = x.post(&[again]).await.unwrap_err();
    assert!(
        matches!(&e, ExchangeError::Refused { message, .. } if message.ends_with("Duplicated.")),
        "{e}"
    );
    assert_eq!(clob.counters().orders_accepted, 1, "placed once");
    // A reset connection after the exchange acted is unknown too.
    clob.fault(Fault {
        on: "POST /order".to_owned(),
        kind: FaultKind::Reset,
        count: 1,
    });
    let e = x.post(&[bid(&x, "0.43").await]).await.unwrap_err();
    assert!(matches!(e, ExchangeError::Unknown { .. }), "{e}");
    assert_eq!(clob.counters().orders_accepted, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_honoured_and_restrictions_are_not_failures() {
    let clob = FakeClob::start(0).await.unwrap();
    let x = connect(&clob).await;
    clob.fault(Fault {
        on: "POST /order".to_owned(),
        kind: FaultKind::Status {
            status: 429,
            body: "Too Many Requests".to_owned(),
            retry_after: Some(1),
        },
        count: 1,
    });
    #[allow(clippy::disallowed_methods)] // the pause is the behaviour under test
    let t0 = std::time::Instant::now();
    let r = x.post(&[bid(&x, "0.44").await]).await.unwrap();
    assert!(
        t0.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured: {:?}",
        t0.elapsed()
    );
    assert!(r[0].success);
    assert_eq!(clob.counters().orders_accepted, 1);

    clob.set_mode(Mode::CancelOnly);
    let e = x.post(&[bid(&x, "0.39").await]).await.unwrap_err();
    assert!(
        matches!(
            e,
            ExchangeError::Restricted {
                restriction: Restriction::CancelOnly,
                ..
            }
        ),
        "{e}"
    );
    let c = x
        .call("DELETE /cancel-all", Class::Cancel, true, |c| {
            c.cancel_all_orders()
        })
        .await
        .unwrap();
    assert_eq!(c.canceled.len(), 1, "cancels still go through");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_retried_through_5xx_resets_and_html_then_give_up() {
    let clob = FakeClob::start(0).await.unwrap();
    let x = connect(&clob).await;
    let all = OrdersRequest::builder().build();
    // `count` requests to `GET /data/orders` meet `kind`; then one read through the door.
    let read_after = |kind: FaultKind, count: u32| {
        clob.fault(Fault {
            on: "GET /data/orders".to_owned(),
            kind,
            count,
        });
        x.call("GET /data/orders", Class::Read, false, |c| {
            c.orders(&all, None)
        })
    };
    for kind in [
        FaultKind::Status {
            status: 502,
            body: "<html>Bad Gateway</html>".to_owned(),
            retry_after: None,
        },
        FaultKind::Reset,
        FaultKind::Delay(Duration::from_secs(1)),
    ] {
        let page = read_after(kind, 2).await.unwrap();
        assert_eq!(page.next_cursor, "LTE=");
    }
    let server_error = FaultKind::Status {
        status: 500,
        body: "{\"error\":\"Internal server error\"}".to_owned(),
        retry_after: None,
    };
    let e = read_after(server_error, 3).await.unwrap_err();
    assert!(
        matches!(e, ExchangeError::Unavailable { attempts: 3, .. }),
        "{e}"
    );
    // An HTML 403 (Cloudflare) is a refusal, not a parse error.
    let e = read_after(FaultKind::Html403, 1).await.unwrap_err();
    assert!(
        matches!(e, ExchangeError::Refused { status: 403, .. }),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_exchange_is_unavailable_and_a_bad_key_is_named() {
    let secrets = Secrets {
        private_key: KEY.to_owned(),
        api: None,
    };
    let e = Exchange::connect("http://127.0.0.1:9", &secrets, fast(), limits())
        .await
        .unwrap_err();
    assert!(matches!(e, ExchangeError::Unavailable { .. }), "{e}");
    let bad = Secrets {
        private_key: "not a key".to_owned(),
        api: None,
    };
    let e = Exchange::connect("http://127.0.0.1:9", &bad, fast(), limits())
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("POLYMARKET_PRIVATE_KEY is not a valid hex private key"),
        "{e}"
    );
    assert!(
        !e.to_string().contains("not a key"),
        "the key itself is never echoed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_live_trades_the_quoter_on_the_fake_exchange_end_to_end() {
    let (clob, mut market, dir, _chain) = fakes(17).await;
    let child = live_run(&clob, &market.url(), dir.path(), "8");
    // Wait for our quotes on the exchange, then let the market trade against them.
    let mut filled = 0u64;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        market.step(2);
        let state = clob.state();
        let open = state["open_orders"].as_array().cloned().unwrap_or_default();
        for o in open.iter().filter(|o| o["side"] == "BUY") {
            filled += sell_through(&clob, o);
        }
        if filled > 0 {
            break;
        }
    }
    assert!(
        filled > 0,
        "the quoter's bids reached the exchange: {}",
        clob.state()
    );
    let v = finished(child).await;
    let counters = clob.counters();
    assert!(counters.orders_accepted > 0);
    assert_eq!(
        (counters.signature_failures, counters.auth_failures),
        (0, 0)
    );
    assert_eq!(
        v["fills"].as_u64().unwrap(),
        counters.fills,
        "every fill the exchange made reached the host once: {v}"
    );
    assert_eq!(v["mode"], "live", "{v}");
    // The journal holds every order the exchange accepted.
    let store = polybox::store::Store::open(dir.path()).unwrap();
    let journaled = store.load_orders().unwrap();
    assert!(
        journaled.len() as u64 >= counters.orders_accepted,
        "{} < {}",
        journaled.len(),
        counters.orders_accepted
    );
    assert!(
        journaled
            .iter()
            .all(|(o, signed)| o.exchange_id.is_some() == signed.is_some())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_live_trades_against_the_fake_clob_process() {
    use tokio::io::AsyncBufReadExt;
    let mut fake = tokio::process::Command::new(env!("CARGO_BIN_EXE_fake-clob"))
        // Books standing still: the market channel's and the exchange's stay in step (the
        // channel's moves are not the fake exchange's), so the quoter's bids rest.
        .args(["--port", "0", "--seed", "5", "--rate", "0"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(fake.stdout.take().unwrap()).lines();
    let mut settings = Vec::new();
    for _ in 0..3 {
        settings.push(lines.next_line().await.unwrap().unwrap());
    }
    let markets = lines.next_line().await.unwrap().unwrap();
    let markets = markets.strip_prefix("markets: ").unwrap().to_owned();
    let url = settings[0]
        .strip_prefix("exchange.clob_url=\"")
        .unwrap()
        .trim_end_matches('"')
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let _chain = funded_chain(dir.path());
    let mut cmd = live_command(dir.path());
    for set in &settings {
        cmd.args(["--set", set]);
    }
    let host = cmd
        .args(["--set", &format!("store.dir=\"{}\"", dir.path().display())])
        .args([
            "run",
            "--live",
            "--duration",
            "60",
            "--json",
            "--markets",
            &markets,
        ])
        .arg("--strategy")
        .arg(polybox_tests::component("strategies/spread-quoter"))
        .spawn()
        .unwrap();
    // The operator's view: the admin API. Trade through the first bid it shows.
    let http = reqwest::Client::new();
    let state = || async {
        let r = http.get(format!("{url}/admin/state")).send().await.unwrap();
        r.json::<serde_json::Value>().await.unwrap()
    };
    let mut took = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let state = state().await;
        let open = state["open_orders"].as_array().cloned().unwrap_or_default();
        if let Some(o) = open.iter().find(|o| o["side"] == "BUY") {
            let take = serde_json::json!({"token": o["asset_id"], "side": "SELL", "limit": o["price"], "size": "1000"});
            let r: serde_json::Value = http
                .post(format!("{url}/admin/take"))
                .json(&take)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            took = r["matched"].as_str().is_some_and(|m| m != "0");
            if took {
                break;
            }
        }
    }
    if !took {
        let state = state().await;
        let _ = std::process::Command::new("kill")
            .args(["-INT", &host.id().unwrap().to_string()])
            .status();
        let out = host.wait_with_output().await.unwrap();
        panic!(
            "the quoter's bids did not reach the fake-clob process: {state}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The operator stops it with Ctrl-C: it winds down cleanly.
    tokio::time::sleep(Duration::from_secs(1)).await;
    interrupt(&host);
    let summary = finished(host).await;
    // Both markets traded, the neg-risk one signed for its own exchange contract.
    let state = state().await;
    assert!(state["orders_accepted"].as_u64().unwrap() > 0, "{state}");
    assert_eq!(state["signature_failures"], 0, "{state}");
    assert_eq!(state["auth_failures"], 0, "{state}");
    assert_eq!(summary["fills"], state["fills"], "{summary}");
}

/// Start `polybox run --live` for `secs` against the fakes, journaling in `dir`.
pub(crate) fn live_run(
    clob: &FakeClob,
    ws: &str,
    dir: &std::path::Path,
    secs: &str,
) -> tokio::process::Child {
    live_run_with(clob, ws, dir, secs, &[])
}

/// [`live_run`] with more `--set key=value` overrides.
pub(crate) fn live_run_with(
    clob: &FakeClob,
    ws: &str,
    dir: &std::path::Path,
    secs: &str,
    sets: &[String],
) -> tokio::process::Child {
    live_command_with(clob, ws, dir, secs, sets)
        .spawn()
        .unwrap()
}

/// The command [`live_run_with`] spawns.
pub(crate) fn live_command_with(
    clob: &FakeClob,
    ws: &str,
    dir: &std::path::Path,
    secs: &str,
    sets: &[String],
) -> tokio::process::Command {
    let mut cmd = live_command(dir);
    for set in sets {
        cmd.args(["--set", set]);
    }
    cmd.args(["run", "--live", "--duration", secs, "--json", "--markets"])
        .arg(format!("{},{}", TOKENS[0], TOKENS[1]))
        .arg("--strategy")
        .arg(polybox_tests::component("strategies/spread-quoter"))
        .args(["--set", &format!("exchange.clob_url=\"{}\"", clob.url())])
        .args(["--set", &format!("exchange.ws_url=\"{ws}\"")])
        .args(["--set", &format!("store.dir=\"{}\"", dir.display())]);
    cmd
}

/// `polybox` in `dir` with the test key, quiet logs and its output captured.
fn live_command(dir: &std::path::Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(polybox_tests::polybox_bin());
    cmd.current_dir(dir)
        .env("POLYMARKET_PRIVATE_KEY", KEY)
        .env_remove("POLYMARKET_FUNDER")
        .env_remove("POLYGON_RPC_URL")
        .env_remove("ALCHEMY_API_KEY")
        .env("POLYBOX_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// A fake exchange, a market feed of its first market moving on `seed`, and a state dir
/// whose chain (see [`funded_chain`]) lives as long as the last element.
pub(crate) async fn fakes(
    seed: u64,
) -> (
    FakeClob,
    polybox_tests::fake_market::FakeMarket,
    tempfile::TempDir,
    Anvil,
) {
    let clob = FakeClob::start(0).await.unwrap();
    let market = polybox_tests::fake_market::FakeMarket::start(&[TOKENS[0], TOKENS[1]], seed).await;
    let dir = tempfile::tempdir().unwrap();
    let chain = funded_chain(dir.path());
    (clob, market, dir, chain)
}

/// A local chain where the test key's wallet holds 1,000 pUSD, named as the node of hosts
/// run in `dir` (its `polybox.toml`): live BUYs are checked against it.
pub(crate) fn funded_chain(dir: &std::path::Path) -> Anvil {
    let chain = Anvil::start();
    let me = alloy::signers::local::PrivateKeySigner::from_str(KEY)
        .unwrap()
        .address();
    chain.mint(polybox::wallet::addresses::PUSD, me, 1_000_000_000);
    std::fs::write(
        dir.join("polybox.toml"),
        format!("[wallet]\nrpc_url = \"{}\"\n", chain.url()),
    )
    .unwrap();
    chain
}

/// Ctrl-C to a running host.
pub(crate) fn interrupt(host: &tokio::process::Child) {
    let pid = host.id().unwrap().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Wait for a live run to end; it must succeed. Its `--json` summary.
pub(crate) async fn finished(host: tokio::process::Child) -> serde_json::Value {
    let out = host.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

/// The journal's net positions equal the exchange's record for the first market.
pub(crate) fn assert_positions_match(dir: &std::path::Path, clob: &FakeClob) {
    let me = alloy::signers::local::PrivateKeySigner::from_str(KEY)
        .unwrap()
        .address();
    let net = journaled_positions(dir);
    for token in &TOKENS[..2] {
        assert_eq!(
            net.get(*token).copied().unwrap_or(0),
            i128::from(clob.position(me, token)),
            "journaled fills equal the exchange's record for {token}"
        );
    }
}

/// Net shares per token from the journal's fills (failed trades excluded).
pub(crate) fn journaled_positions(
    dir: &std::path::Path,
) -> std::collections::BTreeMap<String, i128> {
    let store = polybox::store::Store::open(dir).unwrap();
    let mut net = std::collections::BTreeMap::new();
    for (o, _) in store.load_orders().unwrap() {
        for f in o
            .fills
            .values()
            .filter(|f| f.status != polybox_core::orders::TradeStatus::Failed)
        {
            let signed = i128::from(f.size.micros())
                * if o.side == polybox_core::order::Side::Buy {
                    1
                } else {
                    -1
                };
            *net.entry(o.token.to_string()).or_default() += signed;
        }
    }
    net
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_host_restarts_to_the_exchange_s_truth_and_its_orders_die_with_its_heartbeat() {
    let clob = FakeClob::start(0).await.unwrap();
    clob.set_heartbeat_timeout(2);
    let mut market =
        polybox_tests::fake_market::FakeMarket::start(&[TOKENS[0], TOKENS[1]], 23).await;
    let dir = tempfile::tempdir().unwrap();
    let _chain = funded_chain(dir.path());
    let me = alloy::signers::local::PrivateKeySigner::from_str(KEY)
        .unwrap()
        .address();
    let mut host = live_run(&clob, &market.url(), dir.path(), "60");
    // Wait for resting bids of ours on both tokens.
    let mut bid = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        market.step(2);
        let open = clob.open_orders();
        if open.iter().filter(|o| o["side"] == "BUY").count() >= 2 {
            bid = open.into_iter().find(|o| o["side"] == "BUY");
            break;
        }
    }
    let bid = bid.unwrap_or_else(|| panic!("quotes rested: {}", clob.state()));
    assert!(
        clob.counters().heartbeats > 0,
        "the heartbeat was armed before the first order"
    );
    // Killed while orders rest (and maybe while a post is in flight) ...
    host.start_kill().unwrap();
    host.wait().await.unwrap();
    let accepted_before = clob.counters().orders_accepted;
    // ... and the market trades through our bid while the host is down.
    let token = bid["asset_id"].as_str().unwrap().to_owned();
    sell_through(&clob, &bid);
    assert!(
        clob.position(me, &token) > 0,
        "our bid filled while the host was down"
    );
    let resting = clob.state()["open_orders"].as_array().map_or(0, Vec::len) as u64;
    assert!(resting > 0, "the other bid still rests");
    // The heartbeat stops: the exchange cancels the dead host's resting orders.
    for _ in 0..50 {
        if clob.state()["open_orders"]
            .as_array()
            .is_some_and(Vec::is_empty)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        clob.state()["open_orders"].as_array().unwrap().is_empty(),
        "{}",
        clob.state()
    );
    assert_eq!(clob.counters().heartbeat_cancels, resting);

    // Restarted, the host reads back what happened while it was down.
    let host = live_run(&clob, &market.url(), dir.path(), "4");
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        market.step(2);
    }
    finished(host).await;
    assert_positions_match(dir.path(), &clob);
    assert!(
        clob.counters().orders_accepted >= accepted_before,
        "nothing lost"
    );
    // Every order the journal holds as sent is one the exchange accepted once.
    let store = polybox::store::Store::open(dir.path()).unwrap();
    let ids: Vec<String> = store
        .load_orders()
        .unwrap()
        .into_iter()
        .filter_map(|(o, _)| o.exchange_id)
        .collect();
    let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no order journaled twice");
    assert_eq!(clob.counters().signature_failures, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_follow_the_rejection_table_retick_once_and_escalate_to_the_kill_switch() {
    let (clob, mut market, dir, _chain) = fakes(29).await;
    // The first post is refused for its tick: the host reads the tick again and re-sends.
    clob.fault(Fault {
        on: "POST /order".to_owned(),
        kind: FaultKind::Status { status: 400, body: r#"{"error":"order 0x1 is invalid. Price (0.48) breaks minimum tick size rule: 0.01"}"#.to_owned(), retry_after: None },
        count: 1,
    });
    let host = live_run(&clob, &market.url(), dir.path(), "3");
    for _ in 0..25 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        market.step(2);
    }
    finished(host).await;
    let store = polybox::store::Store::open(dir.path()).unwrap();
    let orders = store.load_orders().unwrap();
    assert!(
        orders
            .iter()
            .all(|(o, _)| o.state != polybox_core::orders::OrderState::Rejected),
        "re-sent, not rejected: {orders:?}"
    );
    assert!(clob.counters().orders_accepted >= 1);
    assert!(!dir.path().join(".kill_switch").exists());

    // Refused for the account three times in a row: the kill switch engages.
    let clob = FakeClob::start(0).await.unwrap();
    clob.fault(Fault {
        on: "POST /order".to_owned(),
        kind: FaultKind::Status {
            status: 400,
            body: r#"{"error":"'0xf39f' address in closed only mode"}"#.to_owned(),
            retry_after: None,
        },
        count: 100,
    });
    let dir = tempfile::tempdir().unwrap();
    let _chain = funded_chain(dir.path());
    let host = live_run(&clob, &market.url(), dir.path(), "4");
    for _ in 0..35 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        market.step(3);
    }
    finished(host).await;
    let kill = std::fs::read_to_string(dir.path().join(".kill_switch")).unwrap_or_default();
    assert!(kill.contains("closed only mode"), "kill switch: {kill:?}");
    assert_eq!(clob.counters().orders_accepted, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_strategies_posting_at_once_keep_the_spacing_and_the_journal_whole() {
    let (clob, mut market, dir, _chain) = fakes(31).await;
    // Four quoters (the same component under four names) quote at once.
    let quoter = polybox_tests::component("strategies/spread-quoter");
    let copies: Vec<std::path::PathBuf> = (0..4)
        .map(|i| {
            let p = dir.path().join(format!("quoter_{i}.wasm"));
            std::fs::copy(&quoter, &p).unwrap();
            p
        })
        .collect();
    let mut cmd = tokio::process::Command::new(polybox_tests::polybox_bin());
    cmd.args(["run", "--live", "--duration", "5", "--json", "--markets"])
        .arg(format!("{},{}", TOKENS[0], TOKENS[1]))
        .args(["--set", &format!("exchange.clob_url=\"{}\"", clob.url())])
        .args(["--set", &format!("exchange.ws_url=\"{}\"", market.url())])
        .args(["--set", &format!("store.dir=\"{}\"", dir.path().display())])
        .current_dir(dir.path())
        .env("POLYMARKET_PRIVATE_KEY", KEY)
        .env("POLYBOX_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for c in &copies {
        cmd.arg("--strategy").arg(c);
    }
    let host = cmd.spawn().unwrap();
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        market.step(4);
    }
    finished(host).await;
    assert!(clob.posts() >= 4, "every quoter posted: {}", clob.posts());
    let gap = clob.min_post_gap().unwrap();
    // The limiter spaces posts by 100 ms when they leave; loopback jitter on a busy machine
    // can bring two arrivals a little closer, never to the near-zero of unpaced posts.
    assert!(gap >= Duration::from_millis(50), "posts {gap:?} apart");
    let store = polybox::store::Store::open(dir.path()).unwrap();
    let journaled = store.load_orders().unwrap();
    let sent: Vec<&String> = journaled
        .iter()
        .filter_map(|(o, _)| o.exchange_id.as_ref())
        .collect();
    let unique: std::collections::BTreeSet<&&String> = sent.iter().collect();
    assert_eq!(unique.len(), sent.len(), "no order journaled twice");
    // Everything the exchange accepted is journaled; what it did not is what was in flight
    // when the run ended (reconciled at the next start).
    let accepted = clob.accepted_ids();
    assert_eq!(accepted.len() as u64, clob.counters().orders_accepted);
    for id in &accepted {
        assert!(sent.contains(&id), "accepted {id} is journaled");
    }
    for (o, _) in &journaled {
        if let Some(x) = &o.exchange_id
            && !accepted.contains(x)
        {
            assert!(
                matches!(
                    o.state,
                    polybox_core::orders::OrderState::Submitted
                        | polybox_core::orders::OrderState::Unknown
                        | polybox_core::orders::OrderState::Rejected
                ),
                "{o:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_orders_are_read_across_pages_and_cancelled_by_market() {
    use polybox::execution::executor::Executor;
    let clob = FakeClob::start(0).await.unwrap();
    clob.set_page_size(1);
    let x = connect(&clob).await;
    let mut ids = Vec::new();
    for price in ["0.40", "0.41", "0.42"] {
        let signed = bid(&x, price).await;
        ids.push(order_id(&signed, false).unwrap());
        x.post(&[signed]).await.unwrap();
    }
    let executor = Executor::new(x);
    let events = executor.poll(&[], 0).await.unwrap();
    let accepted: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            polybox_core::orders::ExecEvent::Accepted { exchange_id } => Some(exchange_id.as_str()),
            _ => None,
        })
        .collect();
    for id in &ids {
        assert!(
            accepted.contains(&id.as_str()),
            "{id} read from its page: {accepted:?}"
        );
    }
    let market =
        polymarket_client_sdk_v2::types::B256::from_str(&format!("0x{}", "dd".repeat(32))).unwrap();
    let req = polymarket_client_sdk_v2::clob::types::request::CancelMarketOrderRequest::builder()
        .market(market)
        .build();
    let c = executor
        .exchange()
        .call("DELETE /cancel-market-orders", Class::Cancel, false, |c| {
            c.cancel_market_orders(&req)
        })
        .await
        .unwrap();
    assert_eq!(c.canceled.len(), 3);
    assert!(clob.state()["open_orders"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_every_fault_kind_no_order_is_lost_or_doubled_and_positions_match_the_exchange() {
    let (clob, mut market, dir, _chain) = fakes(41).await;
    let faults = [
        ("POST /order", FaultKind::LoseResponse(Duration::from_secs(6))),
        ("POST /order", FaultKind::Status { status: 429, body: "Too Many Requests".to_owned(), retry_after: Some(1) }),
        ("POST /order", FaultKind::Status { status: 500, body: r#"{"error":"order timed out"}"#.to_owned(), retry_after: None }),
        ("POST /order", FaultKind::Reset),
        ("POST /order", FaultKind::Html403),
        ("GET /data/trades", FaultKind::Status { status: 502, body: "<html>Bad Gateway</html>".to_owned(), retry_after: None }),
        ("GET /data/orders", FaultKind::Reset),
        ("GET /data/order/", FaultKind::Delay(Duration::from_secs(6))),
        ("DELETE /order", FaultKind::Status { status: 503, body: r#"{"error":"Trading is currently cancel-only. New orders are not accepted, but cancels are allowed."}"#.to_owned(), retry_after: None }),
        ("POST /v1/heartbeats", FaultKind::Status { status: 500, body: "{}".to_owned(), retry_after: None }),
    ];
    // Every kind at least four times, and until twenty faults were served (a loaded machine
    // starts the host later); then the operator stops it.
    let host = live_run(&clob, &market.url(), dir.path(), "60");
    for (i, (on, kind)) in faults.iter().cycle().enumerate() {
        if (i >= 40 && clob.counters().faults >= 20) || i >= 150 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        market.step(3);
        clob.fault(Fault {
            on: (*on).to_owned(),
            kind: kind.clone(),
            count: 1,
        });
        // The market trades through whatever we bid, now and then.
        if i % 5 == 4 {
            let open = clob.open_orders();
            for o in open.iter().filter(|o| o["side"] == "BUY") {
                sell_through(&clob, o);
            }
        }
    }
    interrupt(&host);
    finished(host).await;
    // A restart on a healthy exchange settles what was in flight when the run ended.
    clob.clear_faults();
    let settle = live_run(&clob, &market.url(), dir.path(), "5");
    finished(settle).await;

    let counters = clob.counters();
    assert!(counters.faults >= 20, "faults were served: {counters:?}");
    assert!(
        counters.orders_accepted > 0 && counters.fills > 0,
        "{counters:?}"
    );
    let store = polybox::store::Store::open(dir.path()).unwrap();
    let journaled = store.load_orders().unwrap();
    let ids: Vec<&String> = journaled
        .iter()
        .filter_map(|(o, _)| o.exchange_id.as_ref())
        .collect();
    let unique: std::collections::BTreeSet<&&String> = ids.iter().collect();
    assert_eq!(
        unique.len(),
        ids.len(),
        "no exchange order belongs to two host orders"
    );
    for id in clob.accepted_ids() {
        assert!(
            ids.contains(&&id),
            "every order the exchange accepted is journaled (none lost): {id}"
        );
    }
    assert_positions_match(dir.path(), &clob);
}

/// The market sells through a resting order of ours (given as the fake's JSON), down to
/// its price: everything better first, then it. Returns the shares matched.
pub(crate) fn sell_through(clob: &FakeClob, order: &serde_json::Value) -> u64 {
    let price = Decimal::from_str(order["price"].as_str().unwrap()).unwrap();
    let micros = u64::try_from((price * Decimal::from(1_000_000)).trunc().mantissa()).unwrap();
    clob.take(
        order["asset_id"].as_str().unwrap(),
        polybox_tests::fake_clob::exchange::Side::Sell,
        micros,
        100_000 * 1_000_000,
    )
}
