//! Benchmark `tick`: one book delta in → strategy callback → `submit` → gate verdict, for
//! the spread quoter as a WASM component in the kernel, and for the same strategy compiled
//! natively and driven through the same desk (books, risk gate, paper venue) by a native
//! host. ns per market message, p50/p99, and the WASM / native ratio. Writes
//! `target/bench/tick.json`.
//!
//! `cargo bench -p polybox-tests --bench tick`

use std::time::Instant;

use polybox::config::HostConfig;
use polybox::market::recording::Recording;
use polybox::replay::{ReplayOptions, kernel_for};
use polybox::sandbox::Deadline;
use polybox_core::desk::{Desk, MarketEvent};
use polybox_core::ids::{OrderId, StrategyId, TokenId};
use polybox_core::kill_switch::KillSwitch;
use polybox_core::market_message::MarketMessage;
use polybox_core::money::{Price, Size};
use polybox_core::order::{self, OrderStatus};
use polybox_core::risk::{Gate, RejectReason};
use polybox_sdk::Strategy;
use polybox_tests::alloc_count::{CountingAlloc, allocations};
use polybox_tests::bench::{Samples, write};
use spread_quoter::SpreadQuoter;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const MARKETS: usize = 100;
const FRAMES: usize = 200_000;
const CONFIG: &str = "size = 5\nhalf_spread_ticks = 2";
/// Messages run through each kind, unmeasured, before the measured runs.
const WARM_UP: usize = 20_000;
/// The epoch deadline of the live-like run. What it costs is the checks compiled into the
/// strategy's code and the ticker thread, whatever its length; a long one keeps a loaded
/// machine's pauses from cutting a callback short, which would make the runs differ.
const EPOCH_DEADLINE_MS: u64 = 1_000;
/// Messages each kind handles in its turn.
const BLOCK: usize = 20_000;

/// The native strategy's host: the same desk calls the sandbox's host functions make.
struct NativeHost<'a> {
    desk: &'a mut Desk,
    id: StrategyId,
}

fn side(s: polybox_sdk::Side) -> order::Side {
    match s {
        polybox_sdk::Side::Buy => order::Side::Buy,
        polybox_sdk::Side::Sell => order::Side::Sell,
    }
}

fn sdk_side(s: order::Side) -> polybox_sdk::Side {
    match s {
        order::Side::Buy => polybox_sdk::Side::Buy,
        order::Side::Sell => polybox_sdk::Side::Sell,
    }
}

fn reason(r: RejectReason) -> polybox_sdk::RejectReason {
    use polybox_sdk::RejectReason as S;
    match r {
        RejectReason::PriceBounds => S::PriceBounds,
        RejectReason::Tick => S::Tick,
        RejectReason::MinSize => S::MinSize,
        RejectReason::PerTradeLimit => S::PerTradeLimit,
        RejectReason::KillSwitch => S::KillSwitch,
        RejectReason::MarketNotGranted => S::MarketNotGranted,
        RejectReason::UnknownMarket => S::UnknownMarket,
        RejectReason::BookNotTradable => S::BookNotTradable,
        RejectReason::RateLimit => S::RateLimit,
        RejectReason::InsufficientBalance => S::InsufficientBalance,
        RejectReason::BalanceUnavailable => S::BalanceUnavailable,
        RejectReason::DailyLossLimit => S::DailyLossLimit,
        RejectReason::MaxPositions => S::MaxPositions,
        RejectReason::Breaker => S::Breaker,
        RejectReason::MinBankroll => S::MinBankroll,
        RejectReason::PriceBand => S::PriceBand,
        RejectReason::StrategyBudget => S::StrategyBudget,
        RejectReason::WouldCross => S::WouldCross,
        RejectReason::NotFillable => S::NotFillable,
        RejectReason::UnknownOrder => S::UnknownOrder,
        RejectReason::InvalidIntent => S::InvalidIntent,
    }
}

fn rejection(r: polybox_core::risk::Rejection) -> polybox_sdk::Rejection {
    polybox_sdk::Rejection {
        reason: reason(r.reason),
        message: r.message,
    }
}

