//! The caller's own account: as `GET /api/v1/me` shows it (the principal the gate admitted,
//! completed with the citizen's profile or the enterprise's codes), ending all its sessions, and
//! asking the identity authority again about a citizen's real name.

use poem_openapi::payload::Json;

use super::IdentityApi;
use super::views::{
    CitizenView, EnterpriseView, MeView, RealNameResult, SessionsEnded, grant_view,
};
use crate::http::AppResult;
use crate::http::problem::AppError;
use crate::identity::errors::IdentityProblem;
use crate::identity::model::{Principal, Subject};
use crate::identity::sessions;

impl IdentityApi {
    /// The signed-in account's own profile (full ID number for its owner only).
    pub(super) async fn account_view(&self, principal: Principal) -> AppResult<Json<MeView>> {
        let mut view = MeView {
            subject: principal.subject.to_string(),
            assurance_level: principal.assurance.level(),
            citizen: None,
            enterprise: None,
            roles: principal.grants.iter().map(grant_view).collect(),
        };
        match principal.subject {
            Subject::Citizen(id) => {
                let p = self.citizens.profile(id).await?;
                view.assurance_level = p.assurance;
                view.citizen = Some(CitizenView {
                    name: p.name,
                    phone: p.phone,
                    id_number: p.id_number,
                    realname_status: p.realname_status,
                    registered_at: p.created_at,
                });
            }
            Subject::Enterprise(id) => {
                let (code, code_kind, name) =
                    crate::identity::enterprises::profile(&self.pool, id).await?;
                view.enterprise = Some(EnterpriseView {
                    code,
                    code_kind,
                    name,
                    matched_field: None,
                });
            }
            Subject::Staff(_) => {}
        }
        Ok(Json(view))
    }

    /// Ends every session of the signed-in account.
    pub(super) async fn end_all_sessions(
        &self,
        principal: Principal,
    ) -> AppResult<Json<SessionsEnded>> {
        let ended = sessions::end_all(
            &self.pool,
            &principal.subject,
            "logout_all",
            &principal.actor().0,
        )
        .await?;
        for session in &ended {
            self.gate.session_ended(*session);
        }
        Ok(Json(SessionsEnded {
            sessions_ended: ended.len() as u64,
        }))
    }

    /// Asks the identity authority again about a citizen's real name (after it was unavailable).
    pub(super) async fn recheck_own_realname(
        &self,
        principal: Principal,
    ) -> AppResult<Json<RealNameResult>> {
        let Subject::Citizen(id) = principal.subject else {
            return Err(AppError::new(
                IdentityProblem::CitizensOnly,
                "real-name checks are for citizen accounts",
            ));
        };
        let status = self.citizens.recheck_realname(id).await?;
        Ok(Json(RealNameResult {
            realname_status: status.to_owned(),
        }))
    }
}
