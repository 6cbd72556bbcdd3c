//! Catalog endpoints: the public catalog and guides, and item administration.

use std::sync::Arc;

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::model::Category;
use super::service::{CatalogService, FormKind};
use super::views::{
    CancelRequest, DraftUpdate, ItemAdminView, ItemDetail, ItemPage, NewItem, PublishRequest,
    UploadedFile, VersionInfo,
};
use crate::audit;
use crate::catalog::errors::CatalogProblem;
use crate::http::HttpProblem;
use crate::http::download::FileDownload;
use crate::http::pre_serialized::PreSerialized;
use crate::http::upload::{Upload, UploadKinds};
use crate::http::{ApiTags, AppError, AppResult, JsonBody, path_number};
use crate::identity::gate::forbidden;
use crate::identity::gate::{AccessToken, Gate};
use crate::identity::model::Actor;
use crate::identity::policy::{Rule, allows};

pub struct CatalogApi {
    pub service: Arc<CatalogService>,
    pub gate: Gate,
    pub pool: deadpool_postgres::Pool,
    /// The largest blank or sample form (the global body limit).
    pub max_form_bytes: usize,
}

/// What the form upload takes: the form types of [`crate::filetype::FORM_TYPES`].
pub struct FormKinds;

impl UploadKinds for FormKinds {
    fn content_types() -> Vec<&'static str> {
        crate::filetype::FORM_TYPES
            .iter()
            .map(|(t, _)| *t)
            .collect()
    }

    fn description() -> &'static str {
        "The form's bytes. Content-Type must be the file's real type (its bytes are checked)."
    }
}

/// 413 for a form over the body limit (the code the body-limit middleware uses for this route).
fn form_too_large(limit: usize) -> AppError {
    AppError::new(
        HttpProblem::PayloadTooLarge,
        format!("a form file may be at most {limit} bytes"),
    )
}

#[derive(ApiResponse)]
pub enum ItemCreated {
    /// Created as a draft.
    #[oai(status = 201)]
    Created(Json<ItemAdminView>),
}

#[derive(ApiResponse)]
pub enum VersionPublished {
    /// Published as a new immutable version.
    #[oai(status = 201)]
    Published(Json<VersionInfo>),
}

#[derive(ApiResponse)]
pub enum FileStored {
    /// Stored in the blob store.
    #[oai(status = 201)]
    Stored(Json<UploadedFile>),
}

#[OpenApi(prefix_path = "/api/v1")]
impl CatalogApi {
    /// 事项目录 — search published items by text (name or code), category and department.
    #[oai(path = "/items", method = "get", tag = "ApiTags::Public")]
    async fn list_items(
        &self,
        /// Text to find in the item's name or code.
        q: Query<Option<String>>,
        category: Query<Option<Category>>,
        /// A department code: items it leads or co-handles.
        department: Query<Option<String>>,
        /// From the previous page's `next_cursor`.
        cursor: Query<Option<String>>,
        /// Page size, 1–100 (default 20).
        limit: Query<Option<i64>>,
    ) -> AppResult<Json<ItemPage>> {
        Ok(Json(
            self.service
                .list(q.0, category.0, department.0, cursor.0, limit.0)
                .await?,
        ))
    }

    /// 办事指南 — the guide in force for an item, in full.
    #[oai(path = "/items/:code", method = "get", tag = "ApiTags::Public")]
    async fn item_detail(&self, code: Path<String>) -> AppResult<PreSerialized<ItemDetail>> {
        Ok(self.service.current_detail(&code.0).await?.json)
    }

