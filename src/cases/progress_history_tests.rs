use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::cases::store::Attribution;

fn event(seq: i32, kind: &str, details: Value, attribution: Attribution) -> EventRow {
    let at = Utc
        .with_ymd_and_hms(2026, 11, 16, 2, seq as u32, 0)
        .unwrap();
    EventRow {
        seq,
        kind: kind.to_owned(),
        details,
        actor: "staff:whoever".to_owned(),
        actor_kind: "reviewer".to_owned(),
        attribution,
        recorded_at: at,
        occurred_at: at,
    }
}

fn departments() -> (Uuid, DepartmentNames) {
    let id = Uuid::new_v4();
    (
        id,
        HashMap::from([(
            id,
            ("DA-SCJG".to_owned(), "大安市市场监督管理局".to_owned()),
        )]),
    )
}

#[test]
fn the_history_names_departments_steps_and_decision_reasons_but_never_who_acted() {
    let (department, names) = departments();
    let (account, backup) = (Uuid::new_v4(), Uuid::new_v4());
    let staff = Attribution {
        account_id: Some(account),
        department_id: Some(department),
        on_behalf_of: Some(backup),
    };
    let events = vec![
        event(
            1,
            "pre_review_started",
            json!({"department": "DA-SCJG"}),
            Attribution::default(),
        ),
        event(
            2,
            "step_completed",
            json!({"department": "DA-SCJG", "name": "审查", "opinion": "张科长：同意"}),
            staff.clone(),
        ),
        event(
            3,
            "suspended",
            json!({"special_step": "site_inspection", "reason": "约王五现场核查", "expected_end": "2026-11-30"}),
            staff.clone(),
        ),
        event(
            4,
            "withdrawn",
            json!({"reason": "我叫李四，电话13900139000"}),
            Attribution::default(),
        ),
        event(
            5,
            "denied",
            json!({"reasons": "场所不符合要求", "remedies": "可申请复议"}),
            staff,
        ),
        event(
            6,
            "something_new",
            json!({"secret": "x"}),
            Attribution::default(),
        ),
    ];
    let history = public_history(&events, &names);
    assert_eq!(
        history[0].department.as_deref(),
        Some("大安市市场监督管理局")
    );
    assert_eq!(history[0].label, "受理审查");
    assert_eq!(history[1].step.as_deref(), Some("审查"));
    assert_eq!(history[2].step.as_deref(), Some("现场踏勘"));
    assert_eq!(history[2].until, NaiveDate::from_ymd_opt(2026, 11, 30));
    assert_eq!(
        history[2].reason, None,
        "a suspension's reason stays with staff"
    );
    assert_eq!(
        history[3].reason, None,
        "the applicant's own words are not repeated"
    );
    assert_eq!(history[4].reason.as_deref(), Some("场所不符合要求"));
    assert_eq!(history[5].label, "办理记录");
    assert_eq!(history[1].occurred_at, events[1].occurred_at);
    let shown = format!("{history:?}");
    for hidden in [
        account.to_string(),
        backup.to_string(),
        "张科长".to_owned(),
        "王五".to_owned(),
        "13900139000".to_owned(),
        "whoever".to_owned(),
        "secret".to_owned(),
    ] {
        assert!(!shown.contains(&hidden), "{hidden} in {shown}");
    }
}

#[test]
fn steps_are_replayed_from_the_timeline_as_they_ended() {
    let none = Attribution::default();
    let events = vec![
        event(
            1,
            "steps_started",
            json!({"steps": [
                {"department": "DA-SCJG", "name": "审查", "stage": 1},
                {"department": "DA-WJ", "name": "卫生审查", "stage": 1},
                {"department": "DA-SCJG", "name": "现场核查", "stage": 2, "special": "site_inspection"},
            ]}),
            none.clone(),
        ),
        event(
            2,
            "step_started",
            json!({"department": "DA-SCJG", "name": "审查"}),
            none.clone(),
        ),
        event(
            3,
            "step_started",
            json!({"department": "DA-WJ", "name": "卫生审查"}),
            none.clone(),
        ),
        event(
            4,
            "step_completed",
            json!({"department": "DA-WJ", "name": "卫生审查"}),
            none.clone(),
        ),
        event(5, "terminated", json!({"reason": "申请人死亡"}), none),
    ];
    let statuses: Vec<(String, &str)> = replayed_steps(&events)
        .into_iter()
        .map(|s| (s.name, s.status))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("审查".to_owned(), "running"),
            ("卫生审查".to_owned(), "completed"),
            ("现场核查".to_owned(), "waiting"),
        ]
    );
    assert!(replayed_steps(&events[4..]).is_empty());
}
