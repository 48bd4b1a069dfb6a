//! The CWMP HTTP listener: hyper HTTP/1.1 with keep-alive, one CWMP session per connection or
//! per cookie, CPE authentication, signed file downloads, graceful shutdown.
//!
//! Every path answers CWMP (CPEs are provisioned with whatever ACS URL the ISP chose), except
//! `GET /files/<name>`, which serves stored files to CPEs through signed URLs.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use cwmp_schema::{Body, CwmpVersion, DecodeError, Envelope, FaultCode, SoapFault};
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use rand::Rng;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::auth::AuthOutcome;
use crate::engine::Acs;
use crate::metrics::RejectReason;
use crate::session::{Reply, Session, Started};

/// Response body type of the CWMP listener.
pub type RespBody = BoxBody<Bytes, std::io::Error>;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "acsd_session";

/// Seconds a CPE is told to wait when the ACS is busy.
const RETRY_AFTER_SECS: &str = "30";

/// How long shutdown waits for connections to finish their request in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Per-connection state: the session this keep-alive connection carries.
#[derive(Debug)]
struct Connection {
    peer: SocketAddr,
    session: Mutex<Option<u64>>,
}

impl Connection {
    fn session(&self) -> Option<u64> {
        self.session.lock().map(|g| *g).unwrap_or(None)
    }
    fn set_session(&self, id: Option<u64>) {
        if let Ok(mut g) = self.session.lock() {
            *g = id;
        }
    }
}

pub(crate) fn full(bytes: impl Into<Bytes>) -> RespBody {
    Full::new(bytes.into()).map_err(|never: Infallible| match never {}).boxed()
}

fn plain(status: StatusCode, text: &'static str) -> Response<RespBody> {
    let mut r = Response::new(full(text));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

fn busy(text: &'static str) -> Response<RespBody> {
    let mut r = plain(StatusCode::SERVICE_UNAVAILABLE, text);
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECS));
    r
}

fn soap(envelope: &Envelope, version: CwmpVersion, fault: bool) -> Response<RespBody> {
    let bytes = cwmp_schema::encode(envelope, version);
    let mut r = Response::new(full(bytes));
    if fault {
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    }
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml; charset=\"utf-8\""));
    r
}

fn no_content() -> Response<RespBody> {
    let mut r = Response::new(full(Bytes::new()));
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

/// Serve CWMP on `listener` until `shutdown` resolves, then stop accepting, refuse new sessions
/// with 503, let requests in flight finish (bounded), and flush write-behind telemetry.
pub async fn serve(
    listener: TcpListener,
    acs: Acs,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    serve_with(listener, acs, shutdown, |s| async move { Ok(s) }).await
}

/// Like [`serve`], with every accepted TCP stream passed through `wrap` first (TLS).
pub async fn serve_with<W, F, S>(
    listener: TcpListener,
    acs: Acs,
    shutdown: impl Future<Output = ()> + Send,
    wrap: W,
) -> std::io::Result<()>
where
    W: Fn(tokio::net::TcpStream) -> F + Send + Sync + 'static,
    F: Future<Output = std::io::Result<S>> + Send + 'static,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let wrap = Arc::new(wrap);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let acs = acs.clone();
                let wrap = wrap.clone();
                let conn = Arc::new(Connection { peer, session: Mutex::new(None) });
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let io = match wrap(stream).await {
                        Ok(io) => io,
                        Err(e) => {
                            tracing::debug!(%peer, error = %e, "handshake failed");
                            return;
                        }
                    };
                    let conn2 = conn.clone();
                    let acs2 = acs.clone();
                    let svc = service_fn(move |req| {
                        let acs = acs2.clone();
                        let conn = conn2.clone();
                        async move { Ok::<_, Infallible>(handle(&acs, &conn, req).await) }
                    });
                    let http = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(Duration::from_secs(30))
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(io), svc);
                    if let Err(e) = watcher.watch(http).await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    connection_closed(&acs, &conn).await;
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    acs.begin_shutdown();
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(DRAIN_TIMEOUT) => {
            tracing::warn!("cwmp connections still open after the drain timeout");
        }
    }
    if let Err(e) = acs.flush().await {
        tracing::warn!(error = %e, "final telemetry flush failed");
    }
    Ok(())
}

