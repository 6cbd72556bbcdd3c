//! Cases (办件) end to end through the public API: online application → one-time correction →
//! acceptance → parallel steps in two departments → suspension → approval; window intake;
//! rejection; denial; withdrawal; idempotent resubmission; who may see and act.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fake_aliyun::FakeAliyun;
use crate::support::fixtures::{
    ID_1, ID_2, ITEM, PDF, PNG, STAFF_PASSWORD, accepted_case, act, applicant_with_case, apply,
    both_materials, call, citizen, code_sent_to, complete_draft, create_departments, create_seals,
    create_staff, kinds, my_case, my_case_ids, paper_window_case, publish_item, recheck_realname,
    register_citizen, set_up, upload,
};
use crate::support::{TestApp, expect_problem, spawn_app, spawn_app_with, staff_login};

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
    for (key, template) in [
        ("identity.otp", "SMS_1000"),
        ("case.submitted", "SMS_1001"),
        ("case.correction_requested", "SMS_1002"),
        ("case.accepted", "SMS_1003"),
        ("case.suspended", "SMS_1004"),
        ("case.resumed", "SMS_1005"),
        ("case.approved", "SMS_1006"),
    ] {
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
    let case = act(
        &app,
        &cast.clerk,
        &id,
        "correction-notice",
        json!({"missing": ["营业执照：照片不清晰", "申请书：缺少法定代表人签字"]}),
    )
    .await;
    assert_eq!(case["stage"], "awaiting_correction");
    assert_eq!(case["correction_count"], 1);
    assert_eq!(case["applicant_todo"], "answer_correction");
    assert_eq!(
        case["stage_details"]["missing"].as_array().unwrap().len(),
        2
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
    let (status, case) = call(
        &app,
        &token,
        Method::POST,
        &format!("/api/v1/me/cases/{id}/correction-answer"),
        json!({"materials": [{"material_key": "business_licence", "file_ids": [fixed]}]}),
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
    act(
        &app,
        &cast.reviewer,
        &id,
        "complete-step",
        json!({"department_code": "DA-SCJG", "step": "审查"}),
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

#[tokio::test]
async fn resubmitting_with_the_same_idempotency_key_returns_the_same_case() {
    let app = spawn_app().await;
    set_up(&app).await;
    let token = citizen(&app, "13900139002", "王五", ID_1).await;
    let form = upload(&app, &token, PDF, "application/pdf").await;
    // Uploading the same bytes again is the same file on file (资料交一份).
    assert_eq!(upload(&app, &token, PDF, "application/pdf").await, form);
    let licence = upload(&app, &token, PNG, "image/png").await;
    let materials = json!([
        {"material_key": "application_form", "file_ids": [form]},
        {"material_key": "business_licence", "file_ids": [licence]}
    ]);
    let key = Uuid::new_v4().to_string();
    let (first, a) = apply(&app, &token, &key, materials.clone()).await;
    let (again, b) = apply(&app, &token, &key, materials.clone()).await;
    assert_eq!((first, again), (201, 200));
    assert_eq!(a["id"], b["id"]);
    // Concurrent retries make one case too.
    let key = Uuid::new_v4().to_string();
    let attempts = futures_util::future::join_all(
        (0..4).map(|_| apply(&app, &token, &key, materials.clone())),
    )
    .await;
    let ids: std::collections::BTreeSet<String> = attempts
        .iter()
        .map(|(s, c)| {
            assert!(*s == 201 || *s == 200, "{s} {c}");
            c["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1);
    // The same key for a different application is refused.
    let reordered = json!([materials[1], materials[0]]);
    let (status, reused) = apply(&app, &token, &key, reordered).await;
    assert_eq!(status, 422, "{reused}");
    assert_eq!(reused["code"], "idempotency_key_reused");
    let (status, list) = call(&app, &token, Method::GET, "/api/v1/me/cases", json!(null)).await;
    assert_eq!(status, 200);
    assert_eq!(list["cases"].as_array().unwrap().len(), 2);
    // The retries wrote nothing besides: one submission notice, one audit chain per case.
    let db = app.db().await;
    let counts = db
        .query_one(
            "SELECT (SELECT count(*) FROM notification WHERE template_key = 'case.submitted'),
                    (SELECT count(*) FROM notification_delivery d
                       JOIN notification n ON n.id = d.notification_id
                      WHERE n.template_key = 'case.submitted'),
                    (SELECT count(*) FROM audit_record WHERE aggregate_type = 'case'),
                    (SELECT count(DISTINCT case_id) FROM case_event)",
            &[],
        )
        .await
        .unwrap();
    let counts: (i64, i64, i64, i64) = (counts.get(0), counts.get(1), counts.get(2), counts.get(3));
    assert_eq!(counts, (2, 2, 2, 2));
    // No key at all is refused before anything is written.
    let response = app
        .with_token(Method::POST, "/api/v1/cases", &token)
        .json(&json!({"item_code": ITEM, "materials": materials}))
        .send()
        .await
        .unwrap();
    expect_problem(response, 400, "idempotency_key_required").await;
    app.stop().await;
}

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
async fn bad_applications_are_refused_with_the_field_named() {
    let app = spawn_app().await;
    set_up(&app).await;
    let token = citizen(&app, "13900139003", "赵六", ID_1).await;
    let other = citizen(&app, "13900139004", "钱七", ID_2).await;
    let png = upload(&app, &token, PNG, "image/png").await;
    let theirs = upload(&app, &other, PDF, "application/pdf").await;
    let key = || Uuid::new_v4().to_string();

    // A key material missing.
    let (status, body) = apply(&app, &token, &key(), json!([])).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "materials_missing");
    assert_eq!(body["errors"][0]["field"], "materials.application_form");
    // A PNG where only PDF is accepted.
    let (status, body) = apply(
        &app,
        &token,
        &key(),
        json!([{"material_key": "application_form", "file_ids": [png]}]),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["code"], "file_type_not_allowed");
    assert_eq!(body["errors"][0]["field"], "materials[0].file_ids[0]");
    // Someone else's file.
    let (status, body) = apply(
        &app,
        &token,
        &key(),
        json!([{"material_key": "application_form", "file_ids": [theirs]}]),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["code"], "file_not_found");
    // A material not on the item's list.
    let (status, body) = apply(
        &app,
        &token,
        &key(),
        json!([{"material_key": "nonsense", "file_ids": [png]}]),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["code"], "unknown_material");
    // An unknown item, a form that is not an object.
    let response = app
        .with_token(Method::POST, "/api/v1/cases", &token)
        .header("Idempotency-Key", key())
        .json(&json!({"item_code": "NO-SUCH-ITEM", "materials": []}))
        .send()
        .await
        .unwrap();
    let body = expect_problem(response, 422, "item_not_found").await;
    assert_eq!(body["errors"][0]["field"], "item_code");
    let response = app
        .with_token(Method::POST, "/api/v1/cases", &token)
        .header("Idempotency-Key", key())
        .json(&json!({"item_code": ITEM, "form": [1, 2], "materials": []}))
        .send()
        .await
        .unwrap();
    expect_problem(response, 422, "form_invalid").await;
    // Unknown fields and broken JSON are 400s, never 500s.
    let response = app
        .with_token(Method::POST, "/api/v1/cases", &token)
        .header("Idempotency-Key", key())
        .header("content-type", "application/json")
        .body("{\"item_code\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let response = app
        .with_token(Method::POST, "/api/v1/cases", &token)
        .header("Idempotency-Key", "short")
        .json(&json!({"item_code": ITEM}))
        .send()
        .await
        .unwrap();
    expect_problem(response, 400, "invalid_idempotency_key").await;
    app.stop().await;
}

#[tokio::test]
async fn items_refuse_applicants_below_their_assurance_level() {
    let app = spawn_app().await;
    create_departments(&app).await;
    let mut draft = complete_draft("需要证书的事项");
    draft["required_assurance_level"] = json!(3);
    publish_item(&app, ITEM, "DA-SCJG", draft).await;
    let token = citizen(&app, "13900139005", "孙八", ID_1).await;
    let form = upload(&app, &token, PDF, "application/pdf").await;
    let (status, body) = apply(
        &app,
        &token,
        &Uuid::new_v4().to_string(),
        json!([{"material_key": "application_form", "file_ids": [form]}]),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "assurance_too_low");
    app.stop().await;
}

#[tokio::test]
async fn other_citizens_and_other_departments_cannot_see_or_touch_a_case() {
    let app = spawn_app().await;
    let cast = set_up(&app).await;
    let (_, case) = applicant_with_case(&app, "13900139006", ID_1).await;
    let id = case["id"].as_str().unwrap();
    let stranger = citizen(&app, "13900139007", "周九", ID_2).await;
    let (status, _) = my_case(&app, &stranger, id).await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &app,
        &stranger,
        Method::POST,
        &format!("/api/v1/me/cases/{id}/withdraw"),
        json!({}),
    )
    .await;
    assert_eq!(status, 404);
    // Staff of an uninvolved department: 404; involved staff without the role: 403.
    let (status, _) = call(
        &app,
        &cast.outsider,
        Method::GET,
        &format!("/api/v1/staff/cases/{id}"),
        json!(null),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &app,
        &cast.outsider,
        Method::POST,
        &format!("/api/v1/staff/cases/{id}/accept"),
        json!({}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, body) = call(
        &app,
        &cast.approver,
        Method::POST,
        &format!("/api/v1/staff/cases/{id}/accept"),
        json!({}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "case_action_forbidden");
    // A citizen cannot use staff endpoints at all; nobody unauthenticated.
    let (status, _) = call(
        &app,
        &stranger,
        Method::GET,
        &format!("/api/v1/staff/cases/{id}"),
        json!(null),
    )
    .await;
    assert_eq!(status, 403);
    let response = app
        .http
        .get(app.url(&format!("/api/v1/me/cases/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // Nothing of the outsider's shows in their inbox.
    let (_, inbox) = call(
        &app,
        &cast.outsider,
        Method::GET,
        "/api/v1/staff/inbox",
        json!(null),
    )
    .await;
    assert_eq!(inbox["entries"].as_array().unwrap().len(), 0);
    app.stop().await;
}

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
    create_staff(&app, "c.approver2", "approver", Some("DA-SCJG")).await;
    let second = staff_login(&app.http, &app.address, "c.approver2", STAFF_PASSWORD).await;
    let (_, case) = applicant_with_case(&app, "13900139009", ID_1).await;
    let id = case["id"].as_str().unwrap();
    act(&app, &cast.clerk, id, "accept", json!({})).await;
    act(
        &app,
        &cast.reviewer,
        id,
        "complete-step",
        json!({"department_code": "DA-SCJG", "step": "审查"}),
    )
    .await;
    let case = act(
        &app,
        &cast.health_reviewer,
        id,
        "complete-step",
        json!({"department_code": "DA-WJ", "step": "卫生审查"}),
    )
    .await;
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

#[tokio::test]
async fn window_intake_registers_a_case_with_paper_noted_and_backdated_work_keeps_both_times() {
    let app = spawn_app().await;
    let cast = set_up(&app).await;
    // The clerk digitises the application form at the window.
    let response = app
        .with_token(Method::POST, "/api/v1/window/files", &cast.clerk)
        .header("content-type", "application/pdf")
        .body(PDF.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let scan: Value = response.json().await.unwrap();
    let an_hour_ago = app.now() - chrono::Duration::hours(1);
    let (status, case) = call(&app, &cast.clerk, Method::POST, "/api/v1/window/cases", json!({
        "item_code": ITEM,
        "applicant": {"kind": "citizen", "name": "吴十", "id_number": ID_2, "phone": "13900139011"},
        "materials": [{"material_key": "application_form", "file_ids": [scan["id"]]}],
        "paper_materials": [{"material_key": "business_licence", "note": "原件核验后退还申请人"}],
        "occurred_at": an_hour_ago,
    })).await;
    assert_eq!(status, 201, "{case}");
    assert_eq!(case["channel"], "window");
    assert_eq!(case["applicant"]["id_masked"], "4405**********0014");
    let paper = case["materials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["material_key"] == "business_licence")
        .unwrap();
    assert_eq!(paper["paper_note"], "原件核验后退还申请人");
    let submitted = &case["timeline"][0];
    assert_eq!(submitted["actor_kind"], "window_clerk");
    let recorded =
        chrono::DateTime::parse_from_rfc3339(submitted["recorded_at"].as_str().unwrap()).unwrap();
    let occurred =
        chrono::DateTime::parse_from_rfc3339(submitted["occurred_at"].as_str().unwrap()).unwrap();
    assert!(
        recorded - occurred > chrono::Duration::minutes(59),
        "the gap is kept for supervision"
    );
    // Only the accepting department's clerks register its cases; the future is refused.
    let (status, body) = call(
        &app,
        &cast.reviewer,
        Method::POST,
        "/api/v1/window/cases",
        json!({
        "item_code": ITEM, "applicant": {"kind": "citizen", "name": "吴十", "id_number": ID_2}}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = call(
        &app,
        &cast.clerk,
        Method::POST,
        "/api/v1/window/cases",
        json!({
        "item_code": ITEM, "applicant": {"kind": "citizen", "name": "吴十", "id_number": ID_2},
        "occurred_at": app.now() + chrono::Duration::hours(2)}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "occurred_at_future");
    let (status, body) = call(&app, &cast.clerk, Method::POST, "/api/v1/window/cases", json!({
        "item_code": ITEM, "applicant": {"kind": "citizen", "name": "吴十", "id_number": "110105194912310021"}})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "applicant.id_number");
    // Accepted at once by the clerk.
    let case = act(
        &app,
        &cast.clerk,
        case["id"].as_str().unwrap(),
        "accept",
        json!({}),
    )
    .await;
    assert_eq!(case["stage"], "in_review");
    app.stop().await;
}

async fn progress(app: &TestApp, body: Value) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/api/v1/public/progress"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_public_progress_query_needs_the_number_and_a_second_factor_and_refuses_enumeration() {
    let app = spawn_app().await;
    let cast = set_up(&app).await;
    let phone = "13900139020";
    let (_, case) = accepted_case(&app, &cast, phone, ID_1).await;
    let number = case["acceptance_number"].as_str().unwrap().to_owned();

    let (status, seen) = progress(
        &app,
        json!({"acceptance_number": number, "id_tail": "31002x"}),
    )
    .await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["applicant"], "李*");
    assert_eq!(seen["stage"], "in_review");
    assert_eq!(seen["steps"].as_array().unwrap().len(), 2);
    assert!(seen["deadline"]["deadline"].is_string());
    assert!(seen.get("form").is_none() && seen.get("materials").is_none());

    // A wrong factor and an unknown (well-formed) number get the same answer.
    let (status, wrong_tail) = progress(
        &app,
        json!({"acceptance_number": number, "id_tail": "000000"}),
    )
    .await;
    assert_eq!(status, 404);
    let mut other = number[..20].to_owned();
    other.replace_range(14..20, "999999");
    let unknown_number = (0..=10)
        .map(|c| {
            format!(
                "{other}{}",
                if c == 10 {
                    'X'
                } else {
                    char::from(b'0' + c as u8)
                }
            )
        })
        .find(|n| fingertip::cases::acceptance_number::AcceptanceNumber::parse(n).is_ok())
        .unwrap();
    let (status, unknown) = progress(
        &app,
        json!({"acceptance_number": unknown_number, "id_tail": "31002X"}),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(wrong_tail["code"], "progress_not_found");
    assert_eq!(
        wrong_tail, unknown,
        "nothing tells a wrong number from a wrong factor"
    );
    // A typo in the number is caught by its check character, before any lookup.
    let mut typo = number.clone();
    let last = typo.pop().unwrap();
    typo.push(if last == '1' { '2' } else { '1' });
    let (status, body) = progress(
        &app,
        json!({"acceptance_number": typo, "id_tail": "31002X"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "acceptance_number");
    let (status, body) = progress(&app, json!({"acceptance_number": number})).await;
    assert_eq!(status, 422);
    assert_eq!(body["code"], "second_factor_required");

    // Or with an SMS code sent to the phone the case was applied with; a code works once.
    // (A minute has passed since the registration code.)
    app.db()
        .await
        .execute(
            "UPDATE otp_code SET created_at = created_at - interval '61 seconds'",
            &[],
        )
        .await
        .unwrap();
    let response = app
        .http
        .post(app.url("/api/v1/auth/otp"))
        .json(&json!({"phone": phone, "purpose": "progress"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let code = code_sent_to(&app, phone).await;
    let (status, seen) = progress(&app, json!({"acceptance_number": number, "code": code})).await;
    assert_eq!(status, 200, "{seen}");
    let (status, _) = progress(&app, json!({"acceptance_number": number, "code": code})).await;
    assert_eq!(status, 404);

    // Too many failures from one address: 429, even with the right factor.
    for _ in 0..17 {
        let (status, _) = progress(
            &app,
            json!({"acceptance_number": number, "id_tail": "000000"}),
        )
        .await;
        assert_eq!(status, 404);
    }
    let (status, _) = progress(
        &app,
        json!({"acceptance_number": number, "id_tail": "31002X"}),
    )
    .await;
    assert_eq!(status, 429);
    app.stop().await;
}

#[tokio::test]
async fn an_agent_applies_and_acts_for_the_applicant_only_while_authorised() {
    let app = spawn_app().await;
    set_up(&app).await;
    let applicant = citizen(&app, "13900139030", "郑一", ID_1).await;
    let agent = citizen(&app, "13900139031", "王代办", ID_2).await;
    let (status, granted) = call(
        &app,
        &applicant,
        Method::POST,
        "/api/v1/me/agent-authorisations",
        json!({"agent_phone": "13900139031", "item_code": ITEM,
               "valid_until": app.today() + chrono::Duration::days(30)}),
    )
    .await;
    assert_eq!(status, 200, "{granted}");
    let authorisation = granted["id"].as_str().unwrap().to_owned();
    let (_, mine) = call(
        &app,
        &agent,
        Method::GET,
        "/api/v1/me/agent-authorisations",
        json!(null),
    )
    .await;
    assert_eq!(mine["received"][0]["grantor_name"], "郑一");

    let form = upload(&app, &agent, PDF, "application/pdf").await;
    let licence = upload(&app, &agent, PNG, "image/png").await;
    let response = app
        .with_token(Method::POST, "/api/v1/cases", &agent)
        .header("Idempotency-Key", Uuid::new_v4().to_string())
        .json(
            &json!({"item_code": ITEM, "on_behalf_of": authorisation, "materials": [
            {"material_key": "application_form", "file_ids": [form]},
            {"material_key": "business_licence", "file_ids": [licence]}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let case: Value = response.json().await.unwrap();
    assert_eq!(case["applicant"]["name"], "郑一");
    assert_eq!(case["agent"]["name"], "王代办");
    let id = case["id"].as_str().unwrap().to_owned();
    // Both see it.
    for token in [&applicant, &agent] {
        let (status, _) = my_case(&app, token, &id).await;
        assert_eq!(status, 200);
    }
    // Once revoked, the agent can no longer act on it nor apply again.
    let response = app
        .with_token(
            Method::DELETE,
            &format!("/api/v1/me/agent-authorisations/{authorisation}"),
            &applicant,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let (status, body) = call(
        &app,
        &agent,
        Method::POST,
        &format!("/api/v1/me/cases/{id}/withdraw"),
        json!({}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "agent_not_authorised");
    let response = app
        .with_token(Method::POST, "/api/v1/cases", &agent)
        .header("Idempotency-Key", Uuid::new_v4().to_string())
        .json(&json!({"item_code": ITEM, "on_behalf_of": authorisation, "materials": []}))
        .send()
        .await
        .unwrap();
    expect_problem(response, 403, "agent_not_authorised").await;
    // The applicant still acts.
    let (status, _) = call(
        &app,
        &applicant,
        Method::POST,
        &format!("/api/v1/me/cases/{id}/withdraw"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
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

#[tokio::test]
async fn acceptance_with_a_pending_material_and_a_commitment_blocks_approval_until_it_is_supplied()
{
    let app = spawn_app().await;
    create_departments(&app).await;
    create_seals(&app, "DA-SCJG").await;
    let mut draft = complete_draft("食品经营许可");
    draft["materials"][1]["key_material"] = json!(false);
    publish_item(&app, ITEM, "DA-SCJG", draft).await;
    for (name, role, dept) in [
        ("d.clerk", "window_clerk", "DA-SCJG"),
        ("d.reviewer", "reviewer", "DA-SCJG"),
        ("d.health", "reviewer", "DA-WJ"),
        ("d.approver", "approver", "DA-SCJG"),
    ] {
        create_staff(&app, name, role, Some(dept)).await;
    }
    let login = |name: &'static str| staff_login(&app.http, &app.address, name, STAFF_PASSWORD);
    let (clerk, reviewer, health, approver) = (
        login("d.clerk").await,
        login("d.reviewer").await,
        login("d.health").await,
        login("d.approver").await,
    );
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

/// An account that only claims an ID number (the identity authority has not confirmed the real
/// name) is not linked to window cases under that number, at intake or after; the moment a
/// re-check confirms it, the cases join the account.
#[tokio::test]
async fn window_cases_join_an_account_only_once_its_real_name_is_verified() {
    let fake =
        crate::fake_realname::FakeAuthority::start("fingertip-test", "authority-secret").await;
    fake.add_person("吴十", ID_2);
    let realname = fake.realname_config();
    let app = spawn_app_with(move |c| c.identity.realname = realname).await;
    let cast = set_up(&app).await;
    // The authority is down at registration: an account at L1.
    fake.fail_next(1, 503);
    let pending = register_citizen(&app, "13900139141", "吴十", ID_2).await;
    assert_eq!(pending["assurance_level"], 1);
    let token = pending["access_token"].as_str().unwrap().to_owned();

    let id = paper_window_case(
        &app,
        &cast.clerk,
        json!({"kind": "citizen", "name": "吴十", "id_number": ID_2}),
    )
    .await;
    assert!(
        my_case_ids(&app, &token).await.is_empty(),
        "not linked at intake"
    );

    recheck_realname(&app, &token).await;
    assert_eq!(
        my_case_ids(&app, &token).await,
        [id.as_str()],
        "linked once verified"
    );
    let (status, one) = my_case(&app, &token, &id).await;
    assert_eq!(status, 200, "{one}");

    // A name the authority says does not match the number: L1 "mismatch", and neither intake
    // nor a re-check (still a mismatch) links the number's window case to that account.
    fake.add_person("张三", ID_1);
    let mismatch = register_citizen(&app, "13900139142", "张四", ID_1).await;
    assert_eq!(mismatch["realname_status"], "mismatch");
    let other = mismatch["access_token"].as_str().unwrap().to_owned();
    paper_window_case(
        &app,
        &cast.clerk,
        json!({"kind": "citizen", "name": "张三", "id_number": ID_1}),
    )
    .await;
    recheck_realname(&app, &other).await;
    assert!(
        my_case_ids(&app, &other).await.is_empty(),
        "a mismatching account claims nothing"
    );
    app.stop().await;
}
