//! Verifying the whole audit log: every chain's hashes and links, the chain heads, and every
//! signed checkpoint against a trusted public key, stopping at the first problem.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::{Client, Row};

use super::chain::{AuditRecord, GENESIS_HASH};
use super::checkpoint::{FETCH_BATCH, HeadsDigest, checkpoint_message};
use crate::keys::signature_is_valid;

/// What `verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Records whose hash and link were checked and found good.
    pub records_checked: u64,
    /// Chains checked from seq 1 to their head.
    pub chains_checked: u64,
    /// Checkpoints whose signature, link, digest and heads were checked.
    pub checkpoints_checked: u64,
    /// The first broken thing, in verification order; `None` when everything holds.
    pub first_problem: Option<AuditProblem>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.first_problem.is_none()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts = format!(
            "{} records in {} chains, {} signed checkpoints",
            self.records_checked, self.chains_checked, self.checkpoints_checked
        );
        match &self.first_problem {
            None => write!(f, "audit log intact: verified {counts}"),
            Some(problem) => write!(
                f,
                "audit log BROKEN: {problem}\n(verified before the first broken link: {counts})"
            ),
        }
    }
}

/// The first thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuditProblem {
    /// Records are missing from the chain (or it does not start at seq 1).
    SeqGap {
        aggregate_type: String,
        aggregate_id: String,
        expected_seq: i64,
        found_seq: i64,
    },
    /// A record's `prev_hash` is not the hash of the record before it.
    BrokenLink {
        aggregate_type: String,
        aggregate_id: String,
        seq: i64,
    },
    /// A record's stored hash does not match its contents.
    HashMismatch {
        aggregate_type: String,
        aggregate_id: String,
        seq: i64,
    },
    /// The chain's last record is not what `audit_chain_head` says (or there is no head).
    HeadMismatch {
        aggregate_type: String,
        aggregate_id: String,
        last_seq: i64,
        head_seq: Option<i64>,
    },
    /// A chain head or a checkpoint names an aggregate that has no records at all.
    MissingChain {
        aggregate_type: String,
        aggregate_id: String,
        seq: i64,
        /// The checkpoint that signed it; `None` when only `audit_chain_head` remembers it.
        checkpoint_id: Option<i64>,
    },
    /// A checkpoint signed a head whose record is now missing (the chain was truncated) or
    /// different (history was rewritten).
    CheckpointHeadMismatch {
        checkpoint_id: i64,
        aggregate_type: String,
        aggregate_id: String,
        seq: i64,
        record_missing: bool,
    },
    /// The checkpoint's signature does not verify under the trusted key.
    BadSignature {
        checkpoint_id: i64,
        /// The checkpoint's `public_key` column names a key other than the trusted one.
        other_key: bool,
    },
    /// The checkpoint's `prev_signature` is not the previous checkpoint's signature.
    BrokenCheckpointLink {
        checkpoint_id: i64,
        previous_id: Option<i64>,
    },
    /// The checkpoint's stored heads do not reproduce its signed `heads_digest`/`head_count`.
    CheckpointDigestMismatch { checkpoint_id: i64 },
}

