//! `polybox run`: strategies on the live market channel, with paper fills against those
//! books by default, or on the exchange with `--live` (orders signed, journaled and posted
//! through [`crate::execution`]).
//!
//! The feed runs on a tokio runtime; the kernel stays on this thread and takes the feed's
//! events in order from one channel. Kernel time is the receive time of each frame.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use polybox_core::clock::{Clock, WallClock};
use polybox_core::market_message::{FrameParser, MarketMessage};
use tokio::sync::mpsc;

use crate::config::HostConfig;
use crate::execution::exchange::{Exchange, Secrets};
use crate::execution::executor::Executor;
use crate::execution::rate_limit::{Limits, RateLimiter};
use crate::execution::retry::RetryPolicy;
use crate::execution::session::{Inbound, Session};
use crate::market::feed::{self, FeedEvent, FeedHealth};
use crate::market::recorder::Recorder;
use crate::market::recording::{Record, Recording};
use crate::market::rest::RestBooks;
use crate::replay::{self, ReplayError, ReplayOptions, ReplayReport};
use crate::sandbox::Deadline;
use crate::wallet::cache::BalanceCache;
use crate::wallet::watch::{BalanceWatch, Cadence, ChainView, Reading};

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Strategy components.
    pub strategies: Vec<PathBuf>,
    /// Strategy configs, as for replay.
    pub strategy_configs: Vec<String>,
    /// Tokens to subscribe to.
    pub markets: Vec<String>,
    /// Stop after this long (default: until Ctrl-C).
    pub duration: Option<Duration>,
    /// Record the feed to this file while trading.
    pub record: Option<PathBuf>,
    /// Trade on the exchange (`--live`) instead of paper.
    pub live: bool,
    /// A strategies folder: a component written there under a running strategy's name
    /// replaces it (hot swap).
    pub watch: Option<PathBuf>,
}

/// Connect to the exchange for `--live`: secrets from the environment, the journal in
/// the state directory.
fn live_session(
    runtime: &tokio::runtime::Runtime,
    config: &HostConfig,
) -> Result<
    (
        Session,
        mpsc::Receiver<Inbound>,
        polybox_core::orders::Orders,
    ),
    ReplayError,
> {
    let secrets = Secrets::from_env().map_err(ReplayError::Usage)?;
    let exchange = runtime
        .block_on(Exchange::connect(
            &config.exchange.clob_url,
            &secrets,
            RetryPolicy::default(),
            Limits::default(),
        ))
        .map_err(|e| match e {
            // A bad key or URL is the operator's to fix.
            crate::execution::exchange::ExchangeError::Local { reason, .. } => {
                ReplayError::Usage(format!("cannot trade live: {reason}"))
            }
            e => ReplayError::Host(format!("cannot trade live: {e}")),
        })?;
    tracing::warn!(clob = %config.exchange.clob_url, "LIVE trading: orders are real");
    let store = crate::store::Store::open(&config.store.dir)?;
    Ok(Session::new(
        Executor::new(exchange),
        store,
        config.exchange.cancel_unknown_orders,
    )?)
}

/// What the run loop waits for.
enum Input {
    Feed(FeedEvent),
    Exec(Inbound),
    Poll,
    Heartbeat,
    Chain(Reading),
    Strategy(crate::strategy_dir::Arrival),
    Control(crate::control::Request),
}

/// The chain balance for the gate while trading live: the wallet reported (a node serving
/// another chain stops the run here), then read every `wallet.cache_s` and after our fills.
/// With no node configured, BUYs are refused (`balance_unavailable`) and the operator told.
fn watch_wallet(
    runtime: &tokio::runtime::Runtime,
    config: &HostConfig,
    markets: &[String],
) -> Result<BalanceWatch, ReplayError> {
    let cadence = Cadence {
        collateral: Duration::from_secs(config.wallet.cache_s.max(1)),
        cross_check: Duration::from_secs(config.wallet.cross_check_s.max(1)),
    };
    let who = crate::wallet::funder_from_env().map_err(ReplayError::Usage)?;
    let cache = match config.wallet.chain(RetryPolicy::default()) {
        Ok(chain) => {
            crate::wallet::watch::report(runtime, &chain, who, markets)
                .map_err(|e| ReplayError::Usage(format!("cannot trade live: {e}")))?;
            Ok(BalanceCache::new(chain, who, cadence.collateral))
        }
        Err(why) => {
            tracing::warn!("{why}: every BUY is refused (balance_unavailable) until one is set");
            Err(why)
        }
    };
    Ok(BalanceWatch::start(runtime, cache, markets, cadence))
}

