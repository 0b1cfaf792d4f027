//! A live session: the link between the kernel and the exchange. Commands go out to the
//! executor on the async runtime; what comes back is applied to the kernel, and every
//! change of an order is journaled, the signed order before it is posted (write-ahead).
//! It also keeps the exchange's order-safety heartbeat alive and polls orders and trades.

use std::sync::{Arc, Mutex};

use polybox_core::clock::{Clock, WallClock};
use polybox_core::ids::OrderId;
use polybox_core::orders::{ExecEvent, OrderState, Orders};
use polybox_core::venue::Command;
use polymarket_client_sdk_v2::auth::Uuid;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

use super::executor::{Executor, Signed, Working};
use crate::kernel::Kernel;
use crate::store::{Store, StoreError};

/// What comes back from the executor.
#[derive(Debug)]
pub enum Inbound {
    /// An order was signed: journal it, then post it.
    Signed(Signed),
    /// The exchange's answers.
    Events(Vec<ExecEvent>),
    /// Read everything again by REST: the user channel was (re)opened and did not carry
    /// what happened meanwhile, or a poll was asked for while one was running.
    Resync,
}

/// The live link.
#[derive(Debug)]
pub struct Session {
    executor: Arc<Executor>,
    store: Store,
    tx: mpsc::Sender<Inbound>,
    heartbeat: Arc<Mutex<Option<Uuid>>>,
    /// When the exchange last acknowledged a heartbeat, UTC ms.
    last_beat: Arc<std::sync::atomic::AtomicU64>,
    /// A heartbeat is in flight: one at a time keeps the chain of ids intact.
    beating: Arc<std::sync::atomic::AtomicBool>,
    cancel_unknown: bool,
    /// A poll is running: the next tick skips rather than piling up on a slow exchange.
    polling: Arc<std::sync::atomic::AtomicBool>,
    /// A poll was asked for while one ran: another follows it.
    poll_again: Arc<std::sync::atomic::AtomicBool>,
    /// Orders already sent a second time after a refusal (once only).
    retried: std::collections::HashSet<OrderId>,
    /// Authentication or account refusals in a row.
    escalations: u32,
    /// The run is ending: answers are still applied, nothing new is sent.
    closing: bool,
}

/// A heartbeat unacknowledged this long holds new orders (the exchange cancels a key's
/// orders after about 10 s without one).
const STALE_BEAT_MS: u64 = 10_000;

/// Authentication or account refusals in a row that engage the kill switch.
const ESCALATE_AFTER: u32 = 3;

fn now() -> u64 {
    WallClock.now_ms()
}

impl Session {
    /// A session over `executor`, journaling to `store`; returns it, the channel its
    /// answers arrive on, and the orders restored from the journal.
    pub fn new(
        executor: Executor,
        store: Store,
        cancel_unknown: bool,
    ) -> Result<(Session, mpsc::Receiver<Inbound>, Orders), StoreError> {
        let mut orders = Orders::default();
        let mut bodies = Vec::new();
        for (mut o, signed) in store.load_orders()? {
            match o.state {
                // Never left the host: the post starts only after `submitted` is journaled.
                OrderState::Pending => {
                    o.state = OrderState::Cancelled;
                    o.reason = Some("not sent before the host stopped".to_owned());
                }
                // Sent, answer unknown: reconciled by id, re-sent identically if absent.
                OrderState::Submitted => o.state = OrderState::Unknown,
                _ => {}
            }
            if let Some(body) = signed {
                bodies.push((o.id, body));
            }
            orders.restore(o);
        }
        executor.restore_signed(bodies);
        let (tx, rx) = mpsc::channel(4_096);
        Ok((
            Session {
                executor: Arc::new(executor),
                store,
                tx,
                heartbeat: Arc::new(Mutex::new(None)),
                beating: Arc::default(),
                last_beat: Arc::default(),
                cancel_unknown,
                polling: Arc::default(),
                poll_again: Arc::default(),
                retried: std::collections::HashSet::new(),
                escalations: 0,
                closing: false,
            },
            rx,
            orders,
        ))
    }

