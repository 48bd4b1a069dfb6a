//! USP error codes: Msg errors 7000–7031 and Record errors 7100–7106 (TR-369).

use std::fmt;

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $code:literal, $name:literal;)*) => {
        /// A USP error code as carried in `err_code` fields.
        ///
        /// Codes defined by TR-369 have their own variant; anything else (vendor codes
        /// 7800–7999, codes from later versions, garbage) is kept as [`ErrorCode::Other`].
        /// Build values from the wire with [`ErrorCode::from_u32`] so that a defined code never
        /// ends up in `Other`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* #[doc = concat!("`", stringify!($code), "` ", $name, ".")] $variant,)*
            /// A code TR-369 1.4 does not define (vendor-specific or unknown).
            Other(u32),
        }

        impl ErrorCode {
            /// Maps a wire value to its variant.
            #[must_use]
            pub const fn from_u32(code: u32) -> Self {
                match code {
                    $($code => Self::$variant,)*
                    other => Self::Other(other),
                }
            }

            /// The numeric wire value.
            #[must_use]
            pub const fn code(self) -> u32 {
                match self {
                    $(Self::$variant => $code,)*
                    Self::Other(code) => code,
                }
            }

            /// The name TR-369 gives the code, or a generic description for other codes.
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                    Self::Other(7800..=7999) => "Vendor-specific error",
                    Self::Other(_) => "Unknown error",
                }
            }
        }
    };
}

error_codes! {
    MessageFailed = 7000, "Message failed";
    MessageNotSupported = 7001, "Message not supported";
    RequestDenied = 7002, "Request denied (no reason specified)";
    InternalError = 7003, "Internal error";
    InvalidArguments = 7004, "Invalid arguments";
    ResourcesExceeded = 7005, "Resources exceeded";
    PermissionDenied = 7006, "Permission denied";
    InvalidConfiguration = 7007, "Invalid configuration";
    InvalidPathSyntax = 7008, "Invalid path syntax";
    ParameterActionFailed = 7009, "Parameter action failed";
    UnsupportedParameter = 7010, "Unsupported parameter";
    InvalidType = 7011, "Invalid type";
    InvalidValue = 7012, "Invalid value";
    ParameterReadOnly = 7013, "Attempt to update non-writeable parameter";
    ValueConflict = 7014, "Value conflict";
    OperationError = 7015, "Operation error";
    ObjectDoesNotExist = 7016, "Object does not exist";
    ObjectNotCreated = 7017, "Object could not be created";
    NotATable = 7018, "Object is not a table";
    ObjectNotCreatable = 7019, "Attempt to create non-creatable object";
    ObjectNotUpdated = 7020, "Object could not be updated";
    RequiredParameterFailed = 7021, "Required parameter failed";
    CommandFailure = 7022, "Command failure";
    CommandCanceled = 7023, "Command canceled";
    DeleteFailure = 7024, "Delete failure";
    DuplicateUniqueKey = 7025, "Object exists with duplicate key";
    InvalidPath = 7026, "Invalid path";
    InvalidCommandArguments = 7027, "Invalid command arguments";
    RegisterFailure = 7028, "Register failure";
    AlreadyInUse = 7029, "Already in use";
    DeregisterFailure = 7030, "Deregister failure";
    PathAlreadyRegistered = 7031, "Path already registered";
    RecordNotParsed = 7100, "Record could not be parsed";
    SecureSessionRequired = 7101, "Secure session required";
    SecureSessionNotSupported = 7102, "Secure session not supported";
    SegmentationNotSupported = 7103, "Segmentation and reassembly not supported";
    InvalidRecordValue = 7104, "Invalid record value";
    SessionContextTerminated = 7105, "Session context terminated";
    SessionContextNotAllowed = 7106, "Session context not allowed";
}

impl ErrorCode {
    /// A Record-level error (7100–7199), reported in a DisconnectRecord or MTP-specific way
    /// rather than in an Error Msg.
    #[must_use]
    pub const fn is_record_error(self) -> bool {
        matches!(self.code(), 7100..=7199)
    }

    /// A vendor-defined code (7800–7999).
    #[must_use]
    pub const fn is_vendor(self) -> bool {
        matches!(self.code(), 7800..=7999)
    }
}

impl From<u32> for ErrorCode {
    fn from(code: u32) -> Self {
        Self::from_u32(code)
    }
}

impl From<ErrorCode> for u32 {
    fn from(code: ErrorCode) -> Self {
        code.code()
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code(), self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn every_defined_code_round_trips() {
        for code in (7000..=7031).chain(7100..=7106) {
            let parsed = ErrorCode::from_u32(code);
            assert!(!matches!(parsed, ErrorCode::Other(_)), "{code} should be defined");
            assert_eq!(parsed.code(), code);
            assert_ne!(parsed.name(), "Unknown error");
        }
    }

    #[test]
    fn undefined_codes_are_kept() {
        for code in [0, 6999, 7032, 7099, 7107, 7800, 7999, 8000, u32::MAX] {
            assert_eq!(ErrorCode::from_u32(code), ErrorCode::Other(code));
            assert_eq!(u32::from(ErrorCode::from(code)), code);
        }
        assert!(ErrorCode::from_u32(7801).is_vendor());
        assert_eq!(ErrorCode::from_u32(7801).name(), "Vendor-specific error");
        assert_eq!(ErrorCode::from_u32(8000).name(), "Unknown error");
    }

    #[test]
    fn classes() {
        assert!(ErrorCode::RecordNotParsed.is_record_error());
        assert!(!ErrorCode::InvalidPath.is_record_error());
        assert_eq!(ErrorCode::InvalidPathSyntax.to_string(), "7008 (Invalid path syntax)");
    }
}
