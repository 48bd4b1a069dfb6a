//! Tasks: what an operator (or provisioning) asked a device to do, in the GenieACS task JSON shape.
//!
//! ```json
//! {"name": "setParameterValues", "parameterValues": [["Device.X.Y", "1", "xsd:boolean"]]}
//! ```
//!
//! [`TaskSpec`] is protocol-neutral where it can be: `acs` maps each variant to one CWMP RPC (or,
//! for `refreshObject`, GetParameterNames followed by GetParameterValues), `usp` maps the ones
//! that make sense to USP messages and the USP-only ones at the end.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::StoreError;

/// Longest accepted parameter/object/command path.
pub const MAX_PATH_LEN: usize = 1024;
/// Most items accepted in one list of a task (parameter names, values, operations...).
pub const MAX_LIST_ITEMS: usize = 4096;
/// Longest accepted parameter value (CWMP strings are usually far shorter; 64 KiB is generous).
pub const MAX_VALUE_LEN: usize = 65_536;
/// Default [`NewTask::max_attempts`].
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// Default Download FileType.
pub const DEFAULT_DOWNLOAD_FILE_TYPE: &str = "1 Firmware Upgrade Image";

/// Lifecycle of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    /// Waiting for the device (or for its `not_before` backoff).
    Queued,
    /// Claimed by a session; the RPC is in flight.
    Running,
    /// Finished successfully; `result` holds the outcome.
    Done,
    /// Failed for good; `fault` holds the last fault.
    Fault,
    /// Its `expires_at` passed before it could run.
    Expired,
}

impl TaskStatus {
    /// The stored and serialized name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Queued => "queued",
            TaskStatus::Running => "running",
            TaskStatus::Done => "done",
            TaskStatus::Fault => "fault",
            TaskStatus::Expired => "expired",
        }
    }

    /// Inverse of [`TaskStatus::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "queued" => Some(TaskStatus::Queued),
            "running" => Some(TaskStatus::Running),
            "done" => Some(TaskStatus::Done),
            "fault" => Some(TaskStatus::Fault),
            "expired" => Some(TaskStatus::Expired),
            _ => None,
        }
    }

    /// True for `done`, `fault` and `expired`.
    pub fn is_final(self) -> bool {
        matches!(self, TaskStatus::Done | TaskStatus::Fault | TaskStatus::Expired)
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `[path, value, type?]` entry of `parameterValues`.
///
/// On input the value may be a JSON string, number or boolean. Numbers and booleans get an
/// inferred type when none is given (`xsd:boolean`; `xsd:int` for integers that fit 32 bits,
/// `xsd:long` for other integers, none for fractions). A string without a type keeps
/// `value_type: None`: the engine should use the cached type of the parameter, else `xsd:string`.
/// On output it is always `[path, value]` or `[path, value, type]` with a string value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterValueTuple {
    /// Parameter path.
    pub path: String,
    /// Value as a string.
    pub value: String,
    /// Explicit or inferred `xsd:` type.
    pub value_type: Option<String>,
}

impl ParameterValueTuple {
    /// Build a tuple.
    pub fn new(
        path: impl Into<String>,
        value: impl Into<String>,
        value_type: Option<&str>,
    ) -> Self {
        ParameterValueTuple {
            path: path.into(),
            value: value.into(),
            value_type: value_type.map(str::to_owned),
        }
    }
}

impl Serialize for ParameterValueTuple {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let len = if self.value_type.is_some() { 3 } else { 2 };
        let mut seq = serializer.serialize_seq(Some(len))?;
        seq.serialize_element(&self.path)?;
        seq.serialize_element(&self.value)?;
        if let Some(t) = &self.value_type {
            seq.serialize_element(t)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for ParameterValueTuple {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde_json::Value;
        let items = Vec::<Value>::deserialize(deserializer)?;
        if !(2..=3).contains(&items.len()) {
            return Err(de::Error::custom(format!(
                "parameter value must be [path, value] or [path, value, type], got {} elements",
                items.len()
            )));
        }
        let mut it = items.into_iter();
        let path = match it.next() {
            Some(Value::String(s)) => s,
            _ => return Err(de::Error::custom("parameter value path must be a string")),
        };
        let (value, inferred) = match it.next() {
            Some(Value::String(s)) => (s, None),
            Some(Value::Bool(b)) => (b.to_string(), Some("xsd:boolean")),
            Some(Value::Number(n)) => {
                let inferred = if let Some(i) = n.as_i64() {
                    if i32::try_from(i).is_ok() {
                        Some("xsd:int")
                    } else {
                        Some("xsd:long")
                    }
                } else if n.as_u64().is_some() {
                    Some("xsd:unsignedLong")
                } else {
                    None
                };
                (n.to_string(), inferred)
            }
            _ => {
                return Err(de::Error::custom(format!(
                    "value of {path:?} must be a string, number or boolean"
                )))
            }
        };
        let value_type = match it.next() {
            None | Some(Value::Null) => inferred.map(str::to_owned),
            Some(Value::String(t)) => Some(t),
            Some(_) => return Err(de::Error::custom(format!("type of {path:?} must be a string"))),
        };
        Ok(ParameterValueTuple { path, value, value_type })
    }
}

/// One entry of a `setParameterAttributes` task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetAttributes {
    /// Parameter (or partial path ending in `.`).
    pub name: String,
    /// New notification setting, when changing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<i32>,
    /// New access list, when changing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_list: Option<Vec<String>>,
}

