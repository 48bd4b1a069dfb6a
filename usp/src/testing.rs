//! A scriptable USP agent with an in-memory TR-181 model, for tests and simulators (feature
//! `test-agent`). It speaks the WebSocket MTP and MQTT 5 / 3.1.1 through a broker, answers
//! Get/Set/Add/Delete/Operate/GetInstances/GetSupportedDM/GetSupportedProtocol from its model,
//! completes "asynchronous" commands (names containing `Download()` or `Diagnostics()`) with an
//! OperationComplete notification, and reports what the controller sent as [`AgentEvent`]s.

#![allow(missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::codec::agent::{self, DeleteResult, GetResult, InstancesResult, ResolvedObject};
use crate::codec::agent::{SetFailure, SetResult, UpdatedInstance};
use crate::codec::incoming::{
    AddOutcome, CommandResult, Created, Failure, Instance, Notification, OperateOutcome,
};
use crate::codec::msg::{body::MsgBody, request::ReqType, Msg};
use crate::codec::path::{MatchMode, Path, PathKind};
use crate::codec::record::mqtt_connect_record::MqttVersion;
use crate::codec::{classify, decode_record, encode_record, request, ErrorCode, IncomingKind};
use crate::codec::{msg_id, Record, RecordKind};
use crate::mtp::mqtt::{encode_reply_to, reply_to_suffix, CONTENT_TYPE, ENDPOINT_ID_PROPERTY};
use crate::UspError;

/// The agent's USP version.
pub const AGENT_VERSIONS: &str = "1.0,1.1,1.2,1.3";

/// An in-memory data model: full parameter path → value.
#[derive(Debug, Clone, Default)]
pub struct Model {
    pub params: BTreeMap<String, String>,
    /// Tables Add may create instances in.
    pub tables: BTreeSet<String>,
    /// Commands run, with their input arguments.
    pub operations: Vec<(String, BTreeMap<String, String>)>,
    /// Values that Set and Add refuse with 7012.
    pub invalid_value: String,
}

