//! Notification endpoints for platform admins: templates (versions, preview), sending, a
//! notification's full history, and resending what failed.

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde::Deserialize;
use std::collections::BTreeMap;

use serde_json::{Map, Value};
use uuid::Uuid;

use super::model::{Channel, DeliveryStatus, RenderError};
use super::outbox::{self, EnqueueError, NewNotification, OutboxSettings, Recipient};
use super::templates::{self, TemplateContent, TemplateVersion};
use crate::http::HttpProblem;
use crate::http::{ApiTags, AppError, AppResult, JsonBody};
use crate::identity::errors::IdentityProblem;
use crate::identity::gate::{AccessToken, Gate};
use crate::identity::policy::Rule;
use crate::notify::errors::NotifyProblem;

pub struct NotifyApi {
    pub pool: Pool,
    pub gate: Gate,
    pub outbox: OutboxSettings,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTemplateVersion {
    pub key: String,
    pub content: TemplateContent,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    pub variables: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Object)]
pub struct PreviewResult {
    pub rendered: TemplateContent,
    /// UCS-2 SMS parts the SMS text takes (70 characters, or 67 per part when split).
    #[oai(skip_serializing_if_is_none)]
    pub sms_segments: Option<u32>,
}

#[derive(Debug, Clone, Object, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    pub template_key: String,
    #[serde(default)]
    #[oai(default)]
    pub variables: BTreeMap<String, Value>,
    /// A platform user; their active devices get the push.
    #[serde(default)]
    #[oai(nullable)]
    pub owner: Option<String>,
    /// Mainland mobile (+86 optional).
    #[serde(default)]
    #[oai(nullable)]
    pub phone: Option<String>,
    #[serde(default)]
    #[oai(nullable)]
    pub email: Option<String>,
    pub channels: Vec<Channel>,
    /// Push first, SMS when the push is not sent in time or there is no device.
    #[serde(default)]
    #[oai(default)]
    pub must_reach: bool,
    /// 10 = immediate (OTP), 5 = normal (default).
    #[serde(default)]
    #[oai(nullable)]
    pub priority: Option<i16>,
    /// Sending again with the same key returns the same notification.
    pub idempotency_key: String,
}

#[derive(Debug, Clone, Object)]
pub struct Enqueued {
    pub id: Uuid,
}

#[derive(Debug, Clone, Object)]
pub struct DeliveryEvent {
    pub status: DeliveryStatus,
    #[oai(skip_serializing_if_is_none)]
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object)]
pub struct DeliveryView {
    pub id: Uuid,
    pub channel: Channel,
    /// Masked address.
    pub address: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    #[oai(skip_serializing_if_is_none)]
    pub provider: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub provider_message_id: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub segments: Option<i32>,
    #[oai(skip_serializing_if_is_none)]
    pub fallback_for: Option<Uuid>,
    #[oai(skip_serializing_if_is_none)]
    pub last_error: Option<String>,
    pub events: Vec<DeliveryEvent>,
}

#[derive(Debug, Clone, Object)]
pub struct NotificationView {
    pub id: Uuid,
    pub template_key: String,
    pub template_version: i32,
    pub created_at: DateTime<Utc>,
    pub deliveries: Vec<DeliveryView>,
}

#[derive(ApiResponse)]
pub enum TemplateCreated {
    #[oai(status = 201)]
    Created(Json<TemplateVersion>),
}

#[derive(ApiResponse)]
pub enum NotificationAccepted {
    /// Enqueued (or already enqueued under this idempotency key).
    #[oai(status = 202)]
    Accepted(Json<Enqueued>),
}

fn render_error(err: RenderError) -> AppError {
    let kind = match err {
        RenderError::Missing(_) => NotifyProblem::MissingVariables,
        _ => NotifyProblem::InvalidTemplate,
    };
    AppError::invalid_field("variables", kind, err.to_string())
}

fn enqueue_error(err: EnqueueError) -> AppError {
    match err {
        EnqueueError::UnknownTemplate(key) => AppError::invalid_field(
            "template_key",
            NotifyProblem::UnknownTemplate,
            format!("no template {key}"),
        ),
        EnqueueError::Render { source, .. } => render_error(source),
        EnqueueError::NoContent { channel, .. } => AppError::invalid_field(
            "channels",
            NotifyProblem::NoContent,
            format!("the template has no {channel} text"),
        ),
        EnqueueError::NoAddress(channel) => AppError::invalid_field(
            "channels",
            NotifyProblem::NoAddress,
            format!("no address for {channel}"),
        ),
        EnqueueError::InvalidPhone => AppError::invalid_field(
            "phone",
            IdentityProblem::InvalidPhone,
            "a mainland mobile number is 11 digits starting 13-19 (+86 optional)",
        ),
        EnqueueError::InvalidEmail => {
            AppError::invalid_field("email", NotifyProblem::InvalidEmail, "not an email address")
        }
        EnqueueError::InvalidAttachment(why) => {
            AppError::invalid_field("attachments", NotifyProblem::InvalidAttachment, why)
        }
        EnqueueError::Db(e) => e.into(),
    }
}

