//! Bad input of every kind gets a 4xx problem+json with a stable code and, where it applies,
//! the offending field — never a 500.

use reqwest::Method;
use serde_json::json;

use crate::support::{expect_problem, spawn_app};

#[tokio::test]
async fn malformed_json_is_a_400_invalid_json() {
    let app = spawn_app().await;
    let response = app
        .admin(Method::POST, "/api/v1/admin/departments")
        .header("content-type", "application/json")
        .body("{\"code\": \"X\", ")
        .send()
        .await
        .unwrap();
    expect_problem(response, 400, "invalid_json").await;
    app.stop().await;
}

#[tokio::test]
async fn wrong_types_and_unknown_enum_values_name_the_field() {
    let app = spawn_app().await;
    let wrong_type = app
        .admin(Method::POST, "/api/v1/admin/departments")
        .json(&json!({"code": "A-1", "name": 42, "level": "county", "region_code": "220882"}))
        .send()
        .await
        .unwrap();
    let body = expect_problem(wrong_type, 400, "invalid_body").await;
    assert_eq!(body["field"], "name");

    let unknown_enum = app
        .admin(Method::POST, "/api/v1/admin/departments")
        .json(&json!({"code": "A-1", "name": "某局", "level": "galaxy", "region_code": "220882"}))
        .send()
        .await
        .unwrap();
    let body = expect_problem(unknown_enum, 400, "invalid_body").await;
    assert_eq!(body["field"], "level");

    let nested = app
        .admin(Method::POST, "/api/v1/admin/items")
        .json(&json!({"code": "ITEM-0001", "lead_department_code": "X", "draft": {"materials": [{"copies": -1}]}}))
        .send()
        .await
        .unwrap();
    let body = expect_problem(nested, 400, "invalid_body").await;
    assert_eq!(body["field"], "draft.materials[0].copies");

    let unknown_field = app
        .admin(Method::POST, "/api/v1/admin/departments")
        .json(&json!({"code": "A-1", "name": "某局", "level": "county", "region_code": "220882", "colour": "red"}))
        .send()
        .await
        .unwrap();
    expect_problem(unknown_field, 400, "invalid_body").await;
    app.stop().await;
}

#[tokio::test]
async fn bad_query_and_path_parameters_name_the_parameter() {
    let app = spawn_app().await;
    let body = expect_problem(
        app.get("/api/v1/calendar/deadline?from=2026-13-01&working_days=3")
            .await,
        400,
        "invalid_parameter",
    )
    .await;
    assert_eq!(body["field"], "from");
    let body = expect_problem(
        app.get("/api/v1/calendar/deadline?from=2026-01-05&working_days=-1")
            .await,
        400,
        "invalid_parameter",
    )
    .await;
    assert_eq!(body["field"], "working_days");
    let body = expect_problem(
        app.get("/api/v1/calendar/deadline?from=2026-01-05").await,
        400,
        "invalid_parameter",
    )
    .await;
    assert_eq!(body["field"], "working_days");
    let body = expect_problem(
        app.get("/api/v1/calendar/twenty").await,
        400,
        "invalid_parameter",
    )
    .await;
    assert_eq!(body["field"], "year");
    let body = expect_problem(
        app.get("/api/v1/items?category=spaceflight").await,
        400,
        "invalid_parameter",
    )
    .await;
    assert_eq!(body["field"], "category");
    let body = expect_problem(
        app.get("/api/v1/items?limit=1000").await,
        400,
        "invalid_parameter",
    )
    .await;
    assert_eq!(body["field"], "limit");
    let body = expect_problem(
        app.get("/api/v1/items?cursor=%%%").await,
        400,
        "invalid_parameter",
    )
    .await;
    assert_eq!(body["field"], "cursor");
    app.stop().await;
}

#[tokio::test]
async fn oversized_bodies_wrong_media_types_and_unknown_routes_are_4xx_problems() {
    let app = spawn_app().await;
    let huge = "x".repeat(app.config.max_body_bytes + 1);
    let response = app
        .admin(Method::POST, "/api/v1/admin/departments")
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    expect_problem(response, 413, "payload_too_large").await;

    let response = app
        .admin(Method::POST, "/api/v1/admin/departments")
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    expect_problem(response, 415, "unsupported_media_type").await;

    expect_problem(app.get("/no/such/route").await, 404, "route_not_found").await;
    let response = app.http.delete(app.url("/healthz")).send().await.unwrap();
    expect_problem(response, 405, "method_not_allowed").await;
    app.stop().await;
}

