//! A fake Tencent Cloud SMS API (`SendSms`, 2021-01-11) on 127.0.0.1, for the SMS client's tests.
//!
//! It checks every request as Tencent's API 3.0 gateway does, with its own code (not the
//! client's): the `TC3-HMAC-SHA256` signature recomputed from what was received (method, path,
//! query, the signed headers as received, the body's hash, the derived key of the credential's
//! date and service), that `content-type` and `host` are signed, the credential scope
//! (`<UTC date of X-TC-Timestamp>/sms/tc3_request`), the timestamp (±5 min), the action and
//! version. Refusals are Tencent's: HTTP 200 with `{"Response":{"Error":{"Code","Message"},
//! "RequestId"}}` (`AuthFailure.SignatureFailure`, `AuthFailure.SecretIdNotFound`…). Then each
//! number gets its status in `SendStatusSet` (`InvalidParameterValue.IncorrectPhoneNumber` for a
//! number that is not `+86` and 11 digits).
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::result_large_err
)]

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fingertip::notify::providers::tencent::TencentSmsConfig;
use fingertip::secret::Secret;
use poem::http::StatusCode;
use poem::listener::TcpAcceptor;
use poem::{Endpoint, Request, Response, Server};
use ring::{digest, hmac};
use serde_json::{Value, json};

/// One SMS the fake accepted (one per accepted number of `PhoneNumberSet`).
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedSms {
    /// As sent, `+86…`.
    pub phone: String,
    pub sms_sdk_app_id: String,
    pub sign_name: String,
    /// `TemplateId`.
    pub template_code: String,
    /// `TemplateParamSet`.
    pub params: Vec<String>,
    /// `SessionContext`.
    pub out_id: Option<String>,
    /// The `SerialNo` the fake answered.
    pub serial_no: String,
}

#[derive(Default)]
struct State {
    received: Vec<ReceivedSms>,
    failures: VecDeque<(u16, String)>,
    delays: VecDeque<Duration>,
    next_serial: u64,
}

struct Inner {
    secret_id: String,
    secret_key: String,
    state: Mutex<State>,
}

pub struct FakeTencent {
    /// `http://127.0.0.1:<port>`, to use as the client's endpoint.
    pub base_url: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeTencent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeTencent {
    /// Serves on 127.0.0.1:0, accepting requests signed with this SecretId/SecretKey.
    pub async fn start(secret_id: &str, secret_key: &str) -> FakeTencent {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Tencent");
        let address = listener.local_addr().expect("fake Tencent address");
        let acceptor = TcpAcceptor::from_tokio(listener).expect("fake Tencent acceptor");
        let inner = Arc::new(Inner {
            secret_id: secret_id.to_owned(),
            secret_key: secret_key.to_owned(),
            state: Mutex::new(State::default()),
        });
        let endpoint = FakeEndpoint(inner.clone());
        let task = tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor).run(endpoint).await;
        });
        FakeTencent {
            base_url: format!("http://{address}"),
            inner,
            task,
        }
    }

    /// A client configuration for this fake with its credentials.
    pub fn client_config(&self, sms_sdk_app_id: &str, sign_name: &str) -> TencentSmsConfig {
        TencentSmsConfig {
            endpoint: self.base_url.clone(),
            secret_id: self.inner.secret_id.clone(),
            secret_key: Secret::new(self.inner.secret_key.clone()),
            sms_sdk_app_id: sms_sdk_app_id.to_owned(),
            sign_name: sign_name.to_owned(),
            region: "ap-guangzhou".to_owned(),
        }
    }

    /// The SMS accepted so far, in order.
    pub fn received(&self) -> Vec<ReceivedSms> {
        self.inner.state.lock().unwrap().received.clone()
    }

    /// The next `n` correctly signed requests fail with this error code: with HTTP 200 and
    /// `Response.Error` as Tencent answers API errors when `status` is 200 (e.g.
    /// `"LimitExceeded.PhoneNumberDailyLimit"`), else with that HTTP status (e.g. 500, 502); nothing
    /// is recorded for them.
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

    /// A status callback body (Tencent's documented format) for an accepted SMS.
    pub fn report_json(sms: &ReceivedSms, delivered: bool) -> String {
        json!([{
            "user_receive_time": "2024-01-01 10:00:05",
            "nationcode": "86",
            "mobile": sms.phone.trim_start_matches("+86"),
            "report_status": if delivered { "SUCCESS" } else { "FAIL" },
            "errmsg": if delivered { "DELIVRD" } else { "MK:0001" },
            "description": if delivered { "用户短信送达成功" } else { "空号" },
            "sid": sms.serial_no,
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
    uuid::Uuid::new_v4().to_string()
}

fn json_response(status: u16, body: Value) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .content_type("application/json")
        .body(body.to_string())
}

/// An API 3.0 error: HTTP 200 unless told otherwise.
fn api_error_with_status(status: u16, code: &str, message: &str) -> Response {
    json_response(
        status,
        json!({"Response": {"Error": {"Code": code, "Message": message}, "RequestId": request_id()}}),
    )
}

fn api_error(code: &str, message: &str) -> Response {
    api_error_with_status(200, code, message)
}

fn hex_sha256(data: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, data))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
        .as_ref()
        .to_vec()
}

