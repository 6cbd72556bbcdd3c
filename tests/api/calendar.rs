//! The working-day calendar over HTTP, and the migration's data against the model's.

use reqwest::Method;
use serde_json::json;

use crate::support::{expect_problem, spawn_app_official_calendar};

async fn deadline(app: &crate::support::TestApp, from: &str, days: u32) -> String {
    let (status, body) = app
        .get_json(&format!(
            "/api/v1/calendar/deadline?from={from}&working_days={days}"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    body["deadline"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn deadlines_skip_holidays_and_count_adjusted_working_days() {
    let app = spawn_app_official_calendar().await;
    // Spring Festival 2026: 2/15–2/23 off, Saturday 2/14 and Saturday 2/28 worked.
    assert_eq!(deadline(&app, "2026-02-13", 1).await, "2026-02-14");
    assert_eq!(deadline(&app, "2026-02-14", 1).await, "2026-02-24");
    assert_eq!(deadline(&app, "2026-02-12", 5).await, "2026-02-26");
    // National Day 2026: 10/1–10/7 off, Saturday 10/10 worked.
    assert_eq!(deadline(&app, "2026-09-30", 1).await, "2026-10-08");
    assert_eq!(deadline(&app, "2026-09-30", 3).await, "2026-10-10");
    // Across the year boundary: 2026-01-01..03 off, Sunday 2026-01-04 worked.
    assert_eq!(deadline(&app, "2025-12-31", 1).await, "2026-01-04");
    // Instant items: the acceptance day itself.
    assert_eq!(deadline(&app, "2026-03-02", 0).await, "2026-03-02");
    app.stop().await;
}

#[tokio::test]
async fn a_year_that_is_not_loaded_is_an_error_never_a_guess() {
    let app = spawn_app_official_calendar().await;
    let body = expect_problem(
        app.get("/api/v1/calendar/deadline?from=2026-12-30&working_days=5")
            .await,
        422,
        "year_not_loaded",
    )
    .await;
    assert_eq!(body["field"], "from");
    expect_problem(
        app.get("/api/v1/calendar/2027").await,
        404,
        "year_not_loaded",
    )
    .await;
    expect_problem(
        app.get("/api/v1/calendar/deadline?from=2024-06-03&working_days=1")
            .await,
        422,
        "year_not_loaded",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn the_year_listing_shows_the_official_days() {
    let app = spawn_app_official_calendar().await;
    let (status, body) = app.get_json("/api/v1/calendar/2026").await;
    assert_eq!(status, 200);
    let adjusted: Vec<&str> = body["adjusted_working_days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["date"].as_str().unwrap())
        .collect();
    assert_eq!(
        adjusted,
        [
            "2026-01-04",
            "2026-02-14",
            "2026-02-28",
            "2026-05-09",
            "2026-09-20",
            "2026-10-10"
        ]
    );
    let days_off = body["days_off"].as_array().unwrap();
    assert!(
        days_off
            .iter()
            .any(|d| d["date"] == "2026-02-17" && d["note"] == "春节"),
        "{body}"
    );
    assert!(body["source"].as_str().unwrap().contains("2025"), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn the_migrated_data_equals_the_official_calendar_in_the_model() {
    use fingertip::calendar::model::{official_2025, official_2026};
    let app = spawn_app_official_calendar().await;
    let client = app.db().await;
    for official in [official_2025(), official_2026()] {
        let rows = client
            .query(
                "SELECT day, kind FROM calendar_day WHERE year = $1 ORDER BY day",
                &[&official.year],
            )
            .await
            .unwrap();
        let off: Vec<chrono::NaiveDate> = rows
            .iter()
            .filter(|r| r.get::<_, &str>(1) == "day_off")
            .map(|r| r.get(0))
            .collect();
        let worked: Vec<chrono::NaiveDate> = rows
            .iter()
            .filter(|r| r.get::<_, &str>(1) != "day_off")
            .map(|r| r.get(0))
            .collect();
        assert_eq!(
            off,
            official.days_off.iter().copied().collect::<Vec<_>>(),
            "{}",
            official.year
        );
        assert_eq!(
            worked,
            official
                .adjusted_working_days
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            "{}",
            official.year
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn admins_load_a_further_year_once() {
    let app = spawn_app_official_calendar().await;
    let year = json!({
        "year": 2027,
        "source": "测试通知",
        "days_off": [{"date": "2027-01-01", "note": "元旦"}],
        "adjusted_working_days": [{"date": "2027-01-03", "note": "调休上班"}]
    });
    let (status, body) = app
        .admin_json(Method::POST, "/api/v1/admin/calendar", &year)
        .await;
    assert_eq!(status, 201, "{body}");
    // Friday 2026-12-31 + 1 → Jan 1 off, Sat 2 off, Sun 3 worked.
    assert_eq!(deadline(&app, "2026-12-31", 1).await, "2027-01-03");
    let (status, body) = app
        .admin_json(Method::POST, "/api/v1/admin/calendar", &year)
        .await;
    assert_eq!((status, body["code"].as_str()), (409, Some("year_exists")));

    let weekday_as_adjusted = json!({
        "year": 2028, "source": "测试", "days_off": [],
        "adjusted_working_days": [{"date": "2028-01-05"}]
    });
    let (status, body) = app
        .admin_json(Method::POST, "/api/v1/admin/calendar", &weekday_as_adjusted)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("invalid_calendar")),
        "{body}"
    );
    let wrong_year = json!({"year": 2029, "source": "测试", "days_off": [{"date": "2030-01-01"}], "adjusted_working_days": []});
    let (status, _) = app
        .admin_json(Method::POST, "/api/v1/admin/calendar", &wrong_year)
        .await;
    assert_eq!(status, 422);
    app.stop().await;
}
