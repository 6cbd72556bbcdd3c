//! The OAuth access token the push services (FCM, Huawei) hand out: fetched by a form POST,
//! cached until shortly before it expires, fetched once when many sends need it at the same time,
//! and dropped when the service says it is no longer valid.

use serde::Deserialize;

use super::super::provider::SendError;

/// An access token is replaced this long before it expires.
const EXPIRY_MARGIN_SECS: i64 = 300;

struct AccessToken {
    token: String,
    /// Unix seconds after which it is not used any more.
    refresh_at: i64,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: i64,
}

#[derive(Default)]
pub struct TokenCache {
    /// Held across the token request so that concurrent sends wait for one token.
    token: tokio::sync::Mutex<Option<AccessToken>>,
}

impl TokenCache {
    /// The cached token when still fresh at `now` (Unix seconds), else a new one from `url`,
    /// POSTing the form `make_form` builds. `service` names the provider in errors.
    pub async fn get(
        &self,
        client: &reqwest::Client,
        url: &str,
        now: i64,
        service: &str,
        make_form: impl FnOnce() -> Result<Vec<(&'static str, String)>, SendError>,
    ) -> Result<String, SendError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| now < t.refresh_at) {
            return Ok(token.token.clone());
        }
        let form = make_form()?;
        let response = client
            .post(url)
            .form(&form)
            .send()
            .await
            .map_err(|e| transport_error(service, "OAuth token", e))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            let text = format!("{service} OAuth token: {status} {}", snippet(&body));
            return Err(if status.as_u16() == 429 || status.is_server_error() {
                SendError::Temporary(text)
            } else {
                // Wrong credentials or key: retrying will not help until the configuration changes.
                SendError::Permanent(text)
            });
        }
        let token: TokenResponse = response
            .json()
            .await
            .map_err(|e| SendError::Temporary(format!("{service} OAuth token response: {e}")))?;
        let margin = EXPIRY_MARGIN_SECS.min(token.expires_in / 2);
        *cached = Some(AccessToken {
            token: token.access_token.clone(),
            refresh_at: now + token.expires_in - margin,
        });
        Ok(token.access_token)
    }

    /// Forgets `token` (the service refused it), unless a newer one replaced it meanwhile.
    pub async fn drop_token(&self, token: &str) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|t| t.token == token) {
            *cached = None;
        }
    }
}

/// The start of a response body, for error messages.
pub fn snippet(body: &str) -> String {
    body.chars().take(200).collect()
}

/// A request that could not be built is permanent; one that could not reach the service is not.
pub fn transport_error(service: &str, what: &str, error: reqwest::Error) -> SendError {
    if error.is_builder() {
        SendError::Permanent(format!("{service} {what} request: {error}"))
    } else {
        SendError::Temporary(format!("{service} {what} unreachable: {error}"))
    }
}
