//! Staff administration behind the endpoints' rules: creating accounts, granting roles (whose
//! rule depends on the department named in the body), designating AB-post backups (the admin of
//! every department the principal handles in) and binding a verified personal certificate.

use poem_openapi::payload::Json;
use uuid::Uuid;

use super::IdentityApi;
use super::requests::{BackupRequest, CertificateBinding, GrantRequest, NewStaffRequest};
use super::views::{CreatedId, Done, IdCreated};
use crate::http::optional_feature::OptionalFeatureResult;
use crate::http::problem::AppError;
use crate::http::{AppResult, HttpProblem};
use crate::identity::gate::AccessToken;
use crate::identity::model::Principal;
use crate::identity::policy::Rule;
use crate::identity::staff::{self, NewBackup, NewGrant, NewStaff};

impl IdentityApi {
    pub(super) async fn department_id(&self, code: &str) -> AppResult<Uuid> {
        let db = self.pool.get().await?;
        crate::department::store::find_by_code(&db, code)
            .await?
            .map(|(id, _)| id)
            .ok_or_else(|| {
                AppError::invalid_field(
                    "department_code",
                    HttpProblem::NotFound,
                    "no department with this code",
                )
            })
    }

    /// The rule for granting or revoking a role in `department` (none: platform-wide).
    pub(super) fn grant_rule(department: Option<Uuid>) -> Rule<'static> {
        department.map_or(Rule::PlatformAdmin, Rule::DepartmentAdmin)
    }

    /// Creates the staff account the platform admin asked for.
    pub(super) async fn create_staff_account(
        &self,
        principal: Principal,
        b: NewStaffRequest,
    ) -> AppResult<IdCreated> {
        let id = staff::create(
            &self.pool,
            &principal.actor(),
            NewStaff {
                username: b.username,
                display_name: b.display_name,
                password: b.password,
            },
        )
        .await?;
        Ok(IdCreated::Created(Json(CreatedId { id })))
    }

    /// Grants the role, once the rule of the department the body names admits the caller.
    pub(super) async fn grant_once_admitted(
        &self,
        auth: &AccessToken,
        staff_id: Uuid,
        b: GrantRequest,
    ) -> AppResult<IdCreated> {
        let department_id = match &b.department_code {
            Some(code) => Some(self.department_id(code).await?),
            None => None,
        };
        let principal = self
            .gate
            .require(auth, Self::grant_rule(department_id))
            .await?;
        let grant_id = staff::grant(
            &self.pool,
            &principal.actor(),
            staff_id,
            NewGrant {
                role: b.role,
                department_id,
                item_code: b.item_code,
                step: b.step,
            },
        )
        .await?;
        Ok(IdCreated::Created(Json(CreatedId { id: grant_id })))
    }

    /// Designates the backup, once the admin of every department the principal handles in (or
    /// the platform admin, when none) admits the caller.
    pub(super) async fn designate_once_admitted(
        &self,
        auth: &AccessToken,
        mut principal: Principal,
        staff_id: Uuid,
        b: BackupRequest,
    ) -> AppResult<IdCreated> {
        let departments = staff::handling_departments(&self.pool, staff_id).await?;
        if departments.is_empty() {
            principal = self.gate.require(auth, Rule::PlatformAdmin).await?;
        }
        for department in departments {
            principal = self
                .gate
                .require(auth, Rule::DepartmentAdmin(department))
                .await?;
        }
        let designation = staff::designate_backup(
            &self.pool,
            &principal.actor(),
            staff_id,
            NewBackup {
                backup_id: b.backup_id,
                starts_at: b.starts_at,
                ends_at: b.ends_at,
                reason: b.reason,
            },
        )
        .await?;
        Ok(IdCreated::Created(Json(CreatedId { id: designation })))
    }

    /// Binds the staff member's personal certificate once its chain verifies.
    pub(super) async fn bind_verified_certificate(
        &self,
        principal: Principal,
        staff_id: Uuid,
        b: CertificateBinding,
    ) -> OptionalFeatureResult<Done> {
        let chain = crate::identity::enterprises::decode_chain(&b.certificate_chain)?;
        let certificate = self
            .enterprises()?
            .verifier
            .verify_personal_chain(&chain, crate::clock::system_time())
            .await
            .map_err(|e| crate::identity::enterprises::certificate_refused(&e))?;
        staff::bind_certificate(&self.pool, &principal.actor(), staff_id, &certificate).await?;
        Ok(Done::NoContent)
    }
}
