//! Service equipment and its provisioning profile (protocol-neutral), provisioning status and
//! the audit log.
//!
//! Secrets (WiFi passphrases, SIP passwords) are stored in clear because they must be pushed to
//! the device, but every way out of this crate for humans — [`Profile::redacted`],
//! [`Equipment::redacted`], `Debug`, audit details — replaces them with [`REDACTED`].

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::error::{Result, StoreError};
use crate::matching::{normalize_mac, normalize_serial};

/// What replaces a secret in API output, logs and audit rows.
pub const REDACTED: &str = "***";

/// Longest SSID (IEEE 802.11: 32 octets).
pub const MAX_SSID_BYTES: usize = 32;

/// Kind of service equipment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EquipmentKind {
    /// Optical network terminal.
    #[default]
    Ont,
    /// Home router.
    Router,
    /// Set-top box.
    Tv,
    /// Analogue telephone adapter.
    Ata,
}

impl EquipmentKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EquipmentKind::Ont => "ont",
            EquipmentKind::Router => "router",
            EquipmentKind::Tv => "tv",
            EquipmentKind::Ata => "ata",
        }
    }

    /// Inverse of [`EquipmentKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ont" => Some(EquipmentKind::Ont),
            "router" => Some(EquipmentKind::Router),
            "tv" => Some(EquipmentKind::Tv),
            "ata" => Some(EquipmentKind::Ata),
            _ => None,
        }
    }
}

/// WiFi frequency band of a profile entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Band {
    /// 2.4 GHz.
    #[serde(rename = "2.4")]
    B2_4,
    /// 5 GHz.
    #[serde(rename = "5")]
    B5,
    /// 6 GHz.
    #[serde(rename = "6")]
    B6,
    /// Every radio.
    #[serde(rename = "any")]
    Any,
}

impl Band {
    /// Classify a radio's `OperatingFrequencyBand` (`"2.4GHz"`, `"5GHz"`, `"6GHz"`).
    pub fn from_frequency(s: &str) -> Option<Band> {
        let s = s.trim();
        if s.starts_with("2.4") {
            Some(Band::B2_4)
        } else if s.starts_with('5') {
            Some(Band::B5)
        } else if s.starts_with('6') {
            Some(Band::B6)
        } else {
            None
        }
    }

    /// Whether a radio on band `radio` serves this profile entry.
    pub fn accepts(self, radio: Band) -> bool {
        self == Band::Any || self == radio
    }
}

/// WiFi security mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Security {
    /// WPA2-Personal.
    #[serde(rename = "wpa2-psk")]
    #[default]
    Wpa2Psk,
    /// WPA2/WPA3-Personal transition.
    #[serde(rename = "wpa2-wpa3")]
    Wpa2Wpa3,
    /// WPA3-Personal (SAE).
    #[serde(rename = "wpa3-sae")]
    Wpa3Sae,
}

/// One WiFi network of a profile.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WifiConfig {
    /// Which radio(s).
    pub band: Band,
    /// Network name.
    pub ssid: String,
    /// WPA passphrase (8 to 63 characters). Secret.
    pub passphrase: String,
    /// Security mode.
    #[serde(default)]
    pub security: Security,
    /// Whether the network is on.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

impl fmt::Debug for WifiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WifiConfig")
            .field("band", &self.band)
            .field("ssid", &self.ssid)
            .field("passphrase", &REDACTED)
            .field("security", &self.security)
            .field("enabled", &self.enabled)
            .finish()
    }
}

/// One SIP line of a profile.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoiceLine {
    /// Line number, 1-based, in the order the device lists its lines.
    pub line: u32,
    /// SIP authentication user name.
    pub sip_username: String,
    /// SIP authentication password. Secret.
    pub sip_password: String,
    /// Registrar server.
    #[serde(default)]
    pub registrar: Option<String>,
    /// Proxy server.
    #[serde(default)]
    pub proxy: Option<String>,
    /// Outbound proxy.
    #[serde(default)]
    pub outbound_proxy: Option<String>,
    /// SIP domain.
    #[serde(default)]
    pub domain: Option<String>,
    /// Directory (telephone) number.
    #[serde(default)]
    pub directory_number: Option<String>,
    /// Caller display name.
    #[serde(default)]
    pub display_name: Option<String>,
}

impl fmt::Debug for VoiceLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VoiceLine")
            .field("line", &self.line)
            .field("sip_username", &self.sip_username)
            .field("sip_password", &REDACTED)
            .field("registrar", &self.registrar)
            .field("directory_number", &self.directory_number)
            .finish_non_exhaustive()
    }
}

