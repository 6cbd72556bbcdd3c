//! Cases that end without a licence: rejection at pre-review, a denial with its reasons and
//! remedies (and two deciders at once), the applicant's withdrawal.

use reqwest::Method;
use serde_json::json;

use crate::support::fixtures::{
    ID_1, act, applicant_with_case, call, ready_for_decision, set_up, staff_member,
};
use crate::support::spawn_app;

#[tokio::test]
async fn rejection_needs_a_reason_and_ends_the_case() {
    let app = spawn_app().await;
    let cast = set_up(&app).await;
    let (token, case) = applicant_with_case(&app, "13900139008", ID_1).await;
    let id = case["id"].as_str().unwrap();
    let (status, blank) = call(
        &app,
        &cast.clerk,
        Method::POST,
        &format!("/api/v1/staff/cases/{id}/reject"),
        json!({"reason": " "}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(blank["code"], "reject_reason_blank");
    assert_eq!(blank["errors"][0]["field"], "reason");
    let case = act(
        &app,
        &cast.clerk,
        id,
        "reject",
        json!({"reason": "申请事项不属于本机关职权范围"}),
    )
    .await;
    assert_eq!(case["stage"], "rejected");
    assert_eq!(
        case["stage_details"]["reason"],
        "申请事项不属于本机关职权范围"
    );
    assert!(case["acceptance_number"].is_null());
    let (status, closed) = call(
        &app,
        &token,
        Method::POST,
        &format!("/api/v1/me/cases/{id}/withdraw"),
        json!({}),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(closed["code"], "case_closed");
    app.stop().await;
}

#[tokio::test]
async fn a_denial_carries_reasons_and_remedies_and_two_deciders_at_once_get_one_win_and_one_409() {
    let app = spawn_app().await;
    let cast = set_up(&app).await;
    let second = staff_member(&app, "c.approver2", "approver", Some("DA-SCJG")).await;
    let (_, case) = applicant_with_case(&app, "13900139009", ID_1).await;
    let id = case["id"].as_str().unwrap();
    let case = ready_for_decision(&app, &cast, id).await;
    let revision = case["revision"].clone();
    let (status, body) = call(
        &app,
        &cast.approver,
        Method::POST,
        &format!("/api/v1/staff/cases/{id}/deny"),
        json!({"reasons": "场所不符合要求", "remedies": "不服可以申诉"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "remedies_incomplete");

    let deny_path = format!("/api/v1/staff/cases/{id}/deny");
    let approve_path = format!("/api/v1/staff/cases/{id}/approve");
    let deny = call(
        &app,
        &cast.approver,
        Method::POST,
        &deny_path,
        json!({"reasons": "经营场所与食品安全要求不符", "revision": revision}),
    );
    let approve = call(
        &app,
        &second,
        Method::POST,
        &approve_path,
        json!({"revision": revision}),
    );
    let ((a, denied), (b, approved)) = tokio::join!(deny, approve);
    let mut statuses = [a, b];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{denied} {approved}");
    let loser = if a == 409 { &denied } else { &approved };
    assert!(
        ["case_revision_conflict", "case_closed"].contains(&loser["code"].as_str().unwrap()),
        "{loser}"
    );
    if a == 200 {
        assert_eq!(denied["stage"], "decided_denied");
        let remedies = denied["stage_details"]["remedies"].as_str().unwrap();
        assert!(
            remedies.contains("六十日") && remedies.contains("六个月"),
            "{remedies}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn the_applicant_withdraws_and_the_reason_if_given_is_not_blank() {
    let app = spawn_app().await;
    set_up(&app).await;
    let (token, case) = applicant_with_case(&app, "13900139010", ID_1).await;
    let id = case["id"].as_str().unwrap();
    let (status, blank) = call(
        &app,
        &token,
        Method::POST,
        &format!("/api/v1/me/cases/{id}/withdraw"),
        json!({"reason": ""}),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(blank["code"], "withdraw_reason_blank");
    let (status, case) = call(
        &app,
        &token,
        Method::POST,
        &format!("/api/v1/me/cases/{id}/withdraw"),
        json!({"reason": "材料需重新准备"}),
    )
    .await;
    assert_eq!(status, 200, "{case}");
    assert_eq!(case["stage"], "withdrawn");
    app.stop().await;
}
