//! The fleet: N simulated CPEs in one process, the connection-request listener (one port, a
//! path per device, Digest auth), follow-up work (reboots, downloads, scheduled informs) and
//! the two load shapes every scenario is built from: closed loop (C workers, each starting a
//! session when its previous one ends) and open loop (a fixed arrival rate; latency counted from
//! each session's *scheduled* start, so a slow server cannot hide its queueing).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cwmp_schema::{EventCode, EventStruct};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::cpe::{event, now, Action, Cpe};
use crate::digest;
use crate::error::FleetError;
use crate::http::{write_request, Conn, Url};
use crate::model::ModelTemplate;
use crate::session::{self, Target};
use crate::stats::Stats;

/// Realm of the simulated CPEs' connection-request Digest challenge.
pub const CR_REALM: &str = "acs-fleet";

/// A check run on a CPE after each successful session (e.g. "the profile was applied"); an
/// error turns the session into a failure with that message.
pub type Check = Arc<dyn Fn(&Cpe) -> Result<(), String> + Send + Sync>;

/// How to build a fleet.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// The ACS.
    pub target: Target,
    /// Number of CPEs.
    pub devices: usize,
    /// Data models, assigned round-robin.
    pub models: Vec<Arc<ModelTemplate>>,
    /// OUI of every CPE.
    pub oui: String,
    /// Product class of every CPE.
    pub product_class: String,
    /// Serial numbers are this prefix plus a zero-padded index.
    pub serial_prefix: String,
    /// Where to listen for connection requests (`None`: no listener).
    pub cr_listen: Option<SocketAddr>,
}

/// N simulated CPEs.
pub struct Fleet {
    /// The ACS.
    pub target: Target,
    /// The CPEs, each behind its own lock (one session per device at a time).
    pub devices: Vec<tokio::sync::Mutex<Cpe>>,
    /// Bound address of the connection-request listener.
    pub cr_addr: Option<SocketAddr>,
    /// Kept-open connections per device (only with `Target::keep_alive`).
    conns: Vec<std::sync::Mutex<Option<Conn>>>,
    /// Sessions caused by reboots, downloads, scheduled informs and connection requests.
    pub followups: Arc<Stats>,
    followups_in_flight: AtomicU64,
    /// Connection requests received / accepted.
    pub cr_received: AtomicU64,
    /// Connection requests that passed authentication.
    pub cr_accepted: AtomicU64,
    check: std::sync::RwLock<Option<Check>>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("devices", &self.devices.len())
            .field("cr_addr", &self.cr_addr)
            .finish_non_exhaustive()
    }
}

