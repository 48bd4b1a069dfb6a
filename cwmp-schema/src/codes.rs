//! Enumerations with a wire form: protocol versions, event codes, value types, fault codes.

use std::borrow::Cow;
use std::fmt;

/// A CWMP namespace version, `urn:dslforum-org:cwmp-1-N`.
///
/// The official schemas define only `cwmp-1-0` .. `cwmp-1-2` (protocol 1.3 and 1.4 reuse
/// `cwmp-1-2`), but CPEs in the field also use `cwmp-1-3` and `cwmp-1-4`; all five are
/// accepted, and an ACS should answer in the namespace the CPE used.
///
/// `Default` is [`CwmpVersion::V1_0`]: the namespace every CPE understands, used when a
/// message carries no CWMP namespace at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum CwmpVersion {
    /// `urn:dslforum-org:cwmp-1-0`
    #[default]
    V1_0,
    /// `urn:dslforum-org:cwmp-1-1`
    V1_1,
    /// `urn:dslforum-org:cwmp-1-2`
    V1_2,
    /// `urn:dslforum-org:cwmp-1-3`
    V1_3,
    /// `urn:dslforum-org:cwmp-1-4`
    V1_4,
}

impl CwmpVersion {
    /// All versions, oldest first.
    pub const ALL: [CwmpVersion; 5] = [
        CwmpVersion::V1_0,
        CwmpVersion::V1_1,
        CwmpVersion::V1_2,
        CwmpVersion::V1_3,
        CwmpVersion::V1_4,
    ];

    /// The namespace URI, e.g. `"urn:dslforum-org:cwmp-1-2"`.
    pub fn namespace(self) -> &'static str {
        match self {
            CwmpVersion::V1_0 => "urn:dslforum-org:cwmp-1-0",
            CwmpVersion::V1_1 => "urn:dslforum-org:cwmp-1-1",
            CwmpVersion::V1_2 => "urn:dslforum-org:cwmp-1-2",
            CwmpVersion::V1_3 => "urn:dslforum-org:cwmp-1-3",
            CwmpVersion::V1_4 => "urn:dslforum-org:cwmp-1-4",
        }
    }

    /// Parse a namespace URI (surrounding whitespace ignored; the `urn:dslforum-org:` part is
    /// matched case-insensitively).
    pub fn from_namespace(ns: &str) -> Option<Self> {
        let ns = ns.trim().as_bytes();
        let prefix = b"urn:dslforum-org:cwmp-1-";
        if ns.len() != prefix.len() + 1 || !ns[..prefix.len()].eq_ignore_ascii_case(prefix) {
            return None;
        }
        match ns[prefix.len()] {
            b'0' => Some(CwmpVersion::V1_0),
            b'1' => Some(CwmpVersion::V1_1),
            b'2' => Some(CwmpVersion::V1_2),
            b'3' => Some(CwmpVersion::V1_3),
            b'4' => Some(CwmpVersion::V1_4),
            _ => None,
        }
    }

    /// The protocol version text used in `SupportedCWMPVersions`/`UseCWMPVersion`, e.g. `"1.4"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CwmpVersion::V1_0 => "1.0",
            CwmpVersion::V1_1 => "1.1",
            CwmpVersion::V1_2 => "1.2",
            CwmpVersion::V1_3 => "1.3",
            CwmpVersion::V1_4 => "1.4",
        }
    }
}

impl fmt::Display for CwmpVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.namespace())
    }
}

/// An Inform event code (TR-069 section 3.7.1.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventCode {
    /// `0 BOOTSTRAP`
    Bootstrap,
    /// `1 BOOT`
    Boot,
    /// `2 PERIODIC`
    Periodic,
    /// `3 SCHEDULED`
    Scheduled,
    /// `4 VALUE CHANGE`
    ValueChange,
    /// `5 KICKED`
    Kicked,
    /// `6 CONNECTION REQUEST`
    ConnectionRequest,
    /// `7 TRANSFER COMPLETE`
    TransferComplete,
    /// `8 DIAGNOSTICS COMPLETE`
    DiagnosticsComplete,
    /// `9 REQUEST DOWNLOAD`
    RequestDownload,
    /// `10 AUTONOMOUS TRANSFER COMPLETE`
    AutonomousTransferComplete,
    /// `11 DU STATE CHANGE COMPLETE`
    DuStateChangeComplete,
    /// `12 AUTONOMOUS DU STATE CHANGE COMPLETE`
    AutonomousDuStateChangeComplete,
    /// `13 WAKEUP`
    Wakeup,
    /// `14 HEARTBEAT`
    Heartbeat,
    /// `M <method>`: `M Reboot` is `Method("Reboot")`.
    Method(String),
    /// A vendor event `X <OUI> <event>`, kept verbatim (including the `X `).
    Vendor(String),
    /// Anything else, kept verbatim (trimmed).
    Other(String),
}

