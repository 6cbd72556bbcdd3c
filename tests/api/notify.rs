//! The notification hub: templates, the transactional outbox, dispatch (exactly one send per
//! delivery across several dispatchers), retries, fallback, rate limits, bad input.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fingertip::notify::dispatcher::{DispatchSettings, Dispatcher, Providers};
use fingertip::notify::model::Channel;
use fingertip::notify::outbox::{self, NewNotification, OutboxSettings, Recipient};
use fingertip::notify::provider::{
    Address, OutgoingMessage, Provider, SendError, SendFuture, SendOutcome,
};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{TestApp, expect_problem, spawn_app, spawn_app_with};

/// A provider double for dispatcher-logic tests: records every send, answers from a script.
#[derive(Default)]
struct ScriptedProvider {
    name: &'static str,
    sent: Mutex<Vec<(Uuid, Address, String)>>,
    script: Mutex<Vec<SendError>>,
    delay: Duration,
}

impl Provider for ScriptedProvider {
    fn name(&self) -> &'static str {
        self.name
    }

    fn send<'a>(&'a self, message: &'a OutgoingMessage) -> SendFuture<'a> {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            if let Some(err) = self.script.lock().unwrap().pop() {
                return Err(err);
            }
            self.sent.lock().unwrap().push((
                message.message_id,
                message.address.clone(),
                message.body.clone(),
            ));
            Ok(SendOutcome {
                provider_message_id: Some(format!("m-{}", message.message_id.simple())),
            })
        })
    }
}

