//! A case whose item was cancelled (事项取消) [004 art.10(1)]. The cancellation flags it at once
//! (`cases::item_change`). Then:
//! - approving it is refused (409 `item_cancelled`): the approval would grant something the
//!   catalog no longer offers; staff deny or terminate it, with the cancellation as the reason;
//! - unless the approver records the legal basis on which it goes on (a transition rule of the
//!   cancelling decision, a court order…): `POST …/continue-despite-cancellation`, an event on
//!   the timeline and an audit record that supervision reads. Only then is approval possible.
//!
//! The check reads the item's status inside the approval's transaction and holds the item's row
//! `FOR SHARE` until it commits, so a cancellation (which updates that row) and an approval cannot
//! cross: one waits for the other, and the approval sees the cancellation or commits before it.

use super::*;

/// The item's status and cancellation reason, the row held `FOR SHARE` until the transaction
/// ends.
async fn item_status(
    client: &impl GenericClient,
    item_id: Uuid,
) -> AppResult<Option<(String, Option<String>)>> {
    let row = client
        .query_opt(
            "SELECT status, cancel_reason FROM item WHERE id = $1 FOR SHARE",
            &[&item_id],
        )
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// 409 `item_cancelled` when the item of `item_id` is cancelled and the case has no recorded
/// legal basis to go on.
pub(super) async fn refuse_if_item_cancelled(
    client: &impl GenericClient,
    case_id: Uuid,
    item_id: Uuid,
) -> AppResult<()> {
    let Some((status, reason)) = item_status(client, item_id).await? else {
        return Ok(());
    };
    if status != "cancelled" {
        return Ok(());
    }
    let continued = client
        .query_opt(
            "SELECT 1 FROM case_event
             WHERE case_id = $1 AND kind = 'continued_despite_cancellation'",
            &[&case_id],
        )
        .await?
        .is_some();
    if continued {
        return Ok(());
    }
    Err(AppError::new(
        CaseProblem::ItemCancelled,
        format!(
            "the item was cancelled ({}); deny or terminate the case, or record the legal basis \
             on which it goes on",
            reason.unwrap_or_default()
        ),
    ))
}

/// 409 `item_not_cancelled`: a legal basis to go on is recorded only for a cancelled item.
pub(super) async fn require_item_cancelled(
    client: &impl GenericClient,
    item_id: Uuid,
) -> AppResult<()> {
    match item_status(client, item_id).await? {
        Some((status, _)) if status == "cancelled" => Ok(()),
        _ => Err(AppError::new(
            CaseProblem::ItemNotCancelled,
            "the case's item is in force: there is nothing to go on despite",
        )),
    }
}
