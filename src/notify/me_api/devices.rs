//! The caller's push devices: registering a phone (or taking it over from another account),
//! listing, updating and removing it, and cancelling the pushes still waiting for a device that
//! is removed or changed hands.

use deadpool_postgres::{GenericClient, Pool};
use poem_openapi::payload::Json;
use uuid::Uuid;

use super::checks::{check_app_version, check_locale, check_token, field_errors, parse_id};
use super::views::{
    DeviceList, DeviceRegistered, DeviceRegistration, DeviceUpdate, DeviceView, Platform, Removed,
};
use crate::http::{AppError, AppResult};
use crate::notify::errors::NotifyProblem;

fn mask_token(token: &str) -> String {
    format!("{}…", token.chars().take(6).collect::<String>())
}

fn device_not_found() -> AppError {
    AppError::new(NotifyProblem::DeviceNotFound, "no such device of yours")
}

const DEVICE_COLUMNS: &str = "id, platform, token, app_version, locale, created_at, updated_at";

fn device_view(row: &tokio_postgres::Row) -> DeviceView {
    DeviceView {
        id: row.get(0),
        platform: Platform::parse(row.get(1)),
        token: mask_token(row.get(2)),
        app_version: row.get(3),
        locale: row.get(4),
        created_at: row.get(5),
        updated_at: row.get(6),
    }
}

/// Cancels the pushes still waiting for `device` (removed, or now someone else's phone); their
/// SMS fallbacks go at once.
async fn cancel_pending_pushes(
    client: &impl GenericClient,
    device: Uuid,
    reason: &str,
) -> Result<(), tokio_postgres::Error> {
    let cancelled = client
        .query(
            "UPDATE notification_delivery SET status = 'cancelled', last_error = $2
             WHERE device_id = $1 AND status IN ('created', 'temporary_failure')
             RETURNING id",
            &[&device, &reason],
        )
        .await?;
    let ids: Vec<Uuid> = cancelled.iter().map(|r| r.get(0)).collect();
    if ids.is_empty() {
        return Ok(());
    }
    client
        .execute(
            "INSERT INTO notification_event (delivery_id, status, detail)
             SELECT unnest($1::uuid[]), 'cancelled', $2",
            &[&ids, &reason],
        )
        .await?;
    client
        .execute(
            "UPDATE notification_delivery SET next_attempt_at = now()
             WHERE fallback_for = ANY($1) AND status = 'created'",
            &[&ids],
        )
        .await?;
    Ok(())
}

/// Registers the phone for `owner`, or refreshes the device with the same platform and token.
pub(super) async fn register(
    pool: &Pool,
    owner: &str,
    req: DeviceRegistration,
) -> AppResult<DeviceRegistered> {
    let mut errors = Vec::new();
    let token = check_token(req.platform, &req.token)
        .map_err(|e| errors.push(e))
        .ok();
    check_app_version(&req.app_version, &mut errors);
    check_locale(&req.locale, &mut errors);
    field_errors(errors)?;
    let token = token.unwrap_or_default();
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let previous = tx
        .query_opt(
            "SELECT id, owner FROM device WHERE platform = $1 AND token = $2 FOR UPDATE",
            &[&req.platform.as_str(), &token],
        )
        .await?;
    let (row, created) = match previous {
        Some(previous) => {
            let id: Uuid = previous.get(0);
            let previous_owner: String = previous.get(1);
            if previous_owner != owner {
                cancel_pending_pushes(&tx, id, "device_reassigned").await?;
            }
            let row = tx
                .query_one(
                    format!(
                        "UPDATE device SET owner = $2, app_version = $3, locale = $4, active = true,
                             deactivated_reason = NULL, updated_at = now()
                         WHERE id = $1 RETURNING {DEVICE_COLUMNS}"
                    )
                    .as_str(),
                    &[&id, &owner, &req.app_version, &req.locale],
                )
                .await?;
            (row, false)
        }
        None => {
            let row = tx
                .query_one(
                    format!(
                        "INSERT INTO device (id, owner, platform, token, app_version, locale)
                         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {DEVICE_COLUMNS}"
                    )
                    .as_str(),
                    &[
                        &Uuid::new_v4(),
                        &owner,
                        &req.platform.as_str(),
                        &token,
                        &req.app_version,
                        &req.locale,
                    ],
                )
                .await
                .map_err(|e| match e.code() {
                    Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => AppError::new(
                        NotifyProblem::ConcurrentEdit,
                        "the same token was registered at the same time: retry",
                    ),
                    _ => e.into(),
                })?;
            (row, true)
        }
    };
    tx.commit().await?;
    let view = Json(device_view(&row));
    Ok(if created {
        DeviceRegistered::Created(view)
    } else {
        DeviceRegistered::Existing(view)
    })
}

