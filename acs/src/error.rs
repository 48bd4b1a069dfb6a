//! The crate's single error type.
//!
//! Every variant knows whose fault it is ([`Blame`]): the device sent something we cannot accept,
//! we (this process, its configuration or the network path we chose) failed, or the storage
//! layer failed. Callers use [`AcsError::blame`] for logging and metrics labels and
//! [`AcsError::http_status`] when the error has to become an HTTP answer to a CPE.

use std::time::Duration;

use http::StatusCode;

/// Whose fault an [`AcsError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Blame {
    /// The CPE sent something malformed, too big, too slow, or refused us.
    Device,
    /// This process: a bug, a bad configuration, a local I/O failure.
    Ours,
    /// The storage layer (database, file store).
    Storage,
}

impl Blame {
    /// A short lower-case label, suitable as a bounded metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Blame::Device => "device",
            Blame::Ours => "ours",
            Blame::Storage => "storage",
        }
    }
}

/// Errors of the CWMP engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AcsError {
    // ---- request bodies (device) ----
    /// The request body (or its decompressed form) is larger than the configured cap.
    #[error("request body exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The cap that was exceeded, in bytes.
        limit: usize,
    },
    /// The body did not arrive completely within the read timeout.
    #[error("timed out after {0:?} reading the request body")]
    BodyTimeout(Duration),
    /// The connection failed while the body was being read.
    #[error("failed to read the request body: {0}")]
    BodyRead(String),
    /// A `Content-Encoding` we do not decode.
    #[error("unsupported content encoding {0:?}")]
    UnsupportedEncoding(String),
    /// The body claimed a compression it does not actually have, or is truncated.
    #[error("malformed {encoding} body: {reason}")]
    BadCompression {
        /// `gzip` or `deflate`.
        encoding: &'static str,
        /// What the decoder said.
        reason: String,
    },

    // ---- connection requests (device / network path) ----
    /// The ConnectionRequestURL reported by the device cannot be parsed.
    #[error("invalid connection request url {url:?}: {reason}")]
    InvalidConnReqUrl {
        /// The URL as reported.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The ConnectionRequestURL uses a scheme we do not speak (e.g. `https`).
    #[error("unsupported connection request url scheme {0:?} (only http is supported)")]
    UnsupportedConnReqScheme(String),
    /// TCP connect to the device failed.
    #[error("cannot connect to {addr}: {source}")]
    ConnReqConnect {
        /// `host:port` we tried.
        addr: String,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The device did not answer within the timeout.
    #[error("connection request timed out after {0:?}")]
    ConnReqTimeout(Duration),
    /// HTTP-level failure talking to the device (it closed the connection, sent garbage...).
    #[error("connection request http failure: {0}")]
    ConnReqHttp(String),
    /// The device rejected our credentials (a 401 after an authenticated attempt).
    #[error("device rejected the connection request credentials")]
    ConnReqAuthRejected,
    /// The device's 401 carried no challenge we can answer.
    #[error("device sent an unusable authentication challenge: {0}")]
    ConnReqBadChallenge(String),
    /// The device answered with a status that is neither success, 401 nor 503.
    #[error("device answered the connection request with http status {0}")]
    ConnReqStatus(u16),
    /// A UDP connection request address could not be resolved or used.
    #[error("invalid udp connection request address {addr:?}: {reason}")]
    InvalidUdpAddress {
        /// The address as reported.
        addr: String,
        /// Why it was rejected.
        reason: String,
    },

    // ---- files (ours) ----
    /// A file the store says exists is missing on disk.
    #[error("file {0:?} not found")]
    FileNotFound(String),

    // ---- generic ----
    /// A local I/O failure (socket bind, file read).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The storage layer failed.
    #[error("storage error: {0}")]
    Storage(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// A bug or an impossible state on our side.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AcsError {
    /// Whose fault this error is.
    pub fn blame(&self) -> Blame {
        match self {
            AcsError::BodyTooLarge { .. }
            | AcsError::BodyTimeout(_)
            | AcsError::BodyRead(_)
            | AcsError::UnsupportedEncoding(_)
            | AcsError::BadCompression { .. }
            | AcsError::InvalidConnReqUrl { .. }
            | AcsError::UnsupportedConnReqScheme(_)
            | AcsError::ConnReqConnect { .. }
            | AcsError::ConnReqTimeout(_)
            | AcsError::ConnReqHttp(_)
            | AcsError::ConnReqAuthRejected
            | AcsError::ConnReqBadChallenge(_)
            | AcsError::ConnReqStatus(_)
            | AcsError::InvalidUdpAddress { .. } => Blame::Device,
            AcsError::FileNotFound(_) | AcsError::Storage(_) => Blame::Storage,
            AcsError::Io(_) | AcsError::Internal(_) => Blame::Ours,
        }
    }

    /// The HTTP status to answer a CPE with when this error ends its request.
    pub fn http_status(&self) -> StatusCode {
        match self {
            AcsError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AcsError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            AcsError::BodyRead(_) | AcsError::BadCompression { .. } => StatusCode::BAD_REQUEST,
            AcsError::UnsupportedEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AcsError::FileNotFound(_) => StatusCode::NOT_FOUND,
            AcsError::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Wraps any storage-layer error.
    pub fn storage<E>(err: E) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        AcsError::Storage(Box::new(err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blame_and_status() {
        let e = AcsError::BodyTooLarge { limit: 10 };
        assert_eq!(e.blame(), Blame::Device);
        assert_eq!(e.http_status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(e.to_string(), "request body exceeds the limit of 10 bytes");
        let e = AcsError::storage(std::io::Error::other("db down"));
        assert_eq!(e.blame(), Blame::Storage);
        assert_eq!(e.blame().as_str(), "storage");
        let e = AcsError::Internal("x".into());
        assert_eq!(e.blame(), Blame::Ours);
    }
}