/// A ScheduleDownload time window (TR-069 TimeWindowStruct).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeWindow {
    /// Seconds from the RPC until the window opens.
    pub window_start: u32,
    /// Seconds from the RPC until the window closes.
    pub window_end: u32,
    /// `"1 At Any Time"`, `"2 Immediately"`, `"3 When Idle"` or `"4 Confirmation Needed"`.
    pub window_mode: String,
    /// Message to show the user (mode 4).
    #[serde(default)]
    pub user_message: Option<String>,
    /// Retries within the window; -1 means device default.
    #[serde(default)]
    pub max_retries: Option<i32>,
}

/// One ChangeDUState operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum DuOperation {
    /// InstallOpStruct.
    Install {
        /// Where the DU is fetched from.
        url: String,
        /// DU UUID (empty: the CPE generates one).
        #[serde(default)]
        uuid: Option<String>,
        /// Credentials for the URL.
        #[serde(default)]
        username: Option<String>,
        /// Credentials for the URL.
        #[serde(default)]
        password: Option<String>,
        /// Path of the execution environment.
        #[serde(default)]
        execution_env_ref: Option<String>,
    },
    /// UpdateOpStruct.
    Update {
        /// DU UUID.
        #[serde(default)]
        uuid: Option<String>,
        /// DU version.
        #[serde(default)]
        version: Option<String>,
        /// Where the new DU is fetched from.
        #[serde(default)]
        url: Option<String>,
        /// Credentials for the URL.
        #[serde(default)]
        username: Option<String>,
        /// Credentials for the URL.
        #[serde(default)]
        password: Option<String>,
    },
    /// UninstallOpStruct.
    Uninstall {
        /// DU UUID.
        uuid: String,
        /// DU version.
        #[serde(default)]
        version: Option<String>,
        /// Path of the execution environment.
        #[serde(default)]
        execution_env_ref: Option<String>,
    },
}

