//! Apple Push Notification service, token-based (`.p8` key) authentication over HTTP/2.
//!
//! `POST {endpoint}/3/device/{token}` with a provider token: an ES256 JWT `{alg, kid}.{iss, iat}`
//! signed with the team's key. Apple wants the same token reused for at least 20 minutes (a new one
//! sooner gives 429 TooManyProviderTokenUpdates) and rejects tokens older than an hour (403
//! ExpiredProviderToken), so it is cached and re-signed once it is 20 minutes old.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use rustls::pki_types::PrivatePkcs8KeyDer;
use rustls::pki_types::pem::PemObject;
use serde_json::{Value, json};

use crate::notify::provider::{
    Address, OutgoingMessage, Provider, PushPlatform, SendError, SendFuture, SendOutcome,
};
use crate::secret::Secret;

/// A provider token is re-signed once it is this old (Apple: not more often than every 20 min).
pub const TOKEN_REFRESH_AFTER_SECS: i64 = 20 * 60;
/// Apple refuses provider tokens older than this.
pub const TOKEN_MAX_AGE_SECS: i64 = 60 * 60;
/// APNs refuses payloads above 4 KiB (413 PayloadTooLarge).
const MAX_PAYLOAD_BYTES: usize = 4096;
/// `apns-collapse-id` is limited to 64 bytes.
const MAX_COLLAPSE_ID_BYTES: usize = 64;
/// How long APNs keeps trying an offline device: urgent (priority ≥ 10, e.g. codes) and normal.
const URGENT_EXPIRATION_SECS: i64 = 15 * 60;
const NORMAL_EXPIRATION_SECS: i64 = 24 * 60 * 60;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The current time as Unix seconds; injectable for tests.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

#[derive(Debug, Clone, serde::Deserialize)]
pub struct ApnsConfig {
    /// `https://api.push.apple.com` (production) or `https://api.sandbox.push.apple.com`.
    pub endpoint: String,
    /// 10-character Apple Developer team id (the JWT `iss`).
    pub team_id: String,
    /// 10-character id of the `.p8` key (the JWT `kid`).
    pub key_id: String,
    /// The `.p8` file: a PKCS#8 PEM P-256 key.
    pub private_key_pem: Secret,
    /// The app's bundle id (`apns-topic`).
    pub topic: String,
}

struct ProviderToken {
    jwt: String,
    issued_at: i64,
}

pub struct Apns {
    config: ApnsConfig,
    key: EcdsaKeyPair,
    rng: SystemRandom,
    client: reqwest::Client,
    clock: Clock,
    token: Mutex<Option<ProviderToken>>,
}

