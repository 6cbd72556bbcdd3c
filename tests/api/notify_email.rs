//! Email to platform users: the owner's address proven with an emailed code
//! (`/api/v1/me/notification-preferences/email`), and notifications whose email carries the
//! decision PDF from the blob store — checked in the MIME message the fake SMTP server received.

use std::time::Duration;

use fingertip::blobs::{BlobStore, FileBlobStore};
use fingertip::notify::model::Channel;
use fingertip::notify::outbox::{
    Attachment, NewNotification, OutboxSettings, Recipient, enqueue_with_attachments,
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::fixtures::{
    ID_1, ID_2, app_mailing, code_in_outbox, fake_smtp, mail_to, register_citizen,
};
use crate::support::{TestApp, expect_problem, spawn_app_with};

const ADDRESS: &str = "zhangsan@example.cn";
const PATH: &str = "/api/v1/me/notification-preferences/email";

struct Owner {
    token: String,
    subject: String,
}

async fn owner(app: &TestApp, phone: &str, id_number: &str) -> Owner {
    let login = register_citizen(app, phone, "张三", id_number).await;
    Owner {
        token: login["access_token"].as_str().unwrap().to_owned(),
        subject: login["subject"].as_str().unwrap().to_owned(),
    }
}

fn request(app: &TestApp, who: &Owner, method: Method, path: &str) -> reqwest::RequestBuilder {
    app.with_token(method, path, &who.token)
}

async fn set_address(app: &TestApp, who: &Owner, address: &str) -> reqwest::Response {
    request(app, who, Method::PUT, PATH)
        .json(&json!({ "address": address }))
        .send()
        .await
        .unwrap()
}

async fn confirm(app: &TestApp, who: &Owner, code: &str) -> reqwest::Response {
    request(app, who, Method::POST, &format!("{PATH}/confirm"))
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap()
}

/// A six-digit code that is not `code`.
fn wrong(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

async fn verify(app: &TestApp, who: &Owner, address: &str) {
    assert_eq!(set_address(app, who, address).await.status(), 202);
    let code = code_in_outbox(app, address).await;
    assert_eq!(confirm(app, who, &code).await.status(), 200);
}

async fn field_problem(response: reqwest::Response, code: &str, field: &str) {
    let body = expect_problem(response, 422, code).await;
    assert_eq!(body["errors"][0]["field"], field, "{body}");
    assert_eq!(body["errors"][0]["code"], code, "{body}");
}

#[tokio::test]
async fn an_address_is_used_only_once_its_emailed_code_is_confirmed() {
    let fake = fake_smtp().await;
    let app = app_mailing(&fake, None).await;
    let zhang = owner(&app, "13900000001", ID_1).await;

    field_problem(
        set_address(&app, &zhang, "not-an-address").await,
        "invalid_email",
        "address",
    )
    .await;
    field_problem(
        confirm(&app, &zhang, "123456").await,
        "email_code_not_requested",
        "code",
    )
    .await;

    let response = set_address(&app, &zhang, &format!("  {ADDRESS} ")).await;
    assert_eq!(response.status(), 202);
    let pending: Value = response.json().await.unwrap();
    assert_eq!(pending["pending_address"], ADDRESS, "{pending}");
    assert_eq!(pending["pending_attempts_left"], 5, "{pending}");
    assert!(pending.get("address").is_none(), "{pending}");

    // The code arrives by email, in Chinese.
    let mail = &mail_to(&fake, ADDRESS, 1).await[0];
    assert_eq!(mail.subject.as_deref(), Some("【指尖办】邮箱验证码"));
    let code: String = mail
        .text
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a six-digit code in the text")
        .to_owned();
    assert_eq!(code, code_in_outbox(&app, ADDRESS).await);

    field_problem(
        confirm(&app, &zhang, "12345").await,
        "invalid_format",
        "code",
    )
    .await;
    field_problem(
        confirm(&app, &zhang, &wrong(&code)).await,
        "email_code_invalid",
        "code",
    )
    .await;
    let (_, prefs) = app_get(&app, &zhang, "/api/v1/me/notification-preferences").await;
    assert!(
        prefs.get("email_address").is_none(),
        "not yet verified: {prefs}"
    );

    let response = confirm(&app, &zhang, &code).await;
    assert_eq!(response.status(), 200);
    let verified: Value = response.json().await.unwrap();
    assert_eq!(verified["address"], ADDRESS, "{verified}");
    assert!(verified["verified_at"].is_string(), "{verified}");
    assert!(verified.get("pending_address").is_none(), "{verified}");
    let (_, prefs) = app_get(&app, &zhang, "/api/v1/me/notification-preferences").await;
    assert_eq!(prefs["email_address"], ADDRESS, "{prefs}");
    // A code is single use.
    field_problem(
        confirm(&app, &zhang, &code).await,
        "email_code_not_requested",
        "code",
    )
    .await;
    field_problem(
        set_address(&app, &zhang, ADDRESS).await,
        "email_already_verified",
        "address",
    )
    .await;

    // A new address being proven leaves the verified one in use.
    assert_eq!(
        set_address(&app, &zhang, "new@example.cn").await.status(),
        202
    );
    let (_, view) = app_get(&app, &zhang, PATH).await;
    assert_eq!(view["address"], ADDRESS, "{view}");
    assert_eq!(view["pending_address"], "new@example.cn", "{view}");

    // Removing it stops email altogether.
    let removed = request(&app, &zhang, Method::DELETE, PATH)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    let (_, view) = app_get(&app, &zhang, PATH).await;
    assert_eq!(view, json!({}));
    let audit: i64 = app
        .db()
        .await
        .query_one(
            "SELECT count(*) FROM audit_record WHERE aggregate_id = $1
               AND action IN ('notify.email_verified', 'notify.email_removed')",
            &[&zhang.subject],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audit, 2);
    app.stop().await;
}

async fn app_get(app: &TestApp, who: &Owner, path: &str) -> (u16, Value) {
    let response = request(app, who, Method::GET, path).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn wrong_codes_expiry_and_too_many_requests_need_a_new_code() {
    let app = spawn_app_with(|c| c.notify.dispatch = false).await;
    let zhang = owner(&app, "13900000002", ID_1).await;

    assert_eq!(set_address(&app, &zhang, ADDRESS).await.status(), 202);
    let code = code_in_outbox(&app, ADDRESS).await;
    for _ in 0..4 {
        field_problem(
            confirm(&app, &zhang, &wrong(&code)).await,
            "email_code_invalid",
            "code",
        )
        .await;
    }
    field_problem(
        confirm(&app, &zhang, &wrong(&code)).await,
        "email_code_attempts_exceeded",
        "code",
    )
    .await;
    // Even the right code is refused now.
    field_problem(
        confirm(&app, &zhang, &code).await,
        "email_code_attempts_exceeded",
        "code",
    )
    .await;

    // A new code works; the old one no longer does.
    assert_eq!(set_address(&app, &zhang, ADDRESS).await.status(), 202);
    let second = code_in_outbox(&app, ADDRESS).await;
    if second != code {
        field_problem(
            confirm(&app, &zhang, &code).await,
            "email_code_invalid",
            "code",
        )
        .await;
    }
    // Expired.
    app.db()
        .await
        .execute(
            "UPDATE owner_email_code SET expires_at = now() - interval '1 second'
              WHERE owner = $1 AND consumed_at IS NULL",
            &[&zhang.subject],
        )
        .await
        .unwrap();
    field_problem(
        confirm(&app, &zhang, &second).await,
        "email_code_expired",
        "code",
    )
    .await;

    // Five codes an hour: the sixth request waits.
    for _ in 0..3 {
        assert_eq!(set_address(&app, &zhang, ADDRESS).await.status(), 202);
    }
    let limited = set_address(&app, &zhang, ADDRESS).await;
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    expect_problem(limited, 429, "rate_limited").await;
    // The last code still works.
    let last = code_in_outbox(&app, ADDRESS).await;
    assert_eq!(confirm(&app, &zhang, &last).await.status(), 200);

    // Another account cannot use someone else's code or see their address.
    let li = owner(&app, "13900000003", ID_2).await;
    field_problem(
        confirm(&app, &li, &last).await,
        "email_code_not_requested",
        "code",
    )
    .await;
    let (_, view) = app_get(&app, &li, PATH).await;
    assert_eq!(view, json!({}));
    app.stop().await;
}

fn decision_pdf(len: usize) -> Vec<u8> {
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
        .iter()
        .copied()
        .chain((0..=255u8).cycle().take(len))
        .collect()
}

async fn decision_template(app: &TestApp) {
    let (status, body) = app
        .admin_json(
            Method::POST,
            "/api/v1/admin/notification-templates",
            &json!({"key": "case.decided", "content": {
                "push_title": "办件已办结",
                "push_body": "您申请的{item}已办结。",
                "email_subject": "【指尖办】{item}办理结果",
                "email_body": "张三您好：\n\n您申请的{item}已办结，决定书见附件，也可在此下载：{link}"
            }}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

fn decided(owner: &str, key: &str, must_reach: bool) -> NewNotification {
    NewNotification {
        template_key: "case.decided".to_owned(),
        variables: json!({"item": "食品经营许可", "link": "https://example.gov.cn/d/1"})
            .as_object()
            .unwrap()
            .clone(),
        recipient: Recipient::Owner {
            owner: owner.to_owned(),
            phone: None,
            email: None,
        },
        channels: vec![Channel::Email],
        must_reach,
        priority: 5,
        idempotency_key: key.to_owned(),
    }
}

async fn send(app: &TestApp, new: &NewNotification, files: &[Attachment]) -> uuid::Uuid {
    enqueue_with_attachments(&app.db().await, new, files, &OutboxSettings::default())
        .await
        .unwrap()
}

/// (status, last_error, history details) of a notification's only delivery, once final.
async fn final_delivery(app: &TestApp, id: uuid::Uuid) -> (String, Option<String>, Vec<String>) {
    let db = app.db().await;
    for _ in 0..200 {
        let row = db
            .query_opt(
                "SELECT d.status, d.last_error,
                        array(SELECT coalesce(e.detail, '') FROM notification_event e
                               WHERE e.delivery_id = d.id ORDER BY e.id)
                   FROM notification_delivery d WHERE d.notification_id = $1",
                &[&id],
            )
            .await
            .unwrap();
        if let Some(row) = row {
            let status: String = row.get(0);
            if status != "created" && status != "temporary_failure" {
                return (status, row.get(1), row.get(2));
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("delivery of {id} never finished");
}

async fn deliveries(app: &TestApp, id: uuid::Uuid) -> i64 {
    app.db()
        .await
        .query_one(
            "SELECT count(*) FROM notification_delivery WHERE notification_id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn the_decision_pdf_reaches_the_verified_address_as_an_attachment() {
    let fake = fake_smtp().await;
    let app = app_mailing(&fake, None).await;
    decision_template(&app).await;
    let zhang = owner(&app, "13900000004", ID_1).await;
    let li = owner(&app, "13900000005", ID_2).await;

    // No verified address: recorded for the inbox, no email, no error.
    let id = send(&app, &decided(&zhang.subject, "none", false), &[]).await;
    assert_eq!(deliveries(&app, id).await, 0);

    verify(&app, &zhang, ADDRESS).await;
    let pdf = decision_pdf(20_000);
    let store = FileBlobStore::new(app.config.data_dir.join("blobs"));
    let sha = store.put(&pdf).await.unwrap();
    let file = Attachment {
        filename: "准予行政许可决定书（食品经营许可）.pdf".to_owned(),
        content_type: "application/pdf".to_owned(),
        blob_sha256: sha.clone(),
    };
    let id = send(
        &app,
        &decided(&zhang.subject, "decided", true),
        std::slice::from_ref(&file),
    )
    .await;
    let (status, error, _) = final_delivery(&app, id).await;
    assert_eq!((status.as_str(), error), ("sent", None));

    let mails = mail_to(&fake, ADDRESS, 2).await;
    let mail = mails
        .iter()
        .find(|m| m.subject.as_deref() == Some("【指尖办】食品经营许可办理结果"))
        .expect("the decision email");
    assert_eq!(mail.root.content_type, "multipart/mixed");
    assert!(
        mail.text.contains("https://example.gov.cn/d/1"),
        "{}",
        mail.text
    );
    assert_eq!(mail.attachments.len(), 1);
    let part = &mail.attachments[0];
    assert_eq!(part.content_type, "application/pdf");
    assert_eq!(part.file_name(), Some(file.filename.as_str()));
    assert_eq!(
        part.header("content-transfer-encoding")
            .map(str::to_ascii_lowercase),
        Some("base64".to_owned())
    );
    assert_eq!(part.body, pdf, "the base64-decoded part is the blob");

    // The email switch is respected for ordinary notices, not for must-reach ones.
    let put = request(
        &app,
        &zhang,
        Method::PUT,
        "/api/v1/me/notification-preferences",
    )
    .json(&json!({"email": false}))
    .send()
    .await
    .unwrap();
    assert_eq!(put.status(), 200);
    let ordinary = send(&app, &decided(&zhang.subject, "ordinary", false), &[]).await;
    assert_eq!(deliveries(&app, ordinary).await, 0);
    let essential = send(&app, &decided(&zhang.subject, "essential", true), &[]).await;
    assert_eq!(deliveries(&app, essential).await, 1);

    // A blob that is not in the store fails that email for good, nothing else.
    verify(&app, &li, "lisi@example.cn").await;
    let missing = Attachment {
        blob_sha256: "0".repeat(64),
        ..file
    };
    let id = send(&app, &decided(&li.subject, "missing", false), &[missing]).await;
    let (status, error, _) = final_delivery(&app, id).await;
    assert_eq!(status, "permanent_failure");
    assert!(
        error
            .as_deref()
            .unwrap_or_default()
            .contains("not in the blob store"),
        "{error:?}"
    );
    assert_eq!(
        mail_to(&fake, "lisi@example.cn", 1).await.len(),
        1,
        "only the code"
    );
    app.stop().await;
}

#[tokio::test]
async fn files_over_the_cap_are_left_out_and_the_text_says_so() {
    let fake = fake_smtp().await;
    let app = app_mailing(&fake, Some(4096)).await;
    decision_template(&app).await;
    let zhang = owner(&app, "13900000006", ID_1).await;
    verify(&app, &zhang, ADDRESS).await;
    let store = FileBlobStore::new(app.config.data_dir.join("blobs"));
    let sha = store.put(&decision_pdf(5000)).await.unwrap();
    let file = Attachment {
        filename: "决定书.pdf".to_owned(),
        content_type: "application/pdf".to_owned(),
        blob_sha256: sha,
    };

    let id = send(&app, &decided(&zhang.subject, "big", true), &[file]).await;
    let (status, _, history) = final_delivery(&app, id).await;
    assert_eq!(status, "sent");
    assert!(
        history.iter().any(|d| d.contains("attachments left out")),
        "{history:?}"
    );
    let mails = mail_to(&fake, ADDRESS, 2).await;
    let mail = mails
        .iter()
        .find(|m| m.subject.as_deref() == Some("【指尖办】食品经营许可办理结果"))
        .expect("the decision email");
    assert!(mail.attachments.is_empty());
    assert!(mail.text.contains("超过邮件大小上限"), "{}", mail.text);
    assert!(
        mail.text.contains("https://example.gov.cn/d/1"),
        "{}",
        mail.text
    );

    // Bad attachment references are refused at enqueue time.
    let bad = Attachment {
        filename: String::new(),
        content_type: "application/pdf".to_owned(),
        blob_sha256: "0".repeat(64),
    };
    let refused = enqueue_with_attachments(
        &app.db().await,
        &decided(&zhang.subject, "bad", true),
        &[bad],
        &OutboxSettings::default(),
    )
    .await;
    assert!(refused.is_err());
    app.stop().await;
}
