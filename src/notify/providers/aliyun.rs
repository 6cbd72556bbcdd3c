//! Aliyun (Alibaba Cloud) SMS: dysmsapi `SendSms`, API version 2017-05-25, signed with the V3
//! signature `ACS3-HMAC-SHA256` (Aliyun's "V3 request structure and signature" document).
//!
//! `SendSms` is an RPC-style operation whose parameters are declared `in: query` in Aliyun's
//! OpenAPI metadata, so the request is `POST {endpoint}/?OutId=…&PhoneNumbers=…&SignName=…&
//! TemplateCode=…&TemplateParam=…` with an empty body and these headers:
//!
//! ```text
//! host, x-acs-action: SendSms, x-acs-version: 2017-05-25, x-acs-date: 2023-10-26T10:22:32Z (UTC),
//! x-acs-signature-nonce: <random, never reused>, x-acs-content-sha256: hex(sha256(body)),
//! Authorization: ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<…>,Signature=<…>
//! ```
//!
//! The signature ([`sign_v3`]):
//!
//! ```text
//! CanonicalRequest = Method \n CanonicalURI \n CanonicalQueryString \n CanonicalHeaders \n
//!                    SignedHeaders \n hex(sha256(body))
//! StringToSign     = "ACS3-HMAC-SHA256" \n hex(sha256(CanonicalRequest))
//! Signature        = hex(hmac_sha256(AccessKeySecret, StringToSign))
//! ```
//!
//! where the query parameters are sorted by name and RFC 3986-encoded (only `A-Za-z0-9-_.~` left
//! as is, upper-case `%XX` otherwise), and the canonical headers are every `host`, `content-type`
//! and `x-acs-*` header, names lower-cased, values trimmed, sorted, each `name:value\n`.
//!
//! Aliyun does not deduplicate: `OutId` carries the message id so that delivery receipts can be
//! matched, but a retry after a timeout may deliver the SMS twice.
//!
//! Delivery receipts ("SmsReport", HTTP batch push) are parsed by [`parse_reports`]; the pusher
//! expects [`REPORT_ACK`] with HTTP 200 and retries (1, 5, 10 min) on any other answer.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Context;
use ring::{digest, hmac};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::notify::provider::{
    Address, OutgoingMessage, Provider, SendError, SendFuture, SendOutcome,
};
use crate::secret::Secret;

pub const DEFAULT_ENDPOINT: &str = "https://dysmsapi.aliyuncs.com";
pub const API_VERSION: &str = "2017-05-25";
pub const ACTION: &str = "SendSms";
pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";
/// The answer Aliyun's receipt pusher expects (it only checks that `code` is a number).
pub const REPORT_ACK: &str = r#"{"code":0,"msg":"接收成功"}"#;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

fn default_endpoint() -> String {
    DEFAULT_ENDPOINT.to_owned()
}

#[derive(Debug, Clone, Deserialize)]
pub struct AliyunSmsConfig {
    /// Base URL of the API, `https://dysmsapi.aliyuncs.com` by default.
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
    pub access_key_id: String,
    pub access_key_secret: Secret,
    /// The approved SMS signature (签名), e.g. `某某市政务服务`.
    pub sign_name: String,
}

/// RFC 3986 percent-encoding as Aliyun's V3 signature wants it: `A-Za-z0-9-_.~` unchanged,
/// every other byte of the UTF-8 encoding as upper-case `%XX` (so space is `%20`, `*` is `%2A`).
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The canonical query string: parameters sorted by name, names and values percent-encoded,
/// joined as `name=value` with `&`. It is also sent as is as the URL's query.
pub fn canonical_query_string(params: &[(&str, &str)]) -> String {
    let mut encoded: Vec<(String, String)> = params
        .iter()
        .map(|(name, value)| (percent_encode(name), percent_encode(value)))
        .collect();
    encoded.sort();
    encoded
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, data))
}

/// The outcome of [`sign_v3`], with its intermediate strings for diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3Signature {
    pub canonical_request: String,
    pub signed_headers: String,
    /// Lower-case hex HMAC-SHA256.
    pub signature: String,
}

