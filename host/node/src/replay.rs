//! `polybox replay`: a recorded session through the kernel, paper fills, a summary.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use polybox_core::clock::{Clock, ReplayClock};
use polybox_core::desk::{Desk, MarketMeta};
use polybox_core::kill_switch::KillSwitch;
use polybox_core::market_message::FrameParser;
use polybox_core::risk::{Gate, Ledger};
use serde::Serialize;

use crate::config::HostConfig;
use crate::control::{self, Request, answer::Context};
use crate::kernel::{Kernel, KernelError, Summary};
use crate::market::recording::{MarketCatalog, RecordReader, Recording, RecordingError};
use crate::sandbox::{Deadline, LoadError, Sandbox};
use crate::store::{Store, StoreError};

/// Why a replay could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The market data is unusable.
    #[error(transparent)]
    Data(#[from] RecordingError),
    /// A strategy could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A strategy could not start.
    #[error(transparent)]
    Kernel(#[from] KernelError),
    /// A strategy config file could not be read.
    #[error("cannot read strategy config {path}: {source}")]
    StrategyConfig {
        /// The file.
        path: PathBuf,
        /// The problem.
        source: std::io::Error,
    },
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
    /// The sandbox could not start.
    #[error("cannot start the sandbox: {0}")]
    Sandbox(String),
    /// The state store is unusable.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The recording of a live run could not be written.
    #[error(transparent)]
    Record(#[from] crate::market::recorder::RecordError),
    /// The host could not run (runtime, network client).
    #[error("{0}")]
    Host(String),
}

impl ReplayError {
    /// Whether the operator's input is at fault (exit code 2) rather than the host.
    pub fn is_bad_input(&self) -> bool {
        !matches!(
            self,
            ReplayError::Sandbox(_)
                | ReplayError::Host(_)
                | ReplayError::Record(_)
                | ReplayError::Store(StoreError::Sql { .. })
        )
    }
}

/// What to replay.
#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    /// Recording to replay (the bundled sample when `None`).
    pub data: Option<PathBuf>,
    /// Strategy components, in load order.
    pub strategies: Vec<PathBuf>,
    /// Strategy configs: `NAME=FILE`, or `FILE` for the strategy at the same position.
    pub strategy_configs: Vec<String>,
    /// Pace events at this multiple of recorded speed (`None`: as fast as possible).
    pub speed: Option<f64>,
    /// State directory: continue from its risk ledger and keep it up to date (`None`:
    /// the replay starts from a fresh ledger and persists nothing).
    pub state: Option<PathBuf>,
    /// Hot swaps: before the market message of this index (0-based, across the
    /// recording), swap the strategy of the same name for this component.
    pub swaps: Vec<SwapAt>,
}

/// `--swap-at INDEX:FILE.wasm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwapAt {
    /// Market-message index.
    pub at: u64,
    /// The component.
    pub path: PathBuf,
}

impl std::str::FromStr for SwapAt {
    type Err = String;

    fn from_str(s: &str) -> Result<SwapAt, String> {
        let (at, path) = s
            .split_once(':')
            .ok_or_else(|| format!("--swap-at {s}: expected EVENT_INDEX:FILE.wasm"))?;
        let at = at
            .parse()
            .map_err(|_| format!("--swap-at {s}: {at} is not an event index"))?;
        Ok(SwapAt {
            at,
            path: PathBuf::from(path),
        })
    }
}

/// The outcome of a replay.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayReport {
    /// Where the data came from.
    pub data: String,
    /// `paper` (simulated fills) or `live` (orders on the exchange).
    pub mode: &'static str,
    /// Counters and P&L.
    #[serde(flatten)]
    pub summary: Summary,
    /// Wall time, ms (timing: differs run to run).
    pub elapsed_ms: u64,
    /// Throughput (timing: differs run to run).
    pub events_per_sec: u64,
    /// Feed health, for a run on the live market channel.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feed: Option<crate::market::feed::FeedHealth>,
}

