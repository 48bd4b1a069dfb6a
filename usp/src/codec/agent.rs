//! Builders for the Msgs an *agent* sends: Notify and the responses to controller requests.
//!
//! The controller never sends these; they exist for test agents (and simulators) built on this
//! codec, and mirror the flattened views of [`incoming`](super::incoming) so that
//! `classify(build(x))` gives back `x`.

use std::collections::BTreeMap;

use super::codes::ErrorCode;
use super::generated::usp::{
    add_resp::{self, created_object_result as created},
    delete_resp::{self, deleted_object_result as deleted},
    get_instances_resp, get_resp,
    header::MsgType,
    notify::{self, operation_complete},
    operate_resp::{self, operation_result},
    request::ReqType,
    response::RespType,
    set_resp::{self, updated_object_result as updated},
    AddResp, DeleteResp, GetInstancesResp, GetResp, GetSupportedProtocolResp, Msg, Notify,
    OperateResp, Request, SetResp,
};
use super::incoming::{
    AddOutcome, CommandResult, Failure, Instance, Notification, OperateOutcome, PathFailure,
};
use super::request::{msg, response};
use crate::codec::generated::usp::body::MsgBody;

/// Outcome of one requested path of a Get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetResult {
    /// The path as requested.
    pub requested_path: String,
    /// The objects it resolved to, or why it failed.
    pub result: Result<Vec<ResolvedObject>, Failure>,
}

/// One resolved object of a Get.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResolvedObject {
    /// Object (instance) path ending in `.`.
    pub path: String,
    /// Parameter paths relative to `path` → values.
    pub params: BTreeMap<String, String>,
}

/// A per-parameter error, the parameter relative to its object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamErr {
    /// Relative parameter path.
    pub param: String,
    /// The USP error code.
    pub code: ErrorCode,
    /// Message.
    pub message: String,
}

/// Outcome of one object of a Set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetResult {
    /// The object path as requested.
    pub requested_path: String,
    /// The updated instances, or the failure with per-instance parameter errors.
    pub result: Result<Vec<UpdatedInstance>, SetFailure>,
}

/// An instance a Set updated.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpdatedInstance {
    /// Instance path ending in `.`.
    pub path: String,
    /// Relative parameter path → value set.
    pub updated: BTreeMap<String, String>,
    /// Non-required parameters that failed.
    pub param_errs: Vec<ParamErr>,
}

/// A failed object of a Set (only reported with `allow_partial`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetFailure {
    /// Why the object failed.
    pub failure: Failure,
    /// Instance path → the parameters that failed there.
    pub instances: Vec<(String, Vec<ParamErr>)>,
}

/// Outcome of one requested path of a Delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteResult {
    /// The path as requested.
    pub requested_path: String,
    /// `(deleted instance paths, instances that could not be deleted)`, or the failure.
    pub result: Result<(Vec<String>, Vec<PathFailure>), Failure>,
}

/// Outcome of one requested path of a GetInstances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstancesResult {
    /// The path as requested.
    pub requested_path: String,
    /// Its instances, or why it failed.
    pub result: Result<Vec<Instance>, Failure>,
}

fn relative<'a>(base: &str, full: &'a str) -> &'a str {
    full.strip_prefix(base).unwrap_or(full)
}

