//! The one error type of this crate.

/// Errors returned by [`crate::Store`] implementations and by task validation.
///
/// Whose fault it is: `Database`, `Migrate` and `Corrupt` are storage's (log, answer 5xx);
/// `Invalid`, `NotFound` and `Conflict` are the caller's (answer 4xx).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying the embedded schema migrations failed.
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The caller passed something unacceptable (bad task, bad URL, bad filter).
    #[error("invalid input: {reason}")]
    Invalid {
        /// What is wrong, for a human.
        reason: String,
    },
    /// The referenced row does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The write conflicts with an existing row (duplicate key).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A stored row could not be decoded (bad JSON, out-of-range number, unknown enum value).
    #[error("corrupt row in {table}: {reason}")]
    Corrupt {
        /// The table the row came from.
        table: &'static str,
        /// What could not be decoded.
        reason: String,
    },
    /// The write-behind flusher task has stopped (runtime shutting down or it panicked).
    #[error("write-behind flusher has stopped")]
    Closed,
    /// Filesystem error while preparing the database location.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// Shorthand for [`StoreError::Invalid`].
    pub fn invalid(reason: impl Into<String>) -> Self {
        StoreError::Invalid { reason: reason.into() }
    }

    /// True when the error is the caller's fault (bad input, missing or duplicate row).
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            StoreError::Invalid { .. } | StoreError::NotFound(_) | StoreError::Conflict(_)
        )
    }
}

/// Result alias used throughout the crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
