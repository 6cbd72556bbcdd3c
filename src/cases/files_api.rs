//! Material files over HTTP: applicants upload, list and download their own files from the app
//! (`/api/v1/me/files`), and window clerks digitise paper brought to the window
//! (`/api/v1/window/files`). Another account's file is a 404, never a 403, so ids reveal nothing.
//!
//! Uploads are raw bytes (no multipart): the `Content-Type` header declares the type and the
//! optional `X-File-Name` header the name. The body is read as a stream under the material limit
//! (`[cases] max_material_bytes`), not the global body limit, which these two routes are exempt
//! from (see [`OWN_LIMIT_ROUTES`]). Uploading is idempotent by content: the same bytes again
//! return the file already on file (200), so the app may retry freely.

use deadpool_postgres::Pool;
use poem::Request;
use poem::http::Method;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::files::{
    MATERIAL_TYPES, MaterialFile, MaterialFiles, Stored, parse_file_name, too_large,
};
use crate::cases::errors::CaseProblem;
use crate::http::download::FileDownload;
use crate::http::upload::{Upload, UploadKinds};
use crate::http::{ApiTags, AppError, AppResult};
use crate::identity::gate::{AccessToken, Gate};
use crate::identity::model::{Assurance, Role};
use crate::identity::policy::Rule;

pub struct CaseFilesApi {
    pub pool: Pool,
    pub gate: Gate,
    pub files: MaterialFiles,
}

pub const ME_FILES_PATH: &str = "/api/v1/me/files";
pub const WINDOW_FILES_PATH: &str = "/api/v1/window/files";

/// The routes that read their body under the material limit themselves: the global body limit
/// middleware lets them through ([`crate::http::body_limit::BodyLimit::own_limit`]).
pub const OWN_LIMIT_ROUTES: [(Method, &str); 2] = [
    (Method::POST, ME_FILES_PATH),
    (Method::POST, WINDOW_FILES_PATH),
];

/// The header naming the uploaded file.
pub const FILE_NAME_HEADER: &str = "X-File-Name";

/// What the material routes take: the four material types.
pub struct MaterialKinds;

impl UploadKinds for MaterialKinds {
    fn content_types() -> Vec<&'static str> {
        MATERIAL_TYPES.iter().map(|(_, t)| *t).collect()
    }

    fn description() -> &'static str {
        "The file's bytes. Content-Type must be the file's real type (its bytes are checked). \
         Optional header `X-File-Name`: the file's name, percent-encoded UTF-8, at most 200 \
         characters, no / or \\."
    }
}

/// A material upload, read by the handler under the material limit.
pub type MaterialUpload = Upload<MaterialKinds>;

/// One material file on file.
#[derive(Debug, Clone, Object)]
pub struct MaterialFileView {
    /// Pass this id when applying to reuse the file.
    pub id: Uuid,
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: String,
    pub size_bytes: i64,
    /// application/pdf, image/jpeg, image/png or application/ofd.
    pub content_type: String,
    #[oai(skip_serializing_if_is_none)]
    pub file_name: Option<String>,
    pub uploaded_at: chrono::DateTime<chrono::Utc>,
    /// The material keys (of items' material lists) this file was handed in for, so the app can
    /// offer it again for the same material (资料交一份).
    pub used_for: Vec<String>,
}

