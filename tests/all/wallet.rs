//! The wallet on a real local chain (anvil, chain id 137) with the test tokens at the pUSD,
//! USDC.e and Conditional Tokens addresses: balances, allowances and approvals read exactly,
//! the 30 s cache and its invalidation, and BUYs refused when the node is gone.

use std::str::FromStr;
use std::time::Duration;

use alloy::primitives::U256;
use polybox::execution::retry::RetryPolicy;
use polybox::wallet::addresses::{EXCHANGE_V2, PUSD, USDC_E};
use polybox::wallet::cache::BalanceCache;
use polybox::wallet::rpc::Rpc;
use polybox::wallet::{Chain, WalletConfig};
use polybox_tests::anvil::{Anvil, FUNDER, MINTER};

fn fast() -> RetryPolicy {
    RetryPolicy {
        attempts: 2,
        timeout: Duration::from_millis(500),
        backoff_min: Duration::from_millis(10),
        backoff_max: Duration::from_millis(20),
    }
}

fn chain(url: &str, chain_id: u64) -> Chain {
    let rpc = Rpc::new(url, fast()).unwrap();
    Chain::new(rpc, WalletConfig::default().contracts().unwrap(), chain_id)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

const TOKEN: u64 = 4242;

#[test]
fn balances_allowances_and_approvals_are_read_exactly() {
    let anvil = Anvil::start();
    anvil.mint(PUSD, FUNDER, 12_345_678);
    anvil.mint(USDC_E, FUNDER, 7_000_001);
    anvil.approve(FUNDER, PUSD, EXCHANGE_V2, 500_000_000);
    anvil.approve_shares(FUNDER, EXCHANGE_V2);
    anvil.mint_shares(FUNDER, U256::from(TOKEN), 3_500_000);
    let h = runtime()
        .block_on(chain(&anvil.url(), 137).holdings(FUNDER, &[U256::from(TOKEN)]))
        .unwrap();
    let v = h.to_json();
    assert_eq!(v["chain_id"], 137);
    assert_eq!(v["pusd"], "12.345678");
    assert_eq!(v["usdc_e"], "7.000001");
    assert_eq!(v["allowances"]["exchange"]["pusd"], "500.000000");
    assert_eq!(v["allowances"]["neg-risk exchange"]["pusd"], "0.000000");
    assert_eq!(v["ctf_approvals"]["exchange"]["approved"], true);
    assert_eq!(v["ctf_approvals"]["neg-risk exchange"]["approved"], false);
    assert_eq!(v["outcome_tokens"][TOKEN.to_string()], "3.500000");
    let missing = h.missing();
    assert_eq!(missing.len(), 2, "{missing:?}");
    assert!(missing[0].contains("allowance to the neg-risk exchange is 0"));
    assert!(missing[1].contains("neg-risk exchange is not approved"));

    // The same through the command line.
    let out = std::process::Command::new(polybox_tests::polybox_bin())
        .args(["wallet", "--rpc-url", &anvil.url(), "--json", "--address"])
        .arg(FUNDER.to_string())
        .args(["--tokens", &TOKEN.to_string()])
        .env_remove("POLYMARKET_FUNDER")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cli, v);
}

#[test]
fn a_transfer_shows_after_the_cache_expires_and_at_once_after_an_invalidation() {
    let anvil = Anvil::start();
    anvil.mint(PUSD, FUNDER, 100_000_000);
    let rt = runtime();
    // As configured: `[wallet] rpc_url`, `cache_s`.
    let settings = WalletConfig {
        rpc_url: anvil.url(),
        cache_s: 2,
        ..WalletConfig::default()
    };
    let cache = BalanceCache::new(
        settings.chain(fast()).unwrap(),
        FUNDER,
        Duration::from_secs(settings.cache_s),
    );
    assert_eq!(
        rt.block_on(cache.held()).unwrap(),
        U256::from(100_000_000u64)
    );
    anvil.transfer(PUSD, FUNDER, MINTER, 40_000_000);
    assert_eq!(
        rt.block_on(cache.held()).unwrap(),
        U256::from(100_000_000u64),
        "cached"
    );
    cache.invalidate();
    assert_eq!(
        rt.block_on(cache.held()).unwrap(),
        U256::from(60_000_000u64)
    );
    anvil.transfer(PUSD, FUNDER, MINTER, 10_000_000);
    std::thread::sleep(Duration::from_millis(2_100));
    assert_eq!(
        rt.block_on(cache.held()).unwrap(),
        U256::from(50_000_000u64),
        "re-read once expired"
    );
}

