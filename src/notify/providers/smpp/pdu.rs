//! SMPP 3.4 PDU codec: pure functions over byte slices, no I/O.
//!
//! Every PDU is a 16-octet header (`command_length`, `command_id`, `command_status`,
//! `sequence_number`, all big-endian u32, `command_length` counting the header) followed by a
//! body of mandatory fields and, for some commands, optional TLVs (tag u16, length u16, value).
//! Strings are C-octet strings (ASCII, NUL-terminated, with a maximum size that counts the NUL).
//!
//! Decoding never panics: truncated, oversized or malformed input gives a [`PduError`].

use thiserror::Error;

/// Size of the PDU header.
pub const HEADER_LEN: usize = 16;
/// Largest PDU accepted or produced. SMPP 3.4 sets no limit; a submit_sm with a full
/// short_message and a few TLVs stays far below this, and a larger length means a broken stream.
pub const MAX_PDU_LEN: usize = 64 * 1024;
/// `interface_version` sent in bind requests: SMPP 3.4.
pub const INTERFACE_VERSION: u8 = 0x34;
/// Largest `short_message` (octets) in submit_sm / deliver_sm (SMPP 3.4 §4.4.1: 0–254).
pub const MAX_SHORT_MESSAGE: usize = 254;

/// `esm_class` bit: the short_message starts with a User Data Header (concatenated SMS).
pub const ESM_CLASS_UDHI: u8 = 0x40;
/// `esm_class` message type: SMSC delivery receipt (deliver_sm only).
pub const ESM_CLASS_DELIVERY_RECEIPT: u8 = 0x04;
/// `data_coding`: SMSC default alphabet.
pub const DATA_CODING_DEFAULT: u8 = 0x00;
/// `data_coding`: UCS-2 (big-endian UTF-16 on the wire).
pub const DATA_CODING_UCS2: u8 = 0x08;

/// `command_id` values (SMPP 3.4 §5.1.2.1). Responses have bit 31 set.
pub mod command_id {
    pub const GENERIC_NACK: u32 = 0x8000_0000;
    pub const SUBMIT_SM: u32 = 0x0000_0004;
    pub const SUBMIT_SM_RESP: u32 = 0x8000_0004;
    pub const DELIVER_SM: u32 = 0x0000_0005;
    pub const DELIVER_SM_RESP: u32 = 0x8000_0005;
    pub const UNBIND: u32 = 0x0000_0006;
    pub const UNBIND_RESP: u32 = 0x8000_0006;
    pub const BIND_TRANSCEIVER: u32 = 0x0000_0009;
    pub const BIND_TRANSCEIVER_RESP: u32 = 0x8000_0009;
    pub const ENQUIRE_LINK: u32 = 0x0000_0015;
    pub const ENQUIRE_LINK_RESP: u32 = 0x8000_0015;
    /// Bit set in every response command id.
    pub const RESPONSE_BIT: u32 = 0x8000_0000;
}

/// `command_status` values used here (SMPP 3.4 §5.1.3).
pub mod status {
    pub const ESME_ROK: u32 = 0x0000_0000;
    pub const ESME_RINVMSGLEN: u32 = 0x0000_0001;
    pub const ESME_RINVCMDLEN: u32 = 0x0000_0002;
    pub const ESME_RINVCMDID: u32 = 0x0000_0003;
    pub const ESME_RINVBNDSTS: u32 = 0x0000_0004;
    pub const ESME_RALYBND: u32 = 0x0000_0005;
    pub const ESME_RSYSERR: u32 = 0x0000_0008;
    pub const ESME_RINVSRCADR: u32 = 0x0000_000A;
    pub const ESME_RINVDSTADR: u32 = 0x0000_000B;
    pub const ESME_RBINDFAIL: u32 = 0x0000_000D;
    pub const ESME_RINVPASWD: u32 = 0x0000_000E;
    pub const ESME_RINVSYSID: u32 = 0x0000_000F;
    pub const ESME_RMSGQFUL: u32 = 0x0000_0014;
    pub const ESME_RSUBMITFAIL: u32 = 0x0000_0045;
    pub const ESME_RTHROTTLED: u32 = 0x0000_0058;

