//! The simulated USP agent's data model and how it answers controller requests: pure logic on
//! top of the `usp` codec, no I/O (the MTPs live in [`crate::agents`]).
//!
//! Get (concrete parameters are looked up directly; partial paths, wildcards and search
//! expressions are matched against every parameter), Set (atomic: any unknown or read-only
//! parameter fails the whole request with 7004 and per-parameter errors; `Device.DeviceInfo.`
//! is read-only), Add (only on the model's tables), Delete, Operate (commands named
//! `…Download()` / `…Diagnostics…()` start and complete with an OperationComplete Notify,
//! `…Fail()` fails, `Device.Reboot()` is followed by a `Boot!` event, `Device.FactoryReset()`
//! drops the subscriptions), GetInstances and GetSupportedProtocol; anything else gets 7001.

use std::collections::{BTreeMap, BTreeSet};

use usp::codec::agent::{
    self, DeleteResult, GetResult, InstancesResult, ResolvedObject, SetResult, UpdatedInstance,
};
use usp::codec::incoming::{
    AddOutcome, CommandResult, Created, Failure, Instance, Notification, OperateOutcome,
};
use usp::codec::msg::request::ReqType;
use usp::codec::path::{MatchMode, PathKind};
use usp::codec::{request, ErrorCode, Msg, Path};

/// USP versions the agent supports.
pub const AGENT_VERSIONS: &str = "1.0,1.1,1.2,1.3";

/// The agent's data model: parameter path → value, plus the tables Add may create rows in.
#[derive(Debug, Clone, Default)]
pub struct AgentModel {
    /// Every parameter.
    pub params: BTreeMap<String, String>,
    /// Multi-instance objects (`….`) that accept Add.
    pub tables: BTreeSet<String>,
    /// Commands run so far.
    pub operations: u64,
}

/// What answering one request produced.
#[derive(Debug)]
pub struct Answer {
    /// The response (or Error) Msg.
    pub response: Msg,
    /// Notifications to send after it (OperationComplete, Boot! after a reboot).
    pub notifications: Vec<Notification>,
}

/// The request's name (for counting).
pub fn request_name(req: &ReqType) -> &'static str {
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

/// A `Device.Boot!` event.
pub fn boot_event(cause: &str) -> Notification {
    let mut params = BTreeMap::new();
    params.insert("Cause".to_owned(), cause.to_owned());
    params.insert("FirmwareUpdated".to_owned(), "false".to_owned());
    Notification::Event { obj_path: "Device.".into(), event_name: "Boot!".into(), params }
}

fn failure(e: &usp::UspError) -> Failure {
    Failure::new(e.usp_code(), e.to_string())
}

impl AgentModel {
    /// Value of one parameter.
    pub fn get(&self, path: &str) -> Option<&String> {
        self.params.get(path)
    }

    fn lookup(&self, instance: &str, rel: &usp::codec::path::RelPath) -> Option<String> {
        self.params.get(&format!("{instance}{rel}")).cloned()
    }

    /// Every object path (ending in `.`) with parameters below it.
    pub fn objects(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for k in self.params.keys() {
            for (i, c) in k.char_indices() {
                if c == '.' {
                    out.insert(k[..=i].to_owned());
                }
            }
        }
        out
    }

    /// Object instances a path addresses.
    fn instances(&self, path: &Path) -> Vec<String> {
        self.objects()
            .into_iter()
            .filter(|o| {
                path.matches_with(o, MatchMode::Exact, |i, r| self.lookup(i, r)).unwrap_or(false)
            })
            .collect()
    }

    /// Rows of `Device.LocalAgent.Subscription.` (instance path → params).
    pub fn subscriptions(&self) -> usize {
        const SUBS: &str = "Device.LocalAgent.Subscription.";
        let mut rows = BTreeSet::new();
        for k in self.params.range(SUBS.to_owned()..).map(|(k, _)| k) {
            let Some(rest) = k.strip_prefix(SUBS) else { break };
            if let Some((i, _)) = rest.split_once('.') {
                rows.insert(i.to_owned());
            }
        }
        rows.len()
    }

