//! The `polybox` binary. Exit codes: 0 ok, 2 bad input, 1 runtime failure.

mod cli;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use polybox::config::{ConfigError, HostConfig};
use polybox::market::simulate::{self, SimParams};
use polybox::replay::{self, ReplayError, ReplayOptions};
use polybox::strategy_build::{self, BuildError, BuildOptions};

use cli::{Cli, Command};

/// A failure and its exit code.
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn input(e: impl std::fmt::Display) -> Self {
        Failure {
            code: 2,
            message: e.to_string(),
        }
    }
    fn runtime(e: impl std::fmt::Display) -> Self {
        Failure {
            code: 1,
            message: e.to_string(),
        }
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::input(e)
    }
}

impl From<ReplayError> for Failure {
    fn from(e: ReplayError) -> Self {
        if e.is_bad_input() {
            Failure::input(e)
        } else {
            Failure::runtime(e)
        }
    }
}

impl From<BuildError> for Failure {
    fn from(e: BuildError) -> Self {
        match e {
            BuildError::Cargo { .. } | BuildError::Io { .. } => Failure::runtime(e),
            _ => Failure::input(e),
        }
    }
}

fn config_path(cli: &Cli) -> Option<PathBuf> {
    cli.config
        .clone()
        .or_else(|| std::env::var_os("POLYBOX_CONFIG").map(PathBuf::from))
        .or_else(|| {
            let p = PathBuf::from("polybox.toml");
            p.exists().then_some(p)
        })
}

fn run(cli: Cli) -> Result<(), Failure> {
    let config = || HostConfig::load(config_path(&cli).as_deref(), &cli.sets);
    match &cli.command {
        Command::Replay(a) => {
            let config = config()?;
            let opts = ReplayOptions {
                data: a.data.clone(),
                strategies: a.strategies.clone(),
                strategy_configs: a.strategy_configs.clone(),
                speed: a.speed,
            };
            let report = replay::replay(&config, &opts)?;
            let text = if a.json {
                serde_json::to_string(&report).map_err(Failure::runtime)? + "\n"
            } else {
                replay::render(&report)
            };
            std::io::stdout()
                .write_all(text.as_bytes())
                .map_err(Failure::runtime)?;
            Ok(())
        }
        Command::Run(a) => {
            let _config = config()?;
            if a.live {
                return Err(Failure::input(
                    "live mode is not yet available: live execution on the CLOB arrives with its own issue; use `polybox replay` or paper `polybox run` once the feed lands",
                ));
            }
            Err(Failure::input(format!(
                "`polybox run` (paper, {} strategies on {} markets) is not yet available: the live market-data feed arrives with its own issue; use `polybox replay` meanwhile",
                a.strategies.len(),
                a.markets.len()
            )))
        }
        Command::Build(a) => {
            let out = strategy_build::build(
                &a.crate_dir,
                &BuildOptions {
                    target_dir: a.target_dir.clone(),
                    out_dir: a.out_dir.clone(),
                },
            )?;
            println!("{}", out.display());
            Ok(())
        }
        Command::Simulate(a) => {
            let params = SimParams {
                seed: a.seed,
                markets: a.markets,
                events: a.events,
                start_ms: a.start_ms.unwrap_or(simulate::DEFAULT_START_MS),
            };
            if params.events == 0 || params.markets == 0 {
                return Err(Failure::input("--events and --markets must be at least 1"));
            }
            let file = std::fs::File::create(&a.out)
                .map_err(|e| Failure::input(format!("cannot create {}: {e}", a.out.display())))?;
            let mut w = std::io::BufWriter::new(file);
            simulate::simulate(&params, &mut w)
                .and_then(|()| w.flush())
                .map_err(|e| Failure::runtime(format!("writing {}: {e}", a.out.display())))?;
            eprintln!("wrote {} frames to {}", params.events, a.out.display());
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("POLYBOX_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
