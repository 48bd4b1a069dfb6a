//! Translation between protocol-neutral tasks and CWMP RPCs.
//!
//! Pure functions: a [`TaskSpec`] becomes the first RPC of a [`TaskRun`]; each CPE response
//! advances the run to its next RPC, to completion with a JSON result and the parameters
//! learned, to "waiting for TransferComplete", or to a fault. The session owns the I/O.

use cwmp_schema::{
    AllQueuedTransferStruct, Body, ChangeDuState, Download, DuOperation as WireDuOp, FaultCode,
    InstallOp, ParameterValue, ScheduleDownload, SetParameterAttributesStruct, SoapFault,
    TimeWindow as WireTimeWindow, UninstallOp, UpdateOp, Upload, ValueType,
};
use provisioning::{DuOperation, Parameter, ParameterValueTuple, TaskFault, TaskSpec};
use serde_json::{json, Value};
use time::OffsetDateTime;

/// What a file reference in a Download-like task resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedFile {
    /// URL the CPE fetches.
    pub url: String,
    /// Size in bytes, 0 when unknown.
    pub size: u64,
}

/// A task in flight inside one session.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRun {
    /// The task's CommandKey (used by Download, Upload, Reboot, ScheduleInform ...).
    pub command_key: String,
    step: Step,
    /// Method name of the request sent last; the answer must be its `…Response` or a fault.
    sent: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// One request, one response.
    Single,
    /// refreshObject: GetParameterNames sent; GetParameterValues of the leaves comes next.
    RefreshNames,
    /// refreshObject: GetParameterValues sent.
    RefreshValues { names: Vec<ParameterInfoLite> },
    /// addObject: AddObject sent; SetParameterValues on the new instance may follow.
    AddObject { object_name: String, values: Vec<ParameterValueTuple> },
    /// addObject: SetParameterValues on the new instance sent.
    AddObjectValues { instance_path: String, instance_number: u32 },
}

#[derive(Debug, Clone, PartialEq)]
struct ParameterInfoLite {
    name: String,
    writable: bool,
}

/// What a response did to the task.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Send this request next; the task is still running.
    Next(Body),
    /// The task is done.
    Done {
        /// JSON result for the API.
        result: Value,
        /// Parameters learned or changed (to merge into the cache).
        learned: Vec<Parameter>,
        /// Cached subtree to forget (DeleteObject).
        forget_prefix: Option<String>,
    },
    /// The CPE accepted a transfer; the task finishes when TransferComplete (or
    /// DUStateChangeComplete) with this CommandKey arrives, in this or a later session.
    AwaitCompletion {
        /// JSON result so far.
        result: Value,
    },
    /// The task failed.
    Fault(TaskFault),
}

/// Methods a CPE must support (TR-069 A.3.1); checked only for diagnostics.
pub const ACS_METHODS: &[&str] = &[
    "Inform",
    "GetRPCMethods",
    "TransferComplete",
    "AutonomousTransferComplete",
    "DUStateChangeComplete",
    "AutonomousDUStateChangeComplete",
    "RequestDownload",
    "Kicked",
];

/// The task's CommandKey: stable per task so that a TransferComplete in a later session still
/// matches after a restart.
pub fn command_key_for(task_id: i64) -> String {
    format!("acsd-{task_id}")
}

fn value_type_of(t: &ParameterValueTuple) -> ValueType {
    match t.value_type.as_deref() {
        Some(ty) => ValueType::parse(ty),
        None => ValueType::String,
    }
}

fn to_wire_values(values: &[ParameterValueTuple], base: &str) -> Vec<ParameterValue> {
    values
        .iter()
        .map(|t| {
            let name = if base.is_empty() || t.path.starts_with(base) || looks_absolute(&t.path) {
                t.path.clone()
            } else {
                format!("{base}{}", t.path)
            };
            ParameterValue::new(name, t.value.clone(), value_type_of(t))
        })
        .collect()
}

fn looks_absolute(path: &str) -> bool {
    path.starts_with("Device.") || path.starts_with("InternetGatewayDevice.")
}

/// Start a task: its first RPC. `file` is the resolved file for Download / ScheduleDownload
/// tasks (the session looks stored files up before calling this).
pub fn start(
    task_id: i64,
    spec: &TaskSpec,
    file: Option<&ResolvedFile>,
) -> Result<(TaskRun, Body), TaskFault> {
    let (mut run, body) = first_request(task_id, spec, file)?;
    run.sent = body.method_name();
    Ok((run, body))
}