/// The owner's active devices, oldest first.
pub(super) async fn list(pool: &Pool, owner: &str) -> AppResult<Json<DeviceList>> {
    let client = pool.get().await?;
    let rows = client
        .query(
            format!(
                "SELECT {DEVICE_COLUMNS} FROM device WHERE owner = $1 AND active
                 ORDER BY created_at, id"
            )
            .as_str(),
            &[&owner],
        )
        .await?;
    Ok(Json(DeviceList {
        devices: rows.iter().map(device_view).collect(),
    }))
}

/// Updates one of the owner's devices.
pub(super) async fn update(
    pool: &Pool,
    owner: &str,
    id: &str,
    req: DeviceUpdate,
) -> AppResult<Json<DeviceView>> {
    let id = parse_id(id).map_err(|_| device_not_found())?;
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let platform = tx
        .query_opt(
            "SELECT platform FROM device WHERE id = $1 AND owner = $2 AND active FOR UPDATE",
            &[&id, &owner],
        )
        .await?
        .map(|r| Platform::parse(r.get(0)))
        .ok_or_else(device_not_found)?;
    let mut errors = Vec::new();
    let token = req
        .token
        .as_deref()
        .map(|t| check_token(platform, t))
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    check_app_version(&req.app_version, &mut errors);
    check_locale(&req.locale, &mut errors);
    field_errors(errors)?;
    if let Some(token) = &token {
        let taken = tx
            .query_opt(
                "SELECT 1 FROM device WHERE platform = $1 AND token = $2 AND id <> $3",
                &[&platform.as_str(), token, &id],
            )
            .await?;
        if taken.is_some() {
            return Err(AppError::new(
                NotifyProblem::DeviceTokenRegistered,
                "this token is registered as another device: register it with POST /api/v1/me/devices",
            ));
        }
    }
    let row = tx
        .query_one(
            format!(
                "UPDATE device SET token = COALESCE($2, token), app_version = COALESCE($3, app_version),
                     locale = COALESCE($4, locale), updated_at = now()
                 WHERE id = $1 RETURNING {DEVICE_COLUMNS}"
            ).as_str(),
            &[&id, &token, &req.app_version, &req.locale],
        )
        .await?;
    tx.commit().await?;
    Ok(Json(device_view(&row)))
}

/// Removes one of the owner's devices.
pub(super) async fn remove(pool: &Pool, owner: &str, id: &str) -> AppResult<Removed> {
    let id = parse_id(id).map_err(|_| device_not_found())?;
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let updated = tx
        .execute(
            "UPDATE device SET active = false,
                 deactivated_reason = CASE WHEN active THEN 'unregistered_by_user' ELSE deactivated_reason END,
                 updated_at = CASE WHEN active THEN now() ELSE updated_at END
             WHERE id = $1 AND owner = $2",
            &[&id, &owner],
        )
        .await?;
    if updated == 0 {
        return Err(device_not_found());
    }
    cancel_pending_pushes(&tx, id, "unregistered_by_user").await?;
    tx.commit().await?;
    Ok(Removed::Removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_masked() {
        assert_eq!(mask_token("abcdef123456"), "abcdef…");
    }
}
