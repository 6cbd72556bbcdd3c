//! Email over SMTP (lettre), to the platform's mail relay.
//!
//! Messages are MIME with a UTF-8 subject and body (lettre encodes the headers as RFC 2047 words
//! and picks quoted-printable or base64 for the body), a `Message-ID` derived from the
//! notification's message id — so a retry of the same notification carries the same id and the
//! receiving side can recognise it — and, when there are attachments (the sealed PDF), a
//! `multipart/mixed` body with the text first and the files after it, each base64 with its name
//! in `Content-Disposition` (RFC 2231 / RFC 2047 for Chinese names).
//!
//! Connections are reused (a small idle pool, each checked with NOOP before reuse) and
//! authenticated with AUTH PLAIN or LOGIN when a username is configured. TLS is rustls with the
//! ring provider, trusting the system's roots plus an optional CA file:
//! - `starttls` (default, port 587 or 25): STARTTLS is *required*; a server (or a man in the
//!   middle) that does not offer it gets nothing, never a plain-text fallback;
//! - `tls`: implicit TLS from the first byte (port 465);
//! - `none`: plain text, credentials included, for a local test server only; [`Email::new`]
//!   refuses it in production mode.
//!
//! Every network step (connect and greeting, STARTTLS, AUTH, the NOOP check) is bounded by
//! `timeout_seconds`; the transaction (envelope and data) by that plus a second per 64 KiB of
//! message. A connection only goes back to the pool after a complete, successful transaction, so
//! a send cancelled or timed out half-way never leaves a half-written message on a reused one.
//!
//! Failures: a 4xx reply, connection, TLS and protocol errors and timeouts are
//! [`SendError::Temporary`]; a 5xx reply is permanent: [`SendError::InvalidAddress`] when it is
//! about the recipient (550 or 553, unless their enhanced status code says otherwise, e.g.
//! `5.7.1` for a policy rejection), [`SendError::Permanent`] otherwise (535 wrong credentials,
//! 554 content rejected…).

use std::error::Error as _;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, Certificate, CertificateStore, TlsParameters,
};
use lettre::transport::smtp::extension::ClientId;
use serde::Deserialize;

use crate::mode::Mode;
use crate::notify::provider::{
    Address, OutgoingMessage, Provider, SendError, SendFuture, SendOutcome,
};
use crate::secret::Secret;

