//! Tests of the case state machine: one per rule, then random action sequences.

use super::*;
use ActorKind::*;
use proptest::prelude::*;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn s(text: &str) -> String {
    text.to_owned()
}

/// A correction entry for material `key` with no note.
fn c(key: &str) -> CorrectionItem {
    CorrectionItem::of(key, "")
}

fn step(department: &str, name: &str, stage: u32) -> StepSpec {
    StepSpec {
        department: s(department),
        name: s(name),
        stage,
        special: None,
        limit_days: 0,
    }
}

/// Two steps, D01 审查 then D02 会审, in two stages (serial) or one (parallel).
#[derive(Debug, Clone, Copy)]
enum StepMode {
    Serial,
    Parallel,
}

fn two_steps(mode: StepMode) -> Vec<StepSpec> {
    let second = match mode {
        StepMode::Serial => 2,
        StepMode::Parallel => 1,
    };
    vec![step("D01", "审查", 1), step("D02", "会审", second)]
}

fn apply(state: &CaseState, action: Action, actor: ActorKind) -> CaseState {
    transition(state, &action, &actor)
        .unwrap_or_else(|e| panic!("{} by {actor:?} refused: {e}", action.name()))
        .state
}

fn refuse(state: &CaseState, action: Action, actor: ActorKind) -> TransitionError {
    transition(state, &action, &actor).unwrap_err()
}

fn pre_review() -> CaseState {
    apply(
        &CaseState::submitted(),
        Action::PreReviewStart {
            department: s("D01"),
        },
        System,
    )
}

fn accepted() -> CaseState {
    apply(
        &pre_review(),
        Action::Accept {
            deferred: vec![],
            commitment: false,
        },
        WindowClerk,
    )
}

fn in_review(mode: StepMode) -> CaseState {
    apply(
        &accepted(),
        Action::StartSteps {
            steps: two_steps(mode),
        },
        System,
    )
}

fn complete(state: &CaseState, department: &str) -> CaseState {
    let name = if department == "D01" {
        "审查"
    } else {
        "会审"
    };
    apply(
        state,
        Action::CompleteStep {
            department: s(department),
            name: s(name),
        },
        Reviewer,
    )
}

fn reviewed() -> CaseState {
    complete(&complete(&in_review(StepMode::Parallel), "D02"), "D01")
}

fn statuses(state: &CaseState) -> Vec<StepStatus> {
    match &state.stage {
        Stage::InReview(review) => review.steps.iter().map(|s| s.status).collect(),
        other => panic!("not in review: {other:?}"),
    }
}

#[test]
fn the_standard_remedies_name_both_remedies_and_their_limits() {
    assert!(STANDARD_REMEDIES.contains("六十日内"));
    assert!(STANDARD_REMEDIES.contains("行政复议"));
    assert!(STANDARD_REMEDIES.contains("六个月内"));
    assert!(STANDARD_REMEDIES.contains("行政诉讼"));
}

#[test]
fn full_journey_with_correction_serial_steps_suspension_and_approval() {
    let state = pre_review();
    let t = transition(
        &state,
        &Action::RequestCorrection {
            missing: vec![c(" 营业执照副本 "), c("法定代表人身份证明")],
        },
        &WindowClerk,
    )
    .unwrap();
    assert_eq!(t.state.correction_count, 1);
    assert_eq!(
        t.events,
        vec![Event::CorrectionRequested {
            department: s("D01"),
            missing: vec![c("营业执照副本"), c("法定代表人身份证明")],
            notice_number: 1,
        }]
    );
    let state = apply(&t.state, Action::AnswerCorrection, Applicant);
    assert_eq!(
        state.stage,
        Stage::PreReview {
            department: s("D01")
        }
    );
    let state = apply(
        &state,
        Action::Accept {
            deferred: vec![],
            commitment: true,
        },
        WindowClerk,
    );
    assert_eq!(state.stage, Stage::Accepted);
    assert!(state.acceptance.as_ref().unwrap().commitment);
    let t = transition(
        &state,
        &Action::StartSteps {
            steps: two_steps(StepMode::Serial),
        },
        &System,
    )
    .unwrap();
    assert_eq!(t.events.len(), 2);
    assert_eq!(t.events[1].kind(), "step_started");
    let state = t.state;
    assert_eq!(statuses(&state), [StepStatus::Running, StepStatus::Waiting]);
    let state = apply(
        &state,
        Action::Suspend {
            kind: SpecialStep::SiteInspection,
            reason: s("现场踏勘"),
            expected_end: d("2026-03-10"),
        },
        Reviewer,
    );
    assert_eq!(state.stage.name(), "suspended");
    let state = apply(&state, Action::Resume, Reviewer);
    assert_eq!(statuses(&state), [StepStatus::Running, StepStatus::Waiting]);
    let t = transition(
        &state,
        &Action::CompleteStep {
            department: s("D01"),
            name: s("审查"),
        },
        &Reviewer,
    )
    .unwrap();
    assert_eq!(
        t.events.iter().map(Event::kind).collect::<Vec<_>>(),
        ["step_completed", "step_started"]
    );
    let state = complete(&t.state, "D02");
    let t = transition(&state, &Action::Approve, &Approver).unwrap();
    assert_eq!(t.state.stage, Stage::DecidedApproved);
    assert_eq!(t.events, vec![Event::Approved]);
    assert_eq!(t.state.correction_count, 1);
}

