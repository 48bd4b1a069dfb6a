//! Provisioning of USP agents: match the agent to service equipment by serial number, then
//! carry out `provisioning`'s protocol-neutral plan ([`ProvisionRun`]) as USP Get / Set / Add /
//! Delete, and record the outcome (provisioning status, audit, faults) like the CWMP engine.
//!
//! Runs during onboarding (first contact, OnBoardRequest, `Boot!`). Rules and vendor overrides
//! are CWMP-engine features and are not applied to USP agents.

use provisioning::equipment::{parameter_key, redact_value, EquipmentFilter, NewAudit};
use provisioning::matching::normalize_serial;
use provisioning::plan::{redacted_values, EquipmentJob, Need, ProvisionRun, RunFault};
use provisioning::{DataModel, NewFault, ProvisioningState, ProvisioningStatus, StoreError};
use serde_json::json;

use super::tasks::ExecError;
use super::{now_utc, Usp};
use crate::codec::request::{self, ObjectSettings};
use crate::codec::IncomingKind;

/// Where CWMP keeps the ParameterKey the provisioning plan verifies.
const PARAMETER_KEY: &str = "Device.ManagementServer.ParameterKey";

fn run_fault(e: ExecError) -> RunFault {
    match e {
        ExecError::Fault(f) => RunFault { code: f.code, message: f.message, detail: f.detail },
        ExecError::Retry(e) => RunFault::new("not_connected", e.to_string()),
    }
}

