//! M simulated USP agents in one process: each a [`crate::usp_agent::AgentModel`] behind one MTP
//! connection — MQTT 5 or MQTT 3.1.1 through a broker (rumqttc), or WebSocket to the controller
//! (tokio-tungstenite, `v1.usp` subprotocol) — answered in the connection's own task.
//!
//! Why not `usp::testing::TestAgent`: it holds up functionally, but its MQTT 5 client keeps
//! rumqttc's default outgoing in-flight window of 65 535 publishes, a preallocated table of
//! about 14 MB per client (1 000 agents: 14 GB resident). These agents cap the window at 16
//! and use small WebSocket buffers, so a thousand cost a few tens of MB.
//!
//! Each agent connects (bounded connect concurrency), sends its MTP Connect Record, then a
//! `Device.Boot!` event Notify with `send_resp`; NotifyResps, USP Errors and every controller
//! request are counted. An agent counts as *onboarded* when its Boot! was acknowledged and the
//! controller created its subscriptions (`Device.LocalAgent.Subscription.` holds at least two
//! rows), which `acsd` does after registering the device.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use usp::codec::incoming::{IncomingKind, Notification};
use usp::codec::msg::body::MsgBody;
use usp::codec::record::mqtt_connect_record::MqttVersion;
use usp::codec::{classify, decode_record, encode_record, msg_id, Msg, Record, RecordKind};
use usp::mtp::mqtt::{
    encode_reply_to, BrokerUrl, CONTENT_TYPE, ENDPOINT_ID_PROPERTY, MAX_PACKET_BYTES,
};

use crate::api::ApiClient;
use crate::error::FleetError;
use crate::session::SessionResult;
use crate::stats::Stats;
use crate::usp_agent::{boot_event, request_name, AgentModel};

/// USP version the agents put in their Records.
pub const RECORD_VERSION: &str = "1.3";
/// Outgoing QoS 1 publishes in flight per agent connection.
pub const AGENT_INFLIGHT: u16 = 16;

/// How the agents reach the controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UspMtp {
    /// MQTT 5 through a broker (what `acsd` speaks itself).
    Mqtt5,
    /// MQTT 3.1.1 through a broker (`/reply-to=` topics).
    Mqtt311,
    /// WebSocket to the controller's `/usp` endpoint.
    Ws,
}

impl UspMtp {
    /// Name used in summaries and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            UspMtp::Mqtt5 => "mqtt5",
            UspMtp::Mqtt311 => "mqtt311",
            UspMtp::Ws => "ws",
        }
    }

    /// Parse `mqtt5`, `mqtt311` or `ws`.
    pub fn parse(s: &str) -> Result<UspMtp, FleetError> {
        match s {
            "mqtt5" | "mqtt" => Ok(UspMtp::Mqtt5),
            "mqtt311" | "mqtt3" => Ok(UspMtp::Mqtt311),
            "ws" | "websocket" => Ok(UspMtp::Ws),
            other => Err(FleetError::Argument(format!("unknown USP MTP {other}"))),
        }
    }
}

/// How to build the agents.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Number of agents.
    pub count: usize,
    /// MTP.
    pub mtp: UspMtp,
    /// Broker URL (`mqtt://host:port`), for the MQTT MTPs.
    pub mqtt_url: String,
    /// The controller's topic (`usp/controller/<controller id>` by default in `acsd`).
    pub controller_topic: String,
    /// The controller's WebSocket endpoint (`ws://host:port/usp`).
    pub ws_url: String,
    /// The controller's Endpoint ID.
    pub controller_id: String,
    /// Run prefix: endpoint ids `proto::fleet-<prefix>-<i>`, serials `<PREFIX><i, 6 digits>`.
    pub prefix: String,
    /// `Device.DeviceInfo.ManufacturerOUI`.
    pub oui: String,
    /// `Device.DeviceInfo.ProductClass`.
    pub product_class: String,
    /// Agents connecting at the same time.
    pub connect_concurrency: usize,
    /// TCP_NODELAY on the agents' connections (off: like rumqttc's default).
    pub tcp_nodelay: bool,
}

impl AgentConfig {
    /// Check the prefix (it becomes part of endpoint ids and MQTT client ids) and the
    /// controller's Endpoint ID.
    pub fn validate(&self) -> Result<(), FleetError> {
        if self.prefix.is_empty()
            || !self.prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(FleetError::Argument(format!(
                "USP prefix {:?}: use letters, digits and _ only",
                self.prefix
            )));
        }
        usp::codec::EndpointId::parse(&self.controller_id)
            .map_err(|e| FleetError::Argument(format!("controller id: {e}")))?;
        Ok(())
    }
}

/// The Endpoint ID of agent `index` of a run.
pub fn endpoint_id(prefix: &str, index: usize) -> String {
    format!("proto::fleet-{prefix}-{index}")
}

