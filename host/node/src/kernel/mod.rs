//! The kernel: one thread, one event at a time, deterministic.
//!
//! It owns the [`World`] (the desk: books, gate, paper venue, portfolio; and the timers)
//! and the strategy slots. For each market message it advances the clock, fires due
//! timers and restarts, applies the message to the books (which may fill resting paper
//! orders), delivers the resulting events to subscribed strategies in load order, and
//! settles: delivers every order update to its owner until none is left.
//!
//! During a callback the world is lent to the strategy's store, so `submit` runs the
//! gate and the venue right there and answers at once.
//!
//! A strategy that faults (runs past its CPU budget or deadline, exceeds its memory cap,
//! traps) is quarantined: its instance is dropped, its orders cancelled, and it is
//! restarted after a backoff (doubling, capped) from its last restore point, with the
//! cancellations delivered to the new instance. The host and the other strategies carry on.
//!
//! A strategy is hot-swapped at an event boundary: the old instance's `snapshot` goes to
//! the new instance's `restore`, and the strategy (its id, orders, positions, timers and
//! subscriptions) carries on with the new code. Events arriving meanwhile wait in the
//! host's queues, so none is missed or handled twice. If the new instance cannot start or
//! refuses the state, the old one keeps running.

mod latency;
mod summary;
mod tape;
mod timers;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use polybox_core::desk::Desk;
use polybox_core::ids::{StrategyId, TokenId};
use polybox_core::market_message::MarketMessage;
use polybox_core::money::Usdc;

pub use latency::Latency;
pub use summary::{StrategySummary, Summary};
pub use tape::{EquityPoint, Tape};
pub use timers::Timers;

use crate::sandbox::{self, Fault, Instance, LoadedStrategy, Sandbox, wit};

/// What the kernel owns and lends to a strategy during its callback.
#[derive(Debug)]
pub struct World {
    /// Books, gate, venue, portfolio.
    pub desk: Desk,
    /// Strategy timers.
    pub timers: Timers,
}

/// Why a strategy could not be loaded into the kernel.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// `init`, instantiation or the first snapshot failed.
    #[error("strategy `{name}` failed to start: {fault}")]
    Start {
        /// Strategy.
        name: String,
        /// What went wrong.
        fault: Fault,
    },
    /// A strategy of this name is running already.
    #[error("strategy `{0}` is loaded already: swap it to run a new build")]
    Duplicate(String),
    /// No loaded strategy has this name.
    #[error(
        "no strategy `{name}` is loaded (loaded: {loaded}): a swap replaces a strategy of the same name"
    )]
    Unknown {
        /// The name asked for.
        name: String,
        /// The names loaded.
        loaded: String,
    },
    /// The new instance could not take over: the old one runs on.
    #[error("strategy `{name}` was not swapped ({fault}): the running instance carries on")]
    Swap {
        /// Strategy.
        name: String,
        /// What went wrong.
        fault: Fault,
    },
    /// It asked for markets it is not granted.
    #[error("strategy `{name}` cannot start:\n  - {}", .problems.join("\n  - "))]
    Grant {
        /// Strategy.
        name: String,
        /// Every mismatch.
        problems: Vec<String>,
    },
}

/// A strategy's place in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Handling events.
    Running,
    /// Stopped after a fault; restarts at `until` (kernel time).
    Quarantined {
        /// Restart time, ms.
        until: u64,
    },
    /// Stopped for good after too many restarts.
    Failed,
    /// Unloaded by the operator: its orders cancelled, no more events.
    Unloaded,
}

struct Slot {
    id: StrategyId,
    name: Arc<str>,
    version: String,
    loaded: Arc<LoadedStrategy>,
    config: String,
    markets: Vec<wit::MarketInfo>,
    instance: Option<Instance>,
    status: Status,
    last_good: wit::State,
    since_snapshot: u64,
    events: u64,
    events_missed: u64,
    faults: BTreeMap<&'static str, u64>,
    restarts: u32,
    swaps: u32,
    pending: VecDeque<wit::Event>,
    /// Kernel time it was loaded (or of its first event, when loaded before any), ms.
    loaded_at: Option<u64>,
    callbacks: latency::Latency,
}

