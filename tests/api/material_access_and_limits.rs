//! Who may upload and see material files (each owner only their own; window clerks digitise
//! paper under their own name), and the upload routes' own size limit, independent of the
//! global body limit.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::fixtures::material_files::*;
use crate::support::fixtures::{ID_1, ID_2, create_department, create_staff, log_in, staff_member};
use crate::support::{TestApp, expect_problem, spawn_app, spawn_app_with};

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
