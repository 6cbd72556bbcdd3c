//! Health, readiness, metrics and request ids.

use fingertip::calendar::model::{Calendar, official_2025, official_2026};
use fingertip::config::Secret;
use serde_json::json;

use crate::catalog::{complete_draft, create_departments, create_item, publish_item};
use crate::support::{
    TestApp, expect_problem, spawn_app, spawn_app_official_calendar, spawn_app_with,
};

#[tokio::test]
async fn health_and_readiness_answer_ok_on_a_migrated_database() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/healthz").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    app.stop().await;
}

#[tokio::test]
async fn readiness_fails_when_a_migration_is_missing() {
    let app = spawn_app().await;
    app.db()
        .await
        .execute(
            "DELETE FROM schema_migrations WHERE name = '0004_catalog.sql'",
            &[],
        )
        .await
        .unwrap();
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "migrations pending");
    app.stop().await;
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_sane_client_id_is_echoed() {
    let app = spawn_app().await;
    let generated = app.get("/healthz").await;
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 32, "generated id {id}");
    let echoed = app
        .http
        .get(app.url("/api/v1/items/NOPE-NOPE"))
        .header("x-request-id", "app-req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "app-req-42");
    let injected = app
        .http
        .get(app.url("/healthz"))
        .header("x-request-id", "bad id\" with quotes")
        .send()
        .await
        .unwrap();
    assert_ne!(injected.headers()["x-request-id"], "bad id\" with quotes");
    app.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern_and_status() {
    let app = spawn_app().await;
    app.get("/api/v1/calendar/deadline?from=2026-02-13&working_days=1")
        .await;
    app.get("/api/v1/items/NO-SUCH-ITEM").await;
    app.get("/definitely/not/a/route").await;
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains(r#"fingertip_http_requests_total{method="GET",route="/api/v1/calendar/deadline",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"fingertip_http_requests_total{method="GET",route="/api/v1/items/:param0",status="404"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(
        text.contains("fingertip_http_request_duration_seconds_bucket"),
        "{text}"
    );
    app.stop().await;
}

#[tokio::test]
async fn with_a_metrics_token_only_a_scraper_presenting_it_reads_the_metrics() {
    const TOKEN: &str = "scrape-0123456789abcdef0123456789";
    let app = spawn_app_with(|c| c.metrics_token = Some(Secret::new(TOKEN))).await;
    let scrape = |authorization: Option<&str>| {
        let mut request = app.http.get(app.url("/metrics"));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.send()
    };
    for refused in [
        None,
        Some("Bearer scrape-0123456789abcdef012345678"),
        Some(&*format!("Basic {TOKEN}")),
        Some(&*format!("Bearer {TOKEN}x")),
    ] {
        let response = scrape(refused).await.unwrap();
        assert_eq!(response.status(), 401, "{refused:?}");
        expect_problem(response, 401, "metrics_token_required").await;
    }
    for accepted in [format!("Bearer {TOKEN}"), format!("bearer {TOKEN}")] {
        let response = scrape(Some(&accepted)).await.unwrap();
        assert_eq!(response.status(), 200, "{accepted}");
        let text = response.text().await.unwrap();
        assert!(text.contains("fingertip_http_requests_total"), "{text}");
    }
    // The other operations endpoints stay open: load balancers probe them without a token.
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 200);
    app.stop().await;
}

/// The value of an unlabelled gauge in the Prometheus text.
async fn gauge(app: &TestApp, name: &str) -> i64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn metrics_show_how_far_the_calendar_reaches_beside_the_longest_promised_limit() {
    // Only the official calendars (2025, 2026): the reach is what is left of the last one.
    let app = spawn_app_official_calendar().await;
    let official = Calendar::new([official_2025(), official_2026()]);
    let today = fingertip::cases::service::today();
    assert_eq!(
        gauge(&app, "fingertip_calendar_working_days_ahead").await,
        i64::from(official.working_days_ahead(today))
    );
    let longest = "fingertip_catalog_longest_promised_limit_working_days";
    assert_eq!(gauge(&app, longest).await, 0, "no item published yet");

    create_departments(&app).await;
    publish_item(
        &app,
        "DA-SCJG-001",
        "DA-SCJG",
        complete_draft("食品经营许可"),
    )
    .await;
    let mut longer = complete_draft("食品生产许可");
    longer["promised_limit_days"] = json!(15);
    publish_item(&app, "DA-SCJG-002", "DA-SCJG", longer).await;
    // A draft promises nothing yet.
    let mut draft = complete_draft("未发布事项");
    draft["promised_limit_days"] = json!(18);
    create_item(&app, "DA-SCJG-003", "DA-SCJG", draft).await;
    assert_eq!(gauge(&app, longest).await, 15);
    app.stop().await;
}
