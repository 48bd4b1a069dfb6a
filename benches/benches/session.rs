//! The CWMP session state machine, measured two ways.
//!
//! Run: `cargo bench -p benches --bench session`
//! - `task_state_machine/*`: `acs::rpc` alone (pure): a refreshObject task from its first RPC
//!   through GetParameterNames and GetParameterValues responses to completion, and a
//!   SetParameterValues task.
//! - `session_in_process/periodic`: one whole periodic session (Inform, InformResponse, empty
//!   POST, 204) of a known device against the real engine (`acs::server::serve`, SQLite store,
//!   write-behind) over loopback, driven by the `acs-fleet` CPE. This is the per-session cost
//!   the fleet benchmark multiplies by tens of thousands.

use std::hint::black_box;
use std::time::Duration;

use acs::{Acs, AcsConfig};
use benches::cpe::{event, Cpe};
use benches::http::Url;
use benches::model::ModelTemplate;
use benches::session::{run, Target};
use criterion::{criterion_group, criterion_main, Criterion};
use cwmp_schema::{Body, CwmpVersion, EventCode, ParameterInfo, ParameterValue, ValueType};
use provisioning::{ParameterValueTuple, TaskSpec, WriteBehind};
use time::OffsetDateTime;

fn task_state_machine(c: &mut Criterion) {
    let mut g = c.benchmark_group("task_state_machine");
    let names: Vec<ParameterInfo> = (0..20)
        .map(|i| ParameterInfo { name: format!("Device.DeviceInfo.P{i}"), writable: i % 2 == 0 })
        .collect();
    let values: Vec<ParameterValue> = (0..20)
        .map(|i| {
            ParameterValue::new(
                format!("Device.DeviceInfo.P{i}"),
                format!("v{i}"),
                ValueType::String,
            )
        })
        .collect();
    let gpn = Body::GetParameterNamesResponse { parameter_list: names };
    let gpv = Body::GetParameterValuesResponse { parameter_list: values };
    let refresh = TaskSpec::RefreshObject { object_name: "Device.DeviceInfo.".into() };
    let now = OffsetDateTime::now_utc();
    g.bench_function("refresh_object_20_params", |b| {
        b.iter(|| {
            let Ok((mut run, first)) = acs::rpc::start(1, black_box(&refresh), None) else {
                return None;
            };
            let second = run.on_response(&gpn, now);
            let done = run.on_response(&gpv, now);
            Some((first, second, done))
        })
    });
    let spv = TaskSpec::SetParameterValues {
        parameter_values: vec![ParameterValueTuple {
            path: "Device.WiFi.SSID.1.SSID".into(),
            value: "home".into(),
            value_type: Some("xsd:string".into()),
        }],
        parameter_key: None,
    };
    let spv_resp = Body::SetParameterValuesResponse { status: 0 };
    g.bench_function("set_parameter_values", |b| {
        b.iter(|| {
            let Ok((mut run, first)) = acs::rpc::start(2, black_box(&spv), None) else {
                return None;
            };
            Some((first, run.on_response(&spv_resp, now)))
        })
    });
    g.finish();
}

fn session_in_process(c: &mut Criterion) {
    let rt =
        match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
            Ok(rt) => rt,
            Err(e) => panic!("tokio runtime: {e}"),
        };
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    };
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let setup = rt.block_on(async {
        let store = provisioning::open(&url).await?;
        let (telemetry, _flusher) =
            WriteBehind::spawn(store.clone(), Duration::from_millis(200), 1000);
        let config = AcsConfig::new(vec![7u8; 32], dir.path().join("files"));
        let acs = Acs::new(config, store, telemetry, acs::metrics::Metrics::default()).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(acs::server::serve(listener, acs, std::future::pending::<()>()));
        let target = Target {
            url: Url::parse(&format!("http://{addr}/"))?,
            addr,
            username: None,
            password: None,
            timeout: Duration::from_secs(10),
            version: CwmpVersion::V1_2,
            think: Duration::ZERO,
            keep_alive: false,
        };
        let model = ModelTemplate::load("tr181")?;
        let mut cpe = Cpe::new(
            model,
            "00D09E",
            "BenchGW",
            "BENCH000001".into(),
            1,
            "http://127.0.0.1:9/cr/0".into(),
        );
        // First contact: bootstrap session, so the measured ones are plain periodic sessions.
        run(&target, &mut cpe, vec![event(EventCode::Boot)]).await?;
        Ok::<_, anyhow::Error>((target, cpe))
    });
    let (target, mut cpe) = match setup {
        Ok(x) => x,
        Err(e) => panic!("engine setup: {e:#}"),
    };
    let mut g = c.benchmark_group("session_in_process");
    g.bench_function("periodic", |b| {
        b.iter(|| {
            rt.block_on(run(&target, &mut cpe, vec![event(EventCode::Periodic)]))
                .map(|r| r.http_requests)
        })
    });
    g.finish();
}

criterion_group!(session_benches, task_state_machine, session_in_process);
criterion_main!(session_benches);
