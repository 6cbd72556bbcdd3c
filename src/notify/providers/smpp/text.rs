//! Message text on the wire: UCS-2 segmentation with concatenation headers, and delivery
//! receipt parsing.
//!
//! Encoding choice: every message is sent as UCS-2 (`data_coding` 0x08, big-endian UTF-16),
//! even ASCII-only text. Chinese text needs it anyway, GSM 03.38 mapping differs between SMSCs,
//! and one code path is easier to get right; the cost is 70 instead of 160 characters per
//! segment for the rare all-ASCII message.

use super::SmppReceipt;
use super::pdu::{DATA_CODING_UCS2, ESM_CLASS_DELIVERY_RECEIPT, SmBody, message_state, tag};

/// UTF-16 code units in a single (unconcatenated) UCS-2 message.
pub const UCS2_SINGLE_UNITS: usize = 70;
/// UTF-16 code units per part of a concatenated UCS-2 message (140 octets − 6-octet UDH).
pub const UCS2_PART_UNITS: usize = 67;
/// Length of the concatenation User Data Header built by [`concat_udh`].
pub const UDH_LEN: usize = 6;

/// Splits `text` into UCS-2 (big-endian UTF-16) segments, without any header: one segment of
/// up to 70 code units when the text fits, otherwise parts of up to 67 code units each, to be
/// sent with a [`concat_udh`] in front. A "character" is a UTF-16 code unit, as handsets count
/// them: a character outside the BMP (emoji, rare CJK) is a surrogate pair and takes two; a
/// pair is never split across parts (the part ends one unit early instead). An empty text
/// gives one empty segment.
pub fn split_ucs2(text: &str) -> Vec<Vec<u8>> {
    let units: Vec<u16> = text.encode_utf16().collect();
    if units.len() <= UCS2_SINGLE_UNITS {
        return vec![to_be_bytes(&units)];
    }
    let mut parts = Vec::new();
    let mut rest = units.as_slice();
    while !rest.is_empty() {
        let mut end = rest.len().min(UCS2_PART_UNITS);
        if end < rest.len() && rest.get(end - 1).is_some_and(|&u| is_high_surrogate(u)) {
            end -= 1;
        }
        let (part, tail) = rest.split_at(end);
        parts.push(to_be_bytes(part));
        rest = tail;
    }
    parts
}

/// The 6-octet User Data Header of a concatenated SMS part (3GPP TS 23.040 §9.2.3.24.1):
/// UDHL 5, IEI 0x00 (8-bit reference), IEDL 3, reference, total parts, this part (from 1).
pub fn concat_udh(reference: u8, total: u8, seq: u8) -> [u8; UDH_LEN] {
    [0x05, 0x00, 0x03, reference, total, seq]
}

/// Decodes big-endian UTF-16 (an odd trailing octet or a lone surrogate becomes U+FFFD).
pub fn decode_ucs2(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks(2)
        .map(|c| match c {
            [a, b] => u16::from_be_bytes([*a, *b]),
            _ => 0xFFFD,
        })
        .collect();
    String::from_utf16_lossy(&units)
}

fn to_be_bytes(units: &[u16]) -> Vec<u8> {
    units.iter().flat_map(|u| u.to_be_bytes()).collect()
}

fn is_high_surrogate(unit: u16) -> bool {
    (0xD800..=0xDBFF).contains(&unit)
}

/// The delivery receipt carried by a deliver_sm, if it is one (`esm_class` & 0x04). The
/// `receipted_message_id` and `message_state` TLVs are preferred; either missing is taken from
/// the SMSC's receipt text (`id:… sub:… dlvrd:… submit date:… done date:… stat:DELIVRD err:…`,
/// SMPP 3.4 Appendix B). `None` when it is not a receipt or names no message id.
pub fn parse_receipt(sm: &SmBody) -> Option<SmppReceipt> {
    if sm.esm_class & ESM_CLASS_DELIVERY_RECEIPT == 0 {
        return None;
    }
    let tlv_id = sm
        .tlv(tag::RECEIPTED_MESSAGE_ID)
        .map(|v| {
            let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
            String::from_utf8_lossy(v.get(..end).unwrap_or_default())
                .trim()
                .to_owned()
        })
        .filter(|id| !id.is_empty());
    let tlv_state = sm.tlv(tag::MESSAGE_STATE).and_then(|v| match v {
        [state] => Some(*state),
        _ => None,
    });
    let (text_id, text_state) = if tlv_id.is_none() || tlv_state.is_none() {
        let text = if sm.data_coding == DATA_CODING_UCS2 {
            decode_ucs2(&sm.short_message)
        } else {
            String::from_utf8_lossy(&sm.short_message).into_owned()
        };
        parse_receipt_text(&text)
    } else {
        (None, None)
    };
    let message_id = tlv_id.or(text_id)?;
    let state = tlv_state.or(text_state).unwrap_or(message_state::UNKNOWN);
    Some(SmppReceipt {
        message_id,
        delivered: state == message_state::DELIVERED,
        state,
    })
}

/// Extracts `id:` and `stat:` from receipt text (case-insensitive keys; stops at `text:`,
/// which holds the start of the original message and could contain anything).
pub fn parse_receipt_text(text: &str) -> (Option<String>, Option<u8>) {
    let mut id = None;
    let mut state = None;
    for token in text.split_whitespace() {
        let lower = token.to_ascii_lowercase();
        if lower.starts_with("text:") {
            break;
        }
        if let Some(value) = token.get(3..).filter(|_| lower.starts_with("id:")) {
            if !value.is_empty() && id.is_none() {
                id = Some(value.to_owned());
            }
        } else if let Some(value) = token.get(5..).filter(|_| lower.starts_with("stat:")) {
            state = state.or(stat_to_state(value));
        }
    }
    (id, state)
}

