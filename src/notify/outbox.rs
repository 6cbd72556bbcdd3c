//! Enqueueing: a notification is rows written in the caller's own transaction (the transactional
//! outbox) — if the business change commits, the message will go; if it rolls back, it will not.

use std::time::Duration;

use serde_json::{Map, Value};
use tokio_postgres::GenericClient;
use uuid::Uuid;

pub use super::attachment::{Attachment, MAX_ATTACHMENTS};
use super::model::{self, Channel, DeliveryStatus, RenderError};
use crate::db::{Prepare, Unprepared};

/// Who a notification is for.
#[derive(Debug, Clone)]
pub enum Recipient {
    /// A platform user (e.g. `citizen:<id>`), reached on their active devices, with a phone for
    /// SMS and an email when known. With `email: None`, the email channel uses the address the
    /// owner verified (`/api/v1/me/notification-preferences/email`); an owner without one simply
    /// gets no email (the address is opt-in), never an error.
    Owner {
        owner: String,
        phone: Option<String>,
        email: Option<String>,
    },
    Phone(String),
    Email(String),
}

#[derive(Debug, Clone)]
pub struct NewNotification {
    pub template_key: String,
    pub variables: Map<String, Value>,
    pub recipient: Recipient,
    /// Channels to use, in order of preference. For a [`Recipient::Owner`], the channels the
    /// owner switched off in their preferences are skipped and a push waits out their quiet
    /// hours — unless the notification is essential (`must_reach`, or priority 10): legal
    /// notices and codes always go at once. When preferences leave no channel, the notification
    /// is still recorded (it is in the owner's inbox) with no delivery.
    pub channels: Vec<Channel>,
    /// Push first, and SMS when the push is not sent within the fallback delay (or there is no
    /// active device).
    pub must_reach: bool,
    /// 10 for OTPs (sent before everything else), 5 otherwise.
    pub priority: i16,
    /// The same key enqueues once: retries of a business step never double a message.
    pub idempotency_key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    #[error("unknown notification template {0}")]
    UnknownTemplate(String),
    #[error("template {key} has no {channel} content")]
    NoContent { key: String, channel: &'static str },
    #[error("template {key}: {source}")]
    Render { key: String, source: RenderError },
    #[error("the recipient has no address for {0}")]
    NoAddress(&'static str),
    #[error("invalid phone number")]
    InvalidPhone,
    #[error("invalid email address")]
    InvalidEmail,
    #[error("invalid attachment: {0}")]
    InvalidAttachment(String),
    #[error(transparent)]
    Db(#[from] tokio_postgres::Error),
}

/// Settings the outbox applies when it creates deliveries.
#[derive(Debug, Clone)]
pub struct OutboxSettings {
    /// How long a must-reach push may take to be sent before the SMS fallback goes.
    pub fallback_delay: Duration,
    /// Per address and channel, at most this many deliveries per hour; beyond, the delivery is
    /// recorded as cancelled (`rate_limited`) and never sent: nobody can SMS-bomb a phone
    /// through us.
    pub per_address_hourly_limit: i64,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        OutboxSettings {
            fallback_delay: Duration::from_secs(60),
            per_address_hourly_limit: 10,
        }
    }
}

struct Template {
    sms_body: Option<String>,
    push_title: Option<String>,
    push_body: Option<String>,
    email_subject: Option<String>,
    email_body: Option<String>,
}

/// The notification's first statement: the template's latest version (its bodies with it), the
/// notification row unless its idempotency key is taken, and the owner's preferences and active
/// devices — one round trip. Column 6 is the new row's id, NULL when the key was taken; column 0
/// is NULL when no such template exists (nothing is written then).
const NEW_NOTIFICATION: &str = "
    WITH t AS (
        SELECT version, sms_body, push_title, push_body, email_subject, email_body
          FROM notification_template WHERE key = $5 ORDER BY version DESC LIMIT 1
    ), ins AS (
        INSERT INTO notification (id, owner, phone, email, template_key, template_version,
                                  variables, channels, must_reach, priority, idempotency_key)
        SELECT $1, $2, $3, $4, $5, t.version, $6, $7, $8, $9, $10 FROM t
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id
    )
    SELECT t.version, t.sms_body, t.push_title, t.push_body, t.email_subject, t.email_body,
           (SELECT id FROM ins),
           p.push, p.sms, p.email, p.quiet_start, p.quiet_end,
           (SELECT array_agg(d.id ORDER BY d.created_at, d.id)
              FROM device d WHERE d.owner = $2::text AND d.active),
           (SELECT array_agg(d.platform || ':' || d.token ORDER BY d.created_at, d.id)
              FROM device d WHERE d.owner = $2::text AND d.active)
      FROM (SELECT 1) AS one
      LEFT JOIN t ON true
      LEFT JOIN notification_preference p ON p.owner = $2::text";

/// One delivery with its first history event, under the per-address hourly limit: beyond it the
/// delivery is recorded as cancelled (`rate_limited`) and never sent.
const NEW_DELIVERY: &str = "
    WITH recent AS (
        -- Counting stops at the limit: only whether it is reached matters, so a busy address
        -- costs no more than a quiet one.
        SELECT count(*) AS n FROM (
            SELECT 1 FROM notification_delivery
             WHERE channel = $3 AND address = $4 AND created_at > now() - interval '1 hour'
               AND status <> $13
             LIMIT $12
        ) AS counted
    ), d AS (
        INSERT INTO notification_delivery (id, notification_id, channel, address, device_id, title,
                                           body, segments, status, priority, next_attempt_at,
                                           fallback_for, last_error)
        SELECT $1, $2, $3, $4, $5, $6, $7, $8,
               CASE WHEN recent.n >= $12 THEN $13 ELSE $14 END, $9,
               now() + make_interval(secs => $10::float8 / 1000), $11,
               CASE WHEN recent.n >= $12 THEN 'rate_limited' END
          FROM recent
        RETURNING id, status
    )
    INSERT INTO notification_event (delivery_id, status, detail)
    SELECT id, status,
           CASE WHEN status = $13 THEN 'rate limited: too many messages to this address' END
      FROM d";

/// An owner's channel preferences (the defaults when they have set none).
pub async fn preferences(
    client: &impl GenericClient,
    owner: &str,
) -> Result<model::ChannelPreferences, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT push, sms, email, quiet_start, quiet_end FROM notification_preference WHERE owner = $1",
            &[&owner],
        )
        .await?;
    Ok(row
        .map(|r| model::ChannelPreferences {
            push: r.get(0),
            sms: r.get(1),
            email: r.get(2),
            quiet_hours: r
                .get::<_, Option<chrono::NaiveTime>>(3)
                .zip(r.get::<_, Option<chrono::NaiveTime>>(4)),
        })
        .unwrap_or_default())
}

