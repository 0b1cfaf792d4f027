//! The `polybox` binary: exit codes and one-line errors for bad input.

use std::process::{Command, Output};

use polybox_tests::{component, edited_component, polybox_bin};

fn polybox(args: &[&str]) -> Output {
    Command::new(polybox_bin())
        .args(args)
        .env("POLYBOX_LOG", "error")
        .output()
        .expect("run polybox")
}

/// Exit code 2 and exactly one line on stderr that contains every `needle`.
fn assert_bad_input(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line expected: {stderr}"
    );
    for n in needles {
        assert!(stderr.contains(n), "`{n}` missing from: {stderr}");
    }
}

fn quoter() -> String {
    component("strategies/spread-quoter").display().to_string()
}

#[test]
fn replay_json_has_the_documented_counters() {
    let out = polybox(&["replay", "--strategy", &quoter(), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["events", "intents", "accepted", "fills"] {
        assert!(v[key].as_u64().is_some(), "{key}: {v}");
    }
    assert!(v["rejected"].is_object());
    assert_eq!(v["strategies"][0]["name"], "spread_quoter");
}

#[test]
fn a_missing_data_file_is_bad_input() {
    let out = polybox(&[
        "replay",
        "--data",
        "/nonexistent/session.jsonl",
        "--strategy",
        &quoter(),
    ]);
    assert_bad_input(&out, &["/nonexistent/session.jsonl"]);
}

#[test]
fn a_malformed_data_file_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.jsonl");
    let good = r#"{"recv_ts":1,"msg":{"event_type":"book","asset_id":"1","market":"0x1","timestamp":"1","bids":[],"asks":[]}}"#;
    std::fs::write(
        &path,
        format!("{good}\n{good}\n{{\"recv_ts\": 3, \"msg\": \n"),
    )
    .unwrap();
    let out = polybox(&[
        "replay",
        "--data",
        path.to_str().unwrap(),
        "--strategy",
        &quoter(),
    ]);
    assert_bad_input(&out, &["bad.jsonl", "line 3"]);
}

#[test]
fn a_core_module_is_not_a_component() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("core.wasm");
    std::fs::write(&path, [0, b'a', b's', b'm', 1, 0, 0, 0]).unwrap();
    let out = polybox(&["replay", "--strategy", path.to_str().unwrap()]);
    assert_bad_input(&out, &["core.wasm", "not a component"]);
}

#[test]
fn a_component_for_another_wit_version_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.wasm");
    let bytes = edited_component(|w| w.replace("polybox:strategy@0.1.0", "polybox:strategy@0.2.0"))
        .unwrap();
    std::fs::write(&path, bytes).unwrap();
    let out = polybox(&["replay", "--strategy", path.to_str().unwrap()]);
    assert_bad_input(&out, &["future.wasm", "polybox:strategy@0.2.0"]);
}

#[test]
fn an_unknown_set_key_is_bad_input() {
    let out = polybox(&[
        "replay",
        "--strategy",
        &quoter(),
        "--set",
        "risk.max_ordr_usdc=5",
    ]);
    assert_bad_input(&out, &["risk.max_ordr_usdc"]);
}

#[test]
fn run_needs_markets_and_live_mode_needs_a_valid_key_from_the_environment() {
    let out = polybox(&["run", "--strategy", &quoter()]);
    assert_bad_input(&out, &["no markets"]);
    let dir = tempfile::tempdir().unwrap();
    let live = |key: Option<&str>| {
        let mut c = Command::new(polybox_bin());
        c.args(["run", "--live", "--markets", "1", "--strategy", &quoter()])
            .args(["--set", "exchange.ws_url=\"ws://127.0.0.1:9\""])
            .current_dir(dir.path())
            .env("POLYBOX_LOG", "error")
            .env_remove("POLYMARKET_API_KEY");
        match key {
            Some(k) => c.env("POLYMARKET_PRIVATE_KEY", k),
            None => c.env_remove("POLYMARKET_PRIVATE_KEY"),
        };
        c.output().expect("run polybox")
    };
    assert_bad_input(
        &live(None),
        &[
            "POLYMARKET_PRIVATE_KEY is not set",
            "never in a config file",
        ],
    );
    let out = live(Some("0xnot-a-key-at-all"));
    assert_bad_input(
        &out,
        &["POLYMARKET_PRIVATE_KEY is not a valid hex private key"],
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("not-a-key"),
        "the key is never echoed"
    );
}

