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

use super::declare::ProblemKind;
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

/// A role that would allow a refused action: who the caller must be, or ask.
#[derive(Debug, Clone, PartialEq, Eq, Object, serde::Serialize, serde::Deserialize)]
pub struct RequiredRole {
    /// Stable role code, e.g. `approver`.
    pub role: String,
    /// The role's name for people, e.g. 审批人员.
    pub role_name: String,
    /// The department the role must be held in, when it matters.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub department_code: Option<String>,
    /// The item step the role must cover, when it matters.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub step: Option<String>,
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
    /// For a refusal by role (403): the roles that may take the action (any one will do).
    #[oai(skip_serializing_if_is_empty, default)]
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub required_roles: Vec<RequiredRole>,
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
    /// The caller lacks the role an action needs: names the roles that would do.
    #[error("{detail}")]
    RoleRequired {
        kind: ProblemKind,
        detail: String,
        roles: Vec<RequiredRole>,
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

    /// The declared problem `kind` for a caller without the role it needs: `roles` are the
    /// roles that would allow it (sent as `required_roles`).
    pub fn role_required(
        kind: impl Into<ProblemKind>,
        detail: impl Into<String>,
        roles: Vec<RequiredRole>,
    ) -> Self {
        AppError::RoleRequired {
            kind: kind.into(),
            detail: detail.into(),
            roles,
        }
    }

    /// The declared problem this error is sent as.
    pub fn kind(&self) -> ProblemKind {
        match self {
            AppError::Problem { kind, .. }
            | AppError::Invalid { kind, .. }
            | AppError::RoleRequired { kind, .. } => *kind,
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
        let required_roles = match self {
            AppError::RoleRequired { roles, .. } => roles.clone(),
            _ => Vec::new(),
        };
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
            required_roles,
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
    use super::*;

    #[test]
    fn an_error_is_sent_with_its_declared_code_status_and_title() {
        let problem = AppError::new(HttpProblem::RouteNotFound, "no such route").to_problem();
        assert_eq!(
            (
                problem.status,
                problem.code.as_str(),
                problem.title.as_str()
            ),
            (404, "route_not_found", "请求的地址不存在")
        );
        assert_eq!(
            problem.problem_type,
            "urn:fingertip:problem:route_not_found"
        );
        assert_eq!(problem.detail, "no such route");

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
        let approver = RequiredRole {
            role: "approver".to_owned(),
            role_name: "审批人员".to_owned(),
            department_code: Some("DA-SCJG".to_owned()),
            step: None,
        };
        let problem = AppError::role_required(
            HttpProblem::Forbidden,
            "needs the approver role",
            vec![approver.clone()],
        )
        .to_problem();
        assert_eq!((problem.status, problem.code.as_str()), (403, "forbidden"));
        assert_eq!(problem.detail, "needs the approver role");
        assert_eq!(problem.required_roles, vec![approver]);
        let wire = serde_json::to_value(&problem).unwrap();
        assert_eq!(wire["required_roles"][0]["role"], "approver");
        assert!(wire.get("errors").is_none());

        let problem = AppError::Internal(anyhow::anyhow!("secret")).to_problem();
        assert_eq!(
            (problem.status, problem.code.as_str()),
            (500, "internal_error")
        );
        assert!(!problem.detail.contains("secret"));
    }
}