async fn create_template(app: &TestApp, key: &str) {
    let (status, body) = app
        .admin_json(
            Method::POST,
            "/api/v1/admin/notification-templates",
            &json!({"key": key, "content": {
                "sms_body": "【指尖办】{name}您好，您申请的{item}已受理，受理编号{no}。",
                "push_title": "申请已受理",
                "push_body": "您申请的{item}已受理，受理编号{no}。",
                "provider_templates": {"aliyun": "SMS_000001"}
            }}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

fn notification(key: &str, phone: &str, idem: &str) -> NewNotification {
    NewNotification {
        template_key: key.to_owned(),
        variables: json!({"name": "张三", "item": "食品经营许可", "no": "220882-20260301-0001"})
            .as_object()
            .unwrap()
            .clone(),
        recipient: Recipient::Phone(phone.to_owned()),
        channels: vec![Channel::Sms],
        must_reach: false,
        priority: 5,
        idempotency_key: idem.to_owned(),
    }
}

fn dispatcher(
    app: &TestApp,
    sms: Arc<ScriptedProvider>,
    push: Option<Arc<ScriptedProvider>>,
) -> Dispatcher {
    let pool = fingertip::db::pool_for(app.database.connection_string.parse().unwrap(), 8).unwrap();
    let mut providers = Providers {
        sms: Some(sms),
        email: None,
        push: HashMap::new(),
        smpp: None,
    };
    if let Some(push) = push {
        providers.push.insert("apns", push);
    }
    Dispatcher {
        pool,
        metrics: None,
        blobs: None,
        providers,
        settings: DispatchSettings {
            batch_size: 25,
            backoff_base_seconds: 0.01,
            backoff_cap_seconds: 0.05,
            poll_interval: Duration::from_millis(20),
            ..DispatchSettings::default()
        },
    }
}

async fn statuses(app: &TestApp) -> Vec<String> {
    app.db()
        .await
        .query(
            "SELECT status FROM notification_delivery ORDER BY created_at",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn templates_are_versioned_and_previews_refuse_missing_variables() {
    let app = spawn_app().await;
    // A key no migration seeds (the cases migration seeds `case.*` templates at version 1).
    create_template(&app, "test.accepted").await;
    create_template(&app, "test.accepted").await;
    let response = app
        .admin(
            Method::GET,
            "/api/v1/admin/notification-templates/test.accepted",
        )
        .send()
        .await
        .unwrap();
    let versions: Value = response.json().await.unwrap();
    assert_eq!(versions.as_array().unwrap().len(), 2);
    assert_eq!(versions[1]["version"], 2);
    assert_eq!(versions[0]["variables"], json!(["item", "name", "no"]));

    let (status, preview) = app
        .admin_json(
            Method::POST,
            "/api/v1/admin/notification-templates/test.accepted/preview",
            &json!({"variables": {"name": "欧阳小明", "item": "结婚登记", "no": "X1"}}),
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(
        preview["rendered"]["sms_body"],
        "【指尖办】欧阳**您好，您申请的结婚登记已受理，受理编号X1。"
    );
    assert_eq!(
        preview["rendered"]["push_body"],
        "您申请的结婚登记已受理，受理编号X1。"
    );
    assert_eq!(preview["sms_segments"], 1);

    let response = app
        .admin(
            Method::POST,
            "/api/v1/admin/notification-templates/test.accepted/preview",
        )
        .json(&json!({"variables": {"name": "x"}}))
        .send()
        .await
        .unwrap();
    let body = expect_problem(response, 422, "missing_variables").await;
    assert!(
        body["detail"].as_str().unwrap().contains("item, no"),
        "{body}"
    );

    let response = app
        .admin(Method::POST, "/api/v1/admin/notification-templates")
        .json(&json!({"key": "Bad Key", "content": {"sms_body": "x {unclosed"}}))
        .send()
        .await
        .unwrap();
    let body = expect_problem(response, 422, "validation_failed").await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["key", "sms_body"]);
    app.stop().await;
}

#[tokio::test]
async fn a_notification_goes_out_once_and_its_history_shows_every_step() {
    let app = spawn_app().await;
    create_template(&app, "case.accepted").await;
    let send = json!({
        "template_key": "case.accepted",
        "variables": {"name": "张三", "item": "食品经营许可", "no": "N-1"},
        "phone": "+86 138 0013 8000",
        "channels": ["sms"],
        "idempotency_key": "case-1-accepted"
    });
    let (status, first) = app
        .admin_json(Method::POST, "/api/v1/admin/notifications", &send)
        .await;
    assert_eq!(status, 202, "{first}");
    let (_, again) = app
        .admin_json(Method::POST, "/api/v1/admin/notifications", &send)
        .await;
    assert_eq!(
        first["id"], again["id"],
        "the same idempotency key enqueues once"
    );

    // The app's own dispatcher (log-only demo provider here) sends it.
    let id = first["id"].as_str().unwrap().to_owned();
    let mut history = Value::Null;
    for _ in 0..100 {
        let response = app
            .admin(Method::GET, &format!("/api/v1/admin/notifications/{id}"))
            .send()
            .await
            .unwrap();
        history = response.json().await.unwrap();
        if history["deliveries"][0]["status"] == "sent" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let delivery = &history["deliveries"][0];
    assert_eq!(delivery["status"], "sent", "{history}");
    assert_eq!(delivery["address"], "138****8000");
    assert_eq!(delivery["provider"], "log-sms");
    assert_eq!(delivery["segments"], 1);
    let events: Vec<&str> = delivery["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["created", "sent"]);
    assert_eq!(statuses(&app).await.len(), 1);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(
            r#"fingertip_notifications_total{channel="sms",provider="log-sms",status="sent"} 1"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("fingertip_notification_outbox_depth 0"),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn enqueueing_commits_or_rolls_back_with_the_business_transaction() {
    let app = spawn_app_with(|c| c.notify.dispatch = false).await;
    create_template(&app, "case.accepted").await;
    let mut client = app.db().await;
    let tx = client.transaction().await.unwrap();
    outbox::enqueue(
        &tx,
        &notification("case.accepted", "13800138000", "a"),
        &OutboxSettings::default(),
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    assert!(
        statuses(&app).await.is_empty(),
        "rolled back: nothing will be sent"
    );
    let tx = client.transaction().await.unwrap();
    outbox::enqueue(
        &tx,
        &notification("case.accepted", "13800138000", "b"),
        &OutboxSettings::default(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(statuses(&app).await, ["created"]);
    app.stop().await;
}

#[tokio::test]
async fn two_dispatchers_on_one_outbox_send_each_message_exactly_once() {
    let app = spawn_app_with(|c| c.notify.dispatch = false).await;
    create_template(&app, "case.accepted").await;
    let mut client = app.db().await;
    let settings = OutboxSettings {
        per_address_hourly_limit: 1000,
        ..OutboxSettings::default()
    };
    let tx = client.transaction().await.unwrap();
    for i in 0..300 {
        let phone = format!("1380013{:04}", i % 50);
        outbox::enqueue(
            &tx,
            &notification("case.accepted", &phone, &format!("n{i}")),
            &settings,
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    let provider = Arc::new(ScriptedProvider {
        name: "fake-sms",
        delay: Duration::from_millis(2),
        ..Default::default()
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let a = dispatcher(&app, provider.clone(), None).spawn(stop_rx.clone());
    let b = dispatcher(&app, provider.clone(), None).spawn(stop_rx);
    for _ in 0..400 {
        if provider.sent.lock().unwrap().len() >= 300 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop_tx.send(true).unwrap();
    a.await.unwrap();
    b.await.unwrap();
    let sent = provider.sent.lock().unwrap().clone();
    let mut ids: Vec<Uuid> = sent.iter().map(|(id, _, _)| *id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(sent.len(), 300, "every message sent");
    assert_eq!(ids.len(), 300, "none sent twice");
    assert!(statuses(&app).await.iter().all(|s| s == "sent"));
    app.stop().await;
}

#[tokio::test]
async fn temporary_failures_are_retried_and_permanent_ones_stop_at_once() {
    let app = spawn_app_with(|c| c.notify.dispatch = false).await;
    create_template(&app, "case.accepted").await;
    let mut client = app.db().await;
    let tx = client.transaction().await.unwrap();
    outbox::enqueue(
        &tx,
        &notification("case.accepted", "13800138000", "t"),
        &OutboxSettings::default(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let provider = Arc::new(ScriptedProvider {
        name: "fake-sms",
        script: Mutex::new(vec![
            SendError::Temporary("HTTP 500".into()),
            SendError::Temporary("timeout".into()),
        ]),
        ..Default::default()
    });
    let d = dispatcher(&app, provider.clone(), None);
    for _ in 0..50 {
        d.run_once().await.unwrap();
        if !provider.sent.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(
        provider.sent.lock().unwrap().len(),
        1,
        "delivered once after two temporary failures"
    );
    let row = client
        .query_one("SELECT status, attempts FROM notification_delivery", &[])
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, i32>(1)),
        ("sent".to_owned(), 3)
    );

    let tx = client.transaction().await.unwrap();
    outbox::enqueue(
        &tx,
        &notification("case.accepted", "13800138001", "p"),
        &OutboxSettings::default(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    provider
        .script
        .lock()
        .unwrap()
        .push(SendError::Permanent("template rejected".into()));
    d.run_once().await.unwrap();
    let row = client
        .query_one(
            "SELECT status, attempts FROM notification_delivery WHERE address = '13800138001'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, i32>(1)),
        ("permanent_failure".to_owned(), 1)
    );
    assert_eq!(
        d.run_once().await.unwrap(),
        0,
        "a permanent failure is never retried"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_dead_push_token_deactivates_the_device_and_the_sms_fallback_goes() {
    let app = spawn_app_with(|c| c.notify.dispatch = false).await;
    create_template(&app, "case.accepted").await;
    let mut client = app.db().await;
    client
        .execute(
            "INSERT INTO device (id, owner, platform, token) VALUES ($1, 'citizen:1', 'apns', 'deadbeef')",
            &[&Uuid::new_v4()],
        )
        .await
        .unwrap();
    let tx = client.transaction().await.unwrap();
    let mut n = notification("case.accepted", "13800138000", "fallback");
    n.recipient = Recipient::Owner {
        owner: "citizen:1".into(),
        phone: Some("13800138000".into()),
        email: None,
    };
    n.channels = vec![Channel::Push];
    n.must_reach = true;
    outbox::enqueue(
        &tx,
        &n,
        &OutboxSettings {
            fallback_delay: Duration::from_secs(3600),
            ..OutboxSettings::default()
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let sms = Arc::new(ScriptedProvider {
        name: "fake-sms",
        ..Default::default()
    });
    let push = Arc::new(ScriptedProvider {
        name: "fake-apns",
        script: Mutex::new(vec![SendError::InvalidAddress("410 Unregistered".into())]),
        ..Default::default()
    });
    let d = dispatcher(&app, sms.clone(), Some(push.clone()));
    d.run_once().await.unwrap(); // the push fails for good
    d.run_once().await.unwrap(); // the fallback, due at once, goes
    assert_eq!(
        sms.sent.lock().unwrap().len(),
        1,
        "SMS fallback sent despite the one-hour delay"
    );
    let active: bool = client
        .query_one("SELECT active FROM device", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!active, "the dead token's device is deactivated");

    // With the push delivered in time, the fallback is cancelled instead.
    client
        .execute(
            "INSERT INTO device (id, owner, platform, token) VALUES ($1, 'citizen:1', 'apns', 'alive')",
            &[&Uuid::new_v4()],
        )
        .await
        .unwrap();
    let tx = client.transaction().await.unwrap();
    let mut n2 = n.clone();
    n2.idempotency_key = "fallback-2".into();
    outbox::enqueue(
        &tx,
        &n2,
        &OutboxSettings {
            fallback_delay: Duration::ZERO,
            ..OutboxSettings::default()
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    d.run_once().await.unwrap();
    d.run_once().await.unwrap();
    assert_eq!(push.sent.lock().unwrap().len(), 1);
    assert_eq!(sms.sent.lock().unwrap().len(), 1, "no second SMS");
    let cancelled: i64 = client
        .query_one(
            "SELECT count(*) FROM notification_delivery WHERE status = 'cancelled'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(cancelled, 1);
    app.stop().await;
}

#[tokio::test]
async fn nobody_can_sms_bomb_a_phone_through_the_hub() {
    let app = spawn_app_with(|c| c.notify.dispatch = false).await;
    create_template(&app, "case.accepted").await;
    let mut client = app.db().await;
    for i in 0..15 {
        let tx = client.transaction().await.unwrap();
        outbox::enqueue(
            &tx,
            &notification("case.accepted", "13800138000", &format!("b{i}")),
            &OutboxSettings::default(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    let statuses = statuses(&app).await;
    assert_eq!(statuses.iter().filter(|s| *s == "created").count(), 10);
    assert_eq!(statuses.iter().filter(|s| *s == "cancelled").count(), 5);
    app.stop().await;
}

/// Legal notices are never silenced by the per-address limit, and do not use it up: after a
/// dozen must-reach notices in an hour, ten optional messages still go and only the eleventh is
/// limited.
#[tokio::test]
async fn must_reach_notices_pass_the_per_address_limit_and_do_not_count_toward_it() {
    let app = spawn_app_with(|c| c.notify.dispatch = false).await;
    create_template(&app, "case.accepted").await;
    let mut client = app.db().await;
    for i in 0..12 {
        let tx = client.transaction().await.unwrap();
        let mut legal = notification("case.accepted", "13800138001", &format!("legal{i}"));
        legal.must_reach = true;
        outbox::enqueue(&tx, &legal, &OutboxSettings::default())
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let legal = statuses(&app).await;
    assert_eq!(
        legal.iter().filter(|s| *s == "created").count(),
        12,
        "{legal:?}"
    );
    for i in 0..11 {
        let tx = client.transaction().await.unwrap();
        outbox::enqueue(
            &tx,
            &notification("case.accepted", "13800138001", &format!("optional{i}")),
            &OutboxSettings::default(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    let all = statuses(&app).await;
    assert_eq!(
        all.iter().filter(|s| *s == "created").count(),
        22,
        "{all:?}"
    );
    assert_eq!(all.iter().filter(|s| *s == "cancelled").count(), 1);
    app.stop().await;
}

#[tokio::test]
async fn bad_notification_requests_get_4xx_with_the_field() {
    let app = spawn_app_with(|c| c.notify.dispatch = false).await;
    create_template(&app, "case.accepted").await;
    let base = json!({
        "template_key": "case.accepted",
        "variables": {"name": "张三", "item": "x", "no": "1"},
        "phone": "13800138000",
        "channels": ["sms"],
        "idempotency_key": "k"
    });
    let cases = [
        (
            json!({"template_key": "nope"}),
            422,
            "unknown_template",
            "template_key",
        ),
        (
            json!({"variables": {"name": "张三"}}),
            422,
            "missing_variables",
            "variables",
        ),
        (json!({"phone": "12345"}), 422, "invalid_phone", "phone"),
        (
            json!({"phone": "+1 415 555 0100"}),
            422,
            "invalid_phone",
            "phone",
        ),
        (
            json!({"channels": ["fax"]}),
            400,
            "invalid_body",
            "channels[0]",
        ),
        (
            json!({"channels": ["email"], "phone": null, "email": "a@b.cn"}),
            422,
            "no_content",
            "channels",
        ),
        (
            json!({"channels": ["email"]}),
            422,
            "no_address",
            "channels",
        ),
        (
            json!({"phone": null, "email": "not-an-email"}),
            422,
            "invalid_email",
            "email",
        ),
        (json!({"priority": 99}), 422, "out_of_range", "priority"),
    ];
    for (patch, status, code, field) in cases {
        let mut body = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let response = app
            .admin(Method::POST, "/api/v1/admin/notifications")
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = expect_problem(response, status, code).await;
        assert_eq!(problem["field"], field, "{problem}");
    }
    let response = app
        .admin(Method::GET, "/api/v1/admin/notifications/not-a-uuid")
        .send()
        .await
        .unwrap();
    expect_problem(response, 400, "invalid_parameter").await;
    app.stop().await;
}

#[tokio::test]
async fn production_mode_refuses_the_log_only_demo_providers() {
    let database = crate::support::db::fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let config = fingertip::config::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        database_url: Some(fingertip::secret::Secret::new(
            database.connection_string.clone(),
        )),
        mode: fingertip::mode::Mode::Production,
        ..fingertip::config::Config::default()
    };
    let mut config = config;
    let key_file = dir.path().join("pii.key");
    std::fs::write(
        &key_file,
        fingertip::identity::pii::IdentityKeys::generate_master_key_base64().unwrap(),
    )
    .unwrap();
    config.identity.pii_key_file = Some(key_file);
    let seal_key_file = dir.path().join("seal.key");
    std::fs::write(
        &seal_key_file,
        fingertip::identity::pii::IdentityKeys::generate_master_key_base64().unwrap(),
    )
    .unwrap();
    config.cases.seal_key_file = Some(seal_key_file);
    let err = match fingertip::app::start(config, false).await {
        Ok(running) => {
            running.stop().await.unwrap();
            panic!("production started with log-only providers");
        }
        Err(err) => err.to_string(),
    };
    assert!(err.contains("log-only demo providers"), "{err}");
    assert!(err.contains("log-sms"), "{err}");
}
