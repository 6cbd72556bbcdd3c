//! Dispatch workers: take due deliveries with `FOR UPDATE SKIP LOCKED` (so several instances
//! share the outbox without taking the same row), send them through their provider while the
//! row stays locked, and record the outcome in the same transaction.
//!
//! Delivery guarantee: at-least-once. A row is marked sent in the transaction that held its
//! lock during the send; if the process dies mid-send the transaction rolls back and the row is
//! sent again after restart. A duplicate is possible only when the provider accepted the message
//! in the instant before the crash; the stable `message_id` (Aliyun `OutId`, Tencent
//! `SessionContext`, `apns-id`) lets receipts and provider logs recognise it.
//!
//! Email attachments are loaded from the blob store just before the send. A blob that is not
//! there fails that delivery for good (`permanent_failure`, recorded); files over
//! `max_attachment_bytes` in total are left out and the text says so (the notice itself still
//! goes: it carries the download link). At most [`ATTACHMENT_SENDS`] emails per process hold
//! their files in memory at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use serde_json::{Map, Value};
use tokio::sync::{Semaphore, watch};
use uuid::Uuid;

use super::model::{Channel, DeliveryStatus, backoff_seconds};
use super::provider::{
    Address, FileAttachment, OutgoingMessage, Provider, PushPlatform, SendError, SendOutcome,
};
use crate::blobs::BlobStore;

/// Emails with attachments sent at once per process: each holds its files in memory.
pub const ATTACHMENT_SENDS: usize = 4;
static ATTACHMENT_PERMITS: Semaphore = Semaphore::const_new(ATTACHMENT_SENDS);

/// The providers that deliver each channel.
#[derive(Clone, Default)]
pub struct Providers {
    pub sms: Option<Arc<dyn Provider>>,
    pub email: Option<Arc<dyn Provider>>,
    pub push: HashMap<&'static str, Arc<dyn Provider>>,
    /// The SMPP session when SMS goes by SMPP: its deliver_sm receipts are applied as they come.
    pub smpp: Option<Arc<super::providers::smpp::Smpp>>,
}

impl Providers {
    fn for_delivery(
        &self,
        channel: Channel,
        address: &str,
    ) -> Option<(Arc<dyn Provider>, Address)> {
        match channel {
            Channel::Sms => self
                .sms
                .clone()
                .map(|p| (p, Address::Phone(address.to_owned()))),
            Channel::Email => self
                .email
                .clone()
                .map(|p| (p, Address::Email(address.to_owned()))),
            Channel::Push => {
                let (platform, token) = address.split_once(':')?;
                let parsed = match platform {
                    "apns" => PushPlatform::Apns,
                    "huawei" => PushPlatform::Huawei,
                    "fcm" => PushPlatform::Fcm,
                    _ => return None,
                };
                self.push.get(platform).cloned().map(|p| {
                    (
                        p,
                        Address::Device {
                            platform: parsed,
                            token: token.to_owned(),
                        },
                    )
                })
            }
        }
    }