    /// Write the order's record; false when the journal could not be written.
    fn journal(&mut self, kernel: &Kernel, id: OrderId, signed: Option<&str>) -> bool {
        let Some(order) = kernel.desk().live_orders().and_then(|o| o.get(id)) else {
            return true;
        };
        match self.store.save_order(order, signed, now()) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(order = %id, "cannot journal the order: {e}");
                false
            }
        }
    }

    fn journal_event(&mut self, kernel: &Kernel, event: &ExecEvent) {
        let orders = kernel.desk().live_orders();
        let id = match event {
            ExecEvent::Signed { id, .. }
            | ExecEvent::Submitted { id }
            | ExecEvent::Amended { id, .. }
            | ExecEvent::Unknown { id, .. }
            | ExecEvent::Rejected { id, .. } => Some(*id),
            ExecEvent::Accepted { exchange_id }
            | ExecEvent::Trade { exchange_id, .. }
            | ExecEvent::Cancelled { exchange_id, .. }
            | ExecEvent::Expired { exchange_id } => {
                orders.and_then(|o| o.by_exchange_id(exchange_id))
            }
        };
        if let Some(id) = id {
            self.journal(kernel, id, None);
        }
    }

    /// Follow the exchange's user channel at `{ws_url}/user` for faster updates.
    pub fn start_user_feed(&self, runtime: &Runtime, ws_url: &str) {
        let url = format!("{}/user", ws_url.trim_end_matches('/'));
        let exchange = self.executor.exchange();
        runtime.spawn(super::user_feed::run(
            url,
            exchange.user_subscription(),
            exchange.api_key().to_string(),
            super::user_feed::Liveness::default(),
            self.tx.clone(),
        ));
    }

    /// The host's one rate limiter (the exchange's), for other calls to the exchange.
    pub fn limiter(&self) -> Arc<crate::execution::rate_limit::RateLimiter> {
        Arc::clone(self.executor.exchange().limiter())
    }

    /// The run is ending: apply what is still in flight, send nothing new (orders not
    /// yet sent stay pending in the journal and are cancelled at the next start).
    pub fn close(&mut self) {
        self.closing = true;
    }

    /// Send the kernel's commands to the executor.
    pub fn dispatch(&mut self, kernel: &mut Kernel, runtime: &Runtime) {
        if self.closing {
            return;
        }
        for command in kernel.take_commands() {
            let (executor, tx) = (Arc::clone(&self.executor), self.tx.clone());
            match command {
                Command::Place(p) => {
                    self.journal(kernel, p.id, None);
                    // The book's tick is the exchange's latest; neg-risk from the market facts.
                    let neg_risk = kernel
                        .desk()
                        .markets()
                        .any(|m| m.token == p.token && m.neg_risk);
                    let Some(tick) = kernel.desk().book(p.token.as_str()).map(|b| b.tick()) else {
                        kernel.on_exec(
                            now(),
                            ExecEvent::Rejected {
                                id: p.id,
                                reason: format!("no book for token {}", p.token),
                            },
                        );
                        self.journal(kernel, p.id, None);
                        continue;
                    };
                    runtime.spawn(async move {
                        let inbound = match executor.sign(&p, tick, neg_risk).await {
                            Ok(signed) => Inbound::Signed(signed),
                            Err(e) => Inbound::Events(vec![ExecEvent::Rejected {
                                id: p.id,
                                reason: e.to_string(),
                            }]),
                        };
                        let _ = tx.send(inbound).await;
                    });
                }
                Command::Cancel { exchange_id, .. } => {
                    runtime.spawn(async move {
                        match executor.cancel(&exchange_id).await {
                            Ok(events) => {
                                let _ = tx.send(Inbound::Events(events)).await;
                            }
                            Err(e) => tracing::warn!(order = %exchange_id, "cancel failed: {e}"),
                        }
                    });
                }
            }
        }
    }

    /// Apply what came back.
    pub fn on_inbound(&mut self, kernel: &mut Kernel, runtime: &Runtime, inbound: Inbound) {
        match inbound {
            Inbound::Signed(s) => {
                let (id, price, size) = (s.id, s.price, s.size);
                kernel.on_exec(now(), ExecEvent::Amended { id, price, size });
                kernel.on_exec(
                    now(),
                    ExecEvent::Signed {
                        id: s.id,
                        exchange_id: s.exchange_id.clone(),
                    },
                );
                // Cancelled while being signed: withdrawn, never sent.
                let withdrawn = kernel
                    .desk()
                    .live_orders()
                    .and_then(|o| o.get(s.id))
                    .is_none_or(|o| o.state != OrderState::Pending);
                if self.closing || withdrawn {
                    self.journal(kernel, s.id, Some(&s.body));
                    return;
                }
                if let Some(reason) = kernel.desk().sending_stopped() {
                    kernel.on_exec(now(), ExecEvent::Rejected { id: s.id, reason });
                    self.journal(kernel, s.id, Some(&s.body));
                    return;
                }
                // Write-ahead: the signed order is on disk before it leaves, or it does not leave.
                let unsent = || ExecEvent::Rejected {
                    id: s.id,
                    reason: "the journal cannot be written: not sent".to_owned(),
                };
                if !self.journal(kernel, s.id, Some(&s.body)) {
                    kernel.on_exec(now(), unsent());
                    return;
                }
                kernel.on_exec(now(), ExecEvent::Submitted { id: s.id });
                if !self.journal(kernel, s.id, None) {
                    kernel.on_exec(now(), unsent());
                    return;
                }
                let (executor, tx) = (Arc::clone(&self.executor), self.tx.clone());
                runtime.spawn(async move {
                    let events = executor.post(s.id, &s.exchange_id).await;
                    let _ = tx.send(Inbound::Events(events)).await;
                });
            }
            Inbound::Resync => self.poll(kernel, runtime),
            Inbound::Events(events) => {
                for e in events {
                    if let ExecEvent::Rejected { id, reason } = &e
                        && self.on_refusal(kernel, runtime, *id, reason)
                    {
                        continue;
                    }
                    if matches!(e, ExecEvent::Accepted { .. }) {
                        self.escalations = 0;
                    }
                    for x in kernel.on_exec(now(), e.clone()) {
                        self.unknown_order(runtime, x);
                    }
                    self.journal_event(kernel, &e);
                }
            }
        }
        self.dispatch(kernel, runtime);
    }

    /// Act on a refusal by the rejection table; true when the order is being sent again
    /// (the refusal is then not final).
    fn on_refusal(
        &mut self,
        kernel: &mut Kernel,
        runtime: &Runtime,
        id: OrderId,
        reason: &str,
    ) -> bool {
        use polybox_core::rejection::{Action, available_balance, classify};
        let (_, action) = classify(reason);
        tracing::warn!(order = %id, action = ?action, "the exchange refused the order: {reason}");
        match action {
            Action::Escalate => {
                self.escalations += 1;
                if self.escalations >= ESCALATE_AFTER {
                    let why = format!(
                        "{} refusals in a row by the exchange, the last: {reason}",
                        self.escalations
                    );
                    if let Err(e) = kernel.desk().gate().kill_switch().engage(&why) {
                        tracing::error!("cannot engage the kill switch: {e}");
                    }
                    tracing::error!(
                        "kill switch engaged: {why}; check the key and account, then `polybox resume`"
                    );
                }
                false
            }
            Action::Retick | Action::ShrinkToBalance if !self.retried.contains(&id) => {
                let Some(o) = kernel.desk().live_orders().and_then(|o| o.get(id)) else {
                    return false;
                };
                let place = polybox_core::venue::PlaceOrder::of(o);
                let meta = kernel.desk().markets().find(|m| m.token == place.token);
                let (neg_risk, min_size) = meta.map_or(
                    (
                        false,
                        kernel
                            .desk()
                            .book(place.token.as_str())
                            .map_or(polybox_core::money::Size::ZERO, |b| b.min_size()),
                    ),
                    |m| (m.neg_risk, m.min_size),
                );
                let Some(tick) = kernel.desk().book(place.token.as_str()).map(|b| b.tick()) else {
                    return false;
                };
                let (retick, available) = (action == Action::Retick, available_balance(reason));
                if action == Action::ShrinkToBalance && available.is_none() {
                    return false;
                }
                self.retried.insert(id);
                let (executor, tx) = (Arc::clone(&self.executor), self.tx.clone());
                runtime.spawn(async move {
                    let inbound = match executor
                        .resign(place, tick, retick, available, neg_risk, min_size)
                        .await
                    {
                        Ok(signed) => Inbound::Signed(signed),
                        Err(e) => Inbound::Events(vec![ExecEvent::Rejected {
                            id,
                            reason: e.to_string(),
                        }]),
                    };
                    let _ = tx.send(inbound).await;
                });
                true
            }
            _ => false,
        }
    }

    /// An open order on the exchange that the journal does not hold (placed by another
    /// process, or before the journal was lost): reported, and cancelled when configured.
    fn unknown_order(&self, runtime: &Runtime, exchange_id: String) {
        if !self.cancel_unknown {
            tracing::warn!(order = %exchange_id, "the exchange holds an order this host did not place; set exchange.cancel_unknown_orders = true to cancel such orders");
            return;
        }
        tracing::warn!(order = %exchange_id, "cancelling an order this host did not place");
        let executor = Arc::clone(&self.executor);
        runtime.spawn(async move {
            if let Err(e) = executor.cancel(&exchange_id).await {
                tracing::warn!(order = %exchange_id, "cannot cancel it: {e}");
            }
        });
    }

    /// The run is ending: read the trades once more so fills the exchange made up to now
    /// reach the journal even if the user channel had not told them yet (orders are left
    /// alone: reconciling them is the next start's work).
    pub fn last_trades(&self, kernel: &Kernel, runtime: &Runtime) {
        let after = self.trades_after(&self.working(kernel));
        let (executor, tx) = (Arc::clone(&self.executor), self.tx.clone());
        runtime.spawn(async move {
            match executor.poll_trades(after).await {
                Ok(trades) if !trades.is_empty() => {
                    let _ = tx.send(Inbound::Events(trades)).await;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("reading the exchange's last trades failed: {e}"),
            }
        });
    }

    fn working(&self, kernel: &Kernel) -> Vec<Working> {
        kernel
            .desk()
            .live_orders()
            .map(|o| {
                o.working()
                    .filter_map(|w| {
                        w.exchange_id.clone().map(|exchange_id| Working {
                            id: w.id,
                            exchange_id,
                            state: w.state,
                            created_ms: w.created_ms,
                            filled: !w.filled.is_zero(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Trades from the oldest working order on (a restart reads back what happened while
    /// the host was down), or the last five minutes; unix seconds.
    fn trades_after(&self, working: &[Working]) -> i64 {
        let now_s = i64::try_from(now() / 1_000).unwrap_or(0);
        working
            .iter()
            .map(|w| i64::try_from(w.created_ms / 1_000).unwrap_or(now_s))
            .min()
            .unwrap_or(now_s - 240)
            .min(now_s)
            - 60
    }

    /// Ask the exchange for trades and the state of working orders.
    pub fn poll(&self, kernel: &Kernel, runtime: &Runtime) {
        let working = self.working(kernel);
        use std::sync::atomic::Ordering;
        if self.polling.swap(true, Ordering::AcqRel) {
            self.poll_again.store(true, Ordering::Release);
            return;
        }
        let (busy, again) = (Arc::clone(&self.polling), Arc::clone(&self.poll_again));
        let after = self.trades_after(&working);
        let (executor, tx) = (Arc::clone(&self.executor), self.tx.clone());
        runtime.spawn(async move {
            let done = clear_on_drop(busy);
            let poll = async {
                // Trades first: fills are applied without waiting for slow order lookups.
                let trades = match executor.poll_trades(after).await {
                    Ok(trades) => trades,
                    Err(e) => {
                        tracing::warn!("polling the exchange's trades failed: {e}");
                        return;
                    }
                };
                if !trades.is_empty() && tx.send(Inbound::Events(trades.clone())).await.is_err() {
                    return;
                }
                match executor.poll_orders(&working, &trades).await {
                    Ok(events) if !events.is_empty() => {
                        let _ = tx.send(Inbound::Events(events)).await;
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("polling the exchange's orders failed: {e}"),
                }
            };
            poll.await;
            drop(done);
            if again.swap(false, Ordering::AcqRel) {
                let _ = tx.send(Inbound::Resync).await;
            }
        });
    }

    /// Start the exchange's order-safety heartbeat before the first order goes out, so the
    /// dead-man switch is armed from the start.
    pub fn arm_heartbeat(&self, runtime: &Runtime) {
        let answer = runtime.block_on(self.executor.exchange().call(
            "POST /v1/heartbeats",
            super::rate_limit::Class::Heartbeat,
            false,
            |c| async move { c.post_heartbeat(None).await },
        ));
        match answer {
            Ok(r) => {
                *self
                    .heartbeat
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(r.heartbeat_id);
                self.last_beat
                    .store(now(), std::sync::atomic::Ordering::Release);
            }
            Err(e) => tracing::warn!(
                "cannot start the exchange heartbeat (resting orders will not be cancelled if the host dies): {e}"
            ),
        }
    }

    /// Hold new orders while the heartbeat is stale (no acknowledgement for `STALE_BEAT_MS`:
    /// the exchange may be cancelling our orders), release them when it recovers.
    pub fn check_heartbeat(&self, kernel: &mut Kernel) {
        let last = self.last_beat.load(std::sync::atomic::Ordering::Acquire);
        let age = now().saturating_sub(last);
        if last != 0 && age > STALE_BEAT_MS {
            kernel.hold_orders(Some(format!(
                "the exchange has not acknowledged a heartbeat for {} s: new orders held",
                age / 1_000
            )));
        } else {
            kernel.hold_orders(None);
        }
    }

    /// Keep the exchange's order-safety heartbeat alive: if the host dies, the exchange
    /// cancels its resting orders.
    pub fn heartbeat(&self, runtime: &Runtime) {
        use std::sync::atomic::Ordering;
        if self.beating.swap(true, Ordering::AcqRel) {
            return;
        }
        let busy = Arc::clone(&self.beating);
        let (executor, last, beat) = (
            Arc::clone(&self.executor),
            Arc::clone(&self.heartbeat),
            Arc::clone(&self.last_beat),
        );
        runtime.spawn(async move {
            let _done = clear_on_drop(busy);
            let lock = || last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let previous = *lock();
            // Not repeated on a timeout (the exchange may have moved the chain on); an
            // "invalid heartbeat id" answer names the id it expects, which is adopted.
            let answer = executor
                .exchange()
                .call("POST /v1/heartbeats", super::rate_limit::Class::Heartbeat, true, |c| async move {
                    match c.post_heartbeat(previous).await {
                        Err(e) => match e.downcast_ref::<polymarket_client_sdk_v2::error::Status>().and_then(|s| {
                            serde_json::from_str::<polymarket_client_sdk_v2::clob::types::response::HeartbeatResponse>(&s.message).ok()
                        }) {
                            Some(expected) => Ok(expected),
                            None => Err(e),
                        },
                        ok => ok,
                    }
                })
                .await;
            match answer {
                Ok(r) => {
                    *lock() = Some(r.heartbeat_id);
                    beat.store(now(), Ordering::Release);
                }
                Err(e) => tracing::warn!("heartbeat failed (the next one continues the chain): {e}"),
            }
        });
    }
}

/// Clears the flag when dropped (the call ended, however it ended).
fn clear_on_drop(flag: Arc<std::sync::atomic::AtomicBool>) -> impl Drop {
    struct Clear(Arc<std::sync::atomic::AtomicBool>);
    impl Drop for Clear {
        fn drop(&mut self) {
            self.0.store(false, std::sync::atomic::Ordering::Release);
        }
    }
    Clear(flag)
}
