//! Untrusted bytes and paths: size limits, unknown fields from newer versions, and no panics
//! on anything.

use proptest::prelude::*;
use prost::Message as _;

use usp::codec::limits::{MAX_MSG_BYTES, MAX_RECORD_BYTES};
use usp::codec::path::{MatchMode, Path};
use usp::codec::record::{record::RecordType, NoSessionContextRecord};
use usp::codec::{classify, decode_msg, decode_record, encode_record, request, Record};
use usp::{ErrorCode, UspError};

fn record_with_payload(len: usize) -> Record {
    Record {
        version: "1.3".into(),
        to_id: "self::acsd".into(),
        from_id: "proto::agent".into(),
        record_type: Some(RecordType::NoSessionContext(NoSessionContextRecord {
            payload: vec![0x42; len],
        })),
        ..Record::default()
    }
}

/// A Record whose encoding is exactly `target` bytes long.
fn record_of_size(target: usize) -> Vec<u8> {
    let overhead = encode_record(&record_with_payload(0)).len();
    let mut len = target - overhead;
    loop {
        let bytes = encode_record(&record_with_payload(len));
        match bytes.len().cmp(&target) {
            std::cmp::Ordering::Equal => return bytes,
            std::cmp::Ordering::Greater => len -= bytes.len() - target,
            std::cmp::Ordering::Less => len += target - bytes.len(),
        }
    }
}

#[test]
fn record_size_limit() {
    let at = record_of_size(MAX_RECORD_BYTES);
    assert_eq!(at.len(), MAX_RECORD_BYTES);
    assert!(decode_record(&at).is_ok());

    let mut over = at.clone();
    over.push(0);
    let err = decode_record(&over).unwrap_err();
    assert!(
        matches!(err, UspError::RecordTooLarge { size, max } if size == MAX_RECORD_BYTES + 1 && max == MAX_RECORD_BYTES)
    );
    assert_eq!(err.usp_code(), ErrorCode::RecordNotParsed);
}

fn msg_of_size(target: usize) -> Vec<u8> {
    let make = |len: usize| request::get("m", ["D".repeat(len)], 0).encode_to_vec();
    let mut len = target - make(0).len();
    loop {
        let bytes = make(len);
        match bytes.len().cmp(&target) {
            std::cmp::Ordering::Equal => return bytes,
            std::cmp::Ordering::Greater => len -= bytes.len() - target,
            std::cmp::Ordering::Less => len += target - bytes.len(),
        }
    }
}

#[test]
fn msg_size_limit() {
    let at = msg_of_size(MAX_MSG_BYTES);
    assert_eq!(at.len(), MAX_MSG_BYTES);
    assert!(decode_msg(&at).is_ok());
    let mut over = at;
    over.push(0);
    assert!(matches!(decode_msg(&over), Err(UspError::MsgTooLarge { .. })));
}

/// Appends an unknown length-delimited field, an unknown varint field and an unknown fixed32
/// field, as a USP 1.5+ sender might.
fn with_unknown_fields(mut bytes: Vec<u8>) -> Vec<u8> {
    // field 14, wire type 2 (length-delimited), 3 bytes
    bytes.extend_from_slice(&[(14 << 3) | 2, 3, b'n', b'e', b'w']);
    // field 15, wire type 0 (varint) 300
    bytes.extend_from_slice(&[(15 << 3), 0xac, 0x02]);
    // field 99 (two-byte tag), wire type 5 (fixed32)
    bytes.extend_from_slice(&[((99 << 3) | 5) as u8 | 0x80, (99 >> 4) as u8, 1, 2, 3, 4]);
    bytes
}

#[test]
fn newer_versions_unknown_fields_are_ignored() {
    let msg = request::get("g-1", ["Device.DeviceInfo."], 0);
    let record = Record::wrap("proto::agent", "self::acsd", "1.5", &msg);
    let decoded = decode_record(&with_unknown_fields(encode_record(&record))).unwrap();
    assert_eq!(decoded, record);
    assert_eq!(decoded.version, "1.5");
    assert_eq!(decoded.msg().unwrap(), msg);

    // Unknown fields inside the Msg payload too.
    let mut record = record;
    if let Some(RecordType::NoSessionContext(r)) = &mut record.record_type {
        r.payload = with_unknown_fields(std::mem::take(&mut r.payload));
    }
    let decoded = decode_record(&encode_record(&record)).unwrap();
    assert_eq!(decoded.msg().unwrap(), msg);
}

