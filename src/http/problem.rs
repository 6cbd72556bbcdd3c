//! The one mapping from errors to RFC 9457 problem+json responses.
//!
//! Every error a client can see has a stable machine `code`, a Chinese `title` for people and an
//! English `detail`; validation errors name the offending field(s). Each capability declares the
//! problems it can send in its own `errors` module with `problems!` (code, status and title
//! together); an `AppError` carries one of them, so a code without a title does not compile.

use poem::http::{HeaderValue, StatusCode, header};
use poem::{Response, error::ResponseError};
use poem_openapi::registry::{
    MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry,
};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object};

use super::errors::HttpProblem;

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// One offending field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Object, serde::Serialize, serde::Deserialize)]
pub struct FieldError {
    /// JSON path or parameter name, e.g. `materials[2].name` or `working_days`.
    pub field: String,
    /// Stable machine code, e.g. `required`, `too_long`, `invalid_format`.
    pub code: String,
    /// English explanation.
    pub detail: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &str, detail: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code: code.to_owned(),
            detail: detail.into(),
        }
    }
}

/// RFC 9457 problem details, as sent on the wire.
#[derive(Debug, Clone, Object, serde::Serialize, serde::Deserialize)]
pub struct Problem {
    /// A URI reference naming the problem type (`about:blank` or `urn:fingertip:problem:<code>`).
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short Chinese summary for people.
    pub title: String,
    pub status: u16,
    /// English explanation for developers.
    pub detail: String,
    /// Stable machine-readable code.
    pub code: String,
    /// The first offending field, when the problem is about the request's content.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub field: Option<String>,
    /// Every offending field, when there are several.
    #[oai(skip_serializing_if_is_empty, default)]
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub errors: Vec<FieldError>,
}

/// Declares the problems one capability can send: an enum whose every variant carries its
/// stable machine `code`, its HTTP status and its Chinese title, written together, so that no
/// code can be sent without a title. See `crate::cases::errors` for a use.
///
/// ```ignore
/// problems! {
///     /// Every problem the cases capability can send.
///     pub enum CaseProblem {
///         CaseNotFound = ("case_not_found", NOT_FOUND, "办件不存在"),
///     }
/// }
/// ```
macro_rules! problems {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = ($code:literal, $status:ident, $title:literal), )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every problem declared here.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable machine code sent as `code`.
            pub const fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)+
                }
            }

            /// The HTTP status it is sent with.
            pub const fn status(self) -> ::poem::http::StatusCode {
                match self {
                    $($name::$variant => ::poem::http::StatusCode::$status,)+
                }
            }

            /// The short Chinese title sent as `title`.
            pub const fn title(self) -> &'static str {
                match self {
                    $($name::$variant => $title,)+
                }
            }
        }
    };
}
pub(crate) use problems;

/// Lists every capability's problems as one kind: an `AppError` holds a `ProblemKind`, and the
/// only ways to make one are the declared enums below.
macro_rules! problem_kinds {
    ($($capability:ident($declared:ty),)+) => {
        /// A declared problem of some capability: its code, status and title.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ProblemKind {
            $($capability($declared),)+
        }

        impl ProblemKind {
            pub const fn code(self) -> &'static str {
                match self {
                    $(ProblemKind::$capability(kind) => kind.code(),)+
                }
            }

            pub const fn status(self) -> StatusCode {
                match self {
                    $(ProblemKind::$capability(kind) => kind.status(),)+
                }
            }

            pub const fn title(self) -> &'static str {
                match self {
                    $(ProblemKind::$capability(kind) => kind.title(),)+
                }
            }

            /// Every problem every capability declares.
            pub fn all() -> impl Iterator<Item = ProblemKind> {
                std::iter::empty()
                    $(.chain(<$declared>::ALL.iter().map(|kind| ProblemKind::$capability(*kind))))+
            }
        }

        $(
            impl From<$declared> for ProblemKind {
                fn from(kind: $declared) -> Self {
                    ProblemKind::$capability(kind)
                }
            }
        )+
    };
}