fn strategy_config(
    config: &HostConfig,
    opts: &ReplayOptions,
    index: usize,
    name: &str,
) -> Result<String, ReplayError> {
    let mut file: Option<PathBuf> = None;
    let mut positional = 0usize;
    for spec in &opts.strategy_configs {
        match spec.split_once('=') {
            Some((n, f)) if n == name => file = Some(PathBuf::from(f)),
            Some(_) => {}
            None => {
                if positional == index {
                    file = Some(PathBuf::from(spec));
                }
                positional += 1;
            }
        }
    }
    match file {
        Some(path) => std::fs::read_to_string(&path)
            .map_err(|source| ReplayError::StrategyConfig { path, source }),
        None => Ok(config
            .strategies
            .get(name)
            .and_then(|s| s.config.clone())
            .unwrap_or_default()),
    }
}

/// Build a kernel over the session's markets with the strategies loaded.
pub fn kernel_for(
    config: &HostConfig,
    recording: &Recording,
    strategies: &[PathBuf],
    opts: &ReplayOptions,
    deadline: Deadline,
    ledger: Option<Ledger>,
) -> Result<Kernel, ReplayError> {
    let markets = recording.markets(
        config.default_tick(),
        config.default_min_size(),
        config.paper.default_fee_rate_bps,
    );
    kernel_over(config, markets, strategies, opts, deadline, ledger)
}

/// Build a kernel over these markets with the strategies loaded.
fn kernel_over(
    config: &HostConfig,
    markets: Vec<MarketMeta>,
    strategies: &[PathBuf],
    opts: &ReplayOptions,
    deadline: Deadline,
    ledger: Option<Ledger>,
) -> Result<Kernel, ReplayError> {
    if strategies.is_empty() {
        return Err(ReplayError::Usage(
            "no strategy given: pass --strategy FILE.wasm (build one with `polybox build strategies/spread-quoter`)".to_owned(),
        ));
    }
    let sandbox = Sandbox::new(&config.sandbox, deadline)
        .map_err(|e| ReplayError::Sandbox(format!("{e:#}")))?;
    let kill_switch = KillSwitch::new(&config.kill_switch.path);
    let gate = match ledger {
        Some(l) => Gate::with_ledger(config.limits(), kill_switch, l),
        None => Gate::new(config.limits(), kill_switch),
    };
    let mut desk = Desk::new(gate, config.default_tick(), config.default_min_size());
    for m in markets {
        desk.add_market(m);
    }
    let mut kernel = Kernel::new(sandbox, desk);
    for (i, path) in strategies.iter().enumerate() {
        let loaded = Arc::new(kernel.sandbox().load(path)?);
        let text = strategy_config(config, opts, i, loaded.name())?;
        let strategy = config.strategies.get(loaded.name());
        let grant = strategy.and_then(|s| s.markets.clone());
        let budget = strategy.map(|s| s.budget()).unwrap_or_default();
        let id = kernel.load(loaded, text, grant)?;
        kernel.set_budget(id, budget);
    }
    Ok(kernel)
}

/// A reader over the recording named by the options (or the bundled sample), from its
/// start, and the recording's name.
fn frames(data: Option<&Path>) -> Result<(RecordReader<Box<dyn BufRead>>, String), ReplayError> {
    Ok(match data {
        Some(p) => (RecordReader::open(p)?, p.display().to_string()),
        None => (RecordReader::sample(), "bundled sample".to_owned()),
    })
}

/// What a first pass over a recording finds: its markets, its size and its first time.
struct Survey {
    markets: Vec<MarketMeta>,
    messages: u64,
    first_ts: Option<u64>,
    /// The parser of the pass, with the session's ids.
    parser: FrameParser,
}

/// Read the whole recording once, keeping only its markets and counts: a bad line is
/// reported before anything runs, and the replay then streams the file in constant memory.
fn survey(config: &HostConfig, data: Option<&Path>) -> Result<(Survey, String), ReplayError> {
    let (mut reader, origin) = frames(data)?;
    let mut catalog = MarketCatalog::new(
        config.default_tick(),
        config.default_min_size(),
        config.paper.default_fee_rate_bps,
    );
    let (mut messages, mut first_ts) = (0u64, None);
    while let Some((recv_ts, frame)) = reader.next_frame()? {
        first_ts.get_or_insert(recv_ts);
        messages += frame.len() as u64;
        for m in frame {
            catalog.add(m);
        }
    }
    if first_ts.is_none() {
        return Err(RecordingError::Empty(origin).into());
    }
    Ok((
        Survey {
            markets: catalog.finish(),
            messages,
            first_ts,
            parser: reader.into_parser(),
        },
        origin,
    ))
}

