//! Pieces shared by the SQLite and PostgreSQL stores.
//!
//! Both backends use the same schema shape (see `migrations/`): times are BIGINT/INTEGER unix
//! milliseconds (UTC), JSON documents are TEXT, enums are their lower-case names. Most SQL is
//! identical, so [`impl_store!`] writes the [`crate::Store`] impl once for both; each backend
//! only supplies its pools, how a write transaction starts and the row-lock suffix for claiming.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Serialize;
use time::OffsetDateTime;

use crate::error::{Result, StoreError};
use crate::model::Parameter;

/// Rows per multi-row INSERT (8 binds each stays far below SQLite's 32766 and PG's 65535).
pub(crate) const PARAM_CHUNK: usize = 1000;

/// Unix milliseconds of an instant (saturating far outside ±292 million years).
pub(crate) fn ms(t: OffsetDateTime) -> i64 {
    let m = t.unix_timestamp_nanos() / 1_000_000;
    i64::try_from(m).unwrap_or(if m < 0 { i64::MIN } else { i64::MAX })
}

pub(crate) fn opt_ms(t: Option<OffsetDateTime>) -> Option<i64> {
    t.map(ms)
}

pub(crate) fn from_ms(table: &'static str, v: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(v) * 1_000_000)
        .map_err(|e| StoreError::Corrupt { table, reason: format!("timestamp {v}: {e}") })
}

pub(crate) fn opt_from_ms(table: &'static str, v: Option<i64>) -> Result<Option<OffsetDateTime>> {
    v.map(|v| from_ms(table, v)).transpose()
}

pub(crate) fn to_json<T: Serialize + ?Sized>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::invalid(format!("cannot encode json: {e}")))
}

pub(crate) fn from_json<T: DeserializeOwned>(table: &'static str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt { table, reason: format!("json: {e}") })
}

pub(crate) fn opt_from_json<T: DeserializeOwned>(
    table: &'static str,
    s: Option<String>,
) -> Result<Option<T>> {
    s.map(|s| from_json(table, &s)).transpose()
}

pub(crate) fn to_u32(table: &'static str, v: i64) -> Result<u32> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt { table, reason: format!("{v} is not a u32") })
}

pub(crate) fn to_u64(table: &'static str, v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt { table, reason: format!("{v} is not a u64") })
}

pub(crate) fn u64_to_i64(what: &str, v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| StoreError::invalid(format!("{what} {v} is too large")))
}

/// LIMIT and OFFSET values for a page (`limit: None` means no limit).
pub(crate) fn page(limit: Option<u32>, offset: Option<u32>) -> (i64, i64) {
    (limit.map_or(i64::MAX, i64::from), offset.map_or(0, i64::from))
}

/// Map constraint violations to the caller's fault; everything else is storage's.
pub(crate) fn map_db(e: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_foreign_key_violation() {
            return StoreError::NotFound(what());
        }
        if db.is_unique_violation() {
            return StoreError::Conflict(what());
        }
    }
    StoreError::Database(e)
}

/// Merge duplicate paths (later entries win field by field), sorted by path.
pub(crate) fn dedup_params(params: &[Parameter]) -> Vec<Parameter> {
    let mut map: BTreeMap<&str, Parameter> = BTreeMap::new();
    for p in params {
        match map.get_mut(p.path.as_str()) {
            Some(existing) => existing.merge_from(p.clone()),
            None => {
                map.insert(p.path.as_str(), p.clone());
            }
        }
    }
    map.into_values().collect()
}

/// Check a tag: non-empty, bounded, printable.
pub(crate) fn check_tag(tag: &str) -> Result<()> {
    if tag.is_empty() || tag.len() > 128 || tag.chars().any(char::is_control) {
        return Err(StoreError::invalid("a tag must be 1 to 128 bytes without control characters"));
    }
    Ok(())
}

