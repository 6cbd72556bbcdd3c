//! A fake identity authority adapter on 127.0.0.1, for the real-name client's tests.
//!
//! It implements the adapter side of `fingertip::identity::realname::http` with its own code
//! (not the client's): it recomputes the request signature from what it received (method, path,
//! the headers' timestamp and nonce, the SHA-256 of the exact body), and refuses with HTTP 401
//! and `{"error": code}` an unknown key id (`unknown_key_id`), a missing header
//! (`missing_header`), a wrong signature (`bad_signature`), a timestamp more than 300 s away
//! (`timestamp_skewed`) or a reused nonce (`nonce_reused`). It knows a small table of people,
//! answers `match` / `mismatch` / `not_found`, and signs its answers with the request's nonce.
//! It can be scripted to fail, to sign wrongly, to answer another request id, or to be slow.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::result_large_err
)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use fingertip::identity::realname::{HttpRealNameConfig, RealNameConfig, RealNameProviderKind};
use fingertip::secret::Secret;
use poem::http::StatusCode;
use poem::listener::TcpAcceptor;
use poem::{Endpoint, Request, Response, Server};
use ring::{digest, hmac};
use serde_json::{Value, json};

/// The path the fake serves.
pub const PATH: &str = "/v1/identity/verify";

/// One authenticated check the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedCheck {
    pub key_id: String,
    pub request_id: String,
    pub name: String,
    pub id_number: String,
    pub nonce: String,
    /// What the fake answered: `match`, `mismatch`, `not_found`, or `HTTP <status>`.
    pub answer: String,
}

#[derive(Default)]
struct State {
    people: HashMap<String, String>,
    received: Vec<ReceivedCheck>,
    refusals: Vec<String>,
    nonces: HashSet<String>,
    failures: VecDeque<u16>,
    delays: VecDeque<Duration>,
    sign_wrongly: bool,
    answer_request_id: Option<String>,
}

struct Inner {
    key_id: String,
    secret: String,
    state: Mutex<State>,
}

pub struct FakeAuthority {
    /// `http://127.0.0.1:<port>/v1/identity/verify`, the client's URL.
    pub url: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeAuthority {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeAuthority {
    /// Serves on 127.0.0.1:0, accepting requests signed with this key.
    pub async fn start(key_id: &str, secret: &str) -> FakeAuthority {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake authority");
        let address = listener.local_addr().expect("fake authority address");
        let acceptor = TcpAcceptor::from_tokio(listener).expect("fake authority acceptor");
        let inner = Arc::new(Inner {
            key_id: key_id.to_owned(),
            secret: secret.to_owned(),
            state: Mutex::new(State::default()),
        });
        let endpoint = FakeEndpoint(inner.clone());
        let task = tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor).run(endpoint).await;
        });
        FakeAuthority {
            url: format!("http://{address}{PATH}"),
            inner,
            task,
        }
    }

    /// Registers a citizen: `id_number` exists with this name.
    pub fn add_person(&self, name: &str, id_number: &str) {
        self.inner
            .state
            .lock()
            .unwrap()
            .people
            .insert(id_number.to_owned(), name.to_owned());
    }

    /// A client configuration with the fake's credentials.
    pub fn client_config(&self) -> HttpRealNameConfig {
        HttpRealNameConfig {
            url: self.url.clone(),
            key_id: self.inner.key_id.clone(),
            secret: Secret::new(self.inner.secret.clone()),
        }
    }

    /// An `[identity.realname]` section using the fake.
    pub fn realname_config(&self) -> RealNameConfig {
        RealNameConfig {
            provider: RealNameProviderKind::Http,
            url: Some(self.url.clone()),
            key_id: Some(self.inner.key_id.clone()),
            secret: Some(Secret::new(self.inner.secret.clone())),
            ..RealNameConfig::default()
        }
    }

    /// Every authenticated check, in order (including those answered with a scripted failure).
    pub fn received(&self) -> Vec<ReceivedCheck> {
        self.inner.state.lock().unwrap().received.clone()
    }

    /// The error codes of refused requests, in order.
    pub fn refusals(&self) -> Vec<String> {
        self.inner.state.lock().unwrap().refusals.clone()
    }

    /// The next `n` authenticated requests are answered with this status (e.g. 503).
    pub fn fail_next(&self, n: usize, status: u16) {
        let mut state = self.inner.state.lock().unwrap();
        for _ in 0..n {
            state.failures.push_back(status);
        }
    }

    /// The next authenticated request is answered after `delay`.
    pub fn delay_next(&self, delay: Duration) {
        self.inner.state.lock().unwrap().delays.push_back(delay);
    }

    /// Signs answers with a wrong key, as a man in the middle would have to.
    pub fn sign_wrongly(&self, wrongly: bool) {
        self.inner.state.lock().unwrap().sign_wrongly = wrongly;
    }

    /// Answers (correctly signed) with this `request_id` instead of the request's.
    pub fn answer_request_id(&self, request_id: Option<&str>) {
        self.inner.state.lock().unwrap().answer_request_id = request_id.map(str::to_owned);
    }
}

