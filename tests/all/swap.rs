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
