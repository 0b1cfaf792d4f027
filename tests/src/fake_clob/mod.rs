//! A fake Polymarket CLOB v2 on 127.0.0.1 that the host's real client code (the official
//! `polymarket_client_sdk_v2`) talks to unmodified: the REST endpoints with the exchange's
//! JSON shapes, L1 and L2 authentication **verified**, V2 orders whose EIP-712 signatures
//! are **verified** (V1 orders refused with `order_version_mismatch`), a matching engine with
//! balances, the order-safety heartbeat, and faults injected on command.
//!
//! `GET /admin/state` (no auth) shows what the exchange saw; `POST /admin/fault`,
//! `/admin/mode` and `/admin/take` drive it from outside (the `fake-clob` binary).

pub mod auth;
pub mod exchange;
pub mod signing;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use alloy::primitives::{Address, B256, U256};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use polybox_core::clock::{Clock, WallClock};
use serde_json::{Value, json};

use auth::ApiKey;
use exchange::{Exchange, Market, NewOrder, ONE, OrderType, Side, dec};

/// A fault to inject into the next matching requests.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// Answer with this status and body (JSON or not), and `Retry-After` when given.
    Status {
        /// HTTP status.
        status: u16,
        /// Body text.
        body: String,
        /// `Retry-After` seconds.
        retry_after: Option<u64>,
    },
    /// Wait this long before handling the request.
    Delay(Duration),
    /// Handle the request, then wait this long before answering (the client gives up: the
    /// outcome is unknown to it, but the exchange acted).
    LoseResponse(Duration),
    /// Handle the request, then break the connection instead of answering.
    Reset,
    /// A Cloudflare-style HTML page with 403.
    Html403,
}

/// A fault and where it applies.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// `METHOD /path` prefix, e.g. `POST /order` (empty: any request).
    pub on: String,
    /// What happens.
    pub kind: FaultKind,
    /// How many requests it hits.
    pub count: u32,
}

/// A fault of the user WebSocket channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WsFault {
    /// Normal.
    #[default]
    None,
    /// Every message twice.
    Duplicate,
    /// The messages of each tick in reverse order (an order's update before its placement,
    /// a trade's later status before its earlier one).
    Reorder,
    /// Open sockets are kept open, but nothing is sent and `PING`s are not answered.
    Stall,
}

/// Exchange-wide trading modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Normal.
    #[default]
    Open,
    /// Only cancels.
    CancelOnly,
    /// Only post-only orders and cancels.
    PostOnly,
    /// Nothing.
    Disabled,
}

/// What the exchange saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    /// Orders accepted (resting or matched).
    pub orders_accepted: u64,
    /// Orders refused (any reason after authentication).
    pub orders_rejected: u64,
    /// Orders whose signature did not recover to their signer.
    pub signature_failures: u64,
    /// Requests refused for L1 or L2 authentication.
    pub auth_failures: u64,
    /// Fills of API-key orders (each side counted).
    pub fills: u64,
    /// Heartbeats received.
    pub heartbeats: u64,
    /// Orders cancelled because their key's heartbeat stopped.
    pub heartbeat_cancels: u64,
    /// Requests answered by an injected fault.
    pub faults: u64,
    /// User-channel subscriptions accepted.
    pub user_connections: u64,
}

struct Inner {
    exchange: Exchange,
    keys: Vec<ApiKey>,
    counters: Counters,
    faults: VecDeque<Fault>,
    mode: Mode,
    /// Last heartbeat id and time (s) per API key, once it started sending them.
    heartbeats: BTreeMap<String, (String, u64)>,
    heartbeat_timeout_s: u64,
    page_size: usize,
    next_heartbeat: u64,
    /// When each order post arrived.
    posts: Vec<Instant>,
    ws_fault: WsFault,
    /// Bumped to drop every open user-channel socket.
    ws_generation: u64,
}

