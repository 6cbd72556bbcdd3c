//! A fake Aliyun dysmsapi (`SendSms`, 2017-05-25) on 127.0.0.1, for the SMS client's tests.
//!
//! It checks every request as Aliyun's gateway does, with its own code (not the client's): the
//! V3 `ACS3-HMAC-SHA256` signature recomputed from what was received (method, path, raw query
//! re-canonicalised, the signed headers as received, the body's hash), that every `host`,
//! `content-type` and `x-acs-*` header is signed, `x-acs-content-sha256`, the action and version,
//! the date (±15 min) and that a nonce is never reused. Refusals carry Aliyun's error codes and
//! statuses (`SignatureDoesNotMatch` 400, `InvalidAccessKeyId.NotFound` 404…). Then the business
//! checks of `SendSms`: required parameters, mainland numbers (`isv.MOBILE_NUMBER_ILLEGAL`),
//! `TemplateParam` a JSON object of strings (`isv.INVALID_JSON_PARAM`).
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::result_large_err
)]

use std::collections::{HashSet, VecDeque};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fingertip::notify::providers::aliyun::AliyunSmsConfig;
use fingertip::secret::Secret;
use poem::http::StatusCode;
use poem::listener::TcpAcceptor;
use poem::{Endpoint, Request, Response, Server};
use ring::{digest, hmac};
use serde_json::{Value, json};

/// One SMS the fake accepted (one per number of `PhoneNumbers`).
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedSms {
    pub phone: String,
    pub sign_name: String,
    pub template_code: String,
    /// `TemplateParam` parsed (`Value::Null` when absent).
    pub params: Value,
    pub out_id: Option<String>,
    /// The `BizId` the fake answered.
    pub biz_id: String,
}

#[derive(Default)]
struct State {
    received: Vec<ReceivedSms>,
    failures: VecDeque<(u16, String)>,
    delays: VecDeque<Duration>,
    nonces: HashSet<String>,
    next_biz_id: u64,
}

struct Inner {
    access_key_id: String,
    secret: String,
    state: Mutex<State>,
}

pub struct FakeAliyun {
    /// `http://127.0.0.1:<port>`, to use as the client's endpoint.
    pub base_url: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeAliyun {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeAliyun {
    /// Serves on 127.0.0.1:0, accepting requests signed with this AccessKey.
    pub async fn start(access_key_id: &str, secret: &str) -> FakeAliyun {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Aliyun");
        let address = listener.local_addr().expect("fake Aliyun address");
        let acceptor = TcpAcceptor::from_tokio(listener).expect("fake Aliyun acceptor");
        let inner = Arc::new(Inner {
            access_key_id: access_key_id.to_owned(),
            secret: secret.to_owned(),
            state: Mutex::new(State::default()),
        });
        let endpoint = FakeEndpoint(inner.clone());
        let task = tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor).run(endpoint).await;
        });
        FakeAliyun {
            base_url: format!("http://{address}"),
            inner,
            task,
        }
    }

    /// A client configuration for this fake with its credentials.
    pub fn client_config(&self, sign_name: &str) -> AliyunSmsConfig {
        AliyunSmsConfig {
            endpoint: self.base_url.clone(),
            access_key_id: self.inner.access_key_id.clone(),
            access_key_secret: Secret::new(self.inner.secret.clone()),
            sign_name: sign_name.to_owned(),
        }
    }

    /// The SMS accepted so far, in order.
    pub fn received(&self) -> Vec<ReceivedSms> {
        self.inner.state.lock().unwrap().received.clone()
    }

    /// The next `n` correctly signed requests fail with this HTTP status and error code (e.g.
    /// `500, "InternalError"`, or `200, "isv.BUSINESS_LIMIT_CONTROL"` as Aliyun answers business
    /// refusals); nothing is recorded for them.
    pub fn fail_next(&self, n: usize, status: u16, code: &str) {
        let mut state = self.inner.state.lock().unwrap();
        for _ in 0..n {
            state.failures.push_back((status, code.to_owned()));
        }
    }

    /// The next correctly signed request is answered only after `delay` (it is processed and
    /// recorded first, as a real send whose answer is lost).
    pub fn delay_next(&self, delay: Duration) {
        self.inner.state.lock().unwrap().delays.push_back(delay);
    }

    /// An SmsReport push body (Aliyun's documented format) for an accepted SMS.
    pub fn report_json(sms: &ReceivedSms, delivered: bool) -> String {
        json!([{
            "phone_number": sms.phone,
            "send_time": "2024-01-01 10:00:00",
            "report_time": "2024-01-01 10:00:05",
            "success": delivered,
            "err_code": if delivered { "DELIVERED" } else { "MK:0001" },
            "err_msg": if delivered { "用户接收成功" } else { "空号" },
            "sms_size": "1",
            "biz_id": sms.biz_id,
            "out_id": sms.out_id.clone().unwrap_or_default(),
        }])
        .to_string()
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

fn request_id() -> String {
    uuid::Uuid::new_v4().to_string().to_uppercase()
}

fn json_response(status: u16, body: Value) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .content_type("application/json;charset=utf-8")
        .body(body.to_string())
}

