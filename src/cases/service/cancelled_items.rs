//! A case whose item was cancelled (事项取消) cannot be approved: the approval would grant
//! something the catalog no longer offers [004 art.10(1)]. Staff may still deny or terminate
//! it, with the cancellation as the reason.
//!
//! The check reads the item's status inside the approval's transaction and holds the item's row
//! `FOR SHARE` until it commits, so a cancellation (which updates that row) and an approval cannot
//! cross: one waits for the other, and the approval sees the cancellation or commits before it.

use super::*;

/// 409 `item_cancelled` when the item of `item_id` is cancelled.
pub(super) async fn refuse_if_item_cancelled(
    client: &impl GenericClient,
    item_id: Uuid,
) -> AppResult<()> {
    let row = client
        .query_opt(
            "SELECT status, cancel_reason FROM item WHERE id = $1 FOR SHARE",
            &[&item_id],
        )
        .await?;
    let Some(row) = row else {
        return Ok(());
    };
    let status: String = row.get(0);
    if status != "cancelled" {
        return Ok(());
    }
    let reason: Option<String> = row.get(1);
    Err(AppError::new(
        CaseProblem::ItemCancelled,
        format!(
            "the item was cancelled ({}); deny or terminate the case instead",
            reason.unwrap_or_default()
        ),
    ))
}
