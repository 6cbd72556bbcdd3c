//! A fake Huawei Push Kit: the OAuth 2.0 token endpoint (`client_credentials` with the app id and
//! secret) and `POST /v1/{app_id}/messages:send` (bearer token it issued), answering with Push
//! Kit's `{"code", "msg", "requestId"}` bodies.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use poem::http::StatusCode;
use poem::web::Form;
use poem::{FromRequest, Request, RequestBody, Response};
use serde_json::{Value, json};

/// A message the fake accepted.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    pub tokens: Vec<String>,
    /// The whole request body.
    pub body: Value,
    pub access_token: String,
}

struct State {
    app_id: String,
    client_secret: String,
    issued: HashSet<String>,
    expired: HashSet<String>,
    dead_tokens: HashSet<String>,
    failures: VecDeque<u16>,
    received: Vec<ReceivedMessage>,
    token_requests: usize,
    send_requests: usize,
}

pub struct FakeHuawei {
    /// `http://127.0.0.1:<port>/oauth2/v3/token`, the `HuaweiConfig::token_endpoint`.
    pub token_endpoint: String,
    /// `http://127.0.0.1:<port>`, the `HuaweiConfig::push_endpoint`.
    pub push_endpoint: String,
    state: Arc<Mutex<State>>,
}

impl FakeHuawei {
    pub async fn start(app_id: &str, client_secret: &str) -> FakeHuawei {
        let state = Arc::new(Mutex::new(State {
            app_id: app_id.to_owned(),
            client_secret: client_secret.to_owned(),
            issued: HashSet::new(),
            expired: HashSet::new(),
            dead_tokens: HashSet::new(),
            failures: VecDeque::new(),
            received: Vec::new(),
            token_requests: 0,
            send_requests: 0,
        }));
        let ep = {
            let state = state.clone();
            poem::endpoint::make(move |req| {
                let state = state.clone();
                async move { handle(req, &state).await }
            })
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let acceptor = poem::listener::TcpAcceptor::from_tokio(listener).unwrap();
        tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(ep));
        FakeHuawei {
            token_endpoint: format!("http://{address}/oauth2/v3/token"),
            push_endpoint: format!("http://{address}"),
            state,
        }
    }

    /// Later sends to `device_token` get 80300007 (all tokens invalid).
    pub fn unregister(&self, device_token: &str) {
        self.lock().dead_tokens.insert(device_token.to_owned());
    }

    /// The next `n` sends fail with `status` (500 → 81000001 system error, 503 flow control).
    pub fn fail_next(&self, n: usize, status: u16) {
        self.lock().failures.extend(std::iter::repeat_n(status, n));
    }

    /// Access tokens issued so far are answered with 80200003 (OAuth token expired).
    pub fn expire_access_tokens(&self) {
        let mut state = self.lock();
        let issued: Vec<String> = state.issued.drain().collect();
        state.expired.extend(issued);
    }

    pub fn received(&self) -> Vec<ReceivedMessage> {
        self.lock().received.clone()
    }

    pub fn token_requests(&self) -> usize {
        self.lock().token_requests
    }

    pub fn send_requests(&self) -> usize {
        self.lock().send_requests
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

fn json_response(status: u16, body: Value) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .content_type("application/json;charset=UTF-8")
        .body(body.to_string())
}

fn push_answer(status: u16, code: &str, msg: &str) -> Response {
    let request_id = format!("{}", uuid::Uuid::new_v4().simple());
    json_response(
        status,
        json!({"code": code, "msg": msg, "requestId": request_id}),
    )
}

async fn handle(mut req: Request, state: &Mutex<State>) -> Response {
    let path = req.uri().path().to_owned();
    if req.method() != poem::http::Method::POST {
        return json_response(405, json!({"error": "method not allowed"}));
    }
    if path == "/oauth2/v3/token" {
        let mut body = RequestBody::new(req.take_body());
        let form = Form::<HashMap<String, String>>::from_request(&req, &mut body).await;
        let mut state = state.lock().unwrap();
        state.token_requests += 1;
        let Ok(Form(form)) = form else {
            return json_response(
                400,
                json!({"error": 1101, "sub_error": 20001, "error_description": "invalid request"}),
            );
        };
        let field = |name: &str| form.get(name).map(String::as_str);
        if field("grant_type") != Some("client_credentials") {
            return json_response(
                400,
                json!({"error": 1101, "sub_error": 20005,
                       "error_description": "unsupported grant_type"}),
            );
        }
        if field("client_id") != Some(state.app_id.as_str())
            || field("client_secret") != Some(state.client_secret.as_str())
        {
            return json_response(
                400,
                json!({"error": 1102, "sub_error": 20152,
                       "error_description": "invalid client_secret"}),
            );
        }
        let access_token = format!(
            "CgB6e3x9fake{}{}",
            state.token_requests,
            uuid::Uuid::new_v4()
        );
        state.issued.insert(access_token.clone());
        return json_response(
            200,
            json!({"access_token": access_token, "expires_in": 3600, "token_type": "Bearer"}),
        );
    }

    let bytes = req.take_body().into_bytes().await.unwrap_or_default();
    let mut state = state.lock().unwrap();
    state.send_requests += 1;
    if path != format!("/v1/{}/messages:send", state.app_id) {
        return json_response(404, json!({"error": "not found"}));
    }
    let bearer = req
        .header("authorization")
        .and_then(|a| a.strip_prefix("Bearer "));
    let access_token = match bearer {
        Some(t) if state.issued.contains(t) => t.to_owned(),
        Some(t) if state.expired.contains(t) => {
            return push_answer(401, "80200003", "OAuth token expired");
        }
        _ => return push_answer(401, "80200001", "Oauth authentication error"),
    };
    if let Some(status) = state.failures.pop_front() {
        return match status {
            503 => push_answer(503, "80300012", "flow control"),
            _ => push_answer(500, "81000001", "System inner error"),
        };
    }
    let Ok(body) = serde_json::from_slice::<Value>(&bytes) else {
        return push_answer(400, "80100003", "Illegal payload, illegal json format");
    };
    let message = &body["message"];
    let Some(tokens) = message["token"].as_array() else {
        return push_answer(400, "80100001", "Illegal token, the token can not be empty");
    };
    let tokens: Vec<String> = tokens
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    if tokens.is_empty() || tokens.len() > 1000 {
        return push_answer(
            400,
            "80300010",
            "The number of tokens exceeds the default value",
        );
    }
    let notification = &message["notification"];
    if !notification.is_object() || notification["body"].as_str().is_none() {
        return push_answer(
            400,
            "80100003",
            "Illegal payload, notification body is empty",
        );
    }
    let dead: Vec<&String> = tokens
        .iter()
        .filter(|t| state.dead_tokens.contains(*t))
        .collect();
    if dead.len() == tokens.len() {
        return push_answer(400, "80300007", "All the tokens are invalid");
    }
    let partial = (!dead.is_empty()).then(|| {
        json!({"success": tokens.len() - dead.len(), "failure": dead.len(), "illegal_tokens": dead})
            .to_string()
    });
    state.received.push(ReceivedMessage {
        tokens,
        body: body.clone(),
        access_token,
    });
    match partial {
        Some(msg) => push_answer(200, "80100000", &msg),
        None => push_answer(200, "80000000", "Success"),
    }
}
