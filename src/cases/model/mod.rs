//! The case (办件) state machine: one pure function, [`transition`], decides every change of a
//! case's state and the timeline events it records. No I/O: the service loads the state, calls
//! `transition`, and writes the new state, the events, the audit record and the notifications in
//! one transaction.
//!
//! Rules (DOMAIN.md "A case"):
//! - Pre-review ends in ONE correction notice listing everything missing or wrong
//!   (一次性补齐补正告知书); the answer goes back to the department that asked [000 art.19]. The
//!   notices are counted: more than one is an anomaly for supervision [004 art.9(2)].
//! - Acceptance may leave a non-key material pending with a date (容缺受理) or rest on a signed
//!   commitment (告知承诺制) [002 二2]; non-acceptance (不予受理) needs a written reason
//!   [000 art.21][004 art.9(3)].
//! - Department steps run in stages as the item's process says (`catalog::model::Step::stage`):
//!   steps sharing a stage run in parallel (并联审批), stages one after another; the decision needs
//!   every step completed [000 art.23-25].
//! - Suspension for a special step (挂起), extension (延期) and termination (终止) each need a
//!   reason [000 art.24,30][004 art.9(5)(6)]; a denial needs reasons and the applicant's
//!   remedies [002 三(六)2][004 art.9(4)].
//! - Decided, rejected, terminated and withdrawn cases accept nothing more.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::cases::errors::CaseProblem;
use crate::identity::model::Role;

/// The standard remedies text of a denial (不予批准决定书): administrative reconsideration within
/// 60 days (行政复议法 art.20) or an administrative lawsuit within 6 months (行政诉讼法 art.46)
/// [002 三(六)2].
pub const STANDARD_REMEDIES: &str = "申请人如对本决定不服，可以自知道该决定之日起六十日内依法申请行政复议，\
或者自知道该决定之日起六个月内依法向人民法院提起行政诉讼。";

/// Words a denial's remedies text must contain: both remedies must be named.
const REMEDY_TERMS: [&str; 2] = ["行政复议", "行政诉讼"];

/// Who takes an action. Staff roles map through [`ActorKind::from_role`]; an authorised agent
/// (代办员) acts as the applicant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// 申办人 (or their authorised agent).
    Applicant,
    /// 窗口受理人员: pre-review, correction notices, acceptance and non-acceptance.
    WindowClerk,
    /// 审查人员: department steps, suspension.
    Reviewer,
    /// 审批（决定）人员: decision, extension, termination.
    Approver,
    /// The platform itself (routing online submissions, starting the item's steps, ending
    /// abandoned cases).
    System,
}

impl ActorKind {
    /// All actor kinds.
    pub const ALL: [ActorKind; 5] = [
        ActorKind::Applicant,
        ActorKind::WindowClerk,
        ActorKind::Reviewer,
        ActorKind::Approver,
        ActorKind::System,
    ];

    /// The actor kind of a staff role; None for roles that never act on a case (admins and
    /// supervisors only read).
    pub fn from_role(role: Role) -> Option<ActorKind> {
        match role {
            Role::WindowClerk => Some(ActorKind::WindowClerk),
            Role::Reviewer => Some(ActorKind::Reviewer),
            Role::Approver => Some(ActorKind::Approver),
            Role::DepartmentAdmin | Role::PlatformAdmin | Role::Supervisor | Role::Observer => None,
        }
    }
}

/// Where a department step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Waiting for an earlier stage to complete.
    Waiting,
    /// Open for the department to handle.
    Running,
    /// Done.
    Completed,
}

/// A step of the item's process as the item version defines it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StepSpec {
    /// The department's code (the lead department 主办 or a co-department 协办).
    pub department: String,
    /// The step's name, e.g. 审查.
    pub name: String,
    /// Steps sharing a stage run in parallel; stages run in ascending order. All steps in one
    /// stage is parallel approval, one step per stage is serial.
    pub stage: u32,
    /// The special step (特别程序) this is, e.g. 公示; None for a review step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub special: Option<SpecialStep>,
    /// The step's own limit in working days, as the item version states it (0: none stated).
    #[serde(default)]
    pub limit_days: u32,
}

/// A running case's department step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// The department's code.
    pub department: String,
    /// The step's name.
    pub name: String,
    /// Its stage (see [`StepSpec::stage`]).
    pub stage: u32,
    /// Where it stands.
    pub status: StepStatus,
    /// The special step this is; None for a review step (states stored before special steps
    /// ran as steps read as review steps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub special: Option<SpecialStep>,
    /// Its own limit in working days (0: none stated).
    #[serde(default)]
    pub limit_days: u32,
}