    /// Symbolic name of a status, for error messages and logs.
    pub fn name(status: u32) -> &'static str {
        match status {
            ESME_ROK => "ESME_ROK",
            ESME_RINVMSGLEN => "ESME_RINVMSGLEN",
            ESME_RINVCMDLEN => "ESME_RINVCMDLEN",
            ESME_RINVCMDID => "ESME_RINVCMDID",
            ESME_RINVBNDSTS => "ESME_RINVBNDSTS",
            ESME_RALYBND => "ESME_RALYBND",
            ESME_RSYSERR => "ESME_RSYSERR",
            ESME_RINVSRCADR => "ESME_RINVSRCADR",
            ESME_RINVDSTADR => "ESME_RINVDSTADR",
            ESME_RBINDFAIL => "ESME_RBINDFAIL",
            ESME_RINVPASWD => "ESME_RINVPASWD",
            ESME_RINVSYSID => "ESME_RINVSYSID",
            ESME_RMSGQFUL => "ESME_RMSGQFUL",
            ESME_RSUBMITFAIL => "ESME_RSUBMITFAIL",
            ESME_RTHROTTLED => "ESME_RTHROTTLED",
            _ => "ESME_R?",
        }
    }
}

/// Optional parameter (TLV) tags (SMPP 3.4 §5.3.2).
pub mod tag {
    pub const RECEIPTED_MESSAGE_ID: u16 = 0x001E;
    pub const SAR_MSG_REF_NUM: u16 = 0x020C;
    pub const SAR_TOTAL_SEGMENTS: u16 = 0x020E;
    pub const SAR_SEGMENT_SEQNUM: u16 = 0x020F;
    pub const MESSAGE_PAYLOAD: u16 = 0x0424;
    pub const MESSAGE_STATE: u16 = 0x0427;
}

/// Type of number (SMPP 3.4 §5.2.5).
pub mod ton {
    pub const UNKNOWN: u8 = 0x00;
    pub const INTERNATIONAL: u8 = 0x01;
    pub const NATIONAL: u8 = 0x02;
    pub const ALPHANUMERIC: u8 = 0x05;
}

/// Numbering plan indicator (SMPP 3.4 §5.2.6).
pub mod npi {
    pub const UNKNOWN: u8 = 0x00;
    /// ISDN (E.163/E.164).
    pub const ISDN: u8 = 0x01;
}

/// `message_state` values (SMPP 3.4 §5.2.28), carried in the TLV of the same name.
pub mod message_state {
    pub const ENROUTE: u8 = 1;
    pub const DELIVERED: u8 = 2;
    pub const EXPIRED: u8 = 3;
    pub const DELETED: u8 = 4;
    pub const UNDELIVERABLE: u8 = 5;
    pub const ACCEPTED: u8 = 6;
    pub const UNKNOWN: u8 = 7;
    pub const REJECTED: u8 = 8;
}

// Maximum sizes of C-octet strings, counting the terminating NUL (SMPP 3.4 §4).
const MAX_SYSTEM_ID: usize = 16;
const MAX_PASSWORD: usize = 9;
const MAX_SYSTEM_TYPE: usize = 13;
const MAX_ADDRESS_RANGE: usize = 41;
const MAX_SERVICE_TYPE: usize = 6;
const MAX_ADDR: usize = 21;
const MAX_TIME: usize = 17;
const MAX_MESSAGE_ID: usize = 65;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PduError {
    #[error("truncated PDU: {needed} more bytes needed")]
    Truncated { needed: usize },
    #[error("invalid command_length {0}")]
    InvalidLength(u32),
    #[error("command_length {declared} does not match the {actual} bytes of the PDU")]
    LengthMismatch { declared: u32, actual: usize },
    #[error("{0}: C-octet string not NUL-terminated within its maximum size")]
    Unterminated(&'static str),
    #[error("{field}: {len} octets exceed the maximum of {max}")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{0}: contains a NUL octet")]
    InteriorNul(&'static str),
    #[error("truncated TLV")]
    BadTlv,
    #[error("{0} unexpected octets after the body")]
    TrailingBytes(usize),
}

/// The fixed 16-octet PDU header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub command_length: u32,
    pub command_id: u32,
    pub command_status: u32,
    pub sequence_number: u32,
}

impl Header {
    /// Parses the first 16 octets of `bytes` and checks that `command_length` is plausible
    /// (at least a header, at most [`MAX_PDU_LEN`]). It does not require the whole PDU.
    pub fn parse(bytes: &[u8]) -> Result<Header, PduError> {
        let mut r = Reader::new(bytes);
        let header = Header {
            command_length: r.u32()?,
            command_id: r.u32()?,
            command_status: r.u32()?,
            sequence_number: r.u32()?,
        };
        let len = header.command_length as usize;
        if !(HEADER_LEN..=MAX_PDU_LEN).contains(&len) {
            return Err(PduError::InvalidLength(header.command_length));
        }
        Ok(header)
    }

    pub fn is_response(&self) -> bool {
        self.command_id & command_id::RESPONSE_BIT != 0
    }
}

/// An optional parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlv {
    pub tag: u16,
    pub value: Vec<u8>,
}