/// Replay a session.
pub fn replay(config: &HostConfig, opts: &ReplayOptions) -> Result<ReplayReport, ReplayError> {
    if let Some(s) = opts.speed
        && !(s.is_finite() && s > 0.0)
    {
        return Err(ReplayError::Usage(format!(
            "--speed must be a positive number (got {s})"
        )));
    }
    let (survey, origin) = survey(config, opts.data.as_deref())?;
    let store = opts.state.as_deref().map(Store::open).transpose()?;
    let ledger = store
        .as_ref()
        .map(Store::load_ledger)
        .transpose()?
        .flatten();
    let mut kernel = kernel_over(
        config,
        survey.markets,
        &opts.strategies,
        opts,
        Deadline::FuelOnly,
        ledger,
    )?;
    // Every component is compiled before the replay starts (as a live swap compiles off the
    // kernel thread): the swap itself is only instantiate, snapshot and restore.
    let mut swaps = opts
        .swaps
        .iter()
        .map(|s| Ok((s.at, Arc::new(kernel.sandbox().load(&s.path)?))))
        .collect::<Result<Vec<_>, ReplayError>>()?;
    let messages = survey.messages;
    for ((at, loaded), asked) in swaps.iter().zip(&opts.swaps) {
        if *at >= messages {
            return Err(ReplayError::Usage(format!(
                "--swap-at {at}:{}: the recording has {messages} market messages (0 to {})",
                asked.path.display(),
                messages.saturating_sub(1)
            )));
        }
        if !opts
            .strategies
            .iter()
            .any(|p| p.file_stem().is_some_and(|s| *s == *loaded.name()))
        {
            return Err(ReplayError::Usage(format!(
                "--swap-at {at}:{}: no strategy `{}` is loaded to swap",
                asked.path.display(),
                loaded.name()
            )));
        }
    }
    swaps.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    let mut index = 0u64;
    let mut saved = None;
    // Wall time only paces `--speed` and measures elapsed time; the kernel never sees it.
    #[allow(clippy::disallowed_methods)]
    let started = Instant::now();
    let first_ts = survey.first_ts.unwrap_or(0);
    // Replay time is the recorded receive time, never behind itself.
    let mut clock = ReplayClock::default();
    // A paced replay can be watched and steered like a live session.
    let state_dir = opts.state.as_deref().unwrap_or(&config.store.dir);
    let mut watch = match opts.speed {
        Some(_) => Watch::open(config, state_dir, &kernel)?,
        None => None,
    };
    let (reader, _) = frames(opts.data.as_deref())?;
    let mut reader = reader.with_parser(survey.parser);
    while let Some((recv_ts, frame)) = reader.next_frame()? {
        clock.advance_to(recv_ts);
        if let Some(speed) = opts.speed {
            let due =
                Duration::from_secs_f64(recv_ts.saturating_sub(first_ts) as f64 / 1000.0 / speed);
            let cx = |uptime| Context {
                mode: "paper",
                uptime,
                feed: None,
                config,
                state_dir,
            };
            match watch.as_mut() {
                Some(w) => w.serve_until(&mut kernel, started, due, cx),
                None => {
                    if let Some(wait) = due.checked_sub(started.elapsed()) {
                        std::thread::sleep(wait);
                    }
                }
            }
        }
        for msg in frame {
            while let Some((_, loaded)) = swaps.pop_if(|(at, _)| *at <= index) {
                // A swap that fails leaves the running instance: the replay goes on.
                if let Err(e) = kernel.swap(loaded) {
                    tracing::error!("{e}");
                }
            }
            kernel.on_message(clock.now_ms(), msg);
            index += 1;
        }
        if let Some(store) = &store {
            // Persist the ledger as soon as it changes, so a crash loses nothing of the day.
            let ledger = kernel.desk().gate().ledger();
            if saved != Some(ledger.revision()) {
                store.save_ledger(ledger, clock.now_ms())?;
                saved = Some(ledger.revision());
            }
        }
    }
    if let Some(w) = watch {
        w.close();
    }
    let elapsed = started.elapsed();
    let summary = kernel.summary();
    let secs = elapsed.as_secs_f64().max(1e-9);
    Ok(ReplayReport {
        feed: None,
        data: origin,
        mode: "paper",
        events_per_sec: (summary.events as f64 / secs) as u64,
        elapsed_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        summary,
    })
}

