//! The public progress query [000 art.29]: anyone holding an acceptance number and a second
//! factor — the last six characters of the applicant's ID number (or credit code), or an SMS
//! code sent to the phone the case was applied with (`/auth/otp`, purpose `progress`) — sees
//! where the case stands, with names masked. A wrong number and a wrong factor get the same
//! answer, and failures per client address are limited, so numbers cannot be enumerated.

use chrono::{DateTime, NaiveDate, Utc};
use poem::Request;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use serde::Deserialize;

use super::acceptance_number::AcceptanceNumber;
use super::service::CaseService;
use super::store;
use super::tasks;
use super::views::DeadlineView;
use crate::cases::errors::CaseProblem;
use crate::http::{ApiTags, AppError, AppResult, JsonBody};
use crate::identity::citizens::Citizens;
use crate::identity::otp::OtpPurpose;
use crate::identity::sessions::ClientInfo;
use crate::masking::mask_name;

/// Failed queries allowed per client address per hour.
pub const FAILURES_PER_HOUR: i64 = 20;

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgressQuery {
    /// 受理编号 (21 characters).
    pub acceptance_number: String,
    /// The last six characters of the applicant's ID number or credit code.
    #[oai(nullable, default)]
    #[serde(default)]
    pub id_tail: Option<String>,
    /// Or: the SMS code sent to the case's phone by `/auth/otp` with purpose `progress`.
    #[oai(nullable, default)]
    #[serde(default)]
    pub code: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct ProgressStep {
    pub department: String,
    pub name: String,
    /// waiting, running or completed.
    pub status: String,
}

/// What the public may know of a case.
#[derive(Debug, Clone, Object)]
pub struct ProgressView {
    pub acceptance_number: String,
    pub item_name: String,
    /// The applicant's name, masked (张*).
    pub applicant: String,
    pub stage: String,
    pub stage_label: String,
    #[oai(skip_serializing_if_is_none)]
    pub accepted_on: Option<NaiveDate>,
    #[oai(skip_serializing_if_is_none)]
    pub deadline: Option<DeadlineView>,
    pub steps: Vec<ProgressStep>,
    pub updated_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub closed_at: Option<DateTime<Utc>>,
}

pub struct ProgressApi {
    pub service: CaseService,
    pub citizens: Citizens,
}

fn not_found() -> AppError {
    AppError::new(
        CaseProblem::ProgressNotFound,
        "no case matches this acceptance number and second factor",
    )
}

#[OpenApi]
impl ProgressApi {
    /// 办件进度查询 — by acceptance number and a second factor. Wrong number or wrong factor:
    /// the same 404. Too many failures from one address: 429.
    #[oai(
        path = "/api/v1/public/progress",
        method = "post",
        tag = "ApiTags::Public"
    )]
    async fn progress(
        &self,
        req: &Request,
        body: JsonBody<ProgressQuery>,
    ) -> AppResult<Json<ProgressView>> {
        let client = ClientInfo::from_request(req);
        let ip = client.ip.clone().unwrap_or_default();
        let pool = self.service.pool();
        {
            let db = pool.get().await?;
            let failures: i64 = db
                .query_one(
                    "SELECT count(*) FROM progress_query_failure
                     WHERE client_ip = $1 AND failed_at > clock_now() - interval '1 hour'",
                    &[&ip],
                )
                .await?
                .get(0);
            if failures >= FAILURES_PER_HOUR {
                return Err(AppError::TooManyRequests {
                    retry_after_seconds: 3600,
                });
            }
        }
        let query = body.parse()?;
        let number = AcceptanceNumber::parse(&query.acceptance_number).map_err(|e| {
            AppError::invalid(e.problem(), vec![e.field_error("acceptance_number")])
        })?;
        if query.id_tail.is_none() == query.code.is_none() {
            return Err(AppError::invalid_field(
                "id_tail",
                CaseProblem::SecondFactorRequired,
                "give exactly one of id_tail (last six characters of the ID number) or code",
            ));
        }
        let db = pool.get().await?;
        let row = store::load_by_acceptance_number(&**db, number.as_str()).await?;
        let verified = match (&row, &query.id_tail, &query.code) {
            (Some(row), Some(tail), None) => self.service.tail_matches(row, tail),
            (Some(row), None, Some(code)) => match &row.applicant_phone {
                Some(phone) => self
                    .citizens
                    .use_code(phone, OtpPurpose::Progress, code.trim())
                    .await
                    .is_ok(),
                None => false,
            },
            _ => false,
        };
        let Some(row) = row.filter(|_| verified) else {
            db.execute(
                "INSERT INTO progress_query_failure (client_ip) VALUES ($1)",
                &[&ip],
            )
            .await?;
            return Err(not_found());
        };
        drop(db);
        let summary = self
            .service
            .detail_of(&row, crate::cases::service::Audience::Applicant)
            .await?;
        Ok(Json(ProgressView {
            acceptance_number: number.as_str().to_owned(),
            item_name: row.item_name.clone(),
            applicant: mask_name(&row.applicant_name),
            stage: summary.stage,
            stage_label: tasks::stage_label(&row.state.stage).to_owned(),
            accepted_on: row.accepted_on,
            deadline: summary.deadline,
            steps: summary
                .steps
                .into_iter()
                .map(|s| ProgressStep {
                    department: s.department_code,
                    name: s.name,
                    status: s.status,
                })
                .collect(),
            updated_at: row.updated_at,
            closed_at: row.closed_at,
        }))
    }
}
