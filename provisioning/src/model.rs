//! Protocol-neutral domain types: devices, parameters, faults, files, tokens, telemetry.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Which management protocol a device speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TR-069 CWMP.
    Cwmp,
    /// TR-369 USP.
    Usp,
}

impl Protocol {
    /// The stored and serialized name: `"cwmp"` or `"usp"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Cwmp => "cwmp",
            Protocol::Usp => "usp",
        }
    }

    /// Inverse of [`Protocol::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "cwmp" => Some(Protocol::Cwmp),
            "usp" => Some(Protocol::Usp),
            _ => None,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The root data model a device exposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum DataModel {
    /// `InternetGatewayDevice.` (TR-098).
    #[serde(rename = "tr-098")]
    Tr098,
    /// `Device.` (TR-181 Issue 2, or TR-106 `Device:1.x` on older devices).
    #[serde(rename = "tr-181")]
    Tr181,
    /// Not known yet.
    #[serde(rename = "unknown")]
    #[default]
    Unknown,
}

impl DataModel {
    /// Classify a root object name or any path below it: `InternetGatewayDevice` /
    /// `InternetGatewayDevice.DeviceInfo.` → TR-098, `Device.` → TR-181, anything else unknown.
    /// A leading dot (seen on some CPEs) is ignored.
    pub fn from_root(root: &str) -> Self {
        let trimmed = root.trim().trim_start_matches('.');
        let first = trimmed.split('.').next().unwrap_or_default();
        match first {
            "InternetGatewayDevice" => DataModel::Tr098,
            "Device" => DataModel::Tr181,
            _ => DataModel::Unknown,
        }
    }

    /// The root object path with its trailing dot, when known.
    pub fn root(self) -> Option<&'static str> {
        match self {
            DataModel::Tr098 => Some("InternetGatewayDevice."),
            DataModel::Tr181 => Some("Device."),
            DataModel::Unknown => None,
        }
    }

    /// The stored and serialized name: `"tr-098"`, `"tr-181"` or `"unknown"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DataModel::Tr098 => "tr-098",
            DataModel::Tr181 => "tr-181",
            DataModel::Unknown => "unknown",
        }
    }

    /// Inverse of [`DataModel::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "tr-098" => Some(DataModel::Tr098),
            "tr-181" => Some(DataModel::Tr181),
            "unknown" => Some(DataModel::Unknown),
            _ => None,
        }
    }
}

/// A managed device (CWMP CPE or USP agent) as stored.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    /// CWMP: `<OUI>-<ProductClass>-<Serial>` built by [`cwmp_device_id`]; USP: the EndpointID.
    pub id: String,
    /// Management protocol.
    pub protocol: Protocol,
    /// Manufacturer OUI as reported.
    pub oui: String,
    /// Product class as reported (may be empty).
    pub product_class: String,
    /// Serial number as reported.
    pub serial_number: String,
    /// Manufacturer name as reported.
    pub manufacturer: String,
    /// `DeviceInfo.ModelName`, when known.
    pub model_name: Option<String>,
    /// `DeviceInfo.SoftwareVersion`, when known.
    pub software_version: Option<String>,
    /// `DeviceInfo.HardwareVersion`, when known.
    pub hardware_version: Option<String>,
    /// Root data model.
    pub data_model: DataModel,
    /// First contact.
    #[serde(with = "time::serde::rfc3339")]
    pub registered_at: OffsetDateTime,
    /// Last Inform / USP contact.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_inform_at: Option<OffsetDateTime>,
    /// Last `1 BOOT` (or USP `Boot!`).
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_boot_at: Option<OffsetDateTime>,
    /// Last `0 BOOTSTRAP`.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_bootstrap_at: Option<OffsetDateTime>,
    /// Event codes of the last Inform, e.g. `["2 PERIODIC"]`.
    pub last_events: Vec<String>,
    /// Source IP of the last contact.
    pub ip: Option<String>,
    /// `ManagementServer.ConnectionRequestURL`.
    pub connection_request_url: Option<String>,
    /// `ManagementServer.UDPConnectionRequestAddress` (TR-111).
    pub udp_connection_request_address: Option<String>,
    /// ConnectionRequestUsername we set on the CPE.
    pub cr_username: Option<String>,
    /// ConnectionRequestPassword we set on the CPE (stored in clear: needed for Digest).
    pub cr_password: Option<String>,
    /// Per-device username the CPE uses to reach us (overrides the global one).
    pub cpe_username: Option<String>,
    /// Per-device password the CPE uses to reach us (stored in clear: needed for Digest).
    pub cpe_password: Option<String>,
    /// `ManagementServer.PeriodicInformInterval` in seconds, when known.
    pub periodic_inform_interval: Option<u32>,
    /// Operator tags, sorted, unique.
    pub tags: Vec<String>,
    /// Matched service equipment (provisioning flow), when any.
    pub equipment_id: Option<i64>,
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn redact(v: &Option<String>) -> Option<&'static str> {
            v.as_ref().map(|_| "<redacted>")
        }
        f.debug_struct("Device")
            .field("id", &self.id)
            .field("protocol", &self.protocol)
            .field("oui", &self.oui)
            .field("product_class", &self.product_class)
            .field("serial_number", &self.serial_number)
            .field("manufacturer", &self.manufacturer)
            .field("model_name", &self.model_name)
            .field("software_version", &self.software_version)
            .field("hardware_version", &self.hardware_version)
            .field("data_model", &self.data_model)
            .field("registered_at", &self.registered_at)
            .field("last_inform_at", &self.last_inform_at)
            .field("last_boot_at", &self.last_boot_at)
            .field("last_bootstrap_at", &self.last_bootstrap_at)
            .field("last_events", &self.last_events)
            .field("ip", &self.ip)
            .field("connection_request_url", &self.connection_request_url)
            .field("udp_connection_request_address", &self.udp_connection_request_address)
            .field("cr_username", &self.cr_username)
            .field("cr_password", &redact(&self.cr_password))
            .field("cpe_username", &self.cpe_username)
            .field("cpe_password", &redact(&self.cpe_password))
            .field("periodic_inform_interval", &self.periodic_inform_interval)
            .field("tags", &self.tags)
            .field("equipment_id", &self.equipment_id)
            .finish()
    }
}