#[test]
fn a_correction_answer_returns_to_the_department_that_asked() {
    let state = apply(
        &CaseState::submitted(),
        Action::PreReviewStart {
            department: s("LEAD-7"),
        },
        WindowClerk,
    );
    let state = apply(
        &state,
        Action::RequestCorrection {
            missing: vec![c("x")],
        },
        WindowClerk,
    );
    let t = transition(&state, &Action::AnswerCorrection, &Applicant).unwrap();
    assert_eq!(
        t.state.stage,
        Stage::PreReview {
            department: s("LEAD-7")
        }
    );
    assert_eq!(
        t.events,
        vec![Event::CorrectionAnswered {
            department: s("LEAD-7")
        }]
    );
}

#[test]
fn a_correction_notice_lists_everything_and_repeated_notices_are_counted() {
    let state = pre_review();
    assert_eq!(
        refuse(
            &state,
            Action::RequestCorrection { missing: vec![] },
            WindowClerk
        ),
        TransitionError::EmptyCorrectionList
    );
    let err = refuse(
        &state,
        Action::RequestCorrection {
            missing: vec![c("a"), c("  ")],
        },
        WindowClerk,
    );
    assert_eq!(err, TransitionError::BlankCorrectionEntry { index: 1 });
    assert_eq!(err.field().as_deref(), Some("missing[1].material_key"));
    // A second round is allowed but counted: supervision flags it [004 art.9(2)].
    let mut state = state;
    for round in 1..=3 {
        state = apply(
            &state,
            Action::RequestCorrection {
                missing: vec![c("a")],
            },
            WindowClerk,
        );
        assert_eq!(state.correction_count, round);
        state = apply(&state, Action::AnswerCorrection, Applicant);
    }
}

#[test]
fn deferred_materials_are_visible_and_block_approval_until_supplied() {
    let state = apply(
        &pre_review(),
        Action::Accept {
            deferred: vec![DeferredMaterial {
                material: s("M3"),
                due: d("2026-03-02"),
            }],
            commitment: false,
        },
        WindowClerk,
    );
    assert_eq!(state.acceptance.as_ref().unwrap().pending.len(), 1);
    let state = apply(
        &state,
        Action::StartSteps {
            steps: vec![step("D01", "审查", 1)],
        },
        System,
    );
    let state = complete(&state, "D01");
    assert_eq!(
        refuse(&state, Action::Approve, Approver),
        TransitionError::DeferredMaterialsPending
    );
    assert_eq!(
        refuse(
            &state,
            Action::SupplyDeferred { material: s("M9") },
            Applicant
        ),
        TransitionError::UnknownDeferredMaterial(s("M9"))
    );
    let state = apply(
        &state,
        Action::SupplyDeferred { material: s("M3") },
        WindowClerk,
    );
    let acceptance = state.acceptance.clone().unwrap();
    assert!(acceptance.pending.is_empty());
    assert_eq!(acceptance.supplied[0].material, "M3");
    apply(&state, Action::Approve, Approver);
}