impl V3Signature {
    /// The `Authorization` header value.
    pub fn authorization(&self, access_key_id: &str) -> String {
        format!(
            "{ALGORITHM} Credential={access_key_id},SignedHeaders={},Signature={}",
            self.signed_headers, self.signature
        )
    }
}

/// Signs a request with `ACS3-HMAC-SHA256`.
///
/// `canonical_uri` is the encoded path (`/` for RPC operations such as `SendSms`); `query` the
/// decoded query parameters; `headers` the request's headers (those that take part, `host`,
/// `content-type` and `x-acs-*`, are picked here: all of them must be signed); `body` the exact
/// bytes sent (its hash must also be sent in `x-acs-content-sha256`).
pub fn sign_v3(
    access_key_secret: &str,
    method: &str,
    canonical_uri: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
    body: &[u8],
) -> V3Signature {
    let mut signed: Vec<(String, &str)> = headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim()))
        .filter(|(name, _)| name == "host" || name == "content-type" || name.starts_with("x-acs-"))
        .collect();
    signed.sort();
    let canonical_headers: String = signed
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let signed_headers = signed
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_request = format!(
        "{}\n{canonical_uri}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
        method.to_ascii_uppercase(),
        canonical_query_string(query),
        sha256_hex(body)
    );
    let string_to_sign = format!("{ALGORITHM}\n{}", sha256_hex(canonical_request.as_bytes()));
    let key = hmac::Key::new(hmac::HMAC_SHA256, access_key_secret.as_bytes());
    let signature = hex::encode(hmac::sign(&key, string_to_sign.as_bytes()));
    V3Signature {
        canonical_request,
        signed_headers,
        signature,
    }
}

/// `TemplateParam`: the variables as a JSON object of strings (Aliyun refuses other values with
/// `isv.INVALID_JSON_PARAM`), numbers and booleans as their JSON text, `null` as `""`.
pub fn template_param(variables: &Map<String, Value>) -> serde_json::Result<String> {
    let strings: Map<String, Value> = variables
        .iter()
        .map(|(name, value)| {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (name.clone(), Value::String(text))
        })
        .collect();
    serde_json::to_string(&strings)
}

