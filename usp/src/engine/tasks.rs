//! Protocol-neutral tasks as USP requests, and USP responses as task results and faults.

use std::collections::BTreeMap;

use provisioning::{NewFault, Parameter, Task, TaskFault, TaskSpec, TaskStatus};
use serde_json::{json, Value};

use super::{now_utc, Usp};
use crate::codec::incoming::{CommandResult, ErrorView, PathFailure};
use crate::codec::msg::GetSupportedDmResp;
use crate::codec::request::{self, ObjectSettings, ParamSetting, SupportedDmOptions};
use crate::codec::version::{negotiate, version_list, CONTROLLER_VERSIONS};
use crate::codec::{ErrorCode, Incoming, IncomingKind, Msg};
use crate::UspError;

/// Whether a task can run over USP.
#[must_use]
pub fn supports_task(spec: &TaskSpec) -> bool {
    matches!(
        spec,
        TaskSpec::GetParameterValues { .. }
            | TaskSpec::SetParameterValues { .. }
            | TaskSpec::AddObject { .. }
            | TaskSpec::DeleteObject { .. }
            | TaskSpec::Reboot
            | TaskSpec::FactoryReset
            | TaskSpec::Download { .. }
            | TaskSpec::RefreshObject { .. }
            | TaskSpec::Operate { .. }
            | TaskSpec::GetInstances { .. }
            | TaskSpec::GetSupportedDm { .. }
            | TaskSpec::GetSupportedProtocol
    )
}

/// What running a task produced.
pub(crate) enum Exec {
    /// Finished; parameters learned go to the cache.
    Done { result: Value, params: Vec<(String, String)> },
    /// An asynchronous command started; OperationComplete finishes the task.
    Started { result: Value },
}

/// Why a task did not finish.
pub(crate) enum ExecError {
    /// The agent refused or failed: final.
    Fault(TaskFault),
    /// The agent could not be reached: retry when it is back.
    Retry(UspError),
}

impl From<UspError> for ExecError {
    fn from(e: UspError) -> Self {
        match e {
            UspError::Timeout { .. } | UspError::NotConnected(_) | UspError::Mtp(_) => {
                ExecError::Retry(e)
            }
            UspError::Path { .. } => ExecError::Fault(TaskFault {
                code: e.usp_code().code().to_string(),
                message: e.to_string(),
                detail: Value::Null,
            }),
            other => ExecError::Fault(TaskFault {
                code: "internal".into(),
                message: other.to_string(),
                detail: Value::Null,
            }),
        }
    }
}

fn failures_json(failures: &[PathFailure]) -> Vec<Value> {
    failures
        .iter()
        .map(|f| json!({ "path": f.path, "errCode": f.code.code(), "errMsg": f.message }))
        .collect()
}

/// A task fault from a USP error code and the agent's message.
pub(crate) fn agent_fault(code: ErrorCode, message: &str, failures: Vec<PathFailure>) -> TaskFault {
    TaskFault {
        code: code.code().to_string(),
        message: if message.is_empty() { code.name().to_owned() } else { message.to_owned() },
        detail: if failures.is_empty() {
            Value::Null
        } else {
            json!({ "parameterErrors": failures_json(&failures) })
        },
    }
}

fn fault(code: &str, message: impl Into<String>) -> ExecError {
    ExecError::Fault(TaskFault { code: code.into(), message: message.into(), detail: Value::Null })
}

fn error_fault(e: ErrorView) -> ExecError {
    ExecError::Fault(agent_fault(e.code, &e.message, e.param_errs))
}

fn unexpected(kind: &IncomingKind) -> ExecError {
    fault(
        &ErrorCode::MessageFailed.code().to_string(),
        format!("unexpected answer from the agent: {}", kind_name(kind)),
    )
}

fn kind_name(kind: &IncomingKind) -> &'static str {
    match kind {
        IncomingKind::Notify(_) => "Notify",
        IncomingKind::GetResp(_) => "GetResp",
        IncomingKind::SetResp(_) => "SetResp",
        IncomingKind::AddResp(_) => "AddResp",
        IncomingKind::DeleteResp(_) => "DeleteResp",
        IncomingKind::OperateResp(_) => "OperateResp",
        IncomingKind::GetInstancesResp(_) => "GetInstancesResp",
        IncomingKind::GetSupportedDmResp(_) => "GetSupportedDMResp",
        IncomingKind::GetSupportedProtocolResp { .. } => "GetSupportedProtocolResp",
        IncomingKind::NotifyResp { .. } => "NotifyResp",
        IncomingKind::BrokerResp { name } => name,
        IncomingKind::Error(_) => "Error",
        IncomingKind::UnsupportedRequest { name } => name,
    }
}

