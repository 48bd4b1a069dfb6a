//! Declarative rules (GenieACS-style presets without a script sandbox): a JSONLogic
//! precondition over device facts, an optional events filter and cron window, and declarations
//! of what some paths should be (`value`), how fresh they should be (`refresh_age`) or how many
//! instances an object should have (`instances`).
//!
//! Paths may contain `*` (every instance) and `[Key:Value,…]` filters (instances whose
//! `Key` parameter equals `Value`), e.g. `Device.WiFi.SSID.[Enable:true].SSID`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::error::{Result, StoreError};
use crate::jsonlogic;
use crate::model::Device;

/// Longest rule name.
pub const MAX_RULE_NAME: usize = 64;
/// Most declarations per rule.
pub const MAX_DECLARATIONS: usize = 256;

/// One declarative rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Unique name (`[A-Za-z0-9_.-]`, 1 to 64 characters).
    pub name: String,
    /// Disabled rules are kept but never applied.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Lower runs first; ties by name.
    #[serde(default)]
    pub order: i32,
    /// JSONLogic over [`DeviceFacts::to_json`]; absent means always.
    #[serde(default = "always")]
    pub precondition: Value,
    /// Apply only in contacts carrying one of these events (e.g. `"1 BOOT"`); empty: any.
    #[serde(default)]
    pub events: Vec<String>,
    /// Cron window `min hour day-of-month month day-of-week` (UTC) during which the rule is
    /// active, e.g. `"* 2-4 * * *"`; absent: always.
    #[serde(default)]
    pub schedule: Option<String>,
    /// What the rule declares.
    pub declarations: Vec<Declaration>,
    /// Bumped on every change (set by the store).
    #[serde(default)]
    pub version: i64,
}

fn yes() -> bool {
    true
}

fn always() -> Value {
    Value::Bool(true)
}

/// One declaration of a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Declaration {
    /// Path pattern (see the module docs).
    pub path: String,
    /// Re-read the path when the device's copy is older than this many seconds.
    #[serde(default)]
    pub refresh_age: Option<u64>,
    /// Desired value (string, number or boolean) of a parameter path.
    #[serde(default)]
    pub value: Option<Value>,
    /// Desired number of instances of an object path (ends with `.`, last segment `*`).
    #[serde(default)]
    pub instances: Option<u32>,
}

/// One segment of a [`PathPattern`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A name or an instance number.
    Name(String),
    /// Every instance.
    Any,
    /// Instances whose child parameters have these values.
    Filter(Vec<(String, String)>),
}

/// A parsed path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    /// Segments in order (the trailing empty segment of an object path is not kept).
    pub segments: Vec<Segment>,
    /// Whether the pattern names an object (ends with `.`).
    pub object: bool,
}

