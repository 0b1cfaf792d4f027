//! The dashboard: one page, served by the host, no build step. It follows
//! `/api/events` (a snapshot a second) and draws positions, P&L and its curve, the risk
//! gauges, strategies, orders, fills and the feed; the kill button asks for confirmation.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

const PAGE: &str = include_str!("dashboard.html");

/// The dashboard (the request is authenticated already).
pub async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PAGE,
    )
        .into_response()
}

/// What an unauthenticated visitor of `/` gets: 401, and a form that takes the token once.
pub fn login() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>polybox</title>
<style>body{font:16px system-ui,sans-serif;background:#0f1419;color:#e6e6e6;display:grid;place-items:center;min-height:100vh;margin:0}
form{display:grid;gap:.6rem;width:min(22rem,90vw)}input,button{font:inherit;padding:.6rem;border-radius:.4rem;border:1px solid #444;background:#1b222b;color:inherit}</style></head>
<body><form method="get" action="/"><h1>polybox</h1>
<label for="token">Control token (the state dir's <code>control.token</code>)</label>
<input id="token" name="token" type="password" autocomplete="off" required>
<button type="submit">Open the dashboard</button></form></body></html>"#,
    )
        .into_response()
}
