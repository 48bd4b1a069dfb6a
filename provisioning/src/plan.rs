//! What a device needs in this contact, as a protocol-neutral state machine.
//!
//! A [`ProvisionRun`] is built from the device's data model, its cached parameter values, the
//! rules due and optionally the equipment profile to push. The protocol engine (CWMP in `acs`,
//! USP in `usp`) loops: [`ProvisionRun::next_need`] returns a [`Need`] (read these paths, set these
//! values, add or delete an instance), the engine performs it and reports back with
//! [`ProvisionRun::on_values`], [`ProvisionRun::on_ok`], [`ProvisionRun::on_added`] or
//! [`ProvisionRun::on_fault`]; when `next_need` returns `None` the run is over and
//! [`ProvisionRun::finish`] says what happened.
//!
//! Rules run first, in cycles: each rule refreshes what it needs, adjusts instance counts and
//! sets differing values; set paths are re-read in the next cycle. The rules have converged when
//! a whole cycle changes nothing; after [`MAX_CYCLES`] cycles with changes the rules still
//! changing get a "did not converge" fault. Then the equipment profile: discover instances,
//! map, one set with the profile's ParameterKey, read back (secrets are verified by the set
//! being accepted and the ParameterKey reported).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::equipment::{is_secret_path, parameter_key, Profile, ProvisioningState, REDACTED};
use crate::mapping::{discovery_paths, map_profile, SetValue};
use crate::model::DataModel;
use crate::overrides::VendorOverride;
use crate::rules::{instances_under, same_value, value_text, PathPattern, Rule, Segment};

/// Rule cycles per contact before "did not converge".
pub const MAX_CYCLES: u32 = 4;

/// What the engine must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// Read these paths (object paths end with `.` and mean the whole subtree).
    Refresh(Vec<String>),
    /// Set these values in one request carrying this ParameterKey.
    Set {
        /// Values.
        values: Vec<SetValue>,
        /// ParameterKey (at most 32 characters).
        parameter_key: String,
    },
    /// Create one instance of this object (path ends with `.`).
    AddObject(String),
    /// Delete this instance (path ends with `.`).
    DeleteObject(String),
}

/// A failure reported by the device or found by the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFault {
    /// Device fault code (`"9007"`) or ours (`"did_not_converge"`, `"verify_mismatch"`, …).
    pub code: String,
    /// Human message.
    pub message: String,
    /// Structured detail (e.g. per-parameter faults), secrets redacted.
    pub detail: Value,
}

impl RunFault {
    /// A fault with no detail.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        RunFault { code: code.into(), message: message.into(), detail: Value::Null }
    }

    /// As JSON for status rows and audit.
    pub fn to_json(&self) -> Value {
        json!({"code": self.code, "message": self.message, "detail": self.detail})
    }
}

/// The equipment part of a run.
#[derive(Debug, Clone)]
pub struct EquipmentJob {
    /// Equipment id.
    pub equipment_id: i64,
    /// Profile version being pushed.
    pub version: i64,
    /// The profile.
    pub profile: Profile,
    /// Vendor overrides matching the device.
    pub overrides: Vec<VendorOverride>,
}

/// What happened to the equipment profile.
#[derive(Debug, Clone, PartialEq)]
pub struct EquipmentOutcome {
    /// Equipment id.
    pub equipment_id: i64,
    /// Version pushed.
    pub version: i64,
    /// Resulting state.
    pub state: ProvisioningState,
    /// Why it failed, when it did.
    pub fault: Option<RunFault>,
    /// The values sent (secrets included: redact before showing, see [`redacted_values`]).
    pub values: Vec<SetValue>,
}

/// What happened to one rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleOutcome {
    /// Rule name.
    pub name: String,
    /// Rule version evaluated.
    pub version: i64,
    /// Values the rule set in this contact.
    pub changed: Vec<SetValue>,
    /// Failure, if any.
    pub fault: Option<RunFault>,
}

