//! Replays of the bundled sample through real components.

use polybox::config::HostConfig;
use polybox::replay::{self, ReplayError, ReplayOptions};
use polybox_tests::{component, without_timing};

fn opts(strategies: &[&str]) -> ReplayOptions {
    ReplayOptions {
        strategies: strategies.iter().map(|s| component(s)).collect(),
        ..ReplayOptions::default()
    }
}

fn json(config: &HostConfig, o: &ReplayOptions) -> serde_json::Value {
    let report = replay::replay(config, o).unwrap();
    serde_json::to_value(&report).unwrap()
}

fn config(sets: &[&str]) -> HostConfig {
    let sets: Vec<String> = sets.iter().map(|s| (*s).to_owned()).collect();
    HostConfig::load(None, &sets).unwrap()
}

#[test]
fn two_replays_are_identical_apart_from_timing() {
    let o = opts(&["strategies/spread-quoter", "strategies/complement-arb"]);
    let c = config(&["sandbox.cache_dir=\"\""]);
    let a = json(&c, &o);
    let b = json(&c, &o);
    assert_eq!(without_timing(a.clone()), without_timing(b));
    for key in ["events", "intents", "accepted", "fills"] {
        assert!(a[key].as_u64().unwrap() > 0, "{key} is zero: {a}");
    }
    let strategies = a["strategies"].as_array().unwrap();
    assert_eq!(strategies.len(), 2);
    for s in strategies {
        assert!(s["intents"].as_u64().unwrap() > 0, "{s}");
        assert!(s["fills"].as_u64().unwrap() > 0, "{s}");
        assert_eq!(s["state"], "running");
    }
    assert!(
        a["fees"].as_str().unwrap() != "0",
        "the fee market charges takers: {a}"
    );
}

#[test]
fn a_streamed_file_replays_as_the_whole_recording_held_in_memory() {
    // `replay` reads the file twice (markets, then events) and never holds it; the same
    // session loaded whole and fed to a kernel by hand must come out the same.
    let o = opts(&["strategies/spread-quoter", "strategies/complement-arb"]);
    let c = config(&["sandbox.cache_dir=\"\""]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("session.jsonl");
    std::fs::write(&data, polybox::market::recording::SAMPLE).unwrap();
    let streamed = replay::replay(
        &c,
        &ReplayOptions {
            data: Some(data.clone()),
            ..o.clone()
        },
    )
    .unwrap()
    .summary;
    let recording = polybox::market::recording::Recording::read(&data).unwrap();
    let mut kernel = replay::kernel_for(
        &c,
        &recording,
        &o.strategies,
        &o,
        polybox::sandbox::Deadline::FuelOnly,
        None,
    )
    .unwrap();
    use polybox_core::clock::Clock;
    let mut clock = polybox_core::clock::ReplayClock::default();
    for r in &recording.records {
        clock.advance_to(r.recv_ts);
        for m in &r.messages {
            kernel.on_message(clock.now_ms(), m);
        }
    }
    let held = kernel.summary();
    assert!(
        streamed.events > 4_000 && streamed.fills > 0,
        "{streamed:?}"
    );
    assert_eq!(
        without_timing(serde_json::to_value(&streamed).unwrap()),
        without_timing(serde_json::to_value(&held).unwrap())
    );
}

#[test]
fn rejections_are_counted_by_reason() {
    let o = opts(&["strategies/spread-quoter"]);
    let a = json(&config(&["risk.max_order_usdc=1"]), &o);
    let rejected = a["rejected"]["per_trade_limit"].as_u64().unwrap_or(0);
    assert!(rejected > 0, "{a}");
    let total_rejected: u64 = a["rejected"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(
        a["intents"].as_u64().unwrap(),
        a["accepted"].as_u64().unwrap() + total_rejected
    );
    assert_eq!(
        a["strategies"][0]["rejected"]["per_trade_limit"].as_u64(),
        Some(rejected)
    );
}

#[test]
fn the_kill_switch_blocks_every_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kill");
    std::fs::write(&file, "test\n").unwrap();
    let set = format!("kill_switch.path=\"{}\"", file.display());
    let a = json(&config(&[&set]), &opts(&["strategies/spread-quoter"]));
    assert_eq!(a["accepted"].as_u64(), Some(0), "{a}");
    assert_eq!(a["fills"].as_u64(), Some(0));
    assert_eq!(a["rejected"]["kill_switch"].as_u64(), a["intents"].as_u64());
    assert!(a["intents"].as_u64().unwrap() > 0);
}

#[test]
fn a_grant_that_names_no_market_is_a_load_error_listing_it() {
    let c = config(&["strategies.spread_quoter.markets=[\"123\", \"456\"]"]);
    let err = replay::replay(&c, &opts(&["strategies/spread-quoter"])).unwrap_err();
    assert!(matches!(err, ReplayError::Kernel(_)), "{err}");
    let text = err.to_string();
    assert!(text.contains("123") && text.contains("456"), "{text}");
    assert!(err.is_bad_input());
}

#[test]
fn a_strategy_sees_only_its_granted_markets() {
    let all = json(&config(&[]), &opts(&["strategies/spread-quoter"]));
    // grant the quoter only the first token of the sample
    let sample = polybox::market::recording::Recording::sample().unwrap();
    let markets = sample.markets(
        polybox_core::money::Price::from_micros(10_000),
        polybox_core::money::Size::from_micros(5_000_000),
        0,
    );
    let token = markets[0].token.to_string();
    let one = json(
        &config(&[&format!("strategies.spread_quoter.markets=[\"{token}\"]")]),
        &opts(&["strategies/spread-quoter"]),
    );
    let (n_all, n_one) = (
        all["intents"].as_u64().unwrap(),
        one["intents"].as_u64().unwrap(),
    );
    assert!(
        n_one > 0 && n_one < n_all,
        "one market {n_one}, all {n_all}"
    );
}