fn supported_dm_json(resp: &GetSupportedDmResp) -> Value {
    let results: Vec<Value> = resp
        .req_obj_results
        .iter()
        .map(|r| {
            let objs: Vec<Value> = r
                .supported_objs
                .iter()
                .map(|o| {
                    json!({
                        "path": o.supported_obj_path,
                        "access": o.access,
                        "multiInstance": o.is_multi_instance,
                        "params": o.supported_params.iter().map(|p| json!({
                            "name": p.param_name, "access": p.access,
                            "valueType": p.value_type, "valueChange": p.value_change,
                        })).collect::<Vec<_>>(),
                        "commands": o.supported_commands.iter().map(|c| json!({
                            "name": c.command_name, "input": c.input_arg_names,
                            "output": c.output_arg_names, "type": c.command_type,
                        })).collect::<Vec<_>>(),
                        "events": o.supported_events.iter().map(|e| json!({
                            "name": e.event_name, "args": e.arg_names,
                        })).collect::<Vec<_>>(),
                        "uniqueKeySets": o.unique_key_sets.iter().map(|k| k.key_names.clone())
                            .collect::<Vec<_>>(),
                    })
                })
                .collect();
            json!({
                "requestedPath": r.req_obj_path, "errCode": r.err_code, "errMsg": r.err_msg,
                "dataModelInstUri": r.data_model_inst_uri, "objects": objs,
            })
        })
        .collect();
    json!({ "results": results })
}

impl Usp {
    /// Claimed `task` runs now. Returns false when the agent became unreachable (stop the worker).
    pub(super) async fn run_task(&self, agent_id: &str, mut task: Task) -> bool {
        tracing::info!(agent = %agent_id, task = task.id, name = task.spec.name(), "running usp task");
        let outcome = self.execute(agent_id, &mut task).await;
        // Only a task sent with a CommandKey (Operate) can also be finished by an
        // OperationComplete; the lock orders the two. Every other task goes straight on, so
        // that agents do not wait for each other's database writes.
        let _guard = match task.command_key {
            Some(_) => Some(self.inner.ops.lock().await),
            None => None,
        };
        if task.command_key.is_some() {
            // An OperationComplete may have finished the task while we awaited the response.
            if let Ok(Some(stored)) = self.inner.store.get_task(task.id).await {
                if stored.status.is_final() {
                    self.notify_task(&stored);
                    return true;
                }
            }
        }
        let mut keep_going = true;
        let mut fault_row = None;
        let mut learned = Vec::new();
        match outcome {
            Ok(Exec::Done { result, params }) => {
                task.status = TaskStatus::Done;
                task.result = Some(result);
                task.fault = None;
                let now = now_utc();
                learned =
                    params.into_iter().map(|(p, v)| Parameter::value(p, v, None, now)).collect();
            }
            Ok(Exec::Started { result }) => {
                task.status = TaskStatus::Running;
                task.result = Some(result);
            }
            Err(ExecError::Fault(f)) => {
                task.status = TaskStatus::Fault;
                fault_row = Some(f.clone());
                task.fault = Some(f);
            }
            Err(ExecError::Retry(e)) => {
                keep_going = false;
                let f = TaskFault {
                    code: match e {
                        UspError::Timeout { .. } => "timeout".into(),
                        _ => "not_connected".into(),
                    },
                    message: e.to_string(),
                    detail: Value::Null,
                };
                task.status = if task.attempts >= task.max_attempts {
                    fault_row = Some(f.clone());
                    TaskStatus::Fault
                } else {
                    TaskStatus::Queued
                };
                task.command_key = None;
                task.fault = Some(f);
                if matches!(e, UspError::Timeout { .. }) {
                    self.set_offline(agent_id, "request timeout");
                }
            }
        }
        // The outcome and the values it taught us commit together.
        if let Err(e) = self.inner.store.complete_task(&task, &[], &learned).await {
            tracing::warn!(task = task.id, error = %e, "cannot store task outcome");
        }
        if let Some(f) = fault_row {
            let row = NewFault {
                device_id: agent_id.to_owned(),
                task_id: Some(task.id),
                channel: "task".into(),
                code: f.code,
                message: f.message,
                detail: f.detail,
                retries: task.attempts.saturating_sub(1),
            };
            if let Err(e) = self.inner.store.insert_fault(&row).await {
                tracing::debug!(error = %e, "fault not recorded");
            }
        }
        self.notify_task(&task);
        keep_going
    }