/// The device id acsd derives for a CPE (`OUI-ProductClass-Serial`, escaped).
pub fn device_id(cpe: &Cpe) -> String {
    fn esc(out: &mut String, s: &str) {
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || b == b'_' {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    let mut out = String::new();
    esc(&mut out, &cpe.identity.oui);
    out.push('-');
    if !cpe.identity.product_class.is_empty() {
        esc(&mut out, &cpe.identity.product_class);
        out.push('-');
    }
    esc(&mut out, &cpe.identity.serial);
    out
}

impl Fleet {
    /// Build the fleet and start the connection-request listener.
    pub async fn start(cfg: FleetConfig) -> Result<Arc<Fleet>, FleetError> {
        if cfg.models.is_empty() {
            return Err(FleetError::Argument("at least one data model is needed".into()));
        }
        let listener = match cfg.cr_listen {
            Some(a) => Some(TcpListener::bind(a).await?),
            None => None,
        };
        let cr_addr = listener.as_ref().map(TcpListener::local_addr).transpose()?;
        let width = cfg.devices.to_string().len().max(6);
        let devices = (0..cfg.devices)
            .map(|i| {
                let serial = format!("{}{:0width$}", cfg.serial_prefix, i);
                let cr_url = cr_addr.map(|a| format!("http://{a}/cr/{i}")).unwrap_or_default();
                let model = cfg.models[i % cfg.models.len()].clone();
                tokio::sync::Mutex::new(Cpe::new(
                    model,
                    &cfg.oui,
                    &cfg.product_class,
                    serial,
                    i as u64 + 1,
                    cr_url,
                ))
            })
            .collect();
        let conns = (0..cfg.devices).map(|_| std::sync::Mutex::new(None)).collect();
        let fleet = Arc::new(Fleet {
            target: cfg.target,
            devices,
            conns,
            cr_addr,
            followups: Arc::new(Stats::new("followups")),
            followups_in_flight: AtomicU64::new(0),
            cr_received: AtomicU64::new(0),
            cr_accepted: AtomicU64::new(0),
            check: std::sync::RwLock::new(None),
        });
        if let Some(l) = listener {
            tokio::spawn(cr_listener(l, Arc::downgrade(&fleet)));
        }
        Ok(fleet)
    }

    /// Run one session of device `idx` and record it in `stats` with latency measured from
    /// `since`. Returns false when the device was busy (another session in progress).
    pub async fn session(
        self: &Arc<Self>,
        idx: usize,
        events: Vec<EventStruct>,
        stats: &Stats,
        since: Instant,
    ) -> bool {
        let Some(lock) = self.devices.get(idx) else { return false };
        let Ok(mut cpe) = lock.try_lock() else { return false };
        stats.started_sessions.fetch_add(1, Ordering::Relaxed);
        let mut pooled = if self.target.keep_alive {
            self.conns.get(idx).and_then(|c| c.lock().ok().and_then(|mut g| g.take()))
        } else {
            None
        };
        let mut outcome = session::run_on(&self.target, &mut cpe, events, &mut pooled).await;
        if let (Some(conn), Some(slot)) = (pooled, self.conns.get(idx)) {
            if let Ok(mut g) = slot.lock() {
                *g = Some(conn);
            }
        }
        let mut actions = Vec::new();
        if let Ok(r) = &mut outcome {
            actions = std::mem::take(&mut r.actions);
            let check = self.check.read().ok().and_then(|c| c.clone());
            if let Some(Err(e)) = check.map(|c| c(&cpe)) {
                outcome = Err(FleetError::Protocol(e));
            }
        }
        stats.record(&outcome, since.elapsed());
        drop(cpe);
        for a in actions {
            self.spawn_followup(idx, a);
        }
        true
    }

    /// Run `check` on each CPE after each of its successful sessions from now on (`None`: stop).
    pub fn set_check(&self, check: Option<Check>) {
        if let Ok(mut g) = self.check.write() {
            *g = check;
        }
    }

    fn spawn_followup(self: &Arc<Self>, idx: usize, action: Action) {
        let fleet = self.clone();
        self.followups_in_flight.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            fleet.followup(idx, action).await;
            fleet.followups_in_flight.fetch_sub(1, Ordering::Relaxed);
        });
    }

    async fn followup(self: &Arc<Self>, idx: usize, action: Action) {
        let Some(lock) = self.devices.get(idx) else { return };
        let events = match action {
            Action::Reboot { command_key } => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                lock.lock().await.rebooted(&command_key);
                Vec::new()
            }
            Action::FactoryReset => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                lock.lock().await.factory_reset();
                Vec::new()
            }
            Action::Download { command_key, url, file_type, delay_seconds, method } => {
                tokio::time::sleep(Duration::from_secs(u64::from(delay_seconds))).await;
                let started = now();
                let code = match self.fetch(&url, "GET", &[]).await {
                    Ok(n) if n > 0 => 0,
                    Ok(_) => 9010,
                    Err(_) => 9010,
                };
                lock.lock().await.transfer_done(
                    method,
                    &command_key,
                    code,
                    started,
                    file_type.starts_with('1'),
                );
                Vec::new()
            }
            Action::Upload { command_key, url, delay_seconds } => {
                tokio::time::sleep(Duration::from_secs(u64::from(delay_seconds))).await;
                let started = now();
                let code =
                    match self.fetch(&url, "PUT", b"# acs-fleet configuration backup\n").await {
                        Ok(_) => 0,
                        Err(_) => 9011,
                    };
                lock.lock().await.transfer_done("Upload", &command_key, code, started, false);
                Vec::new()
            }
            Action::ScheduleInform { command_key, delay_seconds } => {
                tokio::time::sleep(Duration::from_secs(u64::from(delay_seconds))).await;
                vec![
                    event(EventCode::Scheduled),
                    EventStruct {
                        event_code: EventCode::Method("ScheduleInform".into()),
                        command_key,
                    },
                ]
            }
        };
        // The device may be in another session right now: retry a few times.
        let stats = self.followups.clone();
        for _ in 0..50 {
            if self.session(idx, events.clone(), &stats, Instant::now()).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        stats.record_error("followup: device stayed busy");
    }

    /// GET (returns the body length) or PUT a small body to an http URL.
    async fn fetch(&self, url: &str, method: &str, body: &[u8]) -> Result<usize, FleetError> {
        let url = Url::parse(url)?;
        let addr = url.resolve().await?;
        let mut conn = Conn::connect(addr, self.target.timeout).await?;
        let mut req = Vec::new();
        let ct = (method == "PUT").then_some("application/octet-stream");
        write_request(&mut req, method, &url, &[("Connection", "close")], ct, body);
        let r = conn.roundtrip(&req, false, Duration::from_secs(60)).await?;
        if !(200..300).contains(&r.status) {
            return Err(FleetError::Http(format!("{method} answered {}", r.status)));
        }
        Ok(r.body.len())
    }

    /// Wait until no follow-up work is left, or `timeout`.
    pub async fn wait_followups(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.followups_in_flight.load(Ordering::Relaxed) > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// Follow-up sessions still pending.
    pub fn followups_pending(&self) -> u64 {
        self.followups_in_flight.load(Ordering::Relaxed)
    }
}

