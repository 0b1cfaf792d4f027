//! The risk manager end to end: real components, the paper venue and the gate together
//! (the audit's missing executor + risk integration tests), across the sample's midnight.

use std::process::Command;
use std::time::{Duration, Instant};

use polybox::config::HostConfig;
use polybox::replay::{self, ReplayOptions};
use polybox_core::money::Usdc;
use polybox_tests::{component, polybox_bin};
use serde_json::Value;

fn replay_with(strategies: &[&str], sets: &[&str], state: Option<&std::path::Path>) -> Value {
    let sets: Vec<String> = sets.iter().map(|s| (*s).to_owned()).collect();
    let config = HostConfig::load(None, &sets).unwrap();
    let o = ReplayOptions {
        strategies: strategies.iter().map(|s| component(s)).collect(),
        state: state.map(std::path::Path::to_path_buf),
        ..ReplayOptions::default()
    };
    serde_json::to_value(replay::replay(&config, &o).unwrap()).unwrap()
}

fn usdc(v: &Value) -> Usdc {
    Usdc::parse(
        v.as_str()
            .unwrap_or_else(|| panic!("not a USDC string: {v}")),
    )
    .unwrap()
}

const LOSER: &str = "tests/guests/loser";

#[test]
fn a_per_trade_limit_bounds_every_order_filled() {
    let all = [
        "strategies/spread-quoter",
        "strategies/complement-arb",
        LOSER,
    ];
    // $1 is below the minimum order on this data (5 shares at 0.25 and up): nothing trades.
    let v = replay_with(&all, &["risk.max_order_usdc=1"], None);
    assert!(
        v["rejected"]["per_trade_limit"].as_u64().unwrap() > 0,
        "{v}"
    );
    assert_eq!(v["fills"].as_u64(), Some(0), "{v}");
    // $2 lets the cheaper orders through, and none fills for more.
    let v = replay_with(&all, &["risk.max_order_usdc=2"], None);
    assert!(
        v["rejected"]["per_trade_limit"].as_u64().unwrap() > 0,
        "{v}"
    );
    assert!(v["fills"].as_u64().unwrap() > 0, "{v}");
    for s in v["strategies"].as_array().unwrap() {
        assert!(
            usdc(&s["largest_order_filled"]) <= Usdc::parse("2").unwrap(),
            "{s}"
        );
    }
}

#[test]
fn five_losing_closes_trip_the_breaker_which_holds_across_midnight() {
    let v = replay_with(&[LOSER], &[], None);
    let risk = &v["risk"];
    assert!(
        risk["breaker"]["reason"]
            .as_str()
            .unwrap()
            .contains("5 consecutive losing closes"),
        "{risk}"
    );
    let s = &v["strategies"][0];
    assert!(s["rejected"]["breaker"].as_u64().unwrap() > 0, "{s}");
    let days = risk["days"].as_array().unwrap();
    assert_eq!(days.len(), 2, "{risk}");
    assert_eq!(days[0]["closes"].as_u64(), Some(5));
    assert_eq!(
        days[1]["fills"].as_u64(),
        Some(0),
        "still CRITICAL after midnight: {risk}"
    );
}

#[test]
fn the_daily_loss_limit_stops_buys_until_midnight_then_trading_resumes() {
    let sets = [
        "risk.max_daily_loss_usdc=0.3",
        "risk.max_consecutive_losses=1000",
    ];
    let v = replay_with(&[LOSER], &sets, None);
    let days = v["risk"]["days"].as_array().unwrap();
    assert_eq!(days.len(), 2, "{v}");
    let day1 = usdc(&days[0]["realized_pnl"]);
    assert!(
        day1.is_negative() && day1 >= Usdc::parse("-0.3").unwrap(),
        "{day1}"
    );
    assert!(
        v["strategies"][0]["rejected"]["daily_loss_limit"]
            .as_u64()
            .unwrap()
            > 0,
        "{v}"
    );
    // losses before midnight do not block after it
    assert!(days[1]["fills"].as_u64().unwrap() > 0, "{v}");
    assert!(usdc(&days[1]["realized_pnl"]) >= Usdc::parse("-0.3").unwrap());
}

