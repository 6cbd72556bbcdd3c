//! Every acknowledged upload and application survives the server being killed (SIGKILL) in the
//! middle of a load of submissions: the real binary serves the test's database and data
//! directory, clients upload and apply concurrently, the process is killed, a new one starts on
//! the same data, and everything that was answered 201 is there in full — the file's bytes, the
//! case with its materials, timeline, audit record and notice — and the audit chain verifies.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::binary::{free_port, serve_command, wait_ready};
use crate::support::fixtures::{ITEM, PNG, citizen, set_up};
use crate::support::spawn_app;

const WORKERS: usize = 6;

/// The binary serving `database_url` with the data directory `data_dir` on `port`.
fn serve(database_url: &str, data_dir: &std::path::Path, port: u16) -> Child {
    serve_command(database_url, data_dir, port)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// A valid GB 11643 number for worker `i` (Beijing Chaoyang, born 1985).
fn id_number(i: usize) -> String {
    let first17 = format!("11010519850101{:03}", 100 + i);
    let check = fingertip::identity::citizen_id::check_character(first17.as_bytes()).unwrap();
    format!("{first17}{check}")
}

/// A distinct small PDF.
fn pdf(tag: &str) -> Vec<u8> {
    format!("%PDF-1.7\n% {tag}\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n").into_bytes()
}

/// What the server answered 201 to before it died.
#[derive(Default)]
struct Acknowledged {
    /// (token, file id, bytes)
    files: Vec<(String, String, Vec<u8>)>,
    /// (token, case id)
    cases: Vec<(String, String)>,
}

/// Uploads `bytes`; the file's id when the server answered with one.
async fn upload(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    bytes: &[u8],
    content_type: &str,
) -> Option<String> {
    let response = http
        .post(format!("{base}/api/v1/me/files"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(bytes.to_vec())
        .send()
        .await
        .ok()?;
    let body: Value = response.json().await.ok()?;
    body["id"].as_str().map(str::to_owned)
}

/// Uploads and applies until the server stops answering; records every upload and case it
/// answered.
async fn submit_until_refused(
    base: String,
    token: String,
    worker: usize,
    acknowledged: Arc<Mutex<Acknowledged>>,
) {
    let http = reqwest::Client::new();
    for round in 0.. {
        let form = pdf(&format!("{worker}-{round}"));
        let Some(form_id) = upload(&http, &base, &token, &form, "application/pdf").await else {
            return;
        };
        let Some(licence_id) = upload(&http, &base, &token, PNG, "image/png").await else {
            return;
        };
        {
            let mut acknowledged = acknowledged.lock().unwrap();
            acknowledged
                .files
                .push((token.clone(), form_id.clone(), form));
            acknowledged
                .files
                .push((token.clone(), licence_id.clone(), PNG.to_vec()));
        }
        let Ok(response) = http
            .post(format!("{base}/api/v1/cases"))
            .bearer_auth(&token)
            .header("Idempotency-Key", Uuid::new_v4().to_string())
            .json(
                &json!({"item_code": ITEM, "form": {"经营场所": "大安市长虹路1号"}, "materials": [
                    {"material_key": "application_form", "file_ids": [form_id]},
                    {"material_key": "business_licence", "file_ids": [licence_id]}
                ]}),
            )
            .send()
            .await
        else {
            return;
        };
        let status = response.status().as_u16();
        let Ok(body) = response.json::<Value>().await else {
            return;
        };
        if status != 201 {
            return;
        }
        let id = body["id"].as_str().unwrap().to_owned();
        acknowledged.lock().unwrap().cases.push((token.clone(), id));
    }
}

#[tokio::test]
async fn every_acknowledged_upload_and_application_survives_a_sigkill_mid_load() {
    fingertip::tls::install_crypto_provider();
    let app = spawn_app().await;
    set_up(&app).await;
    let mut tokens = Vec::new();
    for i in 0..WORKERS {
        tokens.push(
            citizen(
                &app,
                &format!("1370013{:04}", 7000 + i),
                "王五",
                &id_number(i),
            )
            .await,
        );
    }
    let (database, data_dir) = app.stop_keeping_data().await;
    let http = reqwest::Client::new();

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut first = serve(&database.url, data_dir.path(), port);
    wait_ready(&http, port, &mut first).await;
    let acknowledged = Arc::new(Mutex::new(Acknowledged::default()));
    let workers: Vec<_> = tokens
        .iter()
        .enumerate()
        .map(|(w, token)| {
            tokio::spawn(submit_until_refused(
                base.clone(),
                token.clone(),
                w,
                acknowledged.clone(),
            ))
        })
        .collect();
    // Kill it once cases are being acknowledged, with every worker mid-submission.
    let started = Instant::now();
    while acknowledged.lock().unwrap().cases.len() < 3 * WORKERS {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no cases acknowledged"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap());
    eprintln!(
        "killed after {} files and {} cases acknowledged",
        acknowledged.files.len(),
        acknowledged.cases.len()
    );

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut second = serve(&database.url, data_dir.path(), port);
    wait_ready(&http, port, &mut second).await;
    for (token, id, bytes) in &acknowledged.files {
        let response = http
            .get(format!("{base}/api/v1/me/files/{id}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "file {id}");
        assert_eq!(
            &response.bytes().await.unwrap()[..],
            &bytes[..],
            "file {id}"
        );
    }
    for (token, id) in &acknowledged.cases {
        let response = http
            .get(format!("{base}/api/v1/me/cases/{id}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "case {id}");
        let case: Value = response.json().await.unwrap();
        assert_eq!(
            case["materials"].as_array().map(Vec::len),
            Some(2),
            "{case}"
        );
        assert!(
            case["timeline"].as_array().is_some_and(|t| !t.is_empty()),
            "{case}"
        );
    }
    // Every case written at all, acknowledged or not, is whole: nothing half-committed.
    let (db, connection) =
        tokio_postgres::connect(&database.connection_string, tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    let partial: i64 = db
        .query_one(
            "SELECT count(*) FROM cases c
              WHERE NOT EXISTS (SELECT 1 FROM case_event e WHERE e.case_id = c.id)
                 OR (SELECT count(*) FROM case_material m WHERE m.case_id = c.id) <> 2
                 OR NOT EXISTS (SELECT 1 FROM audit_record a
                                 WHERE a.aggregate_type = 'case' AND a.aggregate_id = c.id::text)
                 OR NOT EXISTS (SELECT 1 FROM notification n
                                 WHERE n.idempotency_key LIKE 'case:' || c.id::text || ':%')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(partial, 0, "cases missing part of their transaction");
    let written: i64 = db
        .query_one("SELECT count(*) FROM cases", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        written as usize >= acknowledged.cases.len(),
        "{written} cases written, {} acknowledged",
        acknowledged.cases.len()
    );
    second.kill().unwrap();
    second.wait().unwrap();

    let verify = Command::new(env!("CARGO_BIN_EXE_fingertip"))
        .args(["audit", "verify"])
        .env("DATABASE_URL", &database.url)
        .env("FINGERTIP_DATA_DIR", data_dir.path())
        .current_dir(data_dir.path())
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{} {}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
}
