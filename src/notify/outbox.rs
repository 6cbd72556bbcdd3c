//! Enqueueing: a notification is rows written in the caller's own transaction (the transactional
//! outbox) — if the business change commits, the message will go; if it rolls back, it will not.

use std::time::Duration;

use serde_json::{Map, Value};
use tokio_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

pub use super::attachment::{Attachment, MAX_ATTACHMENTS};
use super::model::{self, Channel, DeliveryStatus, RenderError};
use crate::db::prepared::{Prepare, Unprepared};

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
    /// through us. Must-reach notices — what the law requires the applicant be told
    /// (acceptance, correction, decision, termination…) — are never limited and never count
    /// toward the limit: a busy case cannot silence its own decision, nor lock out a login code.
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

/// What planning a notification needs from the database ([`notice_context`]).
pub struct NoticeContext {
    /// The template's latest version and its bodies; `None` when no such template exists.
    template: Option<(i32, Template)>,
    preferences: model::ChannelPreferences,
    /// Active devices, oldest first: id and `platform:token` address.
    devices: Vec<(Uuid, String)>,
    verified_email: Option<String>,
}

/// The template's latest version with its bodies, and the owner's (`$1`, NULL for a bare
/// address) preferences, active devices and verified email: one round trip.
const NOTICE_CONTEXT: &str = "
    SELECT t.version, t.sms_body, t.push_title, t.push_body, t.email_subject, t.email_body,
           p.push, p.sms, p.email, p.quiet_start, p.quiet_end,
           (SELECT array_agg(d.id ORDER BY d.created_at, d.id)
              FROM device d WHERE d.owner = $1::text AND d.active),
           (SELECT array_agg(d.platform || ':' || d.token ORDER BY d.created_at, d.id)
              FROM device d WHERE d.owner = $1::text AND d.active),
           (SELECT address FROM owner_email WHERE owner = $1::text)
      FROM (SELECT 1) AS one
      LEFT JOIN LATERAL (
          SELECT version, sms_body, push_title, push_body, email_subject, email_body
            FROM notification_template WHERE key = $2 ORDER BY version DESC LIMIT 1
      ) AS t ON true
      LEFT JOIN notification_preference p ON p.owner = $1::text";

/// Reads what [`plan`] needs for a notification from `template_key` to `owner` (or to a bare
/// address, `None`). Outside a transaction too: nothing is locked, and the write that follows
/// is checked by the database (the template version and devices by foreign key).
pub async fn notice_context(
    client: &impl Prepare,
    owner: Option<&str>,
    template_key: &str,
) -> Result<NoticeContext, tokio_postgres::Error> {
    let row = client
        .query_one_prepared(NOTICE_CONTEXT, &[&owner, &template_key])
        .await?;
    let template = row.get::<_, Option<i32>>(0).map(|version| {
        (
            version,
            Template {
                sms_body: row.get(1),
                push_title: row.get(2),
                push_body: row.get(3),
                email_subject: row.get(4),
                email_body: row.get(5),
            },
        )
    });
    let preferences = preferences_at(&row, 6);
    let ids: Vec<Uuid> = row.get::<_, Option<Vec<Uuid>>>(11).unwrap_or_default();
    let addresses: Vec<String> = row.get::<_, Option<Vec<String>>>(12).unwrap_or_default();
    Ok(NoticeContext {
        template,
        preferences,
        devices: ids.into_iter().zip(addresses).collect(),
        verified_email: row.get(13),
    })
}

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
    Ok(row.map(|r| preferences_at(&r, 0)).unwrap_or_default())
}

/// The preferences in `row`'s columns `push, sms, email, quiet_start, quiet_end` from `first`
/// on; the defaults when they are NULL (no preference row was joined).
fn preferences_at(row: &tokio_postgres::Row, first: usize) -> model::ChannelPreferences {
    match row.get::<_, Option<bool>>(first) {
        Some(push) => model::ChannelPreferences {
            push,
            sms: row.get(first + 1),
            email: row.get(first + 2),
            quiet_hours: row
                .get::<_, Option<chrono::NaiveTime>>(first + 3)
                .zip(row.get::<_, Option<chrono::NaiveTime>>(first + 4)),
        },
        None => model::ChannelPreferences::default(),
    }
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
/// pooled transaction: two statements for a notification (its context, then the notification
/// with every delivery), a third for files.
pub async fn enqueue_prepared(
    tx: &impl Prepare,
    new: &NewNotification,
    attachments: &[Attachment],
    settings: &OutboxSettings,
) -> Result<Uuid, EnqueueError> {
    super::attachment::check(attachments).map_err(EnqueueError::InvalidAttachment)?;
    let owner = match &new.recipient {
        Recipient::Owner { owner, .. } => Some(owner.as_str()),
        _ => None,
    };
    let context = notice_context(tx, owner, &new.template_key).await?;
    let plan = plan(new, &context, settings)?;
    // The statement's text is the same for every notification: built once.
    static WRITE_ONE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "WITH {} SELECT (SELECT id FROM notice)",
            NotificationPlan::ctes("notice", "(SELECT 1) AS one", 1)
        )
    });
    let inserted: Option<Uuid> = tx
        .query_one_prepared(&WRITE_ONE, &plan.params())
        .await?
        .get(0);
    let Some(id) = inserted else {
        // The key was used before: that notification stands, and nothing was written.
        let existing = tx
            .query_one_prepared(
                "SELECT id FROM notification WHERE idempotency_key = $1",
                &[&new.idempotency_key],
            )
            .await?;
        return Ok(existing.get(0));
    };
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
    // No NOTIFY: nothing listens (dispatchers poll), and NOTIFY takes PostgreSQL's global
    // notify-queue lock at commit, which would serialise every transaction that enqueues.
    Ok(id)
}

