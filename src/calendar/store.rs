//! SQL for calendar years and their days.

use chrono::NaiveDate;
use deadpool_postgres::GenericClient;

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
    pub source: String,
    pub days: Vec<DayRow>,
}

pub async fn load_all(client: &impl GenericClient) -> Result<Vec<YearRow>, tokio_postgres::Error> {
    let years = client
        .query("SELECT year, source FROM calendar_year ORDER BY year", &[])
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

/// Inserts a year; `false` when it is already loaded.
pub async fn insert_year(
    client: &impl GenericClient,
    year: &YearRow,
) -> Result<bool, tokio_postgres::Error> {
    let inserted = client
        .execute(
            "INSERT INTO calendar_year (year, source) VALUES ($1, $2) ON CONFLICT (year) DO NOTHING",
            &[&year.year, &year.source],
        )
        .await?;
    if inserted == 0 {
        return Ok(false);
    }
    for day in &year.days {
        let kind = if day.day_off {
            "day_off"
        } else {
            "adjusted_working_day"
        };
        client
            .execute(
                "INSERT INTO calendar_day (day, year, kind, note) VALUES ($1, $2, $3, $4)",
                &[&day.day, &year.year, &kind, &day.note],
            )
            .await?;
    }
    Ok(true)
}
