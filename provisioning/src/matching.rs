//! Matching a contacting device to service equipment: serial numbers (GPON forms included) and
//! MAC addresses in any notation, normalised so that what a technician scanned and what the
//! device reports compare equal.

use crate::model::DataModel;

/// Normalise a MAC address written as `AA:BB:CC:DD:EE:FF`, `aa-bb-cc-dd-ee-ff`,
/// `aabb.ccdd.eeff` or bare hex into `AA:BB:CC:DD:EE:FF`. `None` if it is not 48 bits of hex.
pub fn normalize_mac(s: &str) -> Option<String> {
    let mut hex = [0u8; 12];
    let mut n = 0usize;
    for c in s.trim().chars() {
        match c {
            ':' | '-' | '.' | ' ' => continue,
            c if c.is_ascii_hexdigit() => {
                let slot = hex.get_mut(n)?;
                *slot = c.to_ascii_uppercase() as u8;
                n += 1;
            }
            _ => return None,
        }
    }
    if n != 12 {
        return None;
    }
    let mut out = String::with_capacity(17);
    for (i, pair) in hex.chunks(2).enumerate() {
        if i > 0 {
            out.push(':');
        }
        for b in pair {
            out.push(char::from(*b));
        }
    }
    Some(out)
}

/// Normalise a serial number for matching: trimmed, upper-case; a GPON serial in its
/// vendor-id form (`TPLG1A2B3C4D`: four letters + eight hex digits) becomes its hex form
/// (`54504C471A2B3C4D`), so both spellings of the same ONT compare equal. `None` if empty.
pub fn normalize_serial(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let upper = s.to_ascii_uppercase();
    let bytes = upper.as_bytes();
    if bytes.len() == 12
        && bytes.iter().take(4).all(u8::is_ascii_uppercase)
        && bytes.iter().skip(4).all(u8::is_ascii_hexdigit)
    {
        let mut out = String::with_capacity(16);
        for b in bytes.iter().take(4) {
            out.push_str(&format!("{b:02X}"));
        }
        out.push_str(upper.get(4..).unwrap_or_default());
        return Some(out);
    }
    Some(upper)
}

/// Parameters that commonly carry the device's own MAC address, per data model. Object paths
/// (ending in `.`) are refreshed whole and every `…MACAddress` below them counts.
pub fn mac_paths(dm: DataModel) -> &'static [&'static str] {
    match dm {
        DataModel::Tr098 => &[
            "InternetGatewayDevice.LANDevice.1.LANEthernetInterfaceConfig.",
            "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.",
        ],
        DataModel::Tr181 => &["Device.Ethernet.Interface.", "Device.Ethernet.Link."],
        DataModel::Unknown => &[],
    }
}

/// Every MAC address found in `(path, value)` pairs whose leaf is `MACAddress` (normalised,
/// deduplicated, in order of appearance).
pub fn macs_in<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (path, value) in params {
        let leaf = path.rsplit('.').next().unwrap_or_default();
        if leaf != "MACAddress" && !leaf.ends_with("MACAddress") {
            continue;
        }
        if let Some(m) = normalize_mac(value) {
            if m != "00:00:00:00:00:00" && !out.contains(&m) {
                out.push(m);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_notations() {
        let want = Some("AA:BB:CC:DD:EE:0F".to_string());
        for s in ["AA:BB:CC:DD:EE:0F", "aa-bb-cc-dd-ee-0f", "aabb.ccdd.ee0f", "aabbccddee0f"] {
            assert_eq!(normalize_mac(s), want, "{s}");
        }
        assert_eq!(normalize_mac("aabbccddee"), None);
        assert_eq!(normalize_mac("aabbccddee0f11"), None);
        assert_eq!(normalize_mac("gg:bb:cc:dd:ee:ff"), None);
        assert_eq!(normalize_mac(""), None);
    }

    #[test]
    fn gpon_serials_compare_equal() {
        let a = normalize_serial("TPLG1A2B3C4D");
        assert_eq!(a.as_deref(), Some("54504C471A2B3C4D"));
        assert_eq!(normalize_serial("54504c471a2b3c4d"), a);
        assert_eq!(normalize_serial("tplg1a2b3c4d"), a);
        assert_eq!(normalize_serial(" ABC-123 ").as_deref(), Some("ABC-123"));
        assert_eq!(normalize_serial("  "), None);
        // Twelve characters that are not the vendor-id form stay as they are.
        assert_eq!(normalize_serial("1234567890AB").as_deref(), Some("1234567890AB"));
    }

    #[test]
    fn finds_macs() {
        let found = macs_in([
            ("Device.Ethernet.Interface.1.MACAddress", "00:11:22:33:44:55"),
            ("Device.Ethernet.Interface.2.MACAddress", "00:00:00:00:00:00"),
            ("Device.Ethernet.Interface.1.Name", "eth0"),
            ("Device.Ethernet.Link.1.MACAddress", "00-11-22-33-44-55"),
        ]);
        assert_eq!(found, vec!["00:11:22:33:44:55".to_string()]);
        assert_eq!(mac_paths(DataModel::Unknown).len(), 0);
    }
}