impl Device {
    /// A device with the given identity, registered `now`, everything else empty.
    pub fn new(
        id: impl Into<String>,
        protocol: Protocol,
        oui: impl Into<String>,
        product_class: impl Into<String>,
        serial_number: impl Into<String>,
        now: OffsetDateTime,
    ) -> Self {
        Device {
            id: id.into(),
            protocol,
            oui: oui.into(),
            product_class: product_class.into(),
            serial_number: serial_number.into(),
            manufacturer: String::new(),
            model_name: None,
            software_version: None,
            hardware_version: None,
            data_model: DataModel::Unknown,
            registered_at: now,
            last_inform_at: None,
            last_boot_at: None,
            last_bootstrap_at: None,
            last_events: Vec::new(),
            ip: None,
            connection_request_url: None,
            udp_connection_request_address: None,
            cr_username: None,
            cr_password: None,
            cpe_username: None,
            cpe_password: None,
            periodic_inform_interval: None,
            tags: Vec::new(),
            equipment_id: None,
        }
    }
}

/// The CWMP device id GenieACS uses: `<OUI>-<ProductClass>-<SerialNumber>` (or
/// `<OUI>-<SerialNumber>` when the product class is empty), each part percent-encoded so that
/// everything except ASCII letters, digits and `_` becomes `%XX` (upper-case hex, per UTF-8 byte).
/// The `-` separators are therefore unambiguous.
pub fn cwmp_device_id(oui: &str, product_class: &str, serial: &str) -> String {
    fn push_escaped(out: &mut String, part: &str) {
        for b in part.bytes() {
            if b.is_ascii_alphanumeric() || b == b'_' {
                out.push(char::from(b));
            } else {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0f)]));
            }
        }
    }
    let mut out = String::with_capacity(oui.len() + product_class.len() + serial.len() + 2);
    push_escaped(&mut out, oui);
    out.push('-');
    if !product_class.is_empty() {
        push_escaped(&mut out, product_class);
        out.push('-');
    }
    push_escaped(&mut out, serial);
    out
}

