//! The wire shapes of the case API: requests and views.

use chrono::{DateTime, NaiveDate, Utc};
use poem_openapi::{Enum, Object};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::model::SpecialStep as ModelSpecialStep;

/// Files given for one entry of the item's material list.
#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaterialRef {
    /// The item's material list entry (`materials[].key` of the guide).
    pub material_key: String,
    /// Files on file (`/me/files`, or `/window/files` at the window), 1–20.
    pub file_ids: Vec<Uuid>,
}

/// A paper material that cannot be digitised, noted by the window clerk [000 art.18].
#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaperMaterial {
    pub material_key: String,
    /// Why it stays on paper and where it is kept, e.g. 原件核验后退还.
    pub note: String,
}

/// An application from the app.
#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCase {
    /// The item's code; the application runs under its version in force now.
    pub item_code: String,
    /// The application form's fields (a JSON object, at most 64 KiB).
    #[oai(nullable, default)]
    #[serde(default)]
    pub form: Option<Value>,
    /// The materials, each linked to the material list entry it satisfies.
    #[oai(default)]
    #[serde(default)]
    pub materials: Vec<MaterialRef>,
    /// 代办: the authorisation (from `/me/agent-authorisations`) under which the caller applies
    /// for someone else.
    #[oai(nullable, default)]
    #[serde(default)]
    pub on_behalf_of: Option<Uuid>,
    /// A contact mobile number: required for enterprises; citizens default to their account's.
    #[oai(nullable, default)]
    #[serde(default)]
    pub contact_phone: Option<String>,
}

/// Who applies at the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ApplicantKind {
    Citizen,
    Enterprise,
}

impl ApplicantKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicantKind::Citizen => "citizen",
            ApplicantKind::Enterprise => "enterprise",
        }
    }
}

/// An applicant present at the window, identified from their documents.
#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowApplicant {
    pub kind: ApplicantKind,
    /// The person's or enterprise's name.
    pub name: String,
    /// 居民身份证号码 (citizens) or 统一社会信用代码 (enterprises).
    pub id_number: String,
    /// A mobile number for notices.
    #[oai(nullable, default)]
    #[serde(default)]
    pub phone: Option<String>,
}

/// A case registered by a window clerk for an applicant present in person [000 art.17].
#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowCase {
    pub item_code: String,
    pub applicant: WindowApplicant,
    #[oai(nullable, default)]
    #[serde(default)]
    pub form: Option<Value>,
    /// Paper digitised at the window (files from `/window/files`).
    #[oai(default)]
    #[serde(default)]
    pub materials: Vec<MaterialRef>,
    /// Paper that cannot be digitised.
    #[oai(default)]
    #[serde(default)]
    pub paper_materials: Vec<PaperMaterial>,
    /// When the applicant was at the window, if this is entered afterwards (事后补录).
    #[oai(nullable, default)]
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// A material listed as pending at acceptance (容缺受理).
#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeferredRequest {
    /// A non-key entry of the item's material list.
    pub material_key: String,
    /// The date by which it is to be supplied.
    pub due: NaiveDate,
}

/// Fields every staff action may carry.
#[derive(Debug, Clone, Object, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CorrectionNotice {
    /// Every missing or wrong material, in ONE notice (一次性告知): materials of the item's
    /// list, each with the clerk's note.
    pub missing: Vec<CorrectionEntry>,
    /// The case revision the clerk saw; a stale one is refused with 409.
    #[oai(nullable, default)]
    #[serde(default)]
    pub revision: Option<i32>,
    /// When it happened, if entered afterwards (事后补录); never in the future.
    #[oai(nullable, default)]
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// One material of a correction notice.
#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrectionEntry {
    /// The material's key in the item's material list.
    pub material_key: String,
    /// What is missing or wrong with it (printed after the material's name).
    #[oai(default)]
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, Object, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AcceptRequest {
    /// 容缺受理: non-key materials still to be supplied, with dates.
    #[oai(default)]
    #[serde(default)]
    pub deferred: Vec<DeferredRequest>,
    /// 告知承诺制: accepted on the applicant's signed commitment.
    #[oai(default)]
    #[serde(default)]
    pub commitment: bool,
    #[oai(nullable, default)]
    #[serde(default)]
    pub revision: Option<i32>,
    #[oai(nullable, default)]
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// An action whose content is one reason (reject, terminate).
#[derive(Debug, Clone, Object, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    pub reason: String,
    #[oai(nullable, default)]
    #[serde(default)]
    pub revision: Option<i32>,
    #[oai(nullable, default)]
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// The legal basis on which a case of a cancelled item goes on.
#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegalBasisRequest {
    /// e.g. 《关于取消……的决定》第三条：已受理的申请按原规定办结.
    pub legal_basis: String,
    #[oai(nullable, default)]
    #[serde(default)]
    pub revision: Option<i32>,
}

