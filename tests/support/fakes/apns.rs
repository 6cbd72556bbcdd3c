//! A fake APNs server (HTTP/2 cleartext, prior knowledge) checking requests as Apple does:
//! provider-token JWT (ES256 signature with the team key's public half, `kid`, `iss`, `iat` at most
//! an hour old, token churn under 20 minutes), `apns-topic`, the device token and the headers, and
//! answering with Apple's JSON error bodies (`{"reason": …}`).
#![allow(dead_code)]

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use poem::http::{StatusCode, Version};
use poem::{Request, Response};
use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use serde_json::{Value, json};

/// A notification the fake accepted.
#[derive(Debug, Clone)]
pub struct ReceivedPush {
    pub device_token: String,
    pub apns_id: Option<String>,
    pub topic: String,
    pub push_type: Option<String>,
    pub priority: Option<String>,
    pub expiration: Option<String>,
    pub collapse_id: Option<String>,
    pub payload: Value,
    /// The provider token it came with.
    pub jwt: String,
}

struct State {
    public_key: Vec<u8>,
    team_id: String,
    key_id: String,
    topic: String,
    unregistered: HashSet<String>,
    failures: VecDeque<u16>,
    received: Vec<ReceivedPush>,
    /// Distinct provider tokens accepted, with their `iat`.
    tokens: Vec<(String, i64)>,
    requests: usize,
}

pub struct FakeApns {
    /// `http://127.0.0.1:<port>`, the `ApnsConfig::endpoint` to use.
    pub endpoint: String,
    state: Arc<Mutex<State>>,
    clock_offset: Arc<AtomicI64>,
}

impl FakeApns {
    /// Serves on 127.0.0.1:0 for the team key whose uncompressed P-256 public key is given.
    pub async fn start(public_key: &[u8], team_id: &str, key_id: &str, topic: &str) -> FakeApns {
        let state = Arc::new(Mutex::new(State {
            public_key: public_key.to_vec(),
            team_id: team_id.to_owned(),
            key_id: key_id.to_owned(),
            topic: topic.to_owned(),
            unregistered: HashSet::new(),
            failures: VecDeque::new(),
            received: Vec::new(),
            tokens: Vec::new(),
            requests: 0,
        }));
        let clock_offset = Arc::new(AtomicI64::new(0));
        let endpoint = {
            let state = state.clone();
            let clock_offset = clock_offset.clone();
            poem::endpoint::make(move |req| {
                let state = state.clone();
                let now = fingertip::clock::system_time().timestamp()
                    + clock_offset.load(Ordering::SeqCst);
                async move { handle(req, &state, now).await }
            })
        };
        let address = serve(endpoint).await;
        FakeApns {
            endpoint: format!("http://{address}"),
            state,
            clock_offset,
        }
    }

    /// Later pushes to `device_token` get 410 Unregistered.
    pub fn unregister(&self, device_token: &str) {
        self.lock().unregistered.insert(device_token.to_owned());
    }

    /// The next `n` pushes fail with `status` (500 InternalServerError, 503 ServiceUnavailable or
    /// 429 TooManyRequests) before any check.
    pub fn fail_next(&self, n: usize, status: u16) {
        self.lock().failures.extend(std::iter::repeat_n(status, n));
    }

    /// Moves the fake's clock (e.g. to make provider tokens look expired).
    pub fn set_clock_offset(&self, seconds: i64) {
        self.clock_offset.store(seconds, Ordering::SeqCst);
    }

    /// The notifications accepted (200), in order.
    pub fn received(&self) -> Vec<ReceivedPush> {
        self.lock().received.clone()
    }

    /// The distinct provider tokens that were accepted as valid.
    pub fn provider_tokens(&self) -> Vec<String> {
        self.lock()
            .tokens
            .iter()
            .map(|(jwt, _)| jwt.clone())
            .collect()
    }