/// Shows an address without giving it away: `138****8000`, `***@example.cn`, `apns:1a2b3c…`.
fn mask_address(channel: Channel, address: &str) -> String {
    match channel {
        Channel::Sms if address.len() == 11 => format!("{}****{}", &address[..3], &address[7..]),
        Channel::Email => address
            .split_once('@')
            .map(|(_, d)| format!("***@{d}"))
            .unwrap_or_default(),
        _ => format!("{}…", address.chars().take(12).collect::<String>()),
    }
}

#[OpenApi(prefix_path = "/api/v1/admin", tag = "ApiTags::Admin")]
impl NotifyApi {
    /// Create the next version of a notification template.
    #[oai(path = "/notification-templates", method = "post")]
    async fn create_template(
        &self,
        auth: AccessToken,
        body: JsonBody<NewTemplateVersion>,
    ) -> AppResult<TemplateCreated> {
        let actor = self.gate.require(&auth, Rule::PlatformAdmin).await?.actor();
        let new = body.parse()?;
        let variables = templates::check(&new.key, &new.content)
            .map_err(|errors| AppError::invalid(HttpProblem::ValidationFailed, errors))?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let version = templates::create_version(&tx, &new.key, &new.content, &variables, &actor.0)
            .await
            .map_err(|e| match e.code() {
                Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => AppError::new(
                    NotifyProblem::ConcurrentEdit,
                    "another version was created at the same time: retry",
                ),
                _ => e.into(),
            })?;
        crate::audit::append(
            &tx,
            crate::audit::AuditEntry {
                aggregate_type: "notification_template",
                aggregate_id: &new.key,
                actor: &actor.0,
                action: "template.create_version",
                before: None,
                after: Some(&serde_json::to_value(&new.content).map_err(anyhow::Error::from)?),
                details: serde_json::json!({ "version": version }),
            },
        )
        .await?;
        let created = templates::versions(&tx, &new.key)
            .await?
            .into_iter()
            .find(|v| v.version == version)
            .ok_or_else(|| anyhow::anyhow!("template version vanished in its own transaction"))?;
        tx.commit().await?;
        Ok(TemplateCreated::Created(Json(created)))
    }

    /// Every version of a template.
    #[oai(path = "/notification-templates/:key", method = "get")]
    async fn template_versions(
        &self,
        auth: AccessToken,
        key: Path<String>,
    ) -> AppResult<Json<Vec<TemplateVersion>>> {
        self.gate.require(&auth, Rule::PlatformAdmin).await?;
        let client = self.pool.get().await?;
        let versions = templates::versions(&client, &key.0).await?;
        if versions.is_empty() {
            return Err(AppError::new(
                NotifyProblem::TemplateNotFound,
                format!("no template {}", key.0),
            ));
        }
        Ok(Json(versions))
    }

    /// Render the latest version with sample variables (refuses missing ones).
    #[oai(path = "/notification-templates/:key/preview", method = "post")]
    async fn preview(
        &self,
        auth: AccessToken,
        key: Path<String>,
        body: JsonBody<PreviewRequest>,
    ) -> AppResult<Json<PreviewResult>> {
        self.gate.require(&auth, Rule::PlatformAdmin).await?;
        let client = self.pool.get().await?;
        let latest = templates::versions(&client, &key.0)
            .await?
            .pop()
            .ok_or_else(|| {
                AppError::new(
                    NotifyProblem::TemplateNotFound,
                    format!("no template {}", key.0),
                )
            })?;
        let rendered = templates::preview(&latest.content, &to_map(body.parse()?.variables))
            .map_err(render_error)?;
        let sms_segments = rendered.sms_body.as_deref().map(super::model::sms_segments);
        Ok(Json(PreviewResult {
            rendered,
            sms_segments,
        }))
    }

    /// Send a notification (the same path business transactions use, in its own transaction).
    #[oai(path = "/notifications", method = "post")]
    async fn send(
        &self,
        auth: AccessToken,
        body: JsonBody<SendRequest>,
    ) -> AppResult<NotificationAccepted> {
        self.gate.require(&auth, Rule::PlatformAdmin).await?;
        let req = body.parse()?;
        if req.idempotency_key.trim().is_empty() || req.idempotency_key.len() > 200 {
            return Err(AppError::invalid_field(
                "idempotency_key",
                HttpProblem::InvalidLength,
                "1-200 characters",
            ));
        }
        if req.channels.is_empty() {
            return Err(AppError::invalid_field(
                "channels",
                HttpProblem::Required,
                "at least one channel",
            ));
        }
        let priority = req.priority.unwrap_or(5);
        if !(1..=10).contains(&priority) {
            return Err(AppError::invalid_field(
                "priority",
                HttpProblem::OutOfRange,
                "priority is 1-10",
            ));
        }
        let recipient = match (req.owner, req.phone, req.email) {
            (Some(owner), phone, email) => Recipient::Owner {
                owner,
                phone,
                email,
            },
            (None, Some(phone), None) => Recipient::Phone(phone),
            (None, None, Some(email)) => Recipient::Email(email),
            (None, Some(phone), Some(email)) => Recipient::Owner {
                owner: format!("address:{}", uuid::Uuid::new_v4()),
                phone: Some(phone),
                email: Some(email),
            },
            (None, None, None) => {
                return Err(AppError::invalid_field(
                    "phone",
                    HttpProblem::Required,
                    "a recipient: owner, phone or email",
                ));
            }
        };
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let id = outbox::enqueue(
            &*tx,
            &NewNotification {
                template_key: req.template_key,
                variables: to_map(req.variables),
                recipient,
                channels: req.channels,
                must_reach: req.must_reach,
                priority,
                idempotency_key: format!("admin:{}", req.idempotency_key),
            },
            &self.outbox,
        )
        .await
        .map_err(enqueue_error)?;
        tx.commit().await?;
        Ok(NotificationAccepted::Accepted(Json(Enqueued { id })))
    }

