//! The committed OpenAPI document is exactly what the code serves.

use crate::support::spawn_app;

#[tokio::test]
async fn committed_spec_matches_the_code_and_the_served_document() {
    let generated = fingertip::app::openapi_spec_json().unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(path, format!("{generated}\n")).unwrap();
    } else {
        assert!(
            committed.trim_end() == generated.trim_end(),
            "openapi/openapi.json is stale: run `UPDATE_OPENAPI=1 cargo test openapi` (or `cargo run -- openapi > openapi/openapi.json`)"
        );
    }
    // `fingertip openapi`, the command the message above names, prints the same document.
    let printed = std::process::Command::new(env!("CARGO_BIN_EXE_fingertip"))
        .arg("openapi")
        .output()
        .unwrap();
    assert!(
        printed.status.success(),
        "fingertip openapi: {}",
        String::from_utf8_lossy(&printed.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&printed.stdout).trim_end(),
        generated.trim_end()
    );
    let app = spawn_app().await;
    let served: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    let ours: serde_json::Value = serde_json::from_str(&generated).unwrap();
    assert_eq!(served, ours);
    let docs = app.get("/docs").await;
    assert_eq!(docs.status(), 200);
    app.stop().await;
}
