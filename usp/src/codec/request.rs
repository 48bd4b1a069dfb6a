//! Builders for the Msgs a controller sends: requests to agents, NotifyResp and Error.
//!
//! Each builder sets the header (`msg_id`, matching `msg_type`) and the body; wrap the result
//! with [`Record::wrap`](super::Record::wrap). Builders do not validate paths: call
//! [`Path::parse`](super::path::Path::parse) first where the paths come from users (the one
//! exception, [`set_params`], must split paths and so parses them).

use super::codes::ErrorCode;
use super::error::UspError;
use super::generated::usp::{
    add, body::MsgBody, error::ParamError, header::MsgType, request::ReqType, response::RespType,
    set, Add, Body, Delete, Error, Get, GetInstances, GetSupportedDm, GetSupportedProtocol, Header,
    Msg, NotifyResp, Operate, Request, Response, Set,
};
use super::path::{Path, PathKind};

pub(crate) fn msg(msg_id: impl Into<String>, msg_type: MsgType, body: MsgBody) -> Msg {
    Msg {
        header: Some(Header { msg_id: msg_id.into(), msg_type: msg_type.into() }),
        body: Some(Body { msg_body: Some(body) }),
    }
}

fn request(msg_id: impl Into<String>, msg_type: MsgType, req: ReqType) -> Msg {
    msg(msg_id, msg_type, MsgBody::Request(Request { req_type: Some(req) }))
}

pub(crate) fn response(msg_id: impl Into<String>, msg_type: MsgType, resp: RespType) -> Msg {
    msg(msg_id, msg_type, MsgBody::Response(Response { resp_type: Some(resp) }))
}

fn strings(items: impl IntoIterator<Item = impl Into<String>>) -> Vec<String> {
    items.into_iter().map(Into::into).collect()
}

/// One parameter to set in an Add or Set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSetting {
    /// Parameter path relative to the object (usually just its name).
    pub param: String,
    /// The value, in its TR-106 string form.
    pub value: String,
    /// If true, failing to set this parameter fails the whole object.
    pub required: bool,
}

impl ParamSetting {
    /// A setting.
    #[must_use]
    pub fn new(param: impl Into<String>, value: impl Into<String>, required: bool) -> Self {
        Self { param: param.into(), value: value.into(), required }
    }
}

/// The settings for one object (Set) or one new instance (Add).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectSettings {
    /// Object path (Set: may be a search path) or table path (Add), ending in `.`.
    pub obj_path: String,
    /// The parameters.
    pub params: Vec<ParamSetting>,
}

impl ObjectSettings {
    /// Settings for `obj_path`.
    #[must_use]
    pub fn new(obj_path: impl Into<String>, params: Vec<ParamSetting>) -> Self {
        Self { obj_path: obj_path.into(), params }
    }
}

/// Get: read `param_paths` (parameter, object or search paths); `max_depth` 0 means no limit.
#[must_use]
pub fn get(
    msg_id: impl Into<String>,
    param_paths: impl IntoIterator<Item = impl Into<String>>,
    max_depth: u32,
) -> Msg {
    let get = Get { param_paths: strings(param_paths), max_depth };
    request(msg_id, MsgType::Get, ReqType::Get(get))
}

/// Set: update parameters of the objects in `update_objs`.
#[must_use]
pub fn set(
    msg_id: impl Into<String>,
    allow_partial: bool,
    update_objs: impl IntoIterator<Item = ObjectSettings>,
) -> Msg {
    let update_objs = update_objs
        .into_iter()
        .map(|o| set::UpdateObject {
            obj_path: o.obj_path,
            param_settings: o
                .params
                .into_iter()
                .map(|p| set::UpdateParamSetting {
                    param: p.param,
                    value: p.value,
                    required: p.required,
                })
                .collect(),
        })
        .collect();
    request(msg_id, MsgType::Set, ReqType::Set(Set { allow_partial, update_objs }))
}

/// Set from full parameter paths (`Device.WiFi.SSID.1.SSID` → object `Device.WiFi.SSID.1.`,
/// parameter `SSID`), grouping parameters of the same object in first-seen order. Every
/// parameter gets the same `required` flag.
///
/// # Errors
/// [`UspError::Path`] if a path does not parse (7008) or is not a parameter path (7026).
pub fn set_params<P, V>(
    msg_id: impl Into<String>,
    allow_partial: bool,
    required: bool,
    params: impl IntoIterator<Item = (P, V)>,
) -> Result<Msg, UspError>
where
    P: AsRef<str>,
    V: Into<String>,
{
    let mut objects: Vec<ObjectSettings> = Vec::new();
    for (path, value) in params {
        let path = path.as_ref();
        let parsed = Path::parse(path)?;
        parsed.expect_kind(&[PathKind::Parameter])?;
        // The last segment of a parameter path is a plain name, so the last '.' splits it.
        let split = path.rfind('.').map_or(0, |i| i + 1);
        let (obj_path, param) = path.split_at(split);
        let setting = ParamSetting::new(param, value, required);
        match objects.iter_mut().find(|o| o.obj_path == obj_path) {
            Some(object) => object.params.push(setting),
            None => objects.push(ObjectSettings::new(obj_path, vec![setting])),
        }
    }
    Ok(set(msg_id, allow_partial, objects))
}

