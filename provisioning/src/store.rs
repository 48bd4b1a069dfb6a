//! The [`Store`] trait and [`open`].

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::equipment::{
    AuditEntry, AuditFilter, Equipment, EquipmentFilter, NewAudit, NewEquipment, Profile,
    ProvisioningStatus,
};
use crate::error::{Result, StoreError};
use crate::model::{
    ApiToken, Device, DeviceFilter, Fault, FaultFilter, FileMeta, NewFault, Parameter, Telemetry,
};
use crate::rules::Rule;
use crate::task::{NewTask, Task, TaskFilter};

/// Persistent storage for devices, parameter caches, tasks, faults, file metadata, API tokens
/// and settings. Two implementations: SQLite and PostgreSQL; use it as `Arc<dyn Store>`.
///
/// Times are UTC with millisecond precision once stored (sub-millisecond parts are truncated).
#[async_trait]
pub trait Store: Send + Sync + Debug {
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    /// Check the database answers.
    async fn ping(&self) -> Result<()>;

    // ---- devices ----

    /// Insert or fully replace a device, including its tag set and credentials.
    async fn upsert_device(&self, d: &Device) -> Result<()>;
    /// One device.
    async fn get_device(&self, id: &str) -> Result<Option<Device>>;
    /// Devices matching a filter, ordered by id.
    async fn list_devices(&self, f: &DeviceFilter) -> Result<Vec<Device>>;
    /// Every device (small fleets and tests; engines page with [`Store::devices_after`]).
    async fn all_devices(&self) -> Result<Vec<Device>>;
    /// Up to `limit` devices whose id sorts after `after` (`""`: from the start), ordered by
    /// id: a keyset page, so that loading a large fleet never holds all rows at once.
    async fn devices_after(&self, after: &str, limit: u32) -> Result<Vec<Device>>;
    /// Delete a device with its parameters, tags, tasks and faults. False if it did not exist.
    async fn delete_device(&self, id: &str) -> Result<bool>;
    /// Add a tag. False if the device already had it; [`StoreError::NotFound`] if no device.
    async fn add_tag(&self, id: &str, tag: &str) -> Result<bool>;
    /// Remove a tag. False if the device did not have it.
    async fn remove_tag(&self, id: &str, tag: &str) -> Result<bool>;

    /// Apply a batch of Inform telemetry in ONE transaction: upsert each device (see
    /// [`Telemetry`] for which fields an existing device keeps), drop its cached parameters on
    /// bootstrap, merge the parameters. Items for the same device are applied in order.
    async fn apply_telemetry(&self, batch: &[Telemetry]) -> Result<()>;

    // ---- parameters ----

    /// Merge parameters into a device's cache: for each path, fields that are `Some` replace the
    /// stored ones, `None` fields keep what is stored. [`StoreError::NotFound`] if no device.
    async fn upsert_parameters(&self, device_id: &str, params: &[Parameter]) -> Result<()>;
    /// Cached parameters whose path starts with `prefix` (`""`: all), ordered by path (bytewise).
    async fn get_parameters(&self, device_id: &str, prefix: &str) -> Result<Vec<Parameter>>;
    /// Delete cached parameters whose path starts with `prefix` (`""`: all); returns how many.
    async fn delete_parameters(&self, device_id: &str, prefix: &str) -> Result<u64>;

    // ---- tasks (committed before returning) ----

    /// Validate and queue a task, due now. [`StoreError::NotFound`] if the device does not exist,
    /// [`StoreError::Invalid`] if the spec does not validate.
    async fn insert_task(&self, t: &NewTask) -> Result<Task>;
    /// One task.
    async fn get_task(&self, id: i64) -> Result<Option<Task>>;
    /// Tasks matching a filter, ordered by id.
    async fn list_tasks(&self, f: &TaskFilter) -> Result<Vec<Task>>;
    /// Claim the device's oldest queued task with `not_before <= now`: atomically mark it
    /// `running` and increment `attempts` (so a crash mid-RPC still counts as an attempt). First
    /// marks the device's queued tasks with `expires_at <= now` as `expired`. Two concurrent
    /// callers never receive the same task.
    async fn next_due_task(&self, device_id: &str, now: OffsetDateTime) -> Result<Option<Task>>;
    /// Write back a task's mutable fields (status, attempts, max_attempts, not_before,
    /// expires_at, command_key, result, fault; `updated_at` is set to now).
    /// [`StoreError::NotFound`] if it was deleted meanwhile.
    async fn update_task(&self, t: &Task) -> Result<()>;
    /// Finish a task's RPC in ONE transaction: delete the cached parameters under each of the
    /// `forget` prefixes of the task's device, merge `learned` into its cache, then write the
    /// task back as [`Store::update_task`] does.
    async fn complete_task(&self, t: &Task, forget: &[String], learned: &[Parameter])
        -> Result<()>;
    /// Delete a task. False if it did not exist.
    async fn delete_task(&self, id: i64) -> Result<bool>;
    /// Crash recovery at startup: every `running` task back to `queued`, except those with a
    /// `command_key` (the CPE accepted a transfer and its TransferComplete is still to come;
    /// sending the RPC again would transfer twice). Returns how many were requeued.
    async fn requeue_running_tasks(&self) -> Result<u64>;
    /// Devices with at least one `queued` task (whatever its `not_before`), sorted.
    async fn devices_with_due_tasks(&self) -> Result<Vec<String>>;
    /// The newest task of this device that was sent with this CommandKey.
    async fn find_task_by_command_key(
        &self,
        device_id: &str,
        command_key: &str,
    ) -> Result<Option<Task>>;

