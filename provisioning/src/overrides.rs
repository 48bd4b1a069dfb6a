//! Vendor overrides: per OUI / ProductClass / model pattern, extra vendor (`X_…`) parameters
//! to set with every profile push and known firmware quirks of the standard mapping. Loaded
//! from a JSON data file operators can edit and reload; [`Overrides::builtin`] ships a few
//! realistic examples (also the file's documentation by example).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};

/// The shipped examples, in the data file format.
pub const BUILTIN_JSON: &str = r#"{
  "overrides": [
    {
      "name": "huawei-hg8245-wifi-extras",
      "oui": "00E0FC",
      "product_class": "HG8245*",
      "set": {
        "InternetGatewayDevice.LANDevice.1.WLANConfiguration.{wifi}.X_HW_WPSEnable": "false"
      },
      "tr098_passphrase_path": "PreSharedKey.1.PreSharedKey"
    },
    {
      "name": "zte-f6xx-band-steering",
      "oui": "D0608C",
      "model": "F6*",
      "set": {
        "Device.WiFi.X_ZTE-COM_BandSteering.Enable": "true"
      }
    },
    {
      "name": "acme-ont-vendor-wifi",
      "product_class": "ACME-ONT",
      "set": {
        "Device.WiFi.X_ACME_BandSteering.Enable": "true",
        "Device.WiFi.SSID.{wifi}.X_ACME_WMMEnable": "true"
      },
      "security_modes": { "wpa2-psk": "WPA2-PSK", "wpa2-wpa3": "WPA2-PSK-WPA3-SAE" }
    }
  ]
}"#;

/// One vendor override. Every selector that is set must match (`*` in patterns matches any
/// run of characters; OUI compares case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VendorOverride {
    /// Human name (shown in audit detail).
    pub name: String,
    /// Manufacturer OUI.
    #[serde(default)]
    pub oui: Option<String>,
    /// ProductClass pattern.
    #[serde(default)]
    pub product_class: Option<String>,
    /// Model name pattern.
    #[serde(default)]
    pub model: Option<String>,
    /// Extra parameters set with every push. `{wifi}` in a path expands to each WiFi instance
    /// the profile configures (SSID instance on TR-181, WLANConfiguration on TR-098).
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// TR-098 firmware that wants the passphrase somewhere else than `KeyPassphrase`
    /// (relative to the WLANConfiguration object).
    #[serde(default)]
    pub tr098_passphrase_path: Option<String>,
    /// Security mode strings the firmware expects instead of the standard ones, keyed by
    /// profile security (`wpa2-psk`, `wpa2-wpa3`, `wpa3-sae`).
    #[serde(default)]
    pub security_modes: BTreeMap<String, String>,
}

/// A loaded set of overrides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// In file order; every matching override applies, later ones win on conflicts.
    pub overrides: Vec<VendorOverride>,
}

/// Glob match with `*` only, case-sensitive.
pub fn glob(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let mut rest = s;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = rest.get(at + part.len()..).unwrap_or_default(),
                None => return false,
            }
        }
    }
    true
}

impl Overrides {
    /// The shipped examples.
    pub fn builtin() -> Overrides {
        Self::parse(BUILTIN_JSON).unwrap_or_default()
    }

    /// Parse and check the data file.
    pub fn parse(json: &str) -> Result<Overrides> {
        let o: Overrides = serde_json::from_str(json)
            .map_err(|e| StoreError::invalid(format!("vendor overrides: {e}")))?;
        for v in &o.overrides {
            for path in v.set.keys() {
                crate::rules::PathPattern::parse(&path.replace("{wifi}", "1"))
                    .map_err(|e| StoreError::invalid(format!("override {:?}: {e}", v.name)))?;
            }
        }
        Ok(o)
    }

    /// Overrides matching a device.
    pub fn matching<'a>(
        &'a self,
        oui: &str,
        product_class: &str,
        model: &str,
    ) -> Vec<&'a VendorOverride> {
        self.overrides
            .iter()
            .filter(|o| {
                o.oui.as_deref().is_none_or(|x| x.eq_ignore_ascii_case(oui))
                    && o.product_class.as_deref().is_none_or(|p| glob(p, product_class))
                    && o.model.as_deref().is_none_or(|p| glob(p, model))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("HG8245*", "HG8245H"));
        assert!(glob("*", ""));
        assert!(glob("F6*0", "F660"));
        assert!(!glob("F6*0", "F661"));
        assert!(glob("exact", "exact"));
        assert!(!glob("a*b*c", "acb"));
    }

    #[test]
    fn builtin_parses_and_matches() {
        let o = Overrides::builtin();
        assert_eq!(o.overrides.len(), 3);
        assert_eq!(o.matching("00e0fc", "HG8245H", "").len(), 1);
        assert_eq!(o.matching("001122", "ACME-ONT", "x").len(), 1);
        assert!(o.matching("001122", "Other", "F660").is_empty());
        assert!(Overrides::parse("{\"overrides\": [{\"name\": \"x\", \"set\": {\"..\": \"1\"}}]}")
            .is_err());
        assert!(Overrides::parse("{").is_err());
    }
}
