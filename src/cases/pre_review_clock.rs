//! The pre-review clock of 行政许可法 art. 32(1)(4): materials that are incomplete or not in
//! the legal form must be notified "当场或者在五日内一次告知申请人需要补正的全部内容，逾期不告知
//! 的，自收到申请材料之日起即为受理". Five days are working days (art. 82). The clock runs from
//! the day the materials were received: the submission, or the latest correction answer (the
//! department then has the same five days for the answered materials).
//!
//! Once the clock has run out, the application counts as accepted from the day its materials
//! were received: an acceptance after that records that day as the legal acceptance date (the
//! deadline counts from it) and the case keeps the fact (`Acceptance::deemed`) for supervision;
//! a correction notice after that is recorded as late.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::calendar::model::{Calendar, CalendarError};

/// Working days the department has to notify corrections [行政许可法 art. 32, 82].
pub const NOTIFY_WITHIN_WORKING_DAYS: u32 = 5;

/// Where the pre-review clock of a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreReviewClock {
    /// The day the materials under review were received.
    pub materials_received_on: NaiveDate,
    /// The last day a correction notice may be given.
    pub notify_by: NaiveDate,
}

impl PreReviewClock {
    pub fn starting(
        calendar: &Calendar,
        materials_received_on: NaiveDate,
    ) -> Result<PreReviewClock, CalendarError> {
        Ok(PreReviewClock {
            materials_received_on,
            notify_by: calendar
                .add_working_days(materials_received_on, NOTIFY_WITHIN_WORKING_DAYS)?,
        })
    }

    /// Past the last day: the application counts as accepted from the day of receipt.
    pub fn lapsed(&self, on: NaiveDate) -> bool {
        on > self.notify_by
    }

    /// Working days left in `(on, notify_by]`; negative (the working days past it) once lapsed.
    pub fn working_days_left(
        &self,
        calendar: &Calendar,
        on: NaiveDate,
    ) -> Result<i64, CalendarError> {
        if self.lapsed(on) {
            Ok(-i64::from(
                calendar.working_days_between(self.notify_by, on)?,
            ))
        } else {
            Ok(i64::from(
                calendar.working_days_between(on, self.notify_by)?,
            ))
        }
    }
}

/// An acceptance the law made before the department did: recorded with the acceptance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DeemedAcceptance {
    /// The legal acceptance date: the day the materials were received.
    pub accepted_on: NaiveDate,
    /// The last day a correction notice could have been given.
    pub notify_by: NaiveDate,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn five_working_days_skip_the_weekend_and_then_the_clock_has_run_out() {
        // No year loaded: counted Monday to Friday (2026-11-19..30 has no holiday either).
        let calendar = Calendar::default();
        // Thursday 2026-11-19: Fri, Mon, Tue, Wed, Thu → Thursday 2026-11-26.
        let clock = PreReviewClock::starting(&calendar, d("2026-11-19")).unwrap();
        assert_eq!(clock.notify_by, d("2026-11-26"));
        assert!(!clock.lapsed(d("2026-11-26")));
        assert!(clock.lapsed(d("2026-11-27")));
        assert_eq!(
            clock.working_days_left(&calendar, d("2026-11-19")).unwrap(),
            5
        );
        assert_eq!(
            clock.working_days_left(&calendar, d("2026-11-26")).unwrap(),
            0
        );
        assert_eq!(
            clock.working_days_left(&calendar, d("2026-11-30")).unwrap(),
            -2
        );
    }
}
