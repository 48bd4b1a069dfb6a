//! The USP controller engine: per-agent state, presence, request/response matching,
//! notifications, onboarding and task execution.
//!
//! MTP adapters ([`crate::mtp`]) hand every received Record to [`Usp::handle_record`] together
//! with an [`Origin`] saying how to answer on the same MTP. The engine never blocks an adapter
//! on a round trip to the agent: onboarding and tasks run in one worker task per agent, which
//! sends requests and awaits the responses the adapter's read loop delivers.

mod onboard;
mod provision;
mod tasks;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use dashmap::DashMap;
use provisioning::{
    Device, DeviceFilter, NewTask, Parameter, Protocol, Store, Task, TaskStatus, Telemetry,
};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::codec::incoming::{CommandResult, Notification, NotifyView};
use crate::codec::version::{negotiate, reply_version, CONTROLLER_VERSIONS};
use crate::codec::{
    classify, decode_record, encode_record, msg_id, request, EndpointId, ErrorCode, Incoming,
    IncomingKind, Msg, Record, RecordKind, UspVersion,
};
use crate::metrics::UspMetrics;
use crate::mtp::mqtt::MqttPublisher;
use crate::UspError;

pub use tasks::supports_task;

/// Default for [`UspConfig::liveness_timeout`].
pub const DEFAULT_LIVENESS_TIMEOUT: Duration = Duration::from_secs(300);
/// Default for [`UspConfig::request_timeout`].
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Agents read per page when the engine starts.
const AGENT_PAGE: u32 = 5000;

/// Builds a download URL for a stored file name (the API signs URLs served by `acsd`).
pub type FileUrlFn = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Engine settings.
#[derive(Clone)]
pub struct UspConfig {
    /// The controller's own Endpoint ID; Records addressed to any other id are ignored.
    pub endpoint_id: EndpointId,
    /// Silence after which an online agent is probed with a Get and, if it does not answer,
    /// marked offline.
    pub liveness_timeout: Duration,
    /// How long a request waits for the agent's response.
    pub request_timeout: Duration,
    /// Parameters (or objects) to keep a persistent ValueChange subscription on.
    pub value_change_paths: Vec<String>,
    /// Download URL for a stored file, for `download` tasks naming a `fileName`.
    pub file_url: Option<FileUrlFn>,
}

impl std::fmt::Debug for UspConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UspConfig")
            .field("endpoint_id", &self.endpoint_id.as_str())
            .field("liveness_timeout", &self.liveness_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("value_change_paths", &self.value_change_paths)
            .finish_non_exhaustive()
    }
}

impl UspConfig {
    /// Defaults for everything but the endpoint id.
    #[must_use]
    pub fn new(endpoint_id: EndpointId) -> Self {
        Self {
            endpoint_id,
            liveness_timeout: DEFAULT_LIVENESS_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            value_change_paths: Vec::new(),
            file_url: None,
        }
    }
}

/// What a WebSocket connection's writer is asked to do.
#[derive(Debug)]
pub(crate) enum WsOut {
    /// Send a Record in a binary frame.
    Record(Vec<u8>),
    /// Close with this code and reason.
    Close(u16, &'static str),
}

/// The sending half of one WebSocket connection.
#[derive(Debug, Clone)]
pub struct WsLink {
    pub(crate) conn: u64,
    pub(crate) tx: mpsc::Sender<WsOut>,
}

/// How a Record reached the engine, and so how to answer on the same MTP.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Origin {
    /// A WebSocket connection served by `acsd`.
    WebSocket(WsLink),
    /// An MQTT publish.
    Mqtt {
        /// Where to answer: the MQTT 5 Response Topic or the 3.1.1 `/reply-to=` suffix.
        reply_to: Option<String>,
        /// The agent speaks MQTT 3.1.1 (answers carry the `/reply-to=` suffix).
        v311: bool,
    },
}

/// What [`Usp::handle_record`] did with a Record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOutcome {
    /// Processed.
    Accepted,
    /// Not for us (wrong `to_id`, bad `from_id`, unsupported record type): dropped and counted.
    Ignored,
    /// Not a USP Record: dropped and counted (WebSocket closes with 1003).
    Undecodable,
}

#[derive(Debug, Clone)]
enum Route {
    Ws(WsLink),
    Mqtt { topic: String, v311: bool },
}