/// What the device should be configured with, independent of its data model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// WiFi networks.
    #[serde(default)]
    pub wifi: Vec<WifiConfig>,
    /// SIP lines.
    #[serde(default)]
    pub voice: Vec<VoiceLine>,
    /// `ManagementServer.PeriodicInformInterval`, seconds.
    #[serde(default)]
    pub periodic_inform_interval: Option<u32>,
    /// Arbitrary `path → value` pairs, set as given (path relative to nothing: full paths).
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
}

impl Profile {
    /// Whether there is anything to push.
    pub fn is_empty(&self) -> bool {
        self.wifi.is_empty()
            && self.voice.is_empty()
            && self.periodic_inform_interval.is_none()
            && self.extra.is_empty()
    }

    /// The profile with every secret replaced by [`REDACTED`].
    pub fn redacted(&self) -> Profile {
        let mut p = self.clone();
        for w in &mut p.wifi {
            w.passphrase = REDACTED.to_owned();
        }
        for v in &mut p.voice {
            v.sip_password = REDACTED.to_owned();
        }
        for (k, v) in &mut p.extra {
            if is_secret_path(k) {
                *v = REDACTED.to_owned();
            }
        }
        p
    }

    /// Check the profile: SSID length, passphrase length, unique line numbers, sane interval.
    pub fn validate(&self) -> Result<()> {
        for w in &self.wifi {
            if w.ssid.is_empty() || w.ssid.len() > MAX_SSID_BYTES {
                return Err(StoreError::invalid(format!(
                    "wifi ssid must be 1 to {MAX_SSID_BYTES} bytes"
                )));
            }
            let n = w.passphrase.chars().count();
            if !(8..=63).contains(&n) {
                return Err(StoreError::invalid("wifi passphrase must be 8 to 63 characters"));
            }
        }
        let mut lines = std::collections::BTreeSet::new();
        for v in &self.voice {
            if v.line == 0 || !lines.insert(v.line) {
                return Err(StoreError::invalid(format!(
                    "voice line numbers must be unique and start at 1 (line {})",
                    v.line
                )));
            }
            if v.sip_username.is_empty() {
                return Err(StoreError::invalid("voice sip_username must not be empty"));
            }
        }
        if self.periodic_inform_interval == Some(0) {
            return Err(StoreError::invalid("periodic_inform_interval must be positive"));
        }
        for k in self.extra.keys() {
            crate::rules::PathPattern::parse(k)
                .ok()
                .filter(|p| p.is_concrete() && !k.ends_with('.'))
                .ok_or_else(|| {
                    StoreError::invalid(format!(
                        "extra path {k:?} must be a concrete parameter path"
                    ))
                })?;
        }
        Ok(())
    }
}

/// Whether a parameter path holds a secret (write-only on most devices; never shown).
pub fn is_secret_path(path: &str) -> bool {
    let leaf = path.rsplit('.').next().unwrap_or(path);
    leaf.ends_with("Password")
        || leaf.ends_with("Passphrase")
        || leaf == "PreSharedKey"
        || leaf == "KeyPassphrase"
        || leaf == "WEPKey"
        || leaf.ends_with("Secret")
}

/// Where a piece of equipment is in its provisioning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ProvisioningState {
    /// Not pushed yet (or the profile changed since).
    #[default]
    Pending,
    /// The device accepted the values; read-back not done or not possible.
    Applied,
    /// The device reports the values (secrets: accepted with the right ParameterKey).
    Verified,
    /// The push or the verification failed; retried with backoff.
    Failed,
}

impl ProvisioningState {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProvisioningState::Pending => "pending",
            ProvisioningState::Applied => "applied",
            ProvisioningState::Verified => "verified",
            ProvisioningState::Failed => "failed",
        }
    }

    /// Inverse of [`ProvisioningState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(ProvisioningState::Pending),
            "applied" => Some(ProvisioningState::Applied),
            "verified" => Some(ProvisioningState::Verified),
            "failed" => Some(ProvisioningState::Failed),
            _ => None,
        }
    }
}

/// Provisioning progress of one piece of equipment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ProvisioningStatus {
    /// Current state.
    pub state: ProvisioningState,
    /// Profile version last accepted by the device.
    pub applied_version: Option<i64>,
    /// Push attempts since the profile version last changed.
    pub attempts: u32,
    /// Last fault (code, message, detail), when the last attempt failed.
    pub last_fault: Option<Value>,
    /// Earliest next retry after a failure.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// Last change of this status.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub updated_at: Option<OffsetDateTime>,
}

