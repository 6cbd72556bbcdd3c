//! 代办: an applicant (a citizen, or an enterprise for its 经办人) authorises a citizen account,
//! found by its phone number, to apply and act for them — for one item or for any — until a
//! date. The case then shows both; notices go to both. Grants and revocations are audited.

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::Pool;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::audit::{self, AuditEntry};
use crate::cases::errors::CaseProblem;
use crate::http::path_uuid;
use crate::http::{ApiTags, AppError, AppResult, JsonBody};
use crate::identity::citizens::parse_phone;
use crate::identity::gate::{AccessToken, Gate};
use crate::identity::model::Assurance;
use crate::identity::policy::Rule;

/// The longest an authorisation may run.
const MAX_DAYS: i64 = 366;

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAuthorisation {
    /// The agent's mobile number (their 指尖办 citizen account).
    pub agent_phone: String,
    /// One item's code; absent: any item.
    #[oai(nullable, default)]
    #[serde(default)]
    pub item_code: Option<String>,
    /// The last day the authorisation holds (at most a year ahead).
    pub valid_until: NaiveDate,
}

#[derive(Debug, Clone, Object)]
pub struct AuthorisationView {
    /// Pass as `on_behalf_of` when applying as the agent.
    pub id: Uuid,
    pub grantor: String,
    pub grantor_name: String,
    pub agent: String,
    pub agent_name: String,
    #[oai(skip_serializing_if_is_none)]
    pub item_code: Option<String>,
    pub valid_until: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object)]
pub struct Authorisations {
    /// Given by the caller.
    pub granted: Vec<AuthorisationView>,
    /// Held by the caller, as agent.
    pub received: Vec<AuthorisationView>,
}

#[derive(ApiResponse)]
pub enum Revoked {
    /// Revoked (or already revoked): the agent can no longer apply or act.
    #[oai(status = 204)]
    Revoked,
}

pub struct AgentsApi {
    pub pool: Pool,
    pub gate: Gate,
    pub clock: crate::clock::Clock,
}

const VIEW: &str = "SELECT a.id, a.grantor, coalesce(c.name, e.name, e.code, ''), a.agent,
        coalesce(ag.name, ''), a.item_code, a.valid_until, a.revoked_at, a.created_at
    FROM agent_authorisation a
    LEFT JOIN citizen c ON a.grantor = 'citizen:' || c.id
    LEFT JOIN enterprise e ON a.grantor = 'enterprise:' || e.id
    LEFT JOIN citizen ag ON a.agent = 'citizen:' || ag.id";

fn view(row: &tokio_postgres::Row) -> AuthorisationView {
    AuthorisationView {
        id: row.get(0),
        grantor: row.get(1),
        grantor_name: row.get(2),
        agent: row.get(3),
        agent_name: row.get(4),
        item_code: row.get(5),
        valid_until: row.get(6),
        revoked_at: row.get(7),
        created_at: row.get(8),
    }
}

