//! Catalog use cases: create and edit drafts, publish immutable versions, cancel, and serve the
//! published catalog (cached: it is read far more often than it changes).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use moka::future::Cache;
use serde_json::json;
use uuid::Uuid;

use super::model::{
    Category, FormFile, GuideDraft, PublishContext, check_for_publication, check_item_code,
};
use super::republished::{Cancellation, GuideRepublished, Republication};
use super::store::{self, ItemRow, ListFilter, NewVersion};
use super::views::{
    DepartmentRef, ItemAdminView, ItemDetail, ItemPage, ItemStatus, ItemSummary, UploadedFile,
    VersionInfo,
};
use crate::audit::{self, AuditEntry};
use crate::blobs::{BlobStore, sha256_hex};
use crate::catalog::errors::CatalogProblem;
use crate::department::store as departments;
use crate::http::HttpProblem;
use crate::http::pre_serialized::PreSerialized;
use crate::http::{AppError, AppResult, FieldError};
use crate::identity::model::Actor;

/// Published guides stay cached this long; another instance's publication shows within it.
const DETAIL_TTL: Duration = Duration::from_secs(30);
pub const MAX_PAGE: i64 = 100;

pub struct CatalogService {
    pool: Pool,
    blobs: Arc<dyn BlobStore>,
    /// Told when a publication replaces a version open cases still run under.
    republished: Arc<dyn GuideRepublished>,
    /// The guide in force by item code, with its JSON serialized once.
    details: Cache<String, CachedDetail>,
}

/// A published guide and its response body, ready to send.
#[derive(Clone)]
pub struct CachedDetail {
    pub detail: Arc<ItemDetail>,
    pub json: PreSerialized<ItemDetail>,
}

/// Which downloadable form of a material.
#[derive(Debug, Clone, Copy)]
pub enum FormKind {
    Blank,
    Sample,
}

impl CatalogService {
    pub fn new(
        pool: Pool,
        blobs: Arc<dyn BlobStore>,
        republished: Arc<dyn GuideRepublished>,
    ) -> Self {
        CatalogService {
            pool,
            blobs,
            republished,
            details: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(DETAIL_TTL)
                .build(),
        }
    }

    pub async fn create_item(
        &self,
        actor: &Actor,
        new: super::views::NewItem,
    ) -> AppResult<ItemAdminView> {
        check_item_code(&new.code)
            .map_err(|e| AppError::invalid(HttpProblem::ValidationFailed, vec![e]))?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let Some((lead_id, _)) = departments::find_by_code(&tx, &new.lead_department_code).await?
        else {
            return Err(AppError::invalid_field(
                "lead_department_code",
                CatalogProblem::UnknownDepartment,
                format!("no department {}", new.lead_department_code),
            ));
        };
        let id = Uuid::new_v4();
        if !store::insert_item(&tx, id, &new.code, lead_id, &new.draft).await? {
            return Err(AppError::new(
                CatalogProblem::ItemExists,
                format!("item {} already exists", new.code),
            ));
        }
        let after = serde_json::to_value(&new.draft).map_err(anyhow::Error::from)?;
        audit::append(
            &tx,
            AuditEntry {
                aggregate_type: "item",
                aggregate_id: &id.to_string(),
                actor: &actor.0,
                action: "item.create",
                before: None,
                after: Some(&after),
                details: json!({ "code": new.code, "lead_department": new.lead_department_code }),
            },
        )
        .await?;
        let view = self.admin_view_in(&tx, &new.code).await?;
        tx.commit().await?;
        Ok(view)
    }

    pub async fn update_draft(
        &self,
        actor: &Actor,
        code: &str,
        revision: i32,
        draft: GuideDraft,
    ) -> AppResult<ItemAdminView> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let item = locked_item(&tx, code, revision).await?;
        let before = serde_json::to_value(&item.draft).map_err(anyhow::Error::from)?;
        let after = serde_json::to_value(&draft).map_err(anyhow::Error::from)?;
        let new_revision = store::update_draft(&tx, item.id, &draft).await?;
        audit::append(
            &tx,
            AuditEntry {
                aggregate_type: "item",
                aggregate_id: &item.id.to_string(),
                actor: &actor.0,
                action: "item.edit_draft",
                before: Some(&before),
                after: Some(&after),
                details: json!({ "code": code, "revision": new_revision }),
            },
        )
        .await?;
        let view = self.admin_view_in(&tx, code).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Publishes the draft as the next version, refusing — with every missing element listed —
    /// a guide that is incomplete.
    pub async fn publish(
        &self,
        actor: &Actor,
        code: &str,
        revision: i32,
    ) -> AppResult<VersionInfo> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let item = locked_item(&tx, code, revision).await?;
        let draft = &item.draft;

