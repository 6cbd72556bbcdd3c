//! The SMPP provider against a fake SMSC over real TCP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/fakes/smpp.rs"]
mod smpp_fake;

use std::time::Duration;

use fingertip::notify::provider::{Address, OutgoingMessage, Provider, SendError};
use fingertip::notify::providers::smpp::{Smpp, SmppConfig, SmppReceipt};
use fingertip::secret::Secret;
use serde_json::Map;
use smpp_fake::FakeSmsc;
use tokio::sync::broadcast;
use uuid::Uuid;

const SYSTEM_ID: &str = "fingertip";
const PASSWORD: &str = "s3cret";
const PHONE: &str = "13800138000";
const WAIT: Duration = Duration::from_secs(5);

fn config(address: String, password: &str) -> SmppConfig {
    SmppConfig {
        address,
        system_id: SYSTEM_ID.into(),
        password: Secret::new(password),
        system_type: String::new(),
        source_addr: "10690001".into(),
        enquire_link_seconds: 30,
        response_timeout_ms: 2000,
    }
}

fn sms(phone: &str, body: &str) -> OutgoingMessage {
    OutgoingMessage {
        message_id: Uuid::new_v4(),
        address: Address::Phone(phone.into()),
        title: None,
        body: body.into(),
        provider_template: None,
        variables: Map::new(),
        priority: 5,
        attachments: Vec::new(),
    }
}

async fn next_receipt(receipts: &mut broadcast::Receiver<SmppReceipt>) -> SmppReceipt {
    tokio::time::timeout(WAIT, receipts.recv())
        .await
        .expect("no delivery receipt in time")
        .expect("receipt channel closed")
}

async fn started() -> (FakeSmsc, Smpp) {
    let fake = FakeSmsc::start(SYSTEM_ID, PASSWORD).await;
    let smpp = Smpp::new(config(fake.address(), PASSWORD)).unwrap();
    (fake, smpp)
}

#[tokio::test]
async fn bind_submit_and_delivered_receipt() {
    let (fake, smpp) = started().await;
    assert_eq!(smpp.name(), "smpp");
    let mut receipts = smpp.receipts();

    let text = "您的办件（编号2024-0001）已受理，请留意短信通知。";
    let outcome = smpp.send(&sms(PHONE, text)).await.unwrap();
    let id = outcome.provider_message_id.expect("message id");

    let received = fake.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].destination, PHONE);
    assert_eq!(received[0].source, "10690001");
    assert_eq!(received[0].text, text);
    assert_eq!(received[0].parts, 1);
    assert_eq!(received[0].message_id, id);

    let submit = &fake.submits()[0];
    assert_eq!((submit.dest_ton, submit.dest_npi), (2, 1));
    assert_eq!(submit.data_coding, 0x08);
    assert_eq!(submit.registered_delivery, 1);
    assert_eq!(submit.esm_class, 0);

    let receipt = next_receipt(&mut receipts).await;
    assert_eq!(
        receipt,
        SmppReceipt {
            message_id: id,
            delivered: true,
            state: 2
        }
    );
    assert!(fake.wait_until(WAIT, |f| f.receipts_acked() == 1).await);
    assert_eq!(fake.binds(), 1);
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

#[tokio::test]
async fn long_chinese_message_arrives_whole_in_two_parts() {
    let (fake, smpp) = started().await;
    let mut receipts = smpp.receipts();
    // 100 characters, one outside the BMP near the part boundary.
    let text = format!(
        "{}😀{}",
        "您申请的营业执照变更登记已审核通过"
            .repeat(4)
            .chars()
            .take(66)
            .collect::<String>(),
        "请携带身份证原件到政务服务中心三号窗口领取证照。".repeat(2)
    );
    assert!(text.encode_utf16().count() > 70);

    let outcome = smpp.send(&sms(PHONE, &text)).await.unwrap();
    let id = outcome.provider_message_id.unwrap();

    let received = fake.received();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].text, text);
    assert_eq!(received[0].parts, 2);
    assert_eq!(received[0].destination, PHONE);

    let submits = fake.submits();
    assert_eq!(submits.len(), 2);
    for (i, s) in submits.iter().enumerate() {
        assert_eq!(s.esm_class & 0x40, 0x40);
        let (_, total, seq) = s.concat.unwrap();
        assert_eq!((total, seq), (2, i as u8 + 1));
        assert!(s.sm_length <= 140);
    }
    assert_eq!(submits[0].concat.unwrap().0, submits[1].concat.unwrap().0);
    // Only the last part asks for a receipt, and its id is the one returned.
    assert_eq!(submits[0].registered_delivery, 0);
    assert_eq!(submits[1].registered_delivery, 1);
    assert_eq!(submits[1].message_id, id);
    assert_eq!(received[0].message_id, id);

    let receipt = next_receipt(&mut receipts).await;
    assert_eq!(receipt.message_id, id);
    assert!(receipt.delivered);
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

