//! The `acsd` process: configuration, REST API, metrics and lifecycle.
//!
//! This crate wires `acs`, `usp` and `provisioning` together. It owns HTTP/JSON for operators
//! and nothing of the device protocols.
//!
//! # Layout
//! - [`config`]: defaults → TOML file → `ACSD_*` environment → flags.
//! - [`server`]: opens the store, starts the CWMP engine, binds listeners, runs until shutdown.
//! - [`rest`]: the `/api/v1` routes (devices, tasks, faults, files), `/healthz`, `/readyz`,
//!   `/metrics`.
//! - [`rest_provisioning`]: equipment, profiles, provisioning status/audit, rules, overrides.
//! - [`error`]: the crate's error type, rendered as `{"error": ..., "detail": ...}`.

pub mod config;
pub mod error;
pub mod rest;
pub mod rest_provisioning;
pub mod server;

pub use config::{ConfigArgs, CpeAuth, Settings};
pub use error::ApiError;
pub use server::{start, RunningServer};