    // ---- faults ----

    /// Record a fault.
    async fn insert_fault(&self, f: &NewFault) -> Result<Fault>;
    /// Faults matching a filter, newest first.
    async fn list_faults(&self, f: &FaultFilter) -> Result<Vec<Fault>>;
    /// Delete a fault. False if it did not exist.
    async fn delete_fault(&self, id: i64) -> Result<bool>;

    // ---- files ----

    /// Insert or replace file metadata.
    async fn put_file(&self, m: &FileMeta) -> Result<()>;
    /// One file's metadata.
    async fn get_file(&self, name: &str) -> Result<Option<FileMeta>>;
    /// All files, ordered by name.
    async fn list_files(&self) -> Result<Vec<FileMeta>>;
    /// Delete file metadata. False if it did not exist.
    async fn delete_file(&self, name: &str) -> Result<bool>;

    // ---- API tokens and settings ----

    /// Store a token (by its SHA-256 hash). [`StoreError::Conflict`] if the hash exists.
    async fn insert_api_token(&self, name: &str, token_hash: &str, role: &str) -> Result<()>;
    /// Look a token up by hash.
    async fn find_api_token(&self, token_hash: &str) -> Result<Option<ApiToken>>;
    /// How many tokens exist.
    async fn count_api_tokens(&self) -> Result<u64>;
    /// Read a setting.
    async fn get_setting(&self, key: &str) -> Result<Option<String>>;
    /// Write a setting.
    async fn set_setting(&self, key: &str, value: &str) -> Result<()>;

    // ---- equipment and provisioning (committed before returning) ----

    /// Validate, normalise (MACs, serial) and insert equipment at profile version 1.
    /// [`StoreError::Conflict`] if its serial (normalised) or a MAC belongs to other equipment.
    async fn insert_equipment(&self, e: &NewEquipment) -> Result<Equipment>;
    /// One piece of equipment.
    async fn get_equipment(&self, id: i64) -> Result<Option<Equipment>>;
    /// Equipment matching a filter, ordered by id.
    async fn list_equipment(&self, f: &EquipmentFilter) -> Result<Vec<Equipment>>;
    /// Replace the editable fields. A changed profile bumps the version and resets the
    /// provisioning status to pending. [`StoreError::NotFound`] / [`StoreError::Conflict`].
    async fn update_equipment(&self, id: i64, e: &NewEquipment) -> Result<Equipment>;
    /// Replace the profile: version + 1, status pending, attempts 0.
    async fn set_equipment_profile(&self, id: i64, p: &Profile) -> Result<Equipment>;
    /// Delete equipment (its device keeps existing, unbound). False if it did not exist.
    async fn delete_equipment(&self, id: i64) -> Result<bool>;
    /// Bind a device to equipment (both sides). Idempotent for the same device;
    /// [`StoreError::Conflict`] if the equipment is bound to another device or the device to
    /// other equipment; [`StoreError::NotFound`] if either does not exist.
    async fn bind_equipment(&self, equipment_id: i64, device_id: &str) -> Result<()>;
    /// Undo a binding (status back to pending). False if the equipment does not exist.
    async fn unbind_equipment(&self, equipment_id: i64) -> Result<bool>;
    /// Write the provisioning status (its `last_fault` is redacted before storing).
    async fn set_provisioning_status(
        &self,
        equipment_id: i64,
        s: &ProvisioningStatus,
    ) -> Result<()>;
    /// Record an audit event (its detail is redacted again before storing).
    async fn insert_audit(&self, a: &NewAudit) -> Result<AuditEntry>;
    /// Audit events, newest first.
    async fn list_audit(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>>;

    // ---- declarative rules ----

    /// Validate and insert or replace a rule; the stored version is the old one + 1.
    async fn put_rule(&self, r: &Rule) -> Result<Rule>;
    /// One rule.
    async fn get_rule(&self, name: &str) -> Result<Option<Rule>>;
    /// All rules, by `order` then name.
    async fn list_rules(&self) -> Result<Vec<Rule>>;
    /// Delete a rule. False if it did not exist.
    async fn delete_rule(&self, name: &str) -> Result<bool>;
    /// Insert the given rules where no rule of that name exists; returns how many were added.
    async fn seed_rules(&self, rules: &[Rule]) -> Result<u32>;
}

/// Open a store and run its migrations.
///
/// * `sqlite::memory:` — private in-memory database (one connection; for tests).
/// * `sqlite://path/to/acs.db` or `sqlite:path/to/acs.db` — file, created with its parent
///   directories if missing. Query parameters are not supported.
/// * `postgres://…` / `postgresql://…` — any URL libpq-style options sqlx accepts, e.g.
///   `?options=-c%20search_path%3Dmyschema`.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        let store = crate::sqlite::SqliteStore::open(url).await?;
        Ok(Arc::new(store))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = crate::postgres::PgStore::connect(url).await?;
        Ok(Arc::new(store))
    } else {
        Err(StoreError::invalid(format!(
            "unsupported database url {:?}: expected sqlite:… or postgres://…",
            redact_url(url)
        )))
    }
}

/// A URL with any password replaced, for messages.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redacts_password() {
        assert_eq!(redact_url("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
        assert_eq!(redact_url("mysql:x"), "mysql:x");
    }
}
