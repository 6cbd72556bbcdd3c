//! 办件查询 for staff: the parameters of `GET /api/v1/staff/cases` checked into a [`Search`],
//! its opaque cursor, and the statement that pages through the cases in the caller's scope,
//! newest received first (keyset on `(submitted_at, id)`, never OFFSET: a page costs the same
//! however deep it is, and a case received meanwhile does not shift the pages).
//!
//! Two filters cannot be decided by SQL alone, so the statement only narrows them and the
//! service checks each row (`service::search`): the six-character ID tail, which the case keeps
//! only as a per-case MAC (its last four characters are in the masked number, which the index
//! uses), and the deadline, which is computed from the working-day calendar (the statement
//! keeps the cases whose earliest possible deadline allows the filter).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use poem_openapi::Enum;
use tokio_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::acceptance_number::AcceptanceNumber;
use super::errors::CaseProblem;
use super::store::{self, CaseRow};
use crate::clock::shanghai;
use crate::http::{AppError, AppResult, HttpProblem};
use crate::identity::credit_code::CreditCode;

/// Cases per page unless `limit` says otherwise, and the most a page holds.
pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;
/// "Near its deadline": an open case with at most this many working days left.
pub const NEAR_WORKING_DAYS: i64 = 2;
/// Calendar days that surely hold [`NEAR_WORKING_DAYS`] working days, the longest official
/// holiday run included: the statement's bound for `deadline=near`.
const NEAR_CALENDAR_BOUND: i32 = 31;

/// The stages a case can be in (`Stage::name`).
pub const STAGES: &[&str] = &[
    "submitted",
    "pre_review",
    "awaiting_correction",
    "accepted",
    "in_review",
    "suspended",
    "decided_approved",
    "decided_denied",
    "rejected",
    "terminated",
    "withdrawn",
];

/// The deadline filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum DeadlineFilter {
    /// Past the deadline: open cases past it today, and cases that ended after it.
    Overdue,
    /// Open, not yet overdue, with at most 2 working days left.
    Near,
}

/// The parameters as sent (the typed ones already parsed by the framework).
#[derive(Debug, Default)]
pub struct SearchParams {
    pub acceptance_number: Option<String>,
    pub applicant_id_tail: Option<String>,
    pub applicant_credit_code: Option<String>,
    pub item: Option<String>,
    pub stage: Option<String>,
    pub received_from: Option<NaiveDate>,
    pub received_to: Option<NaiveDate>,
    pub decided_from: Option<NaiveDate>,
    pub decided_to: Option<NaiveDate>,
    pub deadline: Option<DeadlineFilter>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// A person's (or enterprise's) identifier to search by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplicantKey {
    /// The last 4 or 6 characters of the ID number or credit code, upper case.
    Tail(String),
    /// An enterprise's unified social credit code.
    CreditCode(String),
}

impl ApplicantKey {
    /// What the audit record keeps of the identifier: no more than a masked number shows.
    pub fn masked(&self) -> String {
        match self {
            ApplicantKey::Tail(tail) => {
                let shown: String = tail.chars().skip(tail.len().saturating_sub(4)).collect();
                format!("{}{shown}", "*".repeat(tail.len() - shown.len()))
            }
            ApplicantKey::CreditCode(code) => crate::masking::mask_code(code),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            ApplicantKey::Tail(_) => "id_tail",
            ApplicantKey::CreditCode(_) => "credit_code",
        }
    }
}

/// A checked search.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    pub acceptance_number: Option<String>,
    pub applicant: Option<ApplicantKey>,
    pub item: Option<String>,
    pub stage: Option<&'static str>,
    pub received: DateRange,
    pub decided: DateRange,
    pub deadline: Option<DeadlineFilter>,
    pub limit: i64,
    pub after: Option<Cursor>,
}

