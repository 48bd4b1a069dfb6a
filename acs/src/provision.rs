//! The provisioning hook of a CWMP session: after queued tasks, ask `provisioning` what the
//! device needs (match it to service equipment, apply due rules, push the equipment profile)
//! and carry the protocol-neutral [`Need`]s out as GetParameterValues / SetParameterValues /
//! AddObject / DeleteObject in the same session, then record the outcome (status, audit,
//! faults).
//!
//! Hot path: the decision whether anything is due is made from memory — the equipment index
//! (serial, MACs, current profile version), the rule set, and each device's [`DeviceProv`] in
//! the engine's device index. A matched device whose profile is applied and with no rule due
//! costs no database query.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, RwLock};

use cwmp_schema::{Body, ParameterValue, ValueType};
use dashmap::DashMap;
use provisioning::equipment::{redact_value, Equipment, EquipmentFilter, NewAudit};
use provisioning::matching::{mac_paths, macs_in, normalize_serial};
use provisioning::overrides::Overrides;
use provisioning::plan::{redacted_values, EquipmentJob, Need, ProvisionRun, RunFault};
use provisioning::rules::{default_rules, DeviceFacts, Rule};
use provisioning::{NewFault, Parameter, ProvisioningState, ProvisioningStatus, Store, StoreError};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::engine::Acs;
use crate::error::AcsError;

/// Settings key recording that the shipped rules were created once.
const RULES_SEEDED: &str = "provisioning.rules_seeded";

/// What the engine remembers of one piece of equipment.
#[derive(Debug, Clone)]
struct EqInfo {
    version: i64,
    device_id: Option<String>,
    serial_key: Option<String>,
    macs: Vec<String>,
}

/// Engine-wide provisioning state, all in memory.
#[derive(Debug, Default)]
pub(crate) struct ProvIndex {
    equipment: DashMap<i64, EqInfo>,
    by_serial: DashMap<String, i64>,
    by_mac: DashMap<String, i64>,
    rules: RwLock<Arc<Vec<Rule>>>,
    overrides: RwLock<Arc<Overrides>>,
}

/// Per-device provisioning memory, kept in the device index.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeviceProv {
    /// The bound equipment's status was read from the store in this process.
    loaded: bool,
    applied_version: Option<i64>,
    state: Option<ProvisioningState>,
    attempts: u32,
    next_attempt_at: Option<OffsetDateTime>,
    /// Forced by an operator (reprovision).
    forced: bool,
    /// Equipment this device conflicted with (reported once per boot).
    conflict: Option<i64>,
    /// Per rule: version applied and when.
    rules: HashMap<String, (i64, OffsetDateTime)>,
}

fn lock_read<T: Clone>(l: &RwLock<T>) -> T {
    match l.read() {
        Ok(g) => g.clone(),
        Err(p) => p.into_inner().clone(),
    }
}

fn lock_write<T>(l: &RwLock<T>, v: T) {
    match l.write() {
        Ok(mut g) => *g = v,
        Err(p) => *p.into_inner() = v,
    }
}

impl ProvIndex {
    /// Load equipment, rules (creating the shipped ones at first start) and overrides.
    pub(crate) async fn load(
        store: &Arc<dyn Store>,
        overrides_path: Option<&Path>,
    ) -> Result<ProvIndex, AcsError> {
        let idx = ProvIndex::default();
        for e in
            store.list_equipment(&EquipmentFilter::default()).await.map_err(AcsError::storage)?
        {
            idx.put(&e);
        }
        if store.get_setting(RULES_SEEDED).await.map_err(AcsError::storage)?.is_none() {
            store.seed_rules(&default_rules()).await.map_err(AcsError::storage)?;
            store.set_setting(RULES_SEEDED, "1").await.map_err(AcsError::storage)?;
        }
        let rules = store.list_rules().await.map_err(AcsError::storage)?;
        lock_write(&idx.rules, Arc::new(rules));
        let overrides = match overrides_path {
            Some(p) => read_overrides(p)?,
            None => Overrides::builtin(),
        };
        lock_write(&idx.overrides, Arc::new(overrides));
        Ok(idx)
    }