    /// Providers that only print (refused in production mode).
    pub fn demo_only(&self) -> Vec<&'static str> {
        self.sms
            .iter()
            .chain(self.email.iter())
            .chain(self.push.values())
            .filter(|p| p.is_demo_only())
            .map(|p| p.name())
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct DispatchSettings {
    pub batch_size: i64,
    pub max_attempts: i32,
    /// Older than this and still not sent: `technical_failure`.
    pub max_age: Duration,
    pub backoff_base_seconds: f64,
    pub backoff_cap_seconds: f64,
    /// How often to look for due rows (dispatchers poll; enqueueing sends no NOTIFY).
    pub poll_interval: Duration,
    /// The largest total of files one email carries; beyond, they are left out and the text
    /// says so.
    pub max_attachment_bytes: u64,
}

/// 10 MiB: what common mail systems accept once base64 has grown it by a third.
pub const DEFAULT_MAX_ATTACHMENT_BYTES: u64 = 10 * 1024 * 1024;

impl Default for DispatchSettings {
    fn default() -> Self {
        DispatchSettings {
            batch_size: 200,
            max_attempts: 8,
            max_age: Duration::from_secs(24 * 3600),
            backoff_base_seconds: 2.0,
            backoff_cap_seconds: 3600.0,
            poll_interval: Duration::from_millis(500),
            max_attachment_bytes: DEFAULT_MAX_ATTACHMENT_BYTES,
        }
    }
}

#[derive(Clone)]
pub struct Dispatcher {
    pub pool: Pool,
    pub providers: Providers,
    pub settings: DispatchSettings,
    /// Outcome counters (`fingertip_notifications_total`), when the server exposes metrics.
    pub metrics: Option<crate::http::metrics::Metrics>,
    /// Where email attachments are read from; without it an email with attachments fails.
    pub blobs: Option<Arc<dyn BlobStore>>,
}

/// A file of a notification, as stored (`notification_attachment`).
struct AttachmentRef {
    filename: String,
    content_type: String,
    blob_sha256: String,
}

struct Due {
    id: Uuid,
    channel: Channel,
    address: String,
    device_id: Option<Uuid>,
    title: Option<String>,
    body: String,
    attempts: i32,
    priority: i16,
    too_old: bool,
    primary_sent: Option<bool>,
    provider_templates: Value,
    variables: Map<String, Value>,
    /// Email only.
    attachments: Vec<AttachmentRef>,
}

/// One delivery's new state, as [`Dispatcher::plan`] decides it.
struct RowUpdate {
    id: Uuid,
    status: DeliveryStatus,
    attempts: i32,
    provider: Option<&'static str>,
    provider_message_id: Option<String>,
    error: Option<String>,
    retry_in_seconds: Option<f64>,
    dead_address: bool,
    device_id: Option<Uuid>,
    channel: Channel,
    /// Added to the history event (e.g. attachments left out).
    note: Option<String>,
}

enum Outcome {
    /// Sent, with a note for the history.
    Sent(&'static str, SendOutcome, Option<String>),
    Failed(&'static str, SendError),
    /// The primary push went out: the SMS fallback is not needed.
    NotNeeded,
    TooOld,
    NoProvider,
}

/// What [`Dispatcher::load_attachments`] found.
enum Loaded {
    Files(Vec<FileAttachment>),
    /// More than the cap.
    TooLarge,
}

/// The `[[filename, content_type, blob_sha256], …]` the dispatch query aggregates.
fn attachment_refs(value: Option<Value>) -> Vec<AttachmentRef> {
    let Some(Value::Array(items)) = value else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let text = |i: usize| item.get(i).and_then(Value::as_str).map(str::to_owned);
            Some(AttachmentRef {
                filename: text(0)?,
                content_type: text(1)?,
                blob_sha256: text(2)?,
            })
        })
        .collect()
}

fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

impl Dispatcher {
    /// Claims one batch of due deliveries, sends them, records the outcomes. Returns how many
    /// rows it handled (0 when nothing was due).
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let max_age = self.settings.max_age.as_secs_f64();
        let rows = tx
            .query(
                "SELECT d.id, d.notification_id, d.channel, d.address, d.device_id, d.title, d.body,
                        d.attempts, d.priority,
                        d.created_at < now() - make_interval(secs => $2) AS too_old,
                        (SELECT p.status IN ('sent', 'delivered') FROM notification_delivery p
                          WHERE p.id = d.fallback_for) AS primary_sent,
                        t.provider_templates, n.variables,
                        CASE WHEN d.channel = 'email' THEN
                            (SELECT jsonb_agg(jsonb_build_array(a.filename, a.content_type, a.blob_sha256)
                                              ORDER BY a.position)
                               FROM notification_attachment a WHERE a.notification_id = d.notification_id)
                        END AS attachments
                 FROM notification_delivery d
                 JOIN notification n ON n.id = d.notification_id
                 JOIN notification_template t ON t.key = n.template_key AND t.version = n.template_version
                 WHERE d.status IN ('created', 'temporary_failure') AND d.next_attempt_at <= now()
                   -- A fallback waits while its primary is itself about to be sent.
                   AND NOT EXISTS (SELECT 1 FROM notification_delivery p
                                   WHERE p.id = d.fallback_for AND p.status IN ('created', 'temporary_failure')
                                     AND p.next_attempt_at <= now())
                 ORDER BY d.priority DESC, d.next_attempt_at
                 LIMIT $1
                 FOR UPDATE OF d SKIP LOCKED",
                &[&self.settings.batch_size, &max_age],
            )
            .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let due: Vec<Due> = rows
            .iter()
            .map(|r| Due {
                id: r.get(0),
                channel: Channel::parse(r.get(2)).unwrap_or(Channel::Sms),
                address: r.get(3),
                device_id: r.get(4),
                title: r.get(5),
                body: r.get(6),
                attempts: r.get(7),
                priority: r.get(8),
                too_old: r.get(9),
                primary_sent: r.get(10),
                provider_templates: r.get(11),
                variables: match r.get::<_, Value>(12) {
                    Value::Object(map) => map,
                    _ => Map::new(),
                },
                attachments: attachment_refs(r.get(13)),
            })
            .collect();

