//! A fake SMSC speaking SMPP 3.4 over real TCP (127.0.0.1, port 0), for the SMPP provider
//! tests.
//!
//! It decodes with its own code (not the crate's codec) and checks the framing and fields of
//! every PDU it receives; anything off is recorded in [`FakeSmsc::violations`], which tests
//! assert empty. It checks bind credentials (a wrong password gets ESME_RBINDFAIL), answers
//! submit_sm with generated message ids, reassembles UCS-2 concatenated messages, sends a
//! delivery receipt (deliver_sm with TLVs) for each submit_sm requesting one, answers
//! enquire_link, and can be scripted: throttle the next N submits, drop the connection.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

const GENERIC_NACK: u32 = 0x8000_0000;
const SUBMIT_SM: u32 = 0x0000_0004;
const SUBMIT_SM_RESP: u32 = 0x8000_0004;
const DELIVER_SM: u32 = 0x0000_0005;
const DELIVER_SM_RESP: u32 = 0x8000_0005;
const UNBIND: u32 = 0x0000_0006;
const UNBIND_RESP: u32 = 0x8000_0006;
const BIND_TRANSCEIVER: u32 = 0x0000_0009;
const BIND_TRANSCEIVER_RESP: u32 = 0x8000_0009;
const ENQUIRE_LINK: u32 = 0x0000_0015;
const ENQUIRE_LINK_RESP: u32 = 0x8000_0015;

const ESME_RINVCMDID: u32 = 0x03;
const ESME_RINVBNDSTS: u32 = 0x04;
const ESME_RALYBND: u32 = 0x05;
const ESME_RBINDFAIL: u32 = 0x0D;
const ESME_RTHROTTLED: u32 = 0x58;

/// A whole message as the handset would show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedSms {
    pub destination: String,
    pub source: String,
    pub text: String,
    pub parts: usize,
    /// The message id given to the last part (sequence == total).
    pub message_id: String,
}

/// The fields of one accepted submit_sm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitRecord {
    pub message_id: String,
    pub source_ton: u8,
    pub source_npi: u8,
    pub source: String,
    pub dest_ton: u8,
    pub dest_npi: u8,
    pub destination: String,
    pub esm_class: u8,
    pub registered_delivery: u8,
    pub data_coding: u8,
    /// Length of short_message in octets (UDH included).
    pub sm_length: usize,
    /// (reference, total, sequence) from the UDH, for concatenated parts.
    pub concat: Option<(u16, u8, u8)>,
}

#[derive(Clone, Copy, Debug)]
enum Command {
    Drop,
    EnquireLink,
}

struct Partial {
    source: String,
    total: u8,
    parts: HashMap<u8, String>,
    last_id: Option<String>,
}

struct State {
    system_id: String,
    password: String,
    throttle_next: usize,
    drop_on_next_submit: bool,
    receipt_state: u8,
    receipt_tlvs: bool,
    connections: usize,
    binds: usize,
    failed_binds: usize,
    enquire_links: usize,
    client_enquire_link_resps: usize,
    unbinds: usize,
    throttled: usize,
    submits: Vec<SubmitRecord>,
    received: Vec<ReceivedSms>,
    partial: HashMap<(String, u16), Partial>,
    next_id: u64,
    receipts_sent: usize,
    receipts_acked: usize,
    violations: Vec<String>,
}

pub struct FakeSmsc {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
    commands: broadcast::Sender<Command>,
    accept: JoinHandle<()>,
}

impl Drop for FakeSmsc {
    fn drop(&mut self) {
        self.accept.abort();
        let _ = self.commands.send(Command::Drop);
    }
}

