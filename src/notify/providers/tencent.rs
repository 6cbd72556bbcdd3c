//! Tencent Cloud SMS: `SendSms`, API version 2021-01-11 (API 3.0), signed with `TC3-HMAC-SHA256`
//! (Tencent Cloud's "Signature v3" document).
//!
//! `POST {endpoint}/` with a JSON body and the headers `Content-Type: application/json;
//! charset=utf-8`, `Host`, `X-TC-Action: SendSms`, `X-TC-Timestamp` (Unix seconds),
//! `X-TC-Version: 2021-01-11`, `X-TC-Region` and
//! `Authorization: TC3-HMAC-SHA256 Credential=<SecretId>/<UTC date>/sms/tc3_request,
//! SignedHeaders=content-type;host, Signature=<…>`. The signature ([`sign_tc3`]):
//!
//! ```text
//! CanonicalRequest = Method \n CanonicalURI \n CanonicalQueryString \n CanonicalHeaders \n
//!                    SignedHeaders \n hex(sha256(payload))
//! StringToSign     = "TC3-HMAC-SHA256" \n Timestamp \n Date/service/tc3_request \n
//!                    hex(sha256(CanonicalRequest))
//! SecretSigning    = hmac(hmac(hmac("TC3" + SecretKey, Date), service), "tc3_request")
//! Signature        = hex(hmac(SecretSigning, StringToSign))
//! ```
//!
//! with the canonical headers `name:value\n`, names and values lower-cased and trimmed, sorted by
//! name, and Date the UTC date of the timestamp.
//!
//! API errors come back with HTTP 200 as `{"Response":{"Error":{"Code","Message"},"RequestId"}}`;
//! otherwise each number has its own status in `Response.SendStatusSet[]` (`Code == "Ok"`).
//!
//! Template parameters are positional (`{1}`, `{2}`…): see [`template_params`] for how the
//! message's named variables are put in order.

use std::time::Duration;

use anyhow::Context;
use ring::{digest, hmac};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::notify::provider::{
    Address, OutgoingMessage, Provider, SendError, SendFuture, SendOutcome,
};
use crate::secret::Secret;

pub const DEFAULT_ENDPOINT: &str = "https://sms.tencentcloudapi.com";
pub const DEFAULT_REGION: &str = "ap-guangzhou";
pub const API_VERSION: &str = "2021-01-11";
pub const ACTION: &str = "SendSms";
/// The service name in the credential scope (the first label of `sms.tencentcloudapi.com`).
pub const SERVICE: &str = "sms";
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";
pub const CONTENT_TYPE: &str = "application/json; charset=utf-8";
/// The answer Tencent's status callback expects.
pub const REPORT_ACK: &str = r#"{"result":0,"errmsg":"OK"}"#;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

fn default_endpoint() -> String {
    DEFAULT_ENDPOINT.to_owned()
}

fn default_region() -> String {
    DEFAULT_REGION.to_owned()
}

#[derive(Debug, Clone, Deserialize)]
pub struct TencentSmsConfig {
    /// Base URL of the API, `https://sms.tencentcloudapi.com` by default.
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
    pub secret_id: String,
    pub secret_key: Secret,
    /// The SMS application's `SdkAppId` (console: 应用管理).
    pub sms_sdk_app_id: String,
    /// The approved SMS signature (签名) content.
    pub sign_name: String,
    /// `X-TC-Region`: `ap-guangzhou` (default), `ap-beijing` or `ap-nanjing`.
    #[serde(default = "default_region")]
    pub region: String,
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, data))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> hmac::Tag {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
}

/// The UTC date (`YYYY-MM-DD`) of a Unix timestamp.
pub fn utc_date(timestamp: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(timestamp, 0).map(|t| t.format("%Y-%m-%d").to_string())
}

/// The outcome of [`sign_tc3`], with its intermediate strings for diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tc3Signature {
    pub canonical_request: String,
    pub string_to_sign: String,
    /// `Date/service/tc3_request`.
    pub credential_scope: String,
    pub signed_headers: String,
    /// Lower-case hex.
    pub signature: String,
}

impl Tc3Signature {
    /// The `Authorization` header value.
    pub fn authorization(&self, secret_id: &str) -> String {
        format!(
            "{ALGORITHM} Credential={secret_id}/{}, SignedHeaders={}, Signature={}",
            self.credential_scope, self.signed_headers, self.signature
        )
    }
}

