//! Who may see and touch a case: not another citizen, not an uninvolved department, not an
//! involved member of staff without the role, nobody unauthenticated.

use reqwest::Method;
use serde_json::json;

use crate::support::fixtures::{ID_1, ID_2, applicant_with_case, call, citizen, my_case, set_up};
use crate::support::spawn_app;

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