#[tokio::test]
async fn wrong_password_is_a_permanent_error() {
    let fake = FakeSmsc::start(SYSTEM_ID, PASSWORD).await;
    let smpp = Smpp::new(config(fake.address(), "wrong")).unwrap();
    let started = std::time::Instant::now();
    let err = smpp.send(&sms(PHONE, "测试")).await.unwrap_err();
    assert!(matches!(err, SendError::Permanent(_)), "{err:?}");
    assert!(err.to_string().contains("ESME_RBINDFAIL"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "should not wait for the timeout"
    );
    assert!(fake.failed_binds() >= 1);
    assert_eq!(fake.binds(), 0);
    assert!(fake.received().is_empty());
}

#[tokio::test]
async fn throttled_then_ok() {
    let (fake, smpp) = started().await;
    fake.throttle_next(1);
    let err = smpp.send(&sms(PHONE, "第一次")).await.unwrap_err();
    assert!(matches!(err, SendError::Temporary(_)), "{err:?}");
    assert!(err.to_string().contains("ESME_RTHROTTLED"), "{err}");

    let outcome = smpp.send(&sms(PHONE, "第二次")).await.unwrap();
    assert!(outcome.provider_message_id.is_some());
    assert_eq!(fake.throttled(), 1);
    let received = fake.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].text, "第二次");
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

#[tokio::test]
async fn reconnects_after_the_smsc_drops_the_connection() {
    let (fake, smpp) = started().await;
    smpp.send(&sms(PHONE, "连接前")).await.unwrap();

    fake.drop_connection();
    assert!(fake.wait_until(WAIT, |f| f.binds() == 2).await, "no rebind");
    smpp.send(&sms(PHONE, "重连后")).await.unwrap();

    // Dropped while a submit is in flight: that send fails Temporary, the next one waits for
    // the reconnection and succeeds.
    fake.drop_on_next_submit();
    let err = smpp.send(&sms(PHONE, "丢失")).await.unwrap_err();
    assert!(matches!(err, SendError::Temporary(_)), "{err:?}");
    smpp.send(&sms(PHONE, "再次重连后")).await.unwrap();

    assert_eq!(fake.binds(), 3);
    let texts: Vec<String> = fake.received().into_iter().map(|r| r.text).collect();
    assert_eq!(texts, ["连接前", "重连后", "再次重连后"]);
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

#[tokio::test]
async fn enquire_link_keep_alive_every_second() {
    let fake = FakeSmsc::start(SYSTEM_ID, PASSWORD).await;
    let mut cfg = config(fake.address(), PASSWORD);
    cfg.enquire_link_seconds = 1;
    let smpp = Smpp::new(cfg).unwrap();
    assert!(fake.wait_until(WAIT, |f| f.binds() == 1).await);

    let started = std::time::Instant::now();
    assert!(
        fake.wait_until(WAIT, |f| f.enquire_links() >= 2).await,
        "saw {} enquire_link",
        fake.enquire_links()
    );
    assert!(started.elapsed() >= Duration::from_millis(900));

    // The client answers the SMSC's own enquire_link too.
    fake.enquire_client();
    assert!(
        fake.wait_until(WAIT, |f| f.client_enquire_link_resps() == 1)
            .await
    );
    assert_eq!(fake.binds(), 1, "keep-alive must not reconnect");
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
    drop(smpp);
}

#[tokio::test]
async fn receipt_text_without_tlvs_reports_failure() {
    let (fake, smpp) = started().await;
    let mut receipts = smpp.receipts();
    fake.set_receipts(5, false);
    let id = smpp
        .send(&sms(PHONE, "无法送达"))
        .await
        .unwrap()
        .provider_message_id
        .unwrap();
    let receipt = next_receipt(&mut receipts).await;
    assert_eq!(receipt.message_id, id);
    assert_eq!(receipt.state, 5);
    assert!(!receipt.delivered);
    assert!(receipt.failed());
}

#[tokio::test]
async fn bad_addresses_are_rejected_before_sending() {
    let (fake, smpp) = started().await;
    let mut email = sms(PHONE, "x");
    email.address = Address::Email("a@example.com".into());
    assert!(matches!(
        smpp.send(&email).await,
        Err(SendError::Permanent(_))
    ));
    assert!(matches!(
        smpp.send(&sms("138-0013", "x")).await,
        Err(SendError::InvalidAddress(_))
    ));
    assert!(fake.submits().is_empty());
}

#[tokio::test]
async fn unreachable_smsc_is_temporary_after_the_timeout() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cfg = config(format!("127.0.0.1:{port}"), PASSWORD);
    cfg.response_timeout_ms = 300;
    let smpp = Smpp::new(cfg).unwrap();
    let err = smpp.send(&sms(PHONE, "x")).await.unwrap_err();
    assert!(matches!(err, SendError::Temporary(_)), "{err:?}");
}

#[tokio::test]
async fn close_unbinds() {
    let (fake, smpp) = started().await;
    smpp.send(&sms(PHONE, "再见")).await.unwrap();
    smpp.close().await;
    assert_eq!(fake.unbinds(), 1);
    assert!(matches!(
        smpp.send(&sms(PHONE, "x")).await,
        Err(SendError::Temporary(_))
    ));
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}
