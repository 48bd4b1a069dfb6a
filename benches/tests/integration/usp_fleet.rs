//! The USP side of the simulator against the real USP engine in-process (WebSocket MTP, an
//! in-memory SQLite store; MQTT through a broker when `ACSD_TEST_MQTT_URL` is set), the
//! provisioning checks against the real profile mapping, and the summaries the new scenarios
//! produce. No timing thresholds.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use benches::agents::{agent_model, AgentConfig, AgentFleet, UspMtp};
use benches::cpe::Cpe;
use benches::load::{self, RoundTrip};
use benches::model::ModelTemplate;
use benches::provision::Wanted;
use benches::report;
use benches::stats::Stats;
use benches::usp_get::{check_reply, GET_PARAMS};
use benches::FleetError;
use cwmp_schema::{Body, ParameterValue, ValueType};
use provisioning::equipment::{NewEquipment, Profile};
use provisioning::{DataModel, NewTask, Store, TaskSpec};
use tokio::sync::watch;
use usp::codec::EndpointId;
use usp::{Usp, UspConfig, UspMetrics};

const CONTROLLER: &str = "proto::fleet-test";
const WAIT: Duration = Duration::from_secs(20);

struct Engine {
    usp: Usp,
    store: Arc<dyn Store>,
    ws: SocketAddr,
    _shutdown: watch::Sender<bool>,
}

