//! From a protocol-neutral [`Profile`] to parameter paths of the device's data model.
//!
//! Instance numbers differ between devices, so mapping is two steps: [`discovery_paths`] names
//! the subtrees to read (radios, SSIDs, access points, voice services), and [`map_profile`]
//! turns the profile plus what was read into the values to set.
//!
//! * TR-181: `Device.WiFi.SSID.{i}` → band through `LowerLayers` → `Device.WiFi.Radio.{i}.
//!   OperatingFrequencyBand`; AccessPoint found through `SSIDReference`; voice TR-104 v1
//!   (`VoiceProfile.{i}.Line.{i}`) or v2 (`SIP.Client.{i}`, `SIP.Network.{i}`,
//!   `CallControl.Line.{i}`).
//! * TR-098: `LANDevice.{i}.WLANConfiguration.{i}` (band from `OperatingFrequencyBand`,
//!   `Channel` or `Standard`), voice TR-104 v1.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::equipment::{is_secret_path, Band, Profile, Security};
use crate::model::DataModel;
use crate::overrides::VendorOverride;
use crate::rules::instances_under;

/// One value to set, with its xsd type.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetValue {
    /// Full parameter path.
    pub path: String,
    /// Value as text.
    pub value: String,
    /// `xsd:string`, `xsd:boolean`, `xsd:unsignedInt`, ...
    pub ty: String,
}

impl std::fmt::Debug for SetValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = if is_secret_path(&self.path) { crate::equipment::REDACTED } else { &self.value };
        write!(f, "{}={v:?} ({})", self.path, self.ty)
    }
}

impl SetValue {
    fn new(path: impl Into<String>, value: impl Into<String>, ty: &str) -> Self {
        SetValue { path: path.into(), value: value.into(), ty: ty.to_owned() }
    }
    fn string(path: impl Into<String>, value: impl Into<String>) -> Self {
        Self::new(path, value, "xsd:string")
    }
    fn boolean(path: impl Into<String>, value: bool) -> Self {
        Self::new(path, if value { "true" } else { "false" }, "xsd:boolean")
    }
    /// Whether the value is a secret (never shown, verified by acceptance only).
    pub fn is_secret(&self) -> bool {
        is_secret_path(&self.path)
    }
}

/// The outcome of mapping a profile.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mapped {
    /// Values to set, in a stable order, without duplicate paths.
    pub values: Vec<SetValue>,
    /// Profile parts that have no place on this device (e.g. no 5 GHz radio).
    pub problems: Vec<String>,
}

/// Subtrees to read before mapping a profile onto a device of this data model.
pub fn discovery_paths(dm: DataModel, profile: &Profile) -> Vec<String> {
    let Some(root) = dm.root() else { return Vec::new() };
    let mut out = Vec::new();
    if !profile.wifi.is_empty() {
        match dm {
            DataModel::Tr181 => out.push(format!("{root}WiFi.")),
            _ => out.push(format!("{root}LANDevice.")),
        }
    }
    if !profile.voice.is_empty() {
        out.push(format!("{root}Services.VoiceService."));
    }
    out
}

/// `"Device.WiFi.Radio.3."`, `"Device.WiFi.Radio.3"` or a comma list → object paths with dots.
fn references(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| if s.ends_with('.') { s.to_owned() } else { format!("{s}.") })
        .collect()
}

fn security_mode_181(s: Security) -> &'static str {
    match s {
        Security::Wpa2Psk => "WPA2-Personal",
        Security::Wpa2Wpa3 => "WPA3-Personal-Transition",
        Security::Wpa3Sae => "WPA3-Personal",
    }
}

fn security_key(s: Security) -> &'static str {
    match s {
        Security::Wpa2Psk => "wpa2-psk",
        Security::Wpa2Wpa3 => "wpa2-wpa3",
        Security::Wpa3Sae => "wpa3-sae",
    }
}

struct Out {
    values: Vec<SetValue>,
    index: BTreeMap<String, usize>,
    problems: Vec<String>,
}

impl Out {
    fn push(&mut self, v: SetValue) {
        match self.index.get(&v.path) {
            Some(&i) => {
                if let Some(slot) = self.values.get_mut(i) {
                    *slot = v;
                }
            }
            None => {
                self.index.insert(v.path.clone(), self.values.len());
                self.values.push(v);
            }
        }
    }
}

