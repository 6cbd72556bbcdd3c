//! Cases registered at the window: intake with paper materials noted and backdated work keeping
//! both times, and window cases joining the applicant's account once their real name is
//! verified.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::fixtures::{
    ID_1, ID_2, ITEM, PDF, act, call, my_case, my_case_ids, paper_window_case, recheck_realname,
    register_citizen, set_up,
};
use crate::support::{spawn_app, spawn_app_with};

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