#[test]
fn deferred_list_is_checked() {
    let material = |m: &str| DeferredMaterial {
        material: s(m),
        due: d("2026-03-02"),
    };
    let accept = |deferred| Action::Accept {
        deferred,
        commitment: false,
    };
    assert_eq!(
        refuse(&pre_review(), accept(vec![material(" ")]), WindowClerk),
        TransitionError::BlankDeferredMaterial { index: 0 }
    );
    assert_eq!(
        refuse(
            &pre_review(),
            accept(vec![material("M1"), material(" M1")]),
            WindowClerk
        ),
        TransitionError::DuplicateDeferredMaterial { index: 1 }
    );
}

#[test]
fn every_reason_bearing_action_refuses_a_blank_reason_with_its_own_error() {
    let blank = s(" \t\u{3000}");
    let cases = [
        (
            pre_review(),
            Action::Reject {
                reason: blank.clone(),
            },
            WindowClerk,
            TransitionError::BlankRejectReason,
        ),
        (
            accepted(),
            Action::Suspend {
                kind: SpecialStep::Hearing,
                reason: blank.clone(),
                expected_end: d("2026-05-01"),
            },
            Reviewer,
            TransitionError::BlankSuspendReason,
        ),
        (
            accepted(),
            Action::Extend {
                reason: blank.clone(),
                new_deadline: d("2026-05-01"),
            },
            Approver,
            TransitionError::BlankExtendReason,
        ),
        (
            accepted(),
            Action::Terminate {
                reason: blank.clone(),
            },
            Approver,
            TransitionError::BlankTerminateReason,
        ),
        (
            accepted(),
            Action::Withdraw {
                reason: Some(blank.clone()),
            },
            Applicant,
            TransitionError::BlankWithdrawReason,
        ),
        (
            reviewed(),
            Action::Deny {
                reasons: blank.clone(),
                remedies: s(STANDARD_REMEDIES),
            },
            Approver,
            TransitionError::BlankDenyReasons,
        ),
        (
            reviewed(),
            Action::Deny {
                reasons: s("不符合条件"),
                remedies: blank.clone(),
            },
            Approver,
            TransitionError::IncompleteRemedies,
        ),
        (
            reviewed(),
            Action::Deny {
                reasons: s("不符合条件"),
                remedies: s("可以申请行政复议。"),
            },
            Approver,
            TransitionError::IncompleteRemedies,
        ),
    ];
    let mut codes = std::collections::BTreeSet::new();
    for (state, action, actor, expected) in cases {
        let err = refuse(&state, action, actor);
        assert_eq!(err, expected);
        assert_eq!(err.class(), ErrorClass::Invalid);
        assert!(err.field().is_some());
        codes.insert(err.code());
    }
    assert_eq!(codes.len(), 7, "each blank reason has its own code");
    // Without a reason at all, a withdrawal is fine; reasons are stored trimmed.
    let state = apply(&accepted(), Action::Withdraw { reason: None }, Applicant);
    assert_eq!(state.stage, Stage::Withdrawn { reason: None });
    let state = apply(
        &pre_review(),
        Action::Reject {
            reason: s(" 不属于本部门职权范围 "),
        },
        WindowClerk,
    );
    assert_eq!(
        state.stage,
        Stage::Rejected {
            reason: s("不属于本部门职权范围")
        }
    );
}

#[test]
fn a_denial_carries_reasons_and_remedies() {
    let t = transition(
        &reviewed(),
        &Action::Deny {
            reasons: s("不符合规划要求"),
            remedies: s(STANDARD_REMEDIES),
        },
        &Approver,
    )
    .unwrap();
    assert_eq!(
        t.state.stage,
        Stage::DecidedDenied {
            reasons: s("不符合规划要求"),
            remedies: s(STANDARD_REMEDIES)
        }
    );
    assert_eq!(t.events[0].kind(), "denied");
}