impl Tlv {
    pub fn new(tag: u16, value: impl Into<Vec<u8>>) -> Tlv {
        Tlv {
            tag,
            value: value.into(),
        }
    }

    /// A C-octet string value (NUL appended), as `receipted_message_id` is.
    pub fn c_string(tag: u16, value: &str) -> Tlv {
        let mut bytes = value.as_bytes().to_vec();
        bytes.push(0);
        Tlv { tag, value: bytes }
    }
}

/// Finds a TLV by tag.
pub fn find_tlv(tlvs: &[Tlv], tag: u16) -> Option<&[u8]> {
    tlvs.iter()
        .find(|t| t.tag == tag)
        .map(|t| t.value.as_slice())
}

/// bind_transceiver body (also the layout of bind_transmitter / bind_receiver).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub system_id: String,
    pub password: String,
    pub system_type: String,
    pub interface_version: u8,
    pub addr_ton: u8,
    pub addr_npi: u8,
    pub address_range: String,
}

/// bind_*_resp body. Empty (`system_id` "") when the SMSC omits the body of an error response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BindResp {
    pub system_id: String,
    pub tlvs: Vec<Tlv>,
}

/// The body shared by submit_sm and deliver_sm (identical layouts in SMPP 3.4).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SmBody {
    pub service_type: String,
    pub source_addr_ton: u8,
    pub source_addr_npi: u8,
    pub source_addr: String,
    pub dest_addr_ton: u8,
    pub dest_addr_npi: u8,
    pub destination_addr: String,
    pub esm_class: u8,
    pub protocol_id: u8,
    pub priority_flag: u8,
    pub schedule_delivery_time: String,
    pub validity_period: String,
    pub registered_delivery: u8,
    pub replace_if_present_flag: u8,
    pub data_coding: u8,
    pub sm_default_msg_id: u8,
    pub short_message: Vec<u8>,
    pub tlvs: Vec<Tlv>,
}

impl SmBody {
    pub fn tlv(&self, tag: u16) -> Option<&[u8]> {
        find_tlv(&self.tlvs, tag)
    }
}

/// A decoded PDU body; the variant determines the `command_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    GenericNack,
    BindTransceiver(Bind),
    BindTransceiverResp(BindResp),
    SubmitSm(SmBody),
    /// `message_id` is "" when the SMSC omits the body of an error response.
    SubmitSmResp {
        message_id: String,
    },
    DeliverSm(SmBody),
    DeliverSmResp {
        message_id: String,
    },
    EnquireLink,
    EnquireLinkResp,
    Unbind,
    UnbindResp,
    /// Any other command, body kept undecoded.
    Other {
        command_id: u32,
        body: Vec<u8>,
    },
}