    fn put(&self, e: &Equipment) {
        self.remove(e.id);
        let info = EqInfo {
            version: e.profile_version,
            device_id: e.device_id.clone(),
            serial_key: e.serial_key(),
            macs: e.macs.clone(),
        };
        if let Some(k) = &info.serial_key {
            self.by_serial.insert(k.clone(), e.id);
        }
        for m in &info.macs {
            self.by_mac.insert(m.clone(), e.id);
        }
        self.equipment.insert(e.id, info);
    }

    fn remove(&self, id: i64) {
        if let Some((_, old)) = self.equipment.remove(&id) {
            if let Some(k) = old.serial_key {
                self.by_serial.remove_if(&k, |_, v| *v == id);
            }
            for m in old.macs {
                self.by_mac.remove_if(&m, |_, v| *v == id);
            }
        }
    }

    /// Whether equipment known only by MAC waits for a device.
    fn unbound_mac_only(&self) -> bool {
        self.equipment.iter().any(|e| e.device_id.is_none() && !e.macs.is_empty())
    }
}

/// Read the overrides data file; a missing file means the shipped examples.
fn read_overrides(path: &Path) -> Result<Overrides, AcsError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Overrides::parse(&text).map_err(|e| AcsError::Internal(e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Overrides::builtin()),
        Err(e) => Err(AcsError::Internal(format!("cannot read {}: {e}", path.display()))),
    }
}

/// Backoff before provisioning retry `attempt` (1-based): 30 s doubling, capped at one hour.
fn retry_backoff(attempt: u32) -> time::Duration {
    let exp = attempt.saturating_sub(1).min(7);
    time::Duration::seconds(i64::try_from((30u64 << exp).min(3600)).unwrap_or(3600))
}

impl Acs {
    /// Keep the in-memory equipment index in step with a created or changed record.
    pub fn equipment_changed(&self, e: &Equipment) {
        self.inner.prov.put(e);
    }

    /// Forget deleted equipment (and unbind its device in memory).
    pub fn equipment_removed(&self, id: i64) {
        self.inner.prov.remove(id);
        for mut d in self.inner.devices.iter_mut() {
            if d.device.equipment_id == Some(id) {
                d.device.equipment_id = None;
                d.prov = DeviceProv::default();
            }
        }
    }

    /// Re-read the rules from the store (after an API change). Returns how many there are.
    pub async fn reload_rules(&self) -> Result<usize, AcsError> {
        let rules = self.inner.store.list_rules().await.map_err(AcsError::storage)?;
        let n = rules.len();
        lock_write(&self.inner.prov.rules, Arc::new(rules));
        Ok(n)
    }

    /// Re-read the vendor overrides data file (`<data dir>/vendor-overrides.json`; the shipped
    /// examples when it does not exist). Returns how many overrides are loaded.
    pub fn reload_overrides(&self) -> Result<usize, AcsError> {
        let o = match &self.inner.config.overrides_path {
            Some(p) => read_overrides(p)?,
            None => Overrides::builtin(),
        };
        let n = o.overrides.len();
        lock_write(&self.inner.prov.overrides, Arc::new(o));
        Ok(n)
    }

    /// The vendor overrides in use.
    pub fn overrides(&self) -> Arc<Overrides> {
        lock_read(&self.inner.prov.overrides)
    }

    /// Push the equipment's profile again at the next contact of its device and ask the device
    /// to call now. Returns the device id when the equipment is bound.
    pub async fn reprovision(&self, equipment_id: i64) -> Result<Option<String>, AcsError> {
        let device_id =
            self.inner.prov.equipment.get(&equipment_id).and_then(|e| e.device_id.clone());
        let Some(device_id) = device_id else { return Ok(None) };
        if let Some(mut e) = self.inner.devices.get_mut(&device_id) {
            e.prov.forced = true;
        }
        if let Err(e) = self.connection_request(&device_id).await {
            tracing::info!(device = %device_id, error = %e, "reprovision: connection request failed; the push waits for the next contact");
        }
        Ok(Some(device_id))
    }
}