impl fmt::Display for AuditProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditProblem::SeqGap {
                aggregate_type,
                aggregate_id,
                expected_seq,
                found_seq,
            } => write!(
                f,
                "chain {aggregate_type}/{aggregate_id}: expected record {expected_seq} but found \
                 {found_seq} (records are missing)"
            ),
            AuditProblem::BrokenLink {
                aggregate_type,
                aggregate_id,
                seq,
            } => write!(
                f,
                "chain {aggregate_type}/{aggregate_id}, record {seq}: prev_hash is not the hash \
                 of the record before it (the link is broken)"
            ),
            AuditProblem::HashMismatch {
                aggregate_type,
                aggregate_id,
                seq,
            } => write!(
                f,
                "chain {aggregate_type}/{aggregate_id}, record {seq}: the stored hash does not \
                 match the record's contents (the record was altered)"
            ),
            AuditProblem::HeadMismatch {
                aggregate_type,
                aggregate_id,
                last_seq,
                head_seq,
            } => match head_seq {
                Some(head_seq) => write!(
                    f,
                    "chain {aggregate_type}/{aggregate_id}: the last record is {last_seq} but the \
                     chain head says {head_seq} (records were removed or the head was altered)"
                ),
                None => write!(
                    f,
                    "chain {aggregate_type}/{aggregate_id}: {last_seq} records but no chain head \
                     (the head was deleted)"
                ),
            },
            AuditProblem::MissingChain {
                aggregate_type,
                aggregate_id,
                seq,
                checkpoint_id,
            } => {
                write!(
                    f,
                    "chain {aggregate_type}/{aggregate_id} has no records, but "
                )?;
                match checkpoint_id {
                    Some(id) => write!(f, "checkpoint {id} signed it at record {seq}")?,
                    None => write!(f, "its chain head says it reached record {seq}")?,
                }
                write!(f, " (the whole chain was deleted)")
            }
            AuditProblem::CheckpointHeadMismatch {
                checkpoint_id,
                aggregate_type,
                aggregate_id,
                seq,
                record_missing,
            } => {
                write!(
                    f,
                    "checkpoint {checkpoint_id} signed chain {aggregate_type}/{aggregate_id} at \
                     record {seq}, but "
                )?;
                if *record_missing {
                    write!(f, "that record is gone (the chain was truncated)")
                } else {
                    write!(
                        f,
                        "that record now has another hash (history was rewritten)"
                    )
                }
            }
            AuditProblem::BadSignature {
                checkpoint_id,
                other_key,
            } => {
                write!(
                    f,
                    "checkpoint {checkpoint_id}: the signature is not valid under the trusted key"
                )?;
                if *other_key {
                    write!(f, " (it names a different signing key)")?;
                }
                Ok(())
            }
            AuditProblem::BrokenCheckpointLink {
                checkpoint_id,
                previous_id,
            } => match previous_id {
                Some(prev) => write!(
                    f,
                    "checkpoint {checkpoint_id}: prev_signature is not the signature of checkpoint \
                     {prev} (checkpoints were removed or reordered)"
                ),
                None => write!(
                    f,
                    "checkpoint {checkpoint_id} is the first checkpoint but has a prev_signature \
                     (earlier checkpoints were removed)"
                ),
            },
            AuditProblem::CheckpointDigestMismatch { checkpoint_id } => write!(
                f,
                "checkpoint {checkpoint_id}: its stored heads do not match the signed heads \
                 digest (its head list was altered)"
            ),
        }
    }
}

/// Checks the whole audit log against `trusted_public_key` (the raw 32-byte Ed25519 key from
/// the key file, never the `public_key` column), stopping at the first problem.
///
/// In order: every chain (ordered by aggregate, then seq) must start at seq 1 with the genesis
/// `prev_hash`, have no gaps, link each record to the previous one's hash, have every hash
/// recompute, and end at exactly its `audit_chain_head`; no head may lack records; then every
/// checkpoint (by id) must carry a valid signature under the trusted key, link to the previous
/// checkpoint's signature, reproduce its signed heads digest from its `audit_checkpoint_head`
/// rows, and every head it lists must still be in `audit_record` with the same seq and hash.
///
/// Runs in one REPEATABLE READ, READ ONLY transaction (a consistent snapshot while appends
/// carry on) that it begins and rolls back on `client`, which must not be inside a transaction.
/// Rows are streamed through cursors, [`FETCH_BATCH`] at a time. If the returned future is
/// dropped before completion the connection is left inside that transaction, so do not return
/// such a connection to a pool.
pub async fn verify(
    client: &Client,
    trusted_public_key: &[u8],
) -> Result<VerifyReport, tokio_postgres::Error> {
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .await?;
    let result = verify_in_snapshot(client, trusted_public_key).await;
    let ended = client.batch_execute("ROLLBACK").await;
    let report = result?;
    ended?;
    Ok(report)
}

const RECORDS_CURSOR: &str = "DECLARE audit_verify_records NO SCROLL CURSOR FOR \
     SELECT r.id, r.aggregate_type, r.aggregate_id, r.seq, r.actor, r.action, r.recorded_at, \
            r.before_digest, r.after_digest, r.details, r.prev_hash, r.hash, \
            h.seq AS head_seq, h.hash AS head_hash \
     FROM audit_record r \
     LEFT JOIN audit_chain_head h \
            ON h.aggregate_type = r.aggregate_type AND h.aggregate_id = r.aggregate_id \
     ORDER BY r.aggregate_type, r.aggregate_id, r.seq";

const ORPHAN_HEAD: &str = "SELECT h.aggregate_type, h.aggregate_id, h.seq FROM audit_chain_head h \
     WHERE NOT EXISTS (SELECT 1 FROM audit_record r \
                       WHERE r.aggregate_type = h.aggregate_type \
                         AND r.aggregate_id = h.aggregate_id) \
     ORDER BY h.aggregate_type, h.aggregate_id LIMIT 1";

const CHECKPOINTS_CURSOR: &str = "DECLARE audit_verify_checkpoints NO SCROLL CURSOR FOR \
     SELECT id, created_at, head_count, heads_digest, prev_signature, public_key, signature \
     FROM audit_checkpoint ORDER BY id";