/// Completing a department step.
#[derive(Debug, Clone, Object, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CompleteStepRequest {
    /// The step's department code.
    pub department_code: String,
    /// The step's name.
    pub step: String,
    /// The department's opinion (审查意见).
    #[oai(nullable, default)]
    #[serde(default)]
    pub opinion: Option<String>,
    #[oai(nullable, default)]
    #[serde(default)]
    pub revision: Option<i32>,
    #[oai(nullable, default)]
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// The special steps a case can be suspended for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum SpecialStep {
    /// 现场踏勘
    SiteInspection,
    /// 专家评审
    ExpertReview,
    /// 听证
    Hearing,
    /// 检验检测
    Testing,
    /// 公示
    PublicNotice,
}

impl SpecialStep {
    pub fn from_model(step: ModelSpecialStep) -> SpecialStep {
        match step {
            ModelSpecialStep::SiteInspection => SpecialStep::SiteInspection,
            ModelSpecialStep::ExpertReview => SpecialStep::ExpertReview,
            ModelSpecialStep::Hearing => SpecialStep::Hearing,
            ModelSpecialStep::Testing => SpecialStep::Testing,
            ModelSpecialStep::PublicNotice => SpecialStep::PublicNotice,
        }
    }

    pub fn to_model(self) -> ModelSpecialStep {
        match self {
            SpecialStep::SiteInspection => ModelSpecialStep::SiteInspection,
            SpecialStep::ExpertReview => ModelSpecialStep::ExpertReview,
            SpecialStep::Hearing => ModelSpecialStep::Hearing,
            SpecialStep::Testing => ModelSpecialStep::Testing,
            SpecialStep::PublicNotice => ModelSpecialStep::PublicNotice,
        }
    }
}

