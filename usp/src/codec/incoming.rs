//! A typed, flattened view of the Msgs a controller receives, so the engine does not walk
//! nested protobuf options: [`classify`] turns a decoded [`Msg`] into an [`Incoming`].
//!
//! Paths in the flattened results are full paths: relative names the agent reports are joined
//! to the object path they belong to.

use std::collections::BTreeMap;

use super::codes::ErrorCode;
use super::error::UspError;
use super::generated::usp::{
    add_resp::created_object_result::operation_status::OperStatus as AddStatus,
    body::MsgBody,
    delete_resp::deleted_object_result::operation_status::OperStatus as DeleteStatus,
    notify::{self, operation_complete},
    operate_resp::operation_result::OperationResp,
    request::ReqType,
    response::RespType,
    set_resp::updated_object_result::operation_status::OperStatus as SetStatus,
    AddResp, DeleteResp, GetInstancesResp, GetResp, GetSupportedDmResp, Msg, OperateResp, SetResp,
};

/// A failure reported by the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The USP error code.
    pub code: ErrorCode,
    /// The agent's message.
    pub message: String,
}

impl Failure {
    /// A failure.
    #[must_use]
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

/// A failure for one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathFailure {
    /// The path (full path where the agent gave a relative one).
    pub path: String,
    /// The USP error code.
    pub code: ErrorCode,
    /// The agent's message.
    pub message: String,
}

impl PathFailure {
    /// A path failure.
    #[must_use]
    pub fn new(path: impl Into<String>, code: ErrorCode, message: impl Into<String>) -> Self {
        Self { path: path.into(), code, message: message.into() }
    }
}

/// Result of a Get.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GetOutcome {
    /// Full parameter path → value, over all requested paths.
    pub values: BTreeMap<String, String>,
    /// Requested paths that failed.
    pub failures: Vec<PathFailure>,
}

/// Result of a Set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SetOutcome {
    /// Full parameter path → value the agent reports as set.
    pub updated: BTreeMap<String, String>,
    /// Per-parameter errors (full parameter paths), from failed and partially set objects.
    pub param_failures: Vec<PathFailure>,
    /// Requested object paths that failed as a whole.
    pub object_failures: Vec<PathFailure>,
}

/// Result of one object of an Add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddOutcome {
    /// The table path requested.
    pub requested_path: String,
    /// The new instance, or why none was created.
    pub result: Result<Created, Failure>,
}

/// A created instance.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Created {
    /// Its instance path, e.g. `Device.WiFi.SSID.4.`.
    pub instantiated_path: String,
    /// Its unique keys.
    pub unique_keys: BTreeMap<String, String>,
    /// Parameters that could not be set (full paths); only non-required ones can fail here.
    pub param_failures: Vec<PathFailure>,
}

/// Result of a Delete.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteOutcome {
    /// Instance paths deleted.
    pub deleted: Vec<String>,
    /// Requested paths that failed, and instances that could not be deleted.
    pub failures: Vec<PathFailure>,
}

/// What a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandResult {
    /// An asynchronous command started; it ends with an OperationComplete notification.
    Started {
        /// The `Device.LocalAgent.Request.{i}.` instance tracking it.
        request_path: String,
    },
    /// The command finished (synchronously, or in OperationComplete).
    Completed {
        /// Its output arguments.
        output_args: BTreeMap<String, String>,
    },
    /// The command failed.
    Failed(Failure),
}

/// Result of one command of an Operate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperateOutcome {
    /// The concrete command path run.
    pub executed_command: String,
    /// What happened.
    pub result: CommandResult,
}

/// An instance reported by GetInstances.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Instance {
    /// Instance path ending in `.`.
    pub path: String,
    /// Its unique keys.
    pub unique_keys: BTreeMap<String, String>,
}

/// Result of a GetInstances.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GetInstancesOutcome {
    /// Instances over all requested paths.
    pub instances: Vec<Instance>,
    /// Requested paths that failed.
    pub failures: Vec<PathFailure>,
}

/// A notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// An event such as `Device.Boot!`.
    Event {
        /// The object path, e.g. `Device.`.
        obj_path: String,
        /// The event name with its `!`, e.g. `Boot!`.
        event_name: String,
        /// Event arguments (for `Boot!`: `Cause`, `FirmwareUpdated`, `ParameterMap`, …).
        params: BTreeMap<String, String>,
    },
    /// A parameter changed.
    ValueChange {
        /// Full parameter path.
        param_path: String,
        /// New value.
        param_value: String,
    },
    /// An instance was created.
    ObjectCreation {
        /// Instance path.
        obj_path: String,
        /// Its unique keys.
        unique_keys: BTreeMap<String, String>,
    },
    /// An instance was deleted.
    ObjectDeletion {
        /// Instance path.
        obj_path: String,
    },
    /// An asynchronous command finished.
    OperationComplete {
        /// Object path of the command.
        obj_path: String,
        /// Command name with its `()`.
        command_name: String,
        /// The key given in Operate.
        command_key: String,
        /// Outputs or failure ([`CommandResult::Started`] never occurs here).
        result: CommandResult,
    },
    /// The agent asks to be onboarded.
    OnBoardRequest {
        /// Manufacturer OUI.
        oui: String,
        /// Product class.
        product_class: String,
        /// Serial number.
        serial_number: String,
        /// Comma-separated USP versions the agent speaks.
        agent_supported_protocol_versions: String,
    },
}