impl PathPattern {
    /// Parse `A.B.*.[K:V].C` / `A.B.` forms.
    pub fn parse(path: &str) -> Result<PathPattern> {
        let bad = |why: &str| StoreError::invalid(format!("bad path {path:?}: {why}"));
        if path.is_empty() || path.len() > 1024 {
            return Err(bad("must be 1 to 1024 bytes"));
        }
        let object = path.ends_with('.');
        let body = path.strip_suffix('.').unwrap_or(path);
        let mut segments = Vec::new();
        let mut rest = body;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('[') {
                let end = after.find(']').ok_or_else(|| bad("unclosed ["))?;
                let inner = after.get(..end).unwrap_or_default();
                let mut pairs = Vec::new();
                for pair in inner.split(',') {
                    let (k, v) =
                        pair.split_once(':').ok_or_else(|| bad("filter needs Key:Value"))?;
                    let k = k.trim();
                    if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                        return Err(bad("filter key must be a parameter name"));
                    }
                    pairs.push((k.to_owned(), v.trim().to_owned()));
                }
                segments.push(Segment::Filter(pairs));
                rest = after.get(end + 1..).unwrap_or_default();
                match rest.strip_prefix('.') {
                    Some(r) => rest = r,
                    None if rest.is_empty() => {}
                    None => return Err(bad("] must be followed by .")),
                }
                continue;
            }
            let (seg, r) = match rest.find('.') {
                Some(i) => {
                    (rest.get(..i).unwrap_or_default(), rest.get(i + 1..).unwrap_or_default())
                }
                None => (rest, ""),
            };
            if seg == "*" {
                segments.push(Segment::Any);
            } else if !seg.is_empty()
                && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                segments.push(Segment::Name(seg.to_owned()));
            } else {
                return Err(bad("segments are names, instance numbers, * or [Key:Value]"));
            }
            if r.is_empty() && rest.len() > seg.len() {
                return Err(bad("empty segment"));
            }
            rest = r;
        }
        if segments.is_empty() {
            return Err(bad("no segments"));
        }
        if !matches!(segments.first(), Some(Segment::Name(_))) {
            return Err(bad("must start with a root object name"));
        }
        Ok(PathPattern { segments, object })
    }

    /// No wildcards or filters.
    pub fn is_concrete(&self) -> bool {
        self.segments.iter().all(|s| matches!(s, Segment::Name(_)))
    }

    /// The longest concrete prefix as an object path (`A.B.`), what to refresh to expand the
    /// pattern.
    pub fn concrete_prefix(&self) -> String {
        let mut out = String::new();
        for s in &self.segments {
            match s {
                Segment::Name(n) => {
                    out.push_str(n);
                    out.push('.');
                }
                _ => break,
            }
        }
        out
    }

    /// Concrete paths matching the pattern among `known` paths (and their values for filters).
    /// Objects are expanded to their instance paths (`A.1.`).
    pub fn expand(&self, known: &BTreeMap<String, String>) -> Vec<String> {
        let mut current = vec![String::new()];
        let last = self.segments.len().saturating_sub(1);
        for (i, seg) in self.segments.iter().enumerate() {
            let leaf = i == last && !self.object;
            let mut next = Vec::new();
            for base in &current {
                match seg {
                    Segment::Name(n) => {
                        next.push(if leaf { format!("{base}{n}") } else { format!("{base}{n}.") })
                    }
                    Segment::Any | Segment::Filter(_) => {
                        for inst in instances_under(base, known) {
                            let obj = format!("{base}{inst}.");
                            if let Segment::Filter(pairs) = seg {
                                let ok = pairs.iter().all(|(k, v)| {
                                    known
                                        .get(&format!("{obj}{k}"))
                                        .is_some_and(|have| same_value(have, v))
                                });
                                if !ok {
                                    continue;
                                }
                            }
                            next.push(if leaf { format!("{base}{inst}") } else { obj });
                        }
                    }
                }
            }
            current = next;
        }
        current
    }
}

/// Instance numbers directly below an object path, from known parameter paths, sorted.
pub fn instances_under(object: &str, known: &BTreeMap<String, String>) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
    for k in known.range(object.to_owned()..) {
        let Some(rest) = k.0.strip_prefix(object) else { break };
        if let Some(n) = rest.split('.').next().and_then(|s| s.parse::<u32>().ok()) {
            if out.last() != Some(&n) && !out.contains(&n) {
                out.push(n);
            }
        }
    }
    out.sort_unstable();
    out
}

/// Compare a device value and a desired value: booleans in any CWMP spelling, numbers by value,
/// strings exactly.
pub fn same_value(have: &str, want: &str) -> bool {
    if have == want {
        return true;
    }
    let b = |s: &str| match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    };
    if let (Some(x), Some(y)) = (b(have), b(want)) {
        return x == y;
    }
    matches!((have.trim().parse::<f64>(), want.trim().parse::<f64>()), (Ok(x), Ok(y)) if x == y)
}

/// Facts a precondition can test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct DeviceFacts {
    /// Device id.
    pub id: String,
    /// OUI.
    pub oui: String,
    /// Product class.
    pub product_class: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// Model name.
    pub model: String,
    /// Software version.
    pub software_version: String,
    /// `"tr-098"`, `"tr-181"` or `"unknown"`.
    pub data_model: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Events of this contact.
    pub events: Vec<String>,
    /// `"cwmp"` or `"usp"`.
    pub protocol: String,
}

