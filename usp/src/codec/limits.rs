//! Hard limits on untrusted input, checked before anything is allocated for it.
//!
//! Every limit is inclusive: an input exactly at the limit is accepted, one unit more is
//! rejected. Tests cover both sides of each limit.

/// Largest serialized USP Record accepted by [`decode_record`](super::decode_record).
///
/// Checked on the byte length before protobuf decoding starts. An MTP adapter should apply the
/// same cap (e.g. MQTT maximum packet size, WebSocket maximum message size) so that larger
/// frames are never buffered in the first place.
pub const MAX_RECORD_BYTES: usize = 4 * 1024 * 1024;

/// Largest serialized USP Msg accepted by [`decode_msg`](super::decode_msg).
pub const MAX_MSG_BYTES: usize = MAX_RECORD_BYTES;

/// Longest USP path (in bytes) accepted by the path parser.
pub const MAX_PATH_BYTES: usize = 2048;

/// Most segments (names, instance identifiers) in one path.
pub const MAX_PATH_SEGMENTS: usize = 64;

/// Most bracketed search / unique-key expressions in one path.
pub const MAX_PATH_EXPRESSIONS: usize = 8;

/// Most `&&`-joined components in one bracketed expression.
pub const MAX_EXPRESSION_COMPONENTS: usize = 16;

/// Longest single object, parameter, command or event name (TR-106 names are at most 256).
pub const MAX_NAME_BYTES: usize = 256;

/// Most entries considered in a comma-separated USP version list; the rest is ignored.
pub const MAX_VERSION_LIST_ENTRIES: usize = 32;

/// How many characters of an offending input an error message quotes.
pub const MAX_ERROR_CONTEXT_CHARS: usize = 80;

/// Longest Endpoint ID instance-id, in characters (a `%HH` escape counts as one); TR-369
/// R-ARC.6.
pub const MAX_ENDPOINT_INSTANCE_CHARS: usize = 50;

/// Longest Endpoint ID authority-id for the `self`, `user`, `proto` and `doc` schemes.
pub const MAX_ENDPOINT_AUTHORITY_CHARS: usize = 6;