/// The serial number of agent `index` of a run (matches equipment registered with it).
pub fn serial(prefix: &str, index: usize) -> String {
    format!("{}{index:06}", prefix.to_ascii_uppercase())
}

/// The MQTT topic agent `endpoint` subscribes to.
pub fn agent_topic(endpoint: &str) -> String {
    format!("usp/agent/{endpoint}")
}

/// The agents' TR-181 model: device info, two radios (2.4 GHz on `Radio.1`, 5 GHz on
/// `Radio.2`) with an SSID and an access point each, TR-104 v2 voice (a SIP client on a network,
/// a call-control line), a port mapping and firmware images; tables for subscriptions, SSIDs,
/// access points and port mappings. Holds what `acsd` needs to push an equipment profile.
pub fn agent_model(endpoint: &str, oui: &str, product_class: &str, serial: &str) -> AgentModel {
    let mut m = AgentModel::default();
    let mut set = |k: &str, v: &str| {
        m.params.insert(k.to_owned(), v.to_owned());
    };
    set("Device.LocalAgent.EndpointID", endpoint);
    set("Device.LocalAgent.SupportedProtocols", "WebSocket,MQTT");
    let di = "Device.DeviceInfo.";
    for (k, v) in [
        ("Manufacturer", "ACME Networks"),
        ("ManufacturerOUI", oui),
        ("ProductClass", product_class),
        ("SerialNumber", serial),
        ("ModelName", "FleetAgent"),
        ("SoftwareVersion", "2.1.0"),
        ("HardwareVersion", "B"),
        ("UpTime", "3600"),
        ("ActiveFirmwareImage", "Device.DeviceInfo.FirmwareImage.1."),
        ("FirmwareImage.1.Name", "fw-2.1.0"),
        ("FirmwareImage.2.Name", "fw-2.0.9"),
    ] {
        set(&format!("{di}{k}"), v);
    }
    for (i, band, channel, ssid) in
        [(1, "2.4GHz", "6", "fleet-home"), (2, "5GHz", "36", "fleet-5g")]
    {
        let radio = format!("Device.WiFi.Radio.{i}.");
        set(&format!("{radio}Enable"), "true");
        set(&format!("{radio}OperatingFrequencyBand"), band);
        set(&format!("{radio}Channel"), channel);
        let s = format!("Device.WiFi.SSID.{i}.");
        set(&format!("{s}Enable"), "true");
        set(&format!("{s}SSID"), ssid);
        set(&format!("{s}LowerLayers"), &radio);
        let ap = format!("Device.WiFi.AccessPoint.{i}.");
        set(&format!("{ap}Enable"), "true");
        set(&format!("{ap}SSIDReference"), &s);
        set(&format!("{ap}Security.ModeEnabled"), "WPA2-Personal");
        set(&format!("{ap}Security.KeyPassphrase"), "");
        set(&format!("{ap}Security.SAEPassphrase"), "");
    }
    let vs = "Device.Services.VoiceService.1.";
    for (k, v) in [
        ("SIP.Client.1.Enable", "false"),
        ("SIP.Client.1.AuthUserName", ""),
        ("SIP.Client.1.AuthPassword", ""),
        ("SIP.Client.1.RegisterURI", ""),
        ("SIP.Client.1.Network", "Device.Services.VoiceService.1.SIP.Network.1."),
        ("SIP.Network.1.RegistrarServer", ""),
        ("SIP.Network.1.ProxyServer", ""),
        ("SIP.Network.1.OutboundProxy", ""),
        ("SIP.Network.1.UserAgentDomain", ""),
        ("CallControl.Line.1.DirectoryNumber", ""),
        ("CallControl.Line.1.Provider", "Device.Services.VoiceService.1.SIP.Client.1."),
    ] {
        set(&format!("{vs}{k}"), v);
    }
    let pm = "Device.NAT.PortMapping.1.";
    for (k, v) in [
        ("Enable", "false"),
        ("ExternalPort", "8080"),
        ("InternalPort", "80"),
        ("Protocol", "TCP"),
        ("InternalClient", "192.168.1.10"),
    ] {
        set(&format!("{pm}{k}"), v);
    }
    for t in [
        "Device.LocalAgent.Subscription.",
        "Device.WiFi.SSID.",
        "Device.WiFi.AccessPoint.",
        "Device.NAT.PortMapping.",
    ] {
        m.tables.insert(t.to_owned());
    }
    m
}

/// Parse `ws://host:port/usp` into the address to connect to.
pub async fn resolve_ws_url(url: &str) -> Result<SocketAddr, FleetError> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| FleetError::Argument(format!("{url}: only ws:// URLs are supported")))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/usp"),
    };
    if path != "/usp" {
        return Err(FleetError::Argument(format!(
            "{url}: the agents connect to the path /usp (got {path})"
        )));
    }
    let authority =
        if authority.contains(':') { authority.to_string() } else { format!("{authority}:80") };
    let found = tokio::net::lookup_host(&authority).await?.next();
    found.ok_or_else(|| FleetError::Argument(format!("{authority}: does not resolve")))
}