impl polybox_sdk::Host for NativeHost<'_> {
    fn submit(&mut self, i: polybox_sdk::Intent) -> Result<u64, polybox_sdk::Rejection> {
        let intent = order::Intent {
            strategy: self.id,
            token: TokenId::new(&i.token),
            side: side(i.side),
            price: Price::from_micros(i.price),
            size: Size::from_micros(i.size),
            tif: match i.tif {
                polybox_sdk::TimeInForce::Gtc => order::TimeInForce::Gtc,
                polybox_sdk::TimeInForce::Fak => order::TimeInForce::Fak,
                polybox_sdk::TimeInForce::Fok => order::TimeInForce::Fok,
            },
            post_only: i.post_only,
        };
        self.desk.submit(intent).map(|id| id.0).map_err(rejection)
    }
    fn cancel(&mut self, id: u64) -> Result<(), polybox_sdk::Rejection> {
        self.desk.cancel(self.id, OrderId(id)).map_err(rejection)
    }
    fn cancel_all(&mut self, _token: Option<&str>) -> u32 {
        unreachable!("the spread quoter cancels one by one")
    }
    fn book(&mut self, _token: &str, _depth: u32) -> Option<polybox_sdk::BookDepth> {
        unreachable!("the spread quoter reads the top from its updates")
    }
    fn positions(&mut self) -> Vec<polybox_sdk::Position> {
        Vec::new()
    }
    fn open_orders(&mut self) -> Vec<polybox_sdk::OpenOrder> {
        Vec::new()
    }
    fn now(&mut self) -> u64 {
        self.desk.now()
    }
    fn log(&mut self, _level: polybox_sdk::LogLevel, _message: &str) {}
    fn set_timer(&mut self, _id: u64, _at: u64) {}
    fn cancel_timer(&mut self, _id: u64) {}
}

fn level(l: polybox_core::book::Level) -> polybox_sdk::Level {
    polybox_sdk::Level {
        price: l.price.micros(),
        size: l.size.micros(),
    }
}

/// The spread quoter compiled natively, on its own desk.
struct NativeTwin {
    desk: Desk,
    q: SpreadQuoter,
    id: StrategyId,
}

impl NativeTwin {
    /// One market message, as the kernel handles it.
    fn tick(&mut self, ts: u64, msg: &MarketMessage) {
        self.desk.set_now(ts);
        native_tick(&mut self.desk, &mut self.q, self.id, msg);
    }
}

/// The native twin of the kernel's delivery: market events, then order updates until none
/// is left.
fn native_tick(desk: &mut Desk, q: &mut SpreadQuoter, id: StrategyId, msg: &MarketMessage) {
    // The kernel reads the kill switch once per market message, for the whole turn.
    std::hint::black_box(desk.gate_mut().begin_turn());
    let events = desk.apply(msg);
    // Fills the message caused reach the strategy before the message itself.
    settle(desk, q, id);
    for e in &events {
        if let MarketEvent::Book(b) = e {
            let update = polybox_sdk::BookUpdate {
                token: b.token.to_string(),
                ts: b.ts,
                snapshot: b.snapshot,
                changes: b
                    .changes
                    .iter()
                    .map(|(s, l)| polybox_sdk::LevelChange {
                        side: sdk_side(*s),
                        price: l.price.micros(),
                        size: l.size.micros(),
                    })
                    .collect(),
                top: polybox_sdk::TopOfBook {
                    bid: b.bid.map(level),
                    ask: b.ask.map(level),
                },
                tradable: b.tradable,
            };
            q.on_book(&mut NativeHost { desk, id }, &update);
        }
        settle(desk, q, id);
    }
    desk.gate_mut().end_turn();
}