/// Map `profile` onto a device, given the parameter values read from the discovery subtrees
/// (`known`, path → value) and the matching vendor overrides.
pub fn map_profile(
    dm: DataModel,
    profile: &Profile,
    known: &BTreeMap<String, String>,
    overrides: &[&VendorOverride],
) -> Mapped {
    let mut out = Out { values: Vec::new(), index: BTreeMap::new(), problems: Vec::new() };
    let Some(root) = dm.root() else {
        out.problems.push("the device's data model is not known yet".into());
        return Mapped { values: out.values, problems: out.problems };
    };
    let security_override = |s: Security| {
        overrides.iter().rev().find_map(|o| o.security_modes.get(security_key(s)).cloned())
    };
    let mut wifi_instances: Vec<String> = Vec::new();
    match dm {
        DataModel::Tr181 => {
            map_wifi_181(root, profile, known, &security_override, &mut out, &mut wifi_instances)
        }
        _ => map_wifi_098(
            root,
            profile,
            known,
            overrides,
            &security_override,
            &mut out,
            &mut wifi_instances,
        ),
    }
    map_voice(root, dm, profile, known, &mut out);
    if let Some(i) = profile.periodic_inform_interval {
        out.push(SetValue::new(
            format!("{root}ManagementServer.PeriodicInformInterval"),
            i.to_string(),
            "xsd:unsignedInt",
        ));
        out.push(SetValue::boolean(format!("{root}ManagementServer.PeriodicInformEnable"), true));
    }
    for o in overrides {
        for (path, value) in &o.set {
            if !path.starts_with(root) {
                continue;
            }
            if path.contains("{wifi}") {
                for inst in &wifi_instances {
                    out.push(SetValue::string(path.replace("{wifi}", inst), value.clone()));
                }
            } else {
                out.push(SetValue::string(path.clone(), value.clone()));
            }
        }
    }
    for (path, value) in &profile.extra {
        out.push(SetValue::string(path.clone(), value.clone()));
    }
    Mapped { values: out.values, problems: out.problems }
}

fn map_wifi_181(
    root: &str,
    profile: &Profile,
    known: &BTreeMap<String, String>,
    security_override: &dyn Fn(Security) -> Option<String>,
    out: &mut Out,
    wifi_instances: &mut Vec<String>,
) {
    if profile.wifi.is_empty() {
        return;
    }
    let ssid_obj = format!("{root}WiFi.SSID.");
    let ap_obj = format!("{root}WiFi.AccessPoint.");
    // Primary SSID per radio: the lowest SSID instance whose LowerLayers names the radio.
    let mut per_radio: BTreeMap<String, (u32, Band)> = BTreeMap::new();
    for s in instances_under(&ssid_obj, known) {
        let lower = known.get(&format!("{ssid_obj}{s}.LowerLayers")).cloned().unwrap_or_default();
        for radio in references(&lower) {
            let band = known
                .get(&format!("{radio}OperatingFrequencyBand"))
                .and_then(|b| Band::from_frequency(b));
            if let Some(band) = band {
                per_radio.entry(radio).or_insert((s, band));
            }
        }
    }
    let aps: Vec<(u32, String)> = instances_under(&ap_obj, known)
        .into_iter()
        .map(|a| {
            let r = known.get(&format!("{ap_obj}{a}.SSIDReference")).cloned().unwrap_or_default();
            (a, references(&r).into_iter().next().unwrap_or_default())
        })
        .collect();
    for w in &profile.wifi {
        let mut targets: Vec<u32> =
            per_radio.values().filter(|(_, b)| w.band.accepts(*b)).map(|(s, _)| *s).collect();
        targets.sort_unstable();
        targets.dedup();
        if targets.is_empty() {
            out.problems.push(format!("no WiFi radio for band {:?} ({})", w.band, w.ssid));
            continue;
        }
        for s in targets {
            let ssid_path = format!("{ssid_obj}{s}.");
            wifi_instances.push(s.to_string());
            out.push(SetValue::string(format!("{ssid_path}SSID"), w.ssid.clone()));
            out.push(SetValue::boolean(format!("{ssid_path}Enable"), w.enabled));
            let Some((a, _)) = aps.iter().find(|(_, r)| *r == ssid_path) else {
                out.problems.push(format!("no AccessPoint references {ssid_path}"));
                continue;
            };
            let sec = format!("{ap_obj}{a}.Security.");
            let mode = security_override(w.security)
                .unwrap_or_else(|| security_mode_181(w.security).to_owned());
            out.push(SetValue::string(format!("{sec}ModeEnabled"), mode));
            match w.security {
                Security::Wpa2Psk => {
                    out.push(SetValue::string(format!("{sec}KeyPassphrase"), w.passphrase.clone()))
                }
                Security::Wpa3Sae => {
                    out.push(SetValue::string(format!("{sec}SAEPassphrase"), w.passphrase.clone()))
                }
                Security::Wpa2Wpa3 => {
                    out.push(SetValue::string(format!("{sec}KeyPassphrase"), w.passphrase.clone()));
                    out.push(SetValue::string(format!("{sec}SAEPassphrase"), w.passphrase.clone()));
                }
            }
            out.push(SetValue::boolean(format!("{ap_obj}{a}.Enable"), w.enabled));
        }
    }
}