/// Provisioning work of one session.
#[derive(Debug)]
pub(crate) struct ProvSession {
    device_id: String,
    /// Matching by MAC is in progress: read these paths first.
    mac_phase: bool,
    mac_fetch: VecDeque<String>,
    macs_read: Vec<(String, String)>,
    run: Option<ProvisionRun>,
    equipment: Option<Equipment>,
    /// Whether the equipment was matched in this contact (for audit).
    matched_now: bool,
}

fn now_utc() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

impl ProvSession {
    /// Decide (from memory) whether the device needs anything; build the work when it does.
    pub(crate) async fn start(
        acs: &Acs,
        device_id: &str,
        events: &[String],
        is_new: bool,
    ) -> Result<Option<ProvSession>, AcsError> {
        let inner = &acs.inner;
        let idx = &inner.prov;
        let now = now_utc();
        let Some((device, mem)) =
            inner.devices.get(device_id).map(|e| (e.device.clone(), e.prov.clone()))
        else {
            return Ok(None);
        };
        if device.data_model.root().is_none() {
            return Ok(None);
        }
        let bootish =
            is_new || events.iter().any(|e| e == "0 BOOTSTRAP" || e == "1 BOOT") || mem.forced;

        // Equipment: bound, or matched now by serial, or MAC matching needed.
        let mut equipment_id = None;
        let mut matched_now = false;
        let mut mac_fetch = false;
        match device.equipment_id {
            Some(id) => {
                if let Some(info) = idx.equipment.get(&id).map(|i| i.clone()) {
                    let due = bootish
                        || !mem.loaded
                        || mem.applied_version.is_none_or(|v| v < info.version)
                        || mem.state == Some(ProvisioningState::Pending)
                        || (mem.state == Some(ProvisioningState::Failed)
                            && mem.next_attempt_at.is_none_or(|t| t <= now));
                    if due {
                        equipment_id = Some(id);
                    }
                }
            }
            None => {
                let key = normalize_serial(&device.serial_number);
                let mut by_serial = key.as_ref().and_then(|k| idx.by_serial.get(k).map(|v| *v));
                if by_serial.is_none() && bootish {
                    // Equipment registered through another node sharing the database: look it
                    // up once per boot (not on periodic contacts).
                    if let Some(k) = key {
                        let f = EquipmentFilter { serial_key: Some(k), ..Default::default() };
                        let found =
                            inner.store.list_equipment(&f).await.map_err(AcsError::storage)?;
                        if let Some(e) = found.first() {
                            idx.put(e);
                            by_serial = Some(e.id);
                        }
                    }
                }
                match by_serial {
                    Some(id) => {
                        if claim(acs, &device.id, id, "serial", mem.conflict, bootish).await? {
                            equipment_id = Some(id);
                            matched_now = true;
                        }
                    }
                    None => mac_fetch = bootish && idx.unbound_mac_only(),
                }
            }
        }

        // Rules due, decided in memory.
        let facts = DeviceFacts::from_device(&device, events);
        let facts_json = facts.to_json();
        let rules = lock_read(&idx.rules);
        let mut due_rules = Vec::new();
        if let Some(mut entry) = inner.devices.get_mut(device_id) {
            for r in rules.iter() {
                if !r.applies(&facts, &facts_json, now) {
                    continue;
                }
                let rec = entry.prov.rules.get(&r.name).copied();
                let aged = |at: OffsetDateTime| {
                    r.min_refresh_age().is_some_and(|age| {
                        (now - at).whole_seconds() >= i64::try_from(age).unwrap_or(i64::MAX)
                    })
                };
                let due = match rec {
                    None if !r.writes() => {
                        // The Inform just delivered the basics: the clock starts now.
                        entry.prov.rules.insert(r.name.clone(), (r.version, now));
                        false
                    }
                    None => true,
                    Some((v, at)) => {
                        v != r.version || aged(at) || (r.writes() && !r.events.is_empty())
                    }
                };
                if due {
                    due_rules.push(r.clone());
                }
            }
        }

        if equipment_id.is_none() && due_rules.is_empty() && !mac_fetch {
            return Ok(None);
        }
        let mut s = ProvSession {
            device_id: device.id.clone(),
            mac_phase: false,
            mac_fetch: VecDeque::new(),
            macs_read: Vec::new(),
            run: None,
            equipment: None,
            matched_now,
        };
        if mac_fetch && equipment_id.is_none() {
            s.mac_phase = true;
            s.mac_fetch = mac_paths(device.data_model).iter().map(|p| (*p).to_owned()).collect();
            // Rules wait until matching is done; they are rebuilt then.
            return Ok(Some(s));
        }
        s.build(acs, equipment_id, due_rules, bootish).await?;
        Ok(Some(s))
    }

