//! SMPP 3.4 client for a carrier's or a self-hosted SMS gateway (SMSC).
//!
//! [`Smpp`] keeps one transceiver session bound in the background (see `client`), submits each
//! message with submit_sm and reports delivery receipts through [`Smpp::receipts`].
//!
//! Choices worth knowing:
//! - Text is always sent as UCS-2 (`data_coding` 0x08), even ASCII; a message longer than 70
//!   UTF-16 units goes as a concatenated SMS of 67-unit parts with an 8-bit-reference UDH
//!   (`esm_class` 0x40). See [`split_ucs2`].
//! - Only the last part of a concatenated message requests a delivery receipt
//!   (`registered_delivery` 1), and `send` returns the last part's message id: the receipt for
//!   that id stands for the whole message.
//! - If part k of n fails, parts before it have been accepted; a retry resends them all.
//! - Destination: `Address::Phone` as a national number (TON 2, NPI 1 ISDN). Source:
//!   `source_addr` from the configuration, TON 2 / NPI 1 when numeric, TON 5 (alphanumeric)
//!   otherwise, 0/0 when empty.
//! - submit_sm_resp status: ESME_RTHROTTLED / ESME_RMSGQFUL → `Temporary`, ESME_RINVDSTADR →
//!   `InvalidAddress`, any other error → `Permanent`; no response in time or a dropped
//!   connection → `Temporary`. A bind refused for bad credentials (ESME_RBINDFAIL,
//!   ESME_RINVPASWD, ESME_RINVSYSID) makes sends fail `Permanent`; other bind refusals
//!   `Temporary`. The session keeps retrying the bind with backoff either way.
//! - `provider_template` and `variables` are ignored: SMPP carries the rendered `body`.

mod client;
pub mod pdu;
mod text;

use std::sync::atomic::{AtomicU8, Ordering};

use serde::Deserialize;
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::notify::provider::{
    Address, OutgoingMessage, Provider, SendError, SendFuture, SendOutcome,
};
use crate::secret::Secret;

use client::{RequestError, Session};
use pdu::{Body, SmBody, npi, status, ton};
pub use text::{concat_udh, decode_ucs2, parse_receipt, parse_receipt_text, split_ucs2};

/// Connection settings for one SMSC account.
#[derive(Debug, Clone, Deserialize)]
pub struct SmppConfig {
    /// `host:port` of the SMSC.
    pub address: String,
    /// Account name (at most 15 ASCII characters).
    pub system_id: String,
    /// Account password (at most 8 ASCII characters, an SMPP 3.4 limit).
    pub password: Secret,
    /// Often empty; some SMSCs want a fixed value (at most 12 characters).
    #[serde(default)]
    pub system_type: String,
    /// Sender shown to the recipient (service number), at most 20 characters.
    pub source_addr: String,
    /// Keep-alive period; 0 disables enquire_link.
    #[serde(default = "default_enquire_link_seconds")]
    pub enquire_link_seconds: u64,
    /// How long a request waits for its response — and for a reconnection first.
    #[serde(default = "default_response_timeout_ms")]
    pub response_timeout_ms: u64,
}

fn default_enquire_link_seconds() -> u64 {
    30
}

fn default_response_timeout_ms() -> u64 {
    10_000
}

/// A delivery receipt from the SMSC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmppReceipt {
    /// The id `send` returned (`SendOutcome::provider_message_id`).
    pub message_id: String,
    /// `state == 2` (DELIVERED).
    pub delivered: bool,
    /// SMPP `message_state`: 1 enroute, 2 delivered, 3 expired, 4 deleted, 5 undeliverable,
    /// 6 accepted, 7 unknown, 8 rejected (see [`pdu::message_state`]).
    pub state: u8,
}

