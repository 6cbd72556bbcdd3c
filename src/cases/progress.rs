//! The public progress query [000 art.29]: anyone holding the case's number — the acceptance
//! number (受理编号) once it is accepted, or from submission on the submission reference
//! (申请编号) the app shows and the window clerk hands over — and a second factor — the last six
//! characters of the applicant's ID number (or credit code), or an SMS code sent to the phone the
//! case was applied with (`/auth/otp`, purpose `progress`) — sees where the case stands, what the
//! applicant must do and the case's public history, with names masked and no staff named. A
//! wrong number and a wrong factor get the same answer, and failures per client address are
//! limited, so numbers cannot be enumerated.

use chrono::{DateTime, NaiveDate, Utc};
use poem::Request;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use serde::Deserialize;

use super::acceptance_number::AcceptanceNumber;
use super::progress_guidance::{correction_items, guidance};
use super::progress_history::ProgressEvent;
use super::service::CaseService;
use super::store::{self, CaseRow};
use super::submission_reference::SubmissionReference;
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

/// Exactly one of `acceptance_number` and `submission_reference`, and exactly one of `id_tail`
/// and `code`.
#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgressQuery {
    /// 受理编号 (21 characters), once the case is accepted.
    #[oai(nullable, default)]
    #[serde(default)]
    pub acceptance_number: Option<String>,
    /// Or: 申请编号, the submission reference (32 hexadecimal digits) the case has from
    /// submission on — shown in the app, handed over at the window, printed on the notices
    /// issued before acceptance.
    #[oai(nullable, default)]
    #[serde(default)]
    pub submission_reference: Option<String>,
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
    /// The department's code.
    pub department: String,
    #[oai(skip_serializing_if_is_none)]
    pub department_name: Option<String>,
    pub name: String,
    /// waiting, running or completed; for a closed case, as the step stood when it closed.
    pub status: String,
}

/// What the public may know of a case.
#[derive(Debug, Clone, Object)]
pub struct ProgressView {
    /// 受理编号, once accepted.
    #[oai(skip_serializing_if_is_none)]
    pub acceptance_number: Option<String>,
    /// 申请编号: the case's reference from submission on.
    pub submission_reference: String,
    pub item_name: String,
    /// The applicant's name, masked (张*).
    pub applicant: String,
    /// The state machine's stage (submitted, pre_review, awaiting_correction, rejected,
    /// withdrawn before acceptance; in_review, decided_approved… after).
    pub stage: String,
    pub stage_label: String,
    /// What the applicant must do now: answer_correction, supply_deferred (as in the app).
    #[oai(skip_serializing_if_is_none)]
    pub applicant_todo: Option<String>,
    /// The applicant's next step, in words (where to answer a correction…).
    pub guidance: String,
    /// The materials a waiting correction notice asks for, as printed.
    #[oai(skip_serializing_if_is_empty)]
    pub correction_items: Vec<String>,
    pub submitted_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub accepted_on: Option<NaiveDate>,
    #[oai(skip_serializing_if_is_none)]
    pub deadline: Option<DeadlineView>,
    /// The department steps; for a decided, terminated or withdrawn case, as they ended.
    pub steps: Vec<ProgressStep>,
    /// The case's public history, oldest first: no staff member is named.
    pub history: Vec<ProgressEvent>,
    pub updated_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub closed_at: Option<DateTime<Utc>>,
}

pub struct ProgressApi {
    pub service: CaseService,
    pub citizens: Citizens,
}

/// The number a query names its case by.
enum CaseNumber {
    Acceptance(AcceptanceNumber),
    Submission(SubmissionReference),
}

impl CaseNumber {
    /// Exactly one of the two numbers, well formed.
    fn of(query: &ProgressQuery) -> AppResult<CaseNumber> {
        match (&query.acceptance_number, &query.submission_reference) {
            (None, None) => Err(AppError::invalid_field(
                "acceptance_number",
                CaseProblem::ProgressNumberRequired,
                "give the acceptance number or the submission reference",
            )),
            (Some(_), Some(_)) => Err(AppError::invalid_field(
                "submission_reference",
                CaseProblem::ProgressNumbersBoth,
                "give either the acceptance number or the submission reference, not both",
            )),
            (Some(number), None) => AcceptanceNumber::parse(number)
                .map(CaseNumber::Acceptance)
                .map_err(|e| {
                    AppError::invalid(e.problem(), vec![e.field_error("acceptance_number")])
                }),
            (None, Some(reference)) => SubmissionReference::parse(reference)
                .map(CaseNumber::Submission)
                .map_err(|_| {
                    AppError::invalid_field(
                        "submission_reference",
                        CaseProblem::SubmissionReferenceInvalid,
                        "the submission reference is 32 hexadecimal digits",
                    )
                }),
        }
    }

    async fn load(
        &self,
        client: &impl tokio_postgres::GenericClient,
    ) -> anyhow::Result<Option<CaseRow>> {
        match self {
            CaseNumber::Acceptance(number) => {
                store::load_by_acceptance_number(client, number.as_str()).await
            }
            CaseNumber::Submission(reference) => store::load(client, reference.case_id()).await,
        }
    }
}

fn not_found() -> AppError {
    AppError::new(
        CaseProblem::ProgressNotFound,
        "no case matches this number and second factor",
    )
}

#[OpenApi]
impl ProgressApi {
    /// 办件进度查询 — by acceptance number or submission reference, and a second factor. Wrong
    /// number or wrong factor: the same 404. Too many failures from one address: 429.
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
        let number = CaseNumber::of(&query)?;
        if query.id_tail.is_none() == query.code.is_none() {
            return Err(AppError::invalid_field(
                "id_tail",
                CaseProblem::SecondFactorRequired,
                "give exactly one of id_tail (last six characters of the ID number) or code",
            ));
        }
        let db = pool.get().await?;
        let row = number.load(&**db).await?;
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
        let facts = self.service.public_progress(&row).await?;
        let department_name = |code: &str| facts.department_names.get(code).cloned();
        Ok(Json(ProgressView {
            acceptance_number: row.acceptance_number.clone(),
            submission_reference: SubmissionReference::of(row.id).to_string(),
            item_name: row.item_name.clone(),
            applicant: mask_name(&row.applicant_name),
            stage: row.state.stage.name().to_owned(),
            stage_label: tasks::stage_label(&row.state.stage).to_owned(),
            applicant_todo: tasks::applicant_todo(&row.state).map(str::to_owned),
            guidance: guidance(&row.state).to_owned(),
            correction_items: correction_items(&row.state.stage),
            submitted_at: row.submitted_at,
            accepted_on: row.accepted_on,
            deadline: facts.deadline.clone(),
            steps: facts
                .steps
                .iter()
                .map(|s| ProgressStep {
                    department_name: department_name(&s.department),
                    department: s.department.clone(),
                    name: s.name.clone(),
                    status: s.status.to_owned(),
                })
                .collect(),
            history: facts.history,
            updated_at: row.updated_at,
            closed_at: row.closed_at,
        }))
    }
}
