//! Acceptance with a non-key material still pending (容缺受理) and the applicant's commitment:
//! the decision waits until the material is supplied.

use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::support::fixtures::{
    ID_1, ITEM, PDF, PNG, act, apply, call, citizen, complete_draft, create_departments,
    create_seals, publish_item, staff_member, upload,
};
use crate::support::spawn_app;

#[tokio::test]
async fn acceptance_with_a_pending_material_and_a_commitment_blocks_approval_until_it_is_supplied()
{
    let app = spawn_app().await;
    create_departments(&app).await;
    create_seals(&app, "DA-SCJG").await;
    let mut draft = complete_draft("食品经营许可");
    draft["materials"][1]["key_material"] = json!(false);
    publish_item(&app, ITEM, "DA-SCJG", draft).await;
    let clerk = staff_member(&app, "d.clerk", "window_clerk", Some("DA-SCJG")).await;
    let reviewer = staff_member(&app, "d.reviewer", "reviewer", Some("DA-SCJG")).await;
    let health = staff_member(&app, "d.health", "reviewer", Some("DA-WJ")).await;
    let approver = staff_member(&app, "d.approver", "approver", Some("DA-SCJG")).await;
    let token = citizen(&app, "13900139050", "冯二", ID_1).await;
    let form = upload(&app, &token, PDF, "application/pdf").await;
    // The non-key business licence may be missing at application.
    let (status, case) = apply(
        &app,
        &token,
        &Uuid::new_v4().to_string(),
        json!([{"material_key": "application_form", "file_ids": [form]}]),
    )
    .await;
    assert_eq!(status, 201, "{case}");
    let id = case["id"].as_str().unwrap();
    let due = app.today() + chrono::Duration::days(10);
    let (status, body) = call(
        &app,
        &clerk,
        Method::POST,
        &format!("/api/v1/staff/cases/{id}/accept"),
        json!({"deferred": [{"material_key": "application_form", "due": due}]}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "deferred_key_material");
    let case = act(
        &app,
        &clerk,
        id,
        "accept",
        json!({"deferred": [{"material_key": "business_licence", "due": due}], "commitment": true}),
    )
    .await;
    assert_eq!(case["acceptance"]["commitment"], true);
    assert_eq!(
        case["acceptance"]["pending"][0]["material"],
        "business_licence"
    );
    assert_eq!(case["applicant_todo"], "supply_deferred");
    act(
        &app,
        &reviewer,
        id,
        "complete-step",
        json!({"department_code": "DA-SCJG", "step": "审查"}),
    )
    .await;
    act(
        &app,
        &health,
        id,
        "complete-step",
        json!({"department_code": "DA-WJ", "step": "卫生审查"}),
    )
    .await;
    act(
        &app,
        &reviewer,
        id,
        "complete-step",
        json!({"department_code": "DA-SCJG", "step": "现场核查"}),
    )
    .await;
    let (status, body) = call(
        &app,
        &approver,
        Method::POST,
        &format!("/api/v1/staff/cases/{id}/approve"),
        json!({}),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(body["code"], "deferred_materials_pending");
    let licence = upload(&app, &token, PNG, "image/png").await;
    let (status, case) = call(
        &app,
        &token,
        Method::POST,
        &format!("/api/v1/me/cases/{id}/deferred-materials"),
        json!({"material_key": "business_licence", "file_ids": [licence]}),
    )
    .await;
    assert_eq!(status, 200, "{case}");
    assert!(case["applicant_todo"].is_null());
    assert!(
        case["materials"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["supplied_in"] == "deferred")
    );
    let case = act(&app, &approver, id, "approve", json!({})).await;
    assert_eq!(case["stage"], "decided_approved");
    app.stop().await;
}