/// Writes the whole [`crate::Store`] impl for one backend.
///
/// The store type must have inherent `reader()` / `writer()` returning `&Pool<DB>` and
/// `begin_write()` returning a write transaction. `claim_lock` is appended to the sub-select
/// that picks the task to claim (`FOR UPDATE SKIP LOCKED` on PostgreSQL).
macro_rules! impl_store {
    (store = $store:ty, db = $db:ty, row = $row:ty, backend = $backend:literal, claim_lock = $lock:literal $(,)?) => {
        use sqlx::Row as _;
        use $crate::error::{Result, StoreError};
        use $crate::model::{
            ApiToken, DataModel, Device, DeviceFilter, Fault, FaultFilter, FileMeta, NewFault,
            Parameter, Protocol, Telemetry,
        };
        use $crate::sql::{
            check_tag, dedup_params, from_json, from_ms, map_db, ms, opt_from_json, opt_from_ms,
            opt_ms, page, to_json, to_u32, to_u64, u64_to_i64, PARAM_CHUNK,
        };
        use $crate::task::{NewTask, Task, TaskFilter, TaskStatus};

        $crate::sql_prov::prov_helpers!(store = $store, db = $db, row = $row);

        type Args<'q> = <$db as sqlx::Database>::Arguments<'q>;
        type Q<'q> = sqlx::query::Query<'q, $db, Args<'q>>;

        const DEVICE_COLS: &str = "id, protocol, oui, product_class, serial_number, manufacturer, \
            model_name, software_version, hardware_version, data_model, registered_at, \
            last_inform_at, last_boot_at, last_bootstrap_at, last_events, ip, \
            connection_request_url, udp_connection_request_address, cr_username, cr_password, \
            cpe_username, cpe_password, periodic_inform_interval, equipment_id";

        const TASK_COLS: &str = "id, device_id, spec, status, attempts, max_attempts, created_at, \
            updated_at, not_before, expires_at, command_key, result, fault";

        const FAULT_COLS: &str =
            "id, device_id, task_id, channel, code, message, detail, retries, created_at";

        const FILE_COLS: &str = "name, file_type, oui, product_class, version, length, sha256, \
            content_type, uploaded_at";

        const PARAM_COLS: &str =
            "path, value, value_type, writable, notification, access_list, updated_at";

        fn device_from_row(row: &$row) -> Result<Device> {
            const T: &str = "devices";
            let protocol: String = row.try_get("protocol")?;
            let data_model: String = row.try_get("data_model")?;
            let last_events: String = row.try_get("last_events")?;
            let interval: Option<i64> = row.try_get("periodic_inform_interval")?;
            Ok(Device {
                id: row.try_get("id")?,
                protocol: Protocol::parse(&protocol).ok_or_else(|| StoreError::Corrupt {
                    table: T,
                    reason: format!("protocol {protocol:?}"),
                })?,
                oui: row.try_get("oui")?,
                product_class: row.try_get("product_class")?,
                serial_number: row.try_get("serial_number")?,
                manufacturer: row.try_get("manufacturer")?,
                model_name: row.try_get("model_name")?,
                software_version: row.try_get("software_version")?,
                hardware_version: row.try_get("hardware_version")?,
                data_model: DataModel::parse(&data_model).ok_or_else(|| StoreError::Corrupt {
                    table: T,
                    reason: format!("data model {data_model:?}"),
                })?,
                registered_at: from_ms(T, row.try_get("registered_at")?)?,
                last_inform_at: opt_from_ms(T, row.try_get("last_inform_at")?)?,
                last_boot_at: opt_from_ms(T, row.try_get("last_boot_at")?)?,
                last_bootstrap_at: opt_from_ms(T, row.try_get("last_bootstrap_at")?)?,
                last_events: from_json(T, &last_events)?,
                ip: row.try_get("ip")?,
                connection_request_url: row.try_get("connection_request_url")?,
                udp_connection_request_address: row.try_get("udp_connection_request_address")?,
                cr_username: row.try_get("cr_username")?,
                cr_password: row.try_get("cr_password")?,
                cpe_username: row.try_get("cpe_username")?,
                cpe_password: row.try_get("cpe_password")?,
                periodic_inform_interval: interval.map(|v| to_u32(T, v)).transpose()?,
                tags: Vec::new(),
                equipment_id: row.try_get("equipment_id")?,
            })
        }

        /// Owned column values of a device, in `DEVICE_COLS` order.
        struct DeviceVals {
            d: Device,
            registered_at: i64,
            last_inform_at: Option<i64>,
            last_boot_at: Option<i64>,
            last_bootstrap_at: Option<i64>,
            last_events: String,
            interval: Option<i64>,
        }

        impl DeviceVals {
            fn new(d: &Device) -> Result<Self> {
                if d.id.is_empty() {
                    return Err(StoreError::invalid("device id must not be empty"));
                }
                for t in &d.tags {
                    check_tag(t)?;
                }
                Ok(DeviceVals {
                    d: d.clone(),
                    registered_at: ms(d.registered_at),
                    last_inform_at: opt_ms(d.last_inform_at),
                    last_boot_at: opt_ms(d.last_boot_at),
                    last_bootstrap_at: opt_ms(d.last_bootstrap_at),
                    last_events: to_json(&d.last_events)?,
                    interval: d.periodic_inform_interval.map(i64::from),
                })
            }

            fn bind<'q>(&'q self, q: Q<'q>) -> Q<'q> {
                let d = &self.d;
                q.bind(d.id.as_str())
                    .bind(d.protocol.as_str())
                    .bind(d.oui.as_str())
                    .bind(d.product_class.as_str())
                    .bind(d.serial_number.as_str())
                    .bind(d.manufacturer.as_str())
                    .bind(d.model_name.as_deref())
                    .bind(d.software_version.as_deref())
                    .bind(d.hardware_version.as_deref())
                    .bind(d.data_model.as_str())
                    .bind(self.registered_at)
                    .bind(self.last_inform_at)
                    .bind(self.last_boot_at)
                    .bind(self.last_bootstrap_at)
                    .bind(self.last_events.as_str())
                    .bind(d.ip.as_deref())
                    .bind(d.connection_request_url.as_deref())
                    .bind(d.udp_connection_request_address.as_deref())
                    .bind(d.cr_username.as_deref())
                    .bind(d.cr_password.as_deref())
                    .bind(d.cpe_username.as_deref())
                    .bind(d.cpe_password.as_deref())
                    .bind(self.interval)
                    .bind(d.equipment_id)
            }
        }

        const DEVICE_VALUES: &str = "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
            $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)";

        /// Columns telemetry refreshes on an existing device (`registered_at`, tags and the CPE
        /// credentials are operator-managed and kept; a missing equipment link is not erased).
        const TELEMETRY_SET: &str = "protocol = excluded.protocol, oui = excluded.oui, \
            product_class = excluded.product_class, serial_number = excluded.serial_number, \
            manufacturer = excluded.manufacturer, model_name = excluded.model_name, \
            software_version = excluded.software_version, \
            hardware_version = excluded.hardware_version, data_model = excluded.data_model, \
            last_inform_at = excluded.last_inform_at, last_boot_at = excluded.last_boot_at, \
            last_bootstrap_at = excluded.last_bootstrap_at, last_events = excluded.last_events, \
            ip = excluded.ip, connection_request_url = excluded.connection_request_url, \
            udp_connection_request_address = excluded.udp_connection_request_address, \
            cr_username = excluded.cr_username, cr_password = excluded.cr_password, \
            periodic_inform_interval = excluded.periodic_inform_interval";

        fn param_from_row(row: &$row) -> Result<Parameter> {
            const T: &str = "parameters";
            Ok(Parameter {
                path: row.try_get("path")?,
                value: row.try_get("value")?,
                value_type: row.try_get("value_type")?,
                writable: row.try_get("writable")?,
                notification: row.try_get("notification")?,
                access_list: opt_from_json(T, row.try_get("access_list")?)?,
                updated_at: from_ms(T, row.try_get("updated_at")?)?,
            })
        }

        fn task_from_row(row: &$row) -> Result<Task> {
            const T: &str = "tasks";
            let status: String = row.try_get("status")?;
            let spec: String = row.try_get("spec")?;
            Ok(Task {
                id: row.try_get("id")?,
                device_id: row.try_get("device_id")?,
                spec: from_json(T, &spec)?,
                status: TaskStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
                    table: T,
                    reason: format!("status {status:?}"),
                })?,
                attempts: to_u32(T, row.try_get("attempts")?)?,
                max_attempts: to_u32(T, row.try_get("max_attempts")?)?,
                created_at: from_ms(T, row.try_get("created_at")?)?,
                updated_at: from_ms(T, row.try_get("updated_at")?)?,
                not_before: from_ms(T, row.try_get("not_before")?)?,
                expires_at: opt_from_ms(T, row.try_get("expires_at")?)?,
                command_key: row.try_get("command_key")?,
                result: opt_from_json(T, row.try_get("result")?)?,
                fault: opt_from_json(T, row.try_get("fault")?)?,
            })
        }

        fn fault_from_row(row: &$row) -> Result<Fault> {
            const T: &str = "faults";
            let detail: String = row.try_get("detail")?;
            Ok(Fault {
                id: row.try_get("id")?,
                device_id: row.try_get("device_id")?,
                task_id: row.try_get("task_id")?,
                channel: row.try_get("channel")?,
                code: row.try_get("code")?,
                message: row.try_get("message")?,
                detail: from_json(T, &detail)?,
                retries: to_u32(T, row.try_get("retries")?)?,
                timestamp: from_ms(T, row.try_get("created_at")?)?,
            })
        }

        fn file_from_row(row: &$row) -> Result<FileMeta> {
            const T: &str = "files";
            Ok(FileMeta {
                name: row.try_get("name")?,
                file_type: row.try_get("file_type")?,
                oui: row.try_get("oui")?,
                product_class: row.try_get("product_class")?,
                version: row.try_get("version")?,
                length: to_u64(T, row.try_get("length")?)?,
                sha256: row.try_get("sha256")?,
                content_type: row.try_get("content_type")?,
                uploaded_at: from_ms(T, row.try_get("uploaded_at")?)?,
            })
        }

        /// Attach tags to devices (devices are looked up by id; unknown ids are ignored).
        fn attach_tags(devices: &mut [Device], rows: Vec<$row>) -> Result<()> {
            let index: std::collections::HashMap<String, usize> =
                devices.iter().enumerate().map(|(i, d)| (d.id.clone(), i)).collect();
            for row in rows {
                let id: String = row.try_get("device_id")?;
                let tag: String = row.try_get("tag")?;
                if let Some(d) = index.get(&id).and_then(|&i| devices.get_mut(i)) {
                    d.tags.push(tag);
                }
            }
            for d in devices.iter_mut() {
                d.tags.sort();
            }
            Ok(())
        }

        async fn load_tags<'e, E>(exec: E, devices: &mut [Device]) -> Result<()>
        where
            E: sqlx::Executor<'e, Database = $db>,
        {
            if devices.is_empty() {
                return Ok(());
            }
            let rows = if devices.len() == 1 {
                sqlx::query("SELECT device_id, tag FROM device_tags WHERE device_id = $1")
                    .bind(devices[0].id.clone())
                    .fetch_all(exec)
                    .await?
            } else {
                let mut qb = sqlx::QueryBuilder::<$db>::new(
                    "SELECT device_id, tag FROM device_tags WHERE device_id IN (",
                );
                let mut sep = qb.separated(", ");
                for d in devices.iter() {
                    sep.push_bind(d.id.clone());
                }
                qb.push(")");
                qb.build().fetch_all(exec).await?
            };
            attach_tags(devices, rows)
        }

        async fn upsert_params_tx(
            conn: &mut <$db as sqlx::Database>::Connection,
            device_id: &str,
            params: &[Parameter],
        ) -> Result<()> {
            let params = dedup_params(params);
            let rows: Vec<(&str, &Parameter)> = params.iter().map(|p| (device_id, p)).collect();
            upsert_param_rows(conn, &rows).await
        }

        /// Merge `(device id, parameter)` rows into the cache with multi-row statements. The
        /// rows must not repeat a (device, path) pair.
        async fn upsert_param_rows(
            conn: &mut <$db as sqlx::Database>::Connection,
            rows: &[(&str, &Parameter)],
        ) -> Result<()> {
            for chunk in rows.chunks(PARAM_CHUNK) {
                let mut values = Vec::with_capacity(chunk.len());
                for &(device_id, p) in chunk {
                    let access = match &p.access_list {
                        Some(a) => Some(to_json(a)?),
                        None => None,
                    };
                    values.push((device_id, p, access, ms(p.updated_at)));
                }
                let mut qb = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO parameters (device_id, path, value, value_type, writable, \
                     notification, access_list, updated_at) ",
                );
                qb.push_values(values, |mut b, (device_id, p, access, at)| {
                    b.push_bind(device_id)
                        .push_bind(p.path.as_str())
                        .push_bind(p.value.as_deref())
                        .push_bind(p.value_type.as_deref())
                        .push_bind(p.writable)
                        .push_bind(p.notification)
                        .push_bind(access)
                        .push_bind(at);
                });
                qb.push(
                    " ON CONFLICT (device_id, path) DO UPDATE SET \
                     value = COALESCE(excluded.value, parameters.value), \
                     value_type = COALESCE(excluded.value_type, parameters.value_type), \
                     writable = COALESCE(excluded.writable, parameters.writable), \
                     notification = COALESCE(excluded.notification, parameters.notification), \
                     access_list = COALESCE(excluded.access_list, parameters.access_list), \
                     updated_at = excluded.updated_at",
                );
                qb.build().execute(&mut *conn).await.map_err(|e| {
                    let devices: std::collections::BTreeSet<&str> =
                        chunk.iter().map(|(d, _)| *d).collect();
                    map_db(e, || format!("device {:?}", devices.into_iter().collect::<Vec<_>>()))
                })?;
            }
            Ok(())
        }

        async fn delete_params_tx(
            conn: &mut <$db as sqlx::Database>::Connection,
            device_id: &str,
            prefix: &str,
        ) -> Result<u64> {
            let res = if prefix.is_empty() {
                sqlx::query("DELETE FROM parameters WHERE device_id = $1")
                    .bind(device_id)
                    .execute(&mut *conn)
                    .await?
            } else {
                sqlx::query(
                    "DELETE FROM parameters WHERE device_id = $1 \
                     AND substr(path, 1, length($2)) = $2",
                )
                .bind(device_id)
                .bind(prefix)
                .execute(&mut *conn)
                .await?
            };
            Ok(res.rows_affected())
        }

        /// Give a device created by telemetry the snapshot's tags.
        async fn insert_tags_tx(
            conn: &mut <$db as sqlx::Database>::Connection,
            d: &Device,
        ) -> Result<()> {
            for tag in &d.tags {
                sqlx::query(
                    "INSERT INTO device_tags (device_id, tag) VALUES ($1, $2) \
                     ON CONFLICT (device_id, tag) DO NOTHING",
                )
                .bind(d.id.as_str())
                .bind(tag.as_str())
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        }

        async fn apply_one_telemetry(
            conn: &mut <$db as sqlx::Database>::Connection,
            t: &Telemetry,
        ) -> Result<()> {
            let vals = DeviceVals::new(&t.device)?;
            let existed = sqlx::query("SELECT 1 AS one FROM devices WHERE id = $1")
                .bind(t.device.id.as_str())
                .fetch_optional(&mut *conn)
                .await?
                .is_some();
            let upsert = format!(
                "INSERT INTO devices ({DEVICE_COLS}) VALUES {DEVICE_VALUES} \
                 ON CONFLICT (id) DO UPDATE SET {TELEMETRY_SET}, \
                 equipment_id = COALESCE(excluded.equipment_id, devices.equipment_id)"
            );
            vals.bind(sqlx::query(&upsert)).execute(&mut *conn).await?;
            if !existed {
                insert_tags_tx(&mut *conn, &t.device).await?;
            }
            if t.bootstrap {
                delete_params_tx(&mut *conn, &t.device.id, "").await?;
            }
            if !t.params.is_empty() {
                upsert_params_tx(&mut *conn, &t.device.id, &t.params).await?;
            }
            Ok(())
        }

        /// Write back a task's mutable fields (see [`crate::Store::update_task`]).
        async fn update_task_tx(
            conn: &mut <$db as sqlx::Database>::Connection,
            t: &Task,
        ) -> Result<()> {
            t.spec.validate()?;
            let fault = match &t.fault {
                Some(f) => Some(to_json(f)?),
                None => None,
            };
            let result = match &t.result {
                Some(r) => Some(to_json(r)?),
                None => None,
            };
            let res = sqlx::query(
                "UPDATE tasks SET spec = $2, name = $3, status = $4, attempts = $5, \
                 max_attempts = $6, not_before = $7, expires_at = $8, command_key = $9, \
                 result = $10, fault = $11, updated_at = $12 WHERE id = $1",
            )
            .bind(t.id)
            .bind(to_json(&t.spec)?)
            .bind(t.spec.name())
            .bind(t.status.as_str())
            .bind(i64::from(t.attempts))
            .bind(i64::from(t.max_attempts))
            .bind(ms(t.not_before))
            .bind(opt_ms(t.expires_at))
            .bind(t.command_key.as_deref())
            .bind(result)
            .bind(fault)
            .bind(ms(time::OffsetDateTime::now_utc()))
            .execute(&mut *conn)
            .await?;
            if res.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("task {}", t.id)));
            }
            Ok(())
        }

        /// Devices per multi-row telemetry upsert (24 binds each).
        const DEVICE_CHUNK: usize = 400;

        /// [`apply_one_telemetry`] for a batch without repeated device ids, with a few
        /// multi-row statements instead of three statements per device.
        async fn apply_telemetry_bulk(
            conn: &mut <$db as sqlx::Database>::Connection,
            batch: &[Telemetry],
        ) -> Result<()> {
            // A device created by telemetry gets the snapshot's tags; look up only tagged ones.
            let mut created_tagged = Vec::new();
            for t in batch.iter().filter(|t| !t.device.tags.is_empty()) {
                let existed = sqlx::query("SELECT 1 AS one FROM devices WHERE id = $1")
                    .bind(t.device.id.as_str())
                    .fetch_optional(&mut *conn)
                    .await?
                    .is_some();
                if !existed {
                    created_tagged.push(t);
                }
            }
            for chunk in batch.chunks(DEVICE_CHUNK) {
                let mut rows = Vec::with_capacity(chunk.len());
                for t in chunk {
                    rows.push((&t.device, to_json(&t.device.last_events)?));
                }
                let mut qb = sqlx::QueryBuilder::<$db>::new(format!(
                    "INSERT INTO devices ({DEVICE_COLS}) "
                ));
                qb.push_values(rows, |mut b, (d, events)| {
                    b.push_bind(d.id.as_str())
                        .push_bind(d.protocol.as_str())
                        .push_bind(d.oui.as_str())
                        .push_bind(d.product_class.as_str())
                        .push_bind(d.serial_number.as_str())
                        .push_bind(d.manufacturer.as_str())
                        .push_bind(d.model_name.as_deref())
                        .push_bind(d.software_version.as_deref())
                        .push_bind(d.hardware_version.as_deref())
                        .push_bind(d.data_model.as_str())
                        .push_bind(ms(d.registered_at))
                        .push_bind(opt_ms(d.last_inform_at))
                        .push_bind(opt_ms(d.last_boot_at))
                        .push_bind(opt_ms(d.last_bootstrap_at))
                        .push_bind(events)
                        .push_bind(d.ip.as_deref())
                        .push_bind(d.connection_request_url.as_deref())
                        .push_bind(d.udp_connection_request_address.as_deref())
                        .push_bind(d.cr_username.as_deref())
                        .push_bind(d.cr_password.as_deref())
                        .push_bind(d.cpe_username.as_deref())
                        .push_bind(d.cpe_password.as_deref())
                        .push_bind(d.periodic_inform_interval.map(i64::from))
                        .push_bind(d.equipment_id);
                });
                qb.push(format!(
                    " ON CONFLICT (id) DO UPDATE SET {TELEMETRY_SET}, \
                     equipment_id = COALESCE(excluded.equipment_id, devices.equipment_id)"
                ));
                qb.build().execute(&mut *conn).await?;
            }
            for t in created_tagged {
                insert_tags_tx(&mut *conn, &t.device).await?;
            }
            for t in batch.iter().filter(|t| t.bootstrap) {
                delete_params_tx(&mut *conn, &t.device.id, "").await?;
            }
            let deduped: Vec<(&str, Vec<Parameter>)> = batch
                .iter()
                .filter(|t| !t.params.is_empty())
                .map(|t| (t.device.id.as_str(), dedup_params(&t.params)))
                .collect();
            let rows: Vec<(&str, &Parameter)> = deduped
                .iter()
                .flat_map(|(id, params)| params.iter().map(move |p| (*id, p)))
                .collect();
            upsert_param_rows(conn, &rows).await
        }

        fn push_device_filter(qb: &mut sqlx::QueryBuilder<'_, $db>, f: &DeviceFilter) {
            qb.push(" WHERE 1 = 1");
            if let Some(p) = f.id_prefix.as_deref().filter(|p| !p.is_empty()) {
                qb.push(" AND substr(id, 1, length(")
                    .push_bind(p.to_owned())
                    .push(")) = ")
                    .push_bind(p.to_owned());
            }
            if let Some(v) = &f.oui {
                qb.push(" AND oui = ").push_bind(v.clone());
            }
            if let Some(v) = &f.product_class {
                qb.push(" AND product_class = ").push_bind(v.clone());
            }
            if let Some(v) = &f.serial {
                qb.push(" AND serial_number = ").push_bind(v.clone());
            }
            if let Some(v) = &f.tag {
                qb.push(" AND EXISTS (SELECT 1 FROM device_tags t WHERE t.device_id = devices.id AND t.tag = ")
                    .push_bind(v.clone())
                    .push(")");
            }
            if let Some(v) = f.last_inform_after {
                qb.push(" AND last_inform_at >= ").push_bind(ms(v));
            }
            if let Some(v) = f.last_inform_before {
                qb.push(" AND last_inform_at < ").push_bind(ms(v));
            }
            if let Some(v) = f.protocol {
                qb.push(" AND protocol = ").push_bind(v.as_str());
            }
            match f.matched {
                Some(true) => {
                    qb.push(" AND equipment_id IS NOT NULL");
                }
                Some(false) => {
                    qb.push(" AND equipment_id IS NULL");
                }
                None => {}
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn backend(&self) -> &'static str {
                $backend
            }

            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(self.reader()).await?;
                Ok(())
            }

            async fn upsert_device(&self, d: &Device) -> Result<()> {
                let vals = DeviceVals::new(d)?;
                let sql = format!(
                    "INSERT INTO devices ({DEVICE_COLS}) VALUES {DEVICE_VALUES} \
                     ON CONFLICT (id) DO UPDATE SET {TELEMETRY_SET}, \
                     registered_at = excluded.registered_at, \
                     cpe_username = excluded.cpe_username, cpe_password = excluded.cpe_password, \
                     equipment_id = excluded.equipment_id"
                );
                let mut tx = self.begin_write().await?;
                vals.bind(sqlx::query(&sql)).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM device_tags WHERE device_id = $1")
                    .bind(d.id.as_str())
                    .execute(&mut *tx)
                    .await?;
                for tag in &d.tags {
                    sqlx::query(
                        "INSERT INTO device_tags (device_id, tag) VALUES ($1, $2) \
                         ON CONFLICT (device_id, tag) DO NOTHING",
                    )
                    .bind(d.id.as_str())
                    .bind(tag.as_str())
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn get_device(&self, id: &str) -> Result<Option<Device>> {
                let sql = format!("SELECT {DEVICE_COLS} FROM devices WHERE id = $1");
                let Some(row) = sqlx::query(&sql).bind(id).fetch_optional(self.reader()).await?
                else {
                    return Ok(None);
                };
                let mut devices = vec![device_from_row(&row)?];
                load_tags(self.reader(), &mut devices).await?;
                Ok(devices.pop())
            }

            async fn list_devices(&self, f: &DeviceFilter) -> Result<Vec<Device>> {
                let (limit, offset) = page(f.limit, f.offset);
                let mut qb = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {DEVICE_COLS} FROM devices"
                ));
                push_device_filter(&mut qb, f);
                qb.push(" ORDER BY id LIMIT ").push_bind(limit).push(" OFFSET ").push_bind(offset);
                let rows = qb.build().fetch_all(self.reader()).await?;
                let mut devices = rows.iter().map(device_from_row).collect::<Result<Vec<_>>>()?;
                for chunk in devices.chunks_mut(500) {
                    load_tags(self.reader(), chunk).await?;
                }
                Ok(devices)
            }

            async fn devices_after(&self, after: &str, limit: u32) -> Result<Vec<Device>> {
                let sql = format!(
                    "SELECT {DEVICE_COLS} FROM devices WHERE id > $1 ORDER BY id LIMIT $2"
                );
                let rows = sqlx::query(&sql)
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await?;
                let mut devices = rows.iter().map(device_from_row).collect::<Result<Vec<_>>>()?;
                drop(rows);
                for chunk in devices.chunks_mut(500) {
                    load_tags(self.reader(), chunk).await?;
                }
                Ok(devices)
            }

            async fn all_devices(&self) -> Result<Vec<Device>> {
                let sql = format!("SELECT {DEVICE_COLS} FROM devices ORDER BY id");
                let rows = sqlx::query(&sql).fetch_all(self.reader()).await?;
                let mut devices = rows.iter().map(device_from_row).collect::<Result<Vec<_>>>()?;
                let tag_rows = sqlx::query("SELECT device_id, tag FROM device_tags")
                    .fetch_all(self.reader())
                    .await?;
                attach_tags(&mut devices, tag_rows)?;
                Ok(devices)
            }

            async fn delete_device(&self, id: &str) -> Result<bool> {
                let res = sqlx::query("DELETE FROM devices WHERE id = $1")
                    .bind(id)
                    .execute(self.writer())
                    .await?;
                Ok(res.rows_affected() > 0)
            }

            async fn add_tag(&self, id: &str, tag: &str) -> Result<bool> {
                check_tag(tag)?;
                let res = sqlx::query(
                    "INSERT INTO device_tags (device_id, tag) VALUES ($1, $2) \
                     ON CONFLICT (device_id, tag) DO NOTHING",
                )
                .bind(id)
                .bind(tag)
                .execute(self.writer())
                .await
                .map_err(|e| map_db(e, || format!("device {id:?}")))?;
                Ok(res.rows_affected() > 0)
            }

            async fn remove_tag(&self, id: &str, tag: &str) -> Result<bool> {
                let res = sqlx::query("DELETE FROM device_tags WHERE device_id = $1 AND tag = $2")
                    .bind(id)
                    .bind(tag)
                    .execute(self.writer())
                    .await?;
                Ok(res.rows_affected() > 0)
            }

            async fn apply_telemetry(&self, batch: &[Telemetry]) -> Result<()> {
                if batch.is_empty() {
                    return Ok(());
                }
                for t in batch {
                    if t.device.id.is_empty() {
                        return Err(StoreError::invalid("device id must not be empty"));
                    }
                    for tag in &t.device.tags {
                        check_tag(tag)?;
                    }
                }
                let mut ids = std::collections::HashSet::with_capacity(batch.len());
                let distinct = batch.iter().all(|t| ids.insert(t.device.id.as_str()));
                let mut tx = self.begin_write().await?;
                if distinct {
                    apply_telemetry_bulk(&mut tx, batch).await?;
                } else {
                    // A multi-row upsert cannot touch one row twice: apply in order.
                    for t in batch {
                        apply_one_telemetry(&mut tx, t).await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn upsert_parameters(&self, device_id: &str, params: &[Parameter]) -> Result<()> {
                if params.is_empty() {
                    return Ok(());
                }
                let mut tx = self.begin_write().await?;
                upsert_params_tx(&mut tx, device_id, params).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_parameters(&self, device_id: &str, prefix: &str) -> Result<Vec<Parameter>> {
                let rows = if prefix.is_empty() {
                    let sql = format!(
                        "SELECT {PARAM_COLS} FROM parameters WHERE device_id = $1 ORDER BY path"
                    );
                    sqlx::query(&sql).bind(device_id).fetch_all(self.reader()).await?
                } else {
                    let sql = format!(
                        "SELECT {PARAM_COLS} FROM parameters WHERE device_id = $1 \
                         AND substr(path, 1, length($2)) = $2 ORDER BY path"
                    );
                    sqlx::query(&sql)
                        .bind(device_id)
                        .bind(prefix)
                        .fetch_all(self.reader())
                        .await?
                };
                rows.iter().map(param_from_row).collect()
            }

            async fn delete_parameters(&self, device_id: &str, prefix: &str) -> Result<u64> {
                let mut tx = self.begin_write().await?;
                let n = delete_params_tx(&mut tx, device_id, prefix).await?;
                tx.commit().await?;
                Ok(n)
            }

            async fn insert_task(&self, t: &NewTask) -> Result<Task> {
                t.spec.validate()?;
                if t.max_attempts == 0 {
                    return Err(StoreError::invalid("maxAttempts must be at least 1"));
                }
                let now = time::OffsetDateTime::now_utc();
                let now_ms = ms(now);
                let spec = to_json(&t.spec)?;
                let sql = format!(
                    "INSERT INTO tasks (device_id, name, spec, status, attempts, max_attempts, \
                     created_at, updated_at, not_before, expires_at) \
                     VALUES ($1, $2, $3, 'queued', 0, $4, $5, $5, $5, $6) RETURNING {TASK_COLS}"
                );
                let row = sqlx::query(&sql)
                    .bind(t.device_id.as_str())
                    .bind(t.spec.name())
                    .bind(spec)
                    .bind(i64::from(t.max_attempts))
                    .bind(now_ms)
                    .bind(opt_ms(t.expires_at))
                    .fetch_one(self.writer())
                    .await
                    .map_err(|e| map_db(e, || format!("device {:?}", t.device_id)))?;
                task_from_row(&row)
            }

            async fn get_task(&self, id: i64) -> Result<Option<Task>> {
                let sql = format!("SELECT {TASK_COLS} FROM tasks WHERE id = $1");
                let row = sqlx::query(&sql).bind(id).fetch_optional(self.reader()).await?;
                row.as_ref().map(task_from_row).transpose()
            }

            async fn list_tasks(&self, f: &TaskFilter) -> Result<Vec<Task>> {
                let (limit, offset) = page(f.limit, f.offset);
                let mut qb =
                    sqlx::QueryBuilder::<$db>::new(format!("SELECT {TASK_COLS} FROM tasks WHERE 1 = 1"));
                if let Some(d) = &f.device_id {
                    qb.push(" AND device_id = ").push_bind(d.clone());
                }
                if let Some(s) = f.status {
                    qb.push(" AND status = ").push_bind(s.as_str());
                }
                qb.push(" ORDER BY id LIMIT ").push_bind(limit).push(" OFFSET ").push_bind(offset);
                let rows = qb.build().fetch_all(self.reader()).await?;
                rows.iter().map(task_from_row).collect()
            }

            async fn next_due_task(
                &self,
                device_id: &str,
                now: time::OffsetDateTime,
            ) -> Result<Option<Task>> {
                let now_ms = ms(now);
                let wall = ms(time::OffsetDateTime::now_utc());
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "UPDATE tasks SET status = 'expired', updated_at = $3 \
                     WHERE device_id = $1 AND status = 'queued' \
                     AND expires_at IS NOT NULL AND expires_at <= $2",
                )
                .bind(device_id)
                .bind(now_ms)
                .bind(wall)
                .execute(&mut *tx)
                .await?;
                let sql = format!(
                    "UPDATE tasks SET status = 'running', attempts = attempts + 1, updated_at = $3 \
                     WHERE status = 'queued' AND id = (SELECT id FROM tasks \
                     WHERE device_id = $1 AND status = 'queued' AND not_before <= $2 \
                     ORDER BY id LIMIT 1{}) RETURNING {TASK_COLS}",
                    $lock
                );
                let row = sqlx::query(&sql)
                    .bind(device_id)
                    .bind(now_ms)
                    .bind(wall)
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.commit().await?;
                row.as_ref().map(task_from_row).transpose()
            }

            async fn update_task(&self, t: &Task) -> Result<()> {
                let mut conn = self.writer().acquire().await?;
                update_task_tx(&mut conn, t).await
            }

            async fn complete_task(
                &self,
                t: &Task,
                forget: &[String],
                learned: &[Parameter],
            ) -> Result<()> {
                t.spec.validate()?;
                let mut tx = self.begin_write().await?;
                for prefix in forget {
                    delete_params_tx(&mut tx, &t.device_id, prefix).await?;
                }
                if !learned.is_empty() {
                    upsert_params_tx(&mut tx, &t.device_id, learned).await?;
                }
                update_task_tx(&mut tx, t).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn delete_task(&self, id: i64) -> Result<bool> {
                let res = sqlx::query("DELETE FROM tasks WHERE id = $1")
                    .bind(id)
                    .execute(self.writer())
                    .await?;
                Ok(res.rows_affected() > 0)
            }

            async fn requeue_running_tasks(&self) -> Result<u64> {
                let res = sqlx::query(
                    "UPDATE tasks SET status = 'queued', updated_at = $1 \
                     WHERE status = 'running' AND command_key IS NULL",
                )
                .bind(ms(time::OffsetDateTime::now_utc()))
                .execute(self.writer())
                .await?;
                Ok(res.rows_affected())
            }

            async fn devices_with_due_tasks(&self) -> Result<Vec<String>> {
                let rows = sqlx::query(
                    "SELECT DISTINCT device_id FROM tasks WHERE status = 'queued' ORDER BY device_id",
                )
                .fetch_all(self.reader())
                .await?;
                rows.iter().map(|r| r.try_get::<String, _>("device_id").map_err(StoreError::from)).collect()
            }

            async fn find_task_by_command_key(
                &self,
                device_id: &str,
                command_key: &str,
            ) -> Result<Option<Task>> {
                let sql = format!(
                    "SELECT {TASK_COLS} FROM tasks WHERE device_id = $1 AND command_key = $2 \
                     ORDER BY id DESC LIMIT 1"
                );
                let row = sqlx::query(&sql)
                    .bind(device_id)
                    .bind(command_key)
                    .fetch_optional(self.reader())
                    .await?;
                row.as_ref().map(task_from_row).transpose()
            }

            async fn insert_fault(&self, f: &NewFault) -> Result<Fault> {
                let sql = format!(
                    "INSERT INTO faults (device_id, task_id, channel, code, message, detail, \
                     retries, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     RETURNING {FAULT_COLS}"
                );
                let row = sqlx::query(&sql)
                    .bind(f.device_id.as_str())
                    .bind(f.task_id)
                    .bind(f.channel.as_str())
                    .bind(f.code.as_str())
                    .bind(f.message.as_str())
                    .bind(to_json(&f.detail)?)
                    .bind(i64::from(f.retries))
                    .bind(ms(time::OffsetDateTime::now_utc()))
                    .fetch_one(self.writer())
                    .await
                    .map_err(|e| map_db(e, || format!("device {:?} or its task", f.device_id)))?;
                fault_from_row(&row)
            }

            async fn list_faults(&self, f: &FaultFilter) -> Result<Vec<Fault>> {
                let (limit, offset) = page(f.limit, f.offset);
                let mut qb = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {FAULT_COLS} FROM faults WHERE 1 = 1"
                ));
                if let Some(d) = &f.device_id {
                    qb.push(" AND device_id = ").push_bind(d.clone());
                }
                if let Some(t) = f.task_id {
                    qb.push(" AND task_id = ").push_bind(t);
                }
                qb.push(" ORDER BY id DESC LIMIT ").push_bind(limit).push(" OFFSET ").push_bind(offset);
                let rows = qb.build().fetch_all(self.reader()).await?;
                rows.iter().map(fault_from_row).collect()
            }

            async fn delete_fault(&self, id: i64) -> Result<bool> {
                let res = sqlx::query("DELETE FROM faults WHERE id = $1")
                    .bind(id)
                    .execute(self.writer())
                    .await?;
                Ok(res.rows_affected() > 0)
            }

            async fn put_file(&self, m: &FileMeta) -> Result<()> {
                if m.name.is_empty() {
                    return Err(StoreError::invalid("file name must not be empty"));
                }
                let sql = format!(
                    "INSERT INTO files ({FILE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (name) DO UPDATE SET file_type = excluded.file_type, \
                     oui = excluded.oui, product_class = excluded.product_class, \
                     version = excluded.version, length = excluded.length, \
                     sha256 = excluded.sha256, content_type = excluded.content_type, \
                     uploaded_at = excluded.uploaded_at"
                );
                sqlx::query(&sql)
                    .bind(m.name.as_str())
                    .bind(m.file_type.as_str())
                    .bind(m.oui.as_deref())
                    .bind(m.product_class.as_deref())
                    .bind(m.version.as_deref())
                    .bind(u64_to_i64("file length", m.length)?)
                    .bind(m.sha256.as_str())
                    .bind(m.content_type.as_deref())
                    .bind(ms(m.uploaded_at))
                    .execute(self.writer())
                    .await?;
                Ok(())
            }

            async fn get_file(&self, name: &str) -> Result<Option<FileMeta>> {
                let sql = format!("SELECT {FILE_COLS} FROM files WHERE name = $1");
                let row = sqlx::query(&sql).bind(name).fetch_optional(self.reader()).await?;
                row.as_ref().map(file_from_row).transpose()
            }

            async fn list_files(&self) -> Result<Vec<FileMeta>> {
                let sql = format!("SELECT {FILE_COLS} FROM files ORDER BY name");
                let rows = sqlx::query(&sql).fetch_all(self.reader()).await?;
                rows.iter().map(file_from_row).collect()
            }

            async fn delete_file(&self, name: &str) -> Result<bool> {
                let res = sqlx::query("DELETE FROM files WHERE name = $1")
                    .bind(name)
                    .execute(self.writer())
                    .await?;
                Ok(res.rows_affected() > 0)
            }

            async fn insert_api_token(&self, name: &str, token_hash: &str, role: &str) -> Result<()> {
                if token_hash.is_empty() {
                    return Err(StoreError::invalid("token hash must not be empty"));
                }
                sqlx::query(
                    "INSERT INTO api_tokens (token_hash, name, role, created_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(token_hash)
                .bind(name)
                .bind(role)
                .bind(ms(time::OffsetDateTime::now_utc()))
                .execute(self.writer())
                .await
                .map_err(|e| map_db(e, || "an api token with this hash exists".to_owned()))?;
                Ok(())
            }

            async fn find_api_token(&self, token_hash: &str) -> Result<Option<ApiToken>> {
                let row = sqlx::query(
                    "SELECT token_hash, name, role, created_at FROM api_tokens WHERE token_hash = $1",
                )
                .bind(token_hash)
                .fetch_optional(self.reader())
                .await?;
                match row {
                    None => Ok(None),
                    Some(row) => Ok(Some(ApiToken {
                        name: row.try_get("name")?,
                        token_hash: row.try_get("token_hash")?,
                        role: row.try_get("role")?,
                        created_at: from_ms("api_tokens", row.try_get("created_at")?)?,
                    })),
                }
            }

            async fn count_api_tokens(&self) -> Result<u64> {
                let row = sqlx::query("SELECT COUNT(*) AS n FROM api_tokens")
                    .fetch_one(self.reader())
                    .await?;
                to_u64("api_tokens", row.try_get("n")?)
            }

            async fn get_setting(&self, key: &str) -> Result<Option<String>> {
                let row = sqlx::query("SELECT value FROM settings WHERE name = $1")
                    .bind(key)
                    .fetch_optional(self.reader())
                    .await?;
                row.map(|r| r.try_get("value").map_err(StoreError::from)).transpose()
            }

            async fn insert_equipment(&self, e: &NewEquipment) -> Result<Equipment> {
                prov_insert_equipment(self, e).await
            }
            async fn get_equipment(&self, id: i64) -> Result<Option<Equipment>> {
                prov_get_equipment(self, id).await
            }
            async fn list_equipment(&self, f: &EquipmentFilter) -> Result<Vec<Equipment>> {
                prov_list_equipment(self, f).await
            }
            async fn update_equipment(&self, id: i64, e: &NewEquipment) -> Result<Equipment> {
                prov_update_equipment(self, id, e).await
            }
            async fn set_equipment_profile(&self, id: i64, p: &Profile) -> Result<Equipment> {
                prov_set_equipment_profile(self, id, p).await
            }
            async fn delete_equipment(&self, id: i64) -> Result<bool> {
                prov_delete_equipment(self, id).await
            }
            async fn bind_equipment(&self, equipment_id: i64, device_id: &str) -> Result<()> {
                prov_bind_equipment(self, equipment_id, device_id).await
            }
            async fn unbind_equipment(&self, equipment_id: i64) -> Result<bool> {
                prov_unbind_equipment(self, equipment_id).await
            }
            async fn set_provisioning_status(
                &self,
                equipment_id: i64,
                st: &ProvisioningStatus,
            ) -> Result<()> {
                prov_set_status(self, equipment_id, st).await
            }
            async fn insert_audit(&self, a: &NewAudit) -> Result<AuditEntry> {
                prov_insert_audit(self, a).await
            }
            async fn list_audit(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
                prov_list_audit(self, f).await
            }
            async fn put_rule(&self, r: &Rule) -> Result<Rule> {
                prov_put_rule(self, r).await
            }
            async fn get_rule(&self, name: &str) -> Result<Option<Rule>> {
                prov_get_rule(self, name).await
            }
            async fn list_rules(&self) -> Result<Vec<Rule>> {
                prov_list_rules(self).await
            }
            async fn delete_rule(&self, name: &str) -> Result<bool> {
                prov_delete_rule(self, name).await
            }
            async fn seed_rules(&self, rules: &[Rule]) -> Result<u32> {
                prov_seed_rules(self, rules).await
            }

            async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
                sqlx::query(
                    "INSERT INTO settings (name, value) VALUES ($1, $2) \
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                )
                .bind(key)
                .bind(value)
                .execute(self.writer())
                .await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_store;