/// The `Host` header reqwest sends for this URL (the port only when it is not the default).
fn host_header(url: &reqwest::Url) -> Option<String> {
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

/// An Aliyun API error or business code turned into the dispatcher's classes.
pub fn error_for_code(code: &str, detail: &str) -> SendError {
    let text = format!("aliyun {code}: {detail}");
    if code.starts_with("Throttling")
        || code == "isv.BUSINESS_LIMIT_CONTROL"
        || code == "ServiceUnavailable"
        || code.starts_with("InternalError")
    {
        SendError::Temporary(text)
    } else if code == "isv.MOBILE_NUMBER_ILLEGAL" {
        SendError::InvalidAddress(text)
    } else {
        SendError::Permanent(text)
    }
}

fn transport_error(error: &reqwest::Error) -> SendError {
    if error.is_builder() {
        SendError::Permanent(format!("aliyun request could not be built: {error}"))
    } else if error.is_timeout() {
        SendError::Temporary(format!("aliyun request timed out: {error}"))
    } else {
        SendError::Temporary(format!("aliyun request failed: {error}"))
    }
}

#[derive(Debug, Deserialize)]
struct ApiResponse {
    #[serde(rename = "Code")]
    code: Option<String>,
    #[serde(rename = "Message")]
    message: Option<String>,
    #[serde(rename = "BizId")]
    biz_id: Option<String>,
    #[serde(rename = "RequestId")]
    request_id: Option<String>,
}

pub struct AliyunSms {
    config: AliyunSmsConfig,
    endpoint: reqwest::Url,
    host: String,
    client: reqwest::Client,
}

impl std::fmt::Debug for AliyunSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AliyunSms")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AliyunSms {
    /// A client with a 10 s timeout.
    pub fn new(config: AliyunSmsConfig) -> anyhow::Result<Self> {
        Self::with_timeout(config, DEFAULT_TIMEOUT)
    }

    pub fn with_timeout(config: AliyunSmsConfig, timeout: Duration) -> anyhow::Result<Self> {
        let client = crate::tls::http_client(timeout)?;
        Self::with_client(config, client)
    }

    pub fn with_client(config: AliyunSmsConfig, client: reqwest::Client) -> anyhow::Result<Self> {
        let endpoint = reqwest::Url::parse(&config.endpoint).with_context(|| {
            format!("the Aliyun SMS endpoint {:?} is not a URL", config.endpoint)
        })?;
        let host = host_header(&endpoint).with_context(|| {
            format!("the Aliyun SMS endpoint {:?} has no host", config.endpoint)
        })?;
        anyhow::ensure!(
            !config.access_key_id.is_empty(),
            "the Aliyun AccessKey id is empty"
        );
        anyhow::ensure!(
            !config.access_key_secret.expose().is_empty(),
            "the Aliyun AccessKey secret is empty"
        );
        anyhow::ensure!(
            !config.sign_name.is_empty(),
            "the Aliyun SMS sign name is empty"
        );
        Ok(AliyunSms {
            config,
            endpoint,
            host,
            client,
        })
    }

    async fn deliver(&self, message: &OutgoingMessage) -> Result<SendOutcome, SendError> {
        let Address::Phone(phone) = &message.address else {
            return Err(SendError::Permanent(
                "aliyun SMS needs a phone address".to_owned(),
            ));
        };
        let template = message
            .provider_template
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                SendError::Permanent("aliyun SMS needs a template code (TemplateCode)".to_owned())
            })?;
        let template_param = template_param(&message.variables)
            .map_err(|e| SendError::Permanent(format!("template variables: {e}")))?;
        let out_id = message.message_id.to_string();
        let mut params: Vec<(&str, &str)> = vec![
            ("PhoneNumbers", phone.as_str()),
            ("SignName", self.config.sign_name.as_str()),
            ("TemplateCode", template),
            ("OutId", out_id.as_str()),
        ];
        if !message.variables.is_empty() {
            params.push(("TemplateParam", template_param.as_str()));
        }

        let body: &[u8] = b"";
        let date = crate::clock::system_time()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let content_sha256 = sha256_hex(body);
        let acs_headers = [
            ("x-acs-action", ACTION),
            ("x-acs-version", API_VERSION),
            ("x-acs-date", date.as_str()),
            ("x-acs-signature-nonce", nonce.as_str()),
            ("x-acs-content-sha256", content_sha256.as_str()),
        ];
        let mut url = self.endpoint.clone();
        url.set_query(Some(&canonical_query_string(&params)));
        let mut signed_input: Vec<(&str, &str)> = acs_headers.to_vec();
        signed_input.push(("host", self.host.as_str()));
        let signature = sign_v3(
            self.config.access_key_secret.expose(),
            "POST",
            url.path(),
            &params,
            &signed_input,
            body,
        );

        let mut request = self.client.post(url).header(
            "authorization",
            signature.authorization(&self.config.access_key_id),
        );
        for (name, value) in acs_headers {
            request = request.header(name, value);
        }
        let response = request
            .header("accept", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| transport_error(&e))?;
        let parsed: Option<ApiResponse> = serde_json::from_slice(&bytes).ok();
        let (code, detail) = match &parsed {
            Some(r) => (
                r.code.clone().unwrap_or_default(),
                format!(
                    "{} (HTTP {}, request {})",
                    r.message.as_deref().unwrap_or(""),
                    status.as_u16(),
                    r.request_id.as_deref().unwrap_or("?")
                ),
            ),
            None => (String::new(), format!("HTTP {}", status.as_u16())),
        };
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(SendError::Temporary(format!("aliyun {code}: {detail}")));
        }
        match parsed {
            Some(r) if status.is_success() && code == "OK" => Ok(SendOutcome {
                provider_message_id: r.biz_id.filter(|id| !id.is_empty()),
            }),
            Some(_) if !code.is_empty() => Err(error_for_code(&code, &detail)),
            // A 2xx we cannot read may still have been sent; a retry is the lesser evil.
            _ if status.is_success() => Err(SendError::Temporary(format!(
                "aliyun: unreadable response ({detail})"
            ))),
            _ => Err(SendError::Permanent(format!(
                "aliyun: unexpected response ({detail})"
            ))),
        }
    }
}

