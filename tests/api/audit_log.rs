//! The audit log as the running service writes it: verified intact after real catalog writes,
//! and every kind of tampering found by `verify`.

use fingertip::audit::{self, AuditProblem, AuditSigner};
use reqwest::Method;
use serde_json::json;

use crate::support::fixtures::{complete_draft, create_departments, publish_item};
use crate::support::{TestApp, spawn_app};

async fn write_history(app: &TestApp) -> AuditSigner {
    create_departments(app).await;
    publish_item(
        app,
        "DA-SCJG-001",
        "DA-SCJG",
        complete_draft("食品经营许可"),
    )
    .await;
    publish_item(
        app,
        "DA-SCJG-002",
        "DA-SCJG",
        complete_draft("食品生产许可"),
    )
    .await;
    let (status, _) = app
        .admin_json(
            Method::POST,
            "/api/v1/admin/items/DA-SCJG-002/cancel",
            &json!({"reason": "合并办理"}),
        )
        .await;
    assert_eq!(status, 200);
    // The server created its key on start; sign a checkpoint with it as the background job would.
    let signer = AuditSigner::load_or_create(&app.config.audit_key_path()).unwrap();
    let client = app.db().await;
    audit::checkpoint(&client, &signer).await.unwrap();
    signer
}

#[tokio::test]
async fn the_log_written_by_the_service_verifies() {
    let app = spawn_app().await;
    let signer = write_history(&app).await;
    let client = app.db().await;
    let report = audit::verify(&client, signer.public_key()).await.unwrap();
    assert!(report.is_ok(), "{report}");
    // 4 departments + 2 items (create, publish ×2 and a cancel) + 0 files, and the test
    // administrator's account (its login).
    assert_eq!(report.chains_checked, 6 + 1, "{report}");
    assert_eq!(report.records_checked, 4 + 2 + 2 + 1 + 1, "{report}");
    assert!(report.checkpoints_checked >= 1, "{report}");
    // Another key does not vouch for these checkpoints.
    let stranger = AuditSigner::generate().unwrap();
    let report = audit::verify(&client, stranger.public_key()).await.unwrap();
    assert!(
        matches!(
            report.first_problem,
            Some(AuditProblem::BadSignature { .. })
        ),
        "{report}"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_database_refuses_to_rewrite_history() {
    let app = spawn_app().await;
    write_history(&app).await;
    let client = app.db().await;
    assert!(
        client
            .execute("UPDATE audit_record SET actor = 'someone else'", &[])
            .await
            .is_err()
    );
    assert!(
        client
            .execute("DELETE FROM audit_record", &[])
            .await
            .is_err()
    );
    assert!(
        client
            .batch_execute("TRUNCATE audit_record CASCADE")
            .await
            .is_err()
    );
    app.stop().await;
}

#[tokio::test]
async fn an_altered_record_is_the_first_broken_link() {
    let app = spawn_app().await;
    let signer = write_history(&app).await;
    let client = app.db().await;
    client
        .batch_execute(
            "ALTER TABLE audit_record DISABLE TRIGGER USER;
             UPDATE audit_record SET actor = 'someone else' WHERE action = 'item.cancel';
             ALTER TABLE audit_record ENABLE TRIGGER USER;",
        )
        .await
        .unwrap();
    let report = audit::verify(&client, signer.public_key()).await.unwrap();
    assert!(
        matches!(report.first_problem, Some(AuditProblem::HashMismatch { ref aggregate_type, seq: 3, .. }) if aggregate_type == "item"),
        "{report}"
    );
    app.stop().await;
}

#[tokio::test]
async fn deleting_a_whole_chain_is_caught_by_the_signed_checkpoint() {
    let app = spawn_app().await;
    let signer = write_history(&app).await;
    let client = app.db().await;
    client
        .batch_execute(
            "ALTER TABLE audit_record DISABLE TRIGGER USER;
             DELETE FROM audit_record WHERE aggregate_type = 'item' AND aggregate_id =
                 (SELECT id::text FROM item WHERE code = 'DA-SCJG-002');
             DELETE FROM audit_chain_head WHERE aggregate_type = 'item' AND aggregate_id =
                 (SELECT id::text FROM item WHERE code = 'DA-SCJG-002');
             ALTER TABLE audit_record ENABLE TRIGGER USER;",
        )
        .await
        .unwrap();
    let report = audit::verify(&client, signer.public_key()).await.unwrap();
    assert!(
        matches!(
            report.first_problem,
            Some(AuditProblem::MissingChain { .. })
                | Some(AuditProblem::CheckpointHeadMismatch {
                    record_missing: true,
                    ..
                })
        ),
        "{report}"
    );
    app.stop().await;
}
