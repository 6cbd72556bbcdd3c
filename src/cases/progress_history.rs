//! What the public progress query shows of a case's timeline: each event by kind, a Chinese
//! label, when it happened and the department that acted — built from a whitelist of each
//! event's facts, so that nothing the timeline keeps for staff (who acted, by account and name;
//! opinions; the applicant's own withdrawal text) can reach an anonymous caller. The reasons of
//! the decisions addressed to the applicant (不予受理, 不予许可, 终止) are shown: the query is
//! behind the second factor, and those texts are the ones the applicant's documents print
//! (decision record 0019). Also the department steps of a case as they ended, replayed from the
//! timeline once the case state no longer holds them.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use poem_openapi::Object;
use serde_json::Value;
use uuid::Uuid;

use super::store::EventRow;

/// One event of a case's public history.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct ProgressEvent {
    /// The timeline's stable kind (submitted, accepted, step_completed, approved…).
    pub kind: String,
    /// The event for people (提交申请, 受理, 审查环节完成…).
    pub label: String,
    /// When it happened (for work entered afterwards, when staff say it happened).
    pub occurred_at: DateTime<Utc>,
    /// The department that acted, by name, where one did.
    #[oai(skip_serializing_if_is_none)]
    pub department: Option<String>,
    /// The department step or special step (特殊环节) the event is about.
    #[oai(skip_serializing_if_is_none)]
    pub step: Option<String>,
    /// The reason printed in the decision: rejected, denied and terminated only.
    #[oai(skip_serializing_if_is_none)]
    pub reason: Option<String>,
    /// A date the event set: the expected end of a special step, the new deadline.
    #[oai(skip_serializing_if_is_none)]
    pub until: Option<NaiveDate>,
}

/// Departments by id, as (code, name).
pub type DepartmentNames = HashMap<Uuid, (String, String)>;

/// The public history of `events`, oldest first.
pub fn public_history(events: &[EventRow], departments: &DepartmentNames) -> Vec<ProgressEvent> {
    let by_code: HashMap<&str, &str> = departments
        .values()
        .map(|(code, name)| (code.as_str(), name.as_str()))
        .collect();
    events
        .iter()
        .map(|e| {
            let text = |key: &str| e.details.get(key).and_then(Value::as_str);
            let date = |key: &str| text(key).and_then(|d| d.parse::<NaiveDate>().ok());
            // The department the event names (a step's), else the one the actor acted in.
            let department = text("department")
                .and_then(|code| by_code.get(code).map(|name| (*name).to_owned()))
                .or_else(|| {
                    e.attribution
                        .department_id
                        .and_then(|id| departments.get(&id))
                        .map(|(_, name)| name.clone())
                });
            let (step, reason, until) = match e.kind.as_str() {
                "step_started" | "step_completed" => (text("name").map(str::to_owned), None, None),
                "suspended" | "suspension_extended" => (
                    text("special_step").map(|s| special_step_label(s).to_owned()),
                    None,
                    date("expected_end"),
                ),
                "resumed" => (
                    text("special_step").map(|s| special_step_label(s).to_owned()),
                    None,
                    None,
                ),
                "extended" | "deadline_recomputed" => (None, None, date("new_deadline")),
                "rejected" | "terminated" | "item_cancelled" => {
                    (None, text("reason").map(str::to_owned), None)
                }
                "continued_despite_cancellation" => {
                    (None, text("legal_basis").map(str::to_owned), None)
                }
                "denied" => (None, text("reasons").map(str::to_owned), None),
                _ => (None, None, None),
            };
            ProgressEvent {
                label: event_label(&e.kind).to_owned(),
                kind: e.kind.clone(),
                occurred_at: e.occurred_at,
                department,
                step,
                reason,
                until,
            }
        })
        .collect()
}

/// The Chinese label of a timeline event kind.
pub fn event_label(kind: &str) -> &'static str {
    match kind {
        "submitted" => "提交申请",
        "pre_review_started" => "受理审查",
        "correction_requested" => "一次性告知补正材料",
        "correction_answered" => "提交补正材料",
        "accepted" => "受理",
        "rejected" => "不予受理",
        "steps_started" => "进入审查",
        "step_started" => "审查环节开始",
        "step_completed" => "审查环节完成",
        "deferred_supplied" => "补交容缺材料",
        "suspended" => "进入特殊环节（暂停计时）",
        "suspension_extended" => "特殊环节延长",
        "resumed" => "特殊环节结束（恢复计时）",
        "extended" => "延长办理期限",
        "deadline_recomputed" => "按工作日历调整办结期限",
        "terminated" => "终止办理",
        "withdrawn" => "撤回申请",
        // Neutral words: the decision's own (准予给付, 予以确认…) is in its sealed document.
        "approved" => "作出准予决定",
        "denied" => "作出不予决定",
        "item_cancelled" => "所申请事项已取消",
        "continued_despite_cancellation" => "依法继续办理",
        // A kind added later still shows, without facts of its own.
        _ => "办理记录",
    }
}

/// The Chinese name of a special step as the timeline stores it (`site_inspection`…): the one
/// table in `cases::views`.
fn special_step_label(kind: &str) -> &'static str {
    serde_json::from_value::<crate::cases::model::SpecialStep>(Value::from(kind))
        .map(crate::cases::views::special_step_label)
        .unwrap_or("特殊环节")
}

/// A department step as the timeline recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicStep {
    /// The department's code.
    pub department: String,
    pub name: String,
    /// waiting, running or completed: as the step stood at the last event.
    pub status: &'static str,
}

/// The department steps of a case from its timeline: the list `steps_started` recorded, each
/// step's status moved on by `step_started` and `step_completed`. A case closed before review
/// (rejected, withdrawn in pre-review) has none.
pub fn replayed_steps(events: &[EventRow]) -> Vec<PublicStep> {
    let mut steps: Vec<PublicStep> = Vec::new();
    for event in events {
        let field = |value: &Value, key: &str| {
            value
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        match event.kind.as_str() {
            "steps_started" => {
                let listed = event.details.get("steps").and_then(Value::as_array);
                steps = listed
                    .into_iter()
                    .flatten()
                    .map(|s| PublicStep {
                        department: field(s, "department"),
                        name: field(s, "name"),
                        status: "waiting",
                    })
                    .collect();
            }
            kind @ ("step_started" | "step_completed") => {
                let (department, name) = (
                    field(&event.details, "department"),
                    field(&event.details, "name"),
                );
                if let Some(step) = steps
                    .iter_mut()
                    .find(|s| s.department == department && s.name == name)
                {
                    step.status = if kind == "step_started" {
                        "running"
                    } else {
                        "completed"
                    };
                }
            }
            _ => {}
        }
    }
    steps
}

#[cfg(test)]
#[path = "progress_history_tests.rs"]
mod tests;
