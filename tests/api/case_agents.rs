//! An agent (代办人) applies and acts for the applicant only while the applicant's authorisation
//! holds.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::fixtures::{
    ID_1, ID_2, ITEM, PDF, PNG, call, citizen, my_case, set_up, upload,
};
use crate::support::{expect_problem, spawn_app};

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
