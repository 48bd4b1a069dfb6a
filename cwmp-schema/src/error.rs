//! The crate's error type.

use crate::codes::CwmpVersion;

/// Why an envelope could not be decoded.
///
/// Every variant is the sending device's fault: the bytes are not a usable CWMP message.
/// Where the header `ID` and the CWMP version were already known when decoding failed, they
/// are carried (see [`DecodeError::header_id`] and [`DecodeError::cwmp_version`]) so the
/// engine can still answer with a fault in the right namespace and with the right ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The body element is not a known CWMP method; the ACS answers fault 8000.
    #[error("unknown cwmp method {name:?}")]
    UnknownMethod {
        /// Local name of the element found in the SOAP Body.
        name: String,
        /// The header `ID`, if any.
        id: Option<String>,
        /// The CWMP namespace used, if any.
        version: Option<CwmpVersion>,
    },
    /// The envelope has no SOAP Body.
    #[error("soap envelope has no body")]
    NoBody,
    /// The SOAP Body is empty.
    #[error("soap body is empty")]
    EmptyBody {
        /// The header `ID`, if any.
        id: Option<String>,
        /// The CWMP namespace used, if any.
        version: Option<CwmpVersion>,
    },
    /// The root element is not a SOAP Envelope (or there is no root element).
    #[error("not a soap envelope (root element {found:?})")]
    NotAnEnvelope {
        /// Local name of the root element, empty if there was none.
        found: String,
    },
    /// The Envelope element is in a namespace other than SOAP 1.1's.
    #[error("wrong soap envelope namespace {found:?} (expected http://schemas.xmlsoap.org/soap/envelope/)")]
    WrongEnvelopeNamespace {
        /// The namespace URI found.
        found: String,
    },
    /// A `<!DOCTYPE` (and with it any entity declaration) was present.
    #[error("doctype and entity declarations are not allowed")]
    Doctype,
    /// The body is larger than [`crate::limits::MAX_BODY_BYTES`].
    #[error("body of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Body size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Elements nest deeper than [`crate::limits::MAX_DEPTH`].
    #[error("elements nested deeper than {limit}")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// More elements than [`crate::limits::MAX_ELEMENTS`].
    #[error("more than {limit} elements")]
    TooManyElements {
        /// The limit.
        limit: usize,
    },
    /// One element's text is longer than [`crate::limits::MAX_STRING_BYTES`].
    #[error("text of {element:?} is {len} bytes, limit {limit}")]
    StringTooLong {
        /// The element.
        element: String,
        /// Its text length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A list has more entries than [`crate::limits::MAX_LIST_ENTRIES`].
    #[error("{element:?} has {count} entries, limit {limit}")]
    TooManyParameters {
        /// The list element.
        element: String,
        /// Entries present.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// The bytes are not valid in the declared (or detected) character encoding.
    #[error("invalid {charset} text")]
    InvalidEncoding {
        /// The charset the body was read as.
        charset: String,
    },
    /// The body declares a charset this decoder does not read.
    #[error("unsupported charset {charset:?}")]
    UnsupportedCharset {
        /// The charset named.
        charset: String,
    },
    /// An Inform without DeviceId OUI or SerialNumber.
    #[error("inform without deviceid oui/serialnumber")]
    MissingDeviceId {
        /// The header `ID`, if any.
        id: Option<String>,
        /// The CWMP namespace used, if any.
        version: Option<CwmpVersion>,
    },
    /// The XML is not well-formed.
    #[error("malformed xml at byte {position}: {message}")]
    Xml {
        /// Byte offset of the error (in the UTF-8 text).
        position: u64,
        /// What went wrong.
        message: String,
    },
}

impl DecodeError {
    /// The header `ID` of the failed message, when it was read before the failure.
    pub fn header_id(&self) -> Option<&str> {
        match self {
            DecodeError::UnknownMethod { id, .. }
            | DecodeError::EmptyBody { id, .. }
            | DecodeError::MissingDeviceId { id, .. } => id.as_deref(),
            _ => None,
        }
    }

    /// The CWMP version of the failed message, when it was known before the failure.
    pub fn cwmp_version(&self) -> Option<CwmpVersion> {
        match self {
            DecodeError::UnknownMethod { version, .. }
            | DecodeError::EmptyBody { version, .. }
            | DecodeError::MissingDeviceId { version, .. } => *version,
            _ => None,
        }
    }
}
