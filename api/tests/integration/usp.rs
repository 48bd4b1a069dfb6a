//! USP agents through the real `acsd`: the test agent (in-memory TR-181 model) over the
//! WebSocket MTP always, over Mosquitto when `ACSD_TEST_MQTT_URL` is set; tasks and presence
//! through the REST API.

use std::time::Duration;

use serde_json::json;
use usp::testing::{AgentEvent, AgentMtp, Model, TestAgent};

use super::{api_call, enc, eventually, Backend, Harness, TOKEN};
use api::CpeAuth;

const CONTROLLER: &str = "proto::acsd";

async fn ws_agent(h: &Harness, id: &str, serial: &str) -> TestAgent {
    let model = Model::tr181(id, "00D09E", "TestONT", serial);
    let mtp = AgentMtp::WebSocket { addr: h.server().usp_ws_addr, eid_query: false };
    TestAgent::connect(mtp, id, CONTROLLER, model).await.unwrap()
}

async fn online(h: &Harness, id: &str) -> bool {
    let (st, d) = h.api("GET", &format!("/api/v1/devices/{}", enc(id)), None).await;
    st == 200 && d["online"] == true && d["serialNumber"] != ""
}

mod usp_agent_over_websocket_end_to_end {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::websocket_case(super::Backend::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::websocket_case(super::Backend::Postgres).await
    }
}