        let outcomes = futures_util::future::join_all(due.iter().map(|d| self.deliver(d))).await;

        let updates: Vec<RowUpdate> = due
            .iter()
            .zip(&outcomes)
            .map(|(d, o)| self.plan(d, o))
            .collect();
        self.record(&tx, &updates).await?;
        tx.commit().await?;
        Ok(due.len())
    }

    async fn deliver(&self, d: &Due) -> Outcome {
        if d.primary_sent == Some(true) {
            return Outcome::NotNeeded;
        }
        if d.too_old {
            return Outcome::TooOld;
        }
        let Some((provider, address)) = self.providers.for_delivery(d.channel, &d.address) else {
            return Outcome::NoProvider;
        };
        // SMS gateways send pre-approved templates: the provider's own template id.
        let provider_template = d
            .provider_templates
            .get(provider.name())
            .and_then(Value::as_str)
            .map(str::to_owned);
        let mut body = d.body.clone();
        let mut note = None;
        let mut attachments = Vec::new();
        // Held until the send is over: the files stay in memory that long.
        let _permit = if d.attachments.is_empty() {
            None
        } else {
            let permit = ATTACHMENT_PERMITS.acquire().await.ok();
            match self.load_attachments(&d.attachments).await {
                Ok(Loaded::Files(files)) => attachments = files,
                Ok(Loaded::TooLarge) => {
                    body.push_str(&format!(
                        "\n\n（附件超过邮件大小上限 {:.1} MB，未随本邮件发送，请登录指尖办查看和下载。）",
                        self.settings.max_attachment_bytes as f64 / 1_048_576.0
                    ));
                    note = Some(format!(
                        "attachments left out: over {} bytes",
                        self.settings.max_attachment_bytes
                    ));
                }
                Err(err) => return Outcome::Failed(provider.name(), err),
            }
            permit
        };
        let message = OutgoingMessage {
            message_id: d.id,
            address,
            title: d.title.clone(),
            body,
            provider_template,
            variables: if d.channel == Channel::Sms {
                super::model::masked_for_sms(&d.variables)
            } else {
                d.variables.clone()
            },
            priority: if d.priority >= 10 { 10 } else { 5 },
            attachments,
        };
        let name = provider.name();
        match provider.send(&message).await {
            Ok(outcome) => Outcome::Sent(name, outcome, note),
            Err(err) => Outcome::Failed(name, err),
        }
    }

