//! Device registry, durable tasks and provisioning, independent of any wire protocol.
//!
//! `provisioning` stores devices, their parameter cache, tasks, faults and files in SQLite or
//! PostgreSQL, and speaks only in protocol-neutral terms: parameter paths, values and tasks.
//! It knows nothing of HTTP, SOAP or protobuf; `acs` and `usp` translate to and from the wire.
