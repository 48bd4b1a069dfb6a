//! `acs-fleet`: thousands of simulated TR-069 CPEs and TR-369 USP agents in one process, to
//! load-test an ACS.
//!
//! ```text
//! acs-fleet periodic   --acs-url http://127.0.0.1:7547/ --devices 10000 --rate 5000 --duration 20
//! acs-fleet boot-storm --devices 10000 --api-url http://127.0.0.1:8080/api/v1 --api-token $TOKEN
//! acs-fleet provision  --devices 1000 --api-token $TOKEN
//! acs-fleet usp-get    --usp-agents 1000 --usp-mtp mqtt5 --api-token $TOKEN --concurrency 64
//! acs-fleet mqtt-echo  --usp-agents 1000 --concurrency 64      # the broker's own ceiling
//! ```
//! Prints a progress line per second on stderr and a JSON summary on stdout (and `--json FILE`).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use benches::agents::{AgentConfig, AgentFleet, UspMtp};
use benches::api::ApiClient;
use benches::cpe::event;
use benches::cpe::Cpe;
use benches::echo::{self, Echo, EchoConfig};
use benches::fleet::{self, closed_loop, device_id, open_loop, Fleet, FleetConfig};
use benches::http::Url;
use benches::load;
use benches::model::ModelTemplate;
use benches::provision::Wanted;
use benches::session::{SessionResult, Target};
use benches::stats::Stats;
use benches::usp_get::UspGet;
use clap::{Parser, ValueEnum};
use cwmp_schema::{CwmpVersion, EventCode, EventStruct};
use serde_json::{json, Value};
use std::collections::HashSet;

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
    /// Equipment (WiFi 2.4 + 5 GHz, one SIP line) registered through the API for every device,
    /// then every device bootstraps (`0 BOOTSTRAP` + `1 BOOT`); a device counts as provisioned
    /// when its model holds the profile's values after the session. With `--usp-agents M`, M
    /// USP agents get equipment too and are provisioned when they connect.
    Provision,
    /// `--usp-agents` USP agents connect and onboard, then Get round trips through the REST API
    /// (task with connection_request and timeout), closed or open loop.
    UspGet,
    /// The raw MQTT echo through the broker (`--usp-agents` echo clients): usp-get's ceiling.
    MqttEcho,
}

impl Scenario {
    fn name(self) -> String {
        self.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum MtpArg {
    /// MQTT 5 through the broker.
    Mqtt5,
    /// MQTT 3.1.1 through the broker.
    Mqtt311,
    /// WebSocket to acsd.
    Ws,
}

#[derive(Debug, Parser)]
#[command(
    name = "acs-fleet",
    version,
    about = "Simulate a fleet of TR-069 CPEs (and TR-369 USP agents) against an ACS"
)]
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
    /// USP agents (usp-get and mqtt-echo: default 100; provision and mixed: default none).
    #[arg(long)]
    usp_agents: Option<usize>,
    /// How the USP agents reach acsd.
    #[arg(long, value_enum, default_value = "mqtt5")]
    usp_mtp: MtpArg,
    /// MQTT broker of the USP agents (and of the echo).
    #[arg(long, default_value = "mqtt://127.0.0.1:1883")]
    mqtt_url: String,
    /// The controller's MQTT topic (default `usp/controller/<controller id>`, as acsd).
    #[arg(long)]
    mqtt_topic: Option<String>,
    /// acsd's USP WebSocket endpoint.
    #[arg(long, default_value = "ws://127.0.0.1:7548/usp")]
    usp_ws_url: String,
    /// The controller's USP Endpoint ID.
    #[arg(long, default_value = "proto::acsd")]
    controller_id: String,
    /// Run prefix of the USP agents: endpoint ids `proto::fleet-<prefix>-<i>`, serials
    /// `<PREFIX><i, 6 digits>` (letters, digits, `_`; distinct per concurrent run).
    #[arg(long, default_value = "usp")]
    usp_prefix: String,
    /// USP agents connecting at the same time.
    #[arg(long, default_value_t = 50)]
    connect_concurrency: usize,
    /// Seconds to wait for the USP agents to be onboarded (or provisioned).
    #[arg(long, default_value_t = 60.0)]
    onboard_timeout: f64,
    /// usp-get: how long acsd waits for the task (`timeout=` of the task API), milliseconds.
    #[arg(long, default_value_t = 5000)]
    task_timeout_ms: u64,
    /// mixed with --usp-agents: USP Get round trips per second (open loop).
    #[arg(long, default_value_t = 20.0)]
    usp_rate: f64,
    /// Leave Nagle's algorithm on for the simulator's connections (USP agents, echo clients and
    /// echo driver), like rumqttc's default that acsd's MQTT client uses. By default the
    /// simulator sets TCP_NODELAY so that its own side adds no delayed-ACK stalls.
    #[arg(long)]
    nagle: bool,
    /// mqtt-echo: payload bytes (default: the size of usp-get's Get Record).
    #[arg(long)]
    payload_bytes: Option<usize>,
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

