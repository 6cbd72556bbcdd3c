//! The SMPP session: one TCP connection bound as a transceiver, kept alive and re-established.
//!
//! A manager task owns the connection: it connects, binds, then runs three tasks — a reader
//! (decodes PDUs, resolves pending requests by sequence number, answers the SMSC's
//! enquire_link / deliver_sm / unbind), a writer (the only one writing to the socket, fed by a
//! channel) and a keep-alive (enquire_link every `enquire_link_seconds`). When any of them ends
//! the connection is torn down, pending requests fail, and the manager reconnects with
//! exponential backoff. Requests wait for the link to be up until their deadline.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, timeout_at};

use super::pdu::{self, Bind, Body, HEADER_LEN, Header, Pdu, status};
use super::text::parse_receipt;
use super::{SmppConfig, SmppReceipt};

const INITIAL_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
const OUTBOUND_QUEUE: usize = 256;
const RECEIPT_BUFFER: usize = 1024;

/// State of the link as seen by senders.
#[derive(Clone)]
enum Link {
    /// Connecting, binding, or waiting to reconnect; the reason of the last failure.
    Down(String),
    /// Bound: PDUs go through this channel to the writer task.
    Up(mpsc::Sender<Vec<u8>>),
    /// The last bind was refused with this status (the manager keeps retrying).
    Rejected(u32),
    /// The session was shut down.
    Closed,
}

/// Why a request got no response.
#[derive(Debug)]
pub(super) enum RequestError {
    /// The link was not up before the deadline.
    Unavailable(String),
    /// The SMSC refused our bind with this status.
    BindRejected(u32),
    /// Sent, but no response before the deadline.
    Timeout,
    /// The connection dropped while waiting.
    ConnectionLost,
    Encode(pdu::PduError),
    Closed,
}

struct Shared {
    config: SmppConfig,
    next_sequence: AtomicU32,
    pending: Mutex<HashMap<u32, oneshot::Sender<Pdu>>>,
    link: watch::Sender<Link>,
    receipts: broadcast::Sender<SmppReceipt>,
}

impl Shared {
    fn pending(&self) -> MutexGuard<'_, HashMap<u32, oneshot::Sender<Pdu>>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sequence numbers run 1..=0x7FFFFFFF (SMPP 3.4 §5.1.4), then wrap.
    fn sequence(&self) -> u32 {
        loop {
            let n = self.next_sequence.fetch_add(1, Ordering::Relaxed) & 0x7FFF_FFFF;
            if n != 0 {
                return n;
            }
        }
    }

    fn response_timeout(&self) -> Duration {
        Duration::from_millis(self.config.response_timeout_ms.max(1))
    }

    /// Sends `body` through `tx` and waits for the response with the same sequence number.
    async fn exchange(
        &self,
        tx: &mpsc::Sender<Vec<u8>>,
        body: Body,
        deadline: Instant,
    ) -> Result<Pdu, RequestError> {
        let sequence = self.sequence();
        let bytes = Pdu::new(sequence, body)
            .encode()
            .map_err(RequestError::Encode)?;
        let (resp_tx, resp_rx) = oneshot::channel();
        self.pending().insert(sequence, resp_tx);
        let result = match timeout_at(deadline, tx.send(bytes)).await {
            // A dead writer means the connection is gone: fail now rather than at the deadline.
            Ok(Ok(())) => tokio::select! {
                biased;
                r = timeout_at(deadline, resp_rx) => match r {
                    Ok(Ok(resp)) => Ok(resp),
                    Ok(Err(_)) => Err(RequestError::ConnectionLost),
                    Err(_) => Err(RequestError::Timeout),
                },
                _ = tx.closed() => Err(RequestError::ConnectionLost),
            },
            Ok(Err(_)) => Err(RequestError::ConnectionLost),
            Err(_) => Err(RequestError::Timeout),
        };
        if result.is_err() {
            self.pending().remove(&sequence);
        }
        result
    }

    /// Drops every pending request: their waiters see `ConnectionLost`.
    fn fail_pending(&self) {
        self.pending().clear();
    }

    fn set_link(&self, link: Link) {
        self.link.send_replace(link);
    }
}

