//! Benchmark `replay`: events/s of a whole `polybox replay` (read the file, parse, books,
//! kernel, paper fills, WASM strategies) of a generated session of 1,000,000 frames over 100
//! markets, with 1 and with 10 strategies (copies of the spread quoter), the peak memory of
//! each (replay streams the file: the peak is the host and its strategies), and each
//! strategy instance's linear memory. Every scenario runs in a process of its own (this binary again, with
//! `--scenario`), so its peak is its own. Writes `target/bench/replay.json`.
//!
//! `cargo bench -p polybox-tests --bench replay`

use std::path::{Path, PathBuf};
use std::time::Instant;

use polybox::config::HostConfig;
use polybox::replay::{ReplayOptions, replay};
use polybox_tests::bench::write;

const MARKETS: usize = 100;
const FRAMES: usize = 1_000_000;

/// This process's resident-set high-water mark, bytes (Linux).
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// One scenario, in this process: replay `data` with the first `n` quoter copies in `dir`.
#[allow(clippy::disallowed_methods)] // a benchmark measures wall time
fn scenario(n: usize, data: &Path, dir: &Path) -> anyhow::Result<serde_json::Value> {
    let before = peak_rss();
    let mut config = HostConfig::default();
    config.kill_switch.path = dir.join("kill");
    let opts = ReplayOptions {
        data: Some(data.to_owned()),
        strategies: (0..n)
            .map(|i| dir.join(format!("quoter_{i}.wasm")))
            .collect(),
        ..ReplayOptions::default()
    };
    let t = Instant::now();
    let report = replay(&config, &opts)?;
    let secs = t.elapsed().as_secs_f64();
    let s = &report.summary;
    Ok(serde_json::json!({
        "strategies": n,
        "events": s.events,
        "intents": s.intents,
        "fills": s.fills,
        "seconds": secs,
        "events_per_sec": (s.events as f64 / secs) as u64,
        "peak_rss_bytes": peak_rss(),
        // What each instance holds: its linear memory at its largest.
        "strategy_memory_bytes": s.strategies.iter().map(|x| x.memory_bytes).max(),
        "rss_before_bytes": before,
    }))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--scenario") {
        let n: usize = args[i + 1].parse()?;
        let v = scenario(n, Path::new(&args[i + 2]), Path::new(&args[i + 3]))?;
        println!("{v}");
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("session.jsonl");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&data)?);
        polybox::market::simulate::simulate(
            &polybox::market::simulate::SimParams {
                seed: 11,
                markets: MARKETS,
                events: FRAMES,
                start_ms: polybox::market::simulate::DEFAULT_START_MS,
            },
            &mut w,
        )?;
        std::io::Write::flush(&mut w)?;
    }
    let quoter = polybox_tests::component("strategies/spread-quoter");
    for i in 0..10 {
        std::fs::copy(&quoter, dir.path().join(format!("quoter_{i}.wasm")))?;
    }
    let me: PathBuf = std::env::current_exe()?;
    let mut runs = Vec::new();
    for n in [1usize, 10] {
        let out = std::process::Command::new(&me)
            .arg("--scenario")
            .arg(n.to_string())
            .arg(&data)
            .arg(dir.path())
            .env("POLYBOX_LOG", "error")
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "scenario {n}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        runs.push(serde_json::from_slice::<serde_json::Value>(&out.stdout)?);
    }
    write(
        "replay",
        &serde_json::json!({
            "what": "whole replay of a generated file: read, parse, books, kernel, paper fills, spread quoter copies in WASM",
            "markets": MARKETS,
            "frames": FRAMES,
            "file_bytes": std::fs::metadata(&data)?.len(),
            "runs": runs,
        }),
    )?;
    Ok(())
}