/// What a task does. Serialized in the GenieACS shape: `{"name": "<camelCaseName>", ...fields}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "camelCase", rename_all_fields = "camelCase")]
#[non_exhaustive]
pub enum TaskSpec {
    /// GetParameterNames. An empty `parameterName` means the root.
    GetParameterNames {
        /// Path (partial paths end in `.`).
        parameter_name: String,
        /// Only the next level.
        #[serde(default)]
        next_level: bool,
    },
    /// GetParameterValues.
    GetParameterValues {
        /// Full or partial paths.
        parameter_names: Vec<String>,
    },
    /// SetParameterValues.
    SetParameterValues {
        /// `[path, value, type?]` tuples.
        parameter_values: Vec<ParameterValueTuple>,
        /// ParameterKey to send (the engine picks one when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parameter_key: Option<String>,
    },
    /// GetParameterAttributes.
    GetParameterAttributes {
        /// Full or partial paths.
        parameter_names: Vec<String>,
    },
    /// SetParameterAttributes.
    SetParameterAttributes {
        /// What to change.
        parameters: Vec<SetAttributes>,
    },
    /// AddObject, then optionally SetParameterValues on the new instance (paths relative to it).
    AddObject {
        /// Object path ending in `.`, e.g. `Device.WiFi.SSID.`.
        object_name: String,
        /// Values for the new instance; paths are relative to it (`"SSID"`), or absolute.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        parameter_values: Vec<ParameterValueTuple>,
    },
    /// DeleteObject.
    DeleteObject {
        /// Instance path ending in `.`, e.g. `Device.WiFi.SSID.3.`.
        object_name: String,
    },
    /// Reboot.
    Reboot,
    /// FactoryReset.
    FactoryReset,
    /// Download: a stored file by name, or any URL.
    Download {
        /// FileType; defaults to `"1 Firmware Upgrade Image"`, see [`TaskSpec::download_file_type`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file_type: Option<String>,
        /// Name of a stored file ([`crate::FileMeta::name`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file_name: Option<String>,
        /// Explicit URL (instead of `fileName`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        /// TargetFileName.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target_file_name: Option<String>,
        /// FileSize (the stored file's length is used when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file_size: Option<u64>,
        /// DelaySeconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delay_seconds: Option<u32>,
        /// Username for the URL.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<String>,
        /// Password for the URL.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
    },
    /// Upload.
    Upload {
        /// FileType, e.g. `"1 Vendor Configuration File"`.
        file_type: String,
        /// Where the CPE uploads to.
        url: String,
        /// DelaySeconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delay_seconds: Option<u32>,
        /// Username for the URL.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<String>,
        /// Password for the URL.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
    },
    /// ScheduleInform.
    ScheduleInform {
        /// DelaySeconds (> 0).
        delay_seconds: u32,
    },
    /// ScheduleDownload.
    ScheduleDownload {
        /// FileType; defaults like Download.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file_type: Option<String>,
        /// Name of a stored file.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file_name: Option<String>,
        /// Explicit URL.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        /// TargetFileName.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target_file_name: Option<String>,
        /// FileSize.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file_size: Option<u64>,
        /// One or two time windows.
        time_windows: Vec<TimeWindow>,
    },
    /// CancelTransfer.
    CancelTransfer {
        /// CommandKey of the transfer to cancel.
        command_key: String,
    },
    /// GetAllQueuedTransfers.
    GetAllQueuedTransfers,
    /// GetQueuedTransfers (deprecated in CWMP, still found in the field).
    GetQueuedTransfers,
    /// ChangeDUState.
    #[serde(rename = "changeDUState", alias = "changeDuState")]
    ChangeDuState {
        /// Operations, in order.
        operations: Vec<DuOperation>,
    },
    /// GetRPCMethods.
    #[serde(rename = "getRPCMethods", alias = "getRpcMethods")]
    GetRpcMethods,
    /// Re-read a subtree: GetParameterNames then GetParameterValues.
    RefreshObject {
        /// Subtree path (`""` or ending in `.`; a leaf path is accepted too).
        object_name: String,
    },
    /// USP Operate.
    Operate {
        /// Command path ending in `()`.
        command: String,
        /// Input arguments.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        input_args: BTreeMap<String, String>,
        /// Asynchronous command (result arrives as OperationComplete).
        #[serde(default, rename = "async")]
        r#async: bool,
    },
    /// USP GetInstances.
    GetInstances {
        /// Object paths.
        obj_paths: Vec<String>,
        /// Only the first level.
        #[serde(default)]
        first_level_only: bool,
    },
    /// USP GetSupportedDM.
    #[serde(rename = "getSupportedDM", alias = "getSupportedDm")]
    GetSupportedDm {
        /// Object paths.
        obj_paths: Vec<String>,
        /// Only the first level.
        #[serde(default)]
        first_level_only: bool,
    },
    /// USP GetSupportedProtocol.
    GetSupportedProtocol,
}

fn check_path(what: &str, path: &str, allow_empty: bool) -> Result<(), StoreError> {
    if path.is_empty() {
        if allow_empty {
            return Ok(());
        }
        return Err(StoreError::invalid(format!("{what} must not be empty")));
    }
    if path.len() > MAX_PATH_LEN {
        return Err(StoreError::invalid(format!("{what} is longer than {MAX_PATH_LEN} bytes")));
    }
    if path.chars().any(char::is_control) {
        return Err(StoreError::invalid(format!("{what} {path:?} contains control characters")));
    }
    Ok(())
}

fn check_list<T>(what: &str, items: &[T]) -> Result<(), StoreError> {
    if items.is_empty() {
        return Err(StoreError::invalid(format!("{what} must not be empty")));
    }
    if items.len() > MAX_LIST_ITEMS {
        return Err(StoreError::invalid(format!("{what} has more than {MAX_LIST_ITEMS} items")));
    }
    Ok(())
}

fn check_values(what: &str, values: &[ParameterValueTuple]) -> Result<(), StoreError> {
    for v in values {
        check_path(&format!("{what} path"), &v.path, false)?;
        if v.path.ends_with('.') {
            return Err(StoreError::invalid(format!(
                "{what} path {:?} names an object, not a parameter",
                v.path
            )));
        }
        if v.value.len() > MAX_VALUE_LEN {
            return Err(StoreError::invalid(format!(
                "value of {:?} is longer than {MAX_VALUE_LEN} bytes",
                v.path
            )));
        }
        if let Some(t) = &v.value_type {
            if t.is_empty() || t.chars().any(|c| c.is_control() || c.is_whitespace()) {
                return Err(StoreError::invalid(format!(
                    "type of {:?} is not a type name",
                    v.path
                )));
            }
        }
    }
    Ok(())
}

