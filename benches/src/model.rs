//! CPE data models: a shared, read-only template loaded from a CSV or JSON file, and a small
//! per-device overlay holding what the ACS changed, added or deleted.
//!
//! A fleet of 100 000 simulated CPEs shares one template; each device only stores its own
//! differences, so memory stays proportional to what the ACS actually touched.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use cwmp_schema::ValueType;
use serde::Deserialize;

use crate::error::FleetError;

/// One row of a data model file: an object (path ends with `.`) or a parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Full path; objects end with `.`.
    pub path: String,
    /// `None` for objects, the xsd type for parameters.
    pub value_type: Option<ValueType>,
    /// The ACS may set it (parameters) or add/delete instances (objects).
    pub writable: bool,
    /// Sent in every Inform.
    pub inform: bool,
    /// Default value; may contain placeholders such as `{serial}`.
    pub default: String,
}

impl Entry {
    /// True for objects (paths ending with `.`).
    pub fn is_object(&self) -> bool {
        self.value_type.is_none()
    }
}

/// A data model template shared by many devices.
#[derive(Debug)]
pub struct ModelTemplate {
    /// Short name (file stem), used in reports.
    pub name: String,
    /// `Device.` or `InternetGatewayDevice.`.
    pub root: String,
    /// Entries sorted by path.
    entries: Vec<Entry>,
    index: HashMap<String, usize>,
    /// Indices of the entries sent in every Inform.
    inform: Vec<usize>,
}

#[derive(Debug, Deserialize)]
struct JsonEntry {
    path: String,
    #[serde(rename = "type")]
    value_type: String,
    #[serde(default)]
    writable: bool,
    #[serde(default)]
    inform: bool,
    #[serde(default)]
    value: String,
}

/// The data models shipped under `benches/models/`, embedded so the binary works anywhere.
pub const BUILTIN_MODELS: &[(&str, &str)] = &[
    ("tr181", include_str!("../models/tr181.csv")),
    ("tr098", include_str!("../models/tr098.csv")),
];

fn split_csv_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if cur.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

fn parse_type(raw: &str) -> Option<ValueType> {
    match raw.trim() {
        "object" | "" => None,
        t => Some(ValueType::parse(t)),
    }
}

impl ModelTemplate {
    /// Build a template from entries (sorted and indexed here).
    pub fn new(name: impl Into<String>, mut entries: Vec<Entry>) -> Result<Self, FleetError> {
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        entries.dedup_by(|a, b| a.path == b.path);
        let root = entries
            .iter()
            .map(|e| e.path.split('.').next().unwrap_or_default())
            .find(|r| !r.is_empty())
            .map(|r| format!("{r}."))
            .ok_or_else(|| FleetError::Model("the model has no entries".into()))?;
        if entries.iter().any(|e| !e.path.starts_with(&root)) {
            return Err(FleetError::Model(format!("every path must start with {root}")));
        }
        let index = entries.iter().enumerate().map(|(i, e)| (e.path.clone(), i)).collect();
        let inform = entries.iter().enumerate().filter(|(_, e)| e.inform).map(|(i, _)| i).collect();
        Ok(ModelTemplate { name: name.into(), root, entries, index, inform })
    }

