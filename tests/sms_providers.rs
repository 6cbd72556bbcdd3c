//! The Aliyun and Tencent SMS clients against their fakes, over real HTTP on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/fakes/aliyun.rs"]
mod aliyun;
#[path = "support/fakes/tencent.rs"]
mod tencent;

use std::time::Duration;

use fingertip::notify::provider::{Address, OutgoingMessage, Provider, SendError};
use fingertip::notify::providers::aliyun as aliyun_client;
use fingertip::notify::providers::aliyun::AliyunSms;
use fingertip::notify::providers::tencent as tencent_client;
use fingertip::notify::providers::tencent::TencentSms;
use fingertip::secret::Secret;
use serde_json::{Map, Value, json};

use aliyun::FakeAliyun;
use tencent::FakeTencent;

const ALIYUN_ID: &str = "LTAI5tTestAccessKeyId";
const ALIYUN_SECRET: &str = "test-access-key-secret";
const TENCENT_ID: &str = "AKIDtestsecretid0123456789";
const TENCENT_KEY: &str = "test-secret-key-0123456789";

fn message(phone: &str, template: &str, variables: Value) -> OutgoingMessage {
    let variables: Map<String, Value> = match variables {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    OutgoingMessage {
        message_id: uuid::Uuid::new_v4(),
        address: Address::Phone(phone.to_owned()),
        title: None,
        body: "您的验证码为123456".to_owned(),
        provider_template: Some(template.to_owned()),
        variables,
        priority: 10,
        attachments: Vec::new(),
    }
}

// ---------------------------------------------------------------- Aliyun

async fn aliyun() -> (FakeAliyun, AliyunSms) {
    let fake = FakeAliyun::start(ALIYUN_ID, ALIYUN_SECRET).await;
    let client =
        AliyunSms::with_timeout(fake.client_config("某某市政务服务"), Duration::from_secs(5))
            .unwrap();
    (fake, client)
}

#[tokio::test]
async fn aliyun_sends_a_signed_request() {
    let (fake, client) = aliyun().await;
    let msg = message(
        "13800138000",
        "SMS_154950909",
        json!({"code": "123456", "minutes": 5, "note": "a b*c+d/~é"}),
    );
    let outcome = client.send(&msg).await.unwrap();
    let received = fake.received();
    assert_eq!(received.len(), 1);
    let sms = &received[0];
    assert_eq!(
        outcome.provider_message_id.as_deref(),
        Some(sms.biz_id.as_str())
    );
    assert_eq!(sms.phone, "13800138000");
    assert_eq!(sms.sign_name, "某某市政务服务");
    assert_eq!(sms.template_code, "SMS_154950909");
    assert_eq!(
        sms.params,
        json!({"code": "123456", "minutes": "5", "note": "a b*c+d/~é"})
    );
    assert_eq!(
        sms.out_id.as_deref(),
        Some(msg.message_id.to_string().as_str())
    );
    assert_eq!(client.name(), "aliyun");

    // Without variables there is no TemplateParam; a second send uses a new nonce.
    client
        .send(&message("13800138001", "SMS_1", json!({})))
        .await
        .unwrap();
    assert_eq!(fake.received()[1].params, Value::Null);
}

#[tokio::test]
async fn aliyun_bad_signature_is_refused_as_permanent() {
    let (fake, _) = aliyun().await;
    let mut config = fake.client_config("sign");
    config.access_key_secret = Secret::new("wrong-secret");
    let client = AliyunSms::new(config).unwrap();
    let err = client
        .send(&message("13800138000", "SMS_1", json!({})))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::Permanent(m) if m.contains("SignatureDoesNotMatch")),
        "{err:?}"
    );

    let mut config = fake.client_config("sign");
    config.access_key_id = "LTAI5tSomeoneElse".to_owned();
    let err = AliyunSms::new(config)
        .unwrap()
        .send(&message("13800138000", "SMS_1", json!({})))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::Permanent(m) if m.contains("InvalidAccessKeyId.NotFound")),
        "{err:?}"
    );
    assert!(fake.received().is_empty());
}