fn band_098(known: &BTreeMap<String, String>, obj: &str) -> Band {
    if let Some(b) =
        known.get(&format!("{obj}OperatingFrequencyBand")).and_then(|b| Band::from_frequency(b))
    {
        return b;
    }
    if let Some(ch) = known.get(&format!("{obj}Channel")).and_then(|c| c.trim().parse::<u32>().ok())
    {
        if ch > 14 {
            return Band::B5;
        }
        if ch > 0 {
            return Band::B2_4;
        }
    }
    let std =
        known.get(&format!("{obj}Standard")).map(|s| s.to_ascii_lowercase()).unwrap_or_default();
    if std == "a" || std.contains("ac") || std.contains("ax") && !std.contains('g') {
        Band::B5
    } else {
        Band::B2_4
    }
}

#[allow(clippy::too_many_arguments)]
fn map_wifi_098(
    root: &str,
    profile: &Profile,
    known: &BTreeMap<String, String>,
    overrides: &[&VendorOverride],
    security_override: &dyn Fn(Security) -> Option<String>,
    out: &mut Out,
    wifi_instances: &mut Vec<String>,
) {
    if profile.wifi.is_empty() {
        return;
    }
    let lan = format!("{root}LANDevice.");
    // Primary WLANConfiguration per band: the lowest instance (LANDevice order first).
    let mut per_band: Vec<(Band, String, String)> = Vec::new();
    for l in instances_under(&lan, known) {
        let wlan = format!("{lan}{l}.WLANConfiguration.");
        for w in instances_under(&wlan, known) {
            let obj = format!("{wlan}{w}.");
            let band = band_098(known, &obj);
            if !per_band.iter().any(|(b, _, _)| *b == band) {
                per_band.push((band, obj, w.to_string()));
            }
        }
    }
    let passphrase_rel = overrides.iter().rev().find_map(|o| o.tr098_passphrase_path.clone());
    for w in &profile.wifi {
        let targets: Vec<&(Band, String, String)> =
            per_band.iter().filter(|(b, _, _)| w.band.accepts(*b)).collect();
        if targets.is_empty() {
            out.problems.push(format!("no WLANConfiguration for band {:?} ({})", w.band, w.ssid));
            continue;
        }
        for (_, obj, inst) in targets {
            wifi_instances.push(inst.clone());
            out.push(SetValue::string(format!("{obj}SSID"), w.ssid.clone()));
            out.push(SetValue::boolean(format!("{obj}Enable"), w.enabled));
            let beacon = security_override(w.security).unwrap_or_else(|| "11i".to_owned());
            out.push(SetValue::string(format!("{obj}BeaconType"), beacon));
            out.push(SetValue::string(
                format!("{obj}IEEE11iAuthenticationMode"),
                "PSKAuthentication",
            ));
            out.push(SetValue::string(format!("{obj}IEEE11iEncryptionModes"), "AESEncryption"));
            let rel = match &passphrase_rel {
                Some(r) => r.clone(),
                None if known.contains_key(&format!("{obj}KeyPassphrase")) => {
                    "KeyPassphrase".into()
                }
                None => "PreSharedKey.1.KeyPassphrase".into(),
            };
            out.push(SetValue::string(format!("{obj}{rel}"), w.passphrase.clone()));
        }
    }
}