        let mut dept_codes: Vec<String> = draft.co_department_codes.clone();
        dept_codes.push(item.lead_department_code.clone());
        dept_codes.extend(draft.steps.iter().filter_map(|s| s.department_code.clone()));
        let dept_ids: HashMap<String, Uuid> = departments::ids_by_code(&*tx, &dept_codes)
            .await?
            .into_iter()
            .collect();
        let form_hashes: Vec<String> = draft
            .materials
            .iter()
            .flat_map(|m| [&m.blank_form, &m.sample_form])
            .flatten()
            .map(|f| f.sha256.clone())
            .collect();
        let known_files = store::known_files(&tx, &form_hashes).await?;
        let parent_is_main = match &draft.parent_code {
            Some(parent) => store::is_published_main_item(&tx, parent).await?,
            None => false,
        };
        let ctx = PublishContext {
            item_code: code,
            known_department: &|c: &str| dept_ids.contains_key(c),
            lead_department_code: &item.lead_department_code,
            known_main_item: &|_: &str| parent_is_main,
            known_blob: &|h: &str| known_files.iter().any(|k| k == h),
        };
        let guide = check_for_publication(draft, &ctx)
            .map_err(|errors| AppError::invalid(CatalogProblem::GuideIncomplete, errors))?;

        let guide_json = serde_json::to_value(&guide).map_err(anyhow::Error::from)?;
        let guide_sha256 = audit::digest_json(&guide_json);
        let version = item.current_version.unwrap_or(0) + 1;
        let mut department_ids = vec![item.lead_department_id];
        department_ids.extend(
            guide
                .co_department_codes
                .iter()
                .filter_map(|c| dept_ids.get(c).copied()),
        );
        let published_at = store::insert_version(
            &tx,
            NewVersion {
                item_id: item.id,
                version,
                guide: &guide,
                guide_json: &guide_json,
                guide_sha256: &guide_sha256,
                department_ids: &department_ids,
                published_by: &actor.0,
            },
        )
        .await?;
        let before = match item.current_version {
            Some(v) => store::version_of(&tx, code, Some(v))
                .await?
                .map(|(_, row)| serde_json::to_value(&row.guide))
                .transpose()
                .map_err(anyhow::Error::from)?,
            None => None,
        };
        audit::append(
            &tx,
            AuditEntry {
                aggregate_type: "item",
                aggregate_id: &item.id.to_string(),
                actor: &actor.0,
                action: "item.publish",
                before: before.as_ref(),
                after: Some(&guide_json),
                details: json!({ "code": code, "version": version, "guide_sha256": guide_sha256 }),
            },
        )
        .await?;
        // Applicants of open cases under an older version hear what changed, at once.
        if let Some(before) = &before {
            let change = Republication {
                item_id: item.id,
                version,
                item_name: &guide.name,
                before,
                after: &guide_json,
            };
            self.republished.guide_republished(&tx, change).await?;
        }
        tx.commit().await?;
        self.details.invalidate(code).await;
        Ok(VersionInfo {
            version,
            published_at,
            published_by: actor.0.clone(),
            guide_sha256,
        })
    }

    /// Cancels (unpublishes) an item. Its versions stay readable: cases point at them.
    pub async fn cancel(
        &self,
        actor: &Actor,
        code: &str,
        reason: &str,
    ) -> AppResult<ItemAdminView> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(AppError::invalid_field(
                "reason",
                HttpProblem::Required,
                "a cancellation states its reason",
            ));
        }
        if reason.chars().count() > 500 {
            return Err(AppError::invalid_field(
                "reason",
                HttpProblem::TooLong,
                "a reason has at most 500 characters",
            ));
        }
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let item = store::find_item(&tx, code, true).await?.ok_or_else(|| {
            AppError::new(CatalogProblem::ItemNotFound, format!("no item {code}"))
        })?;
        if item.status != "published" {
            return Err(AppError::new(
                CatalogProblem::ItemNotPublished,
                format!(
                    "item {code} is {}; only a published item can be cancelled",
                    item.status
                ),
            ));
        }
        store::cancel_item(&tx, item.id, reason).await?;
        audit::append(
            &tx,
            AuditEntry {
                aggregate_type: "item",
                aggregate_id: &item.id.to_string(),
                actor: &actor.0,
                action: "item.cancel",
                before: None,
                after: None,
                details: json!({ "code": code, "reason": reason, "version": item.current_version }),
            },
        )
        .await?;
        // Open cases of the item are flagged to their handlers and applicants at once.
        self.republished
            .item_cancelled(
                &tx,
                Cancellation {
                    item_id: item.id,
                    item_code: code,
                    reason,
                },
            )
            .await?;
        let view = self.admin_view_in(&tx, code).await?;
        tx.commit().await?;
        self.details.invalidate(code).await;
        Ok(view)
    }

    pub async fn admin_view(&self, code: &str) -> AppResult<ItemAdminView> {
        let client = self.pool.get().await?;
        self.admin_view_in(&client, code).await
    }

    async fn admin_view_in(
        &self,
        client: &impl deadpool_postgres::GenericClient,
        code: &str,
    ) -> AppResult<ItemAdminView> {
        let item = store::find_item(client, code, false)
            .await?
            .ok_or_else(|| {
                AppError::new(CatalogProblem::ItemNotFound, format!("no item {code}"))
            })?;
        let versions = store::versions(client, item.id).await?;
        Ok(ItemAdminView {
            code: item.code,
            lead_department_code: item.lead_department_code,
            status: status_of(&item.status),
            draft: item.draft,
            draft_revision: item.draft_revision,
            current_version: item.current_version,
            cancel_reason: item.cancel_reason,
            versions: versions
                .into_iter()
                .map(|v| VersionInfo {
                    version: v.version,
                    published_at: v.published_at,
                    published_by: v.published_by,
                    guide_sha256: v.guide_sha256,
                })
                .collect(),
            updated_at: item.updated_at,
        })
    }

    pub async fn list(
        &self,
        text: Option<String>,
        category: Option<Category>,
        department_code: Option<String>,
        cursor: Option<String>,
        limit: Option<i64>,
    ) -> AppResult<ItemPage> {
        let limit = limit.unwrap_or(20);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(AppError::in_field(
                HttpProblem::InvalidParameter,
                "limit",
                format!("limit must be between 1 and {MAX_PAGE}"),
            ));
        }
        let after_code = cursor.map(|c| decode_cursor(&c)).transpose()?;
        let text = text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        if text.as_ref().is_some_and(|t| t.chars().count() > 50) {
            return Err(AppError::in_field(
                HttpProblem::InvalidParameter,
                "q",
                "search text has at most 50 characters",
            ));
        }
        let client = self.pool.get().await?;
        let department_id = match department_code {
            Some(code) => match departments::find_by_code(&client, &code).await? {
                Some((id, _)) => Some(id),
                // An unknown department has no items: an empty page, not an error.
                None => {
                    return Ok(ItemPage {
                        items: vec![],
                        next_cursor: None,
                    });
                }
            },
            None => None,
        };
        let rows = store::list_published(
            &client,
            &ListFilter {
                text,
                category,
                department_id,
                after_code,
                limit: limit + 1,
            },
        )
        .await?;
        let more = rows.len() as i64 > limit;
        let items: Vec<ItemSummary> = rows
            .into_iter()
            .take(limit as usize)
            .map(|r| ItemSummary {
                category_label: r.guide.category.label().to_owned(),
                code: r.code,
                name: r.guide.name,
                category: r.guide.category,
                lead_department: DepartmentRef {
                    code: r.lead_department_code,
                    name: r.lead_department_name,
                },
                instant: r.guide.instant,
                promised_limit_days: r.guide.promised_limit_days,
                online_depth: r.guide.online_depth,
                version: r.version,
            })
            .collect();
        let next_cursor = if more {
            items.last().map(|i| encode_cursor(&i.code))
        } else {
            None
        };
        Ok(ItemPage { items, next_cursor })
    }

    /// The guide in force, cached with its serialized JSON (the hottest public read).
    pub async fn current_detail(&self, code: &str) -> AppResult<CachedDetail> {
        if let Some(hit) = self.details.get(code).await {
            return Ok(hit);
        }
        let detail = self.load_detail(code, None).await?;
        let cached = CachedDetail {
            json: PreSerialized::serialize(&*detail).map_err(anyhow::Error::from)?,
            detail,
        };
        self.details.insert(code.to_owned(), cached.clone()).await;
        Ok(cached)
    }

    /// The guide in force, or a given version (cases cite theirs).
    pub async fn detail(&self, code: &str, version: Option<i32>) -> AppResult<Arc<ItemDetail>> {
        match version {
            None => Ok(self.current_detail(code).await?.detail),
            Some(_) => self.load_detail(code, version).await,
        }
    }

    async fn load_detail(&self, code: &str, version: Option<i32>) -> AppResult<Arc<ItemDetail>> {
        let client = self.pool.get().await?;
        let Some((item, row)) = store::version_of(&client, code, version).await? else {
            return Err(AppError::new(
                CatalogProblem::ItemNotFound,
                match version {
                    Some(v) => format!("item {code} has no published version {v}"),
                    None => format!("no published item {code}"),
                },
            ));
        };
        let mut codes = row.guide.co_department_codes.clone();
        codes.push(item.lead_department_code.clone());
        let names: HashMap<String, String> = store::department_names(&client, &codes)
            .await?
            .into_iter()
            .collect();
        let reference = |code: &String| DepartmentRef {
            code: code.clone(),
            name: names.get(code).cloned().unwrap_or_default(),
        };
        let current = item.status == "published" && item.current_version == Some(row.version);
        let detail = Arc::new(ItemDetail {
            code: item.code.clone(),
            version: row.version,
            published_at: row.published_at,
            guide_sha256: row.guide_sha256,
            category_label: row.guide.category.label().to_owned(),
            lead_department: reference(&item.lead_department_code),
            co_departments: row
                .guide
                .co_department_codes
                .iter()
                .map(reference)
                .collect(),
            sub_item_codes: store::sub_item_codes(&client, &item.code).await?,
            current,
            guide: row.guide,
        });
        Ok(detail)
    }

    /// A material's blank or sample form of the guide in force.
    pub async fn form(
        &self,
        code: &str,
        material_key: &str,
        kind: FormKind,
    ) -> AppResult<(FormFile, Vec<u8>)> {
        let detail = self.detail(code, None).await?;
        let material = detail
            .guide
            .materials
            .iter()
            .find(|m| m.key == material_key)
            .ok_or_else(|| {
                AppError::new(
                    CatalogProblem::MaterialNotFound,
                    format!("item {code} has no material {material_key}"),
                )
            })?;
        let form = match kind {
            FormKind::Blank => &material.blank_form,
            FormKind::Sample => &material.sample_form,
        }
        .clone()
        .ok_or_else(|| {
            AppError::new(
                CatalogProblem::FormNotFound,
                format!("material {material_key} has no such form"),
            )
        })?;
        let bytes = self
            .blobs
            .get(&form.sha256)
            .await
            .map_err(anyhow::Error::from)?
            .ok_or_else(|| {
                anyhow::anyhow!("blob {} recorded but missing from the store", form.sha256)
            })?;
        Ok((form, bytes))
    }

    /// Accepts a form file whose bytes match its declared type into the blob store.
    pub async fn upload_file(
        &self,
        actor: &Actor,
        content_type: &str,
        bytes: &[u8],
    ) -> AppResult<UploadedFile> {
        if bytes.is_empty() {
            return Err(AppError::in_field(
                HttpProblem::EmptyFile,
                "body",
                "the file is empty",
            ));
        }
        crate::filetype::matches_declared(content_type, bytes)
            .map_err(|detail| AppError::new(HttpProblem::FileTypeMismatch, detail))?;
        let content_type = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let sha256 = self.blobs.put(bytes).await.map_err(anyhow::Error::from)?;
        debug_assert_eq!(sha256, sha256_hex(bytes));
        let size = bytes.len() as i64;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        store::record_file(&tx, &sha256, size, &content_type, &actor.0).await?;
        audit::append(
            &tx,
            AuditEntry {
                aggregate_type: "file",
                aggregate_id: &sha256,
                actor: &actor.0,
                action: "file.upload",
                before: None,
                after: None,
                details: json!({ "content_type": content_type, "size_bytes": size }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(UploadedFile {
            sha256,
            size_bytes: size,
            content_type,
        })
    }
}

/// The item, locked, at the revision the caller has seen.
async fn locked_item(
    tx: &deadpool_postgres::Transaction<'_>,
    code: &str,
    revision: i32,
) -> AppResult<ItemRow> {
    let item = store::find_item(tx, code, true)
        .await?
        .ok_or_else(|| AppError::new(CatalogProblem::ItemNotFound, format!("no item {code}")))?;
    if item.draft_revision != revision {
        return Err(AppError::new(
            CatalogProblem::StaleRevision,
            format!(
                "the draft is at revision {}, not {revision}: reload it",
                item.draft_revision
            ),
        ));
    }
    Ok(item)
}

fn status_of(status: &str) -> ItemStatus {
    match status {
        "published" => ItemStatus::Published,
        "cancelled" => ItemStatus::Cancelled,
        _ => ItemStatus::Draft,
    }
}

fn encode_cursor(code: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(code)
}

fn decode_cursor(cursor: &str) -> AppResult<String> {
    use base64::Engine;
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
    let code = String::from_utf8(bytes).map_err(|_| bad())?;
    check_item_code(&code).map_err(|_: FieldError| bad())?;
    Ok(code)
}
