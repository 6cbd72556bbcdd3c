//! A fake SMTP server speaking the real protocol on `127.0.0.1:0` (tokio, no SMTP crate):
//! greeting, EHLO capabilities, optional STARTTLS or implicit TLS (rustls with ring and a test CA
//! embedded below), AUTH PLAIN and LOGIN checked against the configured credentials, MAIL, RCPT,
//! DATA with dot-unstuffing, RSET, NOOP and QUIT. Failures are scriptable (`fail_next`, rejected
//! recipients) and accepted messages are recorded; [`ReceivedMail::parse`] decodes the MIME
//! (RFC 2047 headers, RFC 2231 parameters, base64 and quoted-printable bodies, multiparts).
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The test CA (P-256, valid 2020–2120) that signed [`SERVER_CERT_PEM`]; give it to the client
/// as `ca_file` (see [`FakeSmtp::write_ca_file`]).
pub const CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBdTCCARugAwIBAgIBATAKBggqhkjOPQQDAjAhMR8wHQYDVQQDDBZmaW5nZXJ0
aXAgdGVzdCBTTVRQIENBMCAXDTIwMDEwMTAwMDAwMFoYDzIxMjAwMTAxMDAwMDAw
WjAhMR8wHQYDVQQDDBZmaW5nZXJ0aXAgdGVzdCBTTVRQIENBMFkwEwYHKoZIzj0C
AQYIKoZIzj0DAQcDQgAEp2su5z4Hxtxb/whu0Vo5KoDouk+HPKZPhpe4shpJlEbH
OVGmFyeZ36ihOZD1GGg+XHEYylaKAk09DqC9LtgnZqNCMEAwDwYDVR0TAQH/BAUw
AwEB/zAOBgNVHQ8BAf8EBAMCAQYwHQYDVR0OBBYEFFzZg3jnZ9txBVwiVXug+k6X
J3a+MAoGCCqGSM49BAMCA0gAMEUCIGHrY4ifP3+/8FOHviT++bAMvpnhUhCcs0cy
aupAyTmDAiEAohFqm48fHOwLQoUBTsqrXOeHwKsf9MrMvScLURAK6gw=
-----END CERTIFICATE-----
";

/// The server's certificate: `CN=localhost`, SAN `DNS:localhost, IP:127.0.0.1`.
pub const SERVER_CERT_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBuTCCAV+gAwIBAgIBAjAKBggqhkjOPQQDAjAhMR8wHQYDVQQDDBZmaW5nZXJ0
aXAgdGVzdCBTTVRQIENBMCAXDTIwMDEwMTAwMDAwMFoYDzIxMjAwMTAxMDAwMDAw
WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC
AATruMiS4l664L4a7fMZgyhSn3EJR60CyS6jGI7c+4EWRSUOwMaZxURd/mbCQEIy
WaN1uKB1Yz7gzPVKYLYM90x6o4GSMIGPMAwGA1UdEwEB/wQCMAAwDgYDVR0PAQH/
BAQDAgeAMBMGA1UdJQQMMAoGCCsGAQUFBwMBMBoGA1UdEQQTMBGCCWxvY2FsaG9z
dIcEfwAAATAfBgNVHSMEGDAWgBRc2YN452fbcQVcIlV7oPpOlyd2vjAdBgNVHQ4E
FgQU5VxzKnr42q0P1OJOacD25NJ4ohswCgYIKoZIzj0EAwIDSAAwRQIgZH9Uzbt9
RFvGe1ZeDGS+7rDPmlBP0UcY9ArsIe1VxLcCIQC5VaRVM4J572Reyn886aGjEu1v
wi0QEeHtnX1OpH6xxQ==
-----END CERTIFICATE-----
";

const SERVER_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgepF++gtwMC+/IhAF
1w8jnVZJSPX08HijRYq18J9HZpahRANCAATruMiS4l664L4a7fMZgyhSn3EJR60C
yS6jGI7c+4EWRSUOwMaZxURd/mbCQEIyWaN1uKB1Yz7gzPVKYLYM90x6
-----END PRIVATE KEY-----
";

const MAX_LINE: usize = 1024 * 1024;

