//! Shared state of the CWMP engine: the in-memory device index, live sessions, task waiters,
//! CPE credentials and the operations the API layer calls (enqueue a task, wait for it, send a
//! connection request).
//!
//! Hot-path rule: a known device with nothing to do costs no database round trip. The index
//! says, per device, when its next queued task is due; only then is the store asked.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use provisioning::{Device, NewFault, NewTask, Store, Task, TaskFilter, TaskStatus, WriteBehind};
use time::OffsetDateTime;
use tokio::sync::{oneshot, Semaphore};

use crate::auth::{Authenticator, CpeAuthMode};
use crate::error::AcsError;
use crate::metrics::{ConnReqOutcome, Metrics};
use crate::session::Session;

/// Devices read per page when the index is loaded.
const INDEX_PAGE: u32 = 5000;

/// Engine settings (the binary maps its configuration onto these).
#[derive(Clone)]
pub struct AcsConfig {
    /// How CPEs authenticate.
    pub cpe_auth: CpeAuthMode,
    /// Digest realm.
    pub realm: String,
    /// Global CPE credentials (per-device ones override them).
    pub cpe_username: Option<String>,
    /// Global CPE password.
    pub cpe_password: Option<String>,
    /// Secret for nonces and signed file URLs (at least 32 random bytes, stable across restarts).
    pub secret: Vec<u8>,
    /// Base URL CPEs reach us at, for Download URLs (e.g. `http://acs.example.net:7547`).
    pub public_url: Option<String>,
    /// Where uploaded files live.
    pub files_dir: PathBuf,
    /// Largest CWMP request body after decompression.
    pub max_body_bytes: usize,
    /// Most concurrent sessions; beyond it 503 + Retry-After.
    pub max_sessions: usize,
    /// Idle time after which a session is dropped.
    pub session_timeout: Duration,
    /// Time allowed to receive one request body.
    pub body_timeout: Duration,
    /// Periodic inform interval set at bootstrap (seconds).
    pub periodic_inform_interval: u32,
    /// Timeout of one connection request.
    pub connection_request_timeout: Duration,
    /// Connection requests in flight at once.
    pub connection_request_concurrency: usize,
    /// Most RPCs the ACS sends in one session (guards against loops).
    pub max_rpcs_per_session: u32,
    /// Lifetime of signed file URLs.
    pub file_url_ttl: Duration,
    /// Vendor overrides data file (provisioning); the shipped examples apply when it does not
    /// exist. Default: `vendor-overrides.json` next to the files directory.
    pub overrides_path: Option<PathBuf>,
}

impl std::fmt::Debug for AcsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcsConfig")
            .field("cpe_auth", &self.cpe_auth)
            .field("cpe_username", &self.cpe_username)
            .field("public_url", &self.public_url)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_sessions", &self.max_sessions)
            .field("session_timeout", &self.session_timeout)
            .finish_non_exhaustive()
    }
}

impl AcsConfig {
    /// Sensible defaults for tests and embedded use.
    pub fn new(secret: Vec<u8>, files_dir: PathBuf) -> Self {
        let overrides_path = files_dir.parent().map(|p| p.join("vendor-overrides.json"));
        AcsConfig {
            cpe_auth: CpeAuthMode::None,
            realm: "acsd".into(),
            cpe_username: None,
            cpe_password: None,
            secret,
            public_url: None,
            files_dir,
            max_body_bytes: 4 * 1024 * 1024,
            max_sessions: 20_000,
            session_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            periodic_inform_interval: 3600,
            connection_request_timeout: Duration::from_secs(10),
            connection_request_concurrency: 64,
            max_rpcs_per_session: 256,
            file_url_ttl: Duration::from_secs(24 * 3600),
            overrides_path,
        }
    }
}

/// What the index knows of one device.
#[derive(Debug, Clone)]
pub(crate) struct DeviceEntry {
    pub(crate) device: Device,
    /// When the device's earliest queued task is due; `None` when it has none.
    pub(crate) next_task_due: Option<OffsetDateTime>,
    /// The session currently open for the device.
    pub(crate) session: Option<u64>,
    /// Provisioning memory (equipment status, rules applied).
    pub(crate) prov: crate::provision::DeviceProv,
    /// Hash per Inform parameter as last handed to the store (see `session::apply_inform`).
    pub(crate) inform_written: Vec<u64>,
}

impl DeviceEntry {
    pub(crate) fn new(device: Device) -> Self {
        DeviceEntry {
            device,
            next_task_due: None,
            session: None,
            prov: Default::default(),
            inform_written: Vec::new(),
        }
    }
}

