//! The `provision` scenario's pieces: one equipment record per simulated device (serial and MAC
//! of the device, a profile with a WiFi network per band and one SIP line), the values the
//! device must hold once `acsd` applied that profile, and the equipment provisioning states read
//! back through the API.
//!
//! Where `acsd` puts the values (see `provisioning::mapping`): TR-181 — the lowest SSID on each
//! band's radio (`SSID.1` on the 2.4 GHz `Radio.1`, `SSID.2` on the 5 GHz `Radio.2` in the
//! built-in model and the USP agents' model), the AccessPoint whose `SSIDReference` names it
//! (`AccessPoint.1`, `.2`), TR-104 v2 `SIP.Client.1`; TR-098 — the lowest WLANConfiguration per
//! band (`WLANConfiguration.1` 2.4 GHz, `.2` 5 GHz in the built-in model), TR-104 v1
//! `VoiceProfile.1.Line.1`.

use std::collections::{BTreeMap, HashSet};

use serde_json::{json, Value};

use crate::api::ApiClient;
use crate::error::FleetError;

/// What one device is asked to hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// 2.4 GHz network name.
    pub ssid_24: String,
    /// 2.4 GHz passphrase (WPA2-PSK).
    pub pass_24: String,
    /// 5 GHz network name.
    pub ssid_5: String,
    /// 5 GHz passphrase (WPA2/WPA3 transition).
    pub pass_5: String,
    /// SIP line 1 user.
    pub sip_user: String,
    /// SIP line 1 password.
    pub sip_pass: String,
}

impl Wanted {
    /// The values for the device with this serial number.
    pub fn for_serial(serial: &str) -> Wanted {
        Wanted {
            ssid_24: format!("fleet-{serial}"),
            pass_24: format!("wpa2-{serial}-key"),
            ssid_5: format!("fleet-{serial}-5G"),
            pass_5: format!("sae-{serial}-key"),
            sip_user: format!("sip{serial}"),
            sip_pass: format!("sip-{serial}-secret"),
        }
    }

    /// The `POST /api/v1/equipment` body registering the device.
    pub fn equipment(&self, serial: &str, mac: Option<&str>) -> Value {
        json!({
            "kind": "ont",
            "serial": serial,
            "macs": mac.map(|m| vec![m.to_string()]).unwrap_or_default(),
            "model": "fleet",
            "profile": {
                "wifi": [
                    {"band": "2.4", "ssid": self.ssid_24, "passphrase": self.pass_24,
                     "security": "wpa2-psk"},
                    {"band": "5", "ssid": self.ssid_5, "passphrase": self.pass_5,
                     "security": "wpa2-wpa3"}
                ],
                "voice": [
                    {"line": 1, "sip_username": self.sip_user, "sip_password": self.sip_pass,
                     "registrar": "sip.fleet.example", "proxy": "proxy.fleet.example",
                     "domain": "fleet.example", "directory_number": format!("+49 {serial}"),
                     "display_name": "Fleet"}
                ]
            }
        })
    }

    /// (path, value) pairs the device must hold, for a data model rooted at `root`.
    pub fn expected(&self, root: &str) -> Vec<(String, String)> {
        let v = |p: String, x: &String| (p, x.clone());
        if root == "InternetGatewayDevice." {
            let w = "InternetGatewayDevice.LANDevice.1.WLANConfiguration.";
            let l = "InternetGatewayDevice.Services.VoiceService.1.VoiceProfile.1.Line.1.";
            vec![
                v(format!("{w}1.SSID"), &self.ssid_24),
                v(format!("{w}1.KeyPassphrase"), &self.pass_24),
                v(format!("{w}2.SSID"), &self.ssid_5),
                v(format!("{w}2.KeyPassphrase"), &self.pass_5),
                v(format!("{l}SIP.AuthUserName"), &self.sip_user),
                v(format!("{l}SIP.AuthPassword"), &self.sip_pass),
            ]
        } else {
            let c = "Device.Services.VoiceService.1.SIP.Client.1.";
            vec![
                v("Device.WiFi.SSID.1.SSID".into(), &self.ssid_24),
                v("Device.WiFi.AccessPoint.1.Security.KeyPassphrase".into(), &self.pass_24),
                v("Device.WiFi.SSID.2.SSID".into(), &self.ssid_5),
                v("Device.WiFi.AccessPoint.2.Security.SAEPassphrase".into(), &self.pass_5),
                v(format!("{c}AuthUserName"), &self.sip_user),
                v(format!("{c}AuthPassword"), &self.sip_pass),
            ]
        }
    }

