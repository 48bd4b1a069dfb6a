//! CWMP (TR-069) message types and their wire codec.
//!
//! This crate turns the bytes of a SOAP envelope into typed messages and typed messages back
//! into bytes. It is pure: no sockets, no async runtime, no database, no logging subscriber.
//! The ACS engine (`acs`) owns I/O and session state; this crate only understands envelopes.
//! An empty HTTP body (a CPE's "empty POST") is not a CWMP message and is not handled here.
//!
//! # Layout
//! - [`types`]: [`Envelope`], [`Header`], [`Body`] (every RPC of CWMP 1.0–1.4 in both
//!   directions, plus SOAP faults) and the structures they carry.
//! - [`codes`]: [`CwmpVersion`], [`EventCode`], [`ValueType`], [`FaultCode`].
//! - [`decode()`]: a tolerant decoder over `&[u8]` built on quick-xml's event reader. It matches
//!   elements by local name with any prefix, reports the `cwmp-1-N` namespace used, and
//!   returns the quirks it tolerated as [`Warning`]s. It fails only where a message is
//!   meaningless ([`DecodeError`]).
//! - [`encode()`]: a strict encoder with fixed prefixes (`soap-env`, `soap-enc`, `xsd`, `xsi`,
//!   `cwmp`), no XML declaration, `xsi:type` on every value and exact `arrayType` counts.
//! - [`limits`]: the hard caps on untrusted input.
//!
//! # Example
//! ```
//! use cwmp_schema::{decode, encode, Body, CwmpVersion, Envelope};
//!
//! let reply = Envelope::new(Some("42".into()), Body::InformResponse { max_envelopes: 1 });
//! let bytes = encode(&reply, CwmpVersion::V1_2);
//! let decoded = decode(&bytes).expect("our own output decodes");
//! assert_eq!(decoded.envelope, reply);
//! assert_eq!(decoded.version, CwmpVersion::V1_2);
//! ```

pub mod codes;
mod datetime;
mod decode;
mod encode;
pub mod error;
pub mod limits;
pub mod types;
mod warning;

pub use codes::{parse_bool, CwmpVersion, EventCode, FaultCode, ValueType};
pub use decode::{decode, decode_with_charset, Decoded};
pub use encode::{encode, encode_into};
pub use error::DecodeError;
pub use types::*;
pub use warning::Warning;
