//! The demo catalog: a county's departments and a dozen-plus complete items over the "6+1".

use std::collections::BTreeSet;

use crate::support::spawn_demo_app;

#[tokio::test]
async fn the_demo_catalog_covers_every_category_with_complete_guides() {
    let app = spawn_demo_app().await;
    let (status, page) = app.get_json("/api/v1/items?limit=100").await;
    assert_eq!(status, 200);
    let items = page["items"].as_array().unwrap();
    assert!(items.len() >= 12, "{} items", items.len());
    let categories: BTreeSet<&str> = items
        .iter()
        .map(|i| i["category"].as_str().unwrap())
        .collect();
    assert_eq!(categories.len(), 7, "{categories:?}");
    assert!(items.iter().any(|i| i["instant"] == true));
    let mut has_sub_items = false;
    let mut has_fee = false;
    let mut has_form = None;
    for item in items {
        let code = item["code"].as_str().unwrap();
        let (status, detail) = app.get_json(&format!("/api/v1/items/{code}")).await;
        assert_eq!(status, 200, "{detail}");
        let guide = &detail["guide"];
        assert!(!guide["legal_basis"].as_array().unwrap().is_empty());
        assert!(!guide["materials"].as_array().unwrap().is_empty());
        has_sub_items |= !detail["sub_item_codes"].as_array().unwrap().is_empty();
        has_fee |= guide["fees"]["free"] == false;
        if has_form.is_none() {
            has_form = guide["materials"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m.get("blank_form").is_some())
                .map(|m| {
                    format!(
                        "/api/v1/items/{code}/materials/{}/blank-form",
                        m["key"].as_str().unwrap()
                    )
                });
        }
    }
    assert!(has_sub_items && has_fee);
    let form = app
        .get(&has_form.expect("a demo material with a blank form"))
        .await;
    assert_eq!(form.status(), 200);
    assert!(form.bytes().await.unwrap().starts_with(b"%PDF-"));
    app.stop().await;
}

#[tokio::test]
async fn demo_data_loads_only_into_an_empty_database() {
    let app = spawn_demo_app().await;
    let (_, first) = app.get_json("/api/v1/items?limit=100").await;
    let pool = fingertip::db::pool_for(app.database.connection_string.parse().unwrap(), 2).unwrap();
    let services = fingertip::app::Services::new(
        &app.config,
        pool.clone(),
        fingertip::identity::setup::IdentitySecrets::ephemeral().unwrap(),
    )
    .unwrap();
    assert!(
        !fingertip::catalog::demo::load_demo(&pool, &services.catalog)
            .await
            .unwrap()
    );
    let (_, second) = app.get_json("/api/v1/items?limit=100").await;
    assert_eq!(first, second);
    app.stop().await;
}