problem_kinds! {
    Http(super::errors::HttpProblem),
    Identity(crate::identity::errors::IdentityProblem),
    Catalog(crate::catalog::errors::CatalogProblem),
    Calendar(crate::calendar::errors::CalendarProblem),
    Cases(crate::cases::errors::CaseProblem),
    Licences(crate::licences::errors::LicenceProblem),
    Seals(crate::seals::errors::SealProblem),
    Department(crate::department::errors::DepartmentProblem),
    Notify(crate::notify::errors::NotifyProblem),
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A declared problem, sent with its declared status; `field` names the parameter or header
    /// at fault in a malformed request.
    #[error("{detail}")]
    Problem {
        kind: ProblemKind,
        field: Option<String>,
        detail: String,
    },
    /// The request is well-formed but its content breaks a rule: lists every field.
    #[error("{}: {errors:?}", kind.code())]
    Invalid {
        kind: ProblemKind,
        errors: Vec<FieldError>,
    },
    /// Any other client error the framework raised, sent with its own status as `bad_request`.
    #[error("{detail}")]
    Client { status: StatusCode, detail: String },
    #[error("too many requests")]
    TooManyRequests { retry_after_seconds: u64 },
    /// A dependency (the database pool) is momentarily unavailable: 503.
    #[error("{detail}")]
    Unavailable { detail: String },
    /// Anything else: 500, logged with its cause, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// The declared problem `kind`, explained by `detail`.
    pub fn new(kind: impl Into<ProblemKind>, detail: impl Into<String>) -> Self {
        AppError::Problem {
            kind: kind.into(),
            field: None,
            detail: detail.into(),
        }
    }

    /// A malformed request: the declared problem `kind` about the parameter, header or body part
    /// `field`.
    pub fn in_field(
        kind: impl Into<ProblemKind>,
        field: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        AppError::Problem {
            kind: kind.into(),
            field: Some(field.into()),
            detail: detail.into(),
        }
    }

    /// A request whose content breaks rules: the declared problem `kind`, listing every field.
    pub fn invalid(kind: impl Into<ProblemKind>, errors: Vec<FieldError>) -> Self {
        AppError::Invalid {
            kind: kind.into(),
            errors,
        }
    }

    /// One offending field, whose field error has the problem's code.
    pub fn invalid_field(
        field: impl Into<String>,
        kind: impl Into<ProblemKind>,
        detail: impl Into<String>,
    ) -> Self {
        let kind = kind.into();
        AppError::Invalid {
            kind,
            errors: vec![FieldError::new(field, kind.code(), detail)],
        }
    }

    /// The declared problem this error is sent as.
    pub fn kind(&self) -> ProblemKind {
        match self {
            AppError::Problem { kind, .. } | AppError::Invalid { kind, .. } => *kind,
            AppError::Client { .. } => HttpProblem::BadRequest.into(),
            AppError::TooManyRequests { .. } => HttpProblem::RateLimited.into(),
            AppError::Unavailable { .. } => HttpProblem::ServiceUnavailable.into(),
            AppError::Internal(_) => HttpProblem::InternalError.into(),
        }
    }

    pub fn http_status(&self) -> StatusCode {
        match self {
            AppError::Client { status, .. } => *status,
            other => other.kind().status(),
        }
    }

    pub fn code(&self) -> &'static str {
        self.kind().code()
    }

    pub fn to_problem(&self) -> Problem {
        let status = self.http_status();
        let kind = self.kind();
        let code = kind.code();
        let (detail, field, errors) = match self {
            AppError::Problem { field, detail, .. } => (detail.clone(), field.clone(), Vec::new()),
            AppError::Invalid { errors, .. } => (
                errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.detail))
                    .collect::<Vec<_>>()
                    .join("; "),
                errors.first().map(|e| e.field.clone()),
                errors.clone(),
            ),
            AppError::Internal(_) => (
                "an unexpected error occurred; it has been logged".to_owned(),
                None,
                Vec::new(),
            ),
            other => (other.to_string(), None, Vec::new()),
        };
        Problem {
            problem_type: format!("urn:fingertip:problem:{code}"),
            title: kind.title().to_owned(),
            status: status.as_u16(),
            detail,
            code: code.to_owned(),
            field,
            errors,
        }
    }
}

pub fn problem_response(problem: &Problem) -> Response {
    let body = serde_json::to_vec(problem).unwrap_or_default();
    Response::builder()
        .status(StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        )
        .body(body)
}

impl ResponseError for AppError {
    fn status(&self) -> StatusCode {
        self.http_status()
    }

    fn as_response(&self) -> Response {
        if let AppError::Internal(cause) = self {
            tracing::error!(error = %format!("{cause:#}"), "internal error");
        }
        let mut response = problem_response(&self.to_problem());
        if let AppError::TooManyRequests {
            retry_after_seconds,
        } = self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_seconds));
        }
        response
    }
}

/// Documents the problem responses every operation may return.
impl ApiResponse for AppError {
    fn meta() -> MetaResponses {
        let problem = |status: u16, description: &'static str| MetaResponse {
            description,
            status: Some(status),
            status_range: None,
            content: vec![MetaMediaType {
                content_type: PROBLEM_CONTENT_TYPE,
                schema: MetaSchemaRef::Reference(Problem::name().into_owned()),
            }],
            headers: vec![],
        };
        // Limits (SMS and email codes, logins, public progress queries) answer 429 and say when
        // to try again.
        let mut rate_limited = problem(429, "Too many requests: try again after `Retry-After`");
        rate_limited.headers.push(MetaHeader {
            name: "Retry-After".to_owned(),
            description: Some("Seconds to wait before trying again".to_owned()),
            required: true,
            deprecated: false,
            schema: u64::schema_ref(),
        });
        MetaResponses {
            responses: vec![
                problem(400, "Malformed request (problem+json names the field)"),
                problem(401, "Missing or invalid credentials"),
                problem(
                    403,
                    "Not allowed for this caller (the code says which rule or level)",
                ),
                problem(404, "Not found"),
                problem(409, "Conflicts with the current state"),
                problem(422, "Validation failed (problem+json lists every field)"),
                rate_limited,
                problem(503, "Temporarily unavailable"),
            ],
        }
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }
}

