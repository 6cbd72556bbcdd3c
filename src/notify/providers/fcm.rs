//! Firebase Cloud Messaging, HTTP v1 API.
//!
//! An OAuth2 access token comes from the JWT-bearer grant (RFC 7523): an RS256 JWT signed with the
//! service account's key, posted to its token URI. The token is cached until shortly before it
//! expires (one hour), and dropped when FCM answers 401.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls::pki_types::PrivatePkcs8KeyDer;
use rustls::pki_types::pem::PemObject;
use serde_json::{Value, json};

use super::oauth::{TokenCache, snippet, transport_error};
use crate::notify::provider::{
    Address, OutgoingMessage, Provider, PushPlatform, SendError, SendFuture, SendOutcome,
};
use crate::secret::Secret;

pub const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Lifetime of the signed assertion (Google's maximum).
const ASSERTION_LIFETIME_SECS: i64 = 3600;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The current time as Unix seconds; injectable for tests.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

#[derive(Debug, Clone, serde::Deserialize)]
pub struct FcmConfig {
    /// `https://fcm.googleapis.com`.
    pub endpoint: String,
    /// The service account's `token_uri`: `https://oauth2.googleapis.com/token`.
    pub token_uri: String,
    pub project_id: String,
    /// The service account's `client_email` (the JWT `iss`).
    pub client_email: String,
    /// The service account's `private_key`: an RSA PKCS#8 PEM key.
    pub private_key_pem: Secret,
}

pub struct Fcm {
    config: FcmConfig,
    key: RsaKeyPair,
    rng: SystemRandom,
    client: reqwest::Client,
    clock: Clock,
    token: TokenCache,
}

impl std::fmt::Debug for Fcm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fcm")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Fcm {
    /// A client over rustls with a 30 s timeout.
    pub fn new(config: FcmConfig) -> anyhow::Result<Self> {
        Self::with_client(config, crate::tls::http_client(DEFAULT_TIMEOUT)?)
    }

    pub fn with_client(config: FcmConfig, client: reqwest::Client) -> anyhow::Result<Self> {
        let der = PrivatePkcs8KeyDer::from_pem_slice(config.private_key_pem.expose().as_bytes())
            .context("the FCM service-account key is not a PKCS#8 PEM key")?;
        let key = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
            .map_err(|e| anyhow::anyhow!("the FCM service-account key is not an RSA key: {e}"))?;
        anyhow::ensure!(!config.project_id.is_empty(), "the FCM project id is empty");
        anyhow::ensure!(
            !config.client_email.is_empty(),
            "the FCM client email is empty"
        );
        Ok(Fcm {
            config,
            key,
            rng: SystemRandom::new(),
            client,
            clock: Arc::new(|| crate::clock::system_time().timestamp()),
            token: TokenCache::default(),
        })
    }

    /// Replaces the clock (Unix seconds) used for the assertion and the token's expiry.
    pub fn with_clock(mut self, clock: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The signed JWT-bearer assertion for `iat = now`.
    pub fn assertion_at(&self, now: i64) -> Result<String, SendError> {
        let header = json!({"alg": "RS256", "typ": "JWT"});
        let claims = json!({
            "iss": self.config.client_email,
            "scope": SCOPE,
            "aud": self.config.token_uri,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECS,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &self.rng,
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| SendError::Temporary("signing the FCM assertion failed".into()))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }

    async fn access_token(&self) -> Result<String, SendError> {
        let now = (self.clock)();
        self.token
            .get(&self.client, &self.config.token_uri, now, "FCM", || {
                Ok(vec![
                    ("grant_type", GRANT_TYPE.to_owned()),
                    ("assertion", self.assertion_at(now)?),
                ])
            })
            .await
    }

    async fn deliver(&self, message: &OutgoingMessage) -> Result<SendOutcome, SendError> {
        let device_token = match &message.address {
            Address::Device {
                platform: PushPlatform::Fcm,
                token,
            } if !token.is_empty() => token,
            Address::Device {
                platform: PushPlatform::Fcm,
                ..
            } => {
                return Err(SendError::InvalidAddress(
                    "empty FCM registration token".into(),
                ));
            }
            other => {
                return Err(SendError::Permanent(format!(
                    "FCM cannot deliver to {other:?}"
                )));
            }
        };
        let mut notification = serde_json::Map::new();
        if let Some(title) = &message.title {
            notification.insert("title".into(), Value::String(title.clone()));
        }
        notification.insert("body".into(), Value::String(message.body.clone()));
        let priority = if message.priority >= 10 {
            "high"
        } else {
            "normal"
        };
        let body = json!({"message": {
            "token": device_token,
            "notification": notification,
            "android": {"priority": priority},
        }});

        let access_token = self.access_token().await?;
        let url = format!(
            "{}/v1/projects/{}/messages:send",
            self.config.endpoint.trim_end_matches('/'),
            self.config.project_id
        );
        let response = self
            .client
            .post(url)
            .bearer_auth(&access_token)
            .json(&body)
            .send()
            .await
            .map_err(|e| transport_error("FCM", "send", e))?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            let name = json.get("name").and_then(Value::as_str).map(str::to_owned);
            return Ok(SendOutcome {
                provider_message_id: name,
            });
        }
        if status == 401 {
            self.token.drop_token(&access_token).await;
        }
        Err(classify(status, &json, &text))
    }
}

/// Maps an FCM v1 error response to how the dispatcher should react.
pub fn classify(status: u16, body: &Value, raw: &str) -> SendError {
    let error = body.get("error");
    let grpc_status = error
        .and_then(|e| e.get("status"))
        .and_then(Value::as_str)
        .unwrap_or("");
    // The FCM-specific code is in `details[]` with type `…google.firebase.fcm.v1.FcmError`.
    let fcm_code = error
        .and_then(|e| e.get("details"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.get("errorCode").and_then(Value::as_str))
        .next()
        .unwrap_or("");
    let message = error.and_then(|e| e.get("message")).and_then(Value::as_str);
    let text = format!(
        "FCM {status} {} {}",
        if fcm_code.is_empty() {
            grpc_status
        } else {
            fcm_code
        },
        message.map_or_else(|| snippet(raw), str::to_owned)
    );
    let any = |code: &str| fcm_code == code || grpc_status == code;
    if status == 404 || any("UNREGISTERED") {
        SendError::InvalidAddress(text)
    } else if status == 401
        || status == 429
        || status >= 500
        || any("UNAVAILABLE")
        || any("INTERNAL")
        || any("QUOTA_EXCEEDED")
    {
        SendError::Temporary(text)
    } else {
        SendError::Permanent(text)
    }
}

impl Provider for Fcm {
    fn name(&self) -> &'static str {
        "fcm"
    }

    fn send<'a>(&'a self, message: &'a OutgoingMessage) -> SendFuture<'a> {
        Box::pin(self.deliver(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_classes() {
        let unregistered = json!({"error": {"code": 404, "status": "NOT_FOUND", "details": [
            {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
             "errorCode": "UNREGISTERED"}]}});
        assert!(matches!(
            classify(404, &unregistered, ""),
            SendError::InvalidAddress(_)
        ));
        let invalid = json!({"error": {"code": 400, "status": "INVALID_ARGUMENT"}});
        assert!(matches!(
            classify(400, &invalid, ""),
            SendError::Permanent(_)
        ));
        let unavailable = json!({"error": {"code": 503, "status": "UNAVAILABLE"}});
        assert!(matches!(
            classify(503, &unavailable, ""),
            SendError::Temporary(_)
        ));
        assert!(matches!(
            classify(429, &Value::Null, ""),
            SendError::Temporary(_)
        ));
        assert!(matches!(
            classify(401, &Value::Null, ""),
            SendError::Temporary(_)
        ));
        assert!(matches!(
            classify(403, &Value::Null, ""),
            SendError::Permanent(_)
        ));
    }
}