/// Signs a request with `TC3-HMAC-SHA256`.
///
/// `headers` are exactly the headers to sign (at least `content-type` and `host`), with the values
/// sent; `canonical_query` is the URL's query (empty for POST); `payload` the exact body bytes.
/// `None` only for a timestamp outside chrono's range.
#[allow(clippy::too_many_arguments)]
pub fn sign_tc3(
    secret_key: &str,
    service: &str,
    timestamp: i64,
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    headers: &[(&str, &str)],
    payload: &[u8],
) -> Option<Tc3Signature> {
    let date = utc_date(timestamp)?;
    let mut canonical: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| (name.trim().to_lowercase(), value.trim().to_lowercase()))
        .collect();
    canonical.sort();
    let canonical_headers: String = canonical
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let signed_headers = canonical
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_request = format!(
        "{}\n{canonical_uri}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{}",
        method.to_ascii_uppercase(),
        sha256_hex(payload)
    );
    let credential_scope = format!("{date}/{service}/tc3_request");
    let string_to_sign = format!(
        "{ALGORITHM}\n{timestamp}\n{credential_scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let secret_date = hmac_sha256(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let secret_service = hmac_sha256(secret_date.as_ref(), service.as_bytes());
    let secret_signing = hmac_sha256(secret_service.as_ref(), b"tc3_request");
    let signature = hex::encode(hmac_sha256(
        secret_signing.as_ref(),
        string_to_sign.as_bytes(),
    ));
    Some(Tc3Signature {
        canonical_request,
        string_to_sign,
        credential_scope,
        signed_headers,
        signature,
    })
}

/// `TemplateParamSet` from the message's named variables. Tencent templates are positional
/// (`{1}`, `{2}`…), so:
/// - when every key is a number (`"1"`, `"2"`, … as the template's placeholders), the values go in
///   numeric key order (`"10"` after `"9"`);
/// - otherwise in the map's iteration order (key order, as serde_json's map is sorted unless its
///   `preserve_order` feature is on, in which case insertion order).
///
/// Strings are sent as they are, numbers and booleans as their JSON text, `null` as `""`.
pub fn template_params(variables: &Map<String, Value>) -> Vec<String> {
    let mut entries: Vec<(&String, &Value)> = variables.iter().collect();
    let numeric: Option<Vec<u64>> = entries.iter().map(|(k, _)| k.parse::<u64>().ok()).collect();
    if let Some(keys) = numeric {
        let mut keyed: Vec<(u64, &Value)> = keys
            .into_iter()
            .zip(entries.iter().map(|(_, v)| *v))
            .collect();
        keyed.sort_by_key(|(k, _)| *k);
        return keyed.into_iter().map(|(_, v)| value_text(v)).collect();
    }
    entries.drain(..).map(|(_, v)| value_text(v)).collect()
}

fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A Tencent API error code (top-level `Response.Error.Code` or a number's `SendStatusSet[].Code`)
/// turned into the dispatcher's classes.
pub fn error_for_code(code: &str, detail: &str) -> SendError {
    let text = format!("tencent {code}: {detail}");
    if code.starts_with("LimitExceeded")
        || code.starts_with("InternalError")
        || code.starts_with("RequestLimitExceeded")
    {
        SendError::Temporary(text)
    } else if code == "InvalidParameterValue.IncorrectPhoneNumber" {
        SendError::InvalidAddress(text)
    } else {
        SendError::Permanent(text)
    }
}

fn transport_error(error: &reqwest::Error) -> SendError {
    if error.is_builder() {
        SendError::Permanent(format!("tencent request could not be built: {error}"))
    } else if error.is_timeout() {
        SendError::Temporary(format!("tencent request timed out: {error}"))
    } else {
        SendError::Temporary(format!("tencent request failed: {error}"))
    }
}

/// The `Host` header reqwest sends for this URL (the port only when it is not the default).
fn host_header(url: &reqwest::Url) -> Option<String> {
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

/// Mainland numbers (11 digits) get `+86`; a number already in E.164 form is kept.
fn e164(phone: &str) -> String {
    if phone.starts_with('+') {
        phone.to_owned()
    } else {
        format!("+86{phone}")
    }
}

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "Response")]
    response: ResponseBody,
}