struct FakeEndpoint(Arc<Inner>);

impl Endpoint for FakeEndpoint {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let body = req.take_body().into_vec().await?;
        Ok(self.0.handle(&req, &body).await)
    }
}

fn json_response(status: u16, body: &Value) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .content_type("application/json")
        .body(body.to_string())
}

/// The fake's own signing: base64(HMAC-SHA256(secret, a \n b \n c \n d \n hex(sha256(body)))).
fn fake_signature(secret: &str, parts: [&str; 4], body: &[u8]) -> String {
    let mut text = String::new();
    for part in parts {
        text.push_str(part);
        text.push('\n');
    }
    text.push_str(&hex::encode(digest::digest(&digest::SHA256, body)));
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(hmac::sign(&key, text.as_bytes()).as_ref())
}

impl Inner {
    fn refuse(&self, status: u16, code: &str) -> Response {
        self.state.lock().unwrap().refusals.push(code.to_owned());
        json_response(
            status,
            &json!({"error": code, "message": "refused by the fake"}),
        )
    }

    async fn handle(&self, req: &Request, body: &[u8]) -> Response {
        if req.uri().path() != PATH {
            return self.refuse(404, "not_found");
        }
        if req.method().as_str() != "POST" {
            return self.refuse(405, "method_not_allowed");
        }
        let header = |name: &str| -> Option<String> {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (Some(key_id), Some(timestamp), Some(nonce), Some(signature)) = (
            header("X-Fingertip-Key-Id"),
            header("X-Fingertip-Timestamp"),
            header("X-Fingertip-Nonce"),
            header("X-Fingertip-Signature"),
        ) else {
            return self.refuse(401, "missing_header");
        };
        if key_id != self.key_id {
            return self.refuse(401, "unknown_key_id");
        }
        let expected = fake_signature(
            &self.secret,
            ["POST", req.uri().path(), &timestamp, &nonce],
            body,
        );
        if expected != signature {
            return self.refuse(401, "bad_signature");
        }
        let Ok(seconds) = timestamp.parse::<i64>() else {
            return self.refuse(401, "timestamp_skewed");
        };
        if (fingertip::clock::system_time().timestamp() - seconds).abs() > 300 {
            return self.refuse(401, "timestamp_skewed");
        }
        if nonce.len() < 16 || !self.state.lock().unwrap().nonces.insert(nonce.clone()) {
            return self.refuse(401, "nonce_reused");
        }
        let content_type = header("content-type").unwrap_or_default();
        if !content_type.starts_with("application/json") {
            return self.refuse(415, "unsupported_media_type");
        }
        let Ok(request) = serde_json::from_slice::<Value>(body) else {
            return self.refuse(400, "bad_request");
        };
        let field = |name: &str| request.get(name).and_then(Value::as_str).map(str::to_owned);
        let (Some(request_id), Some(name), Some(id_number)) =
            (field("request_id"), field("name"), field("id_number"))
        else {
            return self.refuse(400, "bad_request");
        };
        if request.get("timestamp").and_then(Value::as_i64) != Some(seconds)
            || uuid::Uuid::parse_str(&request_id).is_err()
        {
            return self.refuse(400, "bad_request");
        }

        let (failure, delay, sign_wrongly, answer_request_id, answer) = {
            let mut state = self.state.lock().unwrap();
            let failure = state.failures.pop_front();
            let answer = match (failure, state.people.get(&id_number)) {
                (Some(status), _) => format!("HTTP {status}"),
                (None, Some(known)) if *known == name => "match".to_owned(),
                (None, Some(_)) => "mismatch".to_owned(),
                (None, None) => "not_found".to_owned(),
            };
            state.received.push(ReceivedCheck {
                key_id,
                request_id: request_id.clone(),
                name,
                id_number,
                nonce: nonce.clone(),
                answer: answer.clone(),
            });
            (
                failure,
                state.delays.pop_front(),
                state.sign_wrongly,
                state.answer_request_id.clone(),
                answer,
            )
        };
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        if let Some(status) = failure {
            return json_response(
                status,
                &json!({"error": "scripted_failure", "message": "scripted"}),
            );
        }
        let response_body = json!({
            "request_id": answer_request_id.unwrap_or(request_id),
            "result": answer,
        })
        .to_string();
        let response_timestamp = fingertip::clock::system_time().timestamp().to_string();
        let key = if sign_wrongly {
            "not-the-shared-secret"
        } else {
            self.secret.as_str()
        };
        let response_signature = fake_signature(
            key,
            ["200", PATH, &response_timestamp, &nonce],
            response_body.as_bytes(),
        );
        Response::builder()
            .status(StatusCode::OK)
            .content_type("application/json")
            .header("X-Fingertip-Timestamp", response_timestamp)
            .header("X-Fingertip-Signature", response_signature)
            .body(response_body)
    }
}