impl Model {
    /// A small TR-181 device.
    #[must_use]
    pub fn tr181(endpoint_id: &str, oui: &str, product_class: &str, serial: &str) -> Self {
        let mut p = BTreeMap::new();
        let mut set = |k: &str, v: &str| {
            p.insert(k.to_owned(), v.to_owned());
        };
        set("Device.LocalAgent.EndpointID", endpoint_id);
        set("Device.DeviceInfo.ManufacturerOUI", oui);
        set("Device.DeviceInfo.ProductClass", product_class);
        set("Device.DeviceInfo.SerialNumber", serial);
        set("Device.DeviceInfo.Manufacturer", "Test Vendor");
        set("Device.DeviceInfo.ModelName", "TestONT");
        set("Device.DeviceInfo.SoftwareVersion", "1.0.0");
        set("Device.DeviceInfo.HardwareVersion", "A");
        set("Device.DeviceInfo.ActiveFirmwareImage", "Device.DeviceInfo.FirmwareImage.1.");
        set("Device.DeviceInfo.FirmwareImage.1.Name", "fw-a");
        set("Device.DeviceInfo.FirmwareImage.2.Name", "fw-b");
        for (i, band, ssid) in [(1, "2.4GHz", "home"), (2, "5GHz", "home-5g")] {
            set(&format!("Device.WiFi.Radio.{i}.OperatingFrequencyBand"), band);
            set(&format!("Device.WiFi.SSID.{i}.SSID"), ssid);
            set(&format!("Device.WiFi.SSID.{i}.Enable"), "true");
            set(&format!("Device.WiFi.SSID.{i}.LowerLayers"), &format!("Device.WiFi.Radio.{i}."));
            set(
                &format!("Device.WiFi.AccessPoint.{i}.SSIDReference"),
                &format!("Device.WiFi.SSID.{i}."),
            );
            set(&format!("Device.WiFi.AccessPoint.{i}.Security.KeyPassphrase"), "initial-key");
            set(&format!("Device.WiFi.AccessPoint.{i}.Security.ModeEnabled"), "WPA2-Personal");
        }
        set("Device.Services.VoiceService.1.SIP.Client.1.AuthUserName", "");
        set("Device.Services.VoiceService.1.SIP.Client.1.AuthPassword", "");
        set("Device.Services.VoiceService.1.SIP.Client.1.Enable", "false");
        set("Device.Services.VoiceService.1.SIP.Network.1.ProxyServer", "");
        set("Device.Services.VoiceService.1.SIP.Network.1.RegistrarServer", "");
        let tables = [
            "Device.LocalAgent.Subscription.",
            "Device.WiFi.SSID.",
            "Device.WiFi.AccessPoint.",
            "Device.NAT.PortMapping.",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        Self { params: p, tables, operations: Vec::new(), invalid_value: "INVALID".into() }
    }

    /// Every object path (ending in `.`) that has parameters below it.
    fn objects(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for k in self.params.keys() {
            for (i, c) in k.char_indices() {
                if c == '.' {
                    out.insert(k[..=i].to_owned());
                }
            }
        }
        out
    }

    fn lookup(&self, instance: &str, rel: &crate::codec::path::RelPath) -> Option<String> {
        self.params.get(&format!("{instance}{rel}")).cloned()
    }

    /// Object instances (`…{n}.`) a path addresses.
    fn instances_matching(&self, path: &Path) -> Vec<String> {
        self.objects()
            .into_iter()
            .filter(|o| {
                path.matches_with(o, MatchMode::Exact, |i, r| self.lookup(i, r)).unwrap_or(false)
            })
            .collect()
    }

    /// Subscription rows, instance path → params.
    #[must_use]
    pub fn subscriptions(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (k, v) in &self.params {
            let Some(rest) = k.strip_prefix("Device.LocalAgent.Subscription.") else { continue };
            if let Some((i, p)) = rest.split_once('.') {
                out.entry(format!("Device.LocalAgent.Subscription.{i}."))
                    .or_default()
                    .insert(p.to_owned(), v.clone());
            }
        }
        out
    }

    /// Forget everything a factory reset forgets (the subscriptions, here).
    pub fn factory_reset(&mut self) {
        self.params.retain(|k, _| !k.starts_with("Device.LocalAgent.Subscription."));
    }
}

/// What the controller did, as seen by the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentEvent {
    /// A request was answered (or ignored while silent).
    Request { name: &'static str, msg_id: String },
    /// A NotifyResp for our Notify `msg_id`.
    NotifyResp { msg_id: String },
    /// An Error Msg answering our `msg_id`.
    Error { msg_id: String, code: u32 },
    /// The controller closed the connection (WebSocket close code when there was one).
    Closed { code: Option<u16> },
}

enum Out {
    Record(Vec<u8>),
    Close,
}

/// How the agent reaches the controller.
#[derive(Debug, Clone)]
pub enum AgentMtp {
    /// WebSocket to `ws://addr/usp`.
    WebSocket { addr: SocketAddr, eid_query: bool },
    /// MQTT through `broker` (`mqtt://host:port`).
    Mqtt { broker: String, agent_topic: String, controller_topic: String, v5: bool },
}

struct Shared {
    endpoint_id: String,
    controller_id: String,
    model: Arc<Mutex<Model>>,
    silent: AtomicBool,
    events: mpsc::UnboundedSender<AgentEvent>,
    next: AtomicU64,
}

/// A running test agent.
pub struct TestAgent {
    shared: Arc<Shared>,
    out: mpsc::UnboundedSender<Out>,
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<AgentEvent>>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for TestAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestAgent").field("endpoint_id", &self.shared.endpoint_id).finish()
    }
}