/// A gateway refusal, as Aliyun's POP gateway words it.
fn gateway_error(status: u16, code: &str, message: &str) -> Response {
    json_response(
        status,
        json!({
            "RequestId": request_id(),
            "HostId": "dysmsapi.aliyuncs.com",
            "Code": code,
            "Message": message,
            "Recommend": format!("https://api.aliyun.com/troubleshoot?q={code}&product=Dysmsapi"),
        }),
    )
}

/// A `SendSms` business answer (HTTP 200 with a code other than OK).
fn business_error(code: &str, message: &str) -> Response {
    json_response(
        200,
        json!({"RequestId": request_id(), "Code": code, "Message": message}),
    )
}

fn missing(name: &str) -> Response {
    gateway_error(
        400,
        "MissingParameter",
        &format!(
            "The input parameter \"{name}\" that is mandatory for processing this request is not supplied."
        ),
    )
}

fn hex_sha256(data: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, data))
}

/// RFC 3986 encoding, `A-Za-z0-9-_.~` unreserved (the fake's own copy).
fn rfc3986(raw: &[u8]) -> String {
    let mut out = String::new();
    for &b in raw {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn percent_decode(raw: &str) -> Vec<u8> {
    fn hex_digit(b: u8) -> Option<u8> {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex_digit(bytes[i + 1]), hex_digit(bytes[i + 2]))
        {
            out.push(hi * 16 + lo);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// `name=value` pairs of a query or form body, decoded.
fn decode_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                String::from_utf8_lossy(&percent_decode(name)).into_owned(),
                String::from_utf8_lossy(&percent_decode(value)).into_owned(),
            )
        })
        .collect()
}

fn is_mainland_mobile(number: &str) -> bool {
    let number = number
        .strip_prefix("+86")
        .or_else(|| number.strip_prefix("0086"))
        .unwrap_or(number);
    number.len() == 11 && number.starts_with('1') && number.bytes().all(|b| b.is_ascii_digit())
}

impl Inner {
    async fn handle(&self, req: &Request, body: &[u8]) -> Response {
        if let Err(refusal) = self.authenticate(req, body) {
            return refusal;
        }
        let (delay, failure) = {
            let mut state = self.state.lock().unwrap();
            (state.delays.pop_front(), state.failures.pop_front())
        };
        if let Some((status, code)) = failure {
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            return if status == 200 {
                business_error(&code, "scripted failure")
            } else {
                gateway_error(status, &code, "scripted failure")
            };
        }
        let response = self.send_sms(req, body);
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        response
    }

