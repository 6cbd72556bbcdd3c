//! Signed checkpoints of all chain heads (so deleting or truncating a whole chain is detectable),
//! their exact message and digest encodings, and the background task that takes them.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ring::digest::{Context, SHA256};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_postgres::Client;

use super::AuditSigner;
use super::canonical::push_field;
use super::chain::format_timestamp;

/// Domain-separation prefix of the checkpoint signing message (version 1).
pub const CHECKPOINT_DOMAIN: &str = "fingertip-audit-checkpoint-v1\n";

/// Key of the transaction-level advisory lock that lets one instance checkpoint at a time
/// (the ASCII bytes of "auditckp").
pub const CHECKPOINT_LOCK_KEY: i64 = 0x6175_6469_7463_6b70;

/// Rows fetched per round trip when streaming records, heads and checkpoints.
#[cfg(not(test))]
pub(crate) const FETCH_BATCH: usize = 1000;
/// Small in tests, so that chains and head lists span several batches.
#[cfg(test)]
pub(crate) const FETCH_BATCH: usize = 7;

/// One line of the heads digest: `type \t id \t seq \t hash \n`.
///
/// `aggregate_type` and `aggregate_id` are escaped so a line can be split back unambiguously:
/// `\` becomes `\\`, TAB `\t`, LF `\n`, CR `\r` (two characters each). Identifiers without those
/// characters appear verbatim. `seq` is decimal, `hash` lowercase hex.
pub fn head_line(aggregate_type: &str, aggregate_id: &str, seq: i64, hash: &str) -> String {
    format!(
        "{}\t{}\t{seq}\t{hash}\n",
        escape_field(aggregate_type),
        escape_field(aggregate_id)
    )
}

