//! The real-name HTTP client (and its verdict cache) against a fake identity authority, over
//! real HTTP on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/fakes/realname.rs"]
mod fake_realname;

use std::time::Duration;

use fake_realname::{FakeAuthority, PATH};
use fingertip::identity::citizen_id::CitizenIdNumber;
use fingertip::identity::realname::http::{self as realname_http, HttpRealNameProvider};
use fingertip::identity::realname::{RealNameError, RealNameProvider, RealNameVerdict};
use fingertip::secret::Secret;

const KEY_ID: &str = "fingertip-test";
const SECRET: &str = "test-shared-secret-0123456789";
const ZHANG: &str = "11010519491231002X";
const LI: &str = "440524188001010014";
const UNKNOWN: &str = "110105198001010016";

fn id(text: &str) -> CitizenIdNumber {
    CitizenIdNumber::parse(text).unwrap()
}

async fn authority() -> FakeAuthority {
    let fake = FakeAuthority::start(KEY_ID, SECRET).await;
    fake.add_person("张三", ZHANG);
    fake.add_person("李四", LI);
    fake
}

fn client(fake: &FakeAuthority) -> HttpRealNameProvider {
    HttpRealNameProvider::new(fake.client_config(), Duration::from_secs(5)).unwrap()
}

#[tokio::test]
async fn match_mismatch_and_not_found() {
    let fake = authority().await;
    let client = client(&fake);
    assert_eq!(
        client.verify("张三", &id(ZHANG)).await,
        Ok(RealNameVerdict::Match)
    );
    assert_eq!(
        client.verify("李四", &id(ZHANG)).await,
        Ok(RealNameVerdict::Mismatch)
    );
    assert_eq!(
        client.verify("王五", &id(UNKNOWN)).await,
        Ok(RealNameVerdict::NotFound)
    );
    let received = fake.received();
    assert_eq!(received.len(), 3);
    assert_eq!(received[0].key_id, KEY_ID);
    assert_eq!(received[0].name, "张三");
    assert_eq!(received[0].id_number, ZHANG);
    assert_eq!(received[0].answer, "match");
    assert_eq!(received[1].answer, "mismatch");
    assert_eq!(received[2].answer, "not_found");
    // A fresh request id and nonce every time.
    assert_ne!(received[0].request_id, received[1].request_id);
    assert_ne!(received[0].nonce, received[1].nonce);
    assert_eq!(received[0].nonce.len(), 32);
    assert!(fake.refusals().is_empty());
    assert_eq!(client.name(), "http");
    assert!(!client.is_demo_only());
}

#[tokio::test]
async fn lowercase_x_is_sent_normalised() {
    let fake = authority().await;
    let client = client(&fake);
    assert_eq!(
        client.verify("张三", &id(&ZHANG.to_lowercase())).await,
        Ok(RealNameVerdict::Match)
    );
    assert_eq!(fake.received()[0].id_number, ZHANG);
}

#[tokio::test]
async fn wrong_secret_is_refused_and_rejected() {
    let fake = authority().await;
    let mut config = fake.client_config();
    config.secret = Secret::new("not-the-secret");
    let client = HttpRealNameProvider::new(config, Duration::from_secs(5)).unwrap();
    let err = client.verify("张三", &id(ZHANG)).await.unwrap_err();
    assert!(
        matches!(&err, RealNameError::Rejected(m) if m.contains("401") && m.contains("bad_signature")),
        "{err:?}"
    );
    assert_eq!(fake.refusals(), vec!["bad_signature".to_owned()]);
    assert!(fake.received().is_empty());
}

#[tokio::test]
async fn unknown_key_id_is_rejected() {
    let fake = authority().await;
    let mut config = fake.client_config();
    config.key_id = "someone-else".to_owned();
    let client = HttpRealNameProvider::new(config, Duration::from_secs(5)).unwrap();
    let err = client.verify("张三", &id(ZHANG)).await.unwrap_err();
    assert!(
        matches!(&err, RealNameError::Rejected(m) if m.contains("unknown_key_id")),
        "{err:?}"
    );
}

#[tokio::test]
async fn statuses_map_to_error_classes() {
    let fake = authority().await;
    let client = client(&fake);
    for (status, temporary) in [
        (503, true),
        (500, true),
        (429, true),
        (403, false),
        (400, false),
    ] {
        fake.fail_next(1, status);
        let err = client.verify("张三", &id(ZHANG)).await.unwrap_err();
        if temporary {
            assert!(
                matches!(err, RealNameError::Unavailable(_)),
                "{status}: {err:?}"
            );
        } else {
            assert!(
                matches!(err, RealNameError::Rejected(_)),
                "{status}: {err:?}"
            );
        }
    }
}

