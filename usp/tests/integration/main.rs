//! Integration tests of the `usp` crate (one test binary).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod codegen;
mod fixtures;
mod robustness;
mod roundtrip;