#[test]
fn simulate_is_seeded_and_replayable() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
    for p in [&a, &b] {
        let out = polybox(&[
            "simulate",
            "--seed",
            "42",
            "--markets",
            "3",
            "--events",
            "300",
            "--out",
            p.to_str().unwrap(),
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let out = polybox(&[
        "replay",
        "--data",
        a.to_str().unwrap(),
        "--strategy",
        &quoter(),
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["events"].as_u64().map(|e| e >= 300), Some(true), "{v}");
}

#[test]
fn a_bad_strategy_config_is_bad_input_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("quoter.toml");
    std::fs::write(&cfg, "sise = 5\n").unwrap();
    let out = polybox(&[
        "replay",
        "--strategy",
        &quoter(),
        "--strategy-config",
        cfg.to_str().unwrap(),
    ]);
    assert_bad_input(&out, &["spread_quoter", "sise"]);
}

#[test]
fn speed_paces_the_replay_at_recorded_time() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("s.jsonl");
    let out = polybox(&[
        "simulate",
        "--seed",
        "5",
        "--markets",
        "1",
        "--events",
        "40",
        "--out",
        data.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read_to_string(&data).unwrap();
    let ts: Vec<u64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["recv_ts"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let span_ms = ts[ts.len() - 1] - ts[0];
    let speed = 20.0;
    let out = polybox(&[
        "replay",
        "--data",
        data.to_str().unwrap(),
        "--strategy",
        &quoter(),
        "--speed",
        "20",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let elapsed = v["elapsed_ms"].as_u64().unwrap();
    assert!(
        elapsed as f64 >= span_ms as f64 / speed * 0.95,
        "elapsed {elapsed} ms for a {span_ms} ms session at x{speed}"
    );
    let out = polybox(&["replay", "--strategy", &quoter(), "--speed", "0"]);
    assert_bad_input(&out, &["--speed"]);
}

#[test]
fn new_strategy_makes_a_crate_that_builds_trades_and_passes_its_test() {
    let dir = tempfile::tempdir().unwrap();
    let root = polybox_tests::root();
    let in_dir = |args: &[&str]| {
        Command::new(polybox_bin())
            .args(args)
            .current_dir(dir.path())
            .env("POLYBOX_LOG", "error")
            .output()
            .unwrap()
    };
    let made = in_dir(&["new-strategy", "demo"]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    assert!(String::from_utf8_lossy(&made.stdout).contains("polybox build demo"));
    // Made once: a second time would overwrite the author's work.
    let again = in_dir(&["new-strategy", "demo"]);
    assert_bad_input(&again, &["demo exists already"]);
    let wasm_target = root.join("target/wasm-build");
    let built = in_dir(&[
        "build",
        "demo",
        "--target-dir",
        wasm_target.to_str().unwrap(),
    ]);
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let wasm = dir.path().join("target/strategies/demo.wasm");
    assert!(wasm.exists(), "{}", String::from_utf8_lossy(&built.stdout));
    // It loads and trades on the bundled sample.
    let replay = polybox(&["replay", "--strategy", wasm.to_str().unwrap(), "--json"]);
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&replay.stdout).unwrap();
    assert_eq!(report["strategies"][0]["name"], "demo", "{report}");
    assert!(report["accepted"].as_u64() > Some(0), "{report}");
    // Its own tests, on the SDK's native harness.
    let tested = Command::new("cargo")
        .args(["test", "--quiet", "--manifest-path"])
        .arg(dir.path().join("demo/Cargo.toml"))
        .arg("--target-dir")
        .arg(root.join("target/scaffold-test"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&tested.stdout);
    assert!(
        tested.status.success(),
        "{said}\n{}",
        String::from_utf8_lossy(&tested.stderr)
    );
    assert!(said.contains("5 passed"), "{said}");
}
