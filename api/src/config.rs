//! `acsd` configuration: built-in defaults, then a TOML file (`--config`), then `ACSD_<NAME>`
//! environment variables, then command-line flags, each overriding the one before.
//!
//! Field names are the same in all three layers: `--cwmp-listen` is `ACSD_CWMP_LISTEN` and
//! `cwmp_listen` in the TOML file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde::Deserialize;

use crate::error::ApiError;

/// How CPEs authenticate to the ACS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CpeAuth {
    /// No authentication (lab use only).
    None,
    /// HTTP Basic; only sensible over HTTPS.
    Basic,
    /// HTTP Digest (RFC 2617 / 7616, MD5 or SHA-256).
    Digest,
}

/// Options shared by `serve` and `migrate`. Every field is optional here so that layers can be
/// merged; [`Settings::resolve`] applies defaults.
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigArgs {
    /// TOML configuration file.
    #[arg(long, env = "ACSD_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite database, uploaded files and generated secrets.
    #[arg(long, env = "ACSD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// `sqlite://<path>` or `postgres://user@host:port/db`. Default: `sqlite://<data-dir>/acs.db`.
    #[arg(long, env = "ACSD_DATABASE_URL")]
    pub database_url: Option<String>,
    /// CWMP (TR-069) HTTP listener.
    #[arg(long, env = "ACSD_CWMP_LISTEN")]
    pub cwmp_listen: Option<SocketAddr>,
    /// CWMP over HTTPS listener (needs --tls-cert and --tls-key).
    #[arg(long, env = "ACSD_CWMPS_LISTEN")]
    pub cwmps_listen: Option<SocketAddr>,
    /// PEM certificate chain for HTTPS listeners.
    #[arg(long, env = "ACSD_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS listeners.
    #[arg(long, env = "ACSD_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// REST API, admin UI and /metrics listener.
    #[arg(long, env = "ACSD_API_LISTEN")]
    pub api_listen: Option<SocketAddr>,
    /// The URL CPEs reach the ACS at (used in Download URLs), e.g. `http://acs.example.net:7547`.
    #[arg(long, env = "ACSD_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// How CPEs authenticate: none, basic or digest.
    #[arg(long, env = "ACSD_CPE_AUTH", value_enum)]
    pub cpe_auth: Option<CpeAuth>,
    /// Global CPE username (per-device credentials override it).
    #[arg(long, env = "ACSD_CPE_USERNAME")]
    pub cpe_username: Option<String>,
    /// Global CPE password.
    #[arg(long, env = "ACSD_CPE_PASSWORD")]
    pub cpe_password: Option<String>,
    /// Largest accepted CWMP request body, after decompression, in bytes.
    #[arg(long, env = "ACSD_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Most concurrent CWMP sessions; beyond it CPEs get 503 with Retry-After.
    #[arg(long, env = "ACSD_MAX_SESSIONS")]
    pub max_sessions: Option<usize>,
    /// Seconds of silence after which a CWMP session is dropped.
    #[arg(long, env = "ACSD_SESSION_TIMEOUT")]
    pub session_timeout: Option<u64>,
    /// Periodic inform interval set on CPEs at bootstrap, in seconds.
    #[arg(long, env = "ACSD_PERIODIC_INFORM_INTERVAL")]
    pub periodic_inform_interval: Option<u32>,
    /// Most connection requests in flight at once.
    #[arg(long, env = "ACSD_CONNECTION_REQUEST_CONCURRENCY")]
    pub connection_request_concurrency: Option<usize>,
    /// Milliseconds between write-behind flushes of Inform telemetry.
    #[arg(long, env = "ACSD_FLUSH_INTERVAL_MS")]
    pub flush_interval_ms: Option<u64>,
    /// Log filter (tracing EnvFilter syntax), e.g. `info,acs=debug`.
    #[arg(long, env = "ACSD_LOG")]
    pub log: Option<String>,
    /// Log format: text or json.
    #[arg(long, env = "ACSD_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// The USP controller's Endpoint ID (agents list it in `Device.LocalAgent.Controller.{i}.EndpointID`).
    #[arg(long, env = "ACSD_USP_ENDPOINT_ID")]
    pub usp_endpoint_id: Option<String>,
    /// USP WebSocket MTP listener (agents connect to `ws://<host>:<port>/usp`).
    #[arg(long, env = "ACSD_USP_WS_LISTEN")]
    pub usp_ws_listen: Option<SocketAddr>,
    /// USP WebSocket MTP over TLS listener (`wss://<host>:<port>/usp`; needs --tls-cert and --tls-key).
    #[arg(long, env = "ACSD_USP_WSS_LISTEN")]
    pub usp_wss_listen: Option<SocketAddr>,
    /// MQTT broker for the USP MQTT MTP, `mqtt[s]://user:pass@host:port` (off when unset).
    #[arg(long, env = "ACSD_MQTT_URL")]
    pub mqtt_url: Option<String>,
    /// The controller's MQTT topic. Default: `usp/controller/<endpoint id>`.
    #[arg(long, env = "ACSD_MQTT_TOPIC")]
    pub mqtt_topic: Option<String>,
    /// Seconds of silence after which a USP agent is probed and, if it does not answer, shown
    /// offline.
    #[arg(long, env = "ACSD_USP_LIVENESS_TIMEOUT")]
    pub usp_liveness_timeout: Option<u64>,
}

