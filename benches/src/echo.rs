//! The raw MQTT echo ceiling: M echo clients (one MQTT 5 connection each, configured like the
//! simulated agents) and one driver client configured like `acsd`'s (MQTT 5, QoS 1, keep-alive 30 s, request channel
//! of 1024, Response Topic / Content-Type / endpoint-id user property on every publish). A round
//! trip publishes a payload the size of the USP Get Record `acsd` sends in `usp-get` to one
//! client's topic and waits for the client to publish it back to the driver's topic: the
//! broker's and the MQTT stack's own cost of a USP request/response, with no controller behind.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5::{Packet, PublishProperties};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event, EventLoop, MqttOptions};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use usp::mtp::mqtt::{BrokerUrl, CONTENT_TYPE, ENDPOINT_ID_PROPERTY, MAX_PACKET_BYTES};

use crate::error::FleetError;
use crate::load::RoundTrip;
use crate::session::SessionResult;
use crate::stats::Stats;

/// Size of the Record `acsd` sends for one `usp-get` round trip (a Get of
/// [`crate::usp_get::GET_PARAMS`] from `controller_id` to `agent_id`, with a msg id shaped like
/// the engine's).
pub fn usp_get_record_len(controller_id: &str, agent_id: &str) -> usize {
    let msg = usp::codec::request::get("acsd-1a2b3c4d-get-123456", crate::usp_get::GET_PARAMS, 0);
    let record = usp::codec::Record::wrap(agent_id, controller_id, "1.3", &msg);
    usp::codec::encode_record(&record).len()
}

/// A payload of `len` bytes (at least 8) starting with `seq`.
pub fn payload(seq: u64, len: usize) -> Vec<u8> {
    let mut p = vec![0x5a; len.max(8)];
    p[..8].copy_from_slice(&seq.to_le_bytes());
    p
}

/// The sequence number a payload starts with.
pub fn payload_seq(p: &[u8]) -> Option<u64> {
    p.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_le_bytes)
}

/// Topic of echo client `i`.
pub fn client_topic(prefix: &str, i: usize) -> String {
    format!("fleet-echo/{prefix}/{i}")
}

/// Topic of the driver.
pub fn driver_topic(prefix: &str) -> String {
    format!("fleet-echo/{prefix}/driver")
}

fn options(broker: &BrokerUrl, client_id: String, endpoint: &str, nodelay: bool) -> MqttOptions {
    let mut o = MqttOptions::new(client_id, broker.host.clone(), broker.port);
    if nodelay {
        let mut n = rumqttc::NetworkOptions::new();
        n.set_tcp_nodelay(true);
        o.set_network_options(n);
    }
    o.set_keep_alive(Duration::from_secs(30));
    o.set_max_packet_size(Some(MAX_PACKET_BYTES));
    o.set_user_properties(vec![(ENDPOINT_ID_PROPERTY.to_owned(), endpoint.to_owned())]);
    if let Some(u) = &broker.username {
        o.set_credentials(u.clone(), broker.password.clone().unwrap_or_default());
    }
    o
}

fn props(reply_to: &str, endpoint: &str) -> PublishProperties {
    PublishProperties {
        response_topic: Some(reply_to.to_owned()),
        content_type: Some(CONTENT_TYPE.to_owned()),
        user_properties: vec![(ENDPOINT_ID_PROPERTY.to_owned(), endpoint.to_owned())],
        ..PublishProperties::default()
    }
}

