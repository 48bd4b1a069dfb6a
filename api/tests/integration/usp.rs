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