#[test]
fn a_decision_needs_every_step_completed() {
    let state = in_review(StepMode::Parallel);
    assert_eq!(
        refuse(&state, Action::Approve, Approver),
        TransitionError::StepsIncomplete
    );
    let state = complete(&state, "D02");
    assert_eq!(
        statuses(&state),
        [StepStatus::Running, StepStatus::Completed]
    );
    assert_eq!(
        refuse(
            &state,
            Action::Deny {
                reasons: s("r"),
                remedies: s(STANDARD_REMEDIES)
            },
            Approver
        ),
        TransitionError::StepsIncomplete
    );
    // Not before the steps started either: an accepted case has no review yet.
    assert!(matches!(
        refuse(&accepted(), Action::Approve, Approver),
        TransitionError::NotInThisStage { .. }
    ));
}

#[test]
fn serial_steps_run_in_order_and_parallel_steps_together() {
    let state = in_review(StepMode::Serial);
    assert_eq!(
        refuse(
            &state,
            Action::CompleteStep {
                department: s("D02"),
                name: s("会审")
            },
            Reviewer
        ),
        TransitionError::StepNotRunning {
            department: s("D02"),
            name: s("会审")
        }
    );
    let state = complete(&state, "D01");
    assert_eq!(
        statuses(&state),
        [StepStatus::Completed, StepStatus::Running]
    );
    assert!(matches!(
        refuse(
            &state,
            Action::CompleteStep {
                department: s("D01"),
                name: s("审查")
            },
            Reviewer
        ),
        TransitionError::StepNotRunning { .. }
    ));
    assert!(matches!(
        refuse(
            &state,
            Action::CompleteStep {
                department: s("D03"),
                name: s("审查")
            },
            Reviewer
        ),
        TransitionError::UnknownStep { .. }
    ));
    assert_eq!(
        statuses(&in_review(StepMode::Parallel)),
        [StepStatus::Running, StepStatus::Running]
    );
}

#[test]
fn stages_run_in_ascending_order_with_parallel_steps_inside_a_stage() {
    // Listed out of order: the stage numbers decide, not the list.
    let state = apply(
        &accepted(),
        Action::StartSteps {
            steps: vec![
                step("D02", "会审", 20),
                step("D01", "受理审查", 10),
                step("D03", "会审", 20),
            ],
        },
        WindowClerk,
    );
    assert_eq!(
        statuses(&state),
        [
            StepStatus::Waiting,
            StepStatus::Running,
            StepStatus::Waiting
        ]
    );
    let t = transition(
        &state,
        &Action::CompleteStep {
            department: s("D01"),
            name: s("受理审查"),
        },
        &Reviewer,
    )
    .unwrap();
    assert_eq!(
        t.events.iter().map(Event::kind).collect::<Vec<_>>(),
        ["step_completed", "step_started", "step_started"]
    );
    let state = complete(&t.state, "D03");
    assert_eq!(
        statuses(&state),
        [
            StepStatus::Running,
            StepStatus::Completed,
            StepStatus::Completed
        ]
    );
    let state = complete(&state, "D02");
    apply(&state, Action::Approve, Approver);
}

#[test]
fn the_step_list_is_checked() {
    let start = |steps| Action::StartSteps { steps };
    assert_eq!(
        refuse(&accepted(), start(vec![]), System),
        TransitionError::NoSteps
    );
    assert_eq!(
        refuse(&accepted(), start(vec![step("D01", " ", 1)]), System),
        TransitionError::BlankStep { index: 0 }
    );
    assert_eq!(
        refuse(
            &accepted(),
            start(vec![step("D01", "a", 1), step("D01 ", "a", 2)]),
            System
        ),
        TransitionError::DuplicateStep { index: 1 }
    );
    assert_eq!(
        refuse(
            &CaseState::submitted(),
            Action::PreReviewStart { department: s(" ") },
            System
        ),
        TransitionError::BlankDepartment
    );
}