/// How the fake secures connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeTls {
    /// Plain text only; STARTTLS is not advertised (and refused).
    None,
    /// STARTTLS advertised; AUTH is only offered and accepted once the connection is encrypted.
    StartTls,
    /// TLS from the first byte (SMTPS).
    Implicit,
}

#[derive(Debug, Clone)]
pub struct SmtpOptions {
    /// Credentials AUTH must match; `None` accepts mail without AUTH.
    pub credentials: Option<(String, String)>,
    pub tls: FakeTls,
    /// Mechanisms advertised and accepted, among `PLAIN` and `LOGIN`.
    pub auth_mechanisms: Vec<&'static str>,
}

impl Default for SmtpOptions {
    fn default() -> Self {
        SmtpOptions {
            credentials: Some((USERNAME.to_owned(), PASSWORD.to_owned())),
            tls: FakeTls::None,
            auth_mechanisms: vec!["PLAIN", "LOGIN"],
        }
    }
}

pub const USERNAME: &str = "notify@example.gov.cn";
pub const PASSWORD: &str = "correct horse battery 钉";

/// Where a scripted failure answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The `MAIL FROM` reply.
    Mail,
    /// The `RCPT TO` reply.
    Rcpt,
    /// The reply after the data's final dot.
    Data,
}

/// A message the fake accepted.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    /// The data as sent, dot-unstuffed, lines ending in CRLF.
    pub data: Vec<u8>,
    /// Whether the session was encrypted (STARTTLS or implicit TLS).
    pub tls: bool,
    /// The user that authenticated, if any.
    pub auth_user: Option<String>,
}

#[derive(Default)]
struct State {
    failures: VecDeque<(Stage, u16, String)>,
    rejected: HashMap<String, u16>,
    received: Vec<ReceivedMail>,
    /// Every command line, AUTH arguments and data excluded.
    commands: Vec<String>,
    connections: usize,
}

pub struct FakeSmtp {
    pub host: String,
    pub port: u16,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeSmtp {
    fn drop(&mut self) {
        // Dropping the accept loop drops its JoinSet, which aborts the sessions.
        self.task.abort();
    }
}

impl FakeSmtp {
    /// Listens on `127.0.0.1:0` with the default credentials, without TLS.
    pub async fn start() -> FakeSmtp {
        Self::start_with(SmtpOptions::default()).await
    }

    pub async fn start_with(options: SmtpOptions) -> FakeSmtp {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("local address").port();
        let state = Arc::new(Mutex::new(State::default()));
        let tls = Arc::new(server_config());
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            let mut sessions = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                lock(&shared).connections += 1;
                let session = Session {
                    conn: Conn::Plain(stream),
                    pending: Vec::new(),
                    options: options.clone(),
                    tls_config: Arc::clone(&tls),
                    state: Arc::clone(&shared),
                    greeted: false,
                    user: None,
                    mail_from: None,
                    rcpts: Vec::new(),
                };
                sessions.spawn(async move {
                    let _ = session.run().await;
                });
                while sessions.try_join_next().is_some() {}
            }
        });
        FakeSmtp {
            host: "127.0.0.1".to_owned(),
            port,
            state,
            task,
        }
    }

    /// The next `n` transactions get `code` in reply to `MAIL FROM`.
    pub fn fail_next(&self, n: usize, code: u16) {
        self.fail_next_at(Stage::Mail, n, code, &default_text(code));
    }

    /// The next `n` commands at `stage` get `code` and `text` (e.g. `5.7.1 Spam`).
    pub fn fail_next_at(&self, stage: Stage, n: usize, code: u16, text: &str) {
        let mut state = lock(&self.state);
        for _ in 0..n {
            state.failures.push_back((stage, code, text.to_owned()));
        }
    }

    /// `RCPT TO` with this address (case-insensitive) is answered with `code` (550, 553…).
    pub fn reject_recipient(&self, address: &str, code: u16) {
        lock(&self.state)
            .rejected
            .insert(address.to_ascii_lowercase(), code);
    }

    pub fn received(&self) -> Vec<ReceivedMail> {
        lock(&self.state).received.clone()
    }

    /// Every command received, in order (AUTH with its mechanism only, data excluded).
    pub fn commands(&self) -> Vec<String> {
        lock(&self.state).commands.clone()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        lock(&self.state).connections
    }

    /// Writes [`CA_PEM`] into `dir` and returns its path.
    pub fn write_ca_file(dir: &Path) -> PathBuf {
        let path = dir.join("smtp-test-ca.pem");
        std::fs::write(&path, CA_PEM).expect("write the CA file");
        path
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn default_text(code: u16) -> String {
    match code {
        421 => "4.3.2 Service not available, closing transmission channel".to_owned(),
        450 => "4.2.1 Mailbox temporarily unavailable".to_owned(),
        451 => "4.3.0 Requested action aborted: local error in processing".to_owned(),
        452 => "4.3.1 Insufficient system storage".to_owned(),
        550 => "5.1.1 Requested action not taken: mailbox unavailable".to_owned(),
        553 => "5.1.3 Requested action not taken: mailbox name not allowed".to_owned(),
        554 => "5.7.1 Transaction failed".to_owned(),
        c if c >= 500 => "5.0.0 Permanent failure".to_owned(),
        _ => "4.0.0 Temporary failure".to_owned(),
    }
}

fn server_config() -> rustls::ServerConfig {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(SERVER_CERT_PEM.as_bytes())
            .collect::<Result<_, _>>()
            .expect("server certificate");
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY_PEM.as_bytes()).expect("server key");
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server TLS config")
}

