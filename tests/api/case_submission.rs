//! Applying online: an idempotent submission (a retry, concurrent retries, a reused key), the
//! applications refused with the field named, and items above the applicant's assurance level.

use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use crate::support::fixtures::{
    ID_1, ID_2, ITEM, PDF, PNG, apply, call, citizen, complete_draft, create_departments,
    publish_item, set_up, upload,
};
use crate::support::{expect_problem, spawn_app};

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
