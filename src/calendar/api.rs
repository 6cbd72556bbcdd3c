//! Calendar endpoints: deadlines and years (public), loading a year (admin).

use std::sync::Arc;

use chrono::NaiveDate;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde::Deserialize;

use super::service::CalendarService;
use super::store::{DayRow, YearRow};
use crate::http::{ApiTags, AppResult, JsonBody, path_number};
use crate::identity::gate::{AccessToken, Gate};
use crate::identity::policy::Rule;

pub struct CalendarApi {
    pub service: Arc<CalendarService>,
    pub gate: Gate,
}

#[derive(Object)]
pub struct Deadline {
    /// The last working day of the limit.
    pub deadline: NaiveDate,
}

#[derive(Object, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct CalendarDay {
    pub date: NaiveDate,
    /// e.g. 春节, 调休上班
    #[oai(skip_serializing_if_is_none)]
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarYear {
    pub year: i32,
    /// The official notice the dates come from (e.g. 国办发明电〔2024〕12号).
    pub source: String,
    /// Public holidays and the weekend days they extend (放假).
    pub days_off: Vec<CalendarDay>,
    /// Saturdays and Sundays worked in exchange (调休上班).
    pub adjusted_working_days: Vec<CalendarDay>,
}

#[derive(ApiResponse)]
pub enum YearLoaded {
    /// Loaded.
    #[oai(status = 201)]
    Created,
}

fn to_view(row: YearRow) -> CalendarYear {
    let day = |d: &DayRow| CalendarDay {
        date: d.day,
        note: d.note.clone(),
    };
    CalendarYear {
        year: row.year,
        days_off: row.days.iter().filter(|d| d.day_off).map(day).collect(),
        adjusted_working_days: row.days.iter().filter(|d| !d.day_off).map(day).collect(),
        source: row.source,
    }
}

#[OpenApi(prefix_path = "/api/v1")]
impl CalendarApi {
    /// 办理时限 — the deadline N working days after a date, counting from the next working day
    /// (0: the date itself, for instant items).
    #[oai(path = "/calendar/deadline", method = "get", tag = "ApiTags::Public")]
    async fn deadline(
        &self,
        from: Query<NaiveDate>,
        working_days: Query<u32>,
    ) -> AppResult<Json<Deadline>> {
        Ok(Json(Deadline {
            deadline: self.service.deadline(from.0, working_days.0).await?,
        }))
    }

    /// 工作日历 — a year's days off and adjusted working days.
    #[oai(path = "/calendar/:year", method = "get", tag = "ApiTags::Public")]
    async fn year(&self, year: Path<String>) -> AppResult<Json<CalendarYear>> {
        let year = path_number::<i32>("year", &year.0)?;
        Ok(Json(to_view(self.service.year(year).await?)))
    }

    /// Load a further year from its official notice (never replaces a loaded year).
    #[oai(path = "/admin/calendar", method = "post", tag = "ApiTags::Admin")]
    async fn load_year(
        &self,
        auth: AccessToken,
        body: JsonBody<CalendarYear>,
    ) -> AppResult<YearLoaded> {
        let actor = self.gate.require(&auth, Rule::PlatformAdmin).await?.actor();
        let year = body.parse()?;
        let day = |d: &CalendarDay, day_off| DayRow {
            day: d.date,
            day_off,
            note: d.note.clone(),
        };
        let mut days: Vec<DayRow> = year.days_off.iter().map(|d| day(d, true)).collect();
        days.extend(year.adjusted_working_days.iter().map(|d| day(d, false)));
        self.service
            .load_year(
                &actor,
                YearRow {
                    year: year.year,
                    source: year.source,
                    days,
                },
            )
            .await?;
        Ok(YearLoaded::Created)
    }
}