#[test]
fn suspension_remembers_where_to_resume_and_what_for() {
    let before = in_review(StepMode::Serial);
    let state = apply(
        &before,
        Action::Suspend {
            kind: SpecialStep::ExpertReview,
            reason: s("专家评审"),
            expected_end: d("2026-10-20"),
        },
        Approver,
    );
    match &state.stage {
        Stage::Suspended {
            resume_to,
            kind,
            reason,
            expected_end,
        } => {
            assert!(matches!(resume_to, ResumeStage::InReview(_)));
            assert_eq!(*kind, SpecialStep::ExpertReview);
            assert_eq!(reason, "专家评审");
            assert_eq!(*expected_end, d("2026-10-20"));
        }
        other => panic!("{other:?}"),
    }
    // No step moves and no second suspension while suspended.
    for action in [
        Action::CompleteStep {
            department: s("D01"),
            name: s("审查"),
        },
        Action::Suspend {
            kind: SpecialStep::Testing,
            reason: s("检测"),
            expected_end: d("2026-10-20"),
        },
    ] {
        assert!(matches!(
            refuse(&state, action, Reviewer),
            TransitionError::NotInThisStage { .. }
        ));
    }
    let t = transition(&state, &Action::Resume, &Reviewer).unwrap();
    assert_eq!(t.state.stage, before.stage);
    assert_eq!(
        t.events,
        vec![Event::Resumed {
            special_step: SpecialStep::ExpertReview
        }]
    );
    // An accepted case resumes as accepted; a case in pre-review cannot be suspended.
    let state = apply(
        &accepted(),
        Action::Suspend {
            kind: SpecialStep::PublicNotice,
            reason: s("公示"),
            expected_end: d("2026-10-20"),
        },
        Reviewer,
    );
    assert_eq!(
        apply(&state, Action::Resume, Approver).stage,
        Stage::Accepted
    );
    assert!(matches!(
        refuse(
            &pre_review(),
            Action::Suspend {
                kind: SpecialStep::PublicNotice,
                reason: s("公示"),
                expected_end: d("2026-10-20"),
            },
            Reviewer
        ),
        TransitionError::NotInThisStage { .. }
    ));
}

#[test]
fn extensions_only_move_later() {
    let extend = |day: &str| Action::Extend {
        reason: s("需要补充调查"),
        new_deadline: d(day),
    };
    let state = apply(&accepted(), extend("2026-04-01"), Approver);
    assert_eq!(state.extended_to, Some(d("2026-04-01")));
    assert_eq!(state.stage, Stage::Accepted);
    assert_eq!(
        refuse(&state, extend("2026-04-01"), Approver),
        TransitionError::ExtensionNotLater {
            new_deadline: d("2026-04-01"),
            previous: d("2026-04-01")
        }
    );
    let state = apply(&state, extend("2026-04-15"), Approver);
    assert_eq!(state.extended_to, Some(d("2026-04-15")));
}

#[test]
fn terminal_states_accept_nothing() {
    let terminals = [
        apply(&reviewed(), Action::Approve, Approver),
        apply(
            &reviewed(),
            Action::Deny {
                reasons: s("r"),
                remedies: s(STANDARD_REMEDIES),
            },
            Approver,
        ),
        apply(
            &pre_review(),
            Action::Reject { reason: s("r") },
            WindowClerk,
        ),
        apply(&accepted(), Action::Terminate { reason: s("r") }, System),
        apply(
            &CaseState::submitted(),
            Action::Withdraw { reason: None },
            Applicant,
        ),
    ];
    for state in terminals {
        assert!(state.is_terminal());
        // Withdrawal after a decision in particular is refused.
        let err = refuse(&state, Action::Withdraw { reason: None }, Applicant);
        assert!(matches!(err, TransitionError::Terminal { .. }), "{err:?}");
        assert_eq!(err.class(), ErrorClass::Conflict);
        for action in all_actions() {
            for actor in ActorKind::ALL {
                assert!(transition(&state, &action, &actor).is_err());
            }
        }
    }
}

