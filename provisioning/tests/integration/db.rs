//! Test databases: a SQLite file in a temp dir, or a fresh PostgreSQL schema.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use provisioning::Store;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

/// Environment variable naming the PostgreSQL server for tests.
pub const PG_ENV: &str = "ACSD_TEST_DATABASE_URL";
/// Schema name prefix; stale schemas older than an hour are dropped by later runs.
const SCHEMA_PREFIX: &str = "acsd_test_";

pub struct TestDb {
    url: String,
    store: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(PgPool, String)>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        // A nested path checks that missing directories are created.
        let url = format!("sqlite://{}/nested/acs.db", dir.path().display());
        let store = provisioning::open(&url).await.unwrap();
        TestDb { url, store, _dir: Some(dir), pg: None }
    }

    pub async fn postgres() -> Option<TestDb> {
        let base = std::env::var(PG_ENV).ok().filter(|s| !s.is_empty())?;
        let admin = PgPoolOptions::new().max_connections(2).connect(&base).await.unwrap();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        drop_stale_schemas(&admin, now).await;
        let schema = format!("{SCHEMA_PREFIX}{now}_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&admin).await.unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
        let store = provisioning::open(&url).await.unwrap();
        Some(TestDb { url, store, _dir: None, pg: Some((admin, schema)) })
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Open the same database again, as a restarted process would.
    pub async fn reopen(&self) -> Arc<dyn Store> {
        provisioning::open(&self.url).await.unwrap()
    }

    pub async fn cleanup(self) {
        drop(self.store);
        if let Some((admin, schema)) = self.pg {
            sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(&admin)
                .await
                .unwrap();
            admin.close().await;
        }
    }
}

/// Drop schemas left behind by test runs that panicked more than an hour ago.
async fn drop_stale_schemas(admin: &PgPool, now: u64) {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname::text, $1)",
    )
    .bind(SCHEMA_PREFIX)
    .fetch_all(admin)
    .await
    .unwrap();
    for (name,) in rows {
        let created = name
            .strip_prefix(SCHEMA_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|c| c + 3600 < now) {
            // Another run may drop it at the same time; that is fine.
            let _ =
                sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).execute(admin).await;
        }
    }
}
