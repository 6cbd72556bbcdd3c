//! Calendar endpoints: deadlines and years (public), loading and correcting a year (admin).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde::Deserialize;
use serde_json::Value;

use super::provisional;
use super::service::{CalendarService, Replace};
use super::store::{DayRow, VersionRow, YearRow};
use crate::calendar::errors::CalendarProblem;
use crate::http::{ApiTags, AppError, AppResult, FieldError, JsonBody, path_number};
use crate::http::{HttpProblem, ProblemKind};
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
    /// The count crossed a year whose official holiday arrangement is not yet published: those
    /// days count Monday to Friday until it is loaded.
    pub provisional: bool,
    #[oai(skip_serializing_if_is_none)]
    pub provisional_basis: Option<String>,
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
    /// The official notice the dates come from (e.g. 国务院办公厅关于2027年部分节假日安排的通知).
    pub source: String,
    /// The notice's document number (文号, e.g. 国办发明电〔2026〕7号). Required to load or
    /// correct a year with PUT.
    #[oai(skip_serializing_if_is_none)]
    #[serde(default)]
    pub document_number: Option<String>,
    /// The date of the notice. Required to load or correct a year with PUT.
    #[oai(skip_serializing_if_is_none)]
    #[serde(default)]
    pub notice_date: Option<NaiveDate>,
    /// 1 for the first load, one more for every correction (ignored on input).
    #[oai(default)]
    #[serde(default)]
    pub version: i32,
    /// Public holidays and the weekend days they extend (放假).
    pub days_off: Vec<CalendarDay>,
    /// Saturdays and Sundays worked in exchange (调休上班).
    pub adjusted_working_days: Vec<CalendarDay>,
}

/// One loaded version of a year, as kept.
#[derive(Object)]
pub struct CalendarVersion {
    pub version: i32,
    pub source: String,
    #[oai(skip_serializing_if_is_none)]
    pub document_number: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub notice_date: Option<NaiveDate>,
    pub loaded_by: String,
    pub loaded_at: DateTime<Utc>,
    /// `[{"date", "kind": "day_off" | "adjusted_working_day", "note"}]`
    pub days: Value,
}

#[derive(Object)]
pub struct CalendarVersions {
    pub year: i32,
    pub versions: Vec<CalendarVersion>,
}

#[derive(Object)]
pub struct YearVersion {
    pub year: i32,
    /// The version now in force.
    pub version: i32,
}

#[derive(ApiResponse)]
pub enum YearLoaded {
    /// Loaded.
    #[oai(status = 201)]
    Created,
}

#[derive(ApiResponse)]
pub enum YearPut {
    /// Loaded: the year's first version.
    #[oai(status = 201)]
    Created(Json<YearVersion>),
    /// Corrected: a new version replaces the one in force.
    #[oai(status = 200)]
    Replaced(Json<YearVersion>),
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
        document_number: row.document_number,
        notice_date: row.notice_date,
        version: row.version,
    }
}

fn version_view(v: VersionRow) -> CalendarVersion {
    CalendarVersion {
        version: v.version,
        source: v.source,
        document_number: v.document_number,
        notice_date: v.notice_date,
        loaded_by: v.loaded_by,
        loaded_at: v.loaded_at,
        days: v.days,
    }
}

/// Checks a year as sent, naming every offending entry: a date outside the year, a date listed
/// twice, a date on both lists, an adjusted working day that is not a weekend day. With
/// `notice_required` (PUT), the notice's document number and date must be given.
fn checked_year(body: CalendarYear, notice_required: bool) -> AppResult<YearRow> {
    let mut errors = Vec::new();
    if body.source.trim().is_empty() {
        errors.push(FieldError::new(
            "source",
            "required",
            "name the official notice the dates come from",
        ));
    }
    if notice_required {
        if body
            .document_number
            .as_deref()
            .is_none_or(|n| n.trim().is_empty())
        {
            errors.push(FieldError::new(
                "document_number",
                "required",
                "the notice's document number (文号)",
            ));
        }
        if body.notice_date.is_none() {
            errors.push(FieldError::new(
                "notice_date",
                "required",
                "the date of the notice",
            ));
        }
    }
    // Where each date was first listed, to name a repeat or a date on both lists.
    let mut seen: BTreeMap<NaiveDate, String> = BTreeMap::new();
    let lists = [
        ("days_off", &body.days_off),
        ("adjusted_working_days", &body.adjusted_working_days),
    ];
    for (list, days) in lists {
        for (index, day) in days.iter().enumerate() {
            let field = format!("{list}[{index}].date");
            if day.date.year() != body.year {
                errors.push(FieldError::new(
                    &field,
                    "date_outside_year",
                    format!("{} is not in {}", day.date, body.year),
                ));
            }
            if list == "adjusted_working_days"
                && !matches!(day.date.weekday(), Weekday::Sat | Weekday::Sun)
            {
                errors.push(FieldError::new(
                    &field,
                    "adjusted_day_not_weekend",
                    format!("{} is not a Saturday or Sunday", day.date),
                ));
            }
            match seen.get(&day.date) {
                Some(first) if first.starts_with(list) => errors.push(FieldError::new(
                    &field,
                    "duplicate_date",
                    format!("{} is listed twice (first at {first})", day.date),
                )),
                Some(first) => errors.push(FieldError::new(
                    &field,
                    "date_on_both_lists",
                    format!(
                        "{} is both a day off and an adjusted working day (see {first})",
                        day.date
                    ),
                )),
                None => {
                    seen.insert(day.date, field.clone());
                }
            }
        }
    }
    if !errors.is_empty() {
        let kind: ProblemKind = if errors.iter().all(|e| e.code == errors[0].code) {
            match errors[0].code.as_str() {
                "required" => HttpProblem::Required.into(),
                "duplicate_date" => CalendarProblem::DuplicateDate.into(),
                "date_on_both_lists" => CalendarProblem::DateOnBothLists.into(),
                "date_outside_year" => CalendarProblem::DateOutsideYear.into(),
                "adjusted_day_not_weekend" => CalendarProblem::AdjustedDayNotWeekend.into(),
                _ => HttpProblem::ValidationFailed.into(),
            }
        } else {
            HttpProblem::ValidationFailed.into()
        };
        return Err(AppError::invalid(kind, errors));
    }
    let day = |d: &CalendarDay, day_off| DayRow {
        day: d.date,
        day_off,
        note: d.note.clone(),
    };
    let mut days: Vec<DayRow> = body.days_off.iter().map(|d| day(d, true)).collect();
    days.extend(body.adjusted_working_days.iter().map(|d| day(d, false)));
    Ok(YearRow {
        year: body.year,
        source: body.source.trim().to_owned(),
        document_number: body.document_number.map(|n| n.trim().to_owned()),
        notice_date: body.notice_date,
        version: 0,
        days,
    })
}