impl std::fmt::Debug for Apns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Apns")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Apns {
    /// A client speaking HTTP/2 to `config.endpoint` (ALPN `h2` over TLS; prior knowledge for an
    /// `http://` endpoint, as used by test doubles), with a 30 s timeout.
    pub fn new(config: ApnsConfig) -> anyhow::Result<Self> {
        Self::with_timeout(config, DEFAULT_TIMEOUT)
    }

    pub fn with_timeout(config: ApnsConfig, timeout: Duration) -> anyhow::Result<Self> {
        let mut tls = crate::tls::client_config(None)?;
        tls.alpn_protocols = vec![b"h2".to_vec()];
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .http2_prior_knowledge()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .build()
            .context("building the APNs HTTP/2 client")?;
        Self::with_client(config, client)
    }

    /// Uses the given client, which must speak HTTP/2 to the endpoint.
    pub fn with_client(config: ApnsConfig, client: reqwest::Client) -> anyhow::Result<Self> {
        let der = PrivatePkcs8KeyDer::from_pem_slice(config.private_key_pem.expose().as_bytes())
            .context("the APNs key is not a PKCS#8 PEM (.p8) key")?;
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            der.secret_pkcs8_der(),
            &rng,
        )
        .map_err(|e| anyhow::anyhow!("the APNs key is not a P-256 PKCS#8 key: {e}"))?;
        anyhow::ensure!(!config.team_id.is_empty(), "the APNs team id is empty");
        anyhow::ensure!(!config.key_id.is_empty(), "the APNs key id is empty");
        anyhow::ensure!(
            !config.topic.is_empty(),
            "the APNs topic (bundle id) is empty"
        );
        Ok(Apns {
            config,
            key,
            rng,
            client,
            clock: Arc::new(|| crate::clock::system_time().timestamp()),
            token: Mutex::new(None),
        })
    }

    /// Replaces the clock (Unix seconds) used for `iat`, the token's age and `apns-expiration`.
    pub fn with_clock(mut self, clock: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The provider token to use at `now` (Unix seconds): the cached one while it is younger than
    /// 20 minutes, else a newly signed one with `iat = now`.
    pub fn token_at(&self, now: i64) -> Result<String, SendError> {
        let mut cached = self.token.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(token) = cached.as_ref() {
            let age = now - token.issued_at;
            if (0..TOKEN_REFRESH_AFTER_SECS).contains(&age) {
                return Ok(token.jwt.clone());
            }
        }
        let jwt = self.sign_token(now)?;
        *cached = Some(ProviderToken {
            jwt: jwt.clone(),
            issued_at: now,
        });
        Ok(jwt)
    }

    /// Forgets `jwt` if it is still the cached token (after 403 ExpiredProviderToken).
    fn drop_token(&self, jwt: &str) {
        let mut cached = self.token.lock().unwrap_or_else(PoisonError::into_inner);
        if cached.as_ref().is_some_and(|t| t.jwt == jwt) {
            *cached = None;
        }
    }

    fn sign_token(&self, iat: i64) -> Result<String, SendError> {
        let header = json!({"alg": "ES256", "kid": self.config.key_id});
        let claims = json!({"iss": self.config.team_id, "iat": iat});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .key
            .sign(&self.rng, signing_input.as_bytes())
            .map_err(|_| SendError::Temporary("signing the APNs provider token failed".into()))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        ))
    }

    async fn deliver(&self, message: &OutgoingMessage) -> Result<SendOutcome, SendError> {
        let device_token = match &message.address {
            Address::Device {
                platform: PushPlatform::Apns,
                token,
            } => token,
            other => {
                return Err(SendError::Permanent(format!(
                    "APNs cannot deliver to {other:?}"
                )));
            }
        };
        if device_token.is_empty() || !device_token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SendError::InvalidAddress(
                "malformed APNs device token".into(),
            ));
        }

        let mut alert = serde_json::Map::new();
        if let Some(title) = &message.title {
            alert.insert("title".into(), Value::String(title.clone()));
        }
        alert.insert("body".into(), Value::String(message.body.clone()));
        let payload = json!({"aps": {"alert": alert, "sound": "default"}}).to_string();
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(SendError::Permanent(format!(
                "APNs payload of {} bytes exceeds {MAX_PAYLOAD_BYTES}",
                payload.len()
            )));
        }

        let now = (self.clock)();
        let urgent = message.priority >= 10;
        let expiration = now
            + if urgent {
                URGENT_EXPIRATION_SECS
            } else {
                NORMAL_EXPIRATION_SECS
            };
        let apns_id = message.message_id.hyphenated().to_string().to_uppercase();
        let jwt = self.token_at(now)?;
        let url = format!(
            "{}/3/device/{device_token}",
            self.config.endpoint.trim_end_matches('/')
        );
        let mut request = self
            .client
            .post(url)
            .version(reqwest::Version::HTTP_2)
            .header("authorization", format!("bearer {jwt}"))
            .header("apns-topic", &self.config.topic)
            .header("apns-push-type", "alert")
            .header("apns-priority", if urgent { "10" } else { "5" })
            .header("apns-expiration", expiration.to_string())
            .header("apns-id", &apns_id)
            .header("content-type", "application/json");
        if let Some(collapse_id) = message.variables.get("collapse_id").and_then(Value::as_str) {
            if collapse_id.len() <= MAX_COLLAPSE_ID_BYTES {
                request = request.header("apns-collapse-id", collapse_id);
            } else {
                tracing::warn!(
                    provider = "apns",
                    "collapse id longer than 64 bytes, not sent"
                );
            }
        }

        let response = request
            .body(payload)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status();
        if status.is_success() {
            let id = response
                .headers()
                .get("apns-id")
                .and_then(|v| v.to_str().ok())
                .map_or(apns_id, str::to_owned);
            return Ok(SendOutcome {
                provider_message_id: Some(id),
            });
        }
        let body = response.text().await.unwrap_or_default();
        let reason = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.get("reason").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| body.chars().take(200).collect());
        let error = classify(status.as_u16(), &reason);
        if reason == "ExpiredProviderToken" {
            self.drop_token(&jwt);
        }
        Err(error)
    }
}

/// Maps an APNs error response (status and `reason`) to how the dispatcher should react.
pub fn classify(status: u16, reason: &str) -> SendError {
    let text = format!("APNs {status} {reason}");
    match (status, reason) {
        (410, _) | (400, "BadDeviceToken" | "DeviceTokenNotForTopic") => {
            SendError::InvalidAddress(text)
        }
        (403, "ExpiredProviderToken") | (429, _) => SendError::Temporary(text),
        (500..=599, _) => SendError::Temporary(text),
        _ => SendError::Permanent(text),
    }
}