/// Counters shared by the agents.
#[derive(Debug, Default)]
pub struct AgentCounters {
    /// Controller requests received, by name (Get, Set, Add, ...).
    pub requests: Mutex<BTreeMap<&'static str, u64>>,
    /// NotifyResps received.
    pub notify_resps: AtomicU64,
    /// USP Error messages received.
    pub errors: AtomicU64,
    /// Records that could not be decoded or were not addressed to the agent.
    pub ignored: AtomicU64,
    /// Connections that closed under an agent (not by the agent itself).
    pub closed: AtomicU64,
    /// Records the agents could not send (connection gone, queue full).
    pub send_failures: AtomicU64,
}

impl AgentCounters {
    /// Requests by name, as JSON.
    pub fn requests_json(&self) -> Value {
        self.requests.lock().map(|m| json!(*m)).unwrap_or(Value::Null)
    }

    /// Requests by name minus an earlier snapshot.
    pub fn requests_since(&self, before: &Value) -> Value {
        let Value::Object(m) = self.requests_json() else { return Value::Null };
        Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let d =
                        v.as_u64().unwrap_or(0).saturating_sub(before[&k].as_u64().unwrap_or(0));
                    (k, json!(d))
                })
                .filter(|(_, v)| v.as_u64() != Some(0))
                .collect(),
        )
    }
}

enum Out {
    Record(Vec<u8>),
    Close,
}

/// One simulated agent.
#[derive(Debug)]
pub struct SimAgent {
    /// Index in the run.
    pub index: usize,
    /// Endpoint ID.
    pub endpoint_id: String,
    /// Serial number.
    pub serial: String,
    controller_id: String,
    model: Mutex<AgentModel>,
    out: mpsc::UnboundedSender<Out>,
    task: Mutex<Option<JoinHandle<()>>>,
    counters: Arc<AgentCounters>,
    started: Instant,
    next_notify: AtomicU64,
    boot_msg: Mutex<String>,
    boot_acked: AtomicBool,
    onboarded: AtomicBool,
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Out::Record(b) => write!(f, "Record({} bytes)", b.len()),
            Out::Close => f.write_str("Close"),
        }
    }
}

impl SimAgent {
    /// Whether the controller acknowledged the Boot! and created the subscriptions.
    pub fn onboarded(&self) -> bool {
        self.onboarded.load(Ordering::Relaxed)
    }

    /// A parameter of the agent's model.
    pub fn param(&self, path: &str) -> Option<String> {
        self.model.lock().ok().and_then(|m| m.get(path).cloned())
    }

    fn check_onboarded(&self) -> bool {
        if self.onboarded() {
            return true;
        }
        if !self.boot_acked.load(Ordering::Relaxed) {
            return false;
        }
        let subs = self.model.lock().map(|m| m.subscriptions()).unwrap_or(0);
        if subs >= 2 {
            self.onboarded.store(true, Ordering::Relaxed);
            return true;
        }
        false
    }

    fn wrap(&self, msg: &Msg) -> Vec<u8> {
        encode_record(&Record::wrap(&self.controller_id, &self.endpoint_id, RECORD_VERSION, msg))
    }