fn agent_config(args: &Args, count: usize) -> AgentConfig {
    AgentConfig {
        count,
        mtp: match args.usp_mtp {
            MtpArg::Mqtt5 => UspMtp::Mqtt5,
            MtpArg::Mqtt311 => UspMtp::Mqtt311,
            MtpArg::Ws => UspMtp::Ws,
        },
        mqtt_url: args.mqtt_url.clone(),
        controller_topic: args
            .mqtt_topic
            .clone()
            .unwrap_or_else(|| format!("usp/controller/{}", args.controller_id)),
        ws_url: args.usp_ws_url.clone(),
        controller_id: args.controller_id.clone(),
        prefix: args.usp_prefix.clone(),
        oui: args.oui.clone(),
        product_class: args.product_class.clone(),
        connect_concurrency: args.connect_concurrency,
        tcp_nodelay: !args.nagle,
    }
}

/// Connect `count` USP agents (phase `usp-connect`) and, with `onboard`, wait until acsd has
/// onboarded them (phase `usp-onboard`).
async fn connect_agents(
    args: &Args,
    count: usize,
    phases: &mut Vec<Value>,
    onboard: bool,
) -> anyhow::Result<AgentFleet> {
    let mut slot = None;
    let cfg = agent_config(args, count);
    phase("usp-connect", args.quiet, phases, |s| {
        let slot = &mut slot;
        async move { *slot = Some(AgentFleet::connect(cfg, &s).await) }
    })
    .await;
    let agents = slot.context("the agents did not start")??;
    if agents.agents.is_empty() {
        let errors = phases.last().map(|p| p["errors"].clone()).unwrap_or_default();
        bail!("no USP agent could connect: {errors}");
    }
    if onboard {
        let timeout = Duration::from_secs_f64(args.onboard_timeout);
        phase("usp-onboard", args.quiet, phases, |s| {
            let agents = &agents;
            async move {
                agents.wait_onboarded(timeout, &s).await;
            }
        })
        .await;
    }
    Ok(agents)
}

/// The agents Get round trips go to: the onboarded ones, or every connected one when none was
/// onboarded (so that the phase still shows what the controller does with them).
fn usp_get_targets(agents: &AgentFleet) -> Vec<(String, String)> {
    let any = agents.agents.iter().any(|a| a.onboarded());
    agents
        .agents
        .iter()
        .filter(|a| a.onboarded() || !any)
        .map(|a| (a.endpoint_id.clone(), a.serial.clone()))
        .collect()
}

fn mode(rate: f64) -> &'static str {
    if rate > 0.0 {
        "open-loop"
    } else {
        "closed-loop"
    }
}