fn first_request(
    task_id: i64,
    spec: &TaskSpec,
    file: Option<&ResolvedFile>,
) -> Result<(TaskRun, Body), TaskFault> {
    let command_key = command_key_for(task_id);
    let single = |body: Body| {
        Ok((TaskRun { command_key: command_key.clone(), step: Step::Single, sent: "" }, body))
    };
    match spec {
        TaskSpec::GetParameterNames { parameter_name, next_level } => {
            single(Body::GetParameterNames {
                parameter_path: parameter_name.clone(),
                next_level: *next_level,
            })
        }
        TaskSpec::GetParameterValues { parameter_names } => {
            single(Body::GetParameterValues { parameter_names: parameter_names.clone() })
        }
        TaskSpec::SetParameterValues { parameter_values, parameter_key } => {
            single(Body::SetParameterValues {
                parameter_list: to_wire_values(parameter_values, ""),
                parameter_key: parameter_key.clone().unwrap_or_else(|| command_key.clone()),
            })
        }
        TaskSpec::GetParameterAttributes { parameter_names } => {
            single(Body::GetParameterAttributes { parameter_names: parameter_names.clone() })
        }
        TaskSpec::SetParameterAttributes { parameters } => single(Body::SetParameterAttributes {
            parameter_list: parameters
                .iter()
                .map(|p| SetParameterAttributesStruct {
                    name: p.name.clone(),
                    notification_change: p.notification.is_some(),
                    notification: p.notification.unwrap_or(0),
                    access_list_change: p.access_list.is_some(),
                    access_list: p.access_list.clone().unwrap_or_default(),
                })
                .collect(),
        }),
        TaskSpec::AddObject { object_name, parameter_values } => Ok((
            TaskRun {
                command_key: command_key.clone(),
                step: Step::AddObject {
                    object_name: object_name.clone(),
                    values: parameter_values.clone(),
                },
                sent: "",
            },
            Body::AddObject {
                object_name: object_name.clone(),
                parameter_key: command_key.clone(),
            },
        )),
        TaskSpec::DeleteObject { object_name } => single(Body::DeleteObject {
            object_name: object_name.clone(),
            parameter_key: command_key.clone(),
        }),
        TaskSpec::Reboot => single(Body::Reboot { command_key: command_key.clone() }),
        TaskSpec::FactoryReset => single(Body::FactoryReset),
        TaskSpec::Download {
            target_file_name,
            file_size,
            delay_seconds,
            username,
            password,
            ..
        } => {
            let file = file.ok_or_else(|| fault("file_not_found", "no file for this download"))?;
            single(Body::Download(Download {
                command_key: command_key.clone(),
                file_type: spec.download_file_type().unwrap_or_default().to_owned(),
                url: file.url.clone(),
                username: username.clone().unwrap_or_default(),
                password: password.clone().unwrap_or_default(),
                file_size: clamp_u32(file_size.unwrap_or(file.size)),
                target_file_name: target_file_name.clone().unwrap_or_default(),
                delay_seconds: delay_seconds.unwrap_or(0),
                success_url: String::new(),
                failure_url: String::new(),
            }))
        }
        TaskSpec::Upload { file_type, url, delay_seconds, username, password } => {
            single(Body::Upload(Upload {
                command_key: command_key.clone(),
                file_type: file_type.clone(),
                url: url.clone(),
                username: username.clone().unwrap_or_default(),
                password: password.clone().unwrap_or_default(),
                delay_seconds: delay_seconds.unwrap_or(0),
            }))
        }
        TaskSpec::ScheduleInform { delay_seconds } => single(Body::ScheduleInform {
            delay_seconds: *delay_seconds,
            command_key: command_key.clone(),
        }),
        TaskSpec::ScheduleDownload { target_file_name, file_size, time_windows, .. } => {
            let file =
                file.ok_or_else(|| fault("file_not_found", "no file for this scheduled download"))?;
            single(Body::ScheduleDownload(ScheduleDownload {
                command_key: command_key.clone(),
                file_type: spec.download_file_type().unwrap_or_default().to_owned(),
                url: file.url.clone(),
                username: String::new(),
                password: String::new(),
                file_size: clamp_u32(file_size.unwrap_or(file.size)),
                target_file_name: target_file_name.clone().unwrap_or_default(),
                time_window_list: time_windows
                    .iter()
                    .map(|w| WireTimeWindow {
                        window_start: w.window_start,
                        window_end: w.window_end,
                        window_mode: w.window_mode.clone(),
                        user_message: w.user_message.clone().unwrap_or_default(),
                        max_retries: w.max_retries.unwrap_or(-1),
                    })
                    .collect(),
            }))
        }
        TaskSpec::CancelTransfer { command_key: target } => {
            single(Body::CancelTransfer { command_key: target.clone() })
        }
        TaskSpec::GetAllQueuedTransfers => single(Body::GetAllQueuedTransfers),
        TaskSpec::GetQueuedTransfers => single(Body::GetQueuedTransfers),
        TaskSpec::ChangeDuState { operations } => single(Body::ChangeDuState(ChangeDuState {
            operations: operations.iter().map(du_op).collect(),
            command_key: command_key.clone(),
        })),
        TaskSpec::GetRpcMethods => single(Body::GetRpcMethods),
        TaskSpec::RefreshObject { object_name } => Ok((
            TaskRun { command_key: command_key.clone(), step: Step::RefreshNames, sent: "" },
            Body::GetParameterNames { parameter_path: object_name.clone(), next_level: false },
        )),
        other => {
            Err(fault("unsupported", format!("task {} is not available over CWMP", other.name())))
        }
    }
}