    fn send(&self, bytes: Vec<u8>) {
        if self.out.send(Out::Record(bytes)).is_err() {
            self.counters.send_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn notify(&self, n: Notification, send_resp: bool) -> (String, Vec<u8>) {
        let id = format!("fleet-notify-{}", self.next_notify.fetch_add(1, Ordering::Relaxed));
        let msg = usp::codec::agent::notify(id.clone(), "fleet", send_resp, n);
        (id, self.wrap(&msg))
    }

    /// Send a `Device.Boot!` event (send_resp) and remember its msg id.
    fn send_boot(&self, cause: &str) {
        let (id, bytes) = self.notify(boot_event(cause), true);
        if let Ok(mut g) = self.boot_msg.lock() {
            *g = id;
        }
        self.send(bytes);
    }

    /// One Record from the controller; returns the Records to send back.
    fn handle(&self, bytes: &[u8]) -> Vec<Vec<u8>> {
        let ignored = || {
            self.counters.ignored.fetch_add(1, Ordering::Relaxed);
            Vec::new()
        };
        let Ok(record) = decode_record(bytes) else { return ignored() };
        if record.to_id != self.endpoint_id {
            return ignored();
        }
        match record.kind() {
            Ok(RecordKind::Msg(_)) => {}
            Ok(_) => return Vec::new(),
            Err(_) => return ignored(),
        }
        let Ok(msg) = record.msg() else { return ignored() };
        let id = msg_id(&msg).to_owned();
        let is_request = matches!(
            msg.body.as_ref().and_then(|b| b.msg_body.as_ref()),
            Some(MsgBody::Request(_))
        );
        if is_request {
            let Some(MsgBody::Request(req)) = msg.body.and_then(|b| b.msg_body) else {
                return ignored();
            };
            let Some(req) = req.req_type else { return ignored() };
            if let Ok(mut m) = self.counters.requests.lock() {
                *m.entry(request_name(&req)).or_default() += 1;
            }
            let answer = match self.model.lock() {
                Ok(mut model) => model.answer(&id, req),
                Err(_) => return ignored(),
            };
            let mut out = vec![self.wrap(&answer.response)];
            for n in answer.notifications {
                let is_boot =
                    matches!(&n, Notification::Event { event_name, .. } if event_name == "Boot!");
                let (nid, bytes) = self.notify(n, true);
                if is_boot {
                    if let Ok(mut g) = self.boot_msg.lock() {
                        *g = nid;
                    }
                }
                out.push(bytes);
            }
            return out;
        }
        match classify(msg).map(|i| i.kind) {
            Ok(IncomingKind::NotifyResp { .. }) => {
                self.counters.notify_resps.fetch_add(1, Ordering::Relaxed);
                if self.boot_msg.lock().map(|g| *g == id).unwrap_or(false) {
                    self.boot_acked.store(true, Ordering::Relaxed);
                }
            }
            Ok(IncomingKind::Error(_)) => {
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                self.counters.ignored.fetch_add(1, Ordering::Relaxed);
            }
        }
        Vec::new()
    }

    fn connect_record(&self, cfg: &AgentConfig) -> Record {
        match cfg.mtp {
            UspMtp::Ws => {
                Record::websocket_connect(&cfg.controller_id, &self.endpoint_id, RECORD_VERSION)
            }
            UspMtp::Mqtt5 | UspMtp::Mqtt311 => Record::mqtt_connect(
                &cfg.controller_id,
                &self.endpoint_id,
                RECORD_VERSION,
                if cfg.mtp == UspMtp::Mqtt5 { MqttVersion::V5 } else { MqttVersion::V311 },
                agent_topic(&self.endpoint_id),
            ),
        }
    }
}

async fn run_ws(
    agent: Arc<SimAgent>,
    addr: SocketAddr,
    nodelay: bool,
    mut out_rx: mpsc::UnboundedReceiver<Out>,
) -> Result<JoinHandle<()>, FleetError> {
    let mut req = format!("ws://{addr}/usp")
        .into_client_request()
        .map_err(|e| FleetError::Protocol(format!("websocket request: {e}")))?;
    req.headers_mut()
        .insert(http::header::SEC_WEBSOCKET_PROTOCOL, http::HeaderValue::from_static("v1.usp"));
    let config = usp::mtp::ws::ws_config().read_buffer_size(8 * 1024).write_buffer_size(0);
    let (ws, _) = tokio_tungstenite::connect_async_with_config(req, Some(config), nodelay)
        .await
        .map_err(|e| FleetError::Protocol(format!("websocket connect: {e}")))?;
    Ok(tokio::spawn(async move {
        let (mut sink, mut stream) = ws.split();
        loop {
            tokio::select! {
                out = out_rx.recv() => match out {
                    Some(Out::Record(b)) => {
                        if sink.send(Message::Binary(b.into())).await.is_err() {
                            agent.counters.send_failures.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                    }
                    Some(Out::Close) | None => {
                        let _ = sink.send(Message::Close(None)).await;
                        let _ = sink.close().await;
                        return;
                    }
                },
                frame = stream.next() => match frame {
                    Some(Ok(Message::Binary(b))) => {
                        for reply in agent.handle(&b) {
                            if sink.send(Message::Binary(reply.into())).await.is_err() {
                                agent.counters.send_failures.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                    Some(Ok(_)) => {}
                },
            }
        }
        agent.counters.closed.fetch_add(1, Ordering::Relaxed);
    }))
}

/// MQTT 5 or 3.1.1 through the broker. MQTT 5: replies go to the controller topic with the
/// Response Topic, Content-Type and endpoint-id user property; 3.1.1: to
/// `<controller topic>/reply-to=<our topic, encoded>`. The agent subscribes to its topic and
/// below (`<topic>/#`, which also matches the topic itself).
async fn run_mqtt(
    agent: Arc<SimAgent>,
    cfg: &AgentConfig,
    mut out_rx: mpsc::UnboundedReceiver<Out>,
) -> Result<JoinHandle<()>, FleetError> {
    let broker =
        BrokerUrl::parse(&cfg.mqtt_url).map_err(|e| FleetError::Argument(e.to_string()))?;
    if broker.tls {
        return Err(FleetError::Argument("mqtts:// is not supported by the simulator".into()));
    }
    let topic = agent_topic(&agent.endpoint_id);
    let sub = format!("{topic}/#");
    let client_id = format!("fleet-{}-{}", cfg.prefix, agent.index);
    let (ready_tx, ready_rx) = oneshot::channel::<()>();
    let task = if cfg.mtp == UspMtp::Mqtt5 {
        use rumqttc::v5::mqttbytes::v5::{Packet, PublishProperties};
        use rumqttc::v5::mqttbytes::QoS;
        use rumqttc::v5::{AsyncClient, Event, MqttOptions};
        use rumqttc::Outgoing;
        let mut o = MqttOptions::new(client_id, broker.host.clone(), broker.port);
        o.set_keep_alive(Duration::from_secs(60));
        o.set_max_packet_size(Some(MAX_PACKET_BYTES));
        o.set_outgoing_inflight_upper_limit(AGENT_INFLIGHT);
        o.set_user_properties(vec![(ENDPOINT_ID_PROPERTY.into(), agent.endpoint_id.clone())]);
        if let Some(u) = &broker.username {
            o.set_credentials(u.clone(), broker.password.clone().unwrap_or_default());
        }
        if cfg.tcp_nodelay {
            let mut n = rumqttc::NetworkOptions::new();
            n.set_tcp_nodelay(true);
            o.set_network_options(n);
        }
        let (client, mut el) = AsyncClient::new(o, 64);
        let controller_topic = cfg.controller_topic.clone();
        let props = PublishProperties {
            response_topic: Some(topic.clone()),
            content_type: Some(CONTENT_TYPE.into()),
            user_properties: vec![(ENDPOINT_ID_PROPERTY.into(), agent.endpoint_id.clone())],
            ..PublishProperties::default()
        };
        let publish = move |c: &AsyncClient, a: &SimAgent, bytes: Vec<u8>| {
            let r = c.try_publish_with_properties(
                controller_topic.clone(),
                QoS::AtLeastOnce,
                false,
                Bytes::from(bytes),
                props.clone(),
            );
            if r.is_err() {
                a.counters.send_failures.fetch_add(1, Ordering::Relaxed);
            }
        };
        tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            let mut subscribed = false;
            loop {
                tokio::select! {
                    out = out_rx.recv(), if subscribed => match out {
                        Some(Out::Record(b)) => publish(&client, &agent, b),
                        Some(Out::Close) | None => {
                            // Flush what is queued (the DisconnectRecord), then DISCONNECT.
                            let _ = client.try_disconnect();
                            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                                loop {
                                    match el.poll().await {
                                        Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                                        Ok(_) => {}
                                    }
                                }
                            })
                            .await;
                            return;
                        }
                    },
                    ev = el.poll() => match ev {
                        Ok(Event::Incoming(Packet::ConnAck(_))) => {
                            let _ = client.try_subscribe(sub.clone(), QoS::AtLeastOnce);
                        }
                        Ok(Event::Incoming(Packet::SubAck(_))) => {
                            subscribed = true;
                            if let Some(r) = ready.take() {
                                let _ = r.send(());
                            }
                        }
                        Ok(Event::Incoming(Packet::Publish(p))) => {
                            for reply in agent.handle(&p.payload) {
                                publish(&client, &agent, reply);
                            }
                        }
                        Ok(_) => {}
                        Err(_) => {
                            if ready.is_none() {
                                agent.counters.closed.fetch_add(1, Ordering::Relaxed);
                            }
                            subscribed = false;
                            tokio::time::sleep(Duration::from_millis(250)).await;
                        }
                    },
                }
            }
        })
    } else {
        use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
        let mut o = MqttOptions::new(client_id, broker.host.clone(), broker.port);
        o.set_keep_alive(Duration::from_secs(60));
        o.set_max_packet_size(MAX_PACKET_BYTES as usize, MAX_PACKET_BYTES as usize);
        o.set_inflight(AGENT_INFLIGHT);
        if let Some(u) = &broker.username {
            o.set_credentials(u.clone(), broker.password.clone().unwrap_or_default());
        }
        let (client, mut el) = AsyncClient::new(o, 64);
        if cfg.tcp_nodelay {
            let mut n = rumqttc::NetworkOptions::new();
            n.set_tcp_nodelay(true);
            el.set_network_options(n);
        }
        let publish_topic =
            format!("{}/reply-to={}", cfg.controller_topic, encode_reply_to(&topic));
        let publish = move |c: &AsyncClient, a: &SimAgent, bytes: Vec<u8>| {
            if c.try_publish(publish_topic.clone(), QoS::AtLeastOnce, false, bytes).is_err() {
                a.counters.send_failures.fetch_add(1, Ordering::Relaxed);
            }
        };
        tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            let mut subscribed = false;
            loop {
                tokio::select! {
                    out = out_rx.recv(), if subscribed => match out {
                        Some(Out::Record(b)) => publish(&client, &agent, b),
                        Some(Out::Close) | None => {
                            // Flush what is queued (the DisconnectRecord), then DISCONNECT.
                            let _ = client.try_disconnect();
                            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                                loop {
                                    match el.poll().await {
                                        Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                                        Ok(_) => {}
                                    }
                                }
                            })
                            .await;
                            return;
                        }
                    },
                    ev = el.poll() => match ev {
                        Ok(Event::Incoming(Packet::ConnAck(_))) => {
                            let _ = client.try_subscribe(sub.clone(), QoS::AtLeastOnce);
                        }
                        Ok(Event::Incoming(Packet::SubAck(_))) => {
                            subscribed = true;
                            if let Some(r) = ready.take() {
                                let _ = r.send(());
                            }
                        }
                        Ok(Event::Incoming(Packet::Publish(p))) => {
                            for reply in agent.handle(&p.payload) {
                                publish(&client, &agent, reply);
                            }
                        }
                        Ok(_) => {}
                        Err(_) => {
                            if ready.is_none() {
                                agent.counters.closed.fetch_add(1, Ordering::Relaxed);
                            }
                            subscribed = false;
                            tokio::time::sleep(Duration::from_millis(250)).await;
                        }
                    },
                }
            }
        })
    };
    match tokio::time::timeout(Duration::from_secs(15), ready_rx).await {
        Ok(Ok(())) => Ok(task),
        _ => {
            task.abort();
            Err(FleetError::Timeout("mqtt connect and subscribe"))
        }
    }
}

