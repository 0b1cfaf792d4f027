//! A fake of the exchange's market data on 127.0.0.1, over real HTTP and WebSocket (axum):
//! the market channel at `/ws/market` and the REST order book at `/book`.
//!
//! It keeps true books, answers a subscription with `book` snapshots (as one array frame,
//! like the exchange's initial dump) and a later `{"operation":"subscribe"}` with the new
//! tokens' snapshots, streams `price_change` deltas in the exchange's format, answers
//! `PING` with `PONG`, closes with 1008 on a bad first frame, and injects faults: dropped
//! connections, silent stalls, duplicated and reordered messages, briefly crossed books.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State as AxumState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use polybox_core::money::{Price, Size};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio::time::Instant;

type Levels = BTreeMap<u32, u64>;

/// A book side as `(price, size)`, best first.
pub type Side = Vec<(Price, Size)>;

#[derive(Default)]
struct State {
    books: BTreeMap<String, (Levels, Levels)>,
    ts: u64,
    /// Bumped to make every open connection close at once.
    drop_epoch: u64,
    stall_until: Option<Instant>,
    connections: u32,
    subscriptions: Vec<Vec<String>>,
    operations: Vec<(String, Vec<String>)>,
    rest_books: u32,
}

#[derive(Clone)]
struct Shared {
    state: Arc<Mutex<State>>,
    tx: broadcast::Sender<String>,
}

/// The fake market channel.
pub struct FakeMarket {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    tx: broadcast::Sender<String>,
    rng: u64,
}

fn dec(micros: u64) -> String {
    Size::from_micros(micros).to_string()
}

