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
