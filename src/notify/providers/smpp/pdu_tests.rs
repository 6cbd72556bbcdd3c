//! Tests of `pdu.rs`.

use super::*;

fn sample_sm() -> SmBody {
    SmBody {
        service_type: String::new(),
        source_addr_ton: ton::NATIONAL,
        source_addr_npi: npi::ISDN,
        source_addr: "10690001".into(),
        dest_addr_ton: ton::NATIONAL,
        dest_addr_npi: npi::ISDN,
        destination_addr: "13800138000".into(),
        esm_class: ESM_CLASS_UDHI,
        registered_delivery: 1,
        data_coding: DATA_CODING_UCS2,
        short_message: vec![0x05, 0x00, 0x03, 7, 2, 1, 0x4F, 0x60],
        tlvs: vec![Tlv::new(tag::SAR_MSG_REF_NUM, vec![0, 7])],
        ..SmBody::default()
    }
}

fn samples() -> Vec<Pdu> {
    vec![
        Pdu::new(
            1,
            Body::BindTransceiver(Bind {
                system_id: "fingertip".into(),
                password: "secret12".into(),
                system_type: "".into(),
                interface_version: INTERFACE_VERSION,
                addr_ton: 0,
                addr_npi: 0,
                address_range: "".into(),
            }),
        ),
        Pdu::new(
            1,
            Body::BindTransceiverResp(BindResp {
                system_id: "SMSC".into(),
                tlvs: vec![Tlv::new(0x0210, vec![0x34])],
            }),
        ),
        Pdu::new(2, Body::SubmitSm(sample_sm())),
        Pdu::new(
            2,
            Body::SubmitSmResp {
                message_id: "abc123".into(),
            },
        ),
        Pdu::new(
            3,
            Body::DeliverSm(SmBody {
                esm_class: ESM_CLASS_DELIVERY_RECEIPT,
                short_message: b"id:abc123 stat:DELIVRD".to_vec(),
                tlvs: vec![
                    Tlv::c_string(tag::RECEIPTED_MESSAGE_ID, "abc123"),
                    Tlv::new(tag::MESSAGE_STATE, vec![message_state::DELIVERED]),
                ],
                ..SmBody::default()
            }),
        ),
        Pdu::new(
            3,
            Body::DeliverSmResp {
                message_id: String::new(),
            },
        ),
        Pdu::new(4, Body::EnquireLink),
        Pdu::new(4, Body::EnquireLinkResp),
        Pdu::new(5, Body::Unbind),
        Pdu::new(5, Body::UnbindResp),
        Pdu::with_status(6, status::ESME_RINVCMDID, Body::GenericNack),
        Pdu::new(
            7,
            Body::Other {
                command_id: 0x0000_0103,
                body: vec![1, 2, 3],
            },
        ),
    ]
}

#[test]
fn every_pdu_round_trips() {
    for pdu in samples() {
        let bytes = pdu.encode().unwrap();
        assert_eq!(
            u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize,
            bytes.len()
        );
        assert_eq!(Pdu::decode(&bytes).unwrap(), pdu);
    }
}

#[test]
fn enquire_link_bytes_match_the_spec_layout() {
    let bytes = Pdu::new(0x0102_0304, Body::EnquireLink).encode().unwrap();
    assert_eq!(
        bytes,
        [0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0, 1, 2, 3, 4].to_vec()
    );
}

#[test]
fn bind_transceiver_bytes() {
    let pdu = &samples()[0];
    let bytes = pdu.encode().unwrap();
    let mut expected = vec![0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1];
    expected.extend_from_slice(b"fingertip\0secret12\0\0");
    expected.extend_from_slice(&[0x34, 0, 0, 0]);
    expected[3] = expected.len() as u8;
    assert_eq!(bytes, expected);
}

#[test]
fn every_truncation_is_an_error() {
    for pdu in samples() {
        let bytes = pdu.encode().unwrap();
        for cut in 0..bytes.len() {
            assert!(Pdu::decode(&bytes[..cut]).is_err(), "{pdu:?} cut at {cut}");
        }
    }
}

#[test]
fn submit_sm_cut_inside_its_fields_is_rejected() {
    let bytes = Pdu::new(2, Body::SubmitSm(sample_sm())).encode().unwrap();
    // Cut anywhere before the end of short_message, with command_length patched.
    let sm_end = bytes.len() - 6; // the sample has one 6-octet TLV
    for cut in HEADER_LEN..sm_end {
        let mut lying = bytes[..cut].to_vec();
        lying[..4].copy_from_slice(&(cut as u32).to_be_bytes());
        assert!(Pdu::decode(&lying).is_err(), "cut at {cut}");
    }
    // Cut inside the TLV.
    for cut in sm_end + 1..bytes.len() {
        let mut lying = bytes[..cut].to_vec();
        lying[..4].copy_from_slice(&(cut as u32).to_be_bytes());
        assert_eq!(Pdu::decode(&lying), Err(PduError::BadTlv), "cut at {cut}");
    }
}

