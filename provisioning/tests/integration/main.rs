//! Storage suite: every scenario is a function over a [`TestDb`] and runs against SQLite (a file
//! in a temporary directory) and against PostgreSQL when `ACSD_TEST_DATABASE_URL` is set (each
//! test in its own schema, dropped at the end). Without the variable the PostgreSQL variants
//! print `skipped: ACSD_TEST_DATABASE_URL not set` and pass.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod db;
mod equipment_suite;
mod flaky;
mod suite;
mod write_behind;

/// Generate one `#[tokio::test]` per backend for each suite function.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = crate::db::TestDb::sqlite().await;
                    crate::suite::$name(&db).await;
                    db.cleanup().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = crate::db::TestDb::postgres().await else {
                        println!("skipped: ACSD_TEST_DATABASE_URL not set");
                        return;
                    };
                    crate::suite::$name(&db).await;
                    db.cleanup().await;
                }
            )*
        }
    };
}

both_backends!(
    ping_and_backend,
    devices_upsert_get_filters,
    tags,
    delete_device_cascades,
    telemetry_batch,
    telemetry_keeps_operator_fields,
    telemetry_large_batch_and_paging,
    complete_task_commits_cache_and_task,
    parameters_prefix_and_merge,
    task_lifecycle,
    task_backoff_and_order,
    task_expiry,
    tasks_survive_reopen_and_requeue,
    find_task_by_command_key,
    faults,
    files,
    tokens_and_settings,
    concurrent_claimers_never_share_a_task,
    invalid_input_is_the_callers_fault,
    equipment_crud_and_matching,
    audit_is_redacted,
    rules_crud,
);