    /// Load what the run needs from the store and create it.
    async fn build(
        &mut self,
        acs: &Acs,
        equipment_id: Option<i64>,
        rules: Vec<Rule>,
        bootish: bool,
    ) -> Result<(), AcsError> {
        let inner = &acs.inner;
        let store = &inner.store;
        let Some(device) = acs.device(&self.device_id) else { return Ok(()) };
        let mut job = None;
        if let Some(id) = equipment_id {
            if let Some(eq) = store.get_equipment(id).await.map_err(AcsError::storage)? {
                let st = &eq.provisioning;
                let up_to_date = st.applied_version == Some(eq.profile_version)
                    && matches!(st.state, ProvisioningState::Verified | ProvisioningState::Applied);
                let mut forced = false;
                if let Some(mut e) = inner.devices.get_mut(&self.device_id) {
                    forced = e.prov.forced;
                    e.prov.loaded = true;
                    e.prov.applied_version = st.applied_version;
                    e.prov.state = Some(st.state);
                    e.prov.attempts = st.attempts;
                    e.prov.next_attempt_at = st.next_attempt_at;
                    e.prov.forced = false;
                }
                let waiting = st.state == ProvisioningState::Failed
                    && st.next_attempt_at.is_some_and(|t| t > now_utc());
                if bootish || forced || self.matched_now || (!up_to_date && !waiting) {
                    let model = device.model_name.clone().unwrap_or_default();
                    let overrides = lock_read(&inner.prov.overrides);
                    job = Some(EquipmentJob {
                        equipment_id: eq.id,
                        version: eq.profile_version,
                        profile: eq.profile.clone(),
                        overrides: overrides
                            .matching(&device.oui, &device.product_class, &model)
                            .into_iter()
                            .cloned()
                            .collect(),
                    });
                    self.equipment = Some(eq);
                }
            }
        }
        if job.is_none() && rules.is_empty() {
            return Ok(());
        }
        let known: Vec<(String, String, Option<String>)> = store
            .get_parameters(&self.device_id, "")
            .await
            .map_err(AcsError::storage)?
            .into_iter()
            .filter_map(|p| p.value.map(|v| (p.path, v, p.value_type)))
            .collect();
        self.run = Some(ProvisionRun::new(device.data_model, known, rules, job));
        Ok(())
    }

    /// The next RPC to send, or `None` when the work is done.
    pub(crate) async fn next_request(&mut self, acs: &Acs) -> Result<Option<Body>, AcsError> {
        if self.mac_phase {
            if let Some(p) = self.mac_fetch.pop_front() {
                return Ok(Some(Body::GetParameterValues { parameter_names: vec![p] }));
            }
            self.mac_phase = false;
            self.match_by_mac(acs).await?;
        }
        let Some(run) = self.run.as_mut() else { return Ok(None) };
        Ok(run.next_need().map(|need| match need {
            Need::Refresh(paths) => Body::GetParameterValues { parameter_names: paths },
            Need::Set { values, parameter_key } => Body::SetParameterValues {
                parameter_list: values
                    .into_iter()
                    .map(|v| ParameterValue::new(v.path, v.value, ValueType::parse(&v.ty)))
                    .collect(),
                parameter_key,
            },
            Need::AddObject(object_name) => {
                Body::AddObject { object_name, parameter_key: String::new() }
            }
            Need::DeleteObject(object_name) => {
                Body::DeleteObject { object_name, parameter_key: String::new() }
            }
        }))
    }

