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
