//! Benchmark `swap`: component instantiation alone (a pre-linked `InstancePre` into the
//! pooling allocator's slots, a fresh store each time), and the pause a hot swap makes the
//! kernel take (snapshot of the running spread quoter, instantiation of the new component,
//! `init`, `restore`), interleaved with the bundled session's events, and the events that
//! would queue behind it on a live feed. Writes `target/bench/swap.json`.
//!
//! `cargo bench -p polybox-tests --bench swap`

use std::sync::Arc;
use std::time::Instant;

use polybox::config::HostConfig;
use polybox::market::recording::Recording;
use polybox::replay::{ReplayOptions, kernel_for};
use polybox::sandbox::{Deadline, Instance};
use polybox_core::clock::{Clock, ReplayClock};
use polybox_core::ids::StrategyId;
use polybox_tests::bench::{Samples, write};

const SWAPS: usize = 1_000;
const INSTANCES: usize = 5_000;

#[allow(clippy::disallowed_methods)] // a benchmark measures wall time
fn main() -> anyhow::Result<()> {
    let quoter = polybox_tests::component("strategies/spread-quoter");
    let config = HostConfig::default();
    let recording = Recording::sample()?;
    let opts = ReplayOptions {
        strategies: vec![quoter.clone()],
        ..ReplayOptions::default()
    };
    let mut kernel = kernel_for(
        &config,
        &recording,
        &opts.strategies,
        &opts,
        Deadline::FuelOnly,
        None,
    )?;
    // Compiled once, off the measured path, as the folder watch compiles off the kernel
    // thread.
    let loaded = Arc::new(kernel.sandbox().load(&quoter)?);
    // Instantiation alone: store, limits, fuel, and the instance from the pool.
    let name: Arc<str> = Arc::from("spread_quoter");
    let mut instantiate = Samples::with_capacity(INSTANCES);
    for i in 0..INSTANCES + 100 {
        let t = Instant::now();
        let instance = Instance::new(
            kernel.sandbox(),
            &loaded,
            StrategyId(1_000),
            Arc::clone(&name),
        )
        .map_err(|f| anyhow::anyhow!("instantiate: {f:?}"))?;
        let ns = t.elapsed().as_nanos() as u64;
        drop(instance);
        if i >= 100 {
            instantiate.push(ns);
        }
    }
    let messages: Vec<(u64, &polybox_core::market_message::MarketMessage)> = recording
        .records
        .iter()
        .flat_map(|r| r.messages.iter().map(move |m| (r.recv_ts, m)))
        .collect();
    let every = (messages.len() / SWAPS).max(1);
    let mut clock = ReplayClock::default();
    let mut pause = Samples::with_capacity(SWAPS * 2);
    // Warm-up: one pass with a few swaps.
    for (i, (ts, m)) in messages.iter().enumerate() {
        clock.advance_to(*ts);
        kernel.on_message(clock.now_ms(), m);
        if i % (every * 10) == 0 {
            kernel.swap(Arc::clone(&loaded))?;
        }
    }
    // Measured: a swap every `every` events, twice through the session.
    for _ in 0..2 {
        for (i, (ts, m)) in messages.iter().enumerate() {
            clock.advance_to(*ts);
            kernel.on_message(clock.now_ms(), m);
            if i % every == 0 {
                let t = Instant::now();
                kernel.swap(Arc::clone(&loaded))?;
                pause.push(t.elapsed().as_nanos() as u64);
            }
        }
    }
    let summary = kernel.summary();
    anyhow::ensure!(summary.events_missed == 0, "a swap missed events");
    let p99 = pause.quantile(0.99);
    // Events that arrive on a live feed during the p99 pause wait in the feed channel and
    // are handled next, in order.
    let queued = |per_sec: u64| (u128::from(p99) * u128::from(per_sec)).div_ceil(1_000_000_000);
    write(
        "swap",
        &serde_json::json!({
            "instantiate": instantiate.summary(),
            "pause": pause.summary(),
            "swaps": summary.swaps,
            "events": summary.events,
            "events_missed": summary.events_missed,
            "queued_at_p99": {
                "at_1k_msgs_per_s": queued(1_000) as u64,
                "at_10k_msgs_per_s": queued(10_000) as u64,
            },
        }),
    )?;
    Ok(())
}
