//! Each limit at its value decodes; one more is a typed error.
use cwmp_schema::limits::{
    MAX_BODY_BYTES, MAX_DEPTH, MAX_ELEMENTS, MAX_LIST_ENTRIES, MAX_STRING_BYTES,
};
use cwmp_schema::{decode, Body, DecodeError};

use crate::support::wrap;

/// `wrap(body)` padded with whitespace after the root element to exactly `len` bytes.
fn padded(body: &str, len: usize) -> Vec<u8> {
    let mut v = wrap(body).into_bytes();
    assert!(v.len() <= len);
    v.resize(len, b' ');
    v
}

#[test]
fn body_size_limit() {
    let body = "<cwmp:GetRPCMethods/>";
    let ok = padded(body, MAX_BODY_BYTES);
    assert_eq!(decode(&ok).unwrap().envelope.body, Body::GetRpcMethods);
    let too_big = padded(body, MAX_BODY_BYTES + 1);
    assert_eq!(
        decode(&too_big),
        Err(DecodeError::TooLarge { size: MAX_BODY_BYTES + 1, limit: MAX_BODY_BYTES })
    );
}

/// Nest `n` elements in total (Envelope = 1, Body = 2, method = 3, then `<x>`s).
fn nested(total_depth: usize) -> Vec<u8> {
    let extra = total_depth - 3;
    let inner = format!("{}{}", "<x>".repeat(extra), "</x>".repeat(extra));
    wrap(&format!("<cwmp:GetRPCMethods>{inner}</cwmp:GetRPCMethods>")).into_bytes()
}

#[test]
fn depth_limit() {
    assert_eq!(decode(&nested(MAX_DEPTH)).unwrap().envelope.body, Body::GetRpcMethods);
    assert_eq!(decode(&nested(MAX_DEPTH + 1)), Err(DecodeError::TooDeep { limit: MAX_DEPTH }));
}

/// An envelope with exactly `n` elements: the 4 of `wrap` + the method, padded with `<x/>` in
/// the method.
fn with_elements(n: usize) -> Vec<u8> {
    let fixed = 5; // Envelope, Header, ID, Body, method
    let filler = "<x/>".repeat(n - fixed);
    wrap(&format!("<cwmp:GetRPCMethods>{filler}</cwmp:GetRPCMethods>")).into_bytes()
}

#[test]
fn element_count_limit() {
    assert_eq!(decode(&with_elements(MAX_ELEMENTS)).unwrap().envelope.body, Body::GetRpcMethods);
    assert_eq!(
        decode(&with_elements(MAX_ELEMENTS + 1)),
        Err(DecodeError::TooManyElements { limit: MAX_ELEMENTS })
    );
}

fn reboot_with_key_len(len: usize) -> Vec<u8> {
    let key = "k".repeat(len);
    wrap(&format!("<cwmp:Reboot><CommandKey>{key}</CommandKey></cwmp:Reboot>")).into_bytes()
}

#[test]
fn string_length_limit() {
    match decode(&reboot_with_key_len(MAX_STRING_BYTES)).unwrap().envelope.body {
        Body::Reboot { command_key } => assert_eq!(command_key.len(), MAX_STRING_BYTES),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        decode(&reboot_with_key_len(MAX_STRING_BYTES + 1)),
        Err(DecodeError::StringTooLong {
            element: "CommandKey".into(),
            len: MAX_STRING_BYTES + 1,
            limit: MAX_STRING_BYTES
        })
    );
}

fn gpv_with_names(n: usize) -> Vec<u8> {
    let names = "<string>Device.</string>".repeat(n);
    wrap(&format!(
        "<cwmp:GetParameterValues><ParameterNames soap:arrayType=\"xsd:string[{n}]\">{names}</ParameterNames></cwmp:GetParameterValues>"
    ))
    .into_bytes()
}

#[test]
fn list_length_limit() {
    match decode(&gpv_with_names(MAX_LIST_ENTRIES)).unwrap().envelope.body {
        Body::GetParameterValues { parameter_names } => {
            assert_eq!(parameter_names.len(), MAX_LIST_ENTRIES)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        decode(&gpv_with_names(MAX_LIST_ENTRIES + 1)),
        Err(DecodeError::TooManyParameters {
            element: "ParameterNames".into(),
            count: MAX_LIST_ENTRIES + 1,
            limit: MAX_LIST_ENTRIES
        })
    );
}
