//! One online case from start to finish, the platform's main story: application → one-time
//! correction → acceptance → parallel steps in two departments → suspension → approval, with
//! the timeline, the audit chain and every notice reaching the applicant's phone by SMS.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::fake_aliyun::FakeAliyun;
use crate::support::fixtures::{
    ID_1, PDF, act, applicant_with_case, call, kinds, my_case, set_up, upload,
};
use crate::support::{TestApp, spawn_app_with};

/// Waits until every notice in `wanted` has been sent to `owner_phone`.
async fn wait_for_templates(app: &TestApp, owner_phone: &str, wanted: &[&str]) {
    let db = app.db().await;
    for _ in 0..200 {
        let rows = db
            .query(
                "SELECT DISTINCT n.template_key FROM notification n JOIN notification_delivery d ON d.notification_id = n.id
                 WHERE n.phone = $1 AND d.status = 'sent'",
                &[&owner_phone],
            )
            .await
            .unwrap();
        let sent: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        if wanted.iter().all(|w| sent.iter().any(|s| s == w)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("notifications {wanted:?} were not all sent to {owner_phone}");
}

/// Aliyun sends only approved templates: gives each `(key, template code)` a new version of the
/// key's newest content with the Aliyun template code.
async fn approve_aliyun_templates(app: &TestApp, approved: &[(&str, &str)]) {
    for (key, template) in approved {
        let (status, body) = app
            .admin_json(
                Method::GET,
                &format!("/api/v1/admin/notification-templates/{key}"),
                &json!(null),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let latest = body
            .as_array()
            .unwrap()
            .iter()
            .max_by_key(|v| v["version"].as_i64())
            .unwrap();
        let mut content = latest["content"].clone();
        content["provider_templates"] = json!({"aliyun": template});
        let (status, body) = app
            .admin_json(
                Method::POST,
                "/api/v1/admin/notification-templates",
                &json!({"key": key, "content": content}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
}

#[tokio::test]
async fn an_online_case_runs_from_application_through_correction_parallel_steps_and_suspension_to_approval()
 {
    let fake = FakeAliyun::start("LTAI5tCases", "cases-secret").await;
    let sms = fake.client_config("指尖办");
    let app = spawn_app_with(move |c| {
        c.notify.sms_provider = fingertip::notify::setup::SmsProvider::Aliyun;
        c.notify.aliyun = Some(sms);
        c.notify.retry_base_seconds = 0.05;
    })
    .await;
    // Aliyun sends only approved templates: register ours.
    approve_aliyun_templates(
        &app,
        &[
            ("identity.otp", "SMS_1000"),
            ("case.submitted", "SMS_1001"),
            ("case.correction_requested", "SMS_1002"),
            ("case.accepted", "SMS_1003"),
            ("case.suspended", "SMS_1004"),
            ("case.resumed", "SMS_1005"),
            ("case.approved", "SMS_1006"),
        ],
    )
    .await;
    let cast = set_up(&app).await;
    let phone = "13900139001";
    let (token, case) = applicant_with_case(&app, phone, ID_1).await;
    let id = case["id"].as_str().unwrap().to_owned();
    assert_eq!(case["stage"], "pre_review");
    assert_eq!(case["item_version"], 1);
    assert_eq!(case["materials"].as_array().unwrap().len(), 2);
    assert_eq!(kinds(&case), ["submitted", "pre_review_started"]);
    for event in case["timeline"].as_array().unwrap() {
        assert_eq!(
            event["recorded_at"], event["occurred_at"],
            "not entered afterwards: one time"
        );
    }
    assert_eq!(case["waiting_on"][0]["role"], "window_clerk");

    // The clerk sees it in the inbox and asks for corrections in ONE notice.
    let (status, inbox) = call(
        &app,
        &cast.clerk,
        Method::GET,
        "/api/v1/staff/inbox",
        json!(null),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        inbox["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["case"]["id"] == id.as_str()),
        "{inbox}"
    );
    // The notice lists materials of the item's list, each with the clerk's note; a key that is
    // not on the list is refused, naming the entry.
    let (status, unknown) = call(
        &app,
        &cast.clerk,
        Method::POST,
        &format!("/api/v1/staff/cases/{id}/correction-notice"),
        json!({"missing": [{"material_key": "safety_rules", "note": "缺少"}]}),
    )
    .await;
    assert_eq!(status, 422, "{unknown}");
    assert_eq!(unknown["errors"][0]["field"], "missing[0].material_key");
    assert_eq!(unknown["errors"][0]["code"], "unknown_material");
    let case = act(
        &app,
        &cast.clerk,
        &id,
        "correction-notice",
        json!({"missing": [
            {"material_key": "business_licence", "note": "照片不清晰"},
            {"material_key": "application_form", "note": "缺少法定代表人签字"}
        ]}),
    )
    .await;
    assert_eq!(case["stage"], "awaiting_correction");
    assert_eq!(case["correction_count"], 1);
    assert_eq!(case["applicant_todo"], "answer_correction");
    // Printed with the materials' names, never their keys.
    assert_eq!(
        case["stage_details"]["missing"],
        json!([
            "营业执照：照片不清晰",
            "食品经营许可申请书：缺少法定代表人签字"
        ])
    );
    assert_eq!(
        case["stage_details"]["correction_items"][1]["material_key"],
        "application_form"
    );

    // The applicant sees what to do and answers in the app.
    let (status, mine) = my_case(&app, &token, &id).await;
    assert_eq!(status, 200);
    assert_eq!(mine["applicant_todo"], "answer_correction");
    let fixed = upload(
        &app,
        &token,
        b"%PDF-1.7\nclearer scan\n%%EOF",
        "application/pdf",
    )
    .await;
    // An answer that leaves out a listed material is refused, naming it.
    let (status, partial) = call(
        &app,
        &token,
        Method::POST,
        &format!("/api/v1/me/cases/{id}/correction-answer"),
        json!({"materials": [{"material_key": "business_licence", "file_ids": [fixed]}]}),
    )
    .await;
    assert_eq!(status, 422, "{partial}");
    assert_eq!(partial["code"], "correction_incomplete");
    assert!(
        partial.to_string().contains("application_form"),
        "{partial}"
    );
    let signed = upload(&app, &token, b"%PDF-1.7\nsigned\n%%EOF", "application/pdf").await;
    let (status, case) = call(
        &app,
        &token,
        Method::POST,
        &format!("/api/v1/me/cases/{id}/correction-answer"),
        json!({"materials": [
            {"material_key": "business_licence", "file_ids": [fixed]},
            {"material_key": "application_form", "file_ids": [signed]}
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{case}");
    assert_eq!(
        case["stage"], "pre_review",
        "the department that asked reviews the answer"
    );
    assert!(
        case["materials"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["supplied_in"] == "correction")
    );

    // Accept: the acceptance number and the deadline; both departments' steps start at once.
    let case = act(&app, &cast.clerk, &id, "accept", json!({})).await;
    assert_eq!(case["stage"], "in_review");
    let number = case["acceptance_number"].as_str().unwrap();
    assert_eq!(number.len(), 21);
    assert!(number.starts_with("220882"), "{number}");
    assert_eq!(case["deadline"]["working_days_used"], 0);
    assert_eq!(case["deadline"]["overdue"], false);
    let running: Vec<&str> = case["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "running")
        .map(|s| s["department_code"].as_str().unwrap())
        .collect();
    assert_eq!(running, ["DA-SCJG", "DA-WJ"], "parallel steps of one stage");

    // The health department sees the shared materials without asking again.
    let (status, seen) = call(
        &app,
        &cast.health_reviewer,
        Method::GET,
        &format!("/api/v1/staff/cases/{id}"),
        json!(null),
    )
    .await;
    assert_eq!(status, 200);
    let material = seen["materials"][0]["id"].as_str().unwrap();
    let download = app
        .with_token(
            Method::GET,
            &format!("/api/v1/staff/cases/{id}/materials/{material}"),
            &cast.health_reviewer,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.bytes().await.unwrap().as_ref(), PDF);

    // A reviewer cannot complete the other department's step.
    let (status, refused) = call(
        &app,
        &cast.reviewer,
        Method::POST,
        &format!("/api/v1/staff/cases/{id}/complete-step"),
        json!({"department_code": "DA-WJ", "step": "卫生审查"}),
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    act(
        &app,
        &cast.health_reviewer,
        &id,
        "complete-step",
        json!({"department_code": "DA-WJ", "step": "卫生审查", "opinion": "符合卫生要求"}),
    )
    .await;

    // Suspend for a site inspection: the clock stops; a suspension without a reason is refused.
    let tomorrow = app.today() + chrono::Duration::days(3);
    let (status, blank) = call(
        &app,
        &cast.reviewer,
        Method::POST,
        &format!("/api/v1/staff/cases/{id}/suspend"),
        json!({"special_step": "site_inspection", "reason": "  ", "expected_end": tomorrow}),
    )
    .await;
    assert_eq!(status, 422, "{blank}");
    assert_eq!(blank["code"], "suspend_reason_blank");
    let case = act(&app, &cast.reviewer, &id, "suspend",
        json!({"special_step": "site_inspection", "reason": "现场核查经营场所", "expected_end": tomorrow})).await;
    assert_eq!(case["stage"], "suspended");
    let case = act(&app, &cast.reviewer, &id, "resume", json!({})).await;
    assert_eq!(case["stage"], "in_review");

    // Approving before every step is done is a conflict; then it goes through.
    let (status, early) = call(
        &app,
        &cast.approver,
        Method::POST,
        &format!("/api/v1/staff/cases/{id}/approve"),
        json!({}),
    )
    .await;
    assert_eq!(status, 409, "{early}");
    assert_eq!(early["code"], "steps_incomplete");
    let case = act(
        &app,
        &cast.reviewer,
        &id,
        "complete-step",
        json!({"department_code": "DA-SCJG", "step": "审查"}),
    )
    .await;
    // The item's site inspection (现场核查, stage 3) runs next, as a step of its own: it counts
    // toward the limit (行政许可法 art. 45 does not name it), and the decision waits for it.
    let inspection = case["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "现场核查")
        .unwrap()
        .clone();
    assert_eq!(inspection["status"], "running", "{inspection}");
    assert_eq!(inspection["special_step"], "site_inspection");
    assert_eq!(inspection["limit_working_days"], 5);
    assert_eq!(inspection["counts_toward_limit"], true);
    assert_eq!(inspection["started_on"], app.today().to_string());
    let (status, early) = call(
        &app,
        &cast.approver,
        Method::POST,
        &format!("/api/v1/staff/cases/{id}/approve"),
        json!({}),
    )
    .await;
    assert_eq!(status, 409, "{early}");
    assert_eq!(early["code"], "steps_incomplete");
    act(
        &app,
        &cast.reviewer,
        &id,
        "complete-step",
        json!({"department_code": "DA-SCJG", "step": "现场核查"}),
    )
    .await;
    let case = act(&app, &cast.approver, &id, "approve", json!({})).await;
    assert_eq!(case["stage"], "decided_approved");
    assert!(case["closed_at"].is_string());
    assert_eq!(case["waiting_on"].as_array().unwrap().len(), 0);
    assert_eq!(
        kinds(&case),
        [
            "submitted",
            "pre_review_started",
            "correction_requested",
            "correction_answered",
            "accepted",
            "steps_started",
            "step_started",
            "step_started",
            "step_completed",
            "suspended",
            "resumed",
            "step_completed",
            "step_started",
            "step_completed",
            "approved"
        ]
    );
    let with_opinion = case["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "step_completed")
        .unwrap();
    assert_eq!(with_opinion["details"]["opinion"], "符合卫生要求");

    // The audit chain has one record per change, and it verifies.
    let db = app.db().await;
    let actions: Vec<String> = db
        .query("SELECT action FROM audit_record WHERE aggregate_type = 'case' AND aggregate_id = $1 ORDER BY seq", &[&id])
        .await.unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(
        actions,
        [
            "case.submit",
            "case.request_correction",
            "case.answer_correction",
            "case.accept",
            "case.complete_step",
            "case.suspend",
            "case.resume",
            "case.complete_step",
            "case.complete_step",
            "case.approve"
        ]
    );
    // Each record's hash is that of its contents and the one before, the first (written with
    // the case, over the database's clock) included.
    let chain = fingertip::audit::history(&db, "case", &id).await.unwrap();
    let mut prev = fingertip::audit::GENESIS_HASH.to_owned();
    for record in &chain {
        assert_eq!(record.prev_hash, prev, "seq {}", record.seq);
        assert_eq!(record.hash, record.computed_hash(), "seq {}", record.seq);
        prev = record.hash.clone();
    }

    // Every notice reached the applicant's phone through the (fake) SMS gateway.
    wait_for_templates(
        &app,
        phone,
        &[
            "case.submitted",
            "case.correction_requested",
            "case.accepted",
            "case.suspended",
            "case.resumed",
            "case.approved",
        ],
    )
    .await;
    let received: Vec<String> = fake
        .received()
        .iter()
        .filter(|s| s.phone == phone)
        .map(|s| s.template_code.clone())
        .collect();
    for code in [
        "SMS_1001", "SMS_1002", "SMS_1003", "SMS_1004", "SMS_1005", "SMS_1006",
    ] {
        assert!(
            received.iter().any(|r| r == code),
            "{code} not in {received:?}"
        );
    }
    let accepted = fake
        .received()
        .into_iter()
        .find(|s| s.template_code == "SMS_1003")
        .unwrap();
    assert_eq!(accepted.params["acceptance_number"], number);
    app.stop().await;
}