/// M connected agents.
#[derive(Debug)]
pub struct AgentFleet {
    /// Settings.
    pub config: AgentConfig,
    /// The agents that connected.
    pub agents: Vec<Arc<SimAgent>>,
    /// What the controller sent them.
    pub counters: Arc<AgentCounters>,
}

async fn connect_one(
    cfg: &AgentConfig,
    ws_addr: Option<SocketAddr>,
    index: usize,
    counters: &Arc<AgentCounters>,
) -> Result<Arc<SimAgent>, FleetError> {
    let ep = endpoint_id(&cfg.prefix, index);
    let sn = serial(&cfg.prefix, index);
    let (out, out_rx) = mpsc::unbounded_channel();
    let agent = Arc::new(SimAgent {
        index,
        model: Mutex::new(agent_model(&ep, &cfg.oui, &cfg.product_class, &sn)),
        endpoint_id: ep,
        serial: sn,
        controller_id: cfg.controller_id.clone(),
        out,
        task: Mutex::new(None),
        counters: counters.clone(),
        started: Instant::now(),
        next_notify: AtomicU64::new(1),
        boot_msg: Mutex::new(String::new()),
        boot_acked: AtomicBool::new(false),
        onboarded: AtomicBool::new(false),
    });
    let task = match cfg.mtp {
        UspMtp::Ws => {
            let addr =
                ws_addr.ok_or_else(|| FleetError::Argument("no WebSocket address".into()))?;
            run_ws(agent.clone(), addr, cfg.tcp_nodelay, out_rx).await?
        }
        UspMtp::Mqtt5 | UspMtp::Mqtt311 => run_mqtt(agent.clone(), cfg, out_rx).await?,
    };
    if let Ok(mut t) = agent.task.lock() {
        *t = Some(task);
    }
    agent.send(encode_record(&agent.connect_record(cfg)));
    Ok(agent)
}

