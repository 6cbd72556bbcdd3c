//! An accepted case's deadline extended once, within the law, and a case terminated: each
//! needs a reason and the deciding department's approver.

use reqwest::Method;
use serde_json::json;

use crate::support::fixtures::{ID_1, accepted_case, act, call, set_up};
use crate::support::spawn_app;

#[tokio::test]
async fn an_extension_needs_a_reason_and_a_later_working_day_and_termination_a_reason() {
    let app = spawn_app().await;
    let cast = set_up(&app).await;
    let (_, case) = accepted_case(&app, &cast, "13900139060", ID_1).await;
    let id = case["id"].as_str().unwrap();
    let deadline: chrono::NaiveDate = case["deadline"]["deadline"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let (status, body) = call(
        &app,
        &cast.approver,
        Method::POST,
        &format!("/api/v1/staff/cases/{id}/extend"),
        json!({"reason": "", "new_deadline": deadline + chrono::Duration::days(7)}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["code"], "extend_reason_blank");
    let (status, body) = call(
        &app,
        &cast.approver,
        Method::POST,
        &format!("/api/v1/staff/cases/{id}/extend"),
        json!({"reason": "需补充专家意见", "new_deadline": deadline}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "extension_not_later");
    // Within the law: not into the past, not beyond 行政许可法 art. 42's ten working days.
    for (new_deadline, code) in [
        (app.today() - chrono::Duration::days(3), "extension_in_past"),
        (
            deadline + chrono::Duration::days(28),
            "extension_exceeds_allowance",
        ),
    ] {
        let (status, body) = call(
            &app,
            &cast.approver,
            Method::POST,
            &format!("/api/v1/staff/cases/{id}/extend"),
            json!({"reason": "需补充专家意见", "new_deadline": new_deadline}),
        )
        .await;
        assert_eq!((status, body["code"].as_str()), (422, Some(code)), "{body}");
        assert_eq!(body["errors"][0]["field"], "new_deadline", "{body}");
    }
    // The next working day after a week: never a weekend or holiday.
    let mut later = deadline + chrono::Duration::days(7);
    while matches!(later.format("%u").to_string().as_str(), "6" | "7") {
        later += chrono::Duration::days(1);
    }
    let case = act(
        &app,
        &cast.approver,
        id,
        "extend",
        json!({"reason": "需补充专家意见", "new_deadline": later}),
    )
    .await;
    assert_eq!(case["deadline"]["extended"], true);
    assert_eq!(case["deadline"]["deadline"], later.to_string());
    // One extension only.
    let (status, body) = call(
        &app,
        &cast.approver,
        Method::POST,
        &format!("/api/v1/staff/cases/{id}/extend"),
        json!({"reason": "仍需专家意见", "new_deadline": later + chrono::Duration::days(1)}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("extension_limit_reached")),
        "{body}"
    );
    // Only the deciding department's approver extends; reviewers may not.
    let (status, _) = call(
        &app,
        &cast.reviewer,
        Method::POST,
        &format!("/api/v1/staff/cases/{id}/terminate"),
        json!({"reason": "申请人死亡"}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, body) = call(
        &app,
        &cast.approver,
        Method::POST,
        &format!("/api/v1/staff/cases/{id}/terminate"),
        json!({"reason": " "}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["code"], "terminate_reason_blank");
    let case = act(
        &app,
        &cast.approver,
        id,
        "terminate",
        json!({"reason": "申请人主体资格灭失"}),
    )
    .await;
    assert_eq!(case["stage"], "terminated");
    app.stop().await;
}
