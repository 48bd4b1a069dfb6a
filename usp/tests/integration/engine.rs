//! The engine with its WebSocket MTP against the test agent, on an in-memory SQLite store.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use provisioning::{NewTask, Store, TaskSpec, TaskStatus};
use tokio::sync::watch;
use usp::codec::incoming::Notification;
use usp::codec::{request, EndpointId, Record};
use usp::engine::UspConfig;
use usp::testing::{AgentEvent, AgentMtp, Model, TestAgent};
use usp::{Usp, UspMetrics};

pub const CONTROLLER: &str = "proto::acsd-test";
const WAIT: Duration = Duration::from_secs(10);

pub struct Env {
    pub usp: Usp,
    pub store: Arc<dyn Store>,
    pub ws: SocketAddr,
    shutdown: watch::Sender<bool>,
}

impl Env {
    pub async fn start(configure: impl FnOnce(&mut UspConfig)) -> Env {
        let store = provisioning::open("sqlite::memory:").await.unwrap();
        let mut config = UspConfig::new(EndpointId::parse(CONTROLLER).unwrap());
        config.request_timeout = Duration::from_secs(5);
        configure(&mut config);
        let usp = Usp::new(config, store.clone(), UspMetrics::default()).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ws = listener.local_addr().unwrap();
        let (tx, rx) = watch::channel(false);
        tokio::spawn(usp::mtp::ws::serve(listener, usp.clone(), rx.clone()));
        tokio::spawn(usp.clone().run_liveness(rx));
        Env { usp, store, ws, shutdown: tx }
    }

    pub async fn agent(&self, id: &str, serial: &str) -> TestAgent {
        let model = Model::tr181(id, "00D09E", "TestONT", serial);
        TestAgent::connect(
            AgentMtp::WebSocket { addr: self.ws, eid_query: true },
            id,
            CONTROLLER,
            model,
        )
        .await
        .unwrap()
    }

    /// Wait until the agent is online and onboarded (device stored, subscriptions made).
    pub async fn onboarded(&self, agent: &TestAgent) {
        let id = agent.endpoint_id().to_owned();
        eventually("onboarding", || {
            let m = agent.model();
            let subs = m.lock().unwrap().subscriptions().len();
            let usp = self.usp.clone();
            let id = id.clone();
            async move { usp.is_online(&id) && usp.device(&id).is_some() && subs >= 2 }
        })
        .await;
    }