fn du_op(op: &DuOperation) -> WireDuOp {
    match op {
        DuOperation::Install { url, uuid, username, password, execution_env_ref } => {
            WireDuOp::Install(InstallOp {
                url: url.clone(),
                uuid: uuid.clone(),
                username: username.clone(),
                password: password.clone(),
                execution_env_ref: execution_env_ref.clone(),
            })
        }
        DuOperation::Update { uuid, version, url, username, password } => {
            WireDuOp::Update(UpdateOp {
                uuid: uuid.clone(),
                version: version.clone(),
                url: url.clone(),
                username: username.clone(),
                password: password.clone(),
            })
        }
        DuOperation::Uninstall { uuid, version, execution_env_ref } => {
            WireDuOp::Uninstall(UninstallOp {
                uuid: uuid.clone(),
                version: version.clone(),
                execution_env_ref: execution_env_ref.clone(),
            })
        }
    }
}

fn clamp_u32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// A task fault with a code and message.
pub fn fault(code: impl Into<String>, message: impl Into<String>) -> TaskFault {
    TaskFault { code: code.into(), message: message.into(), detail: Value::Null }
}

/// Turn a CPE SOAP fault into a task fault, keeping per-parameter SetParameterValues faults.
pub fn cpe_fault(f: &SoapFault) -> TaskFault {
    let spv: Vec<Value> = f
        .detail
        .set_parameter_values_faults
        .iter()
        .map(|p| {
            json!({
                "parameterName": p.parameter_name,
                "faultCode": p.code.code(),
                "faultString": p.string,
            })
        })
        .collect();
    TaskFault {
        code: f.detail.code.code().to_string(),
        message: if f.detail.string.is_empty() {
            f.detail.code.meaning().to_owned()
        } else {
            f.detail.string.clone()
        },
        detail: if spv.is_empty() {
            Value::Null
        } else {
            json!({ "setParameterValuesFaults": spv })
        },
    }
}

/// Whether a CPE fault is worth retrying automatically: internal errors, exhausted resources
/// and transfer failures may go away; invalid names, types, values and permissions will not.
pub fn is_transient(code: &str) -> bool {
    match code.parse::<u32>() {
        Ok(c) => {
            matches!(
                FaultCode::from_code(c),
                FaultCode::InternalError
                    | FaultCode::ResourcesExceeded
                    | FaultCode::RetryRequest
                    | FaultCode::CpeVendor(_)
                    | FaultCode::Unknown(_)
            ) || matches!(c, 9002 | 9004 | 9010..=9020)
        }
        // Our own codes: timeouts and unanswered requests are transient.
        Err(_) => matches!(code, "timeout" | "no_response" | "session_aborted"),
    }
}

fn learned_values(list: &[ParameterValue], now: OffsetDateTime) -> Vec<Parameter> {
    list.iter()
        .map(|p| {
            Parameter::value(p.name.clone(), p.value.clone(), Some(p.value_type.as_xsd()), now)
        })
        .collect()
}

fn values_json(list: &[ParameterValue]) -> Value {
    Value::Array(list.iter().map(|p| json!([p.name, p.value, p.value_type.as_xsd()])).collect())
}

