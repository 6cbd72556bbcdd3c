//! The SMTP email provider against a fake SMTP server speaking the real protocol.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/fakes/smtp.rs"]
mod smtp;

use fingertip::mode::Mode;
use fingertip::notify::provider::{Address, FileAttachment, OutgoingMessage, Provider, SendError};
use fingertip::notify::providers::email::{Email, EmailConfig, EmailTls};
use fingertip::secret::Secret;
use serde_json::Map;
use smtp::{FakeSmtp, FakeTls, SmtpOptions, Stage};
use uuid::Uuid;

const FROM: &str = "指尖办 <noreply@example.gov.cn>";
const SUBJECT: &str = "【指尖办】您的营业执照申请已受理（受理编号 2024-000123）";
const BODY: &str = "张三您好：\n\n您于 2024年5月1日 提交的《个体工商户设立登记》申请已受理，\
                    承诺办结时限为 5 个工作日。请勿回复本邮件。\n\n——指尖办政务服务平台";

fn config(fake: &FakeSmtp, tls: EmailTls) -> EmailConfig {
    EmailConfig {
        host: fake.host.clone(),
        port: fake.port,
        username: smtp::USERNAME.to_owned(),
        password: Secret::new(smtp::PASSWORD),
        from: FROM.to_owned(),
        tls,
        timeout_seconds: 5,
        ca_file: None,
    }
}

fn message(to: &str) -> OutgoingMessage {
    OutgoingMessage {
        message_id: Uuid::new_v4(),
        address: Address::Email(to.to_owned()),
        title: Some(SUBJECT.to_owned()),
        body: BODY.to_owned(),
        provider_template: None,
        variables: Map::new(),
        priority: 5,
        attachments: Vec::new(),
    }
}

fn plain_email(fake: &FakeSmtp) -> Email {
    Email::new(config(fake, EmailTls::None), Mode::Development).expect("email provider")
}

#[tokio::test]
async fn chinese_subject_and_body_arrive_intact() {
    let fake = FakeSmtp::start().await;
    let email = plain_email(&fake);
    assert_eq!(email.name(), "email");
    let msg = message("zhangsan@example.com");

    let outcome = email.send(&msg).await.expect("sent");

    let expected_id = format!("<{}@example.gov.cn>", msg.message_id);
    assert_eq!(
        outcome.provider_message_id.as_deref(),
        Some(expected_id.as_str())
    );
    let received = fake.received();
    assert_eq!(received.len(), 1);
    let mail = &received[0];
    assert_eq!(mail.from, "noreply@example.gov.cn");
    assert_eq!(mail.to, vec!["zhangsan@example.com".to_owned()]);
    assert_eq!(mail.auth_user.as_deref(), Some(smtp::USERNAME));
    assert!(
        mail.data.is_ascii(),
        "headers and body are transfer-encoded"
    );
    let parsed = mail.parse();
    assert_eq!(parsed.subject.as_deref(), Some(SUBJECT));
    assert_eq!(parsed.text, BODY);
    assert_eq!(parsed.root.header("message-id"), Some(expected_id.as_str()));
    assert_eq!(parsed.root.header("from"), Some(FROM));
    assert!(parsed.root.header("date").is_some());
    assert_eq!(parsed.root.content_type, "text/plain");
    assert_eq!(
        parsed
            .root
            .params
            .get("charset")
            .map(|c| c.to_ascii_lowercase()),
        Some("utf-8".to_owned())
    );
    assert!(parsed.attachments.is_empty());
}

#[tokio::test]
async fn leading_dots_survive_dot_stuffing() {
    let fake = FakeSmtp::start().await;
    let email = plain_email(&fake);
    let mut msg = message("lisi@example.com");
    msg.title = Some("dots".to_owned());
    msg.body = "first line\n.\n..two dots\n.hidden line\nlast".to_owned();

    email.send(&msg).await.expect("sent");

    let received = fake.received();
    assert_eq!(received[0].text(), msg.body);
}