async fn engine() -> Engine {
    let store = provisioning::open("sqlite::memory:").await.unwrap();
    let mut config = UspConfig::new(EndpointId::parse(CONTROLLER).unwrap());
    config.request_timeout = Duration::from_secs(5);
    let usp = Usp::new(config, store.clone(), UspMetrics::default()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ws = listener.local_addr().unwrap();
    let (tx, rx) = watch::channel(false);
    tokio::spawn(usp::mtp::ws::serve(listener, usp.clone(), rx));
    Engine { usp, store, ws, _shutdown: tx }
}

fn config(count: usize, mtp: UspMtp, prefix: &str, ws: SocketAddr) -> AgentConfig {
    AgentConfig {
        count,
        mtp,
        mqtt_url: std::env::var("ACSD_TEST_MQTT_URL").unwrap_or_default(),
        controller_topic: format!("usp/controller/{prefix}-{}", std::process::id()),
        ws_url: format!("ws://{ws}/usp"),
        controller_id: CONTROLLER.into(),
        prefix: format!("{prefix}{}", std::process::id()),
        oui: "00D09E".into(),
        product_class: "FleetAgent".into(),
        connect_concurrency: 4,
        tcp_nodelay: false,
    }
}

/// A Get round trip through the engine's task path (what the REST API does, minus HTTP).
#[derive(Debug)]
struct EngineGet {
    usp: Usp,
    targets: Vec<(String, String)>,
}

impl RoundTrip for EngineGet {
    type Conn = ();
    fn conn(&self) -> Result<(), FleetError> {
        Ok(())
    }
    async fn run(self: Arc<Self>, (): (), n: u64) -> ((), Result<(), FleetError>) {
        let (id, serial) = &self.targets[(n % self.targets.len() as u64) as usize];
        let spec = TaskSpec::GetParameterValues {
            parameter_names: GET_PARAMS.iter().map(|p| p.to_string()).collect(),
        };
        let r = async {
            let t = self
                .usp
                .enqueue_task(NewTask::new(id.clone(), spec))
                .await
                .map_err(|e| FleetError::Protocol(e.to_string()))?;
            let done = self
                .usp
                .wait_task(t.id, Duration::from_secs(5))
                .await
                .map_err(|e| FleetError::Protocol(e.to_string()))?
                .ok_or_else(|| FleetError::Protocol("task vanished".into()))?;
            let body = serde_json::to_vec(&done).unwrap();
            let status = if done.status.is_final() { 200 } else { 202 };
            check_reply(status, &body, serial)
        }
        .await;
        ((), r)
    }
    fn timeout(&self) -> Duration {
        Duration::from_secs(6)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_onboard_answer_and_summaries_are_well_formed() {
    let e = engine().await;
    let connect = Arc::new(Stats::new("usp-connect"));
    let agents = AgentFleet::connect(config(5, UspMtp::Ws, "ws", e.ws), &connect).await.unwrap();
    assert_eq!(agents.agents.len(), 5);
    let onboard = Arc::new(Stats::new("usp-onboard"));
    assert_eq!(agents.wait_onboarded(WAIT, &onboard).await, 5, "{}", onboard.summary(WAIT));
    for a in &agents.agents {
        assert!(e.usp.is_online(&a.endpoint_id));
        let d = e.usp.device(&a.endpoint_id).expect("registered");
        assert_eq!(d.serial_number, a.serial);
    }
    let s = agents.summary();
    assert_eq!(s["onboarded"], 5);
    assert_eq!(s["notify_resps"], 5, "one NotifyResp per Boot!: {s}");
    assert!(s["controller_requests"]["Add"].as_u64().unwrap() >= 10, "{s}");

    // Get round trips in a closed and an open loop; every one succeeds.
    let targets: Vec<(String, String)> =
        agents.agents.iter().map(|a| (a.endpoint_id.clone(), a.serial.clone())).collect();
    let rt = Arc::new(EngineGet { usp: e.usp.clone(), targets });
    let closed = Arc::new(Stats::new("usp-get"));
    load::closed_loop(rt.clone(), &closed, 4, Duration::from_millis(300)).await.unwrap();
    let open = Arc::new(Stats::new("usp-get-open"));
    load::open_loop(rt, &open, 50.0, Duration::from_millis(200), 100).await.unwrap();
    let summary = serde_json::json!({"phases": [
        connect.summary(WAIT), onboard.summary(WAIT),
        closed.summary(Duration::from_millis(300)), open.summary(Duration::from_millis(200)),
    ]});
    report::check_summary(&summary).unwrap();
    let p = report::phase(&summary, "usp-get").unwrap();
    assert!(p["sessions"]["ok"].as_u64().unwrap() > 0, "{p}");
    assert_eq!(p["sessions"]["failed"], 0, "{p}");
    let p = report::phase(&summary, "usp-get-open").unwrap();
    assert_eq!(p["sessions"]["ok"], 10, "{p}");
    let mut broken = summary.clone();
    broken["phases"][2]["latency_ms"]["p99"] = serde_json::json!("fast");
    assert!(report::check_summary(&broken).is_err());
    assert!(report::check_summary(&serde_json::json!({"phases": []})).is_err());

    agents.shutdown().await;
    for _ in 0..100 {
        if !agents_online(&e.usp, &s) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!agents_online(&e.usp, &s), "agents offline after their DisconnectRecord");
}

fn agents_online(usp: &Usp, summary: &serde_json::Value) -> bool {
    let ids = summary["endpoint_ids"].as_str().unwrap();
    let first = ids.split("..").next().unwrap();
    usp.is_online(first)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usp_agents_get_their_equipment_profile() {
    let e = engine().await;
    let cfg = config(3, UspMtp::Ws, "prov", e.ws);
    let mut serials = Vec::new();
    for i in 0..3 {
        let sn = benches::agents::serial(&cfg.prefix, i);
        let n: NewEquipment =
            serde_json::from_value(Wanted::for_serial(&sn).equipment(&sn, None)).unwrap();
        e.store.insert_equipment(&n).await.unwrap();
        serials.push(sn);
    }
    let stats = Arc::new(Stats::new("usp-connect"));
    let agents = AgentFleet::connect(cfg, &stats).await.unwrap();
    let prov = Arc::new(Stats::new("provision-usp"));
    let n = agents
        .wait_until(WAIT, &prov, |a| Wanted::for_serial(&a.serial).check("Device.", |p| a.param(p)))
        .await;
    assert_eq!(n, 3, "{}", prov.summary(WAIT));
    let a = &agents.agents[0];
    let w = Wanted::for_serial(&a.serial);
    assert_eq!(a.param("Device.WiFi.SSID.2.SSID"), Some(w.ssid_5.clone()));
    assert_eq!(
        a.param("Device.WiFi.AccessPoint.2.Security.ModeEnabled").as_deref(),
        Some("WPA3-Personal-Transition")
    );
    agents.shutdown().await;
}

/// Apply what acsd's profile mapping computes for a device with these values, the way the
/// device would take it, and check the simulator's provisioning check agrees.
fn mapped(
    dm: DataModel,
    serial: &str,
    known: &BTreeMap<String, String>,
) -> Vec<(String, String, String)> {
    let body = Wanted::for_serial(serial).equipment(serial, None);
    let profile: Profile = serde_json::from_value(body["profile"].clone()).unwrap();
    let m = provisioning::mapping::map_profile(dm, &profile, known, &[]);
    assert!(m.problems.is_empty(), "{dm:?}: {:?}", m.problems);
    m.values.into_iter().map(|v| (v.path, v.value, v.ty)).collect()
}

#[test]
fn profile_mapping_lands_where_the_checks_look() {
    for (name, dm) in [("tr181", DataModel::Tr181), ("tr098", DataModel::Tr098)] {
        let t = ModelTemplate::load(name).unwrap();
        let root = t.root.clone();
        let mut cpe = Cpe::new(t, "00D09E", "FleetGW", "PRV000001".into(), 1, String::new());
        let known: BTreeMap<String, String> = cpe
            .model
            .subtree(&root, &cpe.identity)
            .into_iter()
            .filter(|i| i.value_type.is_some())
            .map(|i| (i.path, i.value))
            .collect();
        let w = Wanted::for_serial("PRV000001");
        assert!(w.check(&root, |p| cpe.model.value(p, &cpe.identity)).is_err());
        let values = mapped(dm, "PRV000001", &known);
        let list = values
            .iter()
            .map(|(p, v, ty)| ParameterValue::new(p.clone(), v.clone(), ValueType::parse(ty)))
            .collect();
        let (reply, _) = cpe.handle(&Body::SetParameterValues {
            parameter_list: list,
            parameter_key: "prov-1-v1".into(),
        });
        assert_eq!(reply, Body::SetParameterValuesResponse { status: 0 }, "{name}");
        w.check(&root, |p| cpe.model.value(p, &cpe.identity)).unwrap();
    }

    // The USP agents' model takes the same profile in one atomic Set.
    let mut m = agent_model("proto::fleet-t-1", "00D09E", "FleetAgent", "T000001");
    let values = mapped(DataModel::Tr181, "T000001", &m.params);
    let msg = usp::codec::request::set_params(
        "s1",
        false,
        true,
        values.iter().map(|(p, v, _)| (p.clone(), v.clone())),
    )
    .unwrap();
    let Some(usp::codec::msg::body::MsgBody::Request(r)) = msg.body.and_then(|b| b.msg_body) else {
        panic!("not a request")
    };
    let a = m.answer("s1", r.req_type.unwrap());
    let kind = usp::codec::classify(a.response).unwrap().kind;
    assert!(matches!(kind, usp::codec::IncomingKind::SetResp(_)), "{kind:?}");
    Wanted::for_serial("T000001").check("Device.", |p| m.get(p).cloned()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_agents_and_echo_through_a_broker() {
    let url = match std::env::var("ACSD_TEST_MQTT_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => {
            eprintln!("skipped: ACSD_TEST_MQTT_URL not set");
            return;
        }
    };
    let e = engine().await;
    for (mtp, prefix) in [(UspMtp::Mqtt5, "m5"), (UspMtp::Mqtt311, "m3")] {
        let cfg = config(3, mtp, prefix, e.ws);
        let (tx, rx) = watch::channel(false);
        // One MQTT client per engine: a second engine for the second MTP.
        let store = provisioning::open("sqlite::memory:").await.unwrap();
        let usp = Usp::new(
            UspConfig::new(EndpointId::parse(CONTROLLER).unwrap()),
            store,
            UspMetrics::default(),
        )
        .await
        .unwrap();
        let settings = usp::mtp::mqtt::MqttSettings {
            broker: usp::mtp::mqtt::BrokerUrl::parse(&url).unwrap(),
            topic: cfg.controller_topic.clone(),
            client_id: None,
        };
        let task = usp::mtp::mqtt::start(usp.clone(), settings, rx).unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let stats = Arc::new(Stats::new("usp-connect"));
        let agents = AgentFleet::connect(cfg, &stats).await.unwrap();
        let onboard = Arc::new(Stats::new("usp-onboard"));
        assert_eq!(agents.wait_onboarded(WAIT, &onboard).await, 3, "{mtp:?}");
        agents.shutdown().await;
        let _ = tx.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }

    let stats = Arc::new(Stats::new("mqtt-echo-connect"));
    let prefix = format!("t{}", std::process::id());
    let cfg = benches::echo::EchoConfig {
        mqtt_url: url.clone(),
        prefix,
        clients: 3,
        payload_bytes: 180,
        timeout: Duration::from_secs(5),
        connect_concurrency: 3,
        tcp_nodelay: false,
    };
    let echo = benches::echo::Echo::start(&cfg, &stats).await.unwrap();
    let echo = Arc::new(echo);
    let s = Arc::new(Stats::new("mqtt-echo"));
    load::closed_loop(echo.clone(), &s, 2, Duration::from_millis(300)).await.unwrap();
    echo.stop();
    let v = s.summary(Duration::from_millis(300));
    assert!(v["sessions"]["ok"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["sessions"]["failed"], 0, "{v}");
}
