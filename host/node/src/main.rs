//! The `polybox` binary. Exit codes: 0 ok, 2 bad input, 1 runtime failure.

mod cli;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use polybox::config::{ConfigError, HostConfig};
use polybox::execution::retry::RetryPolicy;
use polybox::live::{self, RunOptions};
use polybox::market::recorder::{self, RecordError};
use polybox::market::rest::RestBooks;
use polybox::market::simulate::{self, SimParams};
use polybox::replay::{self, ReplayError, ReplayOptions, ReplayReport};
use polybox::strategy_build::{self, BuildError, BuildOptions};

use cli::{Cli, Command, RiskCommand, StrategyCommand};
use polybox::store::{JournalEntry, Store, StoreError};
use polybox_core::clock::{Clock, WallClock};
use polybox_core::kill_switch::KillSwitch;

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

fn print_report(report: &ReplayReport, json: bool) -> Result<(), Failure> {
    let text = if json {
        serde_json::to_string(report).map_err(Failure::runtime)? + "\n"
    } else {
        replay::render(report)
    };
    std::io::stdout()
        .write_all(text.as_bytes())
        .map_err(Failure::runtime)
}

fn store_failure(e: StoreError) -> Failure {
    match e {
        StoreError::Sql { .. } => Failure::runtime(e),
        _ => Failure::input(e),
    }
}

/// Record an operator action: who (the user), when (wall clock), why.
fn journal(config: &HostConfig, action: &str, reason: &str) -> Result<(), Failure> {
    let store = Store::open(&config.store.dir).map_err(store_failure)?;
    let who = user();
    store
        .journal(&JournalEntry {
            ts_ms: WallClock.now_ms(),
            who,
            action: action.to_owned(),
            reason: reason.to_owned(),
        })
        .map_err(store_failure)
}