/// How long to wait for the first snapshots before loading strategies.
const INITIAL_DUMP_WAIT: Duration = Duration::from_secs(10);

fn record(parser: &mut FrameParser, recv_ts: u64, text: &str) -> Option<Record> {
    let mut messages = Vec::new();
    match parser.parse_into(text, &mut messages) {
        Ok(()) => Some(Record {
            line: 0,
            recv_ts,
            messages,
        }),
        Err(e) => {
            tracing::warn!("skipping a frame the host cannot read: {e}");
            None
        }
    }
}

/// The REST books of `tokens` (tick size, minimum size, neg-risk), written to the
/// recording too when there is one.
fn rest_books(
    runtime: &tokio::runtime::Runtime,
    config: &HostConfig,
    limiter: Arc<RateLimiter>,
    tokens: &[String],
    recorder: Option<&mut Recorder>,
    parser: &mut FrameParser,
) -> Result<Vec<Record>, ReplayError> {
    let rest = RestBooks::new(&config.exchange.clob_url, RetryPolicy::default(), limiter)
        .map_err(ReplayError::Host)?;
    let lines = runtime.block_on(rest.lines(tokens, || WallClock.now_ms()));
    if let Some(r) = recorder {
        r.lines(&lines)?;
    }
    let mut records = Vec::new();
    for l in &lines {
        #[derive(serde::Deserialize)]
        struct Line<'a> {
            recv_ts: u64,
            #[serde(borrow)]
            rest_book: &'a serde_json::value::RawValue,
        }
        let parsed = serde_json::from_str::<Line<'_>>(l)
            .map_err(|e| e.to_string())
            .and_then(|line| {
                parser
                    .parse_rest_book(line.rest_book.get())
                    .map(|m| (line.recv_ts, m))
                    .map_err(|e| e.to_string())
            });
        match parsed {
            Ok((recv_ts, m)) => records.push(Record {
                line: 0,
                recv_ts,
                messages: vec![m],
            }),
            Err(e) => tracing::warn!("a REST book the host cannot read: {e}"),
        }
    }
    Ok(records)
}

