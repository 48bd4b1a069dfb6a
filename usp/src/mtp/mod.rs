//! Message transfer protocols: thin adapters between sockets and the [`Usp`](crate::Usp)
//! engine.
//!
//! - [`ws`]: the WebSocket MTP served by `acsd` (agents connect to `/usp` with subprotocol
//!   `v1.usp`).
//! - [`mqtt`]: an MQTT 5 client of an external broker, serving MQTT 5 and 3.1.1 agents.

pub mod mqtt;
pub mod ws;

/// Resolves once `shutdown` turns true (or its sender is gone).
pub(crate) async fn stopped(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|v| *v).await;
}