pub(crate) struct Inner {
    pub(crate) config: AcsConfig,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) telemetry: WriteBehind,
    pub(crate) devices: DashMap<String, DeviceEntry>,
    pub(crate) sessions: DashMap<u64, Arc<tokio::sync::Mutex<Session>>>,
    /// CPE usernames with per-device passwords.
    pub(crate) cpe_credentials: DashMap<String, String>,
    pub(crate) waiters: DashMap<i64, Vec<oneshot::Sender<Task>>>,
    pub(crate) auth: Authenticator,
    pub(crate) connreq_slots: Semaphore,
    pub(crate) metrics: Metrics,
    pub(crate) draining: AtomicBool,
    pub(crate) prov: crate::provision::ProvIndex,
    pub(crate) request_ids: AtomicU64,
}

/// The CWMP engine. Cheap to clone; all clones share state.
#[derive(Clone)]
pub struct Acs {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Acs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acs")
            .field("devices", &self.inner.devices.len())
            .field("sessions", &self.inner.sessions.len())
            .finish_non_exhaustive()
    }
}

/// Online means an open session or a contact within twice the periodic inform interval.
pub fn is_recent_contact(device: &Device, default_interval: u32, now: OffsetDateTime) -> bool {
    let interval = i64::from(device.periodic_inform_interval.unwrap_or(default_interval).max(1));
    match device.last_inform_at {
        Some(t) => (now - t).whole_seconds() <= 2 * interval,
        None => false,
    }
}

impl Acs {
    /// Build the engine: load the device index, recover tasks interrupted by a crash.
    pub async fn new(
        config: AcsConfig,
        store: Arc<dyn Store>,
        telemetry: WriteBehind,
        metrics: Metrics,
    ) -> Result<Acs, AcsError> {
        let recovered = store.requeue_running_tasks().await.map_err(AcsError::storage)?;
        if recovered > 0 {
            tracing::info!(recovered, "requeued tasks interrupted by a restart");
        }
        let devices = DashMap::new();
        let cpe_credentials = DashMap::new();
        // Keyset pages keep the peak at one page of rows instead of the whole fleet.
        let mut after = String::new();
        loop {
            let page = store.devices_after(&after, INDEX_PAGE).await.map_err(AcsError::storage)?;
            let Some(last) = page.last() else { break };
            after = last.id.clone();
            for d in page {
                if let (Some(u), Some(p)) = (&d.cpe_username, &d.cpe_password) {
                    cpe_credentials.insert(u.clone(), p.clone());
                }
                devices.insert(d.id.clone(), DeviceEntry::new(d));
            }
        }
        let now = OffsetDateTime::now_utc();
        for id in store.devices_with_due_tasks().await.map_err(AcsError::storage)? {
            if let Some(mut e) = devices.get_mut(&id) {
                e.next_task_due = Some(now);
            }
        }
        metrics.known_devices.set(i64::try_from(devices.len()).unwrap_or(i64::MAX));
        let prov =
            crate::provision::ProvIndex::load(&store, config.overrides_path.as_deref()).await?;
        let auth = Authenticator::new(config.cpe_auth, config.realm.clone(), &config.secret);
        let slots = config.connection_request_concurrency.max(1);
        Ok(Acs {
            inner: Arc::new(Inner {
                config,
                store,
                telemetry,
                devices,
                sessions: DashMap::new(),
                cpe_credentials,
                waiters: DashMap::new(),
                auth,
                connreq_slots: Semaphore::new(slots),
                metrics,
                draining: AtomicBool::new(false),
                prov,
                request_ids: AtomicU64::new(1),
            }),
        })
    }

    /// The engine's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The store the engine writes to.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The engine configuration.
    pub fn config(&self) -> &AcsConfig {
        &self.inner.config
    }

    /// The latest known state of a device (index first, no database access).
    pub fn device(&self, id: &str) -> Option<Device> {
        self.inner.devices.get(id).map(|e| e.device.clone())
    }

    /// Whether a device is online: an open session, or a contact within twice its periodic
    /// inform interval.
    pub fn is_online(&self, id: &str) -> bool {
        let Some(e) = self.inner.devices.get(id) else { return false };
        if e.session.is_some_and(|s| self.inner.sessions.contains_key(&s)) {
            return true;
        }
        is_recent_contact(
            &e.device,
            self.inner.config.periodic_inform_interval,
            OffsetDateTime::now_utc(),
        )
    }

    /// Whether a session is open for the device right now.
    pub fn has_session(&self, id: &str) -> bool {
        self.inner
            .devices
            .get(id)
            .is_some_and(|e| e.session.is_some_and(|s| self.inner.sessions.contains_key(&s)))
    }