    pub async fn run(&self, device: &str, spec: TaskSpec) -> provisioning::Task {
        let t = self.usp.enqueue_task(NewTask::new(device, spec)).await.unwrap();
        self.usp.wait_task(t.id, WAIT).await.unwrap().unwrap()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if check().await {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn spec(json: serde_json::Value) -> TaskSpec {
    serde_json::from_value(json).unwrap()
}

#[tokio::test]
async fn first_connect_onboards_and_subscribes() {
    let env = Env::start(|c| c.value_change_paths = vec!["Device.WiFi.SSID.1.SSID".into()]).await;
    let agent = env.agent("os::00D09E-SN0001", "SN0001").await;
    env.onboarded(&agent).await;
    let d = env.store.get_device("os::00D09E-SN0001").await.unwrap().unwrap();
    assert_eq!(d.protocol, provisioning::Protocol::Usp);
    assert_eq!(d.serial_number, "SN0001");
    assert_eq!(d.oui, "00D09E");
    assert_eq!(d.model_name.as_deref(), Some("TestONT"));
    let subs = agent.model().lock().unwrap().subscriptions();
    let kinds: Vec<(String, String, String)> = subs
        .values()
        .map(|s| (s["NotifType"].clone(), s["ReferenceList"].clone(), s["Persistent"].clone()))
        .collect();
    assert!(kinds.contains(&("Event".into(), "Device.Boot!".into(), "true".into())), "{kinds:?}");
    assert!(kinds.iter().any(|k| k.0 == "OperationComplete"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k.0 == "ValueChange" && k.1 == "Device.WiFi.SSID.1.SSID"));
    assert_eq!(env.usp.agent_version("os::00D09E-SN0001").unwrap().to_string(), "1.3");
}

#[tokio::test]
async fn notify_resp_carries_the_same_msg_id_and_boot_recreates_subscriptions() {
    let env = Env::start(|_| {}).await;
    let agent = env.agent("os::00D09E-SN0002", "SN0002").await;
    env.onboarded(&agent).await;
    let id = agent.onboard_request();
    let got = agent.wait_event(WAIT, |e| matches!(e, AgentEvent::NotifyResp { .. })).await.unwrap();
    assert_eq!(got, AgentEvent::NotifyResp { msg_id: id });

    // A factory reset loses the subscriptions; the Boot! that follows brings them back.
    agent.model().lock().unwrap().factory_reset();
    assert!(agent.model().lock().unwrap().subscriptions().is_empty());
    let boot = agent.boot_event("LocalFactoryReset");
    let got = agent.wait_event(WAIT, |e| matches!(e, AgentEvent::NotifyResp { .. })).await.unwrap();
    assert_eq!(got, AgentEvent::NotifyResp { msg_id: boot });
    env.onboarded(&agent).await;
    eventually("boot recorded", || async {
        let d = env.store.get_device("os::00D09E-SN0002").await.unwrap().unwrap();
        d.last_boot_at.is_some() && d.last_events == ["Boot!"]
    })
    .await;
}

#[tokio::test]
async fn tasks_get_set_add_delete() {
    let env = Env::start(|_| {}).await;
    let id = "os::00D09E-SN0003";
    let agent = env.agent(id, "SN0003").await;
    env.onboarded(&agent).await;

    let t = env
        .run(
            id,
            spec(serde_json::json!({"name": "getParameterValues",
            "parameterNames": ["Device.WiFi.SSID.1.SSID", "Device.DeviceInfo."]})),
        )
        .await;
    assert_eq!(t.status, TaskStatus::Done, "{t:?}");
    let params = t.result.unwrap()["parameters"].clone();
    assert!(params
        .as_array()
        .unwrap()
        .contains(&serde_json::json!(["Device.WiFi.SSID.1.SSID", "home"])));
    let cached = env.store.get_parameters(id, "Device.WiFi.SSID.1.").await.unwrap();
    assert_eq!(cached[0].value.as_deref(), Some("home"));

    // Search path.
    let t = env
        .run(id, spec(serde_json::json!({"name": "getParameterValues",
            "parameterNames": ["Device.WiFi.Radio.[OperatingFrequencyBand==\"5GHz\"].OperatingFrequencyBand"]})))
        .await;
    assert_eq!(t.status, TaskStatus::Done, "{t:?}");
    assert_eq!(
        t.result.unwrap()["parameters"],
        serde_json::json!([["Device.WiFi.Radio.2.OperatingFrequencyBand", "5GHz"]])
    );

    let t = env
        .run(id, spec(serde_json::json!({"name": "setParameterValues",
            "parameterValues": [["Device.WiFi.SSID.1.SSID", "new-ssid"], ["Device.WiFi.SSID.1.Enable", true]]})))
        .await;
    assert_eq!(t.status, TaskStatus::Done, "{t:?}");
    assert_eq!(agent.param("Device.WiFi.SSID.1.SSID").as_deref(), Some("new-ssid"));

    // Per-parameter errors come back in the fault.
    let t = env
        .run(id, spec(serde_json::json!({"name": "setParameterValues",
            "parameterValues": [["Device.WiFi.SSID.1.SSID", "INVALID"], ["Device.DeviceInfo.SerialNumber", "x"]]})))
        .await;
    assert_eq!(t.status, TaskStatus::Fault, "{t:?}");
    let f = t.fault.unwrap();
    assert_eq!(f.code, "7004");
    let errs = f.detail["parameterErrors"].as_array().unwrap().clone();
    assert!(
        errs.iter().any(|e| e["path"] == "Device.WiFi.SSID.1.SSID" && e["errCode"] == 7012),
        "{errs:?}"
    );
    assert!(errs
        .iter()
        .any(|e| e["path"] == "Device.DeviceInfo.SerialNumber" && e["errCode"] == 7013));
    assert_eq!(agent.param("Device.WiFi.SSID.1.SSID").as_deref(), Some("new-ssid"));

    let t = env
        .run(
            id,
            spec(serde_json::json!({"name": "addObject", "objectName": "Device.NAT.PortMapping.",
            "parameterValues": [["ExternalPort", "8080"]]})),
        )
        .await;
    assert_eq!(t.status, TaskStatus::Done, "{t:?}");
    let r = t.result.unwrap();
    assert_eq!(r["path"], "Device.NAT.PortMapping.1.");
    assert_eq!(r["instanceNumber"], 1);
    assert_eq!(agent.param("Device.NAT.PortMapping.1.ExternalPort").as_deref(), Some("8080"));

    let t = env
        .run(id, spec(serde_json::json!({"name": "addObject", "objectName": "Device.DeviceInfo."})))
        .await;
    assert_eq!(t.status, TaskStatus::Fault);
    assert_eq!(t.fault.unwrap().code, "7019");

    let t = env
        .run(id, spec(serde_json::json!({"name": "deleteObject", "objectName": "Device.NAT.PortMapping.1."})))
        .await;
    assert_eq!(t.status, TaskStatus::Done, "{t:?}");
    assert_eq!(agent.param("Device.NAT.PortMapping.1.ExternalPort"), None);

    let t = env
        .run(
            id,
            spec(serde_json::json!({"name": "getInstances", "objPaths": ["Device.WiFi.SSID."],
            "firstLevelOnly": true})),
        )
        .await;
    assert_eq!(t.status, TaskStatus::Done, "{t:?}");
    assert_eq!(t.result.unwrap()["instances"].as_array().unwrap().len(), 2);

    let t = env
        .run(id, spec(serde_json::json!({"name": "getSupportedDM", "objPaths": ["Device.WiFi."]})))
        .await;
    assert_eq!(t.status, TaskStatus::Done, "{t:?}");
    let objs = t.result.unwrap()["results"][0]["objects"].clone();
    assert!(objs.as_array().unwrap().iter().any(|o| o["path"] == "Device.WiFi.SSID.{i}."));

    let t = env.run(id, TaskSpec::GetSupportedProtocol).await;
    assert_eq!(t.status, TaskStatus::Done, "{t:?}");
    assert_eq!(t.result.unwrap()["versions"], "1.0,1.1,1.2,1.3");
}

#[tokio::test]
async fn operate_sync_and_async() {
    let env = Env::start(|c| {
        c.file_url = Some(Arc::new(|name: &str| Some(format!("http://files.test/{name}"))));
    })
    .await;
    let id = "os::00D09E-SN0004";
    let agent = env.agent(id, "SN0004").await;
    env.onboarded(&agent).await;

    let t = env.run(id, TaskSpec::Reboot).await;
    assert_eq!(t.status, TaskStatus::Done, "{t:?}");
    let t = env.run(id, TaskSpec::FactoryReset).await;
    assert_eq!(t.status, TaskStatus::Done, "{t:?}");

    let t = env
        .run(
            id,
            spec(
                serde_json::json!({"name": "operate", "command": "Device.IP.Diagnostics.IPPing()",
            "inputArgs": {"Host": "127.0.0.1"}, "async": true}),
            ),
        )
        .await;
    assert_eq!(t.status, TaskStatus::Done, "{t:?}");
    assert_eq!(t.result.clone().unwrap()["outputArgs"]["Status"], "Complete", "{t:?}");
    assert_eq!(t.command_key.as_deref(), Some(format!("acsd-task-{}", t.id).as_str()));

    let t = env
        .run(id, spec(serde_json::json!({"name": "operate", "command": "Device.X_Test.Fail()"})))
        .await;
    assert_eq!(t.status, TaskStatus::Fault);
    assert_eq!(t.fault.unwrap().code, "7022");

    let t = env
        .run(id, spec(serde_json::json!({"name": "download", "url": "http://files.test/fw.bin", "fileSize": 10})))
        .await;
    assert_eq!(t.status, TaskStatus::Done, "{t:?}");
    let ops = agent.model().lock().unwrap().operations.clone();
    let (cmd, args) = ops.last().unwrap();
    assert_eq!(cmd, "Device.DeviceInfo.FirmwareImage.2.Download()");
    assert_eq!(args["URL"], "http://files.test/fw.bin");
    assert_eq!(args["AutoActivate"], "true");
    assert!(ops.iter().any(|(c, _)| c == "Device.Reboot()"));
    assert!(ops.iter().any(|(c, _)| c == "Device.FactoryReset()"));
}

#[tokio::test]
async fn presence_disconnect_close_and_liveness() {
    let env = Env::start(|c| c.liveness_timeout = Duration::from_millis(300)).await;
    let id = "os::00D09E-SN0005";
    let agent = env.agent(id, "SN0005").await;
    env.onboarded(&agent).await;

    agent.disconnect();
    eventually("offline after disconnect", || async { !env.usp.is_online(id) }).await;
    agent.send_record(&Record::websocket_connect(CONTROLLER, id, "1.3"));
    eventually("online after connect", || async { env.usp.is_online(id) }).await;

    // Liveness: a silent period past the timeout brings a probing Get.
    let probe =
        agent.wait_event(WAIT, |e| matches!(e, AgentEvent::Request { name: "Get", .. })).await;
    assert!(probe.is_some());
    // A silent agent is declared offline.
    agent.set_silent(true);
    eventually("offline by liveness timeout", || async { !env.usp.is_online(id) }).await;
    agent.close().await;

    let agent = env.agent(id, "SN0005").await;
    eventually("online again", || async { env.usp.is_online(id) }).await;
    agent.close().await;
    eventually("offline after websocket close", || async { !env.usp.is_online(id) }).await;
}

#[tokio::test]
async fn task_queued_offline_runs_on_reconnect() {
    let env = Env::start(|_| {}).await;
    let id = "os::00D09E-SN0006";
    let agent = env.agent(id, "SN0006").await;
    env.onboarded(&agent).await;
    agent.close().await;
    eventually("offline", || async { !env.usp.is_online(id) }).await;

    let t = env
        .usp
        .enqueue_task(NewTask::new(
            id,
            spec(serde_json::json!({"name": "setParameterValues",
            "parameterValues": [["Device.WiFi.SSID.2.SSID", "queued"]]})),
        ))
        .await
        .unwrap();
    assert_eq!(env.store.get_task(t.id).await.unwrap().unwrap().status, TaskStatus::Queued);

    let agent = env.agent(id, "SN0006").await;
    let done = env.usp.wait_task(t.id, WAIT).await.unwrap().unwrap();
    assert_eq!(done.status, TaskStatus::Done, "{done:?}");
    assert_eq!(agent.param("Device.WiFi.SSID.2.SSID").as_deref(), Some("queued"));
}

#[tokio::test]
async fn garbage_wrong_to_id_and_unsupported_requests() {
    let env = Env::start(|_| {}).await;
    let id = "os::00D09E-SN0007";
    let agent = env.agent(id, "SN0007").await;
    env.onboarded(&agent).await;

    // A Record for someone else is ignored and counted; the agent stays connected.
    agent.send_record(&Record::websocket_connect("proto::someone-else", id, "1.3"));
    eventually("wrong to_id counted", || async {
        env.usp.metrics().dropped_count("wrong_to_id") == 1
    })
    .await;

    // A request a controller does not serve gets Error 7001 with the same msg_id.
    agent.send_msg_to(CONTROLLER, &request::get("agent-get-1", ["Device."], 0));
    let got = agent.wait_event(WAIT, |e| matches!(e, AgentEvent::Error { .. })).await.unwrap();
    assert_eq!(got, AgentEvent::Error { msg_id: "agent-get-1".into(), code: 7001 });

    // A Notify without send_resp gets no answer but is processed.
    agent.notify(
        Notification::ValueChange {
            param_path: "Device.WiFi.SSID.1.SSID".into(),
            param_value: "vc".into(),
        },
        false,
    );
    eventually("value change cached", || async {
        env.store
            .get_parameters(id, "Device.WiFi.SSID.1.SSID")
            .await
            .unwrap()
            .first()
            .is_some_and(|p| p.value.as_deref() == Some("vc"))
    })
    .await;

    // Garbage closes the WebSocket with 1003 and is counted.
    agent.send_raw(vec![0xff, 0xff, 0xff, 0x01, 0x02]);
    let got = agent.wait_event(WAIT, |e| matches!(e, AgentEvent::Closed { .. })).await.unwrap();
    assert_eq!(got, AgentEvent::Closed { code: Some(1003) });
    assert_eq!(env.usp.metrics().dropped_count("undecodable"), 1);
    eventually("offline after 1003", || async { !env.usp.is_online(id) }).await;
}

#[tokio::test]
async fn websocket_handshake_requires_the_usp_subprotocol() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let env = Env::start(|_| {}).await;
    let req = format!("ws://{}/usp", env.ws).into_client_request().unwrap();
    assert!(tokio_tungstenite::connect_async(req).await.is_err());
    let mut req = format!("ws://{}/other", env.ws).into_client_request().unwrap();
    req.headers_mut().insert("sec-websocket-protocol", "v1.usp".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(req).await.is_err());
    let mut req = format!("ws://{}/usp", env.ws).into_client_request().unwrap();
    req.headers_mut().insert("sec-websocket-protocol", "v1.usp".parse().unwrap());
    let (_ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(resp.headers()["sec-websocket-protocol"], "v1.usp");
}

#[tokio::test]
async fn reprovision_onboards_again() {
    let env = Env::start(|_| {}).await;
    let id = "os::00D09E-SN0008";
    let agent = env.agent(id, "SN0008").await;
    env.onboarded(&agent).await;
    agent.model().lock().unwrap().factory_reset();
    assert!(env.usp.reprovision(id));
    env.onboarded(&agent).await;
    assert!(!env.usp.reprovision("os::00D09E-UNKNOWN"));
}
