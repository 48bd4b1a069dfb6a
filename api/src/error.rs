//! The API crate's error type and its JSON rendering (`{"error": ..., "detail": ...}`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Everything that can go wrong in `acsd` outside the device protocols.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The configuration (file, environment or flags) is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// A listener could not be bound or served.
    #[error("listener {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
    /// TLS material could not be loaded.
    #[error("tls: {0}")]
    Tls(String),
    /// Storage failed (our side, not the caller's).
    #[error("storage: {0}")]
    Store(#[from] provisioning::StoreError),
    /// The CWMP engine failed.
    #[error("cwmp engine: {0}")]
    Acs(#[from] acs::AcsError),
    /// The request is invalid (the caller's fault).
    #[error("{0}")]
    BadRequest(String),
    /// Missing or wrong credentials.
    #[error("unauthorized")]
    Unauthorized,
    /// The caller may not do this.
    #[error("forbidden")]
    Forbidden,
    /// No such resource.
    #[error("{0} not found")]
    NotFound(String),
    /// The request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// Other I/O failure.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Store(provisioning::StoreError::Invalid { .. }) => {
                (StatusCode::BAD_REQUEST, "bad_request")
            }
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::error!(error = %self, "api request failed");
        } else {
            tracing::debug!(error = %self, "api request rejected");
        }
        let mut resp =
            (status, Json(json!({ "error": code, "detail": self.to_string() }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"acsd\""),
            );
        }
        resp
    }
}
