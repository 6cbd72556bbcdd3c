//! The case service: submission (online and at the window), every action through the state
//! machine, and the views. Each change is one transaction: the case row (guarded by its
//! revision), the timeline events, the audit record and the applicant's notifications commit
//! together or not at all.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::Pool;
use serde_json::{Map, Value, json};
use tokio_postgres::GenericClient;
use tokio_postgres::Transaction;
use uuid::Uuid;

use super::acceptance_number::{AcceptanceNumber, RegionCode, Sequence};
use super::clock::{self, CaseClock, Extension, SuspensionPeriod};
use super::issuing::{self, DocumentIssuer, IssueContext, IssuedDocument, LicenceTerms};
use super::model::{
    Action, ActorKind, CaseState, CorrectionItem, ErrorClass, Event, SpecialStep, Stage, StepSpec,
    TransitionError, transition,
};
use super::store::{self, CaseRow, NewEvent, NewMaterial};
use super::tasks::{self, Process, Task};
use super::views::*;
use crate::audit::first_in_statement::FirstRecordPlan;
use crate::audit::{self, AuditEntry};
use crate::calendar::model::Calendar;
use crate::calendar::provisional;
use crate::calendar::service::CalendarService;
use crate::cases::errors::CaseProblem;
use crate::catalog::model::{Guide, StepKind};
use crate::catalog::service::CatalogService;
use crate::catalog::views::ItemDetail;
use crate::clock::{Clock, date_in_china};
use crate::db::prepared::Prepare;
use crate::document_register::records::{self as documents, DocumentRecord, DocumentView};
use crate::documents::model::PromisedDeadline;
use crate::http::{AppError, AppResult, FieldError, HttpProblem, ProblemKind, RequiredRole};
use crate::identity::account_claims as claims;
use crate::identity::errors::IdentityProblem;
use crate::identity::model::{Principal, Role, Subject};
use crate::identity::pii::IdentityKeys;
use crate::identity::policy::{Rule, allows, handling_grant};
use crate::masking::mask_code;
use crate::notify::model::Channel;
use crate::notify::outbox::{self, Attachment, NewNotification, OutboxSettings, Recipient};

mod actions;
mod attribution;
mod cancelled_items;
mod checks;
mod notices;
mod one_window;
mod oversight;
mod problems;
mod process;
mod public_progress;
mod recompute;
mod search;
mod submission;
mod views;

use checks::*;
use notices::*;
use process::*;

pub use attribution::Audience;
pub use checks::missing_key_materials;
pub use problems::transition_problem;
use problems::{case_not_found, clock_problem, invalid, revision_conflict, role_needed};
pub use process::process_of;
pub use public_progress::PublicProgress;

/// The largest application form accepted, serialized.
const MAX_FORM_BYTES: usize = 64 * 1024;
/// Files per material entry.
const MAX_FILES_PER_MATERIAL: usize = 20;
/// How far back staff may date work entered afterwards (事后补录).
const MAX_BACKDATE_DAYS: i64 = 30;
/// The notice a new case sends its applicant (and agent).
const SUBMITTED_TEMPLATE: &str = "case.submitted";

/// Who an action is taken by, as the state machine and the timeline see it.
struct Acting {
    kind: ActorKind,
    actor: String,
    department_id: Option<Uuid>,
    /// AB岗: the colleague whose post the staff member holds while they are away.
    on_behalf_of: Option<Uuid>,
}

/// What an action carries besides the state machine's own content.
pub struct ActRequest {
    pub action: Action,
    pub revision: Option<i32>,
    pub occurred_at: Option<DateTime<Utc>>,
    /// Materials supplied with the action (a correction answer, a deferred material).
    pub materials: Vec<MaterialRef>,
    /// Staff's words kept on the timeline (a step's opinion).
    pub note: Option<String>,
    /// An approval's licence terms (licence items).
    pub licence: Option<LicenceTerms>,
}

impl ActRequest {
    pub fn new(action: Action, revision: Option<i32>, occurred_at: Option<DateTime<Utc>>) -> Self {
        ActRequest {
            action,
            revision,
            occurred_at,
            materials: Vec::new(),
            note: None,
            licence: None,
        }
    }
}

