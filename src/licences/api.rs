//! The licence library's endpoints: the holder's (`/api/v1/me/licences…`), the share links and
//! the verification anyone may call (`/api/v1/public/…`), and revocation by the issuing
//! department (`/api/v1/staff/licences/{id}/revoke`).

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::service::LicenceService;
use super::views::*;
use crate::http::download::FileDownload;
use crate::http::path_uuid;
use crate::http::upload::{Upload, UploadKinds};
use crate::http::{ApiTags, AppError, AppResult, JsonBody};
use crate::identity::gate::{AccessToken, Gate};
use crate::identity::model::Assurance;
use crate::identity::policy::Rule;
use crate::licences::errors::LicenceProblem;

pub const VERIFY_UPLOAD_PATH: &str = "/api/v1/public/documents/verify";

pub struct LicencesApi {
    pub service: LicenceService,
    pub gate: Gate,
    /// The largest PDF the upload verification reads (the material limit).
    pub max_upload_bytes: usize,
}

#[derive(ApiResponse)]
enum ShareCreated {
    /// The link (shown once).
    #[oai(status = 201)]
    Created(Json<ShareView>),
}

fn pdf(file_name: String, bytes: Vec<u8>) -> FileDownload {
    FileDownload {
        bytes,
        content_type: "application/pdf".to_owned(),
        file_name,
    }
}

#[OpenApi]
impl LicencesApi {
    /// 我的证照 — the licences issued to me, newest first.
    #[oai(path = "/api/v1/me/licences", method = "get", tag = "ApiTags::App")]
    async fn my_licences(&self, auth: AccessToken) -> AppResult<Json<LicenceList>> {
        let principal = self
            .gate
            .require(&auth, Rule::Applicant(Assurance::PhoneProven))
            .await?;
        Ok(Json(self.service.my_licences(&principal).await?))
    }

    /// One of my licences.
    #[oai(path = "/api/v1/me/licences/:id", method = "get", tag = "ApiTags::App")]
    async fn my_licence(
        &self,
        auth: AccessToken,
        id: Path<String>,
    ) -> AppResult<Json<LicenceView>> {
        let principal = self
            .gate
            .require(&auth, Rule::Applicant(Assurance::PhoneProven))
            .await?;
        let id = path_uuid("id", &id.0)?;
        Ok(Json(self.service.my_licence(&principal, id).await?))
    }

    /// Download my licence: the sealed PDF.
    #[oai(
        path = "/api/v1/me/licences/:id/pdf",
        method = "get",
        tag = "ApiTags::App"
    )]
    async fn my_licence_pdf(&self, auth: AccessToken, id: Path<String>) -> AppResult<FileDownload> {
        let principal = self
            .gate
            .require(&auth, Rule::Applicant(Assurance::PhoneProven))
            .await?;
        let id = path_uuid("id", &id.0)?;
        let (name, bytes) = self.service.my_licence_pdf(&principal, id).await?;
        Ok(pdf(name, bytes))
    }

    /// Share my licence: a link that shows it (and its PDF) until it expires.
    #[oai(
        path = "/api/v1/me/licences/:id/shares",
        method = "post",
        tag = "ApiTags::App"
    )]
    async fn share(
        &self,
        auth: AccessToken,
        id: Path<String>,
        body: JsonBody<ShareRequest>,
    ) -> AppResult<ShareCreated> {
        let principal = self
            .gate
            .require(&auth, Rule::Applicant(Assurance::PhoneProven))
            .await?;
        let id = path_uuid("id", &id.0)?;
        let body = body.parse()?;
        Ok(ShareCreated::Created(Json(
            self.service.share(&principal, id, &body).await?,
        )))
    }

    /// A shared licence (no login: the link is the key). Unknown and expired links: 404.
    #[oai(
        path = "/api/v1/public/shared-licences/:token",
        method = "get",
        tag = "ApiTags::Public"
    )]
    async fn shared(&self, token: Path<String>) -> AppResult<Json<SharedLicenceView>> {
        Ok(Json(self.service.shared(&token.0).await?))
    }

    /// A shared licence's sealed PDF (410 once the licence is revoked).
    #[oai(
        path = "/api/v1/public/shared-licences/:token/pdf",
        method = "get",
        tag = "ApiTags::Public"
    )]
    async fn shared_pdf(&self, token: Path<String>) -> AppResult<FileDownload> {
        let (name, bytes) = self.service.shared_pdf(&token.0).await?;
        Ok(pdf(name, bytes))
    }

    /// 验真 — what a sealed document's QR code opens: valid, revoked or expired, the issuing
    /// department, the holder (masked) and the SHA-256 of the issued PDF.
    #[oai(
        path = "/api/v1/public/documents/:token",
        method = "get",
        tag = "ApiTags::Public"
    )]
    async fn verify(&self, token: Path<String>) -> AppResult<Json<VerificationView>> {
        Ok(Json(self.service.verify(&token.0).await?))
    }

    /// 上传验真 — whether a PDF (body, `application/pdf`) is exactly an issued document, byte
    /// for byte. The seal's signature is checked offline with the platform's root
    /// (`/api/v1/public/seal-root`); this answers whether the document was issued and its status.
    #[oai(
        path = "/api/v1/public/documents/verify",
        method = "post",
        tag = "ApiTags::Public"
    )]
    async fn verify_upload(
        &self,
        body: Upload<PdfToVerify>,
    ) -> AppResult<Json<UploadVerification>> {
        if body.content_type() != Some("application/pdf") {
            return Err(AppError::in_field(
                LicenceProblem::PdfRequired,
                "content-type",
                "upload the PDF with Content-Type: application/pdf",
            ));
        }
        let bytes = body.read(self.max_upload_bytes, pdf_too_large).await?;
        Ok(Json(self.service.verify_upload(&bytes).await?))
    }

    /// 吊销证照 — an approver of the issuing department revokes a licence, with a reason; the
    /// holder is told.
    #[oai(
        path = "/api/v1/staff/licences/:id/revoke",
        method = "post",
        tag = "ApiTags::Staff"
    )]
    async fn revoke(
        &self,
        auth: AccessToken,
        id: Path<String>,
        body: JsonBody<RevokeLicenceRequest>,
    ) -> AppResult<Json<LicenceView>> {
        let principal = self.gate.require(&auth, Rule::Staff).await?;
        let id = path_uuid("id", &id.0)?;
        let body = body.parse()?;
        Ok(Json(
            self.service.revoke(&principal, id, &body.reason).await?,
        ))
    }
}

/// What the verification route takes: the PDF, as issued.
pub struct PdfToVerify;

impl UploadKinds for PdfToVerify {
    fn content_types() -> Vec<&'static str> {
        vec!["application/pdf"]
    }

    fn description() -> &'static str {
        "The PDF's bytes, exactly as issued (Content-Type: application/pdf)."
    }
}

/// The PDF refused: 413 `file_too_large` (the material files' limit applies).
fn pdf_too_large(limit: usize) -> AppError {
    AppError::new(
        LicenceProblem::FileTooLarge,
        format!("a PDF to verify may be at most {limit} bytes"),
    )
}