fn map_voice(
    root: &str,
    dm: DataModel,
    profile: &Profile,
    known: &BTreeMap<String, String>,
    out: &mut Out,
) {
    if profile.voice.is_empty() {
        return;
    }
    let vs_obj = format!("{root}Services.VoiceService.");
    let Some(vs) = instances_under(&vs_obj, known).first().map(|v| format!("{vs_obj}{v}.")) else {
        out.problems.push("the device has no VoiceService".into());
        return;
    };
    let v2_clients = instances_under(&format!("{vs}SIP.Client."), known);
    if dm == DataModel::Tr181 && !v2_clients.is_empty() {
        map_voice_v2(&vs, &v2_clients, profile, known, out);
        return;
    }
    // TR-104 v1: lines in (profile, line) order.
    let mut lines: Vec<(String, String)> = Vec::new();
    let vp_obj = format!("{vs}VoiceProfile.");
    for p in instances_under(&vp_obj, known) {
        let prof = format!("{vp_obj}{p}.");
        for l in instances_under(&format!("{prof}Line."), known) {
            lines.push((prof.clone(), format!("{prof}Line.{l}.")));
        }
    }
    for v in &profile.voice {
        let Some((prof, line)) =
            lines.get(usize::try_from(v.line).unwrap_or(usize::MAX).saturating_sub(1))
        else {
            out.problems.push(format!("the device has no voice line {}", v.line));
            continue;
        };
        out.push(SetValue::string(format!("{line}SIP.AuthUserName"), v.sip_username.clone()));
        out.push(SetValue::string(format!("{line}SIP.AuthPassword"), v.sip_password.clone()));
        let uri = match &v.domain {
            Some(d) => format!("{}@{d}", v.sip_username),
            None => v.sip_username.clone(),
        };
        out.push(SetValue::string(format!("{line}SIP.URI"), uri));
        if let Some(n) = &v.directory_number {
            out.push(SetValue::string(format!("{line}DirectoryNumber"), n.clone()));
        }
        if let Some(n) = &v.display_name {
            out.push(SetValue::string(format!("{line}CallingFeatures.CallerIDName"), n.clone()));
        }
        out.push(SetValue::string(format!("{line}Enable"), "Enabled"));
        for (field, val) in [
            ("RegistrarServer", &v.registrar),
            ("ProxyServer", &v.proxy),
            ("OutboundProxy", &v.outbound_proxy),
            ("UserAgentDomain", &v.domain),
        ] {
            if let Some(val) = val {
                out.push(SetValue::string(format!("{prof}SIP.{field}"), val.clone()));
            }
        }
    }
}