/// Notify carrying `notification`; with `send_resp` the controller must answer NotifyResp.
#[must_use]
pub fn notify(
    msg_id: impl Into<String>,
    subscription_id: impl Into<String>,
    send_resp: bool,
    notification: Notification,
) -> Msg {
    let notification = match notification {
        Notification::Event { obj_path, event_name, params } => {
            notify::Notification::Event(notify::Event { obj_path, event_name, params })
        }
        Notification::ValueChange { param_path, param_value } => {
            notify::Notification::ValueChange(notify::ValueChange { param_path, param_value })
        }
        Notification::ObjectCreation { obj_path, unique_keys } => {
            notify::Notification::ObjCreation(notify::ObjectCreation { obj_path, unique_keys })
        }
        Notification::ObjectDeletion { obj_path } => {
            notify::Notification::ObjDeletion(notify::ObjectDeletion { obj_path })
        }
        Notification::OperationComplete { obj_path, command_name, command_key, result } => {
            let operation_resp = match result {
                CommandResult::Completed { output_args } => {
                    Some(operation_complete::OperationResp::ReqOutputArgs(
                        operation_complete::OutputArgs { output_args },
                    ))
                }
                // An OperationComplete cannot report a start; send no outputs.
                CommandResult::Started { .. } => {
                    Some(operation_complete::OperationResp::ReqOutputArgs(
                        operation_complete::OutputArgs::default(),
                    ))
                }
                CommandResult::Failed(f) => Some(operation_complete::OperationResp::CmdFailure(
                    operation_complete::CommandFailure {
                        err_code: f.code.code(),
                        err_msg: f.message,
                    },
                )),
            };
            notify::Notification::OperComplete(notify::OperationComplete {
                obj_path,
                command_name,
                command_key,
                operation_resp,
            })
        }
        Notification::OnBoardRequest {
            oui,
            product_class,
            serial_number,
            agent_supported_protocol_versions,
        } => notify::Notification::OnBoardReq(notify::OnBoardRequest {
            oui,
            product_class,
            serial_number,
            agent_supported_protocol_versions,
        }),
    };
    let notify = Notify {
        subscription_id: subscription_id.into(),
        send_resp,
        notification: Some(notification),
    };
    msg(
        msg_id,
        MsgType::Notify,
        MsgBody::Request(Request { req_type: Some(ReqType::Notify(notify)) }),
    )
}

/// GetResp.
#[must_use]
pub fn get_resp(msg_id: impl Into<String>, results: Vec<GetResult>) -> Msg {
    let req_path_results = results
        .into_iter()
        .map(|r| match r.result {
            Ok(objects) => get_resp::RequestedPathResult {
                requested_path: r.requested_path,
                err_code: 0,
                err_msg: String::new(),
                resolved_path_results: objects
                    .into_iter()
                    .map(|o| get_resp::ResolvedPathResult {
                        resolved_path: o.path,
                        result_params: o.params,
                    })
                    .collect(),
            },
            Err(f) => get_resp::RequestedPathResult {
                requested_path: r.requested_path,
                err_code: f.code.code(),
                err_msg: f.message,
                resolved_path_results: Vec::new(),
            },
        })
        .collect();
    response(msg_id, MsgType::GetResp, RespType::GetResp(GetResp { req_path_results }))
}

fn set_param_errors(errs: Vec<ParamErr>) -> Vec<set_resp::ParameterError> {
    errs.into_iter()
        .map(|e| set_resp::ParameterError {
            param: e.param,
            err_code: e.code.code(),
            err_msg: e.message,
        })
        .collect()
}

/// SetResp.
#[must_use]
pub fn set_resp(msg_id: impl Into<String>, results: Vec<SetResult>) -> Msg {
    let updated_obj_results = results
        .into_iter()
        .map(|r| {
            let status = match r.result {
                Ok(instances) => updated::operation_status::OperStatus::OperSuccess(
                    updated::operation_status::OperationSuccess {
                        updated_inst_results: instances
                            .into_iter()
                            .map(|i| set_resp::UpdatedInstanceResult {
                                affected_path: i.path,
                                param_errs: set_param_errors(i.param_errs),
                                updated_params: i.updated,
                            })
                            .collect(),
                    },
                ),
                Err(f) => updated::operation_status::OperStatus::OperFailure(
                    updated::operation_status::OperationFailure {
                        err_code: f.failure.code.code(),
                        err_msg: f.failure.message,
                        updated_inst_failures: f
                            .instances
                            .into_iter()
                            .map(|(affected_path, errs)| set_resp::UpdatedInstanceFailure {
                                affected_path,
                                param_errs: set_param_errors(errs),
                            })
                            .collect(),
                    },
                ),
            };
            set_resp::UpdatedObjectResult {
                requested_path: r.requested_path,
                oper_status: Some(updated::OperationStatus { oper_status: Some(status) }),
            }
        })
        .collect();
    response(msg_id, MsgType::SetResp, RespType::SetResp(SetResp { updated_obj_results }))
}

