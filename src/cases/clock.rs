//! The deadline clock (办理时限): deadline facts computed from the case's record, never stored
//! twice, so the applicant's view, the staff inbox and the supervision lights cannot disagree.
//!
//! Counting follows [`Calendar::add_working_days`] (and `/api/v1/calendar/deadline`): day 1 of a
//! limit is the first working day after acceptance; a limit of 0 (即办件) is due on the acceptance
//! day itself [000 art.22]. Rules of the clock:
//! - A suspension (挂起) from `start` to `end` stops the clock for the working days in
//!   `(start, end]` — the calendar's own half-open count — so the day the case was suspended is
//!   a handling day, the day it is resumed is not, and a suspension resumed the same day stops
//!   nothing. An open suspension runs until "as of". Only suspensions that begin before the
//!   deadline move it: suspending an already overdue case does not make it on time
//!   [000 art.24,30].
//! - An extension (延期) replaces the deadline as it stood when the extension was granted; a
//!   suspension begun after the grant pushes the new deadline out as it would the original.
//!   An extended case is not overdue before its new deadline [000 art.30].
//! - A year with no published calendar counts provisionally, Monday to Friday (see
//!   [`Calendar`]); the facts name those years so every view can say the date is provisional.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::calendar::model::{Calendar, CalendarError};
use crate::cases::errors::CaseProblem;

/// One suspension of the clock; `end` is None while the case is still suspended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuspensionPeriod {
    /// The date the case was suspended.
    pub start: NaiveDate,
    /// The date it was resumed; None while it is still suspended.
    pub end: Option<NaiveDate>,
}

/// One extension: granted on a date, replacing the deadline with `new_deadline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    /// The date the extension was granted.
    pub granted_on: NaiveDate,
    /// The new deadline; must be a working day later than the deadline it replaces.
    pub new_deadline: NaiveDate,
}

/// What the clock needs from a case record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseClock {
    /// The acceptance date (受理日期), in Asia/Shanghai.
    pub accepted_on: NaiveDate,
    /// The item version's promised limit (承诺时限) in working days; 0 for an instant item.
    pub limit_working_days: u32,
    /// Suspensions, in any order; overlapping ones count once.
    pub suspensions: Vec<SuspensionPeriod>,
    /// Extensions, in any order; applied in the order they were granted.
    pub extensions: Vec<Extension>,
}

/// The deadline facts of a case as of a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineFacts {
    /// The date by which the case must be decided (on time through that whole day).
    pub deadline: NaiveDate,
    /// Working days in `(accepted_on, as_of]` that the clock ran (not suspended).
    pub working_days_used: u32,
    /// Working days in `(as_of, deadline]`; negative (the working days in `(deadline, as_of]`)
    /// once overdue.
    pub working_days_left: i64,
    /// Working days in `(accepted_on, as_of]` during which the clock was stopped.
    pub suspended_working_days: u32,
    /// `as_of` is after the deadline.
    pub overdue: bool,
    /// At least one extension was granted.
    pub extended: bool,
    /// Years from acceptance to the later of the deadline and `as_of` that have no published
    /// calendar: the deadline and counts are provisional (weekdays only there) until they are
    /// loaded. Empty when every day counted is official.
    pub provisional_years: Vec<i32>,
}

/// Why deadline facts cannot be computed; each names the record that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// The calendar cannot classify a date needed (usually a year not loaded).
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    /// A suspension ends before it starts.
    #[error("suspension from {start} ends before it starts, on {end}")]
    SuspensionEndsBeforeStart { start: NaiveDate, end: NaiveDate },
    /// An extension's new deadline is not a working day.
    #[error("extended deadline {0} is not a working day")]
    ExtensionNotWorkingDay(NaiveDate),
    /// An extension does not move the deadline later.
    #[error(
        "extended deadline {new_deadline} is not later than the deadline {deadline} it replaces"
    )]
    ExtensionNotLater {
        new_deadline: NaiveDate,
        deadline: NaiveDate,
    },
}

impl ClockError {
    /// The declared problem it is sent as.
    pub fn problem(&self) -> CaseProblem {
        match self {
            Self::Calendar(_) => CaseProblem::CalendarError,
            Self::SuspensionEndsBeforeStart { .. } => CaseProblem::SuspensionEndsBeforeStart,
            Self::ExtensionNotWorkingDay(_) => CaseProblem::ExtensionNotWorkingDay,
            Self::ExtensionNotLater { .. } => CaseProblem::ExtensionNotLater,
        }
    }