/// Order updates to their owner until none is left (the kernel's `settle`).
fn settle(desk: &mut Desk, q: &mut SpreadQuoter, id: StrategyId) {
    while desk.has_updates() {
        for u in desk.take_updates() {
            let update = polybox_sdk::OrderUpdate {
                id: u.id.0,
                token: u.token.to_string(),
                side: sdk_side(u.side),
                price: u.price.micros(),
                size: u.size.micros(),
                status: match u.status {
                    OrderStatus::Open => polybox_sdk::OrderStatus::Open,
                    OrderStatus::PartiallyFilled => polybox_sdk::OrderStatus::PartiallyFilled,
                    OrderStatus::Filled => polybox_sdk::OrderStatus::Filled,
                    OrderStatus::Cancelled => polybox_sdk::OrderStatus::Cancelled,
                    OrderStatus::Rejected => polybox_sdk::OrderStatus::Rejected,
                },
                filled: u.filled.micros(),
                last_fill: u.last_fill.as_ref().map(|f| polybox_sdk::Fill {
                    price: f.price.micros(),
                    size: f.size.micros(),
                    fee: f.fee.to_micros(),
                    ts: f.ts,
                }),
                reason: u.reason.map(reason),
                ts: u.ts,
            };
            q.on_order(&mut NativeHost { desk, id }, &update);
        }
    }
}