/// Maps the 7-letter receipt `stat:` word to its `message_state` value.
pub fn stat_to_state(stat: &str) -> Option<u8> {
    Some(match stat.to_ascii_uppercase().as_str() {
        "ENROUTE" => message_state::ENROUTE,
        "DELIVRD" => message_state::DELIVERED,
        "EXPIRED" => message_state::EXPIRED,
        "DELETED" => message_state::DELETED,
        "UNDELIV" => message_state::UNDELIVERABLE,
        "ACCEPTD" => message_state::ACCEPTED,
        "UNKNOWN" => message_state::UNKNOWN,
        "REJECTD" => message_state::REJECTED,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::pdu::Tlv;
    use super::*;

    fn units(part: &[u8]) -> Vec<u16> {
        part.chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect()
    }

    #[test]
    fn seventy_characters_fit_one_message() {
        let text = "审".repeat(70);
        let parts = split_ucs2(&text);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].len(), 140);
        assert_eq!(decode_ucs2(&parts[0]), text);
        assert_eq!(&parts[0][..2], &[0x5B, 0xA1]); // 审 U+5BA1, big-endian
    }

    #[test]
    fn seventy_one_characters_make_67_plus_4() {
        let text = "批".repeat(71);
        let parts = split_ucs2(&text);
        assert_eq!(
            parts.iter().map(|p| p.len() / 2).collect::<Vec<_>>(),
            [67, 4]
        );
        let joined: String = parts.iter().map(|p| decode_ucs2(p)).collect();
        assert_eq!(joined, text);
    }

    #[test]
    fn surrogate_pairs_are_not_split() {
        // 66 BMP characters then an emoji: its pair would straddle units 67/68.
        let text = format!("{}😀{}", "办".repeat(66), "结".repeat(10));
        let parts = split_ucs2(&text);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].len() / 2, 66);
        assert_eq!(parts[1].len() / 2, 12);
        for p in &parts {
            assert!(
                String::from_utf16(&units(p)).is_ok(),
                "a part splits a pair"
            );
        }
        assert_eq!(
            parts.iter().map(|p| decode_ucs2(p)).collect::<String>(),
            text
        );

        // An emoji ending exactly at unit 67 stays whole in the first part.
        let text = format!("{}😀{}", "办".repeat(65), "结".repeat(10));
        let parts = split_ucs2(&text);
        assert_eq!(parts[0].len() / 2, 67);
        assert!(String::from_utf16(&units(&parts[0])).is_ok());
    }

    #[test]
    fn empty_and_exact_multiples() {
        assert_eq!(split_ucs2(""), vec![Vec::<u8>::new()]);
        let parts = split_ucs2(&"a".repeat(134));
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.len() == 134));
        assert_eq!(concat_udh(9, 2, 1), [5, 0, 3, 9, 2, 1]);
    }

    fn receipt_sm(text: &str, tlvs: Vec<Tlv>) -> SmBody {
        SmBody {
            esm_class: ESM_CLASS_DELIVERY_RECEIPT,
            short_message: text.as_bytes().to_vec(),
            tlvs,
            ..SmBody::default()
        }
    }

    #[test]
    fn receipt_tlvs_are_preferred() {
        let sm = receipt_sm(
            "id:text-id sub:001 dlvrd:000 submit date:2401010000 done date:2401010001 stat:UNDELIV err:001 text:",
            vec![
                Tlv::c_string(tag::RECEIPTED_MESSAGE_ID, "tlv-id"),
                Tlv::new(tag::MESSAGE_STATE, vec![message_state::DELIVERED]),
            ],
        );
        assert_eq!(
            parse_receipt(&sm),
            Some(SmppReceipt {
                message_id: "tlv-id".into(),
                delivered: true,
                state: 2
            })
        );
    }

    #[test]
    fn receipt_text_is_the_fallback() {
        let sm = receipt_sm(
            "id:0000012345 sub:001 dlvrd:000 submit date:2401010000 done date:2401010001 stat:UNDELIV err:001 text:id:x stat:DELIVRD",
            vec![],
        );
        let r = parse_receipt(&sm).unwrap();
        assert_eq!(r.message_id, "0000012345");
        assert_eq!(r.state, message_state::UNDELIVERABLE);
        assert!(!r.delivered);

        // Mixed: id from the TLV, state from the text.
        let sm = receipt_sm(
            "id:other stat:REJECTD",
            vec![Tlv::c_string(tag::RECEIPTED_MESSAGE_ID, "abc")],
        );
        let r = parse_receipt(&sm).unwrap();
        assert_eq!((r.message_id.as_str(), r.state), ("abc", 8));

        // Not a receipt, or no id at all.
        let mut mo = receipt_sm("id:1 stat:DELIVRD", vec![]);
        mo.esm_class = 0;
        assert_eq!(parse_receipt(&mo), None);
        assert_eq!(parse_receipt(&receipt_sm("stat:DELIVRD", vec![])), None);
        assert_eq!(stat_to_state("expired"), Some(3));
        assert_eq!(stat_to_state("DELETED"), Some(4));
    }
}
