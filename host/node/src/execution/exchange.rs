//! The one door to the exchange. Every call goes through [`Exchange::call`]: the rate
//! limiter, a timeout per attempt, retries with backoff for failures that are safe to
//! repeat, and one classification of what went wrong.
//!
//! Calls go through the official client (`polymarket_client_sdk_v2`), except order posts:
//! those are sent here, signed by the client but posted with our own L2 headers, because
//! the client (a) hides the response headers the host must honour (`Retry-After`,
//! `Poly-RateLimit-Remaining`) and (b) polls trade hashes for up to 30 s after the
//! exchange accepted a matching order, which a 5 s timeout would turn into "unknown
//! outcome". This is the only bypass.

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolStruct;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use hmac::{Hmac, Mac};
use polybox_core::clock::{Clock, WallClock};
use polymarket_client_sdk_v2::auth::state::Authenticated;
use polymarket_client_sdk_v2::auth::{Credentials, ExposeSecret, Normal, Signer, Uuid};
use polymarket_client_sdk_v2::clob::types::response::PostOrderResponse;
use polymarket_client_sdk_v2::clob::types::{OrderPayload, SignedOrder};
use polymarket_client_sdk_v2::clob::{Client, Config};
use polymarket_client_sdk_v2::error::{Error as SdkError, Kind, Status};
use sha2::Sha256;

use super::rate_limit::{Class, Limits, RateLimiter};
use super::retry::RetryPolicy;
use super::signer::OrderSigner;
use crate::control::metrics;

/// The authenticated client.
pub type AuthClient = Client<Authenticated<Normal>>;

/// The exchange's trading modes other than open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restriction {
    /// No orders, no cancels.
    Disabled,
    /// Cancels only.
    CancelOnly,
    /// Post-only orders and cancels.
    PostOnly,
}

/// Why an exchange call failed, classified for what to do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeError {
    /// The exchange answered and refused (4xx, business rejection): final for this request.
    #[error("{what}: refused by the exchange (HTTP {status}): {message}")]
    Refused {
        /// The call.
        what: String,
        /// HTTP status.
        status: u16,
        /// The exchange's message.
        message: String,
    },
    /// The exchange is restricted: stop or pause the order flow, not a transport fault.
    #[error("{what}: the exchange is {restriction:?}: {message}")]
    Restricted {
        /// The call.
        what: String,
        /// Which mode.
        restriction: Restriction,
        /// The exchange's message.
        message: String,
    },
    /// Sent, and no usable answer: the exchange may have acted. Reconcile before retrying.
    #[error("{what}: outcome unknown ({reason}); reconcile with the exchange before retrying")]
    Unknown {
        /// The call.
        what: String,
        /// What happened.
        reason: String,
    },
    /// Failed after every attempt the policy allows (connection, 5xx, 429, timeouts on reads).
    #[error("{what}: unavailable after {attempts} attempts: {reason}")]
    Unavailable {
        /// The call.
        what: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        reason: String,
    },
    /// A problem on this side (bad key, bad order, unreadable answer).
    #[error("{what}: {reason}")]
    Local {
        /// The call.
        what: String,
        /// What is wrong.
        reason: String,
    },
}

impl ExchangeError {
    /// The class of error, for metrics: `refused`, `restricted`, `unknown`, `unavailable`
    /// or `local`.
    pub fn kind(&self) -> &'static str {
        match self {
            ExchangeError::Refused { .. } => "refused",
            ExchangeError::Restricted { .. } => "restricted",
            ExchangeError::Unknown { .. } => "unknown",
            ExchangeError::Unavailable { .. } => "unavailable",
            ExchangeError::Local { .. } => "local",
        }
    }
}

/// How to treat one failed attempt.
#[derive(Debug)]
enum Attempt {
    /// Repeat after the backoff (and after `pause`, when the exchange asked for one).
    Retry {
        reason: String,
        pause: Option<Duration>,
    },
    /// Stop: this is the answer.
    Stop(ExchangeError),
}

/// The message inside `{"error": "..."}`, or the body itself.
pub fn server_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(200).collect())
}

fn restriction(status: u16, message: &str) -> Option<Restriction> {
    if status != 503 {
        return None;
    }
    let m = message.to_ascii_lowercase();
    if m.contains("cancel-only") {
        Some(Restriction::CancelOnly)
    } else if m.contains("post-only") || m.contains("post_only") {
        Some(Restriction::PostOnly)
    } else if m.contains("disabled") {
        Some(Restriction::Disabled)
    } else {
        None
    }
}