/// Poll `el` until the subscription to `topic` is acknowledged (subscribing again after every
/// reconnection), then hand every received publish to `on_publish`, forever.
async fn run_client(
    client: AsyncClient,
    mut el: EventLoop,
    topic: String,
    ready: oneshot::Sender<()>,
    mut on_publish: impl FnMut(&AsyncClient, rumqttc::v5::mqttbytes::v5::Publish) + Send,
) {
    let mut ready = Some(ready);
    loop {
        match el.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                let _ = client.try_subscribe(topic.clone(), QoS::AtLeastOnce);
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                if let Some(r) = ready.take() {
                    let _ = r.send(());
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => on_publish(&client, p),
            Ok(_) => {}
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// How to build the echo.
#[derive(Debug, Clone)]
pub struct EchoConfig {
    /// Broker (`mqtt://host:port`).
    pub mqtt_url: String,
    /// Run prefix of client ids and topics.
    pub prefix: String,
    /// Echo clients.
    pub clients: usize,
    /// Bytes per round trip (each way).
    pub payload_bytes: usize,
    /// Longest wait for one echo.
    pub timeout: Duration,
    /// Clients connecting at the same time.
    pub connect_concurrency: usize,
    /// TCP_NODELAY on every connection (rumqttc's default, like acsd's client, leaves Nagle
    /// on).
    pub tcp_nodelay: bool,
}

/// M echo clients and the driver.
#[derive(Debug)]
pub struct Echo {
    client: AsyncClient,
    pending: Arc<Mutex<HashMap<u64, oneshot::Sender<()>>>>,
    topics: Vec<String>,
    order: Vec<usize>,
    len: usize,
    props: PublishProperties,
    timeout: Duration,
    tasks: Vec<JoinHandle<()>>,
    /// Echo clients that subscribed.
    pub clients: usize,
}

impl Echo {
    /// Connect the echo clients (recording each in `stats`) and the driver.
    pub async fn start(cfg: &EchoConfig, stats: &Arc<Stats>) -> Result<Echo, FleetError> {
        let EchoConfig {
            ref mqtt_url,
            ref prefix,
            clients: count,
            payload_bytes: len,
            timeout,
            connect_concurrency,
            tcp_nodelay: nodelay,
        } = *cfg;
        let broker = BrokerUrl::parse(mqtt_url).map_err(|e| FleetError::Argument(e.to_string()))?;
        if broker.tls {
            return Err(FleetError::Argument("mqtts:// is not supported by the echo".into()));
        }
        let driver = driver_topic(prefix);
        let mut tasks = Vec::new();
        let sem = Arc::new(tokio::sync::Semaphore::new(connect_concurrency.max(1)));
        let mut set = tokio::task::JoinSet::new();
        for i in 0..count {
            let (broker, sem, stats, driver) =
                (broker.clone(), sem.clone(), stats.clone(), driver.clone());
            let prefix = prefix.to_owned();
            set.spawn(async move {
                let _permit = sem.acquire_owned().await.ok();
                stats.started_sessions.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                let endpoint = format!("proto::echo-{prefix}-{i}");
                let mut o =
                    options(&broker, format!("fleet-echo-{prefix}-{i}"), &endpoint, nodelay);
                // Like the simulated agents: a small in-flight window (rumqttc's default
                // preallocates about 14 MB per client).
                o.set_outgoing_inflight_upper_limit(crate::agents::AGENT_INFLIGHT);
                let (client, el) = AsyncClient::new(o, 64);
                let (tx, rx) = oneshot::channel();
                let topic = client_topic(&prefix, i);
                let reply_props = props(&topic, &endpoint);
                let task = tokio::spawn(run_client(client, el, topic, tx, move |c, p| {
                    let to = p
                        .properties
                        .as_ref()
                        .and_then(|pr| pr.response_topic.clone())
                        .unwrap_or_else(|| driver.clone());
                    let _ = c.try_publish_with_properties(
                        to,
                        QoS::AtLeastOnce,
                        false,
                        p.payload,
                        reply_props.clone(),
                    );
                }));
                match tokio::time::timeout(Duration::from_secs(10), rx).await {
                    Ok(Ok(())) => {
                        stats.record(&Ok(SessionResult::default()), t.elapsed());
                        Ok(task)
                    }
                    _ => {
                        task.abort();
                        stats.record(
                            &Err(FleetError::Timeout("echo client subscribe")),
                            t.elapsed(),
                        );
                        Err(())
                    }
                }
            });
        }
        while let Some(r) = set.join_next().await {
            if let Ok(Ok(task)) = r {
                tasks.push(task);
            }
        }
        let clients = tasks.len();
        if clients == 0 {
            for t in &tasks {
                t.abort();
            }
            return Err(FleetError::Protocol("no echo client could subscribe".into()));
        }
        let endpoint = format!("proto::echo-{prefix}-driver");
        let mut o = options(&broker, format!("fleet-echo-{prefix}-driver"), &endpoint, nodelay);
        o.set_request_channel_capacity(usp::mtp::mqtt::REQUEST_CHANNEL_CAPACITY);
        let (client, el) = AsyncClient::new(o, usp::mtp::mqtt::REQUEST_CHANNEL_CAPACITY);
        let pending: Arc<Mutex<HashMap<u64, oneshot::Sender<()>>>> = Arc::default();
        let (tx, rx) = oneshot::channel();
        let p2 = pending.clone();
        tasks.push(tokio::spawn(run_client(
            client.clone(),
            el,
            driver.clone(),
            tx,
            move |_, p| {
                let waiter = payload_seq(&p.payload)
                    .and_then(|s| p2.lock().ok().and_then(|mut m| m.remove(&s)));
                if let Some(w) = waiter {
                    let _ = w.send(());
                }
            },
        )));
        if !matches!(tokio::time::timeout(Duration::from_secs(10), rx).await, Ok(Ok(()))) {
            for t in &tasks {
                t.abort();
            }
            return Err(FleetError::Timeout("echo driver subscribe"));
        }
        let topics: Vec<String> = (0..count).map(|i| client_topic(prefix, i)).collect();
        let order = crate::load::shuffled(topics.len());
        Ok(Echo {
            client,
            pending,
            topics,
            order,
            len,
            props: props(&driver, &endpoint),
            timeout,
            tasks,
            clients,
        })
    }

    /// Stop every client (their connections close with the tasks).
    pub fn stop(&self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl RoundTrip for Echo {
    type Conn = ();

    fn conn(&self) -> Result<(), FleetError> {
        Ok(())
    }

    async fn run(self: Arc<Self>, (): (), n: u64) -> ((), Result<(), FleetError>) {
        let topic = &self.topics[self.order[(n % self.order.len() as u64) as usize]];
        let (tx, rx) = oneshot::channel();
        if let Ok(mut m) = self.pending.lock() {
            m.insert(n, tx);
        }
        let sent = self
            .client
            .publish_with_properties(
                topic.clone(),
                QoS::AtLeastOnce,
                false,
                Bytes::from(payload(n, self.len)),
                self.props.clone(),
            )
            .await;
        let r = match sent {
            Err(e) => Err(FleetError::Protocol(format!("mqtt publish: {e}"))),
            Ok(()) => match tokio::time::timeout(self.timeout, rx).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(_)) => Err(FleetError::Protocol("echo lost".into())),
                Err(_) => Err(FleetError::Timeout("echo")),
            },
        };
        if r.is_err() {
            if let Ok(mut m) = self.pending.lock() {
                m.remove(&n);
            }
        }
        ((), r)
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_carry_their_sequence() {
        let p = payload(42, 200);
        assert_eq!(p.len(), 200);
        assert_eq!(payload_seq(&p), Some(42));
        assert_eq!(payload(1, 3).len(), 8);
        assert_eq!(payload_seq(b"short"), None);
    }

    #[test]
    fn get_record_size_is_realistic() {
        let n = usp_get_record_len("proto::acsd", "proto::fleet-usp-999");
        assert!((100..400).contains(&n), "{n}");
    }

    #[test]
    fn topics() {
        assert_eq!(client_topic("p1", 3), "fleet-echo/p1/3");
        assert_eq!(driver_topic("p1"), "fleet-echo/p1/driver");
    }
}