#[test]
fn a_stopped_node_or_the_wrong_chain_is_an_error_that_says_so() {
    let mut anvil = Anvil::start();
    anvil.mint(PUSD, FUNDER, 100_000_000);
    let rt = runtime();
    // Wrong chain: the node serves 137, the host expects 80002.
    let wrong = BalanceCache::new(chain(&anvil.url(), 80_002), FUNDER, Duration::from_secs(30));
    let e = rt.block_on(wrong.held()).unwrap_err();
    assert!(e.contains("serves chain 137, not 80002"), "{e}");
    // Stopped node: the read fails (the gate then refuses BUYs: see the live test below).
    let cache = BalanceCache::new(chain(&anvil.url(), 137), FUNDER, Duration::from_secs(30));
    anvil.stop();
    let e = rt.block_on(cache.held()).unwrap_err();
    assert!(e.contains("eth_chainId") && e.contains("attempts"), "{e}");
}

/// A live run of the quoter against the fakes for `secs`, with `sets`: its summary and
/// its warnings.
async fn live_on(
    dir: &std::path::Path,
    sets: &[String],
) -> (
    serde_json::Value,
    String,
    polybox_tests::fake_clob::Counters,
) {
    let clob = polybox_tests::fake_clob::FakeClob::start(0).await.unwrap();
    let market = polybox_tests::fake_market::FakeMarket::start(
        &[
            polybox_tests::fake_clob::TOKENS[0],
            polybox_tests::fake_clob::TOKENS[1],
        ],
        53,
    )
    .await;
    let out = super::exchange::live_command_with(&clob, &market.url(), dir, "3", sets)
        .env("POLYBOX_LOG", "warn")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let summary = serde_json::from_slice(&out.stdout).unwrap();
    (summary, stderr, clob.counters())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_buys_are_checked_against_the_chain_and_fail_closed() {
    // 1.5 pUSD on chain (capital 10: above the 1 pUSD floor) against 2.4 pUSD bids: every
    // BUY is refused for its balance, none reaches the exchange, and the start-of-run report
    // says what is missing.
    let dir = tempfile::tempdir().unwrap();
    let chain = Anvil::start();
    let me = alloy::signers::local::PrivateKeySigner::from_str(super::exchange::KEY)
        .unwrap()
        .address();
    chain.mint(PUSD, me, 1_500_000);
    let node = format!("wallet.rpc_url=\"{}\"", chain.url());
    let sets = [
        node.clone(),
        "risk.capital_usdc=10".to_owned(),
        "risk.max_order_usdc=5".to_owned(),
    ];
    let (summary, stderr, seen) = live_on(dir.path(), &sets).await;
    assert!(
        summary["rejected"]["insufficient_balance"].as_u64() > Some(0),
        "{summary}"
    );
    assert_eq!(seen.orders_accepted, 0);
    assert!(
        stderr.contains("pUSD allowance to the exchange is 0"),
        "{stderr}"
    );

    // The node is down: the run starts, says so, and refuses BUYs as unavailable.
    let dir = tempfile::tempdir().unwrap();
    let mut down = Anvil::start();
    let sets = [format!("wallet.rpc_url=\"{}\"", down.url())];
    down.stop();
    let (summary, stderr, seen) = live_on(dir.path(), &sets).await;
    assert!(
        summary["rejected"]["balance_unavailable"].as_u64() > Some(0),
        "{summary}"
    );
    assert_eq!(seen.orders_accepted, 0);
    assert!(stderr.contains("cannot read the wallet"), "{stderr}");

    // No node at all: refused as unavailable, and the operator is told why.
    let dir = tempfile::tempdir().unwrap();
    let (summary, stderr, seen) = live_on(dir.path(), &[]).await;
    assert!(
        summary["rejected"]["balance_unavailable"].as_u64() > Some(0),
        "{summary}"
    );
    assert_eq!(seen.orders_accepted, 0);
    assert!(stderr.contains("no Polygon node"), "{stderr}");

    // A node serving another chain: the run does not start.
    let dir = tempfile::tempdir().unwrap();
    let clob = polybox_tests::fake_clob::FakeClob::start(0).await.unwrap();
    let sets = [node, "wallet.chain_id=80002".to_owned()];
    let out =
        super::exchange::live_command_with(&clob, "ws://127.0.0.1:9/ws", dir.path(), "3", &sets)
            .output()
            .await
            .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("serves chain 137, not 80002"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcome_tokens_the_tracker_does_not_know_pause_new_buys() {
    let (clob, mut market, dir, chain) = super::exchange::fakes(59).await;
    let me = alloy::signers::local::PrivateKeySigner::from_str(super::exchange::KEY)
        .unwrap()
        .address();
    // 40 shares arrived in the wallet from elsewhere: the tracker holds none.
    let token = polybox_tests::fake_clob::TOKENS[0];
    chain.mint_shares(me, token.parse().unwrap(), 40_000_000);
    let sets = ["wallet.cross_check_s=1".to_owned()];
    let host = super::exchange::live_run_with(&clob, &market.url(), dir.path(), "6", &sets);
    // Two cross-checks (a second apart) see the gap: BUYs pause. Then the market takes the
    // bid, and the quoter's next bid is refused.
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        market.step(2);
    }
    let bids: Vec<serde_json::Value> = clob
        .open_orders()
        .into_iter()
        .filter(|o| o["side"] == "BUY")
        .collect();
    assert!(
        !bids.is_empty(),
        "the quoter bid before the pause: {}",
        clob.state()
    );
    for o in &bids {
        super::exchange::sell_through(&clob, o);
    }
    for _ in 0..15 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        market.step(2);
    }
    let out = host.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("the chain holds 40 shares of token")
            && stderr.contains("new BUYs are paused"),
        "{stderr}"
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        summary["rejected"]["balance_unavailable"].as_u64() > Some(0),
        "{summary}"
    );
}

#[test]
fn the_watch_reads_again_at_once_when_invalidated() {
    use polybox::wallet::watch::{BalanceWatch, Cadence, Reading};
    let anvil = Anvil::start();
    anvil.mint(PUSD, FUNDER, 100_000_000);
    let rt = runtime();
    let cadence = Cadence {
        collateral: Duration::from_secs(600),
        cross_check: Duration::from_secs(600),
    };
    let cache = BalanceCache::new(chain(&anvil.url(), 137), FUNDER, cadence.collateral);
    let mut watch = BalanceWatch::start(&rt, Ok(cache), &[], cadence);
    let next = |w: &mut BalanceWatch| {
        rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), w.next()).await })
    };
    let usdc = |micros| {
        Some(Reading::Collateral(Ok(
            polybox_core::money::Usdc::from_micros(micros),
        )))
    };
    assert_eq!(next(&mut watch).unwrap(), usdc(100_000_000));
    anvil.transfer(PUSD, FUNDER, MINTER, 25_000_000);
    // Ten minutes before the next timed read: only the invalidation brings it.
    watch.invalidate();
    assert_eq!(next(&mut watch).unwrap(), usdc(75_000_000));
}
