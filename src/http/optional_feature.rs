//! Errors of operations that belong to a feature a deployment may leave unconfigured (certificate
//! login without `[identity.certificates]`): everything `AppError` documents, plus 501.
//!
//! poem-openapi documents an operation's error statuses from its error type, so the few
//! operations that can answer 501 use this type and the rest do not claim to.

use poem_openapi::ApiResponse;
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry};
use poem_openapi::types::Type;

use super::problem::{AppError, PROBLEM_CONTENT_TYPE, Problem};

/// An [`AppError`] from an operation of an optional feature.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct OptionalFeatureError(#[from] pub AppError);

pub type OptionalFeatureResult<T> = Result<T, OptionalFeatureError>;

/// Into poem's error as the `AppError` it carries, so the problem+json rendering (which looks for
/// an `AppError`) treats it as ours.
impl From<OptionalFeatureError> for poem::Error {
    fn from(error: OptionalFeatureError) -> Self {
        error.0.into()
    }
}

impl ApiResponse for OptionalFeatureError {
    fn meta() -> MetaResponses {
        let mut meta = AppError::meta();
        meta.responses.push(MetaResponse {
            description: "The feature this operation belongs to is not configured on this server",
            status: Some(501),
            status_range: None,
            content: vec![MetaMediaType {
                content_type: PROBLEM_CONTENT_TYPE,
                schema: MetaSchemaRef::Reference(Problem::name().into_owned()),
            }],
            headers: vec![],
        });
        meta
    }

    fn register(registry: &mut Registry) {
        AppError::register(registry);
    }
}