impl Notification {
    /// A short name for logs and metric labels.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Event { .. } => "event",
            Self::ValueChange { .. } => "value_change",
            Self::ObjectCreation { .. } => "object_creation",
            Self::ObjectDeletion { .. } => "object_deletion",
            Self::OperationComplete { .. } => "operation_complete",
            Self::OnBoardRequest { .. } => "on_board_request",
        }
    }

    /// The event path (`Device.Boot!`) of an [`Notification::Event`].
    #[must_use]
    pub fn event_path(&self) -> Option<String> {
        match self {
            Self::Event { obj_path, event_name, .. } => Some(join(obj_path, event_name)),
            _ => None,
        }
    }
}

/// A Notify request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyView {
    /// The subscription (`Device.LocalAgent.Subscription.{i}.ID`) it belongs to.
    pub subscription_id: String,
    /// If true the controller must answer NotifyResp with the same msg_id.
    pub send_resp: bool,
    /// What happened.
    pub notification: Notification,
}

/// An Error Msg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorView {
    /// The USP error code.
    pub code: ErrorCode,
    /// The agent's message.
    pub message: String,
    /// Per-path errors.
    pub param_errs: Vec<PathFailure>,
}

/// What a received Msg is.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum IncomingKind {
    /// A Notify (the only request a controller serves).
    Notify(NotifyView),
    /// GetResp.
    GetResp(GetOutcome),
    /// SetResp.
    SetResp(SetOutcome),
    /// AddResp, one entry per requested object.
    AddResp(Vec<AddOutcome>),
    /// DeleteResp.
    DeleteResp(DeleteOutcome),
    /// OperateResp, one entry per command run.
    OperateResp(Vec<OperateOutcome>),
    /// GetInstancesResp.
    GetInstancesResp(GetInstancesOutcome),
    /// GetSupportedDMResp, as received.
    GetSupportedDmResp(GetSupportedDmResp),
    /// GetSupportedProtocolResp.
    GetSupportedProtocolResp {
        /// Comma-separated versions, e.g. `"1.0,1.1,1.2,1.3"`.
        agent_supported_protocol_versions: String,
    },
    /// A NotifyResp (a controller does not expect one).
    NotifyResp {
        /// Its subscription id.
        subscription_id: String,
    },
    /// A RegisterResp or DeregisterResp (a controller does not expect one).
    BrokerResp {
        /// `"RegisterResp"` or `"DeregisterResp"`.
        name: &'static str,
    },
    /// An Error answering one of our requests.
    Error(ErrorView),
    /// A request a controller does not serve (Get, Set, …, Register): answer Error 7001.
    UnsupportedRequest {
        /// The request's message name, e.g. `"Get"`.
        name: &'static str,
    },
}

/// A received Msg: its id and what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// The header msg_id (a response's equals the request's).
    pub msg_id: String,
    /// The body.
    pub kind: IncomingKind,
}

impl Incoming {
    /// True for responses and errors, which answer one of our requests by `msg_id`.
    #[must_use]
    pub fn is_response(&self) -> bool {
        !matches!(self.kind, IncomingKind::Notify(_) | IncomingKind::UnsupportedRequest { .. })
    }
}

