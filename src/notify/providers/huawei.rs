//! Huawei Push Kit (HMS), server API v1.
//!
//! An app-level access token (OAuth2 `client_credentials`, valid 3600 s) is cached until shortly
//! before it expires; messages go to `POST {push_endpoint}/v1/{app_id}/messages:send` and the
//! result is the `code` in the JSON answer (`80000000` = success).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::oauth::{TokenCache, snippet, transport_error};
use crate::notify::provider::{
    Address, OutgoingMessage, Provider, PushPlatform, SendError, SendFuture, SendOutcome,
};
use crate::secret::Secret;

pub const CODE_SUCCESS: &str = "80000000";
/// Some tokens were accepted, others refused (`msg` lists `illegal_tokens`).
pub const CODE_PARTIAL_SUCCESS: &str = "80100000";
pub const CODE_OAUTH_ERROR: &str = "80200001";
pub const CODE_TOKEN_EXPIRED: &str = "80200003";
/// All device tokens are invalid.
pub const CODE_INVALID_TOKENS: &str = "80300007";
pub const CODE_SYSTEM_ERROR: &str = "81000001";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The current time as Unix seconds; injectable for tests.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

#[derive(Debug, Clone, serde::Deserialize)]
pub struct HuaweiConfig {
    /// `https://oauth-login.cloud.huawei.com/oauth2/v3/token`.
    pub token_endpoint: String,
    /// `https://push-api.cloud.huawei.com`.
    pub push_endpoint: String,
    /// The app id, also the OAuth client id.
    pub app_id: String,
    pub client_secret: Secret,
}

pub struct Huawei {
    config: HuaweiConfig,
    client: reqwest::Client,
    clock: Clock,
    token: TokenCache,
}

impl std::fmt::Debug for Huawei {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Huawei")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Huawei {
    /// A client over rustls with a 30 s timeout.
    pub fn new(config: HuaweiConfig) -> anyhow::Result<Self> {
        Self::with_client(config, crate::tls::http_client(DEFAULT_TIMEOUT)?)
    }

    pub fn with_client(config: HuaweiConfig, client: reqwest::Client) -> anyhow::Result<Self> {
        anyhow::ensure!(!config.app_id.is_empty(), "the Huawei app id is empty");
        Ok(Huawei {
            config,
            client,
            clock: Arc::new(|| crate::clock::system_time().timestamp()),
            token: TokenCache::default(),
        })
    }

