//! Structured messages (via `arbitrary`) through encode -> decode -> encode -> decode.
//!
//! The first decode may normalise (trim identifiers, strip a leading dot from names); from
//! then on the value must be stable, and our own output must always decode, except for an
//! Inform without OUI/SerialNumber, which the decoder rejects by design.
#![no_main]

use cwmp_schema::{decode, encode, CwmpVersion, DecodeError, Envelope};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Envelope, CwmpVersion)| {
    let (envelope, version) = input;
    let bytes = encode(&envelope, version);
    let first = match decode(&bytes) {
        Ok(d) => d,
        Err(DecodeError::MissingDeviceId { .. }) => return,
        Err(e) => panic!("own encoding failed to decode: {e}\n{}", String::from_utf8_lossy(&bytes)),
    };
    assert_eq!(first.version, version);
    assert_eq!(first.envelope.body.method_name(), envelope.body.method_name());
    let again = encode(&first.envelope, version);
    let second = match decode(&again) {
        Ok(d) => d,
        Err(e) => panic!("re-encoding failed to decode: {e}"),
    };
    assert_eq!(second.envelope, first.envelope);
});
