//! The group insert of uploaded files' rows (`cases::file_rows`): one batch in flight while
//! batches are quick, a second beside it once the first stalls.

use std::time::{Duration, Instant};

use fingertip::cases::file_rows::{FileRowWriter, NewFileRow, Outcome};
use uuid::Uuid;

use crate::support::db::fresh_database;

fn row(owner: &str, sha256: &str) -> NewFileRow {
    NewFileRow {
        id: Uuid::new_v4(),
        owner: owner.to_owned(),
        sha256: sha256.to_owned(),
        size_bytes: 10,
        content_type: "application/pdf",
        file_name: None,
        kept_bytes: None,
    }
}

/// A batch waiting on a row lock (another transaction holds an uncommitted row with the same
/// owner and content) does not hold up the next upload's row: after the stall limit it goes
/// beside it on a spare slot, while the stalled one still waits. The stalled row is decided
/// when the other transaction ends.
#[tokio::test]
async fn a_stalled_batch_does_not_hold_up_the_next() {
    let database = fresh_database().await;
    let config: tokio_postgres::Config = database.connection_string.parse().unwrap();
    let pool = fingertip::db::pool_for(config, 4).unwrap();
    let writer = FileRowWriter::start(pool.clone(), 2);
    let (blocker, connection) =
        tokio_postgres::connect(&database.connection_string, tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    let taken = "a".repeat(64);
    blocker
        .batch_execute(&format!(
            "BEGIN; INSERT INTO material_file (id, owner, sha256, size_bytes, content_type)
             VALUES ('{}', 'citizen:first', '{taken}', 10, 'application/pdf')",
            Uuid::new_v4()
        ))
        .await
        .unwrap();

    let stalled = tokio::spawn({
        let writer = writer.clone();
        let row = row("citizen:first", &taken);
        async move { writer.insert(row).await }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;

    let started = Instant::now();
    let next = tokio::time::timeout(
        Duration::from_secs(5),
        writer.insert(row("citizen:second", &"b".repeat(64))),
    )
    .await
    .expect("the next row went in beside the stalled batch");
    assert!(matches!(next, Outcome::Inserted(_)));
    assert!(
        started.elapsed() >= Duration::from_millis(30),
        "it waited for the stall limit (50 ms after the first batch began) first: {:?}",
        started.elapsed()
    );
    assert!(!stalled.is_finished(), "the stalled batch still waits");

    blocker.batch_execute("COMMIT").await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(5), stalled)
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(outcome, Outcome::Conflict),
        "the other transaction's row was there first"
    );
}