/// The event loop's state.
pub struct Kernel {
    world: Option<Box<World>>,
    /// The kill switch's `--cancel-all` was carried out for the current engagement.
    killed_all: bool,
    sandbox: Arc<Sandbox>,
    slots: Vec<Slot>,
    subscribers: BTreeMap<TokenId, Vec<usize>>,
    events: u64,
    tape: Tape,
    /// The last book update and the last other market event handed to strategies: their
    /// buffers are reused for the next of their kind.
    scratch: [wit::Event; 2],
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernel")
            .field("strategies", &self.slots.len())
            .field("events", &self.events)
            .finish()
    }
}

/// Most order updates settled after one market event before the kernel decides a
/// strategy is ping-ponging with the venue.
const MAX_SETTLE: usize = 10_000;

impl Kernel {
    /// A kernel over a desk whose markets are registered.
    pub fn new(sandbox: Sandbox, desk: Desk) -> Kernel {
        Kernel {
            world: Some(Box::new(World {
                desk,
                timers: Timers::default(),
            })),
            killed_all: false,
            sandbox: Arc::new(sandbox),
            slots: Vec::new(),
            subscribers: BTreeMap::new(),
            events: 0,
            tape: Tape::default(),
            scratch: [wit::Event::Timer(0), wit::Event::Timer(0)],
        }
    }

    /// The sandbox (shared with whatever compiles new components off the kernel thread).
    pub fn sandbox(&self) -> &Arc<Sandbox> {
        &self.sandbox
    }

    fn world(&self) -> &World {
        // The world is only lent out during a callback, which never overlaps this call.
        self.world
            .as_deref()
            .unwrap_or_else(|| unreachable!("world lent out"))
    }

    fn world_mut(&mut self) -> &mut World {
        self.world
            .as_deref_mut()
            .unwrap_or_else(|| unreachable!("world lent out"))
    }

    /// The desk.
    pub fn desk(&self) -> &Desk {
        &self.world().desk
    }

    /// Load a strategy with its config text, granted `grant` (all session markets when
    /// `None`). Its `init` must ask only for granted tokens.
    pub fn load(
        &mut self,
        loaded: Arc<LoadedStrategy>,
        config: String,
        grant: Option<Vec<String>>,
    ) -> Result<StrategyId, KernelError> {
        let name: Arc<str> = Arc::from(loaded.name());
        if self
            .slots
            .iter()
            .any(|s| s.name == name && s.status != Status::Unloaded)
        {
            return Err(KernelError::Duplicate(name.to_string()));
        }
        let id = StrategyId(u32::try_from(self.slots.len()).unwrap_or(u32::MAX));
        let all: Vec<wit::MarketInfo> = self.desk().markets().map(sandbox::market_info).collect();
        let (markets, mut problems) = match &grant {
            None => (all, Vec::new()),
            Some(tokens) => {
                let problems = tokens
                    .iter()
                    .filter(|t| !all.iter().any(|m| &m.token == *t))
                    .map(|t| format!("granted token {t} is not a market of this session"))
                    .collect();
                (
                    all.into_iter()
                        .filter(|m| tokens.contains(&m.token))
                        .collect(),
                    problems,
                )
            }
        };
        let start = |fault| KernelError::Start {
            name: name.to_string(),
            fault,
        };
        let mut instance =
            Instance::new(&self.sandbox, &loaded, id, Arc::clone(&name)).map_err(start)?;
        let meta = instance.describe(&mut self.world).map_err(start)?;
        let wanted = instance
            .init(&mut self.world, &config, &markets)
            .map_err(start)?;
        for t in &wanted {
            if !markets.iter().any(|m| &m.token == t) {
                problems.push(format!("asks for token {t}, which is not granted to it"));
            }
        }
        if !problems.is_empty() {
            return Err(KernelError::Grant {
                name: name.to_string(),
                problems,
            });
        }
        let last_good = instance.snapshot(&mut self.world).map_err(start)?;
        // The desk's own ids where it knows the token: equal ids then compare without
        // reading their text.
        let world = self.world_mut();
        let known = |desk: &Desk, t: &str| desk.token_id(t).unwrap_or_else(|| TokenId::new(t));
        let granted: Vec<TokenId> = markets
            .iter()
            .map(|m| known(&world.desk, &m.token))
            .collect();
        world.desk.grant(id, granted);
        for t in &wanted {
            let token = known(self.desk(), t);
            self.subscribers
                .entry(token)
                .or_default()
                .push(self.slots.len());
        }
        tracing::info!(strategy = %name, version = %meta.version, tokens = wanted.len(), "strategy loaded");
        self.slots.push(Slot {
            id,
            name,
            version: meta.version,
            loaded,
            config,
            markets,
            instance: Some(instance),
            status: Status::Running,
            last_good,
            since_snapshot: 0,
            events: 0,
            events_missed: 0,
            faults: BTreeMap::new(),
            restarts: 0,
            swaps: 0,
            pending: VecDeque::new(),
            loaded_at: Some(self.desk().now()).filter(|t| *t > 0),
            callbacks: latency::Latency::default(),
        });
        Ok(id)
    }

