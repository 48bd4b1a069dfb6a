//! Write-behind persistence of Inform telemetry.
//!
//! The engine calls [`WriteBehind::submit`] on the hot path; a background task applies what has
//! accumulated with [`Store::apply_telemetry`], one transaction per batch of at most `max_batch`
//! devices, every `flush_interval` or as soon as `max_batch` devices are pending.
//!
//! **Bounding and backpressure.** Pending telemetry is kept in a map keyed by device id and
//! coalesced on arrival ([`Telemetry::absorb`]: newest device snapshot, parameters merged by
//! path, bootstrap wins). `submit` therefore never waits for the database: it takes a mutex for
//! the time of a map insert. Memory is bounded by the number of distinct devices with unsaved
//! telemetry (plus their parameters), not by the Inform rate, even while the database is down.
//!
//! **Failures.** A failed batch is merged back under newer telemetry, logged with
//! `tracing::warn!`, and retried with exponential backoff (from `flush_interval` up to
//! [`MAX_BACKOFF`]). When a batch fails because of one bad item (a caller error such as an empty
//! device id), items are retried one by one and only the bad ones are dropped, each logged with
//! `tracing::error!`. When the last handle is dropped, the task flushes what is left (a few
//! attempts) and ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::error::{Result, StoreError};
use crate::model::Telemetry;
use crate::store::Store;

/// Longest wait between retries of a failing flush.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Flush attempts made after the last handle is dropped.
const FINAL_ATTEMPTS: u32 = 3;

enum Cmd {
    Flush(oneshot::Sender<Result<()>>),
}

#[derive(Debug)]
struct Shared {
    pending: Mutex<HashMap<String, Telemetry>>,
    kick: Notify,
    max_batch: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Telemetry>> {
        // A panic while holding the lock cannot leave the map half-updated in a harmful way
        // (each operation is a single insert/merge), so keep going with the data.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Put telemetry back under whatever arrived since (which is newer).
    fn restore(&self, older: Vec<Telemetry>) {
        let mut pending = self.lock();
        for mut t in older {
            match pending.remove(&t.device.id) {
                Some(newer) => {
                    t.absorb(newer);
                    pending.insert(t.device.id.clone(), t);
                }
                None => {
                    pending.insert(t.device.id.clone(), t);
                }
            }
        }
    }
}

/// Handle to the write-behind flusher. Cheap to clone; the flusher ends when every handle is
/// dropped (after a final flush).
#[derive(Debug, Clone)]
pub struct WriteBehind {
    shared: Arc<Shared>,
    cmd: mpsc::UnboundedSender<Cmd>,
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Flush")
    }
}

