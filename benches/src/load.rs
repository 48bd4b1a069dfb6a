//! Closed- and open-loop drivers for request/response round trips that are not CWMP sessions
//! (a USP Get through `acsd`'s REST API, a raw MQTT echo), with the same semantics as the CWMP
//! scenarios: closed loop = `concurrency` workers back to back; open loop = a fixed arrival rate
//! with latency counted from each round trip's *scheduled* start, arrivals beyond the in-flight
//! cap dropped and counted.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::FleetError;
use crate::session::SessionResult;
use crate::stats::Stats;

/// One kind of round trip. `Conn` is per-worker state (e.g. a kept-open API connection).
pub trait RoundTrip: Send + Sync + 'static {
    /// Per-worker state.
    type Conn: Send + 'static;
    /// New per-worker state (connecting lazily is fine).
    fn conn(&self) -> Result<Self::Conn, FleetError>;
    /// Round trip number `n`; gives the state back.
    fn run(
        self: Arc<Self>,
        conn: Self::Conn,
        n: u64,
    ) -> impl Future<Output = (Self::Conn, Result<(), FleetError>)> + Send;
    /// Longest a round trip may take (bounds the wait for the last ones in flight).
    fn timeout(&self) -> Duration;
}

fn record(stats: &Stats, r: Result<(), FleetError>, latency: Duration) {
    stats.record(&r.map(|()| SessionResult::default()), latency);
}

/// `concurrency` workers run round trips back to back for `duration`.
pub async fn closed_loop<R: RoundTrip>(
    rt: Arc<R>,
    stats: &Arc<Stats>,
    concurrency: usize,
    duration: Duration,
) -> Result<(), FleetError> {
    let deadline = Instant::now() + duration;
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let mut conn = rt.conn()?;
        let (rt, stats, next) = (rt.clone(), stats.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                stats.started_sessions.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                let (c, r) = rt.clone().run(conn, n).await;
                conn = c;
                record(&stats, r, t.elapsed());
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    Ok(())
}

/// Round trips arrive at `rate` per second for `duration`; latency from the scheduled start.
pub async fn open_loop<R: RoundTrip>(
    rt: Arc<R>,
    stats: &Arc<Stats>,
    rate: f64,
    duration: Duration,
    max_in_flight: u64,
) -> Result<(), FleetError> {
    if rate <= 0.0 {
        return Err(FleetError::Argument("open loop needs a positive --rate".into()));
    }
    let pool: Arc<Mutex<Vec<R::Conn>>> = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let total = (rate * duration.as_secs_f64()).round() as u64;
    let in_flight = Arc::new(AtomicU64::new(0));
    let mut i: u64 = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while i < total {
        tick.tick().await;
        let due = ((start.elapsed().as_secs_f64() * rate) as u64).min(total);
        while i < due {
            let scheduled = start + Duration::from_secs_f64(i as f64 / rate);
            let n = i;
            i += 1;
            if in_flight.load(Ordering::Relaxed) >= max_in_flight {
                stats.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let pooled = pool.lock().ok().and_then(|mut p| p.pop());
            let conn = match pooled {
                Some(c) => c,
                None => rt.conn()?,
            };
            in_flight.fetch_add(1, Ordering::Relaxed);
            stats.started_sessions.fetch_add(1, Ordering::Relaxed);
            let (rt, stats, in_flight, pool) =
                (rt.clone(), stats.clone(), in_flight.clone(), pool.clone());
            tokio::spawn(async move {
                let (c, r) = rt.run(conn, n).await;
                record(&stats, r, scheduled.elapsed());
                if let Ok(mut p) = pool.lock() {
                    p.push(c);
                }
                in_flight.fetch_sub(1, Ordering::Relaxed);
            });
        }
    }
    let deadline = Instant::now() + rt.timeout() * 2;
    while in_flight.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

/// Closed loop when `rate` is 0, else open loop.
pub async fn run<R: RoundTrip>(
    rt: Arc<R>,
    stats: &Arc<Stats>,
    rate: f64,
    concurrency: usize,
    duration: Duration,
    max_in_flight: u64,
) -> Result<(), FleetError> {
    if rate > 0.0 {
        open_loop(rt, stats, rate, duration, max_in_flight).await
    } else {
        closed_loop(rt, stats, concurrency, duration).await
    }
}

/// A random order of `0..n` (targets are visited in this order, round after round, so that
/// concurrent round trips never hit the same target while there are more targets than
/// workers).
pub fn shuffled(n: usize) -> Vec<usize> {
    use rand::seq::SliceRandom;
    let mut v: Vec<usize> = (0..n).collect();
    v.shuffle(&mut rand::rng());
    v
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    struct Fake {
        fail_every: u64,
    }

    impl RoundTrip for Fake {
        type Conn = u32;
        fn conn(&self) -> Result<u32, FleetError> {
            Ok(0)
        }
        async fn run(self: Arc<Self>, conn: u32, n: u64) -> (u32, Result<(), FleetError>) {
            tokio::time::sleep(Duration::from_millis(1)).await;
            let r = if n % self.fail_every == self.fail_every - 1 {
                Err(FleetError::Protocol("fake failure".into()))
            } else {
                Ok(())
            };
            (conn + 1, r)
        }
        fn timeout(&self) -> Duration {
            Duration::from_secs(1)
        }
    }

    #[tokio::test]
    async fn loops_count_every_round_trip() {
        let stats = Arc::new(Stats::new("closed"));
        closed_loop(Arc::new(Fake { fail_every: 4 }), &stats, 3, Duration::from_millis(100))
            .await
            .unwrap();
        let v = stats.summary(Duration::from_millis(100));
        let ok = v["sessions"]["ok"].as_u64().unwrap();
        let failed = v["sessions"]["failed"].as_u64().unwrap();
        assert!(ok > 0 && failed > 0, "{v}");
        assert_eq!(v["sessions"]["started"].as_u64().unwrap(), ok + failed);
        assert_eq!(v["errors"]["protocol: fake failure"].as_u64().unwrap(), failed);

        let stats = Arc::new(Stats::new("open"));
        open_loop(
            Arc::new(Fake { fail_every: 1000 }),
            &stats,
            200.0,
            Duration::from_millis(100),
            50,
        )
        .await
        .unwrap();
        let v = stats.summary(Duration::from_millis(100));
        assert_eq!(v["sessions"]["ok"].as_u64().unwrap(), 20, "{v}");
        assert!(open_loop(Arc::new(Fake { fail_every: 2 }), &stats, 0.0, Duration::ZERO, 1)
            .await
            .is_err());
    }

    #[test]
    fn shuffled_is_a_permutation() {
        let mut v = shuffled(100);
        v.sort_unstable();
        assert_eq!(v, (0..100).collect::<Vec<_>>());
    }
}