fn escape_field(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// `heads_digest`: lowercase hex SHA-256 over the concatenated [`head_line`]s of all chain heads,
/// sorted by (aggregate_type, aggregate_id) comparing the UTF-8 bytes (PostgreSQL `COLLATE "C"`).
/// No heads give the SHA-256 of the empty string.
#[derive(Clone)]
pub struct HeadsDigest {
    ctx: Context,
    count: i64,
}

impl Default for HeadsDigest {
    fn default() -> Self {
        HeadsDigest {
            ctx: Context::new(&SHA256),
            count: 0,
        }
    }
}

impl HeadsDigest {
    pub fn add(&mut self, aggregate_type: &str, aggregate_id: &str, seq: i64, hash: &str) {
        self.ctx
            .update(head_line(aggregate_type, aggregate_id, seq, hash).as_bytes());
        self.count += 1;
    }

    pub fn count(&self) -> i64 {
        self.count
    }

    pub fn finish(self) -> String {
        hex::encode(self.ctx.finish().as_ref())
    }
}

/// The message a checkpoint's signature covers:
///
/// ```text
/// "fingertip-audit-checkpoint-v1\n"
/// || F(id) || F(created_at) || F(head_count) || F(heads_digest) || F(prev_signature)
/// ```
///
/// with `F` the netstring framing of the record hash (`len:bytes,`), `id` and `head_count` in
/// decimal, `created_at` as RFC 3339 UTC with six fractional digits and `Z`, `heads_digest` as
/// in [`HeadsDigest`], and `prev_signature` the previous checkpoint's `signature` column (lowercase
/// hex) or the empty string for the first checkpoint. The signature is Ed25519 over these bytes,
/// stored as lowercase hex; `public_key` is the raw 32-byte key in lowercase hex.
pub fn checkpoint_message(
    id: i64,
    created_at: &DateTime<Utc>,
    head_count: i64,
    heads_digest: &str,
    prev_signature: Option<&str>,
) -> Vec<u8> {
    let mut msg = Vec::with_capacity(256);
    msg.extend_from_slice(CHECKPOINT_DOMAIN.as_bytes());
    push_field(&mut msg, id.to_string().as_bytes());
    push_field(&mut msg, format_timestamp(created_at).as_bytes());
    push_field(&mut msg, head_count.to_string().as_bytes());
    push_field(&mut msg, heads_digest.as_bytes());
    push_field(&mut msg, prev_signature.unwrap_or("").as_bytes());
    msg
}

const HEADS_CURSOR: &str = "DECLARE audit_checkpoint_heads SCROLL CURSOR FOR \
     SELECT aggregate_type, aggregate_id, seq, hash FROM audit_chain_head \
     ORDER BY aggregate_type COLLATE \"C\", aggregate_id COLLATE \"C\"";

const INSERT_HEADS: &str = "INSERT INTO audit_checkpoint_head \
         (checkpoint_id, aggregate_type, aggregate_id, seq, hash) \
     SELECT $1, t, i, s, h FROM unnest($2::text[], $3::text[], $4::int8[], $5::text[]) AS u(t, i, s, h)";

/// Signs the current set of chain heads, unless it is unchanged since the latest checkpoint or
/// another instance is checkpointing right now. Returns the new checkpoint's id.
///
/// Runs in its own READ COMMITTED transaction, which it begins and ends on `client` (so `client`
/// must not be inside a transaction). That transaction first takes
/// `pg_try_advisory_xact_lock(CHECKPOINT_LOCK_KEY)` and only then reads anything, so it sees
/// every checkpoint committed before it got the lock and the checkpoint chain never forks. The
/// heads are read through one SCROLL cursor: the digest pass and the pass that copies them into
/// `audit_checkpoint_head` see the same snapshot, and no more than [`FETCH_BATCH`] heads are held
/// in memory at once.
///
/// If the returned future is dropped before it completes, the connection is left inside the
/// transaction: close it rather than reuse it ([`spawn_checkpointer`] does that for you).
pub async fn checkpoint(
    client: &Client,
    signer: &AuditSigner,
) -> Result<Option<i64>, tokio_postgres::Error> {
    client
        .batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")
        .await?;
    match checkpoint_in_transaction(client, signer).await {
        Ok(Some(id)) => {
            client.batch_execute("COMMIT").await?;
            tracing::info!(checkpoint_id = id, "took an audit checkpoint");
            Ok(Some(id))
        }
        Ok(None) => {
            client.batch_execute("ROLLBACK").await?;
            Ok(None)
        }
        Err(error) => {
            // The transaction is aborted anyway; a failing ROLLBACK means the connection is gone.
            let _ = client.batch_execute("ROLLBACK").await;
            Err(error)
        }
    }
}

async fn checkpoint_in_transaction(
    client: &Client,
    signer: &AuditSigner,
) -> Result<Option<i64>, tokio_postgres::Error> {
    let locked: bool = client
        .query_one(
            "SELECT pg_try_advisory_xact_lock($1)",
            &[&CHECKPOINT_LOCK_KEY],
        )
        .await?
        .try_get(0)?;
    if !locked {
        tracing::debug!("another instance is taking an audit checkpoint; skipping");
        return Ok(None);
    }

    client.batch_execute(HEADS_CURSOR).await?;
    let mut digest = HeadsDigest::default();
    for_each_head_batch(client, |batch| {
        for h in batch {
            digest.add(&h.0, &h.1, h.2, &h.3);
        }
    })
    .await?;
    let head_count = digest.count();
    let heads_digest = digest.finish();

    let latest = client
        .query_opt(
            "SELECT heads_digest, signature FROM audit_checkpoint ORDER BY id DESC LIMIT 1",
            &[],
        )
        .await?;
    let prev_signature = match latest {
        Some(row) => {
            let latest_digest: String = row.try_get(0)?;
            if latest_digest == heads_digest {
                tracing::debug!("audit chain heads unchanged since the latest checkpoint");
                return Ok(None);
            }
            Some(row.try_get::<_, String>(1)?)
        }
        None => None,
    };

    let row = client
        .query_one(
            "SELECT nextval(pg_get_serial_sequence('audit_checkpoint', 'id')), clock_timestamp()",
            &[],
        )
        .await?;
    let id: i64 = row.try_get(0)?;
    let created_at: DateTime<Utc> = row.try_get(1)?;
    let message = checkpoint_message(
        id,
        &created_at,
        head_count,
        &heads_digest,
        prev_signature.as_deref(),
    );
    let signature = hex::encode(signer.sign(&message));
    client
        .execute(
            "INSERT INTO audit_checkpoint \
             (id, created_at, head_count, heads_digest, prev_signature, public_key, signature) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &id,
                &created_at,
                &head_count,
                &heads_digest,
                &prev_signature,
                &signer.public_key_hex(),
                &signature,
            ],
        )
        .await?;

    // Second pass over the same cursor (same snapshot): copy the heads that were digested.
    client
        .batch_execute("MOVE ABSOLUTE 0 IN audit_checkpoint_heads")
        .await?;
    loop {
        let batch = fetch_heads(client).await?;
        if batch.is_empty() {
            break;
        }
        let (mut types, mut ids, mut seqs, mut hashes) = (
            Vec::with_capacity(batch.len()),
            Vec::with_capacity(batch.len()),
            Vec::with_capacity(batch.len()),
            Vec::with_capacity(batch.len()),
        );
        for (t, i, s, h) in batch {
            types.push(t);
            ids.push(i);
            seqs.push(s);
            hashes.push(h);
        }
        client
            .execute(INSERT_HEADS, &[&id, &types, &ids, &seqs, &hashes])
            .await?;
    }
    client.batch_execute("CLOSE audit_checkpoint_heads").await?;
    Ok(Some(id))
}

