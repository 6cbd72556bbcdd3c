//! When an item gets a new published version, applicants whose open cases run under an older
//! one are told at once what changed (the rule allows 5 working days [000 art.11]); their cases
//! keep the version they were applied under. When an item is cancelled, every open case of it is
//! flagged at once: an `item_cancelled` event on its timeline (handlers see it, and a case
//! being handled at that moment gets a revision conflict and reloads), and a must-reach notice
//! to its applicant. Both run inside the catalog's transaction, so the notices and flags go if
//! and only if the change commits. What may happen to such a case next: see
//! `service::cancelled_items`.

use serde_json::{Map, Value, json};
use tokio_postgres::GenericClient;
use uuid::Uuid;

use crate::cases::store::{self, NewEvent};
use crate::catalog::republished::{
    Cancellation, GuideRepublished, Republication, RepublishedFuture,
};
use crate::notify::model::Channel;
use crate::notify::outbox::{self, NewNotification, OutboxSettings, Recipient};

/// The cases room's answer to catalog's [`GuideRepublished`]: the applicants of open cases under
/// an older version are told. `app.rs` hands it to the catalog.
pub struct OpenCasesTold {
    pub outbox: OutboxSettings,
}

impl GuideRepublished for OpenCasesTold {
    fn guide_republished<'a>(
        &'a self,
        tx: &'a tokio_postgres::Transaction<'a>,
        change: Republication<'a>,
    ) -> RepublishedFuture<'a> {
        Box::pin(async move {
            notify_open_cases(
                tx,
                change.item_id,
                change.version,
                change.item_name,
                change.before,
                change.after,
                &self.outbox,
            )
            .await?;
            Ok(())
        })
    }

    fn item_cancelled<'a>(
        &'a self,
        tx: &'a tokio_postgres::Transaction<'a>,
        change: Cancellation<'a>,
    ) -> RepublishedFuture<'a> {
        Box::pin(async move {
            flag_open_cases(tx, change.item_id, change.reason, &self.outbox).await?;
            Ok(())
        })
    }
}

/// Flags every open case of the cancelled item: a timeline event and the applicant's notice;
/// returns how many cases were flagged.
pub async fn flag_open_cases(
    tx: &tokio_postgres::Transaction<'_>,
    item_id: Uuid,
    reason: &str,
    settings: &OutboxSettings,
) -> anyhow::Result<usize> {
    // The revision moves: an action prepared on the case before the flag is refused (409) and
    // its author sees the cancellation on reloading.
    let rows = tx
        .query(
            "UPDATE cases SET revision = revision + 1, updated_at = now()
             WHERE item_id = $1 AND closed_at IS NULL
             RETURNING id, region_code, applicant_subject, applicant_phone, item_name,
                       acceptance_number",
            &[&item_id],
        )
        .await?;
    for row in &rows {
        let case_id: Uuid = row.get(0);
        let region_code: String = row.get(1);
        let subject: Option<String> = row.get(2);
        let phone: Option<String> = row.get(3);
        let item_name: String = row.get(4);
        let number: Option<String> = row.get(5);
        store::append_events(
            tx,
            case_id,
            &region_code,
            &[NewEvent {
                kind: "item_cancelled",
                details: json!({ "reason": reason }),
                actor: "system",
                actor_kind: "system",
                department_id: None,
                occurred_at: None,
                on_behalf_of: None,
            }],
        )
        .await?;
        let Some((recipient, channels)) = applicant_address(subject, phone) else {
            continue;
        };
        let mut variables = Map::new();
        variables.insert("item".to_owned(), json!(item_name));
        variables.insert("reason".to_owned(), json!(reason));
        variables.insert("case_id".to_owned(), json!(case_id));
        variables.insert(
            "acceptance_number".to_owned(),
            json!(number.unwrap_or_default()),
        );
        outbox::enqueue(
            tx,
            &NewNotification {
                template_key: "case.item_cancelled".to_owned(),
                variables,
                recipient,
                channels,
                // The case cannot end as applied for: the applicant must know.
                must_reach: true,
                priority: 3,
                idempotency_key: format!("case:{case_id}:item-cancelled"),
            },
            settings,
        )
        .await
        .map_err(|e| anyhow::anyhow!("enqueueing an item cancellation notice: {e}"))?;
    }
    Ok(rows.len())
}

