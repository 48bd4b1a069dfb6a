//! Hard limits on untrusted input, checked before the decoder allocates for it.
//!
//! Each limit is inclusive: a body of exactly [`MAX_BODY_BYTES`] is accepted, one byte more
//! is rejected. They are generous for real CPEs (the biggest real Informs and
//! GetParameterValuesResponses are a few hundred KiB) and small enough that a hostile body
//! cannot make one decode cost more than a few tens of MiB.

/// Largest accepted envelope, in bytes (8 MiB).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Deepest accepted element nesting (the Envelope is depth 1). Real envelopes nest about 7.
pub const MAX_DEPTH: usize = 64;

/// Most elements accepted in one envelope (start and empty tags).
pub const MAX_ELEMENTS: usize = 400_000;

/// Longest accepted text content of one element, in bytes (1 MiB): large enough for a
/// base64-encoded certificate or config blob in a parameter value.
pub const MAX_STRING_BYTES: usize = 1024 * 1024;

/// Most entries accepted in one list (ParameterList, ParameterNames, Event, MethodList ...).
pub const MAX_LIST_ENTRIES: usize = 50_000;

/// Most namespace declarations tracked at once.
pub const MAX_NAMESPACE_BINDINGS: usize = 256;

/// Most warnings collected for one envelope; further warnings are counted, not stored.
pub const MAX_WARNINGS: usize = 256;