    /// A given published version of an item's guide (what a case was applied under).
    #[oai(
        path = "/items/:code/versions/:version",
        method = "get",
        tag = "ApiTags::Public"
    )]
    async fn item_version(
        &self,
        code: Path<String>,
        version: Path<String>,
    ) -> AppResult<Json<ItemDetail>> {
        let version = path_number::<i32>("version", &version.0)?;
        let detail = self.service.detail(&code.0, Some(version)).await?;
        Ok(Json(ItemDetail::clone(&detail)))
    }

    /// 空白表格 — download a material's blank form.
    #[oai(
        path = "/items/:code/materials/:key/blank-form",
        method = "get",
        tag = "ApiTags::Public"
    )]
    async fn blank_form(&self, code: Path<String>, key: Path<String>) -> AppResult<FileDownload> {
        self.form(&code.0, &key.0, FormKind::Blank).await
    }

    /// 示范文本 — download a material's sample (filled-in) form.
    #[oai(
        path = "/items/:code/materials/:key/sample-form",
        method = "get",
        tag = "ApiTags::Public"
    )]
    async fn sample_form(&self, code: Path<String>, key: Path<String>) -> AppResult<FileDownload> {
        self.form(&code.0, &key.0, FormKind::Sample).await
    }

    /// Create an item with its lead department and a first draft.
    #[oai(path = "/admin/items", method = "post", tag = "ApiTags::Admin")]
    async fn create_item(
        &self,
        auth: AccessToken,
        body: JsonBody<NewItem>,
    ) -> AppResult<ItemCreated> {
        // Only administrators get to learn what the body must hold; which department's
        // administrator is known once the body names the lead department.
        self.gate.require(&auth, Rule::SomeAdministrator).await?;
        let item = body.parse()?;
        let department = self.department_of_new_item(&item).await?;
        let actor = self.gate.require(&auth, department).await?.actor();
        Ok(ItemCreated::Created(Json(
            self.service.create_item(&actor, item).await?,
        )))
    }

    /// An item with its draft and every published version.
    #[oai(path = "/admin/items/:code", method = "get", tag = "ApiTags::Admin")]
    async fn admin_item(
        &self,
        auth: AccessToken,
        code: Path<String>,
    ) -> AppResult<Json<ItemAdminView>> {
        self.require_item_admin(&auth, &code.0).await?;
        Ok(Json(self.service.admin_view(&code.0).await?))
    }

    /// Replace the draft (the `revision` you last read; 409 when someone edited since).
    #[oai(
        path = "/admin/items/:code/draft",
        method = "put",
        tag = "ApiTags::Admin"
    )]
    async fn update_draft(
        &self,
        auth: AccessToken,
        code: Path<String>,
        body: JsonBody<DraftUpdate>,
    ) -> AppResult<Json<ItemAdminView>> {
        let actor = self.require_item_admin(&auth, &code.0).await?;
        let update = body.parse()?;
        Ok(Json(
            self.service
                .update_draft(&actor, &code.0, update.revision, update.draft)
                .await?,
        ))
    }

    /// Publish the draft as a new version; 422 `guide_incomplete` lists every missing element.
    #[oai(
        path = "/admin/items/:code/publish",
        method = "post",
        tag = "ApiTags::Admin"
    )]
    async fn publish(
        &self,
        auth: AccessToken,
        code: Path<String>,
        body: JsonBody<PublishRequest>,
    ) -> AppResult<VersionPublished> {
        let actor = self.require_item_admin(&auth, &code.0).await?;
        Ok(VersionPublished::Published(Json(
            self.service
                .publish(&actor, &code.0, body.parse()?.revision)
                .await?,
        )))
    }

    /// Cancel (unpublish) an item, with a reason.
    #[oai(
        path = "/admin/items/:code/cancel",
        method = "post",
        tag = "ApiTags::Admin"
    )]
    async fn cancel(
        &self,
        auth: AccessToken,
        code: Path<String>,
        body: JsonBody<CancelRequest>,
    ) -> AppResult<Json<ItemAdminView>> {
        let actor = self.require_item_admin(&auth, &code.0).await?;
        Ok(Json(
            self.service
                .cancel(&actor, &code.0, &body.parse()?.reason)
                .await?,
        ))
    }

    /// The audit history of an item (every write, hash-chained).
    #[oai(
        path = "/admin/items/:code/audit",
        method = "get",
        tag = "ApiTags::Admin"
    )]
    async fn item_audit(
        &self,
        auth: AccessToken,
        code: Path<String>,
    ) -> AppResult<Json<Vec<audit::AuditRecordView>>> {
        self.require_item_admin(&auth, &code.0).await?;
        let client = self.pool.get().await?;
        let item_id = client
            .query_opt("SELECT id FROM item WHERE code = $1", &[&code.0])
            .await?
            .map(|r| r.get::<_, uuid::Uuid>(0))
            .ok_or_else(|| {
                AppError::new(CatalogProblem::ItemNotFound, format!("no item {}", code.0))
            })?;
        let records = audit::history(&client, "item", &item_id.to_string()).await?;
        Ok(Json(
            records
                .into_iter()
                .map(audit::AuditRecordView::from)
                .collect(),
        ))
    }

    /// Upload a blank or sample form (PDF, DOC/DOCX, XLS/XLSX, OFD, PNG, JPEG; the bytes must
    /// match the declared `Content-Type`). Reference the returned sha256 from a material.
    #[oai(path = "/admin/files", method = "post", tag = "ApiTags::Admin")]
    async fn upload_file(
        &self,
        auth: AccessToken,
        body: Upload<FormKinds>,
    ) -> AppResult<FileStored> {
        // Forms are referenced by digest from any item's draft: any department admin may upload.
        let actor = self
            .gate
            .require(&auth, Rule::SomeAdministrator)
            .await?
            .actor();
        let content_type = body.declared_content_type().unwrap_or_default().to_owned();
        let bytes = body.read(self.max_form_bytes, form_too_large).await?;
        Ok(FileStored::Stored(Json(
            self.service
                .upload_file(&actor, &content_type, &bytes)
                .await?,
        )))
    }
}

