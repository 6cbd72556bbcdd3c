//! Working-day (工作日) calendar model: pure data and arithmetic, no I/O.
//!
//! A date is a working day when it is an official adjusted working day (调休上班),
//! or when it is a Monday–Friday that is not an official day off. Every other date
//! (plain Saturdays and Sundays, official days off) is not a working day.
//!
//! Years that have been loaded (one [`YearCalendar`] per year, built from the 国务院办公厅
//! holiday notice) are counted officially. Any other year is counted provisionally, Monday to
//! Friday only, and [`Calendar::provisional_years`] says which years a count crossed so every
//! view can say the date is provisional (暂按……计算，以国务院公布的节假日安排为准).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use chrono::{Datelike, NaiveDate, Weekday};

/// Errors of the working-day calendar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// A date given for a [`YearCalendar`] does not lie in that calendar's year.
    #[error("date {date} is outside calendar year {year}")]
    DateOutsideYear {
        /// The calendar's year.
        year: i32,
        /// The offending date.
        date: NaiveDate,
    },
    /// A date is listed both as a day off and as an adjusted working day.
    #[error("date {0} is listed both as a day off and as an adjusted working day")]
    ConflictingDate(NaiveDate),
    /// An adjusted working day (调休上班) must be a Saturday or a Sunday.
    #[error("adjusted working day {0} is not a Saturday or Sunday")]
    AdjustedDayNotWeekend(NaiveDate),
    /// A date or count fell outside the representable range.
    #[error("date arithmetic overflowed the representable range")]
    Overflow,
}

/// One year's official adjustments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearCalendar {
    /// The calendar year these adjustments belong to.
    pub year: i32,
    /// Official days off (放假). May include plain weekends, since the notices list whole ranges.
    pub days_off: BTreeSet<NaiveDate>,
    /// Official adjusted working days (调休上班); each is a Saturday or Sunday.
    pub adjusted_working_days: BTreeSet<NaiveDate>,
}

impl YearCalendar {
    /// Builds a validated year calendar.
    ///
    /// Validates that every date lies within `year` ([`CalendarError::DateOutsideYear`]),
    /// that no date is in both sets ([`CalendarError::ConflictingDate`]) and that every
    /// adjusted working day is a Saturday or Sunday
    /// ([`CalendarError::AdjustedDayNotWeekend`]). Days off that are plain weekends are
    /// allowed. Duplicates within one list are merged. Each error names the offending
    /// date; checks run in that order, each over dates in ascending order.
    pub fn new(
        year: i32,
        days_off: impl IntoIterator<Item = NaiveDate>,
        adjusted_working_days: impl IntoIterator<Item = NaiveDate>,
    ) -> Result<Self, CalendarError> {
        let days_off: BTreeSet<NaiveDate> = days_off.into_iter().collect();
        let adjusted_working_days: BTreeSet<NaiveDate> =
            adjusted_working_days.into_iter().collect();

        let mut all: Vec<NaiveDate> = days_off
            .iter()
            .chain(adjusted_working_days.iter())
            .copied()
            .collect();
        all.sort_unstable();
        if let Some(&date) = all.iter().find(|d| d.year() != year) {
            return Err(CalendarError::DateOutsideYear { year, date });
        }
        if let Some(&date) = days_off.intersection(&adjusted_working_days).next() {
            return Err(CalendarError::ConflictingDate(date));
        }
        if let Some(&date) = adjusted_working_days.iter().find(|d| !is_weekend(**d)) {
            return Err(CalendarError::AdjustedDayNotWeekend(date));
        }
        Ok(Self {
            year,
            days_off,
            adjusted_working_days,
        })
    }

    /// Whether `date` is a working day by this year's rules (the year is not checked).
    ///
    /// An adjusted working day wins over a day off, so that a hand-built (unvalidated)
    /// calendar is still classified consistently with [`Self::count_working_days`].
    fn classify(&self, date: NaiveDate) -> bool {
        if self.adjusted_working_days.contains(&date) {
            true
        } else if self.days_off.contains(&date) {
            false
        } else {
            !is_weekend(date)
        }
    }

