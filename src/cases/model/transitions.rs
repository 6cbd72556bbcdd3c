//! The one pure function that decides every change of a case's state, [`transition`], and the
//! checks it applies to what an action carries (reasons, lists, steps).

use super::*;

/// Applies `action` by `actor` to `state`. Checks, in order: the actor may take the action at
/// all (403), the case is not closed and the action applies to its stage (409), the action's
/// content is valid (422). Texts are stored trimmed.
pub fn transition(
    state: &CaseState,
    action: &Action,
    actor: &ActorKind,
) -> Result<Transition, TransitionError> {
    if !action.permitted_actors().contains(actor) {
        return Err(TransitionError::Forbidden {
            action: action.name(),
            actor: *actor,
        });
    }
    if state.is_terminal() {
        return Err(TransitionError::Terminal {
            stage: state.stage.name(),
        });
    }
    let not_here = || TransitionError::NotInThisStage {
        action: action.name(),
        stage: state.stage.name(),
    };
    let mut next = state.clone();
    let events = match (action, &state.stage) {
        (Action::PreReviewStart { department }, Stage::Submitted) => {
            let department = required(department, TransitionError::BlankDepartment)?;
            next.stage = Stage::PreReview {
                department: department.clone(),
            };
            vec![Event::PreReviewStarted { department }]
        }
        (Action::RequestCorrection { missing }, Stage::PreReview { department }) => {
            let missing = correction_list(missing)?;
            next.correction_count = state.correction_count.saturating_add(1);
            next.stage = Stage::AwaitingCorrection {
                department: department.clone(),
                missing: missing.clone(),
            };
            vec![Event::CorrectionRequested {
                department: department.clone(),
                missing,
                notice_number: next.correction_count,
            }]
        }
        // [000 art.19]: the department that asked reviews the answer.
        (Action::AnswerCorrection, Stage::AwaitingCorrection { department, .. }) => {
            next.stage = Stage::PreReview {
                department: department.clone(),
            };
            vec![Event::CorrectionAnswered {
                department: department.clone(),
            }]
        }
        (
            Action::Accept {
                deferred,
                commitment,
            },
            Stage::PreReview { .. },
        ) => {
            let deferred = deferred_list(deferred)?;
            next.stage = Stage::Accepted;
            next.acceptance = Some(Acceptance {
                pending: deferred.clone(),
                supplied: Vec::new(),
                commitment: *commitment,
                deemed: None,
            });
            vec![Event::Accepted {
                deferred,
                commitment: *commitment,
            }]
        }
        (Action::Reject { reason }, Stage::PreReview { .. }) => {
            let reason = required(reason, TransitionError::BlankRejectReason)?;
            next.stage = Stage::Rejected {
                reason: reason.clone(),
            };
            vec![Event::Rejected { reason }]
        }
        (Action::StartSteps { steps }, Stage::Accepted) => {
            let specs = step_list(steps)?;
            let mut review = Review {
                steps: specs
                    .iter()
                    .map(|spec| Step {
                        department: spec.department.clone(),
                        name: spec.name.clone(),
                        stage: spec.stage,
                        status: StepStatus::Waiting,
                        special: spec.special,
                        limit_days: spec.limit_days,
                    })
                    .collect(),
            };
            let mut events = vec![Event::StepsStarted { steps: specs }];
            events.extend(open_next_stage(&mut review));
            next.stage = Stage::InReview(review);
            events
        }
        (Action::CompleteStep { department, name }, Stage::InReview(review)) => {
            let (review, events) = complete_step(review, department, name)?;
            next.stage = Stage::InReview(review);
            events
        }
        (
            Action::SupplyDeferred { material },
            Stage::Accepted | Stage::InReview(_) | Stage::Suspended { .. },
        ) => {
            let material = material.trim();
            let mut acceptance = state.acceptance.clone().unwrap_or_default();
            let index = acceptance
                .pending
                .iter()
                .position(|d| d.material == material)
                .ok_or_else(|| TransitionError::UnknownDeferredMaterial(material.to_owned()))?;
            let supplied = acceptance.pending.remove(index);
            acceptance.supplied.push(supplied);
            next.acceptance = Some(acceptance);
            vec![Event::DeferredSupplied {
                material: material.to_owned(),
            }]
        }
        (
            Action::Suspend {
                kind,
                reason,
                expected_end,
            },
            Stage::Accepted | Stage::InReview(_),
        ) => {
            let reason = required(reason, TransitionError::BlankSuspendReason)?;
            let resume_to = match &state.stage {
                Stage::InReview(review) => ResumeStage::InReview(review.clone()),
                _ => ResumeStage::Accepted,
            };
            next.stage = Stage::Suspended {
                resume_to,
                kind: *kind,
                reason: reason.clone(),
                expected_end: *expected_end,
            };
            vec![Event::Suspended {
                special_step: *kind,
                reason,
                expected_end: *expected_end,
            }]
        }
        (
            Action::ContinueDespiteCancellation { legal_basis },
            Stage::Accepted | Stage::InReview(_) | Stage::Suspended { .. },
        ) => {
            let legal_basis = required(legal_basis, TransitionError::BlankLegalBasis)?;
            vec![Event::ContinuedDespiteCancellation { legal_basis }]
        }
        (
            Action::ExtendSuspension {
                reason,
                expected_end,
            },
            Stage::Suspended {
                resume_to,
                kind,
                expected_end: current_end,
                ..
            },
        ) => {
            let reason = required(reason, TransitionError::BlankSuspendReason)?;
            if expected_end <= current_end {
                return Err(TransitionError::SuspensionExtensionNotLater {
                    current_end: *current_end,
                });
            }
            next.stage = Stage::Suspended {
                resume_to: resume_to.clone(),
                kind: *kind,
                reason: reason.clone(),
                expected_end: *expected_end,
            };
            vec![Event::SuspensionExtended {
                special_step: *kind,
                reason,
                expected_end: *expected_end,
            }]
        }
        (
            Action::Resume,
            Stage::Suspended {
                resume_to, kind, ..
            },
        ) => {
            next.stage = resume_to.clone().into_stage();
            vec![Event::Resumed {
                special_step: *kind,
            }]
        }
        (
            Action::Extend {
                reason,
                new_deadline,
            },
            Stage::Accepted | Stage::InReview(_) | Stage::Suspended { .. },
        ) => {
            let reason = required(reason, TransitionError::BlankExtendReason)?;
            // Whether the new deadline is after the computed one needs the calendar: the
            // service checks it with `clock::deadline_as_of`; here, only against the last
            // extension.
            if let Some(previous) = state.extended_to
                && *new_deadline <= previous
            {
                return Err(TransitionError::ExtensionNotLater {
                    new_deadline: *new_deadline,
                    previous,
                });
            }
            next.extended_to = Some(*new_deadline);
            vec![Event::Extended {
                reason,
                new_deadline: *new_deadline,
            }]
        }
        (Action::Terminate { reason }, _) => {
            let reason = required(reason, TransitionError::BlankTerminateReason)?;
            next.stage = Stage::Terminated {
                reason: reason.clone(),
            };
            vec![Event::Terminated { reason }]
        }
        (Action::Withdraw { reason }, _) => {
            let reason = match reason {
                Some(reason) => Some(required(reason, TransitionError::BlankWithdrawReason)?),
                None => None,
            };
            next.stage = Stage::Withdrawn {
                reason: reason.clone(),
            };
            vec![Event::Withdrawn { reason }]
        }
        (Action::Approve, Stage::InReview(review)) => {
            decidable(review)?;
            if state
                .acceptance
                .as_ref()
                .is_some_and(|a| !a.pending.is_empty())
            {
                // 容缺受理: the result is not issued before the pending material arrives.
                return Err(TransitionError::DeferredMaterialsPending);
            }
            next.stage = Stage::DecidedApproved;
            vec![Event::Approved]
        }
        (Action::Deny { reasons, remedies }, Stage::InReview(review)) => {
            decidable(review)?;
            let reasons = required(reasons, TransitionError::BlankDenyReasons)?;
            let remedies = remedies.trim();
            if !REMEDY_TERMS.iter().all(|term| remedies.contains(term)) {
                return Err(TransitionError::IncompleteRemedies);
            }
            next.stage = Stage::DecidedDenied {
                reasons: reasons.clone(),
                remedies: remedies.to_owned(),
            };
            vec![Event::Denied {
                reasons,
                remedies: remedies.to_owned(),
            }]
        }
        _ => return Err(not_here()),
    };
    Ok(Transition {
        state: next,
        events,
    })
}