    /// The gateway's checks: the V3 signature and its headers.
    fn authenticate(&self, req: &Request, body: &[u8]) -> Result<(), Response> {
        let method = req.method().as_str().to_owned();
        if method != "POST" && method != "GET" {
            return Err(gateway_error(
                400,
                "UnsupportedHTTPMethod",
                "This http method is not supported.",
            ));
        }
        let header = |name: &str| -> Option<String> {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let authorization = header("authorization").ok_or_else(|| missing("Authorization"))?;
        for name in [
            "host",
            "x-acs-action",
            "x-acs-version",
            "x-acs-date",
            "x-acs-signature-nonce",
            "x-acs-content-sha256",
        ] {
            if header(name).is_none() {
                return Err(missing(name));
            }
        }
        let incomplete = || {
            gateway_error(
                400,
                "IncompleteSignature",
                "The request signature does not conform to Aliyun standards.",
            )
        };
        let fields = authorization
            .strip_prefix("ACS3-HMAC-SHA256 ")
            .ok_or_else(incomplete)?;
        let mut credential = None;
        let mut signed_headers = None;
        let mut signature = None;
        for part in fields.split(',') {
            match part.trim().split_once('=') {
                Some(("Credential", v)) => credential = Some(v.to_owned()),
                Some(("SignedHeaders", v)) => signed_headers = Some(v.to_owned()),
                Some(("Signature", v)) => signature = Some(v.to_owned()),
                _ => return Err(incomplete()),
            }
        }
        let (Some(credential), Some(signed_headers), Some(signature)) =
            (credential, signed_headers, signature)
        else {
            return Err(incomplete());
        };
        if credential != self.access_key_id {
            return Err(gateway_error(
                404,
                "InvalidAccessKeyId.NotFound",
                "Specified access key is not found.",
            ));
        }
        if header("x-acs-action").as_deref() != Some("SendSms") {
            return Err(gateway_error(
                404,
                "InvalidAction.NotFound",
                "Specified api is not found, please check your url and method.",
            ));
        }
        if header("x-acs-version").as_deref() != Some("2017-05-25") {
            return Err(gateway_error(
                400,
                "InvalidVersion",
                "Specified parameter Version is not valid.",
            ));
        }
        let date = header("x-acs-date").unwrap_or_default();
        let Ok(date) = chrono::NaiveDateTime::parse_from_str(&date, "%Y-%m-%dT%H:%M:%SZ") else {
            return Err(gateway_error(
                400,
                "InvalidTimeStamp.Format",
                "Specified time stamp or date value is not well formatted.",
            ));
        };
        let skew = (fingertip::clock::system_time().naive_utc() - date)
            .num_seconds()
            .abs();
        if skew > 15 * 60 {
            return Err(gateway_error(
                400,
                "InvalidTimeStamp.Expired",
                "Specified time stamp or date value is expired.",
            ));
        }
        let body_hash = hex_sha256(body);
        if header("x-acs-content-sha256").as_deref() != Some(body_hash.as_str()) {
            return Err(gateway_error(
                400,
                "IncompleteSignature",
                "The x-acs-content-sha256 header does not match the request body.",
            ));
        }

        // Every host, content-type and x-acs-* header received must be signed, and every signed
        // header received.
        let signed: Vec<&str> = signed_headers.split(';').collect();
        let mut sorted = signed.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted != signed || signed.iter().any(|h| h.to_ascii_lowercase() != *h) {
            return Err(incomplete());
        }
        for name in req.headers().keys() {
            let name = name.as_str();
            let must_sign = name == "host" || name == "content-type" || name.starts_with("x-acs-");
            if must_sign && !signed.contains(&name) {
                return Err(incomplete());
            }
        }
        let mut canonical_headers = String::new();
        for name in &signed {
            let values: Vec<&str> = req
                .headers()
                .get_all(*name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .map(str::trim)
                .collect();
            if values.is_empty() {
                return Err(incomplete());
            }
            let _ = writeln!(canonical_headers, "{name}:{}", values.join(","));
        }

        let path = req.uri().path();
        let canonical_uri = path
            .split('/')
            .map(|segment| rfc3986(&percent_decode(segment)))
            .collect::<Vec<_>>()
            .join("/");
        let mut query: Vec<(String, String)> = decode_pairs(req.uri().query().unwrap_or(""))
            .into_iter()
            .map(|(n, v)| (rfc3986(n.as_bytes()), rfc3986(v.as_bytes())))
            .collect();
        query.sort();
        let canonical_query = query
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let canonical_request = format!(
            "{method}\n{canonical_uri}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{body_hash}"
        );
        let string_to_sign = format!(
            "ACS3-HMAC-SHA256\n{}",
            hex_sha256(canonical_request.as_bytes())
        );
        let key = hmac::Key::new(hmac::HMAC_SHA256, self.secret.as_bytes());
        let expected = hex::encode(hmac::sign(&key, string_to_sign.as_bytes()));
        if expected != signature {
            return Err(gateway_error(
                400,
                "SignatureDoesNotMatch",
                &format!(
                    "Specified signature does not match our calculation. The string to sign is: {string_to_sign}"
                ),
            ));
        }
        let nonce = header("x-acs-signature-nonce").unwrap_or_default();
        if !self.state.lock().unwrap().nonces.insert(nonce) {
            return Err(gateway_error(
                400,
                "SignatureNonceUsed",
                "Specified signature nonce was used already.",
            ));
        }
        Ok(())
    }

    /// `SendSms` itself, for an authenticated request.
    fn send_sms(&self, req: &Request, body: &[u8]) -> Response {
        let mut params = decode_pairs(req.uri().query().unwrap_or(""));
        let form = req
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if form {
            params.extend(decode_pairs(&String::from_utf8_lossy(body)));
        }
        let param = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        let Some(phones) = param("PhoneNumbers") else {
            return gateway_error(
                400,
                "MissingPhoneNumbers",
                "PhoneNumbers is mandatory for this action.",
            );
        };
        let Some(sign_name) = param("SignName") else {
            return gateway_error(
                400,
                "MissingSignName",
                "SignName is mandatory for this action.",
            );
        };
        let Some(template_code) = param("TemplateCode") else {
            return gateway_error(
                400,
                "MissingTemplateCode",
                "TemplateCode is mandatory for this action.",
            );
        };
        let numbers: Vec<&str> = phones.split(',').collect();
        if numbers.iter().any(|n| !is_mainland_mobile(n)) {
            return business_error("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号");
        }
        let params_value = match param("TemplateParam") {
            None => Value::Null,
            Some(text) => match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(map)) if map.values().all(Value::is_string) => Value::Object(map),
                _ => {
                    return business_error(
                        "isv.INVALID_JSON_PARAM",
                        "JSON参数不合法，只接受字符串值",
                    );
                }
            },
        };
        let out_id = param("OutId");
        let mut state = self.state.lock().unwrap();
        state.next_biz_id += 1;
        let biz_id = format!("{:018}^0", 900_000_000_000_000_000u64 + state.next_biz_id);
        for number in numbers {
            state.received.push(ReceivedSms {
                phone: number.to_owned(),
                sign_name: sign_name.clone(),
                template_code: template_code.clone(),
                params: params_value.clone(),
                out_id: out_id.clone(),
                biz_id: biz_id.clone(),
            });
        }
        json_response(
            200,
            json!({"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": request_id()}),
        )
    }
}