    async fn match_by_mac(&mut self, acs: &Acs) -> Result<(), AcsError> {
        let macs = macs_in(self.macs_read.iter().map(|(p, v)| (p.as_str(), v.as_str())));
        self.macs_read.clear();
        let found = macs.iter().find_map(|m| acs.inner.prov.by_mac.get(m).map(|v| *v));
        let (conflict, events) = match acs.inner.devices.get(&self.device_id) {
            Some(e) => (e.prov.conflict, e.device.last_events.clone()),
            None => (None, Vec::new()),
        };
        let mut equipment_id = None;
        if let Some(id) = found {
            if claim(acs, &self.device_id, id, "mac", conflict, true).await? {
                equipment_id = Some(id);
                self.matched_now = true;
            }
        }
        // Rules due were not computed while matching was pending: take the writing ones now.
        let device = acs.device(&self.device_id);
        let rules: Vec<Rule> = match device {
            Some(d) => {
                let facts = DeviceFacts::from_device(&d, &events);
                let fj = facts.to_json();
                lock_read(&acs.inner.prov.rules)
                    .iter()
                    .filter(|r| r.writes() && r.applies(&facts, &fj, now_utc()))
                    .cloned()
                    .collect()
            }
            None => Vec::new(),
        };
        self.build(acs, equipment_id, rules, true).await
    }

    /// The CPE answered the RPC `request` with `response`.
    pub(crate) async fn on_response(
        &mut self,
        acs: &Acs,
        request: &Body,
        response: &Body,
    ) -> Result<(), AcsError> {
        let store = &acs.inner.store;
        let now = now_utc();
        if self.mac_phase {
            // MAC discovery; a fault means the path does not exist on this device.
            if let Body::GetParameterValuesResponse { parameter_list } = response {
                self.macs_read
                    .extend(parameter_list.iter().map(|p| (p.name.clone(), p.value.clone())));
            }
            return Ok(());
        }
        let Some(run) = self.run.as_mut() else { return Ok(()) };
        match response {
            Body::GetParameterValuesResponse { parameter_list } => {
                let params: Vec<Parameter> = parameter_list
                    .iter()
                    .map(|p| {
                        let v = if provisioning::equipment::is_secret_path(&p.name) {
                            String::new()
                        } else {
                            p.value.clone()
                        };
                        Parameter::value(p.name.clone(), v, Some(p.value_type.as_xsd()), now)
                    })
                    .collect();
                if !params.is_empty() {
                    store
                        .upsert_parameters(&self.device_id, &params)
                        .await
                        .map_err(AcsError::storage)?;
                }
                let read: Vec<(String, String, Option<String>)> = parameter_list
                    .iter()
                    .map(|p| {
                        (p.name.clone(), p.value.clone(), Some(p.value_type.as_xsd().to_owned()))
                    })
                    .collect();
                run.on_values(&read);
            }
            Body::SetParameterValuesResponse { .. } => {
                if let Body::SetParameterValues { parameter_list, .. } = request {
                    let learned: Vec<Parameter> = parameter_list
                        .iter()
                        .map(|p| {
                            let v = if provisioning::equipment::is_secret_path(&p.name) {
                                String::new()
                            } else {
                                p.value.clone()
                            };
                            Parameter::value(p.name.clone(), v, Some(p.value_type.as_xsd()), now)
                        })
                        .collect();
                    store
                        .upsert_parameters(&self.device_id, &learned)
                        .await
                        .map_err(AcsError::storage)?;
                }
                run.on_ok();
            }
            Body::AddObjectResponse { instance_number, .. } => run.on_added(*instance_number),
            Body::DeleteObjectResponse { .. } => {
                if let Body::DeleteObject { object_name, .. } = request {
                    acs.forget_inform_values(&self.device_id);
                    store
                        .delete_parameters(&self.device_id, object_name)
                        .await
                        .map_err(AcsError::storage)?;
                }
                run.on_ok();
            }
            Body::Fault(f) => {
                let tf = crate::rpc::cpe_fault(f);
                run.on_fault(RunFault {
                    code: tf.code,
                    message: tf.message,
                    detail: redact_value(&tf.detail),
                });
            }
            other => run.on_fault(RunFault::new(
                "unexpected_response",
                format!("{} does not answer {}", other.method_name(), request.method_name()),
            )),
        }
        Ok(())
    }

