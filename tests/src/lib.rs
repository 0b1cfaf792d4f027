//! Helpers for polybox's integration tests: real components built by the real pipeline
//! (`polybox build`), hand-made components for contract checks, and the CLI binary.

pub mod alloc_count;
pub mod anvil;
pub mod bench;
pub mod fake_clob;
pub mod fake_market;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use polybox::strategy_build::{self, BuildOptions};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());

/// Build a strategy crate (path relative to the workspace root, e.g.
/// `strategies/spread-quoter` or `tests/guests/looper`) once per test run and return
/// its component. Fails with the build's own message (e.g. the missing wasm target).
pub fn component(crate_dir: &str) -> PathBuf {
    let mut built = BUILT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(p) = built.get(crate_dir) {
        return p.clone();
    }
    let opts = BuildOptions {
        target_dir: root().join("target/wasm-build"),
        out_dir: root().join("target/strategies"),
    };
    let path = strategy_build::build(&root().join(crate_dir), &opts)
        .unwrap_or_else(|e| panic!("building {crate_dir}: {e}"));
    built.insert(crate_dir.to_owned(), path.clone());
    path
}

/// The `polybox` binary built alongside the tests.
pub fn polybox_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    // target/<profile>/deps/all-HASH → target/<profile>/polybox
    exe.parent()
        .and_then(Path::parent)
        .map(|d| d.join("polybox"))
        .unwrap_or_default()
}

/// A component of the polybox world with its WIT text edited by `edit` (to make one
/// for another contract version, or with imports outside the world). Its functions are
/// stubs: it is for load-time checks only.
pub fn edited_component(edit: impl FnOnce(String) -> String) -> anyhow::Result<Vec<u8>> {
    let wit = std::fs::read_to_string(root().join("wit/strategy.wit"))?;
    let wit = edit(wit);
    let mut resolve = wit_parser::Resolve::default();
    let pkg = resolve
        .push_str("strategy.wit", &wit)
        .context("parsing edited WIT")?;
    let world = resolve.select_world(&[pkg], Some("strategy"))?;
    let mut module =
        wit_component::dummy_module(&resolve, world, wit_parser::ManglingAndAbi::Standard32);
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )?;
    wit_component::ComponentEncoder::default()
        .module(&module)?
        .validate(true)
        .encode()
}

/// Replay JSON with the timing fields removed.
pub fn without_timing(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("elapsed_ms");
        o.remove("events_per_sec");
    }
    v
}

/// The books of a session, fed frame by frame: the host's book-update path (frame parsed
/// with a reused [`FrameParser`](polybox_core::market_message::FrameParser), then applied
/// to the token's [`OrderBook`](polybox_core::book::OrderBook)), without strategies.
#[derive(Debug, Default)]
pub struct FeedBooks {
    parser: polybox_core::market_message::FrameParser,
    messages: Vec<polybox_core::market_message::MarketMessage>,
    /// The books by token.
    pub books: std::collections::HashMap<polybox_core::ids::TokenId, polybox_core::book::OrderBook>,
}

impl FeedBooks {
    /// Parse `frame` and apply it; returns the number of messages.
    pub fn apply(&mut self, frame: &str) -> usize {
        use polybox_core::book::OrderBook;
        use polybox_core::market_message::MarketMessage;
        use polybox_core::money::{Price, Size};
        if let Err(e) = self.parser.parse_into(frame, &mut self.messages) {
            panic!("{e}: {frame}");
        }
        for m in &self.messages {
            match m {
                MarketMessage::Book(s) => {
                    let book = self.books.entry(s.token.clone()).or_insert_with(|| {
                        OrderBook::new(
                            s.token.clone(),
                            Price::from_micros(10_000),
                            Size::from_micros(5_000_000),
                        )
                    });
                    book.apply_snapshot(s.ts, s.bids.iter().copied(), s.asks.iter().copied());
                }
                MarketMessage::PriceChange { ts, changes, .. } => {
                    for c in changes {
                        if let Some(b) = self.books.get_mut(c.token.as_str()) {
                            b.apply_change(*ts, c.side, c.price, c.size);
                        }
                    }
                }
                MarketMessage::TickSize { token, new, .. } => {
                    if let Some(b) = self.books.get_mut(token.as_str()) {
                        b.set_tick(*new);
                    }
                }
                MarketMessage::LastTrade { .. } | MarketMessage::Other(_) => {}
            }
        }
        self.messages.len()
    }
}

/// A simulated session as a recording `polybox replay` reads: `events` lines over
/// `markets` binary markets.
pub fn simulated_recording(markets: usize, events: usize, seed: u64) -> String {
    let mut out = Vec::new();
    polybox::market::simulate::simulate(
        &polybox::market::simulate::SimParams {
            seed,
            markets,
            events,
            start_ms: polybox::market::simulate::DEFAULT_START_MS,
        },
        &mut out,
    )
    .unwrap_or_else(|e| panic!("simulating: {e}"));
    String::from_utf8_lossy(&out).into_owned()
}

/// The frames of a simulated session (the exchange's format), `events` lines over
/// `markets` binary markets.
pub fn simulated_frames(markets: usize, events: usize, seed: u64) -> Vec<String> {
    simulated_recording(markets, events, seed)
        .lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            v["msg"].to_string()
        })
        .collect()
}
