//! The notification hub seen from the 指尖办 app (`/api/v1/me/…`): the caller's push devices,
//! their inbox, and their channel preferences. Every endpoint is for any signed-in account
//! (citizens, enterprises, staff) and acts only on the caller's own subject: another account's
//! device or notification is a 404, never a 403, so ids reveal nothing.
//!
//! Every POST here is idempotent by nature (registering the same token again returns the same
//! device; marking read twice changes nothing), so a phone may retry freely without an
//! `Idempotency-Key`.
//!
//! A file per idea: the routes below are thin, each delegating to `devices`, `inbox` or
//! `preferences`; `views` holds what the app sends and sees, `checks` the validation.

mod checks;
mod devices;
mod inbox;
mod preferences;
mod views;

use deadpool_postgres::Pool;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;

pub use checks::{check_token, is_locale};
pub use views::{
    DeviceList, DeviceRegistered, DeviceRegistration, DeviceUpdate, DeviceView, InboxItem,
    InboxPage, Platform, PreferencesUpdate, PreferencesView, QuietHours, QuietHoursView,
    ReadAllResult, ReadResult, Removed,
};

use crate::http::{ApiTags, AppResult, JsonBody};
use crate::identity::gate::{AccessToken, Gate};
use crate::identity::policy::Rule;

pub struct NotifyMeApi {
    pub pool: Pool,
    pub gate: Gate,
}

impl NotifyMeApi {
    /// The caller's own subject, for any signed-in account: every endpoint acts only on it.
    async fn owner(&self, auth: &AccessToken) -> AppResult<String> {
        Ok(self
            .gate
            .require(auth, Rule::Authenticated)
            .await?
            .subject
            .to_string())
    }
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
        let owner = self.owner(&auth).await?;
        let req = body.parse()?;
        devices::register(&self.pool, &owner, req).await
    }

    /// My phones registered for push (active ones, oldest first; tokens masked).
    #[oai(path = "/devices", method = "get")]
    async fn list_devices(&self, auth: AccessToken) -> AppResult<Json<DeviceList>> {
        let owner = self.owner(&auth).await?;
        devices::list(&self.pool, &owner).await
    }

    /// Update one of my devices: a rotated push token, the app version, the locale.
    #[oai(path = "/devices/:id", method = "put")]
    async fn update_device(
        &self,
        auth: AccessToken,
        id: Path<String>,
        body: JsonBody<DeviceUpdate>,
    ) -> AppResult<Json<DeviceView>> {
        let owner = self.owner(&auth).await?;
        let req = body.parse()?;
        devices::update(&self.pool, &owner, &id.0, req).await
    }

    /// Remove one of my devices: it gets no more push (reason `unregistered_by_user`); pushes
    /// still waiting for it are cancelled. Removing it again is a 204 too.
    #[oai(path = "/devices/:id", method = "delete")]
    async fn remove_device(&self, auth: AccessToken, id: Path<String>) -> AppResult<Removed> {
        let owner = self.owner(&auth).await?;
        devices::remove(&self.pool, &owner, &id.0).await
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
        let owner = self.owner(&auth).await?;
        inbox::page(&self.pool, &owner, limit.0, cursor.0, unread_only.0).await
    }

    /// Mark one of my notifications read (marking it again changes nothing).
    #[oai(path = "/notifications/:id/read", method = "post")]
    async fn mark_read(&self, auth: AccessToken, id: Path<String>) -> AppResult<Json<ReadResult>> {
        let owner = self.owner(&auth).await?;
        inbox::mark_read(&self.pool, &owner, &id.0).await
    }

    /// Mark all my notifications read.
    #[oai(path = "/notifications/read-all", method = "post")]
    async fn mark_all_read(&self, auth: AccessToken) -> AppResult<Json<ReadAllResult>> {
        let owner = self.owner(&auth).await?;
        inbox::mark_all_read(&self.pool, &owner).await
    }

    /// My channel preferences: which channels non-essential notifications use, and quiet hours
    /// during which their push waits. Legal notices (must reach) and codes ignore them.
    #[oai(path = "/notification-preferences", method = "get")]
    async fn preferences(&self, auth: AccessToken) -> AppResult<Json<PreferencesView>> {
        let owner = self.owner(&auth).await?;
        preferences::get(&self.pool, &owner).await
    }

    /// Replace my channel preferences (absent channels are on; absent quiet hours are none).
    #[oai(path = "/notification-preferences", method = "put")]
    async fn set_preferences(
        &self,
        auth: AccessToken,
        body: JsonBody<PreferencesUpdate>,
    ) -> AppResult<Json<PreferencesView>> {
        let owner = self.owner(&auth).await?;
        let req = body.parse()?;
        preferences::set(&self.pool, &owner, req).await
    }
}
