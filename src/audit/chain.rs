//! The per-aggregate hash chain: appending a record inside the caller's transaction, the exact
//! record-hash encoding, and reading an aggregate's history back.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_postgres::{Client, Row, Transaction};

use super::canonical::{canonical_json, digest_json, push_field, sha256_hex};
use crate::db::Transactional;

/// `prev_hash` of the first record of every chain: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Domain-separation prefix of the record-hash message (version 1 of the encoding).
pub const RECORD_HASH_DOMAIN: &str = "fingertip-audit-record-v1\n";

/// One change to record. `before` and `after` are the aggregate's state around the change; only
/// their digests ([`digest_json`]) are stored. `details` is small free-form context and is
/// stored as is, so it must never hold secrets or full identity numbers.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    /// "item", "department", "calendar", later "case", "account".
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    /// Who: e.g. "admin-token", later "staff:<uuid>".
    pub actor: &'a str,
    /// What: "item.create", "item.publish", ...
    pub action: &'a str,
    pub before: Option<&'a Value>,
    pub after: Option<&'a Value>,
    pub details: Value,
}

/// Where an appended record landed in its chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReceipt {
    pub seq: i64,
    pub hash: String,
}

/// A stored `audit_record` row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub id: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub seq: i64,
    pub actor: String,
    pub action: String,
    pub recorded_at: DateTime<Utc>,
    pub before_digest: Option<String>,
    pub after_digest: Option<String>,
    pub details: Value,
    pub prev_hash: String,
    pub hash: String,
}

/// The fields a record hash covers, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct RecordFields<'a> {
    pub prev_hash: &'a str,
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    pub seq: i64,
    pub actor: &'a str,
    pub action: &'a str,
    pub recorded_at: DateTime<Utc>,
    pub before_digest: Option<&'a str>,
    pub after_digest: Option<&'a str>,
    pub details: &'a Value,
}

/// The hash of one audit record: lowercase hex SHA-256 over
///
/// ```text
/// "fingertip-audit-record-v1\n"
/// || F(prev_hash) || F(aggregate_type) || F(aggregate_id) || F(seq)
/// || F(actor) || F(action) || F(recorded_at)
/// || F(before_digest) || F(after_digest) || F(details)
/// ```
///
/// where `F(s)` is the netstring of the UTF-8 bytes of `s`: its byte length in decimal ASCII, `:`,
/// the bytes, `,` (so `F("ab") = "2:ab,"`), and
/// - `prev_hash` is the previous record's hash in the same aggregate, or 64 `0`s for seq 1;
/// - `seq` is decimal ASCII without sign or leading zeros;
/// - `recorded_at` is RFC 3339 in UTC with exactly six fractional digits and a `Z`
///   (`2024-05-01T08:30:00.123456Z`), as stored (PostgreSQL keeps microseconds);
/// - `before_digest`/`after_digest` are lowercase hex SHA-256 of the canonical JSON of the state
///   (see [`canonical_json`]), or the empty string when absent;
/// - `details` is the canonical JSON of the stored `details` jsonb value.
pub fn record_hash(f: &RecordFields<'_>) -> String {
    let (mut msg, after_time) = message_around_time(f);
    push_field(&mut msg, format_timestamp(&f.recorded_at).as_bytes());
    msg.extend_from_slice(&after_time);
    sha256_hex(&msg)
}

/// The record-hash message of `f` in two parts, the bytes before `F(recorded_at)` and the bytes
/// after it (`f.recorded_at` itself is not used).
fn message_around_time(f: &RecordFields<'_>) -> (Vec<u8>, Vec<u8>) {
    let mut before = Vec::with_capacity(256);
    before.extend_from_slice(RECORD_HASH_DOMAIN.as_bytes());
    push_field(&mut before, f.prev_hash.as_bytes());
    push_field(&mut before, f.aggregate_type.as_bytes());
    push_field(&mut before, f.aggregate_id.as_bytes());
    push_field(&mut before, f.seq.to_string().as_bytes());
    push_field(&mut before, f.actor.as_bytes());
    push_field(&mut before, f.action.as_bytes());
    let mut after = Vec::with_capacity(256);
    push_field(&mut after, f.before_digest.unwrap_or("").as_bytes());
    push_field(&mut after, f.after_digest.unwrap_or("").as_bytes());
    push_field(&mut after, canonical_json(f.details).as_bytes());
    (before, after)
}

