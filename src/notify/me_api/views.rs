//! What the app sends and sees on the "me" endpoints: the push platform, device registration
//! and update bodies, device, inbox and preference views, and the endpoints' response enums.

use chrono::{DateTime, Utc};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object};
use serde::Deserialize;
use uuid::Uuid;

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

    pub(super) fn parse(s: &str) -> Platform {
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
    /// The case the notification is about, to open it in the app.
    #[oai(skip_serializing_if_is_none)]
    pub case_id: Option<Uuid>,
    /// The sealed document it announces (a notice, a decision), to download with the app's
    /// token.
    #[oai(skip_serializing_if_is_none)]
    pub document_url: Option<String>,
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
