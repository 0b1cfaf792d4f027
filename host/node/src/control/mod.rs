//! The control API of a running host (`polybox run`, and a paced `polybox replay`) on
//! `control.listen` (loopback by default): the dashboard at `/`, JSON under `/api/`,
//! Prometheus text at `/metrics`. Every request is authenticated with a bearer token
//! (`control.token`, else `$POLYBOX_CONTROL_TOKEN`, else one generated at first start into
//! the state dir's `control.token`, readable by its owner only); the dashboard takes it
//! once (`/?token=…`) and keeps it in a same-site cookie. The bound address is written to
//! the state dir's `control.addr` for the CLI.
//!
//! Requests that need the kernel go to the run loop as [`Request`]s and are answered
//! between two events ([`answer`]); a component to swap in is compiled here, off the
//! kernel thread.

pub mod answer;
mod dashboard;
pub mod metrics;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, Request as HttpRequest, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::sandbox::{LoadedStrategy, Sandbox};

/// `[control]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlConfig {
    /// Address to listen on ("": no control API).
    pub listen: String,
    /// Bearer token ("": `$POLYBOX_CONTROL_TOKEN`, else the state dir's `control.token`).
    pub token: String,
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig {
            listen: "127.0.0.1:7878".to_owned(),
            token: String::new(),
        }
    }
}

/// What the run loop is asked.
#[derive(Debug)]
pub enum Ask {
    /// Mode, uptime, totals and risk.
    Status,
    /// Every strategy's line.
    Strategies,
    /// Swap this compiled component in for the strategy of its name.
    Swap(Arc<LoadedStrategy>),
    /// Start this compiled component as a new strategy.
    Load(Arc<LoadedStrategy>),
    /// Stop this strategy, cancelling its orders.
    Unload(String),
    /// Pause a strategy (its orders cancelled, new ones refused) or let it trade again.
    Pause {
        /// The strategy.
        name: String,
        /// Pause (`true`) or resume.
        paused: bool,
    },
    /// Positions with P&L.
    Positions,
    /// Open orders.
    Orders,
    /// Recent fills, newest first.
    Fills,
    /// The risk ledger, limits and journal.
    Risk,
    /// Everything the dashboard shows, in one answer.
    Snapshot,
    /// Prometheus text.
    Metrics,
    /// Engage the kill switch.
    Kill {
        /// Cancel every open order too.
        cancel_all: bool,
        /// Who and why.
        action: answer::Action,
    },
    /// Release the kill switch and lift a bankroll halt.
    Resume(answer::Action),
    /// Reset the consecutive-loss breaker.
    ResetBreaker(answer::Action),
}

/// A question for the run loop and where its answer goes.
#[derive(Debug)]
pub struct Request {
    /// The question.
    pub ask: Ask,
    /// The answer: JSON, or an error for the operator.
    pub reply: oneshot::Sender<Result<Value, String>>,
}

/// Where the token and address files live.
pub fn token_path(state_dir: &Path) -> PathBuf {
    state_dir.join("control.token")
}

/// The file holding the address a running host listens on.
pub fn addr_path(state_dir: &Path) -> PathBuf {
    state_dir.join("control.addr")
}

/// The token a client sends: configured, from the environment, or the state dir's.
pub fn client_token(config: &ControlConfig, state_dir: &Path) -> Result<String, String> {
    if !config.token.is_empty() {
        return Ok(config.token.clone());
    }
    if let Ok(t) = std::env::var("POLYBOX_CONTROL_TOKEN")
        && !t.is_empty()
    {
        return Ok(t);
    }
    let path = token_path(state_dir);
    std::fs::read_to_string(&path)
        .map(|t| t.trim().to_owned())
        .map_err(|e| {
            format!(
                "no control token at {} ({e}): is a host running with this state dir?",
                path.display()
            )
        })
}

/// The token: configured, from the environment, or the state dir's (created at first
/// start, owner-only).
pub fn token(config: &ControlConfig, state_dir: &Path) -> Result<String, String> {
    if let Ok(t) = client_token(config, state_dir) {
        return Ok(t);
    }
    let path = token_path(state_dir);
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .map_err(|e| format!("cannot draw a control token: {e}"))?;
    let t = alloy::hex::encode(bytes);
    std::fs::create_dir_all(state_dir)
        .and_then(|()| write_private(&path, &t))
        .map_err(|e| format!("cannot write the control token to {}: {e}", path.display()))?;
    Ok(t)
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?
        .write_all(text.as_bytes())
}

#[derive(Clone)]
struct Shared {
    token: Arc<str>,
    loop_tx: mpsc::Sender<Request>,
    sandbox: Arc<Sandbox>,
}