    /// Parse the CSV format: `path,type,flags,value`, `#` comments, a header line.
    pub fn from_csv(name: &str, text: &str) -> Result<Self, FleetError> {
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') || line.starts_with("path,") {
                continue;
            }
            let f = split_csv_line(line);
            if f.len() < 2 {
                return Err(FleetError::Model(format!(
                    "{name}:{}: expected path,type,flags,value",
                    n + 1
                )));
            }
            let flags = f.get(2).map(String::as_str).unwrap_or("");
            entries.push(Entry {
                path: f[0].trim().to_string(),
                value_type: parse_type(&f[1]),
                writable: flags.contains('w'),
                inform: flags.contains('i'),
                default: f.get(3).cloned().unwrap_or_default(),
            });
        }
        Self::new(name, entries)
    }

    /// Parse the JSON format: an array of `{"path", "type", "writable", "inform", "value"}`.
    pub fn from_json(name: &str, text: &str) -> Result<Self, FleetError> {
        let rows: Vec<JsonEntry> =
            serde_json::from_str(text).map_err(|e| FleetError::Model(format!("{name}: {e}")))?;
        let entries = rows
            .into_iter()
            .map(|r| Entry {
                value_type: parse_type(&r.value_type),
                path: r.path,
                writable: r.writable,
                inform: r.inform,
                default: r.value,
            })
            .collect();
        Self::new(name, entries)
    }

    /// A built-in model (`tr181`, `tr098`) or a `.csv` / `.json` file.
    pub fn load(spec: &str) -> Result<Arc<Self>, FleetError> {
        if let Some((name, text)) = BUILTIN_MODELS.iter().find(|(n, _)| *n == spec) {
            return Ok(Arc::new(Self::from_csv(name, text)?));
        }
        let path = Path::new(spec);
        let text =
            std::fs::read_to_string(path).map_err(|e| FleetError::Model(format!("{spec}: {e}")))?;
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or(spec).to_string();
        if spec.ends_with(".json") {
            Ok(Arc::new(Self::from_json(&name, &text)?))
        } else {
            Ok(Arc::new(Self::from_csv(&name, &text)?))
        }
    }

    /// All entries, sorted by path.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Number of parameters (objects excluded).
    pub fn parameter_count(&self) -> usize {
        self.entries.iter().filter(|e| !e.is_object()).count()
    }

    fn get(&self, path: &str) -> Option<(usize, &Entry)> {
        self.index.get(path).map(|&i| (i, &self.entries[i]))
    }

    /// Entries whose path starts with `prefix` (contiguous because the list is sorted).
    fn range(&self, prefix: &str) -> &[Entry] {
        let start = self.entries.partition_point(|e| e.path.as_str() < prefix);
        let len = self.entries[start..].partition_point(|e| e.path.starts_with(prefix));
        &self.entries[start..start + len]
    }
}

/// Values substituted for placeholders in template defaults.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// `{oui}`.
    pub oui: String,
    /// `{product_class}`.
    pub product_class: String,
    /// `{serial}`.
    pub serial: String,
    /// `{mac}`.
    pub mac: String,
    /// `{cr_url}`.
    pub cr_url: String,
    /// `{ip}`.
    pub ip: String,
}

impl Identity {
    fn expand(&self, raw: &str) -> String {
        if !raw.contains('{') {
            return raw.to_string();
        }
        raw.replace("{serial}", &self.serial)
            .replace("{mac}", &self.mac)
            .replace("{oui}", &self.oui)
            .replace("{product_class}", &self.product_class)
            .replace("{cr_url}", &self.cr_url)
            .replace("{ip}", &self.ip)
    }
}

/// A parameter or object as the device currently sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Full path.
    pub path: String,
    /// `None` for objects.
    pub value_type: Option<ValueType>,
    /// Writable flag.
    pub writable: bool,
    /// Current value (empty for objects).
    pub value: String,
}

/// Why a lookup or a change was refused, as a CWMP fault code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFault {
    /// 9005 Invalid parameter name.
    InvalidName,
    /// 9006 Invalid parameter type.
    InvalidType,
    /// 9007 Invalid parameter value.
    InvalidValue,
    /// 9008 Attempt to set a non-writable parameter.
    NotWritable,
}

impl ModelFault {
    /// The CWMP fault code.
    pub fn code(self) -> u32 {
        match self {
            ModelFault::InvalidName => 9005,
            ModelFault::InvalidType => 9006,
            ModelFault::InvalidValue => 9007,
            ModelFault::NotWritable => 9008,
        }
    }
}

/// One device's view of its data model: template plus overlay.
#[derive(Debug, Clone)]
pub struct DeviceModel {
    template: Arc<ModelTemplate>,
    /// Values changed on template parameters, by template index.
    changed: HashMap<usize, String>,
    /// Entries created by AddObject (full paths), with their current values.
    added: BTreeMap<String, Entry>,
    /// Instance prefixes removed by DeleteObject (e.g. `Device.NAT.PortMapping.2.`).
    deleted: Vec<String>,
    /// Notification attributes set by the ACS.
    pub notifications: HashMap<String, i32>,
}