/// The email address an owner verified, if any.
pub async fn verified_email(
    client: &impl GenericClient,
    owner: &str,
) -> Result<Option<String>, tokio_postgres::Error> {
    Ok(client
        .query_opt(
            "SELECT address FROM owner_email WHERE owner = $1",
            &[&owner],
        )
        .await?
        .map(|r| r.get(0)))
}

/// A rendered delivery about to be written.
struct Planned {
    id: Uuid,
    channel: Channel,
    address: String,
    device_id: Option<Uuid>,
    title: Option<String>,
    body: String,
    segments: Option<i32>,
    fallback_for: Option<Uuid>,
    delay: Duration,
}

/// Enqueues a notification inside `tx`; returns its id (the existing one for a repeated
/// idempotency key).
pub async fn enqueue(
    tx: &impl GenericClient,
    new: &NewNotification,
    settings: &OutboxSettings,
) -> Result<Uuid, EnqueueError> {
    enqueue_with_attachments(tx, new, &[], settings).await
}

/// [`enqueue`], with files for the email delivery (stored with the notification; push and SMS
/// ignore them). The blobs must already be in the blob store: the dispatcher loads them when it
/// sends, and a missing one fails that email for good.
pub async fn enqueue_with_attachments(
    tx: &impl GenericClient,
    new: &NewNotification,
    attachments: &[Attachment],
    settings: &OutboxSettings,
) -> Result<Uuid, EnqueueError> {
    enqueue_prepared(&Unprepared(tx), new, attachments, settings).await
}