    /// Check a device's values (`get` reads one parameter). The error names what is missing,
    /// briefly (it becomes an error kind of the summary).
    pub fn check(&self, root: &str, get: impl Fn(&str) -> Option<String>) -> Result<(), String> {
        let mut wrong = Vec::new();
        for (path, value) in self.expected(root) {
            if get(&path).as_deref() != Some(value.as_str()) {
                let what = if path.contains("SIP") {
                    "SIP"
                } else if path.contains("Passphrase") {
                    "WiFi passphrase"
                } else {
                    "SSID"
                };
                if !wrong.contains(&what) {
                    wrong.push(what);
                }
            }
        }
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(format!("not provisioned: {}", wrong.join(", ")))
        }
    }
}

/// Counts of provisioning states (`pending`, `applied`, `verified`, `failed`) of the equipment
/// whose serial is in `serials`, plus `bound` (equipment with a device) and `seen`.
pub async fn equipment_states(
    api: &mut ApiClient,
    serials: &HashSet<String>,
) -> Result<BTreeMap<String, u64>, FleetError> {
    let mut out: BTreeMap<String, u64> = BTreeMap::new();
    let mut offset = 0usize;
    loop {
        let (status, body) =
            api.call("GET", &format!("/equipment?limit=10000&offset={offset}"), None, &[]).await?;
        if status != 200 {
            return Err(FleetError::Http(format!("equipment list answered {status}")));
        }
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| FleetError::Http(format!("equipment list: {e}")))?;
        let items = v["items"].as_array().cloned().unwrap_or_default();
        count_states(&items, serials, &mut out);
        if items.len() < 10_000 {
            break;
        }
        offset += items.len();
    }
    Ok(out)
}

/// Add the provisioning states of `items` (equipment JSON) whose serial is in `serials`.
pub fn count_states(items: &[Value], serials: &HashSet<String>, out: &mut BTreeMap<String, u64>) {
    for e in items {
        let Some(sn) = e["serial"].as_str() else { continue };
        if !serials.contains(sn) {
            continue;
        }
        *out.entry("seen".into()).or_default() += 1;
        if e["deviceId"].is_string() {
            *out.entry("bound".into()).or_default() += 1;
        }
        let state = e["provisioning"]["state"].as_str().unwrap_or("unknown").to_string();
        *out.entry(state).or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn equipment_body_and_expectations() {
        let w = Wanted::for_serial("PRV000001");
        let e = w.equipment("PRV000001", Some("02:00:00:00:00:01"));
        assert_eq!(e["profile"]["wifi"].as_array().unwrap().len(), 2);
        assert_eq!(e["profile"]["voice"][0]["sip_password"], w.sip_pass);
        assert!(w.pass_24.len() >= 8 && w.pass_5.len() >= 8);
        for root in ["Device.", "InternetGatewayDevice."] {
            let exp = w.expected(root);
            assert_eq!(exp.len(), 6);
            assert!(exp.iter().all(|(p, _)| p.starts_with(root)));
            let map: BTreeMap<String, String> = exp.into_iter().collect();
            assert_eq!(w.check(root, |p| map.get(p).cloned()), Ok(()));
            let err = w.check(root, |p| map.get(p).filter(|_| !p.contains("SIP")).cloned());
            assert_eq!(err, Err("not provisioned: SIP".to_string()));
        }
    }

    #[test]
    fn states_are_counted_for_our_serials() {
        let items = vec![
            json!({"serial": "A1", "deviceId": "x", "provisioning": {"state": "verified"}}),
            json!({"serial": "A2", "deviceId": null, "provisioning": {"state": "pending"}}),
            json!({"serial": "OTHER", "provisioning": {"state": "failed"}}),
        ];
        let serials: HashSet<String> = ["A1".to_string(), "A2".to_string()].into();
        let mut out = BTreeMap::new();
        count_states(&items, &serials, &mut out);
        assert_eq!(out["seen"], 2);
        assert_eq!(out["bound"], 1);
        assert_eq!(out["verified"], 1);
        assert_eq!(out["pending"], 1);
        assert!(!out.contains_key("failed"));
    }
}