#[tokio::test]
async fn aliyun_server_error_is_temporary_then_succeeds() {
    let (fake, client) = aliyun().await;
    fake.fail_next(1, 500, "InternalError");
    let msg = message("13800138000", "SMS_1", json!({"code": "1"}));
    let err = client.send(&msg).await.unwrap_err();
    assert!(matches!(err, SendError::Temporary(_)), "{err:?}");
    assert!(fake.received().is_empty());
    assert!(client.send(&msg).await.is_ok());
    assert_eq!(fake.received().len(), 1);
}

#[tokio::test]
async fn aliyun_throttling_is_temporary() {
    let (fake, client) = aliyun().await;
    fake.fail_next(1, 200, "isv.BUSINESS_LIMIT_CONTROL");
    fake.fail_next(1, 400, "Throttling.User");
    fake.fail_next(1, 200, "isv.SMS_TEMPLATE_ILLEGAL");
    let msg = message("13800138000", "SMS_1", json!({}));
    let first = client.send(&msg).await.unwrap_err();
    assert!(
        matches!(&first, SendError::Temporary(m) if m.contains("isv.BUSINESS_LIMIT_CONTROL")),
        "{first:?}"
    );
    let second = client.send(&msg).await.unwrap_err();
    assert!(
        matches!(&second, SendError::Temporary(m) if m.contains("Throttling.User")),
        "{second:?}"
    );
    let third = client.send(&msg).await.unwrap_err();
    assert!(matches!(third, SendError::Permanent(_)), "{third:?}");
}

#[tokio::test]
async fn aliyun_illegal_number_is_an_invalid_address() {
    let (fake, client) = aliyun().await;
    let err = client
        .send(&message("12345", "SMS_1", json!({})))
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::InvalidAddress(_)), "{err:?}");
    assert!(fake.received().is_empty());
}

#[tokio::test]
async fn aliyun_timeout_is_temporary() {
    let fake = FakeAliyun::start(ALIYUN_ID, ALIYUN_SECRET).await;
    let client =
        AliyunSms::with_timeout(fake.client_config("sign"), Duration::from_millis(300)).unwrap();
    fake.delay_next(Duration::from_secs(3));
    let msg = message("13800138000", "SMS_1", json!({}));
    let err = client.send(&msg).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Temporary(m) if m.contains("timed out")),
        "{err:?}"
    );
    // Aliyun does not deduplicate: the lost answer's SMS went out, and the retry sends again.
    assert!(client.send(&msg).await.is_ok());
    assert_eq!(fake.received().len(), 2);
}

#[tokio::test]
async fn aliyun_report_of_a_sent_sms_parses() {
    let (fake, client) = aliyun().await;
    let msg = message("13800138000", "SMS_1", json!({}));
    client.send(&msg).await.unwrap();
    let sms = &fake.received()[0];
    let receipts =
        aliyun_client::parse_reports(FakeAliyun::report_json(sms, false).as_bytes()).unwrap();
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].provider_message_id, sms.biz_id);
    assert_eq!(
        receipts[0].out_id.as_deref(),
        Some(msg.message_id.to_string().as_str())
    );
    assert!(!receipts[0].delivered);
    assert_eq!(receipts[0].error_code.as_deref(), Some("MK:0001"));
}