const DEFAULT_TIMEOUT_SECONDS: u64 = 30;
/// Idle connections kept for reuse.
const POOL_MAX_IDLE: usize = 8;
/// An idle connection older than this is closed rather than reused (servers drop idle clients
/// after a few minutes anyway).
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The NOOP check of a pooled connection.
const NOOP_TIMEOUT: Duration = Duration::from_secs(5);
/// The polite QUIT before dropping a connection after an error.
const QUIT_TIMEOUT: Duration = Duration::from_secs(2);
/// The transaction's time limit grows by a second per this many bytes of message.
const BYTES_PER_EXTRA_SECOND: usize = 64 * 1024;
const AUTH_MECHANISMS: &[Mechanism] = &[Mechanism::Plain, Mechanism::Login];

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailTls {
    /// Plain-text connect, then STARTTLS, required (no fallback).
    #[default]
    Starttls,
    /// Implicit TLS (SMTPS, port 465).
    Tls,
    /// No TLS at all: local test servers only, refused in production.
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// The relay's host name, also the name its TLS certificate must carry.
    pub host: String,
    pub port: u16,
    /// Empty: no AUTH (a relay that trusts our address).
    #[serde(default)]
    pub username: String,
    #[serde(default = "empty_secret")]
    pub password: Secret,
    /// The `From` mailbox, e.g. `指尖办 <noreply@example.gov.cn>`; its domain also names the
    /// `Message-ID`s.
    pub from: String,
    #[serde(default)]
    pub tls: EmailTls,
    /// Limit on each network step (connect, STARTTLS, AUTH); the transaction gets this plus a
    /// second per 64 KiB of message.
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// Extra CA certificate(s), PEM, trusted besides the system's roots (a relay with a private
    /// CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

fn empty_secret() -> Secret {
    Secret::new("")
}

fn default_timeout_seconds() -> u64 {
    DEFAULT_TIMEOUT_SECONDS
}

pub struct Email {
    from: Mailbox,
    /// The domain of `from`, the right-hand side of our `Message-ID`s.
    id_domain: String,
    host: String,
    port: u16,
    tls: EmailTls,
    /// For `starttls` and `tls`.
    tls_parameters: Option<TlsParameters>,
    credentials: Option<Credentials>,
    /// The EHLO name: lettre is built without `hostname`, so this is the `[127.0.0.1]` address
    /// literal, which RFC 5321 allows when the client has no obvious name.
    hello: ClientId,
    timeout: Duration,
    idle: Mutex<Vec<IdleConnection>>,
}

struct IdleConnection {
    conn: AsyncSmtpConnection,
    since: Instant,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email")
            .field("from", &self.from.to_string())
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Email {
    /// Checks the configuration (refusing `tls = "none"` in production) and prepares the TLS
    /// parameters; no connection is made until the first send.
    pub fn new(config: EmailConfig, mode: Mode) -> anyhow::Result<Self> {
        anyhow::ensure!(!config.host.trim().is_empty(), "the SMTP host is empty");
        anyhow::ensure!(config.port != 0, "the SMTP port is 0");
        anyhow::ensure!(
            config.timeout_seconds > 0,
            "the SMTP timeout must be at least one second"
        );
        anyhow::ensure!(
            !(config.tls == EmailTls::None && mode == Mode::Production),
            "SMTP without TLS (tls = \"none\") is only for local tests and refused in production"
        );
        let from: Mailbox = config
            .from
            .parse()
            .with_context(|| format!("invalid email sender {:?}", config.from))?;
        let id_domain = from.email.domain().to_owned();
        let tls_parameters = match config.tls {
            EmailTls::None => None,
            EmailTls::Starttls | EmailTls::Tls => {
                Some(tls_parameters(&config.host, config.ca_file.as_deref())?)
            }
        };
        let credentials = (!config.username.is_empty()).then(|| {
            Credentials::new(config.username.clone(), config.password.expose().to_owned())
        });
        Ok(Email {
            from,
            id_domain,
            host: config.host,
            port: config.port,
            tls: config.tls,
            tls_parameters,
            credentials,
            hello: ClientId::default(),
            timeout: Duration::from_secs(config.timeout_seconds),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// `<message-uuid@from-domain>`.
    fn message_id(&self, message: &OutgoingMessage) -> String {
        format!("<{}@{}>", message.message_id, self.id_domain)
    }

    fn build(&self, message: &OutgoingMessage, to: &str) -> Result<(Message, String), SendError> {
        let to: lettre::Address = to
            .trim()
            .parse()
            .map_err(|e| SendError::InvalidAddress(format!("{to:?}: {e}")))?;
        let message_id = self.message_id(message);
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .message_id(Some(message_id.clone()));
        if let Some(title) = &message.title {
            builder = builder.subject(title.clone());
        }
        let text = SinglePart::plain(message.body.clone());
        let built = if message.attachments.is_empty() {
            builder.singlepart(text)
        } else {
            let mut mixed = MultiPart::mixed().singlepart(text);
            for file in &message.attachments {
                let content_type = ContentType::parse(&file.content_type).map_err(|e| {
                    SendError::Permanent(format!(
                        "invalid attachment content type {:?}: {e}",
                        file.content_type
                    ))
                })?;
                mixed = mixed.singlepart(
                    Attachment::new(safe_file_name(&file.file_name))
                        .body(file.bytes.clone(), content_type),
                );
            }
            builder.multipart(mixed)
        };
        let email = built.map_err(|e| SendError::Permanent(format!("building the email: {e}")))?;
        Ok((email, message_id))
    }

    /// A pooled connection that still answers NOOP, or a new one.
    async fn connection(&self) -> Result<AsyncSmtpConnection, SendError> {
        loop {
            let parked = lock(&self.idle).pop();
            let Some(IdleConnection { mut conn, since }) = parked else {
                return self.connect().await;
            };
            if since.elapsed() > POOL_IDLE_TIMEOUT {
                quit(conn).await;
                continue;
            }
            let limit = self.timeout.min(NOOP_TIMEOUT);
            if let Ok(true) = tokio::time::timeout(limit, conn.test_connected()).await {
                return Ok(conn);
            }
            // Broken or silent: dropped, closing the socket.
        }
    }

    /// Connects, secures and authenticates a new connection.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let implicit = match self.tls {
            EmailTls::Tls => self.tls_parameters.clone(),
            EmailTls::Starttls | EmailTls::None => None,
        };
        let mut conn = step(
            self.timeout,
            "connecting",
            AsyncSmtpConnection::connect_tokio1(
                (self.host.as_str(), self.port),
                Some(self.timeout),
                &self.hello,
                implicit,
                None,
            ),
        )
        .await?;
        if self.tls == EmailTls::Starttls {
            if !conn.can_starttls() {
                quit(conn).await;
                return Err(SendError::Temporary(
                    "the SMTP server does not offer STARTTLS; nothing was sent in plain text"
                        .to_owned(),
                ));
            }
            let parameters = self
                .tls_parameters
                .clone()
                .ok_or_else(|| SendError::Permanent("no TLS parameters for STARTTLS".to_owned()))?;
            // On failure the connection is dropped without QUIT: after a failed handshake lettre
            // has no stream left to write to.
            step(
                self.timeout,
                "STARTTLS",
                conn.starttls(parameters, &self.hello),
            )
            .await?;
        }
        if self.tls != EmailTls::None && !conn.is_encrypted() {
            return Err(SendError::Temporary(
                "the SMTP connection is not encrypted".to_owned(),
            ));
        }
        if let Some(credentials) = &self.credentials {
            let authenticated = step(
                self.timeout,
                "authenticating",
                conn.auth(AUTH_MECHANISMS, credentials),
            )
            .await;
            if let Err(e) = authenticated {
                quit(conn).await;
                return Err(e);
            }
        }
        Ok(conn)
    }

    /// Parks a connection after a successful transaction.
    fn release(&self, conn: AsyncSmtpConnection) {
        if conn.has_broken() {
            return;
        }
        let mut idle = lock(&self.idle);
        if idle.len() < POOL_MAX_IDLE {
            idle.push(IdleConnection {
                conn,
                since: Instant::now(),
            });
        }
    }

    async fn deliver(&self, message: &OutgoingMessage) -> Result<SendOutcome, SendError> {
        let Address::Email(to) = &message.address else {
            return Err(SendError::Permanent(
                "the email provider got a non-email address".to_owned(),
            ));
        };
        let (email, message_id) = self.build(message, to)?;
        let envelope = email.envelope().clone();
        let data = email.formatted();
        let limit = self.timeout
            + Duration::from_secs(
                u64::try_from(data.len() / BYTES_PER_EXTRA_SECOND).unwrap_or(u64::MAX),
            );
        let mut conn = self.connection().await?;
        // On an error lettre has already sent QUIT and marked the connection broken; on a timeout
        // it is dropped here. Either way it is not reused.
        step(limit, "sending", conn.send(&envelope, &data)).await?;
        self.release(conn);
        Ok(SendOutcome {
            provider_message_id: Some(message_id),
        })
    }
}

impl Provider for Email {
    fn name(&self) -> &'static str {
        "email"
    }

    fn send<'a>(&'a self, message: &'a OutgoingMessage) -> SendFuture<'a> {
        Box::pin(self.deliver(message))
    }
}

fn lock(idle: &Mutex<Vec<IdleConnection>>) -> std::sync::MutexGuard<'_, Vec<IdleConnection>> {
    idle.lock().unwrap_or_else(|e| e.into_inner())
}

/// One SMTP step under a time limit, its error classified.
async fn step<T>(
    limit: Duration,
    what: &str,
    future: impl Future<Output = Result<T, lettre::transport::smtp::Error>>,
) -> Result<T, SendError> {
    match tokio::time::timeout(limit, future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(classify(what, &e)),
        Err(_) => Err(SendError::Temporary(format!(
            "SMTP {what}: no answer within {} s",
            limit.as_secs()
        ))),
    }
}

/// A polite, bounded QUIT before dropping a connection.
async fn quit(mut conn: AsyncSmtpConnection) {
    let _ = tokio::time::timeout(QUIT_TIMEOUT, conn.abort()).await;
}

/// TLS parameters for `host`: rustls (ring), the system's roots (loaded by lettre through
/// `rustls-native-certs`, unparsable ones skipped) plus those of `ca_file`.
fn tls_parameters(host: &str, ca_file: Option<&Path>) -> anyhow::Result<TlsParameters> {
    let mut builder =
        TlsParameters::builder(host.to_owned()).certificate_store(CertificateStore::Default);
    if let Some(path) = ca_file {
        let certs = crate::tls::read_pem_certificates(path)?;
        for cert in certs {
            let cert = Certificate::from_der(cert.as_ref().to_vec())
                .with_context(|| format!("loading a certificate of {}", path.display()))?;
            builder = builder.add_root_certificate(cert);
        }
    }
    builder
        .build_rustls()
        .context("building the SMTP TLS parameters")
}

/// The attachment's name without any path or control characters.
fn safe_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = base.chars().filter(|c| !c.is_control()).collect();
    if cleaned.trim().is_empty() {
        "attachment".to_owned()
    } else {
        cleaned
    }
}