/// A closed connection leaves its session to the cookie (a CPE may reconnect) and to the idle
/// sweeper; nothing to do here beyond logging.
async fn connection_closed(_acs: &Acs, conn: &Connection) {
    if let Some(id) = conn.session() {
        tracing::trace!(peer = %conn.peer, session = id, "connection closed with session open");
    }
}

fn session_from_cookie(acs: &Acs, headers: &http::HeaderMap) -> Option<u64> {
    let value = crate::cookie::find_cookie(headers, SESSION_COOKIE)?;
    let id = u64::from_str_radix(value, 16).ok()?;
    acs.inner.sessions.contains_key(&id).then_some(id)
}

async fn handle(acs: &Acs, conn: &Connection, req: Request<Incoming>) -> Response<RespBody> {
    if req.method() == Method::GET {
        if let Some(name) = req.uri().path().strip_prefix("/files/") {
            return crate::files::serve_signed(acs, name, &req).await;
        }
        return plain(StatusCode::METHOD_NOT_ALLOWED, "CWMP expects POST\n");
    }
    if req.method() != Method::POST {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "CWMP expects POST\n");
    }
    let metrics = &acs.inner.metrics;

    // Which session is this? The connection's, else the cookie's.
    let mut session_id = conn.session().filter(|id| acs.inner.sessions.contains_key(id));
    if session_id.is_none() {
        session_id = session_from_cookie(acs, req.headers());
    }

    // Requests outside an open session must authenticate.
    if session_id.is_none() {
        if acs.is_draining() {
            metrics.rejected(RejectReason::ShuttingDown);
            return busy("shutting down\n");
        }
        let outcome = acs.inner.auth.authenticate(
            req.method(),
            req.uri(),
            req.headers().get(header::AUTHORIZATION),
            &|u: &str| acs.cpe_password(u),
        );
        if let AuthOutcome::Rejected(challenge) = outcome {
            metrics.rejected(RejectReason::Unauthorized);
            tracing::debug!(peer = %conn.peer, reason = challenge.reason.as_str(), "cpe authentication failed");
            let mut r = plain(StatusCode::UNAUTHORIZED, "authentication required\n");
            challenge.apply(r.headers_mut());
            return r;
        }
    }

    let (parts, incoming) = req.into_parts();
    let charset = crate::body::charset_of(&parts.headers).map(str::to_owned);
    let body = match crate::body::read_body(
        incoming,
        &parts.headers,
        acs.inner.config.max_body_bytes,
        acs.inner.config.body_timeout,
    )
    .await
    {
        Ok(b) => b,
        Err(e) => {
            metrics.rejected(if matches!(e, crate::AcsError::BodyTooLarge { .. }) {
                RejectReason::TooLarge
            } else {
                RejectReason::Malformed
            });
            tracing::info!(peer = %conn.peer, error = %e, "unusable request body");
            end_session(acs, conn, session_id, "unusable request body").await;
            let mut r = plain(e.http_status(), "unusable request body\n");
            r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            return r;
        }
    };
    metrics.request_bytes.inc_by(u64::try_from(body.len()).unwrap_or(u64::MAX));

    // An empty POST (whitespace only counts as empty).
    if body.iter().all(u8::is_ascii_whitespace) {
        let Some(id) = session_id else {
            metrics.rejected(RejectReason::NoSession);
            return plain(
                StatusCode::BAD_REQUEST,
                "empty request outside a session: start with an Inform\n",
            );
        };
        return continue_session(acs, conn, id, None).await;
    }

    let decoded = match cwmp_schema::decode_with_charset(&body, charset.as_deref()) {
        Ok(d) => d,
        Err(DecodeError::UnknownMethod { name, id, version }) => {
            metrics.rejected(RejectReason::UnknownMethod);
            tracing::info!(peer = %conn.peer, method = %name, "unknown cwmp method");
            if let Some(sid) = session_id {
                touch(acs, sid);
            }
            let env = Envelope::new(
                id,
                Body::Fault(SoapFault::new(
                    FaultCode::MethodNotSupported,
                    format!("method {name} is not supported"),
                )),
            );
            return soap(&env, version.unwrap_or(CwmpVersion::V1_0), true);
        }
        Err(e) => {
            metrics.rejected(RejectReason::Malformed);
            tracing::info!(peer = %conn.peer, error = %e, "malformed cwmp envelope");
            end_session(acs, conn, session_id, "malformed envelope").await;
            let mut r = plain(StatusCode::BAD_REQUEST, "malformed CWMP envelope\n");
            r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            return r;
        }
    };
    if !decoded.warnings.is_empty() {
        tracing::debug!(peer = %conn.peer, warnings = ?decoded.warnings, "tolerated envelope quirks");
    }
    let version = decoded.version;
    let Envelope { header, body } = decoded.envelope;
    metrics.received(body.method_name());

    match body {
        Body::Inform(inform) => {
            // An Inform always starts a new session; an older one on this connection is over.
            if let Some(old) = session_id {
                end_session(acs, conn, Some(old), "new inform on the same connection").await;
            }
            if acs.is_draining() {
                metrics.rejected(RejectReason::ShuttingDown);
                return busy("shutting down\n");
            }
            if acs.inner.sessions.len() >= acs.inner.config.max_sessions {
                metrics.rejected(RejectReason::Busy);
                return busy("too many sessions\n");
            }
            let id: u64 = rand::rng().random();
            let ip = Some(conn.peer.ip().to_string());
            let span = tracing::info_span!("cwmp_session", session = %format!("{id:016x}"), device = tracing::field::Empty);
            let started = Session::start(acs, id, &header, version, inform, ip)
                .instrument(span.clone())
                .await;
            match started {
                Ok(Started::Session(session, reply)) => {
                    span.record("device", session.device_id.as_str());
                    acs.inner.sessions.insert(id, Arc::new(tokio::sync::Mutex::new(*session)));
                    metrics
                        .active_sessions
                        .set(i64::try_from(acs.inner.sessions.len()).unwrap_or(0));
                    conn.set_session(Some(id));
                    let mut resp = render(reply);
                    if let Ok(v) = HeaderValue::from_str(&format!(
                        "{SESSION_COOKIE}={id:016x}; Path=/; HttpOnly"
                    )) {
                        resp.headers_mut().insert(header::SET_COOKIE, v);
                    }
                    resp
                }
                Ok(Started::Busy) => {
                    metrics.rejected(RejectReason::Busy);
                    busy("another session of this device is in progress\n")
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not start session");
                    busy("temporarily unable to serve\n")
                }
            }
        }
        other => {
            let Some(id) = session_id else {
                metrics.rejected(RejectReason::NoSession);
                let env = Envelope::new(
                    header.id.clone(),
                    Body::Fault(SoapFault::new(
                        FaultCode::RequestDenied,
                        "a session starts with an Inform",
                    )),
                );
                return soap(&env, version, true);
            };
            continue_session(acs, conn, id, Some((header, other))).await
        }
    }
}

