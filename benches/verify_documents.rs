//! Verification requests per second: what a QR scan (`GET /api/v1/public/documents/{token}`)
//! and an upload check (`POST /api/v1/public/documents/verify` with the sealed licence PDF)
//! cost under concurrent load, beside `pgbench -S` (select-only, one primary-key read per
//! transaction) on the same cluster in the same run. The release server runs as its own
//! process with the demo data; the documents verified are real ones: a case of the demo item
//! 220882-SCJG-001 applied for, accepted and approved through the API, which sealed the
//! acceptance notice, the approval decision and the licence.
//!
//! `cargo bench --bench verify_documents` (env: BENCH_SECONDS, BENCH_CONCURRENCY).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mod.rs"]
mod support;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fingertip::db::embedded::EmbeddedCluster;
use serde_json::{Value, json};
use support::{
    DEMO_PASSWORD, StopOnPanic, connect, create_databases, env_or, pgbench, pgbench_tps, quantile,
    start_server,
};

const ITEM: &str = "220882-SCJG-001";
const PHONE: &str = "13900000001";
const ID_NUMBER: &str = "11010519491231002X";

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn send(&self, request: reqwest::RequestBuilder, what: &str, expected: u16) -> Value {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, expected, "{what}: {body}");
        body
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value, expected: u16) -> Value {
        let mut request = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(request, path, expected).await
    }

    async fn staff(&self, username: &str) -> String {
        let body = self
            .post(
                "/api/v1/auth/staff/login",
                None,
                json!({"username": username, "password": DEMO_PASSWORD}),
                200,
            )
            .await;
        body["access_token"].as_str().unwrap().to_owned()
    }
}

