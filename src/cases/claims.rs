//! Window applicants claim their cases. Someone who applies at the window without a verified
//! app account still gets a case (and, when approved, a licence) under their name; the case
//! keeps a blind index of their ID number or credit code, and when they get an account that is
//! provably theirs, the cases and licences join it, so "my cases" and "my licences" show them.
//!
//! "Provably theirs" is identity's rule (`identity::account_claims`, which also computes the
//! indexes): identity calls [`WindowCasesJoin`] inside the transaction that proves the account.

use serde_json::json;
use tokio_postgres::Transaction;
use uuid::Uuid;

use crate::audit::{self, AuditEntry};
use crate::identity::account_claims::{AccountProven, ApplicantKind, ClaimFuture};
use crate::identity::model::Subject;
use crate::licences;

/// The cases room's answer to identity's [`AccountProven`]: window cases (and their licences)
/// join the proven account. `app.rs` hands it to identity.
pub struct WindowCasesJoin;

impl AccountProven for WindowCasesJoin {
    fn account_proven<'a>(
        &'a self,
        tx: &'a Transaction<'a>,
        subject: &'a Subject,
        kind: ApplicantKind,
        index: &'a [u8],
    ) -> ClaimFuture<'a> {
        Box::pin(async move {
            claim(tx, subject, kind.as_str(), index).await?;
            Ok(())
        })
    }
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
            "UPDATE cases SET applicant_subject = $1, applicant_id_index = NULL,
                              updated_at = clock_now()
              WHERE applicant_subject IS NULL AND applicant_kind = $2
                AND applicant_id_index = $3
             RETURNING id",
            &[&subject, &applicant_kind, &index],
        )
        .await?;
    let mut claimed: Vec<Uuid> = rows.iter().map(|row| row.get(0)).collect();
    claimed.sort();
    // The licences those cases issued are the licence library's rows: it moves them.
    let held = licences::store::give_to_holder(tx, &subject, &claimed).await?;
    let mut cases = Vec::with_capacity(claimed.len());
    for case_id in claimed {
        let licences = held.iter().filter(|c| **c == case_id).count();
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