/// A piece of service equipment as stored.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Equipment {
    /// Row id.
    pub id: i64,
    /// Kind.
    pub kind: EquipmentKind,
    /// Serial number as entered (matching uses its normalised form).
    pub serial: Option<String>,
    /// MAC addresses, normalised to `AA:BB:CC:DD:EE:FF`.
    pub macs: Vec<String>,
    /// Model name.
    pub model: Option<String>,
    /// Operator status (free text such as `"in-stock"`, `"installed"`).
    pub status: String,
    /// Customer link (the CRM adds the table).
    pub customer_id: Option<i64>,
    /// Service location link (the CRM adds the table).
    pub location_id: Option<i64>,
    /// What to push.
    pub profile: Profile,
    /// Bumped on every profile change (starts at 1).
    pub profile_version: i64,
    /// The device bound to this equipment.
    pub device_id: Option<String>,
    /// Provisioning progress.
    pub provisioning: ProvisioningStatus,
    /// Created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl fmt::Debug for Equipment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Equipment")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("serial", &self.serial)
            .field("macs", &self.macs)
            .field("profile", &self.profile)
            .field("profile_version", &self.profile_version)
            .field("device_id", &self.device_id)
            .field("provisioning", &self.provisioning)
            .finish_non_exhaustive()
    }
}

impl Equipment {
    /// A copy safe to show: secrets replaced.
    pub fn redacted(&self) -> Equipment {
        let mut e = self.clone();
        e.profile = e.profile.redacted();
        e
    }

    /// The normalised serial used for matching.
    pub fn serial_key(&self) -> Option<String> {
        self.serial.as_deref().and_then(normalize_serial)
    }

    /// The ParameterKey sent with the push of the current profile version.
    pub fn parameter_key(&self) -> String {
        parameter_key(self.id, self.profile_version)
    }
}

/// The ParameterKey for a profile push (at most 32 characters as CWMP requires).
pub fn parameter_key(equipment_id: i64, version: i64) -> String {
    format!("prov-{equipment_id}-v{version}")
}

/// Input for creating or replacing equipment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewEquipment {
    /// Kind.
    #[serde(default)]
    pub kind: EquipmentKind,
    /// Serial number.
    #[serde(default)]
    pub serial: Option<String>,
    /// MAC addresses in any common notation.
    #[serde(default)]
    pub macs: Vec<String>,
    /// Model.
    #[serde(default)]
    pub model: Option<String>,
    /// Operator status (default `"registered"`).
    #[serde(default)]
    pub status: Option<String>,
    /// Customer link.
    #[serde(default)]
    pub customer_id: Option<i64>,
    /// Location link.
    #[serde(default)]
    pub location_id: Option<i64>,
    /// Profile.
    #[serde(default)]
    pub profile: Profile,
}

impl NewEquipment {
    /// Validate and normalise: MACs to `AA:BB:…`, serial trimmed, profile checked.
    pub fn normalized(&self) -> Result<NewEquipment> {
        let mut n = self.clone();
        n.serial = n.serial.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        if let Some(s) = &n.serial {
            if normalize_serial(s).is_none() {
                return Err(StoreError::invalid(format!("serial {s:?} is not usable")));
            }
        }
        let mut macs = Vec::with_capacity(n.macs.len());
        for m in &n.macs {
            let norm = normalize_mac(m)
                .ok_or_else(|| StoreError::invalid(format!("{m:?} is not a MAC address")))?;
            if !macs.contains(&norm) {
                macs.push(norm);
            }
        }
        n.macs = macs;
        n.profile.validate()?;
        Ok(n)
    }
}

/// Filter for [`crate::Store::list_equipment`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EquipmentFilter {
    /// Normalised serial (see [`normalize_serial`]).
    pub serial_key: Option<String>,
    /// Normalised MAC.
    pub mac: Option<String>,
    /// Bound to this device.
    pub device_id: Option<String>,
    /// Page size.
    pub limit: Option<u32>,
    /// Rows to skip.
    pub offset: Option<u32>,
}

/// An audit event to record. `detail` must already be redacted (use [`redact_value`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAudit {
    /// Who: an API token name, `"acsd"` for the engine.
    pub actor: String,
    /// What, e.g. `"equipment.create"`, `"profile.update"`, `"device.match"`, `"provision.apply"`.
    pub action: String,
    /// Equipment concerned.
    pub equipment_id: Option<i64>,
    /// Device concerned.
    pub device_id: Option<String>,
    /// Old → new values and the like, secrets redacted.
    pub detail: Value,
}

/// A recorded audit event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Row id.
    pub id: i64,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// Equipment concerned.
    pub equipment_id: Option<i64>,
    /// Device concerned.
    pub device_id: Option<String>,
    /// Detail (secrets redacted).
    pub detail: Value,
}

