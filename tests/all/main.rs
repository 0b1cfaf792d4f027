//! polybox integration tests: one binary, a module per area.

mod cli;
mod fixtures;
mod replay;
mod sandbox;
