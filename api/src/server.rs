//! Process wiring: store, engine, listeners, first-start secrets, graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use acs::auth::CpeAuthMode;
use acs::metrics::Metrics;
use acs::{Acs, AcsConfig};
use prometheus_client::registry::Registry;
use provisioning::{Store, WriteBehind};
use rand::Rng;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{CpeAuth, Settings};
use crate::error::ApiError;
use crate::rest::{self, AppState};

/// A running `acsd`: its bound addresses and a handle to stop it.
#[derive(Debug)]
pub struct RunningServer {
    /// Where CWMP is served.
    pub cwmp_addr: SocketAddr,
    /// Where CWMP over HTTPS is served, if enabled.
    pub cwmps_addr: Option<SocketAddr>,
    /// Where the REST API is served.
    pub api_addr: SocketAddr,
    /// The engine (tests inspect it).
    pub acs: Acs,
    /// Where the USP WebSocket MTP is served (path `/usp`).
    pub usp_ws_addr: SocketAddr,
    /// Where the USP WebSocket MTP over TLS is served, if enabled.
    pub usp_wss_addr: Option<SocketAddr>,
    /// The USP controller engine.
    pub usp: usp::Usp,
    /// Secrets generated at first start (printed once by the binary).
    pub first_start: FirstStart,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Credentials generated on first start, to show the operator once.
#[derive(Debug, Default, Clone)]
pub struct FirstStart {
    /// A new admin API token, when none existed and `ACSD_ADMIN_TOKEN` was not given.
    pub admin_token: Option<String>,
    /// Generated global CPE credentials, when none were configured or stored.
    pub cpe_credentials: Option<(String, String)>,
}

impl RunningServer {
    /// Stop gracefully: stop accepting, let requests in flight finish, flush telemetry.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

fn random_secret(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..len).map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())])).collect()
}

/// An error of the USP engine as an API error: storage stays storage (invalid tasks are the
/// caller's fault), the rest is configuration or state.
pub fn usp_error(e: usp::UspError) -> ApiError {
    match e {
        usp::UspError::Storage(s) => ApiError::Store(s),
        usp::UspError::NotConnected(_) | usp::UspError::Timeout { .. } => {
            ApiError::Conflict(e.to_string())
        }
        other => ApiError::Config(other.to_string()),
    }
}

/// Hex SHA-256 of an API token, as stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

async fn setting_or_generate(
    store: &Arc<dyn Store>,
    key: &str,
    len: usize,
) -> Result<(String, bool), ApiError> {
    if let Some(v) = store.get_setting(key).await? {
        return Ok((v, false));
    }
    let v = random_secret(len);
    store.set_setting(key, &v).await?;
    Ok((v, true))
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, ApiError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ApiError::Listen { addr: addr.to_string(), source })
}