/// Filter for [`crate::Store::list_audit`]; newest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditFilter {
    /// Only this equipment.
    pub equipment_id: Option<i64>,
    /// Only this device.
    pub device_id: Option<String>,
    /// Page size.
    pub limit: Option<u32>,
}

/// Replace secrets anywhere in a JSON document: values of keys that name a secret
/// (`passphrase`, `sip_password`, `*Password`, `*Passphrase`, …) and `{path, value}` pairs
/// whose path is a secret path.
pub fn redact_value(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let secret_pair = map.get("path").and_then(Value::as_str).is_some_and(is_secret_path);
            let mut out = serde_json::Map::with_capacity(map.len());
            for (k, val) in map {
                let hide = (secret_pair && (k == "value" || k == "old" || k == "new"))
                    || is_secret_key(k)
                    || (is_secret_path(k) && k.contains('.'));
                if hide && !val.is_null() {
                    out.insert(k.clone(), Value::String(REDACTED.to_owned()));
                } else {
                    out.insert(k.clone(), redact_value(val));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(redact_value).collect()),
        other => other.clone(),
    }
}

fn is_secret_key(k: &str) -> bool {
    let l = k.to_ascii_lowercase();
    l == "passphrase" || l.ends_with("password") || l == "secret" || l.ends_with("passphrase")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn wifi(band: Band) -> WifiConfig {
        WifiConfig {
            band,
            ssid: "Home".into(),
            passphrase: "supersecret".into(),
            security: Security::Wpa2Psk,
            enabled: true,
        }
    }

    #[test]
    fn profile_json_shape_and_redaction() {
        let p: Profile = serde_json::from_value(json!({
            "wifi": [{"band": "2.4", "ssid": "Home", "passphrase": "supersecret", "security": "wpa2-wpa3"}],
            "voice": [{"line": 1, "sip_username": "u1", "sip_password": "pw1", "registrar": "sip.isp"}],
            "periodic_inform_interval": 600,
            "extra": {"Device.X_ACME_Led.Enable": "false", "Device.X_ACME.AdminPassword": "root"}
        }))
        .unwrap();
        assert_eq!(p.wifi[0].security, Security::Wpa2Wpa3);
        assert!(p.wifi[0].enabled);
        p.validate().unwrap();
        let r = serde_json::to_string(&p.redacted()).unwrap();
        assert!(!r.contains("supersecret") && !r.contains("pw1") && !r.contains("root"), "{r}");
        assert!(!format!("{p:?}").contains("supersecret"));
        assert!(serde_json::from_value::<Profile>(json!({"wifi": [{"band": "7"}]})).is_err());
    }

    #[test]
    fn validation() {
        let mut p = Profile { wifi: vec![wifi(Band::B5)], ..Default::default() };
        p.validate().unwrap();
        p.wifi[0].passphrase = "short".into();
        assert!(p.validate().is_err());
        let mut v = Profile::default();
        v.extra.insert("Device.WiFi.SSID.*.SSID".into(), "x".into());
        assert!(v.validate().is_err());
    }

    #[test]
    fn bands() {
        assert_eq!(Band::from_frequency("2.4GHz"), Some(Band::B2_4));
        assert_eq!(Band::from_frequency("5GHz"), Some(Band::B5));
        assert_eq!(Band::from_frequency("6GHz"), Some(Band::B6));
        assert_eq!(Band::from_frequency("60GHz"), Some(Band::B6));
        assert!(Band::Any.accepts(Band::B5));
        assert!(!Band::B2_4.accepts(Band::B5));
    }

    #[test]
    fn redact_json() {
        let v = json!({
            "old": {"passphrase": "a", "ssid": "x"},
            "values": [{"path": "Device.WiFi.AccessPoint.1.Security.KeyPassphrase", "value": "b"},
                       {"path": "Device.WiFi.SSID.1.SSID", "value": "Home"}],
            "sip_password": "c"
        });
        let r = redact_value(&v).to_string();
        assert!(!r.contains("\"a\"") && !r.contains("\"b\"") && !r.contains("\"c\""), "{r}");
        assert!(r.contains("Home"));
    }

    #[test]
    fn new_equipment_normalizes() {
        let n = NewEquipment {
            serial: Some(" TPLG1A2B3C4D ".into()),
            macs: vec!["aa-bb-cc-dd-ee-ff".into(), "AABB.CCDD.EEFF".into()],
            ..Default::default()
        }
        .normalized()
        .unwrap();
        assert_eq!(n.serial.as_deref(), Some("TPLG1A2B3C4D"));
        assert_eq!(n.macs, vec!["AA:BB:CC:DD:EE:FF".to_string()]);
        assert!(NewEquipment { macs: vec!["zz".into()], ..Default::default() }
            .normalized()
            .is_err());
    }
}
