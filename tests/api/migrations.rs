//! Migrations: applied once under a lock, recorded with checksums, edits detected.

use fingertip::db::migrate::{self, MIGRATIONS, MigrateError};

use crate::support::db::fresh_database;

async fn connect(connection_string: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(connection_string, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

#[tokio::test]
async fn a_migrated_database_is_current_and_migrating_again_applies_nothing() {
    let database = fresh_database().await;
    let mut client = connect(&database.connection_string).await;
    let recorded: Vec<String> = client
        .query("SELECT name FROM schema_migrations ORDER BY name", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        migrate::is_current(&client).await.unwrap(),
        "{} recorded: {recorded:?}",
        database.name
    );
    assert!(migrate::run(&mut client).await.unwrap().is_empty());
}

#[tokio::test]
async fn two_instances_migrating_an_empty_database_at_once_apply_each_migration_once() {
    let database = fresh_database().await;
    let admin = connect(&database.connection_string).await;
    // Empty the cloned database to simulate a brand-new one.
    admin
        .batch_execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        .await
        .unwrap();
    let mut a = connect(&database.connection_string).await;
    let mut b = connect(&database.connection_string).await;
    let (ra, rb) = tokio::join!(migrate::run(&mut a), migrate::run(&mut b));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.len() + rb.len(), MIGRATIONS.len(), "{ra:?} {rb:?}");
    assert!(
        ra.is_empty() || rb.is_empty(),
        "only one instance migrates: {ra:?} {rb:?}"
    );
    let count: i64 = admin
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count as usize, MIGRATIONS.len());
}

#[tokio::test]
async fn an_edited_applied_migration_stops_start_up_with_a_clear_message() {
    let database = fresh_database().await;
    let mut client = connect(&database.connection_string).await;
    client
        .execute(
            "UPDATE schema_migrations SET checksum = 'edited' WHERE name = '0001_foundation.sql'",
            &[],
        )
        .await
        .unwrap();
    let err = migrate::run(&mut client).await.unwrap_err();
    assert!(
        matches!(err, MigrateError::Edited { ref name, .. } if name == "0001_foundation.sql"),
        "{err}"
    );
    assert!(
        err.to_string().contains("edited after it was applied"),
        "{err}"
    );
    assert!(!migrate::is_current(&client).await.unwrap());
}

/// Cases and notifications name their department, item version and template without a foreign
/// key (migration 0015: no shared row locked by every submission), and case materials and
/// events name their case and file without one (0016: pipelined submissions), as deliveries and
/// their events name their notification and delivery (0017); those parents
/// refuse to be removed or re-keyed instead, and a department's other edits still go through.
#[tokio::test]
async fn parents_that_cases_and_notices_name_cannot_be_removed_or_rekeyed() {
    let database = fresh_database().await;
    let client = connect(&database.connection_string).await;
    client
        .batch_execute(
            "INSERT INTO department (id, code, name, level, region_code)
             VALUES ('00000000-0000-0000-0000-0000000000d1', 'GUARD-TEST', '守护测试局', 'county', '330102');
             INSERT INTO item (id, code, lead_department_id, region_code, status, draft, current_version)
             VALUES ('00000000-0000-0000-0000-0000000000a1', 'GUARD-ITEM', '00000000-0000-0000-0000-0000000000d1',
                     '330102', 'published', '{}', 1);
             INSERT INTO item_version (item_id, version, name, category, department_ids, guide, guide_sha256, published_by)
             VALUES ('00000000-0000-0000-0000-0000000000a1', 1, '守护测试事项', 'licence',
                     '{00000000-0000-0000-0000-0000000000d1}', '{}', 'x', 'test');
             INSERT INTO notification_template (key, version, sms_body, variables, created_by)
             VALUES ('guard.test', 1, '测试', '{}', 'test');
             INSERT INTO material_file (id, owner, sha256, size_bytes, content_type)
             VALUES ('00000000-0000-0000-0000-0000000000f1', 'citizen:guard', repeat('a', 64), 1,
                     'application/pdf');
             INSERT INTO cases (id, region_code, item_id, item_code, item_version, item_name,
                                lead_department_id, channel, applicant_kind, applicant_name,
                                applicant_id_masked, applicant_tail_mac, submitted_by, form, state,
                                stage, department_ids, limit_working_days, instant)
             VALUES ('00000000-0000-0000-0000-0000000000c1', '330102',
                     '00000000-0000-0000-0000-0000000000a1', 'GUARD-ITEM', 1, '守护测试事项',
                     '00000000-0000-0000-0000-0000000000d1', 'online', 'citizen', '守护',
                     '1****1', '\\x00', 'citizen:guard', '{}', '{}', 'pre_review',
                     '{00000000-0000-0000-0000-0000000000d1}', 5, false);
             INSERT INTO notification (id, template_key, template_version, variables, channels,
                                       idempotency_key)
             VALUES ('00000000-0000-0000-0000-0000000000e1', 'guard.test', 1, '{}', '{sms}',
                     'guard-test');
             INSERT INTO notification_delivery (id, notification_id, channel, address, body, status)
             VALUES ('00000000-0000-0000-0000-0000000000e2', '00000000-0000-0000-0000-0000000000e1',
                     'sms', '13800000000', '测试', 'created');",
        )
        .await
        .unwrap();
    let refused = [
        (
            "DELETE FROM department WHERE code = 'GUARD-TEST'",
            "never removed or re-keyed",
        ),
        (
            "UPDATE department SET id = '00000000-0000-0000-0000-0000000000d2' WHERE code = 'GUARD-TEST'",
            "never removed or re-keyed",
        ),
        (
            "DELETE FROM item_version WHERE name = '守护测试事项'",
            "immutable",
        ),
        (
            "UPDATE item_version SET version = 2 WHERE name = '守护测试事项'",
            "immutable",
        ),
        (
            "DELETE FROM notification_template WHERE key = 'guard.test'",
            "immutable",
        ),
        (
            "UPDATE notification_template SET version = 2 WHERE key = 'guard.test'",
            "immutable",
        ),
        // Migration 0016: case materials and events name their case and file without a
        // foreign key.
        (
            "DELETE FROM cases WHERE item_code = 'GUARD-ITEM'",
            "never removed or re-keyed",
        ),
        (
            "UPDATE cases SET id = '00000000-0000-0000-0000-0000000000c2' WHERE item_code = 'GUARD-ITEM'",
            "never removed or re-keyed",
        ),
        (
            "DELETE FROM material_file WHERE owner = 'citizen:guard'",
            "never removed or re-keyed",
        ),
        (
            "UPDATE material_file SET id = '00000000-0000-0000-0000-0000000000f2' WHERE owner = 'citizen:guard'",
            "never removed or re-keyed",
        ),
        // Migration 0017: deliveries and their events name their parent without a foreign key.
        (
            "DELETE FROM notification WHERE idempotency_key = 'guard-test'",
            "never removed or re-keyed",
        ),
        (
            "DELETE FROM notification_delivery WHERE address = '13800000000'",
            "never removed or re-keyed",
        ),
    ];
    for (statement, reason) in refused {
        let err = client.batch_execute(statement).await.expect_err(statement);
        assert!(
            err.as_db_error()
                .is_some_and(|e| e.message().contains(reason)),
            "{statement}: {err:?}"
        );
    }
    client
        .batch_execute("UPDATE department SET phone = '0571-1234567' WHERE code = 'GUARD-TEST'")
        .await
        .unwrap();
}