#[test]
fn budgets_and_position_limits_hold_in_a_replay() {
    let quoter = ["strategies/spread-quoter"];
    // the quoter bids on all four tokens: only one may be held or being bought at once
    let v = replay_with(&quoter, &["risk.max_positions=1"], None);
    let s = &v["strategies"][0];
    assert!(s["rejected"]["max_positions"].as_u64().unwrap() > 0, "{s}");
    assert!(s["accepted"].as_u64().unwrap() > 0, "{s}");
    // 5 shares at ~0.5 is ~2.5 USDC: a second bid on top of the first exceeds 3 USDC
    let v = replay_with(
        &quoter,
        &["strategies.spread_quoter.max_exposure_usdc=3"],
        None,
    );
    let s = &v["strategies"][0];
    assert!(
        s["rejected"]["strategy_budget"].as_u64().unwrap() > 0,
        "{s}"
    );
    assert!(s["accepted"].as_u64().unwrap() > 0, "{s}");
}

#[test]
fn the_ledger_persists_and_a_restarted_replay_continues_the_day() {
    let dir = tempfile::tempdir().unwrap();
    let first = replay_with(&[LOSER], &[], Some(dir.path()));
    assert!(first["risk"]["breaker"].is_object());
    // Same data, same day: the stored breaker refuses everything from the first intent.
    let again = replay_with(&[LOSER], &[], Some(dir.path()));
    let s = &again["strategies"][0];
    assert_eq!(s["accepted"].as_u64(), Some(0), "{s}");
    assert_eq!(s["rejected"]["breaker"].as_u64(), s["intents"].as_u64());
    assert_eq!(
        again["risk"]["days"][0]["realized_pnl"],
        first["risk"]["days"][0]["realized_pnl"]
    );
}

fn polybox(args: &[&str], state: &std::path::Path) -> std::process::Output {
    Command::new(polybox_bin())
        .args(args)
        .arg("--set")
        .arg(format!("store.dir=\"{}\"", state.display()))
        .env("POLYBOX_LOG", "error")
        .output()
        .unwrap()
}

#[test]
fn killing_the_process_mid_day_loses_neither_the_losses_nor_the_breaker() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let loser = component(LOSER);
    // A paced replay: slow enough to be killed mid-session.
    let mut child = Command::new(polybox_bin())
        .args(["replay", "--speed", "5", "--strategy"])
        .arg(&loser)
        .arg("--state")
        .arg(&state)
        .env("POLYBOX_LOG", "error")
        .spawn()
        .unwrap();
    #[allow(clippy::disallowed_methods)] // a test's own timeout, not kernel time
    let started = Instant::now();
    let stored = loop {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the breaker never tripped"
        );
        std::thread::sleep(Duration::from_millis(100));
        if !state.join("polybox.db").exists() {
            continue;
        }
        let out = polybox(&["risk", "show", "--json"], &state);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if v["ledger"]["breaker"].is_object() {
            break v;
        }
    };
    child.kill().unwrap(); // SIGKILL: no drain, no goodbye
    child.wait().unwrap();
    let out = polybox(&["risk", "show", "--json"], &state);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(after["ledger"]["breaker"].is_object(), "{after}");
    assert!(
        usdc(&after["ledger"]["realized_today"]).is_negative(),
        "{after}"
    );
    assert_eq!(
        after["ledger"]["realized_today"],
        stored["ledger"]["realized_today"]
    );
    // Start again: the day continues with its losses and the breaker.
    let out = Command::new(polybox_bin())
        .args(["replay", "--json", "--strategy"])
        .arg(&loser)
        .arg("--state")
        .arg(&state)
        .env("POLYBOX_LOG", "error")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["strategies"][0]["accepted"].as_u64(), Some(0), "{v}");
    assert_eq!(
        v["risk"]["days"][0]["realized_pnl"],
        stored["ledger"]["realized_today"]
    );
}

