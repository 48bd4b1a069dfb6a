//! Measurements of one phase: HDR latency histogram, outcome counters, what the ACS asked
//! for, a live progress line and the JSON summary.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{json, Value};

use crate::error::FleetError;
use crate::session::SessionResult;

/// Counters and histograms of one phase. Shared by all session tasks.
#[derive(Debug)]
pub struct Stats {
    /// Phase name.
    pub name: String,
    started: Instant,
    /// Sessions that ended with `204`.
    pub ok: AtomicU64,
    /// Sessions refused with `503`.
    pub busy: AtomicU64,
    /// Sessions that failed otherwise.
    pub failed: AtomicU64,
    /// Arrivals not started because the in-flight cap was reached (open loop only).
    pub dropped: AtomicU64,
    /// Sessions started.
    pub started_sessions: AtomicU64,
    /// HTTP requests sent.
    pub http_requests: AtomicU64,
    latency: Mutex<Histogram<u64>>,
    interval: Mutex<Histogram<u64>>,
    rpcs: Mutex<BTreeMap<&'static str, u64>>,
    faults: Mutex<BTreeMap<u32, u64>>,
    errors: Mutex<BTreeMap<String, u64>>,
    /// Extra phase-specific numbers for the summary.
    pub extra: Mutex<serde_json::Map<String, Value>>,
}

fn hist() -> Histogram<u64> {
    // 1 µs .. 1 h, 3 significant digits: constant, valid bounds.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("constant histogram bounds are valid")
}

fn error_kind(e: &FleetError) -> String {
    match e {
        FleetError::Io(io) => format!("io: {:?}", io.kind()),
        FleetError::Timeout(what) => format!("timeout: {what}"),
        FleetError::Http(_) => "http".into(),
        FleetError::Decode(_) => "decode".into(),
        FleetError::Protocol(m) => {
            let short: String = m.chars().take(60).collect();
            format!("protocol: {short}")
        }
        FleetError::Busy => "busy".into(),
        other => other.to_string(),
    }
}

impl Stats {
    /// Empty stats for phase `name`; the clock starts now.
    pub fn new(name: impl Into<String>) -> Stats {
        Stats {
            name: name.into(),
            started: Instant::now(),
            ok: AtomicU64::new(0),
            busy: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            started_sessions: AtomicU64::new(0),
            http_requests: AtomicU64::new(0),
            latency: Mutex::new(hist()),
            interval: Mutex::new(hist()),
            rpcs: Mutex::new(BTreeMap::new()),
            faults: Mutex::new(BTreeMap::new()),
            errors: Mutex::new(BTreeMap::new()),
            extra: Mutex::new(serde_json::Map::new()),
        }
    }