/// The fake itself: a replayed nonce, an unsigned `x-acs-*` header and a tampered query are
/// refused, with the gateway's codes.
#[tokio::test]
async fn aliyun_fake_refuses_replays_unsigned_headers_and_tampering() {
    let fake = FakeAliyun::start(ALIYUN_ID, ALIYUN_SECRET).await;
    let http = fingertip::tls::http_client(Duration::from_secs(5)).unwrap();
    let host = fake.base_url.trim_start_matches("http://").to_owned();
    let params = [
        ("PhoneNumbers", "13800138000"),
        ("SignName", "sign"),
        ("TemplateCode", "SMS_1"),
    ];
    let query = aliyun_client::canonical_query_string(&params);
    let date = fingertip::clock::system_time()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let empty = aliyun_client::sha256_hex(b"");
    let send = |query: String, extra: Option<(&'static str, &'static str)>, sign_extra: bool| {
        let mut headers = vec![
            ("host", host.as_str()),
            ("x-acs-action", "SendSms"),
            ("x-acs-version", "2017-05-25"),
            ("x-acs-date", date.as_str()),
            ("x-acs-signature-nonce", "fixed-nonce-1"),
            ("x-acs-content-sha256", empty.as_str()),
        ];
        if let (Some(extra), true) = (extra, sign_extra) {
            headers.push(extra);
        }
        let signed = aliyun_client::sign_v3(ALIYUN_SECRET, "POST", "/", &params, &headers, b"");
        let mut request = http
            .post(format!("{}/?{query}", fake.base_url))
            .header("authorization", signed.authorization(ALIYUN_ID));
        for (name, value) in &headers {
            if *name != "host" {
                request = request.header(*name, *value);
            }
        }
        if let Some((name, value)) = extra {
            request = request.header(name, value);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            (status, body["Code"].as_str().unwrap_or("").to_owned())
        }
    };
    let tampered = query.replace("13800138000", "13800138001");
    assert_eq!(
        send(tampered, None, false).await,
        (400, "SignatureDoesNotMatch".to_owned())
    );
    assert_eq!(
        send(query.clone(), Some(("x-acs-extra", "1")), false).await,
        (400, "IncompleteSignature".to_owned())
    );
    assert_eq!(
        send(query.clone(), None, false).await,
        (200, "OK".to_owned())
    );
    assert_eq!(
        send(query.clone(), None, false).await,
        (400, "SignatureNonceUsed".to_owned())
    );
    assert_eq!(fake.received().len(), 1);
}

// ---------------------------------------------------------------- Tencent

async fn tencent() -> (FakeTencent, TencentSms) {
    let fake = FakeTencent::start(TENCENT_ID, TENCENT_KEY).await;
    let client = TencentSms::with_timeout(
        fake.client_config("1400006666", "腾讯云"),
        Duration::from_secs(5),
    )
    .unwrap();
    (fake, client)
}

#[tokio::test]
async fn tencent_sends_a_signed_request() {
    let (fake, client) = tencent().await;
    let msg = message(
        "13800138000",
        "1234567",
        json!({"2": "5", "1": "123456", "10": "x"}),
    );
    let outcome = client.send(&msg).await.unwrap();
    let received = fake.received();
    assert_eq!(received.len(), 1);
    let sms = &received[0];
    assert_eq!(
        outcome.provider_message_id.as_deref(),
        Some(sms.serial_no.as_str())
    );
    assert_eq!(sms.phone, "+8613800138000");
    assert_eq!(sms.sms_sdk_app_id, "1400006666");
    assert_eq!(sms.sign_name, "腾讯云");
    assert_eq!(sms.template_code, "1234567");
    assert_eq!(sms.params, vec!["123456", "5", "x"]);
    assert_eq!(
        sms.out_id.as_deref(),
        Some(msg.message_id.to_string().as_str())
    );
    assert_eq!(client.name(), "tencent");
}

#[tokio::test]
async fn tencent_bad_signature_is_refused_as_permanent() {
    let (fake, _) = tencent().await;
    let mut config = fake.client_config("1400006666", "sign");
    config.secret_key = Secret::new("wrong-key");
    let err = TencentSms::new(config)
        .unwrap()
        .send(&message("13800138000", "1", json!({})))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::Permanent(m) if m.contains("AuthFailure.SignatureFailure")),
        "{err:?}"
    );
    let mut config = fake.client_config("1400006666", "sign");
    config.secret_id = "AKIDsomeoneelse".to_owned();
    let err = TencentSms::new(config)
        .unwrap()
        .send(&message("13800138000", "1", json!({})))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::Permanent(m) if m.contains("AuthFailure.SecretIdNotFound")),
        "{err:?}"
    );
    assert!(fake.received().is_empty());
}

#[tokio::test]
async fn tencent_server_error_is_temporary_then_succeeds() {
    let (fake, client) = tencent().await;
    fake.fail_next(1, 500, "InternalError");
    let msg = message("13800138000", "1", json!({"1": "a"}));
    let err = client.send(&msg).await.unwrap_err();
    assert!(matches!(err, SendError::Temporary(_)), "{err:?}");
    assert!(client.send(&msg).await.is_ok());
    assert_eq!(fake.received().len(), 1);
}