#[test]
fn every_record_version_decodes() {
    let msg = request::notify_resp("n", "s");
    for version in ["1.0", "1.1", "1.2", "1.3", "1.4", "1.5"] {
        let record = Record::wrap("a", "b", version, &msg);
        let decoded = decode_record(&encode_record(&record)).unwrap();
        assert_eq!(decoded.version, version);
        assert_eq!(decoded.msg().unwrap(), msg);
    }
}

#[test]
fn deeply_nested_garbage_is_rejected() {
    // Nested length-delimited field 2 (body) claiming ever more depth: prost's recursion
    // limit turns this into an error instead of a stack overflow.
    let mut bytes: Vec<u8> = Vec::new();
    for _ in 0..200 {
        let mut outer = vec![(2 << 3) | 2];
        let len = bytes.len();
        let mut l = len;
        loop {
            let b = (l & 0x7f) as u8;
            l >>= 7;
            if l == 0 {
                outer.push(b);
                break;
            }
            outer.push(b | 0x80);
        }
        outer.extend_from_slice(&bytes);
        bytes = outer;
    }
    let _ = decode_msg(&bytes);
    let _ = decode_record(&bytes);
}

fn exercise_record(bytes: &[u8]) {
    if let Ok(record) = decode_record(bytes) {
        let _ = record.kind();
        if let Ok(msg) = record.msg() {
            let _ = classify(msg);
        }
        let _ = encode_record(&record);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        exercise_record(&bytes);
        if let Ok(msg) = decode_msg(&bytes) {
            let _ = classify(msg);
        }
    }

    #[test]
    fn mutated_records_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let msg = request::operate("op-1", "Device.Reboot()", "k", true, [("a", "b")]);
        let mut bytes = encode_record(&Record::wrap("proto::agent", "self::acsd", "1.3", &msg));
        for (index, value) in flips {
            let i = index.index(bytes.len());
            bytes[i] ^= value;
        }
        exercise_record(&bytes);
        let cut = cut.index(bytes.len());
        exercise_record(&bytes[..cut]);
    }

    #[test]
    fn random_paths_never_panic(input in ".{0,80}") {
        let _ = Path::parse(&input);
        let _ = Path::parse_supported(&input);
        let _ = Path::parse_concrete(&input);
    }

    #[test]
    fn pathlike_inputs_round_trip(input in r##"[A-Da-d0-3_.*\[\]=!~<>&"#+(){}%, -]{0,60}"##) {
        if let Ok(path) = Path::parse(&input) {
            let shown = path.to_string();
            let reparsed = Path::parse(&shown).unwrap();
            prop_assert_eq!(&reparsed, &path);
            prop_assert_eq!(reparsed.to_string(), shown);
            let _ = path.matches("Device.A.1.B", MatchMode::Subtree);
            let _ = path.matches_with("Device.A.1.B", MatchMode::Exact, |_, _| Some("1".into()));
        }
    }

    #[test]
    fn generated_paths_parse_and_round_trip(
        names in proptest::collection::vec("[A-Za-z_][A-Za-z0-9_]{0,8}", 1..6),
        instances in proptest::collection::vec(0u8..5, 1..6),
        tail in 0u8..4,
    ) {
        let mut s = String::from("Device");
        for (name, inst) in names.iter().zip(instances.iter().cycle()) {
            s.push('.');
            s.push_str(name);
            match inst {
                0 => {}
                1 => s.push_str(".*"),
                2 => s.push_str(".7"),
                3 => s.push_str(r#".[Alias=="a%22b"&&N>=-3]"#),
                _ => s.push_str("#2+"),
            }
        }
        match tail {
            0 => s.push('.'),
            1 => s.push_str(".Param"),
            2 => s.push_str(".Run()"),
            _ => s.push_str(".Fired!"),
        }
        let path = Path::parse(&s).unwrap();
        prop_assert_eq!(path.to_string(), s);
    }
}