fn levels_json(levels: &Levels, best_last_descending: bool) -> Vec<Value> {
    let mut v: Vec<Value> = levels
        .iter()
        .map(|(p, s)| json!({"price": dec(u64::from(*p)), "size": dec(*s)}))
        .collect();
    if best_last_descending {
        v.reverse();
    }
    v
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FakeMarket {
    /// Start on an ephemeral port with these tokens, each with a ten-level book.
    pub async fn start(tokens: &[&str], seed: u64) -> FakeMarket {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let mut state = State {
            ts: 1_795_650_000_000,
            ..State::default()
        };
        for t in tokens {
            let bids = (40..50).map(|k| (k * 10_000, 100_000_000)).collect();
            let asks = (51..61).map(|k| (k * 10_000, 100_000_000)).collect();
            state.books.insert((*t).to_owned(), (bids, asks));
        }
        let state = Arc::new(Mutex::new(state));
        let (tx, _) = broadcast::channel(4096);
        let server = FakeMarket {
            addr,
            state: Arc::clone(&state),
            tx: tx.clone(),
            rng: seed | 1,
        };
        let app = Router::new()
            .route("/ws/market", get(market_channel))
            .route("/book", get(rest_book))
            .with_state(Shared { state, tx });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        server
    }

    /// The WebSocket base URL (`/market` is appended by clients): `exchange.ws_url`.
    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// The REST base URL: `exchange.clob_url`.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `subscribe`/`unsubscribe` operations received on open sockets, in order.
    pub fn operations(&self) -> Vec<(String, Vec<String>)> {
        lock(&self.state).operations.clone()
    }

    /// REST `/book` requests answered.
    pub fn rest_books(&self) -> u32 {
        lock(&self.state).rest_books
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u32 {
        lock(&self.state).connections
    }

    /// Token lists of every subscription received.
    pub fn subscriptions(&self) -> Vec<Vec<String>> {
        lock(&self.state).subscriptions.clone()
    }

    /// The server's true book of a token: bids best first, asks best first.
    pub fn book(&self, token: &str) -> (Side, Side) {
        let st = lock(&self.state);
        let Some((b, a)) = st.books.get(token) else {
            return (Vec::new(), Vec::new());
        };
        let conv = |(p, s): (&u32, &u64)| (Price::from_micros(*p), Size::from_micros(*s));
        (
            b.iter().rev().map(conv).collect(),
            a.iter().map(conv).collect(),
        )
    }

    fn next(&mut self) -> u64 {
        // xorshift64: deterministic for a seed
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// One random level change on one token, applied to the truth; returns the frame.
    fn change(&mut self) -> String {
        let r = self.next();
        let mut st = lock(&self.state);
        st.ts += 1 + r % 50;
        let ts = st.ts;
        let tokens: Vec<String> = st.books.keys().cloned().collect();
        let token = tokens[(r % tokens.len() as u64) as usize].clone();
        let buy = (r >> 8).is_multiple_of(2);
        let (bids, asks) = st.books.get_mut(&token).expect("token");
        // Stay uncrossed: bids 0.30..0.50, asks 0.51..0.70.
        let (side, price, levels) = if buy {
            ("BUY", (30 + (r >> 16) % 21) as u32 * 10_000, bids)
        } else {
            ("SELL", (51 + (r >> 16) % 20) as u32 * 10_000, asks)
        };
        let size = if (r >> 24).is_multiple_of(4) {
            0
        } else {
            ((r >> 32) % 500 + 1) * 1_000_000
        };
        if size == 0 {
            levels.remove(&price);
        } else {
            levels.insert(price, size);
        }
        json!({"event_type": "price_change", "market": "0xfake", "timestamp": ts.to_string(),
               "price_changes": [{"asset_id": token, "price": dec(u64::from(price)), "size": dec(size), "side": side, "hash": "h"}]})
        .to_string()
    }

    /// Send `n` random deltas.
    pub fn step(&mut self, n: usize) {
        for _ in 0..n {
            let frame = self.change();
            let _ = self.tx.send(frame);
        }
    }

    /// Send a delta twice.
    pub fn duplicate(&mut self) {
        let frame = self.change();
        let _ = self.tx.send(frame.clone());
        let _ = self.tx.send(frame);
    }

    /// Make two deltas and send them in reverse order.
    pub fn reorder(&mut self) {
        let (a, b) = (self.change(), self.change());
        let _ = self.tx.send(b);
        let _ = self.tx.send(a);
    }

    /// Cross a book for one message, then uncross it (as the exchange's bursts do).
    pub fn cross_briefly(&mut self, token: &str) {
        let mut st = lock(&self.state);
        st.ts += 1;
        let ts = st.ts.to_string();
        let frame = |price: u32, size: u64, side: &str| {
            json!({"event_type": "price_change", "market": "0xfake", "timestamp": ts,
                   "price_changes": [{"asset_id": token, "price": dec(u64::from(price)), "size": dec(size), "side": side}]})
            .to_string()
        };
        // a bid at 0.60 through the asks, then gone again
        let _ = self.tx.send(frame(600_000, 5_000_000, "BUY"));
        let _ = self.tx.send(frame(600_000, 0, "BUY"));
        if let Some((bids, _)) = st.books.get_mut(token) {
            bids.remove(&600_000);
        }
    }

    /// Send a delta that crosses a book and is not in the truth: only a fresh snapshot
    /// repairs the client (as after a lost message).
    pub fn corrupt(&mut self, token: &str) {
        let ts = {
            let mut st = lock(&self.state);
            st.ts += 1;
            st.ts.to_string()
        };
        let frame = json!({"event_type": "price_change", "market": "0xfake", "timestamp": ts,
                           "price_changes": [{"asset_id": token, "price": "0.6", "size": "5", "side": "BUY"}]})
        .to_string();
        let _ = self.tx.send(frame);
    }

    /// Close every open connection now.
    pub fn drop_connections(&self) {
        lock(&self.state).drop_epoch += 1;
    }

    /// Go silent (no frames, no PONG) for `d`; frames meanwhile are lost.
    pub fn stall(&self, d: Duration) {
        lock(&self.state).stall_until = Some(Instant::now() + d);
    }
}

fn book_json(st: &State, token: &str) -> Option<Value> {
    let (bids, asks) = st.books.get(token)?;
    Some(
        json!({"asset_id": token, "market": "0xfake", "timestamp": st.ts.to_string(),
                "hash": "", "bids": levels_json(bids, false), "asks": levels_json(asks, true),
                "tick_size": "0.01", "min_order_size": "5", "neg_risk": false}),
    )
}

/// The snapshots of `tokens` as one array frame of `book` events.
fn snapshot_frame<'a>(st: &State, tokens: impl IntoIterator<Item = &'a String>) -> String {
    let books: Vec<Value> = tokens
        .into_iter()
        .filter_map(|t| book_json(st, t))
        .map(|mut b| {
            // The market channel does not carry neg-risk (only REST `/book` does).
            if let Some(o) = b.as_object_mut() {
                o.remove("neg_risk");
            }
            b["event_type"] = json!("book");
            b
        })
        .collect();
    Value::Array(books).to_string()
}

#[derive(serde::Deserialize)]
struct BookQuery {
    token_id: String,
}

/// `GET /book?token_id=…`: the REST order-book summary, or 404 as the exchange says it.
async fn rest_book(AxumState(shared): AxumState<Shared>, Query(q): Query<BookQuery>) -> Response {
    let mut st = lock(&shared.state);
    st.rest_books += 1;
    match book_json(&st, &q.token_id) {
        Some(b) => axum::Json(b).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": "No orderbook exists for the requested token id"})),
        )
            .into_response(),
    }
}

async fn market_channel(ws: WebSocketUpgrade, AxumState(shared): AxumState<Shared>) -> Response {
    let rx = shared.tx.subscribe();
    ws.on_upgrade(move |socket| serve(socket, shared.state, rx))
}

fn asset_ids(v: &Value) -> Vec<String> {
    v["assets_ids"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn serve(mut ws: WebSocket, state: Arc<Mutex<State>>, mut rx: broadcast::Receiver<String>) {
    // The first message must be the subscription; anything else is closed with 1008.
    let first = match ws.recv().await {
        Some(Ok(Message::Text(t))) => serde_json::from_str::<Value>(t.as_str())
            .ok()
            .filter(|v| v["type"] == "market"),
        _ => return,
    };
    let Some(first) = first else {
        let _ = ws
            .send(Message::Close(Some(CloseFrame {
                code: 1008,
                reason: "invalid subscription payload".into(),
            })))
            .await;
        return;
    };
    let mut tokens: BTreeSet<String> = asset_ids(&first).into_iter().collect();
    let (snapshot, epoch) = {
        let mut st = lock(&state);
        st.connections += 1;
        st.subscriptions.push(tokens.iter().cloned().collect());
        (snapshot_frame(&st, &tokens), st.drop_epoch)
    };
    if ws.send(Message::text(snapshot)).await.is_err() {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    loop {
        let (dropped, stalled) = {
            let st = lock(&state);
            (
                st.drop_epoch != epoch,
                st.stall_until.is_some_and(|u| Instant::now() < u),
            )
        };
        if dropped {
            let _ = ws.send(Message::Close(None)).await;
            return;
        }
        tokio::select! {
            msg = ws.recv() => match msg {
                Some(Ok(Message::Text(t))) if t.as_str() == "PING" => {
                    if !stalled && ws.send(Message::text("PONG")).await.is_err() { return; }
                }
                Some(Ok(Message::Text(t))) => {
                    let Ok(v) = serde_json::from_str::<Value>(t.as_str()) else { continue };
                    let op = v["operation"].as_str().unwrap_or_default().to_owned();
                    let ids = asset_ids(&v);
                    let reply = {
                        let mut st = lock(&state);
                        st.operations.push((op.clone(), ids.clone()));
                        match op.as_str() {
                            "subscribe" => {
                                let new: Vec<String> = ids.into_iter().filter(|t| tokens.insert(t.clone())).collect();
                                Some(snapshot_frame(&st, &new))
                            }
                            "unsubscribe" => {
                                for t in &ids { tokens.remove(t); }
                                None
                            }
                            _ => None,
                        }
                    };
                    if let Some(frame) = reply
                        && ws.send(Message::text(frame)).await.is_err()
                    {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                _ => return,
            },
            frame = rx.recv() => match frame {
                Ok(f) => {
                    let is_for_us = tokens.iter().any(|t| f.contains(t.as_str()));
                    if !stalled && is_for_us && ws.send(Message::text(f)).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = tick.tick() => {}
        }
    }
}
