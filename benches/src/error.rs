//! The one error type of the `benches` library.

/// What went wrong in the simulator or the harness.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FleetError {
    /// A data model file is unusable.
    #[error("data model: {0}")]
    Model(String),
    /// Socket-level failure talking to the ACS or a file server.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The peer sent an HTTP response we cannot use.
    #[error("http: {0}")]
    Http(String),
    /// The ACS sent a SOAP envelope we cannot decode.
    #[error("cwmp decode: {0}")]
    Decode(String),
    /// The ACS did not answer in time.
    #[error("timed out: {0}")]
    Timeout(&'static str),
    /// The ACS broke the session protocol (e.g. an unexpected status code).
    #[error("protocol: {0}")]
    Protocol(String),
    /// The ACS refused the session with `503 Service Unavailable`.
    #[error("the acs is busy (503)")]
    Busy,
    /// A bad command-line value.
    #[error("invalid argument: {0}")]
    Argument(String),
}