    /// Stable machine code, for problem+json.
    pub fn code(&self) -> &'static str {
        self.problem().code()
    }
}

/// A half-open interval `(start, end]` of dates during which the clock is stopped.
type Stop = (NaiveDate, NaiveDate);

/// The deadline facts of `clock` as of `as_of` (today, or the decision date for a decided case:
/// sealing the decision ends the clock [000 art.26]).
pub fn deadline_facts(
    calendar: &Calendar,
    clock: &CaseClock,
    as_of: NaiveDate,
) -> Result<DeadlineFacts, ClockError> {
    let stops = stops(clock, as_of)?;
    let deadline = deadline(calendar, clock, &stops)?;

    let elapsed = calendar.working_days_between(clock.accepted_on, as_of)?;
    let mut suspended = 0u32;
    for (start, end) in merge(&stops) {
        let start = start.max(clock.accepted_on);
        let end = end.min(as_of);
        if start < end {
            suspended += calendar.working_days_between(start, end)?;
        }
    }
    let working_days_left = if as_of <= deadline {
        i64::from(calendar.working_days_between(as_of, deadline)?)
    } else {
        -i64::from(calendar.working_days_between(deadline, as_of)?)
    };
    Ok(DeadlineFacts {
        deadline,
        working_days_used: elapsed.saturating_sub(suspended),
        working_days_left,
        suspended_working_days: suspended,
        overdue: as_of > deadline,
        extended: !clock.extensions.is_empty(),
        provisional_years: calendar.provisional_years(clock.accepted_on, deadline.max(as_of)),
    })
}

/// The deadline alone (see [`deadline_facts`]); `as_of` closes open suspensions.
pub fn deadline_as_of(
    calendar: &Calendar,
    clock: &CaseClock,
    as_of: NaiveDate,
) -> Result<NaiveDate, ClockError> {
    deadline(calendar, clock, &stops(clock, as_of)?)
}

/// The suspensions as half-open stops, open ones closed at `as_of`, checked.
fn stops(clock: &CaseClock, as_of: NaiveDate) -> Result<Vec<Stop>, ClockError> {
    let mut stops = Vec::with_capacity(clock.suspensions.len());
    for s in &clock.suspensions {
        match s.end {
            Some(end) if end < s.start => {
                return Err(ClockError::SuspensionEndsBeforeStart {
                    start: s.start,
                    end,
                });
            }
            Some(end) => stops.push((s.start, end)),
            // An open suspension started after `as_of` has stopped nothing yet.
            None => stops.push((s.start, as_of.max(s.start))),
        }
    }
    Ok(stops)
}

fn deadline(
    calendar: &Calendar,
    clock: &CaseClock,
    stops: &[Stop],
) -> Result<NaiveDate, ClockError> {
    let mut extensions = clock.extensions.clone();
    extensions.sort_by_key(|e| (e.granted_on, e.new_deadline));
    // Each extension becomes extra working days on top of the limit: the working days between
    // the deadline as it stood at the grant and the new deadline. Suspensions that begin later
    // then push the extended deadline exactly as they would push the original one.
    let mut limit = u64::from(clock.limit_working_days);
    for extension in &extensions {
        if !calendar.is_working_day(extension.new_deadline)? {
            return Err(ClockError::ExtensionNotWorkingDay(extension.new_deadline));
        }
        // The deadline as it stood at the grant: a suspension running then counts up to the
        // grant day only, so the check does not drift as the suspension goes on.
        let before: Vec<Stop> = stops
            .iter()
            .filter(|(start, _)| *start < extension.granted_on)
            .map(|&(start, end)| (start, end.min(extension.granted_on)))
            .collect();
        let current = walk(calendar, clock.accepted_on, limit, &before)?;
        if extension.new_deadline <= current {
            return Err(ClockError::ExtensionNotLater {
                new_deadline: extension.new_deadline,
                deadline: current,
            });
        }
        // Working days the clock runs between the two: days already stopped by a suspension
        // before the grant are not handling days and must not count twice.
        limit += running_days(calendar, current, extension.new_deadline, &before)?;
    }
    walk(calendar, clock.accepted_on, limit, stops)
}

