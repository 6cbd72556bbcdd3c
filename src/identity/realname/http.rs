//! The signed HTTP interface between fingertip and an identity-authority adapter. An adapter in
//! front of the 公安部 citizen identity check (or a licensed reseller) implements this side:
//!
//! ## Request
//!
//! ```text
//! POST <path of the configured URL>
//! Content-Type: application/json
//! X-Fingertip-Key-Id: <our key id>
//! X-Fingertip-Timestamp: <unix seconds>
//! X-Fingertip-Nonce: <32 lower-case hex characters, never reused>
//! X-Fingertip-Signature: base64(HMAC-SHA256(secret, StringToSign))
//!
//! {"request_id":"<uuid>","name":"张三","id_number":"11010519491231002X","timestamp":<unix seconds>}
//!
//! StringToSign = "POST" \n path \n timestamp \n nonce \n hex(sha256(body))
//! ```
//!
//! `path` is the URL's path exactly as sent (e.g. `/v1/verify`, no query), `timestamp` and
//! `nonce` the header values, the hash lower-case hex over the exact body bytes, base64 the
//! standard alphabet with padding, and the secret's UTF-8 bytes the HMAC key. The adapter must
//! refuse (HTTP 401, JSON `{"error": "<code>", "message": "…"}`) an unknown key id
//! (`unknown_key_id`), a wrong signature (`bad_signature`), a timestamp more than 300 s from its
//! clock (`timestamp_skewed`) and a nonce seen within that window (`nonce_reused`).
//!
//! ## Response
//!
//! ```text
//! HTTP 200
//! Content-Type: application/json
//! X-Fingertip-Timestamp: <unix seconds>
//! X-Fingertip-Signature: base64(HMAC-SHA256(secret, ResponseStringToSign))
//!
//! {"request_id":"<the request's>","result":"match"|"mismatch"|"not_found"}
//!
//! ResponseStringToSign = status \n path \n timestamp \n request nonce \n hex(sha256(body))
//! ```
//!
//! The response is signed like the request, with the status code (`200`) in place of the method
//! and the *request's* nonce, which binds the answer to the question: a man in the middle can
//! neither forge a `match` nor replay an old one. fingertip refuses a success response whose
//! signature, timestamp (±300 s) or `request_id` does not check out.
//!
//! Errors: 401/403 mean our credentials are refused ([`RealNameError::Rejected`]); 5xx, 429 and
//! 408 mean try later ([`RealNameError::Unavailable`]), as do timeouts and connection failures.
//! Error responses need not be signed (forging one only denies service, which a man in the
//! middle can do anyway).

use std::time::Duration;

use anyhow::Context;
use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};
use ring::{digest, hmac};
use serde::{Deserialize, Serialize};

use super::{RealNameError, RealNameProvider, RealNameVerdict, VerifyFuture};
use crate::identity::citizen_id::CitizenIdNumber;
use crate::secret::Secret;

pub const HEADER_KEY_ID: &str = "x-fingertip-key-id";
pub const HEADER_TIMESTAMP: &str = "x-fingertip-timestamp";
pub const HEADER_NONCE: &str = "x-fingertip-nonce";
pub const HEADER_SIGNATURE: &str = "x-fingertip-signature";
/// Largest accepted difference between a timestamp and our clock, both ways.
pub const MAX_SKEW_SECONDS: i64 = 300;

/// The string both sides sign: `first_line` is `POST` for a request and the status code for a
/// response; `nonce` is always the request's.
pub fn string_to_sign(
    first_line: &str,
    path: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> String {
    format!(
        "{first_line}\n{path}\n{timestamp}\n{nonce}\n{}",
        hex::encode(digest::digest(&digest::SHA256, body))
    )
}

/// base64(HMAC-SHA256(secret, string_to_sign)).
pub fn sign(secret: &str, string_to_sign: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(hmac::sign(&key, string_to_sign.as_bytes()))
}

/// Whether `signature` (base64) is the HMAC of `string_to_sign`, compared in constant time.
pub fn signature_is_valid(secret: &str, string_to_sign: &str, signature: &str) -> bool {
    let Ok(tag) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    hmac::verify(&key, string_to_sign.as_bytes(), &tag).is_ok()
}

/// Where and how to reach the adapter.
#[derive(Debug, Clone)]
pub struct HttpRealNameConfig {
    /// The full verification URL; `https` except on loopback (ID numbers travel in it).
    pub url: String,
    pub key_id: String,
    pub secret: Secret,
}

#[derive(Serialize)]
struct VerifyRequest<'a> {
    request_id: &'a str,
    name: &'a str,
    id_number: &'a str,
    timestamp: i64,
}

