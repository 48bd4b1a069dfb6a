//! WriteBehind: batching, coalescing, flush, retry after failures, final flush on drop.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use provisioning::{Parameter, Store, Telemetry, WriteBehind};
use tokio::time::Instant;

use crate::flaky::FlakyStore;
use crate::suite::{at, device};

/// Long enough that the timer never fires during a test that flushes explicitly.
const NEVER: Duration = Duration::from_secs(3600);

fn telemetry(serial: &str, params: &[(&str, &str)], bootstrap: bool) -> Telemetry {
    Telemetry {
        device: device(serial),
        params: params.iter().map(|(p, v)| Parameter::value(*p, *v, None, at(1))).collect(),
        bootstrap,
    }
}

async fn memory_store() -> Arc<dyn Store> {
    provisioning::open("sqlite::memory:").await.unwrap()
}

/// Poll `check` until it holds or 10 s pass.
async fn eventually<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "condition not met within 10 s");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn flush_writes_and_coalesces_per_device() {
    let inner = memory_store().await;
    let flaky = Arc::new(FlakyStore::new(inner.clone(), 0));
    let (wb, _task) = WriteBehind::spawn(flaky.clone(), NEVER, 100);
    wb.submit(telemetry("W1", &[("A.a", "1"), ("A.b", "1")], false));
    wb.submit(telemetry("W1", &[("A.a", "2")], false));
    wb.submit(telemetry("W2", &[("B.a", "1")], true));
    assert_eq!(wb.pending(), 2, "coalesced per device");
    wb.flush().await.unwrap();
    assert_eq!(wb.pending(), 0);
    assert_eq!(flaky.calls.load(Ordering::SeqCst), 1, "one batch, one transaction");

    let d1 = device("W1").id;
    let params = inner.get_parameters(&d1, "").await.unwrap();
    let vals: Vec<_> = params.iter().map(|p| (p.path.as_str(), p.value.as_deref())).collect();
    assert_eq!(vals, [("A.a", Some("2")), ("A.b", Some("1"))]);
    assert!(inner.get_device(&device("W2").id).await.unwrap().is_some());
    // Flushing with nothing pending is fine and does not touch the store.
    wb.flush().await.unwrap();
    assert_eq!(flaky.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn bootstrap_in_the_queue_drops_older_params() {
    let inner = memory_store().await;
    inner.upsert_device(&device("BS")).await.unwrap();
    inner
        .upsert_parameters(&device("BS").id, &[Parameter::value("Old.x", "1", None, at(0))])
        .await
        .unwrap();
    let (wb, _task) = WriteBehind::spawn(inner.clone(), NEVER, 100);
    wb.submit(telemetry("BS", &[("Queued.before", "1")], false));
    wb.submit(telemetry("BS", &[("After.bootstrap", "1")], true));
    wb.submit(telemetry("BS", &[("Later", "1")], false));
    wb.flush().await.unwrap();
    let paths: Vec<_> = inner
        .get_parameters(&device("BS").id, "")
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.path)
        .collect();
    assert_eq!(paths, ["After.bootstrap", "Later"]);
}

#[tokio::test]
async fn max_batch_splits_transactions_and_triggers_a_flush() {
    let inner = memory_store().await;
    let flaky = Arc::new(FlakyStore::new(inner.clone(), 0));
    let (wb, _task) = WriteBehind::spawn(flaky.clone(), NEVER, 3);
    for i in 0..2 {
        wb.submit(telemetry(&format!("MB{i}"), &[], false));
    }
    assert_eq!(wb.pending(), 2);
    // Reaching max_batch wakes the flusher without waiting for the (hour-long) interval.
    wb.submit(telemetry("MB2", &[], false));
    eventually(|| {
        let wb = wb.clone();
        async move { wb.pending() == 0 }
    })
    .await;
    eventually(|| {
        let inner = inner.clone();
        async move { inner.all_devices().await.unwrap().len() == 3 }
    })
    .await;

    for i in 0..7 {
        wb.submit(telemetry(&format!("MC{i}"), &[], false));
    }
    wb.flush().await.unwrap();
    assert_eq!(inner.all_devices().await.unwrap().len(), 10);
}

#[tokio::test]
async fn failed_flush_keeps_data_and_retries() {
    let inner = memory_store().await;
    let flaky = Arc::new(FlakyStore::new(inner.clone(), 2));
    let (wb, _task) = WriteBehind::spawn(flaky.clone(), NEVER, 100);
    wb.submit(telemetry("F1", &[("A.a", "1")], false));
    assert!(wb.flush().await.is_err());
    assert_eq!(wb.pending(), 1, "kept for retry");
    // Newer telemetry arriving meanwhile merges over the failed batch.
    wb.submit(telemetry("F1", &[("A.b", "2")], false));
    assert!(wb.flush().await.is_err());
    wb.flush().await.unwrap();
    assert_eq!(wb.pending(), 0);
    let paths: Vec<_> = inner
        .get_parameters(&device("F1").id, "")
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.path)
        .collect();
    assert_eq!(paths, ["A.a", "A.b"]);
}

#[tokio::test]
async fn background_retry_after_failures() {
    let inner = memory_store().await;
    let flaky = Arc::new(FlakyStore::new(inner.clone(), 3));
    let (wb, _task) = WriteBehind::spawn(flaky.clone(), Duration::from_millis(10), 100);
    wb.submit(telemetry("BG", &[("A.a", "1")], false));
    let id = device("BG").id;
    eventually(|| {
        let inner = inner.clone();
        let id = id.clone();
        async move { inner.get_device(&id).await.unwrap().is_some() }
    })
    .await;
    assert!(flaky.calls.load(Ordering::SeqCst) >= 4, "three failures then success");
    assert_eq!(wb.pending(), 0);
}

#[tokio::test]
async fn bad_item_is_dropped_and_the_rest_written() {
    let inner = memory_store().await;
    let (wb, _task) = WriteBehind::spawn(inner.clone(), NEVER, 100);
    let mut bad = telemetry("BAD", &[], false);
    bad.device.tags = vec![String::new()]; // rejected by the store: empty tag
    wb.submit(bad);
    wb.submit(telemetry("GOOD", &[("A", "1")], false));
    wb.flush().await.unwrap();
    assert_eq!(wb.pending(), 0);
    assert!(inner.get_device(&device("GOOD").id).await.unwrap().is_some());
    assert!(inner.get_device(&device("BAD").id).await.unwrap().is_none());
}

#[tokio::test]
async fn dropping_the_last_handle_flushes_and_ends() {
    let inner = memory_store().await;
    let (wb, task) = WriteBehind::spawn(inner.clone(), NEVER, 100);
    let clone = wb.clone();
    wb.submit(telemetry("END", &[("A", "1")], false));
    drop(wb);
    clone.submit(telemetry("END2", &[], false));
    drop(clone);
    tokio::time::timeout(Duration::from_secs(10), task).await.unwrap().unwrap();
    assert!(inner.get_device(&device("END").id).await.unwrap().is_some());
    assert!(inner.get_device(&device("END2").id).await.unwrap().is_some());
}