/// Aborts the task when dropped, so a torn-down connection leaves no task behind.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Handle on the background session; dropping it stops the session.
pub(super) struct Session {
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    _manager: AbortOnDrop<()>,
}

impl Session {
    /// Starts the manager task; must be called within a tokio runtime.
    pub(super) fn start(config: SmppConfig) -> Session {
        let (link, _) = watch::channel(Link::Down("connecting".into()));
        let (receipts, _) = broadcast::channel(RECEIPT_BUFFER);
        let shared = Arc::new(Shared {
            config,
            next_sequence: AtomicU32::new(1),
            pending: Mutex::new(HashMap::new()),
            link,
            receipts,
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let manager = tokio::spawn(manage(Arc::clone(&shared), shutdown_rx));
        Session {
            shared,
            shutdown,
            _manager: AbortOnDrop(manager),
        }
    }

    pub(super) fn receipts(&self) -> broadcast::Receiver<SmppReceipt> {
        self.shared.receipts.subscribe()
    }

    pub(super) fn response_timeout(&self) -> Duration {
        self.shared.response_timeout()
    }

    /// Sends a request once the link is up and returns its response; waits for (re)connection
    /// at most until `deadline`.
    pub(super) async fn request(&self, body: Body, deadline: Instant) -> Result<Pdu, RequestError> {
        let mut link = self.shared.link.subscribe();
        let tx = loop {
            let current = link.borrow_and_update().clone();
            let reason = match current {
                Link::Up(tx) => break tx,
                Link::Rejected(status) => return Err(RequestError::BindRejected(status)),
                Link::Closed => return Err(RequestError::Closed),
                Link::Down(reason) => reason,
            };
            match timeout_at(deadline, link.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(RequestError::Closed),
                Err(_) => return Err(RequestError::Unavailable(reason)),
            }
        };
        self.shared.exchange(&tx, body, deadline).await
    }

    /// Unbinds politely (when bound) and stops the session.
    pub(super) async fn close(&self) {
        let deadline = Instant::now() + self.shared.response_timeout();
        let up = matches!(*self.shared.link.borrow(), Link::Up(_));
        if up {
            let _ = self.request(Body::Unbind, deadline).await;
        }
        self.shutdown.send_replace(true);
    }
}

/// How one connection ended.
enum Ended {
    Shutdown,
    /// Bound, then lost.
    Lost(String),
    /// Never bound: network error, timeout, bad response.
    Failed(String),
    Rejected(u32),
}

async fn manage(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut backoff = INITIAL_BACKOFF;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let ended = tokio::select! {
            ended = connection(&shared) => ended,
            _ = shutdown.changed() => Ended::Shutdown,
        };
        // The link goes down before pending requests fail, so that a requester retrying at
        // once waits for the reconnection instead of reusing the dead connection.
        match ended {
            Ended::Shutdown => {
                shared.set_link(Link::Closed);
                break;
            }
            Ended::Lost(reason) => {
                tracing::warn!(provider = "smpp", %reason, "SMPP connection lost; reconnecting");
                backoff = INITIAL_BACKOFF;
                shared.set_link(Link::Down(reason));
            }
            Ended::Failed(reason) => {
                tracing::warn!(provider = "smpp", %reason, retry_in = ?backoff, "SMPP connection failed");
                shared.set_link(Link::Down(reason));
            }
            Ended::Rejected(code) => {
                tracing::error!(
                    provider = "smpp",
                    status = status::name(code),
                    retry_in = ?backoff,
                    "SMSC refused bind_transceiver"
                );
                shared.set_link(Link::Rejected(code));
            }
        }
        shared.fail_pending();
        tokio::select! {
            _ = sleep(backoff) => {}
            _ = shutdown.changed() => break,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    shared.set_link(Link::Closed);
    shared.fail_pending();
}

/// One connection: connect, bind, serve until something ends it.
async fn connection(shared: &Arc<Shared>) -> Ended {
    let config = &shared.config;
    let deadline = Instant::now() + shared.response_timeout();
    let stream = match timeout_at(deadline, TcpStream::connect(&config.address)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return Ended::Failed(format!("connect to {}: {e}", config.address)),
        Err(_) => return Ended::Failed(format!("connect to {}: timed out", config.address)),
    };
    let _ = stream.set_nodelay(true);
    let (read_half, write_half) = stream.into_split();
    let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
    let mut writer = AbortOnDrop(tokio::spawn(write_loop(write_half, rx)));
    let mut reader = AbortOnDrop(tokio::spawn(read_loop(
        read_half,
        Arc::clone(shared),
        tx.clone(),
    )));

    let bind = Body::BindTransceiver(Bind {
        system_id: config.system_id.clone(),
        password: config.password.expose().to_owned(),
        system_type: config.system_type.clone(),
        interface_version: pdu::INTERFACE_VERSION,
        addr_ton: 0,
        addr_npi: 0,
        address_range: String::new(),
    });
    let bind_result = tokio::select! {
        r = shared.exchange(&tx, bind, deadline) => r,
        r = &mut reader.0 => return Ended::Failed(joined("reader", r)),
        r = &mut writer.0 => return Ended::Failed(joined("writer", r)),
    };
    match bind_result {
        Ok(resp) => match (&resp.body, resp.command_status) {
            (Body::BindTransceiverResp(b), status::ESME_ROK) => {
                tracing::info!(provider = "smpp", smsc = %b.system_id, address = %config.address, "bound as transceiver");
            }
            (Body::BindTransceiverResp(_) | Body::GenericNack, code) if code != 0 => {
                return Ended::Rejected(code);
            }
            (other, code) => {
                return Ended::Failed(format!(
                    "unexpected answer to bind_transceiver: command_id {:#010x}, status {code:#x}",
                    other.command_id()
                ));
            }
        },
        Err(e) => return Ended::Failed(format!("bind_transceiver: {e}")),
    }

    let mut keepalive = AbortOnDrop(tokio::spawn(keep_alive(Arc::clone(shared), tx.clone())));
    shared.set_link(Link::Up(tx));
    tokio::select! {
        r = &mut reader.0 => Ended::Lost(joined("reader", r)),
        r = &mut writer.0 => Ended::Lost(joined("writer", r)),
        r = &mut keepalive.0 => Ended::Lost(joined("keep-alive", r)),
    }
}

fn joined(task: &str, result: Result<String, tokio::task::JoinError>) -> String {
    match result {
        Ok(reason) => reason,
        Err(e) => format!("{task} task failed: {e}"),
    }
}

async fn write_loop(mut socket: OwnedWriteHalf, mut rx: mpsc::Receiver<Vec<u8>>) -> String {
    while let Some(bytes) = rx.recv().await {
        if let Err(e) = socket.write_all(&bytes).await {
            return format!("write: {e}");
        }
    }
    let _ = socket.shutdown().await;
    "writer closed".into()
}

async fn keep_alive(shared: Arc<Shared>, tx: mpsc::Sender<Vec<u8>>) -> String {
    let seconds = shared.config.enquire_link_seconds;
    if seconds == 0 {
        return std::future::pending().await;
    }
    let period = Duration::from_secs(seconds);
    loop {
        sleep(period).await;
        let deadline = Instant::now() + shared.response_timeout();
        match shared.exchange(&tx, Body::EnquireLink, deadline).await {
            Ok(_) => {}
            Err(e) => return format!("enquire_link: {e}"),
        }
    }
}

/// Reads one PDU. `Err(Fatal)` ends the connection; `Err(Malformed)` is answered with a
/// generic_nack and reading goes on (the framing is intact).
enum ReadError {
    Fatal(String),
    Malformed {
        header: Header,
        error: pdu::PduError,
    },
}

async fn read_pdu(socket: &mut OwnedReadHalf) -> Result<Pdu, ReadError> {
    let mut head = [0u8; HEADER_LEN];
    socket.read_exact(&mut head).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            ReadError::Fatal("connection closed by the SMSC".into())
        } else {
            ReadError::Fatal(format!("read: {e}"))
        }
    })?;
    let header = Header::parse(&head).map_err(|e| ReadError::Fatal(format!("framing: {e}")))?;
    let mut bytes = vec![0u8; header.command_length as usize];
    bytes
        .get_mut(..HEADER_LEN)
        .map(|h| h.copy_from_slice(&head))
        .ok_or_else(|| ReadError::Fatal("framing".into()))?;
    if let Some(body) = bytes.get_mut(HEADER_LEN..) {
        socket
            .read_exact(body)
            .await
            .map_err(|e| ReadError::Fatal(format!("read: {e}")))?;
    }
    Pdu::decode(&bytes).map_err(|error| ReadError::Malformed { header, error })
}

