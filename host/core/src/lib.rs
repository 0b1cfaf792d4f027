//! # polybox-core
//!
//! The synchronous domain of polybox: exact money ([`money`]), order books ([`book`]),
//! market-channel messages ([`market_message`]), intents and orders ([`order`]), the
//! pre-trade risk gate ([`risk`]), the kill switch ([`kill_switch`]), positions and P&L
//! ([`portfolio`]), the paper fill model ([`paper`]), fees ([`fees`]) and time ([`clock`]).
//!
//! Nothing here does I/O beyond the kill-switch file, spawns a thread or awaits: the
//! kernel in the `polybox` crate drives it from one thread, deterministically. This crate
//! must never depend on tokio, reqwest or wasmtime (checked in CI).

pub mod balance;
pub mod book;
pub mod clock;
pub mod desk;
pub mod fees;
pub mod ids;
pub mod kill_switch;
pub mod market_message;
pub mod money;
pub mod order;
pub mod orders;
pub mod paper;
pub mod portfolio;
pub mod rejection;
pub mod risk;
pub mod venue;

#[cfg(test)]
mod test_util;