#[tokio::test]
async fn attachment_is_a_mime_part_with_type_and_name() {
    let fake = FakeSmtp::start().await;
    let email = plain_email(&fake);
    let mut msg = message("zhangsan@example.com");
    let pdf: Vec<u8> = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
        .iter()
        .copied()
        .chain((0..=255u8).cycle().take(5000))
        .collect();
    msg.attachments = vec![FileAttachment {
        file_name: "营业执照-准予设立登记通知书.pdf".to_owned(),
        content_type: "application/pdf".to_owned(),
        bytes: pdf.clone(),
    }];

    email.send(&msg).await.expect("sent");

    let parsed = fake.received()[0].parse();
    assert_eq!(parsed.root.content_type, "multipart/mixed");
    assert_eq!(parsed.subject.as_deref(), Some(SUBJECT));
    assert_eq!(parsed.text, BODY);
    assert_eq!(parsed.attachments.len(), 1);
    let file = &parsed.attachments[0];
    assert_eq!(file.content_type, "application/pdf");
    assert_eq!(file.file_name(), Some("营业执照-准予设立登记通知书.pdf"));
    assert_eq!(file.body, pdf);
    assert_eq!(
        file.header("content-transfer-encoding")
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("base64")
    );
    // The text comes first, then the file.
    assert_eq!(parsed.root.parts.len(), 2);
    assert_eq!(parsed.root.parts[0].content_type, "text/plain");
}

#[tokio::test]
async fn several_attachments_follow_the_text_in_order() {
    let fake = FakeSmtp::start().await;
    let email = plain_email(&fake);
    let mut msg = message("zhangsan@example.com");
    let decision: Vec<u8> = b"%PDF-1.7\n\x00\xff decision".to_vec();
    let licence: Vec<u8> = b"%PDF-1.7\n\x01\xfe licence".to_vec();
    msg.attachments = vec![
        FileAttachment {
            file_name: "准予行政许可决定书.pdf".to_owned(),
            content_type: "application/pdf".to_owned(),
            bytes: decision.clone(),
        },
        FileAttachment {
            file_name: "licence.pdf".to_owned(),
            content_type: "application/pdf".to_owned(),
            bytes: licence.clone(),
        },
    ];

    email.send(&msg).await.expect("sent");

    let parsed = fake.received()[0].parse();
    assert_eq!(parsed.text, BODY);
    let files: Vec<(Option<&str>, &[u8])> = parsed
        .attachments
        .iter()
        .map(|p| (p.file_name(), p.body.as_slice()))
        .collect();
    assert_eq!(
        files,
        vec![
            (Some("准予行政许可决定书.pdf"), decision.as_slice()),
            (Some("licence.pdf"), licence.as_slice()),
        ]
    );
    assert_eq!(parsed.root.parts.len(), 3);
}

#[tokio::test]
async fn attachment_path_is_stripped_and_bad_content_type_is_permanent() {
    let fake = FakeSmtp::start().await;
    let email = plain_email(&fake);
    let mut msg = message("zhangsan@example.com");
    msg.attachments = vec![FileAttachment {
        file_name: "../../etc/决定书.pdf".to_owned(),
        content_type: "application/pdf".to_owned(),
        bytes: b"%PDF".to_vec(),
    }];
    email.send(&msg).await.expect("sent");
    let parsed = fake.received()[0].parse();
    assert_eq!(parsed.attachments[0].file_name(), Some("决定书.pdf"));

    msg.attachments = vec![FileAttachment {
        file_name: "a.pdf".to_owned(),
        content_type: "not a type".to_owned(),
        bytes: Vec::new(),
    }];
    let error = email.send(&msg).await.expect_err("refused");
    assert!(matches!(error, SendError::Permanent(_)), "{error:?}");
    assert_eq!(fake.received().len(), 1);
}