/// The connection, plain or TLS; rustls is driven by hand over the tokio socket.
enum Conn {
    Plain(TcpStream),
    Tls(TcpStream, Box<rustls::ServerConnection>),
    Closed,
}

impl Conn {
    fn is_tls(&self) -> bool {
        matches!(self, Conn::Tls(..))
    }

    /// Appends what arrives next to `buf`; 0 at the end of the stream.
    async fn read_more(&mut self, buf: &mut Vec<u8>) -> std::io::Result<usize> {
        let mut raw = [0u8; 16 * 1024];
        match self {
            Conn::Closed => Ok(0),
            Conn::Plain(tcp) => {
                let n = tcp.read(&mut raw).await?;
                buf.extend_from_slice(&raw[..n]);
                Ok(n)
            }
            Conn::Tls(tcp, tls) => loop {
                match tls.reader().read(&mut raw) {
                    Ok(n) => {
                        buf.extend_from_slice(&raw[..n]);
                        return Ok(n);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
                flush_tls(tcp, tls).await?;
                let n = tcp.read(&mut raw).await?;
                if n == 0 {
                    return Ok(0);
                }
                let mut incoming = &raw[..n];
                while !incoming.is_empty() {
                    tls.read_tls(&mut incoming)?;
                    if let Err(e) = tls.process_new_packets() {
                        // Send the alert before giving up.
                        let _ = flush_tls(tcp, tls).await;
                        return Err(std::io::Error::other(e));
                    }
                }
                flush_tls(tcp, tls).await?;
            },
        }
    }

    async fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Closed => Err(std::io::ErrorKind::NotConnected.into()),
            Conn::Plain(tcp) => tcp.write_all(data).await,
            Conn::Tls(tcp, tls) => {
                tls.writer().write_all(data)?;
                flush_tls(tcp, tls).await
            }
        }
    }

    async fn shutdown(&mut self) {
        match self {
            Conn::Closed => {}
            Conn::Plain(tcp) => {
                let _ = tcp.shutdown().await;
            }
            Conn::Tls(tcp, tls) => {
                tls.send_close_notify();
                let _ = flush_tls(tcp, tls).await;
                let _ = tcp.shutdown().await;
            }
        }
    }
}

async fn flush_tls(tcp: &mut TcpStream, tls: &mut rustls::ServerConnection) -> std::io::Result<()> {
    while tls.wants_write() {
        let mut out = Vec::new();
        tls.write_tls(&mut out)?;
        tcp.write_all(&out).await?;
    }
    Ok(())
}

struct Session {
    conn: Conn,
    /// Bytes received and not yet consumed.
    pending: Vec<u8>,
    options: SmtpOptions,
    tls_config: Arc<rustls::ServerConfig>,
    state: Arc<Mutex<State>>,
    greeted: bool,
    user: Option<String>,
    mail_from: Option<String>,
    rcpts: Vec<String>,
}