#[OpenApi(prefix_path = "/api/v1")]
impl CalendarApi {
    /// 办理时限 — the deadline N working days after a date, counting from the next working day
    /// (0: the date itself, for instant items). Across a year whose holiday arrangement is not
    /// published, counted provisionally and said so.
    #[oai(path = "/calendar/deadline", method = "get", tag = "ApiTags::Public")]
    async fn deadline(
        &self,
        from: Query<NaiveDate>,
        working_days: Query<u32>,
    ) -> AppResult<Json<Deadline>> {
        let (deadline, provisional_years) = self.service.deadline(from.0, working_days.0).await?;
        Ok(Json(Deadline {
            deadline,
            provisional: !provisional_years.is_empty(),
            provisional_basis: provisional::basis(&provisional_years),
        }))
    }

    /// 工作日历 — a year's days off and adjusted working days, as in force.
    #[oai(path = "/calendar/:year", method = "get", tag = "ApiTags::Public")]
    async fn year(&self, year: Path<String>) -> AppResult<Json<CalendarYear>> {
        let year = path_number::<i32>("year", &year.0)?;
        Ok(Json(to_view(self.service.year(year).await?)))
    }

    /// Load a further year from its official notice (never replaces a loaded year: use PUT).
    #[oai(path = "/admin/calendar", method = "post", tag = "ApiTags::Admin")]
    async fn load_year(
        &self,
        auth: AccessToken,
        body: JsonBody<CalendarYear>,
    ) -> AppResult<YearLoaded> {
        let actor = self.gate.require(&auth, Rule::PlatformAdmin).await?.actor();
        let year = checked_year(body.parse()?, false)?;
        self.service.put_year(&actor, year, Replace::Never).await?;
        Ok(YearLoaded::Created)
    }

    /// Load or correct a year from the State Council's notice (document number and date
    /// required). Every version is kept; open cases whose deadline moves are recomputed in the
    /// background and their applicants and handlers told.
    #[oai(path = "/admin/calendar/:year", method = "put", tag = "ApiTags::Admin")]
    async fn put_year(
        &self,
        auth: AccessToken,
        year: Path<String>,
        body: JsonBody<CalendarYear>,
    ) -> AppResult<YearPut> {
        let actor = self.gate.require(&auth, Rule::PlatformAdmin).await?.actor();
        let path_year = path_number::<i32>("year", &year.0)?;
        let body = body.parse()?;
        if body.year != path_year {
            return Err(AppError::invalid_field(
                "year",
                CalendarProblem::YearMismatch,
                format!(
                    "the body's year {} is not the path's {path_year}",
                    body.year
                ),
            ));
        }
        let year = checked_year(body, true)?;
        let version = self
            .service
            .put_year(&actor, year, Replace::Allowed)
            .await?;
        let view = Json(YearVersion {
            year: path_year,
            version,
        });
        Ok(if version == 1 {
            YearPut::Created(view)
        } else {
            YearPut::Replaced(view)
        })
    }

    /// Every version of a year as loaded, oldest first.
    #[oai(
        path = "/admin/calendar/:year/versions",
        method = "get",
        tag = "ApiTags::Admin"
    )]
    async fn versions(
        &self,
        auth: AccessToken,
        year: Path<String>,
    ) -> AppResult<Json<CalendarVersions>> {
        self.gate.require(&auth, Rule::PlatformAdmin).await?;
        let year = path_number::<i32>("year", &year.0)?;
        let versions = self.service.versions(year).await?;
        Ok(Json(CalendarVersions {
            year,
            versions: versions.into_iter().map(version_view).collect(),
        }))
    }
}