    /// An email's files from the blob store, in order; they stop loading as soon as their total
    /// passes the cap.
    async fn load_attachments(&self, refs: &[AttachmentRef]) -> Result<Loaded, SendError> {
        let Some(blobs) = &self.blobs else {
            return Err(SendError::Permanent(
                "the email has attachments but the dispatcher has no blob store".to_owned(),
            ));
        };
        let mut files = Vec::with_capacity(refs.len());
        let mut total: u64 = 0;
        for (i, r) in refs.iter().enumerate() {
            let bytes = blobs
                .get(&r.blob_sha256)
                .await
                .map_err(|e| {
                    SendError::Temporary(format!("reading attachment {i} from the blob store: {e}"))
                })?
                .ok_or_else(|| {
                    SendError::Permanent(format!(
                        "attachment {i} (blob {}) is not in the blob store",
                        r.blob_sha256
                    ))
                })?;
            total = total.saturating_add(bytes.len() as u64);
            if total > self.settings.max_attachment_bytes {
                return Ok(Loaded::TooLarge);
            }
            files.push(FileAttachment {
                file_name: r.filename.clone(),
                content_type: r.content_type.clone(),
                bytes,
            });
        }
        Ok(Loaded::Files(files))
    }

    /// What to write for one delivery's outcome (no I/O).
    fn plan(&self, d: &Due, outcome: &Outcome) -> RowUpdate {
        let attempts = d.attempts + 1;
        let mut update = RowUpdate {
            id: d.id,
            status: DeliveryStatus::Sent,
            attempts,
            provider: None,
            provider_message_id: None,
            error: None,
            retry_in_seconds: None,
            dead_address: false,
            device_id: d.device_id,
            channel: d.channel,
            note: None,
        };
        match outcome {
            Outcome::Sent(name, sent, note) => {
                update.provider = Some(name);
                update.provider_message_id = sent.provider_message_id.clone();
                update.note = note.clone();
            }
            Outcome::Failed(name, SendError::Temporary(reason))
                if attempts < self.settings.max_attempts =>
            {
                update.status = DeliveryStatus::TemporaryFailure;
                update.provider = Some(name);
                update.error = Some(reason.clone());
                update.retry_in_seconds = Some(backoff_seconds(
                    attempts as u32,
                    self.settings.backoff_base_seconds,
                    self.settings.backoff_cap_seconds,
                    random_unit(),
                ));
            }
            Outcome::Failed(name, err) => {
                update.status = match err {
                    SendError::Temporary(_) => DeliveryStatus::TechnicalFailure,
                    _ => DeliveryStatus::PermanentFailure,
                };
                update.provider = Some(name);
                update.error = Some(err.to_string());
                update.dead_address = matches!(err, SendError::InvalidAddress(_));
            }
            Outcome::NotNeeded => {
                update.status = DeliveryStatus::Cancelled;
                update.attempts = d.attempts;
                update.error = Some("the push was sent: no SMS fallback needed".to_owned());
            }
            Outcome::TooOld => {
                update.status = DeliveryStatus::TechnicalFailure;
                update.attempts = d.attempts;
                update.error = Some("too old to send".to_owned());
            }
            Outcome::NoProvider => {
                update.status = DeliveryStatus::TechnicalFailure;
                update.attempts = d.attempts;
                update.error = Some("no provider configured for this channel".to_owned());
            }
        }
        update
    }

