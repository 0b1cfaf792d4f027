//! The host's TOML config: every section with the audit's defaults, overridable with
//! `--set key=value`, validated as a whole at load and then frozen.
//!
//! Secrets never live here: keys and API credentials come from the environment or `.env`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polybox_core::money::{Price, Size, Usdc};
use polybox_core::risk::{Budget, Limits};
use serde::{Deserialize, Serialize};

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The problem.
        source: std::io::Error,
    },
    /// The TOML is invalid or has unknown keys.
    #[error("config {origin}: {message}")]
    Parse {
        /// File name or `--set`.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// A `--set` names no config key.
    #[error("unknown --set key `{0}`: the README's Config section lists every key")]
    UnknownKey(String),
    /// A `--set` is not `key=value`.
    #[error("--set `{0}` is not of the form key=value")]
    BadSet(String),
    /// Values that are each valid but wrong together or out of range.
    #[error("invalid config:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

/// The whole host config.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostConfig {
    /// Pre-trade limits and the trading day.
    pub risk: Limits,
    /// Strategy sandbox limits.
    pub sandbox: SandboxConfig,
    /// Paper venue and market defaults.
    pub paper: PaperConfig,
    /// Kill switch.
    pub kill_switch: KillSwitchConfig,
    /// Where state is kept.
    pub store: StoreConfig,
    /// Exchange endpoints.
    pub exchange: ExchangeConfig,
    /// Market-data feed timing.
    pub feed: FeedSettings,
    /// The wallet on chain: node and contracts.
    pub wallet: crate::wallet::WalletConfig,
    /// The control API of a running host.
    pub control: crate::control::ControlConfig,
    /// The JSON log file of a running host.
    pub log: crate::logs::LogConfig,
    /// Token ids `polybox run` trades when `--markets` is not given.
    pub markets: Vec<String>,
    /// Per-strategy grants and configs, by strategy name (the `.wasm` file stem).
    pub strategies: BTreeMap<String, StrategyConfig>,
}

/// `[sandbox]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// Deterministic CPU budget of one callback, in wasmtime fuel (≈ instructions).
    /// Enforced in replay and live alike, so a replay always cuts at the same place.
    pub fuel_per_callback: u64,
    /// Wall-clock deadline of one callback, ms, enforced live only (epoch interruption).
    pub deadline_ms: u64,
    /// Linear-memory cap of one strategy instance, MiB.
    pub memory_mib: u64,
    /// Most strategy instances alive at once (sizes the pooling allocator).
    pub max_instances: u32,
    /// First restart delay after a quarantine, ms; doubles each time.
    pub restart_backoff_ms: u64,
    /// Longest restart delay, ms.
    pub restart_backoff_max_ms: u64,
    /// Restarts before a strategy stays quarantined.
    pub max_restarts: u32,
    /// Take a restore point every this many events handled.
    pub snapshot_every: u64,
    /// Intents one callback may submit; the rest are refused as `rate_limit`.
    pub max_intents_per_callback: u32,
    /// Where compiled components are cached (default: `$XDG_CACHE_HOME/polybox` or
    /// `~/.cache/polybox`; empty string: no cache).
    pub cache_dir: Option<PathBuf>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            fuel_per_callback: 50_000_000,
            deadline_ms: 10,
            memory_mib: 64,
            max_instances: 64,
            restart_backoff_ms: 1_000,
            restart_backoff_max_ms: 60_000,
            max_restarts: 5,
            snapshot_every: 100,
            max_intents_per_callback: 100,
            cache_dir: None,
        }
    }
}

/// `[paper]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaperConfig {
    /// Taker fee rate for markets whose data does not say, basis points.
    pub default_fee_rate_bps: u32,
    /// Tick size for markets whose data does not say.
    pub default_tick: String,
    /// Minimum order size (shares) for markets whose data does not say.
    pub default_min_size: String,
}

impl Default for PaperConfig {
    fn default() -> Self {
        PaperConfig {
            default_fee_rate_bps: 0,
            default_tick: "0.01".to_owned(),
            default_min_size: "5".to_owned(),
        }
    }
}

/// `[kill_switch]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KillSwitchConfig {
    /// The file whose presence blocks every new order.
    pub path: PathBuf,
}

