//! The notification hub seen from the 指尖办 app (`/api/v1/me/…`): the caller's push devices,
//! their inbox, and their channel preferences. Every endpoint is for any signed-in account
//! (citizens, enterprises, staff) and acts only on the caller's own subject: another account's
//! device or notification is a 404, never a 403, so ids reveal nothing.
//!
//! Every POST here is idempotent by nature (registering the same token again returns the same
//! device; marking read twice changes nothing), so a phone may retry freely without an
//! `Idempotency-Key`.

use base64::Engine;
use chrono::{DateTime, NaiveTime, Utc};
use deadpool_postgres::{GenericClient, Pool};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use serde::Deserialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::model;
use super::outbox;
use crate::http::HttpProblem;
use crate::http::ProblemKind;
use crate::http::{ApiTags, AppError, AppResult, FieldError, JsonBody};
use crate::identity::gate::{AccessToken, Gate};
use crate::identity::policy::Rule;
use crate::notify::errors::NotifyProblem;

pub struct NotifyMeApi {
    pub pool: Pool,
    pub gate: Gate,
}

/// A push service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[oai(rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Apple Push Notification service (iOS)
    Apns,
    /// Huawei Push Kit (HarmonyOS, Huawei Android)
    Huawei,
    /// Firebase Cloud Messaging (Android)
    Fcm,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Apns => "apns",
            Platform::Huawei => "huawei",
            Platform::Fcm => "fcm",
        }
    }

    fn parse(s: &str) -> Platform {
        match s {
            "apns" => Platform::Apns,
            "huawei" => Platform::Huawei,
            _ => Platform::Fcm,
        }
    }
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceRegistration {
    pub platform: Platform,
    /// The push token: APNs 64–200 hex digits; FCM and Huawei 1–4096 printable ASCII
    /// characters without spaces.
    pub token: String,
    /// The app's version, at most 32 characters (e.g. `3.2.1`).
    #[serde(default)]
    #[oai(nullable)]
    pub app_version: Option<String>,
    /// The phone's language and region, e.g. `zh-CN` (`zh-Hans-CN` also accepted).
    #[serde(default)]
    #[oai(nullable)]
    pub locale: Option<String>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceUpdate {
    /// A new push token (the push service rotated it); same rules as at registration.
    #[serde(default)]
    #[oai(nullable)]
    pub token: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub app_version: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub locale: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct DeviceView {
    pub id: Uuid,
    pub platform: Platform,
    /// The token's first 6 characters and `…`: enough to recognise, not to use.
    pub token: String,
    #[oai(skip_serializing_if_is_none)]
    pub app_version: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub locale: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object)]
pub struct DeviceList {
    /// The caller's active devices, oldest first.
    pub devices: Vec<DeviceView>,
}

#[derive(Debug, Clone, Object)]
pub struct InboxItem {
    pub id: Uuid,
    pub template_key: String,
    /// The push title (or email subject) rendered with the notification's variables.
    #[oai(skip_serializing_if_is_none)]
    pub title: Option<String>,
    /// The push text rendered with the notification's variables (the SMS text when the
    /// template has no push text, the email text when it has neither).
    pub body: String,
    pub created_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub read_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Object)]
pub struct InboxPage {
    /// Newest first.
    pub items: Vec<InboxItem>,
    /// Pass as `cursor` for the next (older) page; absent on the last page. Pages stay stable
    /// while new notifications arrive.
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
    /// Every unread notification of the caller (not only this page's).
    pub unread_count: i64,
}

#[derive(Debug, Clone, Object)]
pub struct ReadResult {
    pub id: Uuid,
    /// When it was first marked read (unchanged by marking it again).
    pub read_at: DateTime<Utc>,
    pub unread_count: i64,
}

#[derive(Debug, Clone, Object)]
pub struct ReadAllResult {
    /// How many notifications this call marked read.
    pub marked: i64,
    pub unread_count: i64,
}

/// A daily period in local time (Asia/Shanghai), `HH:MM`; `start` after `end` wraps midnight.
#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// `HH:MM`, e.g. `22:00`.
    pub start: String,
    /// `HH:MM`, e.g. `07:00`; must differ from `start`.
    pub end: String,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreferencesUpdate {
    /// App push for non-essential notifications (default on).
    #[serde(default = "on")]
    #[oai(default = "on")]
    pub push: bool,
    /// SMS for non-essential notifications (default on).
    #[serde(default = "on")]
    #[oai(default = "on")]
    pub sms: bool,
    /// Email for non-essential notifications (default on).
    #[serde(default = "on")]
    #[oai(default = "on")]
    pub email: bool,
    /// Absent or null: no quiet hours.
    #[serde(default)]
    #[oai(nullable)]
    pub quiet_hours: Option<QuietHours>,
}