/// Add: create one instance per entry of `create_objs` (each `obj_path` a table path).
#[must_use]
pub fn add(
    msg_id: impl Into<String>,
    allow_partial: bool,
    create_objs: impl IntoIterator<Item = ObjectSettings>,
) -> Msg {
    let create_objs = create_objs
        .into_iter()
        .map(|o| add::CreateObject {
            obj_path: o.obj_path,
            param_settings: o
                .params
                .into_iter()
                .map(|p| add::CreateParamSetting {
                    param: p.param,
                    value: p.value,
                    required: p.required,
                })
                .collect(),
        })
        .collect();
    request(msg_id, MsgType::Add, ReqType::Add(Add { allow_partial, create_objs }))
}

/// Delete: remove the object instances `obj_paths` (instance or search paths ending in `.`).
#[must_use]
pub fn delete(
    msg_id: impl Into<String>,
    allow_partial: bool,
    obj_paths: impl IntoIterator<Item = impl Into<String>>,
) -> Msg {
    let delete = Delete { allow_partial, obj_paths: strings(obj_paths) };
    request(msg_id, MsgType::Delete, ReqType::Delete(delete))
}

/// Operate: run `command` (a command path such as `Device.Reboot()`); `command_key` comes
/// back in the OperationComplete notification of an asynchronous command.
#[must_use]
pub fn operate<K, V>(
    msg_id: impl Into<String>,
    command: impl Into<String>,
    command_key: impl Into<String>,
    send_resp: bool,
    input_args: impl IntoIterator<Item = (K, V)>,
) -> Msg
where
    K: Into<String>,
    V: Into<String>,
{
    let operate = Operate {
        command: command.into(),
        command_key: command_key.into(),
        send_resp,
        input_args: input_args.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
    };
    request(msg_id, MsgType::Operate, ReqType::Operate(operate))
}

/// GetInstances: list instances of the tables `obj_paths`.
#[must_use]
pub fn get_instances(
    msg_id: impl Into<String>,
    obj_paths: impl IntoIterator<Item = impl Into<String>>,
    first_level_only: bool,
) -> Msg {
    let req = GetInstances { obj_paths: strings(obj_paths), first_level_only };
    request(msg_id, MsgType::GetInstances, ReqType::GetInstances(req))
}

/// What a GetSupportedDM returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SupportedDmOptions {
    /// Only the requested objects' direct children.
    pub first_level_only: bool,
    /// Include commands.
    pub return_commands: bool,
    /// Include events.
    pub return_events: bool,
    /// Include parameters.
    pub return_params: bool,
    /// Include unique key sets (1.2 and later).
    pub return_unique_key_sets: bool,
}

impl SupportedDmOptions {
    /// Everything, all levels.
    #[must_use]
    pub fn all() -> Self {
        Self {
            first_level_only: false,
            return_commands: true,
            return_events: true,
            return_params: true,
            return_unique_key_sets: true,
        }
    }
}

/// GetSupportedDM: read the supported data model under `obj_paths`.
#[must_use]
pub fn get_supported_dm(
    msg_id: impl Into<String>,
    obj_paths: impl IntoIterator<Item = impl Into<String>>,
    options: SupportedDmOptions,
) -> Msg {
    let req = GetSupportedDm {
        obj_paths: strings(obj_paths),
        first_level_only: options.first_level_only,
        return_commands: options.return_commands,
        return_events: options.return_events,
        return_params: options.return_params,
        return_unique_key_sets: options.return_unique_key_sets,
    };
    request(msg_id, MsgType::GetSupportedDm, ReqType::GetSupportedDm(req))
}

/// GetSupportedProtocol, offering `controller_versions` (e.g.
/// `version_list(CONTROLLER_VERSIONS)`).
#[must_use]
pub fn get_supported_protocol(
    msg_id: impl Into<String>,
    controller_versions: impl Into<String>,
) -> Msg {
    let req =
        GetSupportedProtocol { controller_supported_protocol_versions: controller_versions.into() };
    request(msg_id, MsgType::GetSupportedProto, ReqType::GetSupportedProtocol(req))
}

/// NotifyResp answering the Notify `msg_id` (the same msg_id) of `subscription_id`.
#[must_use]
pub fn notify_resp(msg_id: impl Into<String>, subscription_id: impl Into<String>) -> Msg {
    let resp = NotifyResp { subscription_id: subscription_id.into() };
    response(msg_id, MsgType::NotifyResp, RespType::NotifyResp(resp))
}

/// Error answering the request `msg_id`, with optional per-path errors
/// (`(param_path, code, message)`).
#[must_use]
pub fn error<P, M>(
    msg_id: impl Into<String>,
    code: ErrorCode,
    message: impl Into<String>,
    param_errs: impl IntoIterator<Item = (P, ErrorCode, M)>,
) -> Msg
where
    P: Into<String>,
    M: Into<String>,
{
    let error = Error {
        err_code: code.code(),
        err_msg: message.into(),
        param_errs: param_errs
            .into_iter()
            .map(|(path, code, message)| ParamError {
                param_path: path.into(),
                err_code: code.code(),
                err_msg: message.into(),
            })
            .collect(),
    };
    msg(msg_id, MsgType::Error, MsgBody::Error(error))
}

/// An empty list of per-path errors for [`error`].
#[must_use]
pub fn no_param_errs() -> Vec<(String, ErrorCode, String)> {
    Vec::new()
}
