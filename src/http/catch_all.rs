//! Turns every error that escapes an endpoint — ours or the framework's — into problem+json,
//! so a client never sees a plain-text error or a 500 for bad input.

use poem::error::ResponseError;
use poem::error::{MethodNotAllowedError, NotFoundError, ReadBodyError, SizedLimitError};
use poem::http::StatusCode;
use poem::{Error, Response};
use poem_openapi::error::{
    AuthorizationError, ContentTypeError, ParseMultipartError, ParseParamError, ParsePathError,
    ParseRequestPayloadError,
};

use super::problem::AppError;
use crate::http::HttpProblem;

pub async fn problem_for_error(err: Error) -> Response {
    if err.is::<AppError>() {
        // Already ours: its ResponseError impl renders problem+json (and Retry-After).
        return err.into_response();
    }
    map_error(&err).as_response()
}

fn map_error(err: &Error) -> AppError {
    if let Some(e) = err.downcast_ref::<ParseParamError>() {
        return AppError::in_field(
            HttpProblem::InvalidParameter,
            e.name.to_owned(),
            e.to_string(),
        );
    }
    if let Some(e) = err.downcast_ref::<ParsePathError>() {
        return AppError::in_field(
            HttpProblem::InvalidParameter,
            e.name.to_owned(),
            e.to_string(),
        );
    }
    if let Some(e) = err.downcast_ref::<ParseRequestPayloadError>() {
        return AppError::new(HttpProblem::InvalidBody, e.reason.clone());
    }
    if let Some(e) = err.downcast_ref::<ParseMultipartError>() {
        return AppError::new(HttpProblem::InvalidBody, e.reason.clone());
    }
    if let Some(e) = err.downcast_ref::<ContentTypeError>() {
        return AppError::new(HttpProblem::UnsupportedMediaType, e.to_string());
    }
    if err.downcast_ref::<SizedLimitError>().is_some()
        || matches!(
            err.downcast_ref::<ReadBodyError>(),
            Some(ReadBodyError::PayloadTooLarge)
        )
        || err.status() == StatusCode::PAYLOAD_TOO_LARGE
    {
        return AppError::new(
            HttpProblem::PayloadTooLarge,
            "the request body exceeds the allowed size",
        );
    }
    if err.is::<AuthorizationError>() || err.status() == StatusCode::UNAUTHORIZED {
        return AppError::new(
            HttpProblem::Unauthorized,
            "missing or malformed credentials",
        );
    }
    if err.is::<NotFoundError>() || err.status() == StatusCode::NOT_FOUND {
        return AppError::new(HttpProblem::RouteNotFound, "no such route");
    }
    if err.is::<MethodNotAllowedError>() || err.status() == StatusCode::METHOD_NOT_ALLOWED {
        return AppError::new(
            HttpProblem::MethodNotAllowed,
            "method not allowed on this route",
        );
    }
    let status = err.status();
    if status.is_client_error() {
        return AppError::Client {
            status,
            detail: err.to_string(),
        };
    }
    AppError::Internal(anyhow::anyhow!(
        "unhandled framework error ({status}): {err}"
    ))
}