#[test]
fn kill_resume_and_breaker_reset_are_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let kill_file = dir.path().join("kill");
    let ks = format!("kill_switch.path=\"{}\"", kill_file.display());
    let run = |args: &[&str]| {
        let mut a: Vec<&str> = args.to_vec();
        a.extend(["--set", &ks]);
        polybox(&a, &state)
    };
    let out = run(&["kill", "--cancel-all", "--reason", "market halted"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::read_to_string(&kill_file)
            .unwrap()
            .starts_with("cancel-all")
    );
    let out = run(&["resume", "--reason", "all clear"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!kill_file.exists());
    // no ledger yet: nothing to reset
    let out = run(&["risk", "reset-breaker", "--reason", "x"]);
    assert_eq!(out.status.code(), Some(2));
    // trip the breaker in a replay that keeps its state there, then reset it
    replay_with(&[LOSER], &[], Some(&state));
    let out = run(&["risk", "reset-breaker", "--reason", "reviewed the losses"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&run(&["risk", "show", "--json"]).stdout).unwrap();
    assert!(v["ledger"]["breaker"].is_null(), "{v}");
    let actions: Vec<&str> = v["journal"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["kill --cancel-all", "resume", "reset-breaker"]);
    let last = &v["journal"][2];
    assert_eq!(last["reason"], "reviewed the losses");
    assert!(last["ts_ms"].as_u64().unwrap() > 1_700_000_000_000);
    assert!(!last["who"].as_str().unwrap().is_empty());
}

#[test]
fn the_bankroll_floor_halts_trading() {
    // A floor just under the capital: the first losing round trip goes through it.
    let v = replay_with(&[LOSER], &["risk.min_bankroll_pct=99.99"], None);
    assert!(
        v["risk"]["halt"]["reason"]
            .as_str()
            .unwrap()
            .contains("below the floor"),
        "{}",
        v["risk"]
    );
    let s = &v["strategies"][0];
    assert!(s["rejected"]["min_bankroll"].as_u64().unwrap() > 0, "{s}");
    assert!(
        s["fills"].as_u64().unwrap() <= 3,
        "trading stopped at once: {s}"
    );
}

#[test]
fn kill_cancel_all_pulls_every_resting_order_and_cancels_stay_allowed() {
    use polybox::sandbox::Deadline;
    use polybox_core::ids::StrategyId;
    use polybox_core::kill_switch::KillSwitch;
    let dir = tempfile::tempdir().unwrap();
    let kill = dir.path().join("kill");
    let sets = vec![format!("kill_switch.path=\"{}\"", kill.display())];
    let config = HostConfig::load(None, &sets).unwrap();
    let recording = polybox::market::recording::Recording::sample().unwrap();
    let mut kernel = replay::kernel_for(
        &config,
        &recording,
        &[component("strategies/spread-quoter")],
        &ReplayOptions::default(),
        Deadline::FuelOnly,
        None,
    )
    .unwrap();
    let mut records = recording.records.iter();
    for r in records.by_ref().take(100) {
        for m in &r.messages {
            kernel.on_message(r.recv_ts, m);
        }
    }
    let resting = kernel.desk().open_orders(StrategyId(0)).count();
    assert!(resting > 0, "the quoter has quotes out");
    let accepted_before = kernel.summary().accepted;
    KillSwitch::new(&kill).engage_cancel_all("test").unwrap();
    for r in records.by_ref().take(100) {
        for m in &r.messages {
            kernel.on_message(r.recv_ts, m);
        }
    }
    assert_eq!(kernel.desk().open_orders(StrategyId(0)).count(), 0);
    let s = kernel.summary();
    assert_eq!(
        s.accepted, accepted_before,
        "nothing new accepted while killed"
    );
    assert!(s.rejected["kill_switch"] > 0);
    KillSwitch::new(&kill).release().unwrap();
    for r in records.take(200) {
        for m in &r.messages {
            kernel.on_message(r.recv_ts, m);
        }
    }
    assert!(
        kernel.summary().accepted > accepted_before,
        "trading resumes after `resume`"
    );
}