#[derive(Deserialize)]
struct VerifyResponse {
    request_id: String,
    result: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

pub struct HttpRealNameProvider {
    config: HttpRealNameConfig,
    url: reqwest::Url,
    client: reqwest::Client,
    rng: SystemRandom,
}

impl std::fmt::Debug for HttpRealNameProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpRealNameProvider")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

fn transport_error(error: &reqwest::Error) -> RealNameError {
    if error.is_builder() {
        RealNameError::Rejected(format!("the request could not be built: {error}"))
    } else if error.is_timeout() {
        RealNameError::Unavailable(format!("timed out: {error}"))
    } else {
        RealNameError::Unavailable(format!("request failed: {error}"))
    }
}

impl HttpRealNameProvider {
    /// A client whose every call (connection included) is limited to `timeout`.
    pub fn new(config: HttpRealNameConfig, timeout: Duration) -> anyhow::Result<Self> {
        let client = crate::tls::http_client(timeout)?;
        Self::with_client(config, client)
    }

    pub fn with_client(
        config: HttpRealNameConfig,
        client: reqwest::Client,
    ) -> anyhow::Result<Self> {
        let url = reqwest::Url::parse(&config.url)
            .with_context(|| format!("the real-name URL {:?} is not a URL", config.url))?;
        anyhow::ensure!(
            url.scheme() == "https" || (url.scheme() == "http" && is_loopback(&url)),
            "the real-name URL {:?} must use https (names and ID numbers travel in it)",
            config.url
        );
        anyhow::ensure!(
            url.query().is_none(),
            "the real-name URL {:?} must not have a query (only its path is signed)",
            config.url
        );
        anyhow::ensure!(!config.key_id.is_empty(), "the real-name key id is empty");
        anyhow::ensure!(
            !config.secret.expose().is_empty(),
            "the real-name secret is empty"
        );
        Ok(HttpRealNameProvider {
            config,
            url,
            client,
            rng: SystemRandom::new(),
        })
    }

    fn nonce(&self) -> Result<String, RealNameError> {
        let mut bytes = [0u8; 16];
        self.rng
            .fill(&mut bytes)
            .map_err(|_| RealNameError::Unavailable("the random generator failed".to_owned()))?;
        Ok(hex::encode(bytes))
    }

    async fn check(
        &self,
        name: &str,
        id: &CitizenIdNumber,
    ) -> Result<RealNameVerdict, RealNameError> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let timestamp = crate::clock::system_time().timestamp();
        let body = serde_json::to_vec(&VerifyRequest {
            request_id: &request_id,
            name,
            id_number: id.expose(),
            timestamp,
        })
        .map_err(|e| RealNameError::Rejected(format!("encoding the request: {e}")))?;
        let timestamp = timestamp.to_string();
        let nonce = self.nonce()?;
        let path = self.url.path();
        let signature = sign(
            self.config.secret.expose(),
            &string_to_sign("POST", path, &timestamp, &nonce, &body),
        );
        let response = self
            .client
            .post(self.url.clone())
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .header(HEADER_KEY_ID, &self.config.key_id)
            .header(HEADER_TIMESTAMP, &timestamp)
            .header(HEADER_NONCE, &nonce)
            .header(HEADER_SIGNATURE, signature)
            .body(body)
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let response_timestamp = header(HEADER_TIMESTAMP);
        let response_signature = header(HEADER_SIGNATURE);
        let bytes = response.bytes().await.map_err(|e| transport_error(&e))?;

        if !status.is_success() {
            let detail = match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(ErrorBody {
                    error: Some(code),
                    message,
                }) => format!(
                    "HTTP {}: {code} {}",
                    status.as_u16(),
                    message.unwrap_or_default()
                ),
                _ => format!("HTTP {}", status.as_u16()),
            };
            return Err(match status.as_u16() {
                408 | 429 | 500..=599 => RealNameError::Unavailable(detail),
                _ => RealNameError::Rejected(detail),
            });
        }