fn lock(model: &Mutex<Model>) -> std::sync::MutexGuard<'_, Model> {
    model.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl TestAgent {
    /// Connect and send the MTP's Connect Record.
    ///
    /// # Errors
    /// [`UspError::Mtp`] if the connection cannot be made.
    pub async fn connect(
        mtp: AgentMtp,
        endpoint_id: &str,
        controller_id: &str,
        model: Model,
    ) -> Result<TestAgent, UspError> {
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            endpoint_id: endpoint_id.to_owned(),
            controller_id: controller_id.to_owned(),
            model: Arc::new(Mutex::new(model)),
            silent: AtomicBool::new(false),
            events: ev_tx,
            next: AtomicU64::new(1),
        });
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let task = match mtp {
            AgentMtp::WebSocket { addr, eid_query } => {
                let url = if eid_query {
                    format!("ws://{addr}/usp?eid={endpoint_id}")
                } else {
                    format!("ws://{addr}/usp")
                };
                let mut req =
                    url.into_client_request().map_err(|e| UspError::Mtp(e.to_string()))?;
                req.headers_mut().insert(
                    http::header::SEC_WEBSOCKET_PROTOCOL,
                    http::HeaderValue::from_static("v1.usp"),
                );
                let (ws, _) = tokio_tungstenite::connect_async_with_config(
                    req,
                    Some(crate::mtp::ws::ws_config()),
                    false,
                )
                .await
                .map_err(|e| UspError::Mtp(e.to_string()))?;
                let connect = Record::websocket_connect(controller_id, endpoint_id, "1.3");
                out_tx
                    .send(Out::Record(encode_record(&connect)))
                    .map_err(|_| UspError::Mtp("agent stopped".into()))?;
                tokio::spawn(run_ws(ws, shared.clone(), out_rx, out_tx.clone()))
            }
            AgentMtp::Mqtt { broker, agent_topic, controller_topic, v5 } => {
                let b = crate::mtp::mqtt::BrokerUrl::parse(&broker)?;
                let version = if v5 { MqttVersion::V5 } else { MqttVersion::V311 };
                let connect = Record::mqtt_connect(
                    controller_id,
                    endpoint_id,
                    "1.3",
                    version,
                    agent_topic.clone(),
                );
                out_tx
                    .send(Out::Record(encode_record(&connect)))
                    .map_err(|_| UspError::Mtp("agent stopped".into()))?;
                if v5 {
                    run_mqtt5(
                        b,
                        agent_topic,
                        controller_topic,
                        shared.clone(),
                        out_rx,
                        out_tx.clone(),
                    )
                    .await?
                } else {
                    run_mqtt311(
                        b,
                        agent_topic,
                        controller_topic,
                        shared.clone(),
                        out_rx,
                        out_tx.clone(),
                    )
                    .await?
                }
            }
        };
        Ok(TestAgent { shared, out: out_tx, events: tokio::sync::Mutex::new(ev_rx), task })
    }

    /// The agent's Endpoint ID.
    #[must_use]
    pub fn endpoint_id(&self) -> &str {
        &self.shared.endpoint_id
    }

    /// The model (shared with the running agent).
    #[must_use]
    pub fn model(&self) -> Arc<Mutex<Model>> {
        self.shared.model.clone()
    }

    /// A copy of one parameter's value.
    #[must_use]
    pub fn param(&self, path: &str) -> Option<String> {
        lock(&self.shared.model).params.get(path).cloned()
    }

    /// Stop (or resume) answering requests; records still arrive.
    pub fn set_silent(&self, silent: bool) {
        self.shared.silent.store(silent, Ordering::SeqCst);
    }

    /// Send a Record as is.
    pub fn send_record(&self, record: &Record) {
        let _ = self.out.send(Out::Record(encode_record(record)));
    }

    /// Send raw bytes as a Record.
    pub fn send_raw(&self, bytes: Vec<u8>) {
        let _ = self.out.send(Out::Record(bytes));
    }

    /// Send a Msg in a Record addressed to `to_id`.
    pub fn send_msg_to(&self, to_id: &str, msg: &Msg) {
        self.send_record(&Record::wrap(to_id, &self.shared.endpoint_id, "1.3", msg));
    }

    /// Send a Notify; returns its msg_id.
    pub fn notify(&self, notification: Notification, send_resp: bool) -> String {
        let id = format!("agent-notify-{}", self.shared.next.fetch_add(1, Ordering::Relaxed));
        let msg = agent::notify(id.clone(), "test-sub", send_resp, notification);
        self.send_msg_to(&self.shared.controller_id.clone(), &msg);
        id
    }

    /// Send an OnBoardRequest Notify (send_resp true); returns its msg_id.
    pub fn onboard_request(&self) -> String {
        let (oui, pc, sn) = {
            let m = lock(&self.shared.model);
            let g = |k: &str| m.params.get(k).cloned().unwrap_or_default();
            (
                g("Device.DeviceInfo.ManufacturerOUI"),
                g("Device.DeviceInfo.ProductClass"),
                g("Device.DeviceInfo.SerialNumber"),
            )
        };
        self.notify(
            Notification::OnBoardRequest {
                oui,
                product_class: pc,
                serial_number: sn,
                agent_supported_protocol_versions: AGENT_VERSIONS.into(),
            },
            true,
        )
    }

    /// Send a `Device.Boot!` event Notify; returns its msg_id.
    pub fn boot_event(&self, cause: &str) -> String {
        let mut params = BTreeMap::new();
        params.insert("Cause".to_owned(), cause.to_owned());
        params.insert("FirmwareUpdated".to_owned(), "false".to_owned());
        self.notify(
            Notification::Event { obj_path: "Device.".into(), event_name: "Boot!".into(), params },
            true,
        )
    }

    /// Send a DisconnectRecord.
    pub fn disconnect(&self) {
        let r = Record::disconnect(
            &self.shared.controller_id,
            &self.shared.endpoint_id,
            "1.3",
            "bye",
            0,
        );
        self.send_record(&r);
    }

    /// Close the MTP connection (WebSocket close / MQTT disconnect) and stop.
    pub async fn close(self) {
        let _ = self.out.send(Out::Close);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }

    /// The next event, waiting at most `timeout`.
    pub async fn next_event(&self, timeout: Duration) -> Option<AgentEvent> {
        let mut rx = self.events.lock().await;
        tokio::time::timeout(timeout, rx.recv()).await.ok().flatten()
    }

    /// Wait for an event satisfying `pred`, skipping others, for at most `timeout`.
    pub async fn wait_event(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&AgentEvent) -> bool,
    ) -> Option<AgentEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rx = self.events.lock().await;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, rx.recv()).await {
                Ok(Some(e)) if pred(&e) => return Some(e),
                Ok(Some(_)) => continue,
                _ => return None,
            }
        }
    }
}