/// The result of a finished run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunOutcome {
    /// Equipment result, when a profile was part of the run.
    pub equipment: Option<EquipmentOutcome>,
    /// Per rule.
    pub rules: Vec<RuleOutcome>,
}

/// `[{path, value}]` with secrets replaced, for audit and API output.
pub fn redacted_values(values: &[SetValue]) -> Value {
    Value::Array(
        values
            .iter()
            .map(|v| {
                let shown = if is_secret_path(&v.path) { REDACTED } else { v.value.as_str() };
                json!({"path": v.path, "value": shown})
            })
            .collect(),
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pending {
    RuleRefresh,
    RuleSet(Vec<SetValue>),
    RuleAdd(String),
    RuleDelete(String),
    Discover,
    EqSet,
    EqVerify,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EqPhase {
    Discover,
    Set,
    Verify,
    Done,
}

#[derive(Debug)]
struct RuleState {
    rule: Rule,
    changed: Vec<SetValue>,
    changed_in_cycle: bool,
    fault: Option<RunFault>,
    /// Declared secret paths already set in this contact (write-only: cannot be compared).
    secrets_set: BTreeSet<String>,
}

/// The state machine; see the module docs.
#[derive(Debug)]
pub struct ProvisionRun {
    root: Option<&'static str>,
    dm: DataModel,
    values: BTreeMap<String, String>,
    types: BTreeMap<String, String>,
    refreshed: BTreeSet<String>,
    stale: BTreeSet<String>,
    rules: Vec<RuleState>,
    rule_idx: usize,
    cycle: u32,
    cycle_changed: bool,
    rules_done: bool,
    refresh_queue: VecDeque<String>,
    equipment: Option<EquipmentJob>,
    eq_phase: EqPhase,
    eq_discovery: VecDeque<String>,
    eq_values: Vec<SetValue>,
    eq_problems: Vec<String>,
    eq_outcome: Option<EquipmentOutcome>,
    pending: Option<Pending>,
}

impl ProvisionRun {
    /// A run for a device with data model `dm` whose cached values are `known`
    /// (path → (value, xsd type)). `rules` are the rules due, in order.
    pub fn new(
        dm: DataModel,
        known: impl IntoIterator<Item = (String, String, Option<String>)>,
        rules: Vec<Rule>,
        equipment: Option<EquipmentJob>,
    ) -> ProvisionRun {
        let mut values = BTreeMap::new();
        let mut types = BTreeMap::new();
        for (p, v, t) in known {
            if let Some(t) = t {
                types.insert(p.clone(), t);
            }
            values.insert(p, v);
        }
        let eq_discovery = equipment
            .as_ref()
            .map(|e| discovery_paths(dm, &e.profile).into_iter().collect())
            .unwrap_or_default();
        ProvisionRun {
            root: dm.root(),
            dm,
            values,
            types,
            refreshed: BTreeSet::new(),
            stale: BTreeSet::new(),
            rules: rules
                .into_iter()
                .map(|rule| RuleState {
                    rule,
                    changed: Vec::new(),
                    changed_in_cycle: false,
                    fault: None,
                    secrets_set: BTreeSet::new(),
                })
                .collect(),
            rule_idx: 0,
            cycle: 0,
            cycle_changed: false,
            rules_done: false,
            refresh_queue: VecDeque::new(),
            eq_phase: if equipment.is_some() { EqPhase::Discover } else { EqPhase::Done },
            equipment,
            eq_discovery,
            eq_values: Vec::new(),
            eq_problems: Vec::new(),
            eq_outcome: None,
            pending: None,
        }
    }

    /// What the run knows of a path right now.
    pub fn value(&self, path: &str) -> Option<&str> {
        self.values.get(path).map(String::as_str)
    }

    /// The next thing to do, or `None` when the run is over. Must not be called while a
    /// previous need is unanswered (it answers `None` then).
    pub fn next_need(&mut self) -> Option<Need> {
        if self.pending.is_some() {
            return None;
        }
        if !self.rules_done {
            if let Some(n) = self.next_rule_need() {
                return Some(n);
            }
            self.rules_done = true;
        }
        self.next_equipment_need()
    }

    // ---- rules ----

    fn in_root(&self, path: &str) -> bool {
        self.root.is_some_and(|r| path.starts_with(r))
    }

    fn next_rule_need(&mut self) -> Option<Need> {
        self.root?;
        loop {
            if let Some(p) = self.refresh_queue.pop_front() {
                self.pending = Some(Pending::RuleRefresh);
                return Some(Need::Refresh(vec![p]));
            }
            if self.rule_idx >= self.rules.len() {
                if !self.cycle_changed {
                    return None;
                }
                self.cycle += 1;
                if self.cycle >= MAX_CYCLES {
                    for r in &mut self.rules {
                        if r.changed_in_cycle && r.fault.is_none() {
                            r.fault = Some(RunFault {
                                code: "did_not_converge".into(),
                                message: format!(
                                    "rule {:?} did not converge within {MAX_CYCLES} cycles",
                                    r.rule.name
                                ),
                                detail: json!({"cycles": MAX_CYCLES}),
                            });
                        }
                    }
                    return None;
                }
                self.rule_idx = 0;
                self.cycle_changed = false;
                for r in &mut self.rules {
                    r.changed_in_cycle = false;
                }
            }
            let idx = self.rule_idx;
            if self.rules.get(idx).is_none_or(|r| r.fault.is_some()) {
                self.rule_idx += 1;
                continue;
            }
            // 1. Reads this rule needs first.
            let reads = self.rule_reads(idx);
            if !reads.is_empty() {
                for p in &reads {
                    self.refreshed.insert(p.clone());
                    if p.ends_with('.') {
                        self.stale.retain(|s| !s.starts_with(p.as_str()));
                    } else {
                        self.stale.remove(p);
                    }
                }
                self.refresh_queue.extend(reads);
                continue;
            }
            // 2. Instance counts.
            if let Some(n) = self.rule_instances(idx) {
                return Some(n);
            }
            // 3. Values.
            let diff = self.rule_diff(idx);
            self.rule_idx += 1;
            if !diff.is_empty() {
                let name = self.rules.get(idx).map(|r| r.rule.name.clone()).unwrap_or_default();
                let mut key = format!("rule-{name}");
                key.truncate(32);
                self.pending = Some(Pending::RuleSet(diff.clone()));
                // Re-evaluate this rule's result in the next cycle.
                self.rule_idx = idx + 1;
                return Some(Need::Set { values: diff, parameter_key: key });
            }
        }
    }

    fn rule_reads(&self, idx: usize) -> Vec<String> {
        let Some(r) = self.rules.get(idx) else { return Vec::new() };
        let mut out: Vec<String> = Vec::new();
        let add = |p: String, out: &mut Vec<String>| {
            if !out.contains(&p) {
                out.push(p);
            }
        };
        for d in &r.rule.declarations {
            if !self.in_root(&d.path) {
                continue;
            }
            let Ok(pat) = PathPattern::parse(&d.path) else { continue };
            let target = if pat.is_concrete() { d.path.clone() } else { pat.concrete_prefix() };
            let fresh = self.refreshed.contains(&target) && !self.stale.contains(&target);
            if d.refresh_age.is_some() && !self.refreshed.contains(&target) {
                add(target.clone(), &mut out);
                continue;
            }
            if d.value.is_some() || d.instances.is_some() {
                if !pat.is_concrete() {
                    let prefix_stale = self.stale.iter().any(|s| s.starts_with(&target));
                    if !self.refreshed.contains(&target) || prefix_stale {
                        add(target, &mut out);
                    }
                } else if r.secrets_set.contains(&target) {
                    // Write-only; accepted already.
                } else if (!self.values.contains_key(&target) || self.stale.contains(&target))
                    && !fresh
                {
                    add(target, &mut out);
                }
            }
        }
        out
    }

    fn rule_instances(&mut self, idx: usize) -> Option<Need> {
        let r = self.rules.get(idx)?;
        for d in &r.rule.declarations {
            let Some(want) = d.instances else { continue };
            if !self.in_root(&d.path) {
                continue;
            }
            let Ok(pat) = PathPattern::parse(&d.path) else { continue };
            // The parent objects: the pattern without its final `*`.
            let mut parent = pat.clone();
            if !matches!(parent.segments.pop(), Some(Segment::Any)) {
                continue;
            }
            for obj in parent.expand(&self.values) {
                let have = instances_under(&obj, &self.values);
                let have_n = u32::try_from(have.len()).unwrap_or(u32::MAX);
                if have_n < want {
                    self.pending = Some(Pending::RuleAdd(obj.clone()));
                    return Some(Need::AddObject(obj));
                }
                if have_n > want {
                    if let Some(last) = have.last() {
                        let target = format!("{obj}{last}.");
                        self.pending = Some(Pending::RuleDelete(target.clone()));
                        return Some(Need::DeleteObject(target));
                    }
                }
            }
        }
        None
    }

    fn rule_diff(&self, idx: usize) -> Vec<SetValue> {
        let Some(r) = self.rules.get(idx) else { return Vec::new() };
        let mut out: Vec<SetValue> = Vec::new();
        for d in &r.rule.declarations {
            let Some(v) = &d.value else { continue };
            if !self.in_root(&d.path) {
                continue;
            }
            let Ok(pat) = PathPattern::parse(&d.path) else { continue };
            let want = value_text(v);
            for path in pat.expand(&self.values) {
                if r.secrets_set.contains(&path) {
                    continue;
                }
                let differs = match self.values.get(&path) {
                    Some(have) => !same_value(have, &want) || is_secret_path(&path),
                    None => true,
                };
                if differs {
                    let ty = self.types.get(&path).cloned().unwrap_or_else(|| {
                        match v {
                            Value::Bool(_) => "xsd:boolean",
                            Value::Number(n) if n.as_u64().is_some() => "xsd:unsignedInt",
                            Value::Number(n) if n.as_i64().is_some() => "xsd:int",
                            _ => "xsd:string",
                        }
                        .to_owned()
                    });
                    out.retain(|o: &SetValue| o.path != path);
                    out.push(SetValue { path, value: want.clone(), ty });
                }
            }
        }
        out
    }

    // ---- equipment ----

    fn next_equipment_need(&mut self) -> Option<Need> {
        loop {
            let job = self.equipment.as_ref()?;
            match self.eq_phase {
                EqPhase::Discover => {
                    if let Some(p) = self.eq_discovery.pop_front() {
                        self.pending = Some(Pending::Discover);
                        return Some(Need::Refresh(vec![p]));
                    }
                    let overrides: Vec<&VendorOverride> = job.overrides.iter().collect();
                    let mapped = map_profile(self.dm, &job.profile, &self.values, &overrides);
                    self.eq_values = mapped.values;
                    self.eq_problems = mapped.problems;
                    if self.eq_values.is_empty() {
                        let state = if self.eq_problems.is_empty() {
                            ProvisioningState::Verified
                        } else {
                            ProvisioningState::Failed
                        };
                        let fault = self.problems_fault();
                        self.finish_equipment(state, fault);
                        continue;
                    }
                    self.eq_phase = EqPhase::Set;
                }
                EqPhase::Set => {
                    self.pending = Some(Pending::EqSet);
                    return Some(Need::Set {
                        values: self.eq_values.clone(),
                        parameter_key: parameter_key(job.equipment_id, job.version),
                    });
                }
                EqPhase::Verify => {
                    let mut paths: Vec<String> = self
                        .eq_values
                        .iter()
                        .filter(|v| !v.is_secret())
                        .map(|v| v.path.clone())
                        .collect();
                    if let Some(root) = self.root {
                        paths.push(format!("{root}ManagementServer.ParameterKey"));
                    }
                    self.pending = Some(Pending::EqVerify);
                    return Some(Need::Refresh(paths));
                }
                EqPhase::Done => return None,
            }
        }
    }

    fn problems_fault(&self) -> Option<RunFault> {
        if self.eq_problems.is_empty() {
            return None;
        }
        Some(RunFault {
            code: "unmappable".into(),
            message: format!(
                "profile parts have no place on this device: {}",
                self.eq_problems.join("; ")
            ),
            detail: json!({"problems": self.eq_problems}),
        })
    }

    fn finish_equipment(&mut self, state: ProvisioningState, fault: Option<RunFault>) {
        if let Some(job) = &self.equipment {
            self.eq_outcome = Some(EquipmentOutcome {
                equipment_id: job.equipment_id,
                version: job.version,
                state,
                fault,
                values: self.eq_values.clone(),
            });
        }
        self.eq_phase = EqPhase::Done;
    }

    fn verify(&mut self) {
        let mut mismatches = Vec::new();
        for v in &self.eq_values {
            if v.is_secret() {
                continue;
            }
            match self.values.get(&v.path) {
                Some(have) if same_value(have, &v.value) => {}
                have => mismatches.push(json!({
                    "path": v.path, "expected": v.value, "reported": have,
                })),
            }
        }
        if let (Some(root), Some(job)) = (self.root, &self.equipment) {
            let key = parameter_key(job.equipment_id, job.version);
            let path = format!("{root}ManagementServer.ParameterKey");
            match self.values.get(&path) {
                Some(have) if *have == key => {}
                have => mismatches.push(json!({"path": path, "expected": key, "reported": have})),
            }
        }
        if !mismatches.is_empty() {
            let fault = RunFault {
                code: "verify_mismatch".into(),
                message: format!(
                    "{} value(s) read back differ from what was set",
                    mismatches.len()
                ),
                detail: json!({"mismatches": mismatches}),
            };
            self.finish_equipment(ProvisioningState::Failed, Some(fault));
        } else if let Some(f) = self.problems_fault() {
            self.finish_equipment(ProvisioningState::Failed, Some(f));
        } else {
            self.finish_equipment(ProvisioningState::Verified, None);
        }
    }

    // ---- answers ----

    /// Values read for the last [`Need::Refresh`] (path, value, optional xsd type).
    pub fn on_values(&mut self, read: &[(String, String, Option<String>)]) {
        for (p, v, t) in read {
            self.values.insert(p.clone(), v.clone());
            if let Some(t) = t {
                self.types.insert(p.clone(), t.clone());
            }
        }
        if let Some(Pending::EqVerify) = self.pending.take() {
            self.verify();
        }
    }

    /// The last [`Need::Set`] or [`Need::DeleteObject`] succeeded.
    pub fn on_ok(&mut self) {
        match self.pending.take() {
            Some(Pending::RuleSet(values)) => {
                let idx = self.rule_idx.saturating_sub(1);
                for v in &values {
                    self.values.insert(v.path.clone(), v.value.clone());
                    if is_secret_path(&v.path) {
                        if let Some(r) = self.rules.get_mut(idx) {
                            r.secrets_set.insert(v.path.clone());
                        }
                    } else {
                        self.stale.insert(v.path.clone());
                    }
                }
                if let Some(r) = self.rules.get_mut(idx) {
                    r.changed.extend(values);
                    r.changed_in_cycle = true;
                }
                self.cycle_changed = true;
            }
            Some(Pending::RuleDelete(path)) => {
                self.values.retain(|k, _| !k.starts_with(&path));
                self.mark_rule_changed();
            }
            Some(Pending::EqSet) => {
                for v in &self.eq_values {
                    if !v.is_secret() {
                        self.values.remove(&v.path);
                    }
                }
                self.eq_phase = EqPhase::Verify;
            }
            Some(Pending::RuleAdd(_)) => self.on_added(0),
            Some(Pending::Discover | Pending::RuleRefresh | Pending::EqVerify) | None => {}
        }
    }

    fn mark_rule_changed(&mut self) {
        if let Some(r) = self.rules.get_mut(self.rule_idx) {
            r.changed_in_cycle = true;
        }
        self.cycle_changed = true;
    }

    /// The last [`Need::AddObject`] created instance `n`.
    pub fn on_added(&mut self, n: u32) {
        if let Some(Pending::RuleAdd(obj)) = self.pending.take() {
            // Known until the parent is read again (marked stale so it is).
            self.values.insert(format!("{obj}{n}."), String::new());
            self.stale.insert(obj);
            self.mark_rule_changed();
        }
    }

    /// The last need failed.
    pub fn on_fault(&mut self, fault: RunFault) {
        match self.pending.take() {
            Some(Pending::RuleRefresh | Pending::Discover) => {
                // The subtree does not exist on this device: mapping or the declaration's set
                // will say so.
            }
            Some(Pending::RuleSet(_)) => {
                let idx = self.rule_idx.saturating_sub(1);
                if let Some(r) = self.rules.get_mut(idx) {
                    r.fault = Some(fault);
                }
            }
            Some(Pending::RuleAdd(_) | Pending::RuleDelete(_)) => {
                if let Some(r) = self.rules.get_mut(self.rule_idx) {
                    r.fault = Some(fault);
                }
            }
            Some(Pending::EqSet) => self.finish_equipment(ProvisioningState::Failed, Some(fault)),
            Some(Pending::EqVerify) => {
                let f = RunFault {
                    code: fault.code,
                    message: format!("read-back failed: {}", fault.message),
                    detail: fault.detail,
                };
                self.finish_equipment(ProvisioningState::Applied, Some(f));
            }
            None => {}
        }
    }

    /// The run's result (call when [`ProvisionRun::next_need`] returned `None`; an unfinished
    /// equipment push counts as failed).
    pub fn finish(mut self) -> RunOutcome {
        if self.eq_outcome.is_none() && self.equipment.is_some() {
            self.finish_equipment(
                ProvisioningState::Failed,
                Some(RunFault::new("interrupted", "the contact ended before the push finished")),
            );
        }
        RunOutcome {
            equipment: self.eq_outcome,
            rules: self
                .rules
                .into_iter()
                .map(|r| RuleOutcome {
                    name: r.rule.name,
                    version: r.rule.version,
                    changed: r.changed,
                    fault: r.fault,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::equipment::{Band, Security, WifiConfig};
    use crate::rules::Declaration;

    /// A fake device: answers needs from a map; `sticky` paths ignore sets.
    struct Fake {
        params: BTreeMap<String, String>,
        sticky: BTreeSet<String>,
        reject: BTreeSet<String>,
        key_path: String,
    }

    impl Fake {
        fn drive(&mut self, run: &mut ProvisionRun) -> Vec<Need> {
            let mut seen = Vec::new();
            while let Some(n) = run.next_need() {
                seen.push(n.clone());
                assert!(seen.len() < 100, "runaway");
                match n {
                    Need::Refresh(paths) => {
                        let mut out = Vec::new();
                        for p in &paths {
                            let hits: Vec<_> = self
                                .params
                                .iter()
                                .filter(|(k, _)| {
                                    if p.ends_with('.') {
                                        k.starts_with(p.as_str())
                                    } else {
                                        *k == p
                                    }
                                })
                                .map(|(k, v)| (k.clone(), v.clone(), None))
                                .collect();
                            if hits.is_empty() {
                                run.on_fault(RunFault::new("9005", "invalid parameter name"));
                                out.clear();
                                break;
                            }
                            out.extend(hits);
                        }
                        if !out.is_empty() {
                            run.on_values(&out);
                        }
                    }
                    Need::Set { values, parameter_key } => {
                        if values.iter().any(|v| self.reject.contains(&v.path)) {
                            run.on_fault(RunFault::new("9007", "invalid parameter value"));
                            continue;
                        }
                        for v in values {
                            if !self.sticky.contains(&v.path) {
                                self.params.insert(v.path, v.value);
                            }
                        }
                        self.params.insert(self.key_path.clone(), parameter_key);
                        run.on_ok();
                    }
                    Need::AddObject(obj) => {
                        let n =
                            instances_under(&obj, &self.params).last().copied().unwrap_or(0) + 1;
                        self.params.insert(format!("{obj}{n}.Enable"), "false".into());
                        run.on_added(n);
                    }
                    Need::DeleteObject(obj) => {
                        self.params.retain(|k, _| !k.starts_with(&obj));
                        run.on_ok();
                    }
                }
            }
            seen
        }
    }

    fn fake(pairs: &[(&str, &str)]) -> Fake {
        Fake {
            params: pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
            sticky: BTreeSet::new(),
            reject: BTreeSet::new(),
            key_path: "Device.ManagementServer.ParameterKey".into(),
        }
    }

    fn rule(name: &str, decls: Vec<Declaration>) -> Rule {
        Rule {
            name: name.into(),
            enabled: true,
            order: 0,
            precondition: Value::Bool(true),
            events: vec![],
            schedule: None,
            declarations: decls,
            version: 1,
        }
    }

    fn set(path: &str, v: Value) -> Declaration {
        Declaration { path: path.into(), refresh_age: None, value: Some(v), instances: None }
    }

    #[test]
    fn rule_sets_then_converges() {
        let mut dev = fake(&[
            ("Device.X.A", "0"),
            ("Device.X.B", "1"),
            ("Device.ManagementServer.ParameterKey", ""),
        ]);
        let mut run = ProvisionRun::new(
            DataModel::Tr181,
            Vec::new(),
            vec![rule("r", vec![set("Device.X.A", json!(true)), set("Device.X.B", json!(true))])],
            None,
        );
        let needs = dev.drive(&mut run);
        assert_eq!(dev.params["Device.X.A"], "true");
        assert_eq!(needs.iter().filter(|n| matches!(n, Need::Set { .. })).count(), 1, "{needs:?}");
        let out = run.finish();
        assert!(out.rules[0].fault.is_none());
        assert_eq!(out.rules[0].changed.len(), 1);
    }

    #[test]
    fn sticky_value_does_not_converge() {
        let mut dev = fake(&[("Device.X.A", "0"), ("Device.ManagementServer.ParameterKey", "")]);
        dev.sticky.insert("Device.X.A".into());
        let mut run = ProvisionRun::new(
            DataModel::Tr181,
            Vec::new(),
            vec![rule("r", vec![set("Device.X.A", json!("1"))])],
            None,
        );
        dev.drive(&mut run);
        let out = run.finish();
        assert_eq!(out.rules[0].fault.as_ref().unwrap().code, "did_not_converge");
    }

    #[test]
    fn conflicting_rules_do_not_converge() {
        let mut dev = fake(&[("Device.X.A", "0"), ("Device.ManagementServer.ParameterKey", "")]);
        let mut run = ProvisionRun::new(
            DataModel::Tr181,
            Vec::new(),
            vec![
                rule("a", vec![set("Device.X.A", json!("1"))]),
                rule("b", vec![set("Device.X.A", json!("2"))]),
            ],
            None,
        );
        dev.drive(&mut run);
        let out = run.finish();
        assert!(out
            .rules
            .iter()
            .all(|r| r.fault.as_ref().is_some_and(|f| f.code == "did_not_converge")));
    }

    #[test]
    fn wildcards_instances_and_refresh() {
        let mut dev = fake(&[
            ("Device.WiFi.SSID.1.Enable", "false"),
            ("Device.WiFi.SSID.2.Enable", "false"),
            ("Device.DeviceInfo.Uptime", "5"),
            ("Device.ManagementServer.ParameterKey", ""),
        ]);
        let decls = vec![
            Declaration {
                path: "Device.DeviceInfo.".into(),
                refresh_age: Some(3600),
                value: None,
                instances: None,
            },
            Declaration {
                path: "Device.WiFi.SSID.*.".into(),
                refresh_age: None,
                value: None,
                instances: Some(3),
            },
            set("Device.WiFi.SSID.*.Enable", json!(true)),
            set("InternetGatewayDevice.Ignored.X", json!(1)),
        ];
        let mut run = ProvisionRun::new(DataModel::Tr181, Vec::new(), vec![rule("w", decls)], None);
        let needs = dev.drive(&mut run);
        assert!(needs.contains(&Need::Refresh(vec!["Device.DeviceInfo.".into()])), "{needs:?}");
        assert_eq!(run.value("Device.DeviceInfo.Uptime"), Some("5"));
        for i in 1..=3 {
            assert_eq!(dev.params[&format!("Device.WiFi.SSID.{i}.Enable")], "true", "{needs:?}");
        }
        assert!(run.finish().rules[0].fault.is_none());
    }

    fn eq_job() -> EquipmentJob {
        EquipmentJob {
            equipment_id: 7,
            version: 2,
            profile: Profile {
                wifi: vec![WifiConfig {
                    band: Band::Any,
                    ssid: "Home".into(),
                    passphrase: "secret-pass".into(),
                    security: Security::Wpa2Psk,
                    enabled: true,
                }],
                ..Default::default()
            },
            overrides: vec![],
        }
    }

    fn wifi_dev() -> Fake {
        fake(&[
            ("Device.WiFi.Radio.1.OperatingFrequencyBand", "5GHz"),
            ("Device.WiFi.SSID.1.LowerLayers", "Device.WiFi.Radio.1"),
            ("Device.WiFi.SSID.1.SSID", "x"),
            ("Device.WiFi.SSID.1.Enable", "false"),
            ("Device.WiFi.AccessPoint.1.SSIDReference", "Device.WiFi.SSID.1"),
            ("Device.WiFi.AccessPoint.1.Enable", "false"),
            ("Device.WiFi.AccessPoint.1.Security.ModeEnabled", "None"),
            ("Device.WiFi.AccessPoint.1.Security.KeyPassphrase", ""),
            ("Device.ManagementServer.ParameterKey", ""),
        ])
    }

    #[test]
    fn equipment_push_and_verify() {
        let mut dev = wifi_dev();
        let mut run = ProvisionRun::new(DataModel::Tr181, Vec::new(), vec![], Some(eq_job()));
        let needs = dev.drive(&mut run);
        assert_eq!(needs.len(), 3, "{needs:?}");
        assert_eq!(dev.params["Device.WiFi.SSID.1.SSID"], "Home");
        assert_eq!(dev.params["Device.ManagementServer.ParameterKey"], "prov-7-v2");
        let out = run.finish().equipment.unwrap();
        assert_eq!(out.state, ProvisioningState::Verified, "{:?}", out.fault);
        assert!(!redacted_values(&out.values).to_string().contains("secret-pass"));
    }

    #[test]
    fn equipment_fault_and_mismatch() {
        let mut dev = wifi_dev();
        dev.reject.insert("Device.WiFi.SSID.1.SSID".into());
        let mut run = ProvisionRun::new(DataModel::Tr181, Vec::new(), vec![], Some(eq_job()));
        dev.drive(&mut run);
        let out = run.finish().equipment.unwrap();
        assert_eq!(out.state, ProvisioningState::Failed);
        assert_eq!(out.fault.unwrap().code, "9007");

        let mut dev = wifi_dev();
        dev.sticky.insert("Device.WiFi.SSID.1.SSID".into());
        let mut run = ProvisionRun::new(DataModel::Tr181, Vec::new(), vec![], Some(eq_job()));
        dev.drive(&mut run);
        let out = run.finish().equipment.unwrap();
        assert_eq!(out.state, ProvisioningState::Failed);
        assert_eq!(out.fault.unwrap().code, "verify_mismatch");
    }
}