impl ConfigArgs {
    /// Fill every field that is unset in `self` from `lower`.
    fn or(self, lower: ConfigArgs) -> ConfigArgs {
        macro_rules! pick {
            ($($f:ident),*) => { ConfigArgs { $($f: self.$f.or(lower.$f)),* } };
        }
        pick!(
            config,
            data_dir,
            database_url,
            cwmp_listen,
            cwmps_listen,
            tls_cert,
            tls_key,
            api_listen,
            public_url,
            cpe_auth,
            cpe_username,
            cpe_password,
            max_body_bytes,
            max_sessions,
            session_timeout,
            periodic_inform_interval,
            connection_request_concurrency,
            flush_interval_ms,
            log,
            log_format,
            usp_endpoint_id,
            usp_ws_listen,
            usp_wss_listen,
            mqtt_url,
            mqtt_topic,
            usp_liveness_timeout
        )
    }
}

/// Fully resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub cwmp_listen: SocketAddr,
    pub cwmps_listen: Option<SocketAddr>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub api_listen: SocketAddr,
    pub public_url: Option<String>,
    pub cpe_auth: CpeAuth,
    pub cpe_username: Option<String>,
    pub cpe_password: Option<String>,
    pub max_body_bytes: usize,
    pub max_sessions: usize,
    pub session_timeout: Duration,
    pub periodic_inform_interval: u32,
    pub connection_request_concurrency: usize,
    pub flush_interval: Duration,
    pub log: String,
    pub log_json: bool,
    pub usp_endpoint_id: usp::codec::EndpointId,
    pub usp_ws_listen: SocketAddr,
    pub usp_wss_listen: Option<SocketAddr>,
    pub mqtt: Option<usp::mtp::mqtt::BrokerUrl>,
    pub mqtt_topic: String,
    pub usp_liveness_timeout: Duration,
}

pub const DEFAULT_CWMP_LISTEN: &str = "0.0.0.0:7547";
pub const DEFAULT_API_LISTEN: &str = "0.0.0.0:8080";
pub const DEFAULT_USP_WS_LISTEN: &str = "0.0.0.0:7548";
pub const DEFAULT_USP_ENDPOINT_ID: &str = "proto::acsd";

impl Settings {
    /// Merge flags/env (already combined by clap) over the TOML file over defaults.
    pub fn resolve(cli: ConfigArgs) -> Result<Settings, ApiError> {
        let file = match &cli.config {
            Some(path) => load_toml(path)?,
            None => ConfigArgs::default(),
        };
        let c = cli.or(file);
        let data_dir = c.data_dir.unwrap_or_else(|| PathBuf::from("./data"));
        let database_url = c
            .database_url
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("acs.db").display()));
        let parse_addr = |s: &str| -> SocketAddr {
            // Defaults are literals that always parse.
            s.parse().unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)))
        };
        if c.cwmps_listen.is_some() && (c.tls_cert.is_none() || c.tls_key.is_none()) {
            return Err(ApiError::Config("--cwmps-listen needs --tls-cert and --tls-key".into()));
        }
        if c.usp_wss_listen.is_some() && (c.tls_cert.is_none() || c.tls_key.is_none()) {
            return Err(ApiError::Config("--usp-wss-listen needs --tls-cert and --tls-key".into()));
        }
        if c.cpe_username.is_some() != c.cpe_password.is_some() {
            return Err(ApiError::Config(
                "--cpe-username and --cpe-password must be given together".into(),
            ));
        }
        let usp_endpoint_id = usp::codec::EndpointId::parse(
            c.usp_endpoint_id.as_deref().unwrap_or(DEFAULT_USP_ENDPOINT_ID),
        )
        .map_err(|e| ApiError::Config(format!("--usp-endpoint-id: {e}")))?;
        let mqtt = c
            .mqtt_url
            .as_deref()
            .filter(|u| !u.is_empty())
            .map(usp::mtp::mqtt::BrokerUrl::parse)
            .transpose()
            .map_err(|e| ApiError::Config(format!("--mqtt-url: {e}")))?;
        let mqtt_topic = c
            .mqtt_topic
            .map(|t| t.trim_end_matches('/').to_string())
            .unwrap_or_else(|| usp::mtp::mqtt::default_topic(usp_endpoint_id.as_str()));
        if mqtt_topic.is_empty() || mqtt_topic.contains(['+', '#']) {
            return Err(ApiError::Config(format!(
                "--mqtt-topic {mqtt_topic:?} must be a topic name without wildcards"
            )));
        }
        let log_json = match c.log_format.as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => {
                return Err(ApiError::Config(format!(
                    "log format must be text or json, not {other}"
                )))
            }
        };
        Ok(Settings {
            data_dir,
            database_url,
            cwmp_listen: c.cwmp_listen.unwrap_or_else(|| parse_addr(DEFAULT_CWMP_LISTEN)),
            cwmps_listen: c.cwmps_listen,
            tls_cert: c.tls_cert,
            tls_key: c.tls_key,
            api_listen: c.api_listen.unwrap_or_else(|| parse_addr(DEFAULT_API_LISTEN)),
            public_url: c.public_url.map(|u| u.trim_end_matches('/').to_string()),
            cpe_auth: c.cpe_auth.unwrap_or(CpeAuth::Digest),
            cpe_username: c.cpe_username,
            cpe_password: c.cpe_password,
            max_body_bytes: c.max_body_bytes.unwrap_or(4 * 1024 * 1024),
            max_sessions: c.max_sessions.unwrap_or(20_000),
            session_timeout: Duration::from_secs(c.session_timeout.unwrap_or(30)),
            periodic_inform_interval: c.periodic_inform_interval.unwrap_or(3600),
            connection_request_concurrency: c.connection_request_concurrency.unwrap_or(64),
            flush_interval: Duration::from_millis(c.flush_interval_ms.unwrap_or(200)),
            log: c.log.unwrap_or_else(|| "info".into()),
            log_json,
            usp_endpoint_id,
            usp_ws_listen: c.usp_ws_listen.unwrap_or_else(|| parse_addr(DEFAULT_USP_WS_LISTEN)),
            usp_wss_listen: c.usp_wss_listen,
            mqtt,
            mqtt_topic,
            usp_liveness_timeout: Duration::from_secs(c.usp_liveness_timeout.unwrap_or(300).max(1)),
        })
    }
}