/// Classify an HTTP answer. `sent_effect`: the request may have changed state on the
/// exchange (a post), so a 5xx is an unknown outcome rather than a retry.
fn classify_status(
    what: &str,
    status: u16,
    body: &str,
    retry_after: Option<Duration>,
    sent_effect: bool,
) -> Attempt {
    let message = server_message(body);
    if let Some(restriction) = restriction(status, &message) {
        return Attempt::Stop(ExchangeError::Restricted {
            what: what.to_owned(),
            restriction,
            message,
        });
    }
    match status {
        429 | 425 => Attempt::Retry {
            reason: format!("HTTP {status}: {message}"),
            pause: Some(retry_after.unwrap_or(Duration::from_secs(1))),
        },
        // "order timed out" is documented as safe to resubmit.
        500..=599 if !sent_effect || message.contains("order timed out") => Attempt::Retry {
            reason: format!("HTTP {status}: {message}"),
            pause: retry_after,
        },
        500..=599 => Attempt::Stop(ExchangeError::Unknown {
            what: what.to_owned(),
            reason: format!("HTTP {status}: {message}"),
        }),
        _ => Attempt::Stop(ExchangeError::Refused {
            what: what.to_owned(),
            status,
            message,
        }),
    }
}

/// Classify an error of the official client.
fn classify_sdk(what: &str, e: &SdkError, sent_effect: bool) -> Attempt {
    match e.kind() {
        Kind::Status => match e.downcast_ref::<Status>() {
            Some(s) => classify_status(what, s.status_code.as_u16(), &s.message, None, sent_effect),
            None => Attempt::Stop(ExchangeError::Local {
                what: what.to_owned(),
                reason: e.to_string(),
            }),
        },
        Kind::Internal => match e.downcast_ref::<reqwest::Error>() {
            // Never reached the exchange: always safe to repeat.
            Some(r) if r.is_connect() => Attempt::Retry {
                reason: format!("cannot connect: {r}"),
                pause: None,
            },
            Some(r) if r.is_decode() => Attempt::Stop(ExchangeError::Local {
                what: what.to_owned(),
                reason: format!("unreadable answer: {r}"),
            }),
            Some(r) if sent_effect => Attempt::Stop(ExchangeError::Unknown {
                what: what.to_owned(),
                reason: r.to_string(),
            }),
            Some(r) => Attempt::Retry {
                reason: r.to_string(),
                pause: None,
            },
            None => Attempt::Stop(ExchangeError::Local {
                what: what.to_owned(),
                reason: e.to_string(),
            }),
        },
        _ => Attempt::Stop(ExchangeError::Local {
            what: what.to_owned(),
            reason: e.to_string(),
        }),
    }
}

/// Who trades and with which credentials. Never logged.
pub struct Secrets {
    /// The EOA key (hex).
    pub private_key: String,
    /// API credentials (key, secret, passphrase); derived through L1 when absent.
    pub api: Option<(String, String, String)>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(redacted)")
    }
}

impl Secrets {
    /// From the environment: `POLYMARKET_PRIVATE_KEY` (required), and
    /// `POLYMARKET_API_KEY`, `POLYMARKET_API_SECRET`, `POLYMARKET_API_PASSPHRASE` (all or none).
    pub fn from_env() -> Result<Secrets, String> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let private_key = var("POLYMARKET_PRIVATE_KEY").ok_or(
            "POLYMARKET_PRIVATE_KEY is not set: put the trading wallet's key in the environment or .env (never in a config file)",
        )?;
        let api = match (var("POLYMARKET_API_KEY"), var("POLYMARKET_API_SECRET"), var("POLYMARKET_API_PASSPHRASE")) {
            (Some(k), Some(s), Some(p)) => Some((k, s, p)),
            (None, None, None) => None,
            _ => return Err("set all of POLYMARKET_API_KEY, POLYMARKET_API_SECRET and POLYMARKET_API_PASSPHRASE, or none (they are then derived from the key)".to_owned()),
        };
        Ok(Secrets { private_key, api })
    }

    /// The signer of the private key.
    pub fn signer(&self) -> Result<PrivateKeySigner, String> {
        PrivateKeySigner::from_str(self.private_key.trim()).map_err(|_| {
            "POLYMARKET_PRIVATE_KEY is not a valid hex private key: 0x and 64 hex digits".to_owned()
        })
    }
}