    /// Working days in `(from, to]`, for `from < to` with the whole interval in this
    /// year. Closed form: plain weekdays, minus weekday days off, plus weekend adjusted
    /// working days (consistent with [`Self::classify`] even for unvalidated data).
    fn count_working_days(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        let range = (Bound::Excluded(from), Bound::Included(to));
        let weekdays_off = self
            .days_off
            .range(range)
            .filter(|d| !is_weekend(**d) && !self.adjusted_working_days.contains(d))
            .count();
        let weekend_work = self
            .adjusted_working_days
            .range(range)
            .filter(|d| is_weekend(**d))
            .count();
        weekdays_between(from, to) - to_i64(weekdays_off) + to_i64(weekend_work)
    }
}

/// A working-day calendar made of the officially published years, and provisional ones.
///
/// A year with a loaded official calendar is counted by it. Any other year is counted
/// **provisionally** (暂按): Monday to Friday are working days, Saturday and Sunday are not.
/// The State Council publishes next year's arrangement around November while promised limits
/// reach 60 working days, so every autumn new deadlines run into a year that is not yet
/// published; they are computed provisionally and said to be so
/// ([`Self::provisional_years`]), never withheld.
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    years: BTreeMap<i32, YearCalendar>,
}

impl Calendar {
    /// A calendar from the given years; a later entry for the same year replaces an earlier one.
    pub fn new(years: impl IntoIterator<Item = YearCalendar>) -> Self {
        let mut calendar = Self::default();
        for year in years {
            calendar.insert(year);
        }
        calendar
    }

    /// Loads a year, replacing any calendar already loaded for that year.
    pub fn insert(&mut self, year: YearCalendar) {
        self.years.insert(year.year, year);
    }

    /// Removes a year's official calendar: it is counted provisionally again.
    pub fn remove(&mut self, year: i32) {
        self.years.remove(&year);
    }

    /// The loaded years, in ascending order.
    pub fn years(&self) -> impl Iterator<Item = &YearCalendar> {
        self.years.values()
    }

    /// The calendar loaded for `year`, if any.
    pub fn year(&self, year: i32) -> Option<&YearCalendar> {
        self.years.get(&year)
    }

