//! `bench`: the benchmark harness behind `benches/run.sh` and `benches/smoke.sh`.
//!
//! Starts a release `acsd` on SQLite (and on a fresh PostgreSQL database when one is
//! reachable), drives it with `acs-fleet` through each scenario (CWMP, provisioning, USP Get
//! over MQTT 5 and WebSocket), measures the machine's own ceilings with the same simulator and
//! sizes — `bare-ceiling` for CWMP, a raw MQTT echo through the same broker for USP — samples
//! `acsd`'s RSS and CPU from `/proc/<pid>`, and prints one table. Every process it starts it
//! stops, by PID.
//!
//! ```text
//! bench all   [--devices 10000] [--duration 10] [--out target/bench-results]
//! bench smoke                      # a few hundred devices, a few seconds, SQLite only
//! ```

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use serde_json::{json, Value};

#[derive(Debug, Parser)]
#[command(name = "bench", about = "acsd benchmark harness")]
struct Cli {
    #[command(subcommand)]
    command: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// The full benchmark: ceilings, then every scenario on SQLite and PostgreSQL.
    All(Opts),
    /// CI smoke: a few hundred devices for a few seconds on SQLite; checks the summaries.
    Smoke(Opts),
}

#[derive(Debug, Clone, clap::Args)]
struct Opts {
    /// Directory holding the release binaries (acsd, acs-fleet, bare-ceiling).
    #[arg(long, env = "BENCH_BIN_DIR")]
    bin_dir: Option<PathBuf>,
    /// Where results go (JSON per run, results.json, table.md).
    #[arg(long, default_value = "target/bench-results")]
    out: PathBuf,
    /// Devices for register / periodic / boot storm.
    #[arg(long)]
    devices: Option<usize>,
    /// Seconds of each timed phase.
    #[arg(long)]
    duration: Option<f64>,
    /// Closed-loop concurrency of the simulator.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Open-loop periodic rate (sessions/s); default: 70 % of the measured closed-loop rate.
    #[arg(long)]
    rate: Option<f64>,
    /// Known devices for the memory scenario (0 skips it).
    #[arg(long)]
    rss_devices: Option<usize>,
    /// Concurrent sessions for the memory scenario.
    #[arg(long, default_value_t = 10_000)]
    rss_sessions: usize,
    /// PostgreSQL server (maintenance database) to create a fresh database on; `none` skips it.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres: String,
    /// Which backends to run: sqlite, postgres or both.
    #[arg(long, default_value = "sqlite,postgres")]
    backends: String,
    /// USP agents (usp-get) and echo clients (MQTT echo ceiling).
    #[arg(long)]
    usp_agents: Option<usize>,
    /// Devices of the provision scenario (default 2000; smoke: 50).
    #[arg(long)]
    provision_devices: Option<usize>,
    /// MQTT broker for the USP rows (MQTT rows are skipped when it is unreachable).
    #[arg(long, default_value = "mqtt://127.0.0.1:1883")]
    mqtt_url: String,
}

/// Peak RSS and CPU of one process over a window, sampled every 100 ms from /proc.
struct Sampler {
    stop: Arc<AtomicBool>,
    data: Arc<Mutex<(u64, u64, u64)>>, // (peak rss kB, cpu ticks at start, cpu ticks now)
    started: Instant,
    handle: Option<std::thread::JoinHandle<()>>,
}

fn proc_rss_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

