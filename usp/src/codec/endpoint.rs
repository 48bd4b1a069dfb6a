//! USP Endpoint IDs (TR-369 "Endpoint Identifier"): `authority-scheme ":" [authority-id] ":"
//! instance-id`, e.g. `os::012345-ABCDEF012345`, `oui:00256D:my-id`, `self::acsd`.

use std::fmt;
use std::str::FromStr;

use super::error::UspError;
use super::limits::{MAX_ENDPOINT_AUTHORITY_CHARS, MAX_ENDPOINT_INSTANCE_CHARS};

/// A validated Endpoint ID.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EndpointId(String);

/// The authority schemes TR-369 defines.
pub const AUTHORITY_SCHEMES: &[&str] =
    &["oui", "cid", "pen", "self", "user", "os", "ops", "uuid", "imei", "proto", "doc"];

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')
}

impl EndpointId {
    /// Validates `id` against the TR-369 rules: a known authority scheme, an authority-id of
    /// the form that scheme requires, and an instance-id of 1–50 unreserved or
    /// percent-encoded characters.
    ///
    /// # Errors
    /// [`UspError::EndpointId`] saying what is wrong.
    pub fn parse(id: &str) -> Result<Self, UspError> {
        let bad = |reason: &'static str| UspError::EndpointId { id: UspError::excerpt(id), reason };
        let mut parts = id.splitn(3, ':');
        let (Some(scheme), Some(authority), Some(instance)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected scheme:authority:instance"));
        };
        if !AUTHORITY_SCHEMES.contains(&scheme) {
            return Err(bad("unknown authority scheme"));
        }
        let hex6 = authority.len() == 6 && authority.bytes().all(|b| b.is_ascii_hexdigit());
        let short =
            authority.len() <= MAX_ENDPOINT_AUTHORITY_CHARS && authority.bytes().all(unreserved);
        let authority_ok = match scheme {
            "oui" | "cid" => hex6,
            "pen" => !authority.is_empty() && authority.bytes().all(|b| b.is_ascii_digit()),
            "self" | "user" | "doc" => short,
            "proto" => short && !authority.contains('.'),
            _ => authority.is_empty(), // os, ops, uuid, imei
        };
        if !authority_ok {
            return Err(bad("invalid authority-id for the scheme"));
        }
        if instance.is_empty() {
            return Err(bad("empty instance-id"));
        }
        let bytes = instance.as_bytes();
        let mut chars = 0;
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex = bytes.get(i + 1..i + 3);
                if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                    return Err(bad("invalid percent-encoding in instance-id"));
                }
                i += 3;
            } else if unreserved(bytes[i]) {
                i += 1;
            } else {
                return Err(bad("instance-id has a character outside the unreserved set"));
            }
            chars += 1;
        }
        if chars > MAX_ENDPOINT_INSTANCE_CHARS {
            return Err(bad("instance-id longer than 50 characters"));
        }
        Ok(Self(id.to_owned()))
    }

    /// The ID as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The authority scheme (`os`, `oui`, `self`, …).
    #[must_use]
    pub fn scheme(&self) -> &str {
        self.0.split(':').next().unwrap_or_default()
    }

    /// True for the `proto` and `doc` schemes, which TR-369 forbids in production.
    #[must_use]
    pub fn is_non_production(&self) -> bool {
        matches!(self.scheme(), "proto" | "doc")
    }
}

impl FromStr for EndpointId {
    type Err = UspError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for EndpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for EndpointId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn valid_ids() {
        for id in [
            "os::012345-ABCDEF012345",
            "ops::00256D-STB-0123456789",
            "oui:00256D:my-unique-bbf-id-42",
            "cid:3AA3F8:my-unique-usp-id-42",
            "pen:3561:my-unique-bbf-id-42",
            "self::my-Agent",
            "self:acs1:controller",
            "user::x",
            "uuid::f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
            "imei::990000862471854",
            "proto::my-Agent",
            "doc::example",
            "os::00D09E-SN%20WITH%20SPACE",
        ] {
            let parsed = EndpointId::parse(id).unwrap();
            assert_eq!(parsed.as_str(), id);
        }
        assert_eq!(EndpointId::parse("os::A-1").unwrap().scheme(), "os");
        assert!(EndpointId::parse("proto::x").unwrap().is_non_production());
        assert!(!EndpointId::parse("self::x").unwrap().is_non_production());
    }

    #[test]
    fn invalid_ids() {
        for id in [
            "",
            "os",
            "os:",
            "os::",
            "foo::x",
            "OS::x",
            "oui:0025:x",
            "oui:00256G:x",
            "pen::x",
            "pen:12a:x",
            "os:abc:x",
            "self:1234567:x",
            "proto:a.b:x",
            "os::has space",
            "os::a:b",
            "os::bad%2",
            "os::bad%zz",
            "os::é",
            "os::tilde~",
        ] {
            let err = EndpointId::parse(id).unwrap_err();
            assert!(matches!(err, UspError::EndpointId { .. }), "{id:?}: {err}");
        }
    }

    #[test]
    fn instance_length_limit() {
        let at = format!("self::{}", "a".repeat(MAX_ENDPOINT_INSTANCE_CHARS));
        assert!(EndpointId::parse(&at).is_ok());
        let at_encoded = format!("self::%41{}", "a".repeat(MAX_ENDPOINT_INSTANCE_CHARS - 1));
        assert!(EndpointId::parse(&at_encoded).is_ok());
        let over = format!("self::{}", "a".repeat(MAX_ENDPOINT_INSTANCE_CHARS + 1));
        assert!(EndpointId::parse(&over).is_err());
    }
}
