//! The USP (TR-369) controller: Record and Msg codec, path parser, and the MQTT and WebSocket
//! message transfer protocols.
//!
//! The codec modules are pure (bytes in, typed values out); the engine and MTP adapters own I/O.
pub mod codec;
