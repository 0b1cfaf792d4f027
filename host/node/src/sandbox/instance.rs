//! One live strategy instance: its store and bindings, and calls into it under limits.

use std::sync::Arc;

use polybox_core::ids::StrategyId;
use wasmtime::Store;

use super::bindings::{Strategy, types as wit};
use super::host_ctx::{HostCtx, Limiter};
use super::{Deadline, LoadedStrategy, Sandbox};
use crate::kernel::World;

/// Why a call into a strategy failed. Any fault poisons the instance.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    /// Ran past its CPU budget (fuel).
    #[error("ran past its CPU budget of {0} fuel")]
    OutOfFuel(u64),
    /// Ran past its wall-clock deadline.
    #[error("ran past its {0} ms deadline")]
    Deadline(u64),
    /// Tried to grow memory past the cap.
    #[error("exceeded its memory cap of {0} MiB")]
    Memory(u64),
    /// Kept submitting past twice the per-callback intent cap.
    #[error("flooded intents: more than twice the cap of {0} in one callback")]
    IntentFlood(u32),
    /// Trapped (panic, unreachable, out-of-bounds access...).
    #[error("trapped: {0}")]
    Trap(String),
    /// Returned an error from `init` or `restore`.
    #[error("{0}")]
    Refused(String),
}

impl Fault {
    /// A short code for summaries.
    pub fn code(&self) -> &'static str {
        match self {
            Fault::OutOfFuel(_) => "cpu_budget",
            Fault::Deadline(_) => "deadline",
            Fault::Memory(_) => "memory_cap",
            Fault::IntentFlood(_) => "intent_flood",
            Fault::Trap(_) => "trap",
            Fault::Refused(_) => "refused",
        }
    }
}

/// A running instance.
pub struct Instance {
    store: Store<HostCtx>,
    bindings: Strategy,
    fuel: u64,
    deadline: Deadline,
    memory_mib: u64,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("ctx", self.store.data())
            .finish()
    }
}

impl Instance {
    /// Instantiate a loaded strategy in a fresh store.
    pub fn new(
        sandbox: &Sandbox,
        loaded: &LoadedStrategy,
        strategy: StrategyId,
        name: Arc<str>,
    ) -> Result<Instance, Fault> {
        let cfg = sandbox.config();
        let memory = usize::try_from(cfg.memory_mib << 20).unwrap_or(usize::MAX);
        let ctx = HostCtx {
            world: None,
            strategy,
            name,
            limiter: Limiter::new(memory),
            intents_this_call: 0,
            max_intents: cfg.max_intents_per_callback,
            flooded: false,
        };
        let mut store = Store::new(sandbox.engine(), ctx);
        store.limiter(|c| &mut c.limiter);
        let fuel = cfg.fuel_per_callback;
        let deadline = sandbox.deadline();
        let memory_mib = cfg.memory_mib;
        store
            .set_fuel(fuel)
            .map_err(|e| Fault::Trap(e.to_string()))?;
        if let Some(ticks) = deadline.ticks() {
            store.set_epoch_deadline(ticks);
        }
        let bindings = loaded
            .pre()
            .instantiate(&mut store)
            .map_err(|e| classify(&store, e, fuel, deadline, memory_mib))?;
        Ok(Instance {
            store,
            bindings,
            fuel,
            deadline,
            memory_mib,
        })
    }

    fn call<R>(
        &mut self,
        world: &mut Option<Box<World>>,
        f: impl FnOnce(&Strategy, &mut Store<HostCtx>) -> wasmtime::Result<R>,
    ) -> Result<R, Fault> {
        // Budgets are per callback: refill, and move the deadline from now.
        if let Err(e) = self.store.set_fuel(self.fuel) {
            return Err(Fault::Trap(e.to_string()));
        }
        if let Some(ticks) = self.deadline.ticks() {
            self.store.set_epoch_deadline(ticks);
        }
        let ctx = self.store.data_mut();
        ctx.world = world.take();
        ctx.intents_this_call = 0;
        let result = f(&self.bindings, &mut self.store);
        *world = self.store.data_mut().world.take();
        result.map_err(|e| classify(&self.store, e, self.fuel, self.deadline, self.memory_mib))
    }

    /// Its linear memory, bytes (the largest it grew to).
    pub fn memory_bytes(&self) -> usize {
        self.store.data().limiter.memory_bytes
    }

    /// The strategy's name and version.
    pub fn describe(&mut self, world: &mut Option<Box<World>>) -> Result<wit::StrategyMeta, Fault> {
        self.call(world, |b, s| b.polybox_strategy_guest().call_describe(s))
    }

    /// Initialise; returns the tokens it subscribes to.
    pub fn init(
        &mut self,
        world: &mut Option<Box<World>>,
        config: &str,
        markets: &[wit::MarketInfo],
    ) -> Result<Vec<String>, Fault> {
        self.call(world, |b, s| {
            b.polybox_strategy_guest().call_init(s, config, markets)
        })?
        .map_err(Fault::Refused)
    }

    /// Deliver one event.
    pub fn on_event(
        &mut self,
        world: &mut Option<Box<World>>,
        event: &wit::Event,
    ) -> Result<(), Fault> {
        self.call(world, |b, s| {
            b.polybox_strategy_guest().call_on_event(s, event)
        })
    }

    /// Take the strategy's state.
    pub fn snapshot(&mut self, world: &mut Option<Box<World>>) -> Result<wit::State, Fault> {
        self.call(world, |b, s| b.polybox_strategy_guest().call_snapshot(s))
    }

    /// Hand it a state.
    pub fn restore(
        &mut self,
        world: &mut Option<Box<World>>,
        state: &wit::State,
    ) -> Result<(), Fault> {
        self.call(world, |b, s| {
            b.polybox_strategy_guest().call_restore(s, state)
        })?
        .map_err(Fault::Refused)
    }
}

fn classify(
    store: &Store<HostCtx>,
    e: wasmtime::Error,
    fuel: u64,
    deadline: Deadline,
    memory_mib: u64,
) -> Fault {
    if store.data().limiter.memory_cap_hit {
        return Fault::Memory(memory_mib);
    }
    if store.data().flooded {
        return Fault::IntentFlood(store.data().max_intents);
    }
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::OutOfFuel) => Fault::OutOfFuel(fuel),
        Some(wasmtime::Trap::Interrupt) => Fault::Deadline(deadline.ms()),
        _ => Fault::Trap(format!("{e:#}").lines().next().unwrap_or("trap").to_owned()),
    }
}