    /// The rules of `year`: its official calendar, or the provisional weekdays-only one.
    fn rules(&self, year: i32) -> Cow<'_, YearCalendar> {
        match self.years.get(&year) {
            Some(official) => Cow::Borrowed(official),
            None => Cow::Owned(YearCalendar {
                year,
                days_off: BTreeSet::new(),
                adjusted_working_days: BTreeSet::new(),
            }),
        }
    }

    /// The years between the two dates (in either order, both included) that have no
    /// official calendar and so are counted provisionally; empty when every day is official.
    pub fn provisional_years(&self, a: NaiveDate, b: NaiveDate) -> Vec<i32> {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        (low.year()..=high.year())
            .filter(|y| !self.years.contains_key(y))
            .collect()
    }

    /// Whether `date` is a working day (工作日); provisionally so in a year not loaded.
    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        Ok(self.rules(date.year()).classify(date))
    }

    /// The N-th working day after `from`: the deadline of an item accepted on `from`
    /// with a time limit of `working_days` working days, counting from the working day
    /// after acceptance.
    ///
    /// For `working_days > 0` this is the `working_days`-th working day strictly after
    /// `from` (whether or not `from` itself is a working day), and so always a working day.
    ///
    /// `working_days == 0` is an instant item (即办件): the deadline is the acceptance
    /// day itself, so `from` is returned **unchanged even when it is not a working
    /// day** (an item accepted on a day off is due that same day, not moved forward).
    ///
    /// Years not loaded count provisionally (see [`Calendar`]). Cost: O(years crossed
    /// × (log 366 × adjustments in the year)), independent of N; past the last loaded year
    /// the count is in closed form.
    pub fn add_working_days(
        &self,
        from: NaiveDate,
        working_days: u32,
    ) -> Result<NaiveDate, CalendarError> {
        if working_days == 0 {
            return Ok(from);
        }
        let last_loaded = self.years.keys().next_back().copied();
        let mut year = from.year();
        let mut remaining = i64::from(working_days);
        // Exclusive start of the part of the count still to do; always in `year`, or the
        // last day of `year - 1`.
        let mut start = from;
        loop {
            if last_loaded.is_none_or(|last| year > last) {
                // Only plain weekdays from here on.
                return nth_weekday_after(start, remaining);
            }
            let rules = self.rules(year);
            let end = last_day_of(year)?;
            let available = if start < end {
                rules.count_working_days(start, end)
            } else {
                0
            };
            if remaining <= available {
                return nth_working_day_within(&rules, start, end, remaining);
            }
            remaining -= available;
            start = end;
            year = year.checked_add(1).ok_or(CalendarError::Overflow)?;
        }
    }

    /// How many working days after `today` the official calendar reaches: the working days in
    /// `(today, 31 December]` of the last year loaded without a gap from `today`'s year; 0 when
    /// `today`'s year is not loaded. A case accepted today whose promised limit is longer gets
    /// a provisional deadline until the next year is loaded, so operators watch this figure
    /// (it is exported as a metric) against the longest limit in the catalog.
    pub fn working_days_ahead(&self, today: NaiveDate) -> u32 {
        let mut last = today.year();
        if self.year(last).is_none() {
            return 0;
        }
        while self.year(last + 1).is_some() {
            last += 1;
        }
        last_day_of(last)
            .and_then(|end| self.working_days_between(today, end))
            .unwrap_or(0)
    }

    /// Working days in the half-open interval `(from, to]`; 0 when `to <= from`. Years not
    /// loaded count provisionally.
    pub fn working_days_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<u32, CalendarError> {
        if to <= from {
            return Ok(0);
        }
        // Plain weekdays over the whole interval, then each loaded year's adjustments.
        let mut total = weekdays_between(from, to);
        let range = (Bound::Excluded(from.year()), Bound::Included(to.year()));
        let first = std::iter::once(from.year()).filter(|y| self.years.contains_key(y));
        for year in first.chain(self.years.range(range).map(|(y, _)| *y)) {
            let rules = self.rules(year);
            let start = if year == from.year() {
                from
            } else {
                last_day_of(year - 1)?
            };
            let end = last_day_of(year)?.min(to);
            if start < end {
                total += rules.count_working_days(start, end) - weekdays_between(start, end);
            }
        }
        u32::try_from(total).map_err(|_| CalendarError::Overflow)
    }
}

/// The `n`-th Monday–Friday strictly after `start` (n >= 1), in closed form.
fn nth_weekday_after(start: NaiveDate, n: i64) -> Result<NaiveDate, CalendarError> {
    // Whole weeks of five weekdays, then the rest day by day (at most a week).
    let weeks = (n - 1) / 5;
    let mut date = offset(start, weeks * 7)?;
    let mut left = n - weeks * 5;
    while left > 0 {
        date = offset(date, 1)?;
        if !is_weekend(date) {
            left -= 1;
        }
    }
    Ok(date)
}

