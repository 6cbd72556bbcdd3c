//! How the case service answers what it refuses: a case the caller may not see, a refused
//! transition, field errors (one kind keeps its own code), a lost race, a clock that cannot count.

use super::*;

/// A 404 that says nothing about whether the case exists.
pub(super) fn case_not_found() -> AppError {
    AppError::new(CaseProblem::CaseNotFound, "no such case")
}

/// The problem for a refused transition.
pub fn transition_problem(error: TransitionError) -> AppError {
    let kind = error.problem();
    let detail = error.to_string();
    match error.class() {
        ErrorClass::Forbidden | ErrorClass::Conflict => AppError::new(kind, detail),
        ErrorClass::Invalid => AppError::invalid(
            kind,
            vec![FieldError::new(
                error.field().unwrap_or_else(|| "body".to_owned()),
                kind.code(),
                detail,
            )],
        ),
    }
}

pub(super) fn invalid(errors: Vec<FieldError>) -> AppResult<()> {
    match errors.len() {
        0 => Ok(()),
        _ => {
            // One kind of error (say, two missing materials) keeps its own code.
            let kind = if errors.iter().all(|e| e.code == errors[0].code) {
                stable_kind(&errors[0].code)
            } else {
                HttpProblem::ValidationFailed.into()
            };
            Err(AppError::invalid(kind, errors))
        }
    }
}

/// The problem whose code is the field error code used here, for the problem's top-level code.
pub(super) fn stable_kind(code: &str) -> ProblemKind {
    match code {
        "unknown_material" => CaseProblem::UnknownMaterial.into(),
        "duplicate_material" => CaseProblem::DuplicateMaterial.into(),
        "files_required" => CaseProblem::FilesRequired.into(),
        "too_many_files" => CaseProblem::TooManyFiles.into(),
        "file_not_found" => CaseProblem::FileNotFoundInvalid.into(),
        "file_type_not_allowed" => CaseProblem::FileTypeNotAllowed.into(),
        "materials_missing" => CaseProblem::MaterialsMissing.into(),
        "form_invalid" => CaseProblem::FormInvalid.into(),
        "form_too_large" => CaseProblem::FormTooLarge.into(),
        "item_not_found" => CaseProblem::ItemNotFound.into(),
        "deferred_key_material" => CaseProblem::DeferredKeyMaterial.into(),
        "deferred_due_past" => CaseProblem::DeferredDuePast.into(),
        "expected_end_past" => CaseProblem::ExpectedEndPast.into(),
        "occurred_at_future" => CaseProblem::OccurredAtFuture.into(),
        "occurred_at_too_old" => CaseProblem::OccurredAtTooOld.into(),
        "materials_required" => CaseProblem::MaterialsRequired.into(),
        "required" => HttpProblem::Required.into(),
        "invalid_phone" => IdentityProblem::InvalidPhone.into(),
        "invalid_id_number" => CaseProblem::InvalidIdNumber.into(),
        "invalid_credit_code" => CaseProblem::InvalidCreditCode.into(),
        "invalid_name" => IdentityProblem::InvalidName.into(),
        _ => HttpProblem::ValidationFailed.into(),
    }
}

pub(super) fn revision_conflict(current: i32) -> AppError {
    AppError::new(
        CaseProblem::CaseRevisionConflict,
        format!(
            "the case changed meanwhile (now at revision {current}); reload it and decide again"
        ),
    )
}

pub(super) fn clock_problem(error: clock::ClockError) -> AppError {
    AppError::new(error.problem(), error.to_string())
}

/// A role a task needs, for a refusal that names it.
fn required_role(task: &Task) -> RequiredRole {
    RequiredRole {
        role: task.role.as_str().to_owned(),
        role_name: task.role.label().to_owned(),
        department_code: Some(task.department.clone()),
        step: Some(task.step.clone()),
    }
}

/// The refusal `kind`, explained by `why`, to a staff member who holds none of the roles
/// `tasks` need: the detail names each (需要审批人员（approver）角色), `required_roles` lists
/// them for machines.
pub(super) fn role_needed(kind: CaseProblem, why: &str, tasks: &[Task]) -> AppError {
    if tasks.is_empty() {
        return AppError::role_required(
            kind,
            format!("{why}: it is the applicant's (申请人) to take"),
            Vec::new(),
        );
    }
    let needs: Vec<String> = tasks
        .iter()
        .map(|t| {
            format!(
                "需要{}（{}）角色 in department {} for step {}",
                t.role.label(),
                t.role.as_str(),
                t.department,
                t.step
            )
        })
        .collect();
    AppError::role_required(
        kind,
        format!("{why}: {}", needs.join(", or ")),
        tasks.iter().map(required_role).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_role_refusal_names_the_role_department_and_step_needed() {
        let task = Task {
            department: "DA-SCJG".to_owned(),
            role: Role::Approver,
            step: "决定".to_owned(),
        };
        let problem =
            role_needed(CaseProblem::CaseActionForbidden, "no role may", &[task]).to_problem();
        assert_eq!(problem.code, "case_action_forbidden");
        assert!(
            problem.detail.contains("需要审批人员（approver）角色"),
            "{}",
            problem.detail
        );
        assert!(problem.detail.contains("DA-SCJG"), "{}", problem.detail);
        assert_eq!(problem.required_roles.len(), 1);
        assert_eq!(problem.required_roles[0].role, "approver");
        assert_eq!(problem.required_roles[0].role_name, "审批人员");
        assert_eq!(problem.required_roles[0].step.as_deref(), Some("决定"));
    }
}
