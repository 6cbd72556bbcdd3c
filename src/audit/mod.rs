//! The append-only, tamper-evident audit log: per-aggregate hash chains written inside the
//! caller's transaction, signed checkpoints of all chain heads, and their verification.
//!
//! Schema: `migrations/0003_audit.sql`. Encodings a third party needs to recompute everything:
//! [`canonical_json`] (state digests and `details`), [`record_hash`] (each record),
//! [`head_line`]/[`HeadsDigest`] (a checkpoint's heads) and [`checkpoint_message`] (what a
//! checkpoint's Ed25519 signature covers).

pub mod canonical;
pub mod chain;
pub mod checkpoint;
pub mod first_in_statement;
pub mod verify;
pub mod view;

/// The key that signs checkpoints is an ordinary Ed25519 [`SigningKey`](crate::keys::SigningKey).
pub use crate::keys::{SignerError, SigningKey as AuditSigner};
pub use canonical::{canonical_json, digest_json};
pub use chain::{
    AuditEntry, AuditReceipt, AuditRecord, GENESIS_HASH, RecordFields, append, append_prepared,
    history, record_hash,
};
pub use checkpoint::{
    CHECKPOINT_LOCK_KEY, HeadsDigest, checkpoint, checkpoint_message, head_line, spawn_checkpointer,
};
pub use verify::{AuditProblem, VerifyReport, verify};
pub use view::AuditRecordView;