impl Body {
    pub fn command_id(&self) -> u32 {
        match self {
            Body::GenericNack => command_id::GENERIC_NACK,
            Body::BindTransceiver(_) => command_id::BIND_TRANSCEIVER,
            Body::BindTransceiverResp(_) => command_id::BIND_TRANSCEIVER_RESP,
            Body::SubmitSm(_) => command_id::SUBMIT_SM,
            Body::SubmitSmResp { .. } => command_id::SUBMIT_SM_RESP,
            Body::DeliverSm(_) => command_id::DELIVER_SM,
            Body::DeliverSmResp { .. } => command_id::DELIVER_SM_RESP,
            Body::EnquireLink => command_id::ENQUIRE_LINK,
            Body::EnquireLinkResp => command_id::ENQUIRE_LINK_RESP,
            Body::Unbind => command_id::UNBIND,
            Body::UnbindResp => command_id::UNBIND_RESP,
            Body::Other { command_id, .. } => *command_id,
        }
    }
}

/// A whole PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu {
    pub command_status: u32,
    pub sequence_number: u32,
    pub body: Body,
}

impl Pdu {
    /// A request (or a successful response): `command_status` 0.
    pub fn new(sequence_number: u32, body: Body) -> Pdu {
        Pdu {
            command_status: status::ESME_ROK,
            sequence_number,
            body,
        }
    }

    pub fn with_status(sequence_number: u32, command_status: u32, body: Body) -> Pdu {
        Pdu {
            command_status,
            sequence_number,
            body,
        }
    }

    pub fn command_id(&self) -> u32 {
        self.body.command_id()
    }

    pub fn is_response(&self) -> bool {
        self.command_id() & command_id::RESPONSE_BIT != 0
    }

    /// Encodes the PDU; fails when a field exceeds its SMPP size or a string holds a NUL.
    pub fn encode(&self) -> Result<Vec<u8>, PduError> {
        let mut w = Writer::default();
        w.u32(0); // command_length, patched below
        w.u32(self.command_id());
        w.u32(self.command_status);
        w.u32(self.sequence_number);
        match &self.body {
            Body::GenericNack
            | Body::EnquireLink
            | Body::EnquireLinkResp
            | Body::Unbind
            | Body::UnbindResp => {}
            Body::BindTransceiver(b) => {
                w.c_string("system_id", &b.system_id, MAX_SYSTEM_ID)?;
                w.c_string("password", &b.password, MAX_PASSWORD)?;
                w.c_string("system_type", &b.system_type, MAX_SYSTEM_TYPE)?;
                w.u8(b.interface_version);
                w.u8(b.addr_ton);
                w.u8(b.addr_npi);
                w.c_string("address_range", &b.address_range, MAX_ADDRESS_RANGE)?;
            }
            Body::BindTransceiverResp(b) => {
                w.c_string("system_id", &b.system_id, MAX_SYSTEM_ID)?;
                w.tlvs(&b.tlvs)?;
            }
            Body::SubmitSm(sm) | Body::DeliverSm(sm) => w.sm(sm)?,
            Body::SubmitSmResp { message_id } | Body::DeliverSmResp { message_id } => {
                w.c_string("message_id", message_id, MAX_MESSAGE_ID)?;
            }
            Body::Other { body, .. } => w.bytes(body),
        }
        let len = w.buf.len();
        if len > MAX_PDU_LEN {
            return Err(PduError::TooLong {
                field: "PDU",
                len,
                max: MAX_PDU_LEN,
            });
        }
        let len_bytes = (len as u32).to_be_bytes();
        w.buf[..4].copy_from_slice(&len_bytes);
        Ok(w.buf)
    }

