//! The API representation of an audit record (for admin endpoints and the OpenAPI document).

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::chain::AuditRecord;

/// One audit record: who did what to which aggregate, when, and the hash chain around it.
/// `before_digest`/`after_digest` are SHA-256 digests of the canonical JSON of the state before
/// and after the change; the states themselves are not kept in the audit log.
#[derive(Debug, Clone, PartialEq, Object, Serialize, Deserialize)]
pub struct AuditRecordView {
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// Position in the aggregate's chain, from 1.
    pub seq: i64,
    pub actor: String,
    pub action: String,
    pub recorded_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub before_digest: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub after_digest: Option<String>,
    pub details: Value,
    /// Hash of the previous record of this aggregate (64 zeros for the first).
    pub prev_hash: String,
    pub hash: String,
}

impl From<AuditRecord> for AuditRecordView {
    fn from(r: AuditRecord) -> Self {
        AuditRecordView {
            aggregate_type: r.aggregate_type,
            aggregate_id: r.aggregate_id,
            seq: r.seq,
            actor: r.actor,
            action: r.action,
            recorded_at: r.recorded_at,
            before_digest: r.before_digest,
            after_digest: r.after_digest,
            details: r.details,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}