    /// Number of open sessions.
    pub fn session_count(&self) -> usize {
        self.inner.sessions.len()
    }

    /// Number of known devices.
    pub fn device_count(&self) -> usize {
        self.inner.devices.len()
    }

    /// Keep the index in step with an operator's change to a device (tags, credentials).
    pub fn refresh_device(&self, device: Device) {
        if let (Some(u), Some(p)) = (&device.cpe_username, &device.cpe_password) {
            self.inner.cpe_credentials.insert(u.clone(), p.clone());
        }
        match self.inner.devices.get_mut(&device.id) {
            Some(mut e) => e.device = device,
            None => {
                self.inner.devices.insert(device.id.clone(), DeviceEntry::new(device));
            }
        }
    }

    /// Parameters of this device were deleted from the cache: the next Inform writes all of
    /// its values again instead of only the changed ones.
    pub(crate) fn forget_inform_values(&self, device_id: &str) {
        if let Some(mut e) = self.inner.devices.get_mut(device_id) {
            e.inform_written.clear();
        }
    }

    /// Forget a device (after the API deleted it from the store).
    pub fn forget_device(&self, id: &str) {
        if let Some((_, e)) = self.inner.devices.remove(id) {
            if let Some(u) = e.device.cpe_username {
                self.inner.cpe_credentials.remove(&u);
            }
        }
        self.inner.metrics.known_devices.set(i64::try_from(self.inner.devices.len()).unwrap_or(0));
    }

    /// Queue a task (committed before this returns) and mark the device as having work.
    pub async fn enqueue_task(&self, task: NewTask) -> Result<Task, AcsError> {
        let task = self.inner.store.insert_task(&task).await.map_err(AcsError::storage)?;
        self.mark_due(&task.device_id, task.not_before);
        Ok(task)
    }

    /// Put a faulted or expired task back in the queue, due now.
    pub async fn retry_task(&self, id: i64) -> Result<Option<Task>, AcsError> {
        let Some(mut task) = self.inner.store.get_task(id).await.map_err(AcsError::storage)? else {
            return Ok(None);
        };
        task.status = TaskStatus::Queued;
        task.not_before = OffsetDateTime::now_utc();
        task.attempts = 0;
        task.fault = None;
        task.command_key = None;
        self.inner.store.update_task(&task).await.map_err(AcsError::storage)?;
        self.mark_due(&task.device_id, task.not_before);
        Ok(Some(task))
    }

    pub(crate) fn mark_due(&self, device_id: &str, at: OffsetDateTime) {
        if let Some(mut e) = self.inner.devices.get_mut(device_id) {
            e.next_task_due = Some(match e.next_task_due {
                Some(t) if t < at => t,
                _ => at,
            });
        }
    }

