//! Health, readiness, metrics and request ids.

use fingertip::calendar::model::{Calendar, official_2025, official_2026};
use fingertip::secret::Secret;
use serde_json::json;

use crate::support::fixtures::{complete_draft, create_departments, create_item, publish_item};
use crate::support::{TestApp, expect_problem, spawn_app, spawn_app_with};

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
    let app = spawn_app().await;
    let official = Calendar::new([official_2025(), official_2026()]);
    // Monday 2026-11-16: 33 working days to the end of 2026.
    assert_eq!(official.working_days_ahead(app.today()), 33);
    assert_eq!(
        gauge(&app, "fingertip_calendar_working_days_ahead").await,
        i64::from(official.working_days_ahead(app.today()))
    );
    // 33 reach the longest limit (none yet) plus 30: no warning.
    assert_eq!(gauge(&app, "fingertip_calendar_edge_warning").await, 0);
    let (status, ready) = app.get_json("/readyz").await;
    assert_eq!(status, 200);
    assert!(ready.get("warnings").is_none(), "{ready}");
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
    // 33 < 15 + 30: the edge is near. The service stays ready and says why.
    assert_eq!(gauge(&app, "fingertip_calendar_edge_warning").await, 1);
    let (status, ready) = app.get_json("/readyz").await;
    assert_eq!(status, 200, "{ready}");
    let warning = ready["warnings"][0].as_str().unwrap();
    assert!(warning.starts_with("calendar_edge:"), "{warning}");
    assert!(warning.contains("33 working days ahead"), "{warning}");

    // The watch looks at start: platform admins get a must-reach notice, once a week.
    let start = "2026-11-16T10:00:00+08:00";
    let app = crate::support::restart_at(app.stop_keeping_data().await, start).await;
    let warned = |app: &TestApp| {
        let connection = app.database.connection_string.clone();
        async move {
            let (client, conn) = tokio_postgres::connect(&connection, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            for _ in 0..200 {
                let n: i64 = client
                    .query_one(
                        "SELECT count(*) FROM notification
                          WHERE template_key = 'admin.calendar_edge' AND owner LIKE 'staff:%'",
                        &[],
                    )
                    .await
                    .unwrap()
                    .get(0);
                if n > 0 {
                    return n;
                }
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            0
        }
    };
    assert_eq!(warned(&app).await, 1, "one admin, one notice");
    let app =
        crate::support::restart_at(app.stop_keeping_data().await, "2026-11-19T10:00:00+08:00")
            .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(warned(&app).await, 1, "not again within the week");
    app.stop().await;
}
