//! Tests of `model.rs`.

use super::*;
use proptest::prelude::*;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn official() -> Calendar {
    Calendar::new([official_2025(), official_2026()])
}

/// A year with no holidays and no adjusted days: every weekday works.
fn plain(year: i32) -> YearCalendar {
    YearCalendar::new(year, [], []).unwrap()
}

#[test]
fn working_days_ahead_run_to_the_end_of_the_last_year_loaded_without_a_gap() {
    // 2026-12-24 is a Thursday: Fri 25th, Mon 28th to Thu 31st remain.
    assert_eq!(official().working_days_ahead(d("2026-12-24")), 5);
    assert_eq!(official().working_days_ahead(d("2026-12-31")), 0);
    // 2027 with every weekday working (1 January 2027 is a Friday): 52 weeks and a Friday.
    let next = Calendar::new([official_2026(), plain(2027)]);
    assert_eq!(next.working_days_ahead(d("2026-12-24")), 5 + 261);
    // A year loaded after a missing one is out of reach: counting would stop at the gap.
    let gap = Calendar::new([official_2026(), plain(2028)]);
    assert_eq!(gap.working_days_ahead(d("2026-12-24")), 5);
    // Today's own year missing: nothing can be counted.
    assert_eq!(
        Calendar::new([official_2026()]).working_days_ahead(d("2025-06-02")),
        0
    );
    assert_eq!(Calendar::default().working_days_ahead(d("2026-06-01")), 0);
}

// ---- Independent transcription of the notices, as strings, for the raw rule. ----

const RAW_OFF: &[(&str, &str)] = &[
    ("2025-01-01", "2025-01-01"),
    ("2025-01-28", "2025-02-04"),
    ("2025-04-04", "2025-04-06"),
    ("2025-05-01", "2025-05-05"),
    ("2025-05-31", "2025-06-02"),
    ("2025-10-01", "2025-10-08"),
    ("2026-01-01", "2026-01-03"),
    ("2026-02-15", "2026-02-23"),
    ("2026-04-04", "2026-04-06"),
    ("2026-05-01", "2026-05-05"),
    ("2026-06-19", "2026-06-21"),
    ("2026-09-25", "2026-09-27"),
    ("2026-10-01", "2026-10-07"),
];
const RAW_WORK: &[&str] = &[
    "2025-01-26",
    "2025-02-08",
    "2025-04-27",
    "2025-09-28",
    "2025-10-11",
    "2026-01-04",
    "2026-02-14",
    "2026-02-28",
    "2026-05-09",
    "2026-09-20",
    "2026-10-10",
];

/// Parsed raw tables: (days off, adjusted working days), built once.
fn raw_tables() -> &'static (BTreeSet<NaiveDate>, BTreeSet<NaiveDate>) {
    static TABLES: std::sync::OnceLock<(BTreeSet<NaiveDate>, BTreeSet<NaiveDate>)> =
        std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        let mut off = BTreeSet::new();
        for (a, b) in RAW_OFF {
            let mut day = d(a);
            while day <= d(b) {
                off.insert(day);
                day = day.succ_opt().unwrap();
            }
        }
        let work = RAW_WORK.iter().map(|s| d(s)).collect();
        (off, work)
    })
}

/// The raw rule: adjusted working day, else listed day off, else Monday–Friday.
fn raw_is_working(date: NaiveDate) -> bool {
    let (off, work) = raw_tables();
    if work.contains(&date) {
        return true;
    }
    if off.contains(&date) {
        return false;
    }
    date.weekday().num_days_from_monday() < 5
}

/// All working days of 2025–2035 by the raw rule, ascending (from 2027 on, provisional:
/// the raw rule's plain weekdays).
fn raw_working_days() -> &'static [NaiveDate] {
    static DAYS: std::sync::OnceLock<Vec<NaiveDate>> = std::sync::OnceLock::new();
    DAYS.get_or_init(|| {
        (2025..=2035)
            .flat_map(all_days)
            .filter(|x| raw_is_working(*x))
            .collect()
    })
}

/// Raw count of working days in (from, to], day by day.
fn raw_between(from: NaiveDate, to: NaiveDate) -> u32 {
    let mut n = 0;
    let mut day = from;
    while day < to {
        day = day.succ_opt().unwrap();
        if raw_is_working(day) {
            n += 1;
        }
    }
    n
}

/// Raw add: the n-th raw working day after `from`; None past 2035.
fn raw_add(from: NaiveDate, n: u32) -> Option<NaiveDate> {
    if n == 0 {
        return Some(from);
    }
    let days = raw_working_days();
    let after = days.partition_point(|x| *x <= from);
    days.get(after + n as usize - 1).copied()
}

