//! The caller's inbox (消息中心): pages of notifications newest first with stable cursors, each
//! rendered as the app shows it, the unread count, and marking one or all read. One-time codes
//! never appear.

use base64::Engine;
use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Pool};
use poem_openapi::payload::Json;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::checks::parse_id;
use super::views::{InboxItem, InboxPage, ReadAllResult, ReadResult};
use crate::http::HttpProblem;
use crate::http::{AppError, AppResult};
use crate::notify::errors::NotifyProblem;
use crate::notify::model;

const MAX_PAGE: i64 = 100;
/// One-time codes are never in the inbox (they have no owner anyway).
const OTP_TEMPLATE: &str = "identity.otp";

fn notification_not_found() -> AppError {
    AppError::new(
        NotifyProblem::NotificationNotFound,
        "no such notification of yours",
    )
}

fn encode_cursor(created_at: DateTime<Utc>, id: Uuid) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{}:{id}", created_at.timestamp_micros()))
}

fn decode_cursor(cursor: &str) -> AppResult<(DateTime<Utc>, Uuid)> {
    let bad = || {
        AppError::in_field(
            HttpProblem::InvalidParameter,
            "cursor",
            "the cursor is not one this API issued",
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (micros, id) = text.split_once(':').ok_or_else(bad)?;
    let at = micros
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(bad)?;
    Ok((at, Uuid::parse_str(id).map_err(|_| bad())?))
}

/// The app's text of a notification: push title and body, else the SMS text (personal data
/// masked, as the SMS showed it), else the email subject and body. A text that no longer
/// renders shows empty rather than failing the whole inbox.
fn render_for_app(
    row: &tokio_postgres::Row,
    variables: &Map<String, Value>,
) -> (Option<String>, String) {
    let text = |i: usize| row.get::<_, Option<String>>(i);
    let render = |t: &str, vars: &Map<String, Value>| model::render(t, vars).unwrap_or_default();
    let (push_title, push_body, sms_body, email_subject, email_body) =
        (text(5), text(6), text(7), text(8), text(9));
    if let Some(body) = push_body {
        let title = push_title.map(|t| render(&t, variables));
        return (title, render(&body, variables));
    }
    if let Some(body) = sms_body {
        let title = push_title.map(|t| render(&t, variables));
        return (title, render(&body, &model::masked_for_sms(variables)));
    }
    let title = email_subject.or(push_title).map(|t| render(&t, variables));
    (
        title,
        email_body
            .map(|b| render(&b, variables))
            .unwrap_or_default(),
    )
}

async fn unread_count(
    client: &impl GenericClient,
    owner: &str,
) -> Result<i64, tokio_postgres::Error> {
    Ok(client
        .query_one(
            "SELECT count(*) FROM notification
             WHERE owner = $1 AND read_at IS NULL AND template_key <> $2",
            &[&owner, &OTP_TEMPLATE],
        )
        .await?
        .get(0))
}

/// One page of the owner's notifications, newest first.
pub(super) async fn page(
    pool: &Pool,
    owner: &str,
    limit: Option<i64>,
    cursor: Option<String>,
    unread_only: Option<bool>,
) -> AppResult<Json<InboxPage>> {
    let limit = limit.unwrap_or(20);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::in_field(
            HttpProblem::InvalidParameter,
            "limit",
            format!("limit must be between 1 and {MAX_PAGE}"),
        ));
    }
    let after = cursor.as_deref().map(decode_cursor).transpose()?;
    let (after_at, after_id) = (after.map(|a| a.0), after.map(|a| a.1));
    let unread_only = unread_only.unwrap_or(false);
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT n.id, n.template_key, n.variables, n.created_at, n.read_at,
                    t.push_title, t.push_body, t.sms_body, t.email_subject, t.email_body
             FROM notification n
             JOIN notification_template t ON t.key = n.template_key AND t.version = n.template_version
             WHERE n.owner = $1 AND n.template_key <> $2
               AND (NOT $3 OR n.read_at IS NULL)
               AND ($4::timestamptz IS NULL OR (n.created_at, n.id) < ($4, $5::uuid))
             ORDER BY n.created_at DESC, n.id DESC
             LIMIT $6",
            &[&owner, &OTP_TEMPLATE, &unread_only, &after_at, &after_id, &(limit + 1)],
        )
        .await?;
    let more = rows.len() as i64 > limit;
    let items: Vec<InboxItem> = rows
        .iter()
        .take(limit as usize)
        .map(|row| {
            let variables = match row.get::<_, Value>(2) {
                Value::Object(map) => map,
                _ => Map::new(),
            };
            let (title, body) = render_for_app(row, &variables);
            InboxItem {
                id: row.get(0),
                template_key: row.get(1),
                title,
                body,
                case_id: variables
                    .get("case_id")
                    .and_then(Value::as_str)
                    .and_then(|id| id.parse().ok()),
                document_url: variables
                    .get("document_url")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                created_at: row.get(3),
                read_at: row.get(4),
            }
        })
        .collect();
    let next_cursor = if more {
        items.last().map(|i| encode_cursor(i.created_at, i.id))
    } else {
        None
    };
    Ok(Json(InboxPage {
        items,
        next_cursor,
        unread_count: unread_count(&client, owner).await?,
    }))
}

/// Marks one of the owner's notifications read.
pub(super) async fn mark_read(pool: &Pool, owner: &str, id: &str) -> AppResult<Json<ReadResult>> {
    let id = parse_id(id).map_err(|_| notification_not_found())?;
    let client = pool.get().await?;
    let read_at: DateTime<Utc> = client
        .query_opt(
            "UPDATE notification SET read_at = COALESCE(read_at, now())
             WHERE id = $1 AND owner = $2 AND template_key <> $3 RETURNING read_at",
            &[&id, &owner, &OTP_TEMPLATE],
        )
        .await?
        .ok_or_else(notification_not_found)?
        .get(0);
    Ok(Json(ReadResult {
        id,
        read_at,
        unread_count: unread_count(&client, owner).await?,
    }))
}

/// Marks all the owner's notifications read.
pub(super) async fn mark_all_read(pool: &Pool, owner: &str) -> AppResult<Json<ReadAllResult>> {
    let client = pool.get().await?;
    let marked = client
        .execute(
            "UPDATE notification SET read_at = now()
             WHERE owner = $1 AND read_at IS NULL AND template_key <> $2",
            &[&owner, &OTP_TEMPLATE],
        )
        .await?;
    Ok(Json(ReadAllResult {
        marked: marked as i64,
        unread_count: unread_count(&client, owner).await?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_forgeries() {
        let at = DateTime::from_timestamp_micros(1_780_000_000_123_456).unwrap();
        let id = Uuid::new_v4();
        assert_eq!(decode_cursor(&encode_cursor(at, id)).unwrap(), (at, id));
        assert!(decode_cursor("not-a-cursor").is_err());
    }
}