#[tokio::test]
async fn wrong_password_is_permanent() {
    let fake = FakeSmtp::start().await;
    let mut cfg = config(&fake, EmailTls::None);
    cfg.password = Secret::new("wrong password");
    let email = Email::new(cfg, Mode::Development).expect("email provider");

    let error = email
        .send(&message("zhangsan@example.com"))
        .await
        .expect_err("refused");

    match &error {
        SendError::Permanent(text) => assert!(text.contains("535"), "{text}"),
        other => panic!("expected Permanent, got {other:?}"),
    }
    assert!(!error.to_string().contains("wrong password"));
    assert!(fake.received().is_empty());
    assert!(!fake.commands().iter().any(|c| c.starts_with("MAIL")));
}

#[tokio::test]
async fn auth_plain_is_preferred_and_login_works() {
    let fake = FakeSmtp::start().await;
    plain_email(&fake)
        .send(&message("a@example.com"))
        .await
        .expect("sent");
    assert!(fake.commands().contains(&"AUTH PLAIN".to_owned()));
    assert_eq!(
        fake.received()[0].auth_user.as_deref(),
        Some(smtp::USERNAME)
    );

    let fake = FakeSmtp::start_with(SmtpOptions {
        auth_mechanisms: vec!["LOGIN"],
        ..SmtpOptions::default()
    })
    .await;
    plain_email(&fake)
        .send(&message("a@example.com"))
        .await
        .expect("sent");
    assert!(fake.commands().contains(&"AUTH LOGIN".to_owned()));
    assert_eq!(
        fake.received()[0].auth_user.as_deref(),
        Some(smtp::USERNAME)
    );

    let mut cfg = config(&fake, EmailTls::None);
    cfg.password = Secret::new("nope");
    let error = Email::new(cfg, Mode::Development)
        .unwrap()
        .send(&message("a@example.com"))
        .await
        .expect_err("refused");
    assert!(matches!(error, SendError::Permanent(_)), "{error:?}");
}

#[tokio::test]
async fn temporary_failure_then_success() {
    let fake = FakeSmtp::start().await;
    let email = plain_email(&fake);
    let msg = message("zhangsan@example.com");
    fake.fail_next(1, 451);

    let error = email.send(&msg).await.expect_err("deferred");
    match &error {
        SendError::Temporary(text) => assert!(text.contains("451"), "{text}"),
        other => panic!("expected Temporary, got {other:?}"),
    }
    assert!(fake.received().is_empty());

    let outcome = email.send(&msg).await.expect("sent on retry");
    assert!(outcome.provider_message_id.is_some());
    let received = fake.received();
    assert_eq!(received.len(), 1);
    // The retry carries the same Message-ID.
    assert_eq!(
        received[0].parse().root.header("message-id"),
        Some(format!("<{}@example.gov.cn>", msg.message_id).as_str())
    );
}

#[tokio::test]
async fn rejected_recipient_is_invalid_address() {
    let fake = FakeSmtp::start().await;
    let email = plain_email(&fake);
    fake.reject_recipient("nobody@example.com", 550);
    fake.reject_recipient("bad@example.com", 553);

    let error = email
        .send(&message("nobody@example.com"))
        .await
        .expect_err("rejected");
    assert!(matches!(error, SendError::InvalidAddress(_)), "{error:?}");
    let error = email
        .send(&message("bad@example.com"))
        .await
        .expect_err("rejected");
    assert!(matches!(error, SendError::InvalidAddress(_)), "{error:?}");

    // The provider stays usable for good addresses.
    email
        .send(&message("zhangsan@example.com"))
        .await
        .expect("sent");
    assert_eq!(fake.received().len(), 1);
}

#[tokio::test]
async fn policy_rejections_and_other_5xx_are_permanent_not_invalid_address() {
    let fake = FakeSmtp::start().await;
    let email = plain_email(&fake);
    fake.fail_next_at(Stage::Data, 1, 550, "5.7.1 Message rejected as spam");
    let error = email
        .send(&message("zhangsan@example.com"))
        .await
        .expect_err("rejected");
    assert!(matches!(error, SendError::Permanent(_)), "{error:?}");

    fake.fail_next_at(Stage::Data, 1, 554, "Transaction failed");
    let error = email
        .send(&message("zhangsan@example.com"))
        .await
        .expect_err("rejected");
    assert!(matches!(error, SendError::Permanent(_)), "{error:?}");

    fake.fail_next_at(Stage::Rcpt, 1, 452, "4.5.3 Too many recipients");
    let error = email
        .send(&message("zhangsan@example.com"))
        .await
        .expect_err("deferred");
    assert!(matches!(error, SendError::Temporary(_)), "{error:?}");
    assert!(fake.received().is_empty());
}