/// The `n`-th working day in `(start, end]` (1-based), given `1 <= n <= count(start, end]`
/// and the whole interval inside `calendar`'s year. Binary search on the monotone count.
fn nth_working_day_within(
    calendar: &YearCalendar,
    start: NaiveDate,
    end: NaiveDate,
    n: i64,
) -> Result<NaiveDate, CalendarError> {
    // Invariant: count(start, start + lo) < n <= count(start, start + hi).
    let mut lo: i64 = 0;
    let mut hi: i64 = (end - start).num_days();
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        let date = offset(start, mid)?;
        if calendar.count_working_days(start, date) >= n {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    offset(start, hi)
}

fn offset(date: NaiveDate, days: i64) -> Result<NaiveDate, CalendarError> {
    let days = u64::try_from(days).map_err(|_| CalendarError::Overflow)?;
    date.checked_add_days(chrono::Days::new(days))
        .ok_or(CalendarError::Overflow)
}

fn last_day_of(year: i32) -> Result<NaiveDate, CalendarError> {
    NaiveDate::from_ymd_opt(year, 12, 31).ok_or(CalendarError::Overflow)
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

fn to_i64(n: usize) -> i64 {
    // A set of dates within one year never comes close to i64::MAX.
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Number of Monday–Friday dates in `(from, to]`, for `from <= to`. O(1).
fn weekdays_between(from: NaiveDate, to: NaiveDate) -> i64 {
    weekdays_through(to) - weekdays_through(from)
}

/// Number of Monday–Friday dates in [0001-01-01, `date`] (negative before it); only
/// differences are meaningful.
fn weekdays_through(date: NaiveDate) -> i64 {
    // 0001-01-01 is day 1 from CE and a Monday in the proleptic Gregorian calendar, so
    // `days` counts the dates from that Monday through `date`.
    let days = i64::from(date.num_days_from_ce());
    5 * days.div_euclid(7) + days.rem_euclid(7).min(5)
}

/// Official data as (month, day) inclusive ranges, transcribed from the notices.
type Ranges = &'static [((u32, u32), (u32, u32))];

/// 国务院办公厅关于2025年部分节假日安排的通知 (国办发明电〔2024〕12号): days off.
const DAYS_OFF_2025: Ranges = &[
    ((1, 1), (1, 1)),   // 元旦
    ((1, 28), (2, 4)),  // 春节
    ((4, 4), (4, 6)),   // 清明节
    ((5, 1), (5, 5)),   // 劳动节
    ((5, 31), (6, 2)),  // 端午节
    ((10, 1), (10, 8)), // 国庆节、中秋节
];
/// 2025 adjusted working days (调休上班).
const ADJUSTED_2025: &[(u32, u32)] = &[(1, 26), (2, 8), (4, 27), (9, 28), (10, 11)];

/// 国务院办公厅关于2026年部分节假日安排的通知 (2025-11-04): days off.
const DAYS_OFF_2026: Ranges = &[
    ((1, 1), (1, 3)),   // 元旦
    ((2, 15), (2, 23)), // 春节
    ((4, 4), (4, 6)),   // 清明节
    ((5, 1), (5, 5)),   // 劳动节
    ((6, 19), (6, 21)), // 端午节
    ((9, 25), (9, 27)), // 中秋节
    ((10, 1), (10, 7)), // 国庆节
];
/// 2026 adjusted working days (调休上班).
const ADJUSTED_2026: &[(u32, u32)] = &[(1, 4), (2, 14), (2, 28), (5, 9), (9, 20), (10, 10)];

/// Builds a year from the (month, day) tables. The tables are constants checked by the
/// tests (exact sizes and validation through [`YearCalendar::new`]); an impossible
/// (month, day) would be dropped here rather than panic, and the tests would fail.
fn from_tables(year: i32, days_off: Ranges, adjusted: &[(u32, u32)]) -> YearCalendar {
    let ymd = |(m, d): (u32, u32)| NaiveDate::from_ymd_opt(year, m, d);
    let days_off = days_off
        .iter()
        .filter_map(|&(first, last)| Some((ymd(first)?, ymd(last)?)))
        .flat_map(|(first, last)| first.iter_days().take_while(move |d| *d <= last))
        .collect();
    let adjusted_working_days = adjusted.iter().filter_map(|&md| ymd(md)).collect();
    YearCalendar {
        year,
        days_off,
        adjusted_working_days,
    }
}

/// 2025 per 国务院办公厅关于2025年部分节假日安排的通知 (国办发明电〔2024〕12号).
///
/// Days off: 1/1; 1/28–2/4; 4/4–4/6; 5/1–5/5; 5/31–6/2; 10/1–10/8.
/// Adjusted working days: 1/26 (Sun), 2/8 (Sat), 4/27 (Sun), 9/28 (Sun), 10/11 (Sat).
/// `migrations/0002_calendar.sql` mirrors this data.
pub fn official_2025() -> YearCalendar {
    from_tables(2025, DAYS_OFF_2025, ADJUSTED_2025)
}

/// 2026 per 国务院办公厅关于2026年部分节假日安排的通知 (2025-11-04).
///
/// Days off: 1/1–1/3; 2/15–2/23; 4/4–4/6; 5/1–5/5; 6/19–6/21; 9/25–9/27; 10/1–10/7.
/// Adjusted working days: 1/4 (Sun), 2/14 (Sat), 2/28 (Sat), 5/9 (Sat), 9/20 (Sun),
/// 10/10 (Sat). `migrations/0002_calendar.sql` mirrors this data.
pub fn official_2026() -> YearCalendar {
    from_tables(2026, DAYS_OFF_2026, ADJUSTED_2026)
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