const STANDARD_EVENTS: [(u8, &str, EventCode); 15] = [
    (0, "BOOTSTRAP", EventCode::Bootstrap),
    (1, "BOOT", EventCode::Boot),
    (2, "PERIODIC", EventCode::Periodic),
    (3, "SCHEDULED", EventCode::Scheduled),
    (4, "VALUE CHANGE", EventCode::ValueChange),
    (5, "KICKED", EventCode::Kicked),
    (6, "CONNECTION REQUEST", EventCode::ConnectionRequest),
    (7, "TRANSFER COMPLETE", EventCode::TransferComplete),
    (8, "DIAGNOSTICS COMPLETE", EventCode::DiagnosticsComplete),
    (9, "REQUEST DOWNLOAD", EventCode::RequestDownload),
    (10, "AUTONOMOUS TRANSFER COMPLETE", EventCode::AutonomousTransferComplete),
    (11, "DU STATE CHANGE COMPLETE", EventCode::DuStateChangeComplete),
    (12, "AUTONOMOUS DU STATE CHANGE COMPLETE", EventCode::AutonomousDuStateChangeComplete),
    (13, "WAKEUP", EventCode::Wakeup),
    (14, "HEARTBEAT", EventCode::Heartbeat),
];

impl EventCode {
    /// The wire form, e.g. `"0 BOOTSTRAP"`, `"M Reboot"`.
    pub fn as_wire(&self) -> Cow<'_, str> {
        match self {
            EventCode::Bootstrap => Cow::Borrowed("0 BOOTSTRAP"),
            EventCode::Boot => Cow::Borrowed("1 BOOT"),
            EventCode::Periodic => Cow::Borrowed("2 PERIODIC"),
            EventCode::Scheduled => Cow::Borrowed("3 SCHEDULED"),
            EventCode::ValueChange => Cow::Borrowed("4 VALUE CHANGE"),
            EventCode::Kicked => Cow::Borrowed("5 KICKED"),
            EventCode::ConnectionRequest => Cow::Borrowed("6 CONNECTION REQUEST"),
            EventCode::TransferComplete => Cow::Borrowed("7 TRANSFER COMPLETE"),
            EventCode::DiagnosticsComplete => Cow::Borrowed("8 DIAGNOSTICS COMPLETE"),
            EventCode::RequestDownload => Cow::Borrowed("9 REQUEST DOWNLOAD"),
            EventCode::AutonomousTransferComplete => {
                Cow::Borrowed("10 AUTONOMOUS TRANSFER COMPLETE")
            }
            EventCode::DuStateChangeComplete => Cow::Borrowed("11 DU STATE CHANGE COMPLETE"),
            EventCode::AutonomousDuStateChangeComplete => {
                Cow::Borrowed("12 AUTONOMOUS DU STATE CHANGE COMPLETE")
            }
            EventCode::Wakeup => Cow::Borrowed("13 WAKEUP"),
            EventCode::Heartbeat => Cow::Borrowed("14 HEARTBEAT"),
            EventCode::Method(m) => Cow::Owned(format!("M {m}")),
            EventCode::Vendor(v) | EventCode::Other(v) => Cow::Borrowed(v),
        }
    }

    /// Parse an event code tolerantly: surrounding whitespace is trimmed, runs of inner
    /// whitespace count as one space, names are matched case-insensitively, numbers may be
    /// zero-padded (`"02 PERIODIC"`), and a bare number or a bare standard name is accepted.
    /// `M x` becomes [`EventCode::Method`]; `X ...` is kept verbatim as [`EventCode::Vendor`].
    pub fn parse(raw: &str) -> Self {
        let s = raw.trim();
        let bytes = s.as_bytes();
        if bytes.len() >= 2 && (bytes[0] == b'M' || bytes[0] == b'm') && bytes[1] == b' ' {
            return EventCode::Method(s[2..].trim().to_owned());
        }
        if bytes.len() >= 2 && (bytes[0] == b'X' || bytes[0] == b'x') && bytes[1] == b' ' {
            return EventCode::Vendor(s.to_owned());
        }
        let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
        let name_part = s[digits..].trim();
        if digits > 0 {
            if let Ok(n) = s[..digits].parse::<u32>() {
                if let Some((_, name, code)) =
                    STANDARD_EVENTS.iter().find(|(num, _, _)| u32::from(*num) == n)
                {
                    if name_part.is_empty() || words_eq(name_part, name) {
                        return code.clone();
                    }
                }
            }
        } else if !name_part.is_empty() {
            if let Some((_, _, code)) =
                STANDARD_EVENTS.iter().find(|(_, n, _)| words_eq(name_part, n))
            {
                return code.clone();
            }
        }
        EventCode::Other(s.to_owned())
    }

    /// True for `0 BOOTSTRAP`.
    pub fn is_bootstrap(&self) -> bool {
        matches!(self, EventCode::Bootstrap)
    }
}

