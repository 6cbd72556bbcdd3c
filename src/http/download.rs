//! File downloads with their real content type and an RFC 6266 / RFC 5987 `Content-Disposition`
//! that carries a Chinese file name intact (`filename*=UTF-8''…`) with an ASCII fallback.

use poem::http::header;
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::registry::{
    MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};

pub struct FileDownload {
    pub bytes: Vec<u8>,
    pub content_type: String,
    pub file_name: String,
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

pub fn content_disposition(file_name: &str) -> String {
    let fallback: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-._".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{fallback}\"; filename*=UTF-8''{}",
        percent_encode(file_name)
    )
}

impl IntoResponse for FileDownload {
    fn into_response(self) -> Response {
        Response::builder()
            .header(header::CONTENT_TYPE, self.content_type)
            .header(
                header::CONTENT_DISPOSITION,
                content_disposition(&self.file_name),
            )
            .header("x-content-type-options", "nosniff")
            .body(self.bytes)
    }
}

impl ApiResponse for FileDownload {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "The file, with its own content type",
                status: Some(200),
                status_range: None,
                // Every type a stored file may have: the upload checks refuse any other.
                content: crate::filetype::FORM_TYPES
                    .iter()
                    .map(|(content_type, _)| MetaMediaType {
                        content_type,
                        schema: MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format(
                            "string", "binary",
                        ))),
                    })
                    .collect(),
                headers: vec![MetaHeader {
                    name: "Content-Disposition".to_owned(),
                    description: Some("attachment with the file name (RFC 6266)".to_owned()),
                    required: true,
                    deprecated: false,
                    schema: MetaSchemaRef::Inline(Box::new(MetaSchema::new("string"))),
                }],
            }],
        }
    }

    fn register(_registry: &mut Registry) {}
}

#[cfg(test)]
mod tests {
    #[test]
    fn chinese_names_survive_with_an_ascii_fallback() {
        assert_eq!(
            super::content_disposition("申请书 v1.pdf"),
            "attachment; filename=\"____v1.pdf\"; filename*=UTF-8''%E7%94%B3%E8%AF%B7%E4%B9%A6%20v1.pdf"
        );
    }
}