/// The authenticated exchange, its pacing and its call discipline.
pub struct Exchange {
    client: AuthClient,
    signer: OrderSigner,
    http: reqwest::Client,
    base: String,
    key: Uuid,
    secret: String,
    passphrase: String,
    limiter: Arc<RateLimiter>,
    policy: RetryPolicy,
}

impl std::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchange")
            .field("base", &self.base)
            .field("address", &self.signer.address())
            .finish_non_exhaustive()
    }
}

impl Exchange {
    /// Authenticate with `clob_url` (L1 derive-or-create when the secrets hold no API
    /// credentials) and check that the exchange speaks CLOB v2.
    pub async fn connect(
        clob_url: &str,
        secrets: &Secrets,
        policy: RetryPolicy,
        limits: Limits,
    ) -> Result<Exchange, ExchangeError> {
        let local = |reason: String| ExchangeError::Local {
            what: "connect".to_owned(),
            reason,
        };
        let signer = secrets
            .signer()
            .map_err(local)?
            .with_chain_id(Some(polymarket_client_sdk_v2::POLYGON));
        let signer = OrderSigner::new(&signer).map_err(local)?;
        let base = format!("{}/", clob_url.trim_end_matches('/'));
        let limiter = Arc::new(RateLimiter::new(limits));
        let new_client = || {
            Client::new(&base, Config::default())
                .map_err(|e| local(format!("bad exchange.clob_url {base}: {e}")))
        };
        limiter.acquire(Class::Read, 1).await;
        let builder = new_client()?.authentication_builder(&signer);
        let builder = match &secrets.api {
            Some((k, s, p)) => {
                let key = Uuid::parse_str(k)
                    .map_err(|_| local("POLYMARKET_API_KEY is not a UUID".to_owned()))?;
                builder.credentials(Credentials::new(key, s.clone(), p.clone()))
            }
            None => builder,
        };
        let client = tokio::time::timeout(policy.timeout * 2, builder.authenticate())
            .await
            .map_err(|_| ExchangeError::Unavailable {
                what: "authenticate".to_owned(),
                attempts: 1,
                reason: format!("no answer within {:?}", policy.timeout * 2),
            })?
            .map_err(|e| match classify_sdk("authenticate", &e, false) {
                Attempt::Stop(err) => err,
                Attempt::Retry { reason, .. } => ExchangeError::Unavailable {
                    what: "authenticate".to_owned(),
                    attempts: 1,
                    reason,
                },
            })?;
        let creds = client.credentials();
        let (key, secret, passphrase) = (
            creds.key(),
            creds.secret().expose_secret().to_owned(),
            creds.passphrase().expose_secret().to_owned(),
        );
        let http = reqwest::Client::builder()
            .connect_timeout(policy.timeout)
            .no_proxy()
            .build()
            .map_err(|e| local(format!("cannot build the HTTP client: {e}")))?;
        let exchange = Exchange {
            client,
            signer,
            http,
            base,
            key,
            secret,
            passphrase,
            limiter,
            policy,
        };
        let version = exchange
            .call("GET /version", Class::Read, false, |c| async move {
                c.version().await
            })
            .await?;
        if version != 2 {
            return Err(local(format!(
                "the exchange speaks CLOB protocol version {version}; polybox signs V2 orders only"
            )));
        }
        Ok(exchange)
    }

    /// The authenticated client, for building and signing orders (no network once its
    /// caches are warm).
    pub fn client(&self) -> &AuthClient {
        &self.client
    }

    /// The signer.
    pub fn signer(&self) -> &OrderSigner {
        &self.signer
    }

    /// The API key (the `owner` of our orders).
    pub fn api_key(&self) -> Uuid {
        self.key
    }

    /// The user channel's first message: the API credentials in clear, as the exchange
    /// requires on that socket (never logged).
    pub fn user_subscription(&self) -> String {
        serde_json::json!({
            "auth": {"apiKey": self.key.to_string(), "secret": self.secret, "passphrase": self.passphrase},
            "markets": [],
            "type": "user",
        })
        .to_string()
    }

    /// The limiter (shared by every call, and by the public REST reads of the same host).
    pub fn limiter(&self) -> &Arc<RateLimiter> {
        &self.limiter
    }

