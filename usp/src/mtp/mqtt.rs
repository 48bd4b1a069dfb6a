//! The MQTT MTP: an MQTT 5 client (rumqttc) of an external broker.
//!
//! The controller subscribes to `topic/#`, which also matches the topic itself (3.1.1 agents
//! append `/reply-to=<topic with %2F>` to it). Every publish to an MQTT 5 agent carries the Response
//! Topic (our topic), Content-Type `usp.msg` and the `usp-endpoint-id` user property; a 3.1.1
//! agent gets `/reply-to=` appended to its topic instead. The agent's topic comes from the
//! Response Topic of its publishes, the `/reply-to=` suffix, or the `subscribed_topic` of its
//! MQTTConnect Record.
//!
//! The event loop runs in its own task and reconnects with exponential backoff; received
//! publishes go, in order, to a second task that feeds the engine, so that the event loop keeps
//! answering pings while the engine works. Replies never wait for room in the client's request
//! queue (which only the event loop drains): when it is full they are published from a task of
//! their own, so a burst of records cannot deadlock the event loop and the engine.

use std::time::Duration;

use bytes::Bytes;
use percent_encoding::percent_decode_str;
use rumqttc::v5::mqttbytes::v5::{Filter, Packet, PublishProperties};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, ClientError, Event, MqttOptions};
use rumqttc::Transport;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::codec::limits::MAX_RECORD_BYTES;
use crate::engine::{Origin, Usp};
use crate::UspError;

/// Content-Type of USP publishes.
pub const CONTENT_TYPE: &str = "usp.msg";
/// User property naming the sender's Endpoint ID.
pub const ENDPOINT_ID_PROPERTY: &str = "usp-endpoint-id";
/// Separator of the MQTT 3.1.1 reply-to suffix.
pub const REPLY_TO: &str = "/reply-to=";
/// Longest wait between reconnection attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Largest MQTT packet accepted (a Record plus topic and properties).
pub const MAX_PACKET_BYTES: u32 = (MAX_RECORD_BYTES + 64 * 1024) as u32;
/// Capacity of the client's request channel.
pub const REQUEST_CHANNEL_CAPACITY: usize = 1024;

/// Where the broker is and how to log in.
#[derive(Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// TLS (`mqtts://`).
    pub tls: bool,
    /// Host name or address.
    pub host: String,
    /// Port (1883, 8883 by default).
    pub port: u16,
    /// User name.
    pub username: Option<String>,
    /// Password.
    pub password: Option<String>,
}

impl std::fmt::Debug for BrokerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerUrl")
            .field("tls", &self.tls)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl BrokerUrl {
    /// Parses `mqtt[s]://[user[:password]@]host[:port][/]` (user and password percent-decoded).
    ///
    /// # Errors
    /// [`UspError::Config`] with the reason.
    pub fn parse(url: &str) -> Result<Self, UspError> {
        let bad = |why: &str| UspError::Config(format!("mqtt url: {why}"));
        let (tls, rest) = if let Some(r) = url.strip_prefix("mqtts://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("mqtt://") {
            (false, r)
        } else {
            return Err(bad("must start with mqtt:// or mqtts://"));
        };
        let authority = rest.trim_end_matches('/');
        if authority.contains('/') || authority.contains('?') {
            return Err(bad("no path or query is allowed"));
        }
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(u) => match u.split_once(':') {
                Some((user, pass)) => (Some(decode(user)), Some(decode(pass))),
                None => (Some(decode(u)), None),
            },
        };
        let default_port = if tls { 8883 } else { 1883 };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("unterminated IPv6 address"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad("invalid port"))?,
                None if after.is_empty() => default_port,
                None => return Err(bad("invalid port")),
            };
            (h.to_owned(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), p.parse().map_err(|_| bad("invalid port"))?),
                None => (hostport.to_owned(), default_port),
            }
        };
        if host.is_empty() {
            return Err(bad("missing host"));
        }
        Ok(Self { tls, host, port, username, password })
    }
}

/// MQTT MTP settings.
#[derive(Debug, Clone)]
pub struct MqttSettings {
    /// The broker.
    pub broker: BrokerUrl,
    /// The controller's topic (default `usp/controller/<endpoint id>`).
    pub topic: String,
    /// MQTT client id; a random one when `None`.
    pub client_id: Option<String>,
}

/// The default controller topic for an endpoint id.
#[must_use]
pub fn default_topic(endpoint_id: &str) -> String {
    format!("usp/controller/{endpoint_id}")
}

/// Splits a 3.1.1 `topic/reply-to=<encoded>` topic into the reply topic.
#[must_use]
pub fn reply_to_suffix(topic: &str) -> Option<String> {
    let (_, encoded) = topic.split_once(REPLY_TO)?;
    let decoded = percent_decode_str(encoded).decode_utf8_lossy().into_owned();
    (!decoded.is_empty()).then_some(decoded)
}