/// One cached parameter or object of a device. Object paths end with `.`.
///
/// `None` fields mean "not known"; [`crate::Store::upsert_parameters`] merges, so a GPN result
/// (writable only) does not erase a value learned from GPV.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parameter {
    /// Full path, e.g. `Device.DeviceInfo.SoftwareVersion` or `Device.WiFi.SSID.1.`.
    pub path: String,
    /// Value as a string.
    pub value: Option<String>,
    /// Type, e.g. `xsd:string`, `xsd:unsignedInt`.
    pub value_type: Option<String>,
    /// Writable flag from GetParameterNames.
    pub writable: Option<bool>,
    /// Notification attribute (0 off, 1 passive, 2 active, ...).
    pub notification: Option<i32>,
    /// Access list attribute (e.g. `["Subscriber"]`).
    pub access_list: Option<Vec<String>>,
    /// When this entry was last learned.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Parameter {
    /// A parameter with a value and optional type, learned `now`.
    pub fn value(
        path: impl Into<String>,
        value: impl Into<String>,
        value_type: Option<&str>,
        now: OffsetDateTime,
    ) -> Self {
        Parameter {
            path: path.into(),
            value: Some(value.into()),
            value_type: value_type.map(str::to_owned),
            writable: None,
            notification: None,
            access_list: None,
            updated_at: now,
        }
    }

    /// True when this entry is an object (path ends with `.`).
    pub fn is_object(&self) -> bool {
        self.path.ends_with('.')
    }

    /// Merge `newer` into `self`: fields `newer` knows win, the others are kept.
    pub fn merge_from(&mut self, newer: Parameter) {
        if newer.value.is_some() {
            self.value = newer.value;
        }
        if newer.value_type.is_some() {
            self.value_type = newer.value_type;
        }
        if newer.writable.is_some() {
            self.writable = newer.writable;
        }
        if newer.notification.is_some() {
            self.notification = newer.notification;
        }
        if newer.access_list.is_some() {
            self.access_list = newer.access_list;
        }
        self.updated_at = newer.updated_at;
    }
}

/// Filter for [`crate::Store::list_devices`]. All set fields must match (AND).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceFilter {
    /// Device id starts with this.
    pub id_prefix: Option<String>,
    /// Exact OUI.
    pub oui: Option<String>,
    /// Exact product class.
    pub product_class: Option<String>,
    /// Exact serial number.
    pub serial: Option<String>,
    /// Has this tag.
    pub tag: Option<String>,
    /// Last inform at or after this instant.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_inform_after: Option<OffsetDateTime>,
    /// Last inform strictly before this instant.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_inform_before: Option<OffsetDateTime>,
    /// Protocol.
    pub protocol: Option<Protocol>,
    /// `Some(true)`: only devices bound to service equipment; `Some(false)`: only unmatched.
    #[serde(default)]
    pub matched: Option<bool>,
    /// Page size (`None`: no limit). Results are ordered by id.
    pub limit: Option<u32>,
    /// Rows to skip.
    pub offset: Option<u32>,
}

/// A fault to record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewFault {
    /// Device the fault belongs to.
    pub device_id: String,
    /// Task that faulted, when any.
    pub task_id: Option<i64>,
    /// Where it happened: `"task"`, `"session"`, `"connection_request"`, `"provisioning"`, ...
    pub channel: String,
    /// CWMP fault code (`"9005"`) or an internal one (`"timeout"`).
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// Extra structured detail (e.g. SetParameterValuesFault list).
    pub detail: serde_json::Value,
    /// How many attempts had been made when this fault was recorded.
    pub retries: u32,
}

/// A recorded fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// Row id.
    pub id: i64,
    /// Device the fault belongs to.
    pub device_id: String,
    /// Task that faulted, when any.
    pub task_id: Option<i64>,
    /// Where it happened.
    pub channel: String,
    /// Fault code.
    pub code: String,
    /// Message.
    pub message: String,
    /// Extra structured detail.
    pub detail: serde_json::Value,
    /// Attempts made when recorded.
    pub retries: u32,
    /// When it was recorded.
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
}

/// Filter for [`crate::Store::list_faults`]; newest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultFilter {
    /// Only this device.
    pub device_id: Option<String>,
    /// Only this task.
    pub task_id: Option<i64>,
    /// Page size.
    pub limit: Option<u32>,
    /// Rows to skip.
    pub offset: Option<u32>,
}

/// Metadata of a stored file (firmware image, config file). The bytes live on disk in the data
/// directory, not in the database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileMeta {
    /// Unique file name (also the URL path segment).
    pub name: String,
    /// CWMP FileType, e.g. `"1 Firmware Upgrade Image"`.
    pub file_type: String,
    /// Restrict to this OUI.
    pub oui: Option<String>,
    /// Restrict to this product class.
    pub product_class: Option<String>,
    /// Version string of the content (e.g. firmware version).
    pub version: Option<String>,
    /// Size in bytes.
    pub length: u64,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
    /// MIME type to serve it with.
    pub content_type: Option<String>,
    /// When it was stored.
    #[serde(with = "time::serde::rfc3339")]
    pub uploaded_at: OffsetDateTime,
}

/// An API token row. Only the SHA-256 hash of the token is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiToken {
    /// Human name of the token.
    pub name: String,
    /// Hex SHA-256 of the secret token.
    pub token_hash: String,
    /// Role, e.g. `"admin"` or `"read"`.
    pub role: String,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Inform telemetry for one device, persisted write-behind by
