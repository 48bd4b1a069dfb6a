//! The crate's error type.
//!
//! Each variant says whose fault it is: the peer's (bad bytes, bad paths, unsupported record
//! kinds) or the caller's (builder input). [`UspError::usp_code`] gives the USP error code to
//! report back to the peer when a reply is possible.

use super::codes::ErrorCode;
use super::path::PathErrorKind;

/// Errors of the `usp` crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UspError {
    /// A Record larger than [`MAX_RECORD_BYTES`](super::limits::MAX_RECORD_BYTES) (peer's fault).
    #[error("record of {size} bytes exceeds the limit of {max} bytes")]
    RecordTooLarge {
        /// Size of the offered bytes.
        size: usize,
        /// The limit in force.
        max: usize,
    },

    /// A Msg larger than [`MAX_MSG_BYTES`](super::limits::MAX_MSG_BYTES) (peer's fault).
    #[error("message of {size} bytes exceeds the limit of {max} bytes")]
    MsgTooLarge {
        /// Size of the offered bytes.
        size: usize,
        /// The limit in force.
        max: usize,
    },

    /// The bytes are not a protobuf USP Record (peer's fault).
    #[error("undecodable record: {0}")]
    RecordDecode(#[source] prost::DecodeError),

    /// The bytes are not a protobuf USP Msg (peer's fault).
    #[error("undecodable message: {0}")]
    MsgDecode(#[source] prost::DecodeError),

    /// A structurally required part is absent, e.g. a Record without a record type or a Msg
    /// without header or body (peer's fault).
    #[error("{what} has no {field}")]
    MissingField {
        /// The containing message.
        what: &'static str,
        /// The absent field or oneof.
        field: &'static str,
    },

    /// A Record of a kind that carries no Msg (e.g. a Connect record) was asked for its Msg.
    #[error("a {record_type} record carries no message")]
    NoPayload {
        /// The record type present.
        record_type: &'static str,
    },

    /// End-to-end session context records are not supported by this controller (peer's choice).
    #[error("session context records are not supported")]
    SessionContextNotSupported,

    /// A malformed USP path, or one that does not fit where it is used.
    #[error("{kind} at byte {offset} of path {path:?}")]
    Path {
        /// What is wrong.
        kind: PathErrorKind,
        /// Byte offset in the path where the problem was found.
        offset: usize,
        /// The path (truncated to a few dozen characters).
        path: String,
    },

    /// A malformed USP protocol version string.
    #[error("invalid USP version {0:?}")]
    Version(String),

    /// A malformed USP Endpoint ID.
    #[error("invalid endpoint id {id:?}: {reason}")]
    EndpointId {
        /// The ID (truncated).
        id: String,
        /// What is wrong.
        reason: &'static str,
    },

    /// A search path was matched without a way to read the data its expressions test, or
    /// with reference following that can only be resolved against the agent's data.
    #[error("path {0:?} needs agent data to be matched")]
    NeedsData(String),

    /// The store failed (ours or the database's).
    #[cfg(feature = "engine")]
    #[error("storage: {0}")]
    Storage(#[from] provisioning::StoreError),

    /// The agent has no MTP route right now (offline, or its connection closed).
    #[error("agent {0} is not connected")]
    NotConnected(String),

    /// The agent did not answer a request in time.
    #[error("agent {agent} did not answer {request} in time")]
    Timeout {
        /// The agent's endpoint id.
        agent: String,
        /// The request's message name.
        request: &'static str,
    },

    /// A message transfer protocol (MQTT, WebSocket) failed.
    #[error("mtp: {0}")]
    Mtp(String),

    /// Invalid engine or MTP configuration (the operator's).
    #[error("configuration: {0}")]
    Config(String),
}

impl UspError {
    /// The USP error code to report to the peer for this error.
    #[must_use]
    pub fn usp_code(&self) -> ErrorCode {
        match self {
            Self::RecordTooLarge { .. } | Self::RecordDecode(_) => ErrorCode::RecordNotParsed,
            Self::MissingField { what: "record", .. } => ErrorCode::RecordNotParsed,
            Self::SessionContextNotSupported => ErrorCode::SessionContextNotAllowed,
            Self::MsgTooLarge { .. } => ErrorCode::ResourcesExceeded,
            Self::MsgDecode(_) | Self::MissingField { .. } | Self::NoPayload { .. } => {
                ErrorCode::MessageFailed
            }
            Self::Path { kind, .. } => kind.code(),
            Self::Version(_) => ErrorCode::InvalidArguments,
            Self::EndpointId { .. } => ErrorCode::InvalidRecordValue,
            #[cfg(feature = "engine")]
            Self::Storage(_) => ErrorCode::InternalError,
            Self::NeedsData(_)
            | Self::NotConnected(_)
            | Self::Timeout { .. }
            | Self::Mtp(_)
            | Self::Config(_) => ErrorCode::InternalError,
        }
    }

    /// Truncates untrusted input for quoting in an error message.
    pub(crate) fn excerpt(input: &str) -> String {
        let max = super::limits::MAX_ERROR_CONTEXT_CHARS;
        match input.char_indices().nth(max) {
            Some((cut, _)) => format!("{}…", &input[..cut]),
            None => input.to_owned(),
        }
    }
}
