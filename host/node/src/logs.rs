//! Logging: human lines on the terminal (`POLYBOX_LOG`, default `warn`) and, for a running
//! host, JSON lines with structured fields (strategy, token, order, reason) to a file that
//! rotates daily (`[log]`).
//!
//! Libraries that log what they send or receive at trace would log secrets: the exchange
//! client (response bodies with derived API credentials) and the WebSocket library
//! (frames, the user channel's subscription with its credentials). They never go below
//! debug in either output, whatever the levels say.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

/// Targets capped at debug (see the module docs).
const CAPPED: [&str; 3] = [
    "polymarket_client_sdk_v2",
    "tungstenite",
    "tokio_tungstenite",
];

/// `[log]`: the JSON log file of `polybox run`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// Folder of the daily files `polybox.YYYY-MM-DD.log` ("": the state dir's `logs/`).
    pub dir: String,
    /// Lowest level written to the file: `error`, `warn`, `info`, `debug`, `trace`, or a
    /// filter such as `info,polybox::kernel=debug`.
    pub level: String,
    /// Daily files kept; older ones are deleted.
    pub keep_days: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            dir: String::new(),
            level: "info".to_owned(),
            keep_days: 14,
        }
    }
}

impl LogConfig {
    /// The folder the files go to for a host whose state dir is `state_dir`.
    pub fn folder(&self, state_dir: &Path) -> PathBuf {
        if self.dir.is_empty() {
            state_dir.join("logs")
        } else {
            PathBuf::from(&self.dir)
        }
    }

    /// Why the level cannot be used, if it cannot.
    pub fn check(&self) -> Result<(), String> {
        EnvFilter::try_new(&self.level)
            .map(drop)
            .map_err(|e| format!("log.level = {:?}: {e}", self.level))
    }
}

/// Keeps the file writer flushing; drop it last (at the end of `main`).
#[must_use = "the file stops being written when the guard is dropped"]
pub struct Guard {
    _flush: Option<tracing_appender::non_blocking::WorkerGuard>,
}

fn capped(mut filter: EnvFilter) -> EnvFilter {
    for target in CAPPED {
        if let Ok(d) = format!("{target}=debug").parse() {
            filter = filter.add_directive(d);
        }
    }
    filter
}

/// Install the subscriber: the terminal always, the JSON file when `file` names the
/// folder and config. A file that cannot be opened is said on the terminal; the host runs
/// on without it.
pub fn init(file: Option<(PathBuf, LogConfig)>) -> Guard {
    let terminal = fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(capped(
            EnvFilter::try_from_env("POLYBOX_LOG").unwrap_or_else(|_| EnvFilter::new("warn")),
        ));
    let mut problem = None;
    let json = file.and_then(|(dir, config)| {
        let filter = match EnvFilter::try_new(&config.level) {
            Ok(f) => capped(f),
            Err(e) => {
                problem = Some(format!("log.level = {:?}: {e}", config.level));
                return None;
            }
        };
        if let Err(e) = std::fs::create_dir_all(&dir) {
            problem = Some(format!("no log file in {}: {e}", dir.display()));
            return None;
        }
        let appender = tracing_appender::rolling::Builder::new()
            .rotation(tracing_appender::rolling::Rotation::DAILY)
            .filename_prefix("polybox")
            .filename_suffix("log")
            .max_log_files(config.keep_days.max(1))
            .build(&dir);
        match appender {
            Ok(appender) => {
                let (writer, guard) = tracing_appender::non_blocking(appender);
                let layer = fmt::layer()
                    .json()
                    .with_current_span(false)
                    .with_span_list(false)
                    .with_writer(writer)
                    .with_filter(filter);
                Some((layer, guard))
            }
            Err(e) => {
                problem = Some(format!("no log file in {}: {e}", dir.display()));
                None
            }
        }
    });
    let (layer, guard) = json.unzip();
    tracing_subscriber::registry()
        .with(terminal)
        .with(layer)
        .init();
    if let Some(p) = problem {
        tracing::warn!("{p}");
    }
    Guard { _flush: guard }
}