impl DeviceFacts {
    /// Facts of a device as the engine knows it, with this contact's events.
    pub fn from_device(d: &Device, events: &[String]) -> DeviceFacts {
        DeviceFacts {
            id: d.id.clone(),
            oui: d.oui.clone(),
            product_class: d.product_class.clone(),
            manufacturer: d.manufacturer.clone(),
            model: d.model_name.clone().unwrap_or_default(),
            software_version: d.software_version.clone().unwrap_or_default(),
            data_model: d.data_model.as_str().to_owned(),
            tags: d.tags.clone(),
            events: events.to_vec(),
            protocol: d.protocol.as_str().to_owned(),
        }
    }

    /// The JSON document preconditions see.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id, "oui": self.oui, "productClass": self.product_class,
            "manufacturer": self.manufacturer, "model": self.model,
            "softwareVersion": self.software_version, "dataModel": self.data_model,
            "tags": self.tags, "events": self.events, "protocol": self.protocol,
        })
    }
}

impl Rule {
    /// Validate everything that can be checked on save: name, JSONLogic, paths, values,
    /// schedule.
    pub fn validate(&self) -> Result<()> {
        if self.name.is_empty()
            || self.name.len() > MAX_RULE_NAME
            || !self.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err(StoreError::invalid(
                "rule name must be 1 to 64 characters of A-Z a-z 0-9 _ - .",
            ));
        }
        jsonlogic::validate(&self.precondition)
            .map_err(|e| StoreError::invalid(format!("bad precondition: {e}")))?;
        // A trial run against empty facts catches type errors the validator cannot see.
        jsonlogic::apply(&self.precondition, &DeviceFacts::default().to_json())
            .map_err(|e| StoreError::invalid(format!("bad precondition: {e}")))?;
        if let Some(s) = &self.schedule {
            CronWindow::parse(s)?;
        }
        if self.declarations.len() > MAX_DECLARATIONS {
            return Err(StoreError::invalid(format!("at most {MAX_DECLARATIONS} declarations")));
        }
        for d in &self.declarations {
            let p = PathPattern::parse(&d.path)?;
            if d.refresh_age.is_none() && d.value.is_none() && d.instances.is_none() {
                return Err(StoreError::invalid(format!(
                    "declaration {:?} needs refresh_age, value or instances",
                    d.path
                )));
            }
            if d.value.is_some() && d.instances.is_some() {
                return Err(StoreError::invalid(format!(
                    "declaration {:?} has both value and instances",
                    d.path
                )));
            }
            if let Some(v) = &d.value {
                if p.object {
                    return Err(StoreError::invalid(format!(
                        "declaration {:?}: a value needs a parameter path, not an object",
                        d.path
                    )));
                }
                if !matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_)) {
                    return Err(StoreError::invalid(format!(
                        "declaration {:?}: value must be a string, number or boolean",
                        d.path
                    )));
                }
            }
            if d.instances.is_some()
                && (!p.object || !matches!(p.segments.last(), Some(Segment::Any)))
            {
                return Err(StoreError::invalid(format!(
                    "declaration {:?}: instances needs an object path ending in .*.",
                    d.path
                )));
            }
        }
        Ok(())
    }

    /// Whether the rule applies to this contact: enabled, events filter, schedule, precondition.
    pub fn applies(&self, facts: &DeviceFacts, facts_json: &Value, now: OffsetDateTime) -> bool {
        if !self.enabled {
            return false;
        }
        if !self.events.is_empty() && !self.events.iter().any(|e| facts.events.contains(e)) {
            return false;
        }
        if let Some(s) = &self.schedule {
            match CronWindow::parse(s) {
                Ok(w) if w.contains(now) => {}
                _ => return false,
            }
        }
        jsonlogic::apply(&self.precondition, facts_json).is_ok_and(|v| jsonlogic::truthy(&v))
    }

    /// Shortest `refresh_age` among the declarations, when any.
    pub fn min_refresh_age(&self) -> Option<u64> {
        self.declarations.iter().filter_map(|d| d.refresh_age).min()
    }

    /// Whether the rule sets values or instances (as opposed to only refreshing).
    pub fn writes(&self) -> bool {
        self.declarations.iter().any(|d| d.value.is_some() || d.instances.is_some())
    }
}

/// Render a declared value as the string sent to the device.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