    /// Replaces the clock (Unix seconds) used for the token's expiry.
    pub fn with_clock(mut self, clock: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    async fn access_token(&self) -> Result<String, SendError> {
        let now = (self.clock)();
        self.token
            .get(
                &self.client,
                &self.config.token_endpoint,
                now,
                "Huawei",
                || {
                    Ok(vec![
                        ("grant_type", "client_credentials".to_owned()),
                        ("client_id", self.config.app_id.clone()),
                        (
                            "client_secret",
                            self.config.client_secret.expose().to_owned(),
                        ),
                    ])
                },
            )
            .await
    }

    async fn deliver(&self, message: &OutgoingMessage) -> Result<SendOutcome, SendError> {
        let device_token = match &message.address {
            Address::Device {
                platform: PushPlatform::Huawei,
                token,
            } if !token.is_empty() => token,
            Address::Device {
                platform: PushPlatform::Huawei,
                ..
            } => {
                return Err(SendError::InvalidAddress("empty Huawei push token".into()));
            }
            other => {
                return Err(SendError::Permanent(format!(
                    "Huawei cannot deliver to {other:?}"
                )));
            }
        };
        let mut notification = serde_json::Map::new();
        if let Some(title) = &message.title {
            notification.insert("title".into(), Value::String(title.clone()));
        }
        notification.insert("body".into(), Value::String(message.body.clone()));
        let body = json!({
            "validate_only": false,
            "message": {
                "notification": notification,
                // type 3: open the app's launcher activity.
                "android": {"notification": {"click_action": {"type": 3}}},
                "token": [device_token],
            },
        });

        let access_token = self.access_token().await?;
        let url = format!(
            "{}/v1/{}/messages:send",
            self.config.push_endpoint.trim_end_matches('/'),
            self.config.app_id
        );
        let response = self
            .client
            .post(url)
            .bearer_auth(&access_token)
            .json(&body)
            .send()
            .await
            .map_err(|e| transport_error("Huawei", "send", e))?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let code = json.get("code").and_then(Value::as_str).unwrap_or("");
        if matches!(code, CODE_TOKEN_EXPIRED | CODE_OAUTH_ERROR) || status == 401 {
            self.token.drop_token(&access_token).await;
        }
        classify(status, &json, &text, device_token)
    }
}

/// Maps a Push Kit answer (HTTP status and JSON body) to the outcome of a one-token send.
pub fn classify(
    status: u16,
    body: &Value,
    raw: &str,
    device_token: &str,
) -> Result<SendOutcome, SendError> {
    let code = body.get("code").and_then(Value::as_str).unwrap_or("");
    let msg = body.get("msg").and_then(Value::as_str).unwrap_or("");
    let request_id = body
        .get("requestId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let text = if code.is_empty() {
        format!("Huawei {status} {}", snippet(raw))
    } else {
        format!("Huawei {status} {code} {msg}")
    };
    match code {
        CODE_SUCCESS if (200..300).contains(&status) => Ok(SendOutcome {
            provider_message_id: request_id,
        }),
        CODE_PARTIAL_SUCCESS => {
            // `msg` is itself JSON: v1 lists `illegal_tokens: […]`, newer answers group them by
            // cause, `illegalTokens: {"tokenFormatError": […], …}`.
            let listed = |list: &Value| {
                list.as_array()
                    .is_some_and(|tokens| tokens.iter().any(|t| t.as_str() == Some(device_token)))
            };
            let illegal = serde_json::from_str::<Value>(msg).ok().is_some_and(|m| {
                m.get("illegal_tokens").is_some_and(listed)
                    || m.get("illegalTokens")
                        .and_then(Value::as_object)
                        .is_some_and(|causes| causes.values().any(listed))
            });
            if illegal {
                Err(SendError::InvalidAddress(text))
            } else {
                Ok(SendOutcome {
                    provider_message_id: request_id,
                })
            }
        }
        CODE_INVALID_TOKENS => Err(SendError::InvalidAddress(text)),
        CODE_TOKEN_EXPIRED | CODE_SYSTEM_ERROR => Err(SendError::Temporary(text)),
        _ if status == 429 || status >= 500 => Err(SendError::Temporary(text)),
        _ => Err(SendError::Permanent(text)),
    }
}

impl Provider for Huawei {
    fn name(&self) -> &'static str {
        "huawei"
    }

    fn send<'a>(&'a self, message: &'a OutgoingMessage) -> SendFuture<'a> {
        Box::pin(self.deliver(message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: Value) -> Result<SendOutcome, SendError> {
        classify(status, &body, &body.to_string(), "tok1")
    }

    #[test]
    fn result_codes() {
        let ok = answer(
            200,
            json!({"code": "80000000", "msg": "Success", "requestId": "r1"}),
        );
        assert_eq!(
            ok,
            Ok(SendOutcome {
                provider_message_id: Some("r1".into())
            })
        );
        assert!(matches!(
            answer(
                400,
                json!({"code": "80300007", "msg": "All the tokens are invalid"})
            ),
            Err(SendError::InvalidAddress(_))
        ));
        assert!(matches!(
            answer(
                401,
                json!({"code": "80200003", "msg": "OAuth token expired"})
            ),
            Err(SendError::Temporary(_))
        ));
        assert!(matches!(
            answer(
                500,
                json!({"code": "81000001", "msg": "System inner error"})
            ),
            Err(SendError::Temporary(_))
        ));
        assert!(matches!(
            answer(400, json!({"code": "80100003", "msg": "Illegal payload"})),
            Err(SendError::Permanent(_))
        ));
        let partial = json!({"code": "80100000", "requestId": "r2",
            "msg": "{\"success\":0,\"failure\":1,\"illegal_tokens\":[\"tok1\"]}"});
        assert!(matches!(
            answer(200, partial),
            Err(SendError::InvalidAddress(_))
        ));
        assert!(matches!(
            answer(502, Value::Null),
            Err(SendError::Temporary(_))
        ));
    }
}
