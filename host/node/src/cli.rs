//! Command-line interface.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// polybox: trade Polymarket with sandboxed WebAssembly strategies (paper mode unless --live).
#[derive(Debug, Parser)]
#[command(name = "polybox", version, about)]
pub struct Cli {
    /// Config file (default: $POLYBOX_CONFIG, else ./polybox.toml when present, else defaults).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Override a config key, e.g. `--set risk.max_order_usdc=5` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", global = true)]
    pub sets: Vec<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parse `args` (the program name first). Every `--set`, before or after the
    /// subcommand, counts in the order given: clap lets a global option's occurrences after
    /// the subcommand replace those before it, so they are gathered here.
    pub fn parse_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
        let mut cli = Cli::try_parse_from(&args)?;
        let mut sets = Vec::new();
        let mut it = args.iter().skip(1).map(|a| a.to_string_lossy());
        while let Some(a) = it.next() {
            if a == "--" {
                break;
            }
            if a == "--set" {
                sets.extend(it.next().map(|v| v.into_owned()));
            } else if let Some(v) = a.strip_prefix("--set=") {
                sets.push(v.to_owned());
            }
        }
        cli.sets = sets;
        Ok(cli)
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay recorded market data through strategies, with paper fills, and print a summary.
    Replay(ReplayArgs),
    /// Trade on live market data (paper unless --live).
    Run(RunArgs),
    /// Build a strategy crate into a component: target/strategies/<name>.wasm.
    Build(BuildArgs),
    /// Write a simulated session in the exchange's market-channel format.
    Simulate(SimulateArgs),
    /// Record the live market channel to a file `polybox replay` reads.
    Record(RecordArgs),
    /// Show the wallet on chain: balances, allowances, approvals and what is missing to trade.
    Wallet(WalletArgs),
    /// Engage the kill switch: every new order is refused at once; cancels still go through.
    Kill(KillArgs),
    /// Release the kill switch (and lift a bankroll-floor halt).
    Resume(ResumeArgs),
    /// Inspect or reset the risk state.
    #[command(subcommand)]
    Risk(RiskCommand),
    /// Ask the running host (through its control API) how it is doing.
    Status {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// The running host's strategies (through its control API).
    #[command(subcommand)]
    Strategy(StrategyCommand),
    /// Start a new strategy crate from the template: it builds with `polybox build` and
    /// its test runs with `cargo test`.
    NewStrategy(NewStrategyArgs),
}

/// `polybox strategy ...`.
#[derive(Debug, Subcommand)]
pub enum StrategyCommand {
    /// Every strategy: state, version, uptime, events, callback p50/p99, memory, faults,
    /// restarts, swaps.
    List {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Start a new strategy on the running host (config, grant and budget from
    /// `[strategies.NAME]`).
    Load {
        /// The component.
        file: PathBuf,
    },
    /// Stop a strategy for good; its open orders are cancelled.
    Unload {
        /// The strategy's name.
        name: String,
    },
    /// Replace a running strategy with a new build, its state handed over (hot swap).
    Swap {
        /// The strategy's name.
        name: String,
        /// The new component (its file stem must be the name).
        file: PathBuf,
    },
    /// Stop a strategy trading: its open orders are cancelled and its new intents refused
    /// until `polybox strategy resume`; it keeps receiving events.
    Pause {
        /// The strategy's name.
        name: String,
    },
    /// Let a paused strategy trade again.
    Resume {
        /// The strategy's name.
        name: String,
    },
}

/// `polybox new-strategy`.
#[derive(Debug, Args)]
pub struct NewStrategyArgs {
    /// Folder of the new crate (created; must not exist). Its last component names the
    /// crate; the strategy is named after it with `-` as `_`.
    pub path: PathBuf,
    /// The polybox SDK the crate depends on (default: this polybox's `sdk/`).
    #[arg(long)]
    pub sdk: Option<PathBuf>,
}

/// `polybox wallet`.
#[derive(Debug, Args)]
pub struct WalletArgs {
    /// JSON-RPC URL of a Polygon node (default: wallet.rpc_url, $POLYGON_RPC_URL, or
    /// Alchemy's with $ALCHEMY_API_KEY).
    #[arg(long)]
    pub rpc_url: Option<String>,
    /// The funder address (default: $POLYMARKET_FUNDER, else the address of
    /// $POLYMARKET_PRIVATE_KEY).
    #[arg(long)]
    pub address: Option<String>,
    /// Outcome-token ids whose balances to show.
    #[arg(long, value_delimiter = ',')]
    pub tokens: Vec<String>,
    /// Print JSON (amounts as decimal strings of the token's units).
    #[arg(long)]
    pub json: bool,
}

/// `polybox record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Token ids, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub tokens: Vec<String>,
    /// Output file (JSON lines).
    #[arg(long)]
    pub out: PathBuf,
    /// Stop after this many seconds (default: one hour).
    #[arg(long, default_value_t = 3600)]
    pub duration: u64,
    /// WebSocket base URL (default: `exchange.ws_url`).
    #[arg(long)]
    pub ws_url: Option<String>,
}

/// `polybox kill`.
#[derive(Debug, Args)]
pub struct KillArgs {
    /// Also cancel every open order.
    #[arg(long)]
    pub cancel_all: bool,
    /// Why (recorded in the journal).
    #[arg(long, default_value = "operator kill")]
    pub reason: String,
}

/// `polybox resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// Why (recorded in the journal).
    #[arg(long, default_value = "operator resume")]
    pub reason: String,
}

/// `polybox risk ...`.
#[derive(Debug, Subcommand)]
pub enum RiskCommand {
    /// Reset the consecutive-loss breaker; who, when and why go to the journal.
    ResetBreaker {
        /// Why the breaker may be reset (required).
        #[arg(long)]
        reason: String,
    },
    /// Show the stored risk ledger and the journal.
    Show {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `polybox replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Recorded market data (JSON lines); the bundled sample when absent.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Strategy component (repeatable).
    #[arg(long = "strategy", value_name = "FILE.wasm", required = true)]
    pub strategies: Vec<PathBuf>,
    /// Strategy config: FILE (for the strategy at the same position) or NAME=FILE.
    #[arg(long = "strategy-config", value_name = "FILE")]
    pub strategy_configs: Vec<String>,
    /// Pace events at this multiple of recorded speed (1 = real time); default: as fast as possible.
    #[arg(long)]
    pub speed: Option<f64>,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// State directory: continue from its risk ledger and keep it current.
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Hot-swap the strategy of the same name for FILE.wasm before the market message of
    /// this index (repeatable).
    #[arg(long = "swap-at", value_name = "EVENT_INDEX:FILE.wasm")]
    pub swaps: Vec<polybox::replay::SwapAt>,
}

/// `polybox run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Strategy component (repeatable).
    #[arg(long = "strategy", value_name = "FILE.wasm")]
    pub strategies: Vec<PathBuf>,
    /// Token ids to trade, comma-separated (default: `markets` in the config).
    #[arg(long, value_delimiter = ',')]
    pub markets: Vec<String>,
    /// Strategy config: FILE (for the strategy at the same position) or NAME=FILE.
    #[arg(long = "strategy-config", value_name = "FILE")]
    pub strategy_configs: Vec<String>,
    /// Stop after this many seconds (default: until Ctrl-C).
    #[arg(long)]
    pub duration: Option<u64>,
    /// Also record the market feed to FILE (the format `polybox replay` reads).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Watch a strategies folder: a component written there under the name of a running
    /// strategy replaces it (hot swap, state handed over).
    #[arg(long, value_name = "DIR")]
    pub watch: Option<PathBuf>,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Trade real money (default: paper).
    #[arg(long)]
    pub live: bool,
}

/// `polybox build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The strategy crate's directory.
    pub crate_dir: PathBuf,
    /// Where to write the component.
    #[arg(long, default_value = "target/strategies")]
    pub out_dir: PathBuf,
    /// Cargo target directory for the wasm build.
    #[arg(long, default_value = "target/wasm-build")]
    pub target_dir: PathBuf,
}

/// `polybox simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// RNG seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Binary markets (two tokens each).
    #[arg(long, default_value_t = 2)]
    pub markets: usize,
    /// Frames to write.
    #[arg(long, default_value_t = 4000)]
    pub events: usize,
    /// First frame's time, UTC ms (default: 2026-12-01T23:55:00Z, so the session crosses midnight).
    #[arg(long)]
    pub start_ms: Option<u64>,
    /// Output file.
    #[arg(long)]
    pub out: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_before_and_after_the_subcommand_all_count() {
        let cli = Cli::parse_args([
            "polybox",
            "--set",
            "a.b=1",
            "run",
            "--set=c.d=2",
            "--set",
            "e.f=3",
        ])
        .unwrap();
        assert_eq!(cli.sets, ["a.b=1", "c.d=2", "e.f=3"]);
    }
}
