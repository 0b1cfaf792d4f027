//! Prometheus text at `/metrics`, through the `metrics` facade and its Prometheus exporter.
//!
//! Counters kept by the kernel anyway (events, intents, fills, P&L, risk, feed) are
//! published when scraped, so the event path pays nothing for them. Callback times come
//! from the kernel's power-of-two histograms: what was added to each bucket since the last
//! scrape is recorded at that bucket's upper bound, so the Prometheus buckets (the same
//! powers of two) count exactly. Exchange calls record their latency and errors as they
//! happen ([`exchange_call`], [`exchange_error`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use polybox_core::clock::{Clock, WallClock};
use polybox_core::money::Usdc;

use super::answer::{Context, exposure, positions_held};
use crate::kernel::Kernel;

/// Callback-time buckets: 2^8 ns (256 ns) to 2^30 ns (about 1 s), in seconds.
const CALLBACK_POWERS: std::ops::RangeInclusive<u32> = 8..=30;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Install the process's recorder (once; later calls return the same handle). `None` when
/// another recorder was installed first.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let callback: Vec<f64> = CALLBACK_POWERS.map(|b| (1u64 << b) as f64 * 1e-9).collect();
            let exchange = [
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ];
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("polybox_callback_seconds".to_owned()),
                    &callback,
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("polybox_exchange_call_seconds".to_owned()),
                        &exchange,
                    )
                })
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            Some(handle)
        })
        .as_ref()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!("polybox_events_total", "Market messages processed");
    describe_gauge!(
        "polybox_events_per_second",
        "Market messages per second since the previous scrape"
    );
    describe_counter!(
        "polybox_intents_total",
        "Intents by strategy, verdict and refusal reason"
    );
    describe_gauge!("polybox_orders", "Orders by state");
    describe_counter!("polybox_fills_total", "Fills by strategy");
    describe_gauge!(
        "polybox_pnl_usdc",
        "P&L by strategy, realized or unrealized"
    );
    describe_gauge!("polybox_bankroll_usdc", "Cash plus marked positions");
    describe_gauge!(
        "polybox_exposure_usdc",
        "Cost of shares held plus open BUY notional"
    );
    describe_gauge!("polybox_daily_pnl_usdc", "Realized P&L of the trading day");
    describe_gauge!("polybox_daily_loss_limit_usdc", "risk.max_daily_loss_usdc");
    describe_gauge!("polybox_positions", "Tokens held");
    describe_gauge!("polybox_positions_limit", "risk.max_positions");
    describe_gauge!(
        "polybox_breaker_tripped",
        "1 when the consecutive-loss breaker is tripped"
    );
    describe_gauge!(
        "polybox_kill_switch_engaged",
        "1 when the kill switch is engaged"
    );
    describe_histogram!(
        "polybox_callback_seconds",
        "Strategy callback time (recorded at power-of-two bucket bounds)"
    );
    describe_counter!(
        "polybox_feed_reconnects_total",
        "Market feed drops, stalls and failed connects"
    );
    describe_gauge!(
        "polybox_feed_message_age_seconds",
        "Time since the last market-feed frame"
    );
    describe_histogram!(
        "polybox_exchange_call_seconds",
        "Exchange call latency by class"
    );
    describe_counter!(
        "polybox_exchange_errors_total",
        "Exchange call failures by class of error"
    );
}

/// Start draining histograms in the background, so an unscraped host keeps no samples.
pub fn keep_up(runtime: &tokio::runtime::Handle) {
    if let Some(h) = install() {
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                h.run_upkeep();
            }
        });
    }
}

/// One exchange call of this class took `elapsed`.
pub fn exchange_call(class: &'static str, elapsed: Duration) {
    histogram!("polybox_exchange_call_seconds", "class" => class).record(elapsed.as_secs_f64());
}

/// One exchange call failed with an error of this kind.
pub fn exchange_error(kind: &'static str) {
    counter!("polybox_exchange_errors_total", "kind" => kind).increment(1);
}

/// What the previous scrape saw.
#[derive(Default)]
struct Previous {
    callbacks: BTreeMap<String, [u64; 32]>,
    events: Option<(u64, Instant)>,
    order_states: BTreeSet<String>,
}

static PREVIOUS: Mutex<Option<Previous>> = Mutex::new(None);

fn usdc(v: Usdc) -> f64 {
    v.to_micros() as f64 / 1e6
}

/// Publish the kernel's numbers and render every metric as Prometheus text.
pub fn render(kernel: &Kernel, cx: &Context<'_>) -> String {
    let Some(handle) = install() else {
        return "# no metrics: another recorder is installed\n".to_owned();
    };
    let mut guard = PREVIOUS.lock().unwrap_or_else(PoisonError::into_inner);
    let prev = guard.get_or_insert_with(Previous::default);
    publish(kernel, cx, prev);
    drop(guard);
    handle.run_upkeep();
    handle.render()
}