#[test]
fn bad_lengths_are_rejected() {
    let mut bytes = Pdu::new(1, Body::EnquireLink).encode().unwrap();
    bytes[3] = 15;
    assert_eq!(Pdu::decode(&bytes), Err(PduError::InvalidLength(15)));
    bytes[3] = 17;
    assert!(matches!(
        Pdu::decode(&bytes),
        Err(PduError::LengthMismatch { .. })
    ));
    let huge = [
        0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 1,
    ];
    assert_eq!(Header::parse(&huge), Err(PduError::InvalidLength(u32::MAX)));
    assert!(frame_length(&huge).is_err());
    assert_eq!(frame_length(&huge[..10]), Ok(None));
    // enquire_link with a body.
    let mut with_body = Pdu::new(1, Body::EnquireLink).encode().unwrap();
    with_body.push(0);
    with_body[3] = 17;
    assert_eq!(Pdu::decode(&with_body), Err(PduError::TrailingBytes(1)));
}

#[test]
fn unterminated_and_oversized_strings() {
    // system_id of 16 non-NUL octets: no NUL within the 16-octet maximum.
    let mut bytes = vec![0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1];
    bytes.extend_from_slice(&[b'a'; 40]);
    let len = bytes.len() as u32;
    bytes[..4].copy_from_slice(&len.to_be_bytes());
    assert_eq!(
        Pdu::decode(&bytes),
        Err(PduError::Unterminated("system_id"))
    );

    let mut bind = match samples()[0].body.clone() {
        Body::BindTransceiver(b) => b,
        _ => unreachable!(),
    };
    bind.password = "123456789".into();
    assert!(matches!(
        Pdu::new(1, Body::BindTransceiver(bind.clone())).encode(),
        Err(PduError::TooLong {
            field: "password",
            ..
        })
    ));
    bind.password = "a\0b".into();
    assert_eq!(
        Pdu::new(1, Body::BindTransceiver(bind)).encode(),
        Err(PduError::InteriorNul("password"))
    );
    let mut sm = sample_sm();
    sm.short_message = vec![0; 255];
    assert!(Pdu::new(1, Body::SubmitSm(sm)).encode().is_err());
}

#[test]
fn error_responses_may_omit_their_body() {
    for id in [
        command_id::SUBMIT_SM_RESP,
        command_id::BIND_TRANSCEIVER_RESP,
    ] {
        let mut bytes = vec![0, 0, 0, 16];
        bytes.extend_from_slice(&id.to_be_bytes());
        bytes.extend_from_slice(&status::ESME_RTHROTTLED.to_be_bytes());
        bytes.extend_from_slice(&9u32.to_be_bytes());
        let pdu = Pdu::decode(&bytes).unwrap();
        assert_eq!(pdu.command_status, status::ESME_RTHROTTLED);
        assert_eq!(pdu.sequence_number, 9);
    }
    // A successful submit_sm_resp must carry its message_id.
    let mut ok = vec![0, 0, 0, 16];
    ok.extend_from_slice(&command_id::SUBMIT_SM_RESP.to_be_bytes());
    ok.extend_from_slice(&[0; 8]);
    assert!(Pdu::decode(&ok).is_err());
}

#[test]
fn garbage_never_panics() {
    // Deterministic pseudo-random garbage, with and without a valid-looking length.
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for round in 0..20_000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 80) as usize;
        let mut bytes: Vec<u8> = (0..len)
            .map(|i| (seed.rotate_left(i as u32 * 7) & 0xFF) as u8)
            .collect();
        if round % 2 == 0 && bytes.len() >= HEADER_LEN {
            let l = bytes.len() as u32;
            bytes[..4].copy_from_slice(&l.to_be_bytes());
            let id = [1u32, 4, 5, 6, 9, 0x15, 0x8000_0004, 0x8000_0009][round % 8];
            bytes[4..8].copy_from_slice(&id.to_be_bytes());
        }
        let _ = Pdu::decode(&bytes);
        let _ = frame_length(&bytes);
    }
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        let _ = Pdu::decode(&bytes);
    }

    #[test]
    fn arbitrary_bodies_never_panic(
        id in proptest::sample::select(vec![0u32, 1, 4, 5, 6, 9, 0x15, 0x8000_0000, 0x8000_0004, 0x8000_0005, 0x8000_0009]),
        status in 0u32..3,
        body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
    ) {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&((HEADER_LEN + body.len()) as u32).to_be_bytes());
        bytes.extend_from_slice(&id.to_be_bytes());
        bytes.extend_from_slice(&status.to_be_bytes());
        bytes.extend_from_slice(&1u32.to_be_bytes());
        bytes.extend_from_slice(&body);
        if let Ok(pdu) = Pdu::decode(&bytes) {
            // Whatever decodes re-encodes to a PDU that decodes the same.
            if let Ok(again) = pdu.encode() {
                proptest::prop_assert_eq!(Pdu::decode(&again), Ok(pdu));
            }
        }
    }
}
