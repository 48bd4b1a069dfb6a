//! Raw bytes into the CWMP decoder. Whatever decodes must re-encode and decode again to the
//! same value (encode -> decode is the identity on decoded values).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Also exercise the HTTP-charset path on a slice of the inputs.
    let charset = match data.first() {
        Some(b) if b % 7 == 0 => Some("iso-8859-1"),
        _ => None,
    };
    let Ok(decoded) = cwmp_schema::decode_with_charset(data, charset) else {
        return;
    };
    let bytes = cwmp_schema::encode(&decoded.envelope, decoded.version);
    match cwmp_schema::decode(&bytes) {
        Ok(again) => {
            assert_eq!(again.envelope, decoded.envelope);
            assert_eq!(again.version, decoded.version);
        }
        // A decoded message is within every limit, so our encoding of it must decode.
        Err(e) => panic!("re-encoded message failed to decode: {e}"),
    }
});
