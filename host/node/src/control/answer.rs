//! The run loop's side of the control API: each [`Ask`] answered from the kernel between
//! two events, the same way in `polybox run` and in `polybox replay`.

use std::path::Path;
use std::time::Duration;

use polybox_core::clock::{Clock, WallClock};
use polybox_core::money::Usdc;
use polybox_core::order::Side;
use serde_json::{Value, json};

use super::Ask;
use crate::config::HostConfig;
use crate::kernel::Kernel;
use crate::market::feed::FeedHealth;
use crate::store::{JournalEntry, Store};

/// What the run loop knows beyond the kernel.
#[derive(Debug)]
pub struct Context<'a> {
    /// `paper` or `live`.
    pub mode: &'static str,
    /// Wall time since the run started.
    pub uptime: Duration,
    /// The market feed's health (`None` in a replay).
    pub feed: Option<&'a FeedHealth>,
    /// The host's config (a strategy loaded later takes its `[strategies.NAME]`).
    pub config: &'a HostConfig,
    /// Where operator actions are journaled.
    pub state_dir: &'a Path,
}

/// Answer `ask`: JSON, or an error for the operator.
pub fn answer(kernel: &mut Kernel, ask: Ask, cx: &Context<'_>) -> Result<Value, String> {
    match ask {
        Ask::Status => Ok(status(kernel, cx)),
        Ask::Strategies => Ok(strategies(kernel)),
        Ask::Positions => Ok(positions(kernel)),
        Ask::Orders => Ok(orders(kernel)),
        Ask::Fills => Ok(fills(kernel)),
        Ask::Risk => Ok(risk(kernel, cx)),
        Ask::Snapshot => Ok(json!({
            "status": status(kernel, cx),
            "strategies": strategies(kernel),
            "positions": positions(kernel),
            "orders": orders(kernel),
            "fills": fills(kernel),
            "risk": risk(kernel, cx),
            "equity": kernel.tape().equity(),
        })),
        Ask::Metrics => Ok(Value::String(super::metrics::render(kernel, cx))),
        Ask::Swap(loaded) => kernel
            .swap(loaded)
            .map(|()| json!({"swapped": true}))
            .map_err(|e| e.to_string()),
        Ask::Load(loaded) => {
            let name = loaded.name().to_owned();
            let s = cx.config.strategies.get(&name);
            let text = s.and_then(|s| s.config.clone()).unwrap_or_default();
            let grant = s.and_then(|s| s.markets.clone());
            kernel
                .load(loaded, text, grant)
                .map(|id| {
                    kernel.set_budget(id, s.map(|s| s.budget()).unwrap_or_default());
                    json!({ "loaded": name })
                })
                .map_err(|e| e.to_string())
        }
        Ask::Unload(name) => kernel
            .unload(&name)
            .map(|()| json!({ "unloaded": name }))
            .map_err(|e| e.to_string()),
        Ask::Pause { name, paused } => kernel
            .pause(&name, paused)
            .map(|()| json!({ "strategy": name, "paused": paused }))
            .map_err(|e| e.to_string()),
        Ask::Kill { cancel_all, action } => {
            let ks = kernel.desk().gate().kill_switch().clone();
            let done = if cancel_all {
                ks.engage_cancel_all(&action.reason)
            } else {
                ks.engage(&action.reason)
            };
            done.map_err(|e| format!("cannot write {}: {e}", ks.path().display()))?;
            kernel.check_kill_switch();
            let what = if cancel_all {
                "kill --cancel-all"
            } else {
                "kill"
            };
            journal(cx, what, &action)?;
            tracing::warn!(who = %action.who, reason = %action.reason, cancel_all, "kill switch engaged through the control API");
            Ok(json!({ "kill_switch": "engaged", "cancel_all": cancel_all }))
        }
        Ask::Resume(action) => {
            let ks = kernel.desk().gate().kill_switch().clone();
            ks.release()
                .map_err(|e| format!("cannot remove {}: {e}", ks.path().display()))?;
            kernel.clear_halt();
            journal(cx, "resume", &action)?;
            tracing::warn!(who = %action.who, reason = %action.reason, "kill switch released through the control API");
            Ok(json!({ "kill_switch": "released" }))
        }
        Ask::ResetBreaker(action) => {
            let was = kernel.reset_breaker();
            journal(cx, "reset-breaker", &action)?;
            tracing::warn!(who = %action.who, reason = %action.reason, "breaker reset through the control API");
            Ok(json!({ "was_tripped": was }))
        }
    }
}

/// Who acts and why (journaled).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Action {
    /// Who (the CLI sends `$USER`; the dashboard `dashboard`).
    #[serde(default = "nobody")]
    pub who: String,
    /// Why.
    pub reason: String,
}

fn nobody() -> String {
    "control-api".to_owned()
}

