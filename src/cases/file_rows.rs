//! Group insert of uploaded files' rows. Every upload's row is a transaction of its own, and on
//! a busy instance most of its cost is the commit (a WAL flush) and the round trip, not the row.
//! Uploads that arrive while earlier inserts are running queue here and go in together: one
//! statement, one commit, for however many have queued. A lone upload goes at once, so nothing
//! waits for company; under load the batches grow instead of the queue.
//!
//! One batch is in flight at a time while batches are quick, so each carries everything that
//! queued during the last (about three rows instead of two at the bench's 16 clients, a quarter
//! fewer statements and commits). A batch that has not finished after [`STALLED_AFTER`] (a lost
//! packet to the database, a wait for a pooled connection) no longer holds up the rest: the
//! next goes beside it on a spare slot.
//!
//! A small file's bytes travel with its row and are kept by the same statement
//! (`material_bytes`, decision record 0011). An upload is answered only after the statement
//! carrying its row has committed, so a confirmed file, and a small file's bytes with it,
//! survives a crash. When a batch fails, each of its uploads inserts its own row instead, so
//! one bad row cannot fail the others and every error is the one that row would have met alone.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use bytes::Bytes;
use deadpool_postgres::Pool;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::db::prepared::Prepare;

/// The columns a material file is read back with, by the writer and the readers alike.
pub(super) const FILE_COLUMNS: &str =
    "id, sha256, size_bytes, content_type, file_name, uploaded_at";

/// Most rows in one statement: large enough that a burst is one commit, small enough that the
/// arrays of columns stay a few kilobytes (kept bytes have their own limit below).
const MAX_BATCH: usize = 128;

/// Kept bytes (small files' contents) after which a batch takes no more rows: a burst of
/// 64 KiB scans goes as several statements of about a megabyte, not one of eight.
const MAX_BATCH_KEPT_BYTES: usize = 1024 * 1024;

/// How long the batch in flight may take before the next one goes beside it: far above a
/// batch's usual round trip and commit (a few milliseconds), far below what an upload's caller
/// would notice.
const STALLED_AFTER: Duration = Duration::from_millis(50);

/// A file row to insert (the columns the upload decides; `uploaded_at` is the commit's time).
#[derive(Clone)]
pub struct NewFileRow {
    pub id: Uuid,
    pub owner: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub content_type: &'static str,
    pub file_name: Option<String>,
    /// The bytes of a small file, kept in `material_bytes` by the statement that inserts the
    /// row; `None` when they are in the blob store already.
    pub kept_bytes: Option<Bytes>,
}

impl NewFileRow {
    fn kept_len(&self) -> usize {
        self.kept_bytes.as_ref().map_or(0, Bytes::len)
    }
}

/// What became of a queued row: inserted (the row as stored), already on file (the owner has
/// these bytes: nothing inserted), or not decided here (the caller inserts it alone).
pub enum Outcome {
    Inserted(Row),
    Conflict,
    InsertAlone,
}

struct Queued {
    row: NewFileRow,
    reply: oneshot::Sender<Outcome>,
}

/// The queue's sending end; cloning shares the queue.
#[derive(Clone)]
pub struct FileRowWriter {
    queue: mpsc::UnboundedSender<Queued>,
}

/// The rows, and the kept bytes of the small files among them (`$7`, `NULL` for the others), in
/// one statement: one commit makes both durable. Bytes another owner has already kept are left
/// as they are; the same bytes twice in a batch are kept once.
static INSERT_BATCH: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH kept AS (
             INSERT INTO material_bytes (sha256, bytes)
             SELECT DISTINCT ON (sha256) sha256, bytes
             FROM unnest($3::text[], $7::bytea[]) AS k(sha256, bytes)
             WHERE bytes IS NOT NULL
             ON CONFLICT (sha256) DO NOTHING
         )
         INSERT INTO material_file (id, owner, sha256, size_bytes, content_type, file_name)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int8[], $5::text[],
                              $6::text[])
         ON CONFLICT (owner, sha256) DO NOTHING
         RETURNING {}",
        FILE_COLUMNS
    )
});