#[tokio::test]
async fn tencent_limits_are_temporary() {
    let (fake, client) = tencent().await;
    fake.fail_next(1, 200, "LimitExceeded.PhoneNumberDailyLimit");
    fake.fail_next(1, 200, "RequestLimitExceeded");
    fake.fail_next(1, 200, "InternalError.Timeout");
    fake.fail_next(1, 200, "FailedOperation.TemplateIncorrectOrUnapproved");
    let msg = message("13800138000", "1", json!({}));
    for _ in 0..3 {
        let err = client.send(&msg).await.unwrap_err();
        assert!(matches!(err, SendError::Temporary(_)), "{err:?}");
    }
    let err = client.send(&msg).await.unwrap_err();
    assert!(matches!(err, SendError::Permanent(_)), "{err:?}");
    assert!(fake.received().is_empty());
}

#[tokio::test]
async fn tencent_illegal_number_is_an_invalid_address() {
    let (fake, client) = tencent().await;
    let err = client
        .send(&message("12345", "1", json!({})))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::InvalidAddress(m) if m.contains("IncorrectPhoneNumber")),
        "{err:?}"
    );
    assert!(fake.received().is_empty());
}

#[tokio::test]
async fn tencent_timeout_is_temporary() {
    let fake = FakeTencent::start(TENCENT_ID, TENCENT_KEY).await;
    let client = TencentSms::with_timeout(
        fake.client_config("1400006666", "sign"),
        Duration::from_millis(300),
    )
    .unwrap();
    fake.delay_next(Duration::from_secs(3));
    let msg = message("13800138000", "1", json!({}));
    let err = client.send(&msg).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Temporary(m) if m.contains("timed out")),
        "{err:?}"
    );
    assert!(client.send(&msg).await.is_ok());
}

#[tokio::test]
async fn tencent_report_of_a_sent_sms_parses() {
    let (fake, client) = tencent().await;
    client
        .send(&message("13800138000", "1", json!({})))
        .await
        .unwrap();
    let sms = &fake.received()[0];
    let receipts =
        tencent_client::parse_reports(FakeTencent::report_json(sms, true).as_bytes()).unwrap();
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].provider_message_id, sms.serial_no);
    assert!(receipts[0].delivered);
    assert_eq!(receipts[0].error_code, None);
}

/// The fake itself: an expired timestamp and a credential date that is not the timestamp's UTC
/// date are refused.
#[tokio::test]
async fn tencent_fake_refuses_expired_and_misdated_signatures() {
    let fake = FakeTencent::start(TENCENT_ID, TENCENT_KEY).await;
    let http = fingertip::tls::http_client(Duration::from_secs(5)).unwrap();
    let host = fake.base_url.trim_start_matches("http://").to_owned();
    let payload = br#"{"PhoneNumberSet":["+8613800138000"],"SmsSdkAppId":"1","TemplateId":"1"}"#;
    let send = |timestamp: i64, scope_timestamp: i64| {
        let signed = tencent_client::sign_tc3(
            TENCENT_KEY,
            "sms",
            scope_timestamp,
            "POST",
            "/",
            "",
            &[
                ("content-type", tencent_client::CONTENT_TYPE),
                ("host", &host),
            ],
            payload,
        )
        .unwrap();
        // Sign with scope_timestamp's date but send `timestamp`.
        let authorization = signed.authorization(TENCENT_ID);
        let request = http
            .post(format!("{}/", fake.base_url))
            .header("authorization", authorization)
            .header("content-type", tencent_client::CONTENT_TYPE)
            .header("x-tc-action", "SendSms")
            .header("x-tc-version", "2021-01-11")
            .header("x-tc-region", "ap-guangzhou")
            .header("x-tc-timestamp", timestamp.to_string())
            .body(payload.to_vec());
        async move {
            let body: Value = request.send().await.unwrap().json().await.unwrap();
            body["Response"]["Error"]["Code"]
                .as_str()
                .unwrap_or("none")
                .to_owned()
        }
    };
    let now = fingertip::clock::system_time().timestamp();
    assert_eq!(
        send(now - 600, now - 600).await,
        "AuthFailure.SignatureExpire"
    );
    assert_eq!(
        send(now, now - 2 * 86_400).await,
        "AuthFailure.SignatureFailure"
    );
    assert_eq!(send(now, now).await, "none");
    assert_eq!(fake.received().len(), 1);
}
