//! Extensions (延期) within the law: the checks an extension must pass before it is granted.
//!
//! 行政许可法 art. 42: a decision is due within 20 working days; when it cannot be made in
//! time, the head of the agency may approve one extension of 10 working days, and the applicant
//! is told the reason. The item's guide may set its own allowance
//! ([`ExtensionAllowance`]); the checks are the same. A new deadline in a year whose holiday
//! arrangement is not published counts provisionally, like every other deadline.

use chrono::NaiveDate;

use super::clock::{self, CaseClock};
use crate::calendar::model::Calendar;
use crate::cases::errors::CaseProblem;
use crate::catalog::model::ExtensionAllowance;
use crate::http::{AppError, AppResult};

/// Why an extension is refused; each is a 422 with its own code on `new_deadline`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the new deadline {0} is already past")]
    InPast(NaiveDate),
    #[error("the deadline {0} has passed: an extension is decided before the deadline runs out")]
    AfterDeadline(NaiveDate),
    #[error("the new deadline {0} is not a working day")]
    NotWorkingDay(NaiveDate),
    #[error("the new deadline must be after the current one, {0}")]
    NotLater(NaiveDate),
    #[error("the case has had the {0} extension(s) its item allows")]
    LimitReached(u32),
    #[error(
        "the new deadline adds {asked} working days to the deadline before extensions, {base}; the item allows {allowed}"
    )]
    ExceedsAllowance {
        base: NaiveDate,
        asked: u32,
        allowed: u32,
    },
    #[error("the case's clock record is inconsistent: {0}")]
    Clock(#[from] clock::ClockError),
}

impl Refusal {
    /// The declared problem it is sent as.
    pub fn problem(&self) -> CaseProblem {
        match self {
            Refusal::InPast(_) => CaseProblem::ExtensionInPast,
            Refusal::AfterDeadline(_) => CaseProblem::ExtensionAfterDeadline,
            Refusal::NotWorkingDay(_) => CaseProblem::ExtensionNotWorkingDay,
            Refusal::NotLater(_) => CaseProblem::ExtensionNotLater,
            Refusal::LimitReached(_) => CaseProblem::ExtensionLimitReached,
            Refusal::ExceedsAllowance { .. } => CaseProblem::ExtensionExceedsAllowance,
            Refusal::Clock(e) => e.problem(),
        }
    }

    pub fn code(&self) -> &'static str {
        self.problem().code()
    }
}

/// Decides whether `clock`'s case may be extended to `new_deadline` on `today` (the day the
/// extension is granted).
pub fn decide(
    calendar: &Calendar,
    clock: &CaseClock,
    allowance: ExtensionAllowance,
    new_deadline: NaiveDate,
    today: NaiveDate,
) -> Result<(), Refusal> {
    if new_deadline < today {
        return Err(Refusal::InPast(new_deadline));
    }
    let current = clock::deadline_as_of(calendar, clock, today)?;
    if today > current {
        return Err(Refusal::AfterDeadline(current));
    }
    if !calendar
        .is_working_day(new_deadline)
        .map_err(clock::ClockError::from)?
    {
        return Err(Refusal::NotWorkingDay(new_deadline));
    }
    if new_deadline <= current {
        return Err(Refusal::NotLater(current));
    }
    let granted = u32::try_from(clock.extensions.len()).unwrap_or(u32::MAX);
    if granted >= allowance.times {
        return Err(Refusal::LimitReached(allowance.times));
    }
    // Measured from the deadline as it would stand today with no extension at all, so a
    // series of extensions cannot add up to more than the allowance.
    let unextended = CaseClock {
        extensions: Vec::new(),
        ..clock.clone()
    };
    let base = clock::deadline_as_of(calendar, &unextended, today)?;
    let asked = calendar
        .working_days_between(base, new_deadline)
        .map_err(clock::ClockError::from)?;
    if asked > allowance.working_days {
        return Err(Refusal::ExceedsAllowance {
            base,
            asked,
            allowed: allowance.working_days,
        });
    }
    Ok(())
}

/// [`decide`], refusals as 422 problems on `new_deadline`.
pub fn check(
    calendar: &Calendar,
    clock: &CaseClock,
    allowance: ExtensionAllowance,
    new_deadline: NaiveDate,
    today: NaiveDate,
) -> AppResult<()> {
    decide(calendar, clock, allowance, new_deadline, today).map_err(|refusal| {
        AppError::invalid_field("new_deadline", refusal.problem(), refusal.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::model::official_2026;
    use crate::cases::clock::Extension;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn case(accepted: &str, limit: u32) -> CaseClock {
        CaseClock {
            accepted_on: d(accepted),
            limit_working_days: limit,
            suspensions: vec![],
            extensions: vec![],
        }
    }

    const LAW: ExtensionAllowance = ExtensionAllowance::LICENSING_LAW;

    #[test]
    fn the_licensing_law_allows_one_extension_of_ten_working_days() {
        let calendar = Calendar::new([official_2026()]);
        // Accepted Monday 2026-11-02 with 20 working days: due Monday 2026-11-30.
        let c = case("2026-11-02", 20);
        let today = d("2026-11-20");
        // Ten working days after 11-30 is Monday 12-14; eleven is 12-15.
        assert_eq!(decide(&calendar, &c, LAW, d("2026-12-14"), today), Ok(()));
        assert_eq!(
            decide(&calendar, &c, LAW, d("2026-12-15"), today),
            Err(Refusal::ExceedsAllowance {
                base: d("2026-11-30"),
                asked: 11,
                allowed: 10
            })
        );
        // About 245 working days: far beyond the allowance.
        let code = decide(&calendar, &c, LAW, d("2027-11-12"), today)
            .unwrap_err()
            .code();
        assert_eq!(code, "extension_exceeds_allowance");
        // A second extension is refused however short.
        let mut once = c.clone();
        once.extensions.push(Extension {
            granted_on: d("2026-11-20"),
            new_deadline: d("2026-12-07"),
        });
        assert_eq!(
            decide(&calendar, &once, LAW, d("2026-12-08"), today),
            Err(Refusal::LimitReached(1))
        );
    }

    #[test]
    fn each_refusal_has_its_own_code() {
        let calendar = Calendar::new([official_2026()]);
        let c = case("2026-11-02", 20);
        let today = d("2026-11-20");
        let code = |new: &str, today: NaiveDate| {
            decide(&calendar, &c, LAW, d(new), today)
                .unwrap_err()
                .code()
        };
        assert_eq!(code("2026-11-19", today), "extension_in_past");
        assert_eq!(code("2026-12-05", today), "extension_not_working_day"); // Saturday
        assert_eq!(code("2026-11-27", today), "extension_not_later");
        assert_eq!(
            code("2026-12-10", d("2026-12-01")),
            "extension_after_deadline"
        );
    }

    #[test]
    fn an_extension_into_an_unpublished_year_counts_provisionally() {
        // 2027 not loaded: accepted 2026-12-01 with 20 days is due 2026-12-29; ten provisional
        // working days later is Tuesday 2027-01-12 (Friday 1 January counts).
        let calendar = Calendar::new([official_2026()]);
        let c = case("2026-12-01", 20);
        let today = d("2026-12-21");
        assert_eq!(decide(&calendar, &c, LAW, d("2027-01-12"), today), Ok(()));
        assert_eq!(
            decide(&calendar, &c, LAW, d("2027-01-13"), today)
                .unwrap_err()
                .code(),
            "extension_exceeds_allowance"
        );
    }
}