    /// The RPC in flight failed without an answer (timeout, empty POST).
    pub(crate) fn on_lost(&mut self, code: &str, message: &str) {
        match self.run.as_mut() {
            Some(run) => run.on_fault(RunFault::new(code, message)),
            None => self.mac_fetch.clear(),
        }
    }

    /// Record the outcome: provisioning status, audit rows, faults, in-memory state.
    pub(crate) async fn finish(mut self, acs: &Acs) {
        let Some(run) = self.run.take() else { return };
        let outcome = run.finish();
        let store = &acs.inner.store;
        let now = now_utc();
        let device_id = self.device_id.clone();
        let audit = |action: &str, equipment_id: Option<i64>, detail: Value| NewAudit {
            actor: "acsd".into(),
            action: action.into(),
            equipment_id,
            device_id: Some(device_id.clone()),
            detail,
        };
        let mut result: Result<(), StoreError> = Ok(());
        if let Some(eq) = &outcome.equipment {
            let prev =
                acs.inner.devices.get(&device_id).map(|e| e.prov.clone()).unwrap_or_default();
            let failed = eq.state == ProvisioningState::Failed;
            let attempts = prev.attempts.saturating_add(1);
            let applied =
                matches!(eq.state, ProvisioningState::Applied | ProvisioningState::Verified);
            let status = ProvisioningStatus {
                state: eq.state,
                applied_version: if applied { Some(eq.version) } else { prev.applied_version },
                attempts,
                last_fault: eq.fault.as_ref().map(RunFault::to_json),
                next_attempt_at: failed.then(|| now + retry_backoff(attempts)),
                updated_at: Some(now),
            };
            if let Some(mut e) = acs.inner.devices.get_mut(&device_id) {
                e.prov.loaded = true;
                e.prov.state = Some(status.state);
                e.prov.applied_version = status.applied_version;
                e.prov.attempts = status.attempts;
                e.prov.next_attempt_at = status.next_attempt_at;
            }
            result = result.and(store.set_provisioning_status(eq.equipment_id, &status).await);
            let old = self.equipment.as_ref().map(|e| {
                json!({
                    "state": e.provisioning.state, "appliedVersion": e.provisioning.applied_version,
                })
            });
            let detail = json!({
                "version": eq.version,
                "parameterKey": provisioning::equipment::parameter_key(eq.equipment_id, eq.version),
                "old": old,
                "new": {"state": eq.state, "appliedVersion": status.applied_version},
                "values": redacted_values(&eq.values),
                "fault": eq.fault.as_ref().map(RunFault::to_json),
                "attempt": attempts,
            });
            result = result.and(
                store
                    .insert_audit(&audit("provision.push", Some(eq.equipment_id), detail))
                    .await
                    .map(|_| ()),
            );
            if let Some(f) = &eq.fault {
                result = result.and(
                    store
                        .insert_fault(&NewFault {
                            device_id: device_id.clone(),
                            task_id: None,
                            channel: "provisioning".into(),
                            code: f.code.clone(),
                            message: f.message.clone(),
                            detail: redact_value(&f.detail),
                            retries: attempts,
                        })
                        .await
                        .map(|_| ()),
                );
            }
            tracing::info!(device = %device_id, equipment = eq.equipment_id, version = eq.version, state = eq.state.as_str(), "provisioning push finished");
        }
        for r in &outcome.rules {
            if let Some(mut e) = acs.inner.devices.get_mut(&device_id) {
                e.prov.rules.insert(r.name.clone(), (r.version, now));
            }
            if !r.changed.is_empty() || r.fault.is_some() {
                let detail = json!({
                    "rule": r.name, "version": r.version,
                    "values": redacted_values(&r.changed),
                    "fault": r.fault.as_ref().map(RunFault::to_json),
                });
                result = result
                    .and(store.insert_audit(&audit("rule.apply", None, detail)).await.map(|_| ()));
            }
            if let Some(f) = &r.fault {
                result = result.and(
                    store
                        .insert_fault(&NewFault {
                            device_id: device_id.clone(),
                            task_id: None,
                            channel: "rule".into(),
                            code: f.code.clone(),
                            message: f.message.clone(),
                            detail: json!({"rule": r.name, "detail": redact_value(&f.detail)}),
                            retries: 0,
                        })
                        .await
                        .map(|_| ()),
                );
            }
        }
        if let Err(e) = result {
            tracing::warn!(device = %device_id, error = %e, "could not record the provisioning outcome");
        }
    }
}