async fn verify_in_snapshot(
    client: &Client,
    trusted_public_key: &[u8],
) -> Result<VerifyReport, tokio_postgres::Error> {
    let mut report = VerifyReport::default();
    if let Some(problem) = verify_chains(client, &mut report).await? {
        report.first_problem = Some(problem);
        return Ok(report);
    }
    if let Some(row) = client.query_opt(ORPHAN_HEAD, &[]).await? {
        report.first_problem = Some(AuditProblem::MissingChain {
            aggregate_type: row.try_get(0)?,
            aggregate_id: row.try_get(1)?,
            seq: row.try_get(2)?,
            checkpoint_id: None,
        });
        return Ok(report);
    }
    report.first_problem = verify_checkpoints(client, trusted_public_key, &mut report).await?;
    Ok(report)
}

/// The chain being walked.
struct Walk {
    aggregate_type: String,
    aggregate_id: String,
    next_seq: i64,
    prev_hash: String,
    head: Option<(i64, String)>,
}

impl Walk {
    /// The problem with the chain's end, if its last record is not its head.
    fn finish(&self) -> Option<AuditProblem> {
        let last_seq = self.next_seq - 1;
        match &self.head {
            Some((seq, hash)) if *seq == last_seq && *hash == self.prev_hash => None,
            head => Some(AuditProblem::HeadMismatch {
                aggregate_type: self.aggregate_type.clone(),
                aggregate_id: self.aggregate_id.clone(),
                last_seq,
                head_seq: head.as_ref().map(|h| h.0),
            }),
        }
    }
}

async fn verify_chains(
    client: &Client,
    report: &mut VerifyReport,
) -> Result<Option<AuditProblem>, tokio_postgres::Error> {
    client.batch_execute(RECORDS_CURSOR).await?;
    let fetch = format!("FETCH FORWARD {FETCH_BATCH} FROM audit_verify_records");
    let mut walk: Option<Walk> = None;
    loop {
        let rows = client.query(&fetch, &[]).await?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            let record = AuditRecord::from_row(row)?;
            let same_chain = walk.as_ref().is_some_and(|w| {
                w.aggregate_type == record.aggregate_type && w.aggregate_id == record.aggregate_id
            });
            if !same_chain {
                if let Some(done) = walk.take() {
                    if let Some(problem) = done.finish() {
                        return Ok(Some(problem));
                    }
                    report.chains_checked += 1;
                }
                let head_seq: Option<i64> = row.try_get(12)?;
                let head_hash: Option<String> = row.try_get(13)?;
                walk = Some(Walk {
                    aggregate_type: record.aggregate_type.clone(),
                    aggregate_id: record.aggregate_id.clone(),
                    next_seq: 1,
                    prev_hash: GENESIS_HASH.to_owned(),
                    head: head_seq.zip(head_hash),
                });
            }
            let Some(w) = walk.as_mut() else { continue };
            if let Some(problem) = check_record(w, &record) {
                return Ok(Some(problem));
            }
            w.next_seq += 1;
            w.prev_hash = record.hash;
            report.records_checked += 1;
        }
    }
    client.batch_execute("CLOSE audit_verify_records").await?;
    if let Some(done) = walk {
        if let Some(problem) = done.finish() {
            return Ok(Some(problem));
        }
        report.chains_checked += 1;
    }
    Ok(None)
}

fn check_record(w: &Walk, record: &AuditRecord) -> Option<AuditProblem> {
    let at = || (record.aggregate_type.clone(), record.aggregate_id.clone());
    if record.seq != w.next_seq {
        let (aggregate_type, aggregate_id) = at();
        return Some(AuditProblem::SeqGap {
            aggregate_type,
            aggregate_id,
            expected_seq: w.next_seq,
            found_seq: record.seq,
        });
    }
    if record.prev_hash != w.prev_hash {
        let (aggregate_type, aggregate_id) = at();
        return Some(AuditProblem::BrokenLink {
            aggregate_type,
            aggregate_id,
            seq: record.seq,
        });
    }
    if record.computed_hash() != record.hash {
        let (aggregate_type, aggregate_id) = at();
        return Some(AuditProblem::HashMismatch {
            aggregate_type,
            aggregate_id,
            seq: record.seq,
        });
    }
    None
}

struct CheckpointRow {
    id: i64,
    created_at: DateTime<Utc>,
    head_count: i64,
    heads_digest: String,
    prev_signature: Option<String>,
    public_key: String,
    signature: String,
}

impl CheckpointRow {
    fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(CheckpointRow {
            id: row.try_get(0)?,
            created_at: row.try_get(1)?,
            head_count: row.try_get(2)?,
            heads_digest: row.try_get(3)?,
            prev_signature: row.try_get(4)?,
            public_key: row.try_get(5)?,
            signature: row.try_get(6)?,
        })
    }
}

