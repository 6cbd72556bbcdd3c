//! Notification templates (通知模板): Chinese texts with named `{variables}`, per channel,
//! versioned — a new version never changes a notification already rendered with an older one.

use deadpool_postgres::GenericClient;
use poem_openapi::Object;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::model::{self, RenderError};
use crate::http::FieldError;

#[derive(Debug, Clone, Default, Object, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateContent {
    #[oai(skip_serializing_if_is_none)]
    #[serde(default)]
    pub sms_body: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(default)]
    pub push_title: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(default)]
    pub push_body: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(default)]
    pub email_subject: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    #[serde(default)]
    pub email_body: Option<String>,
    /// SMS gateways' own ids of the pre-approved template, by provider: `{"aliyun": "SMS_1234"}`.
    #[oai(default)]
    #[serde(default)]
    pub provider_templates: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Object, Serialize)]
pub struct TemplateVersion {
    pub key: String,
    pub version: i32,
    /// Every variable the texts use.
    pub variables: Vec<String>,
    pub content: TemplateContent,
    pub created_by: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Checks a template's texts and returns the variables they use.
pub fn check(key: &str, content: &TemplateContent) -> Result<Vec<String>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let key_ok = (2..=64).contains(&key.len())
        && key.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
    if !key_ok {
        errors.push(FieldError::new(
            "key",
            "invalid_format",
            "a template key is 2-64 of a-z, 0-9, '_' and '.'",
        ));
    }
    let texts = [
        ("sms_body", &content.sms_body),
        ("push_title", &content.push_title),
        ("push_body", &content.push_body),
        ("email_subject", &content.email_subject),
        ("email_body", &content.email_body),
    ];
    if content.sms_body.is_none() && content.push_body.is_none() && content.email_body.is_none() {
        errors.push(FieldError::new(
            "sms_body",
            "required",
            "a template has content for at least one channel",
        ));
    }
    let mut variables = std::collections::BTreeSet::new();
    for (field, text) in texts {
        if let Some(text) = text {
            if text.trim().is_empty() {
                errors.push(FieldError::new(field, "required", "an empty text"));
            }
            match model::placeholders(text) {
                Ok(names) => variables.extend(names),
                Err(e) => errors.push(FieldError::new(field, "invalid_template", e.to_string())),
            }
        }
    }
    for (provider, id) in &content.provider_templates {
        if id.trim().is_empty() {
            errors.push(FieldError::new(
                format!("provider_templates.{provider}"),
                "required",
                "a provider template id cannot be empty",
            ));
        }
    }
    if errors.is_empty() {
        Ok(variables.into_iter().collect())
    } else {
        Err(errors)
    }
}

/// Renders every channel of a template with `variables` (SMS with personal data masked).
pub fn preview(
    content: &TemplateContent,
    variables: &Map<String, Value>,
) -> Result<TemplateContent, RenderError> {
    let sms_vars = model::masked_for_sms(variables);
    let render = |text: &Option<String>, vars: &Map<String, Value>| {
        text.as_deref().map(|t| model::render(t, vars)).transpose()
    };
    Ok(TemplateContent {
        sms_body: render(&content.sms_body, &sms_vars)?,
        push_title: render(&content.push_title, variables)?,
        push_body: render(&content.push_body, variables)?,
        email_subject: render(&content.email_subject, variables)?,
        email_body: render(&content.email_body, variables)?,
        provider_templates: content.provider_templates.clone(),
    })
}

/// Stores the next version of `key`.
pub async fn create_version(
    client: &impl GenericClient,
    key: &str,
    content: &TemplateContent,
    variables: &[String],
    created_by: &str,
) -> Result<i32, tokio_postgres::Error> {
    let row = client
        .query_one(
            "INSERT INTO notification_template (key, version, sms_body, push_title, push_body, email_subject,
                 email_body, provider_templates, variables, created_by)
             SELECT $1, COALESCE(max(version), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9
             FROM notification_template WHERE key = $1
             RETURNING version",
            &[
                &key,
                &content.sms_body,
                &content.push_title,
                &content.push_body,
                &content.email_subject,
                &content.email_body,
                &serde_json::to_value(&content.provider_templates).unwrap_or_default(),
                &variables,
                &created_by,
            ],
        )
        .await?;
    Ok(row.get(0))
}

pub async fn versions(
    client: &impl GenericClient,
    key: &str,
) -> Result<Vec<TemplateVersion>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT key, version, variables, sms_body, push_title, push_body, email_subject, email_body,
                    provider_templates, created_by, created_at
             FROM notification_template WHERE key = $1 ORDER BY version",
            &[&key],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| TemplateVersion {
            key: r.get(0),
            version: r.get(1),
            variables: r.get(2),
            content: TemplateContent {
                sms_body: r.get(3),
                push_title: r.get(4),
                push_body: r.get(5),
                email_subject: r.get(6),
                email_body: r.get(7),
                provider_templates: serde_json::from_value(r.get::<_, Value>(8))
                    .unwrap_or_default(),
            },
            created_by: r.get(9),
            created_at: r.get(10),
        })
        .collect())
}