fn value_valid(t: &ValueType, v: &str) -> bool {
    let v = v.trim();
    match t {
        ValueType::Boolean => matches!(v, "true" | "false" | "0" | "1"),
        ValueType::UnsignedInt => v.parse::<u32>().is_ok(),
        ValueType::Int => v.parse::<i32>().is_ok(),
        ValueType::UnsignedLong => v.parse::<u64>().is_ok(),
        ValueType::Long => v.parse::<i64>().is_ok(),
        ValueType::DateTime => v.len() >= 19 && v.as_bytes().get(4) == Some(&b'-'),
        _ => true,
    }
}

/// The instance number right after `object` in `path`, when `path` is below an instance of it.
fn instance_after(object: &str, path: &str) -> Option<u32> {
    let rest = path.strip_prefix(object)?;
    let (num, _) = rest.split_once('.')?;
    num.parse().ok()
}

impl DeviceModel {
    /// A fresh device model (factory defaults).
    pub fn new(template: Arc<ModelTemplate>) -> Self {
        DeviceModel {
            template,
            changed: HashMap::new(),
            added: BTreeMap::new(),
            deleted: Vec::new(),
            notifications: HashMap::new(),
        }
    }

    /// The shared template.
    pub fn template(&self) -> &Arc<ModelTemplate> {
        &self.template
    }

    /// Forget every change (factory reset).
    pub fn reset(&mut self) {
        self.changed.clear();
        self.added.clear();
        self.deleted.clear();
        self.notifications.clear();
    }

    fn is_deleted(&self, path: &str) -> bool {
        self.deleted.iter().any(|d| path.starts_with(d.as_str()))
    }

    /// Look one path up (exact match).
    pub fn get(&self, path: &str, id: &Identity) -> Option<Item> {
        if self.is_deleted(path) {
            return None;
        }
        if let Some((i, e)) = self.template.get(path) {
            let value = match self.changed.get(&i) {
                Some(v) => v.clone(),
                None => id.expand(&e.default),
            };
            return Some(Item {
                path: e.path.clone(),
                value_type: e.value_type.clone(),
                writable: e.writable,
                value,
            });
        }
        self.added.get(path).map(|e| Item {
            path: e.path.clone(),
            value_type: e.value_type.clone(),
            writable: e.writable,
            value: e.default.clone(),
        })
    }

    /// Every item under `prefix` (a partial path ending with `.`; `""` for everything), in
    /// path order.
    pub fn subtree(&self, prefix: &str, id: &Identity) -> Vec<Item> {
        let mut out: Vec<Item> = self
            .template
            .range(prefix)
            .iter()
            .filter(|e| !self.is_deleted(&e.path))
            .filter_map(|e| self.get(&e.path, id))
            .collect();
        out.extend(
            self.added.range(prefix.to_string()..).take_while(|(k, _)| k.starts_with(prefix)).map(
                |(_, e)| Item {
                    path: e.path.clone(),
                    value_type: e.value_type.clone(),
                    writable: e.writable,
                    value: e.default.clone(),
                },
            ),
        );
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }

    /// Whether `path` names an existing object or parameter.
    pub fn exists(&self, path: &str) -> bool {
        if path.is_empty() {
            return true;
        }
        if self.is_deleted(path) {
            return false;
        }
        self.template.get(path).is_some() || self.added.contains_key(path)
    }

    /// Check that `value` may be set on `path` with the declared `value_type`.
    pub fn check_set(
        &self,
        path: &str,
        value: &str,
        value_type: &ValueType,
    ) -> Result<(), ModelFault> {
        let Some(item) = self.get(path, &Identity::default()) else {
            return Err(ModelFault::InvalidName);
        };
        let Some(t) = &item.value_type else { return Err(ModelFault::InvalidName) };
        if !item.writable {
            return Err(ModelFault::NotWritable);
        }
        let textual = |t: &ValueType| matches!(t, ValueType::String | ValueType::Base64);
        if t != value_type
            && !(textual(t) && textual(value_type))
            && *value_type != ValueType::String
        {
            return Err(ModelFault::InvalidType);
        }
        if !value_valid(t, value) {
            return Err(ModelFault::InvalidValue);
        }
        Ok(())
    }

    /// Set a value (call [`Self::check_set`] first). Unknown paths are ignored.
    pub fn set(&mut self, path: &str, value: &str) {
        if let Some((i, _)) = self.template.get(path) {
            self.changed.insert(i, value.to_string());
        } else if let Some(e) = self.added.get_mut(path) {
            e.default = value.to_string();
        }
    }