    /// Stop a strategy for good: its open orders are cancelled, its timers cleared, and it
    /// gets no more events (its line stays in the summary as `unloaded`).
    pub fn unload(&mut self, name: &str) -> Result<(), KernelError> {
        let Some(idx) = self
            .slots
            .iter()
            .position(|s| &*s.name == name && s.status != Status::Unloaded)
        else {
            return Err(KernelError::Unknown {
                name: name.to_owned(),
                loaded: self.names(),
            });
        };
        let slot = &mut self.slots[idx];
        slot.instance = None;
        slot.status = Status::Unloaded;
        slot.pending.clear();
        let id = slot.id;
        for subs in self.subscribers.values_mut() {
            subs.retain(|i| *i != idx);
        }
        let world = self.world_mut();
        let cancelled = world.desk.cancel_all(id, None, None);
        world.timers.clear(id);
        tracing::info!(strategy = %name, cancelled, "strategy unloaded; its open orders are cancelled");
        self.settle();
        Ok(())
    }

    /// Pause a strategy (`true`: its open orders are cancelled and its new orders refused;
    /// it keeps receiving events so it is current when resumed) or let it trade again.
    pub fn pause(&mut self, name: &str, paused: bool) -> Result<(), KernelError> {
        let Some(id) = self
            .slots
            .iter()
            .find(|s| &*s.name == name && s.status != Status::Unloaded)
            .map(|s| s.id)
        else {
            return Err(KernelError::Unknown {
                name: name.to_owned(),
                loaded: self.names(),
            });
        };
        let desk = &mut self.world_mut().desk;
        if paused {
            desk.pause(id);
            let cancelled = desk.cancel_all(id, None, None);
            tracing::warn!(strategy = %name, cancelled, "strategy paused by the operator; its open orders are cancelled");
            self.settle();
        } else {
            desk.unpause(id);
            tracing::warn!(strategy = %name, "strategy resumed by the operator");
        }
        Ok(())
    }

