//! `acs-fleet`: thousands of simulated TR-069 CPEs in one process, to load-test an ACS.
//!
//! ```text
//! acs-fleet periodic   --acs-url http://127.0.0.1:7547/ --devices 10000 --rate 5000 --duration 20
//! acs-fleet boot-storm --devices 10000 --api-url http://127.0.0.1:8080/api/v1 --api-token $TOKEN
//! ```
//! Prints a progress line per second on stderr and a JSON summary on stdout (and `--json FILE`).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use benches::api::ApiClient;
use benches::cpe::event;
use benches::fleet::{self, closed_loop, device_id, open_loop, Fleet, FleetConfig};
use benches::http::Url;
use benches::model::ModelTemplate;
use benches::session::{SessionResult, Target};
use benches::stats::Stats;
use clap::{Parser, ValueEnum};
use cwmp_schema::{CwmpVersion, EventCode, EventStruct};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Every device runs one first session (BOOTSTRAP): the ACS learns the fleet.
    Register,
    /// Periodic informs of known devices: `--rate` per second (open loop) or, with
    /// `--rate 0`, as fast as `--concurrency` CPEs can go (closed loop).
    Periodic,
    /// Tasks queued through the API for every device, then all devices boot at once.
    BootStorm,
    /// Periodic, boot and value-change informs plus API tasks with connection requests.
    Mixed,
    /// Every device opens a session and holds it for `--hold-ms` (memory under concurrency).
    Concurrent,
}

#[derive(Debug, Parser)]
#[command(name = "acs-fleet", version, about = "Simulate a fleet of TR-069 CPEs against an ACS")]
struct Args {
    /// What to run.
    #[arg(value_enum)]
    scenario: Scenario,
    /// The ACS URL the CPEs inform to.
    #[arg(long, default_value = "http://127.0.0.1:7547/")]
    acs_url: String,
    /// CPE username (Basic or Digest, whichever the ACS challenges with).
    #[arg(long)]
    username: Option<String>,
    /// CPE password.
    #[arg(long)]
    password: Option<String>,
    /// Number of simulated CPEs.
    #[arg(long, default_value_t = 1000)]
    devices: usize,
    /// Data models: `tr181`, `tr098` or a .csv/.json file; comma-separated for a mix.
    #[arg(long, default_value = "tr181,tr098")]
    model: String,
    /// OUI of the CPEs.
    #[arg(long, default_value = "00D09E")]
    oui: String,
    /// Product class of the CPEs.
    #[arg(long, default_value = "FleetGW")]
    product_class: String,
    /// Serial numbers are this prefix plus the device index.
    #[arg(long, default_value = "SIM")]
    serial_prefix: String,
    /// Sessions per second (open loop); 0 = closed loop, as fast as possible.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Concurrent CPEs in closed-loop phases (register, boot storm, periodic with rate 0).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Seconds of measured load (periodic, mixed).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Skip the registration pass (the devices are already known to the ACS).
    #[arg(long)]
    no_register: bool,
    /// Boot storm: devices come back from a factory reset (0 BOOTSTRAP + 1 BOOT) instead of a
    /// power cut (1 BOOT), so the ACS also re-pushes its bootstrap settings.
    #[arg(long)]
    storm_bootstrap: bool,
    /// acsd REST API base, for scenarios that queue tasks.
    #[arg(long, default_value = "http://127.0.0.1:8080/api/v1")]
    api_url: String,
    /// acsd API token.
    #[arg(long, env = "ACSD_ADMIN_TOKEN")]
    api_token: Option<String>,
    /// Mixed: API tasks (with connection requests) per second.
    #[arg(long, default_value_t = 20.0)]
    api_rate: f64,
    /// Where the connection-request listener binds (one port, `/cr/<index>` per device).
    #[arg(long, default_value = "127.0.0.1:0")]
    cr_listen: SocketAddr,
    /// Concurrent: how long each session is held open after the InformResponse.
    #[arg(long, default_value_t = 5000)]
    hold_ms: u64,
    /// Keep each device's TCP connection open between its sessions (isolates the server's
    /// per-session cost from TCP setup; real CPEs reconnect every session).
    #[arg(long)]
    keep_alive: bool,
    /// Timeout of one HTTP exchange, seconds.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Open loop: arrivals beyond this many sessions in flight are dropped (and counted).
    #[arg(long, default_value_t = 20000)]
    max_in_flight: u64,
    /// CWMP namespace the CPEs use (1.0 .. 1.4).
    #[arg(long, default_value = "1.2")]
    cwmp_version: String,
    /// Also write the JSON summary here.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// No progress lines.
    #[arg(long)]
    quiet: bool,
}