fn touch(acs: &Acs, id: u64) {
    if let Some(s) = acs.inner.sessions.get(&id) {
        if let Ok(mut s) = s.try_lock() {
            s.last_activity = tokio::time::Instant::now();
        }
    }
}

async fn continue_session(
    acs: &Acs,
    conn: &Connection,
    id: u64,
    message: Option<(cwmp_schema::Header, Body)>,
) -> Response<RespBody> {
    let Some(session) = acs.inner.sessions.get(&id).map(|s| s.clone()) else {
        acs.inner.metrics.rejected(RejectReason::NoSession);
        return plain(StatusCode::BAD_REQUEST, "no such session\n");
    };
    conn.set_session(Some(id));
    let mut s = session.lock().await;
    if s.finished {
        return no_content();
    }
    let span =
        tracing::info_span!("cwmp_session", session = %format!("{id:016x}"), device = %s.device_id);
    let reply = match s.on_request(acs, message).instrument(span).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "session failed");
            s.abort(acs, "internal error").await;
            Reply::Done
        }
    };
    let done = s.finished;
    drop(s);
    if done {
        acs.inner.sessions.remove(&id);
        acs.inner.metrics.active_sessions.set(i64::try_from(acs.inner.sessions.len()).unwrap_or(0));
        conn.set_session(None);
    }
    render(reply)
}

async fn end_session(acs: &Acs, conn: &Connection, id: Option<u64>, reason: &str) {
    conn.set_session(None);
    let Some(id) = id else { return };
    if let Some((_, session)) = acs.inner.sessions.remove(&id) {
        let mut s = session.lock().await;
        s.abort(acs, reason).await;
    }
    acs.inner.metrics.active_sessions.set(i64::try_from(acs.inner.sessions.len()).unwrap_or(0));
}

fn render(reply: Reply) -> Response<RespBody> {
    match reply {
        Reply::Envelope { envelope, version, fault } => soap(&envelope, version, fault),
        Reply::Done => no_content(),
    }
}