    /// Names of the strategies loaded (and not unloaded).
    fn names(&self) -> String {
        self.slots
            .iter()
            .filter(|s| s.status != Status::Unloaded)
            .map(|s| s.name.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Replace the strategy named like `loaded` (the component is compiled already, off the
    /// kernel thread) with a new instance of it, here, between two events: the old
    /// instance's state (its current snapshot; the last good one if it is quarantined) goes
    /// to the new instance's `restore`. It must ask for no token it is not granted. On any
    /// failure the old instance keeps running and the error says why.
    pub fn swap(&mut self, loaded: Arc<LoadedStrategy>) -> Result<(), KernelError> {
        let Some(idx) = self
            .slots
            .iter()
            .position(|s| *s.name == *loaded.name() && s.status != Status::Unloaded)
        else {
            return Err(KernelError::Unknown {
                name: loaded.name().to_owned(),
                loaded: self.names(),
            });
        };
        let name = Arc::clone(&self.slots[idx].name);
        let refused = |fault| KernelError::Swap {
            name: name.to_string(),
            fault,
        };
        let state = match self.slots[idx].instance.as_mut() {
            Some(old) => match old.snapshot(&mut self.world) {
                Ok(state) => state,
                Err(fault) => {
                    // The old instance is broken: quarantined as after any fault.
                    let e = refused(fault.clone());
                    self.quarantine(idx, fault);
                    return Err(e);
                }
            },
            None => self.slots[idx].last_good.clone(),
        };
        let (new, version) = self.fresh(idx, &loaded, &state).map_err(refused)?;
        let slot = &mut self.slots[idx];
        tracing::info!(strategy = %name, from = %slot.version, to = %version, "strategy swapped");
        slot.loaded = loaded;
        slot.version = version;
        slot.last_good = state;
        slot.swaps += 1;
        self.install(idx, new);
        Ok(())
    }

    /// A new instance of `loaded` in slot `idx` that has taken `state`: instantiated,
    /// described, initialised (asking only for granted tokens) and restored. With its
    /// version. Restarts and swaps both start instances this way.
    fn fresh(
        &mut self,
        idx: usize,
        loaded: &LoadedStrategy,
        state: &wit::State,
    ) -> Result<(Instance, String), Fault> {
        let slot = &self.slots[idx];
        let mut new = Instance::new(&self.sandbox, loaded, slot.id, Arc::clone(&slot.name))?;
        let meta = new.describe(&mut self.world)?;
        let wanted = new.init(&mut self.world, &slot.config, &slot.markets)?;
        if let Some(t) = wanted
            .iter()
            .find(|t| !slot.markets.iter().any(|m| &m.token == *t))
        {
            return Err(Fault::Refused(format!(
                "it asks for token {t}, which is not granted to it"
            )));
        }
        new.restore(&mut self.world, state)?;
        Ok((new, meta.version))
    }

    /// Put a fresh instance to work in slot `idx`, and deliver what waited for it.
    fn install(&mut self, idx: usize, instance: Instance) {
        let slot = &mut self.slots[idx];
        slot.instance = Some(instance);
        slot.status = Status::Running;
        slot.since_snapshot = 0;
        let pending: Vec<wit::Event> = slot.pending.drain(..).collect();
        for e in &pending {
            self.dispatch(idx, e);
        }
        self.settle();
    }

    /// Give a loaded strategy its budget.
    pub fn set_budget(&mut self, id: StrategyId, budget: polybox_core::risk::Budget) {
        self.world_mut().desk.gate_mut().set_budget(id, budget);
    }

    /// Process one market message received at `ts` (kernel time, ms).
    pub fn on_message(&mut self, ts: u64, msg: &MarketMessage) {
        self.advance_to(ts);
        self.events += 1;
        // One reading of the kill switch for the message and every intent it causes (a
        // live order is checked against the file again just before it is sent).
        let engaged = self.world_mut().desk.gate_mut().begin_turn();
        self.act_on_kill_switch(engaged);
        let events = self.world_mut().desk.apply(msg);
        self.settle();
        self.deliver(&events);
        self.world_mut().desk.gate_mut().end_turn();
        if self.tape.due(ts) {
            let pnl: Usdc = self
                .slots
                .iter()
                .map(|s| {
                    let p = self.desk().pnl(s.id);
                    p.realized + p.unrealized
                })
                .sum();
            self.tape.sample(ts, pnl);
        }
    }

    /// Recent fills and the equity curve.
    pub fn tape(&self) -> &Tape {
        &self.tape
    }

    /// Trade on the exchange: approved orders become commands ([`Kernel::take_commands`])
    /// and the exchange's answers come back through [`Kernel::on_exec`]. `orders`: those
    /// restored from the journal.
    pub fn use_live_venue(&mut self, orders: polybox_core::orders::Orders) {
        self.world_mut().desk.use_live_venue(orders);
    }

    /// Hold (or release) every new order; see [`polybox_core::desk::Desk::hold_orders`].
    pub fn hold_orders(&mut self, why: Option<String>) {
        self.world_mut().desk.hold_orders(why);
    }

    /// Commands for the executor, oldest first.
    pub fn take_commands(&mut self) -> Vec<polybox_core::venue::Command> {
        self.world_mut().desk.take_commands()
    }

    /// The chain's collateral as just read (or why it could not be): BUYs are checked
    /// against it from now on.
    pub fn use_chain_balance(&mut self, read: Result<polybox_core::money::Usdc, String>) {
        self.world_mut().desk.use_chain_balance(read);
    }

    /// What the exchange did, received at `ts`: fills and order updates reach positions,
    /// risk and the owning strategies. Returns exchange ids the host does not know.
    pub fn on_exec(&mut self, ts: u64, event: polybox_core::orders::ExecEvent) -> Vec<String> {
        self.advance_to(ts);
        let unknown = self.world_mut().desk.apply_exec(event);
        self.settle();
        unknown
    }

    /// Read the kill switch (checked before every market event; call it after engaging
    /// the switch to act at once): `--cancel-all` is carried out once per engagement.
    pub fn check_kill_switch(&mut self) {
        let engaged = self.desk().gate().kill_switch().is_engaged();
        self.act_on_kill_switch(engaged);
    }

    /// Carry out `--cancel-all` once per engagement, given a reading of the switch.
    fn act_on_kill_switch(&mut self, engaged: bool) {
        if !engaged {
            self.killed_all = false;
            return;
        }
        let ks = self.desk().gate().kill_switch().clone();
        if !self.killed_all && ks.wants_cancel_all() {
            self.killed_all = true;
            let n = self.world_mut().desk.cancel_everything();
            tracing::warn!(
                orders = n,
                "kill switch engaged with --cancel-all: every open order cancelled"
            );
            self.settle();
        }
    }

    /// The market feed went down at `ts`: every book is held until its next snapshot and
    /// subscribed strategies are told their feed is stale.
    pub fn on_feed_down(&mut self, ts: u64) {
        self.advance_to(ts);
        let events = self.world_mut().desk.feed_down();
        self.deliver(&events);
    }

    fn deliver(&mut self, events: &[polybox_core::desk::MarketEvent]) {
        for e in events {
            if !self.subscribers.contains_key(e.token()) {
                continue;
            }
            // The previous event's buffers, and the subscribers by position rather than a
            // copy of the list: no allocation per event.
            let kind = usize::from(!matches!(e, polybox_core::desk::MarketEvent::Book(_)));
            let mut wit_event = std::mem::replace(&mut self.scratch[kind], wit::Event::Timer(0));
            sandbox::write_market_event(e, &mut wit_event);
            let mut k = 0;
            while let Some(idx) = self
                .subscribers
                .get(e.token())
                .and_then(|s| s.get(k).copied())
            {
                self.dispatch(idx, &wit_event);
                self.settle();
                k += 1;
            }
            self.scratch[kind] = wit_event;
        }
    }

    /// Move kernel time to `ts`: fire due timers and restart quarantined strategies.
    pub fn advance_to(&mut self, ts: u64) {
        self.world_mut().desk.set_now(ts);
        let now = self.desk().now();
        for idx in 0..self.slots.len() {
            if matches!(self.slots[idx].status, Status::Quarantined { until } if until <= now) {
                self.restart(idx);
            }
        }
        while let Some((strategy, id)) = self.world_mut().timers.pop_due(now) {
            if let Some(idx) = self.slots.iter().position(|s| s.id == strategy) {
                self.dispatch(idx, &wit::Event::Timer(id));
                self.settle();
            }
        }
    }

    /// Deliver one event to one strategy (or count it missed while it is down).
    fn dispatch(&mut self, idx: usize, event: &wit::Event) {
        let every = self.sandbox.config().snapshot_every;
        let now = self.desk().now();
        let slot = &mut self.slots[idx];
        slot.loaded_at.get_or_insert(now);
        let Some(instance) = slot.instance.as_mut() else {
            if slot.status != Status::Unloaded {
                slot.events_missed += 1;
            }
            return;
        };
        #[allow(clippy::disallowed_methods)] // callback time for the operator; never a decision
        let started = std::time::Instant::now();
        let outcome = instance.on_event(&mut self.world, event);
        slot.callbacks
            .record(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX));
        match outcome {
            Ok(()) => {
                slot.events += 1;
                slot.since_snapshot += 1;
                if slot.since_snapshot >= every {
                    slot.since_snapshot = 0;
                    match instance.snapshot(&mut self.world) {
                        Ok(state) => slot.last_good = state,
                        Err(fault) => self.quarantine(idx, fault),
                    }
                }
            }
            Err(fault) => self.quarantine(idx, fault),
        }
    }

    /// Deliver queued order updates to their owners until none is left.
    fn settle(&mut self) {
        for n in self.world_mut().desk.take_notices() {
            tracing::warn!(
                strategy = n.strategy.0,
                order = %n.order,
                token = %n.token.short(),
                expected = %n.expected,
                filled = %n.filled,
                slippage_pct = %n.pct,
                paused = n.paused,
                "fill slipped past the threshold{}",
                if n.paused { ": strategy paused" } else { "" }
            );
        }
        let mut delivered = 0usize;
        while self.world().desk.has_updates() {
            let updates = self.world_mut().desk.take_updates();
            for u in updates {
                let Some(idx) = self.slots.iter().position(|s| s.id == u.strategy) else {
                    continue;
                };
                if let Some(f) = &u.last_fill {
                    self.tape.fill(f);
                    tracing::info!(
                        strategy = %self.slots[idx].name,
                        token = %f.token.short(),
                        order = %f.order,
                        side = ?f.side,
                        price = %f.price,
                        size = %f.size,
                        fee = %f.fee,
                        "fill"
                    );
                }
                let event = sandbox::order_update(&u);
                if self.slots[idx].instance.is_none() {
                    self.slots[idx].pending.push_back(event);
                    continue;
                }
                delivered += 1;
                if delivered > MAX_SETTLE {
                    self.quarantine(
                        idx,
                        Fault::Trap(format!("more than {MAX_SETTLE} order updates from one event: it keeps re-ordering on every update")),
                    );
                    self.slots[idx].pending.push_back(event);
                    continue;
                }
                self.dispatch(idx, &event);
            }
        }
    }

    fn quarantine(&mut self, idx: usize, fault: Fault) {
        let cfg = self.sandbox.config().clone();
        let now = self.desk().now();
        let slot = &mut self.slots[idx];
        slot.instance = None;
        *slot.faults.entry(fault.code()).or_default() += 1;
        let id = slot.id;
        slot.status = if slot.restarts >= cfg.max_restarts {
            Status::Failed
        } else {
            let backoff = cfg
                .restart_backoff_ms
                .saturating_mul(1u64 << slot.restarts.min(20))
                .min(cfg.restart_backoff_max_ms);
            Status::Quarantined {
                until: now.saturating_add(backoff),
            }
        };
        tracing::warn!(
            strategy = %slot.name,
            version = %slot.version,
            status = ?slot.status,
            "strategy quarantined: {fault}; its open orders are cancelled"
        );
        let world = self.world_mut();
        world.desk.cancel_all(id, None, None);
        world.timers.clear(id);
    }

    fn restart(&mut self, idx: usize) {
        self.slots[idx].restarts += 1;
        let (loaded, state) = (
            Arc::clone(&self.slots[idx].loaded),
            self.slots[idx].last_good.clone(),
        );
        match self.fresh(idx, &loaded, &state) {
            Ok((instance, _)) => {
                let slot = &self.slots[idx];
                tracing::info!(strategy = %slot.name, restarts = slot.restarts, "strategy restarted from its last restore point");
                self.install(idx, instance);
            }
            Err(fault) => self.quarantine(idx, fault),
        }
    }

    /// Callback time p50 and p99 of every strategy, in load order, ns (wall time, so not
    /// part of the deterministic [`Summary`]).
    pub fn callback_times(&self) -> Vec<(u64, u64)> {
        self.slots
            .iter()
            .map(|s| (s.callbacks.quantile(0.5), s.callbacks.quantile(0.99)))
            .collect()
    }

    /// The name of the strategy of this id.
    pub fn strategy_name(&self, id: StrategyId) -> Option<&str> {
        self.slots.iter().find(|s| s.id == id).map(|s| &*s.name)
    }

    /// Every strategy's id, in load order (unloaded ones included).
    pub fn strategy_ids(&self) -> impl Iterator<Item = StrategyId> + '_ {
        self.slots.iter().map(|s| s.id)
    }

    /// Lift a bankroll-floor halt (the operator's `resume`).
    pub fn clear_halt(&mut self) {
        self.world_mut().desk.gate_mut().ledger_mut().clear_halt();
    }

    /// Reset the consecutive-loss breaker (the operator's decision); returns why it had
    /// tripped, if it had.
    pub fn reset_breaker(&mut self) -> Option<String> {
        let ledger = self.world_mut().desk.gate_mut().ledger_mut();
        let was = ledger.breaker().map(|t| t.reason.clone());
        ledger.reset_breaker();
        was
    }

    /// Every strategy's name and callback-time histogram, in load order.
    pub fn callback_histograms(&self) -> impl Iterator<Item = (&str, &Latency)> + '_ {
        self.slots.iter().map(|s| (&*s.name, &s.callbacks))
    }

    /// Counters, P&L and health of every strategy.
    pub fn summary(&self) -> Summary {
        Summary::collect(self)
    }
}