/// Maps a lettre SMTP error onto the dispatcher's retry classes.
fn classify(what: &str, error: &lettre::transport::smtp::Error) -> SendError {
    let text = format!("SMTP {what}: {error}");
    let Some(code) = error.status() else {
        // Connection refused or reset, DNS, TLS handshake or certificate, a server without
        // STARTTLS, timeouts, an unparsable reply: the message itself is fine.
        return SendError::Temporary(text);
    };
    let code: u16 = code.to_string().parse().unwrap_or(0);
    let reply = error.source().map(|s| s.to_string()).unwrap_or_default();
    match code {
        400..=499 => SendError::Temporary(text),
        _ if is_recipient_rejection(code, &reply) => SendError::InvalidAddress(text),
        _ => SendError::Permanent(text),
    }
}

/// Whether a 5xx reply says the recipient's address is bad. The enhanced status code
/// (RFC 3463), when the server gives one, decides: `5.1.x` (except 5.1.7/5.1.8, about the sender)
/// and `5.2.1` (mailbox disabled) are about the address; anything else (`5.7.1` policy…) is not.
/// Without one, 550 (mailbox unavailable) and 553 (mailbox name not allowed) are.
fn is_recipient_rejection(code: u16, reply: &str) -> bool {
    let first = reply.split_whitespace().next().unwrap_or("");
    let mut parts = first.split('.');
    let enhanced = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(class), Some(subject), Some(detail), None)
            if [class, subject, detail]
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())) =>
        {
            Some((class, subject, detail))
        }
        _ => None,
    };
    match enhanced {
        Some(("5", "1", detail)) => !matches!(detail, "7" | "8"),
        Some(("5", "2", "1")) => true,
        Some(_) => false,
        None => matches!(code, 550 | 553),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipient_rejections() {
        assert!(is_recipient_rejection(550, "mailbox unavailable"));
        assert!(is_recipient_rejection(553, "bad address"));
        assert!(is_recipient_rejection(550, "5.1.1 <x@y>: user unknown"));
        assert!(is_recipient_rejection(550, "5.2.1 mailbox disabled"));
        assert!(!is_recipient_rejection(550, "5.7.1 rejected by policy"));
        assert!(!is_recipient_rejection(553, "5.1.8 sender domain unknown"));
        assert!(!is_recipient_rejection(554, "transaction failed"));
        assert!(!is_recipient_rejection(535, "5.7.8 authentication failed"));
    }

    #[test]
    fn file_names_lose_paths() {
        assert_eq!(safe_file_name("../../etc/许可证.pdf"), "许可证.pdf");
        assert_eq!(safe_file_name("a\\b\r\n.pdf"), "b.pdf");
        assert_eq!(safe_file_name("/"), "attachment");
    }

    fn config() -> EmailConfig {
        EmailConfig {
            host: "127.0.0.1".to_owned(),
            port: 2525,
            username: String::new(),
            password: Secret::new(""),
            from: "指尖办 <noreply@example.gov.cn>".to_owned(),
            tls: EmailTls::None,
            timeout_seconds: 5,
            ca_file: None,
        }
    }

    #[test]
    fn none_is_refused_in_production() {
        let config = config();
        assert!(Email::new(config.clone(), Mode::Production).is_err());
        assert!(Email::new(config, Mode::Development).is_ok());
    }
}