fn check_object(what: &str, path: &str) -> Result<(), StoreError> {
    check_path(what, path, false)?;
    if !path.ends_with('.') {
        return Err(StoreError::invalid(format!("{what} {path:?} must end with '.'")));
    }
    Ok(())
}

fn check_nonempty(what: &str, s: &str) -> Result<(), StoreError> {
    if s.trim().is_empty() {
        return Err(StoreError::invalid(format!("{what} must not be empty")));
    }
    Ok(())
}

impl TaskSpec {
    /// Parse a task from its JSON text; the error names what is wrong.
    pub fn from_json(json: &str) -> Result<Self, StoreError> {
        serde_json::from_str(json).map_err(|e| StoreError::invalid(format!("invalid task: {e}")))
    }

    /// The JSON `name` of this task, e.g. `"setParameterValues"`.
    pub fn name(&self) -> &'static str {
        match self {
            TaskSpec::GetParameterNames { .. } => "getParameterNames",
            TaskSpec::GetParameterValues { .. } => "getParameterValues",
            TaskSpec::SetParameterValues { .. } => "setParameterValues",
            TaskSpec::GetParameterAttributes { .. } => "getParameterAttributes",
            TaskSpec::SetParameterAttributes { .. } => "setParameterAttributes",
            TaskSpec::AddObject { .. } => "addObject",
            TaskSpec::DeleteObject { .. } => "deleteObject",
            TaskSpec::Reboot => "reboot",
            TaskSpec::FactoryReset => "factoryReset",
            TaskSpec::Download { .. } => "download",
            TaskSpec::Upload { .. } => "upload",
            TaskSpec::ScheduleInform { .. } => "scheduleInform",
            TaskSpec::ScheduleDownload { .. } => "scheduleDownload",
            TaskSpec::CancelTransfer { .. } => "cancelTransfer",
            TaskSpec::GetAllQueuedTransfers => "getAllQueuedTransfers",
            TaskSpec::GetQueuedTransfers => "getQueuedTransfers",
            TaskSpec::ChangeDuState { .. } => "changeDUState",
            TaskSpec::GetRpcMethods => "getRPCMethods",
            TaskSpec::RefreshObject { .. } => "refreshObject",
            TaskSpec::Operate { .. } => "operate",
            TaskSpec::GetInstances { .. } => "getInstances",
            TaskSpec::GetSupportedDm { .. } => "getSupportedDM",
            TaskSpec::GetSupportedProtocol => "getSupportedProtocol",
        }
    }

    /// True for the tasks only USP can carry (`operate`, `getInstances`, `getSupportedDM`,
    /// `getSupportedProtocol`).
    pub fn is_usp_only(&self) -> bool {
        matches!(
            self,
            TaskSpec::Operate { .. }
                | TaskSpec::GetInstances { .. }
                | TaskSpec::GetSupportedDm { .. }
                | TaskSpec::GetSupportedProtocol
        )
    }

    /// The Download/ScheduleDownload FileType with its default applied; `None` for other tasks.
    pub fn download_file_type(&self) -> Option<&str> {
        match self {
            TaskSpec::Download { file_type, .. } | TaskSpec::ScheduleDownload { file_type, .. } => {
                Some(file_type.as_deref().unwrap_or(DEFAULT_DOWNLOAD_FILE_TYPE))
            }
            _ => None,
        }
    }

    /// Check what serde cannot: non-empty paths and lists, objects ending in `.`, a file name or
    /// URL for downloads, bounded sizes. Returns [`StoreError::Invalid`] with the reason.
    pub fn validate(&self) -> Result<(), StoreError> {
        match self {
            TaskSpec::GetParameterNames { parameter_name, .. } => {
                check_path("parameterName", parameter_name, true)
            }
            TaskSpec::GetParameterValues { parameter_names }
            | TaskSpec::GetParameterAttributes { parameter_names } => {
                check_list("parameterNames", parameter_names)?;
                parameter_names.iter().try_for_each(|p| check_path("parameter name", p, false))
            }
            TaskSpec::SetParameterValues { parameter_values, parameter_key } => {
                check_list("parameterValues", parameter_values)?;
                check_values("parameterValues", parameter_values)?;
                if let Some(k) = parameter_key {
                    if k.len() > 32 {
                        return Err(StoreError::invalid("parameterKey is longer than 32 bytes"));
                    }
                }
                Ok(())
            }
            TaskSpec::SetParameterAttributes { parameters } => {
                check_list("parameters", parameters)?;
                for p in parameters {
                    check_path("parameter name", &p.name, false)?;
                    if p.notification.is_none() && p.access_list.is_none() {
                        return Err(StoreError::invalid(format!(
                            "{:?}: set notification or accessList",
                            p.name
                        )));
                    }
                    if let Some(n) = p.notification {
                        if !(0..=6).contains(&n) {
                            return Err(StoreError::invalid(format!(
                                "{:?}: notification {n} is out of range 0..=6",
                                p.name
                            )));
                        }
                    }
                }
                Ok(())
            }
            TaskSpec::AddObject { object_name, parameter_values } => {
                check_object("objectName", object_name)?;
                if parameter_values.len() > MAX_LIST_ITEMS {
                    return Err(StoreError::invalid(format!(
                        "parameterValues has more than {MAX_LIST_ITEMS} items"
                    )));
                }
                check_values("parameterValues", parameter_values)
            }
            TaskSpec::DeleteObject { object_name } => check_object("objectName", object_name),
            TaskSpec::Reboot
            | TaskSpec::FactoryReset
            | TaskSpec::GetAllQueuedTransfers
            | TaskSpec::GetQueuedTransfers
            | TaskSpec::GetRpcMethods
            | TaskSpec::GetSupportedProtocol => Ok(()),
            TaskSpec::Download { file_type, file_name, url, .. } => {
                check_download(file_type.as_deref(), file_name.as_deref(), url.as_deref())
            }
            TaskSpec::ScheduleDownload { file_type, file_name, url, time_windows, .. } => {
                check_download(file_type.as_deref(), file_name.as_deref(), url.as_deref())?;
                if !(1..=2).contains(&time_windows.len()) {
                    return Err(StoreError::invalid("timeWindows must hold one or two windows"));
                }
                for w in time_windows {
                    if w.window_end <= w.window_start {
                        return Err(StoreError::invalid(
                            "timeWindows: windowEnd must be after windowStart",
                        ));
                    }
                    check_nonempty("timeWindows windowMode", &w.window_mode)?;
                }
                Ok(())
            }
            TaskSpec::Upload { file_type, url, .. } => {
                check_nonempty("fileType", file_type)?;
                check_nonempty("url", url)
            }
            TaskSpec::ScheduleInform { delay_seconds } => {
                if *delay_seconds == 0 {
                    return Err(StoreError::invalid("delaySeconds must be greater than zero"));
                }
                Ok(())
            }
            TaskSpec::CancelTransfer { command_key } => check_nonempty("commandKey", command_key),
            TaskSpec::ChangeDuState { operations } => {
                check_list("operations", operations)?;
                for op in operations {
                    match op {
                        DuOperation::Install { url, .. } => check_nonempty("install url", url)?,
                        DuOperation::Update { uuid, url, .. } => {
                            if uuid.as_deref().is_none_or(str::is_empty)
                                && url.as_deref().is_none_or(str::is_empty)
                            {
                                return Err(StoreError::invalid("update needs a uuid or a url"));
                            }
                        }
                        DuOperation::Uninstall { uuid, .. } => {
                            check_nonempty("uninstall uuid", uuid)?
                        }
                    }
                }
                Ok(())
            }
            TaskSpec::RefreshObject { object_name } => check_path("objectName", object_name, true),
            TaskSpec::Operate { command, .. } => {
                check_path("command", command, false)?;
                if !command.ends_with("()") {
                    return Err(StoreError::invalid(format!(
                        "command {command:?} must end with \"()\""
                    )));
                }
                Ok(())
            }
            TaskSpec::GetInstances { obj_paths, .. }
            | TaskSpec::GetSupportedDm { obj_paths, .. } => {
                check_list("objPaths", obj_paths)?;
                obj_paths.iter().try_for_each(|p| check_path("object path", p, false))
            }
        }
    }
}