fn all_days(year: i32) -> Vec<NaiveDate> {
    d(&format!("{year}-01-01"))
        .iter_days()
        .take_while(|x| x.year() == year)
        .collect()
}

// ---- Data ----

#[test]
fn official_data_validates_and_matches_table() {
    let y25 = official_2025();
    let again = YearCalendar::new(
        2025,
        y25.days_off.iter().copied(),
        y25.adjusted_working_days.iter().copied(),
    )
    .unwrap();
    assert_eq!(again, y25);
    let y26 = official_2026();
    let again = YearCalendar::new(
        2026,
        y26.days_off.iter().copied(),
        y26.adjusted_working_days.iter().copied(),
    )
    .unwrap();
    assert_eq!(again, y26);

    // 1 + 8 + 3 + 5 + 3 + 8 = 28; 3 + 9 + 3 + 5 + 3 + 3 + 7 = 33.
    assert_eq!(y25.days_off.len(), 28);
    assert_eq!(y25.adjusted_working_days.len(), 5);
    assert_eq!(y26.days_off.len(), 33);
    assert_eq!(y26.adjusted_working_days.len(), 6);

    // Same sets as the independent string transcription.
    let mut raw_off = BTreeSet::new();
    for (a, b) in RAW_OFF {
        raw_off.extend(d(a).iter_days().take_while(|x| *x <= d(b)));
    }
    let model_off: BTreeSet<_> = y25.days_off.union(&y26.days_off).copied().collect();
    assert_eq!(model_off, raw_off);
    let raw_work: BTreeSet<_> = RAW_WORK.iter().map(|s| d(s)).collect();
    let model_work: BTreeSet<_> = y25
        .adjusted_working_days
        .union(&y26.adjusted_working_days)
        .copied()
        .collect();
    assert_eq!(model_work, raw_work);
}

#[test]
fn adjusted_days_weekdays_as_in_notices() {
    use Weekday::{Sat, Sun};
    let expected = [
        ("2025-01-26", Sun),
        ("2025-02-08", Sat),
        ("2025-04-27", Sun),
        ("2025-09-28", Sun),
        ("2025-10-11", Sat),
        ("2026-01-04", Sun),
        ("2026-02-14", Sat),
        ("2026-02-28", Sat),
        ("2026-05-09", Sat),
        ("2026-09-20", Sun),
        ("2026-10-10", Sat),
    ];
    for (s, wd) in expected {
        assert_eq!(d(s).weekday(), wd, "{s}");
    }
    // Weekdays used by the known-answer tests below.
    assert_eq!(d("2026-02-13").weekday(), Weekday::Fri);
    assert_eq!(d("2026-02-24").weekday(), Weekday::Tue);
    assert_eq!(d("2026-09-30").weekday(), Weekday::Wed);
    assert_eq!(d("2026-10-08").weekday(), Weekday::Thu);
    assert_eq!(d("2026-12-30").weekday(), Weekday::Wed);
    assert_eq!(d("2026-12-31").weekday(), Weekday::Thu);
    assert_eq!(d("2025-12-31").weekday(), Weekday::Wed);
    assert_eq!(d("2026-04-03").weekday(), Weekday::Fri);
    assert_eq!(d("2026-04-07").weekday(), Weekday::Tue);
    assert_eq!(d("2026-05-06").weekday(), Weekday::Wed);
    assert_eq!(d("2026-06-22").weekday(), Weekday::Mon);
    assert_eq!(d("2026-09-18").weekday(), Weekday::Fri);
    assert_eq!(d("2026-09-28").weekday(), Weekday::Mon);
    assert_eq!(d("2025-01-24").weekday(), Weekday::Fri);
    assert_eq!(d("2025-02-05").weekday(), Weekday::Wed);
    assert_eq!(d("2025-10-09").weekday(), Weekday::Thu);
}

// ---- Validation ----

#[test]
fn year_calendar_validation_errors() {
    assert_eq!(
        YearCalendar::new(2026, [d("2025-12-31")], []),
        Err(CalendarError::DateOutsideYear {
            year: 2026,
            date: d("2025-12-31")
        })
    );
    assert_eq!(
        YearCalendar::new(2026, [], [d("2027-01-02")]),
        Err(CalendarError::DateOutsideYear {
            year: 2026,
            date: d("2027-01-02")
        })
    );
    assert_eq!(
        YearCalendar::new(2026, [d("2026-02-14")], [d("2026-02-14")]),
        Err(CalendarError::ConflictingDate(d("2026-02-14")))
    );
    // 2026-02-13 is a Friday.
    assert_eq!(
        YearCalendar::new(2026, [], [d("2026-02-13")]),
        Err(CalendarError::AdjustedDayNotWeekend(d("2026-02-13")))
    );
    // Weekend days off are fine (2026-02-15 is a Sunday); duplicates merge.
    let y = YearCalendar::new(2026, [d("2026-02-15"), d("2026-02-15")], []).unwrap();
    assert_eq!(y.days_off.len(), 1);
}