#[allow(clippy::disallowed_methods)] // a benchmark measures wall time
fn main() -> anyhow::Result<()> {
    let text = polybox_tests::simulated_recording(MARKETS, FRAMES, 7);
    let recording = Recording::parse(&text, "simulated")?;
    let messages: Vec<(u64, &MarketMessage)> = recording
        .records
        .iter()
        .flat_map(|r| r.messages.iter().map(move |m| (r.recv_ts, m)))
        .collect();
    let config = HostConfig::default();
    let dir = tempfile::tempdir()?;

    // WASM: the kernel with the component.
    let quoter = polybox_tests::component("strategies/spread-quoter");
    let quoter_config = dir.path().join("quoter.toml");
    std::fs::write(&quoter_config, CONFIG)?;
    let opts = ReplayOptions {
        strategies: vec![quoter],
        strategy_configs: vec![format!("spread_quoter={}", quoter_config.display())],
        ..ReplayOptions::default()
    };
    let mut config_k = config.clone();
    config_k.kill_switch.path = dir.path().join("kill");
    let kernel = |deadline: Deadline| {
        kernel_for(
            &config_k,
            &recording,
            &opts.strategies,
            &opts,
            deadline,
            None,
        )
    };
    let native = || -> anyhow::Result<NativeTwin> {
        let gate = Gate::new(config.limits(), KillSwitch::new(dir.path().join("kill")));
        let mut desk = Desk::new(gate, config.default_tick(), config.default_min_size());
        let metas = recording.markets(
            config.default_tick(),
            config.default_min_size(),
            config.paper.default_fee_rate_bps,
        );
        let infos: Vec<polybox_sdk::MarketInfo> = metas
            .iter()
            .map(|m| polybox_sdk::MarketInfo {
                token: m.token.to_string(),
                condition: m.condition.clone(),
                complement: m.complement.as_ref().map(|c| c.to_string()),
                tick: m.tick.micros(),
                min_size: m.min_size.micros(),
                fee_rate_bps: m.fees.rate_bps,
            })
            .collect();
        for m in metas {
            desk.add_market(m);
        }
        let id = StrategyId(0);
        desk.grant(id, infos.iter().map(|m| TokenId::new(&m.token)));
        let (q, _tokens) = SpreadQuoter::init(
            CONFIG,
            &infos,
            &mut NativeHost {
                desk: &mut desk,
                id,
            },
        )
        .map_err(anyhow::Error::msg)?;
        Ok(NativeTwin { desk, q, id })
    };

    // Warm-up: each kind on the first messages (caches, branch predictors, the engine's
    // first instances), not measured.
    let warm = messages.len().min(WARM_UP);
    let mut k = kernel(Deadline::FuelOnly)?;
    for (ts, m) in &messages[..warm] {
        k.on_message(*ts, m);
    }
    drop(k);
    let mut twin = native()?;
    for (ts, m) in &messages[..warm] {
        twin.tick(*ts, m);
    }
    // Measured: the native twin, the kernel as replay runs it (fuel only), and the kernel
    // as live runs it (fuel and the epoch deadline, with its ticker thread; the difference
    // of the last two is the deadline's cost), taking turns a block of messages at a time
    // so that the machine's drift falls on all three alike.
    let mut twin = native()?;
    let mut replayed = kernel(Deadline::FuelOnly)?;
    let mut live = kernel(Deadline::WallClock(EPOCH_DEADLINE_MS))?;
    let n = messages.len();
    let (mut native, mut wasm, mut live_s) = (
        Samples::with_capacity(n),
        Samples::with_capacity(n),
        Samples::with_capacity(n),
    );
    for block in messages.chunks(BLOCK) {
        for (ts, m) in block {
            let t = Instant::now();
            twin.tick(*ts, m);
            native.push(t.elapsed().as_nanos() as u64);
        }
        for (ts, m) in block {
            let t = Instant::now();
            replayed.on_message(*ts, m);
            wasm.push(t.elapsed().as_nanos() as u64);
        }
        for (ts, m) in block {
            let t = Instant::now();
            live.on_message(*ts, m);
            live_s.push(t.elapsed().as_nanos() as u64);
        }
    }
    let (wasm_summary, live_summary) = (replayed.summary(), live.summary());
    let native_counters = twin.desk.counters(twin.id);
    anyhow::ensure!(
        (live_summary.intents, live_summary.fills) == (wasm_summary.intents, wasm_summary.fills),
        "the run with an epoch deadline diverged from the fuel-only run"
    );
    // The twins must have done the same thing, or the ratio compares different work.
    anyhow::ensure!(
        (
            wasm_summary.intents,
            wasm_summary.accepted,
            wasm_summary.fills
        ) == (
            native_counters.intents,
            native_counters.accepted,
            native_counters.fills
        ),
        "the WASM and native runs diverged: {} / {} / {} intents, accepted, fills against {} / {} / {}",
        wasm_summary.intents,
        wasm_summary.accepted,
        wasm_summary.fills,
        native_counters.intents,
        native_counters.accepted,
        native_counters.fills
    );
    // The host's allocations per message once warm (the guest's own, inside its linear
    // memory, are not the host's): apart for messages that led the strategy to submit
    // (an intent's text is lifted into a host string, a refusal's message formatted) and
    // for those that did not.
    let mut counted = kernel(Deadline::FuelOnly)?;
    for (ts, m) in &messages[..warm] {
        counted.on_message(*ts, m);
    }
    let intents = |k: &polybox::kernel::Kernel| k.desk().counters(StrategyId(0)).intents;
    let (mut quiet, mut busy) = ((0u64, 0u64), (0u64, 0u64));
    for (ts, m) in &messages[warm..] {
        let before = intents(&counted);
        let ((), n) = allocations(|| counted.on_message(*ts, m));
        let kind = if intents(&counted) == before {
            &mut quiet
        } else {
            &mut busy
        };
        kind.0 += 1;
        kind.1 += n;
    }
    let per = |(messages, allocs): (u64, u64)| allocs as f64 / messages.max(1) as f64;
    let (w50, w99) = (wasm.quantile(0.5), wasm.quantile(0.99));
    let (n50, n99) = (native.quantile(0.5), native.quantile(0.99));
    let ratio = |w: u64, n: u64| (w as f64 / n.max(1) as f64 * 100.0).round() / 100.0;
    write(
        "tick",
        &serde_json::json!({
            "what": "one market message in -> book -> spread quoter callback -> submit -> gate verdict (and paper fills back to it)",
            "markets": MARKETS,
            "messages": messages.len(),
            "wasm": {
                "latency": wasm.summary(),
                "intents": wasm_summary.intents,
                "accepted": wasm_summary.accepted,
                "fills": wasm_summary.fills,
            },
            "wasm_with_epoch_deadline": {
                "latency": live_s.summary(),
                "deadline_ms": EPOCH_DEADLINE_MS,
            },
            "native": {
                "latency": native.summary(),
                "intents": native_counters.intents,
                "accepted": native_counters.accepted,
                "fills": native_counters.fills,
            },
            "host_allocations_per_message": {
                "without_intents": per(quiet),
                "with_intents": per(busy),
                "messages_without_intents": quiet.0,
                "messages_with_intents": busy.0,
            },
            "ratio_p50": ratio(w50, n50),
            "ratio_p99": ratio(w99, n99),
        }),
    )?;
    Ok(())
}