/// Who is at the keyboard, for the journal.
fn user() -> String {
    std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned())
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
                state: a.state.clone(),
                swaps: a.swaps.clone(),
            };
            let report = replay::replay(&config, &opts)?;
            print_report(&report, a.json)
        }
        Command::Run(a) => {
            let config = config()?;
            if a.live {
                // Secrets may live in .env beside the config; never in the config itself.
                let _ = dotenvy::dotenv();
            }
            let opts = RunOptions {
                strategies: a.strategies.clone(),
                strategy_configs: a.strategy_configs.clone(),
                markets: if a.markets.is_empty() {
                    config.markets.clone()
                } else {
                    a.markets.clone()
                },
                duration: a.duration.map(std::time::Duration::from_secs),
                record: a.record.clone(),
                live: a.live,
                watch: a.watch.clone(),
            };
            let report = live::run(&config, &opts)?;
            print_report(&report, a.json)
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
        Command::Record(a) => {
            let config = config()?;
            let url = a
                .ws_url
                .clone()
                .unwrap_or_else(|| config.exchange.ws_url.clone());
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(Failure::runtime)?;
            let limiter = std::sync::Arc::new(polybox::execution::rate_limit::RateLimiter::new(
                polybox::execution::rate_limit::Limits::default(),
            ));
            let rest = RestBooks::new(&config.exchange.clob_url, RetryPolicy::default(), limiter)
                .map_err(Failure::runtime)?;
            let stats = runtime
                .block_on(recorder::record(
                    config.feed_config(&url),
                    Some(rest),
                    a.tokens.clone(),
                    &a.out,
                    std::time::Duration::from_secs(a.duration),
                ))
                .map_err(|e| match e {
                    RecordError::NoTokens => Failure::input(e),
                    RecordError::Write { .. } => Failure::runtime(e),
                })?;
            eprintln!(
                "recorded {} frames to {} ({} connections, {} drops, {} non-JSON frames skipped)",
                stats.frames,
                a.out.display(),
                stats.connections,
                stats.disconnects,
                stats.skipped
            );
            Ok(())
        }
        Command::Wallet(a) => wallet(&config()?, a),
        Command::Status { json } => {
            let v = control_call(&config()?, "GET", "/api/status", None)?;
            if *json {
                println!("{v}");
            } else {
                let s = &v["summary"];
                println!(
                    "{} for {} s: events {}  intents {}  fills {}  realized {} USDC  unrealized {} USDC",
                    v["mode"].as_str().unwrap_or("?"),
                    v["uptime_s"],
                    s["events"],
                    s["intents"],
                    s["fills"],
                    s["realized_pnl"].as_str().unwrap_or("?"),
                    s["unrealized_pnl"].as_str().unwrap_or("?")
                );
                println!("risk: {}", s["risk"]);
            }
            Ok(())
        }
        Command::Strategy(StrategyCommand::List { json }) => {
            let v = control_call(&config()?, "GET", "/api/strategies", None)?;
            if *json {
                println!("{v}");
            } else {
                for s in v.as_array().into_iter().flatten() {
                    println!(
                        "{} {} [{}] up {} s: events {}  missed {}  callback p50 {} ns p99 {} ns  memory {} KiB  faults {}  restarts {}  swaps {}",
                        s["name"].as_str().unwrap_or("?"),
                        s["version"].as_str().unwrap_or("?"),
                        s["state"].as_str().unwrap_or("?"),
                        s["uptime_ms"].as_u64().unwrap_or(0) / 1_000,
                        s["events"],
                        s["events_missed"],
                        s["callback_p50_ns"],
                        s["callback_p99_ns"],
                        s["memory_bytes"].as_u64().unwrap_or(0) / 1_024,
                        s["faults"],
                        s["restarts"],
                        s["swaps"]
                    );
                }
            }
            Ok(())
        }
        Command::Strategy(StrategyCommand::Load { file }) => {
            let path = std::path::absolute(file).map_err(Failure::input)?;
            let body = serde_json::json!({ "path": path });
            let v = control_call(&config()?, "POST", "/api/strategies", Some(body))?;
            println!("{} loaded", v["loaded"].as_str().unwrap_or("?"));
            Ok(())
        }
        Command::Strategy(StrategyCommand::Unload { name }) => {
            control_call(
                &config()?,
                "POST",
                &format!("/api/strategies/{name}/unload"),
                None,
            )?;
            println!("{name} unloaded; its open orders are cancelled");
            Ok(())
        }
        Command::Strategy(StrategyCommand::Swap { name, file }) => {
            let path = std::path::absolute(file).map_err(Failure::input)?;
            let body = serde_json::json!({ "path": path });
            control_call(
                &config()?,
                "POST",
                &format!("/api/strategies/{name}/swap"),
                Some(body),
            )?;
            println!("{name} swapped for {}", path.display());
            Ok(())
        }
        Command::Strategy(StrategyCommand::Pause { name }) => {
            control_call(
                &config()?,
                "POST",
                &format!("/api/strategies/{name}/pause"),
                None,
            )?;
            println!("{name} paused: its open orders are cancelled and new ones refused");
            Ok(())
        }
        Command::Strategy(StrategyCommand::Resume { name }) => {
            control_call(
                &config()?,
                "POST",
                &format!("/api/strategies/{name}/resume"),
                None,
            )?;
            println!("{name} may trade again");
            Ok(())
        }
        Command::NewStrategy(a) => {
            let sdk = a.sdk.clone().unwrap_or_else(polybox::scaffold::default_sdk);
            let dir = polybox::scaffold::new_strategy(&a.path, &sdk).map_err(|e| match e {
                polybox::scaffold::ScaffoldError::Io { .. } => Failure::runtime(e),
                _ => Failure::input(e),
            })?;
            println!(
                "created {d}: build it with `polybox build {d}`, test it with `cargo test --manifest-path {d}/Cargo.toml`",
                d = dir.display()
            );
            Ok(())
        }
        Command::Kill(a) => {
            let config = config()?;
            let body = serde_json::json!({ "cancel_all": a.cancel_all, "reason": a.reason, "who": user() });
            if host_call(&config, "POST", "/api/kill", Some(body))?.is_some() {
                println!(
                    "kill switch engaged on the running host: new orders are refused{}",
                    if a.cancel_all {
                        "; its open orders are cancelled"
                    } else {
                        ""
                    }
                );
                return Ok(());
            }
            let ks = KillSwitch::new(&config.kill_switch.path);
            let done = if a.cancel_all {
                ks.engage_cancel_all(&a.reason)
            } else {
                ks.engage(&a.reason)
            };
            done.map_err(|e| {
                Failure::runtime(format!("cannot write {}: {e}", ks.path().display()))
            })?;
            let action = if a.cancel_all {
                "kill --cancel-all"
            } else {
                "kill"
            };
            journal(&config, action, &a.reason)?;
            println!(
                "kill switch engaged ({}): new orders are refused{}",
                ks.path().display(),
                if a.cancel_all {
                    "; open orders are being cancelled"
                } else {
                    ""
                }
            );
            Ok(())
        }
        Command::Resume(a) => {
            let config = config()?;
            let body = serde_json::json!({ "reason": a.reason, "who": user() });
            if host_call(&config, "POST", "/api/resume", Some(body))?.is_some() {
                println!("kill switch released on the running host: trading may resume");
                return Ok(());
            }
            let ks = KillSwitch::new(&config.kill_switch.path);
            ks.release().map_err(|e| {
                Failure::runtime(format!("cannot remove {}: {e}", ks.path().display()))
            })?;
            let store = Store::open(&config.store.dir).map_err(store_failure)?;
            if let Some(mut ledger) = store.load_ledger().map_err(store_failure)?
                && ledger.halt().is_some()
            {
                ledger.clear_halt();
                store
                    .save_ledger(&ledger, WallClock.now_ms())
                    .map_err(store_failure)?;
            }
            journal(&config, "resume", &a.reason)?;
            println!("kill switch released: trading may resume");
            Ok(())
        }
        Command::Risk(RiskCommand::ResetBreaker { reason }) => {
            let config = config()?;
            // A running host owns the ledger: it resets it (a reset written here would be
            // overwritten by its next save).
            let body = serde_json::json!({ "reason": reason, "who": user() });
            if let Some(v) = host_call(&config, "POST", "/api/risk/reset-breaker", Some(body))? {
                match v["was_tripped"].as_str() {
                    Some(r) => println!("breaker reset on the running host (was tripped: {r})"),
                    None => println!("breaker was not tripped; losing streak cleared"),
                }
                return Ok(());
            }
            let store = Store::open(&config.store.dir).map_err(store_failure)?;
            let Some(mut ledger) = store.load_ledger().map_err(store_failure)? else {
                return Err(Failure::input(format!(
                    "no risk ledger in {}: nothing to reset",
                    config.store.dir.display()
                )));
            };
            let was = ledger.breaker().map(|t| t.reason.clone());
            ledger.reset_breaker();
            store
                .save_ledger(&ledger, WallClock.now_ms())
                .map_err(store_failure)?;
            journal(&config, "reset-breaker", reason)?;
            match was {
                Some(r) => println!("breaker reset (was tripped: {r})"),
                None => println!("breaker was not tripped; losing streak cleared"),
            }
            Ok(())
        }
        Command::Risk(RiskCommand::Show { json }) => {
            let config = config()?;
            let store = Store::open(&config.store.dir).map_err(store_failure)?;
            let ledger = store.load_ledger().map_err(store_failure)?;
            let journal = store.journal_entries().map_err(store_failure)?;
            let v = serde_json::json!({ "ledger": ledger, "journal": journal });
            if *json {
                println!("{v}");
            } else {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&v).map_err(Failure::runtime)?
                );
            }
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