/// The first record of a brand-new aggregate, ready to be written by a statement that also
/// creates the aggregate: everything but `recorded_at` and the hash is known here, and those two
/// come from the database's clock in that statement ([`hash_at_database_clock_sql`]), as every
/// other record's `recorded_at` does. One statement instead of the head lock, a round trip and
/// the record insert of [`append_prepared`].
#[derive(Debug, Clone)]
pub struct FirstRecord {
    pub before_digest: Option<String>,
    pub after_digest: Option<String>,
    /// The record-hash message before `F(recorded_at)`.
    pub message_before_time: Vec<u8>,
    /// The record-hash message after `F(recorded_at)`.
    pub message_after_time: Vec<u8>,
}

impl FirstRecord {
    /// `entry` as seq 1 of its chain. Its details must be stored as they are (strings, integers,
    /// booleans, null, and objects and arrays of those: jsonb keeps them exactly), since the
    /// hash covers them before the database sees them.
    pub fn of(entry: &AuditEntry<'_>) -> FirstRecord {
        let before_digest = entry.before.map(digest_json);
        let after_digest = entry.after.map(digest_json);
        let (message_before_time, message_after_time) = message_around_time(&RecordFields {
            prev_hash: GENESIS_HASH,
            aggregate_type: entry.aggregate_type,
            aggregate_id: entry.aggregate_id,
            seq: 1,
            actor: entry.actor,
            action: entry.action,
            recorded_at: DateTime::<Utc>::UNIX_EPOCH,
            before_digest: before_digest.as_deref(),
            after_digest: after_digest.as_deref(),
            details: &entry.details,
        });
        FirstRecord {
            before_digest,
            after_digest,
            message_before_time,
            message_after_time,
        }
    }
}

/// SQL for [`record_hash`] of a record whose `recorded_at` is the SQL timestamptz expression
/// `at` and whose message around it is the bytea SQL expressions `before` and `after`
/// ([`FirstRecord`]): the timestamp is formatted as [`format_timestamp`] does (RFC 3339, UTC,
/// six fractional digits, `Z`) and framed as a netstring.
pub fn hash_at_database_clock_sql(before: &str, at: &str, after: &str) -> String {
    let time = format!("to_char(({at}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')");
    format!(
        "encode(sha256({before} || convert_to(octet_length({time}) || ':' || {time} || ',', 'UTF8') \
         || {after}), 'hex')"
    )
}

/// RFC 3339, UTC, microseconds, `Z`: the timestamp form every audit hash and signature uses.
pub fn format_timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

impl AuditRecord {
    pub fn fields(&self) -> RecordFields<'_> {
        RecordFields {
            prev_hash: &self.prev_hash,
            aggregate_type: &self.aggregate_type,
            aggregate_id: &self.aggregate_id,
            seq: self.seq,
            actor: &self.actor,
            action: &self.action,
            recorded_at: self.recorded_at,
            before_digest: self.before_digest.as_deref(),
            after_digest: self.after_digest.as_deref(),
            details: &self.details,
        }
    }

    /// The hash this record's contents should have.
    pub fn computed_hash(&self) -> String {
        record_hash(&self.fields())
    }

    pub(crate) const COLUMNS: &'static str = "id, aggregate_type, aggregate_id, seq, actor, action, \
         recorded_at, before_digest, after_digest, details, prev_hash, hash";

    /// Reads a row selected with [`AuditRecord::COLUMNS`] (in that order).
    pub(crate) fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(AuditRecord {
            id: row.try_get(0)?,
            aggregate_type: row.try_get(1)?,
            aggregate_id: row.try_get(2)?,
            seq: row.try_get(3)?,
            actor: row.try_get(4)?,
            action: row.try_get(5)?,
            recorded_at: row.try_get(6)?,
            before_digest: row.try_get(7)?,
            after_digest: row.try_get(8)?,
            details: row.try_get(9)?,
            prev_hash: row.try_get(10)?,
            hash: row.try_get(11)?,
        })
    }
}