impl SmppReceipt {
    /// Whether the message reached a final state that is a failure (expired, deleted,
    /// undeliverable, rejected).
    pub fn failed(&self) -> bool {
        matches!(
            self.state,
            pdu::message_state::EXPIRED
                | pdu::message_state::DELETED
                | pdu::message_state::UNDELIVERABLE
                | pdu::message_state::REJECTED
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmppConfigError {
    #[error("smpp {field}: {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
    #[error("smpp: must be created inside a tokio runtime")]
    NoRuntime,
}

/// The SMPP provider. Creating it starts the background session; dropping it stops it.
pub struct Smpp {
    session: Session,
    source_addr: String,
    next_reference: AtomicU8,
}

impl Smpp {
    /// Validates the configuration and starts connecting in the background (the first `send`
    /// waits for the bind up to `response_timeout_ms`). Needs a tokio runtime.
    pub fn new(config: SmppConfig) -> Result<Smpp, SmppConfigError> {
        validate(&config)?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(SmppConfigError::NoRuntime);
        }
        let source_addr = config.source_addr.clone();
        let first_reference = uuid::Uuid::new_v4().as_bytes()[0];
        Ok(Smpp {
            session: Session::start(config),
            source_addr,
            next_reference: AtomicU8::new(first_reference),
        })
    }

    /// Delivery receipts received from now on. Receipts arriving while nobody subscribes are
    /// dropped; a subscriber more than 1024 receipts behind loses the oldest (`Lagged`).
    pub fn receipts(&self) -> broadcast::Receiver<SmppReceipt> {
        self.session.receipts()
    }

    /// Unbinds (when bound) and stops the session; later sends fail `Temporary`.
    pub async fn close(&self) {
        self.session.close().await;
    }

    async fn submit(&self, message: &OutgoingMessage) -> Result<SendOutcome, SendError> {
        let Address::Phone(phone) = &message.address else {
            return Err(SendError::Permanent(
                "smpp sends SMS to phone numbers only".into(),
            ));
        };
        let phone = phone.trim();
        if phone.is_empty() || phone.len() > 20 || !phone.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SendError::InvalidAddress(format!(
                "not a phone number: {phone:?}"
            )));
        }
        let parts = split_ucs2(&message.body);
        let total = u8::try_from(parts.len()).map_err(|_| {
            SendError::Permanent(format!("message too long: {} SMS parts", parts.len()))
        })?;
        let reference = self.next_reference.fetch_add(1, Ordering::Relaxed);
        let (source_ton, source_npi) = source_numbering(&self.source_addr);
        let mut last_id = String::new();
        for (index, part) in parts.into_iter().enumerate() {
            let seq = index as u8 + 1;
            let (esm_class, short_message) = if total == 1 {
                (0, part)
            } else {
                let mut bytes = concat_udh(reference, total, seq).to_vec();
                bytes.extend_from_slice(&part);
                (pdu::ESM_CLASS_UDHI, bytes)
            };
            let sm = SmBody {
                source_addr_ton: source_ton,
                source_addr_npi: source_npi,
                source_addr: self.source_addr.clone(),
                dest_addr_ton: ton::NATIONAL,
                dest_addr_npi: npi::ISDN,
                destination_addr: phone.to_owned(),
                esm_class,
                priority_flag: u8::from(message.priority >= 10),
                registered_delivery: u8::from(seq == total),
                data_coding: pdu::DATA_CODING_UCS2,
                short_message,
                ..SmBody::default()
            };
            let deadline = Instant::now() + self.session.response_timeout();
            let resp = self
                .session
                .request(Body::SubmitSm(sm), deadline)
                .await
                .map_err(|e| request_error(e, seq, total))?;
            match (resp.command_status, resp.body) {
                (status::ESME_ROK, Body::SubmitSmResp { message_id }) => last_id = message_id,
                (status::ESME_ROK, other) => {
                    return Err(SendError::Temporary(format!(
                        "unexpected answer to submit_sm: command_id {:#010x}",
                        other.command_id()
                    )));
                }
                (code, _) => return Err(status_error(code, seq, total)),
            }
        }
        Ok(SendOutcome {
            provider_message_id: Some(last_id).filter(|id| !id.is_empty()),
        })
    }
}

impl Provider for Smpp {
    fn name(&self) -> &'static str {
        "smpp"
    }

    fn send<'a>(&'a self, message: &'a OutgoingMessage) -> SendFuture<'a> {
        Box::pin(self.submit(message))
    }
}

