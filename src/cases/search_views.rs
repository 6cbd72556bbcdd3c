//! What staff see of the cases they find (`GET /api/v1/staff/cases`): enough to pick the case
//! and judge its urgency, the applicant always masked (the case itself is one more request).

use chrono::{DateTime, NaiveDate, Utc};
use poem_openapi::Object;
use uuid::Uuid;

use super::views::DeadlineView;
pub use crate::catalog::views::DepartmentRef;

/// The applicant of a found case, masked for every caller.
#[derive(Debug, Clone, Object)]
pub struct MaskedApplicant {
    /// citizen or enterprise.
    pub kind: String,
    /// 张* / 大安市某*******.
    pub name_masked: String,
    /// First and last four characters of the ID number or credit code.
    pub id_masked: String,
}

/// One case found.
#[derive(Debug, Clone, Object)]
pub struct FoundCase {
    pub id: Uuid,
    #[oai(skip_serializing_if_is_none)]
    pub acceptance_number: Option<String>,
    pub item_code: String,
    pub item_name: String,
    /// The item's lead department (牵头部门).
    pub lead_department: DepartmentRef,
    /// The state machine's stage (stable code).
    pub stage: String,
    /// The stage for people.
    pub stage_label: String,
    /// When the case was received (applied online or registered at the window).
    pub received_at: DateTime<Utc>,
    #[oai(skip_serializing_if_is_none)]
    pub accepted_on: Option<NaiveDate>,
    /// The day the case ended (decision, rejection, withdrawal or termination), in Beijing.
    #[oai(skip_serializing_if_is_none)]
    pub decided_on: Option<NaiveDate>,
    /// The deadline, the working days left (negative: overdue) and whether it is overdue.
    #[oai(skip_serializing_if_is_none)]
    pub deadline: Option<DeadlineView>,
    pub applicant: MaskedApplicant,
}

/// A page of found cases, newest received first.
#[derive(Debug, Clone, Object)]
pub struct FoundCases {
    pub cases: Vec<FoundCase>,
    /// Pass as `cursor` for the next page; absent when there is none. A page may hold fewer
    /// cases than `limit` and still have a next one (a search that checks every case against
    /// the deadline or a six-character tail stops after a bounded number of cases): follow
    /// `next_cursor` until it is absent.
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
}