/// The Chinese name of a special step.
pub fn special_step_label(step: ModelSpecialStep) -> &'static str {
    match step {
        ModelSpecialStep::SiteInspection => "现场踏勘",
        ModelSpecialStep::ExpertReview => "专家评审",
        ModelSpecialStep::Hearing => "听证",
        ModelSpecialStep::Testing => "检验检测",
        ModelSpecialStep::PublicNotice => "公示",
    }
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuspendRequest {
    pub special_step: SpecialStep,
    pub reason: String,
    /// When the special step is expected to end; not before today.
    pub expected_end: NaiveDate,
    #[oai(nullable, default)]
    #[serde(default)]
    pub revision: Option<i32>,
    #[oai(nullable, default)]
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// More time for the special step a case is suspended for.
#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuspensionExtensionRequest {
    /// Why the special step needs longer.
    pub reason: String,
    /// The new expected end: later than the current one, within the special step's limit
    /// counted from it.
    pub expected_end: NaiveDate,
    #[oai(nullable, default)]
    #[serde(default)]
    pub revision: Option<i32>,
    #[oai(nullable, default)]
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// Resume, approve: no content beyond the common fields.
#[derive(Debug, Clone, Object, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PlainRequest {
    #[oai(nullable, default)]
    #[serde(default)]
    pub revision: Option<i32>,
    #[oai(nullable, default)]
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// Approve: the common fields and, for licence items, the licence's terms.
#[derive(Debug, Clone, Object, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    #[oai(nullable, default)]
    #[serde(default)]
    pub revision: Option<i32>,
    #[oai(nullable, default)]
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    /// The licence's last day of validity (licence items only); five years from the decision
    /// date when absent.
    #[oai(nullable, default)]
    #[serde(default)]
    pub licence_valid_to: Option<NaiveDate>,
    /// Further fields printed on the licence, in order (e.g. 经营场所, 许可范围); at most 12.
    #[oai(default)]
    #[serde(default)]
    pub licence_details: Vec<LicenceDetail>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenceDetail {
    /// At most 12 characters (e.g. 经营场所).
    pub label: String,
    /// At most 200 characters.
    pub value: String,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtendRequest {
    pub reason: String,
    /// A working day after the current deadline.
    pub new_deadline: NaiveDate,
    #[oai(nullable, default)]
    #[serde(default)]
    pub revision: Option<i32>,
    #[oai(nullable, default)]
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenyRequest {
    pub reasons: String,
    /// The applicant's remedies; absent: the standard text (行政复议 within 60 days, 行政诉讼
    /// within 6 months). A text given must name both.
    #[oai(nullable, default)]
    #[serde(default)]
    pub remedies: Option<String>,
    #[oai(nullable, default)]
    #[serde(default)]
    pub revision: Option<i32>,
    #[oai(nullable, default)]
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
}

/// The applicant answers the correction notice with the materials it asked for.
#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrectionAnswer {
    pub materials: Vec<MaterialRef>,
    #[oai(nullable, default)]
    #[serde(default)]
    pub revision: Option<i32>,
}

/// A material accepted as pending (容缺) is supplied.
#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeferredSupply {
    pub material_key: String,
    pub file_ids: Vec<Uuid>,
    #[oai(nullable, default)]
    #[serde(default)]
    pub revision: Option<i32>,
}

#[derive(Debug, Clone, Object, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    /// Optional; when given, not blank.
    #[oai(nullable, default)]
    #[serde(default)]
    pub reason: Option<String>,
    #[oai(nullable, default)]
    #[serde(default)]
    pub revision: Option<i32>,
}

/// The latest step entered afterwards (事后补录): when it happened, which is its legal date, and
/// when it was recorded.
#[derive(Debug, Clone, Object)]
pub struct BackfillView {
    /// The event's kind, e.g. `accepted`.
    pub kind: String,
    pub recorded_at: DateTime<Utc>,
    pub occurred_at: DateTime<Utc>,
}

/// Deadline facts, computed from the record on every read (never stored).
#[derive(Debug, Clone, Object)]
pub struct DeadlineView {
    pub deadline: NaiveDate,
    pub working_days_used: u32,
    /// Negative when overdue.
    pub working_days_left: i64,
    /// Working days the clock stood still for special steps.
    pub suspended_working_days: u32,
    pub overdue: bool,
    pub extended: bool,
    /// The deadline or the counts cross a year whose official holiday arrangement is not yet
    /// published: those days count Monday to Friday until it is loaded.
    pub provisional: bool,
    /// Why and how the date is provisional, in Chinese, to show beside it.
    #[oai(skip_serializing_if_is_none)]
    pub provisional_basis: Option<String>,
}

#[derive(Debug, Clone, Object)]
pub struct ApplicantView {
    /// citizen or enterprise.
    pub kind: String,
    pub name: String,
    /// ID number or credit code, masked.
    pub id_masked: String,
}

#[derive(Debug, Clone, Object)]
pub struct AgentView {
    pub subject: String,
    pub name: String,
}

#[derive(Debug, Clone, Object)]
pub struct TaskView {
    pub department_code: String,
    /// window_clerk, reviewer or approver.
    pub role: String,
    pub step: String,
}