/// The department steps of a case in review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// The steps, in the item's order.
    pub steps: Vec<Step>,
}

impl Review {
    /// Every step completed: the case may be decided.
    pub fn all_completed(&self) -> bool {
        self.steps.iter().all(|s| s.status == StepStatus::Completed)
    }

    /// The stage now running: the lowest stage with a step not completed.
    pub fn current_stage(&self) -> Option<u32> {
        self.steps
            .iter()
            .filter(|s| s.status != StepStatus::Completed)
            .map(|s| s.stage)
            .min()
    }
}

/// The special step a case is suspended for (特殊环节) [000 art.24][002 三(四)3].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

/// One entry of a correction notice: a material of the item's list and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct CorrectionItem {
    /// The item's material key; empty only in notices issued before corrections were keyed to
    /// the item's materials (their whole text is in `note`).
    pub material_key: String,
    /// The material's name as the item's guide lists it: what the notice and the SMS print.
    pub material_name: String,
    /// The clerk's note: what is missing or wrong (may be empty).
    pub note: String,
}

impl CorrectionItem {
    /// A correction of `material_key` with the clerk's note; the name is filled in from the
    /// item's guide by the service.
    pub fn of(material_key: &str, note: &str) -> CorrectionItem {
        CorrectionItem {
            material_key: material_key.to_owned(),
            material_name: String::new(),
            note: note.to_owned(),
        }
    }

    /// As printed in the sealed notice and the SMS: `营业执照：照片不清晰`.
    pub fn printed(&self) -> String {
        match (self.material_name.is_empty(), self.note.is_empty()) {
            (true, _) => self.note.clone(),
            (false, true) => self.material_name.clone(),
            (false, false) => format!("{}：{}", self.material_name, self.note),
        }
    }
}

impl<'de> Deserialize<'de> for CorrectionItem {
    /// Case states stored before corrections were keyed to materials hold plain texts.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Keyed {
                material_key: String,
                #[serde(default)]
                material_name: String,
                #[serde(default)]
                note: String,
            },
            Text(String),
        }
        Ok(match Stored::deserialize(deserializer)? {
            Stored::Keyed {
                material_key,
                material_name,
                note,
            } => CorrectionItem {
                material_key,
                material_name,
                note,
            },
            Stored::Text(note) => CorrectionItem {
                material_key: String::new(),
                material_name: String::new(),
                note,
            },
        })
    }
}

/// A non-key material accepted as pending (容缺受理), to be supplied by `due`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DeferredMaterial {
    /// The item's material list entry (its code).
    pub material: String,
    /// The date by which it is to be supplied.
    pub due: NaiveDate,
}

/// The terms a case was accepted on; present once the case has been accepted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Acceptance {
    /// 容缺受理: materials still to be supplied.
    pub pending: Vec<DeferredMaterial>,
    /// 容缺受理: materials supplied since.
    pub supplied: Vec<DeferredMaterial>,
    /// 告知承诺制: accepted on the applicant's signed commitment.
    pub commitment: bool,
    /// The law accepted it first: no correction was notified within the five working days of
    /// 行政许可法 art. 32, so the application counts as accepted from the day its materials
    /// were received (see `cases::pre_review_clock`). Kept for supervision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deemed: Option<crate::cases::pre_review_clock::DeemedAcceptance>,
}

/// The stage a suspended case resumes into: only stages where the clock runs can be suspended,
/// so a suspended case can never resume into a terminal stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum ResumeStage {
    /// Accepted, steps not started.
    Accepted,
    /// In review with these steps.
    InReview(Review),
}

impl ResumeStage {
    fn into_stage(self) -> Stage {
        match self {
            ResumeStage::Accepted => Stage::Accepted,
            ResumeStage::InReview(review) => Stage::InReview(review),
        }
    }
}

/// Where a case stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Stage {
    /// 已提交: submitted, not yet taken up.
    Submitted,
    /// 预审: pre-review by this department.
    PreReview { department: String },
    /// 待补正: the applicant must answer the correction notice of this department.
    AwaitingCorrection {
        department: String,
        /// Every missing or wrong material, in ONE notice.
        missing: Vec<CorrectionItem>,
    },
    /// 已受理: accepted, department steps not started.
    Accepted,
    /// 审查中: department steps running.
    InReview(Review),
    /// 挂起: the clock stopped for a special step.
    Suspended {
        resume_to: ResumeStage,
        kind: SpecialStep,
        reason: String,
        expected_end: NaiveDate,
    },
    /// 准予许可
    DecidedApproved,
    /// 不予许可, with reasons and the applicant's remedies.
    DecidedDenied { reasons: String, remedies: String },
    /// 不予受理, with the reason.
    Rejected { reason: String },
    /// 终止, with the reason.
    Terminated { reason: String },
    /// 撤回 by the applicant.
    Withdrawn { reason: Option<String> },
}

