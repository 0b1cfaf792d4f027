//! Benchmark `order`: an intent accepted by the risk gate → the live venue's place command
//! → the order built, EIP-712 signed and serialised as the exchange's request body, ready
//! to send (through the official client, against the fake CLOB v2 for its one-time market
//! facts). Writes `target/bench/order.json`.
//!
//! `cargo bench -p polybox-tests --bench order`

use std::str::FromStr;
use std::time::{Duration, Instant};

use polybox::execution::exchange::{Exchange, Secrets};
use polybox::execution::executor::Executor;
use polybox::execution::rate_limit::Limits;
use polybox::execution::retry::RetryPolicy;
use polybox::market::recording::Recording;
use polybox_core::desk::Desk;
use polybox_core::ids::{StrategyId, TokenId};
use polybox_core::kill_switch::KillSwitch;
use polybox_core::money::{Price, Size, Usdc};
use polybox_core::order::{Intent, Side, TimeInForce};
use polybox_core::orders::{ExecEvent, Orders};
use polybox_core::risk::Gate;
use polybox_core::venue::Command;
use polybox_tests::bench::{Samples, write};
use polybox_tests::fake_clob::{FakeClob, TOKENS};
use polymarket_client_sdk_v2::clob::types::Side as SdkSide;
use polymarket_client_sdk_v2::types::{Decimal, U256};

/// Anvil's first development key (a test key, never funded anywhere real).
const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ORDERS: usize = 2_000;

#[allow(clippy::disallowed_methods)] // a benchmark measures wall time
fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let clob = runtime.block_on(FakeClob::start(0))?;
    let secrets = Secrets {
        private_key: KEY.to_owned(),
        api: None,
    };
    let policy = RetryPolicy {
        attempts: 3,
        timeout: Duration::from_secs(5),
        backoff_min: Duration::from_millis(10),
        backoff_max: Duration::from_millis(40),
    };
    let exchange = runtime.block_on(Exchange::connect(
        &clob.url(),
        &secrets,
        policy,
        Limits::default(),
    ))?;
    let executor = Executor::new(exchange);

    // A live desk over the fake's first market, its book known, pUSD on chain.
    let dir = tempfile::tempdir()?;
    let token = TOKENS[0];
    let book = format!(
        r#"{{"recv_ts":1796169300000,"msg":{{"event_type":"book","asset_id":"{token}","market":"0x{c}","bids":[{{"price":"0.48","size":"500"}}],"asks":[{{"price":"0.52","size":"500"}}],"timestamp":"1796169300000","hash":""}}}}"#,
        c = "1".repeat(64)
    );
    let recording = Recording::parse(&book, "bench")?;
    let config = polybox::config::HostConfig::default();
    let gate = Gate::new(config.limits(), KillSwitch::new(dir.path().join("kill")));
    let mut desk = Desk::new(gate, config.default_tick(), config.default_min_size());
    for m in recording.markets(config.default_tick(), config.default_min_size(), 0) {
        desk.add_market(m);
    }
    let strategy = StrategyId(0);
    desk.grant(strategy, [TokenId::new(token)]);
    desk.use_live_venue(Orders::default());
    desk.use_chain_balance(Ok(Usdc::from_micros(1_000_000_000)));
    desk.set_now(1_796_169_300_000);
    for r in &recording.records {
        for m in &r.messages {
            desk.apply(m);
        }
    }
    let tick = Price::parse("0.01")?;
    let mut one = |i: usize, samples: Option<&mut Samples>| -> anyhow::Result<usize> {
        let intent = Intent {
            strategy,
            token: TokenId::new(token),
            side: Side::Buy,
            // Prices cycle through ten ticks below the ask so the bodies differ.
            price: Price::from_micros(400_000 + (i % 10) as u32 * 10_000),
            size: Size::parse("5")?,
            tif: TimeInForce::Gtc,
            post_only: true,
        };
        // Off the clock: 100 ms between intents, inside the per-strategy rate limit.
        desk.set_now(1_796_169_300_000 + (i as u64 + 1) * 100);
        let t = Instant::now();
        let id = desk
            .submit(intent)
            .map_err(|r| anyhow::anyhow!("refused: {}", r.message))?;
        let mut body = 0;
        for c in desk.take_commands() {
            if let Command::Place(p) = c {
                let signed = runtime.block_on(executor.sign(&p, tick, false))?;
                body = signed.body.len();
            }
        }
        if let Some(s) = samples {
            s.push(t.elapsed().as_nanos() as u64);
        }
        // Off the clock: the exchange refuses it, so the desk's limits never fill up.
        desk.apply_exec(ExecEvent::Rejected {
            id,
            reason: "benchmark".to_owned(),
        });
        desk.take_updates();
        Ok(body)
    };
    // Warm-up: the client's market facts (tick, neg-risk, fee rate) are cached.
    for i in 0..50 {
        one(i, None)?;
    }
    let mut samples = Samples::with_capacity(ORDERS);
    let mut bytes = 0;
    for i in 50..50 + ORDERS {
        bytes = one(i, Some(&mut samples))?;
    }
    anyhow::ensure!(bytes > 0, "no signed body was produced");
    // Where the time goes: the client's order build, its EIP-712 signature, and the body.
    let client = executor.exchange().client();
    let signer = executor.exchange().signer();
    let (mut build, mut sign, mut body) = (
        Samples::with_capacity(ORDERS),
        Samples::with_capacity(ORDERS),
        Samples::with_capacity(ORDERS),
    );
    let token_id = U256::from_str(token)?;
    for i in 0..ORDERS {
        let t = Instant::now();
        let order = runtime.block_on(
            client
                .limit_order()
                .token_id(token_id)
                .side(SdkSide::Buy)
                .price(Decimal::new(40 + (i % 10) as i64, 2))
                .size(Decimal::from(5))
                .build(),
        )?;
        let t1 = Instant::now();
        let signed = runtime.block_on(client.sign(signer, order))?;
        let t2 = Instant::now();
        std::hint::black_box(serde_json::to_string(&signed)?);
        body.push(t2.elapsed().as_nanos() as u64);
        sign.push((t2 - t1).as_nanos() as u64);
        build.push((t1 - t).as_nanos() as u64);
    }
    write(
        "order",
        &serde_json::json!({
            "what": "intent accepted by the gate -> place command -> order built, EIP-712 signed, JSON body ready to POST",
            "orders": ORDERS,
            "body_bytes": bytes,
            "latency": samples.summary(),
            "parts": {
                "client_build": build.summary(),
                "eip712_sign": sign.summary(),
                "json_body": body.summary(),
            },
        }),
    )?;
    Ok(())
}