    /// A notification with every delivery and its full status history.
    #[oai(path = "/notifications/:id", method = "get")]
    async fn history(
        &self,
        auth: AccessToken,
        id: Path<String>,
    ) -> AppResult<Json<NotificationView>> {
        self.gate.require(&auth, Rule::PlatformAdmin).await?;
        let id = parse_id(&id.0)?;
        let client = self.pool.get().await?;
        Ok(Json(load_view(&client, id).await?))
    }

    /// Send again every delivery of a notification that failed or was cancelled.
    #[oai(path = "/notifications/:id/resend", method = "post")]
    async fn resend(
        &self,
        auth: AccessToken,
        id: Path<String>,
    ) -> AppResult<Json<NotificationView>> {
        let actor = self.gate.require(&auth, Rule::PlatformAdmin).await?.actor();
        let id = parse_id(&id.0)?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let rows = tx
            .query(
                "UPDATE notification_delivery SET status = 'created', attempts = 0, next_attempt_at = now(),
                     fallback_for = NULL, last_error = NULL
                 WHERE notification_id = $1
                   AND status IN ('permanent_failure', 'technical_failure', 'cancelled')
                 RETURNING id",
                &[&id],
            )
            .await?;
        for row in &rows {
            let delivery: Uuid = row.get(0);
            tx.execute(
                "INSERT INTO notification_event (delivery_id, status, detail) VALUES ($1, 'created', $2)",
                &[&delivery, &format!("resent by {}", actor.0)],
            )
            .await?;
        }
        let view = load_view(&tx, id).await?;
        tx.commit().await?;
        Ok(Json(view))
    }
}

fn parse_id(raw: &str) -> AppResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| {
        AppError::in_field(HttpProblem::InvalidParameter, "id", "not a notification id")
    })
}

async fn load_view(
    client: &impl deadpool_postgres::GenericClient,
    id: Uuid,
) -> AppResult<NotificationView> {
    let n = client
        .query_opt(
            "SELECT template_key, template_version, created_at FROM notification WHERE id = $1",
            &[&id],
        )
        .await?
        .ok_or_else(|| {
            AppError::new(
                NotifyProblem::NotificationNotFound,
                format!("no notification {id}"),
            )
        })?;
    let deliveries = client
        .query(
            "SELECT id, channel, address, status, attempts, provider, provider_message_id, segments,
                    fallback_for, last_error
             FROM notification_delivery WHERE notification_id = $1 ORDER BY created_at, channel",
            &[&id],
        )
        .await?;
    let events = client
        .query(
            "SELECT e.delivery_id, e.status, e.detail, e.at FROM notification_event e
             JOIN notification_delivery d ON d.id = e.delivery_id
             WHERE d.notification_id = $1 ORDER BY e.id",
            &[&id],
        )
        .await?;
    let status = |s: &str| DeliveryStatus::parse(s).unwrap_or(DeliveryStatus::TechnicalFailure);
    Ok(NotificationView {
        id,
        template_key: n.get(0),
        template_version: n.get(1),
        created_at: n.get(2),
        deliveries: deliveries
            .iter()
            .map(|d| {
                let delivery_id: Uuid = d.get(0);
                let channel = Channel::parse(d.get(1)).unwrap_or(Channel::Sms);
                DeliveryView {
                    id: delivery_id,
                    channel,
                    address: mask_address(channel, d.get(2)),
                    status: status(d.get(3)),
                    attempts: d.get(4),
                    provider: d.get(5),
                    provider_message_id: d.get(6),
                    segments: d.get(7),
                    fallback_for: d.get(8),
                    last_error: d.get(9),
                    events: events
                        .iter()
                        .filter(|e| e.get::<_, Uuid>(0) == delivery_id)
                        .map(|e| DeliveryEvent {
                            status: status(e.get(1)),
                            detail: e.get(2),
                            at: e.get(3),
                        })
                        .collect(),
                }
            })
            .collect(),
    })
}

fn to_map(variables: BTreeMap<String, Value>) -> Map<String, Value> {
    variables.into_iter().collect()
}
