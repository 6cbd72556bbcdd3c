//! The item catalog end to end: departments, drafts, publication (complete guides only),
//! versions, cancellation, search, forms, and the audit trail of every write.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::fixtures::{complete_draft, create_departments, publish_item};
use crate::support::{expect_problem, spawn_app};

#[tokio::test]
async fn departments_nest_by_level_and_region() {
    let app = spawn_app().await;
    create_departments(&app).await;
    let (status, list) = app.get_json("/api/v1/departments").await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 4);
    let bureau = list
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "DA-SCJG")
        .unwrap();
    assert_eq!(bureau["parent_code"], "JL-BC");

    let (status, body) = app
        .admin_json(
            Method::POST,
            "/api/v1/admin/departments",
            &json!({"code": "X-1", "name": "错位的局", "level": "county", "region_code": "110105", "parent_code": "JL-BC"}),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("region_code")),
        "{body}"
    );
    let (status, body) = app
        .admin_json(
            Method::POST,
            "/api/v1/admin/departments",
            &json!({"code": "DA-WJ", "name": "重复", "level": "county", "region_code": "220882", "parent_code": "JL-BC"}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("department_exists"))
    );
    app.stop().await;
}

#[tokio::test]
async fn an_incomplete_guide_cannot_be_published_and_every_missing_element_is_listed() {
    let app = spawn_app().await;
    create_departments(&app).await;
    let (status, created) = app
        .admin_json(
            Method::POST,
            "/api/v1/admin/items",
            &json!({"code": "DA-SCJG-001", "lead_department_code": "DA-SCJG", "draft": {"name": "食品经营许可"}}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "draft");
    let response = app
        .admin(Method::POST, "/api/v1/admin/items/DA-SCJG-001/publish")
        .json(&json!({"revision": 1}))
        .send()
        .await
        .unwrap();
    let body = expect_problem(response, 422, "guide_incomplete").await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for expected in [
        "category",
        "legal_basis",
        "conditions",
        "materials",
        "statutory_limit_days",
        "promised_limit_days",
        "instant",
        "fees",
        "steps",
        "result",
        "online_depth",
        "applicant_types",
        "consultation_phone",
        "complaint_phone",
    ] {
        assert!(
            fields.contains(&expected),
            "{expected} missing from {fields:?}"
        );
    }
    assert!(!fields.contains(&"name"));

    // Inconsistent elements are listed too, by path.
    let mut draft = complete_draft("食品经营许可");
    draft["promised_limit_days"] = json!(30);
    draft["materials"][1]["key"] = json!("application_form");
    draft["steps"][0]["kind"] = json!("review");
    let (status, body) = app
        .admin_json(
            Method::PUT,
            "/api/v1/admin/items/DA-SCJG-001/draft",
            &json!({"revision": 1, "draft": draft}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .admin_json(
            Method::POST,
            "/api/v1/admin/items/DA-SCJG-001/publish",
            &json!({"revision": 2}),
        )
        .await;
    assert_eq!(status, 422);
    let codes: Vec<(String, String)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        codes.contains(&("promised_limit_days".into(), "exceeds_statutory".into())),
        "{codes:?}"
    );
    assert!(
        codes.contains(&("materials[1].key".into(), "duplicate".into())),
        "{codes:?}"
    );
    assert!(
        codes.contains(&("steps".into(), "invalid_process".into())),
        "{codes:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn publication_makes_immutable_versions_and_cancellation_unpublishes() {
    let app = spawn_app().await;
    create_departments(&app).await;
    let published = publish_item(
        &app,
        "DA-SCJG-001",
        "DA-SCJG",
        complete_draft("食品经营许可"),
    )
    .await;
    assert_eq!(published["version"], 1);

    let (status, detail) = app.get_json("/api/v1/items/DA-SCJG-001").await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["guide"]["name"], "食品经营许可");
    assert_eq!(detail["category_label"], "行政许可");
    assert_eq!(detail["lead_department"]["name"], "大安市市场监督管理局");
    assert_eq!(detail["co_departments"][0]["code"], "DA-WJ");
    assert_eq!(detail["guide_sha256"], published["guide_sha256"]);
    assert_eq!(detail["current"], true);

    // Edit the draft and publish version 2; version 1 stays as it was.
    let (_, view) = app
        .admin(Method::GET, "/api/v1/admin/items/DA-SCJG-001")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .map(|v| (0, v))
        .unwrap();
    let revision = view["draft_revision"].as_i64().unwrap();
    let stale = app
        .admin(Method::PUT, "/api/v1/admin/items/DA-SCJG-001/draft")
        .json(&json!({"revision": revision - 1, "draft": complete_draft("x")}))
        .send()
        .await
        .unwrap();
    expect_problem(stale, 409, "stale_revision").await;
    let (status, body) = app
        .admin_json(
            Method::PUT,
            "/api/v1/admin/items/DA-SCJG-001/draft",
            &json!({"revision": revision, "draft": complete_draft("食品经营许可（含网络经营）")}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, v2) = app
        .admin_json(
            Method::POST,
            "/api/v1/admin/items/DA-SCJG-001/publish",
            &json!({"revision": revision + 1}),
        )
        .await;
    assert_eq!((status, v2["version"].as_i64()), (201, Some(2)), "{v2}");
    let (_, current) = app.get_json("/api/v1/items/DA-SCJG-001").await;
    assert_eq!(current["guide"]["name"], "食品经营许可（含网络经营）");
    let (status, v1) = app.get_json("/api/v1/items/DA-SCJG-001/versions/1").await;
    assert_eq!(
        (status, v1["guide"]["name"].as_str()),
        (200, Some("食品经营许可"))
    );
    assert_eq!(v1["current"], false);

    // The database itself refuses to rewrite a published version.
    let tampered = app
        .db()
        .await
        .execute(
            "UPDATE item_version SET name = 'changed' WHERE version = 1",
            &[],
        )
        .await;
    assert!(tampered.is_err());

    // Cancel: gone from the catalog, versions still readable for the cases that cite them.
    let response = app
        .admin(Method::POST, "/api/v1/admin/items/DA-SCJG-001/cancel")
        .json(&json!({"reason": "  "}))
        .send()
        .await
        .unwrap();
    let body = expect_problem(response, 422, "required").await;
    assert_eq!(body["field"], "reason");
    let (status, cancelled) = app
        .admin_json(
            Method::POST,
            "/api/v1/admin/items/DA-SCJG-001/cancel",
            &json!({"reason": "依据法规修订取消"}),
        )
        .await;
    assert_eq!(
        (status, cancelled["status"].as_str()),
        (200, Some("cancelled")),
        "{cancelled}"
    );
    expect_problem(
        app.get("/api/v1/items/DA-SCJG-001").await,
        404,
        "item_not_found",
    )
    .await;
    let (_, page) = app.get_json("/api/v1/items").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 0);
    let (status, _) = app.get_json("/api/v1/items/DA-SCJG-001/versions/2").await;
    assert_eq!(status, 200);

    // Every write is in the item's audit history, in order, and the log verifies.
    let history: Value = app
        .admin(Method::GET, "/api/v1/admin/items/DA-SCJG-001/audit")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "item.create",
            "item.publish",
            "item.edit_draft",
            "item.publish",
            "item.cancel"
        ]
    );
    // Changes name who made them: the logged-in administrator.
    assert!(
        history[1]["actor"].as_str().unwrap().starts_with("staff:"),
        "{history:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_public_catalog_searches_filters_and_pages() {
    let app = spawn_app().await;
    create_departments(&app).await;
    for i in 1..=5 {
        publish_item(
            &app,
            &format!("DA-SCJG-00{i}"),
            "DA-SCJG",
            complete_draft(&format!("食品经营许可{i}")),
        )
        .await;
    }
    let mut health = complete_draft("公共场所卫生许可");
    health["co_department_codes"] = json!([]);
    health["steps"][2]["department_code"] = Value::Null;
    health["category"] = json!("public_service");
    publish_item(&app, "DA-WJ-001", "DA-WJ", health).await;

    let (_, by_text) = app.get_json("/api/v1/items?q=%E5%8D%AB%E7%94%9F").await; // 卫生
    assert_eq!(by_text["items"].as_array().unwrap().len(), 1);
    assert_eq!(by_text["items"][0]["code"], "DA-WJ-001");
    let (_, by_code) = app.get_json("/api/v1/items?q=scjg-003").await;
    assert_eq!(by_code["items"][0]["code"], "DA-SCJG-003");
    let (_, by_category) = app.get_json("/api/v1/items?category=public_service").await;
    assert_eq!(by_category["items"].as_array().unwrap().len(), 1);
    // DA-WJ co-handles the five food items and leads the sixth.
    let (_, by_department) = app
        .get_json("/api/v1/items?department=DA-WJ&limit=100")
        .await;
    assert_eq!(by_department["items"].as_array().unwrap().len(), 6);
    let (_, percent) = app.get_json("/api/v1/items?q=%25").await;
    assert_eq!(
        percent["items"].as_array().unwrap().len(),
        0,
        "LIKE wildcards are escaped"
    );

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/items?limit=4&cursor={c}"),
            None => "/api/v1/items?limit=4".to_owned(),
        };
        let (status, page) = app.get_json(&path).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["code"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "DA-SCJG-001",
            "DA-SCJG-002",
            "DA-SCJG-003",
            "DA-SCJG-004",
            "DA-SCJG-005",
            "DA-WJ-001"
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn forms_are_uploaded_checked_and_downloaded() {
    let app = spawn_app().await;
    create_departments(&app).await;
    let pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".to_vec();
    let response = app
        .admin(Method::POST, "/api/v1/admin/files")
        .header("content-type", "application/pdf")
        .body(pdf.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let uploaded: Value = response.json().await.unwrap();
    let sha = uploaded["sha256"].as_str().unwrap().to_owned();

    let lying = app
        .admin(Method::POST, "/api/v1/admin/files")
        .header("content-type", "application/pdf")
        .body(b"<html>not a pdf</html>".to_vec())
        .send()
        .await
        .unwrap();
    expect_problem(lying, 415, "file_type_mismatch").await;

    let mut draft = complete_draft("食品经营许可");
    draft["materials"][0]["blank_form"] =
        json!({"sha256": sha, "file_name": "申请书.pdf", "content_type": "application/pdf"});
    draft["materials"][0]["sample_form"] = json!({"sha256": "0".repeat(64), "file_name": "示范.pdf", "content_type": "application/pdf"});
    let (_, created) = app
        .admin_json(
            Method::POST,
            "/api/v1/admin/items",
            &json!({"code": "DA-SCJG-001", "lead_department_code": "DA-SCJG", "draft": draft}),
        )
        .await;
    let (status, body) = app
        .admin_json(
            Method::POST,
            "/api/v1/admin/items/DA-SCJG-001/publish",
            &json!({"revision": created["draft_revision"]}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["errors"][0]["field"], "materials[0].sample_form",
        "{body}"
    );
    draft["materials"][0]["sample_form"] = Value::Null;
    let (_, _) = app
        .admin_json(
            Method::PUT,
            "/api/v1/admin/items/DA-SCJG-001/draft",
            &json!({"revision": 1, "draft": draft}),
        )
        .await;
    let (status, _) = app
        .admin_json(
            Method::POST,
            "/api/v1/admin/items/DA-SCJG-001/publish",
            &json!({"revision": 2}),
        )
        .await;
    assert_eq!(status, 201);

    let download = app
        .get("/api/v1/items/DA-SCJG-001/materials/application_form/blank-form")
        .await;
    assert_eq!(download.status(), 200);
    let disposition = download.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.contains("attachment"), "{disposition}");
    assert_eq!(download.bytes().await.unwrap().to_vec(), pdf);
    expect_problem(
        app.get("/api/v1/items/DA-SCJG-001/materials/application_form/sample-form")
            .await,
        404,
        "form_not_found",
    )
    .await;
    expect_problem(
        app.get("/api/v1/items/DA-SCJG-001/materials/nope/blank-form")
            .await,
        404,
        "material_not_found",
    )
    .await;
    app.stop().await;
}
