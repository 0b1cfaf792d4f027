//! `polybox record` (and `polybox run --record`): the market feed written to a file that
//! `polybox replay` reads as is, starting with the REST books of the tokens (tick size,
//! minimum size, neg-risk) when the exchange's REST API is reachable.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use polybox_core::clock::{Clock, WallClock};
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use super::feed::{self, FeedConfig, FeedEvent};
use super::rest::RestBooks;

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

/// A REST book line: `{"recv_ts": MS, "rest_book": BODY}` with the `/book` body verbatim.
pub fn rest_line(recv_ts: u64, body: &RawValue) -> String {
    format!("{{\"recv_ts\":{recv_ts},\"rest_book\":{}}}", body.get())
}

/// An open recording file.
#[derive(Debug)]
pub struct Recorder {
    path: PathBuf,
    out: BufWriter<File>,
    /// What was written.
    pub stats: RecordStats,
}

impl Recorder {
    /// Create (or truncate) `path`.
    pub fn create(path: &Path) -> Result<Recorder, RecordError> {
        let file = File::create(path).map_err(|source| RecordError::Write {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Recorder {
            path: path.to_owned(),
            out: BufWriter::new(file),
            stats: RecordStats::default(),
        })
    }

    fn err(&self, source: std::io::Error) -> RecordError {
        RecordError::Write {
            path: self.path.display().to_string(),
            source,
        }
    }

    /// Write prepared lines (the REST books).
    pub fn lines(&mut self, lines: &[String]) -> Result<(), RecordError> {
        for l in lines {
            writeln!(self.out, "{l}").map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Write one feed event: frames are written, connections flush the file.
    pub fn event(&mut self, event: &FeedEvent) -> Result<(), RecordError> {
        match event {
            FeedEvent::Frame { recv_ts, text } => match serde_json::from_str::<&RawValue>(text) {
                Ok(raw) => {
                    writeln!(self.out, "{}", line(*recv_ts, raw)).map_err(|e| self.err(e))?;
                    self.stats.frames += 1;
                }
                Err(_) => self.stats.skipped += 1,
            },
            FeedEvent::Connected { connection } => {
                self.stats.connections = *connection;
                self.flush()?;
            }
            FeedEvent::Disconnected { .. } => self.stats.disconnects += 1,
        }
        Ok(())
    }

    /// Flush to disk.
    pub fn flush(&mut self) -> Result<(), RecordError> {
        self.out.flush().map_err(|e| self.err(e))
    }
}

/// Record `tokens` from the feed for `duration` into `out`, through drops and stalls,
/// after their REST books (from `rest`, when given and reachable).
pub async fn record(
    config: FeedConfig,
    rest: Option<RestBooks>,
    tokens: Vec<String>,
    out: &Path,
    duration: Duration,
) -> Result<RecordStats, RecordError> {
    if tokens.is_empty() {
        return Err(RecordError::NoTokens);
    }
    let mut w = Recorder::create(out)?;
    if let Some(rest) = rest {
        w.lines(&rest.lines(&tokens, || WallClock.now_ms()).await)?;
    }
    let (tx, mut rx) = mpsc::channel(4_096);
    let (_subscription, tokens) = feed::subscription(&tokens);
    let task = tokio::spawn(feed::run(config, tokens, tx, std::sync::Arc::default()));
    let stop = tokio::time::sleep(duration);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => break,
            event = rx.recv() => match event {
                Some(event) => w.event(&event)?,
                None => break,
            }
        }
    }
    task.abort();
    w.flush()?;
    Ok(w.stats)
}