    /// Record a finished session and its latency.
    pub fn record(&self, outcome: &Result<SessionResult, FleetError>, latency: Duration) {
        match outcome {
            Ok(r) => {
                self.ok.fetch_add(1, Ordering::Relaxed);
                self.http_requests.fetch_add(u64::from(r.http_requests), Ordering::Relaxed);
                let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).max(1);
                if let Ok(mut h) = self.latency.lock() {
                    h.saturating_record(us);
                }
                if let Ok(mut h) = self.interval.lock() {
                    h.saturating_record(us);
                }
                if !r.acs_requests.is_empty() {
                    if let Ok(mut m) = self.rpcs.lock() {
                        for name in &r.acs_requests {
                            *m.entry(name).or_default() += 1;
                        }
                    }
                }
                if !r.faults_sent.is_empty() {
                    if let Ok(mut m) = self.faults.lock() {
                        for c in &r.faults_sent {
                            *m.entry(*c).or_default() += 1;
                        }
                    }
                }
            }
            Err(FleetError::Busy) => {
                self.busy.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut m) = self.errors.lock() {
                    *m.entry(error_kind(e)).or_default() += 1;
                }
            }
        }
    }

    /// Record an error outside a session (e.g. an API call).
    pub fn record_error(&self, what: &str) {
        if let Ok(mut m) = self.errors.lock() {
            *m.entry(what.to_string()).or_default() += 1;
        }
    }

    /// Time since the phase started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Sessions finished so far (any outcome).
    pub fn finished(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
            + self.busy.load(Ordering::Relaxed)
            + self.failed.load(Ordering::Relaxed)
    }

    /// One progress line; resets the interval histogram.
    pub fn progress_line(&self, last_ok: &mut u64, last_t: &mut Instant) -> String {
        let ok = self.ok.load(Ordering::Relaxed);
        let now = Instant::now();
        let dt = now.duration_since(*last_t).as_secs_f64().max(1e-3);
        let rate = (ok - *last_ok) as f64 / dt;
        *last_ok = ok;
        *last_t = now;
        let p99 = self
            .interval
            .lock()
            .map(|mut h| {
                let v = h.value_at_quantile(0.99);
                h.reset();
                v
            })
            .unwrap_or(0);
        let started = self.started_sessions.load(Ordering::Relaxed);
        format!(
            "[{}] t={:>5.1}s ok={} rate={:.0}/s in_flight={} busy={} failed={} dropped={} p99={:.1}ms",
            self.name,
            self.elapsed().as_secs_f64(),
            ok,
            rate,
            started.saturating_sub(self.finished()),
            self.busy.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.dropped.load(Ordering::Relaxed),
            p99 as f64 / 1000.0
        )
    }

    /// The phase summary; `wall` is the measured duration used for throughput.
    pub fn summary(&self, wall: Duration) -> Value {
        let ok = self.ok.load(Ordering::Relaxed);
        let secs = wall.as_secs_f64().max(1e-9);
        let lat = self.latency.lock().map(|h| {
            let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
            json!({
                "p50": ms(0.50), "p90": ms(0.90), "p99": ms(0.99), "p999": ms(0.999),
                "max": h.max() as f64 / 1000.0, "mean": h.mean() / 1000.0, "count": h.len(),
            })
        });
        let mut v = json!({
            "phase": self.name,
            "duration_s": secs,
            "sessions": {
                "started": self.started_sessions.load(Ordering::Relaxed),
                "ok": ok,
                "busy_503": self.busy.load(Ordering::Relaxed),
                "failed": self.failed.load(Ordering::Relaxed),
                "dropped": self.dropped.load(Ordering::Relaxed),
            },
            "throughput_per_s": ok as f64 / secs,
            "http_requests": self.http_requests.load(Ordering::Relaxed),
            "latency_ms": lat.unwrap_or(Value::Null),
            "acs_requests": self.rpcs.lock().map(|m| json!(*m)).unwrap_or(Value::Null),
            "faults_sent": self.faults.lock().map(|m| {
                Value::Object(m.iter().map(|(k, v)| (k.to_string(), json!(v))).collect())
            }).unwrap_or(Value::Null),
            "errors": self.errors.lock().map(|m| json!(*m)).unwrap_or(Value::Null),
        });
        if let (Value::Object(o), Ok(extra)) = (&mut v, self.extra.lock()) {
            for (k, x) in extra.iter() {
                o.insert(k.clone(), x.clone());
            }
        }
        v
    }

    /// Add a phase-specific number to the summary.
    pub fn set_extra(&self, key: &str, value: Value) {
        if let Ok(mut m) = self.extra.lock() {
            m.insert(key.to_string(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn summary_is_well_formed() {
        let s = Stats::new("t");
        let r = SessionResult {
            http_requests: 2,
            acs_requests: vec!["SetParameterValues"],
            faults_sent: vec![9005],
            actions: vec![],
        };
        s.record(&Ok(r), Duration::from_millis(3));
        s.record(&Err(FleetError::Busy), Duration::from_millis(1));
        s.record(&Err(FleetError::Timeout("response")), Duration::from_millis(1));
        let v = s.summary(Duration::from_secs(1));
        assert_eq!(v["sessions"]["ok"], 1);
        assert_eq!(v["sessions"]["busy_503"], 1);
        assert_eq!(v["errors"]["timeout: response"], 1);
        assert_eq!(v["acs_requests"]["SetParameterValues"], 1);
        assert_eq!(v["faults_sent"]["9005"], 1);
        let p50 = v["latency_ms"]["p50"].as_f64().unwrap();
        assert!((2.9..3.1).contains(&p50), "{p50}");
        let mut last = 0;
        let mut t = Instant::now();
        assert!(s.progress_line(&mut last, &mut t).contains("ok=1"));
    }
}
