//! What a strategy's imports reach: the kernel's [`World`], lent to the store for the
//! length of one callback, and the per-instance limits.

use std::sync::Arc;

use polybox_core::ids::{OrderId, StrategyId, TokenId};
use polybox_core::risk::{RejectReason, Rejection};

use super::bindings::{host, types as wit};
use super::convert;
use crate::kernel::World;

/// Memory and table limits of one instance; records whether the cap was hit.
#[derive(Debug)]
pub struct Limiter {
    max_memory: usize,
    /// Set when the guest tried to grow past the cap.
    pub memory_cap_hit: bool,
    /// The largest linear memory granted, bytes.
    pub memory_bytes: usize,
}

impl Limiter {
    /// A limiter with a memory cap in bytes.
    pub fn new(max_memory: usize) -> Self {
        Limiter {
            max_memory,
            memory_cap_hit: false,
            memory_bytes: 0,
        }
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            self.memory_cap_hit = true;
            return Err(wasmtime::Error::msg(format!(
                "memory cap of {} MiB exceeded (asked for {} MiB)",
                self.max_memory >> 20,
                desired >> 20
            )));
        }
        self.memory_bytes = self.memory_bytes.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The data of one strategy instance's store.
pub struct HostCtx {
    /// The kernel's world, present only during a callback.
    pub world: Option<Box<World>>,
    /// Which strategy this is.
    pub strategy: StrategyId,
    /// Its name, for logs.
    pub name: Arc<str>,
    /// Memory limits.
    pub limiter: Limiter,
    /// Intents submitted during the current callback.
    pub intents_this_call: u32,
    /// Most intents one callback may submit.
    pub max_intents: u32,
    /// Set when a callback kept submitting far past its cap: the call is trapped.
    pub flooded: bool,
}

impl std::fmt::Debug for HostCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostCtx")
            .field("strategy", &self.strategy)
            .field("name", &self.name)
            .finish()
    }
}

fn absent() -> Rejection {
    Rejection::new(
        RejectReason::InvalidIntent,
        "host call outside a callback (during instantiation)",
    )
}

impl wit::Host for HostCtx {}

impl host::Host for HostCtx {
    fn submit(&mut self, intent: wit::Intent) -> wasmtime::Result<Result<u64, wit::Rejection>> {
        let strategy = self.strategy;
        let Some(world) = self.world.as_mut() else {
            return Ok(Err(convert::rejection(absent())));
        };
        self.intents_this_call += 1;
        if self.intents_this_call > self.max_intents {
            // Past twice the cap the strategy is not reacting to its refusals: stop it.
            if self.intents_this_call > self.max_intents.saturating_mul(2) {
                self.flooded = true;
                return Err(wasmtime::Error::msg("intent flood"));
            }
            let r = Rejection::new(
                RejectReason::RateLimit,
                format!(
                    "more than {} intents in one callback (sandbox.max_intents_per_callback)",
                    self.max_intents
                ),
            );
            return Ok(Err(convert::rejection(world.desk.refuse(strategy, r))));
        }
        // The desk's own id when the market is known (no copy of the text).
        let token = world
            .desk
            .token_id(&intent.token)
            .unwrap_or_else(|| TokenId::new(&intent.token));
        Ok(
            match world
                .desk
                .submit(convert::intent(strategy, token.clone(), intent))
            {
                Ok(id) => Ok(id.0),
                Err(r) => {
                    tracing::info!(
                        strategy = &*self.name,
                        token = %token,
                        reason = r.reason.code(),
                        "intent refused: {}",
                        r.message
                    );
                    Err(convert::rejection(r))
                }
            },
        )
    }

    fn cancel(&mut self, id: u64) -> Result<(), wit::Rejection> {
        let strategy = self.strategy;
        let Some(world) = self.world.as_mut() else {
            return Err(convert::rejection(absent()));
        };
        world
            .desk
            .cancel(strategy, OrderId(id))
            .map_err(convert::rejection)
    }

    fn cancel_all(&mut self, token: Option<String>) -> u32 {
        let strategy = self.strategy;
        let token = token.map(|t| TokenId::new(&t));
        self.world
            .as_mut()
            .map_or(0, |w| w.desk.cancel_all(strategy, token.as_ref(), None))
    }

    fn book(&mut self, token: String, depth: u32) -> Option<wit::BookDepth> {
        let world = self.world.as_ref()?;
        if !world.desk.is_granted(self.strategy, &token) {
            return None;
        }
        world
            .desk
            .book(&token)
            .map(|b| convert::book_depth(b, depth))
    }

    fn positions(&mut self) -> Vec<wit::Position> {
        let Some(world) = self.world.as_ref() else {
            return Vec::new();
        };
        world
            .desk
            .positions(self.strategy)
            .map(|(t, p)| convert::position(t, p, world.desk.mark_of(t)))
            .collect()
    }

    fn open_orders(&mut self) -> Vec<wit::OpenOrder> {
        let Some(world) = self.world.as_ref() else {
            return Vec::new();
        };
        world
            .desk
            .open_orders(self.strategy)
            .map(convert::open_order)
            .collect()
    }

    fn now(&mut self) -> u64 {
        self.world.as_ref().map_or(0, |w| w.desk.now())
    }

    fn log(&mut self, level: wit::LogLevel, message: String) {
        let name = &*self.name;
        match level {
            wit::LogLevel::Trace => {
                tracing::trace!(target: "strategy", strategy = name, "{message}")
            }
            wit::LogLevel::Debug => {
                tracing::debug!(target: "strategy", strategy = name, "{message}")
            }
            wit::LogLevel::Info => tracing::info!(target: "strategy", strategy = name, "{message}"),
            wit::LogLevel::Warn => tracing::warn!(target: "strategy", strategy = name, "{message}"),
            wit::LogLevel::Error => {
                tracing::error!(target: "strategy", strategy = name, "{message}")
            }
        }
    }

    fn set_timer(&mut self, id: u64, at: u64) {
        let strategy = self.strategy;
        if let Some(w) = self.world.as_mut() {
            w.timers.set(strategy, id, at);
        }
    }

    fn cancel_timer(&mut self, id: u64) {
        let strategy = self.strategy;
        if let Some(w) = self.world.as_mut() {
            w.timers.cancel(strategy, id);
        }
    }
}