impl FileRowWriter {
    /// Starts the writer on the current runtime: one batch in flight, and up to `concurrent`
    /// when batches stall, each on its own pooled connection.
    pub fn start(pool: Pool, concurrent: usize) -> FileRowWriter {
        let (queue, waiting) = mpsc::unbounded_channel();
        let slots = Slots {
            primary: Arc::new(Semaphore::new(1)),
            spare: Arc::new(Semaphore::new(concurrent.saturating_sub(1))),
        };
        tokio::spawn(run(pool, waiting, slots));
        FileRowWriter { queue }
    }

    /// Queues `row` and waits for its batch to commit.
    pub async fn insert(&self, row: NewFileRow) -> Outcome {
        let (reply, answer) = oneshot::channel();
        if self.queue.send(Queued { row, reply }).is_err() {
            return Outcome::InsertAlone;
        }
        answer.await.unwrap_or(Outcome::InsertAlone)
    }
}

/// Where batches run: the primary slot, and spare ones for when the batch on it stalls.
struct Slots {
    primary: Arc<Semaphore>,
    spare: Arc<Semaphore>,
}

impl Slots {
    /// The primary slot when it frees up within [`STALLED_AFTER`]; after that, whichever of the
    /// primary and a spare frees up first. `None` once the semaphores are closed (never).
    async fn next(&self) -> Option<OwnedSemaphorePermit> {
        if let Ok(permit) =
            tokio::time::timeout(STALLED_AFTER, self.primary.clone().acquire_owned()).await
        {
            return permit.ok();
        }
        tokio::select! {
            permit = self.primary.clone().acquire_owned() => permit.ok(),
            permit = self.spare.clone().acquire_owned() => permit.ok(),
        }
    }
}

async fn run(pool: Pool, mut waiting: mpsc::UnboundedReceiver<Queued>, slots: Slots) {
    loop {
        // A slot first, then the rows: what arrives while the batch in flight runs goes in one
        // batch after it.
        let Some(slot) = slots.next().await else {
            return;
        };
        let Some(first) = waiting.recv().await else {
            return;
        };
        let mut kept_bytes = first.row.kept_len();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH && kept_bytes < MAX_BATCH_KEPT_BYTES {
            match waiting.try_recv() {
                Ok(queued) => {
                    kept_bytes += queued.row.kept_len();
                    batch.push(queued);
                }
                Err(_) => break,
            }
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            let inserted = insert_batch(&pool, &batch_rows(&batch)).await;
            answer(batch, inserted);
            drop(slot);
        });
    }
}

fn batch_rows(batch: &[Queued]) -> Vec<&NewFileRow> {
    batch.iter().map(|q| &q.row).collect()
}

/// Inserts `rows` (and the kept bytes among them) in one statement: the rows inserted; a row
/// whose owner has these bytes on file already is not among them.
pub(super) async fn insert_batch(pool: &Pool, rows: &[&NewFileRow]) -> anyhow::Result<Vec<Row>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let owners: Vec<&str> = rows.iter().map(|r| r.owner.as_str()).collect();
    let sha256s: Vec<&str> = rows.iter().map(|r| r.sha256.as_str()).collect();
    let sizes: Vec<i64> = rows.iter().map(|r| r.size_bytes).collect();
    let types: Vec<&str> = rows.iter().map(|r| r.content_type).collect();
    let names: Vec<Option<&str>> = rows.iter().map(|r| r.file_name.as_deref()).collect();
    let kept: Vec<Option<&[u8]>> = rows.iter().map(|r| r.kept_bytes.as_deref()).collect();
    let client = pool.get().await?;
    Ok(client
        .query_prepared(
            &INSERT_BATCH,
            &[&ids, &owners, &sha256s, &sizes, &types, &names, &kept],
        )
        .await?)
}

fn answer(batch: Vec<Queued>, inserted: anyhow::Result<Vec<Row>>) {
    match inserted {
        Ok(rows) => {
            let mut by_id: HashMap<Uuid, Row> = rows.into_iter().map(|r| (r.get(0), r)).collect();
            for queued in batch {
                let outcome = match by_id.remove(&queued.row.id) {
                    Some(row) => Outcome::Inserted(row),
                    None => Outcome::Conflict,
                };
                // An upload whose client went away no longer waits: nothing to tell it.
                let _ = queued.reply.send(outcome);
            }
        }
        Err(error) => {
            tracing::warn!(rows = batch.len(), error = %error, "file row batch failed; inserting one by one");
            for queued in batch {
                let _ = queued.reply.send(Outcome::InsertAlone);
            }
        }
    }
}
