//! Dispatch workers: take due deliveries with `FOR UPDATE SKIP LOCKED` (so several instances
//! share the outbox without taking the same row), send them through their provider while the
//! row stays locked, and record the outcome in the same transaction.
//!
//! Delivery guarantee: at-least-once. A row is marked sent in the transaction that held its
//! lock during the send; if the process dies mid-send the transaction rolls back and the row is
//! sent again after restart. A duplicate is possible only when the provider accepted the message
//! in the instant before the crash; the stable `message_id` (Aliyun `OutId`, Tencent
//! `SessionContext`, `apns-id`) lets receipts and provider logs recognise it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use serde_json::{Map, Value};
use tokio::sync::watch;
use uuid::Uuid;

use super::model::{Channel, DeliveryStatus, backoff_seconds};
use super::provider::{Address, OutgoingMessage, Provider, PushPlatform, SendError, SendOutcome};

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
    /// How often to look for due rows when no NOTIFY arrives.
    pub poll_interval: Duration,
}

impl Default for DispatchSettings {
    fn default() -> Self {
        DispatchSettings {
            batch_size: 200,
            max_attempts: 8,
            max_age: Duration::from_secs(24 * 3600),
            backoff_base_seconds: 2.0,
            backoff_cap_seconds: 3600.0,
            poll_interval: Duration::from_millis(500),
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
}

enum Outcome {
    Sent(&'static str, SendOutcome),
    Failed(&'static str, SendError),
    /// The primary push went out: the SMS fallback is not needed.
    NotNeeded,
    TooOld,
    NoProvider,
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
                        t.provider_templates, n.variables
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
            })
            .collect();

        let outcomes = futures_util::future::join_all(due.iter().map(|d| self.deliver(d))).await;

        for (d, outcome) in due.iter().zip(outcomes) {
            self.record(&tx, d, outcome).await?;
        }
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
        let message = OutgoingMessage {
            message_id: d.id,
            address,
            title: d.title.clone(),
            body: d.body.clone(),
            provider_template,
            variables: if d.channel == Channel::Sms {
                super::model::masked_for_sms(&d.variables)
            } else {
                d.variables.clone()
            },
            priority: if d.priority >= 10 { 10 } else { 5 },
            attachment: None,
        };
        let name = provider.name();
        match provider.send(&message).await {
            Ok(outcome) => Outcome::Sent(name, outcome),
            Err(err) => Outcome::Failed(name, err),
        }
    }

    async fn record(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        d: &Due,
        outcome: Outcome,
    ) -> anyhow::Result<()> {
        let attempts = d.attempts + 1;
        let (status, provider, detail): (DeliveryStatus, Option<&str>, Option<String>) =
            match &outcome {
                Outcome::Sent(name, sent) => {
                    tx.execute(
                    "UPDATE notification_delivery SET status = 'sent', attempts = $2, provider = $3,
                         provider_message_id = $4, sent_at = now(), last_error = NULL WHERE id = $1",
                    &[&d.id, &attempts, name, &sent.provider_message_id],
                )
                .await?;
                    (
                        DeliveryStatus::Sent,
                        Some(*name),
                        sent.provider_message_id.clone(),
                    )
                }
                Outcome::Failed(name, SendError::Temporary(reason))
                    if attempts < self.settings.max_attempts =>
                {
                    let delay = backoff_seconds(
                        attempts as u32,
                        self.settings.backoff_base_seconds,
                        self.settings.backoff_cap_seconds,
                        random_unit(),
                    );
                    tx.execute(
                    "UPDATE notification_delivery SET status = 'temporary_failure', attempts = $2, provider = $3,
                         last_error = $4, next_attempt_at = now() + make_interval(secs => $5) WHERE id = $1",
                    &[&d.id, &attempts, name, reason, &delay],
                )
                .await?;
                    (
                        DeliveryStatus::TemporaryFailure,
                        Some(*name),
                        Some(reason.clone()),
                    )
                }
                Outcome::Failed(name, err) => {
                    let status = match err {
                        SendError::Temporary(_) => DeliveryStatus::TechnicalFailure,
                        _ => DeliveryStatus::PermanentFailure,
                    };
                    let reason = err.to_string();
                    tx.execute(
                    "UPDATE notification_delivery SET status = $2, attempts = $3, provider = $4, last_error = $5
                     WHERE id = $1",
                    &[&d.id, &status.as_str(), &attempts, name, &reason],
                )
                .await?;
                    if let SendError::InvalidAddress(_) = err {
                        // A dead push token: deactivate the device, and let the SMS fallback go now.
                        if let Some(device) = d.device_id {
                            tx.execute(
                            "UPDATE device SET active = false, deactivated_reason = $2, updated_at = now() WHERE id = $1",
                            &[&device, &reason],
                        )
                        .await?;
                        }
                        tx.execute(
                            "UPDATE notification_delivery SET next_attempt_at = now()
                         WHERE fallback_for = $1 AND status = 'created'",
                            &[&d.id],
                        )
                        .await?;
                    }
                    (status, Some(*name), Some(reason))
                }
                Outcome::NotNeeded => {
                    tx.execute(
                    "UPDATE notification_delivery SET status = 'cancelled', last_error = 'primary sent' WHERE id = $1",
                    &[&d.id],
                )
                .await?;
                    (
                        DeliveryStatus::Cancelled,
                        None,
                        Some("the push was sent: no SMS fallback needed".into()),
                    )
                }
                Outcome::TooOld | Outcome::NoProvider => {
                    let reason = if matches!(outcome, Outcome::TooOld) {
                        "too old to send"
                    } else {
                        "no provider configured for this channel"
                    };
                    tx.execute(
                    "UPDATE notification_delivery SET status = 'technical_failure', last_error = $2 WHERE id = $1",
                    &[&d.id, &reason],
                )
                .await?;
                    (
                        DeliveryStatus::TechnicalFailure,
                        None,
                        Some(reason.to_owned()),
                    )
                }
            };
        if let Some(metrics) = &self.metrics {
            metrics.notification(
                d.channel.as_str(),
                provider.unwrap_or("none"),
                status.as_str(),
            );
        }
        let detail = match provider {
            Some(p) => Some(format!("{p}: {}", detail.unwrap_or_default())),
            None => detail,
        };
        tx.execute(
            "INSERT INTO notification_event (delivery_id, status, detail) VALUES ($1, $2, $3)",
            &[&d.id, &status.as_str(), &detail],
        )
        .await?;
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

    /// Runs until `shutdown` turns true: drains the outbox, then waits for a NOTIFY or the poll
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