// ---- Known answers ----

#[test]
fn known_answers_2026() {
    let c = official();
    let add = |s: &str, n| c.add_working_days(d(s), n);
    assert_eq!(add("2026-02-13", 1), Ok(d("2026-02-14"))); // Fri -> Sat adjusted
    assert_eq!(add("2026-02-14", 1), Ok(d("2026-02-24"))); // 2/15-2/23 off
    assert_eq!(add("2026-02-13", 2), Ok(d("2026-02-24")));
    assert_eq!(add("2026-02-27", 1), Ok(d("2026-02-28"))); // Sat adjusted
    assert_eq!(add("2026-09-30", 1), Ok(d("2026-10-08"))); // 10/1-10/7 off, Thu
    assert_eq!(add("2026-04-03", 1), Ok(d("2026-04-07"))); // 4/4-4/6 off
    assert_eq!(add("2026-04-30", 1), Ok(d("2026-05-06"))); // 5/1-5/5 off
    assert_eq!(add("2026-05-06", 3), Ok(d("2026-05-09"))); // Thu, Fri, Sat adjusted
    assert_eq!(add("2026-06-18", 1), Ok(d("2026-06-22"))); // 6/19-6/21 off
    assert_eq!(add("2026-09-18", 1), Ok(d("2026-09-20"))); // Sat off, Sun adjusted
    assert_eq!(add("2026-09-24", 1), Ok(d("2026-09-28"))); // 9/25-9/27 off
    assert_eq!(add("2026-10-08", 2), Ok(d("2026-10-10"))); // Fri, Sat adjusted
    assert_eq!(add("2026-12-30", 1), Ok(d("2026-12-31")));
    // 2027 is not published: Friday 1 January counts provisionally.
    assert_eq!(add("2026-12-30", 2), Ok(d("2027-01-01")));
    assert_eq!(add("2025-12-31", 1), Ok(d("2026-01-04"))); // 1/1-1/3 off, Sun adjusted
    assert_eq!(add("2025-12-31", 2), Ok(d("2026-01-05")));

    assert_eq!(c.is_working_day(d("2026-10-10")), Ok(true));
    assert_eq!(c.is_working_day(d("2026-10-08")), Ok(true));
    assert_eq!(c.is_working_day(d("2026-10-07")), Ok(false));
    assert_eq!(c.is_working_day(d("2026-10-11")), Ok(false)); // plain Sunday
    assert_eq!(c.is_working_day(d("2026-02-23")), Ok(false)); // Monday, off
    assert_eq!(c.is_working_day(d("2027-01-01")), Ok(true)); // provisional Friday
    assert_eq!(c.is_working_day(d("2024-12-31")), Ok(true)); // provisional Tuesday
}

#[test]
fn known_answers_2025() {
    let c = official();
    let add = |s: &str, n| c.add_working_days(d(s), n);
    assert_eq!(add("2025-01-24", 1), Ok(d("2025-01-26"))); // Sat off, Sun adjusted
    assert_eq!(add("2025-01-27", 1), Ok(d("2025-02-05"))); // 1/28-2/4 off
    assert_eq!(add("2025-02-07", 1), Ok(d("2025-02-08"))); // Sat adjusted
    assert_eq!(add("2025-09-30", 1), Ok(d("2025-10-09"))); // 10/1-10/8 off
    assert_eq!(add("2025-10-09", 2), Ok(d("2025-10-11"))); // Fri, Sat adjusted
}

#[test]
fn instant_item_returns_acceptance_day() {
    let c = official();
    // A working day and a day off (2026-02-15, Spring Festival) alike.
    assert_eq!(c.add_working_days(d("2026-02-13"), 0), Ok(d("2026-02-13")));
    assert_eq!(c.add_working_days(d("2026-02-15"), 0), Ok(d("2026-02-15")));
    assert_eq!(c.add_working_days(d("2026-12-31"), 0), Ok(d("2026-12-31")));
    assert_eq!(c.add_working_days(d("2027-01-02"), 0), Ok(d("2027-01-02")));
}