#[tokio::test]
async fn the_admin_api_refuses_missing_and_wrong_tokens() {
    let app = spawn_app().await;
    let body = json!({"code": "A-1", "name": "某局", "level": "county", "region_code": "220882"});
    let none = app
        .http
        .post(app.url("/api/v1/admin/departments"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    let wrong = app
        .http
        .post(app.url("/api/v1/admin/departments"))
        .bearer_auth(format!("{}x", app.admin_token))
        .json(&body)
        .send()
        .await
        .unwrap();
    expect_problem(wrong, 401, "token_malformed").await;
    app.stop().await;
}

#[tokio::test]
async fn a_logged_out_admin_token_is_refused_at_once() {
    let app = spawn_app().await;
    let logout = app
        .admin(Method::POST, "/api/v1/auth/logout")
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    let response = app
        .admin(Method::POST, "/api/v1/admin/departments")
        .json(&json!({"code": "A-1", "name": "某局", "level": "county", "region_code": "220882"}))
        .send()
        .await
        .unwrap();
    expect_problem(response, 401, "session_revoked").await;
    app.stop().await;
}

/// A client that opens a connection and never finishes its request (or goes quiet between
/// requests) does not hold the connection: it is closed after `http_idle_timeout_seconds`.
#[tokio::test]
async fn a_connection_that_never_finishes_its_request_is_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = crate::support::spawn_app_with(|c| c.http_idle_timeout_seconds = 1).await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stalled = tokio::net::TcpStream::connect(&address).await.unwrap();
    stalled
        .write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buffer = [0u8; 64];
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stalled.read(&mut buffer),
    )
    .await
    .expect("the server closes the stalled connection");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "closed without an answer: {read:?}"
    );
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "not before the idle timeout: {:?}",
        started.elapsed()
    );
    // Other clients are served as before.
    assert_eq!(app.get("/readyz").await.status(), 200);
    app.stop().await;
}

/// A client that trickles its request head in, never quiet long enough for the idle timeout
/// (slowloris), is cut off `http_header_timeout_seconds` after the head began; a request whose
/// head arrives whole may take longer than that over its body.
#[tokio::test]
async fn a_request_head_that_trickles_in_is_cut_off_but_a_slow_body_is_not() {
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = crate::support::spawn_app_with(|c| c.http_header_timeout_seconds = 1).await;
    assert_eq!(app.config.http_idle_timeout_seconds, 60);
    let address = app.address.trim_start_matches("http://").to_owned();

    let (mut reader, mut writer) = tokio::net::TcpStream::connect(&address)
        .await
        .unwrap()
        .into_split();
    writer
        .write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buffer = [0u8; 256];
    let closed = loop {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "a trickling head still holds its connection after 10 s"
        );
        tokio::select! {
            read = reader.read(&mut buffer) => break read,
            () = tokio::time::sleep(Duration::from_millis(200)) => {
                // One more header byte: the connection is never quiet.
                if writer.write_all(b"a").await.is_err() {
                    break Ok(0);
                }
            }
        }
    };
    assert!(
        matches!(closed, Ok(0) | Err(_)),
        "closed without an answer: {closed:?} {:?}",
        String::from_utf8_lossy(&buffer)
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "not before the head deadline: {:?}",
        started.elapsed()
    );

    // A whole head, then a body at a few bytes every quarter second for about 2.5 s.
    let body = br#"{"username":"nobody.here","password":"not-the-password"}"#;
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /api/v1/auth/staff/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    for chunk in body.chunks(6) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        slow.write_all(chunk).await.unwrap();
    }
    assert!(started.elapsed() > Duration::from_secs(2));
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("\r\n\r\n") {
        let read = tokio::time::timeout(Duration::from_secs(10), slow.read(&mut buffer))
            .await
            .expect("an answer to the slow body")
            .unwrap();
        assert!(read > 0, "closed before answering: {answer:?}");
        answer.extend_from_slice(&buffer[..read]);
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 401"),
        "the login was heard and refused: {answer}"
    );
    app.stop().await;
}

/// What the connection answers to `request` sent raw, up to the server's close.
async fn raw_answer(address: &str, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    // The server may answer and close before the whole request is in.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("the server answers and closes");
    String::from_utf8_lossy(&answer).into_owned()
}

/// Requests hyper refuses before any handler sees them (a request line that is not HTTP, a
/// URI or a head too long) get a problem+json answer with a code like every other 4xx, not
/// an empty body.
#[tokio::test]
async fn requests_refused_before_routing_get_a_problem_with_a_code() {
    let app = crate::support::spawn_app().await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000));
    let long_head = format!(
        "GET /readyz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "b".repeat(600_000)
    );
    for (request, status, code) in [
        (
            b"NOT HTTP AT ALL\r\n\r\n".to_vec(),
            400,
            "malformed_request",
        ),
        (long_uri.into_bytes(), 414, "uri_too_long"),
        (long_head.into_bytes(), 431, "request_head_too_large"),
    ] {
        let answer = raw_answer(&address, &request).await;
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        assert!(
            head.starts_with(&format!("HTTP/1.1 {status} ")),
            "status {status}: {head}"
        );
        let lower = head.to_ascii_lowercase();
        assert!(
            lower.contains("content-type: application/problem+json"),
            "{head}"
        );
        assert!(
            lower.contains(&format!("content-length: {}\r\n", body.len()))
                || lower.ends_with(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["status"], status, "{body}");
        assert_eq!(problem["code"], code, "{body}");
        assert!(problem["title"].as_str().is_some_and(|t| !t.is_empty()));
    }
    // The server still serves.
    assert_eq!(app.get("/readyz").await.status(), 200);
    app.stop().await;
}