impl AgentFleet {
    /// Connect `cfg.count` agents (each: MTP connect, Connect Record, Boot! Notify) and record
    /// every connect in `stats` (latency of the MTP connect, and subscription for MQTT).
    pub async fn connect(cfg: AgentConfig, stats: &Arc<Stats>) -> Result<AgentFleet, FleetError> {
        cfg.validate()?;
        let ws_addr = match cfg.mtp {
            UspMtp::Ws => Some(resolve_ws_url(&cfg.ws_url).await?),
            _ => None,
        };
        let counters = Arc::new(AgentCounters::default());
        let sem = Arc::new(tokio::sync::Semaphore::new(cfg.connect_concurrency.max(1)));
        let shared = Arc::new(cfg.clone());
        let mut set = tokio::task::JoinSet::new();
        for index in 0..cfg.count {
            let (sem, cfg, stats, counters) =
                (sem.clone(), shared.clone(), stats.clone(), counters.clone());
            set.spawn(async move {
                let _permit = sem.acquire_owned().await.ok();
                stats.started_sessions.fetch_add(1, Ordering::Relaxed);
                let started = Instant::now();
                let mut last = None;
                for attempt in 0..3u64 {
                    if attempt > 0 {
                        tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                    }
                    match connect_one(&cfg, ws_addr, index, &counters).await {
                        Ok(agent) => {
                            stats.record(&Ok(SessionResult::default()), started.elapsed());
                            agent.send_boot("LocalReboot");
                            return Some(agent);
                        }
                        Err(e) => last = Some(e),
                    }
                }
                let e = last.unwrap_or_else(|| FleetError::Protocol("agent connect".into()));
                stats.record(&Err(e), started.elapsed());
                None
            });
        }
        let mut agents = Vec::with_capacity(cfg.count);
        while let Some(r) = set.join_next().await {
            if let Ok(Some(a)) = r {
                agents.push(a);
            }
        }
        agents.sort_by_key(|a| a.index);
        Ok(AgentFleet { config: cfg, agents, counters })
    }