fn proc_cpu_ticks(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

impl Sampler {
    fn start(pid: u32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let t0 = proc_cpu_ticks(pid).unwrap_or(0);
        let data = Arc::new(Mutex::new((proc_rss_kb(pid).unwrap_or(0), t0, t0)));
        let (s, d) = (stop.clone(), data.clone());
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let rss = proc_rss_kb(pid);
                let cpu = proc_cpu_ticks(pid);
                if let Ok(mut g) = d.lock() {
                    if let Some(r) = rss {
                        g.0 = g.0.max(r);
                    }
                    if let Some(c) = cpu {
                        g.2 = c;
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Sampler { stop, data, started: Instant::now(), handle: Some(handle) }
    }

    /// (peak RSS in MB, average CPU in cores).
    fn finish(mut self, pid: u32) -> (f64, f64) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        let wall = self.started.elapsed().as_secs_f64().max(1e-3);
        let (peak, t0, mut t1) = self.data.lock().map(|g| *g).unwrap_or((0, 0, 0));
        if let Some(c) = proc_cpu_ticks(pid) {
            t1 = c;
        }
        (peak as f64 / 1024.0, (t1.saturating_sub(t0)) as f64 / clock_ticks() / wall)
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(StdListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Stop a child we started: SIGTERM by PID, then SIGKILL after a grace period.
fn stop_child(child: &mut Child) {
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn wait_http_ok(addr: SocketAddr, path: &str, timeout: Duration) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
            if s.write_all(req.as_bytes()).is_ok() {
                let mut buf = [0u8; 64];
                if let Ok(n) = s.read(&mut buf) {
                    if buf[..n].starts_with(b"HTTP/1.1 2") || buf[..n].starts_with(b"HTTP/1.1 405")
                    {
                        return Ok(());
                    }
                }
            }
        }
        if Instant::now() >= deadline {
            bail!("{addr}{path} did not come up within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Acsd {
    child: Child,
    net: Net,
    token: String,
}

/// Where one acsd listens (and its MQTT settings when the broker is reachable).
#[derive(Debug, Clone)]
struct Net {
    cwmp: SocketAddr,
    api: SocketAddr,
    usp_ws: SocketAddr,
    /// (broker URL, controller topic).
    mqtt: Option<(String, String)>,
}

fn spawn_acsd(
    bin: &Path,
    out: &Path,
    label: &str,
    db: Option<&str>,
    net: &Net,
    token: &str,
    fresh: bool,
) -> anyhow::Result<Child> {
    let (cwmp, api) = (net.cwmp, net.api);
    let data = out.join(format!("data-{label}"));
    if fresh {
        let _ = std::fs::remove_dir_all(&data);
    }
    std::fs::create_dir_all(&data)?;
    let log = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(out.join(format!("acsd-{label}.log")))?;
    let mut cmd = Command::new(bin.join("acsd"));
    cmd.arg("serve")
        .arg("--data-dir")
        .arg(&data)
        .args(["--cwmp-listen", &cwmp.to_string(), "--api-listen", &api.to_string()])
        .args(["--cpe-auth", "none", "--public-url", &format!("http://{cwmp}")])
        .args(["--max-sessions", "30000", "--log", "warn"])
        .args(["--usp-ws-listen", &net.usp_ws.to_string()])
        .env("ACSD_ADMIN_TOKEN", token)
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log));
    if let Some(url) = db {
        cmd.args(["--database-url", url]);
    }
    if let Some((url, topic)) = &net.mqtt {
        cmd.args(["--mqtt-url", url, "--mqtt-topic", topic]);
    }
    let mut child =
        cmd.spawn().with_context(|| format!("starting {}", bin.join("acsd").display()))?;
    if let Err(e) = wait_http_ok(api, "/healthz", Duration::from_secs(180)) {
        stop_child(&mut child);
        return Err(e);
    }
    Ok(child)
}

fn start_acsd(
    bin: &Path,
    out: &Path,
    label: &str,
    database_url: Option<&str>,
    mqtt_url: Option<&str>,
) -> anyhow::Result<Acsd> {
    let _ = std::fs::remove_file(out.join(format!("acsd-{label}.log")));
    let local = |p: u16| -> anyhow::Result<SocketAddr> { Ok(format!("127.0.0.1:{p}").parse()?) };
    let net = Net {
        cwmp: local(free_port()?)?,
        api: local(free_port()?)?,
        usp_ws: local(free_port()?)?,
        // A topic of our own: other controllers may share the broker.
        mqtt: mqtt_url.map(|u| {
            (u.to_string(), format!("usp/controller/bench-{}-{label}", std::process::id()))
        }),
    };
    let token = format!("bench-{:016x}", rand::random::<u64>());
    let child = spawn_acsd(bin, out, label, database_url, &net, &token, true)?;
    Ok(Acsd { child, net, token })
}

/// Whether a TCP connection to the broker of `url` (`mqtt://host:port`) opens; the error says
/// why not.
fn broker_reachable(url: &str) -> Result<(), String> {
    let rest = url.strip_prefix("mqtt://").ok_or_else(|| format!("{url}: not an mqtt:// URL"))?;
    let hostport = rest.trim_end_matches('/');
    let hostport = hostport.rsplit_once('@').map_or(hostport, |(_, h)| h);
    let hostport =
        if hostport.contains(':') { hostport.to_string() } else { format!("{hostport}:1883") };
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&hostport)
        .map_err(|e| format!("{hostport}: {e}"))?
        .next()
        .ok_or_else(|| format!("{hostport} does not resolve"))?;
    std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map(|_| ())
        .map_err(|e| format!("{url} unreachable: {e}"))
}

/// Run acs-fleet; returns its JSON summary.
fn fleet(bin: &Path, out: &Path, name: &str, args: &[String]) -> anyhow::Result<Value> {
    let json_path = out.join(format!("{name}.json"));
    let _ = std::fs::remove_file(&json_path);
    eprintln!("== {name}: acs-fleet {}", args.join(" "));
    let status = Command::new(bin.join("acs-fleet"))
        .args(args)
        .arg("--json")
        .arg(&json_path)
        .stdout(Stdio::null())
        .status()
        .context("running acs-fleet")?;
    if !status.success() {
        bail!("acs-fleet {name} failed: {status}");
    }
    let text = std::fs::read_to_string(&json_path)
        .with_context(|| format!("reading {}", json_path.display()))?;
    let v: Value = serde_json::from_str(&text).context("acs-fleet summary is not JSON")?;
    check_summary(&v).with_context(|| format!("{name}: malformed summary"))?;
    Ok(v)
}

fn check_summary(v: &Value) -> anyhow::Result<()> {
    Ok(benches::report::check_summary(v)?)
}

fn phase<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    benches::report::phase(v, name)
}

#[derive(Debug, Clone)]
struct Row {
    backend: String,
    scenario: String,
    phase: Value,
    rss_mb: Option<f64>,
    cpu: Option<f64>,
    ceiling: Option<f64>,
    note: String,
}

fn ms(p: &Value, q: &str) -> String {
    p["latency_ms"][q].as_f64().map_or("-".into(), |x| format!("{x:.1}"))
}

fn table(rows: &[Row]) -> String {
    let mut s = String::from(
        "| backend | scenario | sessions/s | p50 ms | p90 ms | p99 ms | p99.9 ms | ok / failed / 503 | acsd peak RSS MB | acsd CPU cores | vs ceiling | note |\n|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---|\n",
    );
    for r in rows {
        let p = &r.phase;
        let tput = p["throughput_per_s"].as_f64().unwrap_or(0.0);
        s.push_str(&format!(
            "| {} | {} | {:.0} | {} | {} | {} | {} | {} / {} / {} | {} | {} | {} | {} |\n",
            r.backend,
            r.scenario,
            tput,
            ms(p, "p50"),
            ms(p, "p90"),
            ms(p, "p99"),
            ms(p, "p999"),
            p["sessions"]["ok"],
            p["sessions"]["failed"],
            p["sessions"]["busy_503"],
            r.rss_mb.map_or("-".into(), |x| format!("{x:.0}")),
            r.cpu.map_or("-".into(), |x| format!("{x:.2}")),
            r.ceiling.map_or("-".into(), |c| format!("{:.2}×", tput / c.max(1e-9))),
            r.note,
        ));
    }
    s
}

fn s(x: impl ToString) -> String {
    x.to_string()
}

struct Sizes {
    devices: usize,
    duration: f64,
    concurrency: usize,
    rss_devices: usize,
    rss_sessions: usize,
    mixed_devices: usize,
    usp_agents: usize,
    provision_devices: usize,
}

/// The machine's ceilings, measured with the same simulator and sizes.
#[derive(Debug, Clone, Copy)]
struct Ceilings {
    /// Bare hyper, periodic closed loop (sessions/s).
    periodic: f64,
    /// Bare hyper, kept-open connections.
    keepalive: f64,
    /// Raw MQTT echo through the broker (round trips/s), when the broker is reachable.
    mqtt_echo: Option<f64>,
}

/// A run prefix for USP endpoint ids and echo client ids, distinct per harness process.
fn usp_prefix(what: &str) -> String {
    format!("{what}{}", std::process::id())
}

/// Measure the raw MQTT echo ceiling through the broker at `url` (TCP_NODELAY on the
/// simulator's connections: what the broker and the machine can do). With `nagle_row`, also
/// the same echo with Nagle left on, like rumqttc's default that acsd's client uses (a row for
/// reference, not a ceiling).
fn mqtt_echo_ceiling(
    bin: &Path,
    out: &Path,
    z: &Sizes,
    url: &str,
    nagle_row: bool,
    rows: &mut Vec<Row>,
) -> anyhow::Result<f64> {
    let mut ceiling = 0.0;
    for nagle in [false, true] {
        if nagle && !nagle_row {
            break;
        }
        let mut args = vec![
            s("mqtt-echo"),
            s("--mqtt-url"),
            s(url),
            s("--usp-agents"),
            s(z.usp_agents),
            s("--usp-prefix"),
            usp_prefix(if nagle { "n" } else { "e" }),
            s("--concurrency"),
            s(z.concurrency),
            s("--duration"),
            s(z.duration),
            s("--quiet"),
        ];
        if nagle {
            args.push(s("--nagle"));
        }
        let name = if nagle { "ceiling-mqtt-echo-nagle" } else { "ceiling-mqtt-echo" };
        let v = fleet(bin, out, name, &args)?;
        let p = phase(&v, "mqtt-echo").context("no mqtt-echo phase")?.clone();
        let c = p["throughput_per_s"].as_f64().unwrap_or(0.0);
        let bytes = v["echo"]["payload_bytes"].as_u64().unwrap_or(0);
        if nagle {
            rows.push(Row {
                backend: "mosquitto".into(),
                scenario: "  (same echo, Nagle on: rumqttc's default, as acsd's client)".into(),
                phase: p,
                rss_mb: None,
                cpu: None,
                ceiling: Some(ceiling),
                note: "for reference: delayed-ACK stalls".into(),
            });
            continue;
        }
        ceiling = c;
        rows.push(Row {
            backend: "mosquitto".into(),
            scenario: format!("ceiling: raw MQTT 5 echo, {} clients, closed loop", z.usp_agents),
            phase: p,
            rss_mb: None,
            cpu: None,
            ceiling: Some(c),
            note: format!("QoS 1, {bytes}-byte payload (a Get Record) out and back; TCP_NODELAY"),
        });
        if let Some(q) = phase(&v, "mqtt-echo-connect") {
            rows.push(Row {
                backend: "mosquitto".into(),
                scenario: "  (echo clients connect + subscribe)".into(),
                phase: q.clone(),
                rss_mb: None,
                cpu: None,
                ceiling: None,
                note: "connects/s".into(),
            });
        }
    }
    Ok(ceiling)
}

/// Measure the bare ceiling: the same simulator against canned answers.
fn ceiling(bin: &Path, out: &Path, z: &Sizes, rows: &mut Vec<Row>) -> anyhow::Result<(f64, f64)> {
    let port = free_port()?;
    let mut child = Command::new(bin.join("bare-ceiling"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .spawn()
        .context("starting bare-ceiling")?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let mut measure = |name: &str, label: &str, extra: &[&str]| -> anyhow::Result<f64> {
        let sampler = Sampler::start(child.id());
        let mut args = vec![
            s("periodic"),
            s("--acs-url"),
            format!("http://{addr}/"),
            s("--no-register"),
            s("--devices"),
            s(z.devices),
            s("--concurrency"),
            s(z.concurrency),
            s("--duration"),
            s(z.duration),
            s("--quiet"),
        ];
        args.extend(extra.iter().map(s));
        let v = fleet(bin, out, name, &args)?;
        let (rss, cpu) = sampler.finish(child.id());
        let p = phase(&v, "periodic").context("no periodic phase")?.clone();
        let c = p["throughput_per_s"].as_f64().unwrap_or(0.0);
        rows.push(Row {
            backend: "bare hyper".into(),
            scenario: label.into(),
            phase: p,
            rss_mb: Some(rss),
            cpu: Some(cpu),
            ceiling: Some(c),
            note: "canned answers (server RSS/CPU)".into(),
        });
        Ok(c)
    };
    let result = wait_http_ok(addr, "/", Duration::from_secs(20)).and_then(|()| {
        let c = measure("ceiling-periodic", "ceiling: periodic, closed loop", &[])?;
        let k = measure(
            "ceiling-periodic-keepalive",
            "ceiling: periodic, closed loop, kept-open connections",
            &["--keep-alive"],
        )?;
        Ok((c, k))
    });
    stop_child(&mut child);
    result
}

#[allow(clippy::too_many_arguments)]
fn backend_run(
    bin: &Path,
    out: &Path,
    backend: &str,
    db: Option<&str>,
    z: &Sizes,
    rate: Option<f64>,
    ceilings: Ceilings,
    mqtt_url: Option<&str>,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let mut acsd = start_acsd(bin, out, backend, db, mqtt_url)?;
    let pid = acsd.child.id();
    let cr_port = free_port()?;
    let net = acsd.net.clone();
    let (cwmp, api, token) = (net.cwmp, net.api, acsd.token.clone());
    let base = |scenario: &str, devices: usize, prefix: &str| -> Vec<String> {
        vec![
            s(scenario),
            s("--acs-url"),
            format!("http://{cwmp}/"),
            s("--api-url"),
            format!("http://{api}/api/v1"),
            s("--api-token"),
            token.clone(),
            s("--devices"),
            s(devices),
            s("--serial-prefix"),
            s(prefix),
            s("--cr-listen"),
            format!("127.0.0.1:{cr_port}"),
            s("--concurrency"),
            s(z.concurrency),
            s("--duration"),
            s(z.duration),
            s("--quiet"),
        ]
    };
    let mut failed_runs = Vec::new();
    let result = (|| -> anyhow::Result<()> {
        // Run one acs-fleet invocation; add its main phase (and an optional sub-phase) to rows.
        let mut run = |name: &str,
                       args: Vec<String>,
                       pick: &str,
                       label: &str,
                       ceil: Option<f64>,
                       note: &str,
                       sub: Option<(&str, &str, &str)>|
         -> anyhow::Result<Value> {
            let sampler = Sampler::start(pid);
            let v = fleet(bin, out, &format!("{backend}-{name}"), &args)?;
            let (rss, cpu) = sampler.finish(pid);
            let p = phase(&v, pick).with_context(|| format!("{name}: no {pick} phase"))?.clone();
            rows.push(Row {
                backend: backend.into(),
                scenario: label.into(),
                phase: p,
                rss_mb: Some(rss),
                cpu: Some(cpu),
                ceiling: ceil,
                note: note.into(),
            });
            if let Some((sub_phase, sub_label, sub_note)) = sub {
                if let Some(q) = phase(&v, sub_phase) {
                    rows.push(Row {
                        backend: backend.into(),
                        scenario: sub_label.into(),
                        phase: q.clone(),
                        rss_mb: None,
                        cpu: None,
                        ceiling: None,
                        note: sub_note.into(),
                    });
                }
            }
            Ok(v)
        };
        run(
            "register",
            base("register", z.devices, "SIM"),
            "register",
            "register (first BOOTSTRAP session)",
            None,
            "new device + bootstrap SPV",
            None,
        )?;
        let closed = run(
            "periodic-closed",
            [base("periodic", z.devices, "SIM"), vec![s("--no-register")]].concat(),
            "periodic",
            "periodic, closed loop (max)",
            Some(ceilings.periodic),
            "Inform, empty POST, 204",
            None,
        )?;
        run(
            "periodic-keepalive",
            [base("periodic", z.devices, "SIM"), vec![s("--no-register"), s("--keep-alive")]]
                .concat(),
            "periodic",
            "periodic, closed loop, kept-open connections",
            Some(ceilings.keepalive),
            "no TCP setup per session",
            None,
        )?;
        let max = phase(&closed, "periodic")
            .and_then(|p| p["throughput_per_s"].as_f64())
            .unwrap_or(100.0);
        let r = rate.unwrap_or((max * 0.7).max(10.0)).round();
        run(
            "periodic-open",
            [base("periodic", z.devices, "SIM"), vec![s("--no-register"), s("--rate"), s(r)]]
                .concat(),
            "periodic",
            &format!("periodic, open loop @ {r}/s"),
            None,
            "latency from scheduled start",
            None,
        )?;
        let storm = run(
            "boot-storm",
            [
                base("boot-storm", z.devices, "SIM"),
                vec![s("--no-register"), s("--storm-bootstrap")],
            ]
            .concat(),
            "boot-storm",
            &format!("boot storm, {} devices", z.devices),
            None,
            "bootstrap SPV + refresh + SPV task",
            Some((
                "queue-tasks",
                "  (API: queue 2 tasks per device)",
                "POST /devices/{id}/tasks, 16 connections",
            )),
        )?;
        if let Some(p) = phase(&storm, "boot-storm") {
            if p["provisioned_all"] != json!(true) {
                eprintln!(
                    "warning: boot storm did not run every queued task: {}",
                    p["acs_requests"]
                );
            }
        }
        run(
            "mixed",
            [
                base("mixed", z.mixed_devices, "MIX"),
                vec![s("--rate"), s((r / 2.0).min(z.mixed_devices as f64).round().max(10.0))],
            ]
            .concat(),
            "mixed",
            "mixed (5% boot, 5% value change; API tasks + CR incl. reboot, download)",
            None,
            "open loop",
            Some((
                "api-tasks",
                "  (API task + connection request, until done)",
                "POST tasks?connection_request=true&timeout",
            )),
        )?;
        let prov = run(
            "provision",
            base("provision", z.provision_devices, "PRV"),
            "provision",
            &format!(
                "provision, {} devices (BOOTSTRAP → WiFi 2.4/5 GHz + SIP applied)",
                z.provision_devices
            ),
            None,
            "provisioned devices/s; latency = session",
            Some((
                "preload-equipment",
                "  (API: register equipment with profile)",
                "POST /equipment, 16 connections",
            )),
        )?;
        if let Some(p) = phase(&prov, "provision") {
            eprintln!("provision: equipment states {}", p["equipment_states"]);
        }
        // USP Get round trips through the REST API: MQTT 5 (vs the raw echo), then WebSocket.
        let usp_base = |mtp: &str, prefix: String| -> Vec<String> {
            let mut v = vec![
                s("usp-get"),
                s("--api-url"),
                format!("http://{api}/api/v1"),
                s("--api-token"),
                token.clone(),
                s("--usp-agents"),
                s(z.usp_agents),
                s("--usp-mtp"),
                s(mtp),
                s("--usp-prefix"),
                prefix,
                s("--usp-ws-url"),
                format!("ws://{}/usp", net.usp_ws),
                s("--concurrency"),
                s(z.concurrency),
                s("--duration"),
                s(z.duration),
                s("--quiet"),
            ];
            if let Some((url, topic)) = &net.mqtt {
                v.extend([s("--mqtt-url"), url.clone(), s("--mqtt-topic"), topic.clone()]);
            }
            v
        };
        let onboard_row = (
            "usp-onboard",
            "  (agents connect, Boot!, onboarded by acsd)",
            "agents/s; latency = connect → subscriptions created",
        );
        // A failing USP run (e.g. acsd stops answering) is a row of its own, not the end of
        // the whole benchmark.
        let mut usp_runs = Vec::new();
        if net.mqtt.is_some() {
            usp_runs.push((
                "usp-get-mqtt5",
                usp_base("mqtt5", usp_prefix(&format!("m{}", &backend[..1]))),
                format!("usp-get, MQTT 5, {} agents, closed loop", z.usp_agents),
                ceilings.mqtt_echo,
                "REST task → USP Get → GetResp → 200; vs raw MQTT echo",
            ));
        }
        usp_runs.push((
            "usp-get-ws",
            usp_base("ws", usp_prefix(&format!("w{}", &backend[..1]))),
            format!("usp-get, WebSocket, {} agents, closed loop", z.usp_agents),
            None,
            "REST task → USP Get → GetResp → 200",
        ));
        for (name, args, label, ceil, note) in usp_runs {
            if let Err(e) = run(name, args, "usp-get", &label, ceil, note, Some(onboard_row)) {
                eprintln!("warning: {backend} {name} failed: {e:#}");
                failed_runs.push(failed_row(backend, &label, &format!("{e:#}")));
            }
        }
        if z.rss_devices > 0 {
            let more = z.rss_devices.saturating_sub(z.devices);
            if more > 0 {
                run(
                    "register-more",
                    base("register", more, "RSS"),
                    "register",
                    &format!("register {more} more devices"),
                    None,
                    "towards the memory target",
                    None,
                )?;
            }
            // Restart so that the index is loaded from storage like in production.
            stop_child(&mut acsd.child);
            acsd.child = spawn_acsd(bin, out, backend, db, &net, &token, false)?;
            let pid2 = acsd.child.id();
            let sampler = Sampler::start(pid2);
            let args = [
                base("concurrent", z.rss_sessions, "SIM"),
                vec![s("--no-register"), s("--hold-ms"), s(5000)],
            ]
            .concat();
            let v = fleet(bin, out, &format!("{backend}-concurrent"), &args)?;
            let (rss, cpu) = sampler.finish(pid2);
            let p = phase(&v, "concurrent").context("no concurrent phase")?.clone();
            rows.push(Row {
                backend: backend.into(),
                scenario: format!(
                    "memory: {} known devices, {} concurrent sessions",
                    z.rss_devices.max(z.devices),
                    z.rss_sessions
                ),
                phase: p,
                rss_mb: Some(rss),
                cpu: Some(cpu),
                ceiling: None,
                note: "sessions held 5 s".into(),
            });
        }
        Ok(())
    })();
    stop_child(&mut acsd.child);
    rows.extend(failed_runs);
    result
}

/// A row for a run that did not complete (the simulator failed or was killed).
fn failed_row(backend: &str, scenario: &str, error: &str) -> Row {
    let short: String = error.chars().take(120).collect();
    Row {
        backend: backend.into(),
        scenario: scenario.into(),
        phase: json!({
            "phase": "failed", "throughput_per_s": 0.0, "duration_s": 0.0,
            "sessions": {"started": 1, "ok": 0, "failed": 1, "busy_503": 0, "dropped": 0},
            "latency_ms": null, "errors": {short.clone(): 1},
        }),
        rss_mb: None,
        cpu: None,
        ceiling: None,
        note: format!("run failed: {short}"),
    }
}

/// Create a fresh database on the PostgreSQL server; returns its URL.
async fn create_pg_database(admin_url: &str) -> anyhow::Result<(String, String)> {
    use sqlx::Connection;
    let mut conn =
        tokio::time::timeout(Duration::from_secs(5), sqlx::PgConnection::connect(admin_url))
            .await
            .context("postgres connect timed out")??;
    let name = format!("acsd_bench_{}_{:08x}", std::process::id(), rand::random::<u32>());
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await?;
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
    Ok((format!("{base}/{name}"), name))
}

async fn drop_pg_database(admin_url: &str, name: &str) {
    use sqlx::Connection;
    if let Ok(mut conn) = sqlx::PgConnection::connect(admin_url).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await;
    }
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().next().map(|l| {
                l.split_whitespace().nth(1).unwrap_or("0").parse::<u64>().unwrap_or(0) / 1024
            })
        })
        .unwrap_or(0);
    let date = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let rev = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    json!({
        "loadavg": load,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu_model": cpu,
        "memory_mb": mem,
        "date": date,
        "git": rev.trim(),
    })
}

fn bin_dir(opts: &Opts) -> anyhow::Result<PathBuf> {
    if let Some(d) = &opts.bin_dir {
        return Ok(d.clone());
    }
    let exe = std::env::current_exe()?;
    exe.parent().map(Path::to_path_buf).context("no binary directory")
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let (opts, smoke) = match &cli.command {
        Mode::All(o) => (o.clone(), false),
        Mode::Smoke(o) => (o.clone(), true),
    };
    let bin = bin_dir(&opts)?;
    for b in ["acsd", "acs-fleet", "bare-ceiling"] {
        if !bin.join(b).exists() {
            bail!("{} not found: build with `cargo build --release -p api --bin acsd -p benches --bins`", bin.join(b).display());
        }
    }
    std::fs::create_dir_all(&opts.out)?;
    let out = opts.out.canonicalize()?;
    let z = if smoke {
        Sizes {
            devices: opts.devices.unwrap_or(300),
            duration: opts.duration.unwrap_or(3.0),
            concurrency: opts.concurrency.min(32),
            rss_devices: opts.rss_devices.unwrap_or(0),
            rss_sessions: opts.rss_sessions.min(300),
            mixed_devices: 200,
            usp_agents: opts.usp_agents.unwrap_or(20),
            provision_devices: opts.provision_devices.unwrap_or(50),
        }
    } else {
        Sizes {
            devices: opts.devices.unwrap_or(10_000),
            duration: opts.duration.unwrap_or(10.0),
            concurrency: opts.concurrency,
            rss_devices: opts.rss_devices.unwrap_or(100_000),
            rss_sessions: opts.rss_sessions,
            mixed_devices: 10_000,
            usp_agents: opts.usp_agents.unwrap_or(1000),
            provision_devices: opts.provision_devices.unwrap_or(2000),
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let start_load = machine();
    let mut rows = Vec::new();
    let (periodic, keepalive) = ceiling(&bin, &out, &z, &mut rows)?;
    let ceiling_rate = periodic;
    eprintln!("ceiling: {periodic:.0} sessions/s ({keepalive:.0} with kept-open connections)");
    let mut skipped = Vec::new();
    let mqtt_url = match broker_reachable(&opts.mqtt_url) {
        Ok(()) => Some(opts.mqtt_url.as_str()),
        Err(e) => {
            eprintln!("MQTT broker not reachable ({e}); skipping the MQTT rows");
            skipped.push(format!("MQTT rows (raw echo ceiling, usp-get over MQTT 5): {e}"));
            None
        }
    };
    let mqtt_echo =
        match mqtt_url.map(|url| mqtt_echo_ceiling(&bin, &out, &z, url, !smoke, &mut rows)) {
            Some(Ok(c)) => {
                eprintln!("ceiling: {c:.0} MQTT echo round trips/s");
                Some(c)
            }
            Some(Err(e)) => {
                eprintln!("warning: the MQTT echo ceiling failed: {e:#}");
                rows.push(failed_row("mosquitto", "ceiling: raw MQTT 5 echo", &format!("{e:#}")));
                None
            }
            None => None,
        };
    let ceilings = Ceilings { periodic, keepalive, mqtt_echo };
    let backends: Vec<String> = if smoke {
        vec!["sqlite".into()]
    } else {
        opts.backends.split(',').map(|s| s.trim().to_string()).collect()
    };
    for b in &backends {
        match b.as_str() {
            "sqlite" => backend_run(
                &bin, &out, "sqlite", None, &z, opts.rate, ceilings, mqtt_url, &mut rows,
            )?,
            "postgres" if opts.postgres != "none" => {
                match rt.block_on(create_pg_database(&opts.postgres)) {
                    Ok((url, name)) => {
                        let r = backend_run(
                            &bin,
                            &out,
                            "postgres",
                            Some(&url),
                            &z,
                            opts.rate,
                            ceilings,
                            mqtt_url,
                            &mut rows,
                        );
                        rt.block_on(drop_pg_database(&opts.postgres, &name));
                        r?;
                    }
                    Err(e) => {
                        eprintln!("postgres not reachable ({e:#}); skipping");
                        skipped.push(format!("postgres: {e:#}"));
                    }
                }
            }
            other => skipped.push(format!("{other}: not run")),
        }
    }
    let mut table = table(&rows);
    // The issue's USP target: Get through the broker at ≥ 0.5× the raw echo, p99 ≤ 20 ms.
    let mut targets = Vec::new();
    if let Some(echo) = ceilings.mqtt_echo {
        for r in rows.iter().filter(|r| r.scenario.starts_with("usp-get, MQTT 5")) {
            if let Some((ratio, p99, met)) = benches::report::usp_target(&r.phase, echo, 0.5, 20.0)
            {
                targets.push((r.backend.clone(), ratio, p99, met));
            }
        }
    }
    table.push('\n');
    for (b, ratio, p99, met) in &targets {
        table.push_str(&format!(
            "USP target ({b}: Get via the broker ≥ 0.5× raw echo, p99 ≤ 20 ms): {ratio:.2}×, p99 {p99:.1} ms — {}\n",
            if *met { "met" } else { "not met" }
        ));
    }
    for sk in &skipped {
        table.push_str(&format!("Skipped: {sk}\n"));
    }
    let m = machine();
    let results = json!({
        "machine": m,
        "loadavg_at_start": start_load["loadavg"],
        "mode": if smoke { "smoke" } else { "all" },
        "sizes": {"devices": z.devices, "duration_s": z.duration, "concurrency": z.concurrency, "rss_devices": z.rss_devices, "rss_sessions": z.rss_sessions, "usp_agents": z.usp_agents, "provision_devices": z.provision_devices},
        "ceiling_sessions_per_s": ceiling_rate,
        "ceiling_keepalive_sessions_per_s": ceilings.keepalive,
        "ceiling_mqtt_echo_per_s": ceilings.mqtt_echo,
        "usp_target": targets.iter().map(|(b, ratio, p99, met)| json!({"backend": b, "ratio_to_mqtt_echo": ratio, "p99_ms": p99, "met": met})).collect::<Vec<_>>(),
        "rows": rows.iter().map(|r| json!({
            "backend": r.backend, "scenario": r.scenario, "phase": r.phase,
            "acsd_peak_rss_mb": r.rss_mb, "acsd_cpu_cores": r.cpu,
            "ratio_to_ceiling": r.ceiling.map(|c| r.phase["throughput_per_s"].as_f64().unwrap_or(0.0) / c.max(1e-9)),
            "note": r.note,
        })).collect::<Vec<_>>(),
        "skipped": skipped,
    });
    std::fs::write(out.join("results.json"), serde_json::to_string_pretty(&results)?)?;
    let header = format!(
        "Machine: {} CPUs ({}), {} MB RAM; {}; git {}; load average at start {}, at end {}\n\n",
        m["cpus"],
        m["cpu_model"].as_str().unwrap_or(""),
        m["memory_mb"],
        m["date"].as_str().unwrap_or(""),
        m["git"].as_str().unwrap_or(""),
        start_load["loadavg"].as_str().unwrap_or(""),
        m["loadavg"].as_str().unwrap_or("")
    );
    std::fs::write(out.join("table.md"), format!("{header}{table}"))?;
    println!("{header}{table}");
    if smoke {
        // Smoke assertions: everything ran end to end and every session succeeded.
        for r in rows.iter().filter(|r| r.phase["phase"] == "provision") {
            benches::report::check_equipment_states(&r.phase)
                .with_context(|| format!("smoke: {} / {}", r.backend, r.scenario))?;
        }
        for r in &rows {
            let failed = r.phase["sessions"]["failed"].as_u64().unwrap_or(u64::MAX);
            let ok = r.phase["sessions"]["ok"].as_u64().unwrap_or(0);
            if failed > 0 || ok == 0 {
                bail!(
                    "smoke: {} / {}: ok={ok} failed={failed} errors={}",
                    r.backend,
                    r.scenario,
                    r.phase["errors"]
                );
            }
        }
        eprintln!("smoke: ok ({} rows, results in {})", rows.len(), out.display());
    }
    Ok(())
}
