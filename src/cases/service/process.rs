//! The item's process as cases follow it: who accepts and who decides, the steps an acceptance
//! starts, the departments involved, and which tasks an action may come from.

use super::*;

/// The item's process: who accepts and who decides (the lead department unless a step names
/// another).
pub fn process_of(detail: &ItemDetail) -> Process {
    let lead = detail.lead_department.code.clone();
    let step_of = |kind: StepKind| detail.guide.steps.iter().find(|s| s.kind == kind);
    let accept = step_of(StepKind::Accept);
    let decide = step_of(StepKind::Decide);
    Process {
        accepting_department: accept
            .and_then(|s| s.department_code.clone())
            .unwrap_or_else(|| lead.clone()),
        accept_step: accept
            .map(|s| s.name.clone())
            .unwrap_or_else(|| "受理".to_owned()),
        deciding_department: decide
            .and_then(|s| s.department_code.clone())
            .unwrap_or_else(|| lead.clone()),
        decide_step: decide
            .map(|s| s.name.clone())
            .unwrap_or_else(|| "决定".to_owned()),
    }
}

/// The department steps the item's process runs after acceptance.
pub(super) struct StartStepsPlan {
    pub(super) steps: Vec<StepSpec>,
}

impl From<&ItemDetail> for StartStepsPlan {
    fn from(detail: &ItemDetail) -> Self {
        let lead = &detail.lead_department.code;
        let mut steps: Vec<StepSpec> = detail
            .guide
            .steps
            .iter()
            .filter(|s| s.kind == StepKind::Review || s.kind.is_special())
            .map(|s| StepSpec {
                department: s.department_code.clone().unwrap_or_else(|| lead.clone()),
                name: s.name.clone(),
                stage: s.stage,
                special: SpecialStep::of_step_kind(s.kind),
                limit_days: s.limit_days,
            })
            .collect();
        if !steps.iter().any(|s| s.special.is_none()) {
            // An item without a review step (即办件) is reviewed by its lead department, in the
            // first stage (before any special step the guide places later).
            steps.insert(
                0,
                StepSpec {
                    department: lead.clone(),
                    name: "审查".to_owned(),
                    stage: 1,
                    special: None,
                    limit_days: 0,
                },
            );
        }
        StartStepsPlan { steps }
    }
}

/// Every department the item's process involves.
pub(super) fn involved_departments(detail: &ItemDetail) -> Vec<String> {
    let mut codes = vec![detail.lead_department.code.clone()];
    codes.extend(detail.guide.co_department_codes.iter().cloned());
    codes.extend(
        detail
            .guide
            .steps
            .iter()
            .filter_map(|s| s.department_code.clone()),
    );
    codes.sort();
    codes.dedup();
    codes
}

/// Codes → ids, from the department room.
pub(super) async fn department_ids(
    client: &impl GenericClient,
    codes: &[String],
) -> AppResult<HashMap<String, Uuid>> {
    let ids = crate::department::store::ids_by_code(client, codes).await?;
    Ok(ids.into_iter().collect())
}

pub(super) async fn department_id(client: &impl GenericClient, code: &str) -> AppResult<Uuid> {
    department_ids(client, &[code.to_owned()])
        .await?
        .get(code)
        .copied()
        .ok_or_else(|| anyhow::anyhow!("the item's department {code} is missing").into())
}

/// The (department, role, step) combinations that may take `action` on a case in `state`.
pub(super) fn candidates_for(action: &Action, state: &CaseState, process: &Process) -> Vec<Task> {
    let accepting = || {
        let department = match &state.stage {
            Stage::PreReview { department } | Stage::AwaitingCorrection { department, .. } => {
                department.clone()
            }
            _ => process.accepting_department.clone(),
        };
        Task {
            department,
            role: Role::WindowClerk,
            step: process.accept_step.clone(),
        }
    };
    let deciding = || Task {
        department: process.deciding_department.clone(),
        role: Role::Approver,
        step: process.decide_step.clone(),
    };
    match action {
        Action::PreReviewStart { .. }
        | Action::RequestCorrection { .. }
        | Action::Accept { .. }
        | Action::Reject { .. }
        | Action::SupplyDeferred { .. }
        | Action::StartSteps { .. } => vec![accepting()],
        Action::CompleteStep { department, name } => vec![Task {
            department: department.trim().to_owned(),
            role: Role::Reviewer,
            step: name.trim().to_owned(),
        }],
        Action::Suspend { .. } | Action::Resume => {
            let mut candidates = vec![deciding()];
            let review = match &state.stage {
                Stage::InReview(review) => Some(review),
                Stage::Suspended {
                    resume_to: crate::cases::model::ResumeStage::InReview(review),
                    ..
                } => Some(review),
                _ => None,
            };
            if let Some(review) = review {
                candidates.extend(
                    review
                        .steps
                        .iter()
                        .filter(|s| s.status == crate::cases::model::StepStatus::Running)
                        .map(|s| Task {
                            department: s.department.clone(),
                            role: Role::Reviewer,
                            step: s.name.clone(),
                        }),
                );
            }
            candidates
        }
        Action::Extend { .. }
        | Action::ExtendSuspension { .. }
        | Action::ContinueDespiteCancellation { .. }
        | Action::Terminate { .. }
        | Action::Approve
        | Action::Deny { .. } => {
            vec![deciding()]
        }
        Action::AnswerCorrection | Action::Withdraw { .. } => Vec::new(),
    }
}