    /// Wait until a task reaches a final state (`done`, `fault`, `expired`) or `timeout`
    /// passes; returns the task as last stored.
    pub async fn wait_task(&self, id: i64, timeout: Duration) -> Result<Option<Task>, AcsError> {
        let (tx, rx) = oneshot::channel();
        self.inner.waiters.entry(id).or_default().push(tx);
        let current = self.inner.store.get_task(id).await.map_err(AcsError::storage)?;
        match &current {
            None => return Ok(None),
            Some(t) if t.status.is_final() => return Ok(current),
            Some(_) => {}
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(task)) => Ok(Some(task)),
            _ => self.inner.store.get_task(id).await.map_err(AcsError::storage),
        }
    }

    pub(crate) fn notify_task(&self, task: &Task) {
        if !task.status.is_final() {
            return;
        }
        if let Some((_, senders)) = self.inner.waiters.remove(&task.id) {
            for s in senders {
                let _ = s.send(task.clone());
            }
        }
    }

    /// Ask the CPE to open a session now (HTTP connection request, falling back to TR-111 UDP
    /// when the device reported a UDP address).
    pub async fn connection_request(&self, device_id: &str) -> Result<(), AcsError> {
        let device = self
            .device(device_id)
            .ok_or_else(|| AcsError::Internal(format!("unknown device {device_id}")))?;
        let _slot = self
            .inner
            .connreq_slots
            .acquire()
            .await
            .map_err(|_| AcsError::Internal("connection request limiter closed".into()))?;
        let username = device.cr_username.clone().unwrap_or_default();
        let password = device.cr_password.clone().unwrap_or_default();
        let timeout = self.inner.config.connection_request_timeout;
        let result = match &device.connection_request_url {
            Some(url) if !url.is_empty() => {
                crate::connreq::connection_request(url, &username, &password, timeout).await
            }
            _ => Err(AcsError::InvalidConnReqUrl {
                url: String::new(),
                reason: "the device has not reported a ConnectionRequestURL".into(),
            }),
        };
        let result = match (result, &device.udp_connection_request_address) {
            (Err(e), Some(addr)) if !addr.is_empty() => {
                tracing::debug!(device = device_id, error = %e, "http connection request failed, trying udp");
                crate::connreq::send_udp_connection_request(addr, &username, &password)
                    .await
                    .map(|_| crate::connreq::ConnReqOutcome::Accepted)
            }
            (r, _) => r,
        };
        match result {
            Ok(crate::connreq::ConnReqOutcome::Busy { .. }) => {
                self.inner.metrics.connection_request(ConnReqOutcome::Busy);
                Err(AcsError::ConnReqStatus(503))
            }
            Ok(_) => {
                self.inner.metrics.connection_request(ConnReqOutcome::Ok);
                Ok(())
            }
            Err(e) => {
                self.inner.metrics.connection_request(ConnReqOutcome::Failed);
                let _ = self
                    .inner
                    .store
                    .insert_fault(&NewFault {
                        device_id: device_id.to_string(),
                        task_id: None,
                        channel: "connection_request".into(),
                        code: "connection_request_failed".into(),
                        message: e.to_string(),
                        detail: serde_json::Value::Null,
                        retries: 0,
                    })
                    .await;
                Err(e)
            }
        }
    }

    /// Tasks of a device still waiting (queued or running).
    pub async fn pending_tasks(&self, device_id: &str) -> Result<Vec<Task>, AcsError> {
        let mut out = Vec::new();
        for status in [TaskStatus::Queued, TaskStatus::Running] {
            let f = TaskFilter {
                device_id: Some(device_id.to_string()),
                status: Some(status),
                ..Default::default()
            };
            out.extend(self.inner.store.list_tasks(&f).await.map_err(AcsError::storage)?);
        }
        Ok(out)
    }

    /// Stop accepting new sessions (sessions in progress continue).
    pub fn begin_shutdown(&self) {
        self.inner.draining.store(true, Ordering::SeqCst);
    }

    /// Whether shutdown has begun.
    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::SeqCst)
    }

    /// Flush write-behind telemetry to the store (graceful shutdown, tests).
    pub async fn flush(&self) -> Result<(), AcsError> {
        self.inner.telemetry.flush().await.map_err(AcsError::storage)
    }

    /// Drop sessions idle for longer than the session timeout; their RPC in flight counts as
    /// a timed-out attempt. Returns how many were dropped.
    pub async fn expire_idle_sessions(&self) -> usize {
        let now = tokio::time::Instant::now();
        let candidates: Vec<(u64, Arc<tokio::sync::Mutex<Session>>)> =
            self.inner.sessions.iter().map(|e| (*e.key(), e.value().clone())).collect();
        let mut dropped = 0;
        for (id, session) in candidates {
            let Ok(mut s) = session.try_lock() else { continue };
            if now.duration_since(s.last_activity) < s.idle_timeout {
                continue;
            }
            s.expire(self).await;
            drop(s);
            self.inner.sessions.remove(&id);
            dropped += 1;
        }
        self.inner
            .metrics
            .active_sessions
            .set(i64::try_from(self.inner.sessions.len()).unwrap_or(0));
        dropped
    }

    /// Run the idle-session sweeper until `shutdown` resolves.
    pub async fn run_sweeper(self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let period = (self.inner.config.session_timeout / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(5));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => { self.expire_idle_sessions().await; }
                _ = shutdown.changed() => break,
            }
        }
    }

    pub(crate) fn next_request_id(&self) -> String {
        format!("acsd-{}", self.inner.request_ids.fetch_add(1, Ordering::Relaxed))
    }

    /// Password lookup for CPE authentication: per-device first, then the global pair.
    pub(crate) fn cpe_password(&self, username: &str) -> Option<String> {
        if let Some(p) = self.inner.cpe_credentials.get(username) {
            return Some(p.clone());
        }
        match (&self.inner.config.cpe_username, &self.inner.config.cpe_password) {
            (Some(u), Some(p)) if u == username => Some(p.clone()),
            _ => None,
        }
    }

    /// Counts per task status for a device (for diagnostics).
    pub async fn task_counts(&self, device_id: &str) -> Result<HashMap<String, usize>, AcsError> {
        let f = TaskFilter { device_id: Some(device_id.to_string()), ..Default::default() };
        let mut out = HashMap::new();
        for t in self.inner.store.list_tasks(&f).await.map_err(AcsError::storage)? {
            *out.entry(t.status.as_str().to_string()).or_insert(0) += 1;
        }
        Ok(out)
    }
}
