//! Onboarding: version negotiation, device registration from `Device.DeviceInfo.`, and the
//! persistent subscriptions the controller relies on.

use std::collections::BTreeMap;

use provisioning::{DataModel, Device, Parameter, Protocol, Telemetry};

use super::tasks::ExecError;
use super::{now_utc, Usp};
use crate::codec::request::{self, ObjectSettings, ParamSetting};
use crate::codec::IncomingKind;

/// Table of the agent's subscriptions.
pub const SUBSCRIPTION_TABLE: &str = "Device.LocalAgent.Subscription.";

/// A subscription the controller keeps on every agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedSubscription {
    /// Our `ID` for it.
    pub id: String,
    /// `NotifType`: `Event`, `OperationComplete`, `ValueChange`, ...
    pub notif_type: &'static str,
    /// `ReferenceList`.
    pub reference_list: String,
}

impl Usp {
    /// The subscriptions onboarding ensures exist.
    #[must_use]
    pub fn wanted_subscriptions(&self) -> Vec<WantedSubscription> {
        let mut out = vec![
            WantedSubscription {
                id: "acsd-boot".into(),
                notif_type: "Event",
                reference_list: "Device.Boot!".into(),
            },
            WantedSubscription {
                id: "acsd-operation-complete".into(),
                notif_type: "OperationComplete",
                reference_list: "Device.".into(),
            },
        ];
        for (i, p) in self.inner.config.value_change_paths.iter().enumerate() {
            out.push(WantedSubscription {
                id: format!("acsd-value-change-{}", i + 1),
                notif_type: "ValueChange",
                reference_list: p.clone(),
            });
        }
        out
    }

    /// Register or update the device, then make sure our subscriptions exist.
    pub(super) async fn onboard(&self, agent_id: &str) {
        let (negotiated, generation) = match self.inner.agents.get(agent_id) {
            Some(a) => (a.negotiated, a.onboard_gen),
            None => return,
        };
        if !negotiated {
            if let Err(ExecError::Retry(e)) = self.get_supported_protocol(agent_id).await {
                tracing::info!(agent = %agent_id, error = %e, "onboarding postponed");
                return;
            }
        }
        match self.register(agent_id).await {
            Ok(()) => {}
            Err(ExecError::Retry(e)) => {
                tracing::info!(agent = %agent_id, error = %e, "onboarding postponed");
                return;
            }
            Err(ExecError::Fault(f)) => {
                tracing::warn!(agent = %agent_id, code = %f.code, message = %f.message,
                    "cannot read Device.DeviceInfo.; registering with what is known");
            }
        }
        if let Err(ExecError::Retry(e)) = self.ensure_subscriptions(agent_id).await {
            tracing::info!(agent = %agent_id, error = %e, "subscriptions postponed");
            return;
        }
        if !self.provision(agent_id).await {
            tracing::info!(agent = %agent_id, "provisioning postponed");
            return;
        }
        if let Some(mut a) = self.inner.agents.get_mut(agent_id) {
            if a.onboard_gen == generation {
                a.onboard = false;
            }
        }
        tracing::info!(agent = %agent_id, "agent onboarded");
    }

    async fn register(&self, agent_id: &str) -> Result<(), ExecError> {
        let msg = request::get(self.new_msg_id("devinfo"), ["Device.DeviceInfo."], 1);
        let values = match self.ask_kind(agent_id, msg).await {
            Ok(IncomingKind::GetResp(out)) => out.values,
            Ok(_) => BTreeMap::new(),
            Err(ExecError::Retry(e)) => return Err(ExecError::Retry(e)),
            Err(ExecError::Fault(f)) => {
                tracing::debug!(agent = %agent_id, code = %f.code, "no device info");
                BTreeMap::new()
            }
        };
        let now = now_utc();
        let (stored, booted) = match self.inner.agents.get_mut(agent_id) {
            Some(mut a) => (a.device.clone(), std::mem::take(&mut a.booted)),
            None => (None, false),
        };
        let mut device = match stored {
            Some(d) => d,
            None => match self.inner.store.get_device(agent_id).await {
                Ok(Some(d)) => d,
                _ => Device::new(agent_id, Protocol::Usp, "", "", "", now),
            },
        };
        let info = |name: &str| values.get(&format!("Device.DeviceInfo.{name}")).cloned();
        if let Some(v) = info("ManufacturerOUI") {
            device.oui = v;
        }
        if let Some(v) = info("ProductClass") {
            device.product_class = v;
        }
        if let Some(v) = info("SerialNumber") {
            device.serial_number = v;
        }
        if let Some(v) = info("Manufacturer") {
            device.manufacturer = v;
        }
        device.model_name = info("ModelName").or(device.model_name);
        device.software_version = info("SoftwareVersion").or(device.software_version);
        device.hardware_version = info("HardwareVersion").or(device.hardware_version);
        device.protocol = Protocol::Usp;
        device.data_model = DataModel::Tr181;
        device.last_inform_at = Some(now);
        if booted {
            device.last_boot_at = Some(now);
            device.last_events = vec!["Boot!".into()];
        }
        let params: Vec<Parameter> =
            values.into_iter().map(|(p, v)| Parameter::value(p, v, None, now)).collect();
        let t = Telemetry { device: device.clone(), params, bootstrap: false };
        if let Err(e) = self.inner.store.apply_telemetry(&[t]).await {
            tracing::warn!(agent = %agent_id, error = %e, "cannot register usp agent");
            return Err(ExecError::Fault(provisioning::TaskFault {
                code: "storage".into(),
                message: e.to_string(),
                detail: serde_json::Value::Null,
            }));
        }
        if let Some(mut a) = self.inner.agents.get_mut(agent_id) {
            a.device = Some(device);
        }
        Ok(())
    }