impl From<deadpool_postgres::PoolError> for AppError {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        match err {
            deadpool_postgres::PoolError::Timeout(_) => AppError::Unavailable {
                detail: "database connection pool exhausted".to_owned(),
            },
            other => AppError::Internal(anyhow::Error::new(other).context("database pool")),
        }
    }
}

impl From<tokio_postgres::Error> for AppError {
    fn from(err: tokio_postgres::Error) -> Self {
        if err.is_closed() {
            return AppError::Unavailable {
                detail: "database connection lost".to_owned(),
            };
        }
        AppError::Internal(anyhow::Error::new(err).context("database"))
    }
}

pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::cases::errors::CaseProblem;

    fn is_snake_case(code: &str) -> bool {
        code.starts_with(|c: char| c.is_ascii_lowercase())
            && !code.ends_with('_')
            && !code.contains("__")
            && code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    }

    fn has_chinese(title: &str) -> bool {
        title
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    }

    #[test]
    fn every_declared_problem_has_a_snake_case_code_an_error_status_and_a_chinese_title() {
        let all: Vec<ProblemKind> = ProblemKind::all().collect();
        assert!(all.len() > 200, "{} problems declared", all.len());
        for kind in &all {
            let (code, status, title) = (kind.code(), kind.status(), kind.title());
            assert!(is_snake_case(code), "{kind:?}: {code:?} is not snake_case");
            assert!(
                status.is_client_error() || status.is_server_error(),
                "{kind:?}: {status} is not an error"
            );
            assert!(!title.trim().is_empty(), "{kind:?} has a blank title");
            assert!(has_chinese(title), "{kind:?}: {title:?} is not Chinese");
        }
    }

    #[test]
    fn a_code_declared_twice_means_one_thing() {
        // A code may be declared by two capabilities, or twice by one with two statuses (a
        // `licence_revoked` share link is 410, revoking it again 409): always with one title,
        // and never twice by one capability with the same status.
        let mut by_code: HashMap<&str, Vec<ProblemKind>> = HashMap::new();
        for kind in ProblemKind::all() {
            by_code.entry(kind.code()).or_default().push(kind);
        }
        for (code, kinds) in &by_code {
            let titles: HashSet<&str> = kinds.iter().map(|k| k.title()).collect();
            assert_eq!(titles.len(), 1, "{code} has several titles: {titles:?}");
            let declarations: HashSet<_> = kinds
                .iter()
                .map(|k| (std::mem::discriminant(k), k.status()))
                .collect();
            assert_eq!(
                declarations.len(),
                kinds.len(),
                "{code} is declared twice alike: {kinds:?}"
            );
        }
    }

    #[test]
    fn an_error_is_sent_with_its_declared_code_status_and_title() {
        let problem = AppError::new(CaseProblem::CaseNotFound, "no such case").to_problem();
        assert_eq!(
            (
                problem.status,
                problem.code.as_str(),
                problem.title.as_str()
            ),
            (404, "case_not_found", "办件不存在")
        );
        assert_eq!(problem.problem_type, "urn:fingertip:problem:case_not_found");
        assert_eq!(problem.detail, "no such case");

        let problem =
            AppError::in_field(HttpProblem::InvalidParameter, "limit", "1 to 100").to_problem();
        assert_eq!(
            (problem.status, problem.field.as_deref()),
            (400, Some("limit"))
        );

        let problem =
            AppError::invalid_field("reason", HttpProblem::Required, "say why").to_problem();
        assert_eq!((problem.status, problem.code.as_str()), (422, "required"));
        assert_eq!(problem.detail, "reason: say why");
        assert_eq!(
            problem.errors,
            vec![FieldError::new("reason", "required", "say why")]
        );

        let problem = AppError::Client {
            status: StatusCode::NOT_ACCEPTABLE,
            detail: "not acceptable".to_owned(),
        }
        .to_problem();
        assert_eq!(
            (problem.status, problem.code.as_str()),
            (406, "bad_request")
        );

        let problem = AppError::TooManyRequests {
            retry_after_seconds: 5,
        }
        .to_problem();
        assert_eq!(
            (problem.status, problem.code.as_str()),
            (429, "rate_limited")
        );
        let problem = AppError::Internal(anyhow::anyhow!("secret")).to_problem();
        assert_eq!(
            (problem.status, problem.code.as_str()),
            (500, "internal_error")
        );
        assert!(!problem.detail.contains("secret"));
    }
}