impl From<MaterialFile> for MaterialFileView {
    fn from(f: MaterialFile) -> Self {
        MaterialFileView {
            id: f.id,
            sha256: f.sha256,
            size_bytes: f.size_bytes,
            content_type: f.content_type,
            file_name: f.file_name,
            uploaded_at: f.uploaded_at,
            used_for: f.used_for,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct MaterialFileList {
    /// Newest first, at most 200.
    pub files: Vec<MaterialFileView>,
}

#[derive(ApiResponse)]
pub enum FileUploaded {
    /// A new file on file.
    #[oai(status = 201)]
    Created(Json<MaterialFileView>),
    /// These bytes were already on file for the caller: the same file (same id) is returned.
    #[oai(status = 200)]
    Existing(Json<MaterialFileView>),
}

impl From<Stored> for FileUploaded {
    fn from(stored: Stored) -> Self {
        match stored {
            Stored::Created(f) => FileUploaded::Created(Json(f.into())),
            Stored::Existing(f) => FileUploaded::Existing(Json(f.into())),
        }
    }
}

fn file_not_found() -> AppError {
    AppError::new(CaseProblem::FileNotFound, "no such file of yours")
}

/// The `X-File-Name` header, decoded; 422 naming the header when it is not acceptable.
fn file_name_of(req: &Request) -> AppResult<Option<String>> {
    req.headers()
        .get(FILE_NAME_HEADER)
        .map(|value| {
            parse_file_name(value.as_bytes()).map_err(|detail| {
                AppError::invalid_field(FILE_NAME_HEADER, CaseProblem::InvalidFileName, detail)
            })
        })
        .transpose()
}

fn extension(content_type: &str) -> &'static str {
    match content_type {
        "application/pdf" => "pdf",
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "application/ofd" => "ofd",
        _ => "bin",
    }
}

#[OpenApi]
impl CaseFilesApi {
    /// Upload a material file (资料交一份)
    ///
    /// Kept on file for any later application. The same bytes again return the file already on
    /// file (200, same id). Limits: the configured maximum size (413 `file_too_large`); types
    /// PDF, JPEG, PNG, OFD, with bytes of that type (415 `file_type_unsupported` /
    /// `file_type_mismatch`); not empty (400 `empty_file`); `X-File-Name` as described (422).
    #[oai(path = "/api/v1/me/files", method = "post", tag = "ApiTags::App")]
    async fn upload(
        &self,
        auth: AccessToken,
        req: &Request,
        body: MaterialUpload,
    ) -> AppResult<FileUploaded> {
        let owner = self
            .gate
            .require(&auth, Rule::Applicant(Assurance::PhoneProven))
            .await?
            .subject
            .to_string();
        self.accept(&owner, req, body).await
    }

    /// My material files on file
    ///
    /// Newest first (at most 200), each with the materials it was handed in for.
    #[oai(path = "/api/v1/me/files", method = "get", tag = "ApiTags::App")]
    async fn list(&self, auth: AccessToken) -> AppResult<Json<MaterialFileList>> {
        let owner = self
            .gate
            .require(&auth, Rule::Applicant(Assurance::PhoneProven))
            .await?
            .subject
            .to_string();
        let files = self.files.list(&owner).await?;
        Ok(Json(MaterialFileList {
            files: files.into_iter().map(Into::into).collect(),
        }))
    }

    /// Download one of my material files
    ///
    /// The bytes with their own content type; another account's file is a 404.
    #[oai(path = "/api/v1/me/files/:id", method = "get", tag = "ApiTags::App")]
    async fn download(
        &self,
        auth: AccessToken,
        id: poem_openapi::param::Path<String>,
    ) -> AppResult<FileDownload> {
        let owner = self
            .gate
            .require(&auth, Rule::Applicant(Assurance::PhoneProven))
            .await?
            .subject
            .to_string();
        let id = Uuid::parse_str(&id.0).map_err(|_| file_not_found())?;
        let (file, bytes) = self
            .files
            .download(&owner, id)
            .await?
            .ok_or_else(file_not_found)?;
        let file_name = file
            .file_name
            .clone()
            .unwrap_or_else(|| format!("{}.{}", file.id, extension(&file.content_type)));
        Ok(FileDownload {
            bytes,
            content_type: file.content_type,
            file_name,
        })
    }

    /// Digitise paper at the window (window clerks)
    ///
    /// The scan is kept on file under the clerk and handed to the applicant's case at intake.
    /// Same checks and idempotency as the app's upload; 403 `not_a_window_clerk` for staff
    /// without the window clerk role.
    #[oai(path = "/api/v1/window/files", method = "post", tag = "ApiTags::Staff")]
    async fn window_upload(
        &self,
        auth: AccessToken,
        req: &Request,
        body: MaterialUpload,
    ) -> AppResult<FileUploaded> {
        let principal = self.gate.require(&auth, Rule::Staff).await?;
        // Held in any department, or as a clerk's AB backup: the case at intake checks the
        // department it is accepted in.
        if !principal.has_role(Role::WindowClerk) {
            return Err(AppError::new(
                CaseProblem::NotAWindowClerk,
                "digitising materials at the window requires the window_clerk role",
            ));
        }
        self.accept(&principal.subject.to_string(), req, body).await
    }
}

impl CaseFilesApi {
    /// The checks that need no bytes come first, so a wrong header costs no upload.
    async fn accept(
        &self,
        owner: &str,
        req: &Request,
        body: MaterialUpload,
    ) -> AppResult<FileUploaded> {
        let kind = super::files::check_declared(body.declared_content_type())?;
        let file_name = file_name_of(req)?;
        let bytes = body.read(self.files.max_bytes(), too_large).await?;
        let stored = self
            .files
            .store(
                owner,
                Some(super::files::content_type_of(kind)),
                file_name,
                &bytes,
            )
            .await?;
        Ok(stored.into())
    }
}