/// The trimmed text, or `error` when it is blank.
fn required(text: &str, error: TransitionError) -> Result<String, TransitionError> {
    let text = text.trim();
    if text.is_empty() {
        Err(error)
    } else {
        Ok(text.to_owned())
    }
}

fn correction_list(missing: &[CorrectionItem]) -> Result<Vec<CorrectionItem>, TransitionError> {
    if missing.is_empty() {
        return Err(TransitionError::EmptyCorrectionList);
    }
    missing
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            Ok(CorrectionItem {
                material_key: required(
                    &entry.material_key,
                    TransitionError::BlankCorrectionEntry { index },
                )?,
                material_name: entry.material_name.trim().to_owned(),
                note: entry.note.trim().to_owned(),
            })
        })
        .collect()
}

fn deferred_list(deferred: &[DeferredMaterial]) -> Result<Vec<DeferredMaterial>, TransitionError> {
    let mut list: Vec<DeferredMaterial> = Vec::with_capacity(deferred.len());
    for (index, entry) in deferred.iter().enumerate() {
        let material = required(
            &entry.material,
            TransitionError::BlankDeferredMaterial { index },
        )?;
        if list.iter().any(|d| d.material == material) {
            return Err(TransitionError::DuplicateDeferredMaterial { index });
        }
        list.push(DeferredMaterial {
            material,
            due: entry.due,
        });
    }
    Ok(list)
}