async fn read_loop(
    mut socket: OwnedReadHalf,
    shared: Arc<Shared>,
    tx: mpsc::Sender<Vec<u8>>,
) -> String {
    loop {
        let pdu = match read_pdu(&mut socket).await {
            Ok(pdu) => pdu,
            Err(ReadError::Fatal(reason)) => return reason,
            Err(ReadError::Malformed { header, error }) => {
                tracing::warn!(provider = "smpp", command_id = header.command_id, %error, "malformed PDU from the SMSC");
                if header.is_response() {
                    // Its requester gets ConnectionLost-like failure rather than a guess.
                    shared.pending().remove(&header.sequence_number);
                } else if let Err(reason) = reply(
                    &tx,
                    Pdu::with_status(
                        header.sequence_number,
                        status::ESME_RINVCMDLEN,
                        Body::GenericNack,
                    ),
                )
                .await
                {
                    return reason;
                }
                continue;
            }
        };
        if let Err(reason) = dispatch(&shared, &tx, pdu).await {
            return reason;
        }
    }
}

async fn reply(tx: &mpsc::Sender<Vec<u8>>, pdu: Pdu) -> Result<(), String> {
    let bytes = pdu.encode().map_err(|e| format!("encode: {e}"))?;
    tx.send(bytes).await.map_err(|_| "writer gone".to_owned())
}

