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

pub async fn problem_for_error(err: Error) -> Response {
    if err.is::<AppError>() {
        // Already ours: its ResponseError impl renders problem+json (and Retry-After).
        return err.into_response();
    }
    map_error(&err).as_response()
}

fn map_error(err: &Error) -> AppError {
    if let Some(e) = err.downcast_ref::<ParseParamError>() {
        return AppError::BadRequest {
            code: "invalid_parameter",
            field: Some(e.name.to_owned()),
            detail: e.to_string(),
        };
    }
    if let Some(e) = err.downcast_ref::<ParsePathError>() {
        return AppError::BadRequest {
            code: "invalid_parameter",
            field: Some(e.name.to_owned()),
            detail: e.to_string(),
        };
    }
    if let Some(e) = err.downcast_ref::<ParseRequestPayloadError>() {
        return AppError::BadRequest {
            code: "invalid_body",
            field: None,
            detail: e.reason.clone(),
        };
    }
    if let Some(e) = err.downcast_ref::<ParseMultipartError>() {
        return AppError::BadRequest {
            code: "invalid_body",
            field: None,
            detail: e.reason.clone(),
        };
    }
    if let Some(e) = err.downcast_ref::<ContentTypeError>() {
        return AppError::Status {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "unsupported_media_type",
            detail: e.to_string(),
        };
    }
    if err.downcast_ref::<SizedLimitError>().is_some()
        || matches!(
            err.downcast_ref::<ReadBodyError>(),
            Some(ReadBodyError::PayloadTooLarge)
        )
        || err.status() == StatusCode::PAYLOAD_TOO_LARGE
    {
        return AppError::Status {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "payload_too_large",
            detail: "the request body exceeds the allowed size".to_owned(),
        };
    }
    if err.is::<AuthorizationError>() || err.status() == StatusCode::UNAUTHORIZED {
        return AppError::Unauthorized {
            code: "unauthorized",
            detail: "missing or malformed credentials".to_owned(),
        };
    }
    if err.is::<NotFoundError>() || err.status() == StatusCode::NOT_FOUND {
        return AppError::not_found("route_not_found", "no such route");
    }
    if err.is::<MethodNotAllowedError>() || err.status() == StatusCode::METHOD_NOT_ALLOWED {
        return AppError::Status {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: "method_not_allowed",
            detail: "method not allowed on this route".to_owned(),
        };
    }
    let status = err.status();
    if status.is_client_error() {
        return AppError::Status {
            status,
            code: "bad_request",
            detail: err.to_string(),
        };
    }
    AppError::Internal(anyhow::anyhow!(
        "unhandled framework error ({status}): {err}"
    ))
}