fn events_fn(codes: Vec<EventCode>) -> Arc<dyn Fn(usize) -> Vec<EventStruct> + Send + Sync> {
    Arc::new(move |_| codes.iter().cloned().map(event).collect())
}

async fn phase<F, Fut>(name: &str, quiet: bool, phases: &mut Vec<Value>, run: F) -> Arc<Stats>
where
    F: FnOnce(Arc<Stats>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let stats = Arc::new(Stats::new(name));
    let progress = fleet::spawn_progress(stats.clone(), quiet);
    let t = Instant::now();
    run(stats.clone()).await;
    let wall = t.elapsed();
    progress.abort();
    let summary = stats.summary(wall);
    if !quiet {
        eprintln!("[{name}] done: {}", short(&summary));
    }
    phases.push(summary);
    stats
}

fn short(v: &Value) -> String {
    format!(
        "ok={} busy={} failed={} {:.0}/s p50={}ms p99={}ms",
        v["sessions"]["ok"],
        v["sessions"]["busy_503"],
        v["sessions"]["failed"],
        v["throughput_per_s"].as_f64().unwrap_or(0.0),
        v["latency_ms"]["p50"],
        v["latency_ms"]["p99"]
    )
}

async fn register(fleet: &Arc<Fleet>, args: &Args, phases: &mut Vec<Value>) {
    let n = fleet.devices.len();
    let c = args.concurrency;
    phase("register", args.quiet, phases, |s| async move {
        closed_loop(fleet, &s, n, c, None, false, events_fn(vec![EventCode::Boot])).await;
    })
    .await;
}

fn api_client(args: &Args) -> anyhow::Result<ApiClient> {
    let token = args
        .api_token
        .clone()
        .context("--api-token (or ACSD_ADMIN_TOKEN) is required for this scenario")?;
    Ok(ApiClient::new(&args.api_url, &token, Duration::from_secs_f64(args.timeout))?)
}

/// Queue a refresh and a SetParameterValues for every device, 16 API connections wide.
async fn queue_storm_tasks(
    fleet: &Arc<Fleet>,
    args: &Args,
    stats: &Arc<Stats>,
) -> anyhow::Result<()> {
    let n = fleet.devices.len();
    let workers = 16.min(n.max(1));
    let mut handles = Vec::new();
    for w in 0..workers {
        let mut api = api_client(args)?;
        let (fleet, stats) = (fleet.clone(), stats.clone());
        handles.push(tokio::spawn(async move {
            let mut i = w;
            while i < n {
                let (id, root) = {
                    let cpe = fleet.devices[i].lock().await;
                    (device_id(&cpe), cpe.model.template().root.clone())
                };
                let wifi = if root == "Device." {
                    "Device.WiFi.SSID.1.SSID".to_string()
                } else {
                    "InternetGatewayDevice.LANDevice.1.WLANConfiguration.1.SSID".to_string()
                };
                let tasks = [
                    json!({"name": "refreshObject", "objectName": format!("{root}DeviceInfo.")}),
                    json!({"name": "setParameterValues", "parameterValues": [[wifi, format!("fleet-{i}"), "xsd:string"]]}),
                ];
                for t in tasks {
                    stats.started_sessions.fetch_add(1, Ordering::Relaxed);
                    let t0 = Instant::now();
                    let r = api.queue_task(&id, &t, "").await;
                    let outcome = match r {
                        Ok((200..=299, _)) => Ok(SessionResult::default()),
                        Ok((s, body)) => Err(benches::FleetError::Protocol(format!("task api {s}: {}", String::from_utf8_lossy(&body).chars().take(80).collect::<String>()))),
                        Err(e) => Err(e),
                    };
                    stats.record(&outcome, t0.elapsed());
                }
                i += workers;
            }
        }));
    }
    for h in handles {
        let _ = h.await;
    }
    Ok(())
}