fn transfers_json(list: &[AllQueuedTransferStruct]) -> Value {
    Value::Array(
        list.iter()
            .map(|t| {
                json!({
                    "commandKey": t.command_key, "state": t.state, "isDownload": t.is_download,
                    "fileType": t.file_type, "fileSize": t.file_size,
                    "targetFileName": t.target_file_name,
                })
            })
            .collect(),
    )
}

impl TaskRun {
    /// Advance with the CPE's answer to the request this run sent last.
    pub fn on_response(&mut self, response: &Body, now: OffsetDateTime) -> Progress {
        if let Body::Fault(f) = response {
            return Progress::Fault(cpe_fault(f));
        }
        if response.method_name().strip_suffix("Response") != Some(self.sent) {
            return Progress::Fault(fault(
                "unexpected_response",
                format!(
                    "the CPE answered {} to {}",
                    response.method_name(),
                    if self.sent.is_empty() { "nothing" } else { self.sent }
                ),
            ));
        }
        let progress = self.advance(response, now);
        if let Progress::Next(body) = &progress {
            self.sent = body.method_name();
        }
        progress
    }

    fn advance(&mut self, response: &Body, now: OffsetDateTime) -> Progress {
        let done = |result: Value, learned: Vec<Parameter>| Progress::Done {
            result,
            learned,
            forget_prefix: None,
        };
        match (&mut self.step, response) {
            (Step::Single, Body::GetParameterNamesResponse { parameter_list }) => {
                let learned = parameter_list
                    .iter()
                    .map(|p| Parameter {
                        path: p.name.clone(),
                        value: None,
                        value_type: None,
                        writable: Some(p.writable),
                        notification: None,
                        access_list: None,
                        updated_at: now,
                    })
                    .collect();
                let list: Vec<Value> =
                    parameter_list.iter().map(|p| json!([p.name, p.writable])).collect();
                done(json!({ "parameters": list }), learned)
            }
            (Step::Single, Body::GetParameterValuesResponse { parameter_list }) => done(
                json!({ "parameters": values_json(parameter_list) }),
                learned_values(parameter_list, now),
            ),
            (Step::Single, Body::SetParameterValuesResponse { status }) => {
                // What we set is what the CPE now has; the session fills `learned` from the
                // request it sent (see `Session`), since the response carries no values.
                done(json!({ "status": status }), Vec::new())
            }
            (Step::Single, Body::GetParameterAttributesResponse { parameter_list }) => {
                let learned = parameter_list
                    .iter()
                    .map(|a| Parameter {
                        path: a.name.clone(),
                        value: None,
                        value_type: None,
                        writable: None,
                        notification: Some(a.notification),
                        access_list: Some(a.access_list.clone()),
                        updated_at: now,
                    })
                    .collect();
                let list: Vec<Value> = parameter_list
                    .iter()
                    .map(|a| json!({"name": a.name, "notification": a.notification, "accessList": a.access_list}))
                    .collect();
                done(json!({ "parameters": list }), learned)
            }
            (Step::Single, Body::SetParameterAttributesResponse) => done(json!({}), Vec::new()),
            (Step::Single, Body::DeleteObjectResponse { status }) => Progress::Done {
                result: json!({ "status": status }),
                learned: Vec::new(),
                forget_prefix: None,
            },
            (Step::Single, Body::RebootResponse)
            | (Step::Single, Body::FactoryResetResponse)
            | (Step::Single, Body::ScheduleInformResponse)
            | (Step::Single, Body::CancelTransferResponse) => done(json!({}), Vec::new()),
            (Step::Single, Body::DownloadResponse { status, start_time, complete_time })
            | (Step::Single, Body::UploadResponse { status, start_time, complete_time }) => {
                Progress::AwaitCompletion {
                    result: json!({
                        "status": status, "startTime": start_time, "completeTime": complete_time,
                        "commandKey": self.command_key,
                    }),
                }
            }
            (Step::Single, Body::ScheduleDownloadResponse)
            | (Step::Single, Body::ChangeDuStateResponse) => {
                Progress::AwaitCompletion { result: json!({ "commandKey": self.command_key }) }
            }
            (Step::Single, Body::GetAllQueuedTransfersResponse { transfer_list }) => {
                done(json!({ "transfers": transfers_json(transfer_list) }), Vec::new())
            }
            (Step::Single, Body::GetQueuedTransfersResponse { transfer_list }) => {
                let list: Vec<Value> = transfer_list
                    .iter()
                    .map(|t| json!({"commandKey": t.command_key, "state": t.state}))
                    .collect();
                done(json!({ "transfers": list }), Vec::new())
            }
            (Step::Single, Body::GetRpcMethodsResponse { method_list }) => {
                done(json!({ "methods": method_list }), Vec::new())
            }
            (Step::RefreshNames, Body::GetParameterNamesResponse { parameter_list }) => {
                let names: Vec<ParameterInfoLite> = parameter_list
                    .iter()
                    .map(|p| ParameterInfoLite { name: p.name.clone(), writable: p.writable })
                    .collect();
                let leaves: Vec<String> = names
                    .iter()
                    .filter(|p| !p.name.ends_with('.'))
                    .map(|p| p.name.clone())
                    .collect();
                if leaves.is_empty() {
                    let learned = names_to_params(&names, now);
                    return done(json!({ "parameters": [] }), learned);
                }
                self.step = Step::RefreshValues { names };
                Progress::Next(Body::GetParameterValues { parameter_names: leaves })
            }
            (
                Step::RefreshValues { names },
                Body::GetParameterValuesResponse { parameter_list },
            ) => {
                let mut learned = names_to_params(names, now);
                let values = learned_values(parameter_list, now);
                for v in values {
                    match learned.iter_mut().find(|p| p.path == v.path) {
                        Some(p) => p.merge_from(v),
                        None => learned.push(v),
                    }
                }
                done(json!({ "parameters": values_json(parameter_list) }), learned)
            }
            (
                Step::AddObject { object_name, values },
                Body::AddObjectResponse { instance_number, status },
            ) => {
                let instance_path = format!("{object_name}{instance_number}.");
                let object = Parameter {
                    path: instance_path.clone(),
                    value: None,
                    value_type: None,
                    writable: Some(true),
                    notification: None,
                    access_list: None,
                    updated_at: now,
                };
                if values.is_empty() {
                    return done(
                        json!({ "instanceNumber": instance_number, "status": status, "path": instance_path }),
                        vec![object],
                    );
                }
                let request = Body::SetParameterValues {
                    parameter_list: to_wire_values(values, &instance_path),
                    parameter_key: self.command_key.clone(),
                };
                self.step =
                    Step::AddObjectValues { instance_path, instance_number: *instance_number };
                Progress::Next(request)
            }
            (
                Step::AddObjectValues { instance_path, instance_number },
                Body::SetParameterValuesResponse { status },
            ) => done(
                json!({ "instanceNumber": instance_number, "status": status, "path": instance_path }),
                vec![Parameter {
                    path: instance_path.clone(),
                    value: None,
                    value_type: None,
                    writable: Some(true),
                    notification: None,
                    access_list: None,
                    updated_at: now,
                }],
            ),
            (_, other) => Progress::Fault(fault(
                "unexpected_response",
                format!(
                    "the CPE answered {}, which does not match the request",
                    other.method_name()
                ),
            )),
        }
    }
}