#[test]
fn unloaded_years_count_provisionally_weekdays_only() {
    let c = official();
    // 2024-12-31 is a Tuesday; 2024 is not loaded: the next weekday.
    assert_eq!(c.add_working_days(d("2024-12-31"), 1), Ok(d("2025-01-02")));
    assert_eq!(
        c.provisional_years(d("2024-12-31"), d("2025-01-02")),
        [2024]
    );
    // 2026-12-31 is a Thursday; 2027-01-01 a Friday (New Year, but not yet published).
    assert_eq!(c.add_working_days(d("2026-12-31"), 1), Ok(d("2027-01-01")));
    assert_eq!(c.add_working_days(d("2026-12-31"), 2), Ok(d("2027-01-04")));
    assert_eq!(c.is_working_day(d("2027-01-01")), Ok(true));
    assert_eq!(c.is_working_day(d("2027-01-02")), Ok(false));
    // 2026-06-01 (Mon) to 2027-01-01: 2026's official days, then one provisional Friday.
    let in_2026 = c
        .working_days_between(d("2026-06-01"), d("2026-12-31"))
        .unwrap();
    assert_eq!(
        c.working_days_between(d("2026-06-01"), d("2027-01-01")),
        Ok(in_2026 + 1)
    );
    assert_eq!(
        c.working_days_between(d("2027-01-01"), d("2026-06-01")),
        Ok(0)
    );
    assert_eq!(
        c.provisional_years(d("2027-01-01"), d("2026-06-01")),
        [2027]
    );
    assert!(
        c.provisional_years(d("2025-01-01"), d("2026-12-31"))
            .is_empty()
    );
    // Nothing loaded at all: plain weekdays throughout.
    assert_eq!(
        Calendar::default().working_days_between(d("2024-06-02"), d("2024-06-09")),
        Ok(5)
    );
    // A gap year between loaded ones counts provisionally too, and is named.
    let gap = Calendar::new([official_2025(), YearCalendar::new(2027, [], []).unwrap()]);
    // 2026-01-01 is a Thursday: provisional, so a working day in the gap.
    assert_eq!(
        gap.add_working_days(d("2025-12-31"), 1),
        Ok(d("2026-01-01"))
    );
    assert_eq!(
        gap.provisional_years(d("2025-12-01"), d("2027-01-05")),
        [2026]
    );
    assert_eq!(
        gap.working_days_between(d("2025-12-31"), d("2027-01-01")),
        Ok(261 + 1)
    );
    // Past every representable year: an overflow, never a panic.
    assert_eq!(
        c.add_working_days(d("2025-01-02"), u32::MAX),
        Err(CalendarError::Overflow)
    );
}

#[test]
fn calendar_accessors() {
    let mut c = Calendar::new([official_2026(), official_2025()]);
    let years: Vec<i32> = c.years().map(|y| y.year).collect();
    assert_eq!(years, [2025, 2026]);
    assert_eq!(c.year(2026), Some(&official_2026()));
    assert_eq!(c.year(2027), None);
    // Insert replaces a year: an empty 2026 makes 2026-10-01 (Thu) a working day.
    c.insert(YearCalendar::new(2026, [], []).unwrap());
    assert_eq!(c.is_working_day(d("2026-10-01")), Ok(true));
    assert_eq!(c.years().count(), 2);
}

// ---- Counts ----

#[test]
fn yearly_counts_cross_checked_by_raw_rule() {
    // By hand: both years have 365 days = 52 weeks + 1 extra weekday (2025-01-01 is a
    // Wednesday, 2026-01-01 a Thursday), so 261 Monday–Friday dates each.
    // 2025 weekday days off: 1 (1/1) + 6 (1/28-2/4) + 1 (4/4) + 3 (5/1,2,5)
    //   + 1 (6/2) + 6 (10/1-3, 10/6-8) = 18; adjusted +5: 261 - 18 + 5 = 248.
    // 2026 weekday days off: 2 (1/1-2) + 6 (2/16-20, 2/23) + 1 (4/6) + 3 (5/1,4,5)
    //   + 1 (6/19) + 1 (9/25) + 5 (10/1-2, 10/5-7) = 19; adjusted +6: 261 - 19 + 6 = 248.
    assert_eq!(261 - 18 + 5, 248);
    assert_eq!(261 - 19 + 6, 248);
    let c = official();
    for (year, expected) in [(2025, 248), (2026, 248)] {
        let raw = all_days(year)
            .into_iter()
            .filter(|x| raw_is_working(*x))
            .count();
        let model = all_days(year)
            .into_iter()
            .filter(|x| c.is_working_day(*x).unwrap())
            .count();
        assert_eq!(raw, expected, "raw count {year}");
        assert_eq!(model, expected, "model day-by-day count {year}");
        let first = d(&format!("{year}-01-01"));
        let last = d(&format!("{year}-12-31"));
        // (Jan 1, Dec 31] plus Jan 1 itself (a day off in both years).
        assert_eq!(c.is_working_day(first), Ok(false));
        assert_eq!(c.working_days_between(first, last), Ok(expected as u32));
    }
    assert_eq!(
        c.working_days_between(d("2025-01-01"), d("2026-12-31")),
        Ok(248 + 248)
    );
}