    /// Every request received, whatever the answer.
    pub fn request_count(&self) -> usize {
        self.lock().requests
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

async fn serve(endpoint: impl poem::Endpoint + 'static) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(endpoint));
    address
}

fn reason(status: u16, reason: &str) -> Response {
    let mut body = json!({"reason": reason});
    if status == 410 {
        body["timestamp"] = json!(fingertip::clock::system_time().timestamp_millis());
    }
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .content_type("application/json")
        .body(body.to_string())
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.header(name).map(str::to_owned)
}

async fn handle(mut req: Request, state: &Mutex<State>, now: i64) -> Response {
    if req.version() != Version::HTTP_2 {
        // APNs only speaks HTTP/2.
        return Response::builder()
            .status(StatusCode::HTTP_VERSION_NOT_SUPPORTED)
            .body("HTTP/2 required");
    }
    let body = req.take_body().into_bytes().await.unwrap_or_default();
    let mut state = state.lock().unwrap();
    state.requests += 1;
    if let Some(status) = state.failures.pop_front() {
        let text = match status {
            429 => "TooManyRequests",
            503 => "ServiceUnavailable",
            _ => "InternalServerError",
        };
        return reason(status, text);
    }
    if req.method() != poem::http::Method::POST {
        return reason(405, "MethodNotAllowed");
    }
    let Some(device_token) = req
        .uri()
        .path()
        .strip_prefix("/3/device/")
        .map(str::to_owned)
    else {
        return reason(404, "BadPath");
    };

    // Provider token.
    let Some(authorization) = header(&req, "authorization") else {
        return reason(403, "MissingProviderToken");
    };
    let Some(jwt) = authorization
        .strip_prefix("bearer ")
        .or_else(|| authorization.strip_prefix("Bearer "))
        .map(str::to_owned)
    else {
        return reason(403, "InvalidProviderToken");
    };
    let iat = match verify_jwt(&state, &jwt) {
        Ok(iat) => iat,
        Err(()) => return reason(403, "InvalidProviderToken"),
    };
    if now - iat > 3600 {
        return reason(403, "ExpiredProviderToken");
    }
    if iat > now + 60 {
        return reason(403, "InvalidProviderToken");
    }
    if !state.tokens.iter().any(|(known, _)| *known == jwt) {
        // A new token less than 20 minutes after the previous one.
        if state
            .tokens
            .last()
            .is_some_and(|(_, last)| iat - last < 20 * 60)
        {
            return reason(429, "TooManyProviderTokenUpdates");
        }
        state.tokens.push((jwt.clone(), iat));
    }

    // Headers.
    let Some(topic) = header(&req, "apns-topic") else {
        return reason(400, "MissingTopic");
    };
    if topic != state.topic {
        return reason(400, "TopicDisallowed");
    }
    let apns_id = header(&req, "apns-id");
    if let Some(id) = &apns_id
        && (uuid::Uuid::parse_str(id).is_err() || id.len() != 36)
    {
        return reason(400, "BadMessageId");
    }
    let priority = header(&req, "apns-priority");
    if priority
        .as_deref()
        .is_some_and(|p| !matches!(p, "10" | "5" | "1"))
    {
        return reason(400, "BadPriority");
    }
    let expiration = header(&req, "apns-expiration");
    if expiration
        .as_deref()
        .is_some_and(|e| e.parse::<u64>().is_err())
    {
        return reason(400, "BadExpirationDate");
    }
    let push_type = header(&req, "apns-push-type");
    if push_type.as_deref().is_some_and(|t| {
        !matches!(
            t,
            "alert" | "background" | "location" | "voip" | "complication" | "fileprovider" | "mdm"
        )
    }) {
        return reason(400, "InvalidPushType");
    }
    let collapse_id = header(&req, "apns-collapse-id");
    if collapse_id.as_deref().is_some_and(|c| c.len() > 64) {
        return reason(400, "BadCollapseId");
    }

    // Device token and payload.
    if device_token.is_empty() {
        return reason(400, "MissingDeviceToken");
    }
    if device_token.len() != 64 || !device_token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return reason(400, "BadDeviceToken");
    }
    if body.is_empty() {
        return reason(400, "PayloadEmpty");
    }
    if body.len() > 4096 {
        return reason(413, "PayloadTooLarge");
    }
    let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
        return reason(400, "BadPayload");
    };
    if !payload.get("aps").is_some_and(Value::is_object) {
        return reason(400, "BadPayload");
    }
    if state.unregistered.contains(&device_token) {
        return reason(410, "Unregistered");
    }

    let id = apns_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string().to_uppercase());
    state.received.push(ReceivedPush {
        device_token,
        apns_id,
        topic,
        push_type,
        priority,
        expiration,
        collapse_id,
        payload,
        jwt,
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("apns-id", id)
        .finish()
}

/// Checks the ES256 signature, `alg`, `kid` and `iss`; returns `iat`.
fn verify_jwt(state: &State, jwt: &str) -> Result<i64, ()> {
    let mut parts = jwt.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(());
    };
    let decode = |part: &str| -> Result<Value, ()> {
        let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| ())?;
        serde_json::from_slice(&bytes).map_err(|_| ())
    };
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| ())?;
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &state.public_key)
        .verify(format!("{header}.{claims}").as_bytes(), &signature)
        .map_err(|_| ())?;
    let (header, claims) = (decode(header)?, decode(claims)?);
    if header["alg"] != "ES256" || header["kid"] != state.key_id.as_str() {
        return Err(());
    }
    if claims["iss"] != state.team_id.as_str() {
        return Err(());
    }
    claims["iat"].as_i64().ok_or(())
}