/// Print a progress line every second until `done` is set.
pub fn spawn_progress(stats: Arc<Stats>, quiet: bool) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last_ok = 0;
        let mut last_t = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        loop {
            tick.tick().await;
            let line = stats.progress_line(&mut last_ok, &mut last_t);
            if !quiet {
                eprintln!("{line}");
            }
        }
    })
}

/// Closed loop: `concurrency` workers run sessions for devices `0..count` (each at most once,
/// in order) until all are done or `deadline`; `events(idx)` gives each Inform's events.
/// With `repeat`, workers cycle over the devices until the deadline instead.
pub async fn closed_loop(
    fleet: &Arc<Fleet>,
    stats: &Arc<Stats>,
    count: usize,
    concurrency: usize,
    deadline: Option<Instant>,
    repeat: bool,
    events: Arc<dyn Fn(usize) -> Vec<EventStruct> + Send + Sync>,
) {
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (fleet, stats, next, events) =
            (fleet.clone(), stats.clone(), next.clone(), events.clone());
        workers.push(tokio::spawn(async move {
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return;
                }
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count && !repeat {
                    return;
                }
                let idx = n % count.max(1);
                let t = Instant::now();
                if !fleet.session(idx, events(idx), &stats, t).await {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
}

/// Open loop: sessions arrive at `rate` per second for `duration`, device after device
/// (round-robin); latency counts from the scheduled arrival. Arrivals beyond `max_in_flight`
/// concurrent sessions are dropped and counted.
pub async fn open_loop(
    fleet: &Arc<Fleet>,
    stats: &Arc<Stats>,
    rate: f64,
    duration: Duration,
    max_in_flight: u64,
    events: Arc<dyn Fn(usize) -> Vec<EventStruct> + Send + Sync>,
) {
    let n = fleet.devices.len().max(1);
    let start = Instant::now();
    let total = (rate * duration.as_secs_f64()).round() as u64;
    let in_flight = Arc::new(AtomicU64::new(0));
    let mut i: u64 = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while i < total {
        tick.tick().await;
        let elapsed = start.elapsed().as_secs_f64();
        let due = ((elapsed * rate) as u64).min(total);
        while i < due {
            let scheduled = start + Duration::from_secs_f64(i as f64 / rate);
            let idx = (i % n as u64) as usize;
            i += 1;
            if in_flight.load(Ordering::Relaxed) >= max_in_flight {
                stats.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            in_flight.fetch_add(1, Ordering::Relaxed);
            let (fleet, stats, in_flight, ev) =
                (fleet.clone(), stats.clone(), in_flight.clone(), events(idx));
            tokio::spawn(async move {
                if !fleet.session(idx, ev, &stats, scheduled).await {
                    stats.dropped.fetch_add(1, Ordering::Relaxed);
                }
                in_flight.fetch_sub(1, Ordering::Relaxed);
            });
        }
    }
    // Let the sessions in flight finish (bounded).
    let deadline = Instant::now() + fleet.target.timeout * 2;
    while in_flight.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

type CrBody = Full<Bytes>;

fn cr_response(status: u16, challenge: Option<String>) -> hyper::Response<CrBody> {
    let mut r = hyper::Response::new(Full::new(Bytes::new()));
    *r.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(c) = challenge.and_then(|c| http::HeaderValue::from_str(&c).ok()) {
        r.headers_mut().insert(http::header::WWW_AUTHENTICATE, c);
    }
    r
}

async fn cr_listener(listener: TcpListener, fleet: std::sync::Weak<Fleet>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let fleet = fleet.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let fleet = fleet.clone();
                async move {
                    let Some(fleet) = fleet.upgrade() else {
                        return Ok::<_, Infallible>(cr_response(503, None));
                    };
                    Ok(handle_cr(&fleet, &req).await)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

async fn handle_cr(
    fleet: &Arc<Fleet>,
    req: &hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<CrBody> {
    fleet.cr_received.fetch_add(1, Ordering::Relaxed);
    if req.method() != hyper::Method::GET {
        return cr_response(405, None);
    }
    let path = req.uri().path();
    let Some(idx) = path.strip_prefix("/cr/").and_then(|s| s.parse::<usize>().ok()) else {
        return cr_response(404, None);
    };
    let Some(lock) = fleet.devices.get(idx) else { return cr_response(404, None) };
    // A device in a session accepts the request and opens a new session right after the
    // current one (one session at a time); a device stuck for longer answers 503.
    let Ok(cpe) = tokio::time::timeout(Duration::from_secs(2), lock.lock()).await else {
        return cr_response(503, None);
    };
    let (user, pass) = cpe.cr_credentials();
    drop(cpe);
    let target = req.uri().path_and_query().map_or(path, |p| p.as_str());
    let authorized =
        req.headers().get(http::header::AUTHORIZATION).and_then(|h| h.to_str().ok()).is_some_and(
            |h| {
                digest::verify_digest(h, "GET", target, CR_REALM, &user, &pass, |n| {
                    n.starts_with("fleet")
                })
            },
        );
    if !authorized {
        let nonce = format!("fleet{:016x}", rand::random::<u64>());
        return cr_response(
            401,
            Some(format!("Digest realm=\"{CR_REALM}\", qop=\"auth\", nonce=\"{nonce}\"")),
        );
    }
    fleet.cr_accepted.fetch_add(1, Ordering::Relaxed);
    let f = fleet.clone();
    f.followups_in_flight.fetch_add(1, Ordering::Relaxed);
    tokio::spawn(async move {
        let stats = f.followups.clone();
        for _ in 0..250 {
            if f.session(idx, vec![event(EventCode::ConnectionRequest)], &stats, Instant::now())
                .await
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        f.followups_in_flight.fetch_sub(1, Ordering::Relaxed);
    });
    cr_response(200, None)
}
