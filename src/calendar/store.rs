//! SQL for calendar years, their days and every version loaded.

use chrono::NaiveDate;
use deadpool_postgres::GenericClient;
use serde_json::{Value, json};

/// One stored day: a day off or an adjusted working day, with its note (e.g. 春节).
#[derive(Debug, Clone)]
pub struct DayRow {
    pub day: NaiveDate,
    pub day_off: bool,
    pub note: Option<String>,
}

#[derive(Debug, Clone)]
pub struct YearRow {
    pub year: i32,
    /// The notice's title (e.g. 国务院办公厅关于2027年部分节假日安排的通知).
    pub source: String,
    /// The notice's document number (e.g. 国办发明电〔2026〕7号); None for years loaded before it
    /// was asked.
    pub document_number: Option<String>,
    /// The date of the notice.
    pub notice_date: Option<NaiveDate>,
    /// 1 for the first load, one more for every correction.
    pub version: i32,
    pub days: Vec<DayRow>,
}

impl YearRow {
    /// The days as a version stores them.
    pub fn days_json(&self) -> Value {
        Value::Array(
            self.days
                .iter()
                .map(|d| {
                    json!({
                        "date": d.day,
                        "kind": if d.day_off { "day_off" } else { "adjusted_working_day" },
                        "note": d.note,
                    })
                })
                .collect(),
        )
    }
}

pub async fn load_all(client: &impl GenericClient) -> Result<Vec<YearRow>, tokio_postgres::Error> {
    let years = client
        .query(
            "SELECT year, source, document_number, notice_date, version
               FROM calendar_year ORDER BY year",
            &[],
        )
        .await?;
    let days = client
        .query(
            "SELECT year, day, kind, note FROM calendar_day ORDER BY day",
            &[],
        )
        .await?;
    Ok(years
        .iter()
        .map(|y| {
            let year: i32 = y.get(0);
            YearRow {
                year,
                source: y.get(1),
                document_number: y.get(2),
                notice_date: y.get(3),
                version: y.get(4),
                days: days
                    .iter()
                    .filter(|d| d.get::<_, i32>(0) == year)
                    .map(|d| DayRow {
                        day: d.get(1),
                        day_off: d.get::<_, &str>(2) == "day_off",
                        note: d.get(3),
                    })
                    .collect(),
            }
        })
        .collect())
}

/// The version the year is at now, locked for this transaction; None when it was never loaded.
pub async fn current_version(
    client: &impl GenericClient,
    year: i32,
) -> Result<Option<i32>, tokio_postgres::Error> {
    Ok(client
        .query_opt(
            "SELECT version FROM calendar_year WHERE year = $1 FOR UPDATE",
            &[&year],
        )
        .await?
        .map(|r| r.get(0)))
}

/// Makes `year` (at `year.version`) the year's calendar: replaces its row and days and keeps
/// the version, by `actor`.
pub async fn write_version(
    client: &impl GenericClient,
    year: &YearRow,
    actor: &str,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO calendar_year (year, source, document_number, notice_date, version)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (year) DO UPDATE
                SET source = EXCLUDED.source, document_number = EXCLUDED.document_number,
                    notice_date = EXCLUDED.notice_date, version = EXCLUDED.version,
                    loaded_at = clock_now()",
            &[
                &year.year,
                &year.source,
                &year.document_number,
                &year.notice_date,
                &year.version,
            ],
        )
        .await?;
    client
        .execute("DELETE FROM calendar_day WHERE year = $1", &[&year.year])
        .await?;
    let days: Vec<NaiveDate> = year.days.iter().map(|d| d.day).collect();
    let kinds: Vec<&str> = year
        .days
        .iter()
        .map(|d| {
            if d.day_off {
                "day_off"
            } else {
                "adjusted_working_day"
            }
        })
        .collect();
    let notes: Vec<Option<String>> = year.days.iter().map(|d| d.note.clone()).collect();
    client
        .execute(
            "INSERT INTO calendar_day (day, year, kind, note)
             SELECT d, $1, k, n FROM unnest($2::date[], $3::text[], $4::text[]) AS t(d, k, n)",
            &[&year.year, &days, &kinds, &notes],
        )
        .await?;
    client
        .execute(
            "INSERT INTO calendar_year_version
                 (year, version, source, document_number, notice_date, days, loaded_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &year.year,
                &year.version,
                &year.source,
                &year.document_number,
                &year.notice_date,
                &year.days_json(),
                &actor,
            ],
        )
        .await?;
    Ok(())
}

/// One loaded version of a year, as kept.
#[derive(Debug, Clone)]
pub struct VersionRow {
    pub version: i32,
    pub source: String,
    pub document_number: Option<String>,
    pub notice_date: Option<NaiveDate>,
    pub loaded_by: String,
    pub loaded_at: chrono::DateTime<chrono::Utc>,
    pub days: Value,
}

/// Every version of `year`, oldest first.
pub async fn versions(
    client: &impl GenericClient,
    year: i32,
) -> Result<Vec<VersionRow>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT version, source, document_number, notice_date, loaded_by, loaded_at, days
               FROM calendar_year_version WHERE year = $1 ORDER BY version",
            &[&year],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| VersionRow {
            version: r.get(0),
            source: r.get(1),
            document_number: r.get(2),
            notice_date: r.get(3),
            loaded_by: r.get(4),
            loaded_at: r.get(5),
            days: r.get(6),
        })
        .collect())
}
