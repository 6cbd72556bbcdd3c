//! `PreSerialized<T>`: a JSON response whose bytes were serialized once and cached, documented in
//! the OpenAPI spec with `T`'s schema. Hot, rarely changing reads (a published guide) skip the
//! per-request conversion to JSON.

use std::marker::PhantomData;

use bytes::Bytes;
use poem::http::header;
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry};
use poem_openapi::types::Type;

pub struct PreSerialized<T> {
    bytes: Bytes,
    _shape: PhantomData<fn() -> T>,
}

impl<T: serde::Serialize> PreSerialized<T> {
    pub fn serialize(value: &T) -> serde_json::Result<Self> {
        Ok(PreSerialized {
            bytes: Bytes::from(serde_json::to_vec(value)?),
            _shape: PhantomData,
        })
    }
}

impl<T> Clone for PreSerialized<T> {
    fn clone(&self) -> Self {
        PreSerialized {
            bytes: self.bytes.clone(),
            _shape: PhantomData,
        }
    }
}

impl<T: Type> Payload for PreSerialized<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Send> IntoResponse for PreSerialized<T> {
    fn into_response(self) -> Response {
        Response::builder()
            .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
            .body(self.bytes)
    }
}

impl<T: Type + Send> ApiResponse for PreSerialized<T> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: Self::CONTENT_TYPE,
                    schema: Self::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}
