//! The working-day calendar over HTTP, and the migration's data against the model's.

use reqwest::Method;
use serde_json::json;

use crate::support::{expect_problem, spawn_app};

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
    let app = spawn_app().await;
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
async fn a_year_not_published_counts_provisionally_and_says_so() {
    let app = spawn_app().await;
    // Wednesday 2026-12-30 + 5: Thu 31, then 2027 provisionally: Fri 1/1, Mon 1/4..Wed 1/6.
    let (status, body) = app
        .get_json("/api/v1/calendar/deadline?from=2026-12-30&working_days=5")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["deadline"], "2027-01-06");
    assert_eq!(body["provisional"], true);
    let basis = body["provisional_basis"].as_str().unwrap();
    assert!(basis.contains("2027年节假日安排尚未公布"), "{basis}");
    assert!(basis.contains("以国务院公布的节假日安排为准"), "{basis}");
    // Within the published years: official, no basis.
    let (_, body) = app
        .get_json("/api/v1/calendar/deadline?from=2026-03-02&working_days=5")
        .await;
    assert_eq!(body["provisional"], false);
    assert!(body.get("provisional_basis").is_none(), "{body}");
    // Listing a year that is not loaded is still a 404.
    expect_problem(
        app.get("/api/v1/calendar/2027").await,
        404,
        "year_not_loaded",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn the_year_listing_shows_the_official_days() {
    let app = spawn_app().await;
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
    let app = spawn_app().await;
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
    let app = spawn_app().await;
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
        (422, Some("adjusted_day_not_weekend")),
        "{body}"
    );
    let wrong_year = json!({"year": 2029, "source": "测试", "days_off": [{"date": "2030-01-01"}], "adjusted_working_days": []});
    let (status, _) = app
        .admin_json(Method::POST, "/api/v1/admin/calendar", &wrong_year)
        .await;
    assert_eq!(status, 422);
    app.stop().await;
}

fn notice_2027(days_off: serde_json::Value, adjusted: serde_json::Value) -> serde_json::Value {
    json!({
        "year": 2027,
        "source": "国务院办公厅关于2027年部分节假日安排的通知（测试数据）",
        "document_number": "测试〔2026〕1号",
        "notice_date": "2026-11-10",
        "days_off": days_off,
        "adjusted_working_days": adjusted,
    })
}

#[tokio::test]
async fn admins_load_and_correct_a_year_by_its_notice_and_every_version_is_kept() {
    let app = spawn_app().await;
    let path = "/api/v1/admin/calendar/2027";
    let first = notice_2027(json!([{"date": "2027-01-01", "note": "元旦"}]), json!([]));
    let (status, body) = app.admin_json(Method::PUT, path, &first).await;
    assert_eq!((status, &body["version"]), (201, &json!(1)), "{body}");
    // Thursday 2026-12-31 + 1: 1/1 off now, Sat 2 and Sun 3 off: Monday 1/4, officially.
    let (_, body) = app
        .get_json("/api/v1/calendar/deadline?from=2026-12-31&working_days=1")
        .await;
    assert_eq!(
        (&body["deadline"], &body["provisional"]),
        (&json!("2027-01-04"), &json!(false))
    );
    // A correction: Sunday 1/3 worked in exchange.
    let corrected = notice_2027(
        json!([{"date": "2027-01-01", "note": "元旦"}]),
        json!([{"date": "2027-01-03", "note": "调休上班"}]),
    );
    let (status, body) = app.admin_json(Method::PUT, path, &corrected).await;
    assert_eq!((status, &body["version"]), (200, &json!(2)), "{body}");
    assert_eq!(deadline(&app, "2026-12-31", 1).await, "2027-01-03");
    let (status, body) = app.get_json("/api/v1/calendar/2027").await;
    assert_eq!((status, &body["version"]), (200, &json!(2)), "{body}");
    assert_eq!(body["document_number"], "测试〔2026〕1号");
    let response = app
        .admin(Method::GET, &format!("{path}/versions"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let versions: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        versions["versions"].as_array().unwrap().len(),
        2,
        "{versions}"
    );
    assert_eq!(versions["versions"][0]["days"].as_array().unwrap().len(), 1);
    // Both loads are audited.
    let audited: i64 = app
        .db()
        .await
        .query_one(
            "SELECT count(*) FROM audit_record WHERE aggregate_type = 'calendar' AND aggregate_id = '2027'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, 2);
    app.stop().await;
}

/// PUTs `body` to `path` as the administrator, expecting a 422 `code` on `field`.
async fn refused_put(
    app: &crate::support::TestApp,
    path: &str,
    body: &serde_json::Value,
    code: &str,
    field: &str,
) {
    let response = app
        .admin(Method::PUT, path)
        .json(body)
        .send()
        .await
        .unwrap();
    let problem = expect_problem(response, 422, code).await;
    assert_eq!(problem["errors"][0]["field"], field, "{problem}");
}

#[tokio::test]
async fn bad_loads_are_422s_that_name_the_date_never_500s() {
    let app = spawn_app().await;
    let path = "/api/v1/admin/calendar/2027";
    let twice = notice_2027(
        json!([{"date": "2027-01-01"}, {"date": "2027-01-01"}]),
        json!([]),
    );
    refused_put(&app, path, &twice, "duplicate_date", "days_off[1].date").await;
    let both = notice_2027(
        json!([{"date": "2027-01-02"}]),
        json!([{"date": "2027-01-02"}]),
    );
    let field = "adjusted_working_days[0].date";
    refused_put(&app, path, &both, "date_on_both_lists", field).await;
    let mut unsourced = notice_2027(json!([]), json!([]));
    unsourced.as_object_mut().unwrap().remove("document_number");
    refused_put(&app, path, &unsourced, "required", "document_number").await;
    let other_year = "/api/v1/admin/calendar/2028";
    let body = notice_2027(json!([]), json!([]));
    refused_put(&app, other_year, &body, "year_mismatch", "year").await;
    // The POST route refuses repeats within a list the same way.
    let response = app
        .admin(Method::POST, "/api/v1/admin/calendar")
        .json(&twice)
        .send()
        .await
        .unwrap();
    expect_problem(response, 422, "duplicate_date").await;
    // Nothing was loaded.
    expect_problem(
        app.get("/api/v1/calendar/2027").await,
        404,
        "year_not_loaded",
    )
    .await;
    app.stop().await;
}
