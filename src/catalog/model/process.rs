//! The publication check of a guide's process: the order of the core steps, the stages of
//! parallel review, the special steps' own limits and the core limits against the promised one.

use super::context::PublishContext;
use super::draft::GuideDraft;
use super::enums::StepKind;

/// The process: accept first, decide last, one review phase between them (at most three core
/// phases [002 三(四)3]); special steps sit between accept and decide with a limit of their own;
/// the core phases' limits fit within the promised limit.
pub(super) fn check_steps(
    draft: &GuideDraft,
    ctx: &PublishContext<'_>,
    invalid: &mut dyn FnMut(String, &str, String),
) {
    let steps = &draft.steps;
    let count = |k: StepKind| steps.iter().filter(|s| s.kind == k).count();
    if count(StepKind::Accept) != 1 || steps.first().map(|s| s.kind) != Some(StepKind::Accept) {
        invalid(
            "steps".into(),
            "invalid_process",
            "the process starts with exactly one accept (受理) step".into(),
        );
    }
    if count(StepKind::Decide) != 1 || steps.last().map(|s| s.kind) != Some(StepKind::Decide) {
        invalid(
            "steps".into(),
            "invalid_process",
            "the process ends with exactly one decide (办结) step".into(),
        );
    }
    // Several departments may review in parallel (并联审批), but as one review phase: the
    // process keeps at most three core phases.
    let review_stages: std::collections::BTreeSet<u32> = steps
        .iter()
        .filter(|s| s.kind == StepKind::Review)
        .map(|s| s.stage)
        .collect();
    if review_stages.len() > 1 {
        invalid(
            "steps".into(),
            "invalid_process",
            "review (审查) steps form one phase: parallel reviews share one stage".into(),
        );
    }
    let mut previous_stage = 0;
    for (i, step) in steps.iter().enumerate() {
        if step.name.trim().is_empty() {
            invalid(
                format!("steps[{i}].name"),
                "required",
                "the step name is required".into(),
            );
        }
        if step.stage < previous_stage {
            invalid(
                format!("steps[{i}].stage"),
                "out_of_order",
                "stages must not decrease along the process".into(),
            );
        }
        previous_stage = step.stage;
        if step.kind.is_special() && step.limit_days == 0 {
            invalid(
                format!("steps[{i}].limit_days"),
                "out_of_range",
                "a special step (特别程序) states its own limit of at least 1 working day".into(),
            );
        }
        if let Some(code) = &step.department_code
            && code != ctx.lead_department_code
            && !draft.co_department_codes.contains(code)
        {
            invalid(
                format!("steps[{i}].department_code"),
                "unknown_department",
                format!("{code} is neither the lead department nor a co-department of this item"),
            );
        }
    }
    // Parallel steps of one stage take as long as the longest of them.
    let mut stage_days = std::collections::BTreeMap::<u32, u32>::new();
    for step in steps.iter().filter(|s| !s.kind.is_special()) {
        let days = stage_days.entry(step.stage).or_default();
        *days = (*days).max(step.limit_days);
    }
    let core_days: u32 = stage_days.values().sum();
    if let Some(promised) = draft.promised_limit_days
        && core_days > promised
    {
        invalid(
            "steps".into(),
            "exceeds_promised",
            format!(
                "the core steps take {core_days} working days, more than the promised limit ({promised})"
            ),
        );
    }
}