/// Inclusive dates in Beijing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DateRange {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// Where a page ends: the last case's `(submitted_at, id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub received_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub fn of(row: &CaseRow) -> Self {
        Cursor {
            received_at: row.submitted_at,
            id: row.id,
        }
    }

    pub fn encode(&self) -> String {
        let text = format!("v1:{}:{}", self.received_at.timestamp_micros(), self.id);
        URL_SAFE_NO_PAD.encode(text)
    }

    pub fn decode(text: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.split(':');
        let (Some("v1"), Some(micros), Some(id), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        Some(Cursor {
            received_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            id: id.parse().ok()?,
        })
    }
}

fn bad(field: &str, kind: impl Into<crate::http::ProblemKind>, detail: String) -> AppError {
    AppError::invalid_field(field, kind, detail)
}

fn range(from: Option<NaiveDate>, to: Option<NaiveDate>, to_field: &str) -> AppResult<DateRange> {
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(bad(
            to_field,
            CaseProblem::SearchDateRangeReversed,
            format!("{to_field} ({to}) is before the range's start ({from})"),
        ));
    }
    Ok(DateRange { from, to })
}

/// Checks every parameter; the first wrong one is named in a 422 (a malformed cursor: 400).
pub fn check(params: SearchParams) -> AppResult<Search> {
    let present = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let acceptance_number = present(params.acceptance_number)
        .map(|text| {
            AcceptanceNumber::parse(&text)
                .map(String::from)
                .map_err(|e| bad("acceptance_number", e.problem(), e.to_string()))
        })
        .transpose()?;
    let tail = present(params.applicant_id_tail)
        .map(|text| {
            let tail = text.to_ascii_uppercase();
            let ok = matches!(tail.len(), 4 | 6) && tail.bytes().all(|b| b.is_ascii_alphanumeric());
            if ok {
                Ok(ApplicantKey::Tail(tail))
            } else {
                Err(bad(
                    "applicant_id_tail",
                    CaseProblem::InvalidIdTail,
                    "the last 4 or 6 characters (digits or letters) of the ID number or credit \
                     code"
                        .to_owned(),
                ))
            }
        })
        .transpose()?;
    let code = present(params.applicant_credit_code)
        .map(|text| {
            CreditCode::parse(&text.to_ascii_uppercase())
                .map(|c| ApplicantKey::CreditCode(c.as_str().to_owned()))
                .map_err(|e| {
                    bad(
                        "applicant_credit_code",
                        CaseProblem::InvalidCreditCode,
                        e.to_string(),
                    )
                })
        })
        .transpose()?;
    if tail.is_some() && code.is_some() {
        return Err(bad(
            "applicant_credit_code",
            CaseProblem::SearchApplicantTwice,
            "search by the ID tail or by the credit code, not both".to_owned(),
        ));
    }
    let item = present(params.item)
        .map(|code| {
            crate::catalog::model::check_item_code(&code)
                .map(|()| code)
                .map_err(|e| bad("item", CaseProblem::InvalidItemCode, e.detail))
        })
        .transpose()?;
    let stage = present(params.stage)
        .map(|stage| {
            STAGES
                .iter()
                .find(|s| **s == stage)
                .copied()
                .ok_or_else(|| {
                    bad(
                        "stage",
                        CaseProblem::InvalidSearchStage,
                        format!("one of {}", STAGES.join(", ")),
                    )
                })
        })
        .transpose()?;
    let received = range(params.received_from, params.received_to, "received_to")?;
    let decided = range(params.decided_from, params.decided_to, "decided_to")?;
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(bad(
            "limit",
            HttpProblem::OutOfRange,
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let after = params
        .cursor
        .map(|text| {
            Cursor::decode(&text).ok_or_else(|| {
                AppError::in_field(
                    CaseProblem::InvalidSearchCursor,
                    "cursor",
                    "the cursor is not one this API issued; start again without it",
                )
            })
        })
        .transpose()?;
    Ok(Search {
        acceptance_number,
        applicant: tail.or(code),
        item,
        stage,
        received,
        decided,
        deadline: params.deadline,
        limit,
        after,
    })
}

/// Whose cases a caller may find: the SQL form of the staff read rule
/// (`service::staff_may_see`): oversight everywhere, everyone else the departments they hold a
/// role in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Departments(Vec<Uuid>),
}

/// The start of a Beijing day, as an instant.
fn day_start(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(NaiveTime::MIN)
        .and_local_timezone(shanghai())
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The SQL of a search, its parameters added as conditions are.
struct Statement {
    conditions: Vec<String>,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Statement {
    /// Adds `condition`, whose `$` stands for the next parameter, with `value`.
    fn with(&mut self, condition: &str, value: impl ToSql + Sync + Send + 'static) {
        self.params.push(Box::new(value));
        self.conditions
            .push(condition.replace('$', &format!("${}", self.params.len())));
    }

    fn dates(&mut self, column: &str, range: DateRange) {
        if let Some(from) = range.from {
            self.with(&format!("{column} >= $"), day_start(from));
        }
        if let Some(to) = range.to.and_then(|d| d.succ_opt()) {
            self.with(&format!("{column} < $"), day_start(to));
        }
    }
}

/// What the statement needs besides the search: the scope, the accounts of an enterprise
/// searched by credit code, and today.
pub struct Context<'a> {
    pub scope: &'a Scope,
    pub enterprise_subjects: &'a [String],
    pub enterprise_index: Option<Vec<u8>>,
    pub today: NaiveDate,
}

/// The next `batch` cases after `after` that the statement's conditions keep, newest received
/// first.
pub async fn batch(
    client: &impl GenericClient,
    search: &Search,
    context: &Context<'_>,
    after: Option<Cursor>,
    batch: i64,
) -> anyhow::Result<Vec<CaseRow>> {
    let mut s = Statement {
        conditions: Vec::new(),
        params: Vec::new(),
    };
    if let Scope::Departments(ids) = context.scope {
        s.with("department_ids && $", ids.clone());
    }
    if let Some(number) = &search.acceptance_number {
        s.with("acceptance_number = $", number.clone());
    }
    match &search.applicant {
        Some(ApplicantKey::Tail(tail)) => {
            // Its last four are in the masked number (`1101**********002X`); a six-character
            // tail is checked on the row against the case's tail MAC.
            let last4: String = tail.chars().skip(tail.len() - 4).collect();
            s.with("right(applicant_id_masked, 4) = $", last4);
        }
        Some(ApplicantKey::CreditCode(_)) => {
            // An enterprise's case names its account, or, until it has one, the blind index
            // of its code (window cases; the index is cleared when the account claims them,
            // and the partial index `cases_unclaimed_applicant_idx` needs the IS NULL).
            s.conditions
                .push("applicant_kind = 'enterprise'".to_owned());
            s.params
                .push(Box::new(context.enterprise_subjects.to_vec()));
            let subjects = s.params.len();
            s.params.push(Box::new(context.enterprise_index.clone()));
            let index = s.params.len();
            s.conditions.push(format!(
                "(applicant_subject = ANY(${subjects}) \
                  OR (applicant_subject IS NULL AND applicant_id_index = ${index}))"
            ));
        }
        None => {}
    }
    if let Some(item) = &search.item {
        s.with("item_code = $", item.clone());
    }
    if let Some(stage) = search.stage {
        s.with("stage = $", stage.to_owned());
    }
    s.dates("submitted_at", search.received);
    s.dates("closed_at", search.decided);
    // A deadline is at least `limit_working_days` calendar days after acceptance (suspensions
    // and extensions only move it later): the bound the expression index serves.
    match search.deadline {
        Some(DeadlineFilter::Overdue) => {
            s.with("accepted_on + limit_working_days < $", context.today);
        }
        Some(DeadlineFilter::Near) => {
            s.conditions.push("closed_at IS NULL".to_owned());
            s.with(
                "accepted_on + limit_working_days <= $",
                context.today + chrono::Duration::days(i64::from(NEAR_CALENDAR_BOUND)),
            );
        }
        None => {}
    }
    if let Some(after) = after {
        s.params.push(Box::new(after.received_at));
        let at = s.params.len();
        s.params.push(Box::new(after.id));
        let id = s.params.len();
        s.conditions
            .push(format!("(submitted_at, id) < (${at}, ${id})"));
    }
    s.params.push(Box::new(batch));
    let limit = s.params.len();
    let filter = if s.conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", s.conditions.join(" AND "))
    };
    let sql = format!(
        "SELECT {} FROM cases {filter} ORDER BY submitted_at DESC, id DESC LIMIT ${limit}",
        store::COLUMNS
    );
    let params: Vec<&(dyn ToSql + Sync)> = s
        .params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let rows = client.query(&sql, &params).await?;
    rows.iter().map(CaseRow::from_row).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_comes_back_as_it_went_and_nothing_else_passes_for_one() {
        let cursor = Cursor {
            received_at: DateTime::from_timestamp_micros(1_794_000_000_123_456).unwrap(),
            id: Uuid::new_v4(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        for bad in [
            "",
            "x",
            "djE6MTox",
            &URL_SAFE_NO_PAD.encode("v1:12:not-a-uuid"),
        ] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn identifiers_are_kept_masked_for_the_audit() {
        assert_eq!(ApplicantKey::Tail("31002X".into()).masked(), "**002X");
        assert_eq!(ApplicantKey::Tail("002X".into()).masked(), "002X");
        assert_eq!(
            ApplicantKey::CreditCode("91440300MA5F3K7Q81".into()).masked(),
            "9144**********7Q81"
        );
    }

    fn field_of(params: SearchParams) -> (String, String) {
        let problem = check(params).unwrap_err().to_problem();
        (problem.field.unwrap_or_default(), problem.code)
    }

    #[test]
    fn every_wrong_parameter_is_named() {
        let cases = [
            (
                SearchParams {
                    acceptance_number: Some("12345".into()),
                    ..Default::default()
                },
                ("acceptance_number", "acceptance_number_length"),
            ),
            (
                SearchParams {
                    applicant_id_tail: Some("12345".into()),
                    ..Default::default()
                },
                ("applicant_id_tail", "invalid_id_tail"),
            ),
            (
                SearchParams {
                    applicant_credit_code: Some("91440300MA5F3K7Q80".into()),
                    ..Default::default()
                },
                ("applicant_credit_code", "invalid_credit_code"),
            ),
            (
                SearchParams {
                    stage: Some("closed".into()),
                    ..Default::default()
                },
                ("stage", "invalid_stage"),
            ),
            (
                SearchParams {
                    item: Some("x y".into()),
                    ..Default::default()
                },
                ("item", "invalid_item_code"),
            ),
            (
                SearchParams {
                    received_from: NaiveDate::from_ymd_opt(2026, 11, 2),
                    received_to: NaiveDate::from_ymd_opt(2026, 11, 1),
                    ..Default::default()
                },
                ("received_to", "date_range_reversed"),
            ),
            (
                SearchParams {
                    limit: Some(101),
                    ..Default::default()
                },
                ("limit", "out_of_range"),
            ),
            (
                SearchParams {
                    cursor: Some("nope".into()),
                    ..Default::default()
                },
                ("cursor", "invalid_cursor"),
            ),
        ];
        for (params, (field, code)) in cases {
            assert_eq!(field_of(params), (field.to_owned(), code.to_owned()));
        }
    }

    #[test]
    fn a_plain_search_pages_by_twenty_and_tails_are_upper_case() {
        let search = check(SearchParams {
            applicant_id_tail: Some(" 31002x ".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(search.limit, DEFAULT_LIMIT);
        assert_eq!(search.applicant, Some(ApplicantKey::Tail("31002X".into())));
    }

    #[test]
    fn a_beijing_day_starts_at_sixteen_hundred_utc_the_day_before() {
        let start = day_start(NaiveDate::from_ymd_opt(2026, 11, 16).unwrap());
        assert_eq!(start.to_rfc3339(), "2026-11-15T16:00:00+00:00");
    }
}
