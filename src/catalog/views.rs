//! What the catalog API sends and receives.

use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use serde::{Deserialize, Serialize};

use super::model::{Category, Guide, GuideDraft, OnlineDepth};

/// A department as named inside an item.
#[derive(Debug, Clone, Object, Serialize)]
pub struct DepartmentRef {
    pub code: String,
    pub name: String,
}

/// One line of the public catalog.
#[derive(Debug, Clone, Object, Serialize)]
pub struct ItemSummary {
    pub code: String,
    pub name: String,
    pub category: Category,
    /// 事项类型 in Chinese, e.g. 行政许可.
    pub category_label: String,
    pub lead_department: DepartmentRef,
    pub instant: bool,
    pub promised_limit_days: u32,
    pub online_depth: OnlineDepth,
    pub version: i32,
}

#[derive(Debug, Clone, Object, Serialize)]
pub struct ItemPage {
    pub items: Vec<ItemSummary>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A published guide in full (办事指南).
#[derive(Debug, Clone, Object, Serialize)]
pub struct ItemDetail {
    pub code: String,
    pub version: i32,
    pub published_at: DateTime<Utc>,
    /// SHA-256 of the published guide, so a case can prove which text it was applied under.
    pub guide_sha256: String,
    pub category_label: String,
    pub lead_department: DepartmentRef,
    pub co_departments: Vec<DepartmentRef>,
    /// Codes of the published sub-items (子项) of this main item.
    pub sub_item_codes: Vec<String>,
    /// Whether this version is the one currently in force (false for older or cancelled ones).
    pub current: bool,
    pub guide: Guide,
}

/// Creating an item: its code, its lead department and a first (possibly partial) draft.
#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    pub code: String,
    pub lead_department_code: String,
    #[oai(default)]
    #[serde(default)]
    pub draft: GuideDraft,
}

/// Replacing the draft; `revision` must be the current one (optimistic concurrency).
#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftUpdate {
    pub revision: i32,
    pub draft: GuideDraft,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// The draft revision being published, so nobody publishes text they have not seen.
    pub revision: i32,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Why the item is cancelled (required, kept in the audit log).
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Never published.
    Draft,
    /// A version is in force.
    Published,
    /// Unpublished (取消).
    Cancelled,
}

#[derive(Debug, Clone, Object, Serialize)]
pub struct VersionInfo {
    pub version: i32,
    pub published_at: DateTime<Utc>,
    pub published_by: String,
    pub guide_sha256: String,
}

/// An item as its administrators see it: the draft being edited and every published version.
#[derive(Debug, Clone, Object, Serialize)]
pub struct ItemAdminView {
    pub code: String,
    pub lead_department_code: String,
    pub status: ItemStatus,
    pub draft: GuideDraft,
    pub draft_revision: i32,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i32>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    pub versions: Vec<VersionInfo>,
    pub updated_at: DateTime<Utc>,
}

/// A file accepted into the blob store; reference it from a material's `blank_form` or `sample_form`.
#[derive(Debug, Clone, Object, Serialize)]
pub struct UploadedFile {
    pub sha256: String,
    pub size_bytes: i64,
    pub content_type: String,
}