/// `usp-get`: agents connect and onboard, then Get round trips through the REST API.
async fn usp_get_main(args: &Args) -> anyhow::Result<Value> {
    let count = args.usp_agents.unwrap_or(100);
    if count == 0 {
        bail!("--usp-agents must be at least 1");
    }
    let mut api = api_client(args)?;
    let token = args.api_token.clone().unwrap_or_default();
    let mut phases = Vec::new();
    let agents = connect_agents(args, count, &mut phases, true).await?;
    // Let the controller finish what onboarding started (a Boot! onboards again).
    let settle = agents.settle(Duration::from_millis(500), Duration::from_secs(15)).await;
    let (online, registered) = agents.check_api(&mut api).await.context("device list")?;
    let targets = usp_get_targets(&agents);
    let n_targets = targets.len();
    let before = agents.counters.requests_json();
    let rt = Arc::new(UspGet::new(
        &args.api_url,
        &token,
        targets,
        Duration::from_millis(args.task_timeout_ms),
    ));
    let duration = Duration::from_secs_f64(args.duration);
    let mut err = None;
    phase("usp-get", args.quiet, &mut phases, |s| {
        let err = &mut err;
        async move {
            if let Err(e) =
                load::run(rt, &s, args.rate, args.concurrency, duration, args.max_in_flight).await
            {
                *err = Some(e);
            }
        }
    })
    .await;
    if let Some(e) = err {
        return Err(e.into());
    }
    if let Some(p) = phases.last_mut() {
        p["mode"] = json!(mode(args.rate));
        p["rate_target"] = json!(args.rate);
        p["agents_targeted"] = json!(n_targets);
        p["agent_requests"] = agents.counters.requests_since(&before);
    }
    let mut usp = agents.summary();
    usp["online_in_api"] = json!(online);
    usp["registered_in_api"] = json!(registered);
    usp["settle_ms"] = json!(settle.as_millis());
    agents.shutdown().await;
    Ok(json!({
        "tool": "acs-fleet",
        "version": env!("CARGO_PKG_VERSION"),
        "scenario": args.scenario.name(),
        "api_url": args.api_url,
        "concurrency": args.concurrency,
        "rate": args.rate,
        "duration_s": args.duration,
        "task_timeout_ms": args.task_timeout_ms,
        "get_parameters": benches::usp_get::GET_PARAMS,
        "usp": usp,
        "phases": phases,
    }))
}

/// `mqtt-echo`: echo clients through the broker, round trips from one driver client.
async fn mqtt_echo_main(args: &Args) -> anyhow::Result<Value> {
    let count = args.usp_agents.unwrap_or(100);
    if count == 0 {
        bail!("--usp-agents must be at least 1");
    }
    let len = args.payload_bytes.unwrap_or_else(|| {
        echo::usp_get_record_len(
            &args.controller_id,
            &benches::agents::endpoint_id(&args.usp_prefix, count - 1),
        )
    });
    let timeout = Duration::from_millis(args.task_timeout_ms);
    let mut phases = Vec::new();
    let mut slot = None;
    phase("mqtt-echo-connect", args.quiet, &mut phases, |s| {
        let slot = &mut slot;
        async move {
            let cfg = EchoConfig {
                mqtt_url: args.mqtt_url.clone(),
                prefix: args.usp_prefix.clone(),
                clients: count,
                payload_bytes: len,
                timeout,
                connect_concurrency: args.connect_concurrency,
                tcp_nodelay: !args.nagle,
            };
            *slot = Some(Echo::start(&cfg, &s).await)
        }
    })
    .await;
    let echo = Arc::new(slot.context("the echo did not start")??);
    let subscribed = echo.clients;
    let duration = Duration::from_secs_f64(args.duration);
    let mut err = None;
    phase("mqtt-echo", args.quiet, &mut phases, |s| {
        let (err, rt) = (&mut err, echo.clone());
        async move {
            if let Err(e) =
                load::run(rt, &s, args.rate, args.concurrency, duration, args.max_in_flight).await
            {
                *err = Some(e);
            }
        }
    })
    .await;
    echo.stop();
    if let Some(e) = err {
        return Err(e.into());
    }
    if let Some(p) = phases.last_mut() {
        p["mode"] = json!(mode(args.rate));
        p["rate_target"] = json!(args.rate);
    }
    Ok(json!({
        "tool": "acs-fleet",
        "version": env!("CARGO_PKG_VERSION"),
        "scenario": args.scenario.name(),
        "mqtt_url": args.mqtt_url,
        "concurrency": args.concurrency,
        "rate": args.rate,
        "duration_s": args.duration,
        "echo": {"clients": count, "subscribed": subscribed, "payload_bytes": len,
                 "mqtt": "5", "qos": 1, "tcp_nodelay": !args.nagle},
        "phases": phases,
    }))
}

