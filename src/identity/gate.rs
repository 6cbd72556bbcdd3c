//! Authentication of every non-public request: the bearer access token is verified (signature,
//! expiry), its session must still be live, and for staff the account must be active; their
//! grants (own roles plus those held as an AB backup) are loaded fresh, so a revoked role or a
//! logged-out session stops working at once, not when the token expires. Applicants' verified
//! tokens and live sessions are remembered between requests while revocations are being heard
//! (see [`SessionCache`]).

use std::sync::Arc;

use deadpool_postgres::Pool;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;
use uuid::Uuid;

use super::model::{Grant, Principal, Role, Subject};
use super::policy::{Rule, allows};
use super::session_cache::SessionCache;
use super::tokens::TokenSigner;
use crate::db::prepared::Prepare;
use crate::http::problem::{AppError, AppResult};
use crate::http::{HttpProblem, ProblemKind};
use crate::identity::errors::IdentityProblem;

/// `Authorization: Bearer <access token>` from a login (`/api/v1/auth/...`).
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT")]
pub struct AccessToken(pub Bearer);

#[derive(Clone)]
pub struct Gate {
    signer: Arc<TokenSigner>,
    pool: Pool,
    sessions: Arc<SessionCache>,
}

/// Whether the session is live and, for staff (`$3`), whether the account is active: one read.
const SESSION_LIVE: &str = "
    SELECT s.revoked_at IS NULL, st.active
      FROM auth_session s LEFT JOIN staff st ON st.id = $3
     WHERE s.id = $1 AND s.subject = $2";

/// Own grants, then the handling grants of every principal this staff member covers for now.
const STAFF_GRANTS: &str = "
    SELECT role, department_id, item_code, step, NULL::uuid AS covering_for,
           NULL::timestamptz AS until
      FROM staff_role
     WHERE staff_id = $1 AND revoked_at IS NULL
    UNION ALL
    SELECT r.role, r.department_id, r.item_code, r.step, b.principal_id, b.ends_at
      FROM staff_backup b
      JOIN staff_role r ON r.staff_id = b.principal_id AND r.revoked_at IS NULL
     WHERE b.backup_id = $1 AND b.revoked_at IS NULL
       AND now() >= b.starts_at AND now() < b.ends_at
       AND r.role IN ('window_clerk', 'reviewer', 'approver')";

impl Gate {
    pub fn new(signer: Arc<TokenSigner>, pool: Pool, sessions: Arc<SessionCache>) -> Gate {
        Gate {
            signer,
            pool,
            sessions,
        }
    }

    pub fn session_cache(&self) -> &Arc<SessionCache> {
        &self.sessions
    }

    /// `session` has ended here: this instance stops answering for it before the database's
    /// announcement arrives.
    pub fn session_ended(&self, session: Uuid) {
        self.sessions.forget(session);
    }

    pub fn signer(&self) -> &Arc<TokenSigner> {
        &self.signer
    }

    /// Who is calling, or 401.
    pub async fn authenticate(&self, token: &AccessToken) -> AppResult<Principal> {
        let access = self
            .sessions
            .verify(&self.signer, &token.0.token, crate::clock::system_time())
            .map_err(|e| AppError::new(e.problem(), e.to_string()))?;
        let staff_id = match access.subject {
            Subject::Staff(id) => Some(id),
            Subject::Citizen(_) | Subject::Enterprise(_) => None,
        };
        let principal = |grants| Principal {
            subject: access.subject,
            session_id: access.session_id,
            assurance: access.assurance,
            grants,
        };
        if staff_id.is_none() && self.sessions.is_live(access.session_id, access.subject) {
            return Ok(principal(Vec::new()));
        }
        let ticket = self.sessions.ticket();
        let client = self.pool.get().await?;
        let row = client
            .query_opt_prepared(
                SESSION_LIVE,
                &[&access.session_id, &access.subject.to_string(), &staff_id],
            )
            .await?;
        let live = row.as_ref().map(|r| r.get::<_, bool>(0));
        let staff_active: Option<bool> = row.as_ref().and_then(|r| r.get(1));
        if live != Some(true) {
            return Err(AppError::new(
                IdentityProblem::SessionRevoked,
                "the session has ended (logged out or revoked); log in again",
            ));
        }
        let grants = match staff_id {
            Some(id) => {
                if staff_active != Some(true) {
                    return Err(AppError::new(
                        IdentityProblem::AccountDisabled,
                        "this staff account is disabled",
                    ));
                }
                load_grants(&client, id).await?
            }
            None => {
                self.sessions
                    .remember_live(ticket, access.session_id, access.subject);
                Vec::new()
            }
        };
        Ok(principal(grants))
    }

    /// Who is calling, if `rule` lets them; 401 when not logged in, 403 when not allowed.
    pub async fn require(&self, token: &AccessToken, rule: Rule<'_>) -> AppResult<Principal> {
        let principal = self.authenticate(token).await?;
        if allows(&principal, &rule) {
            Ok(principal)
        } else {
            Err(forbidden(&rule))
        }
    }
}

/// The 403 for a rule the caller does not meet.
pub fn forbidden(rule: &Rule<'_>) -> AppError {
    let (kind, detail): (ProblemKind, String) = match rule {
        Rule::Applicant(level) => (
            IdentityProblem::ApplicantOnly.into(),
            format!(
                "this action is for citizens and enterprises at assurance level {} or above",
                level.level()
            ),
        ),
        Rule::PlatformAdmin => (
            HttpProblem::Forbidden.into(),
            "requires the platform administrator role".to_owned(),
        ),
        Rule::DepartmentAdmin(_) | Rule::SomeAdministrator => (
            HttpProblem::Forbidden.into(),
            "requires the administrator role of this department".to_owned(),
        ),
        Rule::Oversight => (
            HttpProblem::Forbidden.into(),
            "requires a supervisor, observer or platform administrator role".to_owned(),
        ),
        Rule::Staff => (
            HttpProblem::Forbidden.into(),
            "requires a staff account".to_owned(),
        ),
        Rule::Handle { role, .. } => (
            HttpProblem::Forbidden.into(),
            format!(
                "requires the {} role for this department and step",
                role.as_str()
            ),
        ),
        Rule::Authenticated => (HttpProblem::Forbidden.into(), "not allowed".to_owned()),
    };
    AppError::new(kind, detail)
}

async fn load_grants(client: &deadpool_postgres::Client, staff_id: Uuid) -> AppResult<Vec<Grant>> {
    let rows = client.query_prepared(STAFF_GRANTS, &[&staff_id]).await?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            Some(Grant {
                role: Role::parse(row.get::<_, &str>(0))?,
                department_id: row.get(1),
                item_code: row.get(2),
                step: row.get(3),
                covering_for: row.get(4),
                until: row.get(5),
            })
        })
        .collect())
}