/// Encodes a topic for a 3.1.1 `/reply-to=` suffix (`/` as `%2F`, `%` as `%25`).
#[must_use]
pub fn encode_reply_to(topic: &str) -> String {
    topic.replace('%', "%25").replace('/', "%2F")
}

/// Publishes Records for the engine.
#[derive(Debug, Clone)]
pub(crate) struct MqttPublisher {
    client: AsyncClient,
    topic: String,
    endpoint_id: String,
}

impl MqttPublisher {
    pub(crate) async fn publish(
        &self,
        to_topic: &str,
        v311: bool,
        bytes: Vec<u8>,
    ) -> Result<(), UspError> {
        // Never wait for room in the client's request queue here: the engine calls this while
        // handling records that the MQTT event loop hands over, and only that event loop
        // drains the queue. When it is full, the publish waits in its own task instead.
        let bytes = Bytes::from(bytes);
        let result = if v311 {
            let topic = format!("{to_topic}{REPLY_TO}{}", encode_reply_to(&self.topic));
            match self.client.try_publish(topic.clone(), QoS::AtLeastOnce, false, bytes.clone()) {
                Err(ClientError::TryRequest(_)) => {
                    let client = self.client.clone();
                    self.queue_full(async move {
                        client.publish(topic, QoS::AtLeastOnce, false, bytes).await
                    });
                    Ok(())
                }
                other => other,
            }
        } else {
            let props = PublishProperties {
                response_topic: Some(self.topic.clone()),
                content_type: Some(CONTENT_TYPE.to_owned()),
                user_properties: vec![(ENDPOINT_ID_PROPERTY.to_owned(), self.endpoint_id.clone())],
                ..PublishProperties::default()
            };
            match self.client.try_publish_with_properties(
                to_topic,
                QoS::AtLeastOnce,
                false,
                bytes.clone(),
                props.clone(),
            ) {
                Err(ClientError::TryRequest(_)) => {
                    let client = self.client.clone();
                    let to_topic = to_topic.to_owned();
                    self.queue_full(async move {
                        client
                            .publish_with_properties(
                                to_topic,
                                QoS::AtLeastOnce,
                                false,
                                bytes,
                                props,
                            )
                            .await
                    });
                    Ok(())
                }
                other => other,
            }
        };
        result.map_err(|e| UspError::Mtp(e.to_string()))
    }

    /// The request queue is full: publish from a task of its own.
    fn queue_full<F>(&self, publish: F)
    where
        F: std::future::Future<Output = Result<(), ClientError>> + Send + 'static,
    {
        tracing::debug!("mqtt request queue full; publishing from a separate task");
        tokio::spawn(async move {
            if let Err(e) = publish.await {
                tracing::warn!(error = %e, "mqtt publish failed");
            }
        });
    }
}

fn random_client_id() -> String {
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    format!("acsd-{:012x}", (nanos as u64) & 0xffff_ffff_ffff)
}