fn journal(cx: &Context<'_>, action: &str, a: &Action) -> Result<(), String> {
    Store::open(cx.state_dir)
        .and_then(|store| {
            store.journal(&JournalEntry {
                ts_ms: WallClock.now_ms(),
                who: a.who.clone(),
                action: action.to_owned(),
                reason: a.reason.clone(),
            })
        })
        .map_err(|e| format!("done, but not journaled: {e}"))
}

fn kill_switch(kernel: &Kernel) -> Value {
    let ks = kernel.desk().gate().kill_switch();
    json!({
        "engaged": ks.is_engaged(),
        "path": ks.path(),
        "reason": ks.reason(),
    })
}

fn status(kernel: &Kernel, cx: &Context<'_>) -> Value {
    json!({
        "mode": cx.mode,
        "uptime_s": cx.uptime.as_secs(),
        "feed": cx.feed,
        "kill_switch": kill_switch(kernel),
        "summary": kernel.summary(),
    })
}

fn strategies(kernel: &Kernel) -> Value {
    let mut lines = json!(kernel.summary().strategies);
    for (line, (p50, p99)) in lines
        .as_array_mut()
        .into_iter()
        .flatten()
        .zip(kernel.callback_times())
    {
        line["callback_p50_ns"] = p50.into();
        line["callback_p99_ns"] = p99.into();
    }
    lines
}

/// The name of the strategy of this id.
fn name_of(kernel: &Kernel, id: polybox_core::ids::StrategyId) -> String {
    kernel.strategy_name(id).unwrap_or("?").to_owned()
}

fn positions(kernel: &Kernel) -> Value {
    let desk = kernel.desk();
    let lines: Vec<Value> = desk
        .all_positions()
        .filter(|(_, _, p)| !p.size.is_zero() || p.realized != Usdc::ZERO)
        .map(|(id, token, p)| {
            let mark = desk.mark_of(token);
            json!({
                "strategy": name_of(kernel, id),
                "token": token.as_str(),
                "size": p.size,
                "avg_price": p.avg_price(),
                "cost": p.cost,
                "mark": mark,
                "realized_pnl": p.realized,
                "unrealized_pnl": p.unrealized(mark),
                "fees": p.fees,
            })
        })
        .collect();
    Value::Array(lines)
}

fn orders(kernel: &Kernel) -> Value {
    let desk = kernel.desk();
    let mut lines = Vec::new();
    for id in kernel.strategy_ids() {
        for o in desk.open_orders(id) {
            let state = desk
                .live_orders()
                .and_then(|live| live.get(o.id))
                .map_or("open", |t| t.state.as_str());
            lines.push(json!({
                "id": o.id.0,
                "strategy": name_of(kernel, o.strategy),
                "token": o.token.as_str(),
                "side": o.side,
                "price": o.price,
                "size": o.size,
                "filled": o.filled,
                "state": state,
            }));
        }
    }
    Value::Array(lines)
}

fn fills(kernel: &Kernel) -> Value {
    let lines: Vec<Value> = kernel
        .tape()
        .fills()
        .rev()
        .map(|f| {
            json!({
                "ts": f.ts,
                "order": f.order.0,
                "strategy": name_of(kernel, f.strategy),
                "token": f.token.as_str(),
                "side": f.side,
                "price": f.price,
                "size": f.size,
                "fee": f.fee,
            })
        })
        .collect();
    Value::Array(lines)
}

/// Capital at risk: the cost of the shares held plus the notional of open BUY orders.
pub fn exposure(kernel: &Kernel) -> Usdc {
    let desk = kernel.desk();
    let held: Usdc = desk.all_positions().map(|(_, _, p)| p.cost).sum();
    let bids: Usdc = kernel
        .strategy_ids()
        .flat_map(|id| desk.open_orders(id))
        .filter(|o| o.side == Side::Buy)
        .map(|o| Usdc::notional(o.price, o.size.saturating_sub(o.filled)))
        .sum();
    held + bids
}

/// Tokens with shares held, all strategies together.
pub fn positions_held(kernel: &Kernel) -> usize {
    let mut tokens: Vec<&str> = kernel
        .desk()
        .all_positions()
        .filter(|(_, _, p)| !p.size.is_zero())
        .map(|(_, t, _)| t.as_str())
        .collect();
    tokens.sort_unstable();
    tokens.dedup();
    tokens.len()
}

fn risk(kernel: &Kernel, cx: &Context<'_>) -> Value {
    let gate = kernel.desk().gate();
    let ledger = gate.ledger();
    let limits = gate.limits();
    json!({
        "limits": limits,
        "min_bankroll_usdc": limits.min_bankroll(),
        "realized_today": ledger.realized_today(),
        "exposure_usdc": exposure(kernel),
        "positions": positions_held(kernel),
        "consecutive_losses": ledger.consecutive_losses(),
        "breaker": ledger.breaker(),
        "halt": ledger.halt(),
        "bankroll": ledger.bankroll(),
        "peak_bankroll": ledger.peak_bankroll(),
        "days": ledger.days(),
        "kill_switch": kill_switch(kernel),
        "journal": Store::open(cx.state_dir).and_then(|s| s.journal_entries()).ok(),
    })
}