impl FakeSmsc {
    /// Listens on 127.0.0.1:0 and accepts binds with these credentials.
    pub async fn start(system_id: &str, password: &str) -> FakeSmsc {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            system_id: system_id.to_owned(),
            password: password.to_owned(),
            throttle_next: 0,
            drop_on_next_submit: false,
            receipt_state: 2,
            receipt_tlvs: true,
            connections: 0,
            binds: 0,
            failed_binds: 0,
            enquire_links: 0,
            client_enquire_link_resps: 0,
            unbinds: 0,
            throttled: 0,
            submits: Vec::new(),
            received: Vec::new(),
            partial: HashMap::new(),
            next_id: 0x1000,
            receipts_sent: 0,
            receipts_acked: 0,
            violations: Vec::new(),
        }));
        let (commands, _) = broadcast::channel(16);
        let accept = tokio::spawn({
            let state = Arc::clone(&state);
            let commands = commands.clone();
            async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    lock(&state).connections += 1;
                    tokio::spawn(Connection::serve(
                        stream,
                        Arc::clone(&state),
                        commands.subscribe(),
                    ));
                }
            }
        });
        FakeSmsc {
            address,
            state,
            commands,
            accept,
        }
    }

    /// `host:port` for `SmppConfig::address`.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// Whole messages received (concatenated parts reassembled), in order of completion.
    pub fn received(&self) -> Vec<ReceivedSms> {
        lock(&self.state).received.clone()
    }

    /// Every accepted submit_sm.
    pub fn submits(&self) -> Vec<SubmitRecord> {
        lock(&self.state).submits.clone()
    }

    /// Answer the next `n` submit_sm with ESME_RTHROTTLED.
    pub fn throttle_next(&self, n: usize) {
        lock(&self.state).throttle_next = n;
    }

    /// Close every open connection now.
    pub fn drop_connection(&self) {
        let _ = self.commands.send(Command::Drop);
    }

    /// Close the connection on the next submit_sm instead of answering it (once).
    pub fn drop_on_next_submit(&self) {
        lock(&self.state).drop_on_next_submit = true;
    }

    /// Receipts sent from now on report this `message_state` (and the matching `stat:`
    /// word), with or without the TLVs (text only).
    pub fn set_receipts(&self, state: u8, with_tlvs: bool) {
        let mut s = lock(&self.state);
        s.receipt_state = state;
        s.receipt_tlvs = with_tlvs;
    }

    /// Send an enquire_link to every connected client.
    pub fn enquire_client(&self) {
        let _ = self.commands.send(Command::EnquireLink);
    }

    pub fn connections(&self) -> usize {
        lock(&self.state).connections
    }

    /// Successful binds.
    pub fn binds(&self) -> usize {
        lock(&self.state).binds
    }

    pub fn failed_binds(&self) -> usize {
        lock(&self.state).failed_binds
    }

    /// enquire_link requests received from the client.
    pub fn enquire_links(&self) -> usize {
        lock(&self.state).enquire_links
    }

    /// enquire_link_resp received for [`FakeSmsc::enquire_client`].
    pub fn client_enquire_link_resps(&self) -> usize {
        lock(&self.state).client_enquire_link_resps
    }

    pub fn unbinds(&self) -> usize {
        lock(&self.state).unbinds
    }

    pub fn throttled(&self) -> usize {
        lock(&self.state).throttled
    }

    pub fn receipts_sent(&self) -> usize {
        lock(&self.state).receipts_sent
    }

    /// deliver_sm_resp received for our receipts.
    pub fn receipts_acked(&self) -> usize {
        lock(&self.state).receipts_acked
    }

    /// Protocol errors seen in the client's PDUs.
    pub fn violations(&self) -> Vec<String> {
        lock(&self.state).violations.clone()
    }

    /// Polls `condition` every 10 ms until it holds or `timeout` passes; returns whether it held.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        condition: impl Fn(&FakeSmsc) -> bool,
    ) -> bool {
        let end = tokio::time::Instant::now() + timeout;
        loop {
            if condition(self) {
                return true;
            }
            if tokio::time::Instant::now() >= end {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// A PDU as framed on the wire.
struct Frame {
    command_id: u32,
    status: u32,
    sequence: u32,
    body: Vec<u8>,
}

/// Field-by-field reader over a PDU body; every failure names the field.
struct Fields<'a> {
    body: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    fn new(body: &'a [u8]) -> Self {
        Fields { body, pos: 0 }
    }

    fn octet(&mut self, name: &str) -> Result<u8, String> {
        let b = *self
            .body
            .get(self.pos)
            .ok_or_else(|| format!("{name}: body too short"))?;
        self.pos += 1;
        Ok(b)
    }

    fn octets(&mut self, n: usize, name: &str) -> Result<&'a [u8], String> {
        let bytes = self
            .body
            .get(self.pos..self.pos + n)
            .ok_or_else(|| format!("{name}: needs {n} octets"))?;
        self.pos += n;
        Ok(bytes)
    }

    /// C-octet string of at most `max` octets including the NUL, ASCII only.
    fn cstr(&mut self, name: &str, max: usize) -> Result<String, String> {
        let rest = &self.body[self.pos.min(self.body.len())..];
        let nul = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| format!("{name}: no terminating NUL"))?;
        if nul + 1 > max {
            return Err(format!("{name}: {} octets, max {max}", nul + 1));
        }
        let s = &rest[..nul];
        if !s.is_ascii() {
            return Err(format!("{name}: not ASCII"));
        }
        self.pos += nul + 1;
        Ok(String::from_utf8_lossy(s).into_owned())
    }

    fn tlvs(&mut self) -> Result<Vec<(u16, Vec<u8>)>, String> {
        let mut out = Vec::new();
        while self.pos < self.body.len() {
            let head = self.octets(4, "TLV header")?;
            let tag = u16::from_be_bytes([head[0], head[1]]);
            let len = u16::from_be_bytes([head[2], head[3]]) as usize;
            let value = self.octets(len, "TLV value")?;
            out.push((tag, value.to_vec()));
        }
        Ok(out)
    }

    fn end(&self, what: &str) -> Result<(), String> {
        if self.pos == self.body.len() {
            Ok(())
        } else {
            Err(format!(
                "{what}: {} trailing octets",
                self.body.len() - self.pos
            ))
        }
    }
}