/// Start the MQTT client: connect (and keep reconnecting) to the broker, subscribe to the
/// controller topic, feed received Records to the engine and let it publish replies. Returns
/// the task running the client; it ends after `shutdown` turns true.
///
/// # Errors
/// [`UspError::Config`] for an invalid topic, or if an MQTT client is already running for this
/// engine.
pub fn start(
    usp: Usp,
    settings: MqttSettings,
    mut shutdown: watch::Receiver<bool>,
) -> Result<JoinHandle<()>, UspError> {
    let topic = settings.topic.trim_end_matches('/').to_owned();
    if topic.is_empty() || topic.contains(['+', '#']) {
        return Err(UspError::Config(format!("invalid mqtt topic {topic:?}")));
    }
    let b = &settings.broker;
    let client_id = settings.client_id.clone().unwrap_or_else(random_client_id);
    let mut options = MqttOptions::new(client_id, b.host.clone(), b.port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_max_packet_size(Some(MAX_PACKET_BYTES));
    options.set_request_channel_capacity(REQUEST_CHANNEL_CAPACITY);
    // Small request/response records: Nagle's algorithm would hold each one ~40 ms.
    let mut network = rumqttc::NetworkOptions::new();
    network.set_tcp_nodelay(true);
    options.set_network_options(network);
    options
        .set_user_properties(vec![(ENDPOINT_ID_PROPERTY.to_owned(), usp.endpoint_id().to_owned())]);
    if let Some(u) = &b.username {
        options.set_credentials(u.clone(), b.password.clone().unwrap_or_default());
    }
    if b.tls {
        let _ = rustls::crypto::ring::default_provider().install_default();
        options.set_transport(Transport::tls_with_default_config());
    }
    let (client, mut eventloop) = AsyncClient::new(options, REQUEST_CHANNEL_CAPACITY);
    usp.set_mqtt(MqttPublisher {
        client: client.clone(),
        topic: topic.clone(),
        endpoint_id: usp.endpoint_id().to_owned(),
    })?;

    let (tx, mut rx) = mpsc::channel::<rumqttc::v5::mqttbytes::v5::Publish>(1024);
    let feeder_usp = usp.clone();
    let feeder = tokio::spawn(async move {
        while let Some(p) = rx.recv().await {
            deliver(&feeder_usp, p).await;
        }
    });

    let handle = tokio::spawn(async move {
        let mut backoff = Duration::from_millis(250);
        loop {
            let event = tokio::select! {
                _ = crate::mtp::stopped(&mut shutdown) => break,
                e = eventloop.poll() => e,
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff = Duration::from_millis(250);
                    tracing::info!(topic = %topic, "mqtt connected");
                    // `topic/#` also matches `topic` itself (MQTT 3.1.1 §4.7.1.2, MQTT 5
                    // §4.7.1.2); subscribing to both would deliver every record twice.
                    let filters = [Filter::new(format!("{topic}/#"), QoS::AtLeastOnce)];
                    if let Err(e) = client.try_subscribe_many(filters) {
                        tracing::warn!(error = %e, "mqtt subscribe failed");
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let sent = tokio::select! {
                        _ = crate::mtp::stopped(&mut shutdown) => break,
                        r = tx.send(p) => r,
                    };
                    if sent.is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "mqtt connection failed");
                    tokio::select! {
                        _ = crate::mtp::stopped(&mut shutdown) => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        let _ = client.try_disconnect();
        // Let the event loop send the DISCONNECT.
        let _ = tokio::time::timeout(Duration::from_millis(500), eventloop.poll()).await;
        drop(tx);
        let _ = feeder.await;
    });
    Ok(handle)
}

async fn deliver(usp: &Usp, p: rumqttc::v5::mqttbytes::v5::Publish) {
    let topic = String::from_utf8_lossy(&p.topic).into_owned();
    let response_topic = p.properties.as_ref().and_then(|pr| pr.response_topic.clone());
    let (reply_to, v311) = match response_topic {
        Some(t) if !t.is_empty() => (Some(t), false),
        _ => match reply_to_suffix(&topic) {
            Some(t) => (Some(t), true),
            None => (None, p.properties.is_none()),
        },
    };
    let outcome = usp.handle_record(&p.payload, Origin::Mqtt { reply_to, v311 }).await;
    tracing::trace!(topic = %topic, ?outcome, "mqtt publish handled");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The engine publishes replies while the event loop may be busy handing it records: a full
    /// request queue must not make `publish` wait (that was a deadlock under boot bursts).
    #[tokio::test]
    async fn publish_does_not_wait_for_a_full_request_queue() {
        let options = MqttOptions::new("t", "127.0.0.1", 9);
        // The event loop is kept but never polled: nothing drains the queue of 2.
        let (client, _eventloop) = AsyncClient::new(options, 2);
        let publisher =
            MqttPublisher { client, topic: "ctrl".into(), endpoint_id: "proto::ctrl".into() };
        let burst = async {
            for i in 0..20 {
                publisher.publish("agent/a", i % 2 == 0, vec![1, 2, 3]).await.unwrap();
            }
        };
        // A deadlock guard, not a timing assertion: the burst completes without any I/O.
        tokio::time::timeout(Duration::from_secs(20), burst)
            .await
            .expect("publish waited for the event loop");
    }

    #[test]
    fn broker_urls() {
        let u = BrokerUrl::parse("mqtt://127.0.0.1:1883").unwrap();
        assert_eq!((u.tls, u.host.as_str(), u.port, u.username), (false, "127.0.0.1", 1883, None));
        let u = BrokerUrl::parse("mqtts://us%40er:p%3Ass@broker.example/").unwrap();
        assert_eq!((u.tls, u.port), (true, 8883));
        assert_eq!(u.username.as_deref(), Some("us@er"));
        assert_eq!(u.password.as_deref(), Some("p:ss"));
        assert!(!format!("{u:?}").contains("p:ss"));
        let u = BrokerUrl::parse("mqtt://[::1]:1884").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 1884));
        for bad in ["http://h", "mqtt://", "mqtt://h:x", "mqtt://h/path", "mqtt://[::1"] {
            assert!(BrokerUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reply_to_round_trip() {
        let t = "usp/agent/os::012345-ABC";
        let full = format!("usp/controller/x{REPLY_TO}{}", encode_reply_to(t));
        assert!(!full[full.find(REPLY_TO).unwrap() + REPLY_TO.len()..].contains('/'));
        assert_eq!(reply_to_suffix(&full).as_deref(), Some(t));
        assert_eq!(reply_to_suffix("usp/controller/x"), None);
        assert_eq!(reply_to_suffix("a/reply-to="), None);
    }
}