    fn get_one(&self, requested: &str) -> Result<Vec<ResolvedObject>, Failure> {
        let path = Path::parse(requested).map_err(|e| failure(&e))?;
        let concrete_param = path.kind() == PathKind::Parameter && path.is_concrete();
        if concrete_param {
            // The common case (a controller reading known parameters): a direct lookup.
            let value = self
                .params
                .get(requested)
                .ok_or_else(|| Failure::new(ErrorCode::InvalidPath, "no such parameter"))?;
            let split = requested.rfind('.').map_or(0, |i| i + 1);
            let mut params = BTreeMap::new();
            params.insert(requested[split..].to_owned(), value.clone());
            return Ok(vec![ResolvedObject { path: requested[..split].to_owned(), params }]);
        }
        let mut objs: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (k, v) in &self.params {
            let hit =
                path.matches_with(k, MatchMode::Subtree, |i, r| self.lookup(i, r)).unwrap_or(false);
            if hit {
                let split = k.rfind('.').map_or(0, |i| i + 1);
                objs.entry(k[..split].to_owned())
                    .or_default()
                    .insert(k[split..].to_owned(), v.clone());
            }
        }
        Ok(objs.into_iter().map(|(path, params)| ResolvedObject { path, params }).collect())
    }

    fn next_instance(&self, table: &str) -> u32 {
        self.params
            .range(table.to_owned()..)
            .take_while(|(k, _)| k.starts_with(table))
            .filter_map(|(k, _)| k[table.len()..].split('.').next()?.parse::<u32>().ok())
            .max()
            .unwrap_or(0)
            + 1
    }

    /// Answer request `req` carried by Msg `id`.
    pub fn answer(&mut self, id: &str, req: ReqType) -> Answer {
        let mut notifications = Vec::new();
        let response = match req {
            ReqType::Get(g) => {
                let results = g
                    .param_paths
                    .into_iter()
                    .map(|requested| {
                        let result = self.get_one(&requested);
                        GetResult { requested_path: requested, result }
                    })
                    .collect();
                agent::get_resp(id, results)
            }
            ReqType::Set(s) => self.set(id, s.update_objs),
            ReqType::Add(a) => {
                let mut outcomes = Vec::new();
                for obj in a.create_objs {
                    let table = obj.obj_path;
                    if !self.tables.contains(&table) {
                        if !a.allow_partial {
                            return Answer {
                                response: request::error(
                                    id,
                                    ErrorCode::ObjectNotCreatable,
                                    format!("{table} is not a creatable table"),
                                    request::no_param_errs(),
                                ),
                                notifications,
                            };
                        }
                        outcomes.push(AddOutcome {
                            requested_path: table,
                            result: Err(Failure::new(
                                ErrorCode::ObjectNotCreatable,
                                "not a creatable table",
                            )),
                        });
                        continue;
                    }
                    let n = self.next_instance(&table);
                    let inst = format!("{table}{n}.");
                    if obj.param_settings.is_empty() {
                        self.params.insert(format!("{inst}Alias"), format!("cpe-{n}"));
                    }
                    for p in obj.param_settings {
                        self.params.insert(format!("{inst}{}", p.param), p.value);
                    }
                    outcomes.push(AddOutcome {
                        requested_path: table,
                        result: Ok(Created { instantiated_path: inst, ..Created::default() }),
                    });
                }
                agent::add_resp(id, outcomes)
            }
            ReqType::Delete(d) => {
                let mut results = Vec::new();
                for requested in d.obj_paths {
                    let result = match Path::parse(&requested) {
                        Err(e) => Err(failure(&e)),
                        Ok(p) => {
                            let gone = self.instances(&p);
                            for g in &gone {
                                self.params.retain(|k, _| !k.starts_with(g.as_str()));
                            }
                            Ok((gone, Vec::new()))
                        }
                    };
                    results.push(DeleteResult { requested_path: requested, result });
                }
                agent::delete_resp(id, results)
            }
            ReqType::Operate(o) => {
                self.operations += 1;
                let command = o.command;
                let result = if command.ends_with("Fail()") {
                    CommandResult::Failed(Failure::new(ErrorCode::CommandFailure, "it failed"))
                } else if command.contains("Download()") || command.contains("Diagnostics") {
                    let (obj_path, command_name) = match command.rfind('.') {
                        Some(i) => (command[..=i].to_owned(), command[i + 1..].to_owned()),
                        None => (String::new(), command.clone()),
                    };
                    let mut output_args = BTreeMap::new();
                    output_args.insert("Status".to_owned(), "Complete".to_owned());
                    notifications.push(Notification::OperationComplete {
                        obj_path,
                        command_name,
                        command_key: o.command_key,
                        result: CommandResult::Completed { output_args },
                    });
                    CommandResult::Started {
                        request_path: format!("Device.LocalAgent.Request.{}.", self.operations),
                    }
                } else {
                    if command == "Device.FactoryReset()" {
                        self.params
                            .retain(|k, _| !k.starts_with("Device.LocalAgent.Subscription."));
                    }
                    if command == "Device.Reboot()" || command == "Device.FactoryReset()" {
                        notifications.push(boot_event(if command == "Device.Reboot()" {
                            "RemoteReboot"
                        } else {
                            "RemoteFactoryReset"
                        }));
                        CommandResult::Completed { output_args: BTreeMap::new() }
                    } else {
                        let mut output_args = BTreeMap::new();
                        output_args.insert("Result".to_owned(), "ok".to_owned());
                        CommandResult::Completed { output_args }
                    }
                };
                agent::operate_resp(id, vec![OperateOutcome { executed_command: command, result }])
            }
            ReqType::GetInstances(g) => {
                let objects = self.objects();
                let results = g
                    .obj_paths
                    .into_iter()
                    .map(|requested| {
                        let instances = objects
                            .iter()
                            .filter(|o| o.starts_with(&requested) && o.len() > requested.len())
                            .filter(|o| {
                                let rest = o[requested.len()..].trim_end_matches('.');
                                let segs: Vec<&str> = rest.split('.').collect();
                                segs.last().is_some_and(|s| s.parse::<u32>().is_ok())
                                    && (!g.first_level_only || segs.len() == 1)
                            })
                            .map(|o| Instance { path: o.clone(), unique_keys: BTreeMap::new() })
                            .collect();
                        InstancesResult { requested_path: requested, result: Ok(instances) }
                    })
                    .collect();
                agent::get_instances_resp(id, results)
            }
            ReqType::GetSupportedProtocol(_) => {
                agent::get_supported_protocol_resp(id, AGENT_VERSIONS)
            }
            other => request::error(
                id,
                ErrorCode::MessageNotSupported,
                format!("the simulated agent does not serve {}", request_name(&other)),
                request::no_param_errs(),
            ),
        };
        Answer { response, notifications }
    }