type Shared = Arc<Mutex<Inner>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Inner> {
    s.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn now_s() -> u64 {
    WallClock.now_ms() / 1_000
}

/// Bring the exchange's clock to now and its trades' settlement with it.
fn clock(inner: &mut Inner) {
    let ms = WallClock.now_ms();
    inner.exchange.now_s = ms / 1_000;
    inner.exchange.now_ms = ms;
    inner.exchange.advance_settlement();
}

/// The fake exchange, running until dropped with its runtime.
pub struct FakeClob {
    addr: SocketAddr,
    inner: Shared,
}

/// Token ids of the fake's markets: two binary markets, the second neg-risk.
pub const TOKENS: [&str; 4] = [
    "15871154585880608648532107628464183779895785213830018178010423617714102767076",
    "99920934651435586775038877380223724073374199451810545861447160390199026872860",
    "71321045679252212594626385532706912750332728571942532289631379312455583992563",
    "52114319501245915516055106046884209969926127482827954674443846427813813222426",
];

impl FakeClob {
    /// Start on `port` (0: any free port) on 127.0.0.1 with two markets, background books
    /// and $1,000 of pUSD for every funder it has not seen.
    pub async fn start(port: u16) -> std::io::Result<FakeClob> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let mut exchange = Exchange::new(1_000 * ONE, now_s());
        exchange.add_market(
            Market {
                condition: format!("0x{}", "dd".repeat(32)),
                tokens: [TOKENS[0].to_owned(), TOKENS[1].to_owned()],
                tick: 10_000,
                min_size: 5 * ONE,
                neg_risk: false,
            },
            500_000,
            100 * ONE,
        );
        exchange.add_market(
            Market {
                condition: format!("0x{}", "ee".repeat(32)),
                tokens: [TOKENS[2].to_owned(), TOKENS[3].to_owned()],
                tick: 10_000,
                min_size: 5 * ONE,
                neg_risk: true,
            },
            300_000,
            100 * ONE,
        );
        let inner = Arc::new(Mutex::new(Inner {
            exchange,
            keys: Vec::new(),
            counters: Counters::default(),
            faults: VecDeque::new(),
            mode: Mode::Open,
            heartbeats: BTreeMap::new(),
            heartbeat_timeout_s: 10,
            page_size: 100,
            next_heartbeat: 0,
            posts: Vec::new(),
            ws_fault: WsFault::None,
            ws_generation: 0,
        }));
        let app = Router::new()
            .route("/ws/user", axum::routing::get(user_channel))
            .fallback(handle)
            .with_state(Arc::clone(&inner));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        tokio::spawn(heartbeat_watch(Arc::downgrade(&inner)));
        Ok(FakeClob { addr, inner })
    }

    /// The REST base URL (`exchange.clob_url`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The WebSocket base of its user channel (`{base}/user`).
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Inject a fault.
    pub fn fault(&self, fault: Fault) {
        lock(&self.inner).faults.push_back(fault);
    }

    /// Drop the faults not yet served.
    pub fn clear_faults(&self) {
        lock(&self.inner).faults.clear();
    }

    /// The next `n` matches go `MATCHED` → `RETRYING` → `FAILED` on chain (and are
    /// reversed) instead of `MATCHED` → `MINED` → `CONFIRMED`.
    pub fn fail_next_matches(&self, n: u32) {
        lock(&self.inner).exchange.fail_next_matches = n;
    }

    /// Time between a trade's settlement statuses.
    pub fn set_settle_step(&self, d: Duration) {
        lock(&self.inner).exchange.settle_step_ms =
            u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    }

    /// Misbehave on the user channel from now on (`WsFault::None` to stop).
    pub fn user_ws_fault(&self, fault: WsFault) {
        lock(&self.inner).ws_fault = fault;
    }

    /// Drop every open user-channel socket (without a close frame).
    pub fn drop_user_sockets(&self) {
        lock(&self.inner).ws_generation += 1;
    }

    /// Set the trading mode.
    pub fn set_mode(&self, mode: Mode) {
        lock(&self.inner).mode = mode;
    }

    /// Page size of `/data/orders` and `/data/trades`.
    pub fn set_page_size(&self, n: usize) {
        lock(&self.inner).page_size = n.max(1);
    }

    /// Seconds without a heartbeat after which a key's orders are cancelled.
    pub fn set_heartbeat_timeout(&self, secs: u64) {
        lock(&self.inner).heartbeat_timeout_s = secs;
    }

    /// What the exchange saw.
    pub fn counters(&self) -> Counters {
        lock(&self.inner).counters.clone()
    }

    /// Resting orders of every key, as `/admin/state` lists them.
    pub fn open_orders(&self) -> Vec<Value> {
        self.state()["open_orders"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The admin state JSON (as `GET /admin/state`).
    pub fn state(&self) -> Value {
        admin_state(&lock(&self.inner))
    }

    /// The shortest time between two order posts (`None` before the second).
    pub fn min_post_gap(&self) -> Option<Duration> {
        let inner = lock(&self.inner);
        inner
            .posts
            .windows(2)
            .map(|w| w[1].saturating_duration_since(w[0]))
            .min()
    }

    /// Ids of every order the exchange accepted, in id order.
    pub fn accepted_ids(&self) -> Vec<String> {
        lock(&self.inner).exchange.orders.keys().cloned().collect()
    }

    /// Order posts received.
    pub fn posts(&self) -> usize {
        lock(&self.inner).posts.len()
    }

    /// Shares of `token` held by `funder`, micro.
    pub fn position(&self, funder: Address, token: &str) -> u64 {
        lock(&self.inner)
            .exchange
            .positions
            .get(&(funder, token.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// A taker from the rest of the market: returns shares matched.
    pub fn take(&self, token: &str, side: Side, limit: u64, size: u64) -> u64 {
        take(&mut lock(&self.inner), token, side, limit, size)
    }
}

/// A taker from the rest of the market, with the makers' fills counted.
fn take(inner: &mut Inner, token: &str, side: Side, limit: u64, size: u64) -> u64 {
    clock(inner);
    let before = inner.exchange.trades.len();
    let matched = inner.exchange.market_take(token, side, limit, size);
    let fills = inner.exchange.trades[before..]
        .iter()
        .filter(|t| t.trader_side == "MAKER")
        .count();
    inner.counters.fills += fills as u64;
    matched
}

fn respond(status: u16, body: Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(body)).into_response()
}

fn error(status: u16, msg: &str) -> Response {
    respond(status, json!({ "error": msg }))
}

fn query(uri: &Uri) -> BTreeMap<String, String> {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn take_fault(inner: &mut Inner, request: &str) -> Option<FaultKind> {
    let i = inner
        .faults
        .iter()
        .position(|f| request.starts_with(&f.on))?;
    let f = inner.faults.get_mut(i)?;
    f.count = f.count.saturating_sub(1);
    let kind = f.kind.clone();
    if f.count == 0 {
        inner.faults.remove(i);
    }
    inner.counters.faults += 1;
    Some(kind)
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let request = format!("{method} {path}");
    if path.starts_with("/admin/") {
        return admin(&shared, &method, &path, &body);
    }
    let fault = take_fault(&mut lock(&shared), &request);
    match fault {
        Some(FaultKind::Status {
            status,
            body,
            retry_after,
        }) => {
            let mut r = Response::builder().status(status);
            if let Some(s) = retry_after {
                r = r.header("Retry-After", s.to_string());
            }
            let ct = if body.trim_start().starts_with('{') {
                "application/json"
            } else {
                "text/html"
            };
            return r
                .header("Content-Type", ct)
                .body(Body::from(body))
                .unwrap_or_default();
        }
        Some(FaultKind::Html403) => {
            return Response::builder()
                .status(403)
                .header("Content-Type", "text/html")
                .body(Body::from("<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head><body>Sorry, you have been blocked</body></html>"))
                .unwrap_or_default();
        }
        Some(FaultKind::Delay(d)) => tokio::time::sleep(d).await,
        _ => {}
    }
    let response = route(&shared, &method, &uri, &headers, &body);
    match fault {
        Some(FaultKind::LoseResponse(d)) => {
            tokio::time::sleep(d).await;
            response
        }
        Some(FaultKind::Reset) => Response::builder()
            .status(200)
            .body(Body::from_stream(futures_util::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::other("connection reset by the fake"))
            })))
            .unwrap_or_default(),
        _ => response,
    }
}

fn route(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let mut inner = lock(shared);
    clock(&mut inner);
    let path = uri.path();
    let q = query(uri);
    let token = q.get("token_id").cloned().unwrap_or_default();
    match (method.as_str(), path) {
        ("GET", "/") => respond(200, json!("OK")),
        ("GET", "/time") => respond(200, json!(now_s())),
        ("GET", "/version") => respond(200, json!({"version": 2})),
        ("GET", "/tick-size") => match inner.exchange.market_of(&token) {
            Some(m) => respond(
                200,
                json!({"minimum_tick_size": m.tick as f64 / ONE as f64}),
            ),
            None => error(404, "market not found"),
        },
        ("GET", "/neg-risk") => match inner.exchange.market_of(&token) {
            Some(m) => respond(200, json!({"neg_risk": m.neg_risk})),
            None => error(404, "market not found"),
        },
        ("GET", "/fee-rate") => respond(200, json!({"base_fee": 0})),
        ("GET", "/book") => match book_json(&inner.exchange, &token) {
            Some(b) => respond(200, b),
            None => error(404, "No orderbook exists for the requested token id"),
        },
        ("GET", "/markets") => {
            let offset = cursor_offset(q.get("next_cursor"));
            let all: Vec<Value> = inner.exchange.markets.iter().map(market_json).collect();
            page(all, offset, inner.page_size)
        }
        ("GET", p) if p.starts_with("/markets/") => {
            let cid = &p["/markets/".len()..];
            match inner.exchange.markets.iter().find(|m| m.condition == cid) {
                Some(m) => respond(200, market_json(m)),
                None => error(404, "market not found"),
            }
        }
        ("GET", p) if p.starts_with("/markets-by-token/") => {
            let t = &p["/markets-by-token/".len()..];
            match inner.exchange.market_of(t) {
                Some(m) => respond(
                    200,
                    json!({"condition_id": m.condition, "primary_token_id": m.tokens[0], "secondary_token_id": m.tokens[1]}),
                ),
                None => error(404, "market not found"),
            }
        }
        ("POST", "/auth/api-key") | ("GET", "/auth/derive-api-key") => {
            let (address, nonce) = match auth::verify_l1(headers) {
                Ok(v) => v,
                Err(e) => {
                    inner.counters.auth_failures += 1;
                    return error(401, e);
                }
            };
            let key = ApiKey::derive(address, nonce);
            let exists = inner.keys.contains(&key);
            match (method.as_str(), exists) {
                ("POST", false) => {
                    inner.keys.push(key.clone());
                    respond(200, key.json())
                }
                ("POST", true) => error(400, "Could not create api key"),
                (_, true) => respond(200, key.json()),
                (_, false) => error(400, "Could not derive api key!"),
            }
        }
        _ => {
            let key = match auth::verify_l2(
                headers,
                &inner.keys,
                method.as_str(),
                path,
                body,
                now_s(),
                30,
            ) {
                Ok(k) => k.clone(),
                Err(e) => {
                    inner.counters.auth_failures += 1;
                    return error(401, e);
                }
            };
            authenticated(&mut inner, &key, method.as_str(), path, &q, body)
        }
    }
}

fn authenticated(
    inner: &mut Inner,
    key: &ApiKey,
    method: &str,
    path: &str,
    q: &BTreeMap<String, String>,
    body: &[u8],
) -> Response {
    let json_body = || serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
    if method == "POST" && (path == "/order" || path == "/orders") {
        inner.posts.push(Instant::now());
    }
    match (method, path) {
        ("POST", "/order") => {
            let v = json_body();
            match place(inner, key, &v) {
                Ok(r) => respond(200, r),
                Err((status, msg)) => {
                    inner.counters.orders_rejected += 1;
                    error(status, &msg)
                }
            }
        }
        ("POST", "/orders") => {
            let Some(orders) = json_body().as_array().cloned() else {
                return error(400, "Invalid order payload");
            };
            if orders.len() > 15 {
                return error(
                    400,
                    &format!(
                        "Too many orders in payload: {}, max allowed: 15",
                        orders.len()
                    ),
                );
            }
            let results: Vec<Value> = orders
                .iter()
                .map(|o| match place(inner, key, o) {
                    Ok(r) => r,
                    Err((_, msg)) => {
                        inner.counters.orders_rejected += 1;
                        json!({"errorMsg": msg, "orderID": "", "takingAmount": "", "makingAmount": "", "status": "", "success": true})
                    }
                })
                .collect();
            respond(200, Value::Array(results))
        }
        ("DELETE", "/order") => {
            if inner.mode == Mode::Disabled {
                return error(
                    503,
                    "Trading is currently disabled. Check polymarket.com for updates",
                );
            }
            let id = json_body()["orderID"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            cancel_many(inner, key, &[id])
        }
        ("DELETE", "/orders") => {
            let ids: Vec<String> = json_body()
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            cancel_many(inner, key, &ids)
        }
        ("DELETE", "/cancel-all") => {
            let ids = inner.exchange.live_orders(&key.key, None, None);
            cancel_many(inner, key, &ids)
        }
        ("DELETE", "/cancel-market-orders") => {
            let v = json_body();
            let ids =
                inner
                    .exchange
                    .live_orders(&key.key, v["market"].as_str(), v["asset_id"].as_str());
            cancel_many(inner, key, &ids)
        }
        ("GET", p) if p.starts_with("/data/order/") => {
            let id = &p["/data/order/".len()..];
            match inner.exchange.orders.get(id).filter(|o| o.owner == key.key) {
                Some(o) => respond(200, order_json(o)),
                None => respond(200, Value::Null),
            }
        }
        ("GET", "/data/orders") => {
            let all: Vec<Value> = inner
                .exchange
                .orders
                .values()
                .filter(|o| o.owner == key.key && o.status == "LIVE")
                .filter(|o| q.get("id").is_none_or(|id| &o.id == id))
                .filter(|o| q.get("market").is_none_or(|m| &o.market == m))
                .filter(|o| q.get("asset_id").is_none_or(|t| &o.token == t))
                .map(order_json)
                .collect();
            page(all, cursor_offset(q.get("next_cursor")), inner.page_size)
        }
        ("GET", "/data/trades") => {
            let all: Vec<Value> = inner
                .exchange
                .trades
                .iter()
                .filter(|t| t.owner == key.key)
                .filter(|t| q.get("id").is_none_or(|id| &t.id == id))
                .filter(|t| q.get("market").is_none_or(|m| &t.market == m))
                .filter(|t| q.get("asset_id").is_none_or(|a| &t.token == a))
                .filter(|t| {
                    q.get("after")
                        .and_then(|a| a.parse::<u64>().ok())
                        .is_none_or(|a| t.match_time > a)
                })
                .filter(|t| {
                    q.get("before")
                        .and_then(|b| b.parse::<u64>().ok())
                        .is_none_or(|b| t.match_time < b)
                })
                .map(trade_json)
                .collect();
            page(all, cursor_offset(q.get("next_cursor")), inner.page_size)
        }
        ("GET", "/balance-allowance") => {
            let funder = inner
                .exchange
                .orders
                .values()
                .find(|o| o.owner == key.key)
                .map_or(key.address, |o| o.maker);
            let balance = match q.get("asset_type").map(String::as_str) {
                Some("COLLATERAL") => inner.exchange.balance(funder),
                Some("CONDITIONAL") => inner
                    .exchange
                    .positions
                    .get(&(funder, q.get("token_id").cloned().unwrap_or_default()))
                    .copied()
                    .unwrap_or(0),
                _ => return error(400, "Invalid asset type"),
            };
            respond(
                200,
                json!({"balance": balance.to_string(), "allowances": {
                signing::EXCHANGE_V2.to_string(): "115792089237316195423570985008687907853269984665640564039457584007913129639935",
                signing::NEG_RISK_EXCHANGE_V2.to_string(): "115792089237316195423570985008687907853269984665640564039457584007913129639935"}}),
            )
        }
        ("GET", "/balance-allowance/update") => respond(200, json!({})),
        ("GET", "/auth/api-keys") => respond(200, json!({"apiKeys": [key.key]})),
        ("POST", "/v1/heartbeats") => {
            let sent = json_body()["heartbeat_id"].as_str().map(str::to_owned);
            let expected = inner.heartbeats.get(&key.key).map(|(id, _)| id.clone());
            if sent.is_some() && sent != expected {
                return respond(
                    400,
                    json!({"heartbeat_id": expected, "error": "Invalid heartbeat id"}),
                );
            }
            inner.next_heartbeat += 1;
            inner.counters.heartbeats += 1;
            let id = format!("00000000-0000-4000-9000-{:012x}", inner.next_heartbeat);
            inner
                .heartbeats
                .insert(key.key.clone(), (id.clone(), now_s()));
            respond(200, json!({"heartbeat_id": id, "error": null}))
        }
        _ => error(404, "not found"),
    }
}

/// Verify and place one order body; the JSON answer or (status, error).
fn place(inner: &mut Inner, key: &ApiKey, v: &Value) -> Result<Value, (u16, String)> {
    let bad = |m: &str| (400, m.to_owned());
    match inner.mode {
        Mode::Disabled => return Err((503, "Trading is currently disabled. Check polymarket.com for updates".to_owned())),
        Mode::CancelOnly => return Err((503, "Trading is currently cancel-only. New orders are not accepted, but cancels are allowed.".to_owned())),
        Mode::PostOnly if v["postOnly"] != json!(true) => {
            return Err((503, "post-only mode: only post-only orders and cancels are allowed".to_owned()));
        }
        _ => {}
    }
    let o = &v["order"];
    if !o.is_object() {
        return Err(bad("Invalid order payload"));
    }
    if o.get("nonce").is_some() || o.get("feeRateBps").is_some() || o.get("timestamp").is_none() {
        return Err(bad("order_version_mismatch"));
    }
    if v["owner"].as_str() != Some(key.key.as_str()) {
        return Err(bad("the order owner has to be the owner of the API KEY"));
    }
    let s = |f: &str| o[f].as_str().unwrap_or_default().to_owned();
    let u256 = |f: &str| -> Result<U256, (u16, String)> {
        let text = match &o[f] {
            Value::String(t) => t.clone(),
            Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        text.parse::<U256>()
            .map_err(|_| bad("Invalid order payload"))
    };
    let addr = |f: &str| {
        s(f).parse::<Address>()
            .map_err(|_| bad("Invalid order payload"))
    };
    let b256 = |f: &str| {
        s(f).parse::<B256>()
            .map_err(|_| bad("Invalid order payload"))
    };
    let side = match s("side").to_ascii_uppercase().as_str() {
        "BUY" => Side::Buy,
        "SELL" => Side::Sell,
        _ => return Err(bad("Invalid order payload")),
    };
    let order = signing::Order {
        salt: u256("salt")?,
        maker: addr("maker")?,
        signer: addr("signer")?,
        tokenId: u256("tokenId")?,
        makerAmount: u256("makerAmount")?,
        takerAmount: u256("takerAmount")?,
        side: if side == Side::Buy { 0 } else { 1 },
        signatureType: u8::try_from(o["signatureType"].as_u64().unwrap_or(0))
            .map_err(|_| bad("Invalid order payload"))?,
        timestamp: u256("timestamp")?,
        metadata: b256("metadata")?,
        builder: b256("builder")?,
    };
    let token = order.tokenId.to_string();
    let Some(neg_risk) = inner.exchange.market_of(&token).map(|m| m.neg_risk) else {
        return Err(bad("the market is not yet ready to process new orders"));
    };
    let digest = signing::order_digest(&order, neg_risk);
    if signing::recover(digest, &s("signature")) != Some(order.signer) {
        inner.counters.signature_failures += 1;
        return Err(bad("invalid signature"));
    }
    if order.signer != key.address {
        return Err(bad(
            "the order signer address has to be the address of the API KEY",
        ));
    }
    if order.signatureType == 0 && order.maker != order.signer {
        return Err(bad("invalid signature"));
    }
    let small = |x: U256| u64::try_from(x).map_err(|_| bad("Invalid order payload"));
    let (maker_amt, taker_amt) = (small(order.makerAmount)?, small(order.takerAmount)?);
    let (shares, usdc) = match side {
        Side::Buy => (taker_amt, maker_amt),
        Side::Sell => (maker_amt, taker_amt),
    };
    if shares == 0 || shares % 10_000 != 0 || !(usdc * ONE).is_multiple_of(shares) {
        return Err(bad("the trade contains rounding issues"));
    }
    let price = usdc * ONE / shares;
    let order_type = OrderType::parse(v["orderType"].as_str().unwrap_or("GTC"))
        .ok_or_else(|| bad("Invalid order payload"))?;
    let id = digest.to_string();
    let placed = inner
        .exchange
        .place(NewOrder {
            id: id.clone(),
            owner: key.key.clone(),
            maker: order.maker,
            token,
            side,
            price,
            size: shares,
            order_type,
            post_only: v["postOnly"] == json!(true),
            expiration: s("expiration"),
        })
        .map_err(|r| (400, r.0))?;
    inner.counters.orders_accepted += 1;
    let fills = placed.trade_ids.len() as u64
        + inner
            .exchange
            .trades
            .iter()
            .filter(|t| {
                placed.trade_ids.contains(&t.id)
                    && t.trader_side == "MAKER"
                    && !t.maker_orders.is_empty()
            })
            .count() as u64;
    inner.counters.fills += fills;
    let hashes: Vec<String> = inner
        .exchange
        .trades
        .iter()
        .filter(|t| placed.trade_ids.contains(&t.id) && t.trader_side == "TAKER")
        .map(|t| t.transaction_hash.clone())
        .collect();
    let (making, taking) = if placed.matched == 0 {
        (String::new(), String::new())
    } else if side == Side::Buy {
        (dec(placed.notional), dec(placed.matched))
    } else {
        (dec(placed.matched), dec(placed.notional))
    };
    Ok(
        json!({"success": true, "errorMsg": "", "orderID": id, "status": placed.status,
              "makingAmount": making, "takingAmount": taking,
              "transactionsHashes": hashes, "tradeIDs": placed.trade_ids}),
    )
}

fn cancel_many(inner: &mut Inner, key: &ApiKey, ids: &[String]) -> Response {
    if inner.mode == Mode::Disabled {
        return error(
            503,
            "Trading is currently disabled. Check polymarket.com for updates",
        );
    }
    let mut canceled = Vec::new();
    let mut not_canceled = serde_json::Map::new();
    for id in ids {
        match inner.exchange.cancel(&key.key, id) {
            Ok(()) => canceled.push(id.clone()),
            Err(why) => {
                not_canceled.insert(id.clone(), Value::String(why));
            }
        }
    }
    respond(
        200,
        json!({"canceled": canceled, "not_canceled": not_canceled}),
    )
}

fn cursor_offset(cursor: Option<&String>) -> usize {
    cursor
        .and_then(|c| {
            base64::engine::general_purpose::STANDARD
                .decode(c.replace("%3D", "="))
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn page(all: Vec<Value>, offset: usize, size: usize) -> Response {
    let end = (offset + size).min(all.len());
    let data: Vec<Value> = all
        .get(offset..end)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    let next = if end >= all.len() {
        "LTE=".to_owned()
    } else {
        base64::engine::general_purpose::STANDARD.encode(end.to_string())
    };
    let count = data.len();
    respond(
        200,
        json!({"data": data, "next_cursor": next, "limit": size, "count": count}),
    )
}

fn book_json(x: &Exchange, token: &str) -> Option<Value> {
    let m = x.market_of(token)?;
    let (bids, asks) = x.levels(token)?;
    let lv = |v: Vec<(u64, u64)>| -> Vec<Value> {
        v.into_iter()
            .map(|(p, s)| json!({"price": dec(p), "size": dec(s)}))
            .collect()
    };
    Some(
        json!({"market": m.condition, "asset_id": token, "timestamp": (x.now_s * 1_000).to_string(),
                "hash": "", "bids": lv(bids), "asks": lv(asks), "min_order_size": dec(m.min_size),
                "tick_size": dec(m.tick), "neg_risk": m.neg_risk, "last_trade_price": "0.5"}),
    )
}

fn market_json(m: &Market) -> Value {
    json!({"enable_order_book": true, "active": true, "closed": false, "archived": false,
           "accepting_orders": true, "accepting_order_timestamp": null,
           "minimum_order_size": m.min_size as f64 / ONE as f64, "minimum_tick_size": m.tick as f64 / ONE as f64,
           "condition_id": m.condition, "question_id": m.condition, "question": format!("Fake market {}", &m.condition[..6]),
           "description": "", "market_slug": "fake", "end_date_iso": "2027-01-01T00:00:00Z", "game_start_time": null,
           "seconds_delay": 0, "fpmm": "", "maker_base_fee": 0, "taker_base_fee": 0, "notifications_enabled": true,
           "neg_risk": m.neg_risk, "neg_risk_market_id": "", "neg_risk_request_id": "", "icon": "", "image": "",
           "rewards": {"rates": null, "min_size": 0, "max_spread": 0}, "is_50_50_outcome": false,
           "tokens": [{"token_id": m.tokens[0], "outcome": "Yes", "price": 0.5, "winner": false},
                      {"token_id": m.tokens[1], "outcome": "No", "price": 0.5, "winner": false}],
           "tags": []})
}

fn order_json(o: &exchange::Order) -> Value {
    json!({"id": o.id, "status": o.status, "owner": o.owner, "maker_address": o.maker.to_string().to_lowercase(),
           "market": o.market, "asset_id": o.token, "side": o.side.as_str(), "original_size": dec(o.original),
           "size_matched": dec(o.matched), "price": dec(o.price), "associate_trades": o.trades, "outcome": o.outcome,
           "created_at": o.created_at, "expiration": o.expiration, "order_type": o.order_type.as_str()})
}

fn trade_json(t: &exchange::Trade) -> Value {
    let makers: Vec<Value> = t
        .maker_orders
        .iter()
        .map(|m| json!({"order_id": m.order_id, "owner": m.owner, "maker_address": m.maker.to_string().to_lowercase(),
                        "matched_amount": dec(m.size), "price": dec(m.price), "fee_rate_bps": "0", "asset_id": t.token,
                        "outcome": t.outcome, "side": if t.side == Side::Buy && t.trader_side == "TAKER" { "SELL" } else if t.trader_side == "TAKER" { "BUY" } else { t.side.as_str() }}))
        .collect();
    json!({"id": t.id, "taker_order_id": t.taker_order_id, "market": t.market, "asset_id": t.token,
           "side": t.side.as_str(), "size": dec(t.size), "fee_rate_bps": "0", "price": dec(t.price),
           "status": t.status, "match_time": t.match_time.to_string(), "last_update": t.match_time.to_string(),
           "outcome": t.outcome, "bucket_index": 0, "owner": t.owner, "maker_address": t.maker_address.to_string().to_lowercase(),
           "transaction_hash": t.transaction_hash, "trader_side": t.trader_side, "maker_orders": makers})
}

fn admin_state(inner: &Inner) -> Value {
    let open: Vec<Value> = inner
        .exchange
        .orders
        .values()
        .filter(|o| o.status == "LIVE")
        .map(order_json)
        .collect();
    let mut v = serde_json::to_value(&inner.counters).unwrap_or(Value::Null);
    v["open_orders"] = Value::Array(open);
    v["mode"] = json!(format!("{:?}", inner.mode));
    v
}

fn admin(shared: &Shared, method: &Method, path: &str, body: &[u8]) -> Response {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let mut inner = lock(shared);
    match (method.as_str(), path) {
        ("GET", "/admin/state") => respond(200, admin_state(&inner)),
        ("POST", "/admin/mode") => {
            inner.mode = match v["mode"].as_str() {
                Some("open") => Mode::Open,
                Some("cancel-only") => Mode::CancelOnly,
                Some("post-only") => Mode::PostOnly,
                Some("disabled") => Mode::Disabled,
                _ => return error(400, "mode: open, cancel-only, post-only or disabled"),
            };
            respond(200, admin_state(&inner))
        }
        ("POST", "/admin/fault") => {
            let ms = |f: &str| Duration::from_millis(v[f].as_u64().unwrap_or(6_000));
            let kind = match v["kind"].as_str() {
                Some("status") => FaultKind::Status {
                    status: u16::try_from(v["status"].as_u64().unwrap_or(500)).unwrap_or(500),
                    body: v["body"]
                        .as_str()
                        .unwrap_or("{\"error\":\"Internal server error\"}")
                        .to_owned(),
                    retry_after: v["retry_after"].as_u64(),
                },
                Some("delay") => FaultKind::Delay(ms("ms")),
                Some("lose-response") => FaultKind::LoseResponse(ms("ms")),
                Some("reset") => FaultKind::Reset,
                Some("html403") => FaultKind::Html403,
                _ => return error(400, "kind: status, delay, lose-response, reset or html403"),
            };
            inner.faults.push_back(Fault {
                on: v["on"].as_str().unwrap_or_default().to_owned(),
                kind,
                count: u32::try_from(v["count"].as_u64().unwrap_or(1)).unwrap_or(1),
            });
            respond(200, json!({"faults": inner.faults.len()}))
        }
        ("POST", "/admin/fail-matches") => {
            inner.exchange.fail_next_matches =
                u32::try_from(v["count"].as_u64().unwrap_or(1)).unwrap_or(1);
            respond(
                200,
                json!({"fail_next_matches": inner.exchange.fail_next_matches}),
            )
        }
        ("POST", "/admin/user-ws") => {
            match v["fault"].as_str() {
                Some("none") => inner.ws_fault = WsFault::None,
                Some("duplicate") => inner.ws_fault = WsFault::Duplicate,
                Some("reorder") => inner.ws_fault = WsFault::Reorder,
                Some("stall") => inner.ws_fault = WsFault::Stall,
                Some("drop") => inner.ws_generation += 1,
                _ => return error(400, "fault: none, duplicate, reorder, stall or drop"),
            }
            respond(200, json!({"user_ws": format!("{:?}", inner.ws_fault)}))
        }
        ("POST", "/admin/take") => {
            let micros = |f: &str| {
                v[f].as_str()
                    .and_then(|t| t.parse::<rust_decimal::Decimal>().ok())
                    .and_then(|d| {
                        u64::try_from((d * rust_decimal::Decimal::from(ONE)).trunc().mantissa())
                            .ok()
                    })
            };
            let side = match v["side"].as_str() {
                Some("BUY") => Side::Buy,
                Some("SELL") => Side::Sell,
                _ => return error(400, "side: BUY or SELL"),
            };
            let (Some(token), Some(limit), Some(size)) =
                (v["token"].as_str(), micros("limit"), micros("size"))
            else {
                return error(
                    400,
                    "take: {\"token\", \"side\", \"limit\": \"0.45\", \"size\": \"10\"}",
                );
            };
            let matched = take(&mut inner, token, side, limit, size);
            respond(200, json!({"matched": dec(matched)}))
        }
        _ => error(404, "not found"),
    }
}

/// Cancel the orders of keys whose heartbeat stopped.
async fn heartbeat_watch(shared: std::sync::Weak<Mutex<Inner>>) {
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let mut inner = lock(&shared);
        clock(&mut inner);
        let now = now_s();
        let timeout = inner.heartbeat_timeout_s;
        let dead: Vec<String> = inner
            .heartbeats
            .iter()
            .filter(|(_, (_, at))| now.saturating_sub(*at) > timeout)
            .map(|(k, _)| k.clone())
            .collect();
        for key in dead {
            inner.heartbeats.remove(&key);
            for id in inner.exchange.live_orders(&key, None, None) {
                if inner.exchange.cancel(&key, &id).is_ok() {
                    inner.counters.heartbeat_cancels += 1;
                }
            }
        }
    }
}

/// The user channel: after a subscription with valid credentials, the key's order and
/// trade events as the exchange sends them (`PLACEMENT`/`UPDATE`/`CANCELLATION` orders,
/// trades with their status), found by watching the exchange's state.
async fn user_channel(
    ws: axum::extract::ws::WebSocketUpgrade,
    State(shared): State<Shared>,
) -> Response {
    ws.on_upgrade(move |socket| serve_user(socket, shared))
}

async fn serve_user(mut ws: axum::extract::ws::WebSocket, shared: Shared) {
    use axum::extract::ws::{CloseFrame, Message};
    let first = match ws.recv().await {
        Some(Ok(Message::Text(t))) => {
            serde_json::from_str::<Value>(t.as_str()).unwrap_or(Value::Null)
        }
        _ => return,
    };
    let auth = &first["auth"];
    let key = {
        let inner = lock(&shared);
        inner
            .keys
            .iter()
            .find(|k| {
                first["type"] == "user"
                    && auth["apiKey"].as_str() == Some(k.key.as_str())
                    && auth["secret"].as_str() == Some(k.secret.as_str())
                    && auth["passphrase"].as_str() == Some(k.passphrase.as_str())
            })
            .map(|k| k.key.clone())
    };
    let Some(key) = key else {
        let _ = ws
            .send(Message::Close(Some(CloseFrame {
                code: 1008,
                reason: "invalid auth".into(),
            })))
            .await;
        return;
    };
    // What has been told: each trade view's status by index, orders by (status, matched).
    let (mut told_trades, mut told_orders, generation) = {
        let mut inner = lock(&shared);
        inner.counters.user_connections += 1;
        let trades: BTreeMap<usize, &'static str> = inner
            .exchange
            .trades
            .iter()
            .enumerate()
            .map(|(i, t)| (i, t.status))
            .collect();
        let orders: BTreeMap<String, (&'static str, u64)> = inner
            .exchange
            .orders
            .values()
            .filter(|o| o.owner == key)
            .map(|o| (o.id.clone(), (o.status, o.matched)))
            .collect();
        (trades, orders, inner.ws_generation)
    };
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    loop {
        tokio::select! {
            msg = ws.recv() => match msg {
                Some(Ok(Message::Text(t))) if t.as_str() == "PING" => {
                    if lock(&shared).ws_fault == WsFault::Stall {
                        continue;
                    }
                    if ws.send(Message::text("PONG")).await.is_err() { return; }
                }
                Some(Ok(_)) => {}
                _ => return,
            },
            _ = tick.tick() => {
                let (frames, fault) = {
                    let mut inner = lock(&shared);
                    if inner.ws_generation != generation {
                        return;
                    }
                    if inner.ws_fault == WsFault::Stall {
                        continue;
                    }
                    clock(&mut inner);
                    let mut frames = Vec::new();
                    for (i, t) in inner.exchange.trades.iter().enumerate() {
                        if told_trades.get(&i) == Some(&t.status) {
                            continue;
                        }
                        told_trades.insert(i, t.status);
                        if t.owner != key {
                            continue;
                        }
                        let mut v = trade_json(t);
                        v["event_type"] = json!("trade");
                        v["type"] = json!("TRADE");
                        v["timestamp"] = json!(t.match_time.to_string());
                        frames.push(v);
                    }
                    for o in inner.exchange.orders.values().filter(|o| o.owner == key) {
                        let now = (o.status, o.matched);
                        let kind = match told_orders.get(&o.id) {
                            None => "PLACEMENT",
                            Some(before) if *before == now => continue,
                            Some(_) if o.status == "CANCELED" => "CANCELLATION",
                            Some(_) => "UPDATE",
                        };
                        told_orders.insert(o.id.clone(), now);
                        let mut v = order_json(o);
                        v["event_type"] = json!("order");
                        v["type"] = json!(kind);
                        v["order_owner"] = json!(o.owner);
                        frames.push(v);
                    }
                    (frames, inner.ws_fault)
                };
                let frames: Vec<Value> = match fault {
                    WsFault::Duplicate => frames.into_iter().flat_map(|f| [f.clone(), f]).collect(),
                    WsFault::Reorder => frames.into_iter().rev().collect(),
                    WsFault::None | WsFault::Stall => frames,
                };
                for f in frames {
                    if ws.send(Message::text(f.to_string())).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}
