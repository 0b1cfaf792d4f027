//! polybox integration tests: one binary, a module per area.

// Test helpers unwrap: a panic is a failing test with its message.
#![allow(clippy::unwrap_used)]

mod cli;
mod clob;
mod control;
mod dashboard;
mod exchange;
mod feed;
mod fixtures;
mod replay;
mod risk;
mod sandbox;
mod swap;
mod user_channel;
mod wallet;
