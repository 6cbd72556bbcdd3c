//! 一窗受理: the platform centre's comprehensive window takes in a case for another department's
//! item, handles its front desk (pre-review, acceptance) and routes it to that department's
//! back office; a clerk of an ordinary department's window still gets `not_accepting_clerk`.

use reqwest::Method;
use serde_json::json;

use crate::support::fixtures::{
    ID_2, ITEM, act, call, create_department, create_staff, log_in, paper_window_case, set_up,
};
use crate::support::spawn_app;

#[tokio::test]
async fn a_centre_window_clerk_takes_in_a_case_for_another_department_and_routes_it_on() {
    let app = spawn_app().await;
    let cast = set_up(&app).await;
    create_department(&app, "DA-ZWFW").await;
    create_staff(&app, "zw.clerk", "window_clerk", Some("DA-ZWFW")).await;
    let centre_clerk = log_in(&app, "zw.clerk").await;
    create_staff(&app, "wj.clerk", "window_clerk", Some("DA-WJ")).await;
    let other_clerk = log_in(&app, "wj.clerk").await;
    let intake = json!({
        "item_code": ITEM,
        "applicant": {"kind": "citizen", "name": "吴十", "id_number": ID_2},
        "paper_materials": [{"material_key": "application_form", "note": "纸质申请表"}],
    });

    // Before the flag, the centre is an ordinary department: its clerk may not take the case in.
    let (status, refused) = call(
        &app,
        &centre_clerk,
        Method::POST,
        "/api/v1/window/cases",
        intake.clone(),
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["code"], "not_accepting_clerk");

    // Only the platform admin flags it, and it is audited.
    let path = "/api/v1/admin/departments/DA-ZWFW/comprehensive-window";
    let (status, _) = call(
        &app,
        &centre_clerk,
        Method::PUT,
        path,
        json!({"enabled": true}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, flagged) = app
        .admin_json(Method::PUT, path, &json!({"enabled": true}))
        .await;
    assert_eq!(status, 200, "{flagged}");
    assert_eq!(flagged["comprehensive_window"], true);
    let (status, missing) = app
        .admin_json(
            Method::PUT,
            "/api/v1/admin/departments/NO-SUCH/comprehensive-window",
            &json!({"enabled": true}),
        )
        .await;
    assert_eq!(status, 404, "{missing}");
    let audited: i64 = app
        .db()
        .await
        .query_one(
            "SELECT count(*) FROM audit_record WHERE action = 'department.comprehensive_window'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(audited, 1);

    // The centre takes in a DA-SCJG case at the window and accepts it for DA-SCJG.
    let id = paper_window_case(&app, &centre_clerk, intake["applicant"].clone()).await;
    let case = act(&app, &centre_clerk, &id, "accept", json!({})).await;
    assert_eq!(case["stage"], "in_review");
    assert!(case["acceptance_number"].is_string());
    // The back office (DA-SCJG, DA-WJ) reviews; the centre does not.
    let (status, refused) = call(
        &app,
        &centre_clerk,
        Method::POST,
        &format!("/api/v1/staff/cases/{id}/complete-step"),
        json!({"department_code": "DA-SCJG", "step": "审查"}),
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    act(
        &app,
        &cast.reviewer,
        &id,
        "complete-step",
        json!({"department_code": "DA-SCJG", "step": "审查"}),
    )
    .await;
    // The centre still finds its case (to hand the result out at the same window).
    let (status, seen) = call(
        &app,
        &centre_clerk,
        Method::GET,
        &format!("/api/v1/staff/cases/{id}"),
        json!(null),
    )
    .await;
    assert_eq!(status, 200, "{seen}");

    // An ordinary department's window still takes in only its own items.
    let (status, refused) = call(
        &app,
        &other_clerk,
        Method::POST,
        "/api/v1/window/cases",
        intake,
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["code"], "not_accepting_clerk");
    // And the department's own window works as before.
    let own = paper_window_case(
        &app,
        &cast.clerk,
        json!({"kind": "citizen", "name": "张三", "id_number": crate::support::fixtures::ID_1}),
    )
    .await;
    act(&app, &cast.clerk, &own, "accept", json!({})).await;
    app.stop().await;
}

/// The demo data has the centre (大安市政务服务中心) flagged: its clerk takes in a market
/// regulation case and accepts it for 220882-SCJG. (`serve --demo-data` creates the clerk
/// `zwfw.clerk`; test apps bootstrap their own administrator, so the demo staff are not loaded
/// here and the test grants the role itself.)
#[tokio::test]
async fn the_demo_centre_clerk_takes_in_a_market_regulation_case() {
    let app = crate::support::spawn_demo_app().await;
    create_staff(&app, "zw.demo", "window_clerk", Some("220882-ZWFW")).await;
    let clerk = log_in(&app, "zw.demo").await;
    let (status, case) = call(
        &app,
        &clerk,
        Method::POST,
        "/api/v1/window/cases",
        json!({
            "item_code": "220882-SCJG-001",
            "applicant": {"kind": "enterprise", "name": "大安市海韵食品有限公司", "id_number": "91220882MA0Y8K2X3M"},
            "paper_materials": [
                {"material_key": "application_form", "note": "纸质申请书"},
                {"material_key": "business_licence", "note": "营业执照原件核验"},
                {"material_key": "id_card", "note": "身份证原件核验"}
            ],
        }),
    )
    .await;
    assert_eq!(status, 201, "{case}");
    let id = case["id"].as_str().unwrap();
    let case = act(&app, &clerk, id, "accept", json!({})).await;
    assert_eq!(case["stage"], "in_review", "{case}");
    app.stop().await;
}