#[derive(Debug, Deserialize)]
struct ResponseBody {
    #[serde(rename = "Error")]
    error: Option<ApiError>,
    #[serde(rename = "SendStatusSet", default)]
    send_status_set: Vec<SendStatus>,
    #[serde(rename = "RequestId")]
    request_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ApiError {
    #[serde(rename = "Code")]
    code: String,
    #[serde(rename = "Message", default)]
    message: String,
}

#[derive(Debug, Deserialize)]
struct SendStatus {
    #[serde(rename = "SerialNo")]
    serial_no: Option<String>,
    #[serde(rename = "Code")]
    code: String,
    #[serde(rename = "Message", default)]
    message: String,
}

pub struct TencentSms {
    config: TencentSmsConfig,
    endpoint: reqwest::Url,
    host: String,
    client: reqwest::Client,
}

impl std::fmt::Debug for TencentSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TencentSms")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl TencentSms {
    /// A client with a 10 s timeout.
    pub fn new(config: TencentSmsConfig) -> anyhow::Result<Self> {
        Self::with_timeout(config, DEFAULT_TIMEOUT)
    }

    pub fn with_timeout(config: TencentSmsConfig, timeout: Duration) -> anyhow::Result<Self> {
        let client = crate::tls::http_client(timeout)?;
        Self::with_client(config, client)
    }

    pub fn with_client(config: TencentSmsConfig, client: reqwest::Client) -> anyhow::Result<Self> {
        let endpoint = reqwest::Url::parse(&config.endpoint).with_context(|| {
            format!(
                "the Tencent SMS endpoint {:?} is not a URL",
                config.endpoint
            )
        })?;
        let host = host_header(&endpoint).with_context(|| {
            format!("the Tencent SMS endpoint {:?} has no host", config.endpoint)
        })?;
        anyhow::ensure!(
            !config.secret_id.is_empty(),
            "the Tencent SecretId is empty"
        );
        anyhow::ensure!(
            !config.secret_key.expose().is_empty(),
            "the Tencent SecretKey is empty"
        );
        anyhow::ensure!(
            !config.sms_sdk_app_id.is_empty(),
            "the Tencent SmsSdkAppId is empty"
        );
        anyhow::ensure!(
            !config.sign_name.is_empty(),
            "the Tencent SMS sign name is empty"
        );
        anyhow::ensure!(!config.region.is_empty(), "the Tencent region is empty");
        Ok(TencentSms {
            config,
            endpoint,
            host,
            client,
        })
    }

    async fn deliver(&self, message: &OutgoingMessage) -> Result<SendOutcome, SendError> {
        let Address::Phone(phone) = &message.address else {
            return Err(SendError::Permanent(
                "tencent SMS needs a phone address".to_owned(),
            ));
        };
        let template = message
            .provider_template
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                SendError::Permanent("tencent SMS needs a template id (TemplateId)".to_owned())
            })?;
        let body = json!({
            "PhoneNumberSet": [e164(phone)],
            "SmsSdkAppId": self.config.sms_sdk_app_id,
            "SignName": self.config.sign_name,
            "TemplateId": template,
            "TemplateParamSet": template_params(&message.variables),
            "SessionContext": message.message_id.to_string(),
        });
        let payload = serde_json::to_vec(&body)
            .map_err(|e| SendError::Permanent(format!("request body: {e}")))?;
        let timestamp = crate::clock::system_time().timestamp();
        let signature = sign_tc3(
            self.config.secret_key.expose(),
            SERVICE,
            timestamp,
            "POST",
            self.endpoint.path(),
            "",
            &[("content-type", CONTENT_TYPE), ("host", &self.host)],
            &payload,
        )
        .ok_or_else(|| SendError::Permanent("the clock is out of range".to_owned()))?;

        let response = self
            .client
            .post(self.endpoint.clone())
            .header(
                "authorization",
                signature.authorization(&self.config.secret_id),
            )
            .header("content-type", CONTENT_TYPE)
            .header("x-tc-action", ACTION)
            .header("x-tc-timestamp", timestamp.to_string())
            .header("x-tc-version", API_VERSION)
            .header("x-tc-region", &self.config.region)
            .body(payload)
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| transport_error(&e))?;
        let parsed: Option<Envelope> = serde_json::from_slice(&bytes).ok();
        if status.is_server_error() || status.as_u16() == 429 {
            let code = parsed
                .as_ref()
                .and_then(|e| e.response.error.as_ref())
                .map(|e| e.code.as_str())
                .unwrap_or("");
            return Err(SendError::Temporary(format!(
                "tencent HTTP {}: {code}",
                status.as_u16()
            )));
        }
        let Some(Envelope { response }) = parsed else {
            return Err(if status.is_success() {
                // A 2xx we cannot read may still have been sent; a retry is the lesser evil.
                SendError::Temporary(format!("tencent: unreadable response (HTTP {status})"))
            } else {
                SendError::Permanent(format!("tencent: unexpected response (HTTP {status})"))
            });
        };
        let request_id = response.request_id.as_deref().unwrap_or("?");
        if let Some(error) = &response.error {
            return Err(error_for_code(
                &error.code,
                &format!("{} (request {request_id})", error.message),
            ));
        }
        let Some(number) = response.send_status_set.first() else {
            return Err(SendError::Temporary(format!(
                "tencent: no SendStatusSet in the answer (request {request_id})"
            )));
        };
        if number.code == "Ok" {
            Ok(SendOutcome {
                provider_message_id: number.serial_no.clone().filter(|s| !s.is_empty()),
            })
        } else {
            Err(error_for_code(
                &number.code,
                &format!("{} (request {request_id})", number.message),
            ))
        }
    }
}