    /// One call through the discipline: limiter, timeout, retries for what is safe to
    /// repeat. `effect`: the call changes state on the exchange (a timeout or a dropped
    /// answer is then an unknown outcome, not a retry).
    pub async fn call<'a, T, F, Fut>(
        &'a self,
        what: &str,
        class: Class,
        effect: bool,
        f: F,
    ) -> Result<T, ExchangeError>
    where
        F: Fn(&'a AuthClient) -> Fut,
        Fut: Future<Output = Result<T, SdkError>>,
    {
        let result = self.call_with_retries(what, class, effect, f).await;
        if let Err(e) = &result {
            metrics::exchange_error(e.kind());
        }
        result
    }

    async fn call_with_retries<'a, T, F, Fut>(
        &'a self,
        what: &str,
        class: Class,
        effect: bool,
        f: F,
    ) -> Result<T, ExchangeError>
    where
        F: Fn(&'a AuthClient) -> Fut,
        Fut: Future<Output = Result<T, SdkError>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.limiter.acquire(class, 1).await;
            #[allow(clippy::disallowed_methods)] // latency measurement only
            let started = std::time::Instant::now();
            let outcome = tokio::time::timeout(self.policy.timeout, f(&self.client)).await;
            self.limiter.observe(started.elapsed());
            metrics::exchange_call(class.as_str(), started.elapsed());
            let failure = match outcome {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(e)) => classify_sdk(what, &e, effect),
                Err(_) if effect => {
                    return Err(ExchangeError::Unknown {
                        what: what.to_owned(),
                        reason: format!("no answer within {:?}", self.policy.timeout),
                    });
                }
                Err(_) => Attempt::Retry {
                    reason: format!("no answer within {:?}", self.policy.timeout),
                    pause: None,
                },
            };
            match failure {
                Attempt::Stop(e) => return Err(e),
                Attempt::Retry { reason, .. } if attempt >= self.policy.attempts => {
                    return Err(ExchangeError::Unavailable {
                        what: what.to_owned(),
                        attempts: attempt,
                        reason,
                    });
                }
                Attempt::Retry { reason, pause } => {
                    if let Some(p) = pause {
                        self.limiter.pause(p);
                    }
                    tracing::debug!(call = what, attempt, "retrying: {reason}");
                    tokio::time::sleep(self.policy.delay(attempt)).await;
                }
            }
        }
    }

    fn l2_headers(
        &self,
        method: &str,
        path: &str,
        body: &str,
    ) -> Result<reqwest::header::HeaderMap, ExchangeError> {
        let local = |reason: &str| ExchangeError::Local {
            what: format!("{method} {path}"),
            reason: reason.to_owned(),
        };
        let ts = (WallClock.now_ms() / 1_000).to_string();
        let key = URL_SAFE
            .decode(&self.secret)
            .map_err(|_| local("the API secret is not URL-safe base64"))?;
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&key).map_err(|_| local("unusable API secret"))?;
        mac.update(format!("{ts}{method}{path}{}", body.replace('\'', "\"")).as_bytes());
        let signature = URL_SAFE.encode(mac.finalize().into_bytes());
        let mut h = reqwest::header::HeaderMap::new();
        for (k, v) in [
            ("POLY_ADDRESS", self.signer.address().to_checksum(None)),
            ("POLY_API_KEY", self.key.to_string()),
            ("POLY_PASSPHRASE", self.passphrase.clone()),
            ("POLY_TIMESTAMP", ts),
            ("POLY_SIGNATURE", signature),
        ] {
            let value = reqwest::header::HeaderValue::from_str(&v)
                .map_err(|_| local("a header value is not valid"))?;
            h.insert(k, value);
        }
        h.insert(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/json"),
        );
        Ok(h)
    }

    /// Post signed orders (one: `POST /order`; more: `POST /orders`, at most 15) and return
    /// the exchange's answer per order. Only failures that prove the exchange did not act
    /// are retried (connection refused, 429, 425, "order timed out"); a timeout or a
    /// dropped answer is [`ExchangeError::Unknown`]: the caller reconciles by order id
    /// ([`order_id`]) and may then re-send the *same* signed order, which the exchange
    /// refuses as a duplicate if it already has it.
    pub async fn post(
        &self,
        orders: &[SignedOrder],
    ) -> Result<Vec<PostOrderResponse>, ExchangeError> {
        let body = match orders {
            [one] => serde_json::to_string(one),
            many => serde_json::to_string(many),
        }
        .map_err(|e| ExchangeError::Local {
            what: "POST /order".to_owned(),
            reason: format!("cannot encode the order: {e}"),
        })?;
        self.post_body(&body, orders.len()).await
    }

    /// Post a signed body exactly as journaled: one order (`POST /order`) or a JSON array
    /// of `n` (`POST /orders`). Same discipline as [`Exchange::post`].
    pub async fn post_body(
        &self,
        body: &str,
        n: usize,
    ) -> Result<Vec<PostOrderResponse>, ExchangeError> {
        let result = self.post_with_retries(body, n).await;
        if let Err(e) = &result {
            metrics::exchange_error(e.kind());
        }
        result
    }

    async fn post_with_retries(
        &self,
        body: &str,
        n: usize,
    ) -> Result<Vec<PostOrderResponse>, ExchangeError> {
        let endpoint = if n == 1 { "order" } else { "orders" };
        let url = format!("{}{endpoint}", self.base);
        // The signed path is the URL's whole path, a base path prefix included.
        let path = reqwest::Url::parse(&url)
            .map_or_else(|_| format!("/{endpoint}"), |u| u.path().to_owned());
        let path = path.as_str();
        let what = format!("POST {path}");
        let body = body.to_owned();
        let cost = u32::try_from(n).unwrap_or(u32::MAX);
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.limiter.acquire(Class::Order, cost).await;
            let headers = self.l2_headers("POST", path, &body)?;
            #[allow(clippy::disallowed_methods)] // latency measurement only
            let started = std::time::Instant::now();
            let sent = tokio::time::timeout(self.policy.timeout, async {
                let resp = self
                    .http
                    .post(&url)
                    .headers(headers)
                    .body(body.clone())
                    .send()
                    .await?;
                let status = resp.status().as_u16();
                let header = |name: &str| {
                    resp.headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                let retry_after = header("retry-after");
                let remaining = header("poly-ratelimit-remaining");
                let text = resp.text().await?;
                Ok::<_, reqwest::Error>((status, retry_after, remaining, text))
            })
            .await;
            self.limiter.observe(started.elapsed());
            metrics::exchange_call(Class::Order.as_str(), started.elapsed());
            let failure = match sent {
                Err(_) => {
                    return Err(ExchangeError::Unknown {
                        what,
                        reason: format!("no answer within {:?}", self.policy.timeout),
                    });
                }
                Ok(Err(e)) if e.is_connect() => Attempt::Retry {
                    reason: format!("cannot connect: {e}"),
                    pause: None,
                },
                Ok(Err(e)) => {
                    return Err(ExchangeError::Unknown {
                        what,
                        reason: e.to_string(),
                    });
                }
                Ok(Ok((status, retry_after, remaining, text))) => {
                    if let Some(r) = remaining.and_then(|r| r.parse().ok()) {
                        self.limiter.remaining(Class::Order, r);
                    }
                    if (200..300).contains(&status) {
                        return parse_post(&what, n, &text);
                    }
                    // A dropped request on the exchange's side: it may have acted.
                    if server_message(&text).contains("context canceled") {
                        return Err(ExchangeError::Unknown {
                            what,
                            reason: format!("HTTP {status}: {}", server_message(&text)),
                        });
                    }
                    let pause = retry_after
                        .and_then(|s| s.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    classify_status(&what, status, &text, pause, true)
                }
            };
            match failure {
                Attempt::Stop(e) => return Err(e),
                Attempt::Retry { reason, .. } if attempt >= self.policy.attempts => {
                    return Err(ExchangeError::Unavailable {
                        what,
                        attempts: attempt,
                        reason,
                    });
                }
                Attempt::Retry { reason, pause } => {
                    if let Some(p) = pause {
                        self.limiter.pause(p);
                    }
                    tracing::debug!(call = %what, attempt, "retrying: {reason}");
                    tokio::time::sleep(self.policy.delay(attempt)).await;
                }
            }
        }
    }
}

