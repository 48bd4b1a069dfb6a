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
//!
//! Binaries: `acs-fleet` (the simulator), `bare-ceiling` (a canned-answer hyper server giving
//! the machine's own limit), `bench` (the harness behind `benches/run.sh`). Criterion benches
//! live in `benches/`.

pub mod api;
pub mod cpe;
pub mod digest;
pub mod error;
pub mod fleet;
pub mod http;
pub mod model;
pub mod session;
pub mod stats;

pub use error::FleetError;
