//! How long a suspension (挂起) for a special step may run: to the end of that special step's
//! own limit as the item's guide states it, counted in working days from the day the case was
//! suspended; for a special step the guide does not define, to the platform's configured
//! maximum (`[cases] max_suspension_working_days`). Going past it needs an extension of the
//! suspension with a reason (`POST /api/v1/staff/cases/{id}/suspension/extend`), bounded the
//! same way from the end it replaces.

use chrono::NaiveDate;

use crate::calendar::model::{Calendar, CalendarError};
use crate::cases::model::SpecialStep;
use crate::catalog::model::Guide;

/// The default of `[cases] max_suspension_working_days`: three months of working days.
pub const DEFAULT_MAX_SUSPENSION_WORKING_DAYS: u32 = 60;

/// The limit a suspension for `kind` may run, and where it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuspensionLimit {
    pub working_days: u32,
    /// The guide states the special step's limit (else the platform maximum applies).
    pub from_guide: bool,
}

impl SuspensionLimit {
    /// The special step's own limit in the guide (the longest, if it appears twice), else
    /// `platform_max`.
    pub fn of(guide: &Guide, kind: SpecialStep, platform_max: u32) -> SuspensionLimit {
        guide
            .steps
            .iter()
            .filter(|s| SpecialStep::of_step_kind(s.kind) == Some(kind) && s.limit_days > 0)
            .map(|s| s.limit_days)
            .max()
            .map(|working_days| SuspensionLimit {
                working_days,
                from_guide: true,
            })
            .unwrap_or(SuspensionLimit {
                working_days: platform_max,
                from_guide: false,
            })
    }

    /// The last expected end allowed for a suspension (or an extension of one) counted from
    /// `from`.
    pub fn latest_end(
        &self,
        calendar: &Calendar,
        from: NaiveDate,
    ) -> Result<NaiveDate, CalendarError> {
        calendar.add_working_days(from, self.working_days)
    }

    /// Why the date is the limit, for the refusal's detail.
    pub fn explain(&self, kind: SpecialStep, latest: NaiveDate) -> String {
        let label = crate::cases::views::special_step_label(kind);
        let source = if self.from_guide {
            format!("办事指南规定的{label}时限为{}个工作日", self.working_days)
        } else {
            format!(
                "办事指南未规定{label}时限，平台上限为{}个工作日",
                self.working_days
            )
        };
        format!(
            "预计结束日期不能晚于{}（{source}）；需要更长时间的，请在挂起后申请延长并说明理由",
            latest.format("%Y-%m-%d")
        )
    }
}
