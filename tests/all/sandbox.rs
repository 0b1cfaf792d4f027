//! Hostile strategies are contained; contracts are checked at load.

use std::path::Path;

use polybox::config::HostConfig;
use polybox::replay::{self, ReplayOptions};
use polybox::sandbox::{ContractError, Deadline, LoadError, Sandbox};
use polybox_tests::{component, edited_component};
use serde_json::Value;

fn replay(strategies: &[&str], sets: &[&str]) -> Value {
    let sets: Vec<String> = sets.iter().map(|s| (*s).to_owned()).collect();
    let config = HostConfig::load(None, &sets).unwrap();
    let o = ReplayOptions {
        strategies: strategies.iter().map(|s| component(s)).collect(),
        ..ReplayOptions::default()
    };
    serde_json::to_value(replay::replay(&config, &o).unwrap()).unwrap()
}

fn strategy<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {v}"))
}

/// The offender faulted, was restarted with backoff until it ran out of restarts, and the
/// quoter beside it traded exactly as it does alone.
fn assert_contained(guest: &str, name: &str, fault: &str) {
    let alone = replay(&["strategies/spread-quoter"], &[]);
    let both = replay(&["strategies/spread-quoter", guest], &[]);
    let bad = strategy(&both, name);
    assert_eq!(bad["faults"][fault].as_u64(), Some(6), "{bad}");
    assert_eq!(bad["restarts"].as_u64(), Some(5), "{bad}");
    assert_eq!(bad["state"], "failed", "{bad}");
    assert!(bad["events_missed"].as_u64().unwrap() > 0, "{bad}");
    let good = strategy(&both, "spread_quoter");
    assert_eq!(
        good,
        strategy(&alone, "spread_quoter"),
        "the quoter must not notice"
    );
    assert!(good["fills"].as_u64().unwrap() > 0);
}

#[test]
fn an_infinite_loop_is_cut_at_its_cpu_budget() {
    assert_contained("tests/guests/looper", "looper", "cpu_budget");
}

#[test]
fn an_allocation_bomb_is_stopped_at_the_memory_cap() {
    assert_contained("tests/guests/memory-hog", "memory_hog", "memory_cap");
}

#[test]
fn a_trap_is_contained() {
    assert_contained("tests/guests/trapper", "trapper", "trap");
}

#[test]
fn restarts_back_off() {
    // With a one-hour first backoff, the looper restarts at most once in the 10-minute sample.
    let v = replay(
        &["tests/guests/looper"],
        &[
            "sandbox.restart_backoff_ms=3600000",
            "sandbox.restart_backoff_max_ms=3600000",
        ],
    );
    let bad = strategy(&v, "looper");
    assert_eq!(bad["faults"]["cpu_budget"].as_u64(), Some(1), "{bad}");
    assert_eq!(bad["restarts"].as_u64(), Some(0));
    assert_eq!(bad["state"], "quarantined");
}

#[test]
fn an_intent_flood_is_refused_then_quarantined() {
    assert_contained("tests/guests/flooder", "flooder", "intent_flood");
    let v = replay(
        &["tests/guests/flooder"],
        &["sandbox.max_intents_per_callback=20"],
    );
    let s = strategy(&v, "flooder");
    // per flooded callback: 20 reach the gate, the next 20 are refused, then it is stopped
    assert_eq!(s["rejected"]["rate_limit"].as_u64(), Some(6 * 20), "{s}");
    assert_eq!(s["intents"].as_u64(), Some(6 * 40), "{s}");
}

#[test]
fn built_components_import_only_the_polybox_host() {
    for c in ["strategies/spread-quoter", "strategies/complement-arb"] {
        let bytes = std::fs::read(component(c)).unwrap();
        let wit_component::DecodedWasm::Component(resolve, world) =
            wit_component::decode(&bytes).unwrap()
        else {
            panic!("{c} is not a component");
        };
        let imports: Vec<String> = resolve.worlds[world]
            .imports
            .keys()
            .map(|k| resolve.name_world_key(k))
            .collect();
        assert!(!imports.is_empty());
        for i in &imports {
            assert!(i.starts_with("polybox:strategy/"), "{c} imports {i}");
            assert!(!i.starts_with("wasi:"), "{c} imports {i}");
        }
    }
}

fn load(bytes: &[u8]) -> Result<(), LoadError> {
    let config = HostConfig::load(None, &[]).unwrap();
    let sandbox = Sandbox::new(&config.sandbox, Deadline::FuelOnly).unwrap();
    sandbox.load_bytes(Path::new("x.wasm"), bytes).map(|_| ())
}

#[test]
fn a_component_for_another_contract_version_is_refused() {
    let bytes = edited_component(|w| w.replace("polybox:strategy@0.1.0", "polybox:strategy@0.2.0"))
        .unwrap();
    match load(&bytes) {
        Err(LoadError::Contract {
            source: ContractError::Version { found },
            ..
        }) => assert_eq!(found, "0.2.0"),
        other => panic!("expected a version refusal, got {other:?}"),
    }
    let err = load(&bytes).unwrap_err().to_string();
    assert!(err.contains("0.2.0") && err.contains("0.1"), "{err}");
}

#[test]
fn a_component_importing_outside_the_world_is_refused() {
    let bytes = edited_component(|w| {
        w.replace("world strategy {\n    import host;", "world strategy {\n    import host;\n    import wasi:random/random@0.2.0;")
            + "\npackage wasi:random@0.2.0 {\n    interface random {\n        get-random-u64: func() -> u64;\n    }\n}\n"
    })
    .unwrap();
    match load(&bytes) {
        Err(LoadError::Contract {
            source: ContractError::ForeignImports(i),
            ..
        }) => {
            assert_eq!(i, vec!["wasi:random/random@0.2.0".to_owned()]);
        }
        other => panic!("expected a foreign-import refusal, got {other:?}"),
    }
}

#[test]
fn a_stub_of_the_right_version_passes_the_contract_check() {
    let bytes = edited_component(|w| w).unwrap();
    assert_eq!(
        polybox::sandbox::contract::check(&bytes),
        Ok("0.1.0".to_owned())
    );
}

#[test]
fn live_mode_also_cuts_a_callback_at_its_wall_clock_deadline() {
    // Fuel so large it never runs out: only the epoch deadline can stop the loop.
    let sets = vec![
        "sandbox.fuel_per_callback=1000000000000000".to_owned(),
        "sandbox.deadline_ms=20".to_owned(),
    ];
    let config = HostConfig::load(None, &sets).unwrap();
    let recording = polybox::market::recording::Recording::sample().unwrap();
    let o = ReplayOptions::default();
    let mut kernel = replay::kernel_for(
        &config,
        &recording,
        &[component("tests/guests/looper")],
        &o,
        Deadline::WallClock(20),
        None,
    )
    .unwrap();
    for r in recording.records.iter().take(200) {
        for m in &r.messages {
            kernel.on_message(r.recv_ts, m);
        }
    }
    let s = kernel.summary();
    assert!(
        s.strategies[0].faults.get("deadline").copied().unwrap_or(0) >= 1,
        "{:?}",
        s.strategies[0]
    );
    assert!(!s.strategies[0].faults.contains_key("cpu_budget"));
}