/// Where a case's applicant is told: their account (push, then SMS) or, for a window applicant
/// without one, the phone the case was applied with; None without either.
fn applicant_address(
    subject: Option<String>,
    phone: Option<String>,
) -> Option<(Recipient, Vec<Channel>)> {
    match (subject, phone) {
        (Some(owner), phone) => Some((
            Recipient::Owner {
                owner,
                phone,
                email: None,
            },
            vec![Channel::Push, Channel::Sms],
        )),
        (None, Some(phone)) => Some((Recipient::Phone(phone), vec![Channel::Sms])),
        (None, None) => None,
    }
}

/// The guide's parts an applicant cares about, with their Chinese names.
const PARTS: &[(&str, &str)] = &[
    ("materials", "申请材料"),
    ("conditions", "申请条件"),
    ("promised_limit_days", "承诺时限"),
    ("statutory_limit_days", "法定时限"),
    ("fees", "收费标准"),
    ("steps", "办理流程"),
    ("legal_basis", "设定依据"),
    ("handling_location", "办理地点"),
    ("consultation_phone", "咨询电话"),
    ("online_depth", "网上办理深度"),
    ("result", "办理结果"),
    ("name", "事项名称"),
];

/// The Chinese names of the guide parts that differ between two versions.
pub fn changed_parts(before: &Value, after: &Value) -> Vec<&'static str> {
    PARTS
        .iter()
        .filter(|(field, _)| before.get(field) != after.get(field))
        .map(|(_, label)| *label)
        .collect()
}

/// Enqueues the notice for every open case of the item under a version before `version`;
/// returns how many cases were told.
pub async fn notify_open_cases(
    tx: &impl GenericClient,
    item_id: Uuid,
    version: i32,
    item_name: &str,
    before: &Value,
    after: &Value,
    settings: &OutboxSettings,
) -> anyhow::Result<usize> {
    let parts = changed_parts(before, after);
    let changes = if parts.is_empty() {
        "文字表述".to_owned()
    } else {
        parts.join("、")
    };
    let rows = tx
        .query(
            "SELECT id, applicant_subject, applicant_phone FROM cases
             WHERE item_id = $1 AND item_version < $2 AND closed_at IS NULL",
            &[&item_id, &version],
        )
        .await?;
    for row in &rows {
        let case_id: Uuid = row.get(0);
        let subject: Option<String> = row.get(1);
        let phone: Option<String> = row.get(2);
        let Some((recipient, channels)) = applicant_address(subject, phone) else {
            continue;
        };
        let mut variables = Map::new();
        variables.insert("item".to_owned(), json!(item_name));
        variables.insert("changes".to_owned(), json!(changes));
        variables.insert("case_id".to_owned(), json!(case_id));
        outbox::enqueue(
            tx,
            &NewNotification {
                template_key: "case.item_changed".to_owned(),
                variables,
                recipient,
                channels,
                must_reach: false,
                priority: 5,
                idempotency_key: format!("case:{case_id}:item-version:{version}"),
            },
            settings,
        )
        .await
        .map_err(|e| anyhow::anyhow!("enqueueing an item change notice: {e}"))?;
    }
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_only_the_parts_that_changed() {
        let before = json!({"materials": [1], "fees": {"free": true}, "promised_limit_days": 10});
        let after = json!({"materials": [1, 2], "fees": {"free": true}, "promised_limit_days": 8});
        assert_eq!(changed_parts(&before, &after), ["申请材料", "承诺时限"]);
        assert!(changed_parts(&before, &before).is_empty());
    }
}