impl Provider for TencentSms {
    fn name(&self) -> &'static str {
        "tencent"
    }

    fn send<'a>(&'a self, message: &'a OutgoingMessage) -> SendFuture<'a> {
        Box::pin(self.deliver(message))
    }
}

pub use crate::notify::provider::DeliveryReceipt;

/// One element of the status callback: `user_receive_time`, `nationcode`, `mobile`,
/// `report_status` (`SUCCESS`/`FAIL`), `errmsg`, `description`, `sid` (Tencent's "SMS sending
/// status notification" document).
#[derive(Debug, Deserialize)]
struct StatusReport {
    sid: Option<String>,
    report_status: Option<String>,
    #[serde(default)]
    errmsg: Option<String>,
    #[serde(default)]
    ext: Option<Value>,
}

/// Parses a status callback body: a JSON array of reports (one callback may carry several). Fails
/// on anything but such an array, or on a report without `sid` or a `report_status` other than
/// `SUCCESS`/`FAIL`.
pub fn parse_reports(body: &[u8]) -> Result<Vec<DeliveryReceipt>, String> {
    let reports: Vec<StatusReport> = serde_json::from_slice(body)
        .map_err(|e| format!("not a Tencent status callback array: {e}"))?;
    reports
        .into_iter()
        .enumerate()
        .map(|(index, report)| {
            let provider_message_id = report
                .sid
                .filter(|s| !s.is_empty())
                .ok_or_else(|| format!("report {index}: no sid"))?;
            let delivered = match report.report_status.as_deref() {
                Some("SUCCESS") => true,
                Some("FAIL") => false,
                other => return Err(format!("report {index}: report_status {other:?}")),
            };
            let out_id = match report.ext {
                Some(Value::String(s)) if !s.is_empty() => Some(s),
                _ => None,
            };
            Ok(DeliveryReceipt {
                provider_message_id,
                out_id,
                delivered,
                error_code: if delivered {
                    None
                } else {
                    report.errmsg.filter(|s| !s.is_empty())
                },
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const EXAMPLE_PAYLOAD: &str =
        r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;

    fn example(secret_key: &str) -> Tc3Signature {
        sign_tc3(
            secret_key,
            "cvm",
            1551113065,
            "POST",
            "/",
            "",
            &[
                ("content-type", "application/json; charset=utf-8"),
                ("host", "cvm.tencentcloudapi.com"),
            ],
            EXAMPLE_PAYLOAD.as_bytes(),
        )
        .unwrap()
    }

    /// The worked example of Tencent Cloud's "Signature v3" (签名方法 v3) document: CVM
    /// DescribeInstances in ap-guangzhou at 1551113065, SecretKey `Gu5t9xGARNpq86cd98joQYCN3EXAMPLE`
    /// (tencentcloud.com/document/api/…, English edition) → `72e494ea…`.
    #[test]
    fn signs_the_published_tc3_example() {
        let signed = example("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE");
        assert_eq!(
            signed.canonical_request,
            "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\n\
             content-type;host\n35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
        );
        assert_eq!(
            signed.string_to_sign,
            "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n\
             5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
        );
        assert_eq!(
            signed.authorization("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"),
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/\
             tc3_request, SignedHeaders=content-type;host, \
             Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
    }

    /// The Chinese edition of the same example (cloud.tencent.com/document/api/213/30654), whose
    /// SecretKey is printed masked as `Gu5t9xGARNpq86cd98joQYCN3*******` and signed as such.
    #[test]
    fn signs_the_published_tc3_example_chinese_edition() {
        assert_eq!(
            example("Gu5t9xGARNpq86cd98joQYCN3*******").signature,
            "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
        );
    }

    #[test]
    fn the_date_is_utc() {
        // 2019-02-26 00:44:25 in Beijing is still the 25th in UTC (the document's warning).
        assert_eq!(utc_date(1551113065).unwrap(), "2019-02-25");
    }

    #[test]
    fn numeric_keys_are_ordered_numerically() {
        let vars: Map<String, Value> =
            serde_json::from_str(r#"{"10":"j","2":"b","1":"a","3":7}"#).unwrap();
        assert_eq!(template_params(&vars), vec!["a", "b", "7", "j"]);
        let named: Map<String, Value> =
            serde_json::from_str(r#"{"code":"123456","minutes":5,"x":null}"#).unwrap();
        assert_eq!(template_params(&named), vec!["123456", "5", ""]);
        assert!(template_params(&Map::new()).is_empty());
    }

    #[test]
    fn codes_map_to_error_classes() {
        for code in [
            "LimitExceeded.PhoneNumberDailyLimit",
            "InternalError.Timeout",
            "RequestLimitExceeded",
        ] {
            assert!(
                matches!(error_for_code(code, ""), SendError::Temporary(_)),
                "{code}"
            );
        }
        assert!(matches!(
            error_for_code("InvalidParameterValue.IncorrectPhoneNumber", ""),
            SendError::InvalidAddress(_)
        ));
        for code in [
            "AuthFailure.SignatureFailure",
            "FailedOperation.TemplateIncorrectOrUnapproved",
        ] {
            assert!(
                matches!(error_for_code(code, ""), SendError::Permanent(_)),
                "{code}"
            );
        }
    }

    #[test]
    fn parses_the_documented_callback() {
        // The example of Tencent's "SMS sending status notification" document, plus a failure.
        let body = r#"[
          {"user_receive_time":"2015-10-17 08:03:04","nationcode":"86","mobile":"13xxxxxxxxx",
           "report_status":"SUCCESS","errmsg":"DELIVRD","description":"用户短信送达成功",
           "sid":"xxxxxxx"},
          {"user_receive_time":"2015-10-17 08:03:09","nationcode":"86","mobile":"13xxxxxxxxx",
           "report_status":"FAIL","errmsg":"MK:0001","description":"空号","sid":"yyy",
           "ext":"0b9e7f0e-0000-4000-8000-000000000000"}
        ]"#;
        assert_eq!(
            parse_reports(body.as_bytes()).unwrap(),
            vec![
                DeliveryReceipt {
                    provider_message_id: "xxxxxxx".to_owned(),
                    out_id: None,
                    delivered: true,
                    error_code: None,
                },
                DeliveryReceipt {
                    provider_message_id: "yyy".to_owned(),
                    out_id: Some("0b9e7f0e-0000-4000-8000-000000000000".to_owned()),
                    delivered: false,
                    error_code: Some("MK:0001".to_owned()),
                },
            ]
        );
        assert!(parse_reports(b"{}").is_err());
        assert!(parse_reports(br#"[{"sid":"1","report_status":"MAYBE"}]"#).is_err());
        assert!(parse_reports(br#"[{"report_status":"SUCCESS"}]"#).is_err());
    }

    #[test]
    fn mainland_numbers_get_the_country_code() {
        assert_eq!(e164("13800000000"), "+8613800000000");
        assert_eq!(e164("+85212345678"), "+85212345678");
    }
}