/// Run until the duration ends or Ctrl-C; returns the summary.
pub fn run(config: &HostConfig, opts: &RunOptions) -> Result<ReplayReport, ReplayError> {
    if opts.markets.is_empty() {
        return Err(ReplayError::Usage(
            "no markets: pass --markets TOKEN_ID,TOKEN_ID".to_owned(),
        ));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| ReplayError::Host(format!("cannot start the async runtime: {e}")))?;
    let (tx, mut rx) = mpsc::channel(65_536);
    let url = config.exchange.ws_url.clone();
    let resync = std::sync::Arc::new(tokio::sync::Notify::new());
    // The subscription lives as long as the run; strategies loaded later change it.
    let (_subscription, tokens) = feed::subscription(&opts.markets);
    let feed_task = runtime.spawn(feed::run(
        config.feed_config(&url),
        tokens,
        tx,
        std::sync::Arc::clone(&resync),
    ));
    let stopper = feed_task.abort_handle();
    let duration = opts.duration;
    // Ctrl-C ends the run cleanly, with or without a duration.
    runtime.spawn(async move {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        match duration {
            Some(d) => {
                tokio::select! {
                    () = tokio::time::sleep(d) => {}
                    () = ctrl_c => {}
                }
            }
            None => ctrl_c.await,
        }
        stopper.abort();
    });

    let mut live = if opts.live {
        Some(live_session(&runtime, config)?)
    } else {
        None
    };
    let mut balances = if opts.live {
        Some(watch_wallet(&runtime, config, &opts.markets)?)
    } else {
        None
    };
    let mut chain_view = if opts.live {
        let (dust, pause) = config.wallet.thresholds().map_err(ReplayError::Usage)?;
        Some(ChainView::new(dust, pause))
    } else {
        None
    };
    let mut recorder = opts.record.as_deref().map(Recorder::create).transpose()?;
    let mut parser = FrameParser::default();
    // Market metadata from REST when reachable, then the initial dump: a snapshot of
    // every market before strategies start.
    let limiter = live.as_ref().map_or_else(
        || Arc::new(RateLimiter::new(Limits::default())),
        |(session, ..)| session.limiter(),
    );
    let mut initial = rest_books(
        &runtime,
        config,
        limiter,
        &opts.markets,
        recorder.as_mut(),
        &mut parser,
    )?;
    let wanted: BTreeSet<&str> = opts.markets.iter().map(String::as_str).collect();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut health = FeedHealth::default();
    let deadline = runtime.block_on(async { tokio::time::Instant::now() }) + INITIAL_DUMP_WAIT;
    while seen.len() < wanted.len() {
        let next = runtime.block_on(async { tokio::time::timeout_at(deadline, rx.recv()).await });
        match next {
            Ok(Some(event)) => {
                health.observe(&event, WallClock.now_ms());
                if let Some(r) = recorder.as_mut() {
                    r.event(&event)?;
                }
                let FeedEvent::Frame { recv_ts, text } = event else {
                    continue;
                };
                if let Some(r) = record(&mut parser, recv_ts, &text) {
                    for m in &r.messages {
                        if let MarketMessage::Book(b) = m {
                            seen.insert(b.token.to_string());
                        }
                    }
                    initial.push(r);
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
    let missing: Vec<&&str> = wanted.iter().filter(|t| !seen.contains(**t)).collect();
    if initial.is_empty() {
        return Err(ReplayError::Usage(format!(
            "no market data from {url}/market within {INITIAL_DUMP_WAIT:?}: check exchange.ws_url and the token ids"
        )));
    }
    if !missing.is_empty() {
        tracing::warn!(
            ?missing,
            "no snapshot for these tokens yet: they are not tradable"
        );
    }
    let recording = Recording { records: initial };
    let ropts = ReplayOptions {
        strategies: opts.strategies.clone(),
        strategy_configs: opts.strategy_configs.clone(),
        ..ReplayOptions::default()
    };
    let deadline = Deadline::WallClock(config.sandbox.deadline_ms);
    let mut kernel =
        replay::kernel_for(config, &recording, &opts.strategies, &ropts, deadline, None)?;
    let (mut session, mut inbound) = match live.take() {
        Some((session, inbound, orders)) => {
            session.arm_heartbeat(&runtime);
            session.start_user_feed(
                &runtime,
                if config.exchange.user_ws_url.is_empty() {
                    &config.exchange.ws_url
                } else {
                    &config.exchange.user_ws_url
                },
            );
            kernel.use_live_venue(orders);
            // BUYs are checked against the chain from the first event on.
            let first = balances
                .as_mut()
                .and_then(|b| runtime.block_on(b.next()))
                .zip(chain_view.as_mut())
                .and_then(|(reading, view)| view.on_reading(reading, &BTreeMap::new()));
            kernel.use_chain_balance(
                first.unwrap_or_else(|| Err("the wallet's balance could not be read".to_owned())),
            );
            (Some(session), Some(inbound))
        }
        None => (None, None),
    };
    #[allow(clippy::disallowed_methods)] // elapsed time for the summary only
    let started = std::time::Instant::now();
    for r in &recording.records {
        for m in &r.messages {
            kernel.on_message(r.recv_ts, m);
        }
    }
    let mut resync_pending = false;
    let mut messages = Vec::new();
    let mut watched = opts.watch.clone().map(|dir| {
        crate::strategy_dir::watch(
            &runtime,
            dir,
            Arc::clone(kernel.sandbox()),
            Duration::from_millis(500),
        )
    });
    let mut control = crate::control::open(
        &runtime,
        &config.control,
        &config.store.dir,
        Arc::clone(kernel.sandbox()),
    );
    let (mut poll, mut beat) = runtime.block_on(async {
        (
            tokio::time::interval(Duration::from_millis(config.exchange.poll_ms.max(100))),
            tokio::time::interval(Duration::from_secs(5)),
        )
    });
    loop {
        let live_on = session.is_some();
        let next = runtime.block_on(async {
            tokio::select! {
                e = rx.recv() => e.map(Input::Feed),
                Some(x) = async { inbound.as_mut()?.recv().await }, if live_on => Some(Input::Exec(x)),
                _ = poll.tick(), if live_on => Some(Input::Poll),
                _ = beat.tick(), if live_on => Some(Input::Heartbeat),
                Some(b) = async { balances.as_mut()?.next().await } => Some(Input::Chain(b)),
                Some(a) = async { watched.as_mut()?.recv().await } => Some(Input::Strategy(a)),
                Some(r) = async { control.as_mut()?.recv().await } => Some(Input::Control(r)),
            }
        });
        let event = match next {
            None => break,
            Some(Input::Feed(e)) => e,
            Some(Input::Exec(x)) => {
                let fills = kernel.desk().fills_applied();
                if let Some(s) = session.as_mut() {
                    s.on_inbound(&mut kernel, &runtime, x);
                }
                if kernel.desk().fills_applied() != fills
                    && let Some(b) = balances.as_ref()
                {
                    b.invalidate();
                }
                continue;
            }
            Some(Input::Control(request)) => {
                let cx = crate::control::answer::Context {
                    mode: if opts.live { "live" } else { "paper" },
                    uptime: started.elapsed(),
                    feed: Some(&health),
                    config,
                    state_dir: &config.store.dir,
                };
                let answer = crate::control::answer::answer(&mut kernel, request.ask, &cx);
                let _ = request.reply.send(answer);
                if let Some(s) = session.as_mut() {
                    s.dispatch(&mut kernel, &runtime);
                }
                continue;
            }
            Some(Input::Strategy(arrival)) => {
                match arrival.map(|loaded| kernel.swap(loaded)) {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::error!("{e}"),
                    Err(e) => {
                        tracing::error!("a component in the watched folder cannot be loaded: {e}")
                    }
                }
                if let Some(s) = session.as_mut() {
                    s.dispatch(&mut kernel, &runtime);
                }
                continue;
            }
            Some(Input::Chain(reading)) => {
                let mut tracked: BTreeMap<String, polybox_core::money::Size> = BTreeMap::new();
                for (_, token, p) in kernel.desk().all_positions() {
                    let t = tracked.entry(token.to_string()).or_default();
                    *t = t.saturating_add(p.size);
                }
                if let Some(read) = chain_view
                    .as_mut()
                    .and_then(|v| v.on_reading(reading, &tracked))
                {
                    match (&read, kernel.desk().cash()) {
                        (Err(why), Ok(_)) => tracing::warn!("BUYs are refused: {why}"),
                        (Ok(v), Err(_)) => {
                            tracing::info!(pusd = %v, "the wallet's balance is read: BUYs are checked against it")
                        }
                        _ => {}
                    }
                    kernel.use_chain_balance(read);
                }
                continue;
            }
            Some(Input::Poll) => {
                if let Some(s) = session.as_ref() {
                    s.poll(&kernel, &runtime);
                }
                continue;
            }
            Some(Input::Heartbeat) => {
                if let Some(s) = session.as_ref() {
                    s.check_heartbeat(&mut kernel);
                    s.heartbeat(&runtime);
                }
                continue;
            }
        };
        health.observe(&event, WallClock.now_ms());
        if let Some(r) = recorder.as_mut()
            && let Err(e) = r.event(&event)
        {
            // Trading goes on; the recording stops.
            tracing::error!("recording stopped: {e}");
            recorder = None;
        }
        match event {
            FeedEvent::Frame { recv_ts, text } => {
                match parser.parse_into(&text, &mut messages) {
                    Ok(()) => {
                        for m in &messages {
                            kernel.on_message(recv_ts, m);
                        }
                    }
                    Err(e) => tracing::warn!("skipping a frame the host cannot read: {e}"),
                }
                // A book crossed past the grace is out of sync: fetch fresh snapshots.
                let stuck = kernel.desk().stuck_crossed(config.feed.crossed_grace_ms);
                if !stuck.is_empty() && !resync_pending {
                    tracing::warn!(tokens = ?stuck, "book crossed for {} ms: resynchronising", config.feed.crossed_grace_ms);
                    resync_pending = true;
                    resync.notify_one();
                }
            }
            FeedEvent::Disconnected { .. } => kernel.on_feed_down(WallClock.now_ms()),
            FeedEvent::Connected { .. } => resync_pending = false,
        }
        if let Some(s) = session.as_mut() {
            s.dispatch(&mut kernel, &runtime);
        }
    }
    if let (Some(s), Some(rx)) = (session.as_mut(), inbound.as_mut()) {
        // Answers still in flight when the run ends are applied and journaled.
        s.close();
        s.last_trades(&kernel, &runtime);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while let Some(Some(x)) =
            runtime.block_on(async { tokio::time::timeout_at(deadline, rx.recv()).await.ok() })
        {
            s.on_inbound(&mut kernel, &runtime, x);
        }
    }
    runtime.shutdown_timeout(Duration::from_secs(1));
    if control.is_some() {
        crate::control::close(&config.store.dir);
    }
    if let Some(mut r) = recorder {
        r.flush()?;
    }
    let elapsed = started.elapsed();
    let summary = kernel.summary();
    health.finish(WallClock.now_ms());
    Ok(ReplayReport {
        feed: Some(health),
        data: format!("{url}/market"),
        mode: if opts.live { "live" } else { "paper" },
        events_per_sec: (summary.events as f64 / elapsed.as_secs_f64().max(1e-9)) as u64,
        elapsed_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        summary,
    })
}