impl Stage {
    /// Stable name, for errors and the database column.
    pub fn name(&self) -> &'static str {
        match self {
            Stage::Submitted => "submitted",
            Stage::PreReview { .. } => "pre_review",
            Stage::AwaitingCorrection { .. } => "awaiting_correction",
            Stage::Accepted => "accepted",
            Stage::InReview(_) => "in_review",
            Stage::Suspended { .. } => "suspended",
            Stage::DecidedApproved => "decided_approved",
            Stage::DecidedDenied { .. } => "decided_denied",
            Stage::Rejected { .. } => "rejected",
            Stage::Terminated { .. } => "terminated",
            Stage::Withdrawn { .. } => "withdrawn",
        }
    }

    /// A terminal stage accepts no action.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Stage::DecidedApproved
                | Stage::DecidedDenied { .. }
                | Stage::Rejected { .. }
                | Stage::Terminated { .. }
                | Stage::Withdrawn { .. }
        )
    }

    /// The department steps, while the case is in review (or suspended from it).
    pub fn review(&self) -> Option<&Review> {
        match self {
            Stage::InReview(review)
            | Stage::Suspended {
                resume_to: ResumeStage::InReview(review),
                ..
            } => Some(review),
            _ => None,
        }
    }

    /// A decision was made (办结).
    pub fn is_decided(&self) -> bool {
        matches!(self, Stage::DecidedApproved | Stage::DecidedDenied { .. })
    }
}

/// A case's state: the stage plus what the case carries through its stages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseState {
    /// Where the case stands.
    pub stage: Stage,
    /// Correction notices issued so far; only ever increases.
    pub correction_count: u32,
    /// The acceptance terms, once accepted.
    pub acceptance: Option<Acceptance>,
    /// The latest extended deadline, if the case was extended.
    pub extended_to: Option<NaiveDate>,
}

impl CaseState {
    /// A newly submitted case.
    pub fn submitted() -> Self {
        Self {
            stage: Stage::Submitted,
            correction_count: 0,
            acceptance: None,
            extended_to: None,
        }
    }

    /// A terminal case accepts no action.
    pub fn is_terminal(&self) -> bool {
        self.stage.is_terminal()
    }
}

/// Something done to a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Take up a submitted case for pre-review by `department`.
    PreReviewStart { department: String },
    /// Issue the ONE correction notice listing every missing or wrong material.
    RequestCorrection { missing: Vec<CorrectionItem> },
    /// The applicant answers the correction notice.
    AnswerCorrection,
    /// Accept, possibly with deferred materials (容缺受理) or on a commitment (告知承诺制).
    Accept {
        deferred: Vec<DeferredMaterial>,
        commitment: bool,
    },
    /// Do not accept (不予受理), with the reason.
    Reject { reason: String },
    /// Start the item's department steps.
    StartSteps { steps: Vec<StepSpec> },
    /// A department completes its step.
    CompleteStep { department: String, name: String },
    /// A deferred material is supplied.
    SupplyDeferred { material: String },
    /// Stop the clock for a special step.
    Suspend {
        kind: SpecialStep,
        reason: String,
        expected_end: NaiveDate,
    },
    /// Give a suspension more time than its special step's limit, with the reason.
    ExtendSuspension {
        reason: String,
        expected_end: NaiveDate,
    },
    /// Restart the clock after a special step.
    Resume,
    /// Extend the deadline, with the reason.
    Extend {
        reason: String,
        new_deadline: NaiveDate,
    },
    /// Go on with a case whose item was cancelled, under the legal basis the approver records
    /// (e.g. a transition rule of the cancelling decision); supervision sees it.
    ContinueDespiteCancellation { legal_basis: String },
    /// End the case without a decision, with the reason.
    Terminate { reason: String },
    /// The applicant withdraws; a reason, if given, must not be blank.
    Withdraw { reason: Option<String> },
    /// Decide: approve.
    Approve,
    /// Decide: deny, with reasons and remedies (see [`STANDARD_REMEDIES`]).
    Deny { reasons: String, remedies: String },
}

