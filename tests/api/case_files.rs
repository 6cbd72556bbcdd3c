//! Applicants' material files (资料交一份): upload once, reuse by id; bytes must be what the
//! declared type says; each owner sees only their own; window clerks digitise paper; uploads
//! have their own size limit, independent of the global body limit.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::fixtures::{
    ID_1, ID_2, create_department, create_staff, log_in, register_citizen, staff_member,
};
use crate::support::{TestApp, expect_problem, spawn_app, spawn_app_with, spawn_demo_app};

const PDF: &[u8] =
    b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde";
const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00, 0x00, 0x01,
    0x00, 0x01, 0x00, 0x00, 0xFF, 0xD9,
];

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A valid stored (uncompressed) ZIP archive of `entries`, built by hand.
fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let offset = out.len() as u32;
        let crc = crc32(data);
        let size = data.len() as u32;
        let name_len = name.len() as u16;
        // Local file header: version 20, no flags, stored, zero time and date.
        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        // Central directory entry.
        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&name_len.to_le_bytes());
        central.extend_from_slice(&[0; 12]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let start = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&start.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

fn ofd() -> Vec<u8> {
    zip(&[
        ("OFD.xml", b"<?xml version=\"1.0\"?><ofd:OFD xmlns:ofd=\"http://www.ofdspec.org/2016\" Version=\"1.0\"/>"),
        ("Doc_0/Document.xml", b"<ofd:Document/>"),
    ])
}

fn docx() -> Vec<u8> {
    zip(&[
        ("[Content_Types].xml", b"<Types/>"),
        ("word/document.xml", b"<w:document/>"),
    ])
}

/// A PDF of exactly `size` bytes.
fn pdf_of_size(size: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n".to_vec();
    bytes.resize(size, b'%');
    bytes
}

struct Applicant {
    token: String,
    subject: String,
}

async fn citizen(app: &TestApp, phone: &str, name: &str, id_number: &str) -> Applicant {
    let login = register_citizen(app, phone, name, id_number).await;
    Applicant {
        token: login["access_token"].as_str().unwrap().to_owned(),
        subject: login["subject"].as_str().unwrap().to_owned(),
    }
}

async fn upload_to(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    file_name: Option<&str>,
    bytes: &[u8],
) -> reqwest::Response {
    let mut request = app.http.post(app.url(path)).body(bytes.to_vec());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    if let Some(name) = file_name {
        request = request.header("x-file-name", name);
    }
    request.send().await.unwrap()
}

async fn upload(
    app: &TestApp,
    who: &Applicant,
    content_type: &str,
    file_name: Option<&str>,
    bytes: &[u8],
) -> reqwest::Response {
    upload_to(
        app,
        "/api/v1/me/files",
        Some(&who.token),
        Some(content_type),
        file_name,
        bytes,
    )
    .await
}

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn list(app: &TestApp, token: &str) -> (u16, Value) {
    json_of(
        app.with_token(Method::GET, "/api/v1/me/files", token)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn rows_of(app: &TestApp, owner: &str) -> i64 {
    app.db()
        .await
        .query_one(
            "SELECT count(*) FROM material_file WHERE owner = $1",
            &[&owner],
        )
        .await
        .unwrap()
        .get(0)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes))
}

#[tokio::test]
async fn an_applicant_uploads_each_type_once_and_gets_the_same_file_back_for_the_same_bytes() {
    let app = spawn_app().await;
    let zhang = citizen(&app, "13811112001", "张三", ID_1).await;
    let licence = "%E8%90%A5%E4%B8%9A%E6%89%A7%E7%85%A7.pdf"; // 营业执照.pdf

    let (status, pdf) =
        json_of(upload(&app, &zhang, "application/pdf", Some(licence), PDF).await).await;
    assert_eq!(status, 201, "{pdf}");
    assert_eq!(pdf["sha256"], sha256_hex(PDF));
    assert_eq!(pdf["size_bytes"], PDF.len());
    assert_eq!(pdf["content_type"], "application/pdf");
    assert_eq!(pdf["file_name"], "营业执照.pdf");
    assert_eq!(pdf["used_for"], json!([]));
    assert!(pdf["uploaded_at"].is_string(), "{pdf}");
    let pdf_id = pdf["id"].as_str().unwrap().to_owned();

    let mut ids = vec![pdf_id.clone()];
    for (content_type, bytes) in [
        ("image/jpeg", JPEG.to_vec()),
        ("image/png", PNG.to_vec()),
        ("application/ofd", ofd()),
    ] {
        let (status, file) = json_of(upload(&app, &zhang, content_type, None, &bytes).await).await;
        assert_eq!(status, 201, "{content_type}: {file}");
        assert_eq!(file["content_type"], content_type);
        assert_eq!(file["sha256"], sha256_hex(&bytes));
        assert!(file.get("file_name").is_none(), "{file}");
        ids.push(file["id"].as_str().unwrap().to_owned());
    }

    // The same bytes again (under another name, with a charset parameter): the same file.
    let (status, again) = json_of(
        upload(
            &app,
            &zhang,
            "Application/PDF; charset=binary",
            Some("copy.pdf"),
            PDF,
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"], pdf_id.as_str());
    assert_eq!(again["file_name"], "营业执照.pdf");
    assert_eq!(again["uploaded_at"], pdf["uploaded_at"]);
    assert_eq!(rows_of(&app, &zhang.subject).await, 4);

    // Newest first.
    let (status, listed) = list(&app, &zhang.token).await;
    assert_eq!(status, 200, "{listed}");
    let listed_ids: Vec<&str> = listed["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(listed_ids, newest_first);

    // Download: the bytes, their type, the name.
    let response = app
        .with_token(
            Method::GET,
            &format!("/api/v1/me/files/{pdf_id}"),
            &zhang.token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.contains(licence), "{disposition}");
    assert_eq!(response.bytes().await.unwrap().as_ref(), PDF);
    let response = app
        .with_token(
            Method::GET,
            &format!("/api/v1/me/files/{}", ids[3]),
            &zhang.token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/ofd");
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.contains(&format!("{}.ofd", ids[3])),
        "{disposition}"
    );
    assert_eq!(response.bytes().await.unwrap().as_ref(), ofd().as_slice());
    app.stop().await;
}

/// Whether the blob store on disk holds `bytes`.
async fn in_blob_store(app: &TestApp, bytes: &[u8]) -> bool {
    use fingertip::blobs::{BlobStore, FileBlobStore};
    let store = FileBlobStore::new(app.config.data_dir.join("blobs"));
    store.get(&sha256_hex(bytes)).await.unwrap().is_some()
}

/// The bytes `material_bytes` keeps under the SHA-256 of `bytes`.
async fn kept_bytes(app: &TestApp, bytes: &[u8]) -> Option<Vec<u8>> {
    app.db()
        .await
        .query_opt(
            "SELECT bytes FROM material_bytes WHERE sha256 = $1",
            &[&sha256_hex(bytes)],
        )
        .await
        .unwrap()
        .map(|row| row.get(0))
}

/// A small file's bytes are kept in the database, written by the statement that writes its row
/// (one commit makes both durable); a larger file's go to the blob store on disk, made durable
/// before its row. Both come back intact, and no row of a small file
/// ever lacks its bytes. (Staff download a case's kept materials in `cases.rs`.)
#[tokio::test]
async fn small_files_keep_their_bytes_with_their_row_and_larger_ones_go_to_the_blob_store() {
    use fingertip::cases::files::KEPT_IN_DATABASE_UP_TO;
    let app = spawn_app().await;
    let zhang = citizen(&app, "13811112009", "张三", ID_1).await;
    let li = citizen(&app, "13811112010", "李四", ID_2).await;
    let small = pdf_of_size(KEPT_IN_DATABASE_UP_TO);
    let large = pdf_of_size(KEPT_IN_DATABASE_UP_TO + 1);
    let mut ids = Vec::new();
    for bytes in [&small, &large] {
        let (status, file) =
            json_of(upload(&app, &zhang, "application/pdf", None, bytes).await).await;
        assert_eq!(status, 201, "{file}");
        ids.push(file["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        kept_bytes(&app, &small).await.as_deref(),
        Some(small.as_slice())
    );
    assert!(
        !in_blob_store(&app, &small).await,
        "a small file is not written to the blob store"
    );
    assert_eq!(kept_bytes(&app, &large).await, None);
    assert!(
        in_blob_store(&app, &large).await,
        "a larger file is in the blob store"
    );

    // Another owner's same small bytes: a file of their own, the bytes kept once.
    let (status, file) = json_of(upload(&app, &li, "application/pdf", None, &small).await).await;
    assert_eq!(status, 201, "{file}");
    let copies: i64 = app
        .db()
        .await
        .query_one("SELECT count(*) FROM material_bytes", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(copies, 1);

    for (id, bytes) in ids.iter().zip([&small, &large]) {
        let response = app
            .with_token(Method::GET, &format!("/api/v1/me/files/{id}"), &zhang.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.bytes().await.unwrap().as_ref(), bytes.as_slice());
    }
    let lacking: i64 = app
        .db()
        .await
        .query_one(
            "SELECT count(*) FROM material_file f
             WHERE f.size_bytes <= $1
               AND NOT EXISTS (SELECT 1 FROM material_bytes b WHERE b.sha256 = f.sha256)",
            &[&(KEPT_IN_DATABASE_UP_TO as i64)],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(lacking, 0, "every small file's row has its bytes");
    app.stop().await;
}

/// Uploads arriving together go into the database in shared statements (a group insert): each
/// still gets its own row, the same bytes twice in one burst are one file, and two owners'
/// identical bytes stay two files.
#[tokio::test]
async fn uploads_at_once_each_get_their_row_and_repeats_in_the_same_burst_find_it() {
    let app = spawn_app().await;
    let zhang = citizen(&app, "13811112011", "张三", ID_1).await;
    let li = citizen(&app, "13811112012", "李四", ID_2).await;
    let distinct: Vec<Vec<u8>> = (0..12)
        .map(|i| format!("%PDF-1.4\n% burst file {i}\n%%EOF\n").into_bytes())
        .collect();
    // Zhang's twelve files, his first four again, and Li's copies of those four: all at once.
    let mut burst: Vec<(&Applicant, &[u8])> = distinct.iter().map(|b| (&zhang, &b[..])).collect();
    burst.extend(distinct[..4].iter().map(|b| (&zhang, &b[..])));
    burst.extend(distinct[..4].iter().map(|b| (&li, &b[..])));
    let answers = futures_util::future::join_all(burst.iter().map(|(who, bytes)| async {
        json_of(upload(&app, who, "application/pdf", None, bytes).await).await
    }))
    .await;

    let mut ids: std::collections::HashMap<(&str, String), Vec<(u16, String)>> = Default::default();
    for ((who, bytes), (status, file)) in burst.iter().zip(&answers) {
        assert!(*status == 201 || *status == 200, "{status}: {file}");
        assert_eq!(file["sha256"], sha256_hex(bytes));
        ids.entry((who.subject.as_str(), sha256_hex(bytes)))
            .or_default()
            .push((*status, file["id"].as_str().unwrap().to_owned()));
    }
    assert_eq!(ids.len(), 16, "twelve files of Zhang's, four of Li's");
    for (key, answers) in &ids {
        let created = answers.iter().filter(|(status, _)| *status == 201).count();
        assert_eq!(
            created, 1,
            "{key:?}: one upload created the file: {answers:?}"
        );
        assert!(
            answers.iter().all(|(_, id)| *id == answers[0].1),
            "{key:?}: every upload of the same bytes names the same file: {answers:?}"
        );
    }
    assert_eq!(rows_of(&app, &zhang.subject).await, 12);
    assert_eq!(rows_of(&app, &li.subject).await, 4);
    let zhangs_first = &ids[&(zhang.subject.as_str(), sha256_hex(&distinct[0]))][0].1;
    let lis_first = &ids[&(li.subject.as_str(), sha256_hex(&distinct[0]))][0].1;
    assert_ne!(
        zhangs_first, lis_first,
        "the same bytes are two owners' two files"
    );
}

/// The group insert itself: rows queued together come back inserted or already on file, and a
/// batch the database refuses (here one row breaks the content-type CHECK) is not retried as a
/// batch: every row in it is handed back to be inserted alone, so the good rows still land.
#[tokio::test]
async fn a_refused_batch_hands_every_row_back_to_be_inserted_alone() {
    use fingertip::cases::file_rows::{FileRowWriter, NewFileRow, Outcome};
    let app = spawn_app().await;
    let pool = fingertip::db::pool_for(app.database.connection_string.parse().unwrap(), 2).unwrap();
    // One slot: rows queued while it is busy go in together.
    let writer = FileRowWriter::start(pool, 1);
    let row = |owner: &str, n: u8, content_type: &'static str| NewFileRow {
        id: uuid::Uuid::new_v4(),
        owner: owner.to_owned(),
        sha256: hex::encode([n; 32]),
        size_bytes: 10,
        content_type,
        file_name: None,
        kept_bytes: None,
    };
    let kind = |outcome: &Outcome| match outcome {
        Outcome::Inserted(_) => "inserted",
        Outcome::Conflict => "conflict",
        Outcome::InsertAlone => "alone",
    };

    let first = writer.insert(row("citizen:a", 1, "application/pdf")).await;
    assert_eq!(kind(&first), "inserted");
    let outcomes = futures_util::future::join_all([
        writer.insert(row("citizen:a", 1, "application/pdf")),
        writer.insert(row("citizen:a", 2, "application/pdf")),
        writer.insert(row("citizen:b", 1, "application/pdf")),
    ])
    .await;
    let kinds: Vec<&str> = outcomes.iter().map(kind).collect();
    assert_eq!(kinds, ["conflict", "inserted", "inserted"]);

    let outcomes = futures_util::future::join_all([
        writer.insert(row("citizen:c", 1, "application/pdf")),
        writer.insert(row("citizen:c", 2, "text/plain")),
    ])
    .await;
    let kinds: Vec<&str> = outcomes.iter().map(kind).collect();
    assert!(
        kinds == ["inserted", "alone"] || kinds == ["alone", "alone"],
        "a good row goes in by itself or is handed back with the bad one, never lost: {kinds:?}"
    );
    assert_eq!(rows_of(&app, "citizen:a").await, 2);
    assert_eq!(rows_of(&app, "citizen:b").await, 1);
    assert_eq!(
        rows_of(&app, "citizen:c").await,
        i64::from(kinds[0] == "inserted"),
        "nothing of the refused batch was written"
    );
}

#[tokio::test]
async fn a_file_is_what_its_bytes_say_and_refused_uploads_store_nothing() {
    let app = spawn_app().await;
    let zhang = citizen(&app, "13811112002", "张三", ID_1).await;

    let body = expect_problem(
        upload(&app, &zhang, "application/pdf", None, PNG).await,
        415,
        "file_type_mismatch",
    )
    .await;
    assert!(body["title"].as_str().unwrap().contains("类型"), "{body}");
    expect_problem(
        upload(&app, &zhang, "application/ofd", None, &docx()).await,
        415,
        "file_type_mismatch",
    )
    .await;
    expect_problem(
        upload(
            &app,
            &zhang,
            "application/ofd",
            None,
            &zip(&[("Doc_0/OFD.xml", b"<x/>")]),
        )
        .await,
        415,
        "file_type_mismatch",
    )
    .await;
    expect_problem(
        upload(&app, &zhang, "image/png", None, JPEG).await,
        415,
        "file_type_mismatch",
    )
    .await;
    expect_problem(
        upload(&app, &zhang, "image/jpeg", None, b"GIF89a....").await,
        415,
        "file_type_mismatch",
    )
    .await;
    for content_type in [
        "application/zip",
        "application/octet-stream",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "text/plain",
    ] {
        expect_problem(
            upload(&app, &zhang, content_type, None, PDF).await,
            415,
            "file_type_unsupported",
        )
        .await;
    }
    expect_problem(
        upload_to(
            &app,
            "/api/v1/me/files",
            Some(&zhang.token),
            None,
            None,
            PDF,
        )
        .await,
        415,
        "file_type_unsupported",
    )
    .await;
    expect_problem(
        upload(&app, &zhang, "application/pdf", None, b"").await,
        400,
        "empty_file",
    )
    .await;
    let too_long = "a".repeat(201);
    for bad_name in [
        "..%2Fetc%2Fpasswd",
        "a%5Cb.pdf",
        "%E8%90.pdf",
        "%ZZ.pdf",
        "%00.pdf",
        too_long.as_str(),
    ] {
        let body = expect_problem(
            upload(&app, &zhang, "application/pdf", Some(bad_name), PDF).await,
            422,
            "invalid_file_name",
        )
        .await;
        assert_eq!(body["field"], "X-File-Name", "{bad_name}: {body}");
    }
    // Exactly 200 characters (Chinese, percent-encoded) is fine.
    let longest = "%E8%90%A5".repeat(200);
    let (status, body) =
        json_of(upload(&app, &zhang, "application/pdf", Some(&longest), PDF).await).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["file_name"].as_str().unwrap().chars().count(), 200);
    assert_eq!(rows_of(&app, &zhang.subject).await, 1);
    app.stop().await;
}

#[tokio::test]
async fn files_belong_to_their_owner_and_need_an_applicant_login() {
    let app = spawn_app().await;
    let zhang = citizen(&app, "13811112003", "张三", ID_1).await;
    let li = citizen(&app, "13811112004", "李四", ID_2).await;
    let (status, mine) = json_of(upload(&app, &zhang, "application/pdf", None, PDF).await).await;
    assert_eq!(status, 201, "{mine}");
    let id = mine["id"].as_str().unwrap();

    // Another citizen: not found, not forbidden; not in their list.
    let path = format!("/api/v1/me/files/{id}");
    let response = app
        .with_token(Method::GET, &path, &li.token)
        .send()
        .await
        .unwrap();
    expect_problem(response, 404, "file_not_found").await;
    let (status, theirs) = list(&app, &li.token).await;
    assert_eq!(status, 200);
    assert_eq!(theirs["files"], json!([]));
    for bad in ["not-a-uuid", &uuid::Uuid::new_v4().to_string()] {
        let response = app
            .with_token(
                Method::GET,
                &format!("/api/v1/me/files/{bad}"),
                &zhang.token,
            )
            .send()
            .await
            .unwrap();
        expect_problem(response, 404, "file_not_found").await;
    }
    // The same bytes are a file of their own for another owner.
    let (status, own) = json_of(upload(&app, &li, "application/pdf", None, PDF).await).await;
    assert_eq!(status, 201, "{own}");
    assert_ne!(own["id"], mine["id"]);
    assert_eq!(own["sha256"], mine["sha256"]);

    // No login: 401, and nothing is read or stored.
    expect_problem(
        upload_to(
            &app,
            "/api/v1/me/files",
            None,
            Some("application/pdf"),
            None,
            PDF,
        )
        .await,
        401,
        "unauthorized",
    )
    .await;
    expect_problem(app.get("/api/v1/me/files").await, 401, "unauthorized").await;
    expect_problem(app.get(&path).await, 401, "unauthorized").await;
    // Staff are not applicants.
    let (status, _) = list(&app, &app.admin_token).await;
    assert_eq!(status, 403);
    expect_problem(
        upload_to(
            &app,
            "/api/v1/me/files",
            Some(&app.admin_token),
            Some("application/pdf"),
            None,
            PDF,
        )
        .await,
        403,
        "applicant_only",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn the_list_says_which_materials_each_file_was_handed_in_for() {
    let app = spawn_demo_app().await;
    let zhang = citizen(&app, "13811112005", "张三", ID_1).await;
    let (_, licence) = json_of(upload(&app, &zhang, "application/pdf", None, PDF).await).await;
    let (_, photo) = json_of(upload(&app, &zhang, "image/jpeg", None, JPEG).await).await;
    let licence_id: uuid::Uuid = licence["id"].as_str().unwrap().parse().unwrap();

    // Two cases that used the licence (twice for one key), as the case service will record.
    let db = app.db().await;
    for _ in 0..2 {
        let case_id = uuid::Uuid::new_v4();
        db.execute(
            "INSERT INTO cases (id, region_code, item_id, item_code, item_version, item_name,
                 lead_department_id, channel, applicant_kind, applicant_subject, applicant_name,
                 applicant_id_masked, applicant_tail_mac, submitted_by, form, state, stage,
                 department_ids, limit_working_days, instant)
             SELECT $1, i.region_code, i.id, i.code, v.version, v.name, i.lead_department_id,
                 'online', 'citizen', $2, '张三', '110105**********2X', '\\x00'::bytea, $2,
                 '{}', '{}', 'submitted', v.department_ids, 20, false
             FROM item i JOIN item_version v ON v.item_id = i.id LIMIT 1",
            &[&case_id, &zhang.subject],
        )
        .await
        .unwrap();
        for key in ["business_licence", "lease_contract"] {
            db.execute(
                "INSERT INTO case_material (id, case_id, region_code, material_key, file_id, supplied_in)
                 SELECT $1, $2, region_code, $3, $4, 'submission' FROM cases WHERE id = $2",
                &[&uuid::Uuid::new_v4(), &case_id, &key, &licence_id],
            )
            .await
            .unwrap();
        }
    }
    let (status, listed) = list(&app, &zhang.token).await;
    assert_eq!(status, 200, "{listed}");
    let files = listed["files"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{listed}");
    assert_eq!(files[0]["id"], photo["id"]);
    assert_eq!(files[0]["used_for"], json!([]));
    assert_eq!(files[1]["id"], licence["id"]);
    assert_eq!(
        files[1]["used_for"],
        json!(["business_licence", "lease_contract"])
    );
    // Uploading it again says so too.
    let (status, again) = json_of(upload(&app, &zhang, "application/pdf", None, PDF).await).await;
    assert_eq!(status, 200);
    assert_eq!(
        again["used_for"],
        json!(["business_licence", "lease_contract"])
    );
    app.stop().await;
}

/// Sends `chunks` as a chunked body over a raw connection (reqwest sends a length for every
/// body it can); returns the status and the response text.
async fn chunked_upload(app: &TestApp, token: &str, chunks: &[&[u8]]) -> (u16, String) {
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /api/v1/me/files HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/pdf\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let mut request = head.into_bytes();
    for chunk in chunks {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    // The server may answer and close before reading everything: a failed write is fine.
    let _ = stream.write_all(&request).await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test]
async fn uploads_have_their_own_limit_and_every_other_body_keeps_the_global_one() {
    let app = spawn_app_with(|c| {
        c.max_body_bytes = 1024;
        c.cases.max_material_bytes = 8192;
    })
    .await;
    let zhang = citizen(&app, "13811112006", "张三", ID_1).await;

    // Above the global limit, within the material limit: accepted, up to the exact limit.
    let (status, body) =
        json_of(upload(&app, &zhang, "application/pdf", None, &pdf_of_size(4096)).await).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) =
        json_of(upload(&app, &zhang, "application/pdf", None, &pdf_of_size(8192)).await).await;
    assert_eq!(status, 201, "{body}");
    let body = expect_problem(
        upload(&app, &zhang, "application/pdf", None, &pdf_of_size(8193)).await,
        413,
        "file_too_large",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("8192"), "{body}");

    // Streamed without a length: cut off at the limit all the same.
    let part = pdf_of_size(3000);
    let (status, text) = chunked_upload(&app, &zhang.token, &[&part, &[b'%'; 3000]]).await;
    assert_eq!(status, 201, "{text}");
    let (status, text) =
        chunked_upload(&app, &zhang.token, &[&part, &[b'%'; 3000], &[b'%'; 3000]]).await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("file_too_large"), "{text}");
    assert_eq!(rows_of(&app, &zhang.subject).await, 3);

    // The window's upload too.
    create_department(&app, "LIM-A").await;
    let clerk = staff_member(&app, "lim.clerk", "window_clerk", Some("LIM-A")).await;
    let window = "/api/v1/window/files";
    let pdf = pdf_of_size(8192);
    let (status, body) = json_of(
        upload_to(
            &app,
            window,
            Some(&clerk),
            Some("application/pdf"),
            None,
            &pdf,
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    expect_problem(
        upload_to(
            &app,
            window,
            Some(&clerk),
            Some("application/pdf"),
            None,
            &pdf_of_size(8193),
        )
        .await,
        413,
        "file_too_large",
    )
    .await;

    // Any other route keeps the global limit.
    let big = json!({"platform": "fcm", "token": "t".repeat(2000)});
    let response = app
        .with_token(Method::POST, "/api/v1/me/devices", &zhang.token)
        .json(&big)
        .send()
        .await
        .unwrap();
    expect_problem(response, 413, "payload_too_large").await;
    app.stop().await;
}

#[tokio::test]
async fn window_clerks_digitise_paper_under_their_own_name_and_nobody_else_may() {
    let app = spawn_app().await;
    create_department(&app, "WIN-A").await;
    let clerk_id = create_staff(&app, "win.clerk", "window_clerk", Some("WIN-A")).await;
    let clerk = log_in(&app, "win.clerk").await;
    let reviewer = staff_member(&app, "win.reviewer", "reviewer", Some("WIN-A")).await;
    let zhang = citizen(&app, "13811112007", "张三", ID_1).await;
    let path = "/api/v1/window/files";

    let (status, scan) = json_of(
        upload_to(
            &app,
            path,
            Some(&clerk),
            Some("image/png"),
            Some("scan-1.png"),
            PNG,
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{scan}");
    assert_eq!(scan["content_type"], "image/png");
    assert_eq!(scan["file_name"], "scan-1.png");
    let owner = format!("staff:{clerk_id}");
    assert_eq!(rows_of(&app, &owner).await, 1);
    let (status, again) =
        json_of(upload_to(&app, path, Some(&clerk), Some("image/png"), None, PNG).await).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"], scan["id"]);
    // The same checks as the app's upload.
    expect_problem(
        upload_to(&app, path, Some(&clerk), Some("application/pdf"), None, PNG).await,
        415,
        "file_type_mismatch",
    )
    .await;
    expect_problem(
        upload_to(&app, path, Some(&clerk), Some("application/pdf"), None, b"").await,
        400,
        "empty_file",
    )
    .await;

    expect_problem(
        upload_to(
            &app,
            path,
            Some(&reviewer),
            Some("application/pdf"),
            None,
            PDF,
        )
        .await,
        403,
        "not_a_window_clerk",
    )
    .await;
    expect_problem(
        upload_to(
            &app,
            path,
            Some(&zhang.token),
            Some("application/pdf"),
            None,
            PDF,
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    expect_problem(
        upload_to(&app, path, None, Some("application/pdf"), None, PDF).await,
        401,
        "unauthorized",
    )
    .await;
    assert_eq!(rows_of(&app, &zhang.subject).await, 0);
    // A clerk is not an applicant: the app's files are not theirs to use.
    expect_problem(
        upload_to(
            &app,
            "/api/v1/me/files",
            Some(&clerk),
            Some("application/pdf"),
            None,
            PDF,
        )
        .await,
        403,
        "applicant_only",
    )
    .await;
    app.stop().await;
}