fn parse_post(what: &str, n: usize, text: &str) -> Result<Vec<PostOrderResponse>, ExchangeError> {
    let unreadable = |e: serde_json::Error| ExchangeError::Unknown {
        what: what.to_owned(),
        reason: format!("accepted with an unreadable answer ({e}); reconcile"),
    };
    if n == 1 {
        serde_json::from_str::<PostOrderResponse>(text)
            .map(|r| vec![r])
            .map_err(unreadable)
    } else {
        serde_json::from_str::<Vec<PostOrderResponse>>(text).map_err(unreadable)
    }
}

/// The same signed order again (the client's type is not `Clone`): re-sending it after an
/// unknown outcome is safe, the exchange refuses a duplicate.
pub fn same_order(o: &SignedOrder) -> SignedOrder {
    SignedOrder::builder()
        .payload(o.payload.clone())
        .signature(o.signature.clone())
        .order_type(o.order_type.clone())
        .owner(o.owner)
        .maybe_post_only(o.post_only)
        .maybe_defer_exec(o.defer_exec)
        .build()
}

/// The exchange's id of a signed order: its EIP-712 digest, computed before posting.
pub fn order_id(order: &SignedOrder, neg_risk: bool) -> Option<String> {
    let OrderPayload::V2(p) = &order.payload else {
        return None;
    };
    // The digest is keccak(0x1901 ‖ domain separator ‖ struct hash); the two exchanges'
    // separators never change, so they are hashed once, not for every order.
    static SEPARATORS: std::sync::OnceLock<[Option<alloy::primitives::B256>; 2]> =
        std::sync::OnceLock::new();
    let separator = SEPARATORS.get_or_init(|| {
        [false, true].map(|neg_risk| {
            let config = polymarket_client_sdk_v2::contract_config(
                polymarket_client_sdk_v2::POLYGON,
                neg_risk,
            )?;
            let domain = alloy::sol_types::Eip712Domain::new(
                Some("Polymarket CTF Exchange".into()),
                Some("2".into()),
                Some(alloy::primitives::U256::from(
                    polymarket_client_sdk_v2::POLYGON,
                )),
                config.exchange_v2,
                None,
            );
            Some(domain.separator())
        })
    })[usize::from(neg_risk)]?;
    let mut digest = [0u8; 66];
    digest[..2].copy_from_slice(&[0x19, 0x01]);
    digest[2..34].copy_from_slice(separator.as_slice());
    digest[34..].copy_from_slice(p.order.eip712_hash_struct().as_slice());
    Some(alloy::primitives::keccak256(digest).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_by_what_to_do_next() {
        let stop = |a: Attempt| match a {
            Attempt::Stop(e) => e,
            Attempt::Retry { reason, .. } => panic!("retry: {reason}"),
        };
        assert!(matches!(
            stop(classify_status(
                "POST /order",
                503,
                r#"{"error":"Trading is currently cancel-only. New orders are not accepted, but cancels are allowed."}"#,
                None,
                true
            )),
            ExchangeError::Restricted {
                restriction: Restriction::CancelOnly,
                ..
            }
        ));
        assert!(matches!(
            stop(classify_status(
                "POST /order",
                503,
                r#"{"error":"post-only mode: only post-only orders and cancels are allowed","code":"post_only_mode"}"#,
                None,
                true
            )),
            ExchangeError::Restricted {
                restriction: Restriction::PostOnly,
                ..
            }
        ));
        assert!(matches!(
            stop(classify_status(
                "POST /order",
                500,
                r#"{"error":"could not run the execution"}"#,
                None,
                true
            )),
            ExchangeError::Unknown { .. }
        ));
        assert!(matches!(
            classify_status(
                "POST /order",
                500,
                r#"{"error":"order timed out"}"#,
                None,
                true
            ),
            Attempt::Retry { .. }
        ));
        assert!(matches!(
            classify_status(
                "GET /data/orders",
                502,
                "<html>bad gateway</html>",
                None,
                false
            ),
            Attempt::Retry { .. }
        ));
        match classify_status(
            "POST /order",
            429,
            "Too Many Requests",
            Some(Duration::from_secs(3)),
            true,
        ) {
            Attempt::Retry { pause, .. } => assert_eq!(pause, Some(Duration::from_secs(3))),
            Attempt::Stop(e) => panic!("{e}"),
        }
        let e = stop(classify_status(
            "POST /order",
            400,
            r#"{"error":"invalid signature"}"#,
            None,
            true,
        ));
        assert_eq!(
            e.to_string(),
            "POST /order: refused by the exchange (HTTP 400): invalid signature"
        );
        let e = stop(classify_status(
            "POST /order",
            403,
            "<!DOCTYPE html><title>Attention Required! | Cloudflare</title>",
            None,
            true,
        ));
        assert!(matches!(e, ExchangeError::Refused { status: 403, .. }));
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let s = Secrets {
            private_key: "0xdeadbeef".to_owned(),
            api: Some(("k".to_owned(), "sekret".to_owned(), "pass".to_owned())),
        };
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("deadbeef") && !shown.contains("sekret") && !shown.contains("pass")
        );
    }
}
