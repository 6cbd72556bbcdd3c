//! The facts of a case the public progress query shows once its caller has proved the second
//! factor: the deadline, the department steps (live while the case is in review, replayed from
//! the timeline once it has moved on) and the public history. Reads the timeline and the
//! involved departments' names; never the staff who acted (decision record 0019).

use super::*;
use crate::cases::model::StepStatus;
use crate::cases::progress_history::{self, DepartmentNames, ProgressEvent, PublicStep};

/// What the public may know of a case beyond its row.
pub struct PublicProgress {
    pub deadline: Option<DeadlineView>,
    pub steps: Vec<PublicStep>,
    pub history: Vec<ProgressEvent>,
    /// Department names by code, for the steps.
    pub department_names: HashMap<String, String>,
}

impl CaseService {
    /// The public facts of `row`. Takes its own connection, released before the calendar is
    /// read (a cold cache takes one of its own).
    pub async fn public_progress(&self, row: &CaseRow) -> AppResult<PublicProgress> {
        let (events, departments) = {
            let client = self.pool.get().await?;
            let events = store::events(&client, row.id).await?;
            let mut ids: Vec<Uuid> = events
                .iter()
                .filter_map(|e| e.attribution.department_id)
                .chain(row.department_ids.iter().copied())
                .collect();
            ids.sort_unstable();
            ids.dedup();
            let departments: DepartmentNames =
                crate::department::store::codes_and_names(&**client, &ids).await?;
            (events, departments)
        };
        let steps = match row.state.stage.review() {
            Some(review) => review
                .steps
                .iter()
                .map(|s| PublicStep {
                    department: s.department.clone(),
                    name: s.name.clone(),
                    status: match s.status {
                        StepStatus::Waiting => "waiting",
                        StepStatus::Running => "running",
                        StepStatus::Completed => "completed",
                    },
                })
                .collect(),
            // Decided, terminated or withdrawn: the steps as they ended.
            None => progress_history::replayed_steps(&events),
        };
        let history = progress_history::public_history(&events, &departments);
        let calendar = self.calendar.calendar().await?;
        let (deadline, _) = super::views::deadline_of(row, &calendar, self.clock.today());
        Ok(PublicProgress {
            deadline,
            steps,
            history,
            department_names: departments.into_values().collect(),
        })
    }
}
