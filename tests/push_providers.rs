//! The app-push providers (APNs, FCM HTTP v1, Huawei Push Kit) against fakes that check requests
//! as the real services do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/fakes/apns.rs"]
mod apns;
#[path = "support/fakes/fcm.rs"]
mod fcm;
#[path = "support/fakes/huawei.rs"]
mod huawei;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use base64::Engine;
use fingertip::notify::provider::{
    Address, OutgoingMessage, Provider, PushPlatform, SendError, SendOutcome,
};
use fingertip::notify::providers::apns::{Apns, ApnsConfig};
use fingertip::notify::providers::fcm::{Fcm, FcmConfig};
use fingertip::notify::providers::huawei::{Huawei, HuaweiConfig};
use fingertip::secret::Secret;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Map, json};
use uuid::Uuid;

fn message(platform: PushPlatform, token: &str, priority: u8) -> OutgoingMessage {
    OutgoingMessage {
        message_id: Uuid::new_v4(),
        address: Address::Device {
            platform,
            token: token.to_owned(),
        },
        title: Some("办件进度".to_owned()),
        body: "您的申请已受理，请留意后续通知。".to_owned(),
        provider_template: None,
        variables: Map::new(),
        priority,
        attachments: Vec::new(),
    }
}

/// A clock (Unix seconds) that tests can move: the real time plus an offset.
fn shifted_clock() -> (Arc<AtomicI64>, impl Fn() -> i64 + Send + Sync + 'static) {
    let offset = Arc::new(AtomicI64::new(0));
    let shared = offset.clone();
    (offset, move || {
        fingertip::clock::system_time().timestamp() + shared.load(Ordering::SeqCst)
    })
}