#[test]
fn who_may_do_what() {
    let expect: [(&str, &[ActorKind]); 15] = [
        ("pre_review_start", &[WindowClerk, System]),
        ("request_correction", &[WindowClerk]),
        ("answer_correction", &[Applicant]),
        ("accept", &[WindowClerk]),
        ("reject", &[WindowClerk]),
        ("start_steps", &[WindowClerk, System]),
        ("complete_step", &[Reviewer]),
        ("supply_deferred", &[Applicant, WindowClerk]),
        ("suspend", &[Reviewer, Approver]),
        ("resume", &[Reviewer, Approver]),
        ("extend", &[Approver]),
        ("terminate", &[Approver, System]),
        ("withdraw", &[Applicant]),
        ("approve", &[Approver]),
        ("deny", &[Approver]),
    ];
    let actions = all_actions();
    assert_eq!(actions.len(), expect.len());
    for (action, (name, actors)) in actions.iter().zip(expect) {
        assert_eq!(action.name(), name);
        assert_eq!(action.permitted_actors(), actors, "{name}");
    }
    // The check comes first: a forbidden actor learns nothing about the case's stage.
    let err = refuse(&reviewed(), Action::Approve, Reviewer);
    assert_eq!(
        err,
        TransitionError::Forbidden {
            action: "approve",
            actor: Reviewer
        }
    );
    assert_eq!(err.class(), ErrorClass::Forbidden);
    assert_eq!(
        refuse(
            &pre_review(),
            Action::Accept {
                deferred: vec![],
                commitment: false
            },
            Applicant
        )
        .code(),
        "case_action_forbidden"
    );
    assert_eq!(ActorKind::from_role(Role::Approver), Some(Approver));
    assert_eq!(ActorKind::from_role(Role::Supervisor), None);
}

#[test]
fn states_actions_and_events_round_trip_through_json() {
    let state = apply(
        &in_review(StepMode::Serial),
        Action::Suspend {
            kind: SpecialStep::Testing,
            reason: s("检验检测"),
            expected_end: d("2026-10-20"),
        },
        Reviewer,
    );
    let json = serde_json::to_value(&state).unwrap();
    assert_eq!(json["stage"]["stage"], "suspended");
    assert_eq!(json["stage"]["resume_to"]["stage"], "in_review");
    assert_eq!(serde_json::from_value::<CaseState>(json).unwrap(), state);
    for action in all_actions() {
        let json = serde_json::to_value(&action).unwrap();
        assert_eq!(json["action"], action.name());
        assert_eq!(serde_json::from_value::<Action>(json).unwrap(), action);
    }
    let event = Event::CorrectionRequested {
        department: s("D01"),
        missing: vec![c("a")],
        notice_number: 2,
    };
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["kind"], event.kind());
    assert_eq!(serde_json::from_value::<Event>(json).unwrap(), event);
}

/// One action of each kind, valid where it applies, in declaration order.
fn all_actions() -> Vec<Action> {
    vec![
        Action::PreReviewStart {
            department: s("D01"),
        },
        Action::RequestCorrection {
            missing: vec![c("a")],
        },
        Action::AnswerCorrection,
        Action::Accept {
            deferred: vec![],
            commitment: false,
        },
        Action::Reject { reason: s("r") },
        Action::StartSteps {
            steps: vec![step("D01", "审查", 1)],
        },
        Action::CompleteStep {
            department: s("D01"),
            name: s("审查"),
        },
        Action::SupplyDeferred { material: s("M1") },
        Action::Suspend {
            kind: SpecialStep::SiteInspection,
            reason: s("r"),
            expected_end: d("2026-10-20"),
        },
        Action::Resume,
        Action::Extend {
            reason: s("r"),
            new_deadline: d("2026-12-01"),
        },
        Action::Terminate { reason: s("r") },
        Action::Withdraw { reason: None },
        Action::Approve,
        Action::Deny {
            reasons: s("r"),
            remedies: s(STANDARD_REMEDIES),
        },
    ]
}

// ---- Random action sequences ----

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["D01", "D02", "审查", "M1", "M2", " 理由 "]).prop_map(s),
        1 => prop::sample::select(vec!["", " ", "\u{3000}"]).prop_map(s),
    ]
}

fn date() -> impl Strategy<Value = NaiveDate> {
    (0u64..60).prop_map(|i| d("2026-02-01") + chrono::Days::new(i))
}

fn spec() -> impl Strategy<Value = StepSpec> {
    (
        prop::sample::select(vec!["D01", "D02", "D03"]),
        prop::sample::select(vec!["审查", "会审"]),
        0u32..3,
    )
        .prop_map(|(department, name, stage)| step(department, name, stage))
}

