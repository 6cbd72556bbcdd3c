//! The item changes under open cases: a cancellation another instance made while this one still
//! had the item cached, a new version that cases keep theirs through and applicants are told
//! about, and a cancelled item's case that can no longer be approved.

use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::support::fixtures::{
    ID_1, ITEM, act, applicant_with_case, apply, both_materials, call, citizen, complete_draft,
    my_case, my_case_ids, ready_for_decision, set_up,
};
use crate::support::spawn_app;

/// Another instance cancels the item while this one still has it cached (the catalog's cache
/// lives 30 s): a new application is refused with 409 `item_version_changed` and makes no
/// case, and a retry of an application made before still gets its case.
#[tokio::test]
async fn an_item_cancelled_meanwhile_refuses_new_applications_but_replays_earlier_ones() {
    let app = spawn_app().await;
    set_up(&app).await;
    let token = citizen(&app, "13900139012", "赵六", ID_1).await;
    let materials = both_materials(&app, &token).await;
    let key = Uuid::new_v4().to_string();
    let (first, made) = apply(&app, &token, &key, materials.clone()).await;
    assert_eq!(first, 201, "{made}");
    app.db()
        .await
        .batch_execute(&format!(
            "UPDATE item SET status = 'cancelled', cancel_reason = '另一实例撤销' WHERE code = '{ITEM}'"
        ))
        .await
        .unwrap();
    let fresh = Uuid::new_v4().to_string();
    let (status, refused) = apply(&app, &token, &fresh, materials.clone()).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["code"], "item_version_changed");
    let (again, replayed) = apply(&app, &token, &key, materials).await;
    assert_eq!(again, 200, "{replayed}");
    assert_eq!(replayed["id"], made["id"]);
    assert_eq!(my_case_ids(&app, &token).await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_new_item_version_tells_applicants_what_changed_and_their_case_keeps_its_version() {
    let app = spawn_app().await;
    set_up(&app).await;
    let phone = "13900139040";
    let (token, case) = applicant_with_case(&app, phone, ID_1).await;
    let id = case["id"].as_str().unwrap();
    let mut draft = complete_draft("食品经营许可");
    draft["promised_limit_days"] = json!(8);
    let (status, body) = app
        .admin_json(
            Method::PUT,
            &format!("/api/v1/admin/items/{ITEM}/draft"),
            &json!({"revision": 1, "draft": draft}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .admin_json(
            Method::POST,
            &format!("/api/v1/admin/items/{ITEM}/publish"),
            &json!({"revision": body["draft_revision"]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let db = app.db().await;
    let changes: String = db
        .query_one("SELECT variables->>'changes' FROM notification WHERE template_key = 'case.item_changed' AND phone = $1", &[&phone])
        .await.unwrap().get(0);
    assert_eq!(changes, "承诺时限");
    let (_, mine) = my_case(&app, &token, id).await;
    assert_eq!(mine["item_version"], 1);
    assert_eq!(mine["limit_working_days"], 10);
    app.stop().await;
}

/// An item cancelled while a case of it waits for its decision: the approval is refused with
/// 409 `item_cancelled` (nothing is issued, the case stays where it was), and the approver
/// terminates the case with the cancellation as the reason.
#[tokio::test]
async fn a_case_of_a_cancelled_item_cannot_be_approved_and_is_terminated_instead() {
    let app = spawn_app().await;
    let cast = set_up(&app).await;
    let (_token, case) = applicant_with_case(&app, "13900139041", ID_1).await;
    let id = case["id"].as_str().unwrap();
    ready_for_decision(&app, &cast, id).await;
    let (status, body) = app
        .admin_json(
            Method::POST,
            &format!("/api/v1/admin/items/{ITEM}/cancel"),
            &json!({"reason": "事项依法取消"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // Flagged at once: the handlers see it on the timeline, the applicant is told (must reach).
    let (_, flagged) = call(
        &app,
        &cast.approver,
        Method::GET,
        &format!("/api/v1/staff/cases/{id}"),
        json!(null),
    )
    .await;
    let flag = flagged["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "item_cancelled")
        .unwrap_or_else(|| panic!("{}", flagged["timeline"]));
    assert_eq!(flag["details"]["reason"], "事项依法取消");
    let told: (String, bool) = {
        let row = app
            .db()
            .await
            .query_one(
                "SELECT variables->>'reason', must_reach FROM notification
                 WHERE template_key = 'case.item_cancelled' AND phone = '13900139041'",
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(told, ("事项依法取消".to_owned(), true));

    let approve = format!("/api/v1/staff/cases/{id}/approve");
    let (status, refused) = call(&app, &cast.approver, Method::POST, &approve, json!({})).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["code"], "item_cancelled");
    assert_eq!(refused["title"], "该事项已取消，不能再作出准予决定");
    assert!(
        refused["detail"].as_str().unwrap().contains("事项依法取消"),
        "{refused}"
    );
    let db = app.db().await;
    let documents: i64 = db
        .query_one(
            "SELECT count(*) FROM case_document WHERE case_id = $1::text::uuid AND kind IN ('approval_decision', 'licence')",
            &[&id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(documents, 0, "a refused approval issues nothing");

    let terminated = act(
        &app,
        &cast.approver,
        id,
        "terminate",
        json!({"reason": "事项已依法取消，终止办理"}),
    )
    .await;
    assert_eq!(terminated["stage"], "terminated");
    app.stop().await;
}

/// A case of a cancelled item goes on only under a legal basis the approver records: a blank
/// basis is refused, the basis is on the timeline for supervision, and then the approval goes
/// through. Recording one for an item in force is a conflict.
#[tokio::test]
async fn a_case_of_a_cancelled_item_goes_on_only_under_a_recorded_legal_basis() {
    let app = spawn_app().await;
    let cast = set_up(&app).await;
    let (_token, case) = applicant_with_case(&app, "13900139044", ID_1).await;
    let id = case["id"].as_str().unwrap();
    ready_for_decision(&app, &cast, id).await;
    let path = format!("/api/v1/staff/cases/{id}/continue-despite-cancellation");
    let (status, in_force) = call(
        &app,
        &cast.approver,
        Method::POST,
        &path,
        json!({"legal_basis": "过渡规定"}),
    )
    .await;
    assert_eq!(status, 409, "{in_force}");
    assert_eq!(in_force["code"], "item_not_cancelled");
    let (status, _) = app
        .admin_json(
            Method::POST,
            &format!("/api/v1/admin/items/{ITEM}/cancel"),
            &json!({"reason": "事项依法取消"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, blank) = call(
        &app,
        &cast.approver,
        Method::POST,
        &path,
        json!({"legal_basis": "  "}),
    )
    .await;
    assert_eq!(status, 422, "{blank}");
    assert_eq!(blank["code"], "legal_basis_blank");
    let (status, reviewer) = call(
        &app,
        &cast.reviewer,
        Method::POST,
        &path,
        json!({"legal_basis": "过渡规定"}),
    )
    .await;
    assert_eq!(status, 403, "{reviewer}");
    let basis = "《关于取消部分行政许可事项的决定》第三条：已受理的申请按原规定办结";
    let case = act(
        &app,
        &cast.approver,
        id,
        "continue-despite-cancellation",
        json!({"legal_basis": basis}),
    )
    .await;
    let recorded = case["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "continued_despite_cancellation")
        .unwrap();
    assert_eq!(recorded["details"]["legal_basis"], basis);
    let case = act(&app, &cast.approver, id, "approve", json!({})).await;
    assert_eq!(case["stage"], "decided_approved");
    app.stop().await;
}
