//! The CWMP (TR-069) engine: HTTP sessions with CPEs, RPC scheduling, connection requests and
//! CPE authentication.
//!
//! Parsing and serialising envelopes lives in `cwmp-schema`; storage and task semantics live in
//! `provisioning`. This crate owns the sockets and the per-session state machine.

pub mod auth;
pub mod body;
pub mod connreq;
pub mod cookie;
pub mod engine;
pub mod error;
pub mod files;
pub mod metrics;
mod provision;
pub mod rpc;
pub mod server;
mod session;

pub use engine::{is_recent_contact, Acs, AcsConfig};
pub use error::{AcsError, Blame};
