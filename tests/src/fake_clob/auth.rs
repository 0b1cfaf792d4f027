//! Authentication as the exchange does it: L1 (an EIP-712 `ClobAuth` signature creates or
//! derives API credentials, deterministic per address and nonce) and L2 (HMAC-SHA256 of
//! `timestamp + METHOD + path + body` with the API secret, on every trading call).

use alloy::primitives::{Address, keccak256};
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::signing::recover_clob_auth;

/// API credentials as the exchange issues them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The key (a UUID), also the `owner` of orders.
    pub key: String,
    /// URL-safe base64 secret with padding.
    pub secret: String,
    /// Passphrase (64 hex characters).
    pub passphrase: String,
    /// The wallet that owns the key.
    pub address: Address,
}

impl ApiKey {
    /// The credentials of `address` for `nonce`: the same every time.
    pub fn derive(address: Address, nonce: u64) -> ApiKey {
        let seed = |label: &str| {
            keccak256([label.as_bytes(), address.as_slice(), &nonce.to_be_bytes()].concat())
        };
        let k = seed("key");
        let b = k.as_slice();
        let key = format!(
            "{}-{}-4{}-8{}-{}",
            alloy::hex::encode(&b[0..4]),
            alloy::hex::encode(&b[4..6]),
            &alloy::hex::encode(&b[6..8])[1..],
            &alloy::hex::encode(&b[8..10])[1..],
            alloy::hex::encode(&b[10..16])
        );
        ApiKey {
            key,
            secret: URL_SAFE.encode(seed("secret")),
            passphrase: alloy::hex::encode(seed("passphrase")),
            address,
        }
    }

    /// The JSON the exchange returns for these credentials.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({"apiKey": self.key, "secret": self.secret, "passphrase": self.passphrase})
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Verify L1 headers; returns the wallet and nonce.
pub fn verify_l1(headers: &HeaderMap) -> Result<(Address, u64), &'static str> {
    const BAD: &str = "Invalid L1 Request headers";
    let address: Address = header(headers, "poly_address")
        .and_then(|a| a.parse().ok())
        .ok_or(BAD)?;
    let timestamp = header(headers, "poly_timestamp").ok_or(BAD)?;
    let nonce: u64 = header(headers, "poly_nonce")
        .unwrap_or("0")
        .parse()
        .map_err(|_| BAD)?;
    let sig = header(headers, "poly_signature").ok_or(BAD)?;
    match recover_clob_auth(address, timestamp, nonce, sig) {
        Some(who) if who == address => Ok((address, nonce)),
        _ => Err(BAD),
    }
}

/// The L2 signature of a request with `secret`.
pub fn hmac_signature(
    secret: &str,
    timestamp: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> Option<String> {
    let key = URL_SAFE.decode(secret).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(timestamp.as_bytes());
    mac.update(method.as_bytes());
    mac.update(path.as_bytes());
    mac.update(
        &String::from_utf8_lossy(body)
            .replace('\'', "\"")
            .into_bytes(),
    );
    Some(URL_SAFE.encode(mac.finalize().into_bytes()))
}

/// Verify L2 headers against the issued keys; returns the key. `now_s` bounds the skew.
pub fn verify_l2<'k>(
    headers: &HeaderMap,
    keys: &'k [ApiKey],
    method: &str,
    path: &str,
    body: &[u8],
    now_s: u64,
    max_skew_s: u64,
) -> Result<&'k ApiKey, &'static str> {
    const BAD: &str = "Unauthorized/Invalid api key";
    let key = header(headers, "poly_api_key").ok_or(BAD)?;
    let found = keys.iter().find(|k| k.key == key).ok_or(BAD)?;
    let address: Address = header(headers, "poly_address")
        .and_then(|a| a.parse().ok())
        .ok_or(BAD)?;
    if address != found.address
        || header(headers, "poly_passphrase") != Some(found.passphrase.as_str())
    {
        return Err(BAD);
    }
    let ts = header(headers, "poly_timestamp").ok_or(BAD)?;
    let secs: u64 = ts.parse().map_err(|_| BAD)?;
    if secs.abs_diff(now_s) > max_skew_s {
        return Err(BAD);
    }
    let expected = hmac_signature(&found.secret, ts, method, path, body).ok_or(BAD)?;
    if header(headers, "poly_signature") != Some(expected.as_str()) {
        return Err(BAD);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_the_client_s_vectors() {
        let secret = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        assert_eq!(
            hmac_signature(secret, "1", "GET", "/", b"").unwrap(),
            "eHaylCwqRSOa2LFD77Nt_SaTpbsxzN8eTEI3LryhEj4="
        );
        assert_eq!(
            hmac_signature(
                secret,
                "1000000",
                "test-sign",
                "/orders",
                br#"{"hash":"0x123"}"#
            )
            .unwrap(),
            "4gJVbox-R6XlDK4nlaicig0_ANVL1qdcahiL8CXfXLM="
        );
    }

    #[test]
    fn derived_keys_are_stable_uuids_with_padded_url_safe_secrets() {
        let a = Address::repeat_byte(7);
        let k = ApiKey::derive(a, 0);
        assert_eq!(k, ApiKey::derive(a, 0));
        assert_ne!(k.key, ApiKey::derive(a, 1).key);
        assert!(uuid::Uuid::parse_str(&k.key).is_ok(), "{}", k.key);
        assert!(k.secret.ends_with('=') && URL_SAFE.decode(&k.secret).is_ok());
        assert_eq!(k.passphrase.len(), 64);
    }
}