        let (Some(response_timestamp), Some(response_signature)) =
            (response_timestamp, response_signature)
        else {
            return Err(RealNameError::Rejected(
                "the response is not signed".to_owned(),
            ));
        };
        let expected = string_to_sign(status.as_str(), path, &response_timestamp, &nonce, &bytes);
        if !signature_is_valid(self.config.secret.expose(), &expected, &response_signature) {
            return Err(RealNameError::Rejected(
                "the response signature does not verify".to_owned(),
            ));
        }
        let skew = response_timestamp
            .parse::<i64>()
            .map(|t| (crate::clock::system_time().timestamp() - t).abs());
        if !matches!(skew, Ok(s) if s <= MAX_SKEW_SECONDS) {
            return Err(RealNameError::Rejected(
                "the response timestamp is missing or too far from our clock".to_owned(),
            ));
        }
        let answer: VerifyResponse = serde_json::from_slice(&bytes)
            .map_err(|e| RealNameError::Rejected(format!("unreadable response: {e}")))?;
        if answer.request_id != request_id {
            return Err(RealNameError::Rejected(
                "the response answers another request".to_owned(),
            ));
        }
        RealNameVerdict::parse(&answer.result)
            .ok_or_else(|| RealNameError::Rejected(format!("unknown result {:?}", answer.result)))
    }
}

impl RealNameProvider for HttpRealNameProvider {
    fn name(&self) -> &'static str {
        "http"
    }

    fn verify<'a>(&'a self, name: &'a str, id: &'a CitizenIdNumber) -> VerifyFuture<'a> {
        Box::pin(self.check(name, id))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn config(url: &str) -> HttpRealNameConfig {
        HttpRealNameConfig {
            url: url.to_owned(),
            key_id: "k1".to_owned(),
            secret: Secret::new("secret"),
        }
    }

    #[test]
    fn string_to_sign_layout() {
        assert_eq!(
            string_to_sign("POST", "/v1/verify", "1700000000", "00ff", b""),
            "POST\n/v1/verify\n1700000000\n00ff\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn signatures_are_base64_hmac_sha256() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let signature = sign("Jefe", "what do ya want for nothing?");
        assert_eq!(
            hex::encode(
                base64::engine::general_purpose::STANDARD
                    .decode(&signature)
                    .unwrap()
            ),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(signature_is_valid(
            "Jefe",
            "what do ya want for nothing?",
            &signature
        ));
        assert!(!signature_is_valid(
            "Jefe",
            "what do ya want for nothing!",
            &signature
        ));
        assert!(!signature_is_valid(
            "jefe",
            "what do ya want for nothing?",
            &signature
        ));
        assert!(!signature_is_valid("Jefe", "x", "not base64"));
    }

    #[test]
    fn urls_must_be_https_except_on_loopback() {
        assert!(
            HttpRealNameProvider::new(
                config("https://id.example.cn/v1/verify"),
                Duration::from_secs(1)
            )
            .is_ok()
        );
        assert!(
            HttpRealNameProvider::new(config("http://127.0.0.1:9/v1"), Duration::from_secs(1))
                .is_ok()
        );
        assert!(
            HttpRealNameProvider::new(config("http://localhost:9/v1"), Duration::from_secs(1))
                .is_ok()
        );
        assert!(
            HttpRealNameProvider::new(config("http://id.example.cn/v1"), Duration::from_secs(1))
                .is_err()
        );
        assert!(
            HttpRealNameProvider::new(
                config("https://id.example.cn/v1?x=1"),
                Duration::from_secs(1)
            )
            .is_err()
        );
        assert!(HttpRealNameProvider::new(config("not a url"), Duration::from_secs(1)).is_err());
        let mut empty = config("https://id.example.cn/v1");
        empty.secret = Secret::new("");
        assert!(HttpRealNameProvider::new(empty, Duration::from_secs(1)).is_err());
    }

    #[test]
    fn debug_hides_the_secret() {
        let provider =
            HttpRealNameProvider::new(config("https://id.example.cn/v1"), Duration::from_secs(1))
                .unwrap();
        assert!(!format!("{provider:?}").contains("secret\""));
        assert!(format!("{provider:?}").contains("redacted"));
    }

    #[tokio::test]
    async fn connection_refused_is_unavailable() {
        let provider =
            HttpRealNameProvider::new(config("http://127.0.0.1:9/v1"), Duration::from_secs(2))
                .unwrap();
        let id = CitizenIdNumber::parse("11010519491231002X").unwrap();
        assert!(matches!(
            provider.verify("张三", &id).await,
            Err(RealNameError::Unavailable(_))
        ));
    }
}