/// Listen on `config.listen` and serve until the run ends; returns the bound address
/// (also written to the state dir's `control.addr`).
pub async fn start(
    config: &ControlConfig,
    state_dir: &Path,
    sandbox: Arc<Sandbox>,
    loop_tx: mpsc::Sender<Request>,
) -> Result<SocketAddr, String> {
    let token = token(config, state_dir)?;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| format!("control.listen = {:?}: cannot listen ({e})", config.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    std::fs::write(addr_path(state_dir), addr.to_string())
        .map_err(|e| format!("cannot write {}: {e}", addr_path(state_dir).display()))?;
    let shared = Shared {
        token: Arc::from(token),
        loop_tx,
        sandbox,
    };
    metrics::keep_up(&tokio::runtime::Handle::current());
    let app = Router::new()
        .route("/", get(dashboard::page))
        .route("/metrics", get(prometheus))
        .route("/api/status", read(|| Ask::Status))
        .route("/api/positions", read(|| Ask::Positions))
        .route("/api/orders", read(|| Ask::Orders))
        .route("/api/fills", read(|| Ask::Fills))
        .route("/api/risk", read(|| Ask::Risk))
        .route("/api/snapshot", read(|| Ask::Snapshot))
        .route("/api/events", get(events))
        .route("/api/kill", post(kill))
        .route("/api/resume", post(resume))
        .route("/api/risk/reset-breaker", post(reset_breaker))
        .route("/api/strategies", read(|| Ask::Strategies).post(load))
        .route("/api/strategies/{name}/swap", post(swap))
        .route("/api/strategies/{name}/unload", post(unload))
        .route("/api/strategies/{name}/pause", post(pause))
        .route("/api/strategies/{name}/resume", post(unpause))
        .layer(middleware::from_fn_with_state(shared.clone(), bearer))
        .with_state(shared);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}

/// Start the control API on `runtime` when `config.listen` is set, and return the
/// channel its requests arrive on; a port that cannot be had is a warning (the kill switch
/// file still works).
pub fn open(
    runtime: &tokio::runtime::Runtime,
    config: &ControlConfig,
    state_dir: &Path,
    sandbox: Arc<Sandbox>,
) -> Option<mpsc::Receiver<Request>> {
    if config.listen.is_empty() {
        return None;
    }
    let (tx, rx) = mpsc::channel(16);
    match runtime.block_on(start(config, state_dir, sandbox, tx)) {
        Ok(addr) => {
            tracing::info!(
                "control API on http://{addr}/ (dashboard; bearer token in {})",
                token_path(state_dir).display()
            );
            Some(rx)
        }
        Err(e) => {
            tracing::warn!("no control API: {e}");
            None
        }
    }
}

/// The run is over: no host answers at the state dir's address any more.
pub fn close(state_dir: &Path) {
    let _ = std::fs::remove_file(addr_path(state_dir));
}

/// Equal in time whatever the first difference (the token is a secret).
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// The cookie that carries the token for the dashboard.
const COOKIE: &str = "polybox_token";

async fn bearer(State(s): State<Shared>, req: HttpRequest, next: Next) -> Response {
    let headers = req.headers();
    let by_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| same(t.as_bytes(), s.token.as_bytes()));
    let by_cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .any(|t| same(t.as_bytes(), s.token.as_bytes()));
    if by_header || by_cookie {
        return next.run(req).await;
    }
    // The dashboard's first visit: `/?token=…` sets the cookie, and the token leaves the URL.
    if req.uri().path() == "/"
        && let Some(t) = req
            .uri()
            .query()
            .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("token=")))
        && same(t.as_bytes(), s.token.as_bytes())
    {
        return (
            StatusCode::SEE_OTHER,
            [
                (header::LOCATION, "/".to_owned()),
                (
                    header::SET_COOKIE,
                    format!("{COOKIE}={t}; Path=/; HttpOnly; SameSite=Strict"),
                ),
            ],
        )
            .into_response();
    }
    if req.uri().path() == "/" {
        return dashboard::login();
    }
    answer(
        StatusCode::UNAUTHORIZED,
        json!({"error": "missing or wrong bearer token: see the state dir's control.token"}),
    )
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// Why the run loop gave no answer.
enum NoAnswer {
    /// The run is ending.
    Stopping,
    /// It refused, and says why.
    Refused(String),
}

/// Ask the run loop.
async fn ask_value(s: &Shared, ask: Ask) -> Result<Value, NoAnswer> {
    let (reply, rx) = oneshot::channel();
    s.loop_tx
        .send(Request { ask, reply })
        .await
        .map_err(|_| NoAnswer::Stopping)?;
    rx.await
        .map_err(|_| NoAnswer::Stopping)?
        .map_err(NoAnswer::Refused)
}