fn action() -> impl Strategy<Value = Action> {
    let kind = prop::sample::select(vec![
        SpecialStep::SiteInspection,
        SpecialStep::ExpertReview,
        SpecialStep::Hearing,
        SpecialStep::Testing,
        SpecialStep::PublicNotice,
    ]);
    let deferred =
        (prop::sample::select(vec!["M1", "M2", "M1", " "]), date()).prop_map(|(m, due)| {
            DeferredMaterial {
                material: s(m),
                due,
            }
        });
    let remedies = prop::sample::select(vec![STANDARD_REMEDIES, STANDARD_REMEDIES, "", "行政复议"])
        .prop_map(s);
    prop_oneof![
        4 => text().prop_map(|department| Action::PreReviewStart { department }),
        2 => prop::collection::vec(text(), 0..3).prop_map(|keys| Action::RequestCorrection { missing: keys.iter().map(|k| CorrectionItem::of(k, "")).collect() }),
        2 => Just(Action::AnswerCorrection),
        4 => (prop::collection::vec(deferred, 0..3), any::<bool>())
            .prop_map(|(deferred, commitment)| Action::Accept { deferred, commitment }),
        1 => text().prop_map(|reason| Action::Reject { reason }),
        4 => prop::collection::vec(spec(), 0..4).prop_map(|steps| Action::StartSteps { steps }),
        12 => spec().prop_map(|st| Action::CompleteStep { department: st.department, name: st.name }),
        3 => prop::sample::select(vec!["M1", "M2"]).prop_map(|m| Action::SupplyDeferred { material: s(m) }),
        2 => (kind, text(), date()).prop_map(|(kind, reason, expected_end)| Action::Suspend {
            kind,
            reason,
            expected_end
        }),
        3 => Just(Action::Resume),
        2 => (text(), date()).prop_map(|(reason, new_deadline)| Action::Extend { reason, new_deadline }),
        1 => text().prop_map(|reason| Action::Terminate { reason }),
        1 => prop::option::of(text()).prop_map(|reason| Action::Withdraw { reason }),
        4 => Just(Action::Approve),
        4 => (text(), remedies).prop_map(|(reasons, remedies)| Action::Deny { reasons, remedies }),
    ]
}

/// An action with either a random actor or (None) one permitted to take it, so that sequences
/// get deep into the case while still trying every actor.
fn steps() -> impl Strategy<Value = Vec<(Action, Option<ActorKind>)>> {
    let actor = prop::option::of(prop::sample::select(ActorKind::ALL.to_vec()));
    prop::collection::vec((action(), actor), 1..80)
}

fn reasons(stage: &Stage) -> Vec<&str> {
    match stage {
        Stage::Suspended { reason, .. }
        | Stage::Rejected { reason }
        | Stage::Terminated { reason }
        | Stage::Withdrawn {
            reason: Some(reason),
        } => vec![reason.as_str()],
        Stage::DecidedDenied { reasons, remedies } => vec![reasons.as_str(), remedies.as_str()],
        _ => vec![],
    }
}

fn event_reasons(event: &Event) -> Vec<&str> {
    match event {
        Event::Rejected { reason }
        | Event::Suspended { reason, .. }
        | Event::Extended { reason, .. }
        | Event::Terminated { reason }
        | Event::Withdrawn {
            reason: Some(reason),
        } => vec![reason.as_str()],
        Event::Denied { reasons, remedies } => vec![reasons.as_str(), remedies.as_str()],
        Event::CorrectionRequested { missing, .. } => missing
            .iter()
            .flat_map(|m| [m.material_key.as_str(), m.note.as_str()])
            .filter(|t| !t.is_empty())
            .collect(),
        _ => vec![],
    }
}