    pub(super) async fn ask(&self, agent_id: &str, msg: Msg) -> Result<IncomingKind, ExecError> {
        let Incoming { kind, .. } = self.request(agent_id, msg).await?;
        match kind {
            IncomingKind::Error(e) => Err(error_fault(e)),
            other => Ok(other),
        }
    }

    async fn get_values(&self, agent_id: &str, paths: Vec<String>) -> Result<Exec, ExecError> {
        let msg = request::get(self.new_msg_id("get"), paths, 0);
        match self.ask(agent_id, msg).await? {
            IncomingKind::GetResp(out) => {
                if out.values.is_empty() {
                    if let Some(first) = out.failures.first() {
                        return Err(ExecError::Fault(agent_fault(
                            first.code,
                            &first.message,
                            out.failures.clone(),
                        )));
                    }
                }
                let params: Vec<(String, String)> = out.values.into_iter().collect();
                let mut result = json!({
                    "parameters": params.iter().map(|(p, v)| json!([p, v])).collect::<Vec<_>>(),
                });
                if !out.failures.is_empty() {
                    result["failures"] = Value::Array(failures_json(&out.failures));
                }
                Ok(Exec::Done { result, params })
            }
            other => Err(unexpected(&other)),
        }
    }

    async fn operate(
        &self,
        agent_id: &str,
        task: &mut Task,
        command: String,
        input_args: BTreeMap<String, String>,
    ) -> Result<Exec, ExecError> {
        // The key goes to the store before the request, so that an OperationComplete arriving
        // right after the response finds its task.
        let key = format!("acsd-task-{}", task.id);
        task.command_key = Some(key.clone());
        self.inner.store.update_task(task).await.map_err(UspError::from)?;
        let msg = request::operate(self.new_msg_id("operate"), command, key, true, input_args);
        match self.ask(agent_id, msg).await? {
            IncomingKind::OperateResp(outcomes) => match outcomes.into_iter().next() {
                None => Ok(Exec::Done { result: json!({ "outputArgs": {} }), params: Vec::new() }),
                Some(o) => match o.result {
                    CommandResult::Completed { output_args } => Ok(Exec::Done {
                        result: json!({ "command": o.executed_command, "outputArgs": output_args }),
                        params: Vec::new(),
                    }),
                    CommandResult::Started { request_path } => Ok(Exec::Started {
                        result: json!({ "command": o.executed_command, "requestPath": request_path }),
                    }),
                    CommandResult::Failed(f) => {
                        Err(ExecError::Fault(agent_fault(f.code, &f.message, Vec::new())))
                    }
                },
            },
            other => Err(unexpected(&other)),
        }
    }