/// Compare `a` to the canonical name `b`, ignoring ASCII case and treating any run of
/// whitespace in `a` as one space.
fn words_eq(a: &str, b: &str) -> bool {
    let mut words_a = a.split_whitespace();
    let mut words_b = b.split(' ');
    loop {
        match (words_a.next(), words_b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if x.eq_ignore_ascii_case(y) => {}
            _ => return false,
        }
    }
}

impl fmt::Display for EventCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_wire())
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for EventCode {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        // Go through the parser so the value is one the decoder can produce.
        let pick: u8 = u.int_in_range(0..=17)?;
        Ok(match pick {
            0..=14 => STANDARD_EVENTS[usize::from(pick)].2.clone(),
            15 => EventCode::parse(&format!("M {}", String::arbitrary(u)?)),
            16 => EventCode::parse(&format!("X {}", String::arbitrary(u)?)),
            _ => EventCode::parse(&String::arbitrary(u)?),
        })
    }
}

/// The `xsi:type` of a parameter value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// `xsd:string`
    String,
    /// `xsd:int`
    Int,
    /// `xsd:unsignedInt`
    UnsignedInt,
    /// `xsd:long`
    Long,
    /// `xsd:unsignedLong`
    UnsignedLong,
    /// `xsd:boolean` (`true`/`false`/`1`/`0`)
    Boolean,
    /// `xsd:dateTime`
    DateTime,
    /// `xsd:base64` / `xsd:base64Binary` / `soap-enc:base64`
    Base64,
    /// `xsd:hexBinary`
    HexBinary,
    /// Any other type, kept as sent (trimmed, prefix included, e.g. `"cwmp:IPAddress"`).
    Other(String),
}

impl ValueType {
    /// The prefixed form written on the wire, e.g. `"xsd:string"`.
    pub fn as_xsd(&self) -> &str {
        match self {
            ValueType::String => "xsd:string",
            ValueType::Int => "xsd:int",
            ValueType::UnsignedInt => "xsd:unsignedInt",
            ValueType::Long => "xsd:long",
            ValueType::UnsignedLong => "xsd:unsignedLong",
            ValueType::Boolean => "xsd:boolean",
            ValueType::DateTime => "xsd:dateTime",
            ValueType::Base64 => "xsd:base64",
            ValueType::HexBinary => "xsd:hexBinary",
            ValueType::Other(s) => s,
        }
    }

    /// The local type name, e.g. `"string"`.
    pub fn local_name(&self) -> &str {
        match self {
            ValueType::Other(s) => s.rsplit(':').next().unwrap_or(s),
            other => other.as_xsd().trim_start_matches("xsd:"),
        }
    }

