//! Prometheus metrics of the USP engine, registered once by the binary.
//!
//! Labels are bounded: drop reasons and notification kinds are fixed strings.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

type Labels = [(&'static str, &'static str); 1];

/// Handles to the engine's metrics. Cheap to clone; clones share values.
#[derive(Debug, Clone, Default)]
pub struct UspMetrics {
    /// Records received on any MTP.
    pub records_received: Counter,
    /// Records sent.
    pub records_sent: Counter,
    /// Records and messages dropped, by reason.
    pub records_dropped: Family<Labels, Counter>,
    /// Notifications received, by kind.
    pub notifications: Family<Labels, Counter>,
    /// Agents online now.
    pub agents_online: Gauge,
}

impl UspMetrics {
    /// Register every metric under `usp_` in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("usp");
        r.register("records_received", "USP records received", self.records_received.clone());
        r.register("records_sent", "USP records sent", self.records_sent.clone());
        r.register(
            "records_dropped",
            "USP records and messages dropped, by reason",
            self.records_dropped.clone(),
        );
        r.register("notifications", "USP notifications received", self.notifications.clone());
        r.register("agents_online", "USP agents online", self.agents_online.clone());
    }

    pub(crate) fn dropped(&self, reason: &'static str) {
        self.records_dropped.get_or_create(&[("reason", reason)]).inc();
    }

    pub(crate) fn notification(&self, kind: &'static str) {
        self.notifications.get_or_create(&[("kind", kind)]).inc();
    }

    /// How many records were dropped for `reason` (`undecodable`, `wrong_to_id`, ...).
    #[must_use]
    pub fn dropped_count(&self, reason: &'static str) -> u64 {
        self.records_dropped.get_or_create(&[("reason", reason)]).get()
    }
}