/// The control API of a paced replay, answered between records and while waiting for the
/// next one.
struct Watch {
    runtime: tokio::runtime::Runtime,
    requests: tokio::sync::mpsc::Receiver<Request>,
    state_dir: PathBuf,
}

impl Watch {
    /// Serve `[control]` (none when `control.listen` is empty or cannot be had).
    fn open(
        config: &HostConfig,
        state_dir: &Path,
        kernel: &Kernel,
    ) -> Result<Option<Watch>, ReplayError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| ReplayError::Host(format!("cannot start the control API: {e}")))?;
        let requests = control::open(
            &runtime,
            &config.control,
            state_dir,
            Arc::clone(kernel.sandbox()),
        );
        Ok(requests.map(|requests| Watch {
            runtime,
            requests,
            state_dir: state_dir.to_owned(),
        }))
    }

    /// Answer requests until `due` after `started` (wall time), then return.
    fn serve_until<'a>(
        &mut self,
        kernel: &mut Kernel,
        started: Instant,
        due: Duration,
        cx: impl Fn(Duration) -> Context<'a>,
    ) {
        let deadline = tokio::time::Instant::from_std(started + due);
        let requests = &mut self.requests;
        while let Ok(Some(request)) = self
            .runtime
            .block_on(async { tokio::time::timeout_at(deadline, requests.recv()).await })
        {
            let answer = control::answer::answer(kernel, request.ask, &cx(started.elapsed()));
            let _ = request.reply.send(answer);
        }
    }

    /// Stop serving; the state dir no longer names an address.
    fn close(self) {
        control::close(&self.state_dir);
        self.runtime.shutdown_timeout(Duration::from_secs(1));
    }
}

/// The human-readable summary.
pub fn render(report: &ReplayReport) -> String {
    use std::fmt::Write;
    let s = &report.summary;
    let mut out = String::new();
    let reasons = |r: &std::collections::BTreeMap<&str, u64>| {
        if r.is_empty() {
            "none".to_owned()
        } else {
            r.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let _ = writeln!(out, "polybox — {} ({})", report.data, report.mode);
    let _ = writeln!(
        out,
        "events {}  intents {}  accepted {}  fills {}  fees {} USDC",
        s.events, s.intents, s.accepted, s.fills, s.fees
    );
    let _ = writeln!(out, "rejected: {}", reasons(&s.rejected));
    let _ = writeln!(
        out,
        "P&L: realized {} USDC, unrealized {} USDC",
        s.realized_pnl, s.unrealized_pnl
    );
    let r = &s.risk;
    let days = r
        .days
        .iter()
        .map(|d| format!("{} {} USDC ({} fills)", d.date, d.realized_pnl, d.fills))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(
        out,
        "risk: days {days}; bankroll {} (peak {}); losing streak {}; breaker {}; halt {}",
        r.bankroll,
        r.peak_bankroll,
        r.consecutive_losses,
        r.breaker
            .as_ref()
            .map_or("ok".to_owned(), |t| format!("TRIPPED ({})", t.reason)),
        r.halt
            .as_ref()
            .map_or("no".to_owned(), |t| t.reason.clone()),
    );
    for st in &s.strategies {
        let _ = writeln!(
            out,
            "  {} {} [{}]: events {} intents {} accepted {} fills {} fees {} realized {} unrealized {}",
            st.name,
            st.version,
            st.state,
            st.events,
            st.intents,
            st.accepted,
            st.fills,
            st.fees,
            st.realized_pnl,
            st.unrealized_pnl
        );
        if !st.rejected.is_empty() {
            let _ = writeln!(out, "    rejected: {}", reasons(&st.rejected));
        }
        if !st.faults.is_empty() {
            let faults = st
                .faults
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ");
            let _ = writeln!(
                out,
                "    faults: {faults}; restarts {}; events missed {}",
                st.restarts, st.events_missed
            );
        }
    }
    if let Some(f) = &report.feed {
        let _ = writeln!(
            out,
            "feed: {} frames, {} connections, {} drops, last message {} ms before the end",
            f.frames, f.connections, f.disconnects, f.last_message_age_ms
        );
    }
    let _ = writeln!(
        out,
        "elapsed {} ms, {} events/s",
        report.elapsed_ms, report.events_per_sec
    );
    out
}