fn load_tls(settings: &Settings) -> Result<tokio_rustls::TlsAcceptor, ApiError> {
    let (Some(cert), Some(key)) = (&settings.tls_cert, &settings.tls_key) else {
        return Err(ApiError::Tls("--tls-cert and --tls-key are required".into()));
    };
    let certs = {
        let data =
            std::fs::read(cert).map_err(|e| ApiError::Tls(format!("{}: {e}", cert.display())))?;
        rustls_pemfile::certs(&mut data.as_slice())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ApiError::Tls(format!("{}: {e}", cert.display())))?
    };
    let key = {
        let data =
            std::fs::read(key).map_err(|e| ApiError::Tls(format!("{}: {e}", key.display())))?;
        rustls_pemfile::private_key(&mut data.as_slice())
            .map_err(|e| ApiError::Tls(format!("{}: {e}", key.display())))?
            .ok_or_else(|| ApiError::Tls(format!("{}: no private key found", key.display())))?
    };
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| ApiError::Tls(e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| ApiError::Tls(e.to_string()))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Open storage, start the engine and every listener. Listeners bound to port 0 get an
/// ephemeral port (see the returned addresses), so tests run the real server.
pub async fn start(
    settings: Settings,
    admin_token: Option<String>,
) -> Result<RunningServer, ApiError> {
    std::fs::create_dir_all(&settings.data_dir)?;
    let files_dir = settings.data_dir.join("files");
    std::fs::create_dir_all(&files_dir)?;
    let store = provisioning::open(&settings.database_url).await?;
    let mut first_start = FirstStart::default();

    // Admin token: ACSD_ADMIN_TOKEN when no admin exists; else generate one and show it once.
    if store.count_api_tokens().await? == 0 {
        let token = match admin_token {
            Some(t) if !t.is_empty() => t,
            _ => {
                let t = random_secret(40);
                first_start.admin_token = Some(t.clone());
                t
            }
        };
        store.insert_api_token("admin", &token_hash(&token), "admin").await?;
    }

    // Global CPE credentials: configured, else stored, else generated once.
    let (cpe_username, cpe_password) = match (&settings.cpe_username, &settings.cpe_password) {
        (Some(u), Some(p)) => (Some(u.clone()), Some(p.clone())),
        _ if settings.cpe_auth == CpeAuth::None => (None, None),
        _ => {
            let (u, new_u) = match store.get_setting("cpe_username").await? {
                Some(u) => (u, false),
                None => {
                    let u = "cpe".to_string();
                    store.set_setting("cpe_username", &u).await?;
                    (u, true)
                }
            };
            let (p, new_p) = setting_or_generate(&store, "cpe_password", 24).await?;
            if new_u || new_p {
                first_start.cpe_credentials = Some((u.clone(), p.clone()));
            }
            (Some(u), Some(p))
        }
    };
    let (secret, _) = setting_or_generate(&store, "server_secret", 48).await?;

    let mut cfg = AcsConfig::new(secret.into_bytes(), files_dir);
    cfg.cpe_auth = match settings.cpe_auth {
        CpeAuth::None => CpeAuthMode::None,
        CpeAuth::Basic => CpeAuthMode::Basic,
        CpeAuth::Digest => CpeAuthMode::Digest,
    };
    cfg.cpe_username = cpe_username;
    cfg.cpe_password = cpe_password;
    cfg.max_body_bytes = settings.max_body_bytes;
    cfg.max_sessions = settings.max_sessions;
    cfg.session_timeout = settings.session_timeout;
    cfg.periodic_inform_interval = settings.periodic_inform_interval;
    cfg.connection_request_concurrency = settings.connection_request_concurrency;

    let cwmp_listener = bind(settings.cwmp_listen).await?;
    let cwmp_addr = cwmp_listener.local_addr()?;
    cfg.public_url = Some(settings.public_url.clone().unwrap_or_else(|| {
        let host = if cwmp_addr.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            cwmp_addr.ip().to_string()
        };
        format!("http://{host}:{}", cwmp_addr.port())
    }));

    let (telemetry, flusher) = WriteBehind::spawn(store.clone(), settings.flush_interval, 1000);
    let metrics = Metrics::default();
    let mut registry = Registry::with_prefix("acsd");
    metrics.register(&mut registry);
    let acs = Acs::new(cfg, store.clone(), telemetry, metrics).await?;

    // USP controller: engine, WebSocket MTP, MQTT MTP when a broker is configured.
    let usp_metrics = usp::UspMetrics::default();
    usp_metrics.register(&mut registry);
    let mut usp_cfg = usp::UspConfig::new(settings.usp_endpoint_id.clone());
    usp_cfg.liveness_timeout = settings.usp_liveness_timeout;
    {
        let cfg = acs.config();
        let (base, secret, ttl) =
            (cfg.public_url.clone(), cfg.secret.clone(), cfg.file_url_ttl.as_secs());
        usp_cfg.file_url = Some(Arc::new(move |name: &str| {
            let base = base.as_deref()?;
            let now = time::OffsetDateTime::now_utc().unix_timestamp().max(0).unsigned_abs();
            Some(acs::files::sign_file_url(base, name, now + ttl, &secret))
        }));
    }
    let usp = usp::Usp::new(usp_cfg, store.clone(), usp_metrics).await.map_err(usp_error)?;
    let usp_listener = bind(settings.usp_ws_listen).await?;
    let usp_ws_addr = usp_listener.local_addr()?;

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let wait = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|v| *v).await;
    };
    let mut tasks = Vec::new();

    let acs2 = acs.clone();
    let rx = shutdown_rx.clone();
    tasks.push(tokio::spawn(async move {
        if let Err(e) = acs::server::serve(cwmp_listener, acs2, wait(rx)).await {
            tracing::error!(error = %e, "cwmp listener failed");
        }
    }));

    let mut cwmps_addr = None;
    if let Some(addr) = settings.cwmps_listen {
        let acceptor = load_tls(&settings)?;
        let listener = bind(addr).await?;
        cwmps_addr = Some(listener.local_addr()?);
        let acs2 = acs.clone();
        let rx = shutdown_rx.clone();
        tasks.push(tokio::spawn(async move {
            let wrap = move |s| {
                let a = acceptor.clone();
                async move { a.accept(s).await }
            };
            if let Err(e) = acs::server::serve_with(listener, acs2, wait(rx), wrap).await {
                tracing::error!(error = %e, "cwmps listener failed");
            }
        }));
    }

    tasks.push(tokio::spawn(acs.clone().run_sweeper(shutdown_rx.clone())));

    let usp2 = usp.clone();
    let rx = shutdown_rx.clone();
    tasks.push(tokio::spawn(async move {
        if let Err(e) = usp::mtp::ws::serve(usp_listener, usp2, rx).await {
            tracing::error!(error = %e, "usp websocket listener failed");
        }
    }));
    let mut usp_wss_addr = None;
    if let Some(addr) = settings.usp_wss_listen {
        let acceptor = load_tls(&settings)?;
        let listener = bind(addr).await?;
        usp_wss_addr = Some(listener.local_addr()?);
        let usp2 = usp.clone();
        let rx = shutdown_rx.clone();
        tasks.push(tokio::spawn(async move {
            let wrap = move |s| {
                let a = acceptor.clone();
                async move { a.accept(s).await }
            };
            if let Err(e) = usp::mtp::ws::serve_with(listener, usp2, rx, wrap).await {
                tracing::error!(error = %e, "usp websocket tls listener failed");
            }
        }));
    }
    tasks.push(tokio::spawn(usp.clone().run_liveness(shutdown_rx.clone())));
    if let Some(broker) = settings.mqtt.clone() {
        let mqtt = usp::mtp::mqtt::MqttSettings {
            broker,
            topic: settings.mqtt_topic.clone(),
            client_id: None,
        };
        let handle =
            usp::mtp::mqtt::start(usp.clone(), mqtt, shutdown_rx.clone()).map_err(usp_error)?;
        tasks.push(tokio::spawn(async move {
            let _ = handle.await;
        }));
    }

    let api_listener = bind(settings.api_listen).await?;
    let api_addr = api_listener.local_addr()?;
    let state = AppState::new(acs.clone(), store.clone(), registry).with_usp(usp.clone());
    let router = rest::router(state);
    let rx = shutdown_rx.clone();
    tasks.push(tokio::spawn(async move {
        if let Err(e) = axum::serve(api_listener, router).with_graceful_shutdown(wait(rx)).await {
            tracing::error!(error = %e, "api listener failed");
        }
    }));

    // The flusher runs detached; the CWMP listener flushes it at shutdown.
    drop(flusher);

    Ok(RunningServer {
        cwmp_addr,
        cwmps_addr,
        api_addr,
        acs,
        usp_ws_addr,
        usp_wss_addr,
        usp,
        first_start,
        shutdown: shutdown_tx,
        tasks,
    })
}
