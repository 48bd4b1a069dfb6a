//! Things the decoder tolerated. None of them stops decoding.

use std::fmt;

/// A quirk the decoder tolerated while decoding an envelope.
///
/// `element` fields name the element (local name) where the quirk was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// The envelope has no SOAP `Header`.
    MissingHeader,
    /// The header has no `cwmp:ID`.
    MissingId,
    /// An `arrayType` count differs from the number of entries present.
    ArrayCountMismatch {
        /// The array element, e.g. `ParameterList`.
        element: String,
        /// The count in `arrayType`.
        declared: usize,
        /// Entries actually present.
        actual: usize,
    },
    /// An `arrayType` count had leading zeros, e.g. `EventStruct[03]`.
    ZeroPaddedCount {
        /// The array element.
        element: String,
    },
    /// A number had leading zeros, e.g. `<RetryCount>05</RetryCount>`.
    ZeroPaddedNumber {
        /// The element.
        element: String,
    },
    /// An array carried no usable `arrayType` attribute.
    MissingArrayType {
        /// The array element.
        element: String,
    },
    /// An array was typed with `xsi:type="SOAP-ENC:Array"`.
    SoapEncArrayTyped {
        /// The array element.
        element: String,
    },
    /// Children of a structure were not in schema order.
    OutOfOrder {
        /// The structure element.
        element: String,
    },
    /// The 1999 XML Schema namespaces were declared.
    Xsd1999Namespace,
    /// The Envelope element is in the SOAP *encoding* namespace (the `soap` prefix bound to
    /// `http://schemas.xmlsoap.org/soap/encoding/`).
    EnvelopeInEncodingNamespace,
    /// The Envelope element's prefix is not bound to any namespace.
    UndeclaredEnvelopeNamespace,
    /// No `urn:dslforum-org:cwmp-1-N` namespace was found; version 1.0 was assumed.
    MissingCwmpNamespace,
    /// A dateTime has no time zone; the raw text is kept.
    DateTimeWithoutZone {
        /// The element.
        element: String,
        /// The raw text.
        raw: String,
    },
    /// A dateTime is not valid `xsd:dateTime`; the raw text is kept.
    InvalidDateTime {
        /// The element.
        element: String,
        /// The raw text.
        raw: String,
    },
    /// A parameter name started with `.`; the dot was stripped.
    LeadingDotName {
        /// The name as sent.
        name: String,
    },
    /// An `M <method>` event carried an empty CommandKey.
    EmptyCommandKey {
        /// The event code as sent.
        event: String,
    },
    /// A required element was missing; its default value was used.
    MissingElement {
        /// The parent structure.
        parent: String,
        /// The missing element.
        element: String,
    },
    /// An element not in the schema was ignored.
    UnexpectedElement {
        /// The parent structure.
        parent: String,
        /// The unexpected element.
        element: String,
    },
    /// A number did not parse; 0 was used.
    InvalidNumber {
        /// The element.
        element: String,
        /// The raw text.
        raw: String,
    },
    /// A boolean was not `true`/`false`/`1`/`0`; false was used.
    InvalidBoolean {
        /// The element.
        element: String,
        /// The raw text.
        raw: String,
    },
    /// A `Value` had no `xsi:type`; `xsd:string` was assumed.
    MissingValueType {
        /// The parameter name.
        name: String,
    },
    /// An entity reference other than the five XML ones was kept verbatim.
    UnknownEntity {
        /// The entity name.
        entity: String,
    },
    /// The body was not UTF-8 and was decoded from the named charset.
    Transcoded {
        /// The charset used, e.g. `ISO-8859-1`.
        charset: String,
    },
    /// Whitespace containing a line break around a value was removed (reported once per
    /// envelope, for the first element where it happened).
    WhitespaceTrimmed {
        /// The element.
        element: String,
    },
    /// The SOAP Body held more than one element; only the first was decoded.
    ExtraBodyElements,
    /// More warnings were raised than [`crate::limits::MAX_WARNINGS`]; this many were dropped.
    Truncated {
        /// Dropped warnings.
        dropped: usize,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::MissingHeader => f.write_str("missing soap header"),
            Warning::MissingId => f.write_str("missing cwmp:ID header"),
            Warning::ArrayCountMismatch { element, declared, actual } => {
                write!(f, "{element}: arrayType declares {declared} entries, {actual} present")
            }
            Warning::ZeroPaddedCount { element } => {
                write!(f, "{element}: zero-padded arrayType count")
            }
            Warning::ZeroPaddedNumber { element } => write!(f, "{element}: zero-padded number"),
            Warning::MissingArrayType { element } => write!(f, "{element}: no arrayType"),
            Warning::SoapEncArrayTyped { element } => {
                write!(f, "{element}: typed as soap-enc:Array")
            }
            Warning::OutOfOrder { element } => write!(f, "{element}: children out of order"),
            Warning::Xsd1999Namespace => f.write_str("1999 xml schema namespace"),
            Warning::EnvelopeInEncodingNamespace => {
                f.write_str("envelope prefix bound to the soap encoding namespace")
            }
            Warning::UndeclaredEnvelopeNamespace => f.write_str("envelope namespace undeclared"),
            Warning::MissingCwmpNamespace => f.write_str("no cwmp namespace, assumed cwmp-1-0"),
            Warning::DateTimeWithoutZone { element, raw } => {
                write!(f, "{element}: dateTime without zone {raw:?}")
            }
            Warning::InvalidDateTime { element, raw } => {
                write!(f, "{element}: invalid dateTime {raw:?}")
            }
            Warning::LeadingDotName { name } => {
                write!(f, "parameter name with leading dot {name:?}")
            }
            Warning::EmptyCommandKey { event } => write!(f, "{event}: empty command key"),
            Warning::MissingElement { parent, element } => {
                write!(f, "{parent}: missing {element}")
            }
            Warning::UnexpectedElement { parent, element } => {
                write!(f, "{parent}: unexpected {element}")
            }
            Warning::InvalidNumber { element, raw } => {
                write!(f, "{element}: invalid number {raw:?}")
            }
            Warning::InvalidBoolean { element, raw } => {
                write!(f, "{element}: invalid boolean {raw:?}")
            }
            Warning::MissingValueType { name } => write!(f, "{name}: value without xsi:type"),
            Warning::UnknownEntity { entity } => write!(f, "unknown entity &{entity};"),
            Warning::Transcoded { charset } => write!(f, "decoded from {charset}"),
            Warning::WhitespaceTrimmed { element } => {
                write!(f, "{element}: line breaks around value trimmed")
            }
            Warning::ExtraBodyElements => f.write_str("extra elements in soap body ignored"),
            Warning::Truncated { dropped } => write!(f, "{dropped} more warnings dropped"),
        }
    }
}
