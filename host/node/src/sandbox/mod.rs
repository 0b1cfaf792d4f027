//! The sandbox: wasmtime with the component model, one engine for all strategies.
//!
//! - **CPU**: every callback gets a fuel budget (`sandbox.fuel_per_callback`), which is
//!   deterministic, so a replay always cuts a runaway strategy at the same instruction.
//!   Live, an epoch deadline (`sandbox.deadline_ms`, ticked every millisecond by a
//!   background thread) also bounds wall time. Replay's engine is built without epoch
//!   interruption: its code carries no epoch checks (cheaper), and wall-clock noise
//!   cannot change what a replay produces.
//! - **Memory**: a cap per instance (`sandbox.memory_mib`); growing past it traps.
//! - **Instances**: the pooling allocator and a pre-linked `StrategyPre`, so a restart
//!   or a swap instantiates in microseconds; compiled components are cached on disk.
//! - **Contract**: a component must import only `polybox:strategy/host` (no WASI) and be
//!   built for a supported version (`contract`).

mod bindings;
mod cache;
pub mod contract;
mod convert;
mod host_ctx;
mod instance;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

pub use bindings::types as wit;
use bindings::{Strategy, StrategyPre};
pub use contract::ContractError;
pub use convert::{market_info, order_update, write_market_event};
pub use host_ctx::HostCtx;
pub use instance::{Fault, Instance};

use crate::config::SandboxConfig;

/// Why a strategy could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read strategy {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The problem.
        source: std::io::Error,
    },
    /// The file is not a strategy for this host.
    #[error("strategy {path}: {source}")]
    Contract {
        /// The file.
        path: PathBuf,
        /// The problem.
        source: ContractError,
    },
    /// wasmtime refused it.
    #[error("strategy {path}: cannot compile or link: {message}")]
    Compile {
        /// The file.
        path: PathBuf,
        /// wasmtime's message.
        message: String,
    },
}

/// How callbacks are bounded in wall time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// Fuel only (replay: deterministic).
    FuelOnly,
    /// Fuel and an epoch deadline of this many ms (live).
    WallClock(u64),
}

impl Deadline {
    /// The epoch deadline of a callback, in ticks, when epochs are on.
    fn ticks(self) -> Option<u64> {
        match self {
            Deadline::FuelOnly => None,
            Deadline::WallClock(ms) => Some(ms.max(1)),
        }
    }

    fn ms(self) -> u64 {
        match self {
            Deadline::FuelOnly => 0,
            Deadline::WallClock(ms) => ms,
        }
    }
}

/// A strategy component, compiled, checked and pre-linked.
pub struct LoadedStrategy {
    name: String,
    path: PathBuf,
    contract_version: String,
    pre: StrategyPre<HostCtx>,
}

impl std::fmt::Debug for LoadedStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedStrategy")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("contract_version", &self.contract_version)
            .finish()
    }
}

impl LoadedStrategy {
    /// The strategy's name: its file stem.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The contract version it was built for.
    pub fn contract_version(&self) -> &str {
        &self.contract_version
    }

    fn pre(&self) -> &StrategyPre<HostCtx> {
        &self.pre
    }
}

/// The engine, linker and limits shared by every strategy.
pub struct Sandbox {
    engine: Engine,
    linker: Linker<HostCtx>,
    config: SandboxConfig,
    deadline: Deadline,
    cache_dir: Option<PathBuf>,
    ticker: Option<Arc<AtomicBool>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("deadline", &self.deadline)
            .field("cache_dir", &self.cache_dir)
            .finish()
    }
}

impl Sandbox {
    /// Build the engine. `deadline` picks fuel only (replay) or fuel plus a wall-clock
    /// deadline (live), which starts the epoch ticker thread.
    pub fn new(config: &SandboxConfig, deadline: Deadline) -> anyhow::Result<Sandbox> {
        let mut cfg = Config::new();
        cfg.wasm_component_model(true)
            .consume_fuel(true)
            // Fuel only: the compiled code carries no epoch checks at all (replay).
            .epoch_interruption(deadline.ticks().is_some())
            .concurrency_support(false);
        let n = config.max_instances;
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(n)
            .total_core_instances(n.saturating_mul(8))
            .total_memories(n.saturating_mul(2))
            .total_tables(n.saturating_mul(8))
            .max_memory_size(usize::try_from(config.memory_mib << 20)?);
        cfg.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&cfg)?;
        let mut linker = Linker::new(&engine);
        Strategy::add_to_linker::<HostCtx, HasSelf<HostCtx>>(&mut linker, |c| c)?;
        let cache_dir = match &config.cache_dir {
            Some(d) if d.as_os_str().is_empty() => None,
            Some(d) => Some(d.clone()),
            None => cache::default_dir(),
        };
        let ticker = match deadline {
            Deadline::FuelOnly => None,
            Deadline::WallClock(_) => Some(start_ticker(&engine)),
        };
        Ok(Sandbox {
            engine,
            linker,
            config: config.clone(),
            deadline,
            cache_dir,
            ticker,
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The sandbox limits.
    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// The deadline policy.
    pub fn deadline(&self) -> Deadline {
        self.deadline
    }

    /// Read, check, compile (or load from the cache) and pre-link a strategy.
    pub fn load(&self, path: &Path) -> Result<LoadedStrategy, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
        self.load_bytes(path, &bytes)
    }

    /// As [`Sandbox::load`], from bytes already read (`path` names it in errors).
    pub fn load_bytes(&self, path: &Path, bytes: &[u8]) -> Result<LoadedStrategy, LoadError> {
        let contract_version = contract::check(bytes).map_err(|source| LoadError::Contract {
            path: path.to_owned(),
            source,
        })?;
        let compile = |e: wasmtime::Error| LoadError::Compile {
            path: path.to_owned(),
            message: format!("{e:#}"),
        };
        let component =
            cache::load(&self.engine, bytes, self.cache_dir.as_deref()).map_err(compile)?;
        let pre = self.linker.instantiate_pre(&component).map_err(compile)?;
        let pre = StrategyPre::new(pre).map_err(compile)?;
        let name = path.file_stem().map_or_else(
            || "strategy".to_owned(),
            |s| s.to_string_lossy().into_owned(),
        );
        Ok(LoadedStrategy {
            name,
            path: path.to_owned(),
            contract_version,
            pre,
        })
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(stop) = &self.ticker {
            stop.store(true, Ordering::Relaxed);
        }
    }
}

/// Advance the engine's epoch every millisecond until told to stop.
fn start_ticker(engine: &Engine) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let (engine, flag) = (engine.clone(), Arc::clone(&stop));
    std::thread::Builder::new()
        .name("polybox-epoch".to_owned())
        .spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(1));
                engine.increment_epoch();
            }
        })
        .map_err(|e| tracing::error!("cannot start the epoch ticker: {e}"))
        .ok();
    stop
}