/// One notice to a case's applicant (and agent).
struct CaseNotice<'a> {
    template: &'a str,
    variables: Map<String, Value>,
    /// Legal notices: push first, SMS when the push does not arrive.
    must_reach: bool,
    /// Part of the idempotency key (with the case and its revision).
    event_kind: &'a str,
    /// Emailed to the applicant with the notice (the sealed result documents).
    attachments: &'a [Attachment],
}

/// Who a case's notices go to, and the case revision that makes each notice's idempotency key.
/// A new case's notice is written in the same flight of statements as the case itself, so it
/// is addressed from what the submission knows rather than from the stored row.
struct Addressees<'a> {
    case_id: Uuid,
    revision: i32,
    applicant_subject: Option<&'a str>,
    applicant_phone: Option<&'a str>,
    agent_subject: Option<&'a str>,
}

impl<'a> Addressees<'a> {
    /// A new case's addressees, from the row about to be inserted (revision 1).
    fn of_new(row: &store::NewCaseRow<'a>) -> Self {
        Addressees {
            case_id: row.id,
            revision: 1,
            applicant_subject: row.applicant_subject,
            applicant_phone: row.applicant_phone,
            agent_subject: row.agent_subject,
        }
    }

    fn of(row: &'a CaseRow) -> Self {
        Addressees {
            case_id: row.id,
            revision: row.revision,
            applicant_subject: row.applicant_subject.as_deref(),
            applicant_phone: row.applicant_phone.as_deref(),
            agent_subject: row.agent_subject.as_deref(),
        }
    }
}

/// The applicant a new case is for.
struct ApplicantFacts {
    kind: &'static str,
    subject: Option<String>,
    name: String,
    id_masked: String,
    /// The last six characters of the ID number or credit code (the progress query's factor).
    tail: String,
    /// Blind index of the ID number or credit code when the applicant has no verified account
    /// yet (window intake): the case joins the account they get later.
    unclaimed_index: Option<Vec<u8>>,
    phone: Option<String>,
    assurance: i16,
}

/// Everything submission needs, whichever the channel.
struct Intake<'a> {
    detail: &'a ItemDetail,
    /// The item's row facts, read with the submission's checks; `None` when the item is no
    /// longer in force at `detail`'s version.
    item: Option<ItemInForce>,
    applicant: ApplicantFacts,
    agent: Option<(String, String)>,
    submitted_by: String,
    channel: &'static str,
    idempotency: Option<(&'a str, String)>,
    form: Value,
    materials: Vec<NewMaterialOwned>,
    acting: Acting,
    occurred_at: Option<DateTime<Utc>>,
    /// For the `case.submitted` notice, read with the submission's checks.
    notice_facts: NoticeFacts,
}

/// What a new case copies from its item's row: the item still published at the version the
/// applicant saw, its lead department and region, and the ids of the departments involved.
struct ItemInForce {
    item_id: Uuid,
    lead_department_id: Uuid,
    region_code: String,
    departments: HashMap<String, Uuid>,
}

/// The item still in force at `detail`'s version, and the involved departments' ids, in one
/// statement. It is read before the case's transaction, with the submission's other checks (one
/// round trip for all of them); reading it inside would not hold it either: under READ COMMITTED
/// and without a row lock, a republication may commit between the read and the case's commit
/// wherever the read is.
async fn item_in_force(
    client: &impl Prepare,
    detail: &ItemDetail,
) -> Result<Option<ItemInForce>, tokio_postgres::Error> {
    let involved = involved_departments(detail);
    let row = client
        .query_opt_prepared(
            "SELECT i.id, i.lead_department_id, i.region_code, d.codes, d.ids
             FROM item i,
                  LATERAL (SELECT array_agg(code) AS codes, array_agg(id) AS ids
                           FROM department WHERE code = ANY($3)) AS d
             WHERE i.code = $1 AND i.status = 'published' AND i.current_version = $2",
            &[&detail.code, &detail.version, &involved],
        )
        .await?;
    Ok(row.map(|item| ItemInForce {
        item_id: item.get(0),
        lead_department_id: item.get(1),
        region_code: item.get(2),
        departments: item
            .get::<_, Option<Vec<String>>>(3)
            .unwrap_or_default()
            .into_iter()
            .zip(item.get::<_, Option<Vec<Uuid>>>(4).unwrap_or_default())
            .collect(),
    }))
}