async fn verify_checkpoints(
    client: &Client,
    trusted_public_key: &[u8],
    report: &mut VerifyReport,
) -> Result<Option<AuditProblem>, tokio_postgres::Error> {
    client.batch_execute(CHECKPOINTS_CURSOR).await?;
    let fetch = format!("FETCH FORWARD {FETCH_BATCH} FROM audit_verify_checkpoints");
    let trusted_hex = hex::encode(trusted_public_key);
    let mut previous: Option<(i64, String)> = None;
    loop {
        let rows = client.query(&fetch, &[]).await?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            let cp = CheckpointRow::from_row(row)?;
            let message = checkpoint_message(
                cp.id,
                &cp.created_at,
                cp.head_count,
                &cp.heads_digest,
                cp.prev_signature.as_deref(),
            );
            let signature = hex::decode(&cp.signature).unwrap_or_default();
            if !signature_is_valid(trusted_public_key, &message, &signature) {
                return Ok(Some(AuditProblem::BadSignature {
                    checkpoint_id: cp.id,
                    other_key: !cp.public_key.eq_ignore_ascii_case(&trusted_hex),
                }));
            }
            if cp.prev_signature.as_deref() != previous.as_ref().map(|p| p.1.as_str()) {
                return Ok(Some(AuditProblem::BrokenCheckpointLink {
                    checkpoint_id: cp.id,
                    previous_id: previous.as_ref().map(|p| p.0),
                }));
            }
            if let Some(problem) = verify_checkpoint_heads(client, &cp).await? {
                return Ok(Some(problem));
            }
            report.checkpoints_checked += 1;
            previous = Some((cp.id, cp.signature));
        }
    }
    client
        .batch_execute("CLOSE audit_verify_checkpoints")
        .await?;
    Ok(None)
}

/// Recomputes the checkpoint's digest from its stored heads and checks that every head it
/// signed is still a record with that seq and hash.
async fn verify_checkpoint_heads(
    client: &Client,
    cp: &CheckpointRow,
) -> Result<Option<AuditProblem>, tokio_postgres::Error> {
    // `cp.id` is an integer read from the database, so formatting it into the SQL is safe.
    client
        .batch_execute(&format!(
            "DECLARE audit_verify_heads NO SCROLL CURSOR FOR \
             SELECT ch.aggregate_type, ch.aggregate_id, ch.seq, ch.hash, r.hash \
             FROM audit_checkpoint_head ch \
             LEFT JOIN audit_record r \
                    ON r.aggregate_type = ch.aggregate_type \
                   AND r.aggregate_id = ch.aggregate_id \
                   AND r.seq = ch.seq \
             WHERE ch.checkpoint_id = {} \
             ORDER BY ch.aggregate_type COLLATE \"C\", ch.aggregate_id COLLATE \"C\"",
            cp.id
        ))
        .await?;
    let fetch = format!("FETCH FORWARD {FETCH_BATCH} FROM audit_verify_heads");
    let mut digest = HeadsDigest::default();
    // (type, id, seq, whether the record is missing) of the first head no longer in the chain.
    let mut first_bad: Option<(String, String, i64, bool)> = None;
    loop {
        let rows = client.query(&fetch, &[]).await?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            let aggregate_type: String = row.try_get(0)?;
            let aggregate_id: String = row.try_get(1)?;
            let seq: i64 = row.try_get(2)?;
            let hash: String = row.try_get(3)?;
            let record_hash: Option<String> = row.try_get(4)?;
            digest.add(&aggregate_type, &aggregate_id, seq, &hash);
            if first_bad.is_none() && record_hash.as_deref() != Some(hash.as_str()) {
                first_bad = Some((aggregate_type, aggregate_id, seq, record_hash.is_none()));
            }
        }
    }
    client.batch_execute("CLOSE audit_verify_heads").await?;

    // A tampered head list is reported as such before what it seems to say about the chains.
    if digest.count() != cp.head_count || digest.finish() != cp.heads_digest {
        return Ok(Some(AuditProblem::CheckpointDigestMismatch {
            checkpoint_id: cp.id,
        }));
    }
    let Some((aggregate_type, aggregate_id, seq, record_missing)) = first_bad else {
        return Ok(None);
    };
    let chain_exists = client
        .query_opt(
            "SELECT 1 FROM audit_record WHERE aggregate_type = $1 AND aggregate_id = $2 LIMIT 1",
            &[&aggregate_type, &aggregate_id],
        )
        .await?
        .is_some();
    Ok(Some(if chain_exists {
        AuditProblem::CheckpointHeadMismatch {
            checkpoint_id: cp.id,
            aggregate_type,
            aggregate_id,
            seq,
            record_missing,
        }
    } else {
        AuditProblem::MissingChain {
            aggregate_type,
            aggregate_id,
            seq,
            checkpoint_id: Some(cp.id),
        }
    }))
}
