//! The OpenAPI document as served: poem-openapi's, plus the statuses poem itself answers before a
//! handler runs.
//!
//! poem-openapi derives each operation's responses from its handler's return type, so it cannot
//! know that the framework refuses a request body of the wrong content type (415) or one over the
//! size limit (413) before the handler is called. Both are real answers a client gets (see
//! `catch_all.rs`), and a spec that leaves them out fails status-code conformance. They are added
//! here, to every operation that takes a request body, with the same problem+json response the
//! handlers' errors use.

use indexmap::IndexMap;
use serde_json::{Value, json};

use super::problem::PROBLEM_CONTENT_TYPE;

/// JSON that keeps its objects' key order (serde_json's `Value` sorts them), so the served and
/// committed document read in the order poem-openapi wrote it.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
enum Ordered {
    Object(IndexMap<String, Ordered>),
    Array(Vec<Ordered>),
    Scalar(Value),
}

impl From<Value> for Ordered {
    fn from(value: Value) -> Self {
        match value {
            Value::Object(map) => Ordered::Object(
                map.into_iter()
                    .map(|(key, value)| (key, Ordered::from(value)))
                    .collect(),
            ),
            Value::Array(items) => Ordered::Array(items.into_iter().map(Ordered::from).collect()),
            scalar => Ordered::Scalar(scalar),
        }
    }
}

impl Ordered {
    fn as_object_mut(&mut self) -> Option<&mut IndexMap<String, Ordered>> {
        match self {
            Ordered::Object(map) => Some(map),
            _ => None,
        }
    }
}

/// The statuses added to every operation with a request body, with their descriptions.
const BODY_STATUSES: [(&str, &str); 2] = [
    (
        "413",
        "The request body is larger than this operation accepts (`payload_too_large`)",
    ),
    (
        "415",
        "The request body's `Content-Type` is not one this operation accepts (`unsupported_media_type`)",
    ),
];

/// Adds the framework's own answers to poem-openapi's document. Any JSON that is not an OpenAPI
/// document is returned as it came.
pub fn with_framework_statuses(spec: &str) -> anyhow::Result<String> {
    let mut document: Ordered = serde_json::from_str(spec)?;
    let paths = document
        .as_object_mut()
        .and_then(|document| document.get_mut("paths"))
        .and_then(Ordered::as_object_mut);
    if let Some(paths) = paths {
        for path in paths.values_mut().filter_map(Ordered::as_object_mut) {
            for operation in path.values_mut().filter_map(Ordered::as_object_mut) {
                if operation.contains_key("requestBody") {
                    add_body_statuses(operation);
                }
            }
        }
    }
    Ok(serde_json::to_string_pretty(&document)?)
}

fn add_body_statuses(operation: &mut IndexMap<String, Ordered>) {
    let Some(responses) = operation
        .entry("responses".to_owned())
        .or_insert_with(|| Ordered::Object(IndexMap::new()))
        .as_object_mut()
    else {
        return;
    };
    for (status, description) in BODY_STATUSES {
        responses.entry(status.to_owned()).or_insert_with(|| {
            let response = json!({
                "description": description,
                "content": {
                    PROBLEM_CONTENT_TYPE: {
                        "schema": { "$ref": "#/components/schemas/Problem" }
                    }
                }
            });
            Ordered::from(response)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_with_a_body_document_413_and_415_and_others_do_not() {
        let spec = json!({
            "paths": {
                "/a": {
                    "post": { "requestBody": {}, "responses": { "200": {} } },
                    "get": { "responses": { "200": {} } }
                }
            }
        });
        let out: Value =
            serde_json::from_str(&with_framework_statuses(&spec.to_string()).unwrap()).unwrap();
        let post = &out["paths"]["/a"]["post"]["responses"];
        assert_eq!(
            post["415"]["content"][PROBLEM_CONTENT_TYPE]["schema"]["$ref"],
            "#/components/schemas/Problem"
        );
        assert!(post["413"].is_object());
        assert!(post["200"].is_object());
        let get = out["paths"]["/a"]["get"]["responses"].as_object().unwrap();
        assert_eq!(get.keys().collect::<Vec<_>>(), ["200"]);
    }
}
