//! Integration tests of the `usp` crate (one test binary).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod codegen;
mod corpus;
mod engine;
mod fixtures;
mod mqtt;
mod robustness;
mod roundtrip;