struct NewMaterialOwned {
    key: String,
    file_id: Option<Uuid>,
    paper_note: Option<String>,
    /// The file's facts, for the new case's view.
    file: Option<store::OwnedFile>,
}

#[derive(Clone)]
pub struct CaseService {
    pool: Pool,
    calendar: Arc<CalendarService>,
    catalog: Arc<CatalogService>,
    keys: Arc<IdentityKeys>,
    outbox: OutboxSettings,
    /// Renders and seals the documents the actions issue.
    issuer: DocumentIssuer,
    /// Published item versions are immutable: each is read from the database once.
    versions: moka::future::Cache<(String, i32), Arc<ItemDetail>>,
    /// The application's clock: acceptance dates, "today" for every deadline, signing times.
    clock: Clock,
    /// `[cases] max_suspension_working_days` (see [`crate::cases::suspension`]).
    max_suspension_working_days: u32,
}

impl CaseService {
    pub fn new(
        pool: Pool,
        calendar: Arc<CalendarService>,
        catalog: Arc<CatalogService>,
        keys: Arc<IdentityKeys>,
        outbox: OutboxSettings,
        issuer: DocumentIssuer,
        clock: Clock,
    ) -> Self {
        CaseService {
            clock,
            pool,
            calendar,
            catalog,
            keys,
            outbox,
            issuer,
            versions: moka::future::Cache::builder().max_capacity(2_000).build(),
            max_suspension_working_days:
                crate::cases::suspension::DEFAULT_MAX_SUSPENSION_WORKING_DAYS,
        }
    }

    /// Sets `[cases] max_suspension_working_days`.
    pub fn with_max_suspension(mut self, working_days: u32) -> Self {
        self.max_suspension_working_days = working_days;
        self
    }
}

// ----- helpers --------------------------------------------------------------------------

fn actor_kind_name(kind: ActorKind) -> &'static str {
    match kind {
        ActorKind::Applicant => "applicant",
        ActorKind::WindowClerk => "window_clerk",
        ActorKind::Reviewer => "reviewer",
        ActorKind::Approver => "approver",
        ActorKind::System => "system",
    }
}

/// The event's details for the timeline: its own fields minus the tag.
fn event_details(event: &Event) -> Value {
    match serde_json::to_value(event) {
        Ok(Value::Object(mut map)) => {
            map.remove("kind");
            Value::Object(map)
        }
        _ => json!({}),
    }
}

fn case_clock(row: &CaseRow, accepted_on: NaiveDate) -> CaseClock {
    CaseClock {
        accepted_on,
        limit_working_days: u32::try_from(row.limit_working_days).unwrap_or(0),
        suspensions: row.clock.stops(),
        extensions: row.clock.extensions.clone(),
    }
}

/// The deadline an accepted case promises on its acceptance day, with the basis when it is
/// provisional: what the acceptance notice and its SMS state.
fn promised_deadline(row: &CaseRow, calendar: &Calendar) -> AppResult<PromisedDeadline> {
    let accepted_on = row
        .accepted_on
        .ok_or_else(|| anyhow::anyhow!("a promised deadline asked of a case not accepted"))?;
    let facts = clock::deadline_facts(calendar, &case_clock(row, accepted_on), accepted_on)
        .map_err(clock_problem)?;
    Ok(PromisedDeadline {
        date: facts.deadline,
        provisional_basis: provisional::basis(&facts.provisional_years),
    })
}

/// What the tail's blind index is taken over: the case binds it, so equal tails of two
/// applicants never show as equal indexes.
fn tail_input(case_id: Uuid, tail: &str) -> String {
    format!("case-tail\u{0}{case_id}\u{0}{}", tail.to_ascii_uppercase())
}

