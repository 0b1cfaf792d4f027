//! Benchmark `boundary`: what crossing into a strategy costs, by the shape of what crosses.
//! One instance of the spread quoter (which ignores a token it does not trade, so its own
//! work is nil) receives the same call with payloads of different shapes: a timer (one
//! integer: what an event naming its market by index would carry), a book update whose
//! token is a 1-character text or a 77-digit id as Polymarket's are, and with 0, 1, 4 and
//! 16 level changes. ns per call, p50/mean. Writes `target/bench/boundary.json`.
//!
//! `cargo bench -p polybox-tests --bench boundary`

use std::sync::Arc;
use std::time::Instant;

use polybox::config::HostConfig;
use polybox::kernel::{Timers, World};
use polybox::sandbox::{Deadline, Instance, Sandbox, wit};
use polybox_core::desk::Desk;
use polybox_core::ids::StrategyId;
use polybox_core::kill_switch::KillSwitch;
use polybox_core::risk::Gate;
use polybox_tests::bench::{Samples, write};

const CALLS: usize = 200_000;
const WARM_UP: usize = 20_000;

fn book(token: &str, changes: usize) -> wit::Event {
    wit::Event::Book(wit::BookUpdate {
        token: token.to_owned(),
        ts: 1,
        snapshot: false,
        changes: (0..changes)
            .map(|i| wit::LevelChange {
                side: wit::Side::Buy,
                price: 400_000 + i as u32 * 10_000,
                size: 5_000_000,
            })
            .collect(),
        top: wit::TopOfBook {
            bid: Some(wit::Level {
                price: 480_000,
                size: 5_000_000,
            }),
            ask: Some(wit::Level {
                price: 520_000,
                size: 5_000_000,
            }),
        },
        tradable: true,
    })
}

#[allow(clippy::disallowed_methods)] // a benchmark measures wall time
fn main() -> anyhow::Result<()> {
    let quoter = polybox_tests::component("strategies/spread-quoter");
    let config = HostConfig::default();
    let dir = tempfile::tempdir()?;
    let sandbox = Sandbox::new(&config.sandbox, Deadline::FuelOnly)?;
    let loaded = sandbox.load(&quoter)?;
    let gate = Gate::new(config.limits(), KillSwitch::new(dir.path().join("kill")));
    let desk = Desk::new(gate, config.default_tick(), config.default_min_size());
    let mut world = Some(Box::new(World {
        desk,
        timers: Timers::default(),
    }));
    let mut instance = Instance::new(&sandbox, &loaded, StrategyId(0), Arc::from("quoter"))
        .map_err(|f| anyhow::anyhow!("instantiate: {f}"))?;
    instance
        .init(&mut world, "", &[])
        .map_err(|f| anyhow::anyhow!("init: {f}"))?;
    let id = "7".repeat(77);
    let shapes: Vec<(&str, wit::Event)> = vec![
        ("timer (one integer)", wit::Event::Timer(1)),
        ("book, 1-character token, no change", book("7", 0)),
        ("book, 77-digit token, no change", book(&id, 0)),
        ("book, 77-digit token, 1 change", book(&id, 1)),
        ("book, 77-digit token, 4 changes", book(&id, 4)),
        ("book, 77-digit token, 16 changes", book(&id, 16)),
    ];
    let mut out = serde_json::Map::new();
    // Rounds over every shape, so the machine's drift falls on all alike.
    let mut samples: Vec<Samples> = shapes
        .iter()
        .map(|_| Samples::with_capacity(CALLS))
        .collect();
    for (_, event) in &shapes {
        for _ in 0..WARM_UP {
            instance
                .on_event(&mut world, event)
                .map_err(|f| anyhow::anyhow!("{f}"))?;
        }
    }
    for _ in 0..CALLS / 1_000 {
        for ((_, event), s) in shapes.iter().zip(&mut samples) {
            for _ in 0..1_000 {
                let t = Instant::now();
                instance
                    .on_event(&mut world, event)
                    .map_err(|f| anyhow::anyhow!("{f}"))?;
                s.push(t.elapsed().as_nanos() as u64);
            }
        }
    }
    for ((name, _), mut s) in shapes.iter().zip(samples) {
        out.insert((*name).to_owned(), s.summary());
    }
    write(
        "boundary",
        &serde_json::json!({
            "what": "one call into a strategy that does nothing with it, by payload shape (ns per call)",
            "calls": CALLS,
            "shapes": out,
        }),
    )?;
    Ok(())
}