enum Next {
    Continue,
    Close,
}

impl Session {
    async fn run(mut self) -> std::io::Result<()> {
        if self.options.tls == FakeTls::Implicit {
            self.start_tls();
        }
        self.reply("220 fake.smtp.test ESMTP ready").await?;
        while let Some(line) = self.read_line().await? {
            let line = String::from_utf8_lossy(&line).into_owned();
            match self.command(&line).await? {
                Next::Continue => {}
                Next::Close => break,
            }
        }
        self.conn.shutdown().await;
        Ok(())
    }

    fn start_tls(&mut self) {
        let conn = std::mem::replace(&mut self.conn, Conn::Closed);
        if let Conn::Plain(tcp) = conn {
            let tls =
                rustls::ServerConnection::new(Arc::clone(&self.tls_config)).expect("TLS session");
            self.conn = Conn::Tls(tcp, Box::new(tls));
        }
    }

    /// One line without its CRLF (a bare LF is accepted too); `None` at the end of the stream.
    async fn read_line(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.pending.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Some(line));
            }
            if self.pending.len() > MAX_LINE {
                return Err(std::io::Error::other("line too long"));
            }
            if self.conn.read_more(&mut self.pending).await? == 0 {
                return Ok(None);
            }
        }
    }

    async fn reply(&mut self, line: &str) -> std::io::Result<()> {
        self.conn.write_all(format!("{line}\r\n").as_bytes()).await
    }

    fn log(&self, command: &str) {
        lock(&self.state).commands.push(command.to_owned());
    }

    fn take_failure(&self, stage: Stage) -> Option<(u16, String)> {
        let mut state = lock(&self.state);
        let index = state.failures.iter().position(|(s, _, _)| *s == stage)?;
        state
            .failures
            .remove(index)
            .map(|(_, code, text)| (code, text))
    }

    fn auth_offered(&self) -> bool {
        self.options.credentials.is_some()
            && (self.options.tls != FakeTls::StartTls || self.conn.is_tls())
    }

    fn reset_transaction(&mut self) {
        self.mail_from = None;
        self.rcpts.clear();
    }

    async fn command(&mut self, line: &str) -> std::io::Result<Next> {
        let (verb, rest) = match line.split_once(' ') {
            Some((verb, rest)) => (verb.to_ascii_uppercase(), rest.trim()),
            None => (line.trim().to_ascii_uppercase(), ""),
        };
        if verb == "AUTH" {
            // The mechanism only, never the credentials.
            let mechanism = rest.split_whitespace().next().unwrap_or("");
            self.log(&format!("AUTH {}", mechanism.to_ascii_uppercase()));
        } else {
            self.log(line);
        }
        match verb.as_str() {
            "EHLO" => {
                self.greeted = true;
                self.reset_transaction();
                let mut lines = vec![format!("fake.smtp.test greets {rest}")];
                lines.push("PIPELINING".to_owned());
                lines.push("SIZE 52428800".to_owned());
                lines.push("8BITMIME".to_owned());
                lines.push("ENHANCEDSTATUSCODES".to_owned());
                if self.options.tls == FakeTls::StartTls && !self.conn.is_tls() {
                    lines.push("STARTTLS".to_owned());
                }
                if self.auth_offered() {
                    lines.push(format!("AUTH {}", self.options.auth_mechanisms.join(" ")));
                }
                let last = lines.len() - 1;
                for (i, text) in lines.iter().enumerate() {
                    let sep = if i == last { ' ' } else { '-' };
                    self.reply(&format!("250{sep}{text}")).await?;
                }
            }
            "HELO" => {
                self.greeted = true;
                self.reset_transaction();
                self.reply("250 fake.smtp.test").await?;
            }
            "STARTTLS" => {
                if self.options.tls != FakeTls::StartTls {
                    self.reply("502 5.5.1 STARTTLS not available").await?;
                } else if self.conn.is_tls() {
                    self.reply("503 5.5.1 Already in TLS").await?;
                } else {
                    self.reply("220 2.0.0 Ready to start TLS").await?;
                    if !self.pending.is_empty() {
                        // Plain text pipelined after STARTTLS: an injection attempt.
                        return Ok(Next::Close);
                    }
                    self.start_tls();
                    // RFC 3207: forget everything learnt before TLS.
                    self.greeted = false;
                    self.user = None;
                    self.reset_transaction();
                }
            }
            "AUTH" => self.auth(rest).await?,
            "MAIL" => {
                let Some(address) = path_argument(rest, "FROM:") else {
                    self.reply("501 5.5.4 Syntax: MAIL FROM:<address>").await?;
                    return Ok(Next::Continue);
                };
                if !self.greeted {
                    self.reply("503 5.5.1 Send EHLO first").await?;
                } else if self.options.tls == FakeTls::StartTls && !self.conn.is_tls() {
                    self.reply("530 5.7.0 Must issue a STARTTLS command first")
                        .await?;
                } else if self.options.credentials.is_some() && self.user.is_none() {
                    self.reply("530 5.7.0 Authentication required").await?;
                } else if self.mail_from.is_some() {
                    self.reply("503 5.5.1 Nested MAIL command").await?;
                } else if let Some((code, text)) = self.take_failure(Stage::Mail) {
                    self.reply(&format!("{code} {text}")).await?;
                    if code == 421 {
                        return Ok(Next::Close);
                    }
                } else {
                    self.mail_from = Some(address);
                    self.reply("250 2.1.0 Ok").await?;
                }
            }
            "RCPT" => {
                let Some(address) = path_argument(rest, "TO:") else {
                    self.reply("501 5.5.4 Syntax: RCPT TO:<address>").await?;
                    return Ok(Next::Continue);
                };
                let rejected = lock(&self.state)
                    .rejected
                    .get(&address.to_ascii_lowercase())
                    .copied();
                if self.mail_from.is_none() {
                    self.reply("503 5.5.1 Need MAIL command").await?;
                } else if let Some(code) = rejected {
                    let text = default_text(code);
                    self.reply(&format!("{code} {text} <{address}>")).await?;
                } else if let Some((code, text)) = self.take_failure(Stage::Rcpt) {
                    self.reply(&format!("{code} {text}")).await?;
                } else {
                    self.rcpts.push(address);
                    self.reply("250 2.1.5 Ok").await?;
                }
            }
            "DATA" => {
                let Some(from) = self.mail_from.clone() else {
                    self.reply("503 5.5.1 Need MAIL command").await?;
                    return Ok(Next::Continue);
                };
                if self.rcpts.is_empty() {
                    self.reply("554 5.5.1 No valid recipients").await?;
                    return Ok(Next::Continue);
                }
                self.reply("354 End data with <CR><LF>.<CR><LF>").await?;
                let mut data = Vec::new();
                loop {
                    let Some(line) = self.read_line().await? else {
                        return Ok(Next::Close);
                    };
                    if line == b"." {
                        break;
                    }
                    let line = line.strip_prefix(b".").unwrap_or(&line);
                    data.extend_from_slice(line);
                    data.extend_from_slice(b"\r\n");
                }
                if let Some((code, text)) = self.take_failure(Stage::Data) {
                    self.reply(&format!("{code} {text}")).await?;
                } else {
                    let mail = ReceivedMail {
                        from,
                        to: self.rcpts.clone(),
                        data,
                        tls: self.conn.is_tls(),
                        auth_user: self.user.clone(),
                    };
                    let id = {
                        let mut state = lock(&self.state);
                        state.received.push(mail);
                        state.received.len()
                    };
                    self.reply(&format!("250 2.0.0 Ok: queued as FAKE{id:06}"))
                        .await?;
                }
                self.reset_transaction();
            }
            "RSET" => {
                self.reset_transaction();
                self.reply("250 2.0.0 Ok").await?;
            }
            "NOOP" => self.reply("250 2.0.0 Ok").await?,
            "QUIT" => {
                self.reply("221 2.0.0 Bye").await?;
                return Ok(Next::Close);
            }
            _ => self.reply("502 5.5.2 Command not recognized").await?,
        }
        Ok(Next::Continue)
    }

    async fn auth(&mut self, rest: &str) -> std::io::Result<()> {
        if !self.auth_offered() {
            let reply = if self.options.tls == FakeTls::StartTls && !self.conn.is_tls() {
                "530 5.7.0 Must issue a STARTTLS command first"
            } else {
                "503 5.5.1 AUTH not available"
            };
            return self.reply(reply).await;
        }
        if self.user.is_some() {
            return self.reply("503 5.5.1 Already authenticated").await;
        }
        let mut words = rest.split_whitespace();
        let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
        let initial = words.next().map(str::to_owned);
        if !self
            .options
            .auth_mechanisms
            .iter()
            .any(|m| m.eq_ignore_ascii_case(&mechanism))
        {
            return self
                .reply("504 5.5.4 Unrecognized authentication type")
                .await;
        }
        let (user, password) = match mechanism.as_str() {
            "PLAIN" => {
                let Some(response) = self.auth_response(initial, "").await? else {
                    return Ok(());
                };
                // authzid NUL authcid NUL password
                let mut fields = response.split(|&b| b == 0);
                match (fields.next(), fields.next(), fields.next(), fields.next()) {
                    (Some(_), Some(user), Some(password), None) => {
                        (user.to_vec(), password.to_vec())
                    }
                    _ => return self.reply("501 5.5.2 Malformed AUTH PLAIN").await,
                }
            }
            "LOGIN" => {
                let Some(user) = self.auth_response(initial, "VXNlcm5hbWU6").await? else {
                    return Ok(());
                };
                let Some(password) = self.auth_response(None, "UGFzc3dvcmQ6").await? else {
                    return Ok(());
                };
                (user, password)
            }
            _ => {
                return self
                    .reply("504 5.5.4 Unrecognized authentication type")
                    .await;
            }
        };
        let ok = self.options.credentials.as_ref().is_some_and(|(u, p)| {
            u.as_bytes() == user.as_slice() && p.as_bytes() == password.as_slice()
        });
        if ok {
            self.user = Some(String::from_utf8_lossy(&user).into_owned());
            self.reply("235 2.7.0 Authentication successful").await
        } else {
            self.reply("535 5.7.8 Authentication credentials invalid")
                .await
        }
    }

    /// The decoded client response: the initial one when given, otherwise asked with `334`.
    /// `None` when the exchange ended (cancelled or malformed, already answered).
    async fn auth_response(
        &mut self,
        initial: Option<String>,
        challenge: &str,
    ) -> std::io::Result<Option<Vec<u8>>> {
        let encoded = match initial {
            Some(initial) if initial == "=" => String::new(),
            Some(initial) => initial,
            None => {
                self.reply(&format!("334 {challenge}")).await?;
                let Some(line) = self.read_line().await? else {
                    return Ok(None);
                };
                String::from_utf8_lossy(&line).trim().to_owned()
            }
        };
        if encoded == "*" {
            self.reply("501 5.7.0 Authentication cancelled").await?;
            return Ok(None);
        }
        match STANDARD.decode(encoded.as_bytes()) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(_) => {
                self.reply("501 5.5.2 Invalid base64").await?;
                Ok(None)
            }
        }
    }
}