/// Register one equipment record per (serial, MAC), 16 API connections wide.
async fn preload_equipment(
    args: &Args,
    equipment: Arc<Vec<(String, Option<String>)>>,
    stats: &Arc<Stats>,
) -> anyhow::Result<()> {
    let workers = 16.min(equipment.len().max(1));
    let mut handles = Vec::new();
    for w in 0..workers {
        let mut api = api_client(args)?;
        let (equipment, stats) = (equipment.clone(), stats.clone());
        handles.push(tokio::spawn(async move {
            let mut i = w;
            while let Some((serial, mac)) = equipment.get(i) {
                let body = Wanted::for_serial(serial).equipment(serial, mac.as_deref());
                let bytes = serde_json::to_vec(&body).unwrap_or_default();
                stats.started_sessions.fetch_add(1, Ordering::Relaxed);
                let t0 = Instant::now();
                let outcome = match api
                    .call("POST", "/equipment", Some("application/json"), &bytes)
                    .await
                {
                    Ok((201, _)) => Ok(SessionResult::default()),
                    Ok((s, _)) => Err(benches::FleetError::Protocol(format!("equipment api {s}"))),
                    Err(e) => Err(e),
                };
                stats.record(&outcome, t0.elapsed());
                i += workers;
            }
        }));
    }
    for h in handles {
        let _ = h.await;
    }
    Ok(())
}