    async fn ask_kind(
        &self,
        agent_id: &str,
        msg: crate::codec::Msg,
    ) -> Result<IncomingKind, ExecError> {
        let incoming = self.request(agent_id, msg).await?;
        match incoming.kind {
            IncomingKind::Error(e) => {
                Err(ExecError::Fault(super::tasks::agent_fault(e.code, &e.message, e.param_errs)))
            }
            other => Ok(other),
        }
    }

    /// Read the agent's subscriptions and Add the wanted ones that are missing.
    async fn ensure_subscriptions(&self, agent_id: &str) -> Result<(), ExecError> {
        let msg = request::get(self.new_msg_id("subs"), [SUBSCRIPTION_TABLE], 0);
        let values = match self.ask_kind(agent_id, msg).await {
            Ok(IncomingKind::GetResp(out)) => out.values,
            Ok(_) => BTreeMap::new(),
            Err(ExecError::Retry(e)) => return Err(ExecError::Retry(e)),
            // An empty table may be reported as an error (no instances match).
            Err(ExecError::Fault(_)) => BTreeMap::new(),
        };
        // Instance path -> (param -> value).
        let mut existing: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (path, value) in values {
            let Some(rest) = path.strip_prefix(SUBSCRIPTION_TABLE) else { continue };
            let Some((instance, param)) = rest.split_once('.') else { continue };
            existing
                .entry(format!("{SUBSCRIPTION_TABLE}{instance}."))
                .or_default()
                .insert(param.to_owned(), value);
        }
        let present = |w: &WantedSubscription| {
            existing.values().any(|s| {
                s.get("NotifType").is_some_and(|t| t == w.notif_type)
                    && s.get("ReferenceList").is_some_and(|r| r == &w.reference_list)
                    && s.get("Enable").is_none_or(|e| e == "true" || e == "1")
            })
        };
        for wanted in self.wanted_subscriptions() {
            if present(&wanted) {
                continue;
            }
            let params = vec![
                ParamSetting::new("Enable", "true", true),
                ParamSetting::new("ID", wanted.id.clone(), false),
                ParamSetting::new("NotifType", wanted.notif_type, true),
                ParamSetting::new("ReferenceList", wanted.reference_list.clone(), true),
                ParamSetting::new("Persistent", "true", false),
                ParamSetting::new("NotifRetry", "true", false),
            ];
            let msg = request::add(
                self.new_msg_id("subscribe"),
                false,
                [ObjectSettings::new(SUBSCRIPTION_TABLE, params)],
            );
            match self.ask_kind(agent_id, msg).await {
                Ok(IncomingKind::AddResp(outcomes)) => {
                    for o in outcomes {
                        match o.result {
                            Ok(c) => tracing::info!(agent = %agent_id, id = %wanted.id,
                                path = %c.instantiated_path, "subscription created"),
                            Err(f) => tracing::warn!(agent = %agent_id, id = %wanted.id,
                                code = f.code.code(), message = %f.message,
                                "subscription refused"),
                        }
                    }
                }
                Ok(_) => {}
                Err(ExecError::Retry(e)) => return Err(ExecError::Retry(e)),
                Err(ExecError::Fault(f)) => {
                    tracing::warn!(agent = %agent_id, id = %wanted.id, code = %f.code,
                        message = %f.message, "subscription refused");
                }
            }
        }
        Ok(())
    }
}
