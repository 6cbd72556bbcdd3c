//! Who is calling: subjects, assurance levels, staff roles and grants. Pure types, no I/O.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An account that can hold a session: `citizen:<uuid>`, `enterprise:<uuid>`, `staff:<uuid>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    Citizen(Uuid),
    Enterprise(Uuid),
    Staff(Uuid),
}

impl Subject {
    pub fn id(&self) -> Uuid {
        match self {
            Subject::Citizen(id) | Subject::Enterprise(id) | Subject::Staff(id) => *id,
        }
    }

    /// The account kind, as used in audit actors and notification owners.
    pub fn kind(&self) -> &'static str {
        match self {
            Subject::Citizen(_) => "citizen",
            Subject::Enterprise(_) => "enterprise",
            Subject::Staff(_) => "staff",
        }
    }

    /// Citizens and enterprises apply for services; staff handle them.
    pub fn is_applicant(&self) -> bool {
        matches!(self, Subject::Citizen(_) | Subject::Enterprise(_))
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind(), self.id())
    }
}

impl FromStr for Subject {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, id) = s.split_once(':').ok_or(())?;
        let id = Uuid::parse_str(id).map_err(|_| ())?;
        match kind {
            "citizen" => Ok(Subject::Citizen(id)),
            "enterprise" => Ok(Subject::Enterprise(id)),
            "staff" => Ok(Subject::Staff(id)),
            _ => Err(()),
        }
    }
}

/// How strongly an applicant's identity is established; an item may require a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Assurance {
    /// L1: the phone number is proven by an SMS code.
    PhoneProven = 1,
    /// L2: name and ID number verified by the identity authority.
    RealNameVerified = 2,
    /// L3: a CA certificate (enterprises; staff with certificates).
    Certificate = 3,
}

impl Assurance {
    pub fn level(self) -> i16 {
        self as i16
    }

    pub fn from_level(level: i16) -> Option<Assurance> {
        match level {
            1 => Some(Assurance::PhoneProven),
            2 => Some(Assurance::RealNameVerified),
            3 => Some(Assurance::Certificate),
            _ => None,
        }
    }
}

/// Staff roles. Handling roles act on cases of their department (optionally one item and step);
/// oversight roles read across departments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, poem_openapi::Enum)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
pub enum Role {
    /// 窗口受理人员
    WindowClerk,
    /// 审查人员
    Reviewer,
    /// 审批（决定）人员
    Approver,
    /// 部门管理员
    DepartmentAdmin,
    /// 平台管理员
    PlatformAdmin,
    /// 监察人员
    Supervisor,
    /// 观察员（只读监督）
    Observer,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::WindowClerk,
        Role::Reviewer,
        Role::Approver,
        Role::DepartmentAdmin,
        Role::PlatformAdmin,
        Role::Supervisor,
        Role::Observer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::WindowClerk => "window_clerk",
            Role::Reviewer => "reviewer",
            Role::Approver => "approver",
            Role::DepartmentAdmin => "department_admin",
            Role::PlatformAdmin => "platform_admin",
            Role::Supervisor => "supervisor",
            Role::Observer => "observer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The role's name for people, as errors that name a needed role show it.
    pub fn label(self) -> &'static str {
        match self {
            Role::WindowClerk => "窗口受理人员",
            Role::Reviewer => "审查人员",
            Role::Approver => "审批人员",
            Role::DepartmentAdmin => "部门管理员",
            Role::PlatformAdmin => "平台管理员",
            Role::Supervisor => "监察人员",
            Role::Observer => "观察员",
        }
    }

    /// Roles that may be held without a department (they act platform-wide).
    pub fn is_platform_wide(self) -> bool {
        matches!(
            self,
            Role::PlatformAdmin | Role::Supervisor | Role::Observer
        )
    }

    /// Roles that handle cases, and so may be narrowed to an item step and covered by an AB backup.
    pub fn is_handling(self) -> bool {
        matches!(self, Role::WindowClerk | Role::Reviewer | Role::Approver)
    }
}

/// One role held by a staff member, where it applies, and through whom (an AB backup acts with
/// the principal's grants while the designation lasts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub role: Role,
    pub department_id: Option<Uuid>,
    pub item_code: Option<String>,
    pub step: Option<String>,
    /// Set when the grant is held as the AB backup of this staff member.
    pub covering_for: Option<Uuid>,
    pub until: Option<DateTime<Utc>>,
}

/// Who performed an action, as recorded in the audit log: `staff:<uuid>`, `citizen:<uuid>`, or a
/// named process such as `demo-loader` or `migration`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

/// An authenticated caller, as the authorization check sees it.
#[derive(Debug, Clone)]
pub struct Principal {
    pub subject: Subject,
    pub session_id: Uuid,
    pub assurance: Assurance,
    /// Staff grants (empty for applicants).
    pub grants: Vec<Grant>,
}

impl Principal {
    /// The audit log's name for this caller.
    pub fn actor(&self) -> Actor {
        Actor(self.subject.to_string())
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.grants.iter().any(|g| g.role == role)
    }

    /// Whether the caller holds `role` in `department` (platform-wide grants count everywhere).
    pub fn has_role_in(&self, role: Role, department: Uuid) -> bool {
        self.grants
            .iter()
            .any(|g| g.role == role && g.department_id.is_none_or(|d| d == department))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_round_trip_through_their_text_form() {
        let id = Uuid::new_v4();
        for subject in [
            Subject::Citizen(id),
            Subject::Enterprise(id),
            Subject::Staff(id),
        ] {
            assert_eq!(subject.to_string().parse::<Subject>(), Ok(subject));
        }
        assert!("robot:1".parse::<Subject>().is_err());
        assert!(format!("citizen:{}x", id).parse::<Subject>().is_err());
    }

    #[test]
    fn roles_round_trip_and_only_oversight_roles_are_platform_wide() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        let wide: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| r.is_platform_wide())
            .collect();
        assert_eq!(
            wide,
            vec![Role::PlatformAdmin, Role::Supervisor, Role::Observer]
        );
    }

    #[test]
    fn a_department_grant_does_not_reach_another_department() {
        let mine = Uuid::new_v4();
        let other = Uuid::new_v4();
        let principal = Principal {
            subject: Subject::Staff(Uuid::new_v4()),
            session_id: Uuid::new_v4(),
            assurance: Assurance::PhoneProven,
            grants: vec![Grant {
                role: Role::DepartmentAdmin,
                department_id: Some(mine),
                item_code: None,
                step: None,
                covering_for: None,
                until: None,
            }],
        };
        assert!(principal.has_role_in(Role::DepartmentAdmin, mine));
        assert!(!principal.has_role_in(Role::DepartmentAdmin, other));
        assert!(!principal.has_role_in(Role::PlatformAdmin, mine));
    }
}
