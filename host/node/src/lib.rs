//! # polybox
//!
//! The polybox host: runs Polymarket trading strategies as sandboxed WebAssembly
//! components behind risk gates.
//!
//! ```text
//! market data ──► kernel (one thread) ──► strategies (WASM, sandbox) ──► intents
//!  (market::)      books, clock            on-event, under fuel/memory      │
//!                     ▲                                                     ▼
//!   fills, order ◄── venue (paper)  ◄── approved orders  ◄──  risk gate (polybox_core::risk)
//!   updates ──► portfolio / P&L ──► strategies (on-event: order)
//! ```
//!
//! - [`market`]: recorded sessions and the simulator (the live feed comes later).
//! - [`kernel`]: the deterministic event loop; owns the desk (books, gate, venue,
//!   portfolio) and the strategy slots; quarantine and restart.
//! - [`sandbox`]: wasmtime engine, contract checks, instances under limits.
//! - [`config`]: the TOML config with `--set` overrides.
//! - [`replay`]: the `polybox replay` command; [`strategy_build`]: `polybox build`.

pub mod config;
pub mod control;
pub mod execution;
pub mod kernel;
pub mod live;
pub mod logs;
pub mod market;
pub mod replay;
pub mod sandbox;
pub mod scaffold;
pub mod store;
pub mod strategy_build;
pub mod strategy_dir;
pub mod wallet;