    fn set(&mut self, id: &str, objs: Vec<usp::codec::msg::set::UpdateObject>) -> Msg {
        let mut errs: Vec<(String, ErrorCode, String)> = Vec::new();
        let mut writes = Vec::new();
        let mut results = Vec::new();
        for obj in objs {
            let instances = match Path::parse(&obj.obj_path) {
                Ok(p) => self.instances(&p),
                Err(e) => {
                    errs.push((obj.obj_path.clone(), e.usp_code(), e.to_string()));
                    continue;
                }
            };
            if instances.is_empty() {
                errs.push((obj.obj_path, ErrorCode::ObjectDoesNotExist, "no such object".into()));
                continue;
            }
            let mut updated_instances = Vec::new();
            for inst in instances {
                let mut updated = BTreeMap::new();
                for ps in &obj.param_settings {
                    let full = format!("{inst}{}", ps.param);
                    if !self.params.contains_key(&full) {
                        errs.push((
                            full,
                            ErrorCode::UnsupportedParameter,
                            "no such parameter".into(),
                        ));
                    } else if full.starts_with("Device.DeviceInfo.") {
                        errs.push((
                            full,
                            ErrorCode::ParameterReadOnly,
                            "read-only parameter".into(),
                        ));
                    } else {
                        updated.insert(ps.param.clone(), ps.value.clone());
                        writes.push((full, ps.value.clone()));
                    }
                }
                updated_instances.push(UpdatedInstance { path: inst, updated, param_errs: vec![] });
            }
            results.push(SetResult { requested_path: obj.obj_path, result: Ok(updated_instances) });
        }
        if let Some((_, first, _)) = errs.first() {
            let code = match first {
                ErrorCode::ObjectDoesNotExist | ErrorCode::InvalidPathSyntax => *first,
                _ => ErrorCode::InvalidArguments,
            };
            return request::error(id, code, "set failed", errs);
        }
        for (k, v) in writes {
            self.params.insert(k, v);
        }
        agent::set_resp(id, results)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use usp::codec::incoming::IncomingKind;
    use usp::codec::{classify, request as req};

    fn no_args() -> Vec<(String, String)> {
        Vec::new()
    }

    fn model() -> AgentModel {
        let m = crate::agents::agent_model("proto::fleet-t-1", "00D09E", "FleetGW", "T000001");
        AgentModel { params: m.params, tables: m.tables, operations: 0 }
    }

    fn run(m: &mut AgentModel, msg: Msg) -> (IncomingKind, Vec<Notification>) {
        let id = usp::codec::msg_id(&msg).to_owned();
        let Some(usp::codec::msg::body::MsgBody::Request(r)) = msg.body.and_then(|b| b.msg_body)
        else {
            panic!("not a request")
        };
        let a = m.answer(&id, r.req_type.unwrap());
        (classify(a.response).unwrap().kind, a.notifications)
    }

    #[test]
    fn get_set_add_delete_operate() {
        let mut m = model();
        let (k, _) = run(
            &mut m,
            req::get("g1", ["Device.DeviceInfo.SerialNumber", "Device.WiFi.SSID.*.SSID"], 0),
        );
        let IncomingKind::GetResp(out) = k else { panic!("{k:?}") };
        assert_eq!(out.values["Device.DeviceInfo.SerialNumber"], "T000001");
        assert_eq!(out.values.len(), 3, "{:?}", out.values);
        let (k, _) = run(&mut m, req::get("g2", ["Device.Nope"], 0));
        let IncomingKind::GetResp(out) = k else { panic!("{k:?}") };
        assert_eq!(out.failures[0].code, ErrorCode::InvalidPath);

        let set = req::set_params("s1", false, true, [("Device.WiFi.SSID.1.SSID", "x")]).unwrap();
        assert!(matches!(run(&mut m, set).0, IncomingKind::SetResp(_)));
        assert_eq!(m.get("Device.WiFi.SSID.1.SSID").unwrap(), "x");
        let bad = req::set_params(
            "s2",
            false,
            true,
            [("Device.WiFi.SSID.1.SSID", "y"), ("Device.DeviceInfo.SerialNumber", "z")],
        )
        .unwrap();
        let IncomingKind::Error(e) = run(&mut m, bad).0 else { panic!() };
        assert_eq!(e.code, ErrorCode::InvalidArguments);
        assert_eq!(m.get("Device.WiFi.SSID.1.SSID").unwrap(), "x", "atomic");

        let add = req::add(
            "a1",
            false,
            [req::ObjectSettings::new(
                "Device.LocalAgent.Subscription.",
                vec![req::ParamSetting::new("ID", "s", true)],
            )],
        );
        assert!(matches!(run(&mut m, add).0, IncomingKind::AddResp(_)));
        assert_eq!(m.subscriptions(), 1);
        let IncomingKind::Error(e) = run(
            &mut m,
            req::add("a2", false, [req::ObjectSettings::new("Device.DeviceInfo.", vec![])]),
        )
        .0
        else {
            panic!()
        };
        assert_eq!(e.code, ErrorCode::ObjectNotCreatable);
        assert!(matches!(
            run(&mut m, req::delete("d1", false, ["Device.LocalAgent.Subscription.1."])).0,
            IncomingKind::DeleteResp(_)
        ));
        assert_eq!(m.subscriptions(), 0);

        let (k, n) = run(
            &mut m,
            req::operate("o1", "Device.IP.Diagnostics.IPPing()", "k1", true, no_args()),
        );
        assert!(matches!(k, IncomingKind::OperateResp(_)));
        assert!(matches!(n[0], Notification::OperationComplete { .. }));
        let (_, n) = run(&mut m, req::operate("o2", "Device.Reboot()", "k2", true, no_args()));
        assert!(matches!(&n[0], Notification::Event { event_name, .. } if event_name == "Boot!"));
        let (k, _) = run(&mut m, req::get_supported_protocol("p1", "1.3"));
        assert!(matches!(k, IncomingKind::GetSupportedProtocolResp { .. }));
    }
}