/// AddResp; parameter failures of created instances are sent relative to the instance.
#[must_use]
pub fn add_resp(msg_id: impl Into<String>, outcomes: Vec<AddOutcome>) -> Msg {
    let created_obj_results = outcomes
        .into_iter()
        .map(|o| {
            let status = match o.result {
                Ok(c) => created::operation_status::OperStatus::OperSuccess(
                    created::operation_status::OperationSuccess {
                        param_errs: c
                            .param_failures
                            .iter()
                            .map(|p| add_resp::ParameterError {
                                param: relative(&c.instantiated_path, &p.path).to_owned(),
                                err_code: p.code.code(),
                                err_msg: p.message.clone(),
                            })
                            .collect(),
                        instantiated_path: c.instantiated_path,
                        unique_keys: c.unique_keys,
                    },
                ),
                Err(f) => created::operation_status::OperStatus::OperFailure(
                    created::operation_status::OperationFailure {
                        err_code: f.code.code(),
                        err_msg: f.message,
                    },
                ),
            };
            add_resp::CreatedObjectResult {
                requested_path: o.requested_path,
                oper_status: Some(created::OperationStatus { oper_status: Some(status) }),
            }
        })
        .collect();
    response(msg_id, MsgType::AddResp, RespType::AddResp(AddResp { created_obj_results }))
}

/// DeleteResp.
#[must_use]
pub fn delete_resp(msg_id: impl Into<String>, results: Vec<DeleteResult>) -> Msg {
    let deleted_obj_results = results
        .into_iter()
        .map(|r| {
            let status = match r.result {
                Ok((affected_paths, unaffected)) => {
                    deleted::operation_status::OperStatus::OperSuccess(
                        deleted::operation_status::OperationSuccess {
                            affected_paths,
                            unaffected_path_errs: unaffected
                                .into_iter()
                                .map(|u| delete_resp::UnaffectedPathError {
                                    unaffected_path: u.path,
                                    err_code: u.code.code(),
                                    err_msg: u.message,
                                })
                                .collect(),
                        },
                    )
                }
                Err(f) => deleted::operation_status::OperStatus::OperFailure(
                    deleted::operation_status::OperationFailure {
                        err_code: f.code.code(),
                        err_msg: f.message,
                    },
                ),
            };
            delete_resp::DeletedObjectResult {
                requested_path: r.requested_path,
                oper_status: Some(deleted::OperationStatus { oper_status: Some(status) }),
            }
        })
        .collect();
    response(msg_id, MsgType::DeleteResp, RespType::DeleteResp(DeleteResp { deleted_obj_results }))
}

/// OperateResp.
#[must_use]
pub fn operate_resp(msg_id: impl Into<String>, outcomes: Vec<OperateOutcome>) -> Msg {
    let operation_results = outcomes
        .into_iter()
        .map(|o| operate_resp::OperationResult {
            executed_command: o.executed_command,
            operation_resp: Some(match o.result {
                CommandResult::Started { request_path } => {
                    operation_result::OperationResp::ReqObjPath(request_path)
                }
                CommandResult::Completed { output_args } => {
                    operation_result::OperationResp::ReqOutputArgs(operation_result::OutputArgs {
                        output_args,
                    })
                }
                CommandResult::Failed(f) => {
                    operation_result::OperationResp::CmdFailure(operation_result::CommandFailure {
                        err_code: f.code.code(),
                        err_msg: f.message,
                    })
                }
            }),
        })
        .collect();
    response(msg_id, MsgType::OperateResp, RespType::OperateResp(OperateResp { operation_results }))
}

/// GetInstancesResp.
#[must_use]
pub fn get_instances_resp(msg_id: impl Into<String>, results: Vec<InstancesResult>) -> Msg {
    let req_path_results = results
        .into_iter()
        .map(|r| {
            let (err_code, err_msg, curr_insts) = match r.result {
                Ok(instances) => (
                    0,
                    String::new(),
                    instances
                        .into_iter()
                        .map(|i| get_instances_resp::CurrInstance {
                            instantiated_obj_path: i.path,
                            unique_keys: i.unique_keys,
                        })
                        .collect(),
                ),
                Err(f) => (f.code.code(), f.message, Vec::new()),
            };
            get_instances_resp::RequestedPathResult {
                requested_path: r.requested_path,
                err_code,
                err_msg,
                curr_insts,
            }
        })
        .collect();
    response(
        msg_id,
        MsgType::GetInstancesResp,
        RespType::GetInstancesResp(GetInstancesResp { req_path_results }),
    )
}

/// GetSupportedProtocolResp listing `agent_versions` (e.g. `"1.0,1.1,1.2,1.3"`).
#[must_use]
pub fn get_supported_protocol_resp(
    msg_id: impl Into<String>,
    agent_versions: impl Into<String>,
) -> Msg {
    let resp =
        GetSupportedProtocolResp { agent_supported_protocol_versions: agent_versions.into() };
    response(msg_id, MsgType::GetSupportedProtoResp, RespType::GetSupportedProtocolResp(resp))
}
