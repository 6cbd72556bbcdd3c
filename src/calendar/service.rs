//! Calendar use cases: the loaded calendar (cached; it changes once a year), loading a year and
//! correcting it (every version kept and audited).

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use deadpool_postgres::Pool;
use moka::future::Cache;
use serde_json::json;
use tokio::sync::Notify;

use super::model::{Calendar, CalendarError, YearCalendar};
use super::store::{self, VersionRow, YearRow};
use crate::audit::{self, AuditEntry};
use crate::calendar::errors::CalendarProblem;
use crate::clock::Clock;
use crate::http::{AppError, AppResult};
use crate::identity::model::Actor;

/// Another instance's newly loaded year shows here within this time.
const CALENDAR_TTL: Duration = Duration::from_secs(60);

pub struct CalendarService {
    pool: Pool,
    cache: Cache<(), Arc<(Calendar, Vec<YearRow>)>>,
    clock: Clock,
    /// Woken after every load in this instance (the deadline recompute listens).
    loads: Arc<Notify>,
}

/// Whether a load may replace a year already loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// `POST /admin/calendar`: a new year only (409 when loaded).
    Never,
    /// `PUT /admin/calendar/{year}`: load or correct.
    Allowed,
}

impl CalendarService {
    pub fn new(pool: Pool, clock: Clock) -> Self {
        CalendarService {
            pool,
            clock,
            loads: Arc::new(Notify::new()),
            cache: Cache::builder()
                .max_capacity(1)
                .time_to_live(CALENDAR_TTL)
                .build(),
        }
    }

    async fn loaded(&self) -> AppResult<Arc<(Calendar, Vec<YearRow>)>> {
        if let Some(hit) = self.cache.get(&()).await {
            return Ok(hit);
        }
        let client = self.pool.get().await?;
        let rows = store::load_all(&client).await?;
        let mut calendar = Calendar::default();
        for row in &rows {
            calendar
                .insert(to_year(row).map_err(|e| {
                    anyhow::anyhow!("stored calendar {} is invalid: {e}", row.year)
                })?);
        }
        let loaded = Arc::new((calendar, rows));
        self.cache.insert((), loaded.clone()).await;
        Ok(loaded)
    }

    /// Forgets the cached calendar: the next read sees what the database holds now.
    pub async fn reload(&self) {
        self.cache.invalidate(&()).await;
    }

    /// Notified after every load or correction in this instance.
    pub fn loads(&self) -> Arc<Notify> {
        self.loads.clone()
    }

    /// The application's clock, whose "today" the calendar's reach is counted from.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    pub async fn calendar(&self) -> AppResult<Calendar> {
        Ok(self.loaded().await?.0.clone())
    }

    /// Working days after `today` that the loaded years reach ([`Calendar::working_days_ahead`]).
    pub async fn working_days_ahead(&self, today: NaiveDate) -> AppResult<u32> {
        Ok(self.loaded().await?.0.working_days_ahead(today))
    }

    /// The deadline `working_days` working days after `from` (the day itself for 0: instant
    /// items), with the years it counted provisionally.
    pub async fn deadline(
        &self,
        from: NaiveDate,
        working_days: u32,
    ) -> AppResult<(NaiveDate, Vec<i32>)> {
        let loaded = self.loaded().await?;
        let deadline = loaded
            .0
            .add_working_days(from, working_days)
            .map_err(|e| calendar_error("from", e))?;
        Ok((deadline, loaded.0.provisional_years(from, deadline)))
    }

    pub async fn year(&self, year: i32) -> AppResult<YearRow> {
        let loaded = self.loaded().await?;
        loaded
            .1
            .iter()
            .find(|y| y.year == year)
            .cloned()
            .ok_or_else(|| year_not_loaded(year))
    }

    /// Every version of a year ever loaded, oldest first.
    pub async fn versions(&self, year: i32) -> AppResult<Vec<VersionRow>> {
        let client = self.pool.get().await?;
        let versions = store::versions(&client, year).await?;
        if versions.is_empty() {
            return Err(year_not_loaded(year));
        }
        Ok(versions)
    }

    /// Loads a year, or corrects it when `replace` allows: a new version, audited, after which
    /// the deadline recompute tells everybody whose date moved. Returns the version.
    pub async fn put_year(
        &self,
        actor: &Actor,
        mut year: YearRow,
        replace: Replace,
    ) -> AppResult<i32> {
        to_year(&year).map_err(|e| calendar_error("days", e))?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let previous = store::current_version(&tx, year.year).await?;
        if previous.is_some() && replace == Replace::Never {
            return Err(AppError::new(
                CalendarProblem::YearExists,
                format!(
                    "year {} is already loaded; correct it with PUT /api/v1/admin/calendar/{}",
                    year.year, year.year
                ),
            ));
        }
        year.version = previous.unwrap_or(0) + 1;
        store::write_version(&tx, &year, &actor.0).await?;
        let after = json!({
            "year": year.year,
            "version": year.version,
            "source": year.source,
            "document_number": year.document_number,
            "notice_date": year.notice_date,
            "days": year.days_json(),
        });
        audit::append(
            &tx,
            AuditEntry {
                aggregate_type: "calendar",
                aggregate_id: &year.year.to_string(),
                actor: &actor.0,
                action: if previous.is_some() {
                    "calendar.correct_year"
                } else {
                    "calendar.load_year"
                },
                before: previous.map(|v| json!({ "version": v })).as_ref(),
                after: Some(&after),
                details: json!({
                    "year": year.year,
                    "version": year.version,
                    "source": year.source,
                    "document_number": year.document_number,
                }),
            },
        )
        .await?;
        tx.commit().await?;
        self.cache.invalidate(&()).await;
        self.loads.notify_one();
        Ok(year.version)
    }
}

fn year_not_loaded(year: i32) -> AppError {
    AppError::new(
        CalendarProblem::YearNotLoaded,
        format!("year {year} is not loaded in the working-day calendar"),
    )
}

fn to_year(row: &YearRow) -> Result<YearCalendar, CalendarError> {
    YearCalendar::new(
        row.year,
        row.days.iter().filter(|d| d.day_off).map(|d| d.day),
        row.days.iter().filter(|d| !d.day_off).map(|d| d.day),
    )
}

fn calendar_error(field: &str, err: CalendarError) -> AppError {
    let kind = match err {
        CalendarError::Overflow => CalendarProblem::DateOutOfRange,
        _ => CalendarProblem::InvalidCalendar,
    };
    AppError::invalid_field(field, kind, err.to_string())
}
