//! Integration tests for `cwmp-schema`: every fixture, the typed errors, the limits, the
//! encode -> decode property tests and the fuzz-corpus replay.
#![allow(clippy::unwrap_used)]

mod corpus;
mod errors;
mod fixtures;
mod limits;
mod roundtrip;
mod support;