impl WriteBehind {
    /// Start the flusher on the current tokio runtime. `max_batch` is the most devices written
    /// in one transaction (at least 1).
    pub fn spawn(
        store: Arc<dyn Store>,
        flush_interval: Duration,
        max_batch: usize,
    ) -> (WriteBehind, JoinHandle<()>) {
        let shared = Arc::new(Shared {
            pending: Mutex::new(HashMap::new()),
            kick: Notify::new(),
            max_batch: max_batch.max(1),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let flush_interval = flush_interval.max(Duration::from_millis(1));
        let handle = tokio::spawn(run(store, shared.clone(), rx, flush_interval));
        (WriteBehind { shared, cmd: tx }, handle)
    }

    /// Queue telemetry. Never waits for the database; coalesces with pending telemetry of the
    /// same device.
    pub fn submit(&self, t: Telemetry) {
        let len = {
            let mut pending = self.shared.lock();
            match pending.get_mut(&t.device.id) {
                Some(existing) => existing.absorb(t),
                None => {
                    pending.insert(t.device.id.clone(), t);
                }
            }
            pending.len()
        };
        if self.cmd.is_closed() {
            tracing::warn!("write-behind flusher has stopped; telemetry stays in memory");
        } else if len >= self.shared.max_batch {
            self.shared.kick.notify_one();
        }
    }

    /// Devices with telemetry not yet written.
    pub fn pending(&self) -> usize {
        self.shared.lock().len()
    }

    /// Write everything pending now and wait for the outcome. On error the telemetry stays
    /// pending and will be retried.
    pub async fn flush(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.cmd.send(Cmd::Flush(tx)).map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

async fn run(
    store: Arc<dyn Store>,
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<Cmd>,
    flush_interval: Duration,
) {
    let mut ticker = tokio::time::interval(flush_interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut backoff = flush_interval;
    let mut retry_at: Option<Instant> = None;
    loop {
        let failing = retry_at.is_some_and(|t| Instant::now() < t);
        let outcome = tokio::select! {
            biased;
            cmd = rx.recv() => match cmd {
                Some(Cmd::Flush(reply)) => {
                    let r = flush_all(store.as_ref(), &shared).await;
                    let outcome = r.as_ref().map(|_| ()).map_err(|e| e.to_string());
                    // The requester may have given up waiting; nothing to do then.
                    let _ = reply.send(r);
                    outcome
                }
                None => {
                    final_flush(store.as_ref(), &shared, flush_interval).await;
                    return;
                }
            },
            _ = shared.kick.notified(), if !failing => {
                flush_all(store.as_ref(), &shared).await.map_err(|e| e.to_string())
            }
            _ = ticker.tick() => {
                if failing {
                    continue;
                }
                flush_all(store.as_ref(), &shared).await.map_err(|e| e.to_string())
            }
        };
        match outcome {
            Ok(()) => {
                backoff = flush_interval;
                retry_at = None;
            }
            Err(error) => {
                let pending = shared.lock().len();
                tracing::warn!(%error, pending, retry_in_ms = backoff.as_millis() as u64,
                    "write-behind flush failed; telemetry kept for retry");
                retry_at = Some(Instant::now() + backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

async fn final_flush(store: &dyn Store, shared: &Shared, flush_interval: Duration) {
    let mut wait = flush_interval;
    for attempt in 1..=FINAL_ATTEMPTS {
        match flush_all(store, shared).await {
            Ok(()) => return,
            Err(error) => {
                tracing::warn!(%error, attempt, "write-behind final flush failed");
                if attempt < FINAL_ATTEMPTS {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
    let lost = shared.lock().len();
    tracing::error!(devices = lost, "write-behind stopped with unsaved telemetry");
}

/// Write all pending telemetry in batches of `max_batch`. On error, the failed batch and the
/// ones not yet attempted go back into the pending map.
async fn flush_all(store: &dyn Store, shared: &Shared) -> Result<()> {
    let items: Vec<Telemetry> = {
        let mut pending = shared.lock();
        if pending.is_empty() {
            return Ok(());
        }
        let mut items: Vec<Telemetry> = pending.drain().map(|(_, t)| t).collect();
        // A stable order makes concurrent writers (several nodes on one PostgreSQL) lock rows
        // in the same order, so they cannot deadlock each other.
        items.sort_by(|a, b| a.device.id.cmp(&b.device.id));
        items
    };
    let mut rest = items.into_iter().peekable();
    while rest.peek().is_some() {
        let batch: Vec<Telemetry> = rest.by_ref().take(shared.max_batch).collect();
        match store.apply_telemetry(&batch).await {
            Ok(()) => {}
            Err(e) if e.is_client_error() => {
                // Find the bad item(s): apply one by one, drop only what the store rejects.
                let mut failed = Vec::new();
                let mut storage_error = None;
                for t in batch {
                    if storage_error.is_some() {
                        failed.push(t);
                        continue;
                    }
                    match store.apply_telemetry(std::slice::from_ref(&t)).await {
                        Ok(()) => {}
                        Err(e) if e.is_client_error() => {
                            tracing::error!(device_id = %t.device.id, error = %e,
                                "write-behind dropped telemetry the store rejects");
                        }
                        Err(e) => {
                            storage_error = Some(e);
                            failed.push(t);
                        }
                    }
                }
                if let Some(e) = storage_error {
                    failed.extend(rest);
                    shared.restore(failed);
                    return Err(e);
                }
            }
            Err(e) => {
                let mut failed = batch;
                failed.extend(rest);
                shared.restore(failed);
                return Err(e);
            }
        }
    }
    Ok(())
}