fn encode(command_id: u32, status: u32, sequence: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + body.len());
    out.extend_from_slice(&((16 + body.len()) as u32).to_be_bytes());
    out.extend_from_slice(&command_id.to_be_bytes());
    out.extend_from_slice(&status.to_be_bytes());
    out.extend_from_slice(&sequence.to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn ucs2(bytes: &[u8]) -> Result<String, String> {
    if !bytes.len().is_multiple_of(2) {
        return Err("UCS-2 text of odd length".into());
    }
    let units: Vec<u16> = bytes
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).map_err(|_| "UCS-2 part with a split surrogate pair".to_owned())
}

fn stat_word(state: u8) -> &'static str {
    match state {
        1 => "ENROUTE",
        2 => "DELIVRD",
        3 => "EXPIRED",
        4 => "DELETED",
        5 => "UNDELIV",
        6 => "ACCEPTD",
        8 => "REJECTD",
        _ => "UNKNOWN",
    }
}

struct Connection {
    state: Arc<Mutex<State>>,
    out: mpsc::UnboundedSender<Vec<u8>>,
    bound: bool,
    next_sequence: u32,
    seen_sequences: HashSet<u32>,
    outstanding_receipts: HashSet<u32>,
    outstanding_enquiries: HashSet<u32>,
}

enum Next {
    Continue,
    Close,
}

