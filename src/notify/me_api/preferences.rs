//! The caller's channel preferences: which channels non-essential notifications use and the
//! quiet hours during which their push waits, read and replaced, with the verified email address.

use chrono::NaiveTime;
use deadpool_postgres::Pool;
use poem_openapi::payload::Json;

use super::checks::field_errors;
use super::views::{PreferencesUpdate, PreferencesView, QuietHoursView};
use crate::http::{AppResult, FieldError};
use crate::notify::{model, outbox};

fn parse_time(field: &str, raw: &str, errors: &mut Vec<FieldError>) -> Option<NaiveTime> {
    let parsed = (raw.len() == 5)
        .then(|| NaiveTime::parse_from_str(raw, "%H:%M").ok())
        .flatten();
    if parsed.is_none() {
        errors.push(FieldError::new(
            field,
            "invalid_quiet_hours",
            "a time of day is HH:MM (00:00-23:59)",
        ));
    }
    parsed
}

fn time_text(t: NaiveTime) -> String {
    t.format("%H:%M").to_string()
}

fn preferences_view(
    prefs: &model::ChannelPreferences,
    email_address: Option<String>,
) -> PreferencesView {
    PreferencesView {
        push: prefs.push,
        sms: prefs.sms,
        email: prefs.email,
        email_address,
        quiet_hours: prefs.quiet_hours.map(|(start, end)| QuietHoursView {
            start: time_text(start),
            end: time_text(end),
        }),
        time_zone: "Asia/Shanghai".to_owned(),
        essential_always_sent: true,
    }
}

/// The owner's preferences as the app shows them.
pub(super) async fn get(pool: &Pool, owner: &str) -> AppResult<Json<PreferencesView>> {
    let client = pool.get().await?;
    let prefs = outbox::preferences(&**client, owner).await?;
    let email = outbox::verified_email(&**client, owner).await?;
    Ok(Json(preferences_view(&prefs, email)))
}

/// Replaces the owner's preferences.
pub(super) async fn set(
    pool: &Pool,
    owner: &str,
    req: PreferencesUpdate,
) -> AppResult<Json<PreferencesView>> {
    let mut errors = Vec::new();
    let quiet = match &req.quiet_hours {
        Some(q) => {
            let start = parse_time("quiet_hours.start", &q.start, &mut errors);
            let end = parse_time("quiet_hours.end", &q.end, &mut errors);
            if start.is_some() && start == end {
                errors.push(FieldError::new(
                    "quiet_hours.end",
                    "invalid_quiet_hours",
                    "quiet hours end at another time than they start",
                ));
            }
            start.zip(end)
        }
        None => None,
    };
    field_errors(errors)?;
    let client = pool.get().await?;
    client
        .execute(
            "INSERT INTO notification_preference (owner, push, sms, email, quiet_start, quiet_end)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (owner) DO UPDATE SET push = EXCLUDED.push, sms = EXCLUDED.sms,
                 email = EXCLUDED.email, quiet_start = EXCLUDED.quiet_start,
                 quiet_end = EXCLUDED.quiet_end, updated_at = now()",
            &[
                &owner,
                &req.push,
                &req.sms,
                &req.email,
                &quiet.map(|q| q.0),
                &quiet.map(|q| q.1),
            ],
        )
        .await?;
    let prefs = outbox::preferences(&**client, owner).await?;
    let email = outbox::verified_email(&**client, owner).await?;
    Ok(Json(preferences_view(&prefs, email)))
}