/// Classifies a decoded Msg. The body decides the kind; the header's `msg_type` is not
/// trusted.
///
/// # Errors
/// [`UspError::MissingField`] if the header, body, or the body's oneof is absent.
pub fn classify(msg: Msg) -> Result<Incoming, UspError> {
    let header = msg.header.ok_or(UspError::MissingField { what: "message", field: "header" })?;
    let body = msg
        .body
        .and_then(|b| b.msg_body)
        .ok_or(UspError::MissingField { what: "message", field: "body" })?;
    let kind = match body {
        MsgBody::Request(req) => {
            match req
                .req_type
                .ok_or(UspError::MissingField { what: "request", field: "req_type" })?
            {
                ReqType::Notify(n) => IncomingKind::Notify(notify_view(n)?),
                other => IncomingKind::UnsupportedRequest { name: request_name(&other) },
            }
        }
        MsgBody::Response(resp) => {
            match resp
                .resp_type
                .ok_or(UspError::MissingField { what: "response", field: "resp_type" })?
            {
                RespType::GetResp(r) => IncomingKind::GetResp(get_outcome(r)),
                RespType::SetResp(r) => IncomingKind::SetResp(set_outcome(r)),
                RespType::AddResp(r) => IncomingKind::AddResp(add_outcomes(r)),
                RespType::DeleteResp(r) => IncomingKind::DeleteResp(delete_outcome(r)),
                RespType::OperateResp(r) => IncomingKind::OperateResp(operate_outcomes(r)),
                RespType::GetInstancesResp(r) => {
                    IncomingKind::GetInstancesResp(get_instances_outcome(r))
                }
                RespType::GetSupportedDmResp(r) => IncomingKind::GetSupportedDmResp(r),
                RespType::GetSupportedProtocolResp(r) => IncomingKind::GetSupportedProtocolResp {
                    agent_supported_protocol_versions: r.agent_supported_protocol_versions,
                },
                RespType::NotifyResp(r) => {
                    IncomingKind::NotifyResp { subscription_id: r.subscription_id }
                }
                RespType::RegisterResp(_) => IncomingKind::BrokerResp { name: "RegisterResp" },
                RespType::DeregisterResp(_) => IncomingKind::BrokerResp { name: "DeregisterResp" },
            }
        }
        MsgBody::Error(e) => IncomingKind::Error(ErrorView {
            code: ErrorCode::from_u32(e.err_code),
            message: e.err_msg,
            param_errs: e
                .param_errs
                .into_iter()
                .map(|p| PathFailure::new(p.param_path, ErrorCode::from_u32(p.err_code), p.err_msg))
                .collect(),
        }),
    };
    Ok(Incoming { msg_id: header.msg_id, kind })
}

fn request_name(req: &ReqType) -> &'static str {
    match req {
        ReqType::Get(_) => "Get",
        ReqType::GetSupportedDm(_) => "GetSupportedDM",
        ReqType::GetInstances(_) => "GetInstances",
        ReqType::Set(_) => "Set",
        ReqType::Add(_) => "Add",
        ReqType::Delete(_) => "Delete",
        ReqType::Operate(_) => "Operate",
        ReqType::Notify(_) => "Notify",
        ReqType::GetSupportedProtocol(_) => "GetSupportedProtocol",
        ReqType::Register(_) => "Register",
        ReqType::Deregister(_) => "Deregister",
    }
}

/// Joins an object path and a relative path, adding the `.` the agent may have left out.
pub(crate) fn join(base: &str, relative: &str) -> String {
    if base.is_empty() || base.ends_with('.') {
        format!("{base}{relative}")
    } else {
        format!("{base}.{relative}")
    }
}

fn failure(code: u32, message: String) -> Failure {
    Failure::new(ErrorCode::from_u32(code), message)
}

fn missing_status(path: String) -> PathFailure {
    PathFailure::new(path, ErrorCode::MessageFailed, "agent reported no operation status")
}

fn get_outcome(resp: GetResp) -> GetOutcome {
    let mut out = GetOutcome::default();
    for req in resp.req_path_results {
        if req.err_code != 0 {
            out.failures.push(PathFailure::new(
                req.requested_path,
                ErrorCode::from_u32(req.err_code),
                req.err_msg,
            ));
            continue;
        }
        for resolved in req.resolved_path_results {
            for (param, value) in resolved.result_params {
                out.values.insert(join(&resolved.resolved_path, &param), value);
            }
        }
    }
    out
}

fn set_outcome(resp: SetResp) -> SetOutcome {
    let mut out = SetOutcome::default();
    for obj in resp.updated_obj_results {
        match obj.oper_status.and_then(|s| s.oper_status) {
            None => out.object_failures.push(missing_status(obj.requested_path)),
            Some(SetStatus::OperFailure(f)) => {
                for inst in f.updated_inst_failures {
                    for p in inst.param_errs {
                        out.param_failures.push(PathFailure::new(
                            join(&inst.affected_path, &p.param),
                            ErrorCode::from_u32(p.err_code),
                            p.err_msg,
                        ));
                    }
                }
                out.object_failures.push(PathFailure::new(
                    obj.requested_path,
                    ErrorCode::from_u32(f.err_code),
                    f.err_msg,
                ));
            }
            Some(SetStatus::OperSuccess(s)) => {
                for inst in s.updated_inst_results {
                    for (param, value) in inst.updated_params {
                        out.updated.insert(join(&inst.affected_path, &param), value);
                    }
                    for p in inst.param_errs {
                        out.param_failures.push(PathFailure::new(
                            join(&inst.affected_path, &p.param),
                            ErrorCode::from_u32(p.err_code),
                            p.err_msg,
                        ));
                    }
                }
            }
        }
    }
    out
}

