//! A small JSON-RPC client for the two calls the wallet needs (`eth_chainId`, `eth_call`),
//! under the exchange's call discipline: 5 s per attempt, 3 attempts with backoff, retried
//! only for failures that are safe to repeat (every call here is a read).

use std::time::Duration;

use alloy::primitives::{Address, Bytes, U256};
use serde_json::{Value, json};

use crate::execution::retry::{Failure, RetryPolicy};

/// A JSON-RPC endpoint.
#[derive(Clone)]
pub struct Rpc {
    client: reqwest::Client,
    url: String,
    policy: RetryPolicy,
}

impl Rpc {
    /// A client for `url` (`wallet.rpc_url`).
    pub fn new(url: &str, policy: RetryPolicy) -> Result<Rpc, String> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        reqwest::Url::parse(url).map_err(|e| format!("wallet.rpc_url is not a URL ({e})"))?;
        Ok(Rpc {
            client,
            url: url.to_owned(),
            policy,
        })
    }

    /// The endpoint as it may be shown: scheme, host and port only (providers put API
    /// keys in the path or query, e.g. Alchemy's `/v2/{key}`).
    pub fn url(&self) -> String {
        match reqwest::Url::parse(&self.url) {
            Ok(u) => match (u.host_str(), u.port()) {
                (Some(h), Some(p)) => format!("{}://{h}:{p}", u.scheme()),
                (Some(h), None) => format!("{}://{h}", u.scheme()),
                _ => "the configured node".to_owned(),
            },
            Err(_) => "the configured node".to_owned(),
        }
    }

    async fn request(&self, method: &str, params: Value) -> Result<Value, String> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let what = format!("{method} at {}", self.url());
        self.policy
            .call(&what, true, || async {
                let resp = self
                    .client
                    .post(&self.url)
                    .json(&body)
                    .send()
                    .await
                    .map_err(|e| Failure::Retry(reason(e)))?;
                let status = resp.status();
                if status.is_server_error() || status.as_u16() == 429 {
                    return Err(Failure::Retry(format!("HTTP {status}")));
                }
                if !status.is_success() {
                    return Err(Failure::Fatal(format!("HTTP {status}")));
                }
                let v: Value = resp
                    .json()
                    .await
                    .map_err(|e| Failure::Retry(format!("not JSON-RPC: {}", reason(e))))?;
                if let Some(e) = v.get("error") {
                    return Err(Failure::Fatal(format!("the node refused: {e}")));
                }
                Ok(v.get("result").cloned().unwrap_or(Value::Null))
            })
            .await
            .map_err(|e| e.to_string())
    }

    /// The chain id the node serves.
    pub async fn chain_id(&self) -> Result<u64, String> {
        let v = self.request("eth_chainId", json!([])).await?;
        v.as_str()
            .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
            .ok_or_else(|| format!("eth_chainId at {}: not a chain id: {v}", self.url()))
    }

    /// Call `to` with `data` at the latest block.
    pub async fn call(&self, to: Address, data: Bytes) -> Result<Bytes, String> {
        let v = self
            .request("eth_call", json!([{"to": to, "data": data}, "latest"]))
            .await?;
        serde_json::from_value::<Bytes>(v.clone())
            .map_err(|_| format!("eth_call to {to}: not call data: {v}"))
    }
}

impl std::fmt::Debug for Rpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rpc")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

/// What went wrong, with its causes, and without the URL (which may hold a key).
fn reason(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// A word of return data as an amount.
pub fn word(data: &[u8]) -> Option<U256> {
    (data.len() >= 32).then(|| U256::from_be_slice(&data[..32]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_in_the_url_is_never_shown() {
        let rpc = Rpc::new(
            "https://polygon-mainnet.g.alchemy.com/v2/SECRETKEY?x=SECRET",
            RetryPolicy::default(),
        )
        .unwrap();
        assert_eq!(rpc.url(), "https://polygon-mainnet.g.alchemy.com");
        assert!(!format!("{rpc:?}").contains("SECRET"));
        assert!(
            Rpc::new("not a url", RetryPolicy::default())
                .unwrap_err()
                .contains("wallet.rpc_url")
        );
    }
}
