//! The one trait every delivery channel's protocol client implements (SMS, app push, email, and
//! the demo-only log channel), so the dispatcher treats them alike.

use std::future::Future;
use std::pin::Pin;

use serde_json::{Map, Value};
use uuid::Uuid;

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<SendOutcome, SendError>> + Send + 'a>>;

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// Mainland mobile number, 11 digits without the +86 prefix.
    Phone(String),
    Email(String),
    /// An app push token on its platform.
    Device {
        platform: PushPlatform,
        token: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushPlatform {
    Apns,
    Huawei,
    Fcm,
}

/// A rendered message ready for a provider.
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    /// Stable per notification and channel: providers that deduplicate get it (e.g. `apns-id`,
    /// Aliyun `OutId`); we also use it to make a retry after a crash recognisable.
    pub message_id: Uuid,
    pub address: Address,
    /// Email subject or push title.
    pub title: Option<String>,
    /// The rendered text (SMS body, push body, email body).
    pub body: String,
    /// Chinese SMS gateways send only pre-approved templates: the provider's template id and the
    /// variables to fill it with. `None` for channels that take free text.
    pub provider_template: Option<String>,
    pub variables: Map<String, Value>,
    /// 10 = immediate (OTP), 5 = normal.
    pub priority: u8,
    /// Files an email carries after its text (the sealed decision PDF); other channels ignore
    /// them.
    pub attachments: Vec<FileAttachment>,
}

/// A file attached to an email, loaded from the blob store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileAttachment {
    /// Shown to the recipient (may be Chinese: encoded per RFC 2231 / RFC 2047 by lettre).
    pub file_name: String,
    /// `type/subtype`, e.g. `application/pdf`.
    pub content_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOutcome {
    /// The provider's id for the message (for delivery receipts), when it gives one.
    pub provider_message_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying later: network error, timeout, 5xx, 429, provider throttling.
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// Retrying will not help: bad request, rejected content, unknown template.
    #[error("permanent failure: {0}")]
    Permanent(String),
    /// The address is dead (APNs 410 Unregistered, FCM UNREGISTERED, Huawei 80300007, a
    /// nonexistent number): deactivate it and fall back to another channel.
    #[error("invalid address: {0}")]
    InvalidAddress(String),
}

/// One delivery report of an SMS, as a provider's status callback gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReceipt {
    /// The provider's id for the message (Aliyun `BizId`, Tencent `sid`): what `send` returned.
    pub provider_message_id: String,
    /// Our message id, when the callback echoes it (Aliyun `OutId`; Tencent only via `ext`).
    pub out_id: Option<String>,
    pub delivered: bool,
    /// The carrier's status code when not delivered.
    pub error_code: Option<String>,
}

pub trait Provider: Send + Sync {
    /// Stable name used in configuration, metrics and the notification history (`aliyun`, `apns`…).
    fn name(&self) -> &'static str;
    /// Whether this provider only logs (refused in production mode).
    fn is_demo_only(&self) -> bool {
        false
    }
    fn send<'a>(&'a self, message: &'a OutgoingMessage) -> SendFuture<'a>;
}
