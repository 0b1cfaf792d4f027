//! Hot swap in replay: a strategy swapped for itself at several events trades exactly as
//! one never swapped (its state is handed over whole, no event missed or doubled), and a
//! component that refuses the state leaves the running one in place.

use polybox::config::HostConfig;
use polybox::replay::{self, ReplayError, ReplayOptions, SwapAt};
use polybox_tests::{component, without_timing};

const QUOTER: &str = "strategies/spread-quoter";
const ARB: &str = "strategies/complement-arb";

fn run(swaps: Vec<SwapAt>) -> Result<serde_json::Value, ReplayError> {
    let o = ReplayOptions {
        strategies: vec![component(QUOTER), component(ARB)],
        swaps,
        ..ReplayOptions::default()
    };
    let report = replay::replay(&HostConfig::default(), &o)?;
    Ok(serde_json::to_value(&report).unwrap())
}

/// The summary without timing and without the swap counters.
fn trading(mut v: serde_json::Value) -> serde_json::Value {
    v["swaps"] = serde_json::Value::Null;
    for s in v["strategies"].as_array_mut().unwrap() {
        s["swaps"] = serde_json::Value::Null;
    }
    without_timing(v)
}

fn at(index: u64, crate_dir: &str) -> SwapAt {
    SwapAt {
        at: index,
        path: component(crate_dir),
    }
}

#[test]
fn a_strategy_swapped_for_itself_trades_exactly_as_one_never_swapped() {
    let plain = run(Vec::new()).unwrap();
    let swapped = run(vec![
        at(1, QUOTER),
        at(700, QUOTER),
        at(700, ARB),
        at(2_500, QUOTER),
    ])
    .unwrap();
    assert_eq!(swapped["swaps"], 4, "{swapped}");
    assert_eq!(swapped["events_missed"], 0, "{swapped}");
    assert_eq!(swapped["strategies"][0]["swaps"], 3);
    assert_eq!(swapped["strategies"][1]["swaps"], 1);
    assert!(plain["intents"].as_u64() > Some(100) && plain["fills"].as_u64() > Some(10));
    assert_eq!(
        trading(swapped),
        trading(plain),
        "same intents, fills and P&L"
    );
}

#[test]
fn a_component_that_refuses_the_state_leaves_the_running_one() {
    // The amnesiac under the quoter's name: it starts, then refuses the quoter's state.
    let dir = tempfile::tempdir().unwrap();
    let impostor = dir.path().join("spread_quoter.wasm");
    std::fs::copy(component("tests/guests/amnesiac"), &impostor).unwrap();
    let plain = run(Vec::new()).unwrap();
    let tried = run(vec![SwapAt {
        at: 500,
        path: impostor,
    }])
    .unwrap();
    assert_eq!(tried["swaps"], 0);
    assert_eq!(trading(tried), trading(plain));
}

#[test]
fn a_swap_names_a_loaded_strategy_and_an_event_of_the_recording() {
    let e = run(vec![at(10_000_000, QUOTER)]).unwrap_err();
    assert!(
        matches!(&e, ReplayError::Usage(m) if m.contains("market messages")),
        "{e}"
    );
    let e = run(vec![at(5, "tests/guests/loser")]).unwrap_err();
    assert!(
        matches!(&e, ReplayError::Usage(m) if m.contains("no strategy `loser`")),
        "{e}"
    );
    assert!("12:x.wasm".parse::<SwapAt>().is_ok());
    assert!(
        "x.wasm"
            .parse::<SwapAt>()
            .unwrap_err()
            .contains("EVENT_INDEX:FILE.wasm")
    );
}

/// Put `from` into `dir` as `name` the way a deploy should: written aside, then renamed.
fn deploy(from: &std::path::Path, dir: &std::path::Path, name: &str) {
    let aside = dir.join(format!(".{name}.part"));
    std::fs::copy(from, &aside).unwrap();
    std::fs::rename(&aside, dir.join(name)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_host_swaps_a_strategy_written_to_its_watched_folder() {
    let mut market = polybox_tests::fake_market::FakeMarket::start(&["111", "222"], 61).await;
    let dir = tempfile::tempdir().unwrap();
    let quoter = component(QUOTER);
    deploy(&quoter, dir.path(), "spread_quoter.wasm");
    let child = tokio::process::Command::new(polybox_tests::polybox_bin())
        .args(["run", "--markets", "111,222", "--duration", "6", "--json"])
        .arg("--strategy")
        .arg(dir.path().join("spread_quoter.wasm"))
        .arg("--watch")
        .arg(dir.path())
        .args(["--set", &format!("exchange.ws_url=\"{}\"", market.url())])
        .args([
            "--set",
            &format!("exchange.clob_url=\"{}\"", market.http_url()),
        ])
        .env("POLYBOX_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let step = async |market: &mut polybox_tests::fake_market::FakeMarket, n: usize| {
        for _ in 0..n {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            market.step(5);
        }
    };
    step(&mut market, 15).await;
    // A new build of the quoter (here: the same one, written again): swapped in.
    deploy(&quoter, dir.path(), "spread_quoter.wasm");
    step(&mut market, 15).await;
    // A build that refuses the running state: the running quoter carries on.
    deploy(
        &component("tests/guests/amnesiac"),
        dir.path(),
        "spread_quoter.wasm",
    );
    step(&mut market, 15).await;
    let out = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["swaps"], 1, "{v}\n{stderr}");
    assert_eq!(v["events_missed"], 0, "{v}");
    assert!(
        stderr.contains("was not swapped") && stderr.contains("cannot read the state"),
        "{stderr}"
    );
    let quoter = &v["strategies"][0];
    assert_eq!(quoter["state"], "running");
    assert!(quoter["events"].as_u64() > Some(20), "{quoter}");
}