/// Applies for the demo item as a new citizen, then the demo staff accept, review and approve:
/// returns the case's documents (kind, verification token, sha256) and the licence's PDF.
async fn approved_case(api: &Api, db: &tokio_postgres::Client) -> (Vec<Value>, Vec<u8>) {
    api.post(
        "/api/v1/auth/otp",
        None,
        json!({"phone": PHONE, "purpose": "register"}),
        202,
    )
    .await;
    let code: String = db
        .query_one(
            "SELECT n.variables->>'code' FROM notification n WHERE n.phone = $1
              ORDER BY n.created_at DESC LIMIT 1",
            &[&PHONE],
        )
        .await
        .unwrap()
        .get(0);
    let registered = api
        .post(
            "/api/v1/auth/citizen/register",
            None,
            json!({"phone": PHONE, "code": code, "name": "张三", "id_number": ID_NUMBER}),
            201,
        )
        .await;
    let token = registered["access_token"].as_str().unwrap().to_owned();
    let mut materials = Vec::new();
    for key in ["application_form", "business_licence", "id_card"] {
        let pdf = format!("%PDF-1.7\n% {key}\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n");
        let request = api
            .http
            .post(format!("{}/api/v1/me/files", api.base))
            .bearer_auth(&token)
            .header("content-type", "application/pdf")
            .body(pdf.into_bytes());
        let file = api.send(request, "upload", 201).await;
        materials.push(json!({"material_key": key, "file_ids": [file["id"]]}));
    }
    let request = api
        .http
        .post(format!("{}/api/v1/cases", api.base))
        .bearer_auth(&token)
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .json(
            &json!({"item_code": ITEM, "form": {"经营者名称": "大安市张三小吃店"},
                      "materials": materials}),
        );
    let case = api.send(request, "apply", 201).await;
    let id = case["id"].as_str().unwrap();
    let clerk = api.staff("scjg.clerk").await;
    let reviewer = api.staff("scjg.reviewer").await;
    let approver = api.staff("scjg.approver").await;
    let staff = |action: &str| format!("/api/v1/staff/cases/{id}/{action}");
    api.post(&staff("accept"), Some(&clerk), json!({}), 200)
        .await;
    api.post(
        &staff("complete-step"),
        Some(&reviewer),
        json!({"department_code": "220882-SCJG", "step": "审查"}),
        200,
    )
    .await;
    let decided = api
        .post(&staff("approve"), Some(&approver), json!({}), 200)
        .await;
    let documents = decided["documents"].as_array().unwrap().clone();
    assert_eq!(documents.len(), 3, "{decided}");
    let licence = documents.iter().find(|d| d["kind"] == "licence").unwrap();
    let response = api
        .http
        .get(format!(
            "{}/api/v1/me/cases/{id}/documents/{}/pdf",
            api.base,
            licence["id"].as_str().unwrap()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let pdf = response.bytes().await.unwrap().to_vec();
    (documents, pdf)
}

struct Measured {
    requests: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// `concurrency` workers, each with its own keep-alive connection, sending `request(i)` in
/// a loop for `seconds` (after a warm-up second); every answer must be 200 with `check` true.
async fn measure<F, C>(
    base: &str,
    concurrency: usize,
    seconds: u64,
    request: F,
    check: C,
) -> Measured
where
    F: Fn(&reqwest::Client, &str, usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
    C: Fn(&Value) -> bool + Send + Sync + 'static,
{
    let request = Arc::new(request);
    let check = Arc::new(check);
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let (request, check, stop, measuring) = (
            request.clone(),
            check.clone(),
            stop.clone(),
            measuring.clone(),
        );
        let base = base.to_owned();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .unwrap();
            let mut latencies = Vec::new();
            let mut i = worker;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let response = request(&client, &base, i).send().await.unwrap();
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                assert!(status == 200 && check(&body), "{status}: {body}");
                if measuring.load(Ordering::Relaxed) {
                    latencies.push(started.elapsed().as_secs_f64() * 1000.0);
                }
                i += concurrency;
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    latencies.sort_by(f64::total_cmp);
    Measured {
        requests: latencies.len(),
        per_second: latencies.len() as f64 / elapsed,
        p50_ms: quantile(&latencies, 0.5),
        p99_ms: quantile(&latencies, 0.99),
    }
}

#[tokio::main]
async fn main() {
    fingertip::tls::install_crypto_provider();
    let seconds = env_or("BENCH_SECONDS", 10);
    let concurrency = env_or("BENCH_CONCURRENCY", 16) as usize;

    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let cluster = EmbeddedCluster::start(&dir.path().join("pg"))
        .await
        .unwrap();
    let _stop_on_panic = StopOnPanic(cluster.data_dir().to_owned());
    create_databases(&cluster, &["bench", "pgbench_baseline"]).await;
    // No dispatch worker: the notices of the set-up case stay in the outbox.
    let config = dir.path().join("fingertip.toml");
    std::fs::write(&config, "[notify]\ndispatch = false\n").unwrap();
    let server = start_server(dir.path(), Some(&config), Some(&cluster.url("bench")), true).await;
    let api = Api {
        http: reqwest::Client::new(),
        base: server.base(),
    };
    let db = connect(&cluster.connection_string("bench")).await;
    let (documents, licence_pdf) = approved_case(&api, &db).await;
    let tokens: Arc<Vec<String>> = Arc::new(
        documents
            .iter()
            .map(|d| {
                let url = d["verification_url"].as_str().unwrap();
                url.rsplit('/').next().unwrap().to_owned()
            })
            .collect(),
    );
    println!(
        "verification bench: {concurrency} clients, {seconds} s per figure; {} sealed documents \
         of one approved case, licence PDF {:.1} KiB",
        tokens.len(),
        licence_pdf.len() as f64 / 1024.0
    );

    let qr = measure(
        &server.base(),
        concurrency,
        seconds,
        {
            let tokens = tokens.clone();
            move |client, base, i| {
                client.get(format!(
                    "{base}/api/v1/public/documents/{}",
                    tokens[i % tokens.len()]
                ))
            }
        },
        |body| body["status"] == "valid",
    )
    .await;
    let pdf = Arc::new(licence_pdf);
    let upload = measure(
        &server.base(),
        concurrency,
        seconds,
        {
            let pdf = pdf.clone();
            move |client, base, _| {
                client
                    .post(format!("{base}/api/v1/public/documents/verify"))
                    .header("content-type", "application/pdf")
                    .body(pdf.as_ref().clone())
            }
        },
        |body| body["issued"] == true,
    )
    .await;

    pgbench(&cluster, &["-i", "-q", "-s", "1"]);
    let clients = concurrency.to_string();
    let output = pgbench(
        &cluster,
        &["-S", "-c", &clients, "-j", "2", "-T", &seconds.to_string()],
    );
    let select_tps = pgbench_tps(&output);

    println!(
        "QR verification   GET  /api/v1/public/documents/{{token}}: {:>8.1} requests/s \
         (p50 {:.2} ms, p99 {:.2} ms, {} requests)",
        qr.per_second, qr.p50_ms, qr.p99_ms, qr.requests
    );
    println!(
        "upload check      POST /api/v1/public/documents/verify:  {:>8.1} requests/s \
         (p50 {:.2} ms, p99 {:.2} ms, {} requests)",
        upload.per_second, upload.p50_ms, upload.p99_ms, upload.requests
    );
    println!("pgbench -S (select-only) on the same cluster: {select_tps:.1} tps");
    println!(
        "ratio QR verifications / pgbench select-only: {:.3}; upload checks / select-only: {:.3}",
        qr.per_second / select_tps,
        upload.per_second / select_tps
    );
    drop(server);
    cluster.stop().await.unwrap();
}
