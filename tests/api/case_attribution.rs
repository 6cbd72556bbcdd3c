//! Who acted, on every timeline event [000 art.13, 34]: staff, supervisors and observers see the
//! staff member by name and department, and for an AB backup (AB岗) whom they stood in for; the
//! applicant sees the role and the department only; the public progress query names no one. A
//! refusal by role names the role needed; a refused date names its limit.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::fixtures::{
    ID_1, ITEM, accepted_case, act, actor_of, applicant_with_case, call, designate_backup, json_of,
    log_in, my_case, named_staff, post, ready_for_decision, set_up, staff_member,
};
use crate::support::{TestApp, expect_problem, spawn_app};

const SCJG_NAME: &str = "大安市市场监督管理局";

async fn staff_view(app: &TestApp, token: &str, id: &str) -> Value {
    let (status, case) = call(
        app,
        token,
        Method::GET,
        &format!("/api/v1/staff/cases/{id}"),
        json!(null),
    )
    .await;
    assert_eq!(status, 200, "{case}");
    case
}

#[tokio::test]
async fn a_reviewer_is_named_to_staff_shown_by_department_to_the_applicant_and_unnamed_in_public() {
    let app = spawn_app().await;
    let cast = set_up(&app).await;
    let reviewer_id = named_staff(&app, "c.named", "李审查", "reviewer", "DA-SCJG").await;
    let reviewer = log_in(&app, "c.named").await;
    let observer = staff_member(&app, "c.observer", "observer", None).await;
    let (token, case) = accepted_case(&app, &cast, "13900139301", ID_1).await;
    let id = case["id"].as_str().unwrap();
    let completed = act(
        &app,
        &reviewer,
        id,
        "complete-step",
        json!({"department_code": "DA-SCJG", "step": "审查"}),
    )
    .await;

    let named = json!({
        "role": "reviewer", "department_code": "DA-SCJG", "department_name": SCJG_NAME,
        "account_id": reviewer_id, "display_name": "李审查",
    });
    // The reviewer's own answer, a colleague of the department and an observer alike.
    assert_eq!(actor_of(&completed, "step_completed"), named);
    for viewer in [&cast.clerk, &observer] {
        let seen = staff_view(&app, viewer, id).await;
        assert_eq!(actor_of(&seen, "step_completed"), named);
        let accepted = actor_of(&seen, "accepted");
        assert_eq!(
            (&accepted["role"], &accepted["display_name"]),
            (&json!("window_clerk"), &json!("c.clerk"))
        );
        assert!(accepted["account_id"].is_string(), "{accepted}");
        assert!(accepted.get("on_behalf_of").is_none(), "{accepted}");
        // The platform is `system`; the applicant is named in the case, not on the timeline.
        assert_eq!(actor_of(&seen, "steps_started"), json!({"role": "system"}));
        assert_eq!(actor_of(&seen, "submitted"), json!({"role": "applicant"}));
    }

    // The applicant sees who by role and department, never the person.
    let (status, mine) = my_case(&app, &token, id).await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(
        actor_of(&mine, "step_completed"),
        json!({"role": "reviewer", "department_code": "DA-SCJG", "department_name": SCJG_NAME})
    );
    assert_eq!(actor_of(&mine, "accepted")["role"], "window_clerk");
    let timeline = mine["timeline"].to_string();
    for personal in ["李审查", "c.clerk", reviewer_id.as_str(), "account_id"] {
        assert!(!timeline.contains(personal), "{personal} in {timeline}");
    }

    // The public progress query names no one.
    let number = mine["acceptance_number"].as_str().unwrap();
    let (status, progress) = json_of(
        post(
            &app,
            "/api/v1/public/progress",
            json!({"acceptance_number": number, "id_tail": "31002X"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{progress}");
    let public = progress.to_string();
    for personal in [
        "李审查",
        "c.clerk",
        reviewer_id.as_str(),
        "account_id",
        "actor",
    ] {
        assert!(!public.contains(personal), "{personal} in {public}");
    }
    app.stop().await;
}

#[tokio::test]
async fn an_ab_backup_deciding_for_an_absent_approver_is_shown_with_both_names() {
    let app = spawn_app().await;
    let cast = set_up(&app).await;
    let absent = named_staff(&app, "c.absent", "王审批", "approver", "DA-SCJG").await;
    // The backup's own post is in another department: only the designation lets them decide.
    let backup_id = named_staff(&app, "c.backup", "赵代岗", "reviewer", "OTHER-DEPT").await;
    designate_backup(&app, &absent, &backup_id).await;
    let backup = log_in(&app, "c.backup").await;
    let (token, case) = applicant_with_case(&app, "13900139302", ID_1).await;
    let id = case["id"].as_str().unwrap();
    ready_for_decision(&app, &cast, id).await;
    let approved = act(&app, &backup, id, "approve", json!({})).await;

    let both = json!({
        "role": "approver", "department_code": "DA-SCJG", "department_name": SCJG_NAME,
        "account_id": backup_id, "display_name": "赵代岗",
        "on_behalf_of": {"account_id": absent, "display_name": "王审批"},
    });
    assert_eq!(actor_of(&approved, "approved"), both);
    assert_eq!(
        actor_of(&staff_view(&app, &cast.clerk, id).await, "approved"),
        both
    );
    // Recorded with the event when it was taken, not worked out when it is read.
    let db = app.db().await;
    let row = db
        .query_one(
            "SELECT actor_account_id::text, on_behalf_of_account_id::text FROM case_event
             WHERE case_id = $1::text::uuid AND kind = 'approved'",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, String>(1)),
        (backup_id.clone(), absent.clone())
    );

    let (status, mine) = my_case(&app, &token, id).await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(
        actor_of(&mine, "approved"),
        json!({"role": "approver", "department_code": "DA-SCJG", "department_name": SCJG_NAME})
    );
    let timeline = mine["timeline"].to_string();
    for personal in ["赵代岗", "王审批", backup_id.as_str(), absent.as_str()] {
        assert!(!timeline.contains(personal), "{personal} in {timeline}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_role_is_refused_naming_the_role_needed_and_a_past_date_naming_its_limit() {
    let app = spawn_app().await;
    let cast = set_up(&app).await;
    let (_, case) = applicant_with_case(&app, "13900139303", ID_1).await;
    let id = case["id"].as_str().unwrap();

    // 容缺 with a date already past: the problem names the date given and the earliest allowed.
    let yesterday = app.today() - chrono::Duration::days(1);
    let (status, body) = call(
        &app,
        &cast.clerk,
        Method::POST,
        &format!("/api/v1/staff/cases/{id}/accept"),
        json!({"deferred": [{"material_key": "business_licence", "due": yesterday}],
               "commitment": true}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let due = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["code"] == "deferred_due_past")
        .unwrap_or_else(|| panic!("no deferred_due_past in {body}"));
    assert_eq!(due["field"], "deferred[0].due");
    let detail = due["detail"].as_str().unwrap();
    assert!(
        detail.contains(&yesterday.to_string()) && detail.contains(&app.today().to_string()),
        "{detail}"
    );

    // A reviewer cannot decide: the refusal names the approver's role, department and step.
    ready_for_decision(&app, &cast, id).await;
    let response = app
        .with_token(
            Method::POST,
            &format!("/api/v1/staff/cases/{id}/approve"),
            &cast.reviewer,
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let body = expect_problem(response, 403, "case_action_forbidden").await;
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("需要审批人员（approver）角色") && detail.contains("DA-SCJG"),
        "{detail}"
    );
    assert_eq!(
        body["required_roles"],
        json!([{"role": "approver", "role_name": "审批人员", "department_code": "DA-SCJG",
                "step": "决定"}])
    );

    // Window intake by a reviewer names the window clerk's role.
    let response = app
        .with_token(Method::POST, "/api/v1/window/cases", &cast.reviewer)
        .json(&json!({"item_code": ITEM,
                      "applicant": {"kind": "citizen", "name": "吴十", "id_number": ID_1}}))
        .send()
        .await
        .unwrap();
    let body = expect_problem(response, 403, "not_accepting_clerk").await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("需要窗口受理人员（window_clerk）角色"),
        "{body}"
    );
    assert_eq!(body["required_roles"][0]["role"], "window_clerk");
    assert_eq!(body["required_roles"][0]["department_code"], "DA-SCJG");
    app.stop().await;
}