/// Equipment provisioning states of `serials`, once every record left `pending` (or after
/// 10 s).
async fn settled_states(args: &Args, serials: &HashSet<String>) -> Value {
    let Ok(mut api) = api_client(args) else { return Value::Null };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match benches::provision::equipment_states(&mut api, serials).await {
            Ok(m) => {
                let pending = m.get("pending").copied().unwrap_or(0);
                if pending == 0 || Instant::now() >= deadline {
                    return json!(m);
                }
            }
            Err(e) => return json!({"error": e.to_string()}),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `provision`: equipment for every device, then every device bootstraps and must end up with
/// the profile's values. Returns the USP agents' summary when there were some.
async fn provision(
    fleet: &Arc<Fleet>,
    args: &Args,
    phases: &mut Vec<Value>,
) -> anyhow::Result<Option<Value>> {
    let usp_count = args.usp_agents.unwrap_or(0);
    let mut equipment = Vec::new();
    for d in &fleet.devices {
        let c = d.lock().await;
        equipment.push((c.identity.serial.clone(), Some(c.identity.mac.clone())));
    }
    let cwmp_serials: HashSet<String> = equipment.iter().map(|(s, _)| s.clone()).collect();
    let usp_serials: HashSet<String> =
        (0..usp_count).map(|i| benches::agents::serial(&args.usp_prefix, i)).collect();
    equipment.extend(usp_serials.iter().map(|s| (s.clone(), None)));
    let equipment = Arc::new(equipment);
    let mut err = None;
    phase("preload-equipment", args.quiet, phases, |s| {
        let err = &mut err;
        async move {
            if let Err(e) = preload_equipment(args, equipment, &s).await {
                *err = Some(e);
            }
        }
    })
    .await;
    if let Some(e) = err {
        return Err(e);
    }
    fleet.set_check(Some(Arc::new(|cpe: &Cpe| {
        let root = cpe.model.template().root.clone();
        Wanted::for_serial(&cpe.identity.serial).check(&root, |p| cpe.model.value(p, &cpe.identity))
    })));
    let n = fleet.devices.len();
    let (rate, c, max) = (args.rate, args.concurrency, args.max_in_flight);
    let ev = events_fn(vec![EventCode::Bootstrap, EventCode::Boot]);
    phase("provision", args.quiet, phases, |s| {
        let fleet = fleet.clone();
        async move {
            if rate > 0.0 {
                let d = Duration::from_secs_f64(n as f64 / rate);
                open_loop(&fleet, &s, rate, d, max, ev).await;
            } else {
                closed_loop(&fleet, &s, n, c, None, false, ev).await;
            }
        }
    })
    .await;
    fleet.set_check(None);
    let states = settled_states(args, &cwmp_serials).await;
    if let Some(p) = phases.last_mut() {
        p["mode"] = json!(mode(rate));
        p["rate_target"] = json!(rate);
        p["equipment_states"] = states;
    }
    if usp_count == 0 {
        return Ok(None);
    }
    let agents = connect_agents(args, usp_count, phases, false).await?;
    let timeout = Duration::from_secs_f64(args.onboard_timeout);
    phase("provision-usp", args.quiet, phases, |s| {
        let agents = &agents;
        async move {
            agents
                .wait_until(timeout, &s, |a| {
                    Wanted::for_serial(&a.serial).check("Device.", |p| a.param(p))
                })
                .await;
        }
    })
    .await;
    let states = settled_states(args, &usp_serials).await;
    if let Some(p) = phases.last_mut() {
        p["equipment_states"] = states;
        p["latency_from"] = json!("agent connect start");
    }
    let summary = agents.summary();
    agents.shutdown().await;
    Ok(Some(summary))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let summary = match args.scenario {
        Scenario::UspGet => usp_get_main(&args).await?,
        Scenario::MqttEcho => mqtt_echo_main(&args).await?,
        _ => cwmp_main(&args).await?,
    };
    let text = serde_json::to_string_pretty(&summary)?;
    if let Some(path) = &args.json {
        std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
    }
    println!("{text}");
    Ok(())
}

async fn cwmp_main(args: &Args) -> anyhow::Result<Value> {
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
    let mut usp_summary = None;
    let started = Instant::now();
    let duration = Duration::from_secs_f64(args.duration);

    if args.scenario == Scenario::Provision {
        // Fresh devices: their first contact is the provisioning bootstrap.
    } else if args.scenario == Scenario::Register || !args.no_register {
        register(&fleet, args, &mut phases).await;
    } else {
        // The ACS already knows these devices (an earlier run registered them).
        for d in &fleet.devices {
            d.lock().await.session_completed();
        }
    }
    match args.scenario {
        Scenario::Register => {}
        Scenario::UspGet | Scenario::MqttEcho => bail!("not a CWMP scenario"),
        Scenario::Provision => usp_summary = provision(&fleet, args, &mut phases).await?,
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
            // USP agents alongside the CPEs: Get round trips through the API at --usp-rate.
            let agents = match args.usp_agents.unwrap_or(0) {
                0 => None,
                m => Some(connect_agents(args, m, &mut phases, true).await?),
            };
            let usp_stats = Arc::new(Stats::new("usp-get"));
            let usp = {
                let usp_stats = usp_stats.clone();
                let rt = agents.as_ref().map(|a| {
                    Arc::new(UspGet::new(
                        &args.api_url,
                        args.api_token.as_deref().unwrap_or_default(),
                        usp_get_targets(a),
                        Duration::from_millis(args.task_timeout_ms),
                    ))
                });
                let usp_rate = args.usp_rate;
                async move {
                    match rt {
                        Some(rt) if usp_rate > 0.0 => {
                            load::open_loop(rt, &usp_stats, usp_rate, duration, max).await
                        }
                        _ => Ok(()),
                    }
                }
            };
            let api_stats = Arc::new(Stats::new("api-tasks"));
            let until = Instant::now() + duration;
            let api = {
                let (fleet, api_stats) = (fleet.clone(), api_stats.clone());
                async move { api_traffic(fleet, args, api_stats, until).await }
            };
            let mut api_result = Ok(());
            let mut usp_result = Ok(());
            phase("mixed", args.quiet, &mut phases, |s| {
                let fleet = fleet.clone();
                let (api_result, usp_result) = (&mut api_result, &mut usp_result);
                async move {
                    let (_, r, u) =
                        tokio::join!(open_loop(&fleet, &s, rate, duration, max, ev), api, usp);
                    *api_result = r;
                    *usp_result = u;
                }
            })
            .await;
            api_result?;
            usp_result?;
            phases.push(api_stats.summary(duration));
            if let Some(agents) = agents {
                let mut p = usp_stats.summary(duration);
                p["mode"] = json!("open-loop");
                p["rate_target"] = json!(args.usp_rate);
                phases.push(p);
                usp_summary = Some(agents.summary());
                agents.shutdown().await;
            }
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
        "scenario": args.scenario.name(),
        "acs_url": args.acs_url,
        "devices": args.devices,
        "models": models.iter().map(|m| json!({"name": m.name, "root": m.root, "parameters": m.parameter_count()})).collect::<Vec<_>>(),
        "concurrency": args.concurrency,
        "rate": args.rate,
        "duration_s": args.duration,
        "connection_requests": {"received": fleet.cr_received.load(Ordering::Relaxed), "accepted": fleet.cr_accepted.load(Ordering::Relaxed)},
        "followups_pending": fleet.followups_pending(),
        "usp": usp_summary,
        "phases": phases,
    });
    Ok(summary)
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