#[tokio::test]
async fn malformed_or_non_email_addresses_are_refused_without_connecting() {
    let fake = FakeSmtp::start().await;
    let email = plain_email(&fake);

    let error = email
        .send(&message("not an address"))
        .await
        .expect_err("invalid");
    assert!(matches!(error, SendError::InvalidAddress(_)), "{error:?}");

    let mut msg = message("x@example.com");
    msg.address = Address::Phone("13800138000".to_owned());
    let error = email.send(&msg).await.expect_err("not email");
    assert!(matches!(error, SendError::Permanent(_)), "{error:?}");
    assert_eq!(fake.connections(), 0);
}

#[tokio::test]
async fn connections_are_pooled() {
    let fake = FakeSmtp::start().await;
    let email = plain_email(&fake);
    for _ in 0..3 {
        email
            .send(&message("zhangsan@example.com"))
            .await
            .expect("sent");
    }
    assert_eq!(fake.received().len(), 3);
    assert_eq!(fake.connections(), 1);
}

#[tokio::test]
async fn starttls_is_used_and_auth_happens_only_inside_tls() {
    let fake = FakeSmtp::start_with(SmtpOptions {
        tls: FakeTls::StartTls,
        ..SmtpOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&fake, EmailTls::Starttls);
    cfg.ca_file = Some(FakeSmtp::write_ca_file(dir.path()));
    let email = Email::new(cfg, Mode::Production).expect("email provider");

    email
        .send(&message("zhangsan@example.com"))
        .await
        .expect("sent");

    let received = fake.received();
    assert_eq!(received.len(), 1);
    assert!(received[0].tls);
    assert_eq!(received[0].parse().subject.as_deref(), Some(SUBJECT));
    let commands = fake.commands();
    let starttls = commands
        .iter()
        .position(|c| c == "STARTTLS")
        .expect("STARTTLS sent");
    let auth = commands
        .iter()
        .position(|c| c.starts_with("AUTH"))
        .expect("AUTH sent");
    assert!(starttls < auth, "{commands:?}");
}

#[tokio::test]
async fn starttls_mode_never_falls_back_to_plain_text() {
    // The server (or someone in the middle) does not offer STARTTLS.
    let fake = FakeSmtp::start_with(SmtpOptions {
        tls: FakeTls::None,
        ..SmtpOptions::default()
    })
    .await;
    let email = Email::new(config(&fake, EmailTls::Starttls), Mode::Production).expect("provider");

    let error = email
        .send(&message("zhangsan@example.com"))
        .await
        .expect_err("refused");

    assert!(matches!(error, SendError::Temporary(_)), "{error:?}");
    assert!(error.to_string().contains("STARTTLS"), "{error}");
    assert!(fake.received().is_empty());
    let commands = fake.commands();
    assert!(
        commands
            .iter()
            .all(|c| !c.starts_with("AUTH") && !c.starts_with("MAIL")),
        "nothing sensitive in plain text: {commands:?}"
    );
}

#[tokio::test]
async fn untrusted_certificate_is_refused() {
    let fake = FakeSmtp::start_with(SmtpOptions {
        tls: FakeTls::StartTls,
        ..SmtpOptions::default()
    })
    .await;
    // No ca_file: the test CA is not among the system's roots.
    let email = Email::new(config(&fake, EmailTls::Starttls), Mode::Production).expect("provider");

    let error = email
        .send(&message("zhangsan@example.com"))
        .await
        .expect_err("refused");

    assert!(matches!(error, SendError::Temporary(_)), "{error:?}");
    assert!(fake.received().is_empty());
    assert!(!fake.commands().iter().any(|c| c.starts_with("AUTH")));
}

#[tokio::test]
async fn implicit_tls() {
    let fake = FakeSmtp::start_with(SmtpOptions {
        tls: FakeTls::Implicit,
        ..SmtpOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(&fake, EmailTls::Tls);
    cfg.ca_file = Some(FakeSmtp::write_ca_file(dir.path()));
    let email = Email::new(cfg, Mode::Production).expect("email provider");

    email
        .send(&message("zhangsan@example.com"))
        .await
        .expect("sent");

    let received = fake.received();
    assert!(received[0].tls);
    assert_eq!(received[0].text(), BODY);
}

#[tokio::test]
async fn a_silent_server_times_out_as_temporary() {
    // Accepts the connection, never greets.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let _held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            sockets.push(socket);
        }
    });
    let cfg = EmailConfig {
        host: "127.0.0.1".to_owned(),
        port,
        username: String::new(),
        password: Secret::new(""),
        from: FROM.to_owned(),
        tls: EmailTls::None,
        timeout_seconds: 1,
        ca_file: None,
    };
    let email = Email::new(cfg, Mode::Development).expect("email provider");
    let started = std::time::Instant::now();
    let error = email
        .send(&message("zhangsan@example.com"))
        .await
        .expect_err("timed out");
    assert!(matches!(error, SendError::Temporary(_)), "{error:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[tokio::test]
async fn a_cancelled_send_never_leaves_its_connection_in_the_pool() {
    let fake = FakeSmtp::start().await;
    let email = plain_email(&fake);
    email
        .send(&message("zhangsan@example.com"))
        .await
        .expect("sent");
    // Cancel the next send half-way (after a few polls).
    let cancelled = tokio::time::timeout(
        std::time::Duration::from_micros(1),
        email.send(&message("lisi@example.com")),
    )
    .await;
    if cancelled.is_ok() {
        return; // finished too fast to be cancelled: nothing to check
    }
    email
        .send(&message("wangwu@example.com"))
        .await
        .expect("sent");
    let received = fake.received();
    assert_eq!(
        received.last().unwrap().to,
        vec!["wangwu@example.com".to_owned()]
    );
    assert!(received.iter().all(|m| m.parse().text == BODY));
}

#[tokio::test]
async fn connection_refused_is_temporary() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let cfg = EmailConfig {
        host: "127.0.0.1".to_owned(),
        port,
        username: String::new(),
        password: Secret::new(""),
        from: FROM.to_owned(),
        tls: EmailTls::None,
        timeout_seconds: 2,
        ca_file: None,
    };
    let email = Email::new(cfg, Mode::Development).expect("email provider");
    let error = email
        .send(&message("zhangsan@example.com"))
        .await
        .expect_err("refused");
    assert!(matches!(error, SendError::Temporary(_)), "{error:?}");
}

#[test]
fn configuration_defaults_and_production_rules() {
    let cfg: EmailConfig = toml::from_str(
        r#"
        host = "smtp.example.gov.cn"
        port = 587
        username = "notify"
        password = "s3cret"
        from = "指尖办 <noreply@example.gov.cn>"
        "#,
    )
    .unwrap();
    assert_eq!(cfg.tls, EmailTls::Starttls);
    assert_eq!(cfg.timeout_seconds, 30);
    assert!(!format!("{cfg:?}").contains("s3cret"));

    let cfg: EmailConfig = toml::from_str(
        r#"
        host = "127.0.0.1"
        port = 2525
        from = "noreply@example.gov.cn"
        tls = "none"
        "#,
    )
    .unwrap();
    assert!(Email::new(cfg.clone(), Mode::Production).is_err());
    assert!(Email::new(cfg.clone(), Mode::Development).is_ok());

    let mut bad = cfg.clone();
    bad.from = "not a mailbox".to_owned();
    assert!(Email::new(bad, Mode::Development).is_err());

    assert!(
        toml::from_str::<EmailConfig>(
            r#"host = "h"
port = 1
from = "a@b.c"
tls = "ssl""#
        )
        .is_err()
    );
}