/// A notification ready to be written: its row and its deliveries, rendered, with the
/// settings that decide at write time whether a delivery is over its address's hourly limit.
pub struct NotificationPlan {
    id: Uuid,
    owner: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    template_key: String,
    template_version: i32,
    variables: Value,
    channels: Vec<&'static str>,
    must_reach: bool,
    priority: i16,
    idempotency_key: String,
    delivery_ids: Vec<Uuid>,
    delivery_channels: Vec<&'static str>,
    addresses: Vec<String>,
    device_ids: Vec<Option<Uuid>>,
    titles: Vec<Option<String>>,
    bodies: Vec<String>,
    segments: Vec<Option<i32>>,
    delays_ms: Vec<f64>,
    fallbacks: Vec<Option<Uuid>>,
    hourly_limit: i64,
    /// The statuses of a delivery over the limit and of one to send.
    cancelled: &'static str,
    created: &'static str,
}

impl NotificationPlan {
    /// How many parameters [`Self::ctes`] takes.
    pub const PARAMETERS: usize = 23;

    /// The notification's id, once written.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Common table expressions that write a notification, its deliveries and their first
    /// events, for a statement's `WITH` list: `{name}` is the notification insert, which
    /// answers its id (none when the idempotency key was used: then nothing is written).
    /// Every row of `parent` (a table expression, `(SELECT 1) AS one` for one notification)
    /// writes it once: a parent that is another insert's `RETURNING` makes the notice depend on
    /// that insert. Parameters are numbered from `$first`, in [`Self::params`]' order; the text
    /// depends on nothing else, so callers can build it once.
    ///
    /// Each delivery is counted against its address's hourly limit (counting stops at the
    /// limit, so a busy address costs no more than a quiet one); beyond it the delivery is
    /// recorded as cancelled (`rate_limited`) and never sent. Must-reach deliveries are neither
    /// limited nor counted. Deliveries of one notification
    /// do not count each other (one statement's snapshot), which only matters when one
    /// notification sends twice to one address.
    pub fn ctes(name: &str, parent: &str, first: usize) -> String {
        let p = |i: usize| format!("${}", first + i);
        format!(
            "{name} AS (
                 INSERT INTO notification (id, owner, phone, email, template_key,
                                           template_version, variables, channels, must_reach,
                                           priority, idempotency_key)
                 SELECT {0}::uuid, {1}::text, {2}::text, {3}::text, {4}::text, {5}::int,
                        {6}::jsonb, {7}::text[], {8}::bool, {9}::int2, {10}::text
                   FROM {parent}
                 ON CONFLICT (idempotency_key) DO NOTHING
                 RETURNING id
             ), {name}_deliveries AS (
                 INSERT INTO notification_delivery (id, notification_id, channel, address,
                                                    device_id, title, body, segments, status,
                                                    priority, next_attempt_at, fallback_for,
                                                    last_error)
                 SELECT d.id, n.id, d.channel, d.address, d.device, d.title, d.body, d.segments,
                        CASE WHEN recent.n >= {20}::int8 AND NOT {8}::bool
                             THEN {21}::text ELSE {22}::text END,
                        {9}::int2, now() + make_interval(secs => d.delay_ms / 1000), d.fallback,
                        CASE WHEN recent.n >= {20}::int8 AND NOT {8}::bool
                             THEN 'rate_limited' END
                   FROM {name} AS n,
                        unnest({11}::uuid[], {12}::text[], {13}::text[], {14}::uuid[],
                               {15}::text[], {16}::text[], {17}::int[], {18}::float8[],
                               {19}::uuid[])
                          AS d(id, channel, address, device, title, body, segments, delay_ms,
                               fallback),
                        LATERAL (
                            SELECT count(*) AS n FROM (
                                SELECT 1 FROM notification_delivery x
                                  JOIN notification xn ON xn.id = x.notification_id
                                 WHERE x.channel = d.channel AND x.address = d.address
                                   AND x.created_at > now() - interval '1 hour'
                                   AND x.status <> {21}::text
                                   AND NOT xn.must_reach
                                 LIMIT {20}::int8
                            ) AS counted
                        ) AS recent
                 RETURNING id, status
             ), {name}_events AS (
                 INSERT INTO notification_event (delivery_id, status, detail)
                 SELECT id, status,
                        CASE WHEN status = {21}::text
                             THEN 'rate limited: too many messages to this address' END
                   FROM {name}_deliveries
             )",
            p(0),
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(6),
            p(7),
            p(8),
            p(9),
            p(10),
            p(11),
            p(12),
            p(13),
            p(14),
            p(15),
            p(16),
            p(17),
            p(18),
            p(19),
            p(20),
            p(21),
            p(22),
        )
    }

    /// The parameters of [`Self::ctes`], in order.
    pub fn params(&self) -> [&(dyn ToSql + Sync); Self::PARAMETERS] {
        [
            &self.id,
            &self.owner,
            &self.phone,
            &self.email,
            &self.template_key,
            &self.template_version,
            &self.variables,
            &self.channels,
            &self.must_reach,
            &self.priority,
            &self.idempotency_key,
            &self.delivery_ids,
            &self.delivery_channels,
            &self.addresses,
            &self.device_ids,
            &self.titles,
            &self.bodies,
            &self.segments,
            &self.delays_ms,
            &self.fallbacks,
            &self.hourly_limit,
            &self.cancelled,
            &self.created,
        ]
    }
}