fn names_to_params(names: &[ParameterInfoLite], now: OffsetDateTime) -> Vec<Parameter> {
    names
        .iter()
        .map(|p| Parameter {
            path: p.name.clone(),
            value: None,
            value_type: None,
            writable: Some(p.writable),
            notification: None,
            access_list: None,
            updated_at: now,
        })
        .collect()
}

/// Parameters a successful SetParameterValues request changed (for the cache).
pub fn set_values_learned(request: &Body, now: OffsetDateTime) -> Vec<Parameter> {
    match request {
        Body::SetParameterValues { parameter_list, .. } => learned_values(parameter_list, now),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use cwmp_schema::{CwmpFault, ParameterInfo, SetParameterValuesFault};

    fn now() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH
    }

    #[test]
    fn set_parameter_values_uses_given_or_generated_key() {
        let spec = TaskSpec::SetParameterValues {
            parameter_values: vec![ParameterValueTuple::new(
                "Device.X",
                "1",
                Some("xsd:unsignedInt"),
            )],
            parameter_key: None,
        };
        let (_, body) = start(7, &spec, None).unwrap();
        match body {
            Body::SetParameterValues { parameter_list, parameter_key } => {
                assert_eq!(parameter_key, "acsd-7");
                assert_eq!(parameter_list[0].value_type, ValueType::UnsignedInt);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refresh_object_is_names_then_values() {
        let spec = TaskSpec::RefreshObject { object_name: "Device.DeviceInfo.".into() };
        let (mut run, body) = start(1, &spec, None).unwrap();
        assert!(matches!(body, Body::GetParameterNames { next_level: false, .. }));
        let names = Body::GetParameterNamesResponse {
            parameter_list: vec![
                ParameterInfo { name: "Device.DeviceInfo.".into(), writable: false },
                ParameterInfo { name: "Device.DeviceInfo.ModelName".into(), writable: false },
            ],
        };
        let next = run.on_response(&names, now());
        match next {
            Progress::Next(Body::GetParameterValues { parameter_names }) => {
                assert_eq!(parameter_names, vec!["Device.DeviceInfo.ModelName".to_string()])
            }
            other => panic!("{other:?}"),
        }
        let values = Body::GetParameterValuesResponse {
            parameter_list: vec![ParameterValue::string("Device.DeviceInfo.ModelName", "X1")],
        };
        match run.on_response(&values, now()) {
            Progress::Done { learned, .. } => {
                let model =
                    learned.iter().find(|p| p.path == "Device.DeviceInfo.ModelName").unwrap();
                assert_eq!(model.value.as_deref(), Some("X1"));
                assert_eq!(model.writable, Some(false));
                assert!(learned.iter().any(|p| p.path == "Device.DeviceInfo."));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn add_object_with_values_sets_them_on_the_new_instance() {
        let spec = TaskSpec::AddObject {
            object_name: "Device.WiFi.SSID.".into(),
            parameter_values: vec![ParameterValueTuple::new("SSID", "guest", None)],
        };
        let (mut run, _) = start(2, &spec, None).unwrap();
        let next =
            run.on_response(&Body::AddObjectResponse { instance_number: 4, status: 0 }, now());
        match next {
            Progress::Next(Body::SetParameterValues { parameter_list, .. }) => {
                assert_eq!(parameter_list[0].name, "Device.WiFi.SSID.4.SSID")
            }
            other => panic!("{other:?}"),
        }
        match run.on_response(&Body::SetParameterValuesResponse { status: 0 }, now()) {
            Progress::Done { result, .. } => assert_eq!(result["instanceNumber"], 4),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn download_waits_for_transfer_complete() {
        let spec: TaskSpec =
            serde_json::from_value(json!({"name": "download", "fileName": "fw.bin"})).unwrap();
        assert!(start(3, &spec, None).is_err(), "unresolved file is a fault");
        let file = ResolvedFile { url: "http://acs/files/fw.bin".into(), size: 10 };
        let (mut run, body) = start(3, &spec, Some(&file)).unwrap();
        match &body {
            Body::Download(d) => {
                assert_eq!(d.command_key, "acsd-3");
                assert_eq!(d.file_type, "1 Firmware Upgrade Image");
                assert_eq!(d.file_size, 10);
            }
            other => panic!("{other:?}"),
        }
        let resp = Body::DownloadResponse {
            status: 1,
            start_time: String::new(),
            complete_time: String::new(),
        };
        assert!(matches!(run.on_response(&resp, now()), Progress::AwaitCompletion { .. }));
    }

    #[test]
    fn cpe_faults_keep_per_parameter_detail_and_classify() {
        let f = SoapFault {
            faultcode: "Client".into(),
            faultstring: "CWMP fault".into(),
            detail: CwmpFault {
                code: FaultCode::from_code(9003),
                string: "Invalid arguments".into(),
                set_parameter_values_faults: vec![SetParameterValuesFault {
                    parameter_name: "Device.X".into(),
                    code: FaultCode::from_code(9007),
                    string: "bad value".into(),
                }],
            },
        };
        let tf = cpe_fault(&f);
        assert_eq!(tf.code, "9003");
        assert_eq!(tf.detail["setParameterValuesFaults"][0]["faultCode"], 9007);
        assert!(!is_transient("9005"));
        assert!(!is_transient("9007"));
        assert!(is_transient("9002"));
        assert!(is_transient("timeout"));
    }

    #[test]
    fn mismatched_response_is_a_fault() {
        let (mut run, _) = start(1, &TaskSpec::Reboot, None).unwrap();
        assert!(matches!(
            run.on_response(&Body::FactoryResetResponse, now()),
            Progress::Fault(f) if f.code == "unexpected_response"
        ));
    }
}
