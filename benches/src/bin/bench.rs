//! `bench`: the benchmark harness behind `benches/run.sh` and `benches/smoke.sh`.
//!
//! Starts a release `acsd` on SQLite (and on a fresh PostgreSQL database when one is
//! reachable), drives it with `acs-fleet` through each scenario, measures the machine's own
//! ceiling with the same simulator against `bare-ceiling`, samples `acsd`'s RSS and CPU from
//! `/proc/<pid>`, and prints one table. Every process it starts it stops, by PID.
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
    cwmp: SocketAddr,
    api: SocketAddr,
    token: String,
}

#[allow(clippy::too_many_arguments)]
fn spawn_acsd(
    bin: &Path,
    out: &Path,
    label: &str,
    db: Option<&str>,
    cwmp: SocketAddr,
    api: SocketAddr,
    token: &str,
    fresh: bool,
) -> anyhow::Result<Child> {
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
        .env("ACSD_ADMIN_TOKEN", token)
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log));
    if let Some(url) = db {
        cmd.args(["--database-url", url]);
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
) -> anyhow::Result<Acsd> {
    let _ = std::fs::remove_file(out.join(format!("acsd-{label}.log")));
    let cwmp: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
    let api: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
    let token = format!("bench-{:016x}", rand::random::<u64>());
    let child = spawn_acsd(bin, out, label, database_url, cwmp, api, &token, true)?;
    Ok(Acsd { child, cwmp, api, token })
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

/// The summary has the fields the table needs, with sane types.
fn check_summary(v: &Value) -> anyhow::Result<()> {
    let phases = v["phases"].as_array().context("no phases")?;
    if phases.is_empty() {
        bail!("empty phases");
    }
    for p in phases {
        p["phase"].as_str().context("phase name")?;
        p["throughput_per_s"].as_f64().context("throughput")?;
        p["sessions"]["ok"].as_u64().context("sessions.ok")?;
        p["sessions"]["failed"].as_u64().context("sessions.failed")?;
        if p["latency_ms"].is_object() {
            for q in ["p50", "p90", "p99", "p999", "max"] {
                p["latency_ms"][q].as_f64().with_context(|| format!("latency_ms.{q}"))?;
            }
        }
    }
    Ok(())
}

fn phase<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v["phases"].as_array()?.iter().find(|p| p["phase"] == name)
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
    ceilings: (f64, f64),
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let mut acsd = start_acsd(bin, out, backend, db)?;
    let pid = acsd.child.id();
    let cr_port = free_port()?;
    let (cwmp, api, token) = (acsd.cwmp, acsd.api, acsd.token.clone());
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
            Some(ceilings.0),
            "Inform, empty POST, 204",
            None,
        )?;
        run(
            "periodic-keepalive",
            [base("periodic", z.devices, "SIM"), vec![s("--no-register"), s("--keep-alive")]]
                .concat(),
            "periodic",
            "periodic, closed loop, kept-open connections",
            Some(ceilings.1),
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
            acsd.child = spawn_acsd(bin, out, backend, db, cwmp, api, &token, false)?;
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
    result
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
        }
    } else {
        Sizes {
            devices: opts.devices.unwrap_or(10_000),
            duration: opts.duration.unwrap_or(10.0),
            concurrency: opts.concurrency,
            rss_devices: opts.rss_devices.unwrap_or(100_000),
            rss_sessions: opts.rss_sessions,
            mixed_devices: 10_000,
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let start_load = machine();
    let mut rows = Vec::new();
    let ceilings = ceiling(&bin, &out, &z, &mut rows)?;
    let ceiling_rate = ceilings.0;
    eprintln!(
        "ceiling: {:.0} sessions/s ({:.0} with kept-open connections)",
        ceilings.0, ceilings.1
    );
    let backends: Vec<String> = if smoke {
        vec!["sqlite".into()]
    } else {
        opts.backends.split(',').map(|s| s.trim().to_string()).collect()
    };
    let mut skipped = Vec::new();
    for b in &backends {
        match b.as_str() {
            "sqlite" => {
                backend_run(&bin, &out, "sqlite", None, &z, opts.rate, ceilings, &mut rows)?
            }
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
    let table = table(&rows);
    let m = machine();
    let results = json!({
        "machine": m,
        "loadavg_at_start": start_load["loadavg"],
        "mode": if smoke { "smoke" } else { "all" },
        "sizes": {"devices": z.devices, "duration_s": z.duration, "concurrency": z.concurrency, "rss_devices": z.rss_devices, "rss_sessions": z.rss_sessions},
        "ceiling_sessions_per_s": ceiling_rate,
        "ceiling_keepalive_sessions_per_s": ceilings.1,
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
