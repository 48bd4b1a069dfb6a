//! Prometheus metrics of the CWMP engine.
//!
//! Handles are created once and stored, so the hot path increments atomics without looking up
//! label sets. Labels are bounded: RPC method names, event codes and outcomes, never device
//! identities.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Why a CWMP HTTP request was refused before it reached a session.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum RejectReason {
    Malformed,
    TooLarge,
    Unauthorized,
    Busy,
    ShuttingDown,
    NoSession,
    UnknownMethod,
    Timeout,
}

/// How a CWMP session ended.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum SessionOutcome {
    Completed,
    Expired,
    Aborted,
}

/// How a task attempt ended.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum TaskOutcome {
    Done,
    Fault,
    Retry,
    Expired,
}

/// Result of one connection request.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum ConnReqOutcome {
    Ok,
    Busy,
    Failed,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: RejectReason,
}
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SessionLabel {
    outcome: SessionOutcome,
}
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabel {
    outcome: TaskOutcome,
}
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnReqLabel {
    outcome: ConnReqOutcome,
}
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabel {
    method: &'static str,
}
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabel {
    event: &'static str,
}

/// All CWMP engine metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    rejected: Family<ReasonLabel, Counter>,
    sessions: Family<SessionLabel, Counter>,
    tasks: Family<TaskLabel, Counter>,
    connection_requests: Family<ConnReqLabel, Counter>,
    received: Family<MethodLabel, Counter>,
    sent: Family<MethodLabel, Counter>,
    events: Family<EventLabel, Counter>,
    /// Sessions open right now.
    pub active_sessions: Gauge,
    /// Devices known to this node.
    pub known_devices: Gauge,
    /// Informs handled.
    pub informs: Counter,
    /// Wall time of whole sessions, Inform to `204 No Content`.
    pub session_seconds: Histogram,
    /// Request bytes received (after decompression).
    pub request_bytes: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            rejected: Family::default(),
            sessions: Family::default(),
            tasks: Family::default(),
            connection_requests: Family::default(),
            received: Family::default(),
            sent: Family::default(),
            events: Family::default(),
            active_sessions: Gauge::default(),
            known_devices: Gauge::default(),
            informs: Counter::default(),
            session_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 18)),
            request_bytes: Counter::default(),
        }
    }
}

impl Metrics {
    /// Register every metric under `registry` (prefix it with a sub-registry if wanted).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "cwmp_requests_rejected",
            "CWMP HTTP requests refused before reaching a session",
            self.rejected.clone(),
        );
        registry.register(
            "cwmp_sessions",
            "CWMP sessions ended, by outcome",
            self.sessions.clone(),
        );
        registry.register("cwmp_tasks", "task attempts ended, by outcome", self.tasks.clone());
        registry.register(
            "cwmp_connection_requests",
            "connection requests sent, by outcome",
            self.connection_requests.clone(),
        );
        registry.register(
            "cwmp_messages_received",
            "CWMP messages received from CPEs, by method",
            self.received.clone(),
        );
        registry.register(
            "cwmp_messages_sent",
            "CWMP messages sent to CPEs, by method",
            self.sent.clone(),
        );
        registry.register("cwmp_inform_events", "Inform event codes received", self.events.clone());
        registry.register("cwmp_informs", "Informs handled", self.informs.clone());
        registry.register(
            "cwmp_active_sessions",
            "CWMP sessions open now",
            self.active_sessions.clone(),
        );
        registry.register(
            "cwmp_known_devices",
            "devices known to this node",
            self.known_devices.clone(),
        );
        registry.register(
            "cwmp_session_duration_seconds",
            "CWMP session wall time from Inform to the final 204",
            self.session_seconds.clone(),
        );
        registry.register(
            "cwmp_request_bytes",
            "CWMP request body bytes received after decompression",
            self.request_bytes.clone(),
        );
    }

    pub(crate) fn rejected(&self, reason: RejectReason) {
        self.rejected.get_or_create(&ReasonLabel { reason }).inc();
    }
    pub(crate) fn session_ended(&self, outcome: SessionOutcome) {
        self.sessions.get_or_create(&SessionLabel { outcome }).inc();
    }
    pub(crate) fn task(&self, outcome: TaskOutcome) {
        self.tasks.get_or_create(&TaskLabel { outcome }).inc();
    }
    pub(crate) fn connection_request(&self, outcome: ConnReqOutcome) {
        self.connection_requests.get_or_create(&ConnReqLabel { outcome }).inc();
    }
    pub(crate) fn received(&self, method: &'static str) {
        self.received.get_or_create(&MethodLabel { method }).inc();
    }
    pub(crate) fn sent(&self, method: &'static str) {
        self.sent.get_or_create(&MethodLabel { method }).inc();
    }
    pub(crate) fn event(&self, event: &'static str) {
        self.events.get_or_create(&EventLabel { event }).inc();
    }
}