impl Provider for AliyunSms {
    fn name(&self) -> &'static str {
        "aliyun"
    }

    fn send<'a>(&'a self, message: &'a OutgoingMessage) -> SendFuture<'a> {
        Box::pin(self.deliver(message))
    }
}

pub use crate::notify::provider::DeliveryReceipt;

/// One element of the SmsReport push: `phone_number`, `send_time`, `report_time`, `success`,
/// `err_code`, `err_msg`, `sms_size`, `biz_id`, `out_id` (Aliyun's SmsReport document).
#[derive(Debug, Deserialize)]
struct SmsReport {
    biz_id: Value,
    #[serde(default)]
    out_id: Option<String>,
    success: Value,
    #[serde(default)]
    err_code: Option<String>,
}

/// Parses an SmsReport push body: a JSON array of reports (one push may carry several). Fails on
/// anything but such an array, or on a report without `biz_id` or `success`.
pub fn parse_reports(body: &[u8]) -> Result<Vec<DeliveryReceipt>, String> {
    let reports: Vec<SmsReport> =
        serde_json::from_slice(body).map_err(|e| format!("not an Aliyun SmsReport array: {e}"))?;
    reports
        .into_iter()
        .enumerate()
        .map(|(index, report)| {
            let provider_message_id = match report.biz_id {
                Value::String(s) if !s.is_empty() => s,
                Value::Number(n) => n.to_string(),
                _ => return Err(format!("report {index}: no biz_id")),
            };
            let delivered = match report.success {
                Value::Bool(b) => b,
                Value::String(s) if s.eq_ignore_ascii_case("true") => true,
                Value::String(s) if s.eq_ignore_ascii_case("false") => false,
                _ => return Err(format!("report {index}: no boolean success")),
            };
            Ok(DeliveryReceipt {
                provider_message_id,
                out_id: report.out_id.filter(|s| !s.is_empty()),
                delivered,
                error_code: if delivered {
                    None
                } else {
                    report.err_code.filter(|s| !s.is_empty())
                },
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Aliyun's published V3 example ("V3 request structure and signature", help.aliyun.com
    /// `/zh/sdk/product-overview/v3-request-structure-and-signature`, repeated in the Function
    /// Compute "签名机制" page): ECS RunInstances, AccessKey `YourAccessKeyId` /
    /// `YourAccessKeySecret`, empty body.
    #[test]
    fn signs_the_published_v3_example() {
        let headers = [
            ("host", "ecs.cn-shanghai.aliyuncs.com"),
            ("x-acs-action", "RunInstances"),
            (
                "x-acs-content-sha256",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            ("x-acs-date", "2023-10-26T10:22:32Z"),
            ("x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d"),
            ("x-acs-version", "2014-05-26"),
        ];
        let query = [
            ("RegionId", "cn-shanghai"),
            (
                "ImageId",
                "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd",
            ),
        ];
        let signed = sign_v3("YourAccessKeySecret", "POST", "/", &query, &headers, b"");
        assert_eq!(
            signed.canonical_request,
            "POST\n/\nImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai\n\
             host:ecs.cn-shanghai.aliyuncs.com\nx-acs-action:RunInstances\n\
             x-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
             x-acs-date:2023-10-26T10:22:32Z\nx-acs-signature-nonce:3156853299f313e23d1673dc12e1703d\n\
             x-acs-version:2014-05-26\n\n\
             host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(signed.canonical_request.as_bytes()),
            "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
        );
        assert_eq!(
            signed.authorization("YourAccessKeyId"),
            "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;\
             x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,\
             Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
        );
    }

    #[test]
    fn header_names_are_lowercased_values_trimmed_and_others_ignored() {
        let a = sign_v3(
            "k",
            "post",
            "/",
            &[],
            &[("Host", " h "), ("X-Acs-Date", "d"), ("Accept", "x")],
            b"",
        );
        let b = sign_v3(
            "k",
            "POST",
            "/",
            &[],
            &[("x-acs-date", "d"), ("host", "h")],
            b"",
        );
        assert_eq!(a, b);
        assert_eq!(a.signed_headers, "host;x-acs-date");
    }

    #[test]
    fn percent_encoding_follows_rfc3986() {
        assert_eq!(percent_encode("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(percent_encode("a b*c+d/e=f&g"), "a%20b%2Ac%2Bd%2Fe%3Df%26g");
        assert_eq!(percent_encode("政务"), "%E6%94%BF%E5%8A%A1");
        assert_eq!(
            canonical_query_string(&[("b", "{\"code\":\"1\"}"), ("a", "x y")]),
            "a=x%20y&b=%7B%22code%22%3A%221%22%7D"
        );
    }

    #[test]
    fn template_param_values_are_strings() {
        let vars: Map<String, Value> =
            serde_json::from_str(r#"{"code":"123456","minutes":5,"ok":true,"x":null}"#).unwrap();
        assert_eq!(
            template_param(&vars).unwrap(),
            r#"{"code":"123456","minutes":"5","ok":"true","x":""}"#
        );
    }

    #[test]
    fn codes_map_to_error_classes() {
        assert!(matches!(
            error_for_code("Throttling.User", ""),
            SendError::Temporary(_)
        ));
        assert!(matches!(
            error_for_code("isv.BUSINESS_LIMIT_CONTROL", ""),
            SendError::Temporary(_)
        ));
        assert!(matches!(
            error_for_code("isv.MOBILE_NUMBER_ILLEGAL", ""),
            SendError::InvalidAddress(_)
        ));
        assert!(matches!(
            error_for_code("isv.SMS_TEMPLATE_ILLEGAL", ""),
            SendError::Permanent(_)
        ));
        assert!(matches!(
            error_for_code("SignatureDoesNotMatch", ""),
            SendError::Permanent(_)
        ));
    }

    #[test]
    fn parses_the_documented_report() {
        // The example of Aliyun's SmsReport (HTTP batch push) document, plus a failure.
        let body = r#"[
          {"phone_number":"1381111****","send_time":"2017-01-01 00:00:00",
           "report_time":"2017-01-01 00:00:00","success":true,"err_code":"DELIVERED",
           "err_msg":"用户接收成功","sms_size":"1","biz_id":"12345","out_id":"67890"},
          {"phone_number":"1381111****","send_time":"2017-01-01 00:00:00",
           "report_time":"2017-01-01 00:00:05","success":false,"err_code":"MK:0001",
           "err_msg":"","sms_size":"1","biz_id":"12346","out_id":""}
        ]"#;
        let receipts = parse_reports(body.as_bytes()).unwrap();
        assert_eq!(
            receipts,
            vec![
                DeliveryReceipt {
                    provider_message_id: "12345".to_owned(),
                    out_id: Some("67890".to_owned()),
                    delivered: true,
                    error_code: None,
                },
                DeliveryReceipt {
                    provider_message_id: "12346".to_owned(),
                    out_id: None,
                    delivered: false,
                    error_code: Some("MK:0001".to_owned()),
                },
            ]
        );
        assert!(parse_reports(b"{}").is_err());
        assert!(parse_reports(br#"[{"success":true}]"#).is_err());
        assert_eq!(parse_reports(b"[]").unwrap(), vec![]);
    }

    #[tokio::test]
    async fn refuses_non_phone_addresses_and_missing_templates() {
        let sms = AliyunSms::new(AliyunSmsConfig {
            endpoint: "http://127.0.0.1:9".to_owned(),
            access_key_id: "id".to_owned(),
            access_key_secret: Secret::new("secret"),
            sign_name: "sign".to_owned(),
        })
        .unwrap();
        let mut message = OutgoingMessage {
            message_id: uuid::Uuid::new_v4(),
            address: Address::Email("a@example.com".to_owned()),
            title: None,
            body: "b".to_owned(),
            provider_template: Some("SMS_1".to_owned()),
            variables: serde_json::Map::new(),
            priority: 5,
            attachments: Vec::new(),
        };
        assert!(matches!(
            sms.send(&message).await,
            Err(SendError::Permanent(_))
        ));
        message.address = Address::Phone("13800000000".to_owned());
        message.provider_template = None;
        assert!(matches!(
            sms.send(&message).await,
            Err(SendError::Permanent(_))
        ));
    }
}
