//! Calendar use cases: the loaded calendar (cached; it changes once a year) and loading a year.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use deadpool_postgres::Pool;
use moka::future::Cache;
use serde_json::json;

use super::model::{Calendar, CalendarError, YearCalendar};
use super::store::{self, YearRow};
use crate::audit::{self, AuditEntry};
use crate::clock::Clock;
use crate::http::{AppError, AppResult, FieldError};
use crate::identity::model::Actor;

/// Another instance's newly loaded year shows here within this time.
const CALENDAR_TTL: Duration = Duration::from_secs(60);

pub struct CalendarService {
    pool: Pool,
    cache: Cache<(), Arc<(Calendar, Vec<YearRow>)>>,
    clock: Clock,
}

impl CalendarService {
    pub fn new(pool: Pool, clock: Clock) -> Self {
        CalendarService {
            pool,
            clock,
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

    /// The deadline `working_days` working days after `from` (the day itself for 0: instant items).
    pub async fn deadline(&self, from: NaiveDate, working_days: u32) -> AppResult<NaiveDate> {
        let loaded = self.loaded().await?;
        loaded
            .0
            .add_working_days(from, working_days)
            .map_err(|e| calendar_error("from", e))
    }

    pub async fn year(&self, year: i32) -> AppResult<YearRow> {
        let loaded = self.loaded().await?;
        loaded
            .1
            .iter()
            .find(|y| y.year == year)
            .cloned()
            .ok_or_else(|| {
                AppError::not_found(
                    "year_not_loaded",
                    format!("year {year} is not loaded in the working-day calendar"),
                )
            })
    }

    /// Loads a new year, audited. A loaded year is never silently replaced: 409.
    pub async fn load_year(&self, actor: &Actor, year: YearRow) -> AppResult<()> {
        if year.source.trim().is_empty() {
            return Err(AppError::invalid_field(
                "source",
                "required",
                "name the official notice the dates come from",
            ));
        }
        to_year(&year).map_err(|e| calendar_error("days", e))?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        if !store::insert_year(&tx, &year).await? {
            return Err(AppError::conflict(
                "year_exists",
                format!("year {} is already loaded", year.year),
            ));
        }
        let after = json!({
            "year": year.year,
            "source": year.source,
            "days": year.days.iter().map(|d| json!([d.day.to_string(), d.day_off, d.note])).collect::<Vec<_>>(),
        });
        audit::append(
            &tx,
            AuditEntry {
                aggregate_type: "calendar",
                aggregate_id: &year.year.to_string(),
                actor: &actor.0,
                action: "calendar.load_year",
                before: None,
                after: Some(&after),
                details: json!({ "year": year.year, "source": year.source }),
            },
        )
        .await?;
        tx.commit().await?;
        self.cache.invalidate(&()).await;
        Ok(())
    }
}

fn to_year(row: &YearRow) -> Result<YearCalendar, CalendarError> {
    YearCalendar::new(
        row.year,
        row.days.iter().filter(|d| d.day_off).map(|d| d.day),
        row.days.iter().filter(|d| !d.day_off).map(|d| d.day),
    )
}

fn calendar_error(field: &str, err: CalendarError) -> AppError {
    let code = match err {
        CalendarError::Overflow => "date_out_of_range",
        _ => "invalid_calendar",
    };
    AppError::Invalid {
        code,
        errors: vec![FieldError::new(field, code, err.to_string())],
    }
}