/// One call to the running host's control API (address and token from the state dir,
/// or `control.token` / `$POLYBOX_CONTROL_TOKEN`).
fn control_call(
    config: &HostConfig,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<serde_json::Value, Failure> {
    host_call(config, method, path, body)?.ok_or_else(|| {
        Failure::input(format!(
            "no running host with state dir {}: start `polybox run`, or pass --set store.dir=…",
            config.store.dir.display()
        ))
    })
}

/// [`control_call`], or `None` when no host runs with this state dir (no address file, or
/// nothing listens there any more).
fn host_call(
    config: &HostConfig,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<Option<serde_json::Value>, Failure> {
    use polybox::control::{addr_path, client_token};
    let dir = &config.store.dir;
    let Ok(addr) = std::fs::read_to_string(addr_path(dir)) else {
        return Ok(None);
    };
    let token = client_token(&config.control, dir).map_err(Failure::input)?;
    let url = format!("http://{}{path}", addr.trim());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Failure::runtime)?;
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let req = match method {
            "POST" => client.post(&url).json(&body.unwrap_or_default()),
            _ => client.get(&url),
        };
        let resp = match req
            .bearer_auth(token)
            .timeout(std::time::Duration::from_secs(30))
            .send()
            .await
        {
            Ok(r) => r,
            // A host that crashed left its address behind.
            Err(e) if e.is_connect() => return Ok(None),
            Err(e) => {
                return Err(Failure::runtime(format!(
                    "the host at {url} did not answer: {e}"
                )));
            }
        };
        let status = resp.status();
        let v: serde_json::Value = resp.json().await.unwrap_or_default();
        if status.is_success() {
            Ok(Some(v))
        } else {
            let why = v["error"].as_str().unwrap_or("no reason given").to_owned();
            Err(if status.is_client_error() && status.as_u16() != 409 {
                Failure::input(format!("{method} {path}: {why}"))
            } else {
                Failure::runtime(format!("{method} {path}: {why}"))
            })
        }
    })
}