    /// Decodes exactly one PDU: `bytes` must be the whole PDU, `command_length` octets long.
    pub fn decode(bytes: &[u8]) -> Result<Pdu, PduError> {
        let header = Header::parse(bytes)?;
        if header.command_length as usize != bytes.len() {
            return Err(PduError::LengthMismatch {
                declared: header.command_length,
                actual: bytes.len(),
            });
        }
        let body_bytes = bytes.get(HEADER_LEN..).unwrap_or_default();
        let mut r = Reader::new(body_bytes);
        let error_response = header.is_response() && header.command_status != status::ESME_ROK;
        let body = match header.command_id {
            command_id::GENERIC_NACK => Body::GenericNack,
            command_id::ENQUIRE_LINK => Body::EnquireLink,
            command_id::ENQUIRE_LINK_RESP => Body::EnquireLinkResp,
            command_id::UNBIND => Body::Unbind,
            command_id::UNBIND_RESP => Body::UnbindResp,
            command_id::BIND_TRANSCEIVER => Body::BindTransceiver(Bind {
                system_id: r.c_string("system_id", MAX_SYSTEM_ID)?,
                password: r.c_string("password", MAX_PASSWORD)?,
                system_type: r.c_string("system_type", MAX_SYSTEM_TYPE)?,
                interface_version: r.u8()?,
                addr_ton: r.u8()?,
                addr_npi: r.u8()?,
                address_range: r.c_string("address_range", MAX_ADDRESS_RANGE)?,
            }),
            command_id::BIND_TRANSCEIVER_RESP => {
                // An error response may come without a body (SMPP 3.4 §4.1.6).
                if error_response && r.is_empty() {
                    Body::BindTransceiverResp(BindResp::default())
                } else {
                    Body::BindTransceiverResp(BindResp {
                        system_id: r.c_string("system_id", MAX_SYSTEM_ID)?,
                        tlvs: r.tlvs()?,
                    })
                }
            }
            command_id::SUBMIT_SM => Body::SubmitSm(r.sm()?),
            command_id::DELIVER_SM => Body::DeliverSm(r.sm()?),
            command_id::SUBMIT_SM_RESP | command_id::DELIVER_SM_RESP => {
                let message_id = if error_response && r.is_empty() {
                    String::new()
                } else {
                    r.c_string("message_id", MAX_MESSAGE_ID)?
                };
                if header.command_id == command_id::SUBMIT_SM_RESP {
                    Body::SubmitSmResp { message_id }
                } else {
                    Body::DeliverSmResp { message_id }
                }
            }
            other => Body::Other {
                command_id: other,
                body: r.take_rest().to_vec(),
            },
        };
        if !r.is_empty() {
            return Err(PduError::TrailingBytes(r.rest().len()));
        }
        Ok(Pdu {
            command_status: header.command_status,
            sequence_number: header.sequence_number,
            body,
        })
    }
}

/// For stream framing: given the bytes buffered so far, the length of the first PDU once its
/// header is complete (`Ok(None)` before), or an error when its `command_length` is invalid
/// (the stream cannot be resynchronised then).
pub fn frame_length(buffered: &[u8]) -> Result<Option<usize>, PduError> {
    if buffered.len() < HEADER_LEN {
        return Ok(None);
    }
    Header::parse(buffered).map(|h| Some(h.command_length as usize))
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    fn take_rest(&mut self) -> &'a [u8] {
        let rest = self.rest();
        self.pos += rest.len();
        rest
    }

    fn is_empty(&self) -> bool {
        self.rest().is_empty()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], PduError> {
        let rest = self.rest();
        match rest.get(..n) {
            Some(bytes) => {
                self.pos += n;
                Ok(bytes)
            }
            None => Err(PduError::Truncated {
                needed: n - rest.len(),
            }),
        }
    }

    fn u8(&mut self) -> Result<u8, PduError> {
        let b = self.take(1)?;
        Ok(b.first().copied().unwrap_or_default())
    }

    fn u16(&mut self) -> Result<u16, PduError> {
        let b = self.take(2)?;
        let mut a = [0u8; 2];
        a.copy_from_slice(b);
        Ok(u16::from_be_bytes(a))
    }

    fn u32(&mut self) -> Result<u32, PduError> {
        let b = self.take(4)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(u32::from_be_bytes(a))
    }

    /// A C-octet string of at most `max` octets including its NUL.
    fn c_string(&mut self, field: &'static str, max: usize) -> Result<String, PduError> {
        let rest = self.rest();
        match rest.iter().take(max).position(|&b| b == 0) {
            Some(nul) => {
                let s = String::from_utf8_lossy(rest.get(..nul).unwrap_or_default()).into_owned();
                self.pos += nul + 1;
                Ok(s)
            }
            None if rest.len() < max => Err(PduError::Truncated { needed: 1 }),
            None => Err(PduError::Unterminated(field)),
        }
    }

    fn tlvs(&mut self) -> Result<Vec<Tlv>, PduError> {
        let mut tlvs = Vec::new();
        while !self.is_empty() {
            let tag = self.u16().map_err(|_| PduError::BadTlv)?;
            let len = self.u16().map_err(|_| PduError::BadTlv)?;
            let value = self.take(len as usize).map_err(|_| PduError::BadTlv)?;
            tlvs.push(Tlv {
                tag,
                value: value.to_vec(),
            });
        }
        Ok(tlvs)
    }

    fn sm(&mut self) -> Result<SmBody, PduError> {
        let mut sm = SmBody {
            service_type: self.c_string("service_type", MAX_SERVICE_TYPE)?,
            source_addr_ton: self.u8()?,
            source_addr_npi: self.u8()?,
            source_addr: self.c_string("source_addr", MAX_ADDR)?,
            dest_addr_ton: self.u8()?,
            dest_addr_npi: self.u8()?,
            destination_addr: self.c_string("destination_addr", MAX_ADDR)?,
            esm_class: self.u8()?,
            protocol_id: self.u8()?,
            priority_flag: self.u8()?,
            schedule_delivery_time: self.c_string("schedule_delivery_time", MAX_TIME)?,
            validity_period: self.c_string("validity_period", MAX_TIME)?,
            registered_delivery: self.u8()?,
            replace_if_present_flag: self.u8()?,
            data_coding: self.u8()?,
            sm_default_msg_id: self.u8()?,
            ..SmBody::default()
        };
        let sm_length = self.u8()?;
        sm.short_message = self.take(sm_length as usize)?.to_vec();
        sm.tlvs = self.tlvs()?;
        Ok(sm)
    }
}

