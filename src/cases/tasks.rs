//! Who must act on a case now: the staff tasks (the inbox) and the applicant's next step, both
//! derived from the case's state so they can never disagree with it.

use serde::Serialize;

use super::model::{CaseState, Stage, StepStatus};
use crate::identity::model::Role;

/// The item's process as a case needs it: who accepts, who decides, and the step names staff
/// grants may be narrowed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// The department code handling acceptance (the item's 受理 step, else the lead department).
    pub accepting_department: String,
    /// The 受理 step's name.
    pub accept_step: String,
    /// The department code deciding (the item's 办结 step, else the lead department).
    pub deciding_department: String,
    /// The 办结 step's name.
    pub decide_step: String,
}

/// One thing staff of a department, in a role, must do on a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Task {
    pub department: String,
    pub role: Role,
    /// The item step the task belongs to (grants narrowed to a step match this name).
    pub step: String,
}

impl Task {
    fn new(department: &str, role: Role, step: &str) -> Task {
        Task {
            department: department.to_owned(),
            role,
            step: step.to_owned(),
        }
    }

    /// The inbox index entry (`<department code>:<role>`).
    pub fn index_entry(&self) -> String {
        format!("{}:{}", self.department, self.role.as_str())
    }
}

/// The staff tasks a case in `state` is waiting on.
pub fn staff_tasks(state: &CaseState, process: &Process) -> Vec<Task> {
    match &state.stage {
        Stage::Submitted => vec![Task::new(
            &process.accepting_department,
            Role::WindowClerk,
            &process.accept_step,
        )],
        Stage::PreReview { department } => {
            vec![Task::new(
                department,
                Role::WindowClerk,
                &process.accept_step,
            )]
        }
        Stage::Accepted => vec![Task::new(
            &process.deciding_department,
            Role::Approver,
            &process.decide_step,
        )],
        Stage::InReview(review) => {
            let running: Vec<Task> = review
                .steps
                .iter()
                .filter(|s| s.status == StepStatus::Running)
                .map(|s| Task::new(&s.department, Role::Reviewer, &s.name))
                .collect();
            if review.all_completed() {
                vec![Task::new(
                    &process.deciding_department,
                    Role::Approver,
                    &process.decide_step,
                )]
            } else {
                running
            }
        }
        // Resuming is for whoever may suspend: the deciding department's approvers (and the
        // reviewers of the steps that were running, who see the case in their inbox too).
        Stage::Suspended { resume_to, .. } => {
            let mut tasks = vec![Task::new(
                &process.deciding_department,
                Role::Approver,
                &process.decide_step,
            )];
            if let super::model::ResumeStage::InReview(review) = resume_to {
                tasks.extend(
                    review
                        .steps
                        .iter()
                        .filter(|s| s.status == StepStatus::Running)
                        .map(|s| Task::new(&s.department, Role::Reviewer, &s.name)),
                );
            }
            tasks
        }
        Stage::AwaitingCorrection { .. }
        | Stage::DecidedApproved
        | Stage::DecidedDenied { .. }
        | Stage::Rejected { .. }
        | Stage::Terminated { .. }
        | Stage::Withdrawn { .. } => Vec::new(),
    }
}

/// What the applicant must do now, if anything: a stable code for the app.
pub fn applicant_todo(state: &CaseState) -> Option<&'static str> {
    match &state.stage {
        Stage::AwaitingCorrection { .. } => Some("answer_correction"),
        _ if state.is_terminal() => None,
        _ if state
            .acceptance
            .as_ref()
            .is_some_and(|a| !a.pending.is_empty()) =>
        {
            Some("supply_deferred")
        }
        _ => None,
    }
}

/// The Chinese label of a stage, for people.
pub fn stage_label(stage: &Stage) -> &'static str {
    match stage {
        Stage::Submitted => "已提交",
        Stage::PreReview { .. } => "预审中",
        Stage::AwaitingCorrection { .. } => "待补正",
        Stage::Accepted => "已受理",
        Stage::InReview(_) => "审查中",
        Stage::Suspended { .. } => "特殊环节（暂停计时）",
        // Neutral for every category (a 低保 is 准予给付, not 准予许可): the decision's own words
        // are in its sealed document.
        Stage::DecidedApproved => "已办结（准予）",
        Stage::DecidedDenied { .. } => "已办结（不予）",
        Stage::Rejected { .. } => "不予受理",
        Stage::Terminated { .. } => "已终止",
        Stage::Withdrawn { .. } => "已撤回",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cases::model::{Review, Step};

    fn process() -> Process {
        Process {
            accepting_department: "TOWN".to_owned(),
            accept_step: "受理".to_owned(),
            deciding_department: "LEAD".to_owned(),
            decide_step: "决定".to_owned(),
        }
    }

    fn step(department: &str, status: StepStatus) -> Step {
        Step {
            department: department.to_owned(),
            name: "审查".to_owned(),
            stage: 1,
            status,
            special: None,
            limit_days: 0,
        }
    }

    #[test]
    fn pre_review_waits_on_the_accepting_clerks() {
        let mut state = CaseState::submitted();
        state.stage = Stage::PreReview {
            department: "TOWN".to_owned(),
        };
        let tasks = staff_tasks(&state, &process());
        assert_eq!(tasks, vec![Task::new("TOWN", Role::WindowClerk, "受理")]);
        assert_eq!(tasks[0].index_entry(), "TOWN:window_clerk");
        assert_eq!(applicant_todo(&state), None);
    }

    #[test]
    fn parallel_steps_wait_on_each_running_department_then_on_the_approver() {
        let mut state = CaseState::submitted();
        state.stage = Stage::InReview(Review {
            steps: vec![
                step("A", StepStatus::Running),
                step("B", StepStatus::Running),
            ],
        });
        let departments: Vec<String> = staff_tasks(&state, &process())
            .into_iter()
            .map(|t| t.department)
            .collect();
        assert_eq!(departments, vec!["A", "B"]);
        state.stage = Stage::InReview(Review {
            steps: vec![
                step("A", StepStatus::Completed),
                step("B", StepStatus::Completed),
            ],
        });
        assert_eq!(
            staff_tasks(&state, &process()),
            vec![Task::new("LEAD", Role::Approver, "决定")]
        );
    }

    #[test]
    fn a_correction_waits_on_the_applicant_only() {
        let mut state = CaseState::submitted();
        state.stage = Stage::AwaitingCorrection {
            department: "TOWN".to_owned(),
            missing: vec![crate::cases::model::CorrectionItem::of("id_card", "")],
        };
        assert!(staff_tasks(&state, &process()).is_empty());
        assert_eq!(applicant_todo(&state), Some("answer_correction"));
    }
}