async fn run_ws<S>(
    ws: tokio_tungstenite::WebSocketStream<S>,
    shared: Arc<Shared>,
    mut out_rx: mpsc::UnboundedReceiver<Out>,
    out_tx: mpsc::UnboundedSender<Out>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
{
    let (mut sink, mut stream) = ws.split();
    loop {
        tokio::select! {
            out = out_rx.recv() => match out {
                Some(Out::Record(b)) => {
                    if sink.send(Message::Binary(b.into())).await.is_err() { break; }
                }
                Some(Out::Close) | None => {
                    let _ = sink.send(Message::Close(None)).await;
                    let _ = sink.close().await;
                    break;
                }
            },
            frame = stream.next() => match frame {
                Some(Ok(Message::Binary(b))) => {
                    for reply in handle(&shared, &b) {
                        let _ = out_tx.send(Out::Record(reply));
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    let code = frame.map(|f| u16::from(f.code));
                    let _ = shared.events.send(AgentEvent::Closed { code });
                    break;
                }
                None | Some(Err(_)) => {
                    let _ = shared.events.send(AgentEvent::Closed { code: None });
                    break;
                }
                Some(Ok(_)) => {}
            },
        }
    }
}

async fn run_mqtt5(
    b: crate::mtp::mqtt::BrokerUrl,
    agent_topic: String,
    controller_topic: String,
    shared: Arc<Shared>,
    mut out_rx: mpsc::UnboundedReceiver<Out>,
    out_tx: mpsc::UnboundedSender<Out>,
) -> Result<JoinHandle<()>, UspError> {
    use rumqttc::v5::mqttbytes::v5::{Packet, PublishProperties};
    use rumqttc::v5::mqttbytes::QoS;
    use rumqttc::v5::{AsyncClient, Event, MqttOptions};
    let id = format!("agent-{}", shared.endpoint_id.replace(':', "-"));
    let mut o = MqttOptions::new(id, b.host, b.port);
    o.set_max_packet_size(Some(crate::mtp::mqtt::MAX_PACKET_BYTES));
    o.set_user_properties(vec![(ENDPOINT_ID_PROPERTY.into(), shared.endpoint_id.clone())]);
    let (client, mut el) = AsyncClient::new(o, 64);
    let (ready_tx, mut ready_rx) = mpsc::channel::<()>(1);
    let task = tokio::spawn(async move {
        let mut subscribed = false;
        let mut pending: Vec<Vec<u8>> = Vec::new();
        loop {
            tokio::select! {
                out = out_rx.recv(), if subscribed => match out {
                    Some(Out::Record(bytes)) => pending.push(bytes),
                    Some(Out::Close) | None => { let _ = client.try_disconnect(); let _ = el.poll().await; break; }
                },
                ev = el.poll() => match ev {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = client.try_subscribe(agent_topic.clone(), QoS::AtLeastOnce);
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        subscribed = true;
                        let _ = ready_tx.try_send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        for reply in handle(&shared, &p.payload) {
                            let _ = out_tx.send(Out::Record(reply));
                        }
                    }
                    Ok(_) => {}
                    Err(_) => { tokio::time::sleep(Duration::from_millis(100)).await; }
                },
            }
            for bytes in pending.drain(..) {
                let props = PublishProperties {
                    response_topic: Some(agent_topic.clone()),
                    content_type: Some(CONTENT_TYPE.into()),
                    user_properties: vec![(
                        ENDPOINT_ID_PROPERTY.into(),
                        shared.endpoint_id.clone(),
                    )],
                    ..PublishProperties::default()
                };
                let _ = client.try_publish_with_properties(
                    controller_topic.clone(),
                    QoS::AtLeastOnce,
                    false,
                    Bytes::from(bytes),
                    props,
                );
            }
        }
    });
    match tokio::time::timeout(Duration::from_secs(10), ready_rx.recv()).await {
        Ok(Some(())) => Ok(task),
        _ => {
            task.abort();
            Err(UspError::Mtp("test agent could not subscribe".into()))
        }
    }
}

async fn run_mqtt311(
    b: crate::mtp::mqtt::BrokerUrl,
    agent_topic: String,
    controller_topic: String,
    shared: Arc<Shared>,
    mut out_rx: mpsc::UnboundedReceiver<Out>,
    out_tx: mpsc::UnboundedSender<Out>,
) -> Result<JoinHandle<()>, UspError> {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let id = format!("agent311-{}", shared.endpoint_id.replace(':', "-"));
    let mut o = MqttOptions::new(id, b.host, b.port);
    o.set_max_packet_size(
        crate::mtp::mqtt::MAX_PACKET_BYTES as usize,
        crate::mtp::mqtt::MAX_PACKET_BYTES as usize,
    );
    let (client, mut el) = AsyncClient::new(o, 64);
    let (ready_tx, mut ready_rx) = mpsc::channel::<()>(1);
    let publish_topic = format!("{controller_topic}/reply-to={}", encode_reply_to(&agent_topic));
    let task = tokio::spawn(async move {
        let mut subscribed = false;
        let mut pending: Vec<Vec<u8>> = Vec::new();
        loop {
            tokio::select! {
                out = out_rx.recv(), if subscribed => match out {
                    Some(Out::Record(bytes)) => pending.push(bytes),
                    Some(Out::Close) | None => { let _ = client.try_disconnect(); let _ = el.poll().await; break; }
                },
                ev = el.poll() => match ev {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = client.try_subscribe(agent_topic.clone(), QoS::AtLeastOnce);
                        let _ = client.try_subscribe(format!("{agent_topic}/#"), QoS::AtLeastOnce);
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        subscribed = true;
                        let _ = ready_tx.try_send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        // The controller tells us where to answer; we know it already.
                        let _ = reply_to_suffix(&p.topic);
                        for reply in handle(&shared, &p.payload) {
                            let _ = out_tx.send(Out::Record(reply));
                        }
                    }
                    Ok(_) => {}
                    Err(_) => { tokio::time::sleep(Duration::from_millis(100)).await; }
                },
            }
            for bytes in pending.drain(..) {
                let _ = client.try_publish(publish_topic.clone(), QoS::AtLeastOnce, false, bytes);
            }
        }
    });
    match tokio::time::timeout(Duration::from_secs(10), ready_rx.recv()).await {
        Ok(Some(())) => Ok(task),
        _ => {
            task.abort();
            Err(UspError::Mtp("test agent could not subscribe".into()))
        }
    }
}

