//! Device registry, durable tasks and provisioning, independent of any wire protocol.
//!
//! `provisioning` stores devices, their parameter cache, tasks, faults, file metadata, API
//! tokens and settings in SQLite or PostgreSQL, and speaks only in protocol-neutral terms:
//! parameter paths, values and tasks. It knows nothing of HTTP, SOAP or protobuf; `acs` and
//! `usp` translate to and from the wire.
//!
//! # Layout
//! * [`model`] — devices, parameters, faults, files, tokens, telemetry.
//! * [`task`] — [`TaskSpec`] (GenieACS task JSON shape), [`Task`], statuses and validation.
//! * [`store`] — the [`Store`] trait and [`open`] (`sqlite:…` or `postgres://…`, runs migrations).
//! * `sqlite` / `postgres` — the two implementations ([`SqliteStore`], [`PgStore`]); their SQL
//!   is shared through a macro in `sql`. Migrations live in `migrations/{sqlite,postgres}/`.
//! * [`equipment`] — service equipment, its protocol-neutral [`Profile`] (WiFi, SIP, extras),
//!   provisioning status and audit rows; secrets are redacted on every way out.
//! * [`matching`] — serial (GPON forms) and MAC normalisation, MAC paths per data model.
//! * [`mapping`] — profile → parameter paths for TR-098 / TR-181 (TR-104 v1 and v2), with
//!   instance discovery; [`overrides`] — vendor overrides data file.
//! * [`rules`] — declarative rules (JSONLogic preconditions via [`jsonlogic`], path patterns,
//!   cron windows); [`plan`] — [`ProvisionRun`], the protocol-neutral state machine an engine
//!   drives to apply rules and push a profile in one contact.
//! * [`write_behind`] — [`WriteBehind`], batching Inform telemetry into one transaction.
//! * [`error`] — [`StoreError`].
//!
//! Times are `time::OffsetDateTime` (UTC) in the API and unix milliseconds in both databases.

pub mod equipment;
pub mod error;
pub mod jsonlogic;
pub mod mapping;
pub mod matching;
pub mod model;
pub mod overrides;
pub mod plan;
mod postgres;
pub mod rules;
mod sql;
mod sql_prov;
mod sqlite;
pub mod store;
pub mod task;
pub mod write_behind;

pub use equipment::{
    AuditEntry, AuditFilter, Equipment, EquipmentFilter, EquipmentKind, NewAudit, NewEquipment,
    Profile, ProvisioningState, ProvisioningStatus,
};
pub use error::{Result, StoreError};
pub use model::{
    cwmp_device_id, ApiToken, DataModel, Device, DeviceFilter, Fault, FaultFilter, FileMeta,
    NewFault, Parameter, Protocol, Telemetry,
};
pub use plan::{EquipmentJob, Need, ProvisionRun, RunFault, RunOutcome};
pub use postgres::PgStore;
pub use rules::{DeviceFacts, Rule};
pub use sqlite::SqliteStore;
pub use store::{open, Store};
pub use task::{
    DuOperation, NewTask, ParameterValueTuple, SetAttributes, Task, TaskFault, TaskFilter,
    TaskSpec, TaskStatus, TimeWindow,
};
pub use write_behind::WriteBehind;

/// Re-exported so implementors and callers name the same `async_trait`.
pub use async_trait::async_trait;