fn on() -> bool {
    true
}

#[derive(Debug, Clone, Object)]
pub struct PreferencesView {
    pub push: bool,
    pub sms: bool,
    pub email: bool,
    /// The verified address email goes to; absent when none (then no email is sent). Set and
    /// verify it with `PUT /api/v1/me/notification-preferences/email`.
    #[oai(skip_serializing_if_is_none)]
    pub email_address: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub quiet_hours: Option<QuietHoursView>,
    /// The time zone of the quiet hours: always `Asia/Shanghai`.
    pub time_zone: String,
    /// Notifications that ignore these preferences: legal notices (decisions, correction
    /// requests — must reach) and one-time codes always go on every channel they name, at once.
    pub essential_always_sent: bool,
}

#[derive(Debug, Clone, Object)]
pub struct QuietHoursView {
    pub start: String,
    pub end: String,
}

#[derive(ApiResponse)]
pub enum DeviceRegistered {
    /// A new device.
    #[oai(status = 201)]
    Created(Json<DeviceView>),
    /// This platform and token were already registered: the device (same id) now belongs to
    /// the caller, is active again and carries the new app version and locale.
    #[oai(status = 200)]
    Existing(Json<DeviceView>),
}

#[derive(ApiResponse)]
pub enum Removed {
    /// Removed (or already removed): no more push to this device.
    #[oai(status = 204)]
    Removed,
}

const MAX_PAGE: i64 = 100;
/// One-time codes are never in the inbox (they have no owner anyway).
const OTP_TEMPLATE: &str = "identity.otp";

fn field_errors(errors: Vec<FieldError>) -> AppResult<()> {
    match errors.len() {
        0 => Ok(()),
        1 => {
            let kind: ProblemKind = match errors[0].code.as_str() {
                "invalid_device_token" => NotifyProblem::InvalidDeviceToken.into(),
                "invalid_locale" => NotifyProblem::InvalidLocale.into(),
                "invalid_app_version" => NotifyProblem::InvalidAppVersion.into(),
                "invalid_quiet_hours" => NotifyProblem::InvalidQuietHours.into(),
                _ => HttpProblem::ValidationFailed.into(),
            };
            Err(AppError::invalid(kind, errors))
        }
        _ => Err(AppError::invalid(HttpProblem::ValidationFailed, errors)),
    }
}

/// A push token as the platform issues it; APNs tokens are hex, kept lowercase.
pub fn check_token(platform: Platform, token: &str) -> Result<String, FieldError> {
    match platform {
        Platform::Apns => {
            let ok =
                (64..=200).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_hexdigit());
            ok.then(|| token.to_ascii_lowercase()).ok_or_else(|| {
                FieldError::new(
                    "token",
                    "invalid_device_token",
                    "an APNs device token is 64-200 hexadecimal digits",
                )
            })
        }
        Platform::Fcm | Platform::Huawei => {
            let ok =
                (1..=4096).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_graphic());
            ok.then(|| token.to_owned()).ok_or_else(|| {
                FieldError::new(
                    "token",
                    "invalid_device_token",
                    "an FCM or Huawei push token is 1-4096 printable ASCII characters without spaces",
                )
            })
        }
    }
}

/// A language tag like `zh-CN`: language (2–3 lowercase letters), optional script (4 letters,
/// `Hans`), optional region (2 uppercase letters or 3 digits).
pub fn is_locale(locale: &str) -> bool {
    let mut parts = locale.split('-');
    let Some(language) = parts.next() else {
        return false;
    };
    if !(2..=3).contains(&language.len()) || !language.bytes().all(|b| b.is_ascii_lowercase()) {
        return false;
    }
    let mut rest: Vec<&str> = parts.collect();
    if rest.first().is_some_and(|s| {
        s.len() == 4
            && s.bytes().next().is_some_and(|b| b.is_ascii_uppercase())
            && s.bytes().skip(1).all(|b| b.is_ascii_lowercase())
    }) {
        rest.remove(0);
    }
    match rest.as_slice() {
        [] => true,
        [region] => {
            (region.len() == 2 && region.bytes().all(|b| b.is_ascii_uppercase()))
                || (region.len() == 3 && region.bytes().all(|b| b.is_ascii_digit()))
        }
        _ => false,
    }
}

fn check_locale(locale: &Option<String>, errors: &mut Vec<FieldError>) {
    if let Some(locale) = locale
        && !is_locale(locale)
    {
        errors.push(FieldError::new(
            "locale",
            "invalid_locale",
            "a locale is a language tag like zh-CN",
        ));
    }
}

