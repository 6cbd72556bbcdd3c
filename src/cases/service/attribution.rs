//! Who acted on each timeline event, as each audience may see it [000 art.13, 34]: staff,
//! supervisors and observers see the staff member by name (and, for an AB backup, whom they
//! stood in for); the applicant sees the role and the department, never the person. Names are
//! read when the timeline is shown, in one read per room (decision record 0017).

use super::*;
use crate::cases::views::{EventActor, EventView, StaffRef};

/// Whom a case view is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The applicant or their agent (the app, `/me/...`), and the public progress query.
    Applicant,
    /// Staff of a department the case involves, supervisors and observers.
    Staff,
}

impl Audience {
    /// The audience of the answer to an action taken by `kind`.
    pub(super) fn of(kind: ActorKind) -> Audience {
        match kind {
            ActorKind::Applicant => Audience::Applicant,
            ActorKind::WindowClerk | ActorKind::Reviewer | ActorKind::Approver => Audience::Staff,
            // The platform answers no one; its views are never sent.
            ActorKind::System => Audience::Applicant,
        }
    }
}

/// Departments (code, name) and staff display names, by id.
#[derive(Default)]
pub(super) struct Names {
    departments: HashMap<Uuid, (String, String)>,
    staff: HashMap<Uuid, String>,
}

impl CaseService {
    /// The timeline as `audience` sees it. Reads the departments the staff events were taken
    /// in and, for staff only, the names of the staff who acted: one read each, none when no
    /// staff member acted.
    pub(super) async fn timeline(
        &self,
        audience: Audience,
        events: Vec<store::EventRow>,
    ) -> AppResult<Vec<EventView>> {
        let staff_events = || events.iter().filter(|e| is_staff_event(e));
        let mut departments: Vec<Uuid> = staff_events()
            .filter_map(|e| e.attribution.department_id)
            .collect();
        let mut people: Vec<Uuid> = match audience {
            Audience::Staff => staff_events()
                .flat_map(|e| [e.attribution.account_id, e.attribution.on_behalf_of])
                .flatten()
                .collect(),
            Audience::Applicant => Vec::new(),
        };
        let mut names = Names::default();
        if !departments.is_empty() || !people.is_empty() {
            departments.sort_unstable();
            departments.dedup();
            people.sort_unstable();
            people.dedup();
            let client = self.pool.get().await?;
            let (found_departments, found_staff) = tokio::join!(
                crate::department::store::codes_and_names(&**client, &departments),
                crate::identity::staff::display_names(&**client, &people),
            );
            names = Names {
                departments: found_departments?,
                staff: found_staff?,
            };
        }
        Ok(events
            .into_iter()
            .map(|e| EventView {
                actor: actor_of(audience, &e, &names),
                seq: e.seq,
                kind: e.kind,
                details: e.details,
                actor_kind: e.actor_kind,
                recorded_at: e.recorded_at,
                occurred_at: e.occurred_at,
            })
            .collect())
    }
}

/// Whether a staff member took the event (not the applicant, not the platform).
fn is_staff_event(event: &store::EventRow) -> bool {
    !matches!(event.actor_kind.as_str(), "applicant" | "system")
}

/// Who took `event`, as `audience` may see it.
pub(super) fn actor_of(audience: Audience, event: &store::EventRow, names: &Names) -> EventActor {
    let mut actor = EventActor {
        role: event.actor_kind.clone(),
        department_code: None,
        department_name: None,
        account_id: None,
        display_name: None,
        on_behalf_of: None,
    };
    if !is_staff_event(event) {
        // The applicant is named in the case itself; the platform is `system`.
        return actor;
    }
    let attribution = &event.attribution;
    if let Some((code, name)) = attribution
        .department_id
        .and_then(|id| names.departments.get(&id))
    {
        actor.department_code = Some(code.clone());
        actor.department_name = Some(name.clone());
    }
    if audience == Audience::Staff {
        actor.account_id = attribution.account_id;
        actor.display_name = attribution
            .account_id
            .and_then(|id| names.staff.get(&id).cloned());
        actor.on_behalf_of = attribution.on_behalf_of.map(|id| StaffRef {
            account_id: id,
            display_name: names.staff.get(&id).cloned(),
        });
    }
    actor
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(actor_kind: &str, attribution: store::Attribution) -> store::EventRow {
        let at = chrono::DateTime::UNIX_EPOCH;
        store::EventRow {
            seq: 1,
            kind: "step_completed".to_owned(),
            details: json!({}),
            actor: "whoever".to_owned(),
            actor_kind: actor_kind.to_owned(),
            attribution,
            recorded_at: at,
            occurred_at: at,
        }
    }

    fn backup_approval() -> (store::EventRow, Names) {
        let (backup, absent, department) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let names = Names {
            departments: HashMap::from([(
                department,
                ("DA-SCJG".to_owned(), "大安市市场监督管理局".to_owned()),
            )]),
            staff: HashMap::from([(backup, "王五".to_owned()), (absent, "赵六".to_owned())]),
        };
        let attribution = store::Attribution {
            account_id: Some(backup),
            department_id: Some(department),
            on_behalf_of: Some(absent),
        };
        (event("approver", attribution), names)
    }

    #[test]
    fn staff_see_the_person_and_whom_an_ab_backup_stood_in_for() {
        let (event, names) = backup_approval();
        let actor = actor_of(Audience::Staff, &event, &names);
        assert_eq!(actor.role, "approver");
        assert_eq!(actor.department_code.as_deref(), Some("DA-SCJG"));
        assert_eq!(actor.account_id, event.attribution.account_id);
        assert_eq!(actor.display_name.as_deref(), Some("王五"));
        let stood_in_for = actor.on_behalf_of.expect("the absent approver");
        assert_eq!(
            Some(stood_in_for.account_id),
            event.attribution.on_behalf_of
        );
        assert_eq!(stood_in_for.display_name.as_deref(), Some("赵六"));
    }

    #[test]
    fn the_applicant_sees_the_role_and_department_but_never_the_person() {
        let (event, names) = backup_approval();
        let actor = actor_of(Audience::Applicant, &event, &names);
        assert_eq!(
            actor,
            EventActor {
                role: "approver".to_owned(),
                department_code: Some("DA-SCJG".to_owned()),
                department_name: Some("大安市市场监督管理局".to_owned()),
                account_id: None,
                display_name: None,
                on_behalf_of: None,
            }
        );
    }

    #[test]
    fn the_platform_and_the_applicant_are_only_a_role() {
        let (staff_event, names) = backup_approval();
        for kind in ["system", "applicant"] {
            let event = event(kind, staff_event.attribution.clone());
            let actor = actor_of(Audience::Staff, &event, &names);
            assert_eq!(actor.role, kind);
            assert!(actor.department_code.is_none() && actor.account_id.is_none());
            assert!(actor.display_name.is_none() && actor.on_behalf_of.is_none());
        }
    }
}