impl Default for KillSwitchConfig {
    fn default() -> Self {
        KillSwitchConfig {
            path: PathBuf::from(".kill_switch"),
        }
    }
}

/// `[exchange]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExchangeConfig {
    /// CLOB REST base URL.
    pub clob_url: String,
    /// WebSocket base URL: the market channel is `{ws_url}/market`, the user channel `{ws_url}/user`.
    pub ws_url: String,
    /// Cancel open orders on the exchange that this host's journal does not hold (found at
    /// start or while polling); otherwise they are only reported.
    pub cancel_unknown_orders: bool,
    /// Base of the user channel when it is served apart from the market channel (empty:
    /// `ws_url`).
    pub user_ws_url: String,
    /// How often open orders and trades are polled over REST, ms.
    pub poll_ms: u64,
}

impl Default for ExchangeConfig {
    fn default() -> Self {
        ExchangeConfig {
            clob_url: "https://clob.polymarket.com".to_owned(),
            ws_url: "wss://ws-subscriptions-clob.polymarket.com/ws".to_owned(),
            cancel_unknown_orders: false,
            user_ws_url: String::new(),
            poll_ms: 1_000,
        }
    }
}

/// `[feed]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedSettings {
    /// Keep-alive PING interval, ms.
    pub ping_every_ms: u64,
    /// No message for this long while subscribed: reconnect, ms.
    pub stale_after_ms: u64,
    /// First reconnect delay, ms (doubles, with jitter).
    pub backoff_min_ms: u64,
    /// Longest reconnect delay, ms.
    pub backoff_max_ms: u64,
    /// A book crossed for this long is resynchronised from a fresh snapshot, ms.
    pub crossed_grace_ms: u64,
}

impl Default for FeedSettings {
    fn default() -> Self {
        FeedSettings {
            ping_every_ms: 10_000,
            stale_after_ms: 30_000,
            backoff_min_ms: 500,
            backoff_max_ms: 30_000,
            crossed_grace_ms: 2_000,
        }
    }
}

/// `[store]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// State directory holding `polybox.db` (risk ledger, journal).
    pub dir: PathBuf,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            dir: PathBuf::from(".polybox"),
        }
    }
}

/// `[strategies.NAME]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StrategyConfig {
    /// Tokens granted to this strategy (absent: every market of the session).
    pub markets: Option<Vec<String>>,
    /// The strategy's own config, passed to its `init` as text.
    pub config: Option<String>,
    /// Budget: most exposure (positions plus open BUYs), USDC.
    pub max_exposure_usdc: Option<Usdc>,
    /// Budget: most realised loss of the day, USDC.
    pub max_daily_loss_usdc: Option<Usdc>,
    /// Budget: most open orders.
    pub max_open_orders: Option<u32>,
    /// Slippage warning threshold, percent (default: `risk.slippage_pct`).
    #[serde(default, deserialize_with = "optional_decimal")]
    pub slippage_pct: Option<rust_decimal::Decimal>,
    /// Slippage pause threshold, percent (default: `risk.pause_slippage_pct`).
    #[serde(default, deserialize_with = "optional_decimal")]
    pub pause_slippage_pct: Option<rust_decimal::Decimal>,
}

fn optional_decimal<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<rust_decimal::Decimal>, D::Error> {
    polybox_core::money::flexible_decimal(d).map(Some)
}

impl StrategyConfig {
    /// The budget inside the global limits.
    pub fn budget(&self) -> Budget {
        Budget {
            max_exposure_usdc: self.max_exposure_usdc,
            max_daily_loss_usdc: self.max_daily_loss_usdc,
            max_open_orders: self.max_open_orders,
            slippage_pct: self.slippage_pct,
            pause_slippage_pct: self.pause_slippage_pct,
        }
    }
}