fn step_list(steps: &[StepSpec]) -> Result<Vec<StepSpec>, TransitionError> {
    if steps.is_empty() {
        return Err(TransitionError::NoSteps);
    }
    let mut list: Vec<StepSpec> = Vec::with_capacity(steps.len());
    for (index, step) in steps.iter().enumerate() {
        let blank = TransitionError::BlankStep { index };
        let spec = StepSpec {
            department: required(&step.department, blank.clone())?,
            name: required(&step.name, blank)?,
            stage: step.stage,
            special: step.special,
            limit_days: step.limit_days,
        };
        if list
            .iter()
            .any(|s| s.department == spec.department && s.name == spec.name)
        {
            return Err(TransitionError::DuplicateStep { index });
        }
        list.push(spec);
    }
    Ok(list)
}

/// Opens the lowest stage that still has waiting steps, once no step is running; returns the
/// `StepStarted` events.
fn open_next_stage(review: &mut Review) -> Vec<Event> {
    if review.steps.iter().any(|s| s.status == StepStatus::Running) {
        return Vec::new();
    }
    let Some(stage) = review.current_stage() else {
        return Vec::new();
    };
    review
        .steps
        .iter_mut()
        .filter(|s| s.stage == stage && s.status == StepStatus::Waiting)
        .map(|step| {
            step.status = StepStatus::Running;
            Event::StepStarted {
                department: step.department.clone(),
                name: step.name.clone(),
            }
        })
        .collect()
}

fn complete_step(
    review: &Review,
    department: &str,
    name: &str,
) -> Result<(Review, Vec<Event>), TransitionError> {
    let (department, name) = (department.trim(), name.trim());
    let index = review
        .steps
        .iter()
        .position(|s| s.department == department && s.name == name)
        .ok_or_else(|| TransitionError::UnknownStep {
            department: department.to_owned(),
            name: name.to_owned(),
        })?;
    let mut review = review.clone();
    let mut events = Vec::with_capacity(2);
    match review.steps.get_mut(index) {
        Some(step) if step.status == StepStatus::Running => {
            step.status = StepStatus::Completed;
            events.push(Event::StepCompleted {
                department: step.department.clone(),
                name: step.name.clone(),
            });
        }
        _ => {
            return Err(TransitionError::StepNotRunning {
                department: department.to_owned(),
                name: name.to_owned(),
            });
        }
    }
    // The next stage opens when the last step of this one completes.
    events.extend(open_next_stage(&mut review));
    Ok((review, events))
}

fn decidable(review: &Review) -> Result<(), TransitionError> {
    if review.all_completed() {
        Ok(())
    } else {
        Err(TransitionError::StepsIncomplete)
    }
}