#[derive(Debug)]
struct Agent {
    route: Option<Route>,
    online: bool,
    last_seen: Instant,
    version: UspVersion,
    negotiated: bool,
    /// The stored device, once registered.
    device: Option<Device>,
    /// Onboarding duty pending (unknown agent, OnBoardRequest, Boot!).
    onboard: bool,
    /// Bumped whenever onboarding is asked for, so a run that started earlier does not clear a
    /// newer request.
    onboard_gen: u64,
    /// A `Boot!` event arrived since the last registration.
    booted: bool,
    /// Last contact to persist.
    contact_dirty: bool,
    worker: bool,
    rerun: bool,
    probing: bool,
}

impl Agent {
    fn new(device: Option<Device>) -> Self {
        Self {
            route: None,
            online: false,
            last_seen: Instant::now(),
            version: UspVersion::V1_0,
            negotiated: false,
            onboard: device.is_none(),
            onboard_gen: 0,
            device,
            booted: false,
            contact_dirty: false,
            worker: false,
            rerun: false,
            probing: false,
        }
    }
}

#[derive(Debug)]
struct Pending {
    agent: String,
    tx: oneshot::Sender<Incoming>,
}

struct Inner {
    config: UspConfig,
    store: Arc<dyn Store>,
    agents: DashMap<String, Agent>,
    pending: DashMap<String, Pending>,
    waiters: DashMap<i64, Vec<oneshot::Sender<Task>>>,
    mqtt: OnceLock<MqttPublisher>,
    metrics: UspMetrics,
    msg_prefix: String,
    next_msg: AtomicU64,
    /// Serializes the updates of asynchronous-command tasks (response vs. OperationComplete).
    ops: tokio::sync::Mutex<()>,
}

/// The USP controller engine. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct Usp {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Usp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Usp")
            .field("endpoint_id", &self.inner.config.endpoint_id.as_str())
            .field("agents", &self.inner.agents.len())
            .finish_non_exhaustive()
    }
}

fn now_utc() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

