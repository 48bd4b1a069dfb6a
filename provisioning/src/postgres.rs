//! PostgreSQL store.
//!
//! One pool. Task claiming locks the chosen row with `FOR UPDATE SKIP LOCKED`, so several
//! sessions (or several `acsd` nodes) claiming at once never get the same task and never wait
//! on each other. Times are BIGINT unix milliseconds, like SQLite, so both share their SQL.
//! The schema is whatever `search_path` points at (tests use one schema each via
//! `?options=-c%20search_path%3D…`).

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use crate::sql::impl_store;

/// Pool size.
const MAX_CONNECTIONS: u32 = 16;
/// How long to wait for a pooled connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// PostgreSQL-backed [`crate::Store`].
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connect and migrate.
    pub async fn connect(url: &str) -> crate::Result<Self> {
        let opts = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(opts)
            .await?;
        sqlx::migrate!("../migrations/postgres").run(&pool).await?;
        Ok(PgStore { pool })
    }

    /// The underlying pool (for LISTEN/NOTIFY and the like).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Close the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    async fn begin_write(&self) -> crate::Result<Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }
}

impl_store! {
    store = PgStore,
    db = sqlx::Postgres,
    row = sqlx::postgres::PgRow,
    backend = "postgres",
    claim_lock = " FOR UPDATE SKIP LOCKED",
}
