//! Window applicants claim their cases. Someone who applies at the window without a verified
//! app account still gets a case (and, when approved, a licence) under their name; the case
//! keeps a blind index of their ID number or credit code, and when they get an account that is
//! provably theirs, the cases and licences join it, so "my cases" and "my licences" show them.
//!
//! "Provably theirs" is the rule that keeps one person from reading another's cases: a citizen
//! account claims only once its real name was verified against the ID number (at registration
//! or a later re-check), never on the number alone; an enterprise account exists only after a
//! certificate login, which proves the credit code.

use ring::digest;
use serde_json::json;
use tokio_postgres::Transaction;
use uuid::Uuid;

use crate::audit::{self, AuditEntry};
use crate::identity::citizen_id::CitizenIdNumber;
use crate::identity::model::Subject;
use crate::identity::pii::IdentityKeys;

/// A citizen's index: the citizen table's own blind index of the ID number (keyed: the column
/// reveals nothing without the key).
pub fn citizen_index(keys: &IdentityKeys, number: &CitizenIdNumber) -> Vec<u8> {
    keys.blind_index(number.expose())
}

/// An enterprise's index: a digest of its credit code (public: printed on its business licence,
/// so it needs no key).
pub fn enterprise_index(code: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, format!("enterprise:{code}").as_bytes())
        .as_ref()
        .to_vec()
}

/// Links the unclaimed window cases of `applicant_kind` with `index` (and their licences) to
/// `subject`, inside the caller's transaction, with an audit record per case; returns the
/// cases linked.
pub async fn claim(
    tx: &Transaction<'_>,
    subject: &Subject,
    applicant_kind: &str,
    index: &[u8],
) -> Result<Vec<Uuid>, tokio_postgres::Error> {
    let subject = subject.to_string();
    let rows = tx
        .query(
            "WITH claimed AS (
                 UPDATE cases SET applicant_subject = $1, applicant_id_index = NULL,
                                  updated_at = clock_now()
                  WHERE applicant_subject IS NULL AND applicant_kind = $2
                    AND applicant_id_index = $3
                 RETURNING id
             ), held AS (
                 UPDATE licence SET holder_subject = $1
                  WHERE holder_subject IS NULL AND case_id IN (SELECT id FROM claimed)
                 RETURNING case_id
             )
             SELECT c.id, (SELECT count(*) FROM held h WHERE h.case_id = c.id)
               FROM claimed c ORDER BY c.id",
            &[&subject, &applicant_kind, &index],
        )
        .await?;
    let mut cases = Vec::with_capacity(rows.len());
    for row in rows {
        let case_id: Uuid = row.get(0);
        let licences: i64 = row.get(1);
        audit::append(
            tx,
            AuditEntry {
                aggregate_type: "case",
                aggregate_id: &case_id.to_string(),
                actor: &subject,
                action: "case.applicant_claimed",
                before: None,
                after: Some(&json!({ "applicant_subject": subject })),
                details: json!({ "licences": licences }),
            },
        )
        .await?;
        cases.push(case_id);
    }
    if !cases.is_empty() {
        tracing::info!(
            cases = cases.len(),
            "window cases joined the applicant's new account"
        );
    }
    Ok(cases)
}