#[derive(Default)]
struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn bytes(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }

    fn c_string(&mut self, field: &'static str, v: &str, max: usize) -> Result<(), PduError> {
        if v.as_bytes().contains(&0) {
            return Err(PduError::InteriorNul(field));
        }
        if v.len() + 1 > max {
            return Err(PduError::TooLong {
                field,
                len: v.len() + 1,
                max,
            });
        }
        self.bytes(v.as_bytes());
        self.u8(0);
        Ok(())
    }

    fn tlvs(&mut self, tlvs: &[Tlv]) -> Result<(), PduError> {
        for t in tlvs {
            let len = u16::try_from(t.value.len()).map_err(|_| PduError::TooLong {
                field: "TLV value",
                len: t.value.len(),
                max: u16::MAX as usize,
            })?;
            self.u16(t.tag);
            self.u16(len);
            self.bytes(&t.value);
        }
        Ok(())
    }

    fn sm(&mut self, sm: &SmBody) -> Result<(), PduError> {
        self.c_string("service_type", &sm.service_type, MAX_SERVICE_TYPE)?;
        self.u8(sm.source_addr_ton);
        self.u8(sm.source_addr_npi);
        self.c_string("source_addr", &sm.source_addr, MAX_ADDR)?;
        self.u8(sm.dest_addr_ton);
        self.u8(sm.dest_addr_npi);
        self.c_string("destination_addr", &sm.destination_addr, MAX_ADDR)?;
        self.u8(sm.esm_class);
        self.u8(sm.protocol_id);
        self.u8(sm.priority_flag);
        self.c_string(
            "schedule_delivery_time",
            &sm.schedule_delivery_time,
            MAX_TIME,
        )?;
        self.c_string("validity_period", &sm.validity_period, MAX_TIME)?;
        self.u8(sm.registered_delivery);
        self.u8(sm.replace_if_present_flag);
        self.u8(sm.data_coding);
        self.u8(sm.sm_default_msg_id);
        let len = sm.short_message.len();
        if len > MAX_SHORT_MESSAGE {
            return Err(PduError::TooLong {
                field: "short_message",
                len,
                max: MAX_SHORT_MESSAGE,
            });
        }
        self.u8(len as u8);
        self.bytes(&sm.short_message);
        self.tlvs(&sm.tlvs)
    }
}

#[cfg(test)]
#[path = "pdu_tests.rs"]
mod tests;