type HeadBatch = Vec<(String, String, i64, String)>;

async fn fetch_heads(client: &Client) -> Result<HeadBatch, tokio_postgres::Error> {
    let rows = client
        .query(
            &format!("FETCH FORWARD {FETCH_BATCH} FROM audit_checkpoint_heads"),
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
        .collect()
}

async fn for_each_head_batch(
    tx: &Client,
    mut f: impl FnMut(HeadBatch),
) -> Result<(), tokio_postgres::Error> {
    loop {
        let batch = fetch_heads(tx).await?;
        if batch.is_empty() {
            return Ok(());
        }
        f(batch);
    }
}

/// Takes a checkpoint every `every` (the first one right away) until `shutdown` becomes true or
/// its sender is dropped. Errors are logged and the loop carries on; a checkpoint in progress
/// when shutdown is signalled is abandoned (its transaction rolls back).
pub fn spawn_checkpointer(
    pool: deadpool_postgres::Pool,
    signer: Arc<AuditSigner>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every.max(Duration::from_millis(10)));
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = shutdown_signalled(&mut shutdown) => break,
                _ = ticker.tick() => {}
            }
            tokio::select! {
                biased;
                () = shutdown_signalled(&mut shutdown) => break,
                () = run_once(&pool, &signer) => {}
            }
        }
        tracing::debug!("audit checkpointer stopped");
    })
}

async fn shutdown_signalled(shutdown: &mut watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow_and_update() {
            return;
        }
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}

async fn run_once(pool: &deadpool_postgres::Pool, signer: &AuditSigner) {
    let client = match pool.get().await {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(%error, "audit checkpoint: no database connection");
            return;
        }
    };
    let mut guard = DetachUnlessFinished(Some(client));
    let Some(client) = guard.0.as_ref() else {
        return;
    };
    match checkpoint(client, signer).await {
        // Committed or rolled back: the connection may go back to the pool.
        Ok(_) => drop(guard.0.take()),
        // The guard closes the connection, in case it is still inside the transaction.
        Err(error) => tracing::error!(%error, "audit checkpoint failed"),
    }
}

/// Holds a pooled connection during a checkpoint. If the checkpoint fails or is abandoned midway
/// (the future is dropped on shutdown), the connection may still be inside its transaction, so
/// it is taken out of the pool and closed, which makes the server roll the transaction back.
struct DetachUnlessFinished(Option<deadpool_postgres::Object>);

impl Drop for DetachUnlessFinished {
    fn drop(&mut self) {
        if let Some(object) = self.0.take() {
            drop(deadpool_postgres::Object::take(object));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_lines_escape_separators() {
        assert_eq!(head_line("item", "42", 3, "ab"), "item\t42\t3\tab\n");
        assert_eq!(
            head_line("a\tb", "c\\n\n", 1, "h"),
            "a\\tb\tc\\\\n\\n\t1\th\n"
        );
    }

    #[test]
    fn empty_heads_digest_is_sha256_of_nothing() {
        assert_eq!(
            HeadsDigest::default().finish(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn message_covers_every_field() {
        let at = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        let base = checkpoint_message(7, &at, 2, "d", Some("s"));
        assert_eq!(
            base,
            b"fingertip-audit-checkpoint-v1\n1:7,27:2023-11-14T22:13:20.123456Z,1:2,1:d,1:s,"
        );
        assert_ne!(base, checkpoint_message(8, &at, 2, "d", Some("s")));
        assert_ne!(base, checkpoint_message(7, &at, 3, "d", Some("s")));
        assert_ne!(base, checkpoint_message(7, &at, 2, "e", Some("s")));
        assert_ne!(base, checkpoint_message(7, &at, 2, "d", None));
    }
}