impl CatalogApi {
    /// The rule for creating an item: an admin of its lead department (or the platform admin).
    async fn department_of_new_item(&self, item: &NewItem) -> AppResult<Rule<'static>> {
        let client = self.pool.get().await?;
        let department =
            crate::department::store::find_by_code(&client, &item.lead_department_code)
                .await?
                .map(|(id, _)| id)
                .ok_or_else(|| {
                    AppError::invalid_field(
                        "lead_department_code",
                        CatalogProblem::UnknownDepartment,
                        "no department with this code",
                    )
                })?;
        Ok(Rule::DepartmentAdmin(department))
    }

    /// Items are administered by their lead department's admins and the platform admin. A
    /// caller who may not see the item gets 403 whether or not it exists.
    async fn require_item_admin(&self, auth: &AccessToken, code: &str) -> AppResult<Actor> {
        let principal = self.gate.authenticate(auth).await?;
        let client = self.pool.get().await?;
        let department: Option<uuid::Uuid> = client
            .query_opt(
                "SELECT lead_department_id FROM item WHERE code = $1",
                &[&code],
            )
            .await?
            .map(|r| r.get(0));
        let allowed = match department {
            Some(d) => allows(&principal, &Rule::DepartmentAdmin(d)),
            None => allows(&principal, &Rule::PlatformAdmin),
        };
        if !allowed {
            return Err(forbidden(&Rule::DepartmentAdmin(
                department.unwrap_or_default(),
            )));
        }
        if department.is_none() {
            return Err(AppError::new(
                CatalogProblem::ItemNotFound,
                format!("no item {code}"),
            ));
        }
        Ok(principal.actor())
    }

    async fn form(&self, code: &str, key: &str, kind: FormKind) -> AppResult<FileDownload> {
        let (form, bytes) = self.service.form(code, key, kind).await?;
        Ok(FileDownload {
            bytes,
            content_type: form.content_type,
            file_name: form.file_name,
        })
    }
}