/// Handles one incoming PDU; `Err` ends the connection.
async fn dispatch(shared: &Shared, tx: &mpsc::Sender<Vec<u8>>, pdu: Pdu) -> Result<(), String> {
    let sequence = pdu.sequence_number;
    if pdu.is_response() {
        match shared.pending().remove(&sequence) {
            Some(waiter) => {
                let _ = waiter.send(pdu);
            }
            None => tracing::debug!(
                provider = "smpp",
                sequence,
                command_id = pdu.command_id(),
                "response to no pending request"
            ),
        }
        return Ok(());
    }
    match pdu.body {
        Body::EnquireLink => reply(tx, Pdu::new(sequence, Body::EnquireLinkResp)).await,
        Body::DeliverSm(sm) => {
            reply(
                tx,
                Pdu::new(
                    sequence,
                    Body::DeliverSmResp {
                        message_id: String::new(),
                    },
                ),
            )
            .await?;
            match parse_receipt(&sm) {
                Some(receipt) => {
                    tracing::debug!(provider = "smpp", message_id = %receipt.message_id, state = receipt.state, "delivery receipt");
                    // No subscriber is fine: receipts are then dropped.
                    let _ = shared.receipts.send(receipt);
                }
                None => tracing::info!(
                    provider = "smpp",
                    esm_class = sm.esm_class,
                    "ignoring a deliver_sm that is not a delivery receipt"
                ),
            }
            Ok(())
        }
        Body::Unbind => {
            reply(tx, Pdu::new(sequence, Body::UnbindResp)).await?;
            Err("unbound by the SMSC".into())
        }
        other => {
            tracing::warn!(
                provider = "smpp",
                command_id = other.command_id(),
                "unsupported request from the SMSC"
            );
            reply(
                tx,
                Pdu::with_status(sequence, status::ESME_RINVCMDID, Body::GenericNack),
            )
            .await
        }
    }
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestError::Unavailable(reason) => write!(f, "SMSC unavailable: {reason}"),
            RequestError::BindRejected(code) => {
                write!(f, "SMSC refused the bind: {}", status::name(*code))
            }
            RequestError::Timeout => f.write_str("no response from the SMSC in time"),
            RequestError::ConnectionLost => f.write_str("connection to the SMSC lost"),
            RequestError::Encode(e) => write!(f, "cannot encode the PDU: {e}"),
            RequestError::Closed => f.write_str("SMPP session closed"),
        }
    }
}