/// [`crate::Store::apply_telemetry`] (usually through [`crate::WriteBehind`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Telemetry {
    /// Full device snapshot as the engine knows it. Its `tags`, `cpe_username` and
    /// `cpe_password` are only used when the device is new: on an existing device those are
    /// operator-managed and telemetry never overwrites them. `registered_at` keeps the stored value.
    pub device: Device,
    /// Parameters learned in this contact (merged into the cache).
    pub params: Vec<Parameter>,
    /// `0 BOOTSTRAP`: drop the cached parameters of the device before applying `params`.
    pub bootstrap: bool,
}

impl Telemetry {
    /// Fold a newer telemetry item of the same device into this one: newer device snapshot,
    /// parameters merged by path (newer fields win); a newer bootstrap discards older params.
    pub fn absorb(&mut self, newer: Telemetry) {
        self.device = newer.device;
        if newer.bootstrap {
            self.bootstrap = true;
            self.params = newer.params;
            return;
        }
        if self.params.is_empty() {
            self.params = newer.params;
            return;
        }
        let mut index: std::collections::HashMap<String, usize> =
            self.params.iter().enumerate().map(|(i, p)| (p.path.clone(), i)).collect();
        for p in newer.params {
            match index.get(&p.path) {
                Some(&i) => {
                    if let Some(existing) = self.params.get_mut(i) {
                        existing.merge_from(p);
                    }
                }
                None => {
                    index.insert(p.path.clone(), self.params.len());
                    self.params.push(p);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_id_escapes_like_genieacs() {
        assert_eq!(cwmp_device_id("00D09E", "IGD", "ABC123"), "00D09E-IGD-ABC123");
        assert_eq!(
            cwmp_device_id("00d09e", "HG8245 H", "48-57.X"),
            "00d09e-HG8245%20H-48%2D57%2EX"
        );
        assert_eq!(cwmp_device_id("001122", "", "SN1"), "001122-SN1");
        assert_eq!(cwmp_device_id("001122", "Box\u{e9}", "S_1"), "001122-Box%C3%A9-S_1");
    }

    #[test]
    fn data_model_from_root() {
        assert_eq!(DataModel::from_root("InternetGatewayDevice."), DataModel::Tr098);
        assert_eq!(DataModel::from_root("InternetGatewayDevice.DeviceInfo.X"), DataModel::Tr098);
        assert_eq!(DataModel::from_root(".Device.DeviceInfo."), DataModel::Tr181);
        assert_eq!(DataModel::from_root("Device"), DataModel::Tr181);
        assert_eq!(DataModel::from_root("Devices."), DataModel::Unknown);
        assert_eq!(DataModel::from_root(""), DataModel::Unknown);
        assert_eq!(serde_json::to_string(&DataModel::Tr098).ok().as_deref(), Some("\"tr-098\""));
        assert_eq!(serde_json::to_string(&Protocol::Usp).ok().as_deref(), Some("\"usp\""));
    }

    #[test]
    fn debug_redacts_passwords() {
        let mut d = Device::new("x", Protocol::Cwmp, "o", "p", "s", OffsetDateTime::UNIX_EPOCH);
        d.cr_password = Some("hunter2".into());
        d.cpe_password = Some("swordfish".into());
        let s = format!("{d:?}");
        assert!(!s.contains("hunter2") && !s.contains("swordfish"));
        assert!(s.contains("<redacted>"));
    }

    #[test]
    fn telemetry_absorb_merges_params() {
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let dev = Device::new("x", Protocol::Cwmp, "o", "p", "s", t0);
        let mut a = Telemetry {
            device: dev.clone(),
            params: vec![Parameter::value("A.b", "1", Some("xsd:int"), t0)],
            bootstrap: false,
        };
        let mut gpn = Parameter::value("A.b", "", None, t0);
        gpn.value = None;
        gpn.writable = Some(true);
        a.absorb(Telemetry {
            device: dev.clone(),
            params: vec![gpn, Parameter::value("A.c", "2", None, t0)],
            bootstrap: false,
        });
        assert_eq!(a.params.len(), 2);
        assert_eq!(a.params[0].value.as_deref(), Some("1"));
        assert_eq!(a.params[0].writable, Some(true));
        a.absorb(Telemetry {
            device: dev,
            params: vec![Parameter::value("Z", "9", None, t0)],
            bootstrap: true,
        });
        assert!(a.bootstrap);
        assert_eq!(a.params.len(), 1);
    }
}