/// Locks the aggregate's chain head, creating it when this is the aggregate's first record.
///
/// A new head is inserted with the sentinel hash `''` (never a real hash) and seq 1; the
/// upsert's `DO UPDATE` branch row-locks an existing head instead. Either way the row stays
/// locked until the caller's transaction ends, so appends to one aggregate are serialised while
/// other aggregates proceed in parallel. Two transactions creating the same aggregate at once
/// are handled by the unique index: the second waits for the first and then, under READ
/// COMMITTED, locks and sees its committed head (or inserts its own if the first rolled back).
///
/// `recorded_at` is the database's `clock_timestamp()` taken once the lock is held, and the
/// details come back as the database will store them (jsonb may normalise numbers), so the hash
/// covers exactly what `audit verify` will read.
const LOCK_HEAD: &str = "INSERT INTO audit_chain_head AS h (aggregate_type, aggregate_id, seq, hash) \
     VALUES ($1, $2, 1, '') \
     ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET seq = h.seq \
     RETURNING h.seq, h.hash, clock_timestamp(), $3::jsonb";

const INSERT_RECORD: &str = "WITH rec AS ( \
       INSERT INTO audit_record (aggregate_type, aggregate_id, seq, actor, action, recorded_at, \
                                 before_digest, after_digest, details, prev_hash, hash) \
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
     ) \
     UPDATE audit_chain_head SET seq = $3, hash = $11, updated_at = $6 \
     WHERE aggregate_type = $1 AND aggregate_id = $2";

/// Records `entry` as the next link of its aggregate's chain, inside the caller's transaction:
/// the record commits or rolls back with the change it describes.
///
/// Appends to the same aggregate wait for each other (the chain head row is locked until the
/// transaction ends), so keep such transactions short. In a REPEATABLE READ or SERIALIZABLE
/// transaction a concurrent append to the same aggregate makes this fail with a serialization
/// error, which the caller should retry like any other.
pub async fn append(
    tx: &Transaction<'_>,
    entry: AuditEntry<'_>,
) -> Result<AuditReceipt, tokio_postgres::Error> {
    append_prepared(tx, entry).await
}

/// [`append`] through statements prepared once per connection (a pooled transaction), or every
/// time (a bare `tokio_postgres` transaction).
pub async fn append_prepared(
    tx: &impl Transactional,
    entry: AuditEntry<'_>,
) -> Result<AuditReceipt, tokio_postgres::Error> {
    let head = tx
        .query_one_prepared(
            LOCK_HEAD,
            &[&entry.aggregate_type, &entry.aggregate_id, &entry.details],
        )
        .await?;
    let head_seq: i64 = head.try_get(0)?;
    let head_hash: String = head.try_get(1)?;
    let recorded_at: DateTime<Utc> = head.try_get(2)?;
    let stored_details: Value = head.try_get(3)?;

    let (seq, prev_hash) = if head_hash.is_empty() {
        (1, GENESIS_HASH.to_owned())
    } else {
        (head_seq + 1, head_hash)
    };
    let before_digest = entry.before.map(digest_json);
    let after_digest = entry.after.map(digest_json);
    let hash = record_hash(&RecordFields {
        prev_hash: &prev_hash,
        aggregate_type: entry.aggregate_type,
        aggregate_id: entry.aggregate_id,
        seq,
        actor: entry.actor,
        action: entry.action,
        recorded_at,
        before_digest: before_digest.as_deref(),
        after_digest: after_digest.as_deref(),
        details: &stored_details,
    });

    tx.execute_prepared(
        INSERT_RECORD,
        &[
            &entry.aggregate_type,
            &entry.aggregate_id,
            &seq,
            &entry.actor,
            &entry.action,
            &recorded_at,
            &before_digest,
            &after_digest,
            // The same bytes as `$3` above, so the stored jsonb is the value that was hashed.
            &entry.details,
            &prev_hash,
            &hash,
        ],
    )
    .await?;
    Ok(AuditReceipt { seq, hash })
}

