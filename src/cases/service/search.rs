//! 办件查询: staff find cases in their scope (`cases::search` checks the parameters and builds
//! the statement; this pages through it, checks what SQL cannot, and audits).

use super::views::{deadline_of, staff_may_see};
use super::*;
use crate::cases::search::{
    self, ApplicantKey, Context, Cursor, DeadlineFilter, NEAR_WORKING_DAYS, Scope, Search,
};
use crate::cases::search_views::{DepartmentRef, FoundCase, FoundCases, MaskedApplicant};
use crate::masking::mask_name;

/// Rows read per statement when rows are checked after SQL (a tail, a deadline filter).
const CHECKED_BATCH: i64 = 200;
/// Rows one request checks at most before answering with what it found and a cursor: a
/// search that matches little never turns into a scan of every case.
const MAX_CHECKED: usize = 2_000;

/// The SQL form of [`staff_may_see`]: oversight sees every department, anyone else the
/// departments they hold a role in (none: no case at all).
fn scope_of(principal: &Principal) -> Scope {
    if allows(principal, &Rule::Oversight) {
        Scope::All
    } else {
        let mut ids: Vec<Uuid> = principal
            .grants
            .iter()
            .filter_map(|g| g.department_id)
            .collect();
        ids.sort();
        ids.dedup();
        Scope::Departments(ids)
    }
}

impl CaseService {
    /// The cases `principal` may see that match `search`, newest received first. A search by
    /// a person's identifier, and any search by an observer, is audited with what it found.
    pub async fn search(&self, principal: &Principal, search: Search) -> AppResult<FoundCases> {
        let scope = scope_of(principal);
        if scope == Scope::Departments(Vec::new()) {
            return Ok(FoundCases {
                cases: Vec::new(),
                next_cursor: None,
            });
        }
        // The calendar first: a cold cache takes a connection of its own.
        let calendar = self.calendar.calendar().await?;
        let today = self.clock.today();
        let client = self.pool.get().await?;
        let (enterprise_subjects, enterprise_index) = match &search.applicant {
            Some(ApplicantKey::CreditCode(code)) => {
                // Identity's table, read as submission reads it (decision record 0013).
                let subjects: Vec<String> = client
                    .query("SELECT id FROM enterprise WHERE code = $1", &[code])
                    .await?
                    .iter()
                    .map(|r| Subject::Enterprise(r.get(0)).to_string())
                    .collect();
                (subjects, Some(claims::enterprise_index(code)))
            }
            _ => (Vec::new(), None),
        };
        let context = Context {
            scope: &scope,
            enterprise_subjects: &enterprise_subjects,
            enterprise_index,
            today,
        };
        let checked_after_sql = search.deadline.is_some()
            || matches!(&search.applicant, Some(ApplicantKey::Tail(t)) if t.len() > 4);
        let batch = if checked_after_sql {
            CHECKED_BATCH
        } else {
            search.limit + 1
        };
        let wanted = usize::try_from(search.limit).unwrap_or(0);
        let mut found: Vec<CaseRow> = Vec::new();
        let mut after = search.after;
        let mut checked = 0usize;
        let next_cursor = loop {
            let rows = search::batch(&**client, &search, &context, after, batch).await?;
            let exhausted = i64::try_from(rows.len()).unwrap_or(0) < batch;
            for row in rows {
                after = Some(Cursor::of(&row));
                checked += 1;
                if staff_may_see(principal, &row) && self.row_matches(&search, &row, &calendar) {
                    found.push(row);
                    if found.len() > wanted {
                        break;
                    }
                }
            }
            if found.len() > wanted {
                found.truncate(wanted);
                break found.last().map(Cursor::of);
            }
            if exhausted {
                break None;
            }
            if checked >= MAX_CHECKED {
                break after;
            }
        };
        let departments: HashMap<Uuid, DepartmentRef> = {
            let ids: Vec<Uuid> = found.iter().map(|r| r.lead_department_id).collect();
            client
                .query(
                    "SELECT id, code, name FROM department WHERE id = ANY($1)",
                    &[&ids],
                )
                .await?
                .iter()
                .map(|r| {
                    (
                        r.get(0),
                        DepartmentRef {
                            code: r.get(1),
                            name: r.get(2),
                        },
                    )
                })
                .collect()
        };
        drop(client);
        // Anyone who reaches cases as an observer (no administrator or supervisor role).
        let observer = principal.has_role(Role::Observer)
            && !principal.has_role(Role::PlatformAdmin)
            && !principal.has_role(Role::Supervisor);
        if search.applicant.is_some() || observer {
            self.record_read(principal, "case.search", audit_details(&search, &found))
                .await?;
        }
        Ok(FoundCases {
            cases: found
                .iter()
                .map(|row| found_case(row, &departments, &calendar, today))
                .collect(),
            next_cursor: next_cursor.map(|c| c.encode()),
        })
    }

    /// What the statement could only narrow: a six-character tail against the case's tail
    /// MAC, the deadline filter against the computed deadline.
    fn row_matches(&self, search: &Search, row: &CaseRow, calendar: &Calendar) -> bool {
        if let Some(ApplicantKey::Tail(tail)) = &search.applicant
            && tail.len() > 4
            && !self.tail_matches(row, tail)
        {
            return false;
        }
        let Some(filter) = search.deadline else {
            return true;
        };
        let Some(deadline) = deadline_of(row, calendar, self.clock.today()).0 else {
            return false;
        };
        match filter {
            DeadlineFilter::Overdue => deadline.overdue,
            DeadlineFilter::Near => {
                row.closed_at.is_none()
                    && !deadline.overdue
                    && deadline.working_days_left <= NEAR_WORKING_DAYS
            }
        }
    }
}

/// What the audit keeps of a search: the filters (an identifier masked as a masked number
/// shows it) and the cases it returned.
fn audit_details(search: &Search, found: &[CaseRow]) -> Value {
    json!({
        "applicant": search.applicant.as_ref().map(|a| json!({"kind": a.kind(), "masked": a.masked()})),
        "acceptance_number": search.acceptance_number,
        "item": search.item,
        "stage": search.stage,
        "received": [search.received.from, search.received.to],
        "decided": [search.decided.from, search.decided.to],
        "deadline": search.deadline.map(|d| match d {
            DeadlineFilter::Overdue => "overdue",
            DeadlineFilter::Near => "near",
        }),
        "cases": found.iter().map(|r| r.id).collect::<Vec<_>>(),
    })
}

fn found_case(
    row: &CaseRow,
    departments: &HashMap<Uuid, DepartmentRef>,
    calendar: &Calendar,
    today: NaiveDate,
) -> FoundCase {
    FoundCase {
        id: row.id,
        acceptance_number: row.acceptance_number.clone(),
        item_code: row.item_code.clone(),
        item_name: row.item_name.clone(),
        lead_department: departments
            .get(&row.lead_department_id)
            .cloned()
            .unwrap_or_else(|| DepartmentRef {
                code: String::new(),
                name: String::new(),
            }),
        stage: row.state.stage.name().to_owned(),
        stage_label: tasks::stage_label(&row.state.stage).to_owned(),
        received_at: row.submitted_at,
        accepted_on: row.accepted_on,
        decided_on: row.closed_at.map(date_in_china),
        deadline: deadline_of(row, calendar, today).0,
        applicant: MaskedApplicant {
            kind: row.applicant_kind.clone(),
            name_masked: mask_name(&row.applicant_name),
            id_masked: row.applicant_id_masked.clone(),
        },
    }
}
