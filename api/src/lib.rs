//! The `acsd` process: configuration, REST API, admin UI, metrics and lifecycle.
//!
//! This crate wires `acs`, `usp` and `provisioning` together. It owns HTTP/JSON for operators
//! and nothing of the device protocols.
