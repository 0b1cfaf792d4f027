//! The control API of a running host (`polybox run`): JSON under `/api/` on
//! `control.listen` (loopback by default), every request authenticated with a bearer token
//! (`control.token`, else `$POLYBOX_CONTROL_TOKEN`, else one generated at first start into
//! the state dir's `control.token`, readable by its owner only). The bound address is
//! written to the state dir's `control.addr` for the CLI.
//!
//! Requests that need the kernel go to the run loop as [`Request`]s and are answered
//! between two events; a component to swap in is compiled here, off the kernel thread.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path as UrlPath, Request as HttpRequest, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
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
    let app = Router::new()
        .route("/api/status", get(status))
        .route("/api/strategies", get(strategies).post(load))
        .route("/api/strategies/{name}/swap", post(swap))
        .route("/api/strategies/{name}/unload", post(unload))
        .layer(middleware::from_fn_with_state(shared.clone(), bearer))
        .with_state(shared);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}

async fn bearer(State(s): State<Shared>, req: HttpRequest, next: Next) -> Response {
    let ok = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t.as_bytes() == s.token.as_bytes());
    if !ok {
        return answer(
            StatusCode::UNAUTHORIZED,
            json!({"error": "missing or wrong bearer token: see the state dir's control.token"}),
        );
    }
    next.run(req).await
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

async fn ask(s: &Shared, ask: Ask) -> Response {
    let (reply, rx) = oneshot::channel();
    if s.loop_tx.send(Request { ask, reply }).await.is_err() {
        return answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "the host is stopping"}),
        );
    }
    match rx.await {
        Ok(Ok(v)) => answer(StatusCode::OK, v),
        Ok(Err(e)) => answer(StatusCode::CONFLICT, json!({ "error": e })),
        Err(_) => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "the host is stopping"}),
        ),
    }
}

async fn status(State(s): State<Shared>) -> Response {
    ask(&s, Ask::Status).await
}

async fn strategies(State(s): State<Shared>) -> Response {
    ask(&s, Ask::Strategies).await
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