/// A 5-field cron expression used as a window: the rule is active during every minute it
/// matches. Fields: minute, hour, day of month, month, day of week (0 = Sunday); each `*`,
/// `N`, `A-B`, `*/S`, `A-B/S` or a comma list of those.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronWindow {
    fields: [Vec<bool>; 5],
}

impl CronWindow {
    /// Parse the expression.
    pub fn parse(s: &str) -> Result<CronWindow> {
        const RANGES: [(u32, u32); 5] = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)];
        let parts: Vec<&str> = s.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(StoreError::invalid(format!("schedule {s:?} needs 5 cron fields")));
        }
        let mut fields: [Vec<bool>; 5] = Default::default();
        for (i, part) in parts.iter().enumerate() {
            let (lo, hi) = RANGES[i];
            let mut set = vec![false; usize::try_from(hi + 1).unwrap_or(60)];
            for item in part.split(',') {
                let bad = || StoreError::invalid(format!("schedule {s:?}: bad field {item:?}"));
                let (range, step) = match item.split_once('/') {
                    Some((r, st)) => (r, st.parse::<u32>().map_err(|_| bad())?),
                    None => (item, 1),
                };
                if step == 0 {
                    return Err(bad());
                }
                let (a, b) = if range == "*" {
                    (lo, hi)
                } else if let Some((a, b)) = range.split_once('-') {
                    (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?)
                } else {
                    let v: u32 = range.parse().map_err(|_| bad())?;
                    (v, v)
                };
                if a < lo || b > hi || a > b {
                    return Err(bad());
                }
                let mut v = a;
                while v <= b {
                    if let Some(slot) = set.get_mut(usize::try_from(v).unwrap_or(usize::MAX)) {
                        *slot = true;
                    }
                    v += step;
                }
            }
            fields[i] = set;
        }
        Ok(CronWindow { fields })
    }

    /// Whether the minute of `t` (UTC) is inside the window.
    pub fn contains(&self, t: OffsetDateTime) -> bool {
        let t = t.to_offset(time::UtcOffset::UTC);
        let vals = [
            u32::from(t.minute()),
            u32::from(t.hour()),
            u32::from(t.day()),
            u32::from(u8::from(t.month())),
            u32::from(t.weekday().number_days_from_sunday()),
        ];
        self.fields
            .iter()
            .zip(vals)
            .all(|(f, v)| f.get(usize::try_from(v).unwrap_or(usize::MAX)).copied().unwrap_or(false))
    }
}