impl Action {
    /// Stable name, for errors and the audit record.
    pub fn name(&self) -> &'static str {
        match self {
            Action::PreReviewStart { .. } => "pre_review_start",
            Action::RequestCorrection { .. } => "request_correction",
            Action::AnswerCorrection => "answer_correction",
            Action::Accept { .. } => "accept",
            Action::Reject { .. } => "reject",
            Action::StartSteps { .. } => "start_steps",
            Action::CompleteStep { .. } => "complete_step",
            Action::SupplyDeferred { .. } => "supply_deferred",
            Action::Suspend { .. } => "suspend",
            Action::ExtendSuspension { .. } => "extend_suspension",
            Action::Resume => "resume",
            Action::Extend { .. } => "extend",
            Action::ContinueDespiteCancellation { .. } => "continue_despite_cancellation",
            Action::Terminate { .. } => "terminate",
            Action::Withdraw { .. } => "withdraw",
            Action::Approve => "approve",
            Action::Deny { .. } => "deny",
        }
    }

    /// The actor kinds that may take this action (in a stage where it applies).
    pub fn permitted_actors(&self) -> &'static [ActorKind] {
        use ActorKind::*;
        match self {
            // Online submissions are routed by the platform; window intake by the clerk.
            Action::PreReviewStart { .. } => &[WindowClerk, System],
            Action::RequestCorrection { .. } | Action::Accept { .. } | Action::Reject { .. } => {
                &[WindowClerk]
            }
            Action::AnswerCorrection | Action::Withdraw { .. } => &[Applicant],
            // Paper brought to the window is registered by the clerk.
            Action::SupplyDeferred { .. } => &[Applicant, WindowClerk],
            Action::StartSteps { .. } => &[WindowClerk, System],
            Action::CompleteStep { .. } => &[Reviewer],
            Action::Suspend { .. } | Action::Resume => &[Reviewer, Approver],
            // Like an extension of the deadline, more time for a special step is the
            // approver's to grant.
            Action::ExtendSuspension { .. } | Action::ContinueDespiteCancellation { .. } => {
                &[Approver]
            }
            Action::Extend { .. } | Action::Approve | Action::Deny { .. } => &[Approver],
            // The platform ends cases abandoned by the applicant (an unanswered correction).
            Action::Terminate { .. } => &[Approver, System],
        }
    }
}

/// What the timeline records for one change (kind + details).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    PreReviewStarted {
        department: String,
    },
    CorrectionRequested {
        department: String,
        missing: Vec<CorrectionItem>,
        /// 1 for the first notice; above 1 is the anomaly supervision looks for.
        notice_number: u32,
    },
    CorrectionAnswered {
        /// The department that asked, which reviews the answer.
        department: String,
    },
    Accepted {
        deferred: Vec<DeferredMaterial>,
        commitment: bool,
    },
    Rejected {
        reason: String,
    },
    StepsStarted {
        steps: Vec<StepSpec>,
    },
    StepStarted {
        department: String,
        name: String,
    },
    StepCompleted {
        department: String,
        name: String,
    },
    DeferredSupplied {
        material: String,
    },
    Suspended {
        special_step: SpecialStep,
        reason: String,
        expected_end: NaiveDate,
    },
    SuspensionExtended {
        special_step: SpecialStep,
        reason: String,
        expected_end: NaiveDate,
    },
    Resumed {
        special_step: SpecialStep,
    },
    Extended {
        reason: String,
        new_deadline: NaiveDate,
    },
    ContinuedDespiteCancellation {
        legal_basis: String,
    },
    Terminated {
        reason: String,
    },
    Withdrawn {
        reason: Option<String>,
    },
    Approved,
    Denied {
        reasons: String,
        remedies: String,
    },
}

impl Event {
    /// Stable kind, for the timeline's kind column and the notification templates.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::PreReviewStarted { .. } => "pre_review_started",
            Event::CorrectionRequested { .. } => "correction_requested",
            Event::CorrectionAnswered { .. } => "correction_answered",
            Event::Accepted { .. } => "accepted",
            Event::Rejected { .. } => "rejected",
            Event::StepsStarted { .. } => "steps_started",
            Event::StepStarted { .. } => "step_started",
            Event::StepCompleted { .. } => "step_completed",
            Event::DeferredSupplied { .. } => "deferred_supplied",
            Event::Suspended { .. } => "suspended",
            Event::SuspensionExtended { .. } => "suspension_extended",
            Event::Resumed { .. } => "resumed",
            Event::Extended { .. } => "extended",
            Event::ContinuedDespiteCancellation { .. } => "continued_despite_cancellation",
            Event::Terminated { .. } => "terminated",
            Event::Withdrawn { .. } => "withdrawn",
            Event::Approved => "approved",
            Event::Denied { .. } => "denied",
        }
    }
}

/// The outcome of an allowed action: the new state and the events to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub state: CaseState,
    pub events: Vec<Event>,
}

mod refusals;
mod special_steps;
mod transitions;

pub use refusals::{ErrorClass, TransitionError};
pub use transitions::transition;

#[cfg(test)]
mod tests;