fn check_download(
    file_type: Option<&str>,
    file_name: Option<&str>,
    url: Option<&str>,
) -> Result<(), StoreError> {
    if let Some(t) = file_type {
        check_nonempty("fileType", t)?;
    }
    let has_name = file_name.is_some_and(|s| !s.trim().is_empty());
    let has_url = url.is_some_and(|s| !s.trim().is_empty());
    if !has_name && !has_url {
        return Err(StoreError::invalid("download needs a fileName or a url"));
    }
    Ok(())
}

/// A task to queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewTask {
    /// Target device (must exist).
    pub device_id: String,
    /// What to do.
    pub spec: TaskSpec,
    /// Attempts before the task is given up as faulted.
    pub max_attempts: u32,
    /// Expire the task if it has not run by then.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

impl NewTask {
    /// A task with the default attempts and no expiry.
    pub fn new(device_id: impl Into<String>, spec: TaskSpec) -> Self {
        NewTask {
            device_id: device_id.into(),
            spec,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            expires_at: None,
        }
    }
}

/// Why a task failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskFault {
    /// CWMP fault code (`"9005"`), USP error code, or internal (`"timeout"`, `"session_ended"`).
    pub code: String,
    /// Message.
    pub message: String,
    /// Structured detail (e.g. per-parameter faults).
    #[serde(default)]
    pub detail: serde_json::Value,
}

