//! Benchmark `feed`: market-channel frames parsed and applied to books (ns per message,
//! messages/s, allocations per delta), and the replay of a recorded file through the
//! spread quoter (events/s). Writes `target/bench/feed.json`.
//!
//! `cargo bench -p polybox-tests --bench feed`

use std::time::Instant;

use polybox_tests::FeedBooks;
use polybox_tests::alloc_count::{CountingAlloc, allocations};
use polybox_tests::bench::{Samples, write};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const MARKETS: usize = 100;
const FRAMES: usize = 200_000;

#[allow(clippy::disallowed_methods)] // a benchmark measures wall time
fn main() -> anyhow::Result<()> {
    let frames = polybox_tests::simulated_frames(MARKETS, FRAMES, 42);
    let deltas: Vec<&String> = frames
        .iter()
        .filter(|f| f.contains("\"price_change\""))
        .collect();

    // Warm-up: snapshots and every frame once.
    let mut feed = FeedBooks::default();
    for f in &frames {
        feed.apply(f);
    }
    // Per-message latency (the clock read costs ~20 ns of each sample).
    let mut samples = Samples::with_capacity(deltas.len());
    let mut messages = 0usize;
    for f in &deltas {
        let t = Instant::now();
        messages += feed.apply(f);
        samples.push(t.elapsed().as_nanos() as u64);
    }
    // Throughput: a whole pass, no clock reads inside.
    let passes = 5;
    let t = Instant::now();
    for _ in 0..passes {
        for f in &deltas {
            std::hint::black_box(feed.apply(f));
        }
    }
    let per_sec = (passes * deltas.len()) as f64 / t.elapsed().as_secs_f64();
    let (_, allocs) = allocations(|| deltas.iter().map(|f| feed.apply(f)).sum::<usize>());

    // Replay of a recorded file, whole: read, parse, kernel, one WASM strategy.
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("session.jsonl");
    std::fs::write(
        &data,
        frames
            .join("\n")
            .lines()
            .enumerate()
            .fold(String::new(), |mut s, (i, f)| {
                s.push_str(&format!(
                    "{{\"recv_ts\":{},\"msg\":{f}}}\n",
                    1_796_169_300_000u64 + i as u64 * 50
                ));
                s
            }),
    )?;
    let quoter = polybox_tests::component("strategies/spread-quoter");
    let config = polybox::config::HostConfig::default();
    let opts = polybox::replay::ReplayOptions {
        data: Some(data),
        strategies: vec![quoter],
        ..Default::default()
    };
    let t = Instant::now();
    let report = polybox::replay::replay(&config, &opts)?;
    let replay_secs = t.elapsed().as_secs_f64();

    write(
        "feed",
        &serde_json::json!({
            "book_update": {
                "what": "one price_change frame parsed (reused FrameParser) and applied to its books",
                "markets": MARKETS,
                "frames": deltas.len(),
                "messages": messages,
                "latency": samples.summary(),
                "messages_per_sec": per_sec as u64,
                "allocations_per_message": allocs as f64 / deltas.len() as f64,
            },
            "replay": {
                "what": "polybox replay of a recorded file (read, parse, kernel, spread quoter in WASM), in process",
                "frames": FRAMES,
                "events": report.summary.events,
                "seconds": replay_secs,
                "events_per_sec": (report.summary.events as f64 / replay_secs) as u64,
            },
        }),
    )?;
    Ok(())
}