/// The `limit`-th working day after `accepted` that no stop covers (or `accepted` for 0).
fn walk(
    calendar: &Calendar,
    accepted: NaiveDate,
    limit: u64,
    stops: &[Stop],
) -> Result<NaiveDate, ClockError> {
    let mut remaining = limit;
    let mut cursor = accepted;
    for (start, end) in merge(stops) {
        if end <= cursor {
            continue;
        }
        let start = start.max(cursor);
        let available = u64::from(calendar.working_days_between(cursor, start)?);
        if remaining <= available {
            break;
        }
        remaining -= available;
        cursor = end;
    }
    let remaining = u32::try_from(remaining).map_err(|_| CalendarError::Overflow)?;
    Ok(calendar.add_working_days(cursor, remaining)?)
}

/// Working days in `(from, to]` that no stop covers.
fn running_days(
    calendar: &Calendar,
    from: NaiveDate,
    to: NaiveDate,
    stops: &[Stop],
) -> Result<u64, ClockError> {
    let mut days = u64::from(calendar.working_days_between(from, to)?);
    for (start, end) in merge(stops) {
        let (start, end) = (start.max(from), end.min(to));
        if start < end {
            days = days.saturating_sub(u64::from(calendar.working_days_between(start, end)?));
        }
    }
    Ok(days)
}