impl HostConfig {
    /// Load from `path` (when given) and apply `--set` overrides, then validate.
    pub fn load(path: Option<&Path>, sets: &[String]) -> Result<HostConfig, ConfigError> {
        let (mut table, origin) = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_owned(),
                    source,
                })?;
                let t: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    origin: p.display().to_string(),
                    message: e.message().to_owned(),
                })?;
                (t, p.display().to_string())
            }
            None => (toml::Table::new(), "defaults".to_owned()),
        };
        let known =
            toml::Table::try_from(HostConfig::default()).map_err(|e| ConfigError::Parse {
                origin: "defaults".to_owned(),
                message: e.to_string(),
            })?;
        for set in sets {
            apply_set(&mut table, &known, set)?;
        }
        let config: HostConfig =
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Parse {
                    origin: if sets.is_empty() {
                        origin
                    } else {
                        format!("{origin} with --set")
                    },
                    message: e.message().to_owned(),
                })?;
        config.validate()?;
        Ok(config)
    }

    /// Every problem at once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = self.risk.problems();
        let s = &self.sandbox;
        if let Err(e) = self.log.check() {
            problems.push(e);
        }
        if s.fuel_per_callback == 0 {
            problems.push("sandbox.fuel_per_callback must be above 0".to_owned());
        }
        if s.deadline_ms == 0 {
            problems.push("sandbox.deadline_ms must be above 0".to_owned());
        }
        if !(1..=4096).contains(&s.memory_mib) {
            problems.push(format!(
                "sandbox.memory_mib must be 1..=4096 (got {})",
                s.memory_mib
            ));
        }
        if s.max_instances == 0 {
            problems.push("sandbox.max_instances must be above 0".to_owned());
        }
        if s.snapshot_every == 0 {
            problems.push("sandbox.snapshot_every must be above 0".to_owned());
        }
        let f = &self.feed;
        if f.ping_every_ms == 0 || f.stale_after_ms == 0 || f.backoff_min_ms == 0 {
            problems.push(
                "feed.ping_every_ms, feed.stale_after_ms and feed.backoff_min_ms must be above 0"
                    .to_owned(),
            );
        }
        if f.backoff_min_ms > f.backoff_max_ms {
            problems.push("feed.backoff_min_ms must not exceed feed.backoff_max_ms".to_owned());
        }
        if s.restart_backoff_ms > s.restart_backoff_max_ms {
            problems.push(
                "sandbox.restart_backoff_ms must not exceed sandbox.restart_backoff_max_ms"
                    .to_owned(),
            );
        }
        match Price::parse(&self.paper.default_tick) {
            Ok(t) if t > Price::ZERO && t < Price::ONE => {}
            _ => problems.push(format!(
                "paper.default_tick must be a price between 0 and 1 (got `{}`)",
                self.paper.default_tick
            )),
        }
        if Size::parse(&self.paper.default_min_size).is_err() {
            problems.push(format!(
                "paper.default_min_size must be a number of shares (got `{}`)",
                self.paper.default_min_size
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// The default tick (validated).
    pub fn default_tick(&self) -> Price {
        Price::parse(&self.paper.default_tick).unwrap_or(Price::from_micros(10_000))
    }

    /// The default minimum size (validated).
    pub fn default_min_size(&self) -> Size {
        Size::parse(&self.paper.default_min_size).unwrap_or(Size::from_micros(5_000_000))
    }

    /// The feed's connection settings for `ws_url`.
    pub fn feed_config(&self, ws_url: &str) -> crate::market::feed::FeedConfig {
        let ms = std::time::Duration::from_millis;
        let mut c = crate::market::feed::FeedConfig::new(ws_url);
        c.ping_every = ms(self.feed.ping_every_ms);
        c.stale_after = ms(self.feed.stale_after_ms);
        c.backoff_min = ms(self.feed.backoff_min_ms);
        c.backoff_max = ms(self.feed.backoff_max_ms);
        c
    }

    /// The risk limits for the gate.
    pub fn limits(&self) -> Limits {
        self.risk.clone()
    }
}

/// Apply one `key.path=value`; the value is read as TOML, or as a string when it is not.
fn apply_set(table: &mut toml::Table, known: &toml::Table, set: &str) -> Result<(), ConfigError> {
    let (key, raw) = set
        .split_once('=')
        .ok_or_else(|| ConfigError::BadSet(set.to_owned()))?;
    let key = key.trim();
    let path: Vec<&str> = key.split('.').collect();
    if path.iter().any(|p| p.is_empty()) {
        return Err(ConfigError::BadSet(set.to_owned()));
    }
    // `strategies.NAME.*` is open-ended; everything else must exist in the defaults.
    let open = path.first() == Some(&"strategies")
        && path.len() == 3
        && [
            "markets",
            "config",
            "max_exposure_usdc",
            "max_daily_loss_usdc",
            "max_open_orders",
        ]
        .contains(&path[2]);
    let optional = matches!(key, "sandbox.cache_dir");
    if !open && !optional && !key_exists(known, &path) {
        return Err(ConfigError::UnknownKey(key.to_owned()));
    }
    let value = parse_value(raw.trim());
    let mut node = table;
    for part in &path[..path.len() - 1] {
        let entry = node
            .entry((*part).to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        node = entry
            .as_table_mut()
            .ok_or_else(|| ConfigError::BadSet(set.to_owned()))?;
    }
    if let Some(last) = path.last() {
        node.insert((*last).to_owned(), value);
    }
    Ok(())
}

fn key_exists(known: &toml::Table, path: &[&str]) -> bool {
    let mut node = known;
    for (i, part) in path.iter().enumerate() {
        match node.get(*part) {
            Some(toml::Value::Table(t)) if i + 1 < path.len() => node = t,
            Some(_) if i + 1 == path.len() => return true,
            _ => return false,
        }
    }
    false
}

fn parse_value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_audit_defaults_and_valid() {
        let c = HostConfig::load(None, &[]).unwrap();
        assert_eq!(c.risk.max_order_usdc.to_micros(), 15_000_000);
        assert_eq!(c.sandbox.memory_mib, 64);
        assert_eq!(c.sandbox.deadline_ms, 10);
        assert_eq!(c.kill_switch.path, PathBuf::from(".kill_switch"));
        assert_eq!(
            c.risk.slippage_pct,
            rust_decimal::Decimal::ONE,
            "audit: 1 % slippage"
        );
        assert!(!c.exchange.cancel_unknown_orders);
    }

    #[test]
    fn slippage_thresholds_read_globally_and_per_strategy() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("polybox.toml");
        std::fs::write(
            &p,
            "[risk]\nslippage_pct = 1.5\n[strategies.q]\npause_slippage_pct = 8\nslippage_pct = \"2.5\"\n",
        )
        .unwrap();
        let c = HostConfig::load(Some(&p), &[]).unwrap();
        assert_eq!(c.risk.slippage_pct, rust_decimal::Decimal::new(15, 1));
        let b = c.strategies["q"].budget();
        assert_eq!(b.pause_slippage_pct, Some(rust_decimal::Decimal::from(8)));
        assert_eq!(b.slippage_pct, Some(rust_decimal::Decimal::new(25, 1)));
    }

    #[test]
    fn set_overrides_and_unknown_keys_are_named() {
        let c = HostConfig::load(None, &["risk.max_order_usdc=5".to_owned()]).unwrap();
        assert_eq!(c.risk.max_order_usdc.to_micros(), 5_000_000);
        let c = HostConfig::load(None, &["strategies.q.markets=[\"1\",\"2\"]".to_owned()]).unwrap();
        assert_eq!(
            c.strategies["q"].markets.as_deref(),
            Some(&["1".to_owned(), "2".to_owned()][..])
        );
        let err = HostConfig::load(None, &["risk.max_ordr_usdc=5".to_owned()]).unwrap_err();
        assert!(err.to_string().contains("risk.max_ordr_usdc"), "{err}");
        assert!(matches!(
            HostConfig::load(None, &["risk".to_owned()]),
            Err(ConfigError::BadSet(_))
        ));
    }

    #[test]
    fn validation_lists_every_problem() {
        let err = HostConfig::load(
            None,
            &[
                "risk.max_order_usdc=0".to_owned(),
                "sandbox.memory_mib=0".to_owned(),
            ],
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("max_order_usdc") && text.contains("memory_mib"),
            "{text}"
        );
    }

    #[test]
    fn files_with_unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("polybox.toml");
        std::fs::write(&p, "[risk]\nmax_order = 3\n").unwrap();
        let err = HostConfig::load(Some(&p), &[]).unwrap_err();
        assert!(err.to_string().contains("max_order"), "{err}");
    }
}