/// Every record of one aggregate, in seq order.
pub async fn history(
    client: &Client,
    aggregate_type: &str,
    aggregate_id: &str,
) -> Result<Vec<AuditRecord>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT {} FROM audit_record WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY seq",
        AuditRecord::COLUMNS
    );
    let rows = client
        .query(&sql, &[&aggregate_type, &aggregate_id])
        .await?;
    rows.iter().map(AuditRecord::from_row).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[derive(Debug, Clone)]
    struct Owned {
        prev_hash: String,
        aggregate_type: String,
        aggregate_id: String,
        seq: i64,
        actor: String,
        action: String,
        recorded_at: DateTime<Utc>,
        before_digest: Option<String>,
        after_digest: Option<String>,
        details: Value,
    }

    impl Owned {
        fn hash(&self) -> String {
            record_hash(&RecordFields {
                prev_hash: &self.prev_hash,
                aggregate_type: &self.aggregate_type,
                aggregate_id: &self.aggregate_id,
                seq: self.seq,
                actor: &self.actor,
                action: &self.action,
                recorded_at: self.recorded_at,
                before_digest: self.before_digest.as_deref(),
                after_digest: self.after_digest.as_deref(),
                details: &self.details,
            })
        }
    }

    fn digest() -> impl Strategy<Value = Option<String>> {
        proptest::option::of("[0-9a-f]{64}")
    }

    fn details() -> impl Strategy<Value = Value> {
        proptest::collection::btree_map(
            "[a-z]{0,4}",
            prop_oneof![
                any::<i64>().prop_map(Value::from),
                ".{0,6}".prop_map(Value::from),
                any::<bool>().prop_map(Value::from),
            ],
            0..4,
        )
        .prop_map(|m| Value::Object(m.into_iter().collect()))
    }

    fn owned() -> impl Strategy<Value = Owned> {
        (
            (
                "[0-9a-f]{64}",
                ".{0,8}",
                ".{0,8}",
                1i64..1_000_000,
                ".{0,8}",
                ".{0,8}",
            ),
            (0i64..4_000_000_000_000_000, digest(), digest(), details()),
        )
            .prop_map(
                |(
                    (prev_hash, aggregate_type, aggregate_id, seq, actor, action),
                    (micros, b, a, d),
                )| {
                    Owned {
                        prev_hash,
                        aggregate_type,
                        aggregate_id,
                        seq,
                        actor,
                        action,
                        recorded_at: DateTime::from_timestamp_micros(micros).unwrap(),
                        before_digest: b,
                        after_digest: a,
                        details: d,
                    }
                },
            )
    }

    proptest! {
        /// Replacing any single field by a different value changes the hash.
        #[test]
        fn hash_changes_when_any_field_changes(a in owned(), b in owned()) {
            let base = a.hash();
            prop_assert_eq!(&base, &a.clone().hash());
            let mut variants: Vec<(&str, bool, Owned)> = Vec::new();
            macro_rules! swap {
                ($field:ident) => {{
                    let mut v = a.clone();
                    v.$field = b.$field.clone();
                    let differs = a.$field != b.$field;
                    variants.push((stringify!($field), differs, v));
                }};
            }
            swap!(prev_hash);
            swap!(aggregate_type);
            swap!(aggregate_id);
            swap!(seq);
            swap!(actor);
            swap!(action);
            swap!(recorded_at);
            swap!(before_digest);
            swap!(after_digest);
            swap!(details);
            for (name, differs, v) in variants {
                if differs {
                    prop_assert_ne!(&v.hash(), &base, "field {} changed but the hash did not", name);
                } else {
                    prop_assert_eq!(&v.hash(), &base);
                }
            }
        }

        /// Moving bytes between adjacent text fields never collides (the framing is unambiguous).
        #[test]
        fn shifting_bytes_between_fields_changes_the_hash(a in owned(), tail in "[a-z]{1,3}") {
            let mut v = a.clone();
            v.aggregate_type.push_str(&tail);
            let mut w = v.clone();
            w.aggregate_id = format!("{tail}{}", a.aggregate_id);
            w.aggregate_type = a.aggregate_type.clone();
            prop_assert_ne!(v.hash(), w.hash());
        }
    }

    #[test]
    fn known_vector() {
        // Pinned so that any change to the encoding is noticed (it would break old chains).
        let at = DateTime::parse_from_rfc3339("2024-05-01T08:30:00.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        let details = json!({"b": 2, "a": "x"});
        let fields = RecordFields {
            prev_hash: GENESIS_HASH,
            aggregate_type: "item",
            aggregate_id: "42",
            seq: 1,
            actor: "admin-token",
            action: "item.create",
            recorded_at: at,
            before_digest: None,
            after_digest: Some("ab"),
            details: &details,
        };
        let mut expected = Vec::new();
        expected.extend_from_slice(b"fingertip-audit-record-v1\n64:");
        expected.extend_from_slice(GENESIS_HASH.as_bytes());
        expected.extend_from_slice(
            b",4:item,2:42,1:1,11:admin-token,11:item.create,27:2024-05-01T08:30:00.123456Z,0:,2:ab,15:{\"a\":\"x\",\"b\":2},",
        );
        assert_eq!(record_hash(&fields), sha256_hex(&expected));
        assert_eq!(format_timestamp(&at), "2024-05-01T08:30:00.123456Z");
    }
}