/// Process one received Record; returns the Records to send back.
fn handle(shared: &Shared, bytes: &[u8]) -> Vec<Vec<u8>> {
    let Ok(record) = decode_record(bytes) else { return Vec::new() };
    if record.to_id != shared.endpoint_id {
        return Vec::new();
    }
    let Ok(RecordKind::Msg(_)) = record.kind() else { return Vec::new() };
    let Ok(msg) = record.msg() else { return Vec::new() };
    let id = msg_id(&msg).to_owned();
    let wrap = |m: &Msg| {
        encode_record(&Record::wrap(&shared.controller_id, &shared.endpoint_id, "1.3", m))
    };
    if let Some(MsgBody::Request(req)) = msg.body.as_ref().and_then(|b| b.msg_body.as_ref()) {
        let Some(req) = req.req_type.clone() else { return Vec::new() };
        let name = req_name(&req);
        let _ = shared.events.send(AgentEvent::Request { name, msg_id: id.clone() });
        if shared.silent.load(Ordering::SeqCst) {
            return Vec::new();
        }
        let mut model = lock(&shared.model);
        let (resp, follow) = answer(&mut model, &id, req);
        let mut out = vec![wrap(&resp)];
        for n in follow {
            let nid = format!("agent-notify-{}", shared.next.fetch_add(1, Ordering::Relaxed));
            out.push(wrap(&agent::notify(nid, "test-sub", true, n)));
        }
        return out;
    }
    match classify(msg).map(|i| i.kind) {
        Ok(IncomingKind::NotifyResp { .. }) => {
            let _ = shared.events.send(AgentEvent::NotifyResp { msg_id: id });
        }
        Ok(IncomingKind::Error(e)) => {
            let _ = shared.events.send(AgentEvent::Error { msg_id: id, code: e.code.code() });
        }
        _ => {}
    }
    Vec::new()
}