/// Maps a non-zero submit_sm_resp (or generic_nack) status.
pub fn status_error(code: u32, part: u8, total: u8) -> SendError {
    let what = format!(
        "SMSC answered {} ({code:#010x}) to part {part}/{total}",
        status::name(code)
    );
    match code {
        status::ESME_RTHROTTLED | status::ESME_RMSGQFUL => SendError::Temporary(what),
        status::ESME_RINVDSTADR => SendError::InvalidAddress(what),
        _ => SendError::Permanent(what),
    }
}

fn request_error(error: RequestError, part: u8, total: u8) -> SendError {
    let what = format!("{error} (part {part}/{total})");
    match error {
        RequestError::BindRejected(
            status::ESME_RBINDFAIL | status::ESME_RINVPASWD | status::ESME_RINVSYSID,
        )
        | RequestError::Encode(_) => SendError::Permanent(what),
        RequestError::BindRejected(_)
        | RequestError::Unavailable(_)
        | RequestError::Timeout
        | RequestError::ConnectionLost
        | RequestError::Closed => SendError::Temporary(what),
    }
}

fn source_numbering(source_addr: &str) -> (u8, u8) {
    if source_addr.is_empty() {
        (ton::UNKNOWN, npi::UNKNOWN)
    } else if source_addr.bytes().all(|b| b.is_ascii_digit()) {
        (ton::NATIONAL, npi::ISDN)
    } else {
        (ton::ALPHANUMERIC, npi::UNKNOWN)
    }
}

fn validate(config: &SmppConfig) -> Result<(), SmppConfigError> {
    let check = |field: &'static str, value: &str, max: usize| {
        if value.len() > max {
            Err(SmppConfigError::Invalid {
                field,
                problem: format!("longer than {max} characters"),
            })
        } else if !value.bytes().all(|b| b.is_ascii() && b != 0) {
            Err(SmppConfigError::Invalid {
                field,
                problem: "must be ASCII without NUL".into(),
            })
        } else {
            Ok(())
        }
    };
    if config.address.trim().is_empty() {
        return Err(SmppConfigError::Invalid {
            field: "address",
            problem: "empty".into(),
        });
    }
    check("system_id", &config.system_id, 15)?;
    check("password", config.password.expose(), 8)?;
    check("system_type", &config.system_type, 12)?;
    check("source_addr", &config.source_addr, 20)?;
    if config.response_timeout_ms == 0 {
        return Err(SmppConfigError::Invalid {
            field: "response_timeout_ms",
            problem: "must be positive".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_mapping() {
        assert!(matches!(status_error(0x58, 1, 1), SendError::Temporary(_)));
        assert!(matches!(status_error(0x14, 1, 1), SendError::Temporary(_)));
        assert!(matches!(
            status_error(0x0B, 1, 1),
            SendError::InvalidAddress(_)
        ));
        assert!(matches!(status_error(0x45, 1, 1), SendError::Permanent(_)));
        assert!(matches!(
            request_error(RequestError::BindRejected(0x0D), 1, 1),
            SendError::Permanent(_)
        ));
        assert!(matches!(
            request_error(RequestError::Timeout, 1, 1),
            SendError::Temporary(_)
        ));
    }

    #[test]
    fn config_limits() {
        let mut config = SmppConfig {
            address: "127.0.0.1:2775".into(),
            system_id: "fingertip".into(),
            password: Secret::new("12345678"),
            system_type: String::new(),
            source_addr: "106900".into(),
            enquire_link_seconds: 30,
            response_timeout_ms: 1000,
        };
        assert!(validate(&config).is_ok());
        config.password = Secret::new("123456789");
        assert!(validate(&config).is_err());
        assert!(!format!("{config:?}").contains("123456789"));
        assert_eq!(source_numbering("106900"), (2, 1));
        assert_eq!(source_numbering("Gov"), (5, 0));
    }

    #[test]
    fn needs_a_runtime() {
        let config = SmppConfig {
            address: "127.0.0.1:1".into(),
            system_id: "a".into(),
            password: Secret::new("b"),
            system_type: String::new(),
            source_addr: String::new(),
            enquire_link_seconds: 0,
            response_timeout_ms: 10,
        };
        assert!(matches!(Smpp::new(config), Err(SmppConfigError::NoRuntime)));
    }
}