/// Ask the run loop and answer in JSON: 200, 409 with the refusal, or 503 while stopping.
async fn ask(s: &Shared, ask: Ask) -> Response {
    match ask_value(s, ask).await {
        Ok(v) => answer(StatusCode::OK, v),
        Err(NoAnswer::Refused(e)) => answer(StatusCode::CONFLICT, json!({ "error": e })),
        Err(NoAnswer::Stopping) => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "the host is stopping"}),
        ),
    }
}

/// A GET answered by the run loop.
fn read(question: fn() -> Ask) -> axum::routing::MethodRouter<Shared> {
    get(move |State(s): State<Shared>| async move { ask(&s, question()).await })
}

async fn prometheus(State(s): State<Shared>) -> Response {
    match ask_value(&s, Ask::Metrics).await {
        Ok(Value::String(text)) => {
            ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
        }
        Ok(other) => answer(StatusCode::INTERNAL_SERVER_ERROR, other),
        Err(NoAnswer::Refused(e)) => answer(StatusCode::CONFLICT, json!({ "error": e })),
        Err(NoAnswer::Stopping) => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "the host is stopping"}),
        ),
    }
}

/// The dashboard's live feed: a snapshot every second (server-sent events).
async fn events(State(s): State<Shared>) -> impl IntoResponse {
    let stream = futures_util::stream::unfold((s, true), |(s, first)| async move {
        if !first {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        let v = ask_value(&s, Ask::Snapshot).await.ok()?;
        Some((
            Ok::<_, std::convert::Infallible>(Event::default().data(v.to_string())),
            (s, false),
        ))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

#[derive(Deserialize)]
struct KillBody {
    #[serde(default)]
    cancel_all: bool,
    #[serde(flatten)]
    action: answer::Action,
}

async fn kill(State(s): State<Shared>, axum::Json(b): axum::Json<KillBody>) -> Response {
    ask(
        &s,
        Ask::Kill {
            cancel_all: b.cancel_all,
            action: b.action,
        },
    )
    .await
}

async fn resume(State(s): State<Shared>, axum::Json(a): axum::Json<answer::Action>) -> Response {
    ask(&s, Ask::Resume(a)).await
}

async fn reset_breaker(
    State(s): State<Shared>,
    axum::Json(a): axum::Json<answer::Action>,
) -> Response {
    ask(&s, Ask::ResetBreaker(a)).await
}

async fn pause(State(s): State<Shared>, UrlPath(name): UrlPath<String>) -> Response {
    ask(&s, Ask::Pause { name, paused: true }).await
}

async fn unpause(State(s): State<Shared>, UrlPath(name): UrlPath<String>) -> Response {
    ask(
        &s,
        Ask::Pause {
            name,
            paused: false,
        },
    )
    .await
}

#[derive(Deserialize)]
struct Component {
    path: PathBuf,
}

/// Compile a component off the kernel thread, or the response that says why not.
async fn compile(s: &Shared, path: &Path) -> Result<LoadedStrategy, Response> {
    let (sandbox, path) = (Arc::clone(&s.sandbox), path.to_owned());
    match tokio::task::spawn_blocking(move || sandbox.load(&path)).await {
        Ok(Ok(l)) => Ok(l),
        Ok(Err(e)) => Err(answer(
            StatusCode::BAD_REQUEST,
            json!({"error": e.to_string()}),
        )),
        Err(e) => Err(answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": e.to_string()}),
        )),
    }
}

async fn load(State(s): State<Shared>, axum::Json(body): axum::Json<Component>) -> Response {
    match compile(&s, &body.path).await {
        Ok(loaded) => ask(&s, Ask::Load(Arc::new(loaded))).await,
        Err(r) => r,
    }
}

async fn unload(State(s): State<Shared>, UrlPath(name): UrlPath<String>) -> Response {
    ask(&s, Ask::Unload(name)).await
}

async fn swap(
    State(s): State<Shared>,
    UrlPath(name): UrlPath<String>,
    axum::Json(body): axum::Json<Component>,
) -> Response {
    let loaded = match compile(&s, &body.path).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    if loaded.name() != name {
        return answer(
            StatusCode::BAD_REQUEST,
            json!({"error": format!("{} holds strategy `{}`, not `{name}`: name the file after the strategy it replaces", body.path.display(), loaded.name())}),
        );
    }
    ask(&s, Ask::Swap(Arc::new(loaded))).await
}