async fn websocket_case(b: Backend) {
    let Some(h) = Harness::new(b, CpeAuth::None).await else { return };
    let id = "os::00D09E-USP0001";
    let agent = ws_agent(&h, id, "USP0001").await;
    eventually("agent registered and online", || online(&h, id)).await;
    let (_, d) = h.api("GET", &format!("/api/v1/devices/{}", enc(id)), None).await;
    assert_eq!(d["protocol"], "usp");
    assert_eq!(d["serialNumber"], "USP0001");
    assert_eq!(d["oui"], "00D09E");
    assert_eq!(d["dataModel"], "tr-181");
    eventually("subscriptions created", || {
        let n = agent.model().lock().unwrap().subscriptions().len();
        async move { n >= 2 }
    })
    .await;

    // NotifyResp for an OnBoardRequest, with the same msg_id.
    let msg_id = agent.onboard_request();
    let got = agent
        .wait_event(Duration::from_secs(10), |e| matches!(e, AgentEvent::NotifyResp { .. }))
        .await;
    assert_eq!(got, Some(AgentEvent::NotifyResp { msg_id }));

    let tasks = format!("/api/v1/devices/{}/tasks?connection_request=true&timeout=5000", enc(id));
    let (st, t) = h
        .api(
            "POST",
            &tasks,
            Some(json!({"name": "setParameterValues",
            "parameterValues": [["Device.WiFi.SSID.1.SSID", "from-api"]]})),
        )
        .await;
    assert_eq!(st, 200, "{t}");
    assert_eq!(t["status"], "done");
    assert_eq!(agent.param("Device.WiFi.SSID.1.SSID").as_deref(), Some("from-api"));

    let (st, t) = h
        .api(
            "POST",
            &tasks,
            Some(json!({"name": "getParameterValues",
            "parameterNames": ["Device.WiFi.SSID.*.SSID"]})),
        )
        .await;
    assert_eq!(st, 200, "{t}");
    assert_eq!(
        t["result"]["parameters"],
        json!([["Device.WiFi.SSID.1.SSID", "from-api"], ["Device.WiFi.SSID.2.SSID", "home-5g"]])
    );
    let (_, p) = h
        .api(
            "GET",
            &format!("/api/v1/devices/{}/parameters?prefix=Device.WiFi.SSID.2.", enc(id)),
            None,
        )
        .await;
    assert_eq!(p["items"][0]["value"], "home-5g");

    let (st, t) = h
        .api(
            "POST",
            &tasks,
            Some(json!({"name": "operate", "command": "Device.IP.Diagnostics.IPPing()",
            "async": true})),
        )
        .await;
    assert_eq!(st, 200, "{t}");
    assert_eq!(t["result"]["outputArgs"]["Status"], "Complete");

    let (st, t) = h.api("POST", &tasks, Some(json!({"name": "reboot"}))).await;
    assert_eq!((st, t["status"].clone()), (200, json!("done")), "{t}");

    // USP errors become task faults with the agent's code and message.
    let (st, t) = h
        .api(
            "POST",
            &tasks,
            Some(json!({"name": "setParameterValues",
            "parameterValues": [["Device.DeviceInfo.SerialNumber", "x"]]})),
        )
        .await;
    assert_eq!(st, 200, "{t}");
    assert_eq!(t["status"], "fault");
    assert_eq!(t["fault"]["code"], "7004");
    assert_eq!(t["fault"]["detail"]["parameterErrors"][0]["errCode"], 7013);

    // CWMP-only tasks are refused for USP agents.
    let (st, e) = h.api("POST", &tasks, Some(json!({"name": "getRPCMethods"}))).await;
    assert_eq!(st, 400, "{e}");

    // Offline by Disconnect; a task queued meanwhile runs on reconnect.
    agent.disconnect();
    eventually("offline in the api", || async {
        let (_, d) = h.api("GET", &format!("/api/v1/devices/{}", enc(id)), None).await;
        d["online"] == false
    })
    .await;
    let (st, t) = h
        .api(
            "POST",
            &tasks,
            Some(json!({"name": "setParameterValues",
            "parameterValues": [["Device.WiFi.SSID.2.SSID", "while-offline"]]})),
        )
        .await;
    assert_eq!(st, 202, "{t}");
    assert!(t["connectionRequestError"].is_string());
    let task_id = t["id"].as_i64().unwrap();
    agent.close().await;
    let agent = ws_agent(&h, id, "USP0001").await;
    eventually("queued task done after reconnect", || async {
        let (_, t) = h.api("GET", &format!("/api/v1/tasks/{task_id}"), None).await;
        t["status"] == "done"
    })
    .await;
    assert_eq!(agent.param("Device.WiFi.SSID.2.SSID").as_deref(), Some("while-offline"));
    agent.close().await;
    eventually("offline after websocket close", || async {
        let (_, d) = h.api("GET", &format!("/api/v1/devices/{}", enc(id)), None).await;
        d["online"] == false
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usp_agent_over_mqtt_end_to_end() {
    let url = match std::env::var("ACSD_TEST_MQTT_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => {
            eprintln!("skipped: ACSD_TEST_MQTT_URL not set");
            return;
        }
    };
    let topic = format!("usp/controller/api-test-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let args = api::ConfigArgs {
        data_dir: Some(dir.path().to_path_buf()),
        database_url: Some(format!("sqlite://{}", dir.path().join("acs.db").display())),
        cwmp_listen: Some("127.0.0.1:0".parse().unwrap()),
        api_listen: Some("127.0.0.1:0".parse().unwrap()),
        usp_ws_listen: Some("127.0.0.1:0".parse().unwrap()),
        cpe_auth: Some(CpeAuth::None),
        mqtt_url: Some(url.clone()),
        mqtt_topic: Some(topic.clone()),
        ..Default::default()
    };
    let server =
        api::start(api::Settings::resolve(args).unwrap(), Some(TOKEN.into())).await.unwrap();
    let api_addr = server.api_addr;
    let get =
        |path: String| async move { api_call(api_addr, "GET", &path, None, Some(TOKEN)).await };
    let id = format!("os::00D09E-MQTT{}", std::process::id());
    let model = Model::tr181(&id, "00D09E", "TestONT", "MQTT1");
    let mtp = AgentMtp::Mqtt {
        broker: url.clone(),
        agent_topic: format!("usp/agent/{id}"),
        controller_topic: topic.clone(),
        v5: true,
    };
    let agent = TestAgent::connect(mtp, &id, CONTROLLER, model).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    // The controller subscribes asynchronously: repeat the connect record until it is seen.
    while get(format!("/api/v1/devices/{}", enc(&id))).await.1["online"] != true {
        assert!(tokio::time::Instant::now() < deadline, "agent never came online");
        agent.send_record(&usp::codec::Record::mqtt_connect(
            CONTROLLER,
            &id,
            "1.3",
            usp::codec::record::mqtt_connect_record::MqttVersion::V5,
            format!("usp/agent/{id}"),
        ));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let tasks = format!("/api/v1/devices/{}/tasks?connection_request=true&timeout=5000", enc(&id));
    let body =
        json!({"name": "getParameterValues", "parameterNames": ["Device.DeviceInfo.SerialNumber"]});
    let (st, t) =
        api_call(api_addr, "POST", &tasks, Some(body.to_string().into_bytes()), Some(TOKEN)).await;
    assert_eq!(st, 200, "{t}");
    assert_eq!(t["result"]["parameters"], json!([["Device.DeviceInfo.SerialNumber", "MQTT1"]]));
    agent.disconnect();
    eventually("offline", || async {
        get(format!("/api/v1/devices/{}", enc(&id))).await.1["online"] == false
    })
    .await;
    agent.close().await;
    server.shutdown().await;
}

/// The agent's model: two radios (5 GHz on Radio.1, 2.4 GHz on Radio.3), SSIDs and access
/// points cross-referenced, TR-104 v2 voice with two SIP clients and lines.
fn provisionable_model(id: &str, serial: &str) -> Model {
    let mut m = Model::tr181(id, "00D09E", "TestONT", serial);
    m.params.retain(|k, _| !k.starts_with("Device.WiFi.") && !k.starts_with("Device.Services."));
    let mut set = |k: &str, v: &str| {
        m.params.insert(k.to_owned(), v.to_owned());
    };
    set("Device.WiFi.Radio.1.OperatingFrequencyBand", "5GHz");
    set("Device.WiFi.Radio.3.OperatingFrequencyBand", "2.4GHz");
    set("Device.WiFi.SSID.1.LowerLayers", "Device.WiFi.Radio.3");
    set("Device.WiFi.SSID.1.SSID", "factory-2g");
    set("Device.WiFi.SSID.1.Enable", "false");
    set("Device.WiFi.SSID.2.LowerLayers", "Device.WiFi.Radio.1.");
    set("Device.WiFi.SSID.2.SSID", "factory-5g");
    set("Device.WiFi.SSID.2.Enable", "false");
    for (ap, ssid) in [(1, 2), (2, 1)] {
        let p = format!("Device.WiFi.AccessPoint.{ap}.");
        set(&format!("{p}SSIDReference"), &format!("Device.WiFi.SSID.{ssid}"));
        set(&format!("{p}Enable"), "false");
        set(&format!("{p}Security.ModeEnabled"), "None");
        set(&format!("{p}Security.KeyPassphrase"), "");
        set(&format!("{p}Security.SAEPassphrase"), "");
    }
    let vs = "Device.Services.VoiceService.1.";
    for i in 1..=2 {
        for (leaf, v) in
            [("AuthUserName", ""), ("AuthPassword", ""), ("RegisterURI", ""), ("Enable", "false")]
        {
            set(&format!("{vs}SIP.Client.{i}.{leaf}"), v);
        }
        set(&format!("{vs}SIP.Client.{i}.Network"), &format!("{vs}SIP.Network.{i}"));
        for leaf in ["RegistrarServer", "ProxyServer", "OutboundProxy", "UserAgentDomain"] {
            set(&format!("{vs}SIP.Network.{i}.{leaf}"), "");
        }
        set(&format!("{vs}CallControl.Line.{i}.DirectoryNumber"), "");
        set(&format!("{vs}CallControl.Line.{i}.Provider"), &format!("{vs}SIP.Client.{i}"));
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usp_agent_matched_by_serial_gets_wifi_and_sip() {
    let h = Harness::new(Backend::Sqlite, CpeAuth::None).await.unwrap();
    let profile = json!({
        "wifi": [
            {"band": "2.4", "ssid": "Casa", "passphrase": "wifi-secret-24", "security": "wpa2-psk"},
            {"band": "5", "ssid": "Casa-5G", "passphrase": "wifi-secret-5g", "security": "wpa2-wpa3"}
        ],
        "voice": [
            {"line": 1, "sip_username": "5551001", "sip_password": "sip-secret-1",
             "registrar": "sip.isp.example", "proxy": "proxy.isp.example", "domain": "isp.example",
             "directory_number": "+1 555 1001"}
        ]
    });
    let (st, eq) = h
        .api(
            "POST",
            "/api/v1/equipment",
            Some(json!({"kind": "ont", "serial": "USPSN42", "profile": profile})),
        )
        .await;
    assert_eq!(st, 201, "{eq}");
    let eq_id = eq["id"].as_i64().unwrap();

    let id = "os::00D09E-USPSN42";
    let mtp = AgentMtp::WebSocket { addr: h.server().usp_ws_addr, eid_query: false };
    let agent =
        TestAgent::connect(mtp, id, CONTROLLER, provisionable_model(id, "USPSN42")).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, s) = h.api("GET", &format!("/api/v1/equipment/{eq_id}/provisioning"), None).await;
        if s["state"] == "verified" {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            let (_, f) = h.api("GET", "/api/v1/faults", None).await;
            panic!("not verified: {s}\nfaults: {f}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(agent.param("Device.WiFi.SSID.1.SSID").as_deref(), Some("Casa"));
    assert_eq!(agent.param("Device.WiFi.SSID.2.SSID").as_deref(), Some("Casa-5G"));
    assert_eq!(
        agent.param("Device.WiFi.AccessPoint.2.Security.KeyPassphrase").as_deref(),
        Some("wifi-secret-24")
    );
    let vs = "Device.Services.VoiceService.1.";
    assert_eq!(agent.param(&format!("{vs}SIP.Client.1.AuthUserName")).as_deref(), Some("5551001"));
    assert_eq!(
        agent.param(&format!("{vs}SIP.Network.1.RegistrarServer")).as_deref(),
        Some("sip.isp.example")
    );
    let (_, s) = h.api("GET", &format!("/api/v1/equipment/{eq_id}/provisioning"), None).await;
    assert_eq!(s["deviceId"], id, "{s}");
    assert!(!s.to_string().contains("wifi-secret-24"), "{s}");
    let (_, dev) = h.api("GET", &format!("/api/v1/devices/{}", enc(id)), None).await;
    assert_eq!(dev["equipmentId"], eq_id);
    agent.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usp_agent_over_websocket_tls() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;

    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let args = api::ConfigArgs {
        data_dir: Some(dir.path().to_path_buf()),
        database_url: Some(format!("sqlite://{}", dir.path().join("acs.db").display())),
        cwmp_listen: Some("127.0.0.1:0".parse().unwrap()),
        api_listen: Some("127.0.0.1:0".parse().unwrap()),
        usp_ws_listen: Some("127.0.0.1:0".parse().unwrap()),
        usp_wss_listen: Some("127.0.0.1:0".parse().unwrap()),
        tls_cert: Some(cert),
        tls_key: Some(key),
        cpe_auth: Some(CpeAuth::None),
        ..Default::default()
    };
    let server =
        api::start(api::Settings::resolve(args).unwrap(), Some(TOKEN.into())).await.unwrap();

    let mut roots = rustls::RootCertStore::empty();
    roots.add(certified.cert.der().clone()).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(server.usp_wss_addr.unwrap()).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    let mut req = "wss://localhost/usp".into_client_request().unwrap();
    req.headers_mut().insert("sec-websocket-protocol", "v1.usp".parse().unwrap());
    let (mut ws, resp) = tokio_tungstenite::client_async(req, tls).await.unwrap();
    assert_eq!(resp.headers()["sec-websocket-protocol"], "v1.usp");
    let id = "os::00D09E-TLS0001";
    let connect = usp::codec::Record::websocket_connect(CONTROLLER, id, "1.3");
    ws.send(Message::Binary(usp::codec::encode_record(&connect).into())).await.unwrap();
    // The controller answers over the same TLS session: onboarding starts with a request.
    let frame =
        tokio::time::timeout(Duration::from_secs(10), futures_util::StreamExt::next(&mut ws))
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    let Message::Binary(bytes) = frame else { panic!("expected a binary frame, got {frame:?}") };
    let record = usp::codec::decode_record(&bytes).unwrap();
    assert_eq!((record.to_id.as_str(), record.from_id.as_str()), (id, CONTROLLER));
    assert!(server.usp.is_online(id));
    drop(ws);
    server.shutdown().await;
}
