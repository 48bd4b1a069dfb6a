//! The pure USP codec: bytes in, typed values out, no I/O.
//!
//! # Layout
//! - [`generated`]: prost types for USP Record and Msg 1.4, generated from `usp/proto/` and
//!   checked in (re-exported here as [`msg`] and [`record`]).
//! - [`decode_record`], [`decode_msg`], [`encode_record`], [`encode_msg`]: size-checked
//!   protobuf (de)serialization; [`Record::wrap`], [`Record::websocket_connect`],
//!   [`Record::mqtt_connect`], [`Record::disconnect`] build Records, [`Record::kind`] and
//!   [`Record::msg`] look inside one.
//! - [`request`]: builders for what a controller sends (Get, Set, Add, Delete, Operate,
//!   GetInstances, GetSupportedDM, GetSupportedProtocol, NotifyResp, Error).
//! - [`incoming`]: [`classify`] turns a received Msg into a flat, typed [`Incoming`].
//! - [`agent`]: builders for what an agent sends (Notify and responses), for test agents.
//! - [`path`]: USP path parser, display and matcher.
//! - [`version`]: protocol versions and their negotiation; [`endpoint`]: Endpoint ID checks.
//! - [`codes`]: USP error codes; [`limits`]: caps on untrusted input; [`error`]: [`UspError`].
//!
//! Records of USP 1.0–1.5 decode: fields this 1.4 schema does not know are skipped.

pub mod agent;
pub mod codes;
pub mod endpoint;
pub mod error;
pub mod generated;
pub mod incoming;
pub mod limits;
pub mod path;
mod record_impl;
pub mod request;
pub mod version;

use prost::Message as _;

pub use codes::ErrorCode;
pub use endpoint::EndpointId;
pub use error::UspError;
pub use generated::usp as msg;
pub use generated::usp::Msg;
pub use generated::usp_record as record;
pub use generated::usp_record::Record;
pub use incoming::{classify, Incoming, IncomingKind};
pub use path::Path;
pub use record_impl::RecordKind;
pub use version::UspVersion;

/// Decodes a serialized USP Record, after checking its size against
/// [`limits::MAX_RECORD_BYTES`].
///
/// # Errors
/// [`UspError::RecordTooLarge`] or [`UspError::RecordDecode`]; both map to USP error 7100.
pub fn decode_record(bytes: &[u8]) -> Result<Record, UspError> {
    if bytes.len() > limits::MAX_RECORD_BYTES {
        return Err(UspError::RecordTooLarge { size: bytes.len(), max: limits::MAX_RECORD_BYTES });
    }
    Record::decode(bytes).map_err(UspError::RecordDecode)
}

/// Decodes a serialized USP Msg, after checking its size against [`limits::MAX_MSG_BYTES`].
///
/// # Errors
/// [`UspError::MsgTooLarge`] or [`UspError::MsgDecode`].
pub fn decode_msg(bytes: &[u8]) -> Result<Msg, UspError> {
    if bytes.len() > limits::MAX_MSG_BYTES {
        return Err(UspError::MsgTooLarge { size: bytes.len(), max: limits::MAX_MSG_BYTES });
    }
    Msg::decode(bytes).map_err(UspError::MsgDecode)
}

/// Serializes a Record.
#[must_use]
pub fn encode_record(record: &Record) -> Vec<u8> {
    record.encode_to_vec()
}

/// Serializes a Msg.
#[must_use]
pub fn encode_msg(msg: &Msg) -> Vec<u8> {
    msg.encode_to_vec()
}

/// The msg_id of a Msg, or `""` if it has no header.
#[must_use]
pub fn msg_id(msg: &Msg) -> &str {
    msg.header.as_ref().map_or("", |h| h.msg_id.as_str())
}