    /// Parse `"xsd:int"`, `"int"`, `"SOAP-ENC:base64"` ...: any prefix is dropped and the
    /// local name is matched case-insensitively. Unknown names become [`ValueType::Other`]
    /// holding the trimmed text as sent.
    pub fn parse(raw: &str) -> Self {
        let s = raw.trim();
        let local = match s.bytes().rposition(|b| b == b':') {
            Some(i) => &s[i + 1..],
            None => s,
        };
        // Exact spellings first (the common case), then any case.
        match local {
            "string" => return ValueType::String,
            "int" => return ValueType::Int,
            "unsignedInt" => return ValueType::UnsignedInt,
            "boolean" => return ValueType::Boolean,
            "dateTime" => return ValueType::DateTime,
            "long" => return ValueType::Long,
            "unsignedLong" => return ValueType::UnsignedLong,
            _ => {}
        }
        let known = [
            ("string", ValueType::String),
            ("int", ValueType::Int),
            ("unsignedInt", ValueType::UnsignedInt),
            ("long", ValueType::Long),
            ("unsignedLong", ValueType::UnsignedLong),
            ("boolean", ValueType::Boolean),
            ("dateTime", ValueType::DateTime),
            ("base64", ValueType::Base64),
            ("base64Binary", ValueType::Base64),
            ("hexBinary", ValueType::HexBinary),
        ];
        for (name, vt) in known {
            if local.eq_ignore_ascii_case(name) {
                return vt;
            }
        }
        ValueType::Other(s.to_owned())
    }

    /// True for `xsd:string` and unknown types, whose text is kept exactly as sent.
    pub fn is_textual(&self) -> bool {
        matches!(self, ValueType::String | ValueType::Other(_))
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_xsd())
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for ValueType {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let pick: u8 = u.int_in_range(0..=9)?;
        Ok(match pick {
            0 => ValueType::String,
            1 => ValueType::Int,
            2 => ValueType::UnsignedInt,
            3 => ValueType::Long,
            4 => ValueType::UnsignedLong,
            5 => ValueType::Boolean,
            6 => ValueType::DateTime,
            7 => ValueType::Base64,
            8 => ValueType::HexBinary,
            _ => ValueType::parse(&String::arbitrary(u)?),
        })
    }
}

