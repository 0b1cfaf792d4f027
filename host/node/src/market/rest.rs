//! Order-book snapshots over REST (`GET /book`), which carry what the WebSocket does not:
//! tick size, minimum order size and neg-risk per token. Used when a recording starts and
//! when a live run starts, under the exchange call discipline.

use std::sync::Arc;
use std::time::Duration;

use crate::execution::rate_limit::{Class, RateLimiter};
use crate::execution::retry::{CallError, Failure, RetryPolicy};

/// A client for the exchange's public REST book endpoint.
#[derive(Debug, Clone)]
pub struct RestBooks {
    client: reqwest::Client,
    base: String,
    policy: RetryPolicy,
    limiter: Arc<RateLimiter>,
}

/// Why a REST book could not be had.
pub type RestError = CallError<String>;

impl RestBooks {
    /// A client for `clob_url` (`exchange.clob_url`), paced by `limiter` (the host's one
    /// limiter: the exchange's when trading live).
    pub fn new(
        clob_url: &str,
        policy: RetryPolicy,
        limiter: Arc<RateLimiter>,
    ) -> Result<RestBooks, String> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .no_proxy()
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(RestBooks {
            client,
            base: clob_url.trim_end_matches('/').to_owned(),
            policy,
            limiter,
        })
    }

    /// The `/book` body of `token`, verbatim.
    pub async fn book(&self, token: &str) -> Result<String, RestError> {
        let url = format!("{}/book", self.base);
        let what = format!("GET {url}?token_id={token}");
        self.policy
            .call(&what, true, || async {
                self.limiter.acquire(Class::Read, 1).await;
                let resp = self
                    .client
                    .get(&url)
                    .query(&[("token_id", token)])
                    .send()
                    .await
                    .map_err(|e| Failure::Retry(e.to_string()))?;
                let status = resp.status();
                let body = resp
                    .text()
                    .await
                    .map_err(|e| Failure::Retry(e.to_string()))?;
                if status.is_success() {
                    Ok(body)
                } else if status.is_server_error() || status.as_u16() == 429 {
                    Err(Failure::Retry(format!("{status}: {body}")))
                } else {
                    Err(Failure::Fatal(format!("{status}: {body}")))
                }
            })
            .await
    }

    /// The books of `tokens` received at `now_ms()`, as recording lines; a token whose book
    /// cannot be had is skipped with a warning (the WebSocket snapshot still follows).
    pub async fn lines(&self, tokens: &[String], now_ms: impl Fn() -> u64) -> Vec<String> {
        let mut lines = Vec::new();
        for token in tokens {
            match self.book(token).await {
                Ok(body) => match serde_json::from_str::<&serde_json::value::RawValue>(&body) {
                    Ok(raw) => lines.push(super::recorder::rest_line(now_ms(), raw)),
                    Err(e) => tracing::warn!(token = %token, "REST book is not JSON: {e}"),
                },
                Err(e) => {
                    tracing::warn!(token = %token, "no REST book (tick size, minimum size and neg-risk fall back to defaults): {e}")
                }
            }
        }
        lines
    }
}