fn add_outcomes(resp: AddResp) -> Vec<AddOutcome> {
    resp.created_obj_results
        .into_iter()
        .map(|obj| {
            let result = match obj.oper_status.and_then(|s| s.oper_status) {
                None => Err(Failure::new(
                    ErrorCode::MessageFailed,
                    "agent reported no operation status",
                )),
                Some(AddStatus::OperFailure(f)) => Err(failure(f.err_code, f.err_msg)),
                Some(AddStatus::OperSuccess(s)) => Ok(Created {
                    param_failures: s
                        .param_errs
                        .into_iter()
                        .map(|p| {
                            PathFailure::new(
                                join(&s.instantiated_path, &p.param),
                                ErrorCode::from_u32(p.err_code),
                                p.err_msg,
                            )
                        })
                        .collect(),
                    instantiated_path: s.instantiated_path,
                    unique_keys: s.unique_keys,
                }),
            };
            AddOutcome { requested_path: obj.requested_path, result }
        })
        .collect()
}

fn delete_outcome(resp: DeleteResp) -> DeleteOutcome {
    let mut out = DeleteOutcome::default();
    for obj in resp.deleted_obj_results {
        match obj.oper_status.and_then(|s| s.oper_status) {
            None => out.failures.push(missing_status(obj.requested_path)),
            Some(DeleteStatus::OperFailure(f)) => out.failures.push(PathFailure::new(
                obj.requested_path,
                ErrorCode::from_u32(f.err_code),
                f.err_msg,
            )),
            Some(DeleteStatus::OperSuccess(s)) => {
                out.deleted.extend(s.affected_paths);
                out.failures.extend(s.unaffected_path_errs.into_iter().map(|u| {
                    PathFailure::new(u.unaffected_path, ErrorCode::from_u32(u.err_code), u.err_msg)
                }));
            }
        }
    }
    out
}

fn operate_outcomes(resp: OperateResp) -> Vec<OperateOutcome> {
    resp.operation_results
        .into_iter()
        .map(|r| {
            let result = match r.operation_resp {
                Some(OperationResp::ReqObjPath(request_path)) => {
                    CommandResult::Started { request_path }
                }
                Some(OperationResp::ReqOutputArgs(out)) => {
                    CommandResult::Completed { output_args: out.output_args }
                }
                Some(OperationResp::CmdFailure(f)) => {
                    CommandResult::Failed(failure(f.err_code, f.err_msg))
                }
                None => CommandResult::Completed { output_args: BTreeMap::new() },
            };
            OperateOutcome { executed_command: r.executed_command, result }
        })
        .collect()
}

fn get_instances_outcome(resp: GetInstancesResp) -> GetInstancesOutcome {
    let mut out = GetInstancesOutcome::default();
    for req in resp.req_path_results {
        if req.err_code != 0 {
            out.failures.push(PathFailure::new(
                req.requested_path,
                ErrorCode::from_u32(req.err_code),
                req.err_msg,
            ));
            continue;
        }
        out.instances.extend(
            req.curr_insts
                .into_iter()
                .map(|i| Instance { path: i.instantiated_obj_path, unique_keys: i.unique_keys }),
        );
    }
    out
}

fn notify_view(n: super::generated::usp::Notify) -> Result<NotifyView, UspError> {
    let notification = match n
        .notification
        .ok_or(UspError::MissingField { what: "notify", field: "notification" })?
    {
        notify::Notification::Event(e) => {
            Notification::Event { obj_path: e.obj_path, event_name: e.event_name, params: e.params }
        }
        notify::Notification::ValueChange(v) => {
            Notification::ValueChange { param_path: v.param_path, param_value: v.param_value }
        }
        notify::Notification::ObjCreation(c) => {
            Notification::ObjectCreation { obj_path: c.obj_path, unique_keys: c.unique_keys }
        }
        notify::Notification::ObjDeletion(d) => {
            Notification::ObjectDeletion { obj_path: d.obj_path }
        }
        notify::Notification::OperComplete(c) => Notification::OperationComplete {
            obj_path: c.obj_path,
            command_name: c.command_name,
            command_key: c.command_key,
            result: match c.operation_resp {
                Some(operation_complete::OperationResp::ReqOutputArgs(out)) => {
                    CommandResult::Completed { output_args: out.output_args }
                }
                Some(operation_complete::OperationResp::CmdFailure(f)) => {
                    CommandResult::Failed(failure(f.err_code, f.err_msg))
                }
                None => CommandResult::Completed { output_args: BTreeMap::new() },
            },
        },
        notify::Notification::OnBoardReq(o) => Notification::OnBoardRequest {
            oui: o.oui,
            product_class: o.product_class,
            serial_number: o.serial_number,
            agent_supported_protocol_versions: o.agent_supported_protocol_versions,
        },
    };
    Ok(NotifyView { subscription_id: n.subscription_id, send_resp: n.send_resp, notification })
}