    /// The value of `path`, if it exists and is a parameter.
    pub fn value(&self, path: &str, id: &Identity) -> Option<String> {
        self.get(path, id).filter(|i| i.value_type.is_some()).map(|i| i.value)
    }

    /// AddObject on a multi-instance table (`path` ends with `.`): returns the new instance
    /// number. The new instance copies the layout of the table's lowest existing instance.
    pub fn add_object(&mut self, path: &str) -> Result<u32, ModelFault> {
        if !path.ends_with('.') {
            return Err(ModelFault::InvalidName);
        }
        let Some(item) = self.get(path, &Identity::default()) else {
            return Err(ModelFault::InvalidName);
        };
        if item.value_type.is_some() {
            return Err(ModelFault::InvalidName);
        }
        if !item.writable {
            return Err(ModelFault::NotWritable);
        }
        let all = self.subtree(path, &Identity::default());
        let instances: Vec<u32> =
            all.iter().filter_map(|i| instance_after(path, &i.path)).collect();
        let next = instances.iter().max().copied().unwrap_or(0) + 1;
        // Layout from the lowest instance of the template (even if deleted since).
        let layout_instance =
            self.template.range(path).iter().filter_map(|e| instance_after(path, &e.path)).min();
        let new_prefix = format!("{path}{next}.");
        self.added.insert(
            new_prefix.clone(),
            Entry {
                path: new_prefix.clone(),
                value_type: None,
                writable: true,
                inform: false,
                default: String::new(),
            },
        );
        if let Some(first) = layout_instance {
            let first_prefix = format!("{path}{first}.");
            let layout: Vec<Entry> = self.template.range(&first_prefix).to_vec();
            for e in layout {
                let suffix = &e.path[first_prefix.len()..];
                let p = format!("{new_prefix}{suffix}");
                let default = match &e.value_type {
                    Some(ValueType::Boolean) => "false",
                    Some(
                        ValueType::Int
                        | ValueType::UnsignedInt
                        | ValueType::Long
                        | ValueType::UnsignedLong,
                    ) => "0",
                    Some(ValueType::DateTime) => "0001-01-01T00:00:00Z",
                    _ => "",
                }
                .to_string();
                self.added.insert(p.clone(), Entry { path: p, default, ..e });
            }
        }
        Ok(next)
    }

    /// DeleteObject on one instance (`path` like `X.Y.3.`).
    pub fn delete_object(&mut self, path: &str) -> Result<(), ModelFault> {
        if !path.ends_with('.') || !self.exists(path) {
            return Err(ModelFault::InvalidName);
        }
        let trimmed = &path[..path.len() - 1];
        let Some((table, num)) = trimmed.rsplit_once('.') else {
            return Err(ModelFault::InvalidName);
        };
        if num.parse::<u32>().is_err() {
            return Err(ModelFault::InvalidName);
        }
        let table = format!("{table}.");
        if !self.get(&table, &Identity::default()).is_some_and(|t| t.writable) {
            return Err(ModelFault::NotWritable);
        }
        let added: Vec<String> = self
            .added
            .range(path.to_string()..)
            .take_while(|(k, _)| k.starts_with(path))
            .map(|(k, _)| k.clone())
            .collect();
        for k in added {
            self.added.remove(&k);
        }
        if self.template.get(path).is_some() {
            self.deleted.push(path.to_string());
        }
        Ok(())
    }