fn req_name(req: &ReqType) -> &'static str {
    match req {
        ReqType::Get(_) => "Get",
        ReqType::GetSupportedDm(_) => "GetSupportedDM",
        ReqType::GetInstances(_) => "GetInstances",
        ReqType::Set(_) => "Set",
        ReqType::Add(_) => "Add",
        ReqType::Delete(_) => "Delete",
        ReqType::Operate(_) => "Operate",
        ReqType::Notify(_) => "Notify",
        ReqType::GetSupportedProtocol(_) => "GetSupportedProtocol",
        ReqType::Register(_) => "Register",
        ReqType::Deregister(_) => "Deregister",
    }
}

fn fail(code: ErrorCode, message: &str) -> Failure {
    Failure::new(code, message)
}

fn parse_fail(e: &UspError) -> Failure {
    Failure::new(e.usp_code(), e.to_string())
}

fn answer(model: &mut Model, id: &str, req: ReqType) -> (Msg, Vec<Notification>) {
    match req {
        ReqType::Get(g) => {
            let results = g
                .param_paths
                .into_iter()
                .map(|requested| {
                    let result = match Path::parse(&requested) {
                        Err(e) => Err(parse_fail(&e)),
                        Ok(path) => {
                            let mut objs: BTreeMap<String, BTreeMap<String, String>> =
                                BTreeMap::new();
                            for (k, v) in &model.params {
                                let hit = path
                                    .matches_with(k, MatchMode::Subtree, |i, r| model.lookup(i, r))
                                    .unwrap_or(false);
                                if hit {
                                    let split = k.rfind('.').map_or(0, |i| i + 1);
                                    objs.entry(k[..split].to_owned())
                                        .or_default()
                                        .insert(k[split..].to_owned(), v.clone());
                                }
                            }
                            if objs.is_empty()
                                && path.kind() == PathKind::Parameter
                                && path.is_concrete()
                            {
                                Err(fail(ErrorCode::InvalidPath, "no such parameter"))
                            } else {
                                Ok(objs
                                    .into_iter()
                                    .map(|(path, params)| ResolvedObject { path, params })
                                    .collect())
                            }
                        }
                    };
                    GetResult { requested_path: requested, result }
                })
                .collect();
            (agent::get_resp(id, results), Vec::new())
        }
        ReqType::Set(s) => {
            let mut results = Vec::new();
            let mut errs = Vec::new();
            let mut writes = Vec::new();
            for obj in s.update_objs {
                let instances = match Path::parse(&obj.obj_path) {
                    Ok(p) => model.instances_matching(&p),
                    Err(e) => {
                        errs.push((obj.obj_path.clone(), e.usp_code(), e.to_string()));
                        continue;
                    }
                };
                if instances.is_empty() {
                    errs.push((
                        obj.obj_path.clone(),
                        ErrorCode::ObjectDoesNotExist,
                        "no such object".into(),
                    ));
                    continue;
                }
                let mut updated_instances = Vec::new();
                let mut failed = Vec::new();
                for inst in &instances {
                    let mut updated = BTreeMap::new();
                    for ps in &obj.param_settings {
                        let full = format!("{inst}{}", ps.param);
                        let err = if !model.params.contains_key(&full) {
                            Some((ErrorCode::UnsupportedParameter, "no such parameter"))
                        } else if full.starts_with("Device.DeviceInfo.") {
                            Some((ErrorCode::ParameterReadOnly, "read-only parameter"))
                        } else if ps.value == model.invalid_value {
                            Some((ErrorCode::InvalidValue, "invalid value"))
                        } else {
                            None
                        };
                        match err {
                            None => {
                                updated.insert(ps.param.clone(), ps.value.clone());
                                writes.push((full, ps.value.clone()));
                            }
                            Some((code, message)) => {
                                failed.push((inst.clone(), code, message));
                                errs.push((full, code, message.to_owned()));
                            }
                        }
                    }
                    updated_instances.push(UpdatedInstance {
                        path: inst.clone(),
                        updated,
                        param_errs: Vec::new(),
                    });
                }
                if failed.is_empty() {
                    results.push(SetResult {
                        requested_path: obj.obj_path,
                        result: Ok(updated_instances),
                    });
                } else {
                    results.push(SetResult {
                        requested_path: obj.obj_path,
                        result: Err(SetFailure {
                            failure: fail(
                                ErrorCode::RequiredParameterFailed,
                                "required parameter failed",
                            ),
                            instances: Vec::new(),
                        }),
                    });
                }
            }
            if !errs.is_empty() && !s.allow_partial {
                let first = errs[0].1;
                let code = if first == ErrorCode::ObjectDoesNotExist
                    || first == ErrorCode::InvalidPathSyntax
                {
                    first
                } else {
                    ErrorCode::InvalidArguments
                };
                return (request::error(id, code, "set failed", errs), Vec::new());
            }
            for (k, v) in writes {
                model.params.insert(k, v);
            }
            (agent::set_resp(id, results), Vec::new())
        }
        ReqType::Add(a) => {
            let mut outcomes = Vec::new();
            for obj in a.create_objs {
                let table = obj.obj_path.clone();
                if !model.tables.contains(&table) {
                    if !a.allow_partial {
                        return (
                            request::error(
                                id,
                                ErrorCode::ObjectNotCreatable,
                                "not a creatable table",
                                request::no_param_errs(),
                            ),
                            Vec::new(),
                        );
                    }
                    outcomes.push(AddOutcome {
                        requested_path: table,
                        result: Err(fail(ErrorCode::ObjectNotCreatable, "not a creatable table")),
                    });
                    continue;
                }
                if obj.param_settings.iter().any(|p| p.required && p.value == model.invalid_value) {
                    return (
                        request::error(
                            id,
                            ErrorCode::InvalidValue,
                            "invalid value",
                            request::no_param_errs(),
                        ),
                        Vec::new(),
                    );
                }
                let next = model
                    .params
                    .keys()
                    .filter_map(|k| k.strip_prefix(&table))
                    .filter_map(|rest| rest.split('.').next())
                    .filter_map(|n| n.parse::<u32>().ok())
                    .max()
                    .unwrap_or(0)
                    + 1;
                let inst = format!("{table}{next}.");
                for p in &obj.param_settings {
                    model.params.insert(format!("{inst}{}", p.param), p.value.clone());
                }
                if obj.param_settings.is_empty() {
                    model.params.insert(format!("{inst}Alias"), format!("cpe-{next}"));
                }
                outcomes.push(AddOutcome {
                    requested_path: table,
                    result: Ok(Created { instantiated_path: inst, ..Created::default() }),
                });
            }
            (agent::add_resp(id, outcomes), Vec::new())
        }
        ReqType::Delete(d) => {
            let mut results = Vec::new();
            for requested in d.obj_paths {
                let result = match Path::parse(&requested) {
                    Err(e) => Err(parse_fail(&e)),
                    Ok(p) => {
                        let gone = model.instances_matching(&p);
                        for g in &gone {
                            model.params.retain(|k, _| !k.starts_with(g.as_str()));
                        }
                        Ok((gone, Vec::new()))
                    }
                };
                results.push(DeleteResult { requested_path: requested, result });
            }
            (agent::delete_resp(id, results), Vec::new())
        }
        ReqType::Operate(o) => {
            model.operations.push((o.command.clone(), o.input_args.clone()));
            let is_async = o.command.contains("Download()") || o.command.contains("Diagnostics");
            let mut follow = Vec::new();
            let result = if o.command.ends_with("Fail()") {
                CommandResult::Failed(fail(ErrorCode::CommandFailure, "the command failed"))
            } else if is_async {
                let n = model.operations.len();
                let (obj_path, command_name) = match o.command.rfind('.') {
                    Some(i) => (o.command[..=i].to_owned(), o.command[i + 1..].to_owned()),
                    None => (String::new(), o.command.clone()),
                };
                let mut output_args = BTreeMap::new();
                output_args.insert("Status".to_owned(), "Complete".to_owned());
                follow.push(Notification::OperationComplete {
                    obj_path,
                    command_name,
                    command_key: o.command_key.clone(),
                    result: CommandResult::Completed { output_args },
                });
                CommandResult::Started { request_path: format!("Device.LocalAgent.Request.{n}.") }
            } else {
                if o.command == "Device.FactoryReset()" {
                    model.factory_reset();
                }
                let mut output_args = BTreeMap::new();
                if !o.command.starts_with("Device.Reboot")
                    && !o.command.starts_with("Device.FactoryReset")
                {
                    output_args.insert("Result".to_owned(), "ok".to_owned());
                }
                CommandResult::Completed { output_args }
            };
            (
                agent::operate_resp(
                    id,
                    vec![OperateOutcome { executed_command: o.command, result }],
                ),
                follow,
            )
        }
        ReqType::GetInstances(g) => {
            let objects = model.objects();
            let results = g
                .obj_paths
                .into_iter()
                .map(|requested| {
                    let instances = objects
                        .iter()
                        .filter(|o| o.starts_with(&requested) && o.len() > requested.len())
                        .filter(|o| {
                            let rest = &o[requested.len()..];
                            let segs: Vec<&str> = rest.trim_end_matches('.').split('.').collect();
                            segs.last().is_some_and(|s| s.parse::<u32>().is_ok())
                                && (!g.first_level_only || segs.len() == 1)
                        })
                        .map(|o| Instance { path: o.clone(), unique_keys: BTreeMap::new() })
                        .collect();
                    InstancesResult { requested_path: requested, result: Ok(instances) }
                })
                .collect();
            (agent::get_instances_resp(id, results), Vec::new())
        }
        ReqType::GetSupportedProtocol(_) => {
            (agent::get_supported_protocol_resp(id, AGENT_VERSIONS), Vec::new())
        }
        ReqType::GetSupportedDm(g) => {
            use crate::codec::msg::get_supported_dm_resp::{
                RequestedObjectResult, SupportedObjectResult, SupportedParamResult,
            };
            use crate::codec::msg::{header::MsgType, response::RespType, GetSupportedDmResp};
            let mut supported: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for k in model.params.keys() {
                let split = k.rfind('.').map_or(0, |i| i + 1);
                let obj: Vec<String> = k[..split]
                    .trim_end_matches('.')
                    .split('.')
                    .map(|s| if s.parse::<u32>().is_ok() { "{i}".to_owned() } else { s.to_owned() })
                    .collect();
                supported
                    .entry(format!("{}.", obj.join(".")))
                    .or_default()
                    .insert(k[split..].to_owned());
            }
            let req_obj_results = g
                .obj_paths
                .into_iter()
                .map(|requested| RequestedObjectResult {
                    supported_objs: supported
                        .iter()
                        .filter(|(o, _)| o.starts_with(&requested))
                        .map(|(o, params)| SupportedObjectResult {
                            supported_obj_path: o.clone(),
                            is_multi_instance: o.ends_with("{i}."),
                            supported_params: params
                                .iter()
                                .map(|p| SupportedParamResult {
                                    param_name: p.clone(),
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        })
                        .collect(),
                    req_obj_path: requested,
                    data_model_inst_uri: "urn:broadband-forum-org:tr-181-2-16-0-usp".into(),
                    ..Default::default()
                })
                .collect();
            let resp = RespType::GetSupportedDmResp(GetSupportedDmResp { req_obj_results });
            (request::response(id, MsgType::GetSupportedDmResp, resp), Vec::new())
        }
        other => (
            request::error(
                id,
                ErrorCode::MessageNotSupported,
                format!("the test agent does not serve {}", req_name(&other)),
                request::no_param_errs(),
            ),
            Vec::new(),
        ),
    }
}