/// Bind a device to equipment it matched (`how`: "serial" or "mac"). A conflict (the equipment
/// is bound to another device) is recorded as a fault and an audit event — once per boot — and
/// never overwrites the binding. Returns whether the device is now bound.
async fn claim(
    acs: &Acs,
    device_id: &str,
    equipment_id: i64,
    how: &str,
    reported_conflict: Option<i64>,
    bootish: bool,
) -> Result<bool, AcsError> {
    let inner = &acs.inner;
    let store = &inner.store;
    let bound_elsewhere = inner
        .prov
        .equipment
        .get(&equipment_id)
        .and_then(|e| e.device_id.clone())
        .filter(|d| d != device_id);
    let result = match &bound_elsewhere {
        Some(other) => Err(StoreError::Conflict(format!(
            "equipment {equipment_id} is bound to device {other}"
        ))),
        None => store.bind_equipment(equipment_id, device_id).await,
    };
    match result {
        Ok(()) => {
            if let Some(mut e) = inner.prov.equipment.get_mut(&equipment_id) {
                e.device_id = Some(device_id.to_owned());
            }
            if let Some(mut e) = inner.devices.get_mut(device_id) {
                e.device.equipment_id = Some(equipment_id);
                e.prov =
                    DeviceProv { rules: std::mem::take(&mut e.prov.rules), ..Default::default() };
            }
            store
                .insert_audit(&NewAudit {
                    actor: "acsd".into(),
                    action: "device.match".into(),
                    equipment_id: Some(equipment_id),
                    device_id: Some(device_id.to_owned()),
                    detail: json!({"by": how}),
                })
                .await
                .map_err(AcsError::storage)?;
            tracing::info!(device = %device_id, equipment = equipment_id, by = how, "device matched to equipment");
            Ok(true)
        }
        Err(StoreError::Conflict(msg)) => {
            if reported_conflict == Some(equipment_id) && !bootish {
                return Ok(false);
            }
            if let Some(mut e) = inner.devices.get_mut(device_id) {
                e.prov.conflict = Some(equipment_id);
            }
            tracing::warn!(device = %device_id, equipment = equipment_id, "equipment conflict: {msg}");
            store
                .insert_fault(&NewFault {
                    device_id: device_id.to_owned(),
                    task_id: None,
                    channel: "provisioning".into(),
                    code: "equipment_conflict".into(),
                    message: msg.clone(),
                    detail: json!({"equipmentId": equipment_id, "by": how, "boundTo": bound_elsewhere}),
                    retries: 0,
                })
                .await
                .map_err(AcsError::storage)?;
            store
                .insert_audit(&NewAudit {
                    actor: "acsd".into(),
                    action: "device.conflict".into(),
                    equipment_id: Some(equipment_id),
                    device_id: Some(device_id.to_owned()),
                    detail: json!({"by": how, "message": msg}),
                })
                .await
                .map_err(AcsError::storage)?;
            Ok(false)
        }
        Err(e) => Err(AcsError::storage(e)),
    }
}