#[derive(Debug, Clone, Object)]
pub struct StepView {
    pub department_code: String,
    pub name: String,
    pub stage: u32,
    /// waiting, running or completed.
    pub status: String,
    /// The special step (特别程序) this is; absent for a review step.
    #[oai(skip_serializing_if_is_none)]
    pub special_step: Option<SpecialStep>,
    /// The step's own limit in working days, as the item's guide states it (0: none stated).
    pub limit_working_days: u32,
    /// Whether the step's time counts toward the promised limit (行政许可法 art. 45 takes
    /// hearings, testing and expert review out of it); absent for a review step.
    #[oai(skip_serializing_if_is_none)]
    pub counts_toward_limit: Option<bool>,
    /// The rule, in Chinese, to show beside the step.
    #[oai(skip_serializing_if_is_none)]
    pub limit_rule: Option<String>,
    /// The day a special step started.
    #[oai(skip_serializing_if_is_none)]
    pub started_on: Option<NaiveDate>,
    /// The day a running special step is due by its own limit.
    #[oai(skip_serializing_if_is_none)]
    pub due_on: Option<NaiveDate>,
    /// The day a special step completed.
    #[oai(skip_serializing_if_is_none)]
    pub completed_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, Object)]
pub struct MaterialView {
    pub id: Uuid,
    pub material_key: String,
    #[oai(skip_serializing_if_is_none)]
    pub file_id: Option<Uuid>,
    #[oai(skip_serializing_if_is_none)]
    pub sha256: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub content_type: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub file_name: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub size_bytes: Option<i64>,
    /// Paper that could not be digitised.
    #[oai(skip_serializing_if_is_none)]
    pub paper_note: Option<String>,
    /// submission, correction or deferred.
    pub supplied_in: String,
    pub added_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object)]
pub struct EventView {
    pub seq: i32,
    pub kind: String,
    pub details: Value,
    /// applicant, window_clerk, reviewer, approver or system (also `actor.role`).
    pub actor_kind: String,
    /// Who acted: the role and department for everyone; the staff member by name only in the
    /// staff views (staff, supervisors, observers) [000 art.13, 34].
    pub actor: EventActor,
    /// When the server recorded it (drives the clock).
    pub recorded_at: DateTime<Utc>,
    /// When staff say it happened; differs from `recorded_at` for work entered afterwards.
    pub occurred_at: DateTime<Utc>,
}

/// Who took a timeline event. The applicant's own views (the app) show the role and the
/// department only; the account fields are present in the staff views alone.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct EventActor {
    /// applicant, window_clerk, reviewer, approver or system.
    pub role: String,
    /// The department the staff member acted in (staff events only).
    #[oai(skip_serializing_if_is_none)]
    pub department_code: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub department_name: Option<String>,
    /// The staff account that acted (staff views only).
    #[oai(skip_serializing_if_is_none)]
    pub account_id: Option<Uuid>,
    /// The staff member's name (staff views only).
    #[oai(skip_serializing_if_is_none)]
    pub display_name: Option<String>,
    /// AB岗: the absent colleague whose post the staff member held (staff views only).
    #[oai(skip_serializing_if_is_none)]
    pub on_behalf_of: Option<StaffRef>,
}

/// A staff member named on a timeline.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct StaffRef {
    pub account_id: Uuid,
    #[oai(skip_serializing_if_is_none)]
    pub display_name: Option<String>,
}

/// A case in a list.
#[derive(Debug, Clone, Object)]
pub struct CaseSummary {
    pub id: Uuid,
    pub item_code: String,
    pub item_name: String,
    /// The state machine's stage (stable code).
    pub stage: String,
    /// The stage for people.
    pub stage_label: String,
    /// 申请编号: the case's reference from submission on (32 hexadecimal digits, upper case),
    /// for the public progress query before acceptance.
    pub submission_reference: String,
    #[oai(skip_serializing_if_is_none)]
    pub acceptance_number: Option<String>,
    pub submitted_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub deadline: Option<DeadlineView>,
    /// What the applicant must do now: answer_correction, supply_deferred.
    #[oai(skip_serializing_if_is_none)]
    pub applicant_todo: Option<String>,
    pub revision: i32,
}