    /// Runs one task against the agent.
    pub(super) async fn execute(&self, agent_id: &str, task: &mut Task) -> Result<Exec, ExecError> {
        match task.spec.clone() {
            TaskSpec::GetParameterValues { parameter_names } => {
                self.get_values(agent_id, parameter_names).await
            }
            TaskSpec::RefreshObject { object_name } => {
                let path = if object_name.is_empty() { "Device.".to_owned() } else { object_name };
                self.get_values(agent_id, vec![path]).await
            }
            TaskSpec::SetParameterValues { parameter_values, .. } => {
                let pairs: Vec<(String, String)> =
                    parameter_values.into_iter().map(|p| (p.path, p.value)).collect();
                let msg = request::set_params(self.new_msg_id("set"), false, true, pairs.clone())
                    .map_err(ExecError::from)?;
                match self.ask(agent_id, msg).await? {
                    IncomingKind::SetResp(out) => {
                        let mut params: Vec<(String, String)> =
                            out.updated.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                        if params.is_empty() {
                            params = pairs;
                        }
                        if !out.object_failures.is_empty() {
                            let mut all = out.param_failures.clone();
                            all.extend(out.object_failures.iter().cloned());
                            let first = &out.object_failures[0];
                            return Err(ExecError::Fault(agent_fault(
                                first.code,
                                &first.message,
                                all,
                            )));
                        }
                        let mut result = json!({ "status": 0, "updated": out.updated });
                        if !out.param_failures.is_empty() {
                            result["parameterErrors"] =
                                Value::Array(failures_json(&out.param_failures));
                        }
                        Ok(Exec::Done { result, params })
                    }
                    other => Err(unexpected(&other)),
                }
            }
            TaskSpec::AddObject { object_name, parameter_values } => {
                let params = parameter_values
                    .into_iter()
                    .map(|p| {
                        let rel = p.path.strip_prefix(&object_name).unwrap_or(&p.path).to_owned();
                        ParamSetting::new(rel, p.value, true)
                    })
                    .collect();
                let msg = request::add(
                    self.new_msg_id("add"),
                    false,
                    [ObjectSettings::new(object_name.clone(), params)],
                );
                match self.ask(agent_id, msg).await? {
                    IncomingKind::AddResp(outcomes) => {
                        let Some(first) = outcomes.into_iter().next() else {
                            return Err(fault("7000", "the agent created nothing"));
                        };
                        match first.result {
                            Ok(created) => {
                                let number = created
                                    .instantiated_path
                                    .trim_end_matches('.')
                                    .rsplit('.')
                                    .next()
                                    .and_then(|n| n.parse::<u32>().ok());
                                Ok(Exec::Done {
                                    result: json!({
                                        "path": created.instantiated_path,
                                        "instanceNumber": number,
                                        "uniqueKeys": created.unique_keys,
                                        "status": 0,
                                        "parameterErrors": failures_json(&created.param_failures),
                                    }),
                                    params: Vec::new(),
                                })
                            }
                            Err(f) => {
                                Err(ExecError::Fault(agent_fault(f.code, &f.message, Vec::new())))
                            }
                        }
                    }
                    other => Err(unexpected(&other)),
                }
            }
            TaskSpec::DeleteObject { object_name } => {
                let msg = request::delete(self.new_msg_id("delete"), false, [object_name.clone()]);
                match self.ask(agent_id, msg).await? {
                    IncomingKind::DeleteResp(out) => {
                        if let Some(first) = out.failures.first() {
                            return Err(ExecError::Fault(agent_fault(
                                first.code,
                                &first.message,
                                out.failures.clone(),
                            )));
                        }
                        let _ = self.inner.store.delete_parameters(agent_id, &object_name).await;
                        Ok(Exec::Done {
                            result: json!({ "deleted": out.deleted, "status": 0 }),
                            params: Vec::new(),
                        })
                    }
                    other => Err(unexpected(&other)),
                }
            }
            TaskSpec::Reboot => {
                self.operate(agent_id, task, "Device.Reboot()".into(), BTreeMap::new()).await
            }
            TaskSpec::FactoryReset => {
                self.operate(agent_id, task, "Device.FactoryReset()".into(), BTreeMap::new()).await
            }
            TaskSpec::Operate { command, input_args, .. } => {
                self.operate(agent_id, task, command, input_args).await
            }
            TaskSpec::Download { file_name, url, file_size, username, password, .. } => {
                let url = match (url.filter(|u| !u.trim().is_empty()), file_name) {
                    (Some(u), _) => u,
                    (None, Some(name)) => {
                        let meta =
                            self.inner.store.get_file(&name).await.map_err(UspError::from)?;
                        if meta.is_none() {
                            return Err(fault("not_found", format!("no stored file {name:?}")));
                        }
                        match self.inner.config.file_url.as_ref().and_then(|f| f(&name)) {
                            Some(u) => u,
                            None => {
                                return Err(fault(
                                    "no_public_url",
                                    "set --public-url so agents can be given download URLs",
                                ))
                            }
                        }
                    }
                    (None, None) => return Err(fault("invalid", "download needs a url")),
                };
                let image = self.firmware_slot(agent_id).await?;
                let mut args = BTreeMap::new();
                args.insert("URL".to_owned(), url);
                args.insert("AutoActivate".to_owned(), "true".to_owned());
                if let Some(size) = file_size {
                    args.insert("FileSize".to_owned(), size.to_string());
                }
                if let Some(u) = username {
                    args.insert("Username".to_owned(), u);
                }
                if let Some(p) = password {
                    args.insert("Password".to_owned(), p);
                }
                self.operate(agent_id, task, format!("{image}Download()"), args).await
            }
            TaskSpec::GetInstances { obj_paths, first_level_only } => {
                let msg = request::get_instances(
                    self.new_msg_id("instances"),
                    obj_paths,
                    first_level_only,
                );
                match self.ask(agent_id, msg).await? {
                    IncomingKind::GetInstancesResp(out) => {
                        if out.instances.is_empty() {
                            if let Some(first) = out.failures.first() {
                                return Err(ExecError::Fault(agent_fault(
                                    first.code,
                                    &first.message,
                                    out.failures.clone(),
                                )));
                            }
                        }
                        let instances: Vec<Value> = out
                            .instances
                            .iter()
                            .map(|i| json!({ "path": i.path, "uniqueKeys": i.unique_keys }))
                            .collect();
                        Ok(Exec::Done {
                            result: json!({
                                "instances": instances,
                                "failures": failures_json(&out.failures),
                            }),
                            params: Vec::new(),
                        })
                    }
                    other => Err(unexpected(&other)),
                }
            }
            TaskSpec::GetSupportedDm { obj_paths, first_level_only } => {
                let options = SupportedDmOptions { first_level_only, ..SupportedDmOptions::all() };
                let msg = request::get_supported_dm(self.new_msg_id("gsdm"), obj_paths, options);
                match self.ask(agent_id, msg).await? {
                    IncomingKind::GetSupportedDmResp(resp) => {
                        Ok(Exec::Done { result: supported_dm_json(&resp), params: Vec::new() })
                    }
                    other => Err(unexpected(&other)),
                }
            }
            TaskSpec::GetSupportedProtocol => {
                let versions = self.get_supported_protocol(agent_id).await?;
                let negotiated = self.agent_version(agent_id).map(|v| v.to_string());
                Ok(Exec::Done {
                    result: json!({ "versions": versions, "negotiated": negotiated }),
                    params: Vec::new(),
                })
            }
            other => Err(fault(
                "not_supported",
                format!("task {} is not available over USP", other.name()),
            )),
        }
    }

