//! `polybox record`: the market feed written to a file that `polybox replay` reads as is.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde_json::value::RawValue;
use tokio::sync::mpsc;

use super::feed::{self, FeedConfig, FeedEvent};

/// What a recording session saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordStats {
    /// Frames written.
    pub frames: u64,
    /// Connections made.
    pub connections: u32,
    /// Drops and failed connects.
    pub disconnects: u32,
    /// Frames skipped because they were not JSON.
    pub skipped: u64,
}

/// Why a recording failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The output file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The problem.
        source: std::io::Error,
    },
    /// No tokens to subscribe to.
    #[error("no tokens to record: pass --tokens ID,ID")]
    NoTokens,
}

/// One recording line: `{"recv_ts": MS, "msg": FRAME}` with the frame verbatim.
pub fn line(recv_ts: u64, frame: &RawValue) -> String {
    format!("{{\"recv_ts\":{recv_ts},\"msg\":{}}}", frame.get())
}

/// Record `tokens` from the feed for `duration` into `out`, through drops and stalls.
pub async fn record(
    config: FeedConfig,
    tokens: Vec<String>,
    out: &Path,
    duration: Duration,
) -> Result<RecordStats, RecordError> {
    if tokens.is_empty() {
        return Err(RecordError::NoTokens);
    }
    let write_err = |source| RecordError::Write {
        path: out.display().to_string(),
        source,
    };
    let file = std::fs::File::create(out).map_err(write_err)?;
    let mut w = std::io::BufWriter::new(file);
    let (tx, mut rx) = mpsc::channel(4_096);
    let task = tokio::spawn(feed::run(config, tokens, tx, std::sync::Arc::default()));
    let stop = tokio::time::sleep(duration);
    tokio::pin!(stop);
    let mut stats = RecordStats::default();
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => break,
            event = rx.recv() => match event {
                Some(FeedEvent::Frame { recv_ts, text }) => match serde_json::from_str::<&RawValue>(&text) {
                    Ok(raw) => {
                        writeln!(w, "{}", line(recv_ts, raw)).map_err(write_err)?;
                        stats.frames += 1;
                    }
                    Err(_) => stats.skipped += 1,
                },
                Some(FeedEvent::Connected { connection }) => {
                    stats.connections = connection;
                    w.flush().map_err(write_err)?;
                }
                Some(FeedEvent::Disconnected { .. }) => stats.disconnects += 1,
                None => break,
            }
        }
    }
    task.abort();
    w.flush().map_err(write_err)?;
    Ok(stats)
}