    /// Writes a batch's outcomes and their history events in a few statements.
    async fn record(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        updates: &[RowUpdate],
    ) -> anyhow::Result<()> {
        let ids: Vec<Uuid> = updates.iter().map(|u| u.id).collect();
        let statuses: Vec<&str> = updates.iter().map(|u| u.status.as_str()).collect();
        let attempts: Vec<i32> = updates.iter().map(|u| u.attempts).collect();
        let providers: Vec<Option<&str>> = updates.iter().map(|u| u.provider).collect();
        let message_ids: Vec<Option<&str>> = updates
            .iter()
            .map(|u| u.provider_message_id.as_deref())
            .collect();
        let errors: Vec<Option<&str>> = updates.iter().map(|u| u.error.as_deref()).collect();
        let retries: Vec<Option<f64>> = updates.iter().map(|u| u.retry_in_seconds).collect();
        tx.execute(
            "UPDATE notification_delivery d SET
                 status = u.status, attempts = u.attempts,
                 provider = COALESCE(u.provider, d.provider),
                 provider_message_id = COALESCE(u.message_id, d.provider_message_id),
                 last_error = u.error,
                 next_attempt_at = CASE WHEN u.retry IS NULL THEN d.next_attempt_at
                                        ELSE now() + make_interval(secs => u.retry) END,
                 sent_at = CASE WHEN u.status = 'sent' THEN now() ELSE d.sent_at END
             FROM unnest($1::uuid[], $2::text[], $3::int4[], $4::text[], $5::text[], $6::text[], $7::float8[])
                  AS u(id, status, attempts, provider, message_id, error, retry)
             WHERE d.id = u.id",
            &[&ids, &statuses, &attempts, &providers, &message_ids, &errors, &retries],
        )
        .await?;
        let details: Vec<Option<String>> = updates
            .iter()
            .map(|u| {
                let text = u.provider_message_id.as_deref().or(u.error.as_deref());
                let detail = match (u.provider, text) {
                    (Some(p), t) => Some(format!("{p}: {}", t.unwrap_or_default())),
                    (None, t) => t.map(str::to_owned),
                };
                match (detail, &u.note) {
                    (Some(d), Some(n)) => Some(format!("{d}; {n}")),
                    (d, n) => d.or_else(|| n.clone()),
                }
            })
            .collect();
        tx.execute(
            "INSERT INTO notification_event (delivery_id, status, detail)
             SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[])",
            &[&ids, &statuses, &details],
        )
        .await?;
        for update in updates.iter().filter(|u| u.dead_address) {
            // A dead push token: deactivate the device, and let the SMS fallback go now.
            if let Some(device) = update.device_id {
                tx.execute(
                    "UPDATE device SET active = false, deactivated_reason = $2, updated_at = now() WHERE id = $1",
                    &[&device, &update.error],
                )
                .await?;
            }
            tx.execute(
                "UPDATE notification_delivery SET next_attempt_at = now() WHERE fallback_for = $1 AND status = 'created'",
                &[&update.id],
            )
            .await?;
        }
        if let Some(metrics) = &self.metrics {
            for u in updates {
                metrics.notification(
                    u.channel.as_str(),
                    u.provider.unwrap_or("none"),
                    u.status.as_str(),
                );
            }
        }
        Ok(())
    }

    /// Applies SMPP delivery receipts until `shutdown` turns true.
    pub fn spawn_smpp_receipts(
        &self,
        mut shutdown: watch::Receiver<bool>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let session = self.providers.smpp.clone()?;
        let pool = self.pool.clone();
        Some(tokio::spawn(async move {
            let mut receipts = session.receipts();
            loop {
                let receipt = tokio::select! {
                    r = receipts.recv() => r,
                    _ = shutdown.changed() => return,
                };
                let receipt = match receipt {
                    Ok(r) => r,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "SMPP receipts arrived faster than applied");
                        continue;
                    }
                    Err(_) => return,
                };
                let state = format!("message_state {}", receipt.state);
                let applied = match pool.get().await {
                    Ok(client) => super::receipts::apply(
                        &**client,
                        "smpp",
                        &receipt.message_id,
                        receipt.delivered,
                        (!receipt.delivered).then_some(state.as_str()),
                    )
                    .await
                    .map_err(anyhow::Error::from),
                    Err(e) => Err(anyhow::Error::from(e)),
                };
                if let Err(err) = applied {
                    tracing::error!(error = %format!("{err:#}"), "applying an SMPP receipt");
                }
            }
        }))
    }

    /// Runs until `shutdown` turns true: drains the outbox, then waits for the poll
    /// interval.
    pub fn spawn(self, mut shutdown: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                if *shutdown.borrow() {
                    return;
                }
                let handled = match self.run_once().await {
                    Ok(n) => n,
                    Err(err) => {
                        tracing::error!(error = %format!("{err:#}"), "notification dispatch");
                        0
                    }
                };
                if handled == 0 {
                    tokio::select! {
                        _ = tokio::time::sleep(self.settings.poll_interval) => {}
                        _ = shutdown.changed() => {}
                    }
                }
            }
        })
    }
}