/// `FROM:<a@b> SIZE=…` → `a@b` (the null path `<>` gives an empty string).
fn path_argument(rest: &str, keyword: &str) -> Option<String> {
    let head = rest.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let path = rest[keyword.len()..].trim_start();
    let path = path.strip_prefix('<')?;
    let end = path.find('>')?;
    Some(path[..end].to_owned())
}

// ----- MIME decoding -----

/// A decoded MIME entity.
#[derive(Debug, Clone)]
pub struct MimePart {
    /// Header names lower-cased, values unfolded and RFC 2047-decoded.
    pub headers: Vec<(String, String)>,
    /// `type/subtype`, lower-cased (`text/plain` when absent).
    pub content_type: String,
    /// Content-Type and Content-Disposition parameters, names lower-cased, RFC 2231-decoded.
    pub params: HashMap<String, String>,
    /// The body after transfer decoding (empty for a multipart).
    pub body: Vec<u8>,
    /// Sub-parts of a multipart.
    pub parts: Vec<MimePart>,
}

impl MimePart {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `filename` of the Content-Disposition (or the `name` of the Content-Type).
    pub fn file_name(&self) -> Option<&str> {
        self.params
            .get("filename")
            .or_else(|| self.params.get("name"))
            .map(String::as_str)
    }

