//! Uploads as raw bytes (no multipart): the `Content-Type` header declares the type. The body is
//! taken, not read, when the request is extracted; the handler authenticates the caller first
//! and then reads it under a limit. So a caller who may not upload learns 401/403 and nothing
//! about what the route accepts (poem-openapi's `Binary` checks the content type before the
//! handler runs), and nobody's bytes are read before their token is checked.

use std::marker::PhantomData;

use poem::http::header;
use poem::{Body, Request, RequestBody};
use poem_openapi::registry::{MetaMediaType, MetaRequest, MetaSchema, MetaSchemaRef};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

use super::problem::{AppError, AppResult};
use crate::http::HttpProblem;

/// What a route takes: the media types its OpenAPI entry lists, and its description.
pub trait UploadKinds: Send + Sync + 'static {
    fn content_types() -> Vec<&'static str>;
    fn description() -> &'static str;
}

/// The raw body of an upload with its declared content type, not read yet.
pub struct Upload<K> {
    content_type: Option<String>,
    content_length: Option<u64>,
    body: Body,
    kinds: PhantomData<fn() -> K>,
}

impl<'a, K: UploadKinds> ApiExtractor<'a> for Upload<K> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];

    type ParamType = ();
    type ParamRawType = ();

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: Some(K::description()),
            content: K::content_types()
                .into_iter()
                .map(|content_type| MetaMediaType {
                    content_type,
                    schema: MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format(
                        "string", "binary",
                    ))),
                })
                .collect(),
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        Ok(Upload {
            content_type: request.content_type().map(str::to_owned),
            content_length: request
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok()),
            body: body.take()?,
            kinds: PhantomData,
        })
    }
}

impl<K> Upload<K> {
    /// The Content-Type header as sent.
    pub fn declared_content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// The declared Content-Type, without parameters.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type
            .as_deref()
            .map(|t| t.split(';').next().unwrap_or(t).trim())
    }

    /// The bytes, at most `limit` of them (`too_large` otherwise): a declared length over the
    /// limit is refused before reading anything, and a streamed body is cut off as soon as it
    /// passes the limit.
    pub async fn read(self, limit: usize, too_large: fn(usize) -> AppError) -> AppResult<Vec<u8>> {
        use futures_util::StreamExt;
        if self.content_length.is_some_and(|n| n > limit as u64) {
            return Err(too_large(limit));
        }
        let capacity = self.content_length.map_or(0, |n| n as usize);
        let mut bytes = Vec::with_capacity(capacity);
        let mut stream = std::pin::pin!(self.body.into_bytes_stream());
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| {
                AppError::in_field(
                    HttpProblem::InvalidBody,
                    "body",
                    "the request body could not be read to its end",
                )
            })?;
            if bytes.len() + chunk.len() > limit {
                return Err(too_large(limit));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}