#[tokio::test]
async fn unavailable_is_not_cached() {
    let fake = authority().await;
    let provider = fake.realname_config().build().unwrap();
    fake.fail_next(1, 503);
    let err = provider.verify("张三", &id(ZHANG)).await.unwrap_err();
    assert!(
        matches!(&err, RealNameError::Unavailable(m) if m.contains("503")),
        "{err:?}"
    );
    assert_eq!(
        provider.verify("张三", &id(ZHANG)).await,
        Ok(RealNameVerdict::Match)
    );
    assert_eq!(fake.received().len(), 2);
}

#[tokio::test]
async fn a_cached_verdict_does_not_reach_the_authority_again() {
    let fake = authority().await;
    let provider = fake.realname_config().build().unwrap();
    for _ in 0..3 {
        assert_eq!(
            provider.verify("张三", &id(ZHANG)).await,
            Ok(RealNameVerdict::Match)
        );
        assert_eq!(
            provider.verify("李四", &id(ZHANG)).await,
            Ok(RealNameVerdict::Mismatch)
        );
        assert_eq!(
            provider.verify("王五", &id(UNKNOWN)).await,
            Ok(RealNameVerdict::NotFound)
        );
    }
    assert_eq!(fake.received().len(), 3);
}

#[tokio::test]
async fn a_forged_response_signature_is_refused() {
    let fake = authority().await;
    let provider = fake.realname_config().build().unwrap();
    fake.sign_wrongly(true);
    let err = provider.verify("王五", &id(ZHANG)).await.unwrap_err();
    assert!(
        matches!(&err, RealNameError::Rejected(m) if m.contains("signature")),
        "{err:?}"
    );
    // Not cached either: once the answers are genuine, the real verdict comes through.
    fake.sign_wrongly(false);
    assert_eq!(
        provider.verify("王五", &id(ZHANG)).await,
        Ok(RealNameVerdict::Mismatch)
    );
    assert_eq!(fake.received().len(), 2);
}

#[tokio::test]
async fn an_answer_to_another_request_is_refused() {
    let fake = authority().await;
    let client = client(&fake);
    fake.answer_request_id(Some("00000000-0000-4000-8000-000000000000"));
    let err = client.verify("张三", &id(ZHANG)).await.unwrap_err();
    assert!(
        matches!(&err, RealNameError::Rejected(m) if m.contains("another request")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_slow_authority_times_out_as_unavailable() {
    let fake = authority().await;
    let client = HttpRealNameProvider::new(fake.client_config(), Duration::from_secs(1)).unwrap();
    fake.delay_next(Duration::from_secs(3));
    let err = client.verify("张三", &id(ZHANG)).await.unwrap_err();
    assert!(matches!(err, RealNameError::Unavailable(_)), "{err:?}");
}

/// The fake enforces the interface's replay rules (so it would catch a client that broke them).
#[tokio::test]
async fn the_fake_refuses_replays_and_skewed_timestamps() {
    let fake = authority().await;
    let http = fingertip::tls::http_client(Duration::from_secs(5)).unwrap();
    let send = |timestamp: i64, nonce: &'static str| {
        let body = serde_json::json!({
            "request_id": uuid::Uuid::new_v4().to_string(),
            "name": "张三",
            "id_number": ZHANG,
            "timestamp": timestamp,
        })
        .to_string();
        let ts = timestamp.to_string();
        let signature = realname_http::sign(
            SECRET,
            &realname_http::string_to_sign("POST", PATH, &ts, nonce, body.as_bytes()),
        );
        http.post(&fake.url)
            .header("content-type", "application/json")
            .header("X-Fingertip-Key-Id", KEY_ID)
            .header("X-Fingertip-Timestamp", ts)
            .header("X-Fingertip-Nonce", nonce)
            .header("X-Fingertip-Signature", signature)
            .body(body)
            .send()
    };
    let now = fingertip::clock::system_time().timestamp();
    let first = send(now, "0123456789abcdef0123456789abcdef").await.unwrap();
    assert_eq!(first.status(), 200);
    let replay = send(now, "0123456789abcdef0123456789abcdef").await.unwrap();
    assert_eq!(replay.status(), 401);
    let skewed = send(now - 301, "fedcba9876543210fedcba9876543210")
        .await
        .unwrap();
    assert_eq!(skewed.status(), 401);
    assert_eq!(
        fake.refusals(),
        vec!["nonce_reused".to_owned(), "timestamp_skewed".to_owned()]
    );
}