fn map_voice_v2(
    vs: &str,
    clients: &[u32],
    profile: &Profile,
    known: &BTreeMap<String, String>,
    out: &mut Out,
) {
    let line_obj = format!("{vs}CallControl.Line.");
    let lines = instances_under(&line_obj, known);
    for v in &profile.voice {
        let Some(c) = clients.get(usize::try_from(v.line).unwrap_or(usize::MAX).saturating_sub(1))
        else {
            out.problems.push(format!("the device has no SIP client for line {}", v.line));
            continue;
        };
        let client = format!("{vs}SIP.Client.{c}.");
        out.push(SetValue::string(format!("{client}AuthUserName"), v.sip_username.clone()));
        out.push(SetValue::string(format!("{client}AuthPassword"), v.sip_password.clone()));
        let host = v.domain.clone().or_else(|| v.registrar.clone());
        let uri = match host {
            Some(h) => format!("sip:{}@{h}", v.sip_username),
            None => format!("sip:{}", v.sip_username),
        };
        out.push(SetValue::string(format!("{client}RegisterURI"), uri));
        out.push(SetValue::boolean(format!("{client}Enable"), true));
        let network = known
            .get(&format!("{client}Network"))
            .and_then(|n| references(n).into_iter().next())
            .filter(|n| !n.is_empty());
        match network {
            Some(net) => {
                for (field, val) in [
                    ("RegistrarServer", &v.registrar),
                    ("ProxyServer", &v.proxy),
                    ("OutboundProxy", &v.outbound_proxy),
                    ("UserAgentDomain", &v.domain),
                ] {
                    if let Some(val) = val {
                        out.push(SetValue::string(format!("{net}{field}"), val.clone()));
                    }
                }
            }
            None if v.registrar.is_some() || v.proxy.is_some() => {
                out.problems.push(format!("SIP client {client} has no Network reference"));
            }
            None => {}
        }
        // The CallControl line whose Provider is this client, else the same position.
        let by_provider = lines.iter().find(|l| {
            known
                .get(&format!("{line_obj}{l}.Provider"))
                .is_some_and(|p| references(p).first().is_some_and(|r| *r == client))
        });
        let line = by_provider
            .or_else(|| lines.get(usize::try_from(v.line).unwrap_or(usize::MAX).saturating_sub(1)));
        if let (Some(l), Some(n)) = (line, &v.directory_number) {
            out.push(SetValue::string(format!("{line_obj}{l}.DirectoryNumber"), n.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::equipment::{VoiceLine, WifiConfig};

    fn known(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn profile() -> Profile {
        Profile {
            wifi: vec![
                WifiConfig {
                    band: Band::B2_4,
                    ssid: "Home".into(),
                    passphrase: "pass-2g-123".into(),
                    security: Security::Wpa2Psk,
                    enabled: true,
                },
                WifiConfig {
                    band: Band::B5,
                    ssid: "Home-5G".into(),
                    passphrase: "pass-5g-123".into(),
                    security: Security::Wpa2Wpa3,
                    enabled: true,
                },
            ],
            voice: vec![VoiceLine {
                line: 2,
                sip_username: "u2".into(),
                sip_password: "p2".into(),
                registrar: Some("reg.isp".into()),
                proxy: None,
                outbound_proxy: None,
                domain: Some("isp".into()),
                directory_number: Some("555".into()),
                display_name: None,
            }],
            periodic_inform_interval: Some(900),
            extra: BTreeMap::new(),
        }
    }

    fn get<'a>(m: &'a Mapped, path: &str) -> Option<&'a str> {
        m.values.iter().find(|v| v.path == path).map(|v| v.value.as_str())
    }

    #[test]
    fn tr181_instances_by_band() {
        let k = known(&[
            ("Device.WiFi.Radio.1.OperatingFrequencyBand", "5GHz"),
            ("Device.WiFi.Radio.3.OperatingFrequencyBand", "2.4GHz"),
            ("Device.WiFi.SSID.1.LowerLayers", "Device.WiFi.Radio.3"),
            ("Device.WiFi.SSID.2.LowerLayers", "Device.WiFi.Radio.1."),
            ("Device.WiFi.SSID.4.LowerLayers", "Device.WiFi.Radio.3"),
            ("Device.WiFi.AccessPoint.1.SSIDReference", "Device.WiFi.SSID.2"),
            ("Device.WiFi.AccessPoint.2.SSIDReference", "Device.WiFi.SSID.1."),
            (
                "Device.Services.VoiceService.1.SIP.Client.1.Network",
                "Device.Services.VoiceService.1.SIP.Network.1",
            ),
            (
                "Device.Services.VoiceService.1.SIP.Client.2.Network",
                "Device.Services.VoiceService.1.SIP.Network.2",
            ),
            (
                "Device.Services.VoiceService.1.CallControl.Line.1.Provider",
                "Device.Services.VoiceService.1.SIP.Client.2",
            ),
            (
                "Device.Services.VoiceService.1.CallControl.Line.2.Provider",
                "Device.Services.VoiceService.1.SIP.Client.1",
            ),
        ]);
        let p = profile();
        assert_eq!(
            discovery_paths(DataModel::Tr181, &p),
            vec!["Device.WiFi.", "Device.Services.VoiceService."]
        );
        let m = map_profile(DataModel::Tr181, &p, &k, &[]);
        assert!(m.problems.is_empty(), "{:?}", m.problems);
        assert_eq!(get(&m, "Device.WiFi.SSID.1.SSID"), Some("Home"));
        assert_eq!(get(&m, "Device.WiFi.SSID.2.SSID"), Some("Home-5G"));
        assert_eq!(get(&m, "Device.WiFi.SSID.4.SSID"), None);
        assert_eq!(
            get(&m, "Device.WiFi.AccessPoint.2.Security.KeyPassphrase"),
            Some("pass-2g-123")
        );
        assert_eq!(
            get(&m, "Device.WiFi.AccessPoint.2.Security.ModeEnabled"),
            Some("WPA2-Personal")
        );
        assert_eq!(
            get(&m, "Device.WiFi.AccessPoint.1.Security.SAEPassphrase"),
            Some("pass-5g-123")
        );
        assert_eq!(
            get(&m, "Device.WiFi.AccessPoint.1.Security.ModeEnabled"),
            Some("WPA3-Personal-Transition")
        );
        assert_eq!(get(&m, "Device.Services.VoiceService.1.SIP.Client.2.AuthUserName"), Some("u2"));
        assert_eq!(
            get(&m, "Device.Services.VoiceService.1.SIP.Network.2.RegistrarServer"),
            Some("reg.isp")
        );
        assert_eq!(
            get(&m, "Device.Services.VoiceService.1.CallControl.Line.1.DirectoryNumber"),
            Some("555")
        );
        assert_eq!(get(&m, "Device.ManagementServer.PeriodicInformInterval"), Some("900"));
        assert!(!format!("{:?}", m.values).contains("pass-2g-123"));
    }

    #[test]
    fn tr098_and_voice_v1() {
        let k = known(&[
            ("InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.Standard", "g"),
            ("InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.KeyPassphrase", ""),
            ("InternetGatewayDevice.LANDevice.1.WLANConfiguration.5.Channel", "36"),
            (
                "InternetGatewayDevice.Services.VoiceService.1.VoiceProfile.1.Line.1.Enable",
                "Disabled",
            ),
            (
                "InternetGatewayDevice.Services.VoiceService.1.VoiceProfile.1.Line.2.Enable",
                "Disabled",
            ),
        ]);
        let m = map_profile(DataModel::Tr098, &profile(), &k, &[]);
        assert!(m.problems.is_empty(), "{:?}", m.problems);
        let w = "InternetGatewayDevice.LANDevice.1.WLANConfiguration.";
        assert_eq!(get(&m, &format!("{w}1.SSID")), Some("Home"));
        assert_eq!(get(&m, &format!("{w}1.KeyPassphrase")), Some("pass-2g-123"));
        assert_eq!(get(&m, &format!("{w}5.SSID")), Some("Home-5G"));
        assert_eq!(get(&m, &format!("{w}5.PreSharedKey.1.KeyPassphrase")), Some("pass-5g-123"));
        let vp = "InternetGatewayDevice.Services.VoiceService.1.VoiceProfile.1.";
        assert_eq!(get(&m, &format!("{vp}Line.2.SIP.AuthUserName")), Some("u2"));
        assert_eq!(get(&m, &format!("{vp}Line.2.SIP.URI")), Some("u2@isp"));
        assert_eq!(get(&m, &format!("{vp}SIP.RegistrarServer")), Some("reg.isp"));
        assert_eq!(get(&m, &format!("{vp}Line.2.DirectoryNumber")), Some("555"));
    }

    #[test]
    fn problems_and_overrides() {
        let k = known(&[
            ("Device.WiFi.Radio.1.OperatingFrequencyBand", "2.4GHz"),
            ("Device.WiFi.SSID.1.LowerLayers", "Device.WiFi.Radio.1"),
        ]);
        let o = crate::overrides::Overrides::builtin();
        let ov = o.matching("x", "ACME-ONT", "");
        let m = map_profile(DataModel::Tr181, &profile(), &k, &ov);
        assert!(m.problems.iter().any(|p| p.contains("B5")), "{:?}", m.problems);
        assert!(m.problems.iter().any(|p| p.contains("VoiceService")), "{:?}", m.problems);
        assert!(m.problems.iter().any(|p| p.contains("AccessPoint")), "{:?}", m.problems);
        assert_eq!(get(&m, "Device.WiFi.X_ACME_BandSteering.Enable"), Some("true"));
        assert_eq!(get(&m, "Device.WiFi.SSID.1.X_ACME_WMMEnable"), Some("true"));
        let m = map_profile(DataModel::Unknown, &profile(), &k, &[]);
        assert!(m.values.is_empty() && !m.problems.is_empty());
    }
}