/// Plans `new` with what the database said ([`notice_context`]): the owner's preferences
/// decide the channels (switched-off ones are skipped and push waits out quiet hours, except
/// for essential notifications: must-reach, priority 10), and each delivery is rendered.
pub fn plan(
    new: &NewNotification,
    context: &NoticeContext,
    settings: &OutboxSettings,
) -> Result<NotificationPlan, EnqueueError> {
    let key = &new.template_key;
    let Some((template_version, template)) = &context.template else {
        return Err(EnqueueError::UnknownTemplate(key.clone()));
    };
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

    let preferences = &context.preferences;
    let channels =
        model::channels_to_send(&new.channels, new.must_reach, new.priority, preferences);
    // An owner's email is the address they verified, unless the caller named one.
    let email = match (email, &owner) {
        (None, Some(_)) if channels.contains(&Channel::Email) => context.verified_email.clone(),
        (email, _) => email,
    };
    let owner_has_no_email = owner.is_some() && email.is_none();
    let push_delay = match preferences.quiet_hours {
        Some((start, end)) if !model::is_essential(new.must_reach, new.priority) => {
            let now = crate::clock::system_time();
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
        for (device_id, address) in &context.devices {
            let delivery = Uuid::new_v4();
            push_ids.push(delivery);
            planned.push(Planned {
                id: delivery,
                channel: Channel::Push,
                address: address.clone(),
                device_id: Some(*device_id),
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
        if !(channels.len() < new.channels.len() || only_email_missing) {
            return Err(EnqueueError::NoAddress("any channel"));
        }
        // The owner switched these channels off (or set no email address): the notification
        // stays in their inbox, with no delivery.
    }

    Ok(NotificationPlan {
        id: Uuid::new_v4(),
        owner,
        phone,
        email,
        template_key: key.clone(),
        template_version: *template_version,
        variables: Value::Object(new.variables.clone()),
        channels: new.channels.iter().map(|c| c.as_str()).collect(),
        must_reach: new.must_reach,
        priority: new.priority,
        idempotency_key: new.idempotency_key.clone(),
        delivery_ids: planned.iter().map(|p| p.id).collect(),
        delivery_channels: planned.iter().map(|p| p.channel.as_str()).collect(),
        device_ids: planned.iter().map(|p| p.device_id).collect(),
        titles: planned.iter().map(|p| p.title.clone()).collect(),
        segments: planned.iter().map(|p| p.segments).collect(),
        delays_ms: planned.iter().map(|p| p.delay.as_millis() as f64).collect(),
        fallbacks: planned.iter().map(|p| p.fallback_for).collect(),
        addresses: planned.iter().map(|p| p.address.clone()).collect(),
        bodies: planned.into_iter().map(|p| p.body).collect(),
        hourly_limit: settings.per_address_hourly_limit,
        cancelled: DeliveryStatus::Cancelled.as_str(),
        created: DeliveryStatus::Created.as_str(),
    })
}
