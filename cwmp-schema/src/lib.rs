//! CWMP (TR-069) message types and their wire codec.
//!
//! This crate turns the bytes of a SOAP envelope into typed messages and typed messages back
//! into bytes. It is pure: no sockets, no async runtime, no database, no logging subscriber.
//! The ACS engine (`acs`) owns I/O and session state; this crate only understands envelopes.