/// Parse an `xsd:boolean` tolerantly: `true`/`false`/`1`/`0`, any case, trimmed.
pub fn parse_bool(raw: &str) -> Option<bool> {
    let s = raw.trim();
    if s == "1" || s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s == "0" || s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

macro_rules! fault_codes {
    ($( $(#[$doc:meta])* $name:ident = $code:literal, $side:literal, $meaning:literal; )*) => {
        /// A CWMP fault code (TR-069 A.5): ACS 8000–8006, CPE 9000–9032, the vendor ranges,
        /// 0 for "no fault" in transfer results, and anything else preserved as `Unknown`.
        ///
        /// `FaultCode::from_code(c).code() == c` for every `c`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum FaultCode {
            /// 0: no fault (TransferComplete / DUStateChangeComplete success).
            NoFault,
            $( $(#[$doc])* $name, )*
            /// 8800–8899: ACS vendor fault.
            AcsVendor(u32),
            /// 9800–9899: CPE vendor fault.
            CpeVendor(u32),
            /// Any other code, kept as sent.
            Unknown(u32),
        }

        impl FaultCode {
            /// The numeric code.
            pub fn code(&self) -> u32 {
                match self {
                    FaultCode::NoFault => 0,
                    $( FaultCode::$name => $code, )*
                    FaultCode::AcsVendor(c) | FaultCode::CpeVendor(c) | FaultCode::Unknown(c) => *c,
                }
            }

            /// The variant for a numeric code.
            pub fn from_code(code: u32) -> Self {
                match code {
                    0 => FaultCode::NoFault,
                    $( $code => FaultCode::$name, )*
                    8800..=8899 => FaultCode::AcsVendor(code),
                    9800..=9899 => FaultCode::CpeVendor(code),
                    other => FaultCode::Unknown(other),
                }
            }

            /// The meaning given by the specification.
            pub fn meaning(&self) -> &'static str {
                match self {
                    FaultCode::NoFault => "No fault",
                    $( FaultCode::$name => $meaning, )*
                    FaultCode::AcsVendor(_) => "ACS vendor-specific fault",
                    FaultCode::CpeVendor(_) => "CPE vendor-specific fault",
                    FaultCode::Unknown(_) => "Unknown fault code",
                }
            }

            /// The SOAP `faultcode` TR-069 associates with this code: `"Client"` when the
            /// request was at fault, `"Server"` otherwise (receivers may ignore it).
            pub fn soap_faultcode(&self) -> &'static str {
                match self {
                    $( FaultCode::$name => $side, )*
                    _ => "Server",
                }
            }
        }
    };
}

fault_codes! {
    /// 8000
    MethodNotSupported = 8000, "Server", "Method not supported";
    /// 8001
    RequestDenied = 8001, "Server", "Request denied (no reason specified)";
    /// 8002
    InternalError = 8002, "Server", "Internal error";
    /// 8003
    InvalidArguments = 8003, "Client", "Invalid arguments";
    /// 8004
    ResourcesExceeded = 8004, "Server", "Resources exceeded";
    /// 8005
    RetryRequest = 8005, "Server", "Retry request";
    /// 8006
    VersionIncompatible = 8006, "Client", "ACS version incompatible with CPE";
    /// 9000
    CpeMethodNotSupported = 9000, "Server", "Method not supported";
    /// 9001
    CpeRequestDenied = 9001, "Server", "Request denied (no reason specified)";
    /// 9002
    CpeInternalError = 9002, "Server", "Internal error";
    /// 9003
    CpeInvalidArguments = 9003, "Client", "Invalid arguments";
    /// 9004
    CpeResourcesExceeded = 9004, "Server", "Resources exceeded";
    /// 9005
    InvalidParameterName = 9005, "Client", "Invalid parameter name";
    /// 9006
    InvalidParameterType = 9006, "Client", "Invalid parameter type";
    /// 9007
    InvalidParameterValue = 9007, "Client", "Invalid parameter value";
    /// 9008
    NonWritableParameter = 9008, "Client", "Attempt to set a non-writable parameter";
    /// 9009
    NotificationRequestRejected = 9009, "Server", "Notification request rejected";
    /// 9010
    FileTransferFailure = 9010, "Server", "File transfer failure";
    /// 9011
    UploadFailure = 9011, "Server", "Upload failure";
    /// 9012
    FileTransferServerAuthenticationFailure = 9012, "Server", "File transfer server authentication failure";
    /// 9013
    UnsupportedFileTransferProtocol = 9013, "Server", "Unsupported protocol for file transfer";
    /// 9014
    FileTransferJoinMulticastFailure = 9014, "Server", "File transfer failure: unable to join multicast group";
    /// 9015
    FileTransferContactServerFailure = 9015, "Server", "File transfer failure: unable to contact file server";
    /// 9016
    FileTransferAccessFileFailure = 9016, "Server", "File transfer failure: unable to access file";
    /// 9017
    FileTransferIncompleteDownload = 9017, "Server", "File transfer failure: unable to complete download";
    /// 9018
    FileTransferFileCorrupted = 9018, "Server", "File transfer failure: file corrupted";
    /// 9019
    FileTransferFileAuthenticationFailure = 9019, "Server", "File transfer failure: file authentication failure";
    /// 9020
    FileTransferWindowExceeded = 9020, "Server", "File transfer failure: unable to complete download within specified time windows";
    /// 9021
    CancelationNotPermitted = 9021, "Client", "Cancelation of file transfer not permitted in current transfer state";
    /// 9022
    InvalidUuidFormat = 9022, "Client", "Invalid UUID format";
    /// 9023
    UnknownExecutionEnvironment = 9023, "Client", "Unknown execution environment";
    /// 9024
    DisabledExecutionEnvironment = 9024, "Client", "Disabled execution environment";
    /// 9025
    DeploymentUnitExecutionEnvironmentMismatch = 9025, "Client", "Deployment unit to execution environment mismatch";
    /// 9026
    DuplicateDeploymentUnit = 9026, "Client", "Duplicate deployment unit";
    /// 9027
    SystemResourcesExceeded = 9027, "Server", "System resources exceeded";
    /// 9028
    UnknownDeploymentUnit = 9028, "Client", "Unknown deployment unit";
    /// 9029
    InvalidDeploymentUnitState = 9029, "Client", "Invalid deployment unit state";
    /// 9030
    InvalidDeploymentUnitUpdateDowngrade = 9030, "Client", "Invalid deployment unit update: downgrade not permitted";
    /// 9031
    InvalidDeploymentUnitUpdateVersionNotSpecified = 9031, "Client", "Invalid deployment unit update: version not specified";
    /// 9032
    InvalidDeploymentUnitUpdateVersionExists = 9032, "Client", "Invalid deployment unit update: version already exists";
}

impl FaultCode {
    /// True for 8000–8899 (faults an ACS sends).
    pub fn is_acs_fault(&self) -> bool {
        (8000..=8899).contains(&self.code())
    }

    /// True for 9000–9899 (faults a CPE sends).
    pub fn is_cpe_fault(&self) -> bool {
        (9000..=9899).contains(&self.code())
    }
}

impl fmt::Display for FaultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code(), self.meaning())
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for FaultCode {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(FaultCode::from_code(u32::arbitrary(u)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_code_round_trips_every_value_in_range() {
        for c in (0..=10_000).chain([u32::MAX, 12_345]) {
            assert_eq!(FaultCode::from_code(c).code(), c);
        }
        assert_eq!(FaultCode::from_code(8000), FaultCode::MethodNotSupported);
        assert_eq!(FaultCode::from_code(8006), FaultCode::VersionIncompatible);
        assert_eq!(FaultCode::from_code(8850), FaultCode::AcsVendor(8850));
        assert_eq!(FaultCode::from_code(9005), FaultCode::InvalidParameterName);
        assert_eq!(FaultCode::from_code(9032), FaultCode::InvalidDeploymentUnitUpdateVersionExists);
        assert_eq!(FaultCode::from_code(9033), FaultCode::Unknown(9033));
        assert_eq!(FaultCode::from_code(9899), FaultCode::CpeVendor(9899));
        assert_eq!(FaultCode::from_code(9900), FaultCode::Unknown(9900));
        assert_eq!(FaultCode::InvalidArguments.soap_faultcode(), "Client");
        assert_eq!(FaultCode::InternalError.soap_faultcode(), "Server");
        for c in 9000..=9032 {
            assert!(!matches!(FaultCode::from_code(c), FaultCode::Unknown(_)));
            assert!(!FaultCode::from_code(c).meaning().is_empty());
        }
    }

    #[test]
    fn event_codes_parse_tolerantly() {
        assert_eq!(EventCode::parse("0 BOOTSTRAP"), EventCode::Bootstrap);
        assert_eq!(EventCode::parse(" 02  periodic \n"), EventCode::Periodic);
        assert_eq!(EventCode::parse("4"), EventCode::ValueChange);
        assert_eq!(EventCode::parse("VALUE CHANGE"), EventCode::ValueChange);
        assert_eq!(EventCode::parse("14 HEARTBEAT"), EventCode::Heartbeat);
        assert_eq!(EventCode::parse("M Reboot"), EventCode::Method("Reboot".into()));
        assert_eq!(
            EventCode::parse("X 00D09E MyEvent"),
            EventCode::Vendor("X 00D09E MyEvent".into())
        );
        assert_eq!(EventCode::parse("15 FOO"), EventCode::Other("15 FOO".into()));
        assert_eq!(EventCode::parse("1 BOOTSTRAP"), EventCode::Other("1 BOOTSTRAP".into()));
        for (_, _, code) in STANDARD_EVENTS.iter() {
            assert_eq!(&EventCode::parse(&code.as_wire()), code);
        }
    }

    #[test]
    fn value_types_and_booleans() {
        assert_eq!(ValueType::parse("xsd:int"), ValueType::Int);
        assert_eq!(ValueType::parse("int"), ValueType::Int);
        assert_eq!(ValueType::parse("SOAP-ENC:base64"), ValueType::Base64);
        assert_eq!(ValueType::parse("xs:UNSIGNEDINT"), ValueType::UnsignedInt);
        assert_eq!(ValueType::parse("cwmp:IPAddress"), ValueType::Other("cwmp:IPAddress".into()));
        assert_eq!(parse_bool(" TRUE "), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("yes"), None);
        assert_eq!(
            CwmpVersion::from_namespace("urn:dslforum-org:cwmp-1-4"),
            Some(CwmpVersion::V1_4)
        );
        assert_eq!(CwmpVersion::from_namespace("urn:dslforum-org:cwmp-1-5"), None);
        for v in CwmpVersion::ALL {
            assert_eq!(CwmpVersion::from_namespace(v.namespace()), Some(v));
        }
    }
}