/// Rules shipped with the product (created at first start, editable afterwards).
///
/// * `bootstrap` — on `0 BOOTSTRAP`, periodic informs must be on. The per-device random parts of
///   the bootstrap duty (ConnectionRequest credentials, a spread PeriodicInformTime) cannot be
///   declared as constants, so the engine carries them out itself before rules run; this rule
///   then only checks what they left behind.
/// * `refresh-basics` — DeviceInfo and the WAN/WiFi summary at most hourly. The clock of a
///   refresh-only rule starts at a device's first contact (the Inform carries the basics).
pub fn default_rules() -> Vec<Rule> {
    let refresh = |path: &str, age: u64| Declaration {
        path: path.to_owned(),
        refresh_age: Some(age),
        value: None,
        instances: None,
    };
    let set = |path: &str, v: Value| Declaration {
        path: path.to_owned(),
        refresh_age: None,
        value: Some(v),
        instances: None,
    };
    vec![
        Rule {
            name: "bootstrap".into(),
            enabled: true,
            order: -100,
            precondition: Value::Bool(true),
            events: vec!["0 BOOTSTRAP".into()],
            schedule: None,
            declarations: vec![
                set("Device.ManagementServer.PeriodicInformEnable", Value::Bool(true)),
                set(
                    "InternetGatewayDevice.ManagementServer.PeriodicInformEnable",
                    Value::Bool(true),
                ),
            ],
            version: 1,
        },
        Rule {
            name: "refresh-basics".into(),
            enabled: true,
            order: 100,
            precondition: Value::Bool(true),
            events: Vec::new(),
            schedule: None,
            declarations: vec![
                refresh("Device.DeviceInfo.", 3600),
                refresh("Device.IP.Interface.", 3600),
                refresh("Device.WiFi.SSID.", 3600),
                refresh("InternetGatewayDevice.DeviceInfo.", 3600),
                refresh("InternetGatewayDevice.WANDevice.", 3600),
                refresh("InternetGatewayDevice.LANDevice.", 3600),
            ],
            version: 1,
        },
    ]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn known(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn path_patterns() {
        let k = known(&[
            ("Device.WiFi.SSID.1.SSID", "a"),
            ("Device.WiFi.SSID.1.Enable", "true"),
            ("Device.WiFi.SSID.3.SSID", "b"),
            ("Device.WiFi.SSID.3.Enable", "0"),
        ]);
        let p = PathPattern::parse("Device.WiFi.SSID.*.SSID").unwrap();
        assert!(!p.is_concrete());
        assert_eq!(p.concrete_prefix(), "Device.WiFi.SSID.");
        assert_eq!(p.expand(&k), vec!["Device.WiFi.SSID.1.SSID", "Device.WiFi.SSID.3.SSID"]);
        let f = PathPattern::parse("Device.WiFi.SSID.[Enable:false].SSID").unwrap();
        assert_eq!(f.expand(&k), vec!["Device.WiFi.SSID.3.SSID"]);
        let o = PathPattern::parse("Device.WiFi.SSID.*.").unwrap();
        assert_eq!(o.expand(&k), vec!["Device.WiFi.SSID.1.", "Device.WiFi.SSID.3."]);
        let c = PathPattern::parse("Device.DeviceInfo.").unwrap();
        assert!(c.is_concrete() && c.object);
        assert_eq!(c.expand(&k), vec!["Device.DeviceInfo."]);
        for bad in ["", "*.X", "Device..X", "Device.[Enable].X", "Device.X Y", "Device.[A:b"] {
            assert!(PathPattern::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(instances_under("Device.WiFi.SSID.", &k), vec![1, 3]);
    }

    #[test]
    fn values_compare() {
        assert!(same_value("1", "true"));
        assert!(same_value("FALSE", "0"));
        assert!(same_value("600", "600.0"));
        assert!(!same_value("a", "b"));
    }

    #[test]
    fn rule_validation_and_applies() {
        let mut r = Rule {
            name: "wifi-led".into(),
            enabled: true,
            order: 0,
            precondition: serde_json::json!({"==": [{"var": "productClass"}, "HG8245"]}),
            events: vec![],
            schedule: None,
            declarations: vec![Declaration {
                path: "Device.X_ACME_Led.Enable".into(),
                refresh_age: None,
                value: Some(Value::Bool(false)),
                instances: None,
            }],
            version: 0,
        };
        r.validate().unwrap();
        let mut facts = DeviceFacts { product_class: "HG8245".into(), ..Default::default() };
        let now = OffsetDateTime::UNIX_EPOCH;
        assert!(r.applies(&facts, &facts.to_json(), now));
        facts.product_class = "Other".into();
        assert!(!r.applies(&facts, &facts.to_json(), now));
        r.precondition = serde_json::json!({"bogus": [1]});
        assert!(r.validate().unwrap_err().to_string().contains("bogus"));
        r.precondition = Value::Bool(true);
        r.declarations[0].path = "Device..X".into();
        assert!(r.validate().is_err());
        r.declarations[0].path = "Device.X.".into();
        assert!(r.validate().is_err());
        for d in default_rules() {
            d.validate().unwrap();
        }
    }

    #[test]
    fn cron_windows() {
        let w = CronWindow::parse("* 2-4 * * *").unwrap();
        let t = time::macros::datetime!(2026-11-25 03:30 UTC);
        assert!(w.contains(t));
        assert!(!w.contains(time::macros::datetime!(2026-11-25 05:00 UTC)));
        let w = CronWindow::parse("*/15 * * * 1-5").unwrap();
        assert!(w.contains(time::macros::datetime!(2026-11-25 10:30 UTC))); // Wednesday
        assert!(!w.contains(time::macros::datetime!(2026-11-29 10:30 UTC))); // Sunday
        for bad in ["* * * *", "61 * * * *", "*/0 * * * *", "a * * * *", "5-2 * * * *"] {
            assert!(CronWindow::parse(bad).is_err(), "{bad}");
        }
    }
}
