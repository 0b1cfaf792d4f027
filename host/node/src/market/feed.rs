//! The market-channel WebSocket client: subscribes to tokens, keeps the socket alive with
//! `PING`, notices a silent stall, and reconnects with capped exponential backoff and
//! jitter (reset after a healthy period), resubscribing each time. The exchange sends
//! fresh `book` snapshots after every subscription (`initial_dump`), so books are whole
//! again before strategies see them.
//!
//! The tokens it follows are a [`Subscription`]: whoever loads, swaps or unloads strategies
//! changes the set, and the feed sends `subscribe`/`unsubscribe` operations on the open
//! socket (the exchange answers a new subscription with its snapshots). With no tokens it
//! holds no connection, so the stale watchdog only runs while subscribed.
//!
//! It never dies quietly: every connection, drop and stall is an event on its channel,
//! and it only stops when the receiver or the subscription is gone.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use polybox_core::clock::{Clock, WallClock};
use std::sync::Arc;

use tokio::sync::{Notify, mpsc, watch};
use tokio::time::{Instant, sleep, timeout};
use tokio_tungstenite::tungstenite::Message;

/// How the feed connects and when it gives up on a connection.
#[derive(Debug, Clone)]
pub struct FeedConfig {
    /// WebSocket base URL; the market channel is `{ws_url}/market`.
    pub ws_url: String,
    /// Keep-alive `PING` interval.
    pub ping_every: Duration,
    /// No message at all for this long while subscribed: reconnect.
    pub stale_after: Duration,
    /// First reconnect delay.
    pub backoff_min: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
    /// A connection that lived this long resets the backoff.
    pub healthy_after: Duration,
    /// Connect (and handshake) timeout.
    pub connect_timeout: Duration,
}

impl FeedConfig {
    /// Defaults for `ws_url`: ping every 10 s, stale after 30 s, backoff 0.5 s → 30 s,
    /// reset after 60 s healthy, 5 s connect timeout.
    pub fn new(ws_url: &str) -> Self {
        FeedConfig {
            ws_url: ws_url.trim_end_matches('/').to_owned(),
            ping_every: Duration::from_secs(10),
            stale_after: Duration::from_secs(30),
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            healthy_after: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// What the feed reports, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEvent {
    /// Subscribed (again): snapshots follow.
    Connected {
        /// Connections made so far, this one included.
        connection: u32,
    },
    /// One frame from the exchange, as received.
    Frame {
        /// Receive time, UTC ms.
        recv_ts: u64,
        /// The frame's text.
        text: String,
    },
    /// The connection ended (or could not be made); a reconnect follows.
    Disconnected {
        /// Why, for people.
        reason: String,
        /// Delay before the next attempt.
        retry_in: Duration,
    },
}

/// `wss://` uses rustls with the aws-lc-rs provider (the exchange client's) and the webpki roots; rustls needs the
/// provider installed once per process (a second install is a no-op).
pub fn install_tls_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// Feed health, counted by the consumer of the feed's events.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FeedHealth {
    /// Frames received.
    pub frames: u64,
    /// Connections made.
    pub connections: u32,
    /// Drops, stalls, resyncs and failed connects.
    pub disconnects: u32,
    /// When the current connection was made, UTC ms (0 while down).
    pub connected_since_ms: u64,
    /// Time since the last frame when counted, ms.
    pub last_message_age_ms: u64,
    /// Receive time of the last frame, UTC ms.
    #[serde(skip)]
    pub last_message_ms: u64,
}

impl FeedHealth {
    /// Count one event received at `now_ms`.
    pub fn observe(&mut self, event: &FeedEvent, now_ms: u64) {
        match event {
            FeedEvent::Frame { recv_ts, .. } => {
                self.frames += 1;
                self.last_message_ms = *recv_ts;
            }
            FeedEvent::Connected { connection } => {
                self.connections = *connection;
                self.connected_since_ms = now_ms;
                tracing::info!(connection, "market feed connected and subscribed");
            }
            FeedEvent::Disconnected { .. } => {
                self.disconnects += 1;
                self.connected_since_ms = 0;
            }
        }
    }

