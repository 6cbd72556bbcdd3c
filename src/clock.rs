//! The application's one clock. Every "now" and "today" the service uses comes from here,
//! never from the system directly, so a test (or a demo server) can start its clock at a
//! chosen instant: the date-dependent rules (working-day deadlines, acceptance dates, the
//! calendar's reach) are then checked at the dates that matter rather than at whatever the
//! real date happens to be.
//!
//! The clock runs: a clock started at an instant keeps the system's pace from there (an
//! offset from system time, fixed at start). The database sees the same offset: every pooled
//! connection carries it in the `fingertip.clock_offset` setting, which the SQL function
//! `clock_now()` adds to PostgreSQL's `now()`, so SQL that compares with "now" agrees with
//! the application.

use chrono::{DateTime, FixedOffset, NaiveDate, Offset, TimeDelta, Utc};

/// The clock: system time, or system time moved by a fixed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Clock {
    offset: TimeDelta,
}

impl Clock {
    /// The system's time.
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock that reads `start` now and runs on from there at the system's pace.
    pub fn starting_at(start: DateTime<FixedOffset>) -> Self {
        Self {
            offset: start.with_timezone(&Utc) - system_now(),
        }
    }

    /// The current instant.
    pub fn now(&self) -> DateTime<Utc> {
        system_now() + self.offset
    }

    /// Today in China: acceptance dates and every deadline count in Asia/Shanghai.
    pub fn today(&self) -> NaiveDate {
        date_in_china(self.now())
    }

    /// Whether this clock is moved from system time (development and tests only).
    pub fn is_moved(&self) -> bool {
        self.offset != TimeDelta::zero()
    }

    /// The offset from system time in microseconds, for the `fingertip.clock_offset` setting
    /// of every database connection.
    pub fn offset_micros(&self) -> i64 {
        self.offset.num_microseconds().unwrap_or(0)
    }
}

/// The outside world's time, for what must agree with it whatever the application clock says:
/// request signatures and timestamps sent to providers, the validity of certificates and tokens,
/// and the identity gateway's and the hub's security windows (seconds to hours, counted in the
/// database by `now()`). Dates of the law (acceptance, deadlines, seals, licences) read
/// [`Clock`]. `clippy.toml` forbids `Utc::now()` everywhere else.
pub fn system_time() -> DateTime<Utc> {
    system_now()
}

/// The calendar date in Asia/Shanghai of an instant.
pub fn date_in_china(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&shanghai()).date_naive()
}

/// The one place the system time is read.
#[allow(clippy::disallowed_methods)]
fn system_now() -> DateTime<Utc> {
    Utc::now()
}

/// China Standard Time (Asia/Shanghai): UTC+8, no daylight saving since 1991.
pub fn shanghai() -> FixedOffset {
    // 8 h is within ±24 h, so this never falls back.
    FixedOffset::east_opt(8 * 3600).unwrap_or(Utc.fix())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_started_clock_reads_its_start_and_keeps_running() {
        let start = DateTime::parse_from_rfc3339("2027-01-04T09:30:00+08:00").unwrap();
        let clock = Clock::starting_at(start);
        let read = clock.now();
        let drift = (read - start.with_timezone(&Utc)).num_seconds();
        assert!((0..5).contains(&drift), "drift {drift}s");
        assert_eq!(clock.today(), NaiveDate::from_ymd_opt(2027, 1, 4).unwrap());
        assert!(clock.is_moved());
        assert!(!Clock::system().is_moved());
        assert_eq!(Clock::system().offset_micros(), 0);
    }

    #[test]
    fn china_dates_turn_at_midnight_in_shanghai() {
        let late_utc = DateTime::parse_from_rfc3339("2026-12-31T16:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            date_in_china(late_utc),
            NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()
        );
    }
}
