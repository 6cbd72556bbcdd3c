//! Sessions: refresh tokens rotate and a reused one ends the session, logout of one device or
//! all, a session revoked elsewhere stops working at once, tokens of another key or tampered
//! are refused.

use reqwest::Method;
use serde_json::json;

use crate::support::fixtures::{ID_1, ID_2, json_of, post, register_citizen};
use crate::support::{expect_problem, spawn_app, staff_login};

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_ends_the_session() {
    let app = spawn_app().await;
    let login = register_citizen(&app, "13400134000", "钱七", ID_2).await;
    let first_refresh = login["refresh_token"].as_str().unwrap().to_owned();
    let (status, rotated) = json_of(
        post(
            &app,
            "/api/v1/auth/refresh",
            json!({"refresh_token": first_refresh}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    assert_ne!(rotated["refresh_token"], login["refresh_token"]);
    assert_eq!(rotated["session_id"], login["session_id"]);
    let access = rotated["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.with_token(Method::GET, "/api/v1/me", &access)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // The old refresh token again: someone copied it. The whole session ends.
    let reuse = post(
        &app,
        "/api/v1/auth/refresh",
        json!({"refresh_token": first_refresh}),
    )
    .await;
    expect_problem(reuse, 401, "refresh_token_reused").await;
    let newest = post(
        &app,
        "/api/v1/auth/refresh",
        json!({"refresh_token": rotated["refresh_token"]}),
    )
    .await;
    expect_problem(newest, 401, "session_revoked").await;
    expect_problem(
        app.with_token(Method::GET, "/api/v1/me", &access)
            .send()
            .await
            .unwrap(),
        401,
        "session_revoked",
    )
    .await;
    let garbage = post(
        &app,
        "/api/v1/auth/refresh",
        json!({"refresh_token": "rt_nothing"}),
    )
    .await;
    expect_problem(garbage, 401, "refresh_token_invalid").await;
    app.stop().await;
}

#[tokio::test]
async fn logout_ends_one_session_and_logout_all_ends_every_device() {
    let app = spawn_app().await;
    let a = staff_login(
        &app.http,
        &app.address,
        crate::support::ADMIN_USERNAME,
        crate::support::ADMIN_PASSWORD,
    )
    .await;
    let b = staff_login(
        &app.http,
        &app.address,
        crate::support::ADMIN_USERNAME,
        crate::support::ADMIN_PASSWORD,
    )
    .await;
    assert_eq!(
        app.with_token(Method::POST, "/api/v1/auth/logout", &a)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    expect_problem(
        app.with_token(Method::GET, "/api/v1/me", &a)
            .send()
            .await
            .unwrap(),
        401,
        "session_revoked",
    )
    .await;
    assert_eq!(
        app.with_token(Method::GET, "/api/v1/me", &b)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (status, ended) = json_of(
        app.with_token(Method::POST, "/api/v1/auth/logout-all", &b)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(ended["sessions_ended"].as_u64().unwrap() >= 2, "{ended}");
    expect_problem(
        app.with_token(Method::GET, "/api/v1/me", &b)
            .send()
            .await
            .unwrap(),
        401,
        "session_revoked",
    )
    .await;
    expect_problem(
        app.admin(Method::GET, "/api/v1/me").send().await.unwrap(),
        401,
        "session_revoked",
    )
    .await;
    app.stop().await;
}

/// The gate remembers a citizen's live session between requests while it hears the database's
/// revocation announcements; a revocation made anywhere else (another instance, an
/// administrator's SQL) is announced and ends the session here at once. Remembering lasts 300 s
/// by default; the test waits at most 5.
#[tokio::test]
async fn a_session_revoked_elsewhere_stops_working_at_once() {
    let app = spawn_app().await;
    let started = std::time::Instant::now();
    while !app
        .get("/metrics")
        .await
        .text()
        .await
        .unwrap()
        .contains("fingertip_session_revocations_listening 1")
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "not listening"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let login = register_citizen(&app, "13300133000", "孙八", ID_1).await;
    let access = login["access_token"].as_str().unwrap().to_owned();
    let me = || async {
        app.with_token(Method::GET, "/api/v1/me", &access)
            .send()
            .await
            .unwrap()
    };
    assert_eq!(me().await.status(), 200);
    let session: uuid::Uuid = login["session_id"].as_str().unwrap().parse().unwrap();
    let db = app.db().await;

    // Revoked with the announcement switched off (triggers do not fire for a replica): the
    // remembered session still works, which shows the request is answered from memory.
    db.batch_execute("SET session_replication_role = replica")
        .await
        .unwrap();
    db.execute(
        "UPDATE auth_session SET revoked_at = now(), revoked_reason = 'silent' WHERE id = $1",
        &[&session],
    )
    .await
    .unwrap();
    assert_eq!(me().await.status(), 200, "answered from memory");

    // Announced: forgotten at once, and the database says it has ended.
    db.batch_execute("SET session_replication_role = origin")
        .await
        .unwrap();
    db.execute(
        "UPDATE auth_session SET revoked_at = now() WHERE id = $1",
        &[&session],
    )
    .await
    .unwrap();
    let revoked = std::time::Instant::now();
    loop {
        let response = me().await;
        if response.status() == 401 {
            expect_problem(response, 401, "session_revoked").await;
            break;
        }
        assert_eq!(response.status(), 200);
        assert!(
            revoked.elapsed() < std::time::Duration::from_secs(5),
            "the revoked session still works"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn tokens_from_another_key_or_tampered_are_refused() {
    let app = spawn_app().await;
    let mut parts: Vec<String> = app.admin_token.split('.').map(str::to_owned).collect();
    // Another valid base64url character in the middle of the signature.
    let mut signature: Vec<char> = parts[2].chars().collect();
    signature[20] = if signature[20] == 'A' { 'B' } else { 'A' };
    parts[2] = signature.into_iter().collect();
    let tampered = parts.join(".");
    expect_problem(
        app.with_token(Method::GET, "/api/v1/me", &tampered)
            .send()
            .await
            .unwrap(),
        401,
        "token_invalid",
    )
    .await;
    expect_problem(
        app.with_token(Method::GET, "/api/v1/me", "not-a-token")
            .send()
            .await
            .unwrap(),
        401,
        "token_malformed",
    )
    .await;
    app.stop().await;
}