    /// This part and all its descendants, depth first.
    pub fn walk(&self) -> Vec<&MimePart> {
        let mut out = vec![self];
        for part in &self.parts {
            out.extend(part.walk());
        }
        out
    }
}

/// The message as the recipient would see it.
#[derive(Debug, Clone)]
pub struct ParsedMail {
    pub root: MimePart,
    pub subject: Option<String>,
    /// The first `text/plain` part, UTF-8, line ends as LF, without trailing line ends.
    pub text: String,
    /// Parts with a `Content-Disposition: attachment`.
    pub attachments: Vec<MimePart>,
}

impl ReceivedMail {
    pub fn parse(&self) -> ParsedMail {
        let root = parse_entity(&self.data);
        let subject = root.header("subject").map(str::to_owned);
        let text = root
            .walk()
            .into_iter()
            .find(|p| p.parts.is_empty() && p.content_type == "text/plain")
            .map(|p| {
                let text = String::from_utf8_lossy(&p.body).replace("\r\n", "\n");
                text.trim_end_matches('\n').to_owned()
            })
            .unwrap_or_default();
        let attachments = root
            .walk()
            .into_iter()
            .filter(|p| {
                p.header("content-disposition").is_some_and(|d| {
                    d.trim_start()
                        .to_ascii_lowercase()
                        .starts_with("attachment")
                })
            })
            .cloned()
            .collect();
        ParsedMail {
            root,
            subject,
            text,
            attachments,
        }
    }

