//! Which provider serves each channel, from configuration (`[notify]` in fingertip.toml).
//! Without configuration, development mode uses the log-only demo providers; production mode
//! refuses to start with them.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::dispatcher::{DispatchSettings, Dispatcher, Providers};
use super::outbox::OutboxSettings;
use super::provider::Provider;
use super::providers::throttle::Throttled;
use super::providers::{aliyun, apns, email, fcm, huawei, log::LogOnlyProvider, smpp, tencent};
use crate::mode::Mode;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsProvider {
    #[default]
    Log,
    Aliyun,
    Tencent,
    /// SMPP 3.4 to a carrier or self-hosted SMS gateway.
    Smpp,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    #[serde(default)]
    pub sms_provider: SmsProvider,
    pub aliyun: Option<aliyun::AliyunSmsConfig>,
    pub tencent: Option<tencent::TencentSmsConfig>,
    pub smpp: Option<smpp::SmppConfig>,
    pub apns: Option<apns::ApnsConfig>,
    pub fcm: Option<fcm::FcmConfig>,
    pub huawei: Option<huawei::HuaweiConfig>,
    pub email: Option<email::EmailConfig>,
    /// Seconds a must-reach push may take before the SMS fallback goes.
    #[serde(default = "default_fallback_seconds")]
    pub fallback_delay_seconds: u64,
    /// Deliveries per address and channel per hour.
    #[serde(default = "default_hourly_limit")]
    pub per_address_hourly_limit: i64,
    /// Token the SMS providers' receipt callbacks carry (`?token=`); unset closes them.
    pub receipt_token: Option<crate::secret::Secret>,
    /// First retry delay in seconds; each further retry doubles it (with jitter), up to an hour.
    #[serde(default = "default_retry_base")]
    pub retry_base_seconds: f64,
    /// Sends per second this instance makes to the SMS provider (its published quota); unset:
    /// unlimited.
    pub sms_max_per_second: Option<u32>,
    /// Sends per second to each push service.
    pub push_max_per_second: Option<u32>,
    /// Whether this instance runs a dispatch worker.
    #[serde(default = "default_true")]
    pub dispatch: bool,
    /// The largest total of attached files one email carries (10 MiB); beyond, the email goes
    /// without them and its text says so.
    #[serde(default = "default_max_attachment_bytes")]
    pub max_email_attachment_bytes: u64,
    /// Checking the email address an owner sets.
    #[serde(default)]
    pub email_verification: EmailVerificationConfig,
}

/// `[notify.email_verification]`: the codes that prove an owner's email address.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailVerificationConfig {
    /// How long a code is valid.
    pub code_ttl_seconds: u64,
    /// Wrong codes before the code is dead and a new one must be asked for.
    pub max_attempts: i32,
    /// Codes an owner may ask for per hour.
    pub codes_per_hour: i64,
}

impl Default for EmailVerificationConfig {
    fn default() -> Self {
        EmailVerificationConfig {
            code_ttl_seconds: 15 * 60,
            max_attempts: 5,
            codes_per_hour: 5,
        }
    }
}

fn default_fallback_seconds() -> u64 {
    60
}
fn default_hourly_limit() -> i64 {
    10
}
fn default_retry_base() -> f64 {
    2.0
}
fn default_true() -> bool {
    true
}
fn default_max_attachment_bytes() -> u64 {
    super::dispatcher::DEFAULT_MAX_ATTACHMENT_BYTES
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            sms_provider: SmsProvider::Log,
            aliyun: None,
            tencent: None,
            smpp: None,
            apns: None,
            fcm: None,
            huawei: None,
            email: None,
            fallback_delay_seconds: default_fallback_seconds(),
            per_address_hourly_limit: default_hourly_limit(),
            receipt_token: None,
            sms_max_per_second: None,
            push_max_per_second: None,
            retry_base_seconds: default_retry_base(),
            dispatch: true,
            max_email_attachment_bytes: default_max_attachment_bytes(),
            email_verification: EmailVerificationConfig::default(),
        }
    }
}

impl NotifyConfig {
    pub fn outbox(&self) -> OutboxSettings {
        OutboxSettings {
            fallback_delay: Duration::from_secs(self.fallback_delay_seconds),
            per_address_hourly_limit: self.per_address_hourly_limit,
        }
    }

    /// The providers as configured; log-only ones fill channels nobody configured.
    pub fn providers(&self, mode: Mode) -> anyhow::Result<Providers> {
        let mut smpp_session = None;
        let sms: Arc<dyn Provider> = match self.sms_provider {
            SmsProvider::Log => Arc::new(LogOnlyProvider { name: "log-sms" }),
            SmsProvider::Aliyun => {
                let config = self.aliyun.clone().ok_or_else(|| {
                    anyhow::anyhow!("sms_provider = aliyun needs [notify.aliyun]")
                })?;
                Arc::new(aliyun::AliyunSms::new(config)?)
            }
            SmsProvider::Tencent => {
                let config = self.tencent.clone().ok_or_else(|| {
                    anyhow::anyhow!("sms_provider = tencent needs [notify.tencent]")
                })?;
                Arc::new(tencent::TencentSms::new(config)?)
            }
            SmsProvider::Smpp => {
                let config = self
                    .smpp
                    .clone()
                    .ok_or_else(|| anyhow::anyhow!("sms_provider = smpp needs [notify.smpp]"))?;
                let session = Arc::new(smpp::Smpp::new(config)?);
                smpp_session = Some(session.clone());
                session
            }
        };
        let throttle = |provider: Arc<dyn Provider>, quota: Option<u32>| -> Arc<dyn Provider> {
            match quota {
                Some(per_second) => Arc::new(Throttled::new(provider, per_second)),
                None => provider,
            }
        };
        let sms = throttle(sms, self.sms_max_per_second);
        let mut providers = Providers {
            sms: Some(sms),
            email: Some(match &self.email {
                Some(c) => Arc::new(email::Email::new(c.clone(), mode)?),
                None => Arc::new(LogOnlyProvider { name: "log-email" }),
            }),
            push: Default::default(),
            smpp: smpp_session,
        };
        let push = |name: &'static str| -> Arc<dyn Provider> { Arc::new(LogOnlyProvider { name }) };
        for (platform, name) in [
            ("apns", "log-apns"),
            ("fcm", "log-fcm"),
            ("huawei", "log-huawei"),
        ] {
            providers.push.insert(platform, push(name));
        }
        let quota = self.push_max_per_second;
        providers.push = providers
            .push
            .into_iter()
            .map(|(k, p)| (k, throttle(p, quota)))
            .collect();
        Ok(providers)
    }

    /// The dispatch worker; email attachments are read from `blobs`.
    pub fn dispatcher(
        &self,
        pool: deadpool_postgres::Pool,
        metrics: Option<crate::http::metrics::Metrics>,
        mode: Mode,
        blobs: Arc<dyn crate::blobs::BlobStore>,
    ) -> anyhow::Result<Dispatcher> {
        Ok(Dispatcher {
            pool,
            metrics,
            providers: self.providers(mode)?,
            settings: DispatchSettings {
                backoff_base_seconds: self.retry_base_seconds,
                max_attachment_bytes: self.max_email_attachment_bytes,
                ..DispatchSettings::default()
            },
            blobs: Some(blobs),
        })
    }
}