impl Usp {
    /// Build the engine and load the known USP agents from the store (all offline).
    ///
    /// # Errors
    /// [`UspError::Storage`] if the store cannot be read.
    pub async fn new(
        config: UspConfig,
        store: Arc<dyn Store>,
        metrics: UspMetrics,
    ) -> Result<Usp, UspError> {
        let agents = DashMap::new();
        // Page through the USP agents only (the CWMP engine indexes the rest).
        let mut offset = 0u32;
        loop {
            let page = store
                .list_devices(&DeviceFilter {
                    protocol: Some(Protocol::Usp),
                    limit: Some(AGENT_PAGE),
                    offset: Some(offset),
                    ..Default::default()
                })
                .await?;
            let n = u32::try_from(page.len()).unwrap_or(u32::MAX);
            for d in page {
                agents.insert(d.id.clone(), Agent::new(Some(d)));
            }
            if n < AGENT_PAGE {
                break;
            }
            offset = offset.saturating_add(n);
        }
        let nanos = now_utc().unix_timestamp_nanos();
        let msg_prefix = format!("acsd-{:x}", (nanos as u64) & 0xffff_ffff);
        Ok(Usp {
            inner: Arc::new(Inner {
                config,
                store,
                agents,
                pending: DashMap::new(),
                waiters: DashMap::new(),
                mqtt: OnceLock::new(),
                metrics,
                msg_prefix,
                next_msg: AtomicU64::new(1),
                ops: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// The controller's Endpoint ID.
    #[must_use]
    pub fn endpoint_id(&self) -> &str {
        self.inner.config.endpoint_id.as_str()
    }

    /// The engine configuration.
    #[must_use]
    pub fn config(&self) -> &UspConfig {
        &self.inner.config
    }

    /// The engine's metrics.
    #[must_use]
    pub fn metrics(&self) -> &UspMetrics {
        &self.inner.metrics
    }

    /// The store the engine writes to.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Whether the agent is online (USP presence).
    #[must_use]
    pub fn is_online(&self, endpoint_id: &str) -> bool {
        self.inner.agents.get(endpoint_id).is_some_and(|a| a.online)
    }

    /// How many agents are online.
    #[must_use]
    pub fn online_count(&self) -> usize {
        self.inner.agents.iter().filter(|a| a.online).count()
    }

    /// The USP version used with the agent (negotiated, or the one of its last Record).
    #[must_use]
    pub fn agent_version(&self, endpoint_id: &str) -> Option<UspVersion> {
        self.inner.agents.get(endpoint_id).map(|a| a.version)
    }

    /// Forget an agent's state (after the API deleted its device).
    pub fn forget_device(&self, endpoint_id: &str) {
        if let Some(mut a) = self.inner.agents.get_mut(endpoint_id) {
            a.device = None;
            a.onboard = true;
        }
    }

    pub(crate) fn set_mqtt(&self, publisher: MqttPublisher) -> Result<(), UspError> {
        self.inner
            .mqtt
            .set(publisher)
            .map_err(|_| UspError::Config("the mqtt client is already started".into()))
    }

    fn new_msg_id(&self, what: &str) -> String {
        let n = self.inner.next_msg.fetch_add(1, Ordering::Relaxed);
        format!("{}-{what}-{n}", self.inner.msg_prefix)
    }

    // ---------------------------------------------------------------- receiving

    /// Process one received Record. Never fails: bad input is dropped and counted.
    pub async fn handle_record(&self, bytes: &[u8], origin: Origin) -> RecordOutcome {
        let m = &self.inner.metrics;
        m.records_received.inc();
        let record = match decode_record(bytes) {
            Ok(r) => r,
            Err(e) => {
                m.dropped("undecodable");
                tracing::debug!(error = %e, "dropping undecodable usp record");
                return RecordOutcome::Undecodable;
            }
        };
        if record.to_id != self.endpoint_id() {
            m.dropped("wrong_to_id");
            tracing::debug!(to = %record.to_id, from = %record.from_id, "record for another endpoint");
            return RecordOutcome::Ignored;
        }
        if EndpointId::parse(&record.from_id).is_err() {
            m.dropped("bad_from_id");
            return RecordOutcome::Ignored;
        }
        let kind = match record.kind() {
            Ok(k) => k,
            Err(_) => {
                m.dropped("no_record_type");
                return RecordOutcome::Ignored;
            }
        };
        let agent_id = record.from_id.clone();
        if let RecordKind::Disconnect { reason, reason_code } = kind {
            tracing::info!(agent = %agent_id, reason, reason_code, "agent disconnected");
            self.set_offline(&agent_id, "disconnect record");
            return RecordOutcome::Accepted;
        }
        let route = match (&origin, &kind) {
            (Origin::WebSocket(link), _) => Some(Route::Ws(link.clone())),
            (Origin::Mqtt { reply_to: Some(t), v311 }, _) if !t.is_empty() => {
                Some(Route::Mqtt { topic: t.clone(), v311: *v311 })
            }
            (Origin::Mqtt { v311, .. }, RecordKind::MqttConnect { version, subscribed_topic })
                if !subscribed_topic.is_empty() =>
            {
                let old = *version == crate::codec::record::mqtt_connect_record::MqttVersion::V311;
                Some(Route::Mqtt { topic: (*subscribed_topic).to_owned(), v311: *v311 || old })
            }
            _ => None,
        };
        self.touch(&agent_id, route, &record.version);
        match kind {
            RecordKind::Msg(_) => {}
            RecordKind::SessionContext(_) => {
                m.dropped("session_context");
                return RecordOutcome::Ignored;
            }
            _ => return RecordOutcome::Accepted,
        }
        let msg = match record.msg() {
            Ok(msg) => msg,
            Err(e) => {
                m.dropped("undecodable_msg");
                tracing::debug!(agent = %agent_id, error = %e, "dropping undecodable usp msg");
                return RecordOutcome::Accepted;
            }
        };
        let incoming = match classify(msg) {
            Ok(i) => i,
            Err(e) => {
                m.dropped("malformed_msg");
                tracing::debug!(agent = %agent_id, error = %e, "dropping malformed usp msg");
                return RecordOutcome::Accepted;
            }
        };
        self.dispatch(&agent_id, incoming).await;
        RecordOutcome::Accepted
    }

    async fn dispatch(&self, agent_id: &str, incoming: Incoming) {
        if incoming.is_response() {
            let entry = self.inner.pending.remove_if(&incoming.msg_id, |_, p| p.agent == agent_id);
            match entry {
                Some((_, p)) => {
                    let _ = p.tx.send(incoming);
                }
                None => self.inner.metrics.dropped("unexpected_response"),
            }
            return;
        }
        match incoming.kind {
            IncomingKind::Notify(view) => {
                self.handle_notify(agent_id, &incoming.msg_id, view).await
            }
            IncomingKind::UnsupportedRequest { name } => {
                let err = request::error(
                    incoming.msg_id.clone(),
                    ErrorCode::MessageNotSupported,
                    format!("a controller does not serve {name}"),
                    request::no_param_errs(),
                );
                if let Err(e) = self.send(agent_id, &err).await {
                    tracing::debug!(agent = %agent_id, error = %e, "cannot answer error 7001");
                }
            }
            _ => self.inner.metrics.dropped("unexpected_response"),
        }
    }

    async fn handle_notify(&self, agent_id: &str, msg_id: &str, view: NotifyView) {
        self.inner.metrics.notification(view.notification.name());
        if view.send_resp {
            let resp = request::notify_resp(msg_id, view.subscription_id.clone());
            if let Err(e) = self.send(agent_id, &resp).await {
                tracing::warn!(agent = %agent_id, error = %e, "cannot send NotifyResp");
            }
        }
        match view.notification {
            Notification::OnBoardRequest {
                oui,
                product_class,
                serial_number,
                agent_supported_protocol_versions,
            } => {
                if let Some(mut a) = self.inner.agents.get_mut(agent_id) {
                    if let Some(v) =
                        negotiate(&agent_supported_protocol_versions, CONTROLLER_VERSIONS)
                    {
                        a.version = v;
                        a.negotiated = true;
                    }
                    let now = now_utc();
                    let d = a.device.get_or_insert_with(|| {
                        Device::new(agent_id, Protocol::Usp, "", "", "", now)
                    });
                    d.oui = oui;
                    d.product_class = product_class;
                    d.serial_number = serial_number;
                    a.onboard = true;
                    a.onboard_gen += 1;
                }
                tracing::info!(agent = %agent_id, "onboard request");
                self.kick(agent_id);
            }
            Notification::Event { obj_path, event_name, params } => {
                let path = crate::codec::incoming::join(&obj_path, &event_name);
                tracing::info!(agent = %agent_id, event = %path, ?params, "usp event");
                if path == "Device.Boot!" {
                    if let Some(mut a) = self.inner.agents.get_mut(agent_id) {
                        a.onboard = true;
                        a.onboard_gen += 1;
                        a.booted = true;
                    }
                    self.kick(agent_id);
                }
            }
            Notification::OperationComplete { command_key, result, obj_path, command_name } => {
                tracing::info!(agent = %agent_id, command = %obj_path, name = %command_name,
                    key = %command_key, "operation complete");
                if let Err(e) = self.complete_command(agent_id, &command_key, result).await {
                    tracing::warn!(agent = %agent_id, error = %e, "cannot record operation result");
                }
            }
            Notification::ValueChange { param_path, param_value } => {
                let known = self.inner.agents.get(agent_id).is_some_and(|a| a.device.is_some());
                if known {
                    let p = Parameter::value(param_path, param_value, None, now_utc());
                    if let Err(e) = self.inner.store.upsert_parameters(agent_id, &[p]).await {
                        tracing::debug!(agent = %agent_id, error = %e, "value change not cached");
                    }
                }
            }
            Notification::ObjectCreation { obj_path, .. } => {
                tracing::debug!(agent = %agent_id, object = %obj_path, "object created");
            }
            Notification::ObjectDeletion { obj_path } => {
                tracing::debug!(agent = %agent_id, object = %obj_path, "object deleted");
                let known = self.inner.agents.get(agent_id).is_some_and(|a| a.device.is_some());
                if known {
                    let _ = self.inner.store.delete_parameters(agent_id, &obj_path).await;
                }
            }
        }
    }

    // ---------------------------------------------------------------- presence

    /// A valid Record arrived from `agent_id`: it is online, and `route` (if any) is how to
    /// reach it.
    fn touch(&self, agent_id: &str, route: Option<Route>, record_version: &str) {
        let mut came_online = false;
        let mut replaced = None;
        {
            let mut a = self.inner.agents.entry(agent_id.to_owned()).or_insert_with(|| {
                tracing::info!(agent = %agent_id, "new usp agent");
                Agent::new(None)
            });
            a.last_seen = Instant::now();
            if !a.negotiated {
                a.version = reply_version(record_version, CONTROLLER_VERSIONS);
            }
            if let Some(route) = route {
                if let (Some(Route::Ws(old)), Route::Ws(new)) = (&a.route, &route) {
                    if old.conn != new.conn {
                        replaced = Some(old.clone());
                    }
                }
                a.route = Some(route);
            }
            if !a.online && a.route.is_some() {
                a.online = true;
                a.contact_dirty = true;
                came_online = true;
            }
        }
        if let Some(old) = replaced {
            // One WebSocket session per agent: the newer connection wins.
            let _ = old.tx.try_send(WsOut::Close(1000, "replaced by a newer session"));
        }
        if came_online {
            self.inner.metrics.agents_online.inc();
            tracing::info!(agent = %agent_id, "agent online");
            self.kick(agent_id);
        }
    }

    fn set_offline(&self, agent_id: &str, why: &'static str) {
        let was_online = match self.inner.agents.get_mut(agent_id) {
            Some(mut a) => {
                let was = a.online;
                a.online = false;
                a.route = None;
                was
            }
            None => false,
        };
        if was_online {
            self.inner.metrics.agents_online.dec();
            tracing::info!(agent = %agent_id, why, "agent offline");
        }
        // Requests in flight will not be answered on this route.
        self.inner.pending.retain(|_, p| p.agent != agent_id);
    }

    /// A WebSocket connection closed: agents reached through it go offline.
    pub fn connection_closed(&self, conn: u64) {
        let gone: Vec<String> = self
            .inner
            .agents
            .iter()
            .filter(|a| matches!(&a.route, Some(Route::Ws(l)) if l.conn == conn))
            .map(|a| a.key().clone())
            .collect();
        for id in gone {
            self.set_offline(&id, "websocket closed");
        }
    }

    /// Probe silent agents and mark those that do not answer offline, until `shutdown`.
    pub async fn run_liveness(self, mut shutdown: watch::Receiver<bool>) {
        let timeout = self.inner.config.liveness_timeout;
        let period = (timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(10));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = crate::mtp::stopped(&mut shutdown) => return,
                _ = tick.tick() => {}
            }
            let silent: Vec<String> = self
                .inner
                .agents
                .iter_mut()
                .filter_map(|mut a| {
                    if a.online && !a.probing && a.last_seen.elapsed() >= timeout {
                        a.probing = true;
                        Some(a.key().clone())
                    } else {
                        None
                    }
                })
                .collect();
            for id in silent {
                let usp = self.clone();
                tokio::spawn(async move { usp.probe(&id).await });
            }
        }
    }

    async fn probe(&self, agent_id: &str) {
        let get = request::get(self.new_msg_id("probe"), ["Device.LocalAgent.EndpointID"], 1);
        let wait = self.inner.config.request_timeout.min(self.inner.config.liveness_timeout);
        let answered = self.request_within(agent_id, get, wait).await.is_ok();
        if let Some(mut a) = self.inner.agents.get_mut(agent_id) {
            a.probing = false;
        }
        if !answered {
            self.set_offline(agent_id, "liveness timeout");
        }
    }

    // ---------------------------------------------------------------- sending

    /// Send a Msg to an agent on its current route (no response awaited).
    ///
    /// # Errors
    /// [`UspError::NotConnected`] when the agent has no route, [`UspError::Mtp`] when the MTP
    /// fails.
    pub async fn send(&self, agent_id: &str, msg: &Msg) -> Result<(), UspError> {
        let (route, version) = match self.inner.agents.get(agent_id) {
            Some(a) => (a.route.clone(), a.version),
            None => (None, UspVersion::V1_0),
        };
        let route = route.ok_or_else(|| UspError::NotConnected(agent_id.to_owned()))?;
        let record = Record::wrap(agent_id, self.endpoint_id(), version, msg);
        let bytes = encode_record(&record);
        self.inner.metrics.records_sent.inc();
        match route {
            Route::Ws(link) => link
                .tx
                .send(WsOut::Record(bytes))
                .await
                .map_err(|_| UspError::NotConnected(agent_id.to_owned())),
            Route::Mqtt { topic, v311 } => match self.inner.mqtt.get() {
                Some(p) => p.publish(&topic, v311, bytes).await,
                None => Err(UspError::NotConnected(agent_id.to_owned())),
            },
        }
    }

    /// Send a request and wait for its response (or Error) for at most the configured
    /// request timeout.
    ///
    /// # Errors
    /// As [`Usp::send`], and [`UspError::Timeout`] when no answer comes in time.
    pub async fn request(&self, agent_id: &str, msg: Msg) -> Result<Incoming, UspError> {
        self.request_within(agent_id, msg, self.inner.config.request_timeout).await
    }

    async fn request_within(
        &self,
        agent_id: &str,
        msg: Msg,
        wait: Duration,
    ) -> Result<Incoming, UspError> {
        let id = msg_id(&msg).to_owned();
        let name = request_name(&msg);
        let (tx, rx) = oneshot::channel();
        self.inner.pending.insert(id.clone(), Pending { agent: agent_id.to_owned(), tx });
        if let Err(e) = self.send(agent_id, &msg).await {
            self.inner.pending.remove(&id);
            return Err(e);
        }
        match tokio::time::timeout(wait, rx).await {
            Ok(Ok(incoming)) => Ok(incoming),
            Ok(Err(_)) => Err(UspError::NotConnected(agent_id.to_owned())),
            Err(_) => {
                self.inner.pending.remove(&id);
                Err(UspError::Timeout { agent: agent_id.to_owned(), request: name })
            }
        }
    }

    // ---------------------------------------------------------------- tasks

    /// Queue a task (committed before this returns); an online agent runs it right away.
    ///
    /// # Errors
    /// [`UspError::Storage`] (unknown device, invalid spec, database failure).
    pub async fn enqueue_task(&self, task: NewTask) -> Result<Task, UspError> {
        let task = self.inner.store.insert_task(&task).await?;
        if self.is_online(&task.device_id) {
            self.kick(&task.device_id);
        }
        Ok(task)
    }

    /// Run the agent's due tasks now if it is online; returns whether it is.
    pub fn run_now(&self, endpoint_id: &str) -> bool {
        let online = self.is_online(endpoint_id);
        if online {
            self.kick(endpoint_id);
        }
        online
    }

    /// Onboard the agent again (device info, subscriptions, equipment profile push), now if it
    /// is online, else at its next contact. Returns whether it is online.
    pub fn reprovision(&self, endpoint_id: &str) -> bool {
        match self.inner.agents.get_mut(endpoint_id) {
            Some(mut a) => {
                a.onboard = true;
                a.onboard_gen += 1;
            }
            None => return false,
        }
        self.run_now(endpoint_id)
    }

    /// Wait until a task reaches a final state or `timeout` passes; returns the task as last
    /// stored.
    ///
    /// # Errors
    /// [`UspError::Storage`].
    pub async fn wait_task(&self, id: i64, timeout: Duration) -> Result<Option<Task>, UspError> {
        let (tx, rx) = oneshot::channel();
        self.inner.waiters.entry(id).or_default().push(tx);
        let current = self.inner.store.get_task(id).await?;
        match &current {
            None => return Ok(None),
            Some(t) if t.status.is_final() => return Ok(current),
            Some(_) => {}
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(task)) => Ok(Some(task)),
            _ => Ok(self.inner.store.get_task(id).await?),
        }
    }

    fn notify_task(&self, task: &Task) {
        if !task.status.is_final() {
            return;
        }
        if let Some((_, senders)) = self.inner.waiters.remove(&task.id) {
            for s in senders {
                let _ = s.send(task.clone());
            }
        }
    }

    /// Make sure the agent's worker runs (onboarding duties, then due tasks).
    fn kick(&self, agent_id: &str) {
        let spawn = match self.inner.agents.get_mut(agent_id) {
            Some(mut a) if a.worker => {
                a.rerun = true;
                false
            }
            Some(mut a) => {
                a.worker = true;
                a.rerun = false;
                true
            }
            None => false,
        };
        if spawn {
            let usp = self.clone();
            let id = agent_id.to_owned();
            tokio::spawn(async move { usp.worker(id).await });
        }
    }

    async fn worker(self, agent_id: String) {
        loop {
            self.work_once(&agent_id).await;
            let Some(mut a) = self.inner.agents.get_mut(&agent_id) else { return };
            if a.rerun && a.online {
                a.rerun = false;
                continue;
            }
            a.worker = false;
            return;
        }
    }

    async fn work_once(&self, agent_id: &str) {
        let (online, onboard, dirty) = match self.inner.agents.get_mut(agent_id) {
            Some(mut a) => {
                let dirty = a.contact_dirty;
                a.contact_dirty = false;
                (a.online, a.onboard, dirty)
            }
            None => return,
        };
        if !online {
            return;
        }
        if onboard {
            self.onboard(agent_id).await;
        } else if dirty {
            self.record_contact(agent_id).await;
        }
        // Due tasks, oldest first, while the agent stays reachable.
        loop {
            if !self.is_online(agent_id) {
                return;
            }
            let known = self.inner.agents.get(agent_id).is_some_and(|a| a.device.is_some());
            if !known {
                return;
            }
            let task = match self.inner.store.next_due_task(agent_id, now_utc()).await {
                Ok(Some(t)) => t,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(agent = %agent_id, error = %e, "cannot claim a task");
                    return;
                }
            };
            if !self.run_task(agent_id, task).await {
                return;
            }
        }
    }

    /// Persist the agent's last contact time.
    async fn record_contact(&self, agent_id: &str) {
        let device = match self.inner.agents.get_mut(agent_id) {
            Some(mut a) => match a.device.as_mut() {
                Some(d) => {
                    d.last_inform_at = Some(now_utc());
                    d.clone()
                }
                None => return,
            },
            None => return,
        };
        let t = Telemetry { device, params: Vec::new(), bootstrap: false };
        if let Err(e) = self.inner.store.apply_telemetry(&[t]).await {
            tracing::warn!(agent = %agent_id, error = %e, "cannot record usp contact");
        }
    }

    /// The latest device snapshot the engine holds for an agent.
    #[must_use]
    pub fn device(&self, endpoint_id: &str) -> Option<Device> {
        self.inner.agents.get(endpoint_id).and_then(|a| a.device.clone())
    }

    /// Keep the engine's snapshot in step with an operator's change to a device.
    pub fn refresh_device(&self, device: Device) {
        if let Some(mut a) = self.inner.agents.get_mut(&device.id) {
            a.device = Some(device);
        }
    }

    async fn complete_command(
        &self,
        agent_id: &str,
        command_key: &str,
        result: CommandResult,
    ) -> Result<(), UspError> {
        if command_key.is_empty() {
            return Ok(());
        }
        let _guard = self.inner.ops.lock().await;
        let Some(mut task) =
            self.inner.store.find_task_by_command_key(agent_id, command_key).await?
        else {
            return Ok(());
        };
        if task.status.is_final() {
            return Ok(());
        }
        match result {
            CommandResult::Completed { output_args } => {
                task.status = TaskStatus::Done;
                task.result = Some(serde_json::json!({ "outputArgs": output_args }));
                task.fault = None;
            }
            CommandResult::Failed(f) => {
                task.status = TaskStatus::Fault;
                task.fault = Some(tasks::agent_fault(f.code, &f.message, Vec::new()));
            }
            CommandResult::Started { request_path } => {
                task.result = Some(serde_json::json!({ "requestPath": request_path }));
            }
        }
        self.inner.store.update_task(&task).await?;
        self.notify_task(&task);
        Ok(())
    }
}

fn request_name(msg: &Msg) -> &'static str {
    use crate::codec::msg::{body::MsgBody, request::ReqType};
    match msg.body.as_ref().and_then(|b| b.msg_body.as_ref()) {
        Some(MsgBody::Request(r)) => match &r.req_type {
            Some(ReqType::Get(_)) => "Get",
            Some(ReqType::Set(_)) => "Set",
            Some(ReqType::Add(_)) => "Add",
            Some(ReqType::Delete(_)) => "Delete",
            Some(ReqType::Operate(_)) => "Operate",
            Some(ReqType::GetInstances(_)) => "GetInstances",
            Some(ReqType::GetSupportedDm(_)) => "GetSupportedDM",
            Some(ReqType::GetSupportedProtocol(_)) => "GetSupportedProtocol",
            Some(ReqType::Notify(_)) => "Notify",
            _ => "request",
        },
        _ => "message",
    }
}
