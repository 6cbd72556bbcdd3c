//! Text with a NUL character (U+0000) is refused at the door: PostgreSQL cannot store it in
//! `text`, so a NUL that reached a query would fail there, as a 500, instead of as the client's
//! mistake. A NUL can reach the server only percent-encoded in the URL (`%00`) or escaped in a
//! JSON string (`\u0000`); this middleware covers the URL, [`super::json_body::parse_json`] the
//! bodies.

use poem::{Endpoint, Middleware, Request, Result};

use super::problem::AppError;
use crate::http::HttpProblem;

pub struct NulGuard;

impl<E: Endpoint> Middleware<E> for NulGuard {
    type Output = NulGuardEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        NulGuardEndpoint(ep)
    }
}

pub struct NulGuardEndpoint<E>(E);

impl<E: Endpoint> Endpoint for NulGuardEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, req: Request) -> Result<Self::Output> {
        if let Some(field) = field_with_nul(req.uri().path(), req.uri().query()) {
            let detail =
                format!("`{field}` contains the NUL character (%00), which no text may hold");
            return Err(AppError::in_field(HttpProblem::InvalidCharacter, field, detail).into());
        }
        self.0.call(req).await
    }
}

/// The part of the URL that holds an encoded NUL: `path`, or the query parameter's name.
fn field_with_nul(path: &str, query: Option<&str>) -> Option<String> {
    let has_nul = |text: &str| text.contains("%00");
    if has_nul(path) {
        return Some("path".to_owned());
    }
    query?
        .split('&')
        .find(|pair| has_nul(pair))
        .map(|pair| {
            pair.split('=')
                .next()
                .unwrap_or_default()
                .replace("%00", "")
        })
        .map(|name| {
            if name.is_empty() {
                "query".to_owned()
            } else {
                name
            }
        })
}

/// The JSON path (`materials[1].note`, a key's own path for a key) of the first string in
/// `value` that holds a NUL character.
pub fn json_path_with_nul(value: &serde_json::Value) -> Option<String> {
    fn walk(value: &serde_json::Value, path: &mut String) -> bool {
        match value {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            serde_json::Value::Object(map) => map.iter().any(|(key, item)| {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                let found = key.contains('\0') || walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            _ => false,
        }
    }
    let mut path = String::new();
    walk(value, &mut path).then(|| {
        if path.is_empty() {
            ".".to_owned()
        } else {
            path
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_an_encoded_nul_in_the_path_or_names_the_query_parameter() {
        assert_eq!(
            field_with_nul("/api/v1/items/%00", None).as_deref(),
            Some("path")
        );
        assert_eq!(
            field_with_nul("/api/v1/items", Some("limit=5&q=a%00b")).as_deref(),
            Some("q")
        );
        assert_eq!(field_with_nul("/api/v1/items", Some("q=%2500")), None);
        assert_eq!(field_with_nul("/api/v1/items/ABC", Some("q=x")), None);
    }

    #[test]
    fn names_the_json_path_of_a_string_or_key_with_a_nul() {
        let body = json!({"item_code": "A", "materials": [{"key": "x"}, {"key": "y\u{0}"}]});
        assert_eq!(
            json_path_with_nul(&body).as_deref(),
            Some("materials[1].key")
        );
        assert_eq!(
            json_path_with_nul(&json!({"a\u{0}": 1})).as_deref(),
            Some("a\u{0}")
        );
        assert_eq!(json_path_with_nul(&json!("\u{0}")).as_deref(), Some("."));
        assert_eq!(json_path_with_nul(&json!({"a": ["b", 1, null]})), None);
    }
}