    /// Parameters sent in every Inform.
    pub fn inform_parameters(&self, id: &Identity) -> Vec<Item> {
        let t = &self.template;
        t.inform.iter().filter_map(|&i| self.get(&t.entries[i].path, id)).collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn tiny() -> Arc<ModelTemplate> {
        let csv = "# c\npath,type,flags,value\nDevice.,object,,\nDevice.DeviceInfo.,object,,\n\
Device.DeviceInfo.SerialNumber,string,,{serial}\nDevice.DeviceInfo.SoftwareVersion,string,i,1.0\n\
Device.NAT.,object,,\nDevice.NAT.PortMapping.,object,w,\nDevice.NAT.PortMapping.1.,object,,\n\
Device.NAT.PortMapping.1.Enable,boolean,w,true\nDevice.NAT.PortMapping.1.Description,string,w,\"a, b\"\n";
        Arc::new(ModelTemplate::from_csv("tiny", csv).unwrap())
    }

    #[test]
    fn builtin_models_load_with_enough_parameters() {
        for (name, _) in BUILTIN_MODELS {
            let m = ModelTemplate::load(name).unwrap();
            let n = m.parameter_count();
            assert!((200..=1000).contains(&n), "{name}: {n} parameters");
            assert!(m.entries().iter().any(|e| e.inform));
            assert!(m
                .entries()
                .iter()
                .any(|e| e.path.ends_with("ManagementServer.ConnectionRequestURL")));
        }
        assert_eq!(ModelTemplate::load("tr098").unwrap().root, "InternetGatewayDevice.");
        assert_eq!(ModelTemplate::load("tr181").unwrap().root, "Device.");
    }

    #[test]
    fn csv_quotes_and_placeholders() {
        let m = DeviceModel::new(tiny());
        let id = Identity { serial: "S1".into(), ..Default::default() };
        assert_eq!(m.value("Device.DeviceInfo.SerialNumber", &id).unwrap(), "S1");
        assert_eq!(m.value("Device.NAT.PortMapping.1.Description", &id).unwrap(), "a, b");
        assert_eq!(m.inform_parameters(&id).len(), 1);
    }

    #[test]
    fn set_checks_faults() {
        let mut m = DeviceModel::new(tiny());
        assert_eq!(
            m.check_set("Device.Nope", "x", &ValueType::String),
            Err(ModelFault::InvalidName)
        );
        assert_eq!(
            m.check_set("Device.DeviceInfo.SerialNumber", "x", &ValueType::String),
            Err(ModelFault::NotWritable)
        );
        assert_eq!(
            m.check_set("Device.NAT.PortMapping.1.Enable", "maybe", &ValueType::Boolean),
            Err(ModelFault::InvalidValue)
        );
        assert_eq!(
            m.check_set("Device.NAT.PortMapping.1.Enable", "1", &ValueType::UnsignedInt),
            Err(ModelFault::InvalidType)
        );
        m.check_set("Device.NAT.PortMapping.1.Enable", "false", &ValueType::Boolean).unwrap();
        m.set("Device.NAT.PortMapping.1.Enable", "false");
        assert_eq!(
            m.value("Device.NAT.PortMapping.1.Enable", &Identity::default()).unwrap(),
            "false"
        );
        m.reset();
        assert_eq!(
            m.value("Device.NAT.PortMapping.1.Enable", &Identity::default()).unwrap(),
            "true"
        );
    }

    #[test]
    fn add_and_delete_objects() {
        let mut m = DeviceModel::new(tiny());
        let id = Identity::default();
        assert_eq!(m.add_object("Device.NAT.PortMapping."), Ok(2));
        assert!(m.exists("Device.NAT.PortMapping.2.Enable"));
        m.set("Device.NAT.PortMapping.2.Description", "web");
        assert_eq!(m.value("Device.NAT.PortMapping.2.Description", &id).unwrap(), "web");
        assert_eq!(m.subtree("Device.NAT.", &id).len(), 8);
        assert_eq!(m.add_object("Device.DeviceInfo."), Err(ModelFault::NotWritable));
        assert_eq!(m.add_object("Device.Nope."), Err(ModelFault::InvalidName));
        m.delete_object("Device.NAT.PortMapping.1.").unwrap();
        assert!(!m.exists("Device.NAT.PortMapping.1.Enable"));
        m.delete_object("Device.NAT.PortMapping.2.").unwrap();
        assert!(!m.exists("Device.NAT.PortMapping.2."));
        assert_eq!(m.delete_object("Device.NAT.PortMapping.2."), Err(ModelFault::InvalidName));
        assert_eq!(m.add_object("Device.NAT.PortMapping."), Ok(1));
    }

    #[test]
    fn json_models_load() {
        let json = r#"[{"path":"InternetGatewayDevice.","type":"object"},
            {"path":"InternetGatewayDevice.DeviceInfo.SoftwareVersion","type":"string","inform":true,"value":"2"}]"#;
        let t = ModelTemplate::from_json("j", json).unwrap();
        assert_eq!(t.root, "InternetGatewayDevice.");
        assert_eq!(t.parameter_count(), 1);
    }
}
