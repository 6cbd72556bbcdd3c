//! `JsonBody<T>`: a JSON request payload parsed with serde so that errors name the offending
//! field (`materials[1].copies`), which poem-openapi's own `Json<T>` does not do.
//!
//! Extraction only reads the bytes; the handler calls [`JsonBody::parse`] after its
//! authorization check, so a caller who may not use an endpoint learns 401/403 and nothing
//! about what the endpoint would accept.
//!
//! The OpenAPI schema still comes from `T: Type` (derive `Object` and `Deserialize` together,
//! with the same renames).

use poem::{FromRequest, Request, RequestBody};
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaMediaType, MetaRequest, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use serde::de::DeserializeOwned;

use super::problem::AppError;
use crate::http::HttpProblem;

pub struct JsonBody<T> {
    bytes: Vec<u8>,
    target: std::marker::PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> JsonBody<T> {
    /// The body as `T`, or a 400 naming the offending field.
    pub fn parse(self) -> Result<T, AppError> {
        parse_json(&self.bytes)
    }
}

impl<T: Type> Payload for JsonBody<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn check_content_type(content_type: &str) -> bool {
        matches!(content_type.parse::<mime::Mime>(), Ok(ct) if ct.type_() == "application"
            && (ct.subtype() == "json" || ct.suffix().is_some_and(|s| s == "json")))
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// Parses `bytes` as `T`, naming the JSON path of the first offending value.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    if bytes.is_empty() {
        return Err(AppError::new(
            HttpProblem::InvalidBody,
            "a JSON request body is required",
        ));
    }
    // A NUL arrives only as the escape `\u0000`; only then is the body walked for it.
    if bytes.windows(6).any(|w| w == b"\\u0000")
        && let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes)
        && let Some(path) = super::nul_guard::json_path_with_nul(&value)
    {
        let detail =
            format!("`{path}` contains the NUL character (\\u0000), which no text may hold");
        return Err(AppError::in_field(
            HttpProblem::InvalidCharacter,
            path,
            detail,
        ));
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            AppError::new(HttpProblem::InvalidJson, inner.to_string())
        } else if path == "." {
            AppError::new(HttpProblem::InvalidBody, inner.to_string())
        } else {
            AppError::in_field(HttpProblem::InvalidBody, path, inner.to_string())
        }
    })
}

impl<T: Type + DeserializeOwned> ParsePayload for JsonBody<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let bytes = <Vec<u8> as FromRequest>::from_request(request, body).await?;
        Ok(JsonBody {
            bytes,
            target: std::marker::PhantomData,
        })
    }
}

impl<'a, T: Type + DeserializeOwned> ApiExtractor<'a> for JsonBody<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <Self as Payload>::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: <Self as Payload>::CONTENT_TYPE,
                schema: <Self as Payload>::schema_ref(),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        match request.content_type() {
            Some(ct) if Self::check_content_type(ct) => {
                <Self as ParsePayload>::from_request(request, body).await
            }
            Some(ct) => Err(poem_openapi::error::ContentTypeError::NotSupported {
                content_type: ct.to_owned(),
            }
            .into()),
            None => Err(poem_openapi::error::ContentTypeError::ExpectContentType.into()),
        }
    }
}
