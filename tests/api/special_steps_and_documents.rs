//! The case as the law reads it: the item's special steps run as steps of the case (a 低保's
//! 公示 before its decision), a suspension is bounded by its special step's limit, and the
//! documents and result notices follow what the item is (a 行政给付 gets its own decision, never
//! a 准予行政许可决定书, and no licence is announced when none was issued).

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::fixtures::{
    ID_1, act, both_materials, call, citizen, complete_draft, create_departments, create_seals,
    create_staff, log_in, publish_item,
};
use crate::support::{TestApp, restart_at, spawn_app};

const DIBAO: &str = "CASE-DIBAO-0001";

/// 最低生活保障审核确认 as a 行政给付 of DA-MZ: 入户调查, then a 7-day 公示, then the decision.
fn dibao_draft() -> Value {
    let mut draft = complete_draft("最低生活保障审核确认");
    draft["category"] = json!("benefit");
    draft["legal_basis"] = json!([
        {"document": "《社会救助暂行办法》", "article": "第九条"},
        {"document": "《社会救助暂行办法》", "article": "第十一条"}
    ]);
    draft["co_department_codes"] = json!([]);
    draft["statutory_limit_days"] = json!(30);
    draft["promised_limit_days"] = json!(25);
    draft["steps"] = json!([
        {"kind": "accept", "name": "受理", "limit_days": 1, "stage": 1},
        {"kind": "review", "name": "入户调查", "limit_days": 10, "stage": 2},
        {"kind": "public_notice", "name": "村（社区）公示", "limit_days": 7, "stage": 3},
        {"kind": "decide", "name": "审核确认", "limit_days": 5, "stage": 4}
    ]);
    draft["result"] = json!({"kind": "other", "name": "按月发放最低生活保障金"});
    draft["applicant_types"] = json!(["citizen"]);
    draft
}

struct Office {
    clerk: String,
    reviewer: String,
    approver: String,
}