/// `polybox wallet`: read the chain and print what the funder holds and lacks.
fn wallet(config: &HostConfig, a: &cli::WalletArgs) -> Result<(), Failure> {
    let mut settings = config.wallet.clone();
    if let Some(u) = &a.rpc_url {
        settings.rpc_url = u.clone();
    }
    let who: alloy::primitives::Address = match &a.address {
        Some(text) => text
            .parse()
            .map_err(|_| Failure::input(format!("--address {text} is not an address")))?,
        None => polybox::wallet::funder_from_env().map_err(|e| {
            Failure::input(format!(
                "no address: pass --address or set $POLYMARKET_FUNDER ({e})"
            ))
        })?,
    };
    let tokens = a
        .tokens
        .iter()
        .map(|t| {
            t.parse::<alloy::primitives::U256>()
                .map_err(|_| Failure::input(format!("token id {t} is not a uint256")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let chain = settings
        .chain(RetryPolicy::default())
        .map_err(Failure::input)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Failure::runtime)?;
    let h = runtime
        .block_on(chain.holdings(who, &tokens))
        .map_err(Failure::runtime)?;
    if a.json {
        println!("{}", h.to_json());
        return Ok(());
    }
    use polybox::wallet::units;
    println!("address {}  chain {}", h.address, h.chain_id);
    println!("pUSD {}  USDC.e {}", units(h.pusd), units(h.usdc_e));
    for (name, contract, v) in &h.allowances {
        println!("pUSD allowance to the {name} ({contract}): {}", units(*v));
    }
    for (name, contract, ok) in &h.approvals {
        println!(
            "outcome tokens approved for the {name} ({contract}): {}",
            if *ok { "yes" } else { "no" }
        );
    }
    for (id, v) in &h.outcomes {
        println!("token {id}: {} shares", units(*v));
    }
    for m in h.missing() {
        println!("missing: {m}");
    }
    Ok(())
}

/// `polybox run` also logs JSON lines to a file (`[log]`); a config that cannot be read
/// is reported by the command itself.
fn log_file(cli: &Cli) -> Option<(PathBuf, polybox::logs::LogConfig)> {
    if !matches!(cli.command, Command::Run(_)) {
        return None;
    }
    let config = HostConfig::load(config_path(cli).as_deref(), &cli.sets).ok()?;
    Some((config.log.folder(&config.store.dir), config.log))
}

fn main() -> ExitCode {
    let cli = match Cli::parse_args(std::env::args_os()) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let _logs = polybox::logs::init(log_file(&cli));
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
