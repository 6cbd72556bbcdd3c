//! Seal administration (a department's administrators, or the platform administrator) and the
//! public trust anchor validators need.

use poem_openapi::param::Path;
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde::Deserialize;
use uuid::Uuid;

use super::registry::{SealPurpose, SealRegistry, SealStatus, SealView};
use crate::department::errors::DepartmentProblem;
use crate::http::path_uuid;
use crate::http::{ApiTags, AppError, AppResult, JsonBody};
use crate::identity::gate::{AccessToken, Gate, forbidden};
use crate::identity::model::Principal;
use crate::identity::policy::{Rule, allows};
use crate::seals::errors::SealProblem;

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSeal {
    pub purpose: SealPurpose,
    /// The text under the star; the standard one for the purpose when absent.
    #[oai(nullable, default)]
    #[serde(default)]
    pub label: Option<String>,
}

/// A seal made by a real CA.
#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportSeal {
    pub purpose: SealPurpose,
    /// The text under the star; the standard one for the purpose when absent.
    #[oai(nullable, default)]
    #[serde(default)]
    pub label: Option<String>,
    /// The seal's private key: unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), ECDSA
    /// P-256. Sealed at rest on arrival; never returned.
    pub key_pem: String,
    /// PEM certificates: the seal's own, then its issuers up to the self-signed root.
    pub certificate_chain: Vec<String>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealStatusChange {
    pub status: SealStatus,
    pub reason: String,
}

#[derive(Debug, Clone, Object)]
pub struct SealList {
    pub seals: Vec<SealView>,
}

#[derive(ApiResponse)]
pub enum SealCreated {
    #[oai(status = 201)]
    Created(Json<SealView>),
}

pub struct SealsApi {
    pub pool: deadpool_postgres::Pool,
    pub gate: Gate,
    pub registry: SealRegistry,
}

impl SealsApi {
    async fn department(&self, code: &str) -> AppResult<Uuid> {
        let client = self.pool.get().await?;
        client
            .query_opt("SELECT id FROM department WHERE code = $1", &[&code])
            .await?
            .map(|r| r.get(0))
            .ok_or_else(|| {
                AppError::new(DepartmentProblem::DepartmentNotFound, "no such department")
            })
    }

    /// The caller, when they administer the department named in the path (the platform admin
    /// too), and the department. An unknown department is the platform admin's to hear about:
    /// others get 403 before learning whether it exists.
    async fn department_admin(
        &self,
        auth: &AccessToken,
        code: &str,
    ) -> AppResult<(Principal, Uuid)> {
        let principal = self.gate.authenticate(auth).await?;
        let department = self.department(code).await;
        let rule = match &department {
            Ok(id) => Rule::DepartmentAdmin(*id),
            Err(_) => Rule::PlatformAdmin,
        };
        if !allows(&principal, &rule) {
            return Err(forbidden(&rule));
        }
        Ok((principal, department?))
    }
}

#[OpenApi]
impl SealsApi {
    /// 刻制电子印章 — a new seal for the department: a key pair certified by the platform's seal
    /// CA; the key is sealed at rest. One seal in force per purpose.
    #[oai(
        path = "/api/v1/admin/departments/:code/seals",
        method = "post",
        tag = "ApiTags::Admin"
    )]
    async fn create(
        &self,
        auth: AccessToken,
        code: Path<String>,
        body: JsonBody<NewSeal>,
    ) -> AppResult<SealCreated> {
        let (principal, department) = self.department_admin(&auth, &code.0).await?;
        let body = body.parse()?;
        Ok(SealCreated::Created(Json(
            self.registry
                .create(
                    &principal.actor().0,
                    department,
                    body.purpose,
                    body.label.as_deref(),
                )
                .await?,
        )))
    }

    /// 导入电子印章 — a seal made by a real CA (its PKCS#8 key and certificate chain), checked:
    /// the certificate certifies the key, may sign, is valid now, and chains to a self-signed
    /// root (served with the platform's at `/api/v1/public/seal-root` from then on).
    #[oai(
        path = "/api/v1/admin/departments/:code/seals/import",
        method = "post",
        tag = "ApiTags::Admin"
    )]
    async fn import(
        &self,
        auth: AccessToken,
        code: Path<String>,
        body: JsonBody<ImportSeal>,
    ) -> AppResult<SealCreated> {
        let (principal, department) = self.department_admin(&auth, &code.0).await?;
        let body = body.parse()?;
        let imported = super::import::check_import(
            &body.key_pem,
            &body.certificate_chain,
            self.registry.clock().now(),
        )
        .map_err(|e| AppError::invalid(SealProblem::InvalidSealImport, vec![e]))?;
        Ok(SealCreated::Created(Json(
            self.registry
                .import(
                    &principal.actor().0,
                    department,
                    body.purpose,
                    body.label.as_deref(),
                    &imported,
                )
                .await?,
        )))
    }

    /// The department's seals, with their certificates and status.
    #[oai(
        path = "/api/v1/admin/departments/:code/seals",
        method = "get",
        tag = "ApiTags::Admin"
    )]
    async fn list(&self, auth: AccessToken, code: Path<String>) -> AppResult<Json<SealList>> {
        let (_, department) = self.department_admin(&auth, &code.0).await?;
        Ok(Json(SealList {
            seals: self.registry.list(department).await?,
        }))
    }

    /// Suspend, reactivate or revoke a seal, with a reason (revocation is final).
    #[oai(
        path = "/api/v1/admin/seals/:id/status",
        method = "post",
        tag = "ApiTags::Admin"
    )]
    async fn set_status(
        &self,
        auth: AccessToken,
        id: Path<String>,
        body: JsonBody<SealStatusChange>,
    ) -> AppResult<Json<SealView>> {
        let principal = self.gate.authenticate(&auth).await?;
        let id = path_uuid("id", &id.0)?;
        let rule = match self.registry.department_of(id).await? {
            Some(department) => Rule::DepartmentAdmin(department),
            None => Rule::PlatformAdmin,
        };
        if !allows(&principal, &rule) {
            return Err(forbidden(&rule));
        }
        let body = body.parse()?;
        Ok(Json(
            self.registry
                .set_status(&principal.actor().0, id, body.status, &body.reason)
                .await?,
        ))
    }

    /// The seal CA's root certificate (PEM): the trust anchor to validate sealed documents
    /// offline (`pdfsig`, pyHanko `--trust`).
    #[oai(
        path = "/api/v1/public/seal-root",
        method = "get",
        tag = "ApiTags::Public"
    )]
    async fn root(&self) -> AppResult<PlainText<String>> {
        Ok(PlainText(self.registry.root_pem().await?))
    }
}
