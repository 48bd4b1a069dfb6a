//! Benchmarks and the `acs-fleet` CPE simulator for `acsd` (or any TR-069 ACS).
//!
//! # Layout
//! - [`model`]: data models (TR-098, TR-181 or your own CSV/JSON file) shared by all devices,
//!   with a small per-device overlay of what the ACS changed.
//! - [`cpe`]: one simulated CPE answering every ACS RPC (9005 for unknown names, 9008 for
//!   read-only ones, SetParameterValues applied atomically, reboot, factory reset, Download).
//! - [`http`]: a lean HTTP/1.1 client; [`digest`]: Digest and Basic auth, both sides.
//! - [`session`]: one CWMP session from the CPE side.
//! - [`fleet`]: N CPEs in one process, the connection-request listener, closed- and open-loop
//!   load; [`api`]: the few `acsd` REST calls scenarios need; [`stats`]: HDR histograms and the
//!   JSON summary.
//! - [`agents`]: M USP agents in one process over MQTT 5, MQTT 3.1.1 or WebSocket, each with
//!   the [`usp_agent`] model answering the controller's requests; [`usp_get`]: the REST → USP Get round trip; [`echo`]: the raw MQTT
//!   echo ceiling; [`load`]: closed/open-loop drivers for such round trips; [`provision`]:
//!   equipment profiles and the values a provisioned device must hold; [`report`]: reading
//!   summaries (shape check, provisioning states, the USP target).
//!
//! Binaries: `acs-fleet` (the simulator), `bare-ceiling` (a canned-answer hyper server giving
//! the machine's own limit), `bench` (the harness behind `benches/run.sh`). Criterion benches
//! live in `benches/`.

pub mod agents;
pub mod api;
pub mod cpe;
pub mod digest;
pub mod echo;
pub mod error;
pub mod fleet;
pub mod http;
pub mod load;
pub mod model;
pub mod provision;
pub mod report;
pub mod session;
pub mod stats;
pub mod usp_agent;
pub mod usp_get;

pub use error::FleetError;
