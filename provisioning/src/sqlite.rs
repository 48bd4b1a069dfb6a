//! SQLite store.
//!
//! Connections: a file database gets one **writer pool with a single connection** (every write,
//! including task claiming, goes through it inside `BEGIN IMMEDIATE`, so writers never race for
//! the lock inside this process and other processes wait on `busy_timeout`) and a separate
//! **reader pool** (WAL lets readers run while the writer writes). `sqlite::memory:` uses one
//! connection for both, kept open for the pool's lifetime (the database lives in it).
//!
//! Every connection: `busy_timeout` set first (before the journal-mode switch), WAL,
//! `synchronous = NORMAL`, foreign keys on; the file is created if missing.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

use crate::sql::impl_store;

/// How long a connection waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Reader connections for a file database.
const READERS: u32 = 4;

/// SQLite-backed [`crate::Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

enum Location {
    Memory,
    File(PathBuf),
}

fn parse_url(url: &str) -> Result<Location, crate::StoreError> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| crate::StoreError::invalid(format!("not a sqlite url: {url:?}")))?;
    if rest == ":memory:" {
        return Ok(Location::Memory);
    }
    if rest.is_empty() {
        return Err(crate::StoreError::invalid("sqlite url has no path"));
    }
    if rest.contains('?') {
        return Err(crate::StoreError::invalid(
            "sqlite url query parameters are not supported; give a plain path",
        ));
    }
    Ok(Location::File(PathBuf::from(rest)))
}

impl SqliteStore {
    /// Open (creating if needed) and migrate. See [`crate::open`] for the URL forms.
    pub async fn open(url: &str) -> crate::Result<Self> {
        match parse_url(url)? {
            Location::Memory => Self::open_memory().await,
            Location::File(path) => Self::open_file(&path).await,
        }
    }

    async fn open_memory() -> crate::Result<Self> {
        let opts = SqliteConnectOptions::from_str("sqlite::memory:")?
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(opts)
            .await?;
        sqlx::migrate!("../migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { writer: pool.clone(), reader: pool })
    }

    async fn open_file(path: &Path) -> crate::Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent).await?;
        }
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .busy_timeout(BUSY_TIMEOUT)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(opts.clone())
            .await?;
        sqlx::migrate!("../migrations/sqlite").run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(opts.create_if_missing(false))
            .await?;
        Ok(SqliteStore { writer, reader })
    }

    /// Close both pools (waits for connections to be returned).
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    async fn begin_write(&self) -> crate::Result<Transaction<'static, Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

impl_store! {
    store = SqliteStore,
    db = sqlx::Sqlite,
    row = sqlx::sqlite::SqliteRow,
    backend = "sqlite",
    claim_lock = "",
}

#[cfg(test)]
mod tests {
    use super::{parse_url, Location};

    #[test]
    fn urls() {
        assert!(matches!(parse_url("sqlite::memory:"), Ok(Location::Memory)));
        assert!(matches!(parse_url("sqlite://:memory:"), Ok(Location::Memory)));
        match parse_url("sqlite://data/acs.db") {
            Ok(Location::File(p)) => assert_eq!(p.to_str(), Some("data/acs.db")),
            _ => panic!("expected a file"),
        }
        match parse_url("sqlite:///abs/acs.db") {
            Ok(Location::File(p)) => assert_eq!(p.to_str(), Some("/abs/acs.db")),
            _ => panic!("expected a file"),
        }
        assert!(parse_url("sqlite://").is_err());
        assert!(parse_url("sqlite://x.db?mode=ro").is_err());
        assert!(parse_url("postgres://x").is_err());
    }
}
