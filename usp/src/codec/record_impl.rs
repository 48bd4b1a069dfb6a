//! Building and inspecting USP Records: constructors on [`Record`] and the [`RecordKind`] view.

use prost::Message as _;

use super::error::UspError;
use super::generated::usp::Msg;
use super::generated::usp_record::{
    mqtt_connect_record::MqttVersion, record::RecordType, DisconnectRecord, MqttConnectRecord,
    NoSessionContextRecord, Record, SessionContextRecord, StompConnectRecord,
    WebSocketConnectRecord,
};

/// A borrowed, flattened view of what a Record carries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RecordKind<'a> {
    /// A no-session-context Record: the serialized Msg.
    Msg(&'a [u8]),
    /// An end-to-end session context Record (not supported by this controller).
    SessionContext(&'a SessionContextRecord),
    /// The agent's WebSocket MTP is up.
    WebSocketConnect,
    /// The agent's MQTT MTP is up.
    MqttConnect {
        /// MQTT protocol version the agent uses (unknown values read as 3.1.1).
        version: MqttVersion,
        /// Where the agent listens for the controller.
        subscribed_topic: &'a str,
    },
    /// The agent's STOMP MTP is up.
    StompConnect {
        /// Where the agent listens for the controller.
        subscribed_destination: &'a str,
    },
    /// The sender is going away.
    Disconnect {
        /// Free-text reason.
        reason: &'a str,
        /// A USP error code (7100-series) or 0.
        reason_code: u32,
    },
    /// The agent's Unix domain socket MTP is up.
    UdsConnect,
}

impl RecordKind<'_> {
    /// A short name for logs and metric labels.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Msg(_) => "no_session_context",
            Self::SessionContext(_) => "session_context",
            Self::WebSocketConnect => "websocket_connect",
            Self::MqttConnect { .. } => "mqtt_connect",
            Self::StompConnect { .. } => "stomp_connect",
            Self::Disconnect { .. } => "disconnect",
            Self::UdsConnect => "uds_connect",
        }
    }

    /// True for the records an agent sends right after its MTP connection is up.
    #[must_use]
    pub fn is_connect(&self) -> bool {
        matches!(
            self,
            Self::WebSocketConnect
                | Self::MqttConnect { .. }
                | Self::StompConnect { .. }
                | Self::UdsConnect
        )
    }
}

impl Record {
    fn with(
        to_id: impl Into<String>,
        from_id: impl Into<String>,
        version: impl ToString,
        record_type: RecordType,
    ) -> Self {
        Self {
            version: version.to_string(),
            to_id: to_id.into(),
            from_id: from_id.into(),
            record_type: Some(record_type),
            ..Self::default()
        }
    }

    /// A no-session-context Record carrying `msg`, stamped with `version` (the negotiated
    /// version, e.g. [`UspVersion`](super::version::UspVersion) or `"1.3"`).
    #[must_use]
    pub fn wrap(
        to_id: impl Into<String>,
        from_id: impl Into<String>,
        version: impl ToString,
        msg: &Msg,
    ) -> Self {
        let payload = msg.encode_to_vec();
        Self::with(
            to_id,
            from_id,
            version,
            RecordType::NoSessionContext(NoSessionContextRecord { payload }),
        )
    }

    /// A WebSocketConnect Record.
    #[must_use]
    pub fn websocket_connect(
        to_id: impl Into<String>,
        from_id: impl Into<String>,
        version: impl ToString,
    ) -> Self {
        Self::with(to_id, from_id, version, RecordType::WebsocketConnect(WebSocketConnectRecord {}))
    }

    /// An MQTTConnect Record announcing `subscribed_topic`.
    #[must_use]
    pub fn mqtt_connect(
        to_id: impl Into<String>,
        from_id: impl Into<String>,
        version: impl ToString,
        mqtt_version: MqttVersion,
        subscribed_topic: impl Into<String>,
    ) -> Self {
        let connect = MqttConnectRecord {
            version: mqtt_version.into(),
            subscribed_topic: subscribed_topic.into(),
        };
        Self::with(to_id, from_id, version, RecordType::MqttConnect(connect))
    }

    /// A STOMPConnect Record announcing `subscribed_destination`.
    #[must_use]
    pub fn stomp_connect(
        to_id: impl Into<String>,
        from_id: impl Into<String>,
        version: impl ToString,
        subscribed_destination: impl Into<String>,
    ) -> Self {
        let connect = StompConnectRecord {
            version: 0,
            subscribed_destination: subscribed_destination.into(),
        };
        Self::with(to_id, from_id, version, RecordType::StompConnect(connect))
    }

    /// A DisconnectRecord.
    #[must_use]
    pub fn disconnect(
        to_id: impl Into<String>,
        from_id: impl Into<String>,
        version: impl ToString,
        reason: impl Into<String>,
        reason_code: u32,
    ) -> Self {
        let disconnect = DisconnectRecord { reason: reason.into(), reason_code };
        Self::with(to_id, from_id, version, RecordType::Disconnect(disconnect))
    }

    /// What the Record carries.
    ///
    /// # Errors
    /// [`UspError::MissingField`] if the Record has no record type (e.g. a record type from a
    /// later USP version that this schema does not know).
    pub fn kind(&self) -> Result<RecordKind<'_>, UspError> {
        Ok(match &self.record_type {
            None => return Err(UspError::MissingField { what: "record", field: "record_type" }),
            Some(RecordType::NoSessionContext(r)) => RecordKind::Msg(&r.payload),
            Some(RecordType::SessionContext(r)) => RecordKind::SessionContext(r),
            Some(RecordType::WebsocketConnect(_)) => RecordKind::WebSocketConnect,
            Some(RecordType::MqttConnect(r)) => RecordKind::MqttConnect {
                version: MqttVersion::try_from(r.version).unwrap_or(MqttVersion::V311),
                subscribed_topic: &r.subscribed_topic,
            },
            Some(RecordType::StompConnect(r)) => {
                RecordKind::StompConnect { subscribed_destination: &r.subscribed_destination }
            }
            Some(RecordType::Disconnect(r)) => {
                RecordKind::Disconnect { reason: &r.reason, reason_code: r.reason_code }
            }
            Some(RecordType::UdsConnect(_)) => RecordKind::UdsConnect,
        })
    }

    /// Decodes the Msg of a no-session-context Record.
    ///
    /// # Errors
    /// - [`UspError::SessionContextNotSupported`] for session context records;
    /// - [`UspError::NoPayload`] for Connect and Disconnect records;
    /// - the errors of [`decode_msg`](super::decode_msg) for the payload.
    pub fn msg(&self) -> Result<Msg, UspError> {
        match self.kind()? {
            RecordKind::Msg(payload) => super::decode_msg(payload),
            RecordKind::SessionContext(_) => Err(UspError::SessionContextNotSupported),
            other => Err(UspError::NoPayload { record_type: other.name() }),
        }
    }
}
