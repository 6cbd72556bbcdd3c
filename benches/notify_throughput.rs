//! Notification hub throughput: enqueue 100,000 SMS notifications, drain them through the local
//! fake Aliyun (which verifies every ACS3 signature, as the real service does) with two
//! dispatchers, and print messages per second beside the database's plain INSERT+COMMIT rate
//! measured in the same run on the same cluster.
//!
//! `cargo bench --bench notify_throughput` (env: BENCH_MESSAGES, default 100000).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/support/fakes/aliyun.rs"]
mod fake_aliyun;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fingertip::db::embedded::EmbeddedCluster;
use fingertip::notify::dispatcher::{DispatchSettings, Dispatcher, Providers};
use fingertip::notify::model::Channel;
use fingertip::notify::outbox::{self, NewNotification, OutboxSettings, Recipient};
use fingertip::notify::providers::aliyun::AliyunSms;
use serde_json::json;

const WRITERS: usize = 8;

async fn connect(cs: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(cs, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// Rows per second of single-row INSERT+COMMIT from `WRITERS` connections for `seconds`.
async fn insert_commit_rate(cs: &str, seconds: u64) -> f64 {
    connect(cs)
        .await
        .batch_execute(
            "CREATE TABLE bench_baseline (id bigserial PRIMARY KEY, payload text NOT NULL)",
        )
        .await
        .unwrap();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..WRITERS {
        let cs = cs.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut client = connect(&cs).await;
            let mut n = 0u64;
            while started.elapsed() < Duration::from_secs(seconds) {
                let tx = client.transaction().await.unwrap();
                tx.execute(
                    "INSERT INTO bench_baseline (payload) VALUES ($1)",
                    &[&"【指尖办】您的申请已受理"],
                )
                .await
                .unwrap();
                tx.commit().await.unwrap();
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    fingertip::tls::install_crypto_provider();
    let messages: usize = std::env::var("BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let cluster = EmbeddedCluster::start(&dir.path().join("pg"))
        .await
        .unwrap();
    connect(&cluster.connection_string("postgres"))
        .await
        .batch_execute("CREATE DATABASE bench")
        .await
        .unwrap();
    let cs = cluster.connection_string("bench");
    fingertip::db::migrate::run(&mut connect(&cs).await)
        .await
        .unwrap();

    let baseline = insert_commit_rate(&cs, 5).await;

    let admin = connect(&cs).await;
    admin
        .execute(
            "INSERT INTO notification_template (key, version, sms_body, provider_templates, variables, created_by)
             VALUES ('case.accepted', 1, '【指尖办】您申请的{item}已受理，受理编号{no}。', '{\"aliyun\": \"SMS_1\"}', '{item,no}', 'bench')",
            &[],
        )
        .await
        .unwrap();

    // Enqueue: WRITERS connections, 100 notifications per business transaction.
    let settings = Arc::new(OutboxSettings {
        per_address_hourly_limit: 1_000_000,
        ..OutboxSettings::default()
    });
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let (cs, settings) = (cs.clone(), settings.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = connect(&cs).await;
            let mut i = w;
            while i < messages {
                let tx = client.transaction().await.unwrap();
                for _ in 0..100 {
                    if i >= messages {
                        break;
                    }
                    let n = NewNotification {
                        template_key: "case.accepted".into(),
                        variables: json!({"item": "食品经营许可", "no": format!("220882-{i:08}")})
                            .as_object()
                            .unwrap()
                            .clone(),
                        recipient: Recipient::Phone(format!("139{:08}", i)),
                        channels: vec![Channel::Sms],
                        must_reach: false,
                        priority: 5,
                        idempotency_key: format!("bench-{i}"),
                    };
                    outbox::enqueue(&tx, &n, &settings).await.unwrap();
                    i += WRITERS;
                }
                tx.commit().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let enqueue_rate = messages as f64 / started.elapsed().as_secs_f64();

    // Drain with two dispatchers (as two instances would) through the verifying fake.
    let fake = fake_aliyun::FakeAliyun::start("LTAI5tBench", "bench-secret").await;
    let provider = Arc::new(AliyunSms::new(fake.client_config("指尖办")).unwrap());
    let pool = fingertip::db::pool_for(cs.parse().unwrap(), 8).unwrap();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..2 {
        let d = Dispatcher {
            pool: pool.clone(),
            metrics: None,
            blobs: None,
            providers: Providers {
                sms: Some(provider.clone()),
                email: None,
                push: Default::default(),
                smpp: None,
            },
            settings: DispatchSettings {
                batch_size: 500,
                poll_interval: Duration::from_millis(10),
                ..DispatchSettings::default()
            },
        };
        workers.push(d.spawn(stop_rx.clone()));
    }
    loop {
        let sent: i64 = admin
            .query_one(
                "SELECT count(*) FROM notification_delivery WHERE status = 'sent'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if sent as usize >= messages || started.elapsed() > Duration::from_secs(900) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let drain_seconds = started.elapsed().as_secs_f64();
    stop_tx.send(true).unwrap();
    for w in workers {
        let _ = w.await;
    }
    let received = fake.received().len();
    let drain_rate = received as f64 / drain_seconds;

    println!(
        "notify_throughput: {messages} SMS notifications, 2 dispatchers, fake Aliyun verifying signatures"
    );
    println!("  baseline INSERT+COMMIT ({WRITERS} connections)  {baseline:>8.0} rows/s");
    println!(
        "  enqueue (100 per transaction)                  {enqueue_rate:>8.0} notifications/s"
    );
    println!(
        "  drain to the provider                          {drain_rate:>8.0} messages/s ({received} received, target >= 2000)"
    );
    println!(
        "  drain / INSERT+COMMIT                          {:>8.2}",
        drain_rate / baseline
    );
    assert_eq!(
        received, messages,
        "every message reached the provider exactly once"
    );
    cluster.stop().await.unwrap();
}