/// Sorted, disjoint, non-empty stops (overlapping or touching ones joined).
fn merge(stops: &[Stop]) -> Vec<Stop> {
    let mut sorted: Vec<Stop> = stops.iter().copied().filter(|(s, e)| s < e).collect();
    sorted.sort();
    let mut merged: Vec<Stop> = Vec::with_capacity(sorted.len());
    for (start, end) in sorted {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::model::{official_2025, official_2026};
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn calendar() -> Calendar {
        Calendar::new([official_2025(), official_2026()])
    }

    fn clock(accepted: &str, limit: u32) -> CaseClock {
        CaseClock {
            accepted_on: d(accepted),
            limit_working_days: limit,
            suspensions: vec![],
            extensions: vec![],
        }
    }

    fn suspended(mut c: CaseClock, start: &str, end: Option<&str>) -> CaseClock {
        c.suspensions.push(SuspensionPeriod {
            start: d(start),
            end: end.map(d),
        });
        c
    }

    fn extended(mut c: CaseClock, granted_on: &str, new_deadline: &str) -> CaseClock {
        c.extensions.push(Extension {
            granted_on: d(granted_on),
            new_deadline: d(new_deadline),
        });
        c
    }

    fn facts(c: &CaseClock, as_of: &str) -> DeadlineFacts {
        deadline_facts(&calendar(), c, d(as_of)).unwrap()
    }

    #[test]
    fn counts_from_the_working_day_after_acceptance_across_the_spring_festival() {
        // Thu 02-12 + 5: 02-13 (Fri), 02-14 (Sat, adjusted), then 02-15..23 off, 02-24, 25, 26.
        let c = clock("2026-02-12", 5);
        let f = facts(&c, "2026-02-20");
        assert_eq!(
            f,
            DeadlineFacts {
                deadline: d("2026-02-26"),
                working_days_used: 2,
                working_days_left: 3,
                suspended_working_days: 0,
                overdue: false,
                extended: false,
                provisional_years: vec![],
            }
        );
        // Same as the calendar endpoint's arithmetic.
        assert_eq!(
            calendar().add_working_days(d("2026-02-12"), 5),
            Ok(f.deadline)
        );
        let f = facts(&c, "2026-02-26");
        assert_eq!((f.working_days_left, f.overdue), (0, false));
        let f = facts(&c, "2026-02-27");
        assert_eq!(
            (f.working_days_used, f.working_days_left, f.overdue),
            (6, -1, true)
        );
    }

    #[test]
    fn a_suspension_across_the_spring_festival_stops_only_working_days() {
        // Tue 02-10 + 5 = 02-24 without suspension.
        let base = clock("2026-02-10", 5);
        assert_eq!(facts(&base, "2026-02-11").deadline, d("2026-02-24"));
        // Suspended 02-12, resumed Wed 02-25: stopped 02-13, 02-14 (adjusted), 02-24, 02-25.
        let c = suspended(base.clone(), "2026-02-12", Some("2026-02-25"));
        let f = facts(&c, "2026-02-27");
        assert_eq!(
            f,
            DeadlineFacts {
                // 02-11, 02-12 used; 3 more after 02-25: 02-26, 02-27, 02-28 (Sat, adjusted).
                deadline: d("2026-02-28"),
                working_days_used: 4,
                working_days_left: 1,
                suspended_working_days: 4,
                overdue: false,
                extended: false,
                provisional_years: vec![],
            }
        );
        // Suspended only over the holiday itself: no working day stopped, nothing moves.
        let c = suspended(base, "2026-02-15", Some("2026-02-23"));
        let f = facts(&c, "2026-02-23");
        assert_eq!((f.deadline, f.suspended_working_days), (d("2026-02-24"), 0));
    }

    #[test]
    fn an_open_suspension_over_national_day_keeps_pushing_the_deadline() {
        // Mon 09-28 + 2 = 09-30. Suspended 09-29 and still suspended on 10-09: stopped 09-30,
        // 10-08, 10-09 (10-01..07 are off); 1 day left after 10-09: Sat 10-10 (adjusted).
        let c = suspended(clock("2026-09-28", 2), "2026-09-29", None);
        let f = facts(&c, "2026-10-09");
        assert_eq!(
            f,
            DeadlineFacts {
                deadline: d("2026-10-10"),
                working_days_used: 1,
                working_days_left: 1,
                suspended_working_days: 3,
                overdue: false,
                extended: false,
                provisional_years: vec![],
            }
        );
        // Still suspended on 10-12: the deadline moves with it (10-11 is a plain Sunday).
        assert_eq!(facts(&c, "2026-10-12").deadline, d("2026-10-13"));
        // Resumed and closed: the facts no longer move with "as of".
        let closed = suspended(clock("2026-09-28", 2), "2026-09-29", Some("2026-10-09"));
        assert_eq!(facts(&closed, "2026-10-20").deadline, d("2026-10-10"));
        assert!(facts(&closed, "2026-10-20").overdue);
    }

    #[test]
    fn suspending_an_overdue_case_does_not_make_it_on_time() {
        // Mon 03-02 + 2 = 03-04; suspended from 03-06, after the deadline.
        let c = suspended(clock("2026-03-02", 2), "2026-03-06", Some("2026-03-13"));
        let f = facts(&c, "2026-03-13");
        assert_eq!(f.deadline, d("2026-03-04"));
        assert!(f.overdue);
        assert_eq!(f.suspended_working_days, 5);
        assert_eq!(f.working_days_used, 9 - 5);
        // A suspension started on the deadline day itself does not move it either.
        let c = suspended(clock("2026-03-02", 2), "2026-03-04", Some("2026-03-13"));
        assert_eq!(facts(&c, "2026-03-13").deadline, d("2026-03-04"));
    }

    #[test]
    fn an_extended_case_is_not_overdue_before_its_new_deadline() {
        // Tue 09-29 + 3: 09-30, 10-08, 10-09.
        let c = clock("2026-09-29", 3);
        let f = facts(&c, "2026-10-10");
        assert_eq!(
            (f.deadline, f.overdue, f.working_days_left),
            (d("2026-10-09"), true, -1)
        );
        let c = extended(c, "2026-10-09", "2026-10-16");
        let f = facts(&c, "2026-10-10");
        assert_eq!(
            f,
            DeadlineFacts {
                deadline: d("2026-10-16"),
                working_days_used: 4, // 09-30, 10-08, 10-09, 10-10 (Sat, adjusted)
                working_days_left: 5, // 10-12 .. 10-16
                suspended_working_days: 0,
                overdue: false,
                extended: true,
                provisional_years: vec![],
            }
        );
        assert!(!facts(&c, "2026-10-16").overdue);
        let f = facts(&c, "2026-10-19");
        assert_eq!((f.overdue, f.working_days_left), (true, -1));
        // A second extension replaces the first.
        let c = extended(c, "2026-10-15", "2026-10-23");
        assert_eq!(facts(&c, "2026-10-20").deadline, d("2026-10-23"));
    }

    #[test]
    fn a_suspension_after_an_extension_pushes_the_new_deadline() {
        let c = extended(clock("2026-09-29", 3), "2026-10-09", "2026-10-16");
        // Suspended Mon 10-12, resumed Wed 10-14: 10-13 and 10-14 stopped.
        let c = suspended(c, "2026-10-12", Some("2026-10-14"));
        assert_eq!(facts(&c, "2026-10-15").deadline, d("2026-10-20"));
        // An extension granted during a suspension replaces the deadline as it stood that day;
        // the rest of the suspension still counts, and the check does not drift with "as of".
        let c = suspended(clock("2026-09-28", 2), "2026-09-29", None);
        // As of the grant (10-09) the deadline stood at 10-10.
        let c = extended(c, "2026-10-09", "2026-10-16");
        assert_eq!(facts(&c, "2026-10-09").deadline, d("2026-10-16"));
        // Still suspended on 10-13: 10-10, 10-12 and 10-13 stopped after the grant too.
        assert_eq!(facts(&c, "2026-10-13").deadline, d("2026-10-21"));
    }

    #[test]
    fn instant_items_are_due_on_the_acceptance_day() {
        let c = clock("2026-10-01", 0); // a day off: still due that day
        let f = facts(&c, "2026-10-01");
        assert_eq!(
            (f.deadline, f.overdue, f.working_days_left),
            (d("2026-10-01"), false, 0)
        );
        let f = facts(&c, "2026-10-08");
        assert_eq!(
            (f.overdue, f.working_days_left, f.working_days_used),
            (true, -1, 1)
        );
        let c = clock("2026-05-06", 0);
        assert!(!facts(&c, "2026-05-06").overdue);
        assert!(facts(&c, "2026-05-07").overdue);
    }

    #[test]
    fn unpublished_years_count_provisionally_and_are_named() {
        let only_2026 = Calendar::new([official_2026()]);
        // Accepted Monday 2026-12-28 with 10 working days: 12-29..12-31 (3), then 2027's
        // weekdays provisionally: Fri 1/1, 1/4..1/8, 1/11 -> the 10th is Monday 2027-01-11.
        let c = clock("2026-12-28", 10);
        let f = deadline_facts(&only_2026, &c, d("2026-12-29")).unwrap();
        assert_eq!(f.deadline, d("2027-01-11"));
        assert_eq!(f.provisional_years, [2027]);
        assert_eq!((f.working_days_used, f.working_days_left), (1, 9));
        // A case due within 2026 is official, until "as of" runs into 2027: an overdue case
        // stays overdue, its count provisional.
        let due_2026 = clock("2026-11-02", 5);
        let f = deadline_facts(&only_2026, &due_2026, d("2026-11-04")).unwrap();
        assert!(f.provisional_years.is_empty());
        let f = deadline_facts(&only_2026, &due_2026, d("2027-01-04")).unwrap();
        assert_eq!(f.deadline, d("2026-11-09"));
        assert!(f.overdue);
        // 11-10..11-30 (15 weekdays), December's 23, then Fri 1/1 and Mon 1/4.
        assert_eq!(f.working_days_left, -(15 + 23 + 2));
        assert_eq!(f.provisional_years, [2027]);
        // Accepted in a year not loaded at all.
        let f = deadline_facts(&only_2026, &clock("2025-12-30", 1), d("2026-01-05")).unwrap();
        assert_eq!(f.deadline, d("2025-12-31"));
        assert_eq!(f.provisional_years, [2025]);
        let bad = suspended(clock("2026-03-02", 5), "2026-03-05", Some("2026-03-04"));
        assert_eq!(
            deadline_facts(&calendar(), &bad, d("2026-03-06")),
            Err(ClockError::SuspensionEndsBeforeStart {
                start: d("2026-03-05"),
                end: d("2026-03-04")
            })
        );
        let sunday = extended(clock("2026-09-29", 3), "2026-10-09", "2026-10-11");
        assert_eq!(
            deadline_facts(&calendar(), &sunday, d("2026-10-09")),
            Err(ClockError::ExtensionNotWorkingDay(d("2026-10-11")))
        );
        let earlier = extended(clock("2026-09-29", 3), "2026-10-08", "2026-10-08");
        assert_eq!(
            deadline_facts(&calendar(), &earlier, d("2026-10-09")),
            Err(ClockError::ExtensionNotLater {
                new_deadline: d("2026-10-08"),
                deadline: d("2026-10-09")
            })
        );
    }

    #[test]
    fn overlapping_suspensions_count_once() {
        let c = suspended(clock("2026-03-02", 5), "2026-03-03", Some("2026-03-06"));
        let c = suspended(c, "2026-03-04", Some("2026-03-05"));
        let alone = suspended(clock("2026-03-02", 5), "2026-03-03", Some("2026-03-06"));
        assert_eq!(facts(&c, "2026-03-20"), facts(&alone, "2026-03-20"));
        assert_eq!(facts(&c, "2026-03-20").suspended_working_days, 3);
    }

    // ---- Properties ----

    fn day() -> impl Strategy<Value = NaiveDate> {
        (0u64..300).prop_map(|i| d("2026-01-01") + chrono::Days::new(i))
    }

    fn suspension() -> impl Strategy<Value = SuspensionPeriod> {
        (day(), prop::option::of(0u64..25)).prop_map(|(start, len)| SuspensionPeriod {
            start,
            end: len.map(|n| start + chrono::Days::new(n)),
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1500))]

        #[test]
        fn prop_without_suspension_the_deadline_is_the_calendar_deadline(
            accepted in day(), limit in 0u32..40, as_of in day(),
        ) {
            let cal = calendar();
            let f = deadline_facts(&cal, &CaseClock {
                accepted_on: accepted,
                limit_working_days: limit,
                suspensions: vec![],
                extensions: vec![],
            }, as_of).unwrap();
            prop_assert_eq!(Ok(f.deadline), cal.add_working_days(accepted, limit));
            prop_assert_eq!(f.suspended_working_days, 0);
            if as_of <= f.deadline && as_of >= accepted {
                prop_assert_eq!(i64::from(f.working_days_used) + f.working_days_left, i64::from(limit));
            }
        }

        #[test]
        fn prop_a_suspension_never_moves_the_deadline_earlier(
            accepted in day(),
            limit in 0u32..40,
            existing in prop::collection::vec(suspension(), 0..3),
            added in suspension(),
            as_of in day(),
        ) {
            let cal = calendar();
            let mut c = CaseClock {
                accepted_on: accepted,
                limit_working_days: limit,
                suspensions: existing,
                extensions: vec![],
            };
            // A deadline pushed past the last loaded year (2026) counts provisionally there.
            let before = deadline_facts(&cal, &c, as_of).unwrap();
            c.suspensions.push(added);
            let after = deadline_facts(&cal, &c, as_of).unwrap();
            prop_assert!(after.deadline >= before.deadline);
            prop_assert!(after.suspended_working_days >= before.suspended_working_days);
            prop_assert!(after.working_days_used <= before.working_days_used);
            // Used and stopped days add up to the working days since acceptance.
            let elapsed = cal.working_days_between(accepted, as_of).unwrap();
            prop_assert_eq!(after.working_days_used + after.suspended_working_days, elapsed);
            // Overdue exactly after the deadline; days left negative only when overdue.
            prop_assert_eq!(after.overdue, as_of > after.deadline);
            prop_assert!(after.working_days_left >= 0 || after.overdue);
            if limit > 0 {
                prop_assert_eq!(cal.is_working_day(after.deadline), Ok(true));
            }
        }

        #[test]
        fn prop_an_extended_case_is_on_time_until_its_new_deadline(
            accepted in day(),
            limit in 0u32..30,
            extra in 1u32..30,
            granted_after in 0u32..10,
            suspensions in prop::collection::vec(suspension(), 0..3),
            as_of_offset in 0u64..60,
        ) {
            let cal = calendar();
            let mut c = CaseClock {
                accepted_on: accepted,
                limit_working_days: limit,
                suspensions,
                extensions: vec![],
            };
            // Grant on some day after acceptance, close the suspensions started before it.
            // Cases whose dates run past the loaded years are out of scope here.
            let Ok(granted_on) = cal.add_working_days(accepted, granted_after) else {
                return Ok(());
            };
            c.suspensions.retain(|s| s.start < granted_on);
            for s in &mut c.suspensions {
                s.end = Some(s.end.unwrap_or(granted_on).min(granted_on));
            }
            let Ok(current) = deadline_as_of(&cal, &c, granted_on) else {
                return Ok(());
            };
            let Ok(new_deadline) = cal.add_working_days(current.max(granted_on), extra) else {
                return Ok(());
            };
            c.extensions.push(Extension { granted_on, new_deadline });
            let as_of = granted_on + chrono::Days::new(as_of_offset);
            let f = deadline_facts(&cal, &c, as_of).unwrap();
            prop_assert!(f.extended);
            prop_assert_eq!(f.deadline, new_deadline);
            prop_assert_eq!(f.overdue, as_of > new_deadline);
        }
    }
}