fn publish(kernel: &Kernel, cx: &Context<'_>, prev: &mut Previous) {
    let summary = kernel.summary();
    gauge!("polybox_up", "mode" => cx.mode).set(1.0);
    gauge!("polybox_uptime_seconds").set(cx.uptime.as_secs_f64());
    counter!("polybox_events_total").absolute(summary.events);
    #[allow(clippy::disallowed_methods)] // the rate between two scrapes is wall time
    let now = Instant::now();
    if let Some((events, at)) = prev.events {
        let secs = now.duration_since(at).as_secs_f64();
        if secs > 0.0 {
            gauge!("polybox_events_per_second")
                .set(summary.events.saturating_sub(events) as f64 / secs);
        }
    }
    prev.events = Some((summary.events, now));
    for s in &summary.strategies {
        let name = s.name.clone();
        counter!("polybox_intents_total", "strategy" => name.clone(), "verdict" => "accepted")
            .absolute(s.accepted);
        for (reason, n) in &s.rejected {
            counter!("polybox_intents_total", "strategy" => name.clone(), "verdict" => "rejected", "reason" => *reason)
                .absolute(*n);
        }
        counter!("polybox_fills_total", "strategy" => name.clone()).absolute(s.fills);
        gauge!("polybox_pnl_usdc", "strategy" => name.clone(), "kind" => "realized")
            .set(usdc(s.realized_pnl));
        gauge!("polybox_pnl_usdc", "strategy" => name.clone(), "kind" => "unrealized")
            .set(usdc(s.unrealized_pnl));
        for (kind, n) in &s.faults {
            counter!("polybox_strategy_faults_total", "strategy" => name.clone(), "kind" => *kind)
                .absolute(*n);
        }
        gauge!("polybox_strategy_running", "strategy" => name.clone())
            .set(if s.state == "running" { 1.0 } else { 0.0 });
        gauge!("polybox_strategy_memory_bytes", "strategy" => name).set(s.memory_bytes as f64);
    }
    orders(kernel, prev);
    callbacks(kernel, prev);
    let gate = kernel.desk().gate();
    let ledger = gate.ledger();
    gauge!("polybox_bankroll_usdc").set(usdc(ledger.bankroll()));
    gauge!("polybox_exposure_usdc").set(usdc(exposure(kernel)));
    gauge!("polybox_daily_pnl_usdc").set(usdc(ledger.realized_today()));
    gauge!("polybox_daily_loss_limit_usdc").set(usdc(gate.limits().max_daily_loss_usdc));
    gauge!("polybox_positions").set(positions_held(kernel) as f64);
    gauge!("polybox_positions_limit").set(f64::from(gate.limits().max_positions));
    gauge!("polybox_consecutive_losses").set(f64::from(ledger.consecutive_losses()));
    gauge!("polybox_breaker_tripped").set(f64::from(u8::from(ledger.breaker().is_some())));
    gauge!("polybox_halted").set(f64::from(u8::from(ledger.halt().is_some())));
    gauge!("polybox_kill_switch_engaged").set(f64::from(u8::from(gate.kill_switch().is_engaged())));
    let feed = cx.feed.cloned().unwrap_or_default();
    counter!("polybox_feed_reconnects_total").absolute(u64::from(feed.disconnects));
    counter!("polybox_feed_frames_total").absolute(feed.frames);
    let age_ms = if feed.last_message_ms == 0 {
        0
    } else {
        WallClock.now_ms().saturating_sub(feed.last_message_ms)
    };
    gauge!("polybox_feed_message_age_seconds").set(age_ms as f64 / 1e3);
}

/// Orders by state: the exchange's states when trading live, `open` on paper.
fn orders(kernel: &Kernel, prev: &mut Previous) {
    let desk = kernel.desk();
    let mut by_state: BTreeMap<String, u64> = BTreeMap::new();
    match desk.live_orders() {
        Some(live) => {
            for o in live.all() {
                *by_state.entry(o.state.as_str().to_owned()).or_default() += 1;
            }
        }
        None => {
            let open = kernel
                .strategy_ids()
                .map(|id| desk.open_orders(id).count() as u64)
                .sum();
            by_state.insert("open".to_owned(), open);
        }
    }
    for state in &prev.order_states {
        by_state.entry(state.clone()).or_default();
    }
    for (state, n) in by_state {
        gauge!("polybox_orders", "state" => state.clone()).set(n as f64);
        prev.order_states.insert(state);
    }
}

/// What each strategy's callback histogram gained since the last scrape.
fn callbacks(kernel: &Kernel, prev: &mut Previous) {
    for (name, latency) in kernel.callback_histograms() {
        let now = latency.buckets();
        let last = prev.callbacks.entry(name.to_owned()).or_insert([0; 32]);
        // A strategy loaded again under the same name starts a new histogram.
        if now.iter().zip(last.iter()).any(|(n, l)| n < l) {
            *last = [0; 32];
        }
        let h = histogram!("polybox_callback_seconds", "strategy" => name.to_owned());
        for (b, (n, l)) in now.iter().zip(last.iter()).enumerate() {
            let added = n - l;
            if added > 0 {
                let upper_ns = if b == 0 { 0 } else { (1u64 << b) - 1 };
                h.record_many(
                    upper_ns as f64 * 1e-9,
                    usize::try_from(added).unwrap_or(usize::MAX),
                );
            }
        }
        *last = *now;
    }
}
