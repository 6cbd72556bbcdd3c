//! Why the state machine refuses an action ([`TransitionError`]) and how the API answers each
//! refusal ([`ErrorClass`], the declared problem).

use super::*;

/// How the API answers a refused action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The actor may never take this action (403).
    Forbidden,
    /// Not possible in the case's current stage (409).
    Conflict,
    /// The action's content is wrong (422, with a field).
    Invalid,
}

/// Why an action is refused. Each blank-reason refusal is its own variant: these are the
/// anomalies supervision looks for [004 art.9].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("{actor:?} may not {action}")]
    Forbidden {
        action: &'static str,
        actor: ActorKind,
    },
    #[error("the case is {stage} and accepts no further action")]
    Terminal { stage: &'static str },
    #[error("cannot {action} a case that is {stage}")]
    NotInThisStage {
        action: &'static str,
        stage: &'static str,
    },
    #[error("the department is blank")]
    BlankDepartment,
    #[error("a correction notice must list at least one missing or wrong material")]
    EmptyCorrectionList,
    #[error("entry {index} of the correction notice is blank")]
    BlankCorrectionEntry { index: usize },
    #[error("a non-acceptance (不予受理) needs a reason")]
    BlankRejectReason,
    #[error("deferred material {index} is blank")]
    BlankDeferredMaterial { index: usize },
    #[error("deferred material {index} is listed twice")]
    DuplicateDeferredMaterial { index: usize },
    #[error("the item's process has no steps")]
    NoSteps,
    #[error("step {index} has a blank department or name")]
    BlankStep { index: usize },
    #[error("step {index} is listed twice")]
    DuplicateStep { index: usize },
    #[error("the case has no step {name} for department {department}")]
    UnknownStep { department: String, name: String },
    #[error("step {name} of department {department} is not running")]
    StepNotRunning { department: String, name: String },
    #[error("material {0} is not pending")]
    UnknownDeferredMaterial(String),
    #[error("a suspension needs a reason")]
    BlankSuspendReason,
    #[error("an extended suspension must end after its current expected end {current_end}")]
    SuspensionExtensionNotLater { current_end: NaiveDate },
    #[error("an extension needs a reason")]
    BlankExtendReason,
    #[error("the new deadline {new_deadline} is not after the previous extension to {previous}")]
    ExtensionNotLater {
        new_deadline: NaiveDate,
        previous: NaiveDate,
    },
    #[error("a termination needs a reason")]
    BlankTerminateReason,
    #[error("going on with a case of a cancelled item needs its legal basis")]
    BlankLegalBasis,
    #[error("a withdrawal reason, when given, must not be blank")]
    BlankWithdrawReason,
    #[error("a denial needs reasons")]
    BlankDenyReasons,
    #[error("a denial must state the remedies: administrative reconsideration and litigation")]
    IncompleteRemedies,
    #[error("not every department step is completed")]
    StepsIncomplete,
    #[error("deferred materials are still pending")]
    DeferredMaterialsPending,
}

impl TransitionError {
    /// The declared problem it is sent as.
    pub fn problem(&self) -> CaseProblem {
        match self {
            Self::Forbidden { .. } => CaseProblem::CaseActionForbidden,
            Self::Terminal { .. } => CaseProblem::CaseClosed,
            Self::NotInThisStage { .. } => CaseProblem::CaseActionNotInStage,
            Self::BlankDepartment => CaseProblem::DepartmentBlank,
            Self::EmptyCorrectionList => CaseProblem::CorrectionListEmpty,
            Self::BlankCorrectionEntry { .. } => CaseProblem::CorrectionEntryBlank,
            Self::BlankRejectReason => CaseProblem::RejectReasonBlank,
            Self::BlankDeferredMaterial { .. } => CaseProblem::DeferredMaterialBlank,
            Self::DuplicateDeferredMaterial { .. } => CaseProblem::DeferredMaterialDuplicate,
            Self::NoSteps => CaseProblem::StepsEmpty,
            Self::BlankStep { .. } => CaseProblem::StepBlank,
            Self::DuplicateStep { .. } => CaseProblem::StepDuplicate,
            Self::UnknownStep { .. } => CaseProblem::StepUnknown,
            Self::StepNotRunning { .. } => CaseProblem::StepNotRunning,
            Self::UnknownDeferredMaterial(_) => CaseProblem::DeferredMaterialUnknown,
            Self::BlankSuspendReason => CaseProblem::SuspendReasonBlank,
            Self::SuspensionExtensionNotLater { .. } => CaseProblem::SuspensionExtensionNotLater,
            Self::BlankExtendReason => CaseProblem::ExtendReasonBlank,
            Self::ExtensionNotLater { .. } => CaseProblem::ExtensionNotLater,
            Self::BlankTerminateReason => CaseProblem::TerminateReasonBlank,
            Self::BlankLegalBasis => CaseProblem::LegalBasisBlank,
            Self::BlankWithdrawReason => CaseProblem::WithdrawReasonBlank,
            Self::BlankDenyReasons => CaseProblem::DenyReasonsBlank,
            Self::IncompleteRemedies => CaseProblem::RemediesIncomplete,
            Self::StepsIncomplete => CaseProblem::StepsIncomplete,
            Self::DeferredMaterialsPending => CaseProblem::DeferredMaterialsPending,
        }
    }

    /// Stable machine code, for problem+json.
    pub fn code(&self) -> &'static str {
        self.problem().code()
    }

    /// 403, 409 or 422.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Forbidden { .. } => ErrorClass::Forbidden,
            Self::Terminal { .. }
            | Self::NotInThisStage { .. }
            | Self::StepNotRunning { .. }
            | Self::StepsIncomplete
            | Self::DeferredMaterialsPending => ErrorClass::Conflict,
            _ => ErrorClass::Invalid,
        }
    }

    /// The request field at fault, for a 422.
    pub fn field(&self) -> Option<String> {
        let field = match self {
            Self::BlankDepartment => "department".to_owned(),
            Self::EmptyCorrectionList => "missing".to_owned(),
            Self::BlankCorrectionEntry { index } => format!("missing[{index}].material_key"),
            Self::BlankDeferredMaterial { index } | Self::DuplicateDeferredMaterial { index } => {
                format!("deferred[{index}].material")
            }
            Self::NoSteps => "steps".to_owned(),
            Self::BlankStep { index } | Self::DuplicateStep { index } => format!("steps[{index}]"),
            Self::UnknownStep { .. } => "name".to_owned(),
            Self::UnknownDeferredMaterial(_) => "material".to_owned(),
            Self::BlankRejectReason
            | Self::BlankSuspendReason
            | Self::BlankExtendReason
            | Self::BlankTerminateReason
            | Self::BlankWithdrawReason => "reason".to_owned(),
            Self::ExtensionNotLater { .. } => "new_deadline".to_owned(),
            Self::BlankLegalBasis => "legal_basis".to_owned(),
            Self::SuspensionExtensionNotLater { .. } => "expected_end".to_owned(),
            Self::BlankDenyReasons => "reasons".to_owned(),
            Self::IncompleteRemedies => "remedies".to_owned(),
            Self::Forbidden { .. }
            | Self::Terminal { .. }
            | Self::NotInThisStage { .. }
            | Self::StepNotRunning { .. }
            | Self::StepsIncomplete
            | Self::DeferredMaterialsPending => return None,
        };
        Some(field)
    }
}