/// Mixed scenario's API side: tasks with connection requests, waiting for completion.
async fn api_traffic(
    fleet: Arc<Fleet>,
    args: &Args,
    stats: Arc<Stats>,
    until: Instant,
) -> anyhow::Result<()> {
    if args.api_rate <= 0.0 {
        return Ok(());
    }
    // A small "firmware image" for Download tasks: the CPEs fetch it from acsd's signed URL
    // and report TransferComplete in a new session.
    let image: Vec<u8> = (0..64 * 1024u32).map(|i| (i % 251) as u8).collect();
    let (status, body) = api_client(args)?
        .call(
            "PUT",
            "/files/acs-fleet-fw.bin?fileType=1%20Firmware%20Upgrade%20Image&version=fleet-2",
            Some("application/octet-stream"),
            &image,
        )
        .await?;
    if !(200..300).contains(&status) {
        bail!("uploading the test image failed: {status} {}", String::from_utf8_lossy(&body));
    }
    let workers = 8usize;
    let per_worker = Duration::from_secs_f64(workers as f64 / args.api_rate);
    let mut handles = Vec::new();
    for w in 0..workers {
        let mut api = api_client(args)?;
        let (fleet, stats) = (fleet.clone(), stats.clone());
        handles.push(tokio::spawn(async move {
            let mut k = w;
            let mut tick = tokio::time::interval(per_worker);
            while Instant::now() < until {
                tick.tick().await;
                let idx = (k * 7919) % fleet.devices.len().max(1);
                let (id, root) = {
                    let cpe = fleet.devices[idx].lock().await;
                    (device_id(&cpe), cpe.model.template().root.clone())
                };
                let task = match k % 5 {
                    0 => json!({"name": "getParameterValues", "parameterNames": [format!("{root}DeviceInfo.")]}),
                    1 => json!({"name": "setParameterValues", "parameterValues": [[format!("{root}ManagementServer.PeriodicInformInterval"), "86400", "xsd:unsignedInt"]]}),
                    2 => json!({"name": "getParameterNames", "parameterName": format!("{root}ManagementServer."), "nextLevel": false}),
                    3 => json!({"name": "reboot"}),
                    _ => json!({"name": "download", "fileName": "acs-fleet-fw.bin"}),
                };
                k += workers;
                stats.started_sessions.fetch_add(1, Ordering::Relaxed);
                let t0 = Instant::now();
                let outcome = match api.queue_task(&id, &task, "?connection_request=true&timeout=10000").await {
                    Ok((200, _)) => Ok(SessionResult::default()),
                    Ok((s, _)) => Err(benches::FleetError::Protocol(format!("task not done in time ({s})"))),
                    Err(e) => Err(e),
                };
                stats.record(&outcome, t0.elapsed());
            }
        }));
    }
    for h in handles {
        let _ = h.await;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.devices == 0 {
        bail!("--devices must be at least 1");
    }
    let url = Url::parse(&args.acs_url)?;
    let addr = url.resolve().await?;
    let version = CwmpVersion::ALL
        .into_iter()
        .find(|v| v.as_str() == args.cwmp_version)
        .with_context(|| format!("unknown CWMP version {}", args.cwmp_version))?;
    let models = args
        .model
        .split(',')
        .map(|m| ModelTemplate::load(m.trim()))
        .collect::<Result<Vec<_>, _>>()?;
    let think = if args.scenario == Scenario::Concurrent {
        Duration::from_millis(args.hold_ms)
    } else {
        Duration::ZERO
    };
    let target = Target {
        url,
        addr,
        username: args.username.clone(),
        password: args.password.clone(),
        timeout: Duration::from_secs_f64(args.timeout),
        version,
        think: Duration::ZERO,
        keep_alive: args.keep_alive,
    };
    let fleet = Fleet::start(FleetConfig {
        target: target.clone(),
        devices: args.devices,
        models: models.clone(),
        oui: args.oui.clone(),
        product_class: args.product_class.clone(),
        serial_prefix: args.serial_prefix.clone(),
        cr_listen: Some(args.cr_listen),
    })
    .await?;
    let mut phases = Vec::new();
    let started = Instant::now();
    let duration = Duration::from_secs_f64(args.duration);

    if args.scenario == Scenario::Register || !args.no_register {
        register(&fleet, &args, &mut phases).await;
    } else {
        // The ACS already knows these devices (an earlier run registered them).
        for d in &fleet.devices {
            d.lock().await.session_completed();
        }
    }
    match args.scenario {
        Scenario::Register => {}
        Scenario::Periodic => {
            let n = args.devices;
            let (rate, c, max) = (args.rate, args.concurrency, args.max_in_flight);
            let ev = events_fn(vec![EventCode::Periodic]);
            let s = phase("periodic", args.quiet, &mut phases, |s| {
                let fleet = fleet.clone();
                async move {
                    if rate > 0.0 {
                        open_loop(&fleet, &s, rate, duration, max, ev).await;
                    } else {
                        closed_loop(&fleet, &s, n, c, Some(Instant::now() + duration), true, ev)
                            .await;
                    }
                }
            })
            .await;
            s.set_extra("rate_target", json!(rate));
            if let Some(p) = phases.last_mut() {
                p["rate_target"] = json!(rate);
                p["mode"] = json!(if rate > 0.0 { "open-loop" } else { "closed-loop" });
            }
        }
        Scenario::BootStorm => {
            let mut queue_err = None;
            phase("queue-tasks", args.quiet, &mut phases, |s| {
                let fleet = fleet.clone();
                let args = &args;
                let queue_err = &mut queue_err;
                async move {
                    if let Err(e) = queue_storm_tasks(&fleet, args, &s).await {
                        *queue_err = Some(e);
                    }
                }
            })
            .await;
            if let Some(e) = queue_err {
                return Err(e);
            }
            let mut codes = vec![EventCode::Boot];
            if args.storm_bootstrap {
                for d in &fleet.devices {
                    let mut cpe = d.lock().await;
                    cpe.model.reset();
                    cpe.needs_bootstrap = true;
                }
                codes = vec![EventCode::Bootstrap, EventCode::Boot];
            }
            let n = args.devices;
            let c = args.concurrency;
            phase("boot-storm", args.quiet, &mut phases, |s| {
                let fleet = fleet.clone();
                async move { closed_loop(&fleet, &s, n, c, None, false, events_fn(codes)).await }
            })
            .await;
            if let Some(p) = phases.last_mut() {
                let per = if args.storm_bootstrap { 2 } else { 1 };
                let spv = p["acs_requests"]["SetParameterValues"].as_u64().unwrap_or(0);
                let gpv = p["acs_requests"]["GetParameterValues"].as_u64().unwrap_or(0);
                p["expected"] = json!({"SetParameterValues": n * per, "GetParameterValues": n, "GetParameterNames": n});
                p["provisioned_all"] = json!(spv >= (n * per) as u64 && gpv >= n as u64);
            }
        }
        Scenario::Mixed => {
            let rate = if args.rate > 0.0 { args.rate } else { 1000.0 };
            let max = args.max_in_flight;
            let ev: Arc<dyn Fn(usize) -> Vec<EventStruct> + Send + Sync> =
                Arc::new(|idx| match idx % 20 {
                    0 => vec![event(EventCode::Boot)],
                    1 => vec![event(EventCode::ValueChange)],
                    _ => vec![event(EventCode::Periodic)],
                });
            let api_stats = Arc::new(Stats::new("api-tasks"));
            let until = Instant::now() + duration;
            let api = {
                let (fleet, api_stats) = (fleet.clone(), api_stats.clone());
                let args_ref = &args;
                async move { api_traffic(fleet, args_ref, api_stats, until).await }
            };
            let mut api_result = Ok(());
            phase("mixed", args.quiet, &mut phases, |s| {
                let fleet = fleet.clone();
                let api_result = &mut api_result;
                async move {
                    let (_, r) = tokio::join!(open_loop(&fleet, &s, rate, duration, max, ev), api);
                    *api_result = r;
                }
            })
            .await;
            api_result?;
            phases.push(api_stats.summary(duration));
        }
        Scenario::Concurrent => {
            let n = args.devices;
            let mut held = fleet.target.clone();
            held.think = think;
            let fleet_hold = Arc::new(HoldFleet { target: held });
            phase("concurrent", args.quiet, &mut phases, |s| {
                let fleet = fleet.clone();
                async move { fleet_hold.run(&fleet, &s, n).await }
            })
            .await;
        }
    }
    fleet.wait_followups(Duration::from_secs(30)).await;
    phases.push(fleet.followups.summary(started.elapsed()));

    let summary = json!({
        "tool": "acs-fleet",
        "version": env!("CARGO_PKG_VERSION"),
        "scenario": format!("{:?}", args.scenario).to_lowercase(),
        "acs_url": args.acs_url,
        "devices": args.devices,
        "models": models.iter().map(|m| json!({"name": m.name, "root": m.root, "parameters": m.parameter_count()})).collect::<Vec<_>>(),
        "concurrency": args.concurrency,
        "rate": args.rate,
        "duration_s": args.duration,
        "connection_requests": {"received": fleet.cr_received.load(Ordering::Relaxed), "accepted": fleet.cr_accepted.load(Ordering::Relaxed)},
        "followups_pending": fleet.followups_pending(),
        "phases": phases,
    });
    let text = serde_json::to_string_pretty(&summary)?;
    if let Some(path) = &args.json {
        std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
    }
    println!("{text}");
    Ok(())
}

/// Runs every device's session at once with a pause after the InformResponse.
struct HoldFleet {
    target: Target,
}

impl HoldFleet {
    async fn run(&self, fleet: &Arc<Fleet>, stats: &Arc<Stats>, n: usize) {
        let mut handles = Vec::with_capacity(n);
        for idx in 0..n {
            let (fleet, stats, target) = (fleet.clone(), stats.clone(), self.target.clone());
            handles.push(tokio::spawn(async move {
                let Some(lock) = fleet.devices.get(idx) else { return };
                let mut cpe = lock.lock().await;
                stats.started_sessions.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                let r = benches::session::run(&target, &mut cpe, vec![event(EventCode::Periodic)])
                    .await;
                stats.record(&r, t.elapsed());
            }));
        }
        for h in handles {
            let _ = h.await;
        }
    }
}