async fn civil_affairs(app: &TestApp) -> Office {
    create_departments(app).await;
    let (status, body) = app
        .admin_json(
            Method::POST,
            "/api/v1/admin/departments",
            &json!({"code": "DA-MZ", "name": "大安市民政局", "level": "county", "region_code": "220882", "parent_code": "JL-BC"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    create_seals(app, "DA-MZ").await;
    publish_item(app, DIBAO, "DA-MZ", dibao_draft()).await;
    create_staff(app, "mz.clerk", "window_clerk", Some("DA-MZ")).await;
    create_staff(app, "mz.reviewer", "reviewer", Some("DA-MZ")).await;
    create_staff(app, "mz.approver", "approver", Some("DA-MZ")).await;
    Office {
        clerk: log_in(app, "mz.clerk").await,
        reviewer: log_in(app, "mz.reviewer").await,
        approver: log_in(app, "mz.approver").await,
    }
}

/// A citizen applies for 低保; returns (token, case id).
async fn dibao_case(app: &TestApp) -> (String, String) {
    let token = citizen(app, "13900139031", "王五", ID_1).await;
    let materials = both_materials(app, &token).await;
    let response = app
        .with_token(Method::POST, "/api/v1/cases", &token)
        .header("Idempotency-Key", Uuid::new_v4().to_string())
        .json(&json!({"item_code": DIBAO, "form": {}, "materials": materials}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let case: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{case}");
    (token, case["id"].as_str().unwrap().to_owned())
}

fn step<'a>(case: &'a Value, name: &str) -> &'a Value {
    case["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name}: {case}"))
}

/// The text of a sealed PDF, as poppler's `pdftotext` reads it.
async fn pdf_text(app: &TestApp, token: &str, case: &str, document: &Value) -> String {
    let response = app
        .with_token(
            Method::GET,
            &format!(
                "/api/v1/staff/cases/{case}/documents/{}/pdf",
                document["id"].as_str().unwrap()
            ),
            token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("document.pdf");
    std::fs::write(&path, &bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils, see scripts/ensure-document-tools.sh)");
    assert!(out.status.success());
    // Lines wrap anywhere in Chinese text: compare without them.
    String::from_utf8_lossy(&out.stdout)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

fn document<'a>(case: &'a Value, kind: &str) -> &'a Value {
    case["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}: {}", case["documents"]))
}

/// The done-when of the issue: a 低保 case runs its 公示 step before its decision, and gets the
/// benefit's own documents, citing its own law; no licence is issued or announced.
#[tokio::test]
async fn a_benefit_case_runs_its_public_notice_before_the_decision_and_gets_its_own_documents() {
    let app = spawn_app().await;
    let office = civil_affairs(&app).await;
    let (token, id) = dibao_case(&app).await;

    let case = act(&app, &office.clerk, &id, "accept", json!({})).await;
    let acceptance = document(&case, "acceptance_notice");
    assert_eq!(acceptance["title"], "受理通知书");
    let text = pdf_text(&app, &office.clerk, &id, acceptance).await;
    assert!(
        text.contains("《社会救助暂行办法》第九条、第十一条"),
        "{text}"
    );
    assert!(!text.contains("行政许可法"), "{text}");

    // 入户调查 first; the 公示 waits for it.
    assert_eq!(step(&case, "入户调查")["status"], "running");
    let notice = step(&case, "村（社区）公示");
    assert_eq!(notice["status"], "waiting");
    assert_eq!(notice["special_step"], "public_notice");
    assert_eq!(notice["limit_working_days"], 7);
    let case = act(
        &app,
        &office.reviewer,
        &id,
        "complete-step",
        json!({"department_code": "DA-MZ", "step": "入户调查"}),
    )
    .await;
    let notice = step(&case, "村（社区）公示");
    assert_eq!(notice["status"], "running", "{notice}");
    assert_eq!(notice["started_on"], app.today().to_string());
    assert!(notice["due_on"].as_str().unwrap() > app.today().to_string().as_str());
    assert_eq!(notice["counts_toward_limit"], true);
    // The 公示 is on the reviewer's task list like any step.
    assert!(
        case["waiting_on"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["step"] == "村（社区）公示" && t["role"] == "reviewer"),
        "{}",
        case["waiting_on"]
    );

    // No decision during the 公示.
    let (status, early) = call(
        &app,
        &office.approver,
        Method::POST,
        &format!("/api/v1/staff/cases/{id}/approve"),
        json!({}),
    )
    .await;
    assert_eq!(status, 409, "{early}");
    assert_eq!(early["code"], "steps_incomplete");

    act(
        &app,
        &office.reviewer,
        &id,
        "complete-step",
        json!({"department_code": "DA-MZ", "step": "村（社区）公示"}),
    )
    .await;
    let case = act(&app, &office.approver, &id, "approve", json!({})).await;
    assert_eq!(case["stage"], "decided_approved");
    let kinds: Vec<&str> = case["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    // The decided case keeps its steps as they ended, the 公示 with its dates.
    let notice = step(&case, "村（社区）公示");
    assert_eq!(notice["status"], "completed", "{notice}");
    assert_eq!(notice["completed_on"], app.today().to_string());
    assert_eq!(step(&case, "入户调查")["status"], "completed");
    let notice_done = kinds.iter().rposition(|k| *k == "step_completed").unwrap();
    let approved = kinds.iter().position(|k| *k == "approved").unwrap();
    assert!(notice_done < approved, "{kinds:?}");

    // The benefit's own decision, no licence.
    let decision = document(&case, "approval_decision");
    assert_eq!(decision["title"], "给付决定书");
    assert!(
        case["documents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["kind"] != "licence")
    );
    let text = pdf_text(&app, &office.approver, &id, decision).await;
    assert!(text.contains("本机关决定准予给付"), "{text}");
    assert!(text.contains("《社会救助暂行办法》"), "{text}");
    assert!(!text.contains("行政许可"), "{text}");

    // The applicant is told the outcome in the benefit's words, and nothing about a licence.
    let (status, inbox) = call(
        &app,
        &token,
        Method::GET,
        "/api/v1/me/notifications",
        json!(null),
    )
    .await;
    assert_eq!(status, 200, "{inbox}");
    let result = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["template_key"] == "case.approved")
        .unwrap_or_else(|| panic!("{inbox}"));
    let body = result["body"].as_str().unwrap();
    assert!(body.contains("准予给付"), "{body}");
    assert!(!body.contains("证照"), "{body}");
    assert!(!body.contains("许可"), "{body}");
    app.stop().await;
}

/// A suspension may run to the end of its special step's limit (counted in working days from
/// the day it starts) and no further; more time needs an extension with a reason, granted by
/// the approver and bounded again from the end it replaces.
#[tokio::test]
async fn a_suspension_is_bounded_by_its_special_step_and_extended_only_with_a_reason() {
    let app = spawn_app().await;
    let office = civil_affairs(&app).await;
    let (_token, id) = dibao_case(&app).await;
    act(&app, &office.clerk, &id, "accept", json!({})).await;

    // The guide gives the 公示 7 working days: from Monday 2026-11-16, the latest end is
    // Wednesday 2026-11-25.
    assert_eq!(app.today().to_string(), "2026-11-16");
    let suspend = |end: &str| json!({"special_step": "public_notice", "reason": "公示期间", "expected_end": end});
    let (status, long) = call(
        &app,
        &office.reviewer,
        Method::POST,
        &format!("/api/v1/staff/cases/{id}/suspend"),
        suspend("2030-01-07"),
    )
    .await;
    assert_eq!(status, 422, "{long}");
    assert_eq!(long["code"], "suspension_too_long");
    assert_eq!(long["errors"][0]["field"], "expected_end");
    let detail = long["errors"][0]["detail"]
        .as_str()
        .unwrap_or_else(|| long["detail"].as_str().unwrap());
    assert!(detail.contains("2026-11-25"), "{long}");
    // A special step the guide does not define is bounded by the platform maximum (60).
    let (status, hearing) = call(
        &app,
        &office.reviewer,
        Method::POST,
        &format!("/api/v1/staff/cases/{id}/suspend"),
        json!({"special_step": "hearing", "reason": "听证", "expected_end": "2027-06-30"}),
    )
    .await;
    assert_eq!(status, 422, "{hearing}");
    assert_eq!(hearing["code"], "suspension_too_long");

    let case = act(
        &app,
        &office.reviewer,
        &id,
        "suspend",
        suspend("2026-11-25"),
    )
    .await;
    assert_eq!(case["stage"], "suspended");

    // More time: not by the reviewer, not without a reason, not past another 7 working days.
    let extend = |end: &str, reason: &str| json!({"reason": reason, "expected_end": end});
    let path = format!("/api/v1/staff/cases/{id}/suspension/extend");
    let (status, refused) = call(
        &app,
        &office.reviewer,
        Method::POST,
        &path,
        extend("2026-11-30", "公示有异议需复核"),
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    for (end, reason, code) in [
        ("2026-11-30", "  ", "suspend_reason_blank"),
        ("2026-11-24", "复核", "suspension_extension_not_later"),
        ("2026-12-31", "复核", "suspension_too_long"),
    ] {
        let (status, refused) = call(
            &app,
            &office.approver,
            Method::POST,
            &path,
            extend(end, reason),
        )
        .await;
        assert_eq!(status, 422, "{refused}");
        assert_eq!(refused["code"], code, "{end} {reason}");
    }
    // 7 working days from Wednesday 2026-11-25: Friday 2026-12-04.
    let case = act(
        &app,
        &office.approver,
        &id,
        "suspension/extend",
        extend("2026-12-04", "公示有异议需复核"),
    )
    .await;
    assert_eq!(case["stage"], "suspended");
    assert_eq!(
        case["stage_details"]["expected_end"], "2026-12-04",
        "{}",
        case["stage_details"]
    );
    let extended = case["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "suspension_extended")
        .unwrap();
    assert_eq!(extended["details"]["reason"], "公示有异议需复核");
    app.stop().await;
}

/// A hearing (听证) is one of the steps 行政许可法 art. 45 takes out of the limit: while it runs,
/// the case's deadline moves with it, exactly as during a suspension.
#[tokio::test]
async fn a_hearing_step_stops_the_clock() {
    let app = spawn_app().await;
    let office = civil_affairs(&app).await;
    let mut draft = dibao_draft();
    draft["steps"][2] = json!({"kind": "hearing", "name": "听证", "limit_days": 10, "stage": 3});
    publish_item(&app, "CASE-HEARING-0001", "DA-MZ", draft).await;
    let token = citizen(&app, "13900139032", "赵六", crate::support::fixtures::ID_2).await;
    let materials = both_materials(&app, &token).await;
    let response = app
        .with_token(Method::POST, "/api/v1/cases", &token)
        .header("Idempotency-Key", Uuid::new_v4().to_string())
        .json(&json!({"item_code": "CASE-HEARING-0001", "form": {}, "materials": materials}))
        .send()
        .await
        .unwrap();
    let case: Value = response.json().await.unwrap();
    let id = case["id"].as_str().unwrap().to_owned();
    let case = act(&app, &office.clerk, &id, "accept", json!({})).await;
    let deadline_before = case["deadline"]["deadline"].clone();
    let case = act(
        &app,
        &office.reviewer,
        &id,
        "complete-step",
        json!({"department_code": "DA-MZ", "step": "入户调查"}),
    )
    .await;
    let hearing = step(&case, "听证");
    assert_eq!(hearing["status"], "running");
    assert_eq!(hearing["counts_toward_limit"], false);
    assert!(
        hearing["limit_rule"]
            .as_str()
            .unwrap()
            .contains("第四十五条")
    );
    // Three days of hearing later (Thursday), the deadline has moved by the working days it ran.
    let app = restart_at(app.stop_keeping_data().await, "2026-11-19T10:00:00+08:00").await;
    let reviewer = log_in(&app, "mz.reviewer").await;
    let (status, later) = call(
        &app,
        &reviewer,
        Method::GET,
        &format!("/api/v1/staff/cases/{id}"),
        json!(null),
    )
    .await;
    assert_eq!(status, 200, "{later}");
    assert!(
        later["deadline"]["deadline"].as_str().unwrap() > deadline_before.as_str().unwrap(),
        "{} then {}",
        deadline_before,
        later["deadline"]
    );
    assert!(
        later["deadline"]["suspended_working_days"]
            .as_u64()
            .unwrap()
            >= 1
    );
    app.stop().await;
}