fn pem(pkcs8_der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(pkcs8_der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

// ---------------------------------------------------------------------------------------------
// APNs

const TEAM_ID: &str = "TEAM123456";
const KEY_ID: &str = "ABC123DEFG";
const TOPIC: &str = "cn.gov.fingertip.app";

fn device_token(n: u8) -> String {
    hex::encode([n; 32])
}

/// A fresh `.p8`-style key: (PEM, uncompressed public key).
fn apns_key() -> (String, Vec<u8>) {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    (pem(pkcs8.as_ref()), pair.public_key().as_ref().to_vec())
}

fn apns_config(endpoint: &str, key_pem: &str) -> ApnsConfig {
    ApnsConfig {
        endpoint: endpoint.to_owned(),
        team_id: TEAM_ID.to_owned(),
        key_id: KEY_ID.to_owned(),
        private_key_pem: Secret::new(key_pem),
        topic: TOPIC.to_owned(),
    }
}

async fn apns_pair() -> (apns::FakeApns, Apns) {
    let (key_pem, public_key) = apns_key();
    let fake = apns::FakeApns::start(&public_key, TEAM_ID, KEY_ID, TOPIC).await;
    let provider = Apns::new(apns_config(&fake.endpoint, &key_pem)).unwrap();
    (fake, provider)
}

#[tokio::test]
async fn apns_delivers_over_http2_reusing_one_provider_token() {
    let (fake, provider) = apns_pair().await;
    assert_eq!(provider.name(), "apns");
    let urgent = message(PushPlatform::Apns, &device_token(1), 10);
    let normal = message(PushPlatform::Apns, &device_token(2), 5);
    let mut with_collapse = message(PushPlatform::Apns, &device_token(3), 5);
    with_collapse
        .variables
        .insert("collapse_id".into(), json!("application-42"));

    for m in [&urgent, &normal, &with_collapse] {
        let outcome = provider.send(m).await.unwrap();
        let expected_id = m.message_id.hyphenated().to_string().to_uppercase();
        assert_eq!(
            outcome,
            SendOutcome {
                provider_message_id: Some(expected_id)
            }
        );
    }

    let received = fake.received();
    assert_eq!(received.len(), 3);
    let first = &received[0];
    assert_eq!(first.device_token, device_token(1));
    assert_eq!(first.topic, TOPIC);
    assert_eq!(first.push_type.as_deref(), Some("alert"));
    assert_eq!(first.priority.as_deref(), Some("10"));
    assert_eq!(received[1].priority.as_deref(), Some("5"));
    assert_eq!(
        first.apns_id.as_deref(),
        Some(
            urgent
                .message_id
                .hyphenated()
                .to_string()
                .to_uppercase()
                .as_str()
        )
    );
    let expiration: i64 = first.expiration.as_deref().unwrap().parse().unwrap();
    assert!(expiration > fingertip::clock::system_time().timestamp());
    assert_eq!(
        first.payload,
        json!({"aps": {"alert": {"title": "办件进度", "body": "您的申请已受理，请留意后续通知。"},
                        "sound": "default"}})
    );
    assert_eq!(received[1].collapse_id, None);
    assert_eq!(received[2].collapse_id.as_deref(), Some("application-42"));
    // One provider token, reused for every push.
    assert_eq!(fake.provider_tokens().len(), 1);
    assert!(received.iter().all(|r| r.jwt == first.jwt));
}

#[tokio::test]
async fn apns_fake_refuses_http1() {
    let (fake, _provider) = apns_pair().await;
    let client = fingertip::tls::http_client(std::time::Duration::from_secs(5)).unwrap();
    let url = format!("{}/3/device/{}", fake.endpoint, device_token(1));
    let response = client.post(url).body("{}").send().await.unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    assert_eq!(response.status().as_u16(), 505);
    assert!(fake.received().is_empty());
}

#[tokio::test]
async fn apns_re_signs_the_token_after_20_minutes_without_churn() {
    let (key_pem, public_key) = apns_key();
    let fake = apns::FakeApns::start(&public_key, TEAM_ID, KEY_ID, TOPIC).await;
    let (offset, clock) = shifted_clock();
    let provider = Apns::new(apns_config(&fake.endpoint, &key_pem))
        .unwrap()
        .with_clock(clock);
    let m = message(PushPlatform::Apns, &device_token(7), 5);

    provider.send(&m).await.unwrap();
    for minutes in [5, 19] {
        offset.store(minutes * 60, Ordering::SeqCst);
        fake.set_clock_offset(minutes * 60);
        provider.send(&m).await.unwrap();
    }
    assert_eq!(fake.provider_tokens().len(), 1);
    for minutes in [21, 45, 60, 70] {
        offset.store(minutes * 60, Ordering::SeqCst);
        fake.set_clock_offset(minutes * 60);
        provider.send(&m).await.unwrap();
    }
    // Re-signed at 21 and 45 minutes (and 70); never refused as too frequent or expired.
    assert_eq!(fake.provider_tokens().len(), 4);
    assert_eq!(fake.received().len(), 7);
}

#[tokio::test]
async fn apns_unregistered_and_bad_device_tokens_are_invalid_addresses() {
    let (fake, provider) = apns_pair().await;
    fake.unregister(&device_token(9));
    let gone = provider
        .send(&message(PushPlatform::Apns, &device_token(9), 5))
        .await;
    assert!(
        matches!(&gone, Err(SendError::InvalidAddress(r)) if r.contains("Unregistered")),
        "{gone:?}"
    );
    let bad = provider.send(&message(PushPlatform::Apns, "abcd", 5)).await;
    assert!(
        matches!(&bad, Err(SendError::InvalidAddress(r)) if r.contains("BadDeviceToken")),
        "{bad:?}"
    );
    let malformed = provider
        .send(&message(PushPlatform::Apns, "not/hex", 5))
        .await;
    assert!(matches!(malformed, Err(SendError::InvalidAddress(_))));
    let wrong_platform = provider
        .send(&message(PushPlatform::Fcm, &device_token(1), 5))
        .await;
    assert!(matches!(wrong_platform, Err(SendError::Permanent(_))));
    assert!(fake.received().is_empty());
}

#[tokio::test]
async fn apns_server_errors_are_temporary_then_the_retry_succeeds() {
    let (fake, provider) = apns_pair().await;
    let m = message(PushPlatform::Apns, &device_token(4), 10);
    fake.fail_next(1, 500);
    assert!(matches!(
        provider.send(&m).await,
        Err(SendError::Temporary(_))
    ));
    fake.fail_next(1, 429);
    assert!(matches!(
        provider.send(&m).await,
        Err(SendError::Temporary(_))
    ));
    assert!(provider.send(&m).await.is_ok());
    assert_eq!(fake.received().len(), 1);
}

#[tokio::test]
async fn apns_refuses_a_token_signed_with_another_key() {
    let (_, public_key) = apns_key();
    let (other_pem, _) = apns_key();
    let fake = apns::FakeApns::start(&public_key, TEAM_ID, KEY_ID, TOPIC).await;
    let provider = Apns::new(apns_config(&fake.endpoint, &other_pem)).unwrap();
    let refused = provider
        .send(&message(PushPlatform::Apns, &device_token(1), 5))
        .await;
    assert!(
        matches!(&refused, Err(SendError::Permanent(r)) if r.contains("InvalidProviderToken")),
        "{refused:?}"
    );
    assert!(fake.received().is_empty());
}

#[tokio::test]
async fn apns_expired_provider_token_is_dropped_and_replaced() {
    let (key_pem, public_key) = apns_key();
    let fake = apns::FakeApns::start(&public_key, TEAM_ID, KEY_ID, TOPIC).await;
    let (offset, clock) = shifted_clock();
    let provider = Apns::new(apns_config(&fake.endpoint, &key_pem))
        .unwrap()
        .with_clock(clock);
    let m = message(PushPlatform::Apns, &device_token(5), 5);

    // Our clock lags Apple's by 61 minutes: the token looks expired.
    offset.store(-61 * 60, Ordering::SeqCst);
    let expired = provider.send(&m).await;
    assert!(
        matches!(&expired, Err(SendError::Temporary(r)) if r.contains("ExpiredProviderToken")),
        "{expired:?}"
    );
    // Once the clock is right, the next send signs a new token rather than reusing the old one.
    offset.store(0, Ordering::SeqCst);
    provider.send(&m).await.unwrap();
    assert_eq!(fake.provider_tokens().len(), 1);
    assert_eq!(fake.received().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// FCM

const PROJECT_ID: &str = "fingertip-test";
const CLIENT_EMAIL: &str = "push@fingertip-test.iam.gserviceaccount.com";

async fn fcm_pair(key_pem: &str) -> (fcm::FakeFcm, Fcm) {
    let public_key = fcm::public_key_of(fcm::TEST_SERVICE_ACCOUNT_KEY_PEM);
    let fake = fcm::FakeFcm::start(&public_key, CLIENT_EMAIL, PROJECT_ID).await;
    let provider = Fcm::new(FcmConfig {
        endpoint: fake.endpoint.clone(),
        token_uri: fake.token_uri.clone(),
        project_id: PROJECT_ID.to_owned(),
        client_email: CLIENT_EMAIL.to_owned(),
        private_key_pem: Secret::new(key_pem),
    })
    .unwrap();
    (fake, provider)
}

#[tokio::test]
async fn fcm_delivers_with_one_access_token_for_several_sends() {
    let (fake, provider) = fcm_pair(fcm::TEST_SERVICE_ACCOUNT_KEY_PEM).await;
    assert_eq!(provider.name(), "fcm");
    for (i, priority) in [10, 5, 5].into_iter().enumerate() {
        let outcome = provider
            .send(&message(
                PushPlatform::Fcm,
                &format!("fcm-token-{i}"),
                priority,
            ))
            .await;
        let id = outcome.unwrap().provider_message_id.unwrap();
        assert!(
            id.starts_with(&format!("projects/{PROJECT_ID}/messages/")),
            "{id}"
        );
    }
    assert_eq!(fake.token_requests(), 1);
    let received = fake.received();
    assert_eq!(received.len(), 3);
    assert_eq!(
        received[0].message,
        json!({
            "token": "fcm-token-0",
            "notification": {"title": "办件进度", "body": "您的申请已受理，请留意后续通知。"},
            "android": {"priority": "high"},
        })
    );
    assert_eq!(received[1].message["android"]["priority"], "normal");
    assert!(
        received
            .iter()
            .all(|r| r.access_token == received[0].access_token)
    );
}

#[tokio::test]
async fn fcm_unregistered_token_is_an_invalid_address() {
    let (fake, provider) = fcm_pair(fcm::TEST_SERVICE_ACCOUNT_KEY_PEM).await;
    fake.unregister("stale-token");
    let result = provider
        .send(&message(PushPlatform::Fcm, "stale-token", 5))
        .await;
    assert!(
        matches!(&result, Err(SendError::InvalidAddress(r)) if r.contains("UNREGISTERED")),
        "{result:?}"
    );
    assert!(fake.received().is_empty());
}

#[tokio::test]
async fn fcm_server_errors_are_temporary_then_the_retry_succeeds() {
    let (fake, provider) = fcm_pair(fcm::TEST_SERVICE_ACCOUNT_KEY_PEM).await;
    let m = message(PushPlatform::Fcm, "fcm-token", 10);
    fake.fail_next(1, 500);
    assert!(matches!(
        provider.send(&m).await,
        Err(SendError::Temporary(_))
    ));
    fake.fail_next(1, 503);
    assert!(matches!(
        provider.send(&m).await,
        Err(SendError::Temporary(_))
    ));
    fake.fail_next(1, 429);
    assert!(matches!(
        provider.send(&m).await,
        Err(SendError::Temporary(_))
    ));
    assert!(provider.send(&m).await.is_ok());
    assert_eq!(fake.received().len(), 1);
    assert_eq!(fake.token_requests(), 1);
}

#[tokio::test]
async fn fcm_refuses_an_assertion_signed_with_another_key() {
    let (fake, provider) = fcm_pair(fcm::OTHER_TEST_KEY_PEM).await;
    let result = provider
        .send(&message(PushPlatform::Fcm, "fcm-token", 5))
        .await;
    assert!(
        matches!(&result, Err(SendError::Permanent(r)) if r.contains("invalid_grant")),
        "{result:?}"
    );
    assert_eq!(fake.token_requests(), 1);
    assert_eq!(fake.send_requests(), 0);
}

#[tokio::test]
async fn fcm_401_drops_the_access_token() {
    let (fake, provider) = fcm_pair(fcm::TEST_SERVICE_ACCOUNT_KEY_PEM).await;
    let m = message(PushPlatform::Fcm, "fcm-token", 5);
    provider.send(&m).await.unwrap();
    fake.revoke_access_tokens();
    assert!(matches!(
        provider.send(&m).await,
        Err(SendError::Temporary(_))
    ));
    provider.send(&m).await.unwrap();
    assert_eq!(fake.token_requests(), 2);
    assert_eq!(fake.received().len(), 2);
}

#[tokio::test]
async fn fcm_access_token_is_renewed_shortly_before_it_expires() {
    let public_key = fcm::public_key_of(fcm::TEST_SERVICE_ACCOUNT_KEY_PEM);
    let fake = fcm::FakeFcm::start(&public_key, CLIENT_EMAIL, PROJECT_ID).await;
    let (offset, clock) = shifted_clock();
    let provider = Fcm::new(FcmConfig {
        endpoint: fake.endpoint.clone(),
        token_uri: fake.token_uri.clone(),
        project_id: PROJECT_ID.to_owned(),
        client_email: CLIENT_EMAIL.to_owned(),
        private_key_pem: Secret::new(fcm::TEST_SERVICE_ACCOUNT_KEY_PEM),
    })
    .unwrap()
    .with_clock(clock);
    let m = message(PushPlatform::Fcm, "fcm-token", 5);
    // The token (3599 s) is fetched 3100 s "ago" by our clock; the fake only sees a valid JWT.
    offset.store(-3100, Ordering::SeqCst);
    provider.send(&m).await.unwrap();
    offset.store(-3100 + 3250, Ordering::SeqCst);
    provider.send(&m).await.unwrap();
    assert_eq!(fake.token_requests(), 1);
    // Five minutes before its expiry it is replaced.
    offset.store(-3100 + 3300, Ordering::SeqCst);
    provider.send(&m).await.unwrap();
    assert_eq!(fake.token_requests(), 2);
}

// ---------------------------------------------------------------------------------------------
// Huawei

const APP_ID: &str = "104512345";
const APP_SECRET: &str = "test-secret-0f1e2d3c4b5a69788796a5b4c3d2e1f0";

async fn huawei_pair(secret: &str) -> (huawei::FakeHuawei, Huawei) {
    let fake = huawei::FakeHuawei::start(APP_ID, APP_SECRET).await;
    let provider = Huawei::new(HuaweiConfig {
        token_endpoint: fake.token_endpoint.clone(),
        push_endpoint: fake.push_endpoint.clone(),
        app_id: APP_ID.to_owned(),
        client_secret: Secret::new(secret),
    })
    .unwrap();
    (fake, provider)
}

#[tokio::test]
async fn huawei_delivers_with_one_access_token_for_several_sends() {
    let (fake, provider) = huawei_pair(APP_SECRET).await;
    assert_eq!(provider.name(), "huawei");
    for i in 0..3 {
        let outcome = provider
            .send(&message(PushPlatform::Huawei, &format!("hms-{i}"), 5))
            .await;
        assert!(outcome.unwrap().provider_message_id.is_some());
    }
    assert_eq!(fake.token_requests(), 1);
    let received = fake.received();
    assert_eq!(received.len(), 3);
    assert_eq!(
        received[0].body,
        json!({
            "validate_only": false,
            "message": {
                "notification": {"title": "办件进度", "body": "您的申请已受理，请留意后续通知。"},
                "android": {"notification": {"click_action": {"type": 3}}},
                "token": ["hms-0"],
            },
        })
    );
    assert!(
        received
            .iter()
            .all(|r| r.access_token == received[0].access_token)
    );
}

#[tokio::test]
async fn huawei_invalid_token_is_an_invalid_address() {
    let (fake, provider) = huawei_pair(APP_SECRET).await;
    fake.unregister("hms-dead");
    let result = provider
        .send(&message(PushPlatform::Huawei, "hms-dead", 5))
        .await;
    assert!(
        matches!(&result, Err(SendError::InvalidAddress(r)) if r.contains("80300007")),
        "{result:?}"
    );
}

#[tokio::test]
async fn huawei_server_errors_are_temporary_then_the_retry_succeeds() {
    let (fake, provider) = huawei_pair(APP_SECRET).await;
    let m = message(PushPlatform::Huawei, "hms-1", 10);
    fake.fail_next(1, 500);
    let first = provider.send(&m).await;
    assert!(
        matches!(&first, Err(SendError::Temporary(r)) if r.contains("81000001")),
        "{first:?}"
    );
    fake.fail_next(1, 503);
    assert!(matches!(
        provider.send(&m).await,
        Err(SendError::Temporary(_))
    ));
    assert!(provider.send(&m).await.is_ok());
    assert_eq!(fake.received().len(), 1);
}

#[tokio::test]
async fn huawei_wrong_secret_is_refused() {
    let (fake, provider) = huawei_pair("not-the-secret").await;
    let result = provider
        .send(&message(PushPlatform::Huawei, "hms-1", 5))
        .await;
    assert!(matches!(result, Err(SendError::Permanent(_))), "{result:?}");
    assert_eq!(fake.send_requests(), 0);
}

#[tokio::test]
async fn huawei_expired_access_token_is_replaced() {
    let (fake, provider) = huawei_pair(APP_SECRET).await;
    let m = message(PushPlatform::Huawei, "hms-1", 5);
    provider.send(&m).await.unwrap();
    fake.expire_access_tokens();
    let expired = provider.send(&m).await;
    assert!(
        matches!(&expired, Err(SendError::Temporary(r)) if r.contains("80200003")),
        "{expired:?}"
    );
    provider.send(&m).await.unwrap();
    assert_eq!(fake.token_requests(), 2);
    assert_eq!(fake.received().len(), 2);
}

#[tokio::test]
async fn huawei_access_token_is_cached_until_shortly_before_expiry() {
    let fake = huawei::FakeHuawei::start(APP_ID, APP_SECRET).await;
    let (offset, clock) = shifted_clock();
    let provider = Huawei::new(HuaweiConfig {
        token_endpoint: fake.token_endpoint.clone(),
        push_endpoint: fake.push_endpoint.clone(),
        app_id: APP_ID.to_owned(),
        client_secret: Secret::new(APP_SECRET),
    })
    .unwrap()
    .with_clock(clock);
    let m = message(PushPlatform::Huawei, "hms-1", 5);
    provider.send(&m).await.unwrap();
    offset.store(3000, Ordering::SeqCst);
    provider.send(&m).await.unwrap();
    assert_eq!(fake.token_requests(), 1);
    offset.store(3301, Ordering::SeqCst);
    provider.send(&m).await.unwrap();
    assert_eq!(fake.token_requests(), 2);
}