#[test]
fn exhaustive_against_raw_rule() {
    let c = official();
    let days: Vec<NaiveDate> = all_days(2025).into_iter().chain(all_days(2026)).collect();
    for &day in &days {
        assert_eq!(c.is_working_day(day), Ok(raw_is_working(day)), "{day}");
    }
    // Every start date, N in 0..=60 and a few large N (a year has 248 working days),
    // against the raw list of working days.
    let large = [
        100,
        247,
        248,
        249,
        250,
        300,
        400,
        495,
        496,
        497,
        1000,
        u32::MAX,
    ];
    for &day in &days {
        for n in (0..=60).chain(large) {
            // Beyond 2035 only u32::MAX is asked: past the last representable year.
            let expected = raw_add(day, n).ok_or(CalendarError::Overflow);
            assert_eq!(c.add_working_days(day, n), expected, "{day} + {n}");
        }
    }
}

#[test]
fn weekdays_between_closed_form() {
    let start = d("2024-12-20");
    for a in 0..40 {
        for b in a..40 {
            let from = start + chrono::Days::new(a);
            let to = start + chrono::Days::new(b);
            let naive = from
                .iter_days()
                .skip(1)
                .take_while(|x| *x <= to)
                .filter(|x| !is_weekend(*x))
                .count() as i64;
            assert_eq!(weekdays_between(from, to), naive, "{from} {to}");
        }
    }
    assert_eq!(
        NaiveDate::from_ymd_opt(1, 1, 1).unwrap().weekday(),
        Weekday::Mon
    );
}

// ---- Properties ----

const DAYS_2025_2026: u64 = 730;

fn date_in_loaded() -> impl Strategy<Value = NaiveDate> {
    (0..DAYS_2025_2026).prop_map(|i| d("2025-01-01") + chrono::Days::new(i))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn prop_result_is_working_day(from in date_in_loaded(), n in 1u32..=60) {
        let c = official();
        if let Ok(due) = c.add_working_days(from, n) {
            prop_assert!(due > from);
            prop_assert_eq!(c.is_working_day(due), Ok(true));
            // It is the first such day: one day earlier, one fewer working day.
            prop_assert_eq!(c.working_days_between(from, due.pred_opt().unwrap()), Ok(n - 1));
        } else {
            prop_assert!(false, "no deadline for {} + {}", from, n);
        }
    }

    #[test]
    fn prop_between_inverts_add(from in date_in_loaded(), n in 0u32..=60) {
        let c = official();
        if let Ok(due) = c.add_working_days(from, n) {
            prop_assert_eq!(c.working_days_between(from, due), Ok(n));
        }
    }

    #[test]
    fn prop_add_monotone(from in date_in_loaded(), n in 0u32..60) {
        let c = official();
        if let Ok(next) = c.add_working_days(from, n + 1) {
            let this = c.add_working_days(from, n).unwrap();
            prop_assert!(this < next);
        }
    }

    #[test]
    fn prop_add_composes(from in date_in_loaded(), a in 0u32..=60, b in 0u32..=60) {
        // Holds for a == 0 too, since add(d, 0) == d.
        let c = official();
        if let Ok(whole) = c.add_working_days(from, a + b) {
            let step = c.add_working_days(from, a).unwrap();
            prop_assert_eq!(c.add_working_days(step, b), Ok(whole));
        }
    }

    #[test]
    fn prop_is_working_day_matches_raw(day in date_in_loaded()) {
        prop_assert_eq!(official().is_working_day(day), Ok(raw_is_working(day)));
    }

    #[test]
    fn prop_between_additive(x in date_in_loaded(), y in date_in_loaded(), z in date_in_loaded()) {
        let c = official();
        let mut v = [x, y, z];
        v.sort();
        let [from, mid, to] = v;
        let whole = c.working_days_between(from, to).unwrap();
        prop_assert_eq!(whole, c.working_days_between(from, mid).unwrap() + c.working_days_between(mid, to).unwrap());
        prop_assert_eq!(whole, raw_between(from, to));
        prop_assert_eq!(c.working_days_between(to, from), Ok(0));
    }
}
