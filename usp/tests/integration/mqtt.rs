//! The MQTT MTP against a real broker (`ACSD_TEST_MQTT_URL`, e.g. `mqtt://127.0.0.1:1883`).

use std::time::Duration;

use provisioning::{TaskSpec, TaskStatus};
use tokio::sync::watch;
use usp::mtp::mqtt::{BrokerUrl, MqttSettings};
use usp::testing::{AgentEvent, AgentMtp, Model, TestAgent};

use crate::engine::{eventually, Env, CONTROLLER};

fn broker() -> Option<String> {
    match std::env::var("ACSD_TEST_MQTT_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            eprintln!("skipped: ACSD_TEST_MQTT_URL not set");
            None
        }
    }
}

async fn agent_over_mqtt(env: &Env, url: &str, topic: &str, id: &str, v5: bool) -> TestAgent {
    let model = Model::tr181(id, "00D09E", "TestONT", id.rsplit('-').next().unwrap_or("SN"));
    let mtp = AgentMtp::Mqtt {
        broker: url.to_owned(),
        agent_topic: format!("usp/agent/{id}"),
        controller_topic: topic.to_owned(),
        v5,
    };
    let _ = env;
    TestAgent::connect(mtp, id, CONTROLLER, model).await.unwrap()
}

async fn run_mqtt(v5: bool, suffix: &str) {
    let Some(url) = broker() else { return };
    let env = Env::start(|_| {}).await;
    // A topic of our own per test, so parallel runs do not see each other.
    let topic = format!("usp/controller/test-{suffix}-{}", std::process::id());
    let (tx, rx) = watch::channel(false);
    let settings = MqttSettings {
        broker: BrokerUrl::parse(&url).unwrap(),
        topic: topic.clone(),
        client_id: None,
    };
    let handle = usp::mtp::mqtt::start(env.usp.clone(), settings, rx).unwrap();

    let id = format!("os::00D09E-{suffix}{}", std::process::id());
    // The controller may not be subscribed yet: retry the connect until it is seen.
    let agent = agent_over_mqtt(&env, &url, &topic, &id, v5).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !env.usp.is_online(&id) {
        assert!(tokio::time::Instant::now() < deadline, "agent never came online");
        agent.send_record(&usp::codec::Record::mqtt_connect(
            CONTROLLER,
            &id,
            "1.3",
            if v5 {
                usp::codec::record::mqtt_connect_record::MqttVersion::V5
            } else {
                usp::codec::record::mqtt_connect_record::MqttVersion::V311
            },
            format!("usp/agent/{id}"),
        ));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    env.onboarded(&agent).await;

    let msg_id = agent.onboard_request();
    let got = agent
        .wait_event(Duration::from_secs(10), |e| matches!(e, AgentEvent::NotifyResp { .. }))
        .await;
    assert_eq!(got, Some(AgentEvent::NotifyResp { msg_id }));

    let t = env
        .run(
            &id,
            serde_json::from_value::<TaskSpec>(serde_json::json!({"name": "setParameterValues",
            "parameterValues": [["Device.WiFi.SSID.1.SSID", "over-mqtt"]]}))
            .unwrap(),
        )
        .await;
    assert_eq!(t.status, TaskStatus::Done, "{t:?}");
    assert_eq!(agent.param("Device.WiFi.SSID.1.SSID").as_deref(), Some("over-mqtt"));

    let t = env
        .run(
            &id,
            serde_json::from_value::<TaskSpec>(serde_json::json!({"name": "operate",
            "command": "Device.IP.Diagnostics.IPPing()", "async": true}))
            .unwrap(),
        )
        .await;
    assert_eq!(t.status, TaskStatus::Done, "{t:?}");

    agent.disconnect();
    eventually("offline after disconnect", || async { !env.usp.is_online(&id) }).await;
    agent.close().await;
    let _ = tx.send(true);
    let _ = handle.await;
}

#[tokio::test]
async fn mqtt5_agent() {
    run_mqtt(true, "v5").await;
}

#[tokio::test]
async fn mqtt311_agent_with_reply_to() {
    run_mqtt(false, "v311").await;
}