    /// GetSupportedProtocol, negotiating the version used from then on.
    pub(super) async fn get_supported_protocol(&self, agent_id: &str) -> Result<String, ExecError> {
        let msg = request::get_supported_protocol(
            self.new_msg_id("gsp"),
            version_list(CONTROLLER_VERSIONS),
        );
        match self.ask(agent_id, msg).await? {
            IncomingKind::GetSupportedProtocolResp { agent_supported_protocol_versions } => {
                if let Some(v) = negotiate(&agent_supported_protocol_versions, CONTROLLER_VERSIONS)
                {
                    if let Some(mut a) = self.inner.agents.get_mut(agent_id) {
                        a.version = v;
                        a.negotiated = true;
                    }
                }
                Ok(agent_supported_protocol_versions)
            }
            other => Err(unexpected(&other)),
        }
    }

    /// The firmware image instance to download into: one that is not active, else the first.
    async fn firmware_slot(&self, agent_id: &str) -> Result<String, ExecError> {
        let msg = request::get(
            self.new_msg_id("fw"),
            ["Device.DeviceInfo.ActiveFirmwareImage", "Device.DeviceInfo.FirmwareImage.*.Name"],
            0,
        );
        let out = match self.ask(agent_id, msg).await? {
            IncomingKind::GetResp(out) => out,
            other => return Err(unexpected(&other)),
        };
        let active = out
            .values
            .get("Device.DeviceInfo.ActiveFirmwareImage")
            .map(|v| v.trim_end_matches('.').to_owned())
            .unwrap_or_default();
        let mut slots: Vec<String> = out
            .values
            .keys()
            .filter_map(|k| k.strip_suffix("Name"))
            .filter(|k| k.starts_with("Device.DeviceInfo.FirmwareImage."))
            .map(str::to_owned)
            .collect();
        slots.sort();
        slots.dedup();
        let inactive = slots.iter().find(|s| s.trim_end_matches('.') != active);
        match inactive.or(slots.first()) {
            Some(s) => Ok(s.clone()),
            None => Ok("Device.DeviceInfo.FirmwareImage.1.".to_owned()),
        }
    }
}