/// What planning a new case's notice reads from the database: the agent's phone, and the
/// template, preferences, devices and email of each addressee (an account, or `None` for a
/// bare phone).
struct NoticeFacts {
    agent_phone: Option<String>,
    contexts: Vec<(Option<String>, outbox::NoticeContext)>,
}

impl NoticeFacts {
    fn context_of(&self, owner: Option<&str>) -> Option<&outbox::NoticeContext> {
        self.contexts
            .iter()
            .find(|(o, _)| o.as_deref() == owner)
            .map(|(_, context)| context)
    }
}

/// The grantor of an agent authorisation the caller holds for this item.
async fn agent_grantor(
    client: &impl GenericClient,
    authorisation: Uuid,
    agent: &str,
    item_code: &str,
) -> AppResult<Subject> {
    let row = client
        .query_opt(
            "SELECT grantor FROM agent_authorisation
             WHERE id = $1 AND agent = $2 AND revoked_at IS NULL AND valid_until > clock_now()
               AND (item_code IS NULL OR item_code = $3)",
            &[&authorisation, &agent, &item_code],
        )
        .await?;
    let grantor: String = row.map(|r| r.get(0)).ok_or_else(|| {
        AppError::new(
            CaseProblem::AgentNotAuthorised,
            "no valid authorisation lets you apply for this applicant and item",
        )
    })?;
    grantor
        .parse::<Subject>()
        .map_err(|()| anyhow::anyhow!("bad grantor {grantor}").into())
}

async fn account_name(client: &impl GenericClient, subject: &Subject) -> AppResult<String> {
    let name: Option<String> = match subject {
        Subject::Citizen(id) => client
            .query_opt("SELECT name FROM citizen WHERE id = $1", &[id])
            .await?
            .map(|r| r.get(0)),
        Subject::Enterprise(id) => client
            .query_opt(
                "SELECT coalesce(name, code) FROM enterprise WHERE id = $1",
                &[id],
            )
            .await?
            .map(|r| r.get(0)),
        Subject::Staff(_) => None,
    };
    Ok(name.unwrap_or_default())
}

fn tail_of(number: &str) -> String {
    let chars: Vec<char> = number.trim().chars().collect();
    chars[chars.len().saturating_sub(6)..]
        .iter()
        .collect::<String>()
        .to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_digests_the_same_whatever_its_field_order_and_differs_when_it_differs() {
        let case = |text: &str| -> NewCase { serde_json::from_str(text).unwrap() };
        let one = case(r#"{"item_code": "A", "form": {"甲": 1, "乙": {"x": [1, 2], "y": "z"}}}"#);
        let reordered =
            case(r#"{"form": {"乙": {"y": "z", "x": [1, 2]}, "甲": 1}, "item_code": "A"}"#);
        let changed =
            case(r#"{"item_code": "A", "form": {"甲": 1, "乙": {"x": [2, 1], "y": "z"}}}"#);
        let digest = |c: &NewCase| request_digest(c);
        assert_eq!(digest(&one), digest(&reordered));
        assert_ne!(digest(&one), digest(&changed));
        let canonical =
            crate::audit::canonical::canonical_json(&json!({"b": [true, null], "a": "文"}));
        assert_eq!(canonical, r#"{"a":"文","b":[true,null]}"#);
    }

    #[test]
    fn tails_and_masks_keep_only_what_they_may() {
        assert_eq!(tail_of("11010519491231002x"), "31002X");
        assert_eq!(tail_of("12345"), "12345");
        assert_eq!(mask_code("91440300MA5F3K7Q81"), "9144**********7Q81");
    }

    #[test]
    fn backdated_work_is_bounded() {
        let now = DateTime::parse_from_rfc3339("2026-11-16T10:00:00+08:00")
            .unwrap()
            .with_timezone(&Utc);
        assert!(check_occurred_at(Some(now + chrono::Duration::hours(1)), now).is_err());
        assert!(check_occurred_at(Some(now - chrono::Duration::days(31)), now).is_err());
        assert!(check_occurred_at(Some(now - chrono::Duration::days(2)), now).is_ok());
    }
}