fn is_mainland_mobile(number: &str) -> bool {
    let number = number.strip_prefix("+86").unwrap_or(number);
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
            return api_error_with_status(status, &code, "scripted failure");
        }
        let response = self.send_sms(body);
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        response
    }

    /// The gateway's checks: headers, credential and the TC3 signature.
    fn authenticate(&self, req: &Request, body: &[u8]) -> Result<(), Response> {
        let header = |name: &str| -> Option<String> {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        if req.method().as_str() != "POST" {
            return Err(api_error(
                "UnsupportedProtocol",
                "Only POST with a JSON body is supported by this fake.",
            ));
        }
        for (name, parameter) in [
            ("x-tc-action", "Action"),
            ("x-tc-version", "Version"),
            ("x-tc-timestamp", "Timestamp"),
            ("x-tc-region", "Region"),
        ] {
            if header(name).is_none_or(|v| v.is_empty()) {
                return Err(api_error(
                    "MissingParameter",
                    &format!("The request is missing a required parameter `{parameter}`."),
                ));
            }
        }
        let invalid_authorization = || {
            api_error(
                "AuthFailure.InvalidAuthorization",
                "The Authorization header does not conform to the Tencent Cloud standard.",
            )
        };
        let authorization = header("authorization").ok_or_else(|| {
            api_error(
                "AuthFailure.SignatureFailure",
                "The request is missing the Authorization header.",
            )
        })?;
        let fields = authorization
            .strip_prefix("TC3-HMAC-SHA256 ")
            .ok_or_else(invalid_authorization)?;
        let mut credential = None;
        let mut signed_headers = None;
        let mut signature = None;
        for part in fields.split(',') {
            match part.trim().split_once('=') {
                Some(("Credential", v)) => credential = Some(v.to_owned()),
                Some(("SignedHeaders", v)) => signed_headers = Some(v.to_owned()),
                Some(("Signature", v)) => signature = Some(v.to_owned()),
                _ => return Err(invalid_authorization()),
            }
        }
        let (Some(credential), Some(signed_headers), Some(signature)) =
            (credential, signed_headers, signature)
        else {
            return Err(invalid_authorization());
        };
        let scope: Vec<&str> = credential.split('/').collect();
        let [secret_id, date, service, terminator] = scope[..] else {
            return Err(invalid_authorization());
        };
        if secret_id != self.secret_id {
            return Err(api_error(
                "AuthFailure.SecretIdNotFound",
                "The SecretId is not found, please ensure that your SecretId is correct.",
            ));
        }
        let timestamp_text = header("x-tc-timestamp").unwrap_or_default();
        let Ok(timestamp) = timestamp_text.parse::<i64>() else {
            return Err(api_error(
                "InvalidParameterValue",
                "The value of X-TC-Timestamp is not a Unix timestamp.",
            ));
        };
        if (fingertip::clock::system_time().timestamp() - timestamp).abs() > 300 {
            return Err(api_error(
                "AuthFailure.SignatureExpire",
                &format!("Signature expired. Timestamp is {timestamp}."),
            ));
        }
        let signature_failure = || {
            api_error(
                "AuthFailure.SignatureFailure",
                "The provided credentials could not be validated. Please check your signature is correct.",
            )
        };
        let utc_date = chrono::DateTime::from_timestamp(timestamp, 0)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        if date != utc_date || service != "sms" || terminator != "tc3_request" {
            return Err(signature_failure());
        }
        let signed: Vec<&str> = signed_headers.split(';').collect();
        if !signed.contains(&"content-type") || !signed.contains(&"host") {
            return Err(invalid_authorization());
        }
        let content_type = header("content-type").unwrap_or_default();
        if !content_type
            .to_ascii_lowercase()
            .starts_with("application/json")
        {
            return Err(api_error(
                "InvalidParameter",
                "The Content-Type must be application/json.",
            ));
        }

        // The canonical request from what was received.
        let mut canonical_headers = String::new();
        let mut names = signed.clone();
        names.sort_unstable();
        if names != signed {
            return Err(signature_failure());
        }
        for name in &signed {
            let Some(value) = header(name) else {
                return Err(signature_failure());
            };
            let _ = writeln!(
                canonical_headers,
                "{}:{}",
                name.to_lowercase(),
                value.trim().to_lowercase()
            );
        }
        let canonical_request = format!(
            "{}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
            req.method().as_str(),
            req.uri().path(),
            req.uri().query().unwrap_or(""),
            hex_sha256(body)
        );
        let string_to_sign = format!(
            "TC3-HMAC-SHA256\n{timestamp_text}\n{date}/{service}/tc3_request\n{}",
            hex_sha256(canonical_request.as_bytes())
        );
        let key_date = hmac_sha256(
            format!("TC3{}", self.secret_key).as_bytes(),
            date.as_bytes(),
        );
        let key_service = hmac_sha256(&key_date, service.as_bytes());
        let key_signing = hmac_sha256(&key_service, b"tc3_request");
        let expected = hex::encode(hmac_sha256(&key_signing, string_to_sign.as_bytes()));
        if expected != signature {
            return Err(signature_failure());
        }

        if header("x-tc-action").as_deref() != Some("SendSms") {
            return Err(api_error(
                "InvalidAction",
                "The requested action does not exist.",
            ));
        }
        if header("x-tc-version").as_deref() != Some("2021-01-11") {
            return Err(api_error(
                "NoSuchVersion",
                "The requested version does not exist or is not supported.",
            ));
        }
        Ok(())
    }

    /// `SendSms` itself, for an authenticated request.
    fn send_sms(&self, body: &[u8]) -> Response {
        let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(body) else {
            return api_error("InvalidParameter", "The request body is not a JSON object.");
        };
        let text = |name: &str| request.get(name).and_then(Value::as_str).map(str::to_owned);
        let Some(numbers) = request.get("PhoneNumberSet").and_then(Value::as_array) else {
            return api_error(
                "MissingParameter",
                "The request is missing a required parameter `PhoneNumberSet`.",
            );
        };
        let numbers: Option<Vec<String>> = numbers
            .iter()
            .map(|n| n.as_str().map(str::to_owned))
            .collect();
        let Some(numbers) = numbers.filter(|n| !n.is_empty()) else {
            return api_error(
                "InvalidParameter",
                "PhoneNumberSet must be a non-empty array of strings.",
            );
        };
        let Some(sms_sdk_app_id) = text("SmsSdkAppId").filter(|s| !s.is_empty()) else {
            return api_error(
                "MissingParameter",
                "The request is missing a required parameter `SmsSdkAppId`.",
            );
        };
        let Some(template_id) = text("TemplateId").filter(|s| !s.is_empty()) else {
            return api_error(
                "MissingParameter",
                "The request is missing a required parameter `TemplateId`.",
            );
        };
        let params: Option<Vec<String>> = match request.get("TemplateParamSet") {
            None => Some(Vec::new()),
            Some(Value::Array(values)) => values
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Some(_) => None,
        };
        let Some(params) = params else {
            return api_error(
                "InvalidParameter",
                "TemplateParamSet must be an array of strings.",
            );
        };
        let sign_name = text("SignName").unwrap_or_default();
        let session_context = text("SessionContext");

        let mut state = self.state.lock().unwrap();
        let mut statuses = Vec::new();
        for number in numbers {
            if !is_mainland_mobile(&number) {
                statuses.push(json!({
                    "SerialNo": "", "PhoneNumber": number, "Fee": 0,
                    "SessionContext": session_context.clone().unwrap_or_default(),
                    "Code": "InvalidParameterValue.IncorrectPhoneNumber",
                    "Message": "手机号格式错误", "IsoCode": "",
                }));
                continue;
            }
            state.next_serial += 1;
            let serial_no = format!(
                "2028:{:028}",
                1_045_710_669_157_053_657u64 + state.next_serial
            );
            state.received.push(ReceivedSms {
                phone: number.clone(),
                sms_sdk_app_id: sms_sdk_app_id.clone(),
                sign_name: sign_name.clone(),
                template_code: template_id.clone(),
                params: params.clone(),
                out_id: session_context.clone(),
                serial_no: serial_no.clone(),
            });
            statuses.push(json!({
                "SerialNo": serial_no, "PhoneNumber": number, "Fee": 1,
                "SessionContext": session_context.clone().unwrap_or_default(),
                "Code": "Ok", "Message": "send success", "IsoCode": "CN",
            }));
        }
        json_response(
            200,
            json!({"Response": {"SendStatusSet": statuses, "RequestId": request_id()}}),
        )
    }
}