    /// The decoded Subject.
    pub fn subject(&self) -> Option<String> {
        self.parse().subject
    }

    /// The decoded text body.
    pub fn text(&self) -> String {
        self.parse().text
    }
}

fn parse_entity(data: &[u8]) -> MimePart {
    let (head, body) = match find(data, b"\r\n\r\n") {
        Some(i) => (&data[..i], &data[i + 4..]),
        None => (data, &[][..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut raw_headers: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = raw_headers.last_mut() {
                value.push_str(line);
            }
        } else if let Some((name, value)) = line.split_once(':') {
            raw_headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let raw = |name: &str| {
        raw_headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let (content_type, mut params) = match raw("content-type") {
        Some(value) => split_params(&value),
        None => ("text/plain".to_owned(), HashMap::new()),
    };
    if let Some(value) = raw("content-disposition") {
        params.extend(split_params(&value).1);
    }
    let headers = raw_headers
        .iter()
        .map(|(n, v)| (n.clone(), decode_words(v)))
        .collect();
    let mut part = MimePart {
        headers,
        content_type: content_type.clone(),
        params,
        body: Vec::new(),
        parts: Vec::new(),
    };
    if content_type.starts_with("multipart/") {
        if let Some(boundary) = part.params.get("boundary").cloned() {
            part.parts = split_multipart(body, &boundary)
                .into_iter()
                .map(parse_entity)
                .collect();
        }
    } else {
        let encoding = raw("content-transfer-encoding")
            .unwrap_or_default()
            .to_ascii_lowercase();
        part.body = match encoding.trim() {
            "base64" => {
                let compact: Vec<u8> = body
                    .iter()
                    .copied()
                    .filter(|b| !b.is_ascii_whitespace())
                    .collect();
                STANDARD.decode(compact).expect("valid base64 body")
            }
            "quoted-printable" => decode_quoted_printable(body),
            _ => body.to_vec(),
        };
    }
    part
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The bodies between `--boundary` delimiter lines (RFC 2046 §5.1.1).
fn split_multipart<'a>(body: &'a [u8], boundary: &str) -> Vec<&'a [u8]> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut offset = 0;
    while offset <= body.len() {
        let end = find(&body[offset..], b"\r\n").map_or(body.len(), |i| offset + i);
        let line = &body[offset..end];
        if line.starts_with(delimiter.as_bytes()) {
            let tail = &line[delimiter.len()..];
            if let Some(s) = start {
                // The CRLF before the delimiter belongs to it.
                parts.push(&body[s..offset.saturating_sub(2).max(s)]);
            }
            if tail.starts_with(b"--") {
                break;
            }
            start = Some((end + 2).min(body.len()));
        }
        offset = end + 2;
    }
    parts
}

/// `type/subtype; a=1; b="two"` → (`type/subtype`, params), RFC 2231 continuations and
/// charsets (`name*0*=utf-8''%E4…; name*1*=…`) joined and decoded.
fn split_params(value: &str) -> (String, HashMap<String, String>) {
    let mut pieces = split_unquoted(value, ';').into_iter();
    let kind = pieces
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    // name → [(section, extended, value)]
    let mut sections: HashMap<String, Vec<(usize, bool, String)>> = HashMap::new();
    for piece in pieces {
        let Some((name, raw)) = piece.split_once('=') else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        let raw = raw.trim();
        let value = match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            Some(quoted) => quoted.replace("\\\"", "\"").replace("\\\\", "\\"),
            None => raw.to_owned(),
        };
        let (name, extended) = match name.strip_suffix('*') {
            Some(base) => (base.to_owned(), true),
            None => (name, false),
        };
        let (base, section) = match name.rsplit_once('*') {
            Some((base, n)) if n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() => {
                (base.to_owned(), n.parse().unwrap_or(0))
            }
            _ => (name, 0),
        };
        sections
            .entry(base)
            .or_default()
            .push((section, extended, value));
    }
    let mut params = HashMap::new();
    for (name, mut parts) in sections {
        parts.sort_by_key(|(section, _, _)| *section);
        let mut bytes = Vec::new();
        for (i, (_, extended, value)) in parts.iter().enumerate() {
            if *extended {
                let encoded = if i == 0 {
                    // charset'language'value
                    value.splitn(3, '\'').nth(2).unwrap_or(value)
                } else {
                    value
                };
                bytes.extend(percent_decode(encoded));
            } else {
                bytes.extend_from_slice(value.as_bytes());
            }
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        params.insert(name, decode_words(&text));
    }
    (kind, params)
}

fn split_unquoted(value: &str, separator: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' && quoted {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == separator && !quoted {
            out.push(std::mem::take(&mut current));
            continue;
        }
        current.push(c);
    }
    out.push(current);
    out
}

fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn decode_quoted_printable(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'=' if body.get(i + 1..i + 3) == Some(b"\r\n") => i += 3,
            b'=' if body.get(i + 1) == Some(&b'\n') => i += 2,
            b'=' => {
                let hex = body
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'=');
                        i += 1;
                    }
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Decodes RFC 2047 encoded words (`=?utf-8?B?…?=`, `=?utf-8?Q?…?=`); whitespace between two
/// adjacent encoded words is dropped. Every charset is taken as UTF-8.
pub fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut last_was_word = false;
    while !rest.is_empty() {
        let Some(start) = rest.find("=?") else {
            out.push_str(rest);
            break;
        };
        let (before, candidate) = rest.split_at(start);
        match decode_word(candidate) {
            Some((decoded, used)) => {
                if !(last_was_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                out.push_str(&decoded);
                rest = &candidate[used..];
                last_was_word = true;
            }
            None => {
                out.push_str(before);
                out.push_str("=?");
                rest = &candidate[2..];
                last_was_word = false;
            }
        }
    }
    out
}

/// One encoded word at the start of `text`: (decoded, bytes used).
fn decode_word(text: &str) -> Option<(String, usize)> {
    let inner = text.strip_prefix("=?")?;
    let mut fields = inner.splitn(3, '?');
    let _charset = fields.next()?;
    let encoding = fields.next()?;
    let remainder = fields.next()?;
    let end = remainder.find("?=")?;
    let payload = &remainder[..end];
    if payload.contains(char::is_whitespace) {
        return None;
    }
    let bytes = match encoding {
        "B" | "b" => STANDARD.decode(payload).ok()?,
        "Q" | "q" => decode_quoted_printable(payload.replace('_', " ").as_bytes()),
        _ => return None,
    };
    let used = text.len() - remainder.len() + end + 2;
    Some((String::from_utf8_lossy(&bytes).into_owned(), used))
}