    /// Age of the last frame at `now_ms`.
    pub fn finish(&mut self, now_ms: u64) {
        self.last_message_age_ms = now_ms.saturating_sub(self.last_message_ms);
    }
}

/// The tokens the feed follows. The owner sets the whole set (`send_replace`); the feed
/// works out what to subscribe and unsubscribe. Dropping it stops the feed.
pub type Subscription = watch::Sender<BTreeSet<String>>;

/// A subscription to these tokens, and the receiver the feed takes.
pub fn subscription(tokens: &[String]) -> (Subscription, watch::Receiver<BTreeSet<String>>) {
    watch::channel(tokens.iter().cloned().collect())
}

/// The message the market channel expects first.
pub fn subscribe_message(tokens: &BTreeSet<String>) -> String {
    serde_json::json!({
        "type": "market",
        "assets_ids": tokens,
        "custom_feature_enabled": true,
        "initial_dump": true,
    })
    .to_string()
}

/// A change on an open socket: `operation` is `subscribe` or `unsubscribe`.
pub fn operation_message(operation: &str, tokens: &BTreeSet<String>) -> String {
    if operation == "subscribe" {
        serde_json::json!({"operation": operation, "assets_ids": tokens, "custom_feature_enabled": true})
    } else {
        serde_json::json!({"operation": operation, "assets_ids": tokens})
    }
    .to_string()
}

/// How a session ended.
enum End {
    /// A failure: back off before reconnecting.
    Failed(String),
    /// Asked for (resync, or nothing left to follow): reconnect at once.
    Asked(String),
    /// The consumer or the subscription is gone.
    Stopped,
}

/// Run the feed until the receiver of `tx` or the [`Subscription`] is dropped.
/// Cancel-safe: dropping the future closes the socket.
pub async fn run(
    config: FeedConfig,
    mut tokens: watch::Receiver<BTreeSet<String>>,
    tx: mpsc::Sender<FeedEvent>,
    resync: Arc<Notify>,
) {
    let url = format!("{}/market", config.ws_url);
    install_tls_provider();
    let mut backoff = config.backoff_min;
    let mut connection = 0u32;
    loop {
        // Nothing to follow: hold no socket until there is.
        if tokens.wait_for(|t| !t.is_empty()).await.is_err() {
            return;
        }
        let started = Instant::now();
        let reason = match timeout(
            config.connect_timeout,
            tokio_tungstenite::connect_async(&url),
        )
        .await
        {
            Err(_) => format!(
                "connect to {url} timed out after {:?}",
                config.connect_timeout
            ),
            Ok(Err(e)) => format!("cannot connect to {url}: {e}"),
            Ok(Ok((ws, _))) => {
                connection += 1;
                match session(ws, &config, &mut tokens, connection, &tx, &resync).await {
                    End::Stopped => return,
                    End::Failed(reason) => reason,
                    End::Asked(reason) => {
                        // A requested reconnect is not a failure: no backoff.
                        backoff = config.backoff_min;
                        if tx
                            .send(FeedEvent::Disconnected {
                                reason,
                                retry_in: Duration::ZERO,
                            })
                            .await
                            .is_err()
                        {
                            return;
                        }
                        continue;
                    }
                }
            }
        };
        if tx.is_closed() {
            return;
        }
        if started.elapsed() >= config.healthy_after {
            backoff = config.backoff_min;
        }
        // Jitter in [0.5, 1.5) of the backoff, from the clock's low bits.
        let jitter = 0.5 + (WallClock.now_ms() % 1_000) as f64 / 1_000.0;
        let retry_in = backoff.mul_f64(jitter).min(config.backoff_max);
        tracing::warn!(url = %url, retry_in_ms = retry_in.as_millis() as u64, "market feed down: {reason}");
        if tx
            .send(FeedEvent::Disconnected { reason, retry_in })
            .await
            .is_err()
        {
            return;
        }
        sleep(retry_in).await;
        backoff = (backoff * 2).min(config.backoff_max);
    }
}

/// One connection: subscribe, follow changes of the token set, and relay frames until it
/// drops or stalls.
async fn session<S>(
    mut ws: tokio_tungstenite::WebSocketStream<S>,
    config: &FeedConfig,
    tokens: &mut watch::Receiver<BTreeSet<String>>,
    connection: u32,
    tx: &mpsc::Sender<FeedEvent>,
    resync: &Notify,
) -> End
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut subscribed = tokens.borrow_and_update().clone();
    if let Err(e) = ws.send(Message::text(subscribe_message(&subscribed))).await {
        return End::Failed(format!("cannot subscribe: {e}"));
    }
    if tx.send(FeedEvent::Connected { connection }).await.is_err() {
        return End::Stopped;
    }
    let check_every = config
        .ping_every
        .min(config.stale_after / 4)
        .max(Duration::from_millis(10));
    let mut tick = tokio::time::interval(check_every);
    let mut last_ping = Instant::now();
    let mut last_message = Instant::now();
    loop {
        tokio::select! {
            biased;
            () = resync.notified() => {
                let _ = ws.close(None).await;
                return End::Asked("resync requested: a book stayed crossed".to_owned());
            }
            changed = tokens.changed() => {
                if changed.is_err() {
                    let _ = ws.close(None).await;
                    return End::Stopped;
                }
                let wanted = tokens.borrow_and_update().clone();
                if wanted.is_empty() {
                    let _ = ws.close(None).await;
                    return End::Asked("no tokens left to follow".to_owned());
                }
                let removed: BTreeSet<String> = subscribed.difference(&wanted).cloned().collect();
                let added: BTreeSet<String> = wanted.difference(&subscribed).cloned().collect();
                for (op, set) in [("unsubscribe", &removed), ("subscribe", &added)] {
                    if set.is_empty() {
                        continue;
                    }
                    if let Err(e) = ws.send(Message::text(operation_message(op, set))).await {
                        return End::Failed(format!("cannot {op}: {e}"));
                    }
                    tracing::info!(tokens = ?set, "market feed: {op}");
                }
                subscribed = wanted;
            }
            msg = ws.next() => {
                last_message = Instant::now();
                match msg {
                    Some(Ok(Message::Text(text))) => {
                        if text.as_str() == "PONG" {
                            continue;
                        }
                        let event = FeedEvent::Frame { recv_ts: WallClock.now_ms(), text: text.to_string() };
                        if tx.send(event).await.is_err() {
                            let _ = ws.close(None).await;
                            return End::Stopped;
                        }
                    }
                    Some(Ok(Message::Ping(p))) => {
                        if let Err(e) = ws.send(Message::Pong(p)).await {
                            return End::Failed(format!("cannot answer a ping: {e}"));
                        }
                    }
                    Some(Ok(Message::Close(frame))) => {
                        return End::Failed(format!("closed by the server{}", frame.map(|f| format!(": {} {}", f.code, f.reason)).unwrap_or_default()));
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return End::Failed(format!("connection error: {e}")),
                    None => return End::Failed("connection closed".to_owned()),
                }
            }
            _ = tick.tick() => {
                if last_message.elapsed() >= config.stale_after {
                    return End::Failed(format!("stale: no message for {:?}", config.stale_after));
                }
                if last_ping.elapsed() >= config.ping_every {
                    last_ping = Instant::now();
                    if let Err(e) = ws.send(Message::text("PING")).await {
                        return End::Failed(format!("cannot send PING: {e}"));
                    }
                }
            }
        }
    }
}