impl Usp {
    /// Match the agent to equipment (serial) and push its profile. Returns false when the agent
    /// became unreachable.
    pub(super) async fn provision(&self, agent_id: &str) -> bool {
        let Some(device) = self.device(agent_id) else { return true };
        let store = &self.inner.store;
        // Bound equipment, or equipment waiting for this serial number.
        let equipment = match device.equipment_id {
            Some(id) => store.get_equipment(id).await.ok().flatten(),
            None => {
                let Some(key) = normalize_serial(&device.serial_number) else { return true };
                let filter = EquipmentFilter { serial_key: Some(key), ..Default::default() };
                let found = store.list_equipment(&filter).await.unwrap_or_default();
                let Some(eq) = found.into_iter().next() else { return true };
                match &eq.device_id {
                    Some(other) if other != agent_id => {
                        let msg = format!("equipment {} is bound to device {other}", eq.id);
                        tracing::warn!(agent = %agent_id, "equipment conflict: {msg}");
                        let _ = store
                            .insert_fault(&NewFault {
                                device_id: agent_id.to_owned(),
                                task_id: None,
                                channel: "provisioning".into(),
                                code: "equipment_conflict".into(),
                                message: msg,
                                detail: json!({"equipmentId": eq.id, "by": "serial"}),
                                retries: 0,
                            })
                            .await;
                        return true;
                    }
                    Some(_) => {}
                    None => match store.bind_equipment(eq.id, agent_id).await {
                        Ok(()) | Err(StoreError::Conflict(_)) => {}
                        Err(e) => {
                            tracing::warn!(agent = %agent_id, error = %e, "cannot bind equipment");
                            return true;
                        }
                    },
                }
                let _ = store
                    .insert_audit(&NewAudit {
                        actor: "acsd".into(),
                        action: "device.match".into(),
                        equipment_id: Some(eq.id),
                        device_id: Some(agent_id.to_owned()),
                        detail: json!({"by": "serial", "protocol": "usp"}),
                    })
                    .await;
                if let Some(mut a) = self.inner.agents.get_mut(agent_id) {
                    if let Some(d) = a.device.as_mut() {
                        d.equipment_id = Some(eq.id);
                    }
                }
                tracing::info!(agent = %agent_id, equipment = eq.id, "usp agent matched to equipment");
                Some(eq)
            }
        };
        let Some(eq) = equipment else { return true };
        if eq.profile.is_empty() {
            return true;
        }
        let known: Vec<(String, String, Option<String>)> = store
            .get_parameters(agent_id, "Device.")
            .await
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.value.map(|v| (p.path, v, p.value_type)))
            .collect();
        let job = EquipmentJob {
            equipment_id: eq.id,
            version: eq.profile_version,
            profile: eq.profile.clone(),
            overrides: Vec::new(),
        };
        let mut run = ProvisionRun::new(DataModel::Tr181, known, Vec::new(), Some(job));
        let mut reachable = true;
        // USP has no ParameterKey: the key of our last successful Set stands in for it when
        // the plan reads the values back.
        let mut sent_key: Option<String> = None;
        while let Some(need) = run.next_need() {
            let key = match &need {
                Need::Set { parameter_key, .. } => Some(parameter_key.clone()),
                _ => None,
            };
            match self.carry_out(agent_id, need).await {
                Ok(Done::Values(mut v)) => {
                    if let Some(k) = &sent_key {
                        v.retain(|(p, _, _)| p != PARAMETER_KEY);
                        v.push((PARAMETER_KEY.to_owned(), k.clone(), None));
                    }
                    run.on_values(&v)
                }
                Ok(Done::Ok) => {
                    if key.is_some() {
                        sent_key = key;
                    }
                    run.on_ok()
                }
                Ok(Done::Added(n)) => run.on_added(n),
                Err(e) => {
                    if matches!(e, ExecError::Retry(_)) {
                        reachable = false;
                    }
                    run.on_fault(run_fault(e));
                }
            }
        }
        let outcome = run.finish();
        let Some(out) = outcome.equipment else { return reachable };
        let now = now_utc();
        let attempts = eq.provisioning.attempts.saturating_add(1);
        let applied = matches!(out.state, ProvisioningState::Applied | ProvisioningState::Verified);
        let status = ProvisioningStatus {
            state: out.state,
            applied_version: if applied {
                Some(out.version)
            } else {
                eq.provisioning.applied_version
            },
            attempts,
            last_fault: out.fault.as_ref().map(RunFault::to_json),
            next_attempt_at: None,
            updated_at: Some(now),
        };
        if let Err(e) = store.set_provisioning_status(eq.id, &status).await {
            tracing::warn!(agent = %agent_id, error = %e, "cannot record provisioning status");
        }
        let detail = json!({
            "version": out.version,
            "parameterKey": parameter_key(eq.id, out.version),
            "protocol": "usp",
            "new": {"state": out.state, "appliedVersion": status.applied_version},
            "values": redacted_values(&out.values),
            "fault": out.fault.as_ref().map(RunFault::to_json),
            "attempt": attempts,
        });
        let _ = store
            .insert_audit(&NewAudit {
                actor: "acsd".into(),
                action: "provision.push".into(),
                equipment_id: Some(eq.id),
                device_id: Some(agent_id.to_owned()),
                detail,
            })
            .await;
        if let Some(f) = &out.fault {
            let _ = store
                .insert_fault(&NewFault {
                    device_id: agent_id.to_owned(),
                    task_id: None,
                    channel: "provisioning".into(),
                    code: f.code.clone(),
                    message: f.message.clone(),
                    detail: redact_value(&f.detail),
                    retries: attempts,
                })
                .await;
        }
        tracing::info!(agent = %agent_id, equipment = eq.id, version = out.version,
            state = out.state.as_str(), "usp provisioning finished");
        reachable
    }

    async fn carry_out(&self, agent_id: &str, need: Need) -> Result<Done, ExecError> {
        match need {
            Need::Refresh(paths) => {
                let msg = request::get(self.new_msg_id("prov-get"), paths, 0);
                match self.ask(agent_id, msg).await? {
                    IncomingKind::GetResp(out) => Ok(Done::Values(
                        out.values.into_iter().map(|(p, v)| (p, v, None)).collect(),
                    )),
                    _ => Err(ExecError::Fault(super::tasks::agent_fault(
                        crate::codec::ErrorCode::MessageFailed,
                        "unexpected answer to Get",
                        Vec::new(),
                    ))),
                }
            }
            Need::Set { values, .. } => {
                let pairs: Vec<(String, String)> =
                    values.into_iter().map(|v| (v.path, v.value)).collect();
                let msg = request::set_params(self.new_msg_id("prov-set"), false, true, pairs)
                    .map_err(ExecError::from)?;
                match self.ask(agent_id, msg).await? {
                    IncomingKind::SetResp(out) if out.object_failures.is_empty() => Ok(Done::Ok),
                    IncomingKind::SetResp(out) => {
                        let first = out.object_failures[0].clone();
                        Err(ExecError::Fault(super::tasks::agent_fault(
                            first.code,
                            &first.message,
                            out.param_failures,
                        )))
                    }
                    _ => Err(ExecError::Fault(super::tasks::agent_fault(
                        crate::codec::ErrorCode::MessageFailed,
                        "unexpected answer to Set",
                        Vec::new(),
                    ))),
                }
            }
            Need::AddObject(path) => {
                let msg = request::add(
                    self.new_msg_id("prov-add"),
                    false,
                    [ObjectSettings::new(path, Vec::new())],
                );
                match self.ask(agent_id, msg).await? {
                    IncomingKind::AddResp(outcomes) => match outcomes.into_iter().next() {
                        Some(o) => match o.result {
                            Ok(c) => {
                                let n = c
                                    .instantiated_path
                                    .trim_end_matches('.')
                                    .rsplit('.')
                                    .next()
                                    .and_then(|n| n.parse::<u32>().ok())
                                    .unwrap_or(0);
                                Ok(Done::Added(n))
                            }
                            Err(f) => Err(ExecError::Fault(super::tasks::agent_fault(
                                f.code,
                                &f.message,
                                Vec::new(),
                            ))),
                        },
                        None => Err(ExecError::Fault(super::tasks::agent_fault(
                            crate::codec::ErrorCode::ObjectNotCreated,
                            "the agent created nothing",
                            Vec::new(),
                        ))),
                    },
                    _ => Err(ExecError::Fault(super::tasks::agent_fault(
                        crate::codec::ErrorCode::MessageFailed,
                        "unexpected answer to Add",
                        Vec::new(),
                    ))),
                }
            }
            Need::DeleteObject(path) => {
                let msg = request::delete(self.new_msg_id("prov-delete"), false, [path]);
                match self.ask(agent_id, msg).await? {
                    IncomingKind::DeleteResp(out) => match out.failures.first() {
                        None => Ok(Done::Ok),
                        Some(f) => Err(ExecError::Fault(super::tasks::agent_fault(
                            f.code,
                            &f.message,
                            out.failures.clone(),
                        ))),
                    },
                    _ => Err(ExecError::Fault(super::tasks::agent_fault(
                        crate::codec::ErrorCode::MessageFailed,
                        "unexpected answer to Delete",
                        Vec::new(),
                    ))),
                }
            }
        }
    }
}

enum Done {
    Values(Vec<(String, String, Option<String>)>),
    Ok,
    Added(u32),
}
