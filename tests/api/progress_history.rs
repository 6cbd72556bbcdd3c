//! The public progress query before acceptance and after the end: a window applicant without
//! the app follows the case with its submission reference (申请编号) and the ID number's tail;
//! a closed case shows its whole history and its steps as they ended, and never a staff member.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::fixtures::{
    ID_2, ITEM, act, applicant_with_case, approved_case, call, my_case, set_up,
};
use crate::support::{TestApp, spawn_app};

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

fn history_kinds(seen: &Value) -> Vec<&str> {
    seen["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_window_case_is_followed_before_acceptance_with_its_submission_reference() {
    let app = spawn_app().await;
    let cast = set_up(&app).await;
    let (status, case) = call(
        &app,
        &cast.clerk,
        Method::POST,
        "/api/v1/window/cases",
        json!({
            "item_code": ITEM,
            "applicant": {"kind": "citizen", "name": "吴十", "id_number": ID_2},
            "paper_materials": [{"material_key": "application_form", "note": "纸质申请表"}],
        }),
    )
    .await;
    assert_eq!(status, 201, "{case}");
    // The clerk hands over the reference the intake returns: the case id as the notices print it.
    let id = case["id"].as_str().unwrap().to_owned();
    let reference = case["submission_reference"].as_str().unwrap().to_owned();
    assert_eq!(reference, id.replace('-', "").to_uppercase());
    assert!(case.get("acceptance_number").is_none());

    let (status, seen) = progress(
        &app,
        json!({"submission_reference": reference, "id_tail": "010014"}),
    )
    .await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["submission_reference"], reference);
    assert!(seen.get("acceptance_number").is_none());
    assert_eq!(seen["applicant"], "吴*");
    assert_eq!(seen["stage"], case["stage"]);
    assert_eq!(seen["stage_label"], case["stage_label"]);
    assert!(!seen["guidance"].as_str().unwrap().is_empty());
    assert!(seen.get("applicant_todo").is_none());
    assert_eq!(history_kinds(&seen)[0], "submitted");
    assert_eq!(seen["history"][0]["label"], "提交申请");
    assert_eq!(seen["history"][0]["department"], "大安市市场监督管理局");
    assert!(seen["history"][0]["occurred_at"].is_string());
    // Typed in lower case, or copied as the hyphenated id, it is the same reference.
    let (status, _) = progress(
        &app,
        json!({"submission_reference": reference.to_lowercase(), "id_tail": "010014"}),
    )
    .await;
    assert_eq!(status, 200);

    // The clerk asks for a correction: the query says what to bring, and where.
    act(
        &app,
        &cast.clerk,
        &id,
        "correction-notice",
        json!({"missing": [{"material_key": "business_licence", "note": "请提供原件"}]}),
    )
    .await;
    let (status, seen) = progress(
        &app,
        json!({"submission_reference": id, "id_tail": "010014"}),
    )
    .await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["stage"], "awaiting_correction");
    assert_eq!(seen["stage_label"], "待补正");
    assert_eq!(seen["applicant_todo"], "answer_correction");
    let guidance = seen["guidance"].as_str().unwrap();
    assert!(
        guidance.contains("窗口") && guidance.contains("指尖办"),
        "{guidance}"
    );
    let items = seen["correction_items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert!(
        items[0].as_str().unwrap().contains("请提供原件"),
        "{items:?}"
    );
    assert_eq!(
        *history_kinds(&seen).last().unwrap(),
        "correction_requested"
    );

    // A wrong reference and a wrong factor get the same answer.
    let (status, wrong_factor) = progress(
        &app,
        json!({"submission_reference": reference, "id_tail": "31002X"}),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(wrong_factor["code"], "progress_not_found");
    let unknown = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    let (status, wrong_reference) = progress(
        &app,
        json!({"submission_reference": unknown, "id_tail": "010014"}),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(wrong_factor, wrong_reference);

    // Exactly one number, well formed; each refusal names the field.
    let (status, both) = progress(
        &app,
        json!({"submission_reference": reference, "acceptance_number": "220882202611160000011",
               "id_tail": "010014"}),
    )
    .await;
    assert_eq!(status, 422, "{both}");
    assert_eq!(both["code"], "progress_numbers_both");
    assert_eq!(both["errors"][0]["field"], "submission_reference");
    let (status, neither) = progress(&app, json!({"id_tail": "010014"})).await;
    assert_eq!(status, 422, "{neither}");
    assert_eq!(neither["code"], "progress_number_required");
    assert_eq!(neither["errors"][0]["field"], "acceptance_number");
    let (status, malformed) = progress(
        &app,
        json!({"submission_reference": "ABC123", "id_tail": "010014"}),
    )
    .await;
    assert_eq!(status, 422, "{malformed}");
    assert_eq!(malformed["code"], "submission_reference_invalid");
    assert_eq!(malformed["errors"][0]["field"], "submission_reference");
    app.stop().await;
}

#[tokio::test]
async fn a_closed_case_shows_its_whole_history_and_steps_and_never_a_staff_member() {
    let app = spawn_app().await;
    let cast = set_up(&app).await;
    let (token, case) = approved_case(&app, &cast, "13900139031", json!({})).await;
    assert_eq!(case["stage"], "decided_approved", "{case}");
    let id = case["id"].as_str().unwrap();
    let number = case["acceptance_number"].as_str().unwrap();
    // The applicant's own view shows the reference the query takes.
    let (status, mine) = my_case(&app, &token, id).await;
    assert_eq!(status, 200);
    let reference = mine["submission_reference"].as_str().unwrap().to_owned();
    assert_eq!(reference, id.replace('-', "").to_uppercase());

    let (status, seen) = progress(
        &app,
        json!({"acceptance_number": number, "id_tail": "31002X"}),
    )
    .await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["stage"], "decided_approved");
    assert!(seen["closed_at"].is_string());
    assert!(seen.get("applicant_todo").is_none());
    // The steps as they ended: both reviews and the site inspection, completed.
    let steps = seen["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 3, "{seen}");
    assert!(
        steps.iter().all(|s| s["status"] == "completed"),
        "{steps:?}"
    );
    assert!(steps.iter().any(|s| s["department"] == "DA-WJ"
        && s["department_name"] == "大安市卫生健康局"
        && s["name"] == "卫生审查"));
    // The whole history, each event dated and labelled, in the order it happened.
    let kinds = history_kinds(&seen);
    assert_eq!(kinds.first(), Some(&"submitted"));
    assert_eq!(kinds.last(), Some(&"approved"));
    for kind in [
        "accepted",
        "steps_started",
        "step_started",
        "step_completed",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    assert_eq!(kinds.iter().filter(|k| **k == "step_completed").count(), 3);
    for event in seen["history"].as_array().unwrap() {
        assert!(
            event["occurred_at"].is_string() && event["label"].is_string(),
            "{event}"
        );
    }
    let accepted = seen["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "accepted")
        .unwrap();
    assert_eq!(accepted["label"], "受理");
    assert_eq!(accepted["department"], "大安市市场监督管理局");

    // No staff member anywhere: neither a name nor an account id, nor the timeline's actor.
    let text = seen.to_string();
    let db = app.db().await;
    let staff = db
        .query("SELECT id::text, username, display_name FROM staff", &[])
        .await
        .unwrap();
    assert!(!staff.is_empty());
    for row in staff {
        for value in [row.get::<_, String>(0), row.get(1), row.get(2)] {
            assert!(!text.contains(&value), "{value} in {text}");
        }
    }
    for key in [
        "actor",
        "account_id",
        "display_name",
        "on_behalf_of",
        "opinion",
    ] {
        assert!(!text.contains(&format!("\"{key}")), "{key} in {text}");
    }

    // The submission reference finds the same case, history and all.
    let (status, by_reference) = progress(
        &app,
        json!({"submission_reference": reference, "id_tail": "31002X"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(by_reference["history"], seen["history"]);
    assert_eq!(by_reference["acceptance_number"], number);

    // A case that ended before review (rejected at pre-review) has history and no steps.
    let (_, rejected) = applicant_with_case(&app, "13900139032", ID_2).await;
    let rejected = act(
        &app,
        &cast.clerk,
        rejected["id"].as_str().unwrap(),
        "reject",
        json!({"reason": "不属于本机关职权范围"}),
    )
    .await;
    let (status, seen) = progress(
        &app,
        json!({"submission_reference": rejected["submission_reference"], "id_tail": "010014"}),
    )
    .await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["stage"], "rejected");
    assert!(seen["steps"].as_array().unwrap().is_empty());
    let last = seen["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "rejected");
    assert_eq!(last["reason"], "不属于本机关职权范围");
    app.stop().await;
}
