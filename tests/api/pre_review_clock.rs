//! 行政许可法 art. 32: corrections are notified at once or within five (working) days, all in
//! one notice; otherwise the application counts as accepted from the day its materials were
//! received. The clerk sees the clock; an acceptance after it ran out records the legal
//! acceptance date (the deadline counts from it) and keeps the fact for supervision.

use reqwest::Method;
use serde_json::json;

use crate::support::fixtures::{
    ID_1, ID_2, act, applicant_with_case, call, log_in, set_up, upload,
};
use crate::support::{restart_at, spawn_app};

#[tokio::test]
async fn an_application_left_in_pre_review_past_five_working_days_counts_as_accepted_on_receipt() {
    let app = spawn_app().await;
    let cast = set_up(&app).await;
    // Monday 2026-11-16: the materials arrive; corrections may be notified until Monday 23rd.
    let (_, late) = applicant_with_case(&app, "13900139041", ID_1).await;
    let late = late["id"].as_str().unwrap().to_owned();
    let (_, answered) = applicant_with_case(&app, "13900139042", ID_2).await;
    let answered = answered["id"].as_str().unwrap().to_owned();
    let (status, case) = call(
        &app,
        &cast.clerk,
        Method::GET,
        &format!("/api/v1/staff/cases/{late}"),
        json!(null),
    )
    .await;
    assert_eq!(status, 200, "{case}");
    assert_eq!(case["pre_review"]["materials_received_on"], "2026-11-16");
    assert_eq!(case["pre_review"]["notify_by"], "2026-11-23");
    assert_eq!(case["pre_review"]["working_days_left"], 5);
    assert_eq!(case["pre_review"]["lapsed"], false);
    // The second case gets its correction notice in time.
    act(
        &app,
        &cast.clerk,
        &answered,
        "correction-notice",
        json!({"missing": [{"material_key": "business_licence", "note": "照片不清晰"}]}),
    )
    .await;

    // Wednesday 25th: the first case's five working days have run out.
    let app = restart_at(app.stop_keeping_data().await, "2026-11-25T10:00:00+08:00").await;
    let clerk = log_in(&app, "c.clerk").await;
    let (_, case) = call(
        &app,
        &clerk,
        Method::GET,
        &format!("/api/v1/staff/cases/{late}"),
        json!(null),
    )
    .await;
    assert_eq!(case["pre_review"]["lapsed"], true, "{}", case["pre_review"]);
    assert_eq!(case["pre_review"]["working_days_left"], -2);
    let case = act(&app, &clerk, &late, "accept", json!({})).await;
    // The legal acceptance date is the day of receipt, and the deadline counts from it: ten
    // working days after Monday 16th is Monday 30th.
    assert_eq!(case["accepted_on"], "2026-11-16");
    assert_eq!(
        case["deadline"]["deadline"], "2026-11-30",
        "{}",
        case["deadline"]
    );
    assert_eq!(case["acceptance"]["deemed"]["accepted_on"], "2026-11-16");
    assert_eq!(case["acceptance"]["deemed"]["notify_by"], "2026-11-23");
    assert!(case.get("pre_review").is_none() || case["pre_review"].is_null());
    let accepted = case["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "accepted")
        .unwrap();
    assert_eq!(accepted["details"]["deemed_accepted_on"], "2026-11-16");
    // The acceptance number is still the day it was issued.
    assert!(
        case["acceptance_number"]
            .as_str()
            .unwrap()
            .contains("20261125"),
        "{}",
        case["acceptance_number"]
    );
    // The case notified in time keeps its clock: no deemed acceptance there.
    let (_, other) = call(
        &app,
        &clerk,
        Method::GET,
        &format!("/api/v1/staff/cases/{answered}"),
        json!(null),
    )
    .await;
    assert_eq!(other["stage"], "awaiting_correction");
    assert!(other.get("pre_review").is_none() || other["pre_review"].is_null());
    app.stop().await;
}

#[tokio::test]
async fn a_correction_answer_restarts_the_clock_and_a_late_notice_is_marked() {
    let app = spawn_app().await;
    set_up(&app).await;
    let (token, case) = applicant_with_case(&app, "13900139043", ID_1).await;
    let id = case["id"].as_str().unwrap().to_owned();
    // Wednesday 25th, late: the notice is still given (the applicant needs it), marked late.
    let app = restart_at(app.stop_keeping_data().await, "2026-11-25T10:00:00+08:00").await;
    let clerk = log_in(&app, "c.clerk").await;
    let case = act(
        &app,
        &clerk,
        &id,
        "correction-notice",
        json!({"missing": [{"material_key": "business_licence", "note": "照片不清晰"}]}),
    )
    .await;
    let notice = case["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "correction_requested")
        .unwrap();
    assert_eq!(notice["details"]["late_notice"], true, "{notice}");
    assert_eq!(notice["details"]["pre_review_notify_by"], "2026-11-23");
    // The answer on Wednesday 25th restarts the clock: until Wednesday 2 December.
    // (Tokens are checked against the outside world's time: the applicant's is still valid.)
    let applicant = token;
    let fixed = upload(
        &app,
        &applicant,
        b"%PDF-1.7\nclearer\n%%EOF",
        "application/pdf",
    )
    .await;
    let (status, answered) = call(
        &app,
        &applicant,
        Method::POST,
        &format!("/api/v1/me/cases/{id}/correction-answer"),
        json!({"materials": [{"material_key": "business_licence", "file_ids": [fixed]}]}),
    )
    .await;
    assert_eq!(status, 200, "{answered}");
    let (_, case) = call(
        &app,
        &clerk,
        Method::GET,
        &format!("/api/v1/staff/cases/{id}"),
        json!(null),
    )
    .await;
    assert_eq!(case["pre_review"]["materials_received_on"], "2026-11-25");
    assert_eq!(case["pre_review"]["notify_by"], "2026-12-02");
    assert_eq!(case["pre_review"]["lapsed"], false);
    let case = act(&app, &clerk, &id, "accept", json!({})).await;
    assert_eq!(case["accepted_on"], "2026-11-25");
    assert!(
        case["acceptance"].get("deemed").is_none(),
        "{}",
        case["acceptance"]
    );
    app.stop().await;
}
