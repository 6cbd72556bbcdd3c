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

/// A file-row writer with `slots` whose batch in flight is stalled: another transaction
/// (`blocker`) holds an uncommitted row with the same owner and content, so the batch waits on
/// its lock until `blocker` commits or rolls back.
struct Stalled {
    pool: deadpool_postgres::Pool,
    writer: FileRowWriter,
    blocker: tokio_postgres::Client,
    batch: tokio::task::JoinHandle<Outcome>,
}

async fn a_writer_with_a_stalled_batch(connection_string: &str, slots: usize) -> Stalled {
    let config: tokio_postgres::Config = connection_string.parse().unwrap();
    let pool = fingertip::db::pool_for(config, 4).unwrap();
    let writer = FileRowWriter::start(pool.clone(), slots);
    let (blocker, connection) = tokio_postgres::connect(connection_string, tokio_postgres::NoTls)
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
    let batch = tokio::spawn({
        let writer = writer.clone();
        let row = row("citizen:first", &taken);
        async move { writer.insert(row).await }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    Stalled {
        pool,
        writer,
        blocker,
        batch,
    }
}

/// A batch waiting on a row lock (another transaction holds an uncommitted row with the same
/// owner and content) does not hold up the next upload's row: after the stall limit it goes
/// beside it on a spare slot, while the stalled one still waits. The stalled row is decided
/// when the other transaction ends.
#[tokio::test]
async fn a_stalled_batch_does_not_hold_up_the_next() {
    let database = fresh_database().await;
    let Stalled {
        writer,
        blocker,
        batch: stalled,
        ..
    } = a_writer_with_a_stalled_batch(&database.connection_string, 2).await;

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

/// Small files' bytes travel with their rows, and a batch stops taking rows once it carries a
/// megabyte of them: twenty 64 KiB files queued behind a busy slot go in two statements (rows of
/// one statement share its transaction's `uploaded_at`), each row with its bytes.
#[tokio::test]
async fn a_batch_carries_at_most_a_megabyte_of_kept_bytes() {
    let database = fresh_database().await;
    // One slot and no spare: everything queued while it is busy waits for it.
    let Stalled {
        pool,
        writer,
        blocker,
        batch: stalled,
    } = a_writer_with_a_stalled_batch(&database.connection_string, 1).await;

    let kept: Vec<NewFileRow> = (0..20u8)
        .map(|n| {
            let bytes = vec![n; 64 * 1024];
            NewFileRow {
                kept_bytes: Some(bytes::Bytes::from(bytes.clone())),
                size_bytes: 64 * 1024,
                ..row(
                    "citizen:scans",
                    &hex::encode(ring::digest::digest(&ring::digest::SHA256, &bytes)),
                )
            }
        })
        .collect();
    let queued = tokio::spawn({
        let writer = writer.clone();
        async move { futures_util::future::join_all(kept.into_iter().map(|r| writer.insert(r))).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    blocker.batch_execute("COMMIT").await.unwrap();
    stalled.await.unwrap();
    let outcomes = tokio::time::timeout(Duration::from_secs(10), queued)
        .await
        .unwrap()
        .unwrap();
    assert!(outcomes.iter().all(|o| matches!(o, Outcome::Inserted(_))));

    let client = pool.get().await.unwrap();
    let statements: i64 = client
        .query_one(
            "SELECT count(DISTINCT uploaded_at) FROM material_file WHERE owner = 'citizen:scans'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        statements, 2,
        "sixteen rows (1 MiB) in the first batch, four in the next"
    );
    let with_bytes: i64 = client
        .query_one(
            "SELECT count(*) FROM material_file f JOIN material_bytes b USING (sha256)
             WHERE f.owner = 'citizen:scans' AND length(b.bytes) = f.size_bytes",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(with_bytes, 20);
}