#[OpenApi(prefix_path = "/api/v1/me/agent-authorisations", tag = "ApiTags::App")]
impl AgentsApi {
    /// 授权代办 — let a citizen account apply and act for me.
    #[oai(path = "/", method = "post")]
    async fn grant(
        &self,
        auth: AccessToken,
        body: JsonBody<NewAuthorisation>,
    ) -> AppResult<Json<AuthorisationView>> {
        let principal = self
            .gate
            .require(&auth, Rule::Applicant(Assurance::PhoneProven))
            .await?;
        let body = body.parse()?;
        let phone = parse_phone("agent_phone", &body.agent_phone)?;
        let today = self.clock.today();
        if body.valid_until < today || body.valid_until > today + chrono::Duration::days(MAX_DAYS) {
            return Err(AppError::invalid_field(
                "valid_until",
                CaseProblem::InvalidValidity,
                "from today to at most a year ahead",
            ));
        }
        if let Some(code) = &body.item_code {
            crate::catalog::model::check_item_code(code).map_err(|e| {
                AppError::invalid(
                    CaseProblem::InvalidItemCode,
                    vec![crate::http::FieldError::new(
                        "item_code",
                        "invalid_item_code",
                        e.detail,
                    )],
                )
            })?;
        }
        let grantor = principal.subject.to_string();
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let agent: Uuid = tx
            .query_opt("SELECT id FROM citizen WHERE phone = $1", &[&phone])
            .await?
            .map(|r| r.get(0))
            .ok_or_else(|| {
                AppError::invalid_field(
                    "agent_phone",
                    CaseProblem::AgentNotFound,
                    "no 指尖办 account has this phone number",
                )
            })?;
        let agent = format!("citizen:{agent}");
        if agent == grantor {
            return Err(AppError::invalid_field(
                "agent_phone",
                CaseProblem::AgentIsSelf,
                "you cannot authorise yourself",
            ));
        }
        let id = Uuid::new_v4();
        // The authorisation holds through the whole last day, in China.
        let until = body
            .valid_until
            .and_hms_opt(23, 59, 59)
            .and_then(|t| {
                t.and_local_timezone(crate::notify::model::shanghai())
                    .single()
            })
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| anyhow::anyhow!("end of day {} has no instant", body.valid_until))?;
        tx.execute(
            "INSERT INTO agent_authorisation (id, grantor, agent, item_code, valid_until)
             VALUES ($1, $2, $3, $4, $5)",
            &[&id, &grantor, &agent, &body.item_code, &until],
        )
        .await?;
        audit::append(
            &tx,
            AuditEntry {
                aggregate_type: "agent_authorisation",
                aggregate_id: &id.to_string(),
                actor: &grantor,
                action: "agent.grant",
                before: None,
                after: None,
                details: json!({"agent": agent, "item_code": body.item_code, "valid_until": until}),
            },
        )
        .await?;
        let row = tx
            .query_one(&format!("{VIEW} WHERE a.id = $1"), &[&id])
            .await?;
        tx.commit().await?;
        Ok(Json(view(&row)))
    }

    /// The authorisations I gave and those I hold.
    #[oai(path = "/", method = "get")]
    async fn list(&self, auth: AccessToken) -> AppResult<Json<Authorisations>> {
        let principal = self
            .gate
            .require(&auth, Rule::Applicant(Assurance::PhoneProven))
            .await?;
        let me = principal.subject.to_string();
        let client = self.pool.get().await?;
        let granted = client
            .query(
                &format!("{VIEW} WHERE a.grantor = $1 ORDER BY a.created_at DESC LIMIT 200"),
                &[&me],
            )
            .await?;
        let received = client
            .query(
                &format!("{VIEW} WHERE a.agent = $1 ORDER BY a.created_at DESC LIMIT 200"),
                &[&me],
            )
            .await?;
        Ok(Json(Authorisations {
            granted: granted.iter().map(view).collect(),
            received: received.iter().map(view).collect(),
        }))
    }

    /// 撤销授权 — only the grantor revokes; another account's authorisation is a 404.
    #[oai(path = "/:id", method = "delete")]
    async fn revoke(&self, auth: AccessToken, id: Path<String>) -> AppResult<Revoked> {
        let principal = self
            .gate
            .require(&auth, Rule::Applicant(Assurance::PhoneProven))
            .await?;
        let id = path_uuid("id", &id.0)?;
        let me = principal.subject.to_string();
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let row = tx
            .query_opt(
                "UPDATE agent_authorisation SET revoked_at = coalesce(revoked_at, clock_now())
                 WHERE id = $1 AND grantor = $2 RETURNING revoked_at",
                &[&id, &me],
            )
            .await?;
        if row.is_none() {
            return Err(AppError::new(
                CaseProblem::AuthorisationNotFound,
                "no such authorisation of yours",
            ));
        }
        audit::append(
            &tx,
            AuditEntry {
                aggregate_type: "agent_authorisation",
                aggregate_id: &id.to_string(),
                actor: &me,
                action: "agent.revoke",
                before: None,
                after: None,
                details: json!({}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Revoked::Revoked)
    }
}