impl Connection {
    async fn serve(
        stream: TcpStream,
        state: Arc<Mutex<State>>,
        mut commands: broadcast::Receiver<Command>,
    ) {
        let (mut read, mut write) = stream.into_split();
        let (out, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let writer = tokio::spawn(async move {
            while let Some(bytes) = out_rx.recv().await {
                if write.write_all(&bytes).await.is_err() {
                    return;
                }
            }
        });
        let mut conn = Connection {
            state,
            out,
            bound: false,
            next_sequence: 1,
            seen_sequences: HashSet::new(),
            outstanding_receipts: HashSet::new(),
            outstanding_enquiries: HashSet::new(),
        };
        loop {
            tokio::select! {
                frame = read_frame(&mut read) => match frame {
                    Ok(Some(frame)) => {
                        if let Next::Close = conn.handle(frame) {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        conn.violation(e);
                        break;
                    }
                },
                command = commands.recv() => match command {
                    Ok(Command::Drop) | Err(broadcast::error::RecvError::Closed) => break,
                    Ok(Command::EnquireLink) => {
                        let seq = conn.sequence();
                        conn.outstanding_enquiries.insert(seq);
                        conn.send(encode(ENQUIRE_LINK, 0, seq, &[]));
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                },
            }
        }
        // Let queued answers (e.g. unbind_resp) go out, then close the socket.
        drop(conn);
        let _ = tokio::time::timeout(Duration::from_millis(200), writer).await;
    }

    fn violation(&self, what: impl Into<String>) {
        lock(&self.state).violations.push(what.into());
    }

    fn sequence(&mut self) -> u32 {
        let s = self.next_sequence;
        self.next_sequence += 1;
        s
    }

    fn send(&self, bytes: Vec<u8>) {
        let _ = self.out.send(bytes);
    }

    fn handle(&mut self, frame: Frame) -> Next {
        let is_request = frame.command_id & 0x8000_0000 == 0;
        if is_request {
            if frame.status != 0 {
                self.violation(format!(
                    "request {:#x} with command_status {:#x}",
                    frame.command_id, frame.status
                ));
            }
            if frame.sequence == 0 || frame.sequence > 0x7FFF_FFFF {
                self.violation(format!(
                    "sequence_number {:#x} out of range",
                    frame.sequence
                ));
            }
            if !self.seen_sequences.insert(frame.sequence) {
                self.violation(format!("sequence_number {} reused", frame.sequence));
            }
        }
        let result = match frame.command_id {
            BIND_TRANSCEIVER => self.bind(&frame),
            SUBMIT_SM => self.submit(&frame),
            DELIVER_SM_RESP => self.deliver_resp(&frame),
            ENQUIRE_LINK => {
                lock(&self.state).enquire_links += 1;
                self.send(encode(ENQUIRE_LINK_RESP, 0, frame.sequence, &[]));
                Fields::new(&frame.body)
                    .end("enquire_link")
                    .map(|_| Next::Continue)
            }
            ENQUIRE_LINK_RESP => {
                if self.outstanding_enquiries.remove(&frame.sequence) {
                    lock(&self.state).client_enquire_link_resps += 1;
                } else {
                    self.violation(format!(
                        "enquire_link_resp for unknown sequence {}",
                        frame.sequence
                    ));
                }
                Fields::new(&frame.body)
                    .end("enquire_link_resp")
                    .map(|_| Next::Continue)
            }
            UNBIND => {
                lock(&self.state).unbinds += 1;
                self.send(encode(UNBIND_RESP, 0, frame.sequence, &[]));
                Fields::new(&frame.body).end("unbind").map(|_| Next::Close)
            }
            GENERIC_NACK => Err(format!(
                "client sent generic_nack status {:#x} for sequence {}",
                frame.status, frame.sequence
            )),
            other => {
                self.send(encode(GENERIC_NACK, ESME_RINVCMDID, frame.sequence, &[]));
                Err(format!("unexpected command_id {other:#010x}"))
            }
        };
        match result {
            Ok(next) => next,
            Err(e) => {
                self.violation(e);
                Next::Continue
            }
        }
    }

    fn bind(&mut self, frame: &Frame) -> Result<Next, String> {
        let mut f = Fields::new(&frame.body);
        let system_id = f.cstr("system_id", 16)?;
        let password = f.cstr("password", 9)?;
        let _system_type = f.cstr("system_type", 13)?;
        let version = f.octet("interface_version")?;
        let _ton = f.octet("addr_ton")?;
        let _npi = f.octet("addr_npi")?;
        let _range = f.cstr("address_range", 41)?;
        f.end("bind_transceiver")?;
        if version != 0x34 {
            self.violation(format!("interface_version {version:#x}, expected 0x34"));
        }
        if self.bound {
            self.send(encode(
                BIND_TRANSCEIVER_RESP,
                ESME_RALYBND,
                frame.sequence,
                &[],
            ));
            return Err("bind_transceiver while already bound".into());
        }
        let mut state = lock(&self.state);
        if system_id != state.system_id || password != state.password {
            state.failed_binds += 1;
            drop(state);
            // An error response without a body, as SMPP 3.4 allows.
            self.send(encode(
                BIND_TRANSCEIVER_RESP,
                ESME_RBINDFAIL,
                frame.sequence,
                &[],
            ));
            return Ok(Next::Continue);
        }
        state.binds += 1;
        drop(state);
        self.bound = true;
        let mut body = b"FakeSMSC\0".to_vec();
        body.extend_from_slice(&[0x02, 0x10, 0x00, 0x01, 0x34]); // sc_interface_version TLV
        self.send(encode(BIND_TRANSCEIVER_RESP, 0, frame.sequence, &body));
        Ok(Next::Continue)
    }

    fn submit(&mut self, frame: &Frame) -> Result<Next, String> {
        if !self.bound {
            self.send(encode(SUBMIT_SM_RESP, ESME_RINVBNDSTS, frame.sequence, &[]));
            return Err("submit_sm before bind".into());
        }
        let mut f = Fields::new(&frame.body);
        let _service_type = f.cstr("service_type", 6)?;
        let source_ton = f.octet("source_addr_ton")?;
        let source_npi = f.octet("source_addr_npi")?;
        let source = f.cstr("source_addr", 21)?;
        let dest_ton = f.octet("dest_addr_ton")?;
        let dest_npi = f.octet("dest_addr_npi")?;
        let destination = f.cstr("destination_addr", 21)?;
        let esm_class = f.octet("esm_class")?;
        let _protocol_id = f.octet("protocol_id")?;
        let _priority = f.octet("priority_flag")?;
        let schedule = f.cstr("schedule_delivery_time", 17)?;
        let validity = f.cstr("validity_period", 17)?;
        let registered_delivery = f.octet("registered_delivery")?;
        let _replace = f.octet("replace_if_present_flag")?;
        let data_coding = f.octet("data_coding")?;
        let _default_msg = f.octet("sm_default_msg_id")?;
        let sm_length = f.octet("sm_length")? as usize;
        let short_message = f.octets(sm_length, "short_message")?.to_vec();
        let tlvs = f.tlvs()?;
        f.end("submit_sm")?;
        if !schedule.is_empty() && schedule.len() != 16 {
            self.violation(format!("schedule_delivery_time {schedule:?}"));
        }
        if !validity.is_empty() && validity.len() != 16 {
            self.violation(format!("validity_period {validity:?}"));
        }
        if sm_length > 140 {
            self.violation(format!(
                "short_message of {sm_length} octets exceeds one SMS (140)"
            ));
        }
        if tlvs.iter().any(|(tag, _)| *tag == 0x0424) && sm_length > 0 {
            self.violation("both short_message and message_payload");
        }

        // User data: optional UDH, then the text.
        let (concat, text_bytes) = if esm_class & 0x40 != 0 {
            let udhl = *short_message
                .first()
                .ok_or("UDHI set on an empty message")? as usize;
            let udh = short_message
                .get(1..1 + udhl)
                .ok_or("UDH longer than the message")?;
            let mut concat = None;
            let mut i = 0;
            while i < udh.len() {
                let iei = udh[i];
                let len = *udh.get(i + 1).ok_or("truncated UDH element")? as usize;
                let data = udh.get(i + 2..i + 2 + len).ok_or("truncated UDH element")?;
                match (iei, data) {
                    (0x00, [r, t, s]) => concat = Some((*r as u16, *t, *s)),
                    (0x08, [r1, r2, t, s]) => {
                        concat = Some((u16::from_be_bytes([*r1, *r2]), *t, *s))
                    }
                    (0x00 | 0x08, _) => return Err("malformed concatenation element".into()),
                    _ => {}
                }
                i += 2 + len;
            }
            let Some((reference, total, seq)) = concat else {
                return Err("UDHI set without a concatenation element".into());
            };
            if total < 2 || seq == 0 || seq > total {
                return Err(format!("concatenation part {seq}/{total}"));
            }
            (
                Some((reference, total, seq)),
                short_message[1 + udhl..].to_vec(),
            )
        } else {
            (None, short_message.clone())
        };
        let text = match data_coding {
            0x08 => {
                if concat.is_some() && text_bytes.len() > 134 {
                    self.violation(format!(
                        "UCS-2 part of {} octets (max 134)",
                        text_bytes.len()
                    ));
                }
                ucs2(&text_bytes)?
            }
            0x00 | 0x01 | 0x03 => String::from_utf8_lossy(&text_bytes).into_owned(),
            other => return Err(format!("unsupported data_coding {other:#x}")),
        };

        let mut state = lock(&self.state);
        if state.drop_on_next_submit {
            state.drop_on_next_submit = false;
            return Ok(Next::Close);
        }
        if state.throttle_next > 0 {
            state.throttle_next -= 1;
            state.throttled += 1;
            drop(state);
            self.send(encode(SUBMIT_SM_RESP, ESME_RTHROTTLED, frame.sequence, &[]));
            return Ok(Next::Continue);
        }
        state.next_id += 1;
        let message_id = format!("{:010X}", state.next_id);
        state.submits.push(SubmitRecord {
            message_id: message_id.clone(),
            source_ton,
            source_npi,
            source: source.clone(),
            dest_ton,
            dest_npi,
            destination: destination.clone(),
            esm_class,
            registered_delivery,
            data_coding,
            sm_length,
            concat,
        });
        match concat {
            None => state.received.push(ReceivedSms {
                destination: destination.clone(),
                source: source.clone(),
                text,
                parts: 1,
                message_id: message_id.clone(),
            }),
            Some((reference, total, seq)) => {
                let key = (destination.clone(), reference);
                let partial = state.partial.entry(key.clone()).or_insert_with(|| Partial {
                    source: source.clone(),
                    total,
                    parts: HashMap::new(),
                    last_id: None,
                });
                if partial.total != total || partial.parts.insert(seq, text).is_some() {
                    let v =
                        format!("inconsistent or repeated part {seq}/{total} (ref {reference})");
                    state.violations.push(v);
                } else {
                    if seq == total {
                        partial.last_id = Some(message_id.clone());
                    }
                    if partial.parts.len() == total as usize
                        && let Some(done) = state.partial.remove(&key)
                    {
                        let text = (1..=total)
                            .map(|s| done.parts.get(&s).cloned().unwrap_or_default())
                            .collect();
                        state.received.push(ReceivedSms {
                            destination: destination.clone(),
                            source: done.source,
                            text,
                            parts: total as usize,
                            message_id: done.last_id.unwrap_or_default(),
                        });
                    }
                }
            }
        }
        let receipt_state = state.receipt_state;
        let receipt_tlvs = state.receipt_tlvs;
        drop(state);

        let mut resp = message_id.as_bytes().to_vec();
        resp.push(0);
        self.send(encode(SUBMIT_SM_RESP, 0, frame.sequence, &resp));

        if registered_delivery & 0x03 != 0 {
            self.send_receipt(
                &message_id,
                &destination,
                &source,
                receipt_state,
                receipt_tlvs,
            );
        }
        Ok(Next::Continue)
    }

    fn send_receipt(
        &mut self,
        message_id: &str,
        handset: &str,
        service: &str,
        state: u8,
        tlvs: bool,
    ) {
        let now = fingertip::clock::system_time()
            .format("%y%m%d%H%M")
            .to_string();
        let delivered = if state == 2 { "001" } else { "000" };
        let text = format!(
            "id:{message_id} sub:001 dlvrd:{delivered} submit date:{now} done date:{now} stat:{} err:000 text:",
            stat_word(state)
        );
        let mut body = Vec::new();
        body.push(0); // service_type ""
        body.extend_from_slice(&[0x02, 0x01]);
        body.extend_from_slice(handset.as_bytes());
        body.push(0);
        body.extend_from_slice(&[0x02, 0x01]);
        body.extend_from_slice(service.as_bytes());
        body.push(0);
        body.push(0x04); // esm_class: SMSC delivery receipt
        body.extend_from_slice(&[0, 0]); // protocol_id, priority_flag
        body.extend_from_slice(&[0, 0]); // schedule_delivery_time, validity_period: ""
        body.extend_from_slice(&[0, 0, 0, 0]); // registered_delivery, replace, data_coding, default id
        body.push(text.len() as u8);
        body.extend_from_slice(text.as_bytes());
        if tlvs {
            let id_len = message_id.len() + 1;
            body.extend_from_slice(&0x001Eu16.to_be_bytes());
            body.extend_from_slice(&(id_len as u16).to_be_bytes());
            body.extend_from_slice(message_id.as_bytes());
            body.push(0);
            body.extend_from_slice(&0x0427u16.to_be_bytes());
            body.extend_from_slice(&1u16.to_be_bytes());
            body.push(state);
        }
        let seq = self.sequence();
        self.outstanding_receipts.insert(seq);
        lock(&self.state).receipts_sent += 1;
        self.send(encode(DELIVER_SM, 0, seq, &body));
    }

    fn deliver_resp(&mut self, frame: &Frame) -> Result<Next, String> {
        if !self.outstanding_receipts.remove(&frame.sequence) {
            return Err(format!(
                "deliver_sm_resp for unknown sequence {}",
                frame.sequence
            ));
        }
        if frame.status != 0 {
            return Err(format!("deliver_sm_resp status {:#x}", frame.status));
        }
        let mut f = Fields::new(&frame.body);
        let id = f.cstr("message_id", 65)?;
        f.end("deliver_sm_resp")?;
        if !id.is_empty() {
            return Err("deliver_sm_resp message_id must be NULL".into());
        }
        lock(&self.state).receipts_acked += 1;
        Ok(Next::Continue)
    }
}

/// Reads one framed PDU; `Ok(None)` on a clean close between PDUs.
async fn read_frame(read: &mut OwnedReadHalf) -> Result<Option<Frame>, String> {
    let mut len_bytes = [0u8; 4];
    match read.read_exact(&mut len_bytes).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(_) => return Ok(None), // reset by peer: the client went away
    }
    let len = u32::from_be_bytes(len_bytes) as usize;
    if !(16..=4096).contains(&len) {
        return Err(format!("command_length {len} out of range"));
    }
    let mut rest = vec![0u8; len - 4];
    read.read_exact(&mut rest)
        .await
        .map_err(|e| format!("PDU cut short after its header said {len} octets: {e}"))?;
    let word = |i: usize| u32::from_be_bytes([rest[i], rest[i + 1], rest[i + 2], rest[i + 3]]);
    Ok(Some(Frame {
        command_id: word(0),
        status: word(4),
        sequence: word(8),
        body: rest[12..].to_vec(),
    }))
}