fn check_app_version(version: &Option<String>, errors: &mut Vec<FieldError>) {
    if let Some(version) = version
        && (version.trim().is_empty()
            || version.chars().count() > 32
            || version.chars().any(char::is_control))
    {
        errors.push(FieldError::new(
            "app_version",
            "invalid_app_version",
            "an app version is 1-32 characters, e.g. 3.2.1",
        ));
    }
}

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

fn mask_token(token: &str) -> String {
    format!("{}…", token.chars().take(6).collect::<String>())
}

fn device_not_found() -> AppError {
    AppError::new(NotifyProblem::DeviceNotFound, "no such device of yours")
}

fn notification_not_found() -> AppError {
    AppError::new(
        NotifyProblem::NotificationNotFound,
        "no such notification of yours",
    )
}

fn parse_id(raw: &str) -> AppResult<Uuid> {
    Uuid::parse_str(raw)
        .map_err(|_| AppError::in_field(HttpProblem::InvalidParameter, "id", "not an id"))
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

fn time_text(t: NaiveTime) -> String {
    t.format("%H:%M").to_string()
}

#[OpenApi(prefix_path = "/api/v1/me", tag = "ApiTags::App")]
impl NotifyMeApi {
    /// Register this phone for push (or refresh it). The same platform and token again returns
    /// the same device (200); a token registered by another account moves to the caller (the
    /// phone changed hands) and the pushes still waiting for it are cancelled.
    #[oai(path = "/devices", method = "post")]
    async fn register_device(
        &self,
        auth: AccessToken,
        body: JsonBody<DeviceRegistration>,
    ) -> AppResult<DeviceRegistered> {
        let owner = self
            .gate
            .require(&auth, Rule::Authenticated)
            .await?
            .subject
            .to_string();
        let req = body.parse()?;
        let mut errors = Vec::new();
        let token = check_token(req.platform, &req.token)
            .map_err(|e| errors.push(e))
            .ok();
        check_app_version(&req.app_version, &mut errors);
        check_locale(&req.locale, &mut errors);
        field_errors(errors)?;
        let token = token.unwrap_or_default();
        let mut client = self.pool.get().await?;
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
                        ).as_str(),
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

    /// My phones registered for push (active ones, oldest first; tokens masked).
    #[oai(path = "/devices", method = "get")]
    async fn list_devices(&self, auth: AccessToken) -> AppResult<Json<DeviceList>> {
        let owner = self
            .gate
            .require(&auth, Rule::Authenticated)
            .await?
            .subject
            .to_string();
        let client = self.pool.get().await?;
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

    /// Update one of my devices: a rotated push token, the app version, the locale.
    #[oai(path = "/devices/:id", method = "put")]
    async fn update_device(
        &self,
        auth: AccessToken,
        id: Path<String>,
        body: JsonBody<DeviceUpdate>,
    ) -> AppResult<Json<DeviceView>> {
        let owner = self
            .gate
            .require(&auth, Rule::Authenticated)
            .await?
            .subject
            .to_string();
        let req = body.parse()?;
        let id = parse_id(&id.0).map_err(|_| device_not_found())?;
        let mut client = self.pool.get().await?;
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

    /// Remove one of my devices: it gets no more push (reason `unregistered_by_user`); pushes
    /// still waiting for it are cancelled. Removing it again is a 204 too.
    #[oai(path = "/devices/:id", method = "delete")]
    async fn remove_device(&self, auth: AccessToken, id: Path<String>) -> AppResult<Removed> {
        let owner = self
            .gate
            .require(&auth, Rule::Authenticated)
            .await?
            .subject
            .to_string();
        let id = parse_id(&id.0).map_err(|_| device_not_found())?;
        let mut client = self.pool.get().await?;
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

    /// My notifications (消息中心), newest first, with the unread count.
    #[oai(path = "/notifications", method = "get")]
    async fn inbox(
        &self,
        auth: AccessToken,
        /// Page size, 1–100 (default 20).
        limit: Query<Option<i64>>,
        /// From the previous page's `next_cursor`.
        cursor: Query<Option<String>>,
        /// Only notifications not yet read.
        unread_only: Query<Option<bool>>,
    ) -> AppResult<Json<InboxPage>> {
        let owner = self
            .gate
            .require(&auth, Rule::Authenticated)
            .await?
            .subject
            .to_string();
        let limit = limit.0.unwrap_or(20);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(AppError::in_field(
                HttpProblem::InvalidParameter,
                "limit",
                format!("limit must be between 1 and {MAX_PAGE}"),
            ));
        }
        let after = cursor.0.as_deref().map(decode_cursor).transpose()?;
        let (after_at, after_id) = (after.map(|a| a.0), after.map(|a| a.1));
        let unread_only = unread_only.0.unwrap_or(false);
        let client = self.pool.get().await?;
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
            unread_count: unread_count(&client, &owner).await?,
        }))
    }

    /// Mark one of my notifications read (marking it again changes nothing).
    #[oai(path = "/notifications/:id/read", method = "post")]
    async fn mark_read(&self, auth: AccessToken, id: Path<String>) -> AppResult<Json<ReadResult>> {
        let owner = self
            .gate
            .require(&auth, Rule::Authenticated)
            .await?
            .subject
            .to_string();
        let id = parse_id(&id.0).map_err(|_| notification_not_found())?;
        let client = self.pool.get().await?;
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
            unread_count: unread_count(&client, &owner).await?,
        }))
    }

    /// Mark all my notifications read.
    #[oai(path = "/notifications/read-all", method = "post")]
    async fn mark_all_read(&self, auth: AccessToken) -> AppResult<Json<ReadAllResult>> {
        let owner = self
            .gate
            .require(&auth, Rule::Authenticated)
            .await?
            .subject
            .to_string();
        let client = self.pool.get().await?;
        let marked = client
            .execute(
                "UPDATE notification SET read_at = now()
                 WHERE owner = $1 AND read_at IS NULL AND template_key <> $2",
                &[&owner, &OTP_TEMPLATE],
            )
            .await?;
        Ok(Json(ReadAllResult {
            marked: marked as i64,
            unread_count: unread_count(&client, &owner).await?,
        }))
    }

    /// My channel preferences: which channels non-essential notifications use, and quiet hours
    /// during which their push waits. Legal notices (must reach) and codes ignore them.
    #[oai(path = "/notification-preferences", method = "get")]
    async fn preferences(&self, auth: AccessToken) -> AppResult<Json<PreferencesView>> {
        let owner = self
            .gate
            .require(&auth, Rule::Authenticated)
            .await?
            .subject
            .to_string();
        let client = self.pool.get().await?;
        let prefs = outbox::preferences(&**client, &owner).await?;
        let email = outbox::verified_email(&**client, &owner).await?;
        Ok(Json(preferences_view(&prefs, email)))
    }

    /// Replace my channel preferences (absent channels are on; absent quiet hours are none).
    #[oai(path = "/notification-preferences", method = "put")]
    async fn set_preferences(
        &self,
        auth: AccessToken,
        body: JsonBody<PreferencesUpdate>,
    ) -> AppResult<Json<PreferencesView>> {
        let owner = self
            .gate
            .require(&auth, Rule::Authenticated)
            .await?
            .subject
            .to_string();
        let req = body.parse()?;
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
        let client = self.pool.get().await?;
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
        let prefs = outbox::preferences(&**client, &owner).await?;
        let email = outbox::verified_email(&**client, &owner).await?;
        Ok(Json(preferences_view(&prefs, email)))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_follow_their_platform() {
        let apns = "A1".repeat(32);
        assert_eq!(
            check_token(Platform::Apns, &apns).unwrap(),
            apns.to_lowercase()
        );
        assert!(check_token(Platform::Apns, &"a".repeat(63)).is_err());
        assert!(check_token(Platform::Apns, &"g".repeat(64)).is_err());
        assert!(check_token(Platform::Apns, &"a".repeat(201)).is_err());
        assert!(check_token(Platform::Fcm, "dGVzdA:APA91b-x_y").is_ok());
        assert!(check_token(Platform::Huawei, "").is_err());
        assert!(check_token(Platform::Fcm, "has space").is_err());
        assert!(check_token(Platform::Fcm, "令牌").is_err());
        assert!(check_token(Platform::Fcm, &"x".repeat(4097)).is_err());
    }

    #[test]
    fn locales_are_language_tags() {
        for ok in ["zh-CN", "zh", "en-US", "zh-Hans-CN", "es-419"] {
            assert!(is_locale(ok), "{ok}");
        }
        for bad in ["", "zh_CN", "ZH-cn", "chinese", "zh-CN-x", "zh-", "z"] {
            assert!(!is_locale(bad), "{bad}");
        }
    }

    #[test]
    fn cursors_round_trip_and_refuse_forgeries() {
        let at = DateTime::from_timestamp_micros(1_780_000_000_123_456).unwrap();
        let id = Uuid::new_v4();
        assert_eq!(decode_cursor(&encode_cursor(at, id)).unwrap(), (at, id));
        assert!(decode_cursor("not-a-cursor").is_err());
        assert_eq!(mask_token("abcdef123456"), "abcdef…");
    }
}