/// One case with everything about it.
#[derive(Debug, Clone, Object)]
pub struct CaseDetail {
    pub id: Uuid,
    pub item_code: String,
    pub item_name: String,
    /// The item version the case runs under (kept when the item changes).
    pub item_version: i32,
    /// online or window.
    pub channel: String,
    pub applicant: ApplicantView,
    /// 代办员, when someone applied for the applicant.
    #[oai(skip_serializing_if_is_none)]
    pub agent: Option<AgentView>,
    pub stage: String,
    pub stage_label: String,
    /// The stage's own facts: the correction list, the suspension, the decision's reasons…
    pub stage_details: Value,
    /// Correction notices issued so far (more than one is an anomaly).
    pub correction_count: u32,
    /// 申请编号: the case's reference from submission on (32 hexadecimal digits, upper case),
    /// returned at submission and at window intake, printed on the notices issued before
    /// acceptance; with the second factor it finds the case in the public progress query.
    pub submission_reference: String,
    #[oai(skip_serializing_if_is_none)]
    pub acceptance_number: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub accepted_on: Option<NaiveDate>,
    /// The acceptance terms: 容缺 pending and supplied materials, 告知承诺制 commitment.
    #[oai(skip_serializing_if_is_none)]
    pub acceptance: Option<Value>,
    /// The item's promised limit in working days (0: instant item, decided on the acceptance
    /// day).
    pub limit_working_days: i32,
    #[oai(skip_serializing_if_is_none)]
    pub deadline: Option<DeadlineView>,
    /// Why deadline facts are missing for an accepted case (e.g. calendar_year_not_loaded).
    #[oai(skip_serializing_if_is_none)]
    pub deadline_unavailable: Option<String>,
    /// The pre-review clock (行政许可法 art. 32), while the case is in pre-review: corrections
    /// must be notified by `notify_by`, else the application counts as accepted from the day
    /// its materials were received.
    #[oai(skip_serializing_if_is_none)]
    pub pre_review: Option<PreReviewView>,
    /// Department steps (并联 steps share a stage).
    pub steps: Vec<StepView>,
    /// Who must act now.
    pub waiting_on: Vec<TaskView>,
    #[oai(skip_serializing_if_is_none)]
    pub applicant_todo: Option<String>,
    pub form: Value,
    pub materials: Vec<MaterialView>,
    /// The sealed documents the case has issued (notices, decisions, the licence).
    pub documents: Vec<crate::document_register::DocumentView>,
    pub timeline: Vec<EventView>,
    /// The latest step entered afterwards, if any.
    #[oai(skip_serializing_if_is_none)]
    pub backfilled: Option<BackfillView>,
    /// Pass back as `revision` to act on what you saw.
    pub revision: i32,
    pub submitted_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub closed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Object)]
pub struct CaseList {
    pub cases: Vec<CaseSummary>,
}

/// A staff inbox entry.
#[derive(Debug, Clone, Object)]
pub struct InboxEntry {
    pub case: CaseSummary,
    /// What the caller may do on it.
    pub tasks: Vec<TaskView>,
    pub applicant_name: String,
}

#[derive(Debug, Clone, Object)]
pub struct Inbox {
    /// Soonest deadline first; cases not yet accepted first of all.
    pub entries: Vec<InboxEntry>,
}

/// Where the pre-review clock of a case stands (行政许可法 art. 32, 82).
#[derive(Debug, Clone, Object)]
pub struct PreReviewView {
    /// The day the materials under review were received (the submission or the latest
    /// correction answer).
    pub materials_received_on: NaiveDate,
    /// The last day a correction notice may be given: five working days later.
    pub notify_by: NaiveDate,
    /// Working days left until `notify_by`; negative once it has passed.
    pub working_days_left: i64,
    /// The five working days have run out: the application counts as accepted from
    /// `materials_received_on`, which an acceptance now records as its date.
    pub lapsed: bool,
}