    /// Wait until every agent is onboarded or `timeout`; records each agent in `stats` (latency
    /// from connect start to onboarded; failure when it did not happen in time). Returns how
    /// many are onboarded.
    pub async fn wait_onboarded(&self, timeout: Duration, stats: &Arc<Stats>) -> usize {
        self.wait_until(timeout, stats, |a| {
            if a.check_onboarded() {
                Ok(())
            } else if a.boot_acked.load(Ordering::Relaxed) {
                Err("onboarding: no subscriptions created in time".into())
            } else {
                Err("onboarding: Boot! not acknowledged in time".into())
            }
        })
        .await
    }

    /// Wait until `check` passes for every agent or `timeout`, polling every 20 ms; records each
    /// agent in `stats` with the latency from its connect start to the first passing check, or
    /// as a failure with the check's last error. Agents not onboarded after a few seconds send
    /// their Connect Record (and Boot! when unacknowledged) again: a controller that just
    /// started may not have been subscribed yet. Returns how many passed.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        stats: &Arc<Stats>,
        check: impl Fn(&SimAgent) -> Result<(), String>,
    ) -> usize {
        let deadline = Instant::now() + timeout;
        let mut next_resend = Instant::now() + Duration::from_secs(10);
        for _ in &self.agents {
            stats.started_sessions.fetch_add(1, Ordering::Relaxed);
        }
        let mut last: Vec<Option<Result<(), String>>> = vec![None; self.agents.len()];
        loop {
            let mut waiting = 0;
            for (i, a) in self.agents.iter().enumerate() {
                if matches!(last[i], Some(Ok(()))) {
                    continue;
                }
                let r = check(a);
                if r.is_ok() {
                    stats.record(&Ok(SessionResult::default()), a.started.elapsed());
                } else {
                    waiting += 1;
                }
                last[i] = Some(r);
            }
            if waiting == 0 || Instant::now() >= deadline {
                break;
            }
            if Instant::now() >= next_resend {
                next_resend = Instant::now() + Duration::from_secs(10);
                for a in self.agents.iter().filter(|a| !a.check_onboarded()) {
                    a.send(encode_record(&a.connect_record(&self.config)));
                    if !a.boot_acked.load(Ordering::Relaxed) {
                        a.send_boot("LocalReboot");
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut passed = 0;
        for (i, a) in self.agents.iter().enumerate() {
            match last[i].take() {
                Some(Ok(())) => passed += 1,
                Some(Err(e)) => stats.record(&Err(FleetError::Protocol(e)), a.started.elapsed()),
                None => {}
            }
        }
        passed
    }

    /// Wait until the controller has sent the agents nothing for `quiet` (onboarding done,
    /// including what a Boot! triggers again), at most `max`. Returns how long it took.
    pub async fn settle(&self, quiet: Duration, max: Duration) -> Duration {
        let start = Instant::now();
        let total = |c: &AgentCounters| -> u64 {
            c.requests.lock().map(|m| m.values().sum()).unwrap_or(0)
                + c.notify_resps.load(Ordering::Relaxed)
        };
        let mut last = total(&self.counters);
        let mut since = Instant::now();
        while start.elapsed() < max {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = total(&self.counters);
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() >= quiet {
                break;
            }
        }
        start.elapsed()
    }

    /// Ask `acsd`'s device list which of the agents it shows online and registered (serial
    /// number known). Returns (online, registered).
    pub async fn check_api(&self, api: &mut ApiClient) -> Result<(usize, usize), FleetError> {
        let prefix = format!("proto::fleet-{}-", self.config.prefix);
        let enc: String =
            percent_encoding::utf8_percent_encode(&prefix, percent_encoding::NON_ALPHANUMERIC)
                .collect();
        let mut online = 0;
        let mut registered = 0;
        let mut offset = 0;
        loop {
            let (status, body) = api
                .call(
                    "GET",
                    &format!("/devices?idPrefix={enc}&limit=10000&offset={offset}"),
                    None,
                    &[],
                )
                .await?;
            if status != 200 {
                return Err(FleetError::Http(format!("device list answered {status}")));
            }
            let v: Value = serde_json::from_slice(&body)
                .map_err(|e| FleetError::Http(format!("device list: {e}")))?;
            let items = v["items"].as_array().cloned().unwrap_or_default();
            for d in &items {
                if d["online"] == true {
                    online += 1;
                }
                if d["serialNumber"].as_str().is_some_and(|s| !s.is_empty()) {
                    registered += 1;
                }
            }
            if items.len() < 10_000 {
                break;
            }
            offset += items.len();
        }
        Ok((online, registered))
    }

    /// Summary of the agents for the JSON report.
    pub fn summary(&self) -> Value {
        let c = &self.counters;
        json!({
            "agents": self.config.count,
            "connected": self.agents.len(),
            "onboarded": self.agents.iter().filter(|a| a.check_onboarded()).count(),
            "mtp": self.config.mtp.as_str(),
            "tcp_nodelay": self.config.tcp_nodelay,
            "controller_id": self.config.controller_id,
            "endpoint_ids": format!("{}..{}", endpoint_id(&self.config.prefix, 0),
                endpoint_id(&self.config.prefix, self.config.count.saturating_sub(1))),
            "controller_requests": c.requests_json(),
            "notify_resps": c.notify_resps.load(Ordering::Relaxed),
            "usp_errors_received": c.errors.load(Ordering::Relaxed),
            "records_ignored": c.ignored.load(Ordering::Relaxed),
            "send_failures": c.send_failures.load(Ordering::Relaxed),
            "connections_lost": c.closed.load(Ordering::Relaxed),
        })
    }

    /// Each agent says goodbye (USP DisconnectRecord) and closes its connection (WebSocket
    /// close / MQTT DISCONNECT).
    pub async fn shutdown(self) {
        let mut tasks = Vec::new();
        for a in &self.agents {
            let bye = Record::disconnect(
                &self.config.controller_id,
                &a.endpoint_id,
                RECORD_VERSION,
                "simulation over",
                0,
            );
            a.send(encode_record(&bye));
            let _ = a.out.send(Out::Close);
            if let Some(t) = a.task.lock().ok().and_then(|mut t| t.take()) {
                tasks.push(t);
            }
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        for t in tasks {
            let abort = t.abort_handle();
            if tokio::time::timeout_at(deadline, t).await.is_err() {
                abort.abort();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ids_and_serials() {
        assert_eq!(endpoint_id("b42", 7), "proto::fleet-b42-7");
        usp::codec::EndpointId::parse(&endpoint_id("b42", 7)).unwrap();
        assert_eq!(serial("b42", 7), "B42000007");
        assert_eq!(agent_topic("proto::fleet-x-1"), "usp/agent/proto::fleet-x-1");
        for m in ["mqtt5", "mqtt311", "ws"] {
            assert_eq!(UspMtp::parse(m).unwrap().as_str(), m);
        }
        assert!(UspMtp::parse("coap").is_err());
    }

    #[test]
    fn model_has_what_provisioning_needs() {
        let m = agent_model("proto::fleet-x-1", "00D09E", "FleetAgent", "X000001");
        for p in [
            "Device.WiFi.AccessPoint.1.Security.SAEPassphrase",
            "Device.Services.VoiceService.1.SIP.Client.1.RegisterURI",
            "Device.Services.VoiceService.1.CallControl.Line.1.Provider",
            "Device.DeviceInfo.SerialNumber",
            "Device.LocalAgent.EndpointID",
        ] {
            assert!(m.params.contains_key(p), "{p}");
        }
        assert!(m.tables.contains("Device.LocalAgent.Subscription."));
    }

    #[test]
    fn prefix_is_checked() {
        let mut c = AgentConfig {
            count: 1,
            mtp: UspMtp::Ws,
            mqtt_url: "mqtt://127.0.0.1:1883".into(),
            controller_topic: "usp/controller/proto::acsd".into(),
            ws_url: "ws://127.0.0.1:7548/usp".into(),
            controller_id: "proto::acsd".into(),
            prefix: "ok_1".into(),
            oui: "00D09E".into(),
            product_class: "FleetAgent".into(),
            connect_concurrency: 8,
            tcp_nodelay: false,
        };
        c.validate().unwrap();
        c.prefix = "bad-prefix".into();
        assert!(c.validate().is_err());
        c.prefix = "ok".into();
        c.controller_id = "nope".into();
        assert!(c.validate().is_err());
    }

    #[tokio::test]
    async fn ws_urls() {
        assert_eq!(
            resolve_ws_url("ws://127.0.0.1:7548/usp").await.unwrap(),
            "127.0.0.1:7548".parse().unwrap()
        );
        assert!(resolve_ws_url("ws://127.0.0.1:7548/other").await.is_err());
        assert!(resolve_ws_url("wss://127.0.0.1:7548/usp").await.is_err());
    }
}
