//! The one rule book of who may do what. Every endpoint names a [`Rule`]; [`allows`] alone
//! decides. Roles come from the `staff_role` table (per department and, for handling, per item
//! step) and from AB-backup designations, loaded fresh on every request.

use uuid::Uuid;

use super::model::{Assurance, Grant, Principal, Role};

/// Who may call an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule<'a> {
    /// Any signed-in account (its own session and profile).
    Authenticated,
    /// A citizen or enterprise at or above an assurance level (the app's own data).
    Applicant(Assurance),
    /// Any active staff member.
    Staff,
    /// The platform administrator (departments, calendar, templates, staff accounts).
    PlatformAdmin,
    /// The platform administrator or an administrator of this department.
    DepartmentAdmin(Uuid),
    /// The platform administrator or an administrator of some department: the first check of
    /// an endpoint whose department is named in the request body, before the body is read.
    SomeAdministrator,
    /// Oversight reading across departments: supervisors, observers and the platform admin.
    Oversight,
    /// Handling a case step: `role` in `department`, for the item and step when the grant is
    /// narrowed to one.
    Handle {
        role: Role,
        department: Uuid,
        item_code: &'a str,
        step: &'a str,
    },
}

/// Whether `principal` may act under `rule`.
pub fn allows(principal: &Principal, rule: &Rule<'_>) -> bool {
    let staff = matches!(principal.subject, super::model::Subject::Staff(_));
    match rule {
        Rule::Authenticated => true,
        Rule::Applicant(level) => principal.subject.is_applicant() && principal.assurance >= *level,
        Rule::Staff => staff,
        Rule::PlatformAdmin => staff && principal.has_role(Role::PlatformAdmin),
        Rule::DepartmentAdmin(department) => {
            staff
                && (principal.has_role(Role::PlatformAdmin)
                    || principal.grants.iter().any(|g| {
                        g.role == Role::DepartmentAdmin && g.department_id == Some(*department)
                    }))
        }
        Rule::SomeAdministrator => {
            staff
                && (principal.has_role(Role::PlatformAdmin)
                    || principal.has_role(Role::DepartmentAdmin))
        }
        Rule::Oversight => {
            staff
                && (principal.has_role(Role::PlatformAdmin)
                    || principal.has_role(Role::Supervisor)
                    || principal.has_role(Role::Observer))
        }
        Rule::Handle { .. } => staff && handling_grant(principal, rule).is_some(),
    }
}

/// The grant through which `principal` may handle a case under a [`Rule::Handle`]: their own
/// grant when they hold one, else one held as an AB backup (AB岗) — whose `covering_for` names
/// the colleague the action is taken for. `None` for any other rule, or when none fits.
pub fn handling_grant<'p>(principal: &'p Principal, rule: &Rule<'_>) -> Option<&'p Grant> {
    let Rule::Handle {
        role,
        department,
        item_code,
        step,
    } = rule
    else {
        return None;
    };
    let fits = |g: &&Grant| {
        g.role == *role
            && g.department_id == Some(*department)
            && g.item_code.as_deref().is_none_or(|i| i == *item_code)
            && g.step.as_deref().is_none_or(|s| s == *step)
    };
    let mut fitting = principal.grants.iter().filter(fits);
    let first = fitting.next()?;
    if first.covering_for.is_none() {
        return Some(first);
    }
    Some(fitting.find(|g| g.covering_for.is_none()).unwrap_or(first))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::model::Subject;

    fn staff(grants: Vec<Grant>) -> Principal {
        Principal {
            subject: Subject::Staff(Uuid::new_v4()),
            session_id: Uuid::new_v4(),
            assurance: Assurance::PhoneProven,
            grants,
        }
    }

    fn grant(role: Role, department: Option<Uuid>) -> Grant {
        Grant {
            role,
            department_id: department,
            item_code: None,
            step: None,
            covering_for: None,
            until: None,
        }
    }

    #[test]
    fn applicants_need_the_level_and_never_pass_staff_rules() {
        let citizen = Principal {
            subject: Subject::Citizen(Uuid::new_v4()),
            session_id: Uuid::new_v4(),
            assurance: Assurance::PhoneProven,
            grants: Vec::new(),
        };
        assert!(allows(&citizen, &Rule::Applicant(Assurance::PhoneProven)));
        assert!(!allows(
            &citizen,
            &Rule::Applicant(Assurance::RealNameVerified)
        ));
        for rule in [Rule::Staff, Rule::PlatformAdmin, Rule::Oversight] {
            assert!(!allows(&citizen, &rule), "{rule:?}");
        }
    }

    #[test]
    fn department_admins_act_only_in_their_department() {
        let mine = Uuid::new_v4();
        let admin = staff(vec![grant(Role::DepartmentAdmin, Some(mine))]);
        assert!(allows(&admin, &Rule::DepartmentAdmin(mine)));
        assert!(!allows(&admin, &Rule::DepartmentAdmin(Uuid::new_v4())));
        assert!(!allows(&admin, &Rule::PlatformAdmin));
        assert!(allows(&admin, &Rule::SomeAdministrator));
        let platform = staff(vec![grant(Role::PlatformAdmin, None)]);
        assert!(allows(&platform, &Rule::DepartmentAdmin(mine)));
        assert!(!allows(&platform, &Rule::Applicant(Assurance::PhoneProven)));
    }

    #[test]
    fn handling_grants_narrowed_to_a_step_cover_only_that_step() {
        let department = Uuid::new_v4();
        let mut reviewer = grant(Role::Reviewer, Some(department));
        reviewer.item_code = Some("FOOD-01".to_owned());
        reviewer.step = Some("review".to_owned());
        let principal = staff(vec![reviewer]);
        let rule = |item_code, step| Rule::Handle {
            role: Role::Reviewer,
            department,
            item_code,
            step,
        };
        assert!(allows(&principal, &rule("FOOD-01", "review")));
        assert!(!allows(&principal, &rule("FOOD-01", "approve")));
        assert!(!allows(&principal, &rule("FOOD-02", "review")));
        assert!(!allows(
            &principal,
            &Rule::Handle {
                role: Role::Approver,
                department,
                item_code: "FOOD-01",
                step: "review"
            }
        ));
    }

    #[test]
    fn an_own_grant_is_preferred_to_one_held_as_an_ab_backup() {
        let department = Uuid::new_v4();
        let absent = Uuid::new_v4();
        let mut covering = grant(Role::Approver, Some(department));
        covering.covering_for = Some(absent);
        let rule = Rule::Handle {
            role: Role::Approver,
            department,
            item_code: "FOOD-01",
            step: "决定",
        };
        let backup = staff(vec![covering.clone()]);
        assert_eq!(
            handling_grant(&backup, &rule).and_then(|g| g.covering_for),
            Some(absent)
        );
        let both = staff(vec![covering, grant(Role::Approver, Some(department))]);
        assert_eq!(
            handling_grant(&both, &rule).map(|g| g.covering_for),
            Some(None)
        );
        assert!(handling_grant(&both, &Rule::Staff).is_none());
        let other = staff(vec![grant(Role::Reviewer, Some(department))]);
        assert!(handling_grant(&other, &rule).is_none());
    }

    #[test]
    fn observers_read_but_do_not_administer() {
        let observer = staff(vec![grant(Role::Observer, None)]);
        assert!(allows(&observer, &Rule::Oversight));
        assert!(!allows(&observer, &Rule::PlatformAdmin));
        assert!(!allows(&observer, &Rule::DepartmentAdmin(Uuid::new_v4())));
    }
}