fn check_review(review: &Review) -> Result<(), TestCaseError> {
    prop_assert!(!review.steps.is_empty());
    // Earlier stages completed, the current one open (at least one step running), later ones
    // waiting.
    let Some(current) = review.current_stage() else {
        return Ok(());
    };
    for step in &review.steps {
        let expected: &[StepStatus] = match step.stage.cmp(&current) {
            std::cmp::Ordering::Less => &[StepStatus::Completed],
            std::cmp::Ordering::Equal => &[StepStatus::Running, StepStatus::Completed],
            std::cmp::Ordering::Greater => &[StepStatus::Waiting],
        };
        prop_assert!(expected.contains(&step.status), "{:?}", review);
    }
    prop_assert!(
        review.steps.iter().any(|s| s.status == StepStatus::Running),
        "review stalled: {:?}",
        review
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn prop_random_sequences_keep_the_invariants(sequence in steps()) {
        let mut state = CaseState::submitted();
        let mut passed_acceptance = false;
        for (action, actor) in sequence {
            let actor = actor
                .or_else(|| action.permitted_actors().first().copied())
                .unwrap();
            let before = state.clone();
            let result = transition(&before, &action, &actor);
            // No transition leaves a terminal state.
            if before.is_terminal() {
                prop_assert!(result.is_err());
            }
            let Ok(t) = result else { continue };
            prop_assert!(action.permitted_actors().contains(&actor));
            prop_assert!(!t.events.is_empty());
            // The correction count only increases, by one per notice.
            let notice = matches!(action, Action::RequestCorrection { .. });
            prop_assert_eq!(
                t.state.correction_count,
                before.correction_count + u32::from(notice)
            );
            // Acceptance terms, once set, stay.
            if before.acceptance.is_some() {
                prop_assert!(t.state.acceptance.is_some());
            }
            if t.state.stage == Stage::Accepted {
                passed_acceptance = true;
            }
            // A decided case passed through acceptance, with every step completed.
            if t.state.stage.is_decided() {
                prop_assert!(passed_acceptance);
                prop_assert!(t.state.acceptance.is_some());
                match &before.stage {
                    Stage::InReview(review) => prop_assert!(review.all_completed()),
                    other => prop_assert!(false, "decided from {:?}", other),
                }
            }
            // A suspended case remembers a non-terminal stage to resume into.
            if let Stage::Suspended { resume_to, .. } = &t.state.stage {
                let resume = resume_to.clone().into_stage();
                prop_assert!(!resume.is_terminal());
                prop_assert!(!matches!(resume, Stage::Suspended { .. }), "{:?}", resume);
            }
            if let Stage::InReview(review) = &t.state.stage {
                check_review(review)?;
            }
            // Every accepted reason is non-empty and trimmed.
            for text in reasons(&t.state.stage).into_iter().chain(t.events.iter().flat_map(event_reasons)) {
                prop_assert!(!text.trim().is_empty());
                prop_assert_eq!(text.trim(), text);
            }
            // Extensions only ever move later.
            if let (Some(old), Some(new)) = (before.extended_to, t.state.extended_to) {
                prop_assert!(new >= old);
            }
            state = t.state;
        }
    }

    #[test]
    fn prop_refusals_name_a_field_exactly_when_invalid(
        sequence in steps(),
        probe in action(),
        actor in prop::sample::select(ActorKind::ALL.to_vec()),
    ) {
        let mut state = CaseState::submitted();
        for (action, who) in sequence {
            let who = who.or_else(|| action.permitted_actors().first().copied()).unwrap();
            if let Ok(t) = transition(&state, &action, &who) {
                state = t.state;
            }
        }
        if let Err(err) = transition(&state, &probe, &actor) {
            prop_assert_eq!(err.field().is_some(), err.class() == ErrorClass::Invalid, "{:?}", err);
            prop_assert!(!err.code().is_empty());
        }
    }
}

#[test]
fn random_sequences_reach_every_stage() {
    // Guards the generator above: invariants checked only on shallow cases prove little.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
    );
    let mut reached = std::collections::BTreeSet::new();
    for _ in 0..3000 {
        let sequence = steps().new_tree(&mut runner).unwrap().current();
        let mut state = CaseState::submitted();
        for (action, actor) in sequence {
            let actor = actor
                .or_else(|| action.permitted_actors().first().copied())
                .unwrap();
            if let Ok(t) = transition(&state, &action, &actor) {
                state = t.state;
                reached.insert(state.stage.name());
            }
        }
    }
    let all = [
        "pre_review",
        "awaiting_correction",
        "accepted",
        "in_review",
        "suspended",
        "decided_approved",
        "decided_denied",
        "rejected",
        "terminated",
        "withdrawn",
    ];
    for stage in all {
        assert!(
            reached.contains(stage),
            "no random sequence reached {stage}"
        );
    }
}