/// [`enqueue_with_attachments`] through statements prepared once per connection when `tx` is a
/// pooled transaction: two statements for a notification with one delivery (and no files).
pub async fn enqueue_prepared(
    tx: &impl Prepare,
    new: &NewNotification,
    attachments: &[Attachment],
    settings: &OutboxSettings,
) -> Result<Uuid, EnqueueError> {
    super::attachment::check(attachments).map_err(EnqueueError::InvalidAttachment)?;
    let key = &new.template_key;
    let render = |text: &Option<String>, vars: &Map<String, Value>, channel: &'static str| {
        let text = text.as_deref().ok_or(EnqueueError::NoContent {
            key: key.clone(),
            channel,
        })?;
        model::render(text, vars).map_err(|source| EnqueueError::Render {
            key: key.clone(),
            source,
        })
    };
    let render_opt = |text: &Option<String>, vars: &Map<String, Value>| match text {
        Some(t) => model::render(t, vars)
            .map(Some)
            .map_err(|source| EnqueueError::Render {
                key: key.clone(),
                source,
            }),
        None => Ok(None),
    };

    let (owner, phone, email) = match &new.recipient {
        Recipient::Owner {
            owner,
            phone,
            email,
        } => (Some(owner.clone()), phone.clone(), email.clone()),
        Recipient::Phone(p) => (None, Some(p.clone()), None),
        Recipient::Email(e) => (None, None, Some(e.clone())),
    };
    let phone = phone
        .map(|p| model::parse_mainland_mobile(&p).ok_or(EnqueueError::InvalidPhone))
        .transpose()?;
    if let Some(e) = &email
        && !model::is_email(e)
    {
        return Err(EnqueueError::InvalidEmail);
    }

    let id = Uuid::new_v4();
    let channels: Vec<&str> = new.channels.iter().map(|c| c.as_str()).collect();
    let row = tx
        .query_one_prepared(
            NEW_NOTIFICATION,
            &[
                &id,
                &owner,
                &phone,
                &email,
                key,
                &Value::Object(new.variables.clone()),
                &channels,
                &new.must_reach,
                &new.priority,
                &new.idempotency_key,
            ],
        )
        .await?;
    if row.get::<_, Option<i32>>(0).is_none() {
        return Err(EnqueueError::UnknownTemplate(key.clone()));
    }
    let template = Template {
        sms_body: row.get(1),
        push_title: row.get(2),
        push_body: row.get(3),
        email_subject: row.get(4),
        email_body: row.get(5),
    };
    if row.get::<_, Option<Uuid>>(6).is_none() {
        let existing = tx
            .query_one_prepared(
                "SELECT id FROM notification WHERE idempotency_key = $1",
                &[&new.idempotency_key],
            )
            .await?;
        return Ok(existing.get(0));
    }
    if !attachments.is_empty() {
        let positions: Vec<i16> = (0..attachments.len() as i16).collect();
        let names: Vec<&str> = attachments.iter().map(|a| a.filename.as_str()).collect();
        let types: Vec<&str> = attachments
            .iter()
            .map(|a| a.content_type.as_str())
            .collect();
        let blobs: Vec<&str> = attachments.iter().map(|a| a.blob_sha256.as_str()).collect();
        tx.execute_prepared(
            "INSERT INTO notification_attachment (notification_id, position, filename, content_type, blob_sha256)
             SELECT $1, * FROM unnest($2::int2[], $3::text[], $4::text[], $5::text[])",
            &[&id, &positions, &names, &types, &blobs],
        )
        .await?;
    }

    // The owner's preferences (the defaults when they have set none, or for a bare address):
    // switched-off channels are skipped and push waits out quiet hours, except for essential
    // notifications (must-reach, priority 10).
    let preferences = match row.get::<_, Option<bool>>(7) {
        Some(push) => model::ChannelPreferences {
            push,
            sms: row.get(8),
            email: row.get(9),
            quiet_hours: row
                .get::<_, Option<chrono::NaiveTime>>(10)
                .zip(row.get::<_, Option<chrono::NaiveTime>>(11)),
        },
        None => model::ChannelPreferences::default(),
    };
    let device_ids: Vec<Uuid> = row.get::<_, Option<Vec<Uuid>>>(12).unwrap_or_default();
    let device_addresses: Vec<String> = row.get::<_, Option<Vec<String>>>(13).unwrap_or_default();
    let channels =
        model::channels_to_send(&new.channels, new.must_reach, new.priority, &preferences);
    // An owner's email is the address they verified, unless the caller named one.
    let email = match (email, &owner) {
        (None, Some(owner)) if channels.contains(&Channel::Email) => {
            verified_email(tx.inner(), owner).await?
        }
        (email, _) => email,
    };
    let owner_has_no_email = owner.is_some() && email.is_none();
    let push_delay = match preferences.quiet_hours {
        Some((start, end)) if !model::is_essential(new.must_reach, new.priority) => {
            let now = chrono::Utc::now();
            model::quiet_until(now, start, end)
                .and_then(|until| (until - now).to_std().ok())
                .unwrap_or(Duration::ZERO)
        }
        _ => Duration::ZERO,
    };

    let mut planned: Vec<Planned> = Vec::new();
    let sms_vars = model::masked_for_sms(&new.variables);
    let wants = |c: Channel| channels.contains(&c) || (new.must_reach && c == Channel::Sms);
    let mut push_ids = Vec::new();
    if channels.contains(&Channel::Push) && owner.is_some() {
        let title = render_opt(&template.push_title, &new.variables)?;
        let body = render(&template.push_body, &new.variables, "push")?;
        for (device_id, address) in device_ids.into_iter().zip(device_addresses) {
            let delivery = Uuid::new_v4();
            push_ids.push(delivery);
            planned.push(Planned {
                id: delivery,
                channel: Channel::Push,
                address,
                device_id: Some(device_id),
                title: title.clone(),
                body: body.clone(),
                segments: None,
                fallback_for: None,
                delay: push_delay,
            });
        }
    }
    if wants(Channel::Sms) {
        let only_fallback = !channels.contains(&Channel::Sms);
        match &phone {
            Some(phone) => {
                let body = render(&template.sms_body, &sms_vars, "sms")?;
                // With a push to wait for, the SMS is its fallback; without one, it goes now.
                let fallback_for = if new.must_reach {
                    push_ids.first().copied()
                } else {
                    None
                };
                planned.push(Planned {
                    id: Uuid::new_v4(),
                    channel: Channel::Sms,
                    address: phone.clone(),
                    device_id: None,
                    title: None,
                    segments: Some(model::sms_segments(&body) as i32),
                    body,
                    fallback_for,
                    delay: if fallback_for.is_some() {
                        settings.fallback_delay
                    } else {
                        Duration::ZERO
                    },
                });
            }
            None if !only_fallback => return Err(EnqueueError::NoAddress("sms")),
            None => {}
        }
    }
    if channels.contains(&Channel::Email)
        && let Some(address) = email.clone()
    {
        planned.push(Planned {
            id: Uuid::new_v4(),
            channel: Channel::Email,
            address,
            device_id: None,
            title: render_opt(&template.email_subject, &new.variables)?,
            body: render(&template.email_body, &new.variables, "email")?,
            segments: None,
            fallback_for: None,
            delay: Duration::ZERO,
        });
    } else if channels.contains(&Channel::Email) && !owner_has_no_email {
        return Err(EnqueueError::NoAddress("email"));
    }
    if planned.is_empty() {
        let only_email_missing = owner_has_no_email && channels == [Channel::Email];
        if channels.len() < new.channels.len() || only_email_missing {
            // The owner switched these channels off (or set no email address): the
            // notification stays in their inbox.
            return Ok(id);
        }
        return Err(EnqueueError::NoAddress("any channel"));
    }

    for p in planned {
        let delay_ms = p.delay.as_millis() as f64;
        tx.execute_prepared(
            NEW_DELIVERY,
            &[
                &p.id,
                &id,
                &p.channel.as_str(),
                &p.address,
                &p.device_id,
                &p.title,
                &p.body,
                &p.segments,
                &new.priority,
                &delay_ms,
                &p.fallback_for,
                &settings.per_address_hourly_limit,
                &DeliveryStatus::Cancelled.as_str(),
                &DeliveryStatus::Created.as_str(),
            ],
        )
        .await?;
    }
    // No NOTIFY: nothing listens (dispatchers poll), and NOTIFY takes PostgreSQL's global
    // notify-queue lock at commit, which would serialise every transaction that enqueues.
    Ok(id)
}