fn transport_error(error: reqwest::Error) -> SendError {
    if error.is_builder() {
        SendError::Permanent(format!("APNs request: {error}"))
    } else {
        SendError::Temporary(format!("APNs unreachable: {error}"))
    }
}

impl Provider for Apns {
    fn name(&self) -> &'static str {
        "apns"
    }

    fn send<'a>(&'a self, message: &'a OutgoingMessage) -> SendFuture<'a> {
        Box::pin(self.deliver(message))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn pem(der: &[u8]) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        )
    }

    fn apns() -> Apns {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        Apns::new(ApnsConfig {
            endpoint: "http://127.0.0.1:9".into(),
            team_id: "TEAM123456".into(),
            key_id: "KEY1234567".into(),
            private_key_pem: Secret::new(pem(pkcs8.as_ref())),
            topic: "cn.gov.example.app".into(),
        })
        .unwrap()
    }

    fn claims(jwt: &str) -> Value {
        let part = jwt.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn the_token_is_reused_for_20_minutes_then_resigned() {
        let apns = apns();
        let t0 = 1_700_000_000;
        let first = apns.token_at(t0).unwrap();
        assert_eq!(claims(&first)["iat"], t0);
        assert_eq!(claims(&first)["iss"], "TEAM123456");
        for age in [1, 60, 600, TOKEN_REFRESH_AFTER_SECS - 1] {
            assert_eq!(
                apns.token_at(t0 + age).unwrap(),
                first,
                "re-signed at age {age}"
            );
        }
        let second = apns.token_at(t0 + TOKEN_REFRESH_AFTER_SECS).unwrap();
        assert_ne!(second, first);
        assert_eq!(claims(&second)["iat"], t0 + TOKEN_REFRESH_AFTER_SECS);
        assert_eq!(
            apns.token_at(t0 + TOKEN_REFRESH_AFTER_SECS + 5).unwrap(),
            second
        );
    }

    #[test]
    fn a_token_is_never_used_when_older_than_an_hour() {
        let apns = apns();
        let t0 = 1_700_000_000;
        let mut previous = apns.token_at(t0).unwrap();
        let mut refreshes = 0;
        // Sends every 7 minutes for 5 hours; also an idle gap of 3 hours at the end.
        let times: Vec<i64> = (1..=43)
            .map(|i| t0 + i * 420)
            .chain([t0 + 43 * 420 + 3 * 3600])
            .collect();
        for now in times {
            let jwt = apns.token_at(now).unwrap();
            let iat = claims(&jwt)["iat"].as_i64().unwrap();
            assert!(
                now - iat < TOKEN_MAX_AGE_SECS,
                "token of age {} used",
                now - iat
            );
            assert!(now - iat < TOKEN_REFRESH_AFTER_SECS);
            if jwt != previous {
                refreshes += 1;
                assert_eq!(iat, now);
            }
            previous = jwt;
        }
        // 5 h of 7-minute sends re-sign every 21 minutes (never sooner than 20).
        assert_eq!(refreshes, 43 * 420 / 1260 + 1);
    }

    #[test]
    fn a_clock_going_backwards_gets_a_fresh_token() {
        let apns = apns();
        let first = apns.token_at(1_700_000_000).unwrap();
        let second = apns.token_at(1_700_000_000 - 3600).unwrap();
        assert_ne!(first, second);
    }

    #[test]
    fn error_classes() {
        assert!(matches!(
            classify(410, "Unregistered"),
            SendError::InvalidAddress(_)
        ));
        assert!(matches!(
            classify(400, "BadDeviceToken"),
            SendError::InvalidAddress(_)
        ));
        assert!(matches!(
            classify(400, "BadCollapseId"),
            SendError::Permanent(_)
        ));
        assert!(matches!(
            classify(403, "ExpiredProviderToken"),
            SendError::Temporary(_)
        ));
        assert!(matches!(
            classify(403, "InvalidProviderToken"),
            SendError::Permanent(_)
        ));
        assert!(matches!(
            classify(429, "TooManyRequests"),
            SendError::Temporary(_)
        ));
        assert!(matches!(
            classify(503, "ServiceUnavailable"),
            SendError::Temporary(_)
        ));
        assert!(matches!(
            classify(413, "PayloadTooLarge"),
            SendError::Permanent(_)
        ));
    }
}