fn load_toml(path: &Path) -> Result<ConfigArgs, ApiError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ApiError::Config(format!("cannot read {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| ApiError::Config(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let s = Settings::resolve(ConfigArgs::default()).unwrap();
        assert_eq!(s.cwmp_listen.to_string(), DEFAULT_CWMP_LISTEN);
        assert_eq!(s.api_listen.to_string(), DEFAULT_API_LISTEN);
        assert_eq!(s.database_url, "sqlite://./data/acs.db");
        assert_eq!(s.cpe_auth, CpeAuth::Digest);
    }

    #[test]
    fn flags_override_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("acsd.toml");
        std::fs::write(
            &file,
            "cwmp_listen = \"127.0.0.1:1\"\napi_listen = \"127.0.0.1:2\"\ncpe_auth = \"basic\"\n",
        )
        .unwrap();
        let cli = ConfigArgs {
            config: Some(file),
            api_listen: Some("127.0.0.1:3".parse().unwrap()),
            ..Default::default()
        };
        let s = Settings::resolve(cli).unwrap();
        assert_eq!(s.cwmp_listen.to_string(), "127.0.0.1:1");
        assert_eq!(s.api_listen.to_string(), "127.0.0.1:3");
        assert_eq!(s.cpe_auth, CpeAuth::Basic);
    }

    #[test]
    fn unknown_file_keys_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("acsd.toml");
        std::fs::write(&file, "cwmp_lisen = \"127.0.0.1:1\"\n").unwrap();
        let err =
            Settings::resolve(ConfigArgs { config: Some(file), ..Default::default() }).unwrap_err();
        assert!(err.to_string().contains("cwmp_lisen"), "{err}");
    }

    #[test]
    fn usp_options() {
        let s = Settings::resolve(ConfigArgs::default()).unwrap();
        assert_eq!(s.usp_endpoint_id.as_str(), DEFAULT_USP_ENDPOINT_ID);
        assert_eq!(s.usp_ws_listen.to_string(), DEFAULT_USP_WS_LISTEN);
        assert_eq!(s.mqtt_topic, "usp/controller/proto::acsd");
        assert!(s.mqtt.is_none());
        let cli = ConfigArgs {
            usp_endpoint_id: Some("oui:00D09E:acs1".into()),
            mqtt_url: Some("mqtt://u:p@127.0.0.1:1884".into()),
            ..Default::default()
        };
        let s = Settings::resolve(cli).unwrap();
        assert_eq!(s.mqtt_topic, "usp/controller/oui:00D09E:acs1");
        assert_eq!(s.mqtt.unwrap().port, 1884);
        for bad in [
            ConfigArgs { usp_endpoint_id: Some("not an id".into()), ..Default::default() },
            ConfigArgs { mqtt_url: Some("http://broker".into()), ..Default::default() },
            ConfigArgs { mqtt_topic: Some("usp/#".into()), ..Default::default() },
        ] {
            assert!(Settings::resolve(bad).is_err());
        }
    }

    #[test]
    fn half_given_credentials_are_rejected() {
        let cli = ConfigArgs { cpe_username: Some("u".into()), ..Default::default() };
        assert!(Settings::resolve(cli).is_err());
    }
}
