//! A new aggregate's first audit record, written inside another room's single statement.
//!
//! The case submission writes the case, its materials, its timeline, its notices and the first
//! record of its audit chain in one statement (decision record 0010). The audit tables are this
//! room's, so this room builds that part of the statement — CTEs and their parameters — the way
//! `notify::outbox::NotificationPlan` builds the notification inserts.

use serde_json::Value;
use tokio_postgres::types::ToSql;

use super::chain::{AuditEntry, FirstRecord, GENESIS_HASH, hash_at_database_clock_sql};

/// Seq 1 of a new chain, ready to go into a statement.
pub struct FirstRecordPlan<'a> {
    aggregate_type: &'a str,
    aggregate_id: &'a str,
    actor: &'a str,
    action: &'a str,
    details: &'a Value,
    record: FirstRecord,
}

impl<'a> FirstRecordPlan<'a> {
    /// How many parameters [`Self::ctes`] takes.
    pub const PARAMETERS: usize = 9;

    pub fn of(entry: &'a AuditEntry<'a>) -> FirstRecordPlan<'a> {
        FirstRecordPlan {
            aggregate_type: entry.aggregate_type,
            aggregate_id: entry.aggregate_id,
            actor: entry.actor,
            action: entry.action,
            details: &entry.details,
            record: FirstRecord::of(entry),
        }
    }

    /// The CTEs `{name}_hash`, `{name}_head` and `{name}_record`: one row of each when the CTE
    /// `clock` has one row (none when it has none), recorded at its column `now`, with this
    /// plan's [`Self::params`] from `$first` on.
    pub fn ctes(name: &str, clock: &str, first: usize) -> String {
        let p = |i: usize| format!("${}", first + i);
        let hash = hash_at_database_clock_sql(
            &format!("{}::bytea", p(7)),
            "k.now",
            &format!("{}::bytea", p(8)),
        );
        format!(
            "{name}_hash AS (
                 SELECT k.now, {hash} AS hash FROM {clock} AS k
             ), {name}_head AS (
                 INSERT INTO audit_chain_head (aggregate_type, aggregate_id, seq, hash, updated_at)
                 SELECT {0}, {1}, 1, a.hash, a.now FROM {name}_hash AS a
             ), {name}_record AS (
                 INSERT INTO audit_record (aggregate_type, aggregate_id, seq, actor, action,
                     recorded_at, before_digest, after_digest, details, prev_hash, hash)
                 SELECT {0}, {1}, 1, {2}, {3}, a.now, {4}, {5}, {6}, '{GENESIS_HASH}', a.hash
                 FROM {name}_hash AS a
             )",
            p(0),
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(6),
        )
    }

    /// The parameters of [`Self::ctes`], in order.
    pub fn params(&self) -> [&(dyn ToSql + Sync); 9] {
        [
            &self.aggregate_type,
            &self.aggregate_id,
            &self.actor,
            &self.action,
            &self.record.before_digest,
            &self.record.after_digest,
            self.details,
            &self.record.message_before_time,
            &self.record.message_after_time,
        ]
    }
}