/// A stored task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Row id (ascending in insertion order).
    pub id: i64,
    /// Target device.
    pub device_id: String,
    /// What to do.
    pub spec: TaskSpec,
    /// Lifecycle state.
    pub status: TaskStatus,
    /// Times it was claimed by [`crate::Store::next_due_task`].
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Not to be claimed before this instant (retry backoff).
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// Expiry.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// CommandKey sent with the RPC, to match TransferComplete and similar.
    pub command_key: Option<String>,
    /// Outcome when done.
    pub result: Option<serde_json::Value>,
    /// Last fault.
    pub fault: Option<TaskFault>,
}

/// Filter for [`crate::Store::list_tasks`]; ordered by id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskFilter {
    /// Only this device.
    pub device_id: Option<String>,
    /// Only this status.
    pub status: Option<TaskStatus>,
    /// Page size.
    pub limit: Option<u32>,
    /// Rows to skip.
    pub offset: Option<u32>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> TaskSpec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn genieacs_shapes_parse() {
        let t = parse(json!({"name": "getParameterValues",
            "parameterNames": ["InternetGatewayDevice.DeviceInfo.SoftwareVersion"]}));
        assert_eq!(
            t,
            TaskSpec::GetParameterValues {
                parameter_names: vec!["InternetGatewayDevice.DeviceInfo.SoftwareVersion".into()]
            }
        );

        let t = parse(json!({"name": "setParameterValues", "parameterValues": [
            ["InternetGatewayDevice.ManagementServer.PeriodicInformInterval", 300, "xsd:unsignedInt"],
            ["InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.Enable", true],
            ["InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.SSID", "home"],
            ["Device.X.Big", 5_000_000_000_i64],
            ["Device.X.Small", -3]
        ]}));
        let TaskSpec::SetParameterValues { parameter_values: v, parameter_key } = &t else {
            panic!("wrong variant {t:?}")
        };
        assert_eq!(parameter_key, &None);
        assert_eq!(
            v[0],
            ParameterValueTuple::new(
                "InternetGatewayDevice.ManagementServer.PeriodicInformInterval",
                "300",
                Some("xsd:unsignedInt")
            )
        );
        assert_eq!(v[1].value, "true");
        assert_eq!(v[1].value_type.as_deref(), Some("xsd:boolean"));
        assert_eq!(v[2].value_type, None);
        assert_eq!(v[3].value_type.as_deref(), Some("xsd:long"));
        assert_eq!(v[4].value, "-3");
        assert_eq!(v[4].value_type.as_deref(), Some("xsd:int"));
        t.validate().unwrap();

        let t = parse(json!({"name": "getParameterNames",
            "parameterName": "InternetGatewayDevice.", "nextLevel": true}));
        assert_eq!(
            t,
            TaskSpec::GetParameterNames {
                parameter_name: "InternetGatewayDevice.".into(),
                next_level: true
            }
        );
        let t = parse(json!({"name": "getParameterNames", "parameterName": "Device."}));
        assert!(matches!(t, TaskSpec::GetParameterNames { next_level: false, .. }));

        assert_eq!(parse(json!({"name": "reboot"})), TaskSpec::Reboot);
        assert_eq!(parse(json!({"name": "factoryReset"})), TaskSpec::FactoryReset);
        assert_eq!(parse(json!({"name": "getRPCMethods"})), TaskSpec::GetRpcMethods);
        assert_eq!(
            parse(json!({"name": "refreshObject", "objectName": "Device.WiFi."})),
            TaskSpec::RefreshObject { object_name: "Device.WiFi.".into() }
        );

        let t = parse(json!({"name": "download", "fileName": "fw-1.2.bin"}));
        assert_eq!(t.download_file_type(), Some(DEFAULT_DOWNLOAD_FILE_TYPE));
        t.validate().unwrap();
        let t = parse(json!({"name": "download", "fileType": "3 Vendor Configuration File",
            "url": "http://127.0.0.1/cfg", "delaySeconds": 5}));
        assert_eq!(t.download_file_type(), Some("3 Vendor Configuration File"));

        let t = parse(json!({"name": "addObject", "objectName": "Device.WiFi.SSID.",
            "parameterValues": [["SSID", "guest"], ["Enable", false]]}));
        t.validate().unwrap();
        let t = parse(json!({"name": "setParameterAttributes", "parameters": [
            {"name": "Device.DeviceInfo.SoftwareVersion", "notification": 2},
            {"name": "Device.ManagementServer.", "accessList": ["Subscriber"]}]}));
        t.validate().unwrap();
        let t = parse(json!({"name": "scheduleDownload", "fileName": "fw.bin", "timeWindows": [
            {"windowStart": 0, "windowEnd": 3600, "windowMode": "1 At Any Time", "maxRetries": -1}]}));
        t.validate().unwrap();
        let t = parse(json!({"name": "changeDUState", "operations": [
            {"type": "install", "url": "http://127.0.0.1/du.ipk", "executionEnvRef": "Device.SoftwareModules.ExecEnv.1."},
            {"type": "uninstall", "uuid": "6c2d8a39-0000-4000-8000-000000000000"}]}));
        t.validate().unwrap();
        assert_eq!(t.name(), "changeDUState");
        let t = parse(json!({"name": "operate", "command": "Device.SelfTestDiagnostics()",
            "inputArgs": {"A": "1"}, "async": true}));
        assert!(
            matches!(&t, TaskSpec::Operate { r#async: true, input_args, .. } if input_args.len() == 1)
        );
        assert!(t.is_usp_only());
        assert_eq!(
            parse(json!({"name": "getSupportedDM", "objPaths": ["Device."]})).name(),
            "getSupportedDM"
        );
        assert_eq!(
            parse(json!({"name": "scheduleInform", "delaySeconds": 30})),
            TaskSpec::ScheduleInform { delay_seconds: 30 }
        );
        assert_eq!(
            parse(json!({"name": "cancelTransfer", "commandKey": "k1"})),
            TaskSpec::CancelTransfer { command_key: "k1".into() }
        );
        // Extra keys GenieACS clients send (device, _id) are ignored.
        assert_eq!(parse(json!({"name": "reboot", "device": "x", "_id": "y"})), TaskSpec::Reboot);
    }

    #[test]
    fn serialization_round_trips_and_uses_json_names() {
        let all = vec![
            TaskSpec::GetParameterNames { parameter_name: "Device.".into(), next_level: true },
            TaskSpec::GetParameterValues { parameter_names: vec!["Device.A".into()] },
            TaskSpec::SetParameterValues {
                parameter_values: vec![
                    ParameterValueTuple::new("Device.A", "1", Some("xsd:int")),
                    ParameterValueTuple::new("Device.B", "x", None),
                ],
                parameter_key: Some("pk".into()),
            },
            TaskSpec::GetParameterAttributes { parameter_names: vec!["Device.A".into()] },
            TaskSpec::SetParameterAttributes {
                parameters: vec![SetAttributes {
                    name: "Device.A".into(),
                    notification: Some(1),
                    access_list: None,
                }],
            },
            TaskSpec::AddObject { object_name: "Device.X.".into(), parameter_values: vec![] },
            TaskSpec::DeleteObject { object_name: "Device.X.1.".into() },
            TaskSpec::Reboot,
            TaskSpec::FactoryReset,
            TaskSpec::Download {
                file_type: None,
                file_name: Some("f".into()),
                url: None,
                target_file_name: None,
                file_size: Some(10),
                delay_seconds: None,
                username: None,
                password: None,
            },
            TaskSpec::Upload {
                file_type: "1 Vendor Configuration File".into(),
                url: "http://127.0.0.1/u".into(),
                delay_seconds: None,
                username: None,
                password: None,
            },
            TaskSpec::ScheduleInform { delay_seconds: 5 },
            TaskSpec::CancelTransfer { command_key: "c".into() },
            TaskSpec::GetAllQueuedTransfers,
            TaskSpec::GetQueuedTransfers,
            TaskSpec::GetRpcMethods,
            TaskSpec::RefreshObject { object_name: "Device.".into() },
            TaskSpec::GetInstances { obj_paths: vec!["Device.".into()], first_level_only: false },
            TaskSpec::GetSupportedProtocol,
        ];
        for t in all {
            let v = serde_json::to_value(&t).unwrap();
            assert_eq!(v["name"], json!(t.name()), "{v}");
            let back: TaskSpec = serde_json::from_value(v.clone()).unwrap();
            assert_eq!(back, t, "{v}");
        }
        let v = serde_json::to_value(TaskSpec::SetParameterValues {
            parameter_values: vec![
                ParameterValueTuple::new("A.b", "1", Some("xsd:int")),
                ParameterValueTuple::new("A.c", "x", None),
            ],
            parameter_key: None,
        })
        .unwrap();
        assert_eq!(
            v,
            json!({"name": "setParameterValues", "parameterValues": [["A.b", "1", "xsd:int"], ["A.c", "x"]]})
        );
    }

    #[test]
    fn bad_json_names_the_problem() {
        let e = TaskSpec::from_json(r#"{"name": "frobnicate"}"#).unwrap_err().to_string();
        assert!(e.contains("unknown variant") && e.contains("frobnicate"), "{e}");
        let e = TaskSpec::from_json(r#"{"name": "getParameterValues"}"#).unwrap_err().to_string();
        assert!(e.contains("missing field") && e.contains("parameterNames"), "{e}");
        let e = TaskSpec::from_json(r#"{"parameterNames": []}"#).unwrap_err().to_string();
        assert!(e.contains("name"), "{e}");
        let e =
            TaskSpec::from_json(r#"{"name": "setParameterValues", "parameterValues": [["A"]]}"#)
                .unwrap_err()
                .to_string();
        assert!(e.contains("[path, value]"), "{e}");
        let e = TaskSpec::from_json(
            r#"{"name": "setParameterValues", "parameterValues": [["A", {"x": 1}]]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("string, number or boolean"), "{e}");
        let e =
            TaskSpec::from_json(r#"{"name": "scheduleInform", "delaySeconds": -1}"#).unwrap_err();
        assert!(matches!(e, StoreError::Invalid { .. }));
        assert!(TaskSpec::from_json("not json").is_err());
    }

    #[test]
    fn validation() {
        let bad = [
            json!({"name": "getParameterValues", "parameterNames": []}),
            json!({"name": "getParameterValues", "parameterNames": [""]}),
            json!({"name": "getParameterValues", "parameterNames": ["A\nB"]}),
            json!({"name": "setParameterValues", "parameterValues": []}),
            json!({"name": "setParameterValues", "parameterValues": [["Device.X.", "1"]]}),
            json!({"name": "setParameterValues", "parameterValues": [["A", "1", ""]]}),
            json!({"name": "addObject", "objectName": "Device.X"}),
            json!({"name": "deleteObject", "objectName": ""}),
            json!({"name": "download"}),
            json!({"name": "download", "fileName": " "}),
            json!({"name": "scheduleInform", "delaySeconds": 0}),
            json!({"name": "setParameterAttributes", "parameters": [{"name": "A"}]}),
            json!({"name": "setParameterAttributes", "parameters": [{"name": "A", "notification": 9}]}),
            json!({"name": "scheduleDownload", "url": "http://127.0.0.1/x", "timeWindows": []}),
            json!({"name": "scheduleDownload", "url": "http://127.0.0.1/x", "timeWindows": [
                {"windowStart": 10, "windowEnd": 10, "windowMode": "1 At Any Time"}]}),
            json!({"name": "operate", "command": "Device.Reboot"}),
            json!({"name": "changeDUState", "operations": []}),
            json!({"name": "changeDUState", "operations": [{"type": "update"}]}),
            json!({"name": "cancelTransfer", "commandKey": ""}),
            json!({"name": "upload", "fileType": "1 Vendor Configuration File", "url": ""}),
        ];
        for b in bad {
            let t: TaskSpec = serde_json::from_value(b.clone()).unwrap();
            let e = t.validate().unwrap_err();
            assert!(matches!(e, StoreError::Invalid { .. }), "{b}: {e}");
        }
        let long = "A".repeat(MAX_PATH_LEN + 1);
        let t = TaskSpec::GetParameterValues { parameter_names: vec![long] };
        assert!(t.validate().is_err());
        let t = TaskSpec::GetParameterValues { parameter_names: vec!["A".repeat(MAX_PATH_LEN)] };
        assert!(t.validate().is_ok());
        let many = vec!["A".to_owned(); MAX_LIST_ITEMS + 1];
        assert!(TaskSpec::GetParameterValues { parameter_names: many }.validate().is_err());
        // GetParameterNames with an empty path means the root and is fine.
        TaskSpec::GetParameterNames { parameter_name: String::new(), next_level: true }
            .validate()
            .unwrap();
    }

    #[test]
    fn status_names() {
        for s in [
            TaskStatus::Queued,
            TaskStatus::Running,
            TaskStatus::Done,
            TaskStatus::Fault,
            TaskStatus::Expired,
        ] {
            assert_eq!(TaskStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
        }
        assert!(TaskStatus::Done.is_final() && !TaskStatus::Running.is_final());
    }
}
