//! USP protocol versions and their negotiation.
//!
//! The controller offers [`CONTROLLER_VERSIONS`] in GetSupportedProtocol; the agent answers
//! with its own list (`"1.0,1.1,1.2,1.3"`); [`negotiate`] picks the highest version both
//! speak, which then goes into every outgoing Record's `version`. Until that is known,
//! [`reply_version`] answers in the version of the Record being answered.

use std::fmt;
use std::str::FromStr;

use super::error::UspError;
use super::limits::MAX_VERSION_LIST_ENTRIES;

/// A USP protocol version `major.minor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UspVersion {
    /// Major version (1 for every published USP).
    pub major: u16,
    /// Minor version.
    pub minor: u16,
}

impl UspVersion {
    /// USP 1.0.
    pub const V1_0: Self = Self::new(1, 0);
    /// USP 1.1.
    pub const V1_1: Self = Self::new(1, 1);
    /// USP 1.2.
    pub const V1_2: Self = Self::new(1, 2);
    /// USP 1.3.
    pub const V1_3: Self = Self::new(1, 3);
    /// USP 1.4, the version of this crate's schema.
    pub const V1_4: Self = Self::new(1, 4);

    /// A version from its parts.
    #[must_use]
    pub const fn new(major: u16, minor: u16) -> Self {
        Self { major, minor }
    }

    /// Parses `"1.3"`; surrounding whitespace and a patch component (`"1.3.1"`) are accepted
    /// and ignored.
    ///
    /// # Errors
    /// [`UspError::Version`] if the text is not `digits.digits[.digits]`.
    pub fn parse(text: &str) -> Result<Self, UspError> {
        let bad = || UspError::Version(UspError::excerpt(text));
        let mut parts = text.trim().split('.');
        let number = |p: Option<&str>| -> Result<u16, UspError> {
            match p {
                Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                    p.parse().map_err(|_| bad())
                }
                _ => Err(bad()),
            }
        };
        let major = number(parts.next())?;
        let minor = number(parts.next())?;
        if let Some(patch) = parts.next() {
            number(Some(patch))?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Self { major, minor })
    }
}

impl FromStr for UspVersion {
    type Err = UspError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for UspVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The versions this controller speaks, oldest first. The 1.4 schema is wire-compatible with
/// every earlier 1.x for the messages the controller uses.
pub const CONTROLLER_VERSIONS: &[UspVersion] =
    &[UspVersion::V1_0, UspVersion::V1_1, UspVersion::V1_2, UspVersion::V1_3, UspVersion::V1_4];

/// `versions` as a GetSupportedProtocol list, e.g. `"1.0,1.1,1.2,1.3,1.4"`.
#[must_use]
pub fn version_list(versions: &[UspVersion]) -> String {
    versions.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

/// Parses a comma-separated version list leniently: entries that do not parse are skipped,
/// and only the first [`MAX_VERSION_LIST_ENTRIES`] entries are looked at.
#[must_use]
pub fn parse_version_list(list: &str) -> Vec<UspVersion> {
    list.split(',')
        .take(MAX_VERSION_LIST_ENTRIES)
        .filter_map(|entry| UspVersion::parse(entry).ok())
        .collect()
}

/// The highest version in both the agent's list (as sent in GetSupportedProtocolResp or
/// OnBoardRequest) and `ours`; `None` if they share none.
#[must_use]
pub fn negotiate(agent_versions: &str, ours: &[UspVersion]) -> Option<UspVersion> {
    parse_version_list(agent_versions).into_iter().filter(|v| ours.contains(v)).max()
}

/// The version to stamp on a reply to a Record of version `received` before negotiation:
/// the received version if we speak it, otherwise our highest version below it, otherwise our
/// lowest. An unparsable `received` gets our lowest version.
#[must_use]
pub fn reply_version(received: &str, ours: &[UspVersion]) -> UspVersion {
    let lowest = ours.iter().min().copied().unwrap_or(UspVersion::V1_0);
    match UspVersion::parse(received) {
        Ok(v) => ours.iter().filter(|o| **o <= v).max().copied().unwrap_or(lowest),
        Err(_) => lowest,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn parse_and_display() {
        assert_eq!(UspVersion::parse("1.3").unwrap(), UspVersion::V1_3);
        assert_eq!(UspVersion::parse(" 1.2 ").unwrap(), UspVersion::V1_2);
        assert_eq!(UspVersion::parse("1.3.1").unwrap(), UspVersion::V1_3);
        assert_eq!("1.4".parse::<UspVersion>().unwrap().to_string(), "1.4");
        for bad in ["", "1", "1.", ".1", "a.b", "1.2.3.4", "1.-1", "99999.0", "1,2"] {
            assert!(UspVersion::parse(bad).is_err(), "{bad:?}");
        }
        assert!(UspVersion::parse("1.10").unwrap() > UspVersion::V1_4);
    }

    #[test]
    fn negotiation_picks_highest_common() {
        assert_eq!(negotiate("1.0,1.1,1.2,1.3", CONTROLLER_VERSIONS), Some(UspVersion::V1_3));
        assert_eq!(negotiate("1.3, 1.0 ,1.5", CONTROLLER_VERSIONS), Some(UspVersion::V1_3));
        assert_eq!(negotiate("1.4,1.5,1.6", CONTROLLER_VERSIONS), Some(UspVersion::V1_4));
        assert_eq!(negotiate("2.0", CONTROLLER_VERSIONS), None);
        assert_eq!(negotiate("", CONTROLLER_VERSIONS), None);
        assert_eq!(negotiate("garbage,1.1", CONTROLLER_VERSIONS), Some(UspVersion::V1_1));
        assert_eq!(version_list(CONTROLLER_VERSIONS), "1.0,1.1,1.2,1.3,1.4");
    }

    #[test]
    fn version_list_limit() {
        let at = vec!["1.1"; MAX_VERSION_LIST_ENTRIES - 1].join(",") + ",1.3";
        assert_eq!(parse_version_list(&at).len(), MAX_VERSION_LIST_ENTRIES);
        assert_eq!(negotiate(&at, CONTROLLER_VERSIONS), Some(UspVersion::V1_3));
        let over = vec!["1.1"; MAX_VERSION_LIST_ENTRIES].join(",") + ",1.3";
        assert_eq!(parse_version_list(&over).len(), MAX_VERSION_LIST_ENTRIES);
        assert_eq!(negotiate(&over, CONTROLLER_VERSIONS), Some(UspVersion::V1_1));
    }

    #[test]
    fn reply_version_before_negotiation() {
        assert_eq!(reply_version("1.2", CONTROLLER_VERSIONS), UspVersion::V1_2);
        assert_eq!(reply_version("1.5", CONTROLLER_VERSIONS), UspVersion::V1_4);
        assert_eq!(reply_version("0.9", CONTROLLER_VERSIONS), UspVersion::V1_0);
        assert_eq!(reply_version("", CONTROLLER_VERSIONS), UspVersion::V1_0);
    }
}
