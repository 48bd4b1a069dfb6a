//! ACS → CPE connection requests.
//!
//! * [`connection_request`]: the TR-069 HTTP connection request — a `GET` with an empty body to
//!   the device's `ConnectionRequestURL`, first without credentials; on `401` it answers the
//!   device's challenge (Digest `MD5`, `MD5-sess`, `SHA-256`, `SHA-256-sess`, with `qop=auth`
//!   or RFC 2069 style without qop; or Basic) using the request target as the digest `uri`.
//!   `2xx` means the device will call in; `503` means "busy, try later" (with `Retry-After` when
//!   the device sent one). One TCP connection per attempt (CPE HTTP servers are minimal and many
//!   close after a 401). Only `http://` URLs are supported.
//! * [`ConnReqLimiter`]: bounds how many connection requests run at once.
//! * TR-111 Part 2 / TR-069 Annex G UDP connection requests for devices behind NAT:
//!   [`udp_connection_request_message`] builds the signed message
//!   `GET http://<addr>?ts=<unix>&id=<n>&un=<user>&cn=<cnonce>&sig=<hex> HTTP/1.1`, where `sig`
//!   is HMAC-SHA1 keyed with the ConnectionRequestPassword over the concatenation of the `ts`,
//!   `id`, `un` and `cn` values; [`send_udp_connection_request`] sends it several times, as the
//!   spec recommends for an unacknowledged datagram.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::header::{AUTHORIZATION, HOST, RETRY_AFTER, USER_AGENT, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use sha1::Sha1;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::Semaphore;

use crate::auth::{digest_response, parse_challenges, AuthParams, DigestAlgorithm, DigestInput};
use crate::error::AcsError;

/// `User-Agent` we send.
const USER_AGENT_VALUE: &str = concat!("acsd/", env!("CARGO_PKG_VERSION"));

/// How many times a UDP connection request is sent by default.
pub const UDP_REPEATS: u32 = 3;

/// Default gap between UDP copies.
pub const UDP_INTERVAL: Duration = Duration::from_millis(200);

/// Default timeout of one HTTP connection request (all attempts included).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the device said to a connection request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnReqOutcome {
    /// The device accepted (`2xx`); it should open a session shortly.
    Accepted,
    /// The device answered `503`: it is busy or rate-limiting; retry later.
    Busy {
        /// The device's `Retry-After`, if it sent a usable one.
        retry_after: Option<Duration>,
    },
}

/// Where to send the request, derived from the ConnectionRequestURL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    /// `host:port` to connect to (IPv6 hosts bracketed).
    connect: String,
    /// The `Host` header value (authority as written in the URL).
    host_header: String,
    /// The request target (path and query), also the Digest `uri`.
    path_and_query: String,
}

fn parse_target(url: &str) -> Result<Target, AcsError> {
    let invalid = |reason: &str| AcsError::InvalidConnReqUrl {
        url: url.chars().take(256).collect(),
        reason: reason.to_owned(),
    };
    let uri: Uri = url.trim().parse().map_err(|_| invalid("not a valid url"))?;
    match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("http") => {}
        Some(s) => return Err(AcsError::UnsupportedConnReqScheme(s.to_owned())),
        None => return Err(invalid("no scheme")),
    }
    let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
    let host = authority.host();
    if host.is_empty() {
        return Err(invalid("no host"));
    }
    if authority.as_str().contains('@') {
        return Err(invalid("credentials in the url are not supported"));
    }
    let port = authority.port_u16().unwrap_or(80);
    // `Authority::host` keeps IPv6 brackets, which is what `TcpStream::connect` wants.
    let connect = format!("{host}:{port}");
    let path_and_query = uri
        .path_and_query()
        .map(|p| p.as_str())
        .filter(|p| !p.is_empty())
        .unwrap_or("/")
        .to_owned();
    Ok(Target { connect, host_header: authority.as_str().to_owned(), path_and_query })
}

/// Status and headers of a device's answer (the body is ignored).
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
}

async fn send_once(
    target: &Target,
    authorization: Option<HeaderValue>,
) -> Result<Answer, AcsError> {
    let stream = TcpStream::connect(&target.connect)
        .await
        .map_err(|source| AcsError::ConnReqConnect { addr: target.connect.clone(), source })?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| AcsError::ConnReqHttp(e.to_string()))?;
    let mut req = Request::builder()
        .method(Method::GET)
        .uri(target.path_and_query.as_str())
        .header(USER_AGENT, USER_AGENT_VALUE);
    if let Ok(h) = HeaderValue::from_str(&target.host_header) {
        req = req.header(HOST, h);
    }
    if let Some(a) = authorization {
        req = req.header(AUTHORIZATION, a);
    }
    let req = req
        .body(Empty::<Bytes>::new())
        .map_err(|e| AcsError::Internal(format!("building connection request: {e}")))?;

    // Drive the connection in this task, so that dropping this future (timeout) closes the
    // socket instead of leaving a background task behind.
    let mut conn = std::pin::pin!(conn);
    let send = sender.send_request(req);
    let mut send = std::pin::pin!(send);
    let resp = tokio::select! {
        biased;
        r = &mut send => r,
        _ = &mut conn => send.await,
    }
    .map_err(|e| AcsError::ConnReqHttp(e.to_string()))?;
    let (parts, _body) = resp.into_parts();
    Ok(Answer { status: parts.status, headers: parts.headers })
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

fn classify(answer: &Answer) -> Result<ConnReqOutcome, AcsError> {
    let status = answer.status;
    if status.is_success() {
        Ok(ConnReqOutcome::Accepted)
    } else if status == StatusCode::SERVICE_UNAVAILABLE {
        Ok(ConnReqOutcome::Busy { retry_after: retry_after(&answer.headers) })
    } else if status == StatusCode::UNAUTHORIZED {
        Err(AcsError::ConnReqAuthRejected)
    } else {
        Err(AcsError::ConnReqStatus(status.as_u16()))
    }
}

fn challenges_of(headers: &HeaderMap) -> Vec<AuthParams> {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .flat_map(|v| parse_challenges(&String::from_utf8_lossy(v.as_bytes())))
        .collect()
}

/// Escapes a value for a quoted-string.
fn quote(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn random_cnonce() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Answers one Digest challenge.
fn digest_authorization(
    ch: &AuthParams,
    algorithm: DigestAlgorithm,
    username: &str,
    password: &str,
    uri: &str,
) -> Result<String, AcsError> {
    let nonce = ch
        .get("nonce")
        .ok_or_else(|| AcsError::ConnReqBadChallenge("digest challenge without a nonce".into()))?;
    let realm = ch.get("realm").unwrap_or("");
    let qop_offered = ch.get("qop");
    let use_qop = match qop_offered {
        None => false,
        Some(list) => {
            if list.split(',').any(|q| q.trim().eq_ignore_ascii_case("auth")) {
                true
            } else {
                return Err(AcsError::ConnReqBadChallenge(format!("unsupported qop {list:?}")));
            }
        }
    };
    let cnonce = random_cnonce();
    let nc = "00000001";
    let response = digest_response(&DigestInput {
        algorithm,
        username,
        realm,
        password,
        method: "GET",
        uri,
        nonce,
        qop: use_qop.then_some(("auth", nc, cnonce.as_str())),
        sess_cnonce: Some(&cnonce),
    });
    let mut h = format!(
        "Digest username={}, realm={}, nonce={}, uri={}, response=\"{response}\"",
        quote(username),
        quote(realm),
        quote(nonce),
        quote(uri),
    );
    if ch.get("algorithm").is_some() || algorithm != DigestAlgorithm::Md5 {
        h.push_str(", algorithm=");
        h.push_str(algorithm.as_str());
    }
    if let Some(opaque) = ch.get("opaque") {
        h.push_str(", opaque=");
        h.push_str(&quote(opaque));
    }
    if use_qop || algorithm == DigestAlgorithm::Md5Sess || algorithm == DigestAlgorithm::Sha256Sess
    {
        h.push_str(", cnonce=");
        h.push_str(&quote(&cnonce));
    }
    if use_qop {
        h.push_str(", qop=auth, nc=");
        h.push_str(nc);
    }
    Ok(h)
}

/// Picks the strongest challenge we can answer and builds the `Authorization` value:
/// Digest SHA-256 over Digest MD5 over Basic.
fn authorization_for(
    challenges: &[AuthParams],
    username: &str,
    password: &str,
    uri: &str,
) -> Result<HeaderValue, AcsError> {
    let rank = |a: DigestAlgorithm| match a {
        DigestAlgorithm::Sha256 | DigestAlgorithm::Sha256Sess => 2,
        DigestAlgorithm::Md5 | DigestAlgorithm::Md5Sess => 1,
    };
    let best_digest = challenges
        .iter()
        .filter(|c| c.is("digest"))
        .filter_map(|c| DigestAlgorithm::parse(c.get("algorithm")).map(|a| (c, a)))
        .max_by_key(|(_, a)| rank(*a));
    let text = if let Some((ch, alg)) = best_digest {
        digest_authorization(ch, alg, username, password, uri)?
    } else if challenges.iter().any(|c| c.is("basic")) {
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        format!("Basic {token}")
    } else if challenges.is_empty() {
        return Err(AcsError::ConnReqBadChallenge("401 without WWW-Authenticate".into()));
    } else {
        let schemes: Vec<&str> = challenges.iter().map(|c| c.scheme.as_str()).collect();
        return Err(AcsError::ConnReqBadChallenge(format!(
            "no supported scheme among {schemes:?}"
        )));
    };
    HeaderValue::from_str(&text).map_err(|_| {
        AcsError::ConnReqBadChallenge(
            "credentials contain characters not allowed in a header".into(),
        )
    })
}

fn is_stale(challenges: &[AuthParams]) -> bool {
    challenges.iter().any(|c| {
        c.is("digest") && c.get("stale").is_some_and(|s| s.trim().eq_ignore_ascii_case("true"))
    })
}

async fn connection_request_inner(
    target: &Target,
    username: &str,
    password: &str,
) -> Result<ConnReqOutcome, AcsError> {
    let first = send_once(target, None).await?;
    if first.status != StatusCode::UNAUTHORIZED {
        return classify(&first);
    }
    let mut challenges = challenges_of(&first.headers);
    // One authenticated attempt, plus one more if the device says our nonce went stale.
    for attempt in 0..2 {
        let auth = authorization_for(&challenges, username, password, &target.path_and_query)?;
        let answer = send_once(target, Some(auth)).await?;
        if answer.status != StatusCode::UNAUTHORIZED {
            return classify(&answer);
        }
        challenges = challenges_of(&answer.headers);
        if attempt == 0 && is_stale(&challenges) {
            continue;
        }
        break;
    }
    Err(AcsError::ConnReqAuthRejected)
}

/// Sends an HTTP connection request to `url` and reports what the device said.
/// `timeout` bounds the whole exchange (connects, challenge, authenticated retry).
pub async fn connection_request(
    url: &str,
    username: &str,
    password: &str,
    timeout: Duration,
) -> Result<ConnReqOutcome, AcsError> {
    let target = parse_target(url)?;
    tokio::time::timeout(timeout, connection_request_inner(&target, username, password))
        .await
        .map_err(|_| AcsError::ConnReqTimeout(timeout))?
}

/// Bounds the number of connection requests in flight (a town-wide outage must not open
/// thousands of sockets at once). Cheap to clone; clones share the bound.
#[derive(Debug, Clone)]
pub struct ConnReqLimiter {
    permits: Arc<Semaphore>,
    timeout: Duration,
}

impl ConnReqLimiter {
    /// At most `max_concurrent` requests at once (at least 1), each bounded by `timeout`.
    pub fn new(max_concurrent: usize, timeout: Duration) -> Self {
        ConnReqLimiter { permits: Arc::new(Semaphore::new(max_concurrent.max(1))), timeout }
    }

    /// Free slots right now.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }

    /// Waits for a slot, then runs [`connection_request`].
    pub async fn connection_request(
        &self,
        url: &str,
        username: &str,
        password: &str,
    ) -> Result<ConnReqOutcome, AcsError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| AcsError::Internal("connection request limiter closed".into()))?;
        connection_request(url, username, password, self.timeout).await
    }
}

// ---------------------------------------------------------------------------------------------
// TR-111 UDP connection requests
// ---------------------------------------------------------------------------------------------

/// Characters escaped in the `un`/`cn` query values: controls, space and the delimiters that
/// would break the request line or the query.
const QUERY_VALUE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'<')
    .add(b'>')
    .add(b'=')
    .add(b'?');

/// The TR-111 signature: lower-case hex HMAC-SHA1(key = password, text = ts ‖ id ‖ un ‖ cn).
pub fn udp_signature(password: &str, ts: u64, id: u32, username: &str, cnonce: &str) -> String {
    let mut mac = match Hmac::<Sha1>::new_from_slice(password.as_bytes()) {
        Ok(m) => m,
        // HMAC takes keys of any length; unreachable.
        Err(_) => <Hmac<Sha1> as hmac::digest::KeyInit>::new(&Default::default()),
    };
    mac.update(ts.to_string().as_bytes());
    mac.update(id.to_string().as_bytes());
    mac.update(username.as_bytes());
    mac.update(cnonce.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The UDP connection request datagram for the device at `addr` (its
/// `UDPConnectionRequestAddress`, `host:port`):
/// `GET http://<addr>?ts=<ts>&id=<id>&un=<user>&cn=<cnonce>&sig=<sig> HTTP/1.1` followed by a
/// `Host` header and the empty line. The signature covers the raw (unescaped) values.
pub fn udp_connection_request_message(
    addr: &str,
    username: &str,
    password: &str,
    ts: u64,
    id: u32,
    cnonce: &str,
) -> String {
    let sig = udp_signature(password, ts, id, username, cnonce);
    format!(
        "GET http://{addr}?ts={ts}&id={id}&un={}&cn={}&sig={sig} HTTP/1.1\r\nHost: {addr}\r\n\r\n",
        utf8_percent_encode(username, QUERY_VALUE),
        utf8_percent_encode(cnonce, QUERY_VALUE),
    )
}

/// How UDP connection requests are repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpOptions {
    /// Copies to send (at least 1).
    pub repeats: u32,
    /// Gap between copies.
    pub interval: Duration,
}

impl Default for UdpOptions {
    fn default() -> Self {
        UdpOptions { repeats: UDP_REPEATS, interval: UDP_INTERVAL }
    }
}

/// Sends a TR-111 UDP connection request to `addr` with [`UdpOptions::default`].
/// Success means the datagrams left this host; UDP gives no delivery signal (the device's
/// `6 CONNECTION REQUEST` Inform is the confirmation).
pub async fn send_udp_connection_request(
    addr: &str,
    username: &str,
    password: &str,
) -> Result<(), AcsError> {
    send_udp_connection_request_with(addr, username, password, UdpOptions::default()).await
}

/// [`send_udp_connection_request`] with explicit repetition settings. Every copy carries the
/// same `id`, so the device acts on the first one that arrives and ignores the rest.
pub async fn send_udp_connection_request_with(
    addr: &str,
    username: &str,
    password: &str,
    options: UdpOptions,
) -> Result<(), AcsError> {
    let invalid = |reason: String| AcsError::InvalidUdpAddress {
        addr: addr.chars().take(256).collect(),
        reason,
    };
    let target = tokio::net::lookup_host(addr.trim())
        .await
        .map_err(|e| invalid(e.to_string()))?
        .next()
        .ok_or_else(|| invalid("resolves to no address".into()))?;
    let bind = if target.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let socket = UdpSocket::bind(bind).await?;
    let ts = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let id = rand::random::<u32>();
    let cnonce = random_cnonce();
    let message = udp_connection_request_message(addr.trim(), username, password, ts, id, &cnonce);
    for i in 0..options.repeats.max(1) {
        if i > 0 && !options.interval.is_zero() {
            tokio::time::sleep(options.interval).await;
        }
        socket.send_to(message.as_bytes(), target).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use http_body_util::Full;
    use hyper::server::conn::http1;
    use hyper::service::service_fn;

    use crate::auth::{AuthOutcome, Authenticator, CpeAuthMode};

    /// How the test CPE challenges.
    #[derive(Clone, Copy, PartialEq, Debug)]
    enum Style {
        /// qop="auth", MD5 (our Authenticator's own challenge).
        DigestQop,
        /// RFC 2069: no qop.
        Digest2069,
        /// algorithm=SHA-256 with qop.
        DigestSha256,
        /// Basic.
        Basic,
        /// Always 503 with Retry-After: 120.
        Busy,
        /// Accepts without authentication, answers 204.
        Open,
        /// Accept the TCP connection but never answer.
        Silent,
    }

    struct Cpe {
        addr: std::net::SocketAddr,
        requests: Arc<AtomicUsize>,
        authorizations: Arc<Mutex<Vec<String>>>,
    }

    async fn spawn_cpe(style: Style, path: &'static str) -> Cpe {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let authorizations = Arc::new(Mutex::new(Vec::new()));
        let auth = Arc::new(Authenticator::new(
            if style == Style::Basic { CpeAuthMode::Basic } else { CpeAuthMode::Digest },
            "cpe",
            b"test cpe secret",
        ));
        let (req_count, seen) = (requests.clone(), authorizations.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                if style == Style::Silent {
                    // Hold the socket open without answering.
                    tokio::spawn(async move {
                        let _keep = stream;
                        std::future::pending::<()>().await;
                    });
                    continue;
                }
                let (auth, req_count, seen) = (auth.clone(), req_count.clone(), seen.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let (auth, req_count, seen) =
                            (auth.clone(), req_count.clone(), seen.clone());
                        async move {
                            req_count.fetch_add(1, Ordering::SeqCst);
                            assert_eq!(req.method(), Method::GET);
                            assert_eq!(req.uri().path(), path);
                            let authz = req.headers().get(AUTHORIZATION).cloned();
                            if let Some(a) = &authz {
                                seen.lock().unwrap().push(a.to_str().unwrap().to_owned());
                            }
                            let mut resp = hyper::Response::new(Full::new(Bytes::new()));
                            match style {
                                Style::Busy => {
                                    *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                                    resp.headers_mut()
                                        .insert(RETRY_AFTER, HeaderValue::from_static("120"));
                                    return Ok::<_, Infallible>(resp);
                                }
                                Style::Open => {
                                    *resp.status_mut() = StatusCode::NO_CONTENT;
                                    return Ok(resp);
                                }
                                _ => {}
                            }
                            let creds = |u: &str| (u == "cr-user").then(|| "cr pass".to_owned());
                            let outcome =
                                auth.authenticate(req.method(), req.uri(), authz.as_ref(), &creds);
                            match outcome {
                                AuthOutcome::Authenticated { .. } | AuthOutcome::Anonymous => {
                                    *resp.status_mut() = StatusCode::OK;
                                }
                                AuthOutcome::Rejected(ch) => {
                                    *resp.status_mut() = StatusCode::UNAUTHORIZED;
                                    let value = match style {
                                        Style::Digest2069 => HeaderValue::from_str(&format!(
                                            "Digest realm=\"cpe\", nonce=\"{}\"",
                                            auth.new_nonce_at(
                                                SystemTime::now()
                                                    .duration_since(UNIX_EPOCH)
                                                    .unwrap()
                                                    .as_secs()
                                            )
                                        ))
                                        .unwrap(),
                                        Style::DigestSha256 => HeaderValue::from_str(
                                            &ch.www_authenticate[0]
                                                .to_str()
                                                .unwrap()
                                                .replace("algorithm=MD5", "algorithm=SHA-256"),
                                        )
                                        .unwrap(),
                                        _ => ch.www_authenticate[0].clone(),
                                    };
                                    resp.headers_mut().insert(WWW_AUTHENTICATE, value);
                                }
                            }
                            Ok(resp)
                        }
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
                });
            }
        });
        Cpe { addr, requests, authorizations }
    }

    const T: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn digest_with_qop() {
        let cpe = spawn_cpe(Style::DigestQop, "/cr").await;
        let url = format!("http://{}/cr", cpe.addr);
        let out = connection_request(&url, "cr-user", "cr pass", T).await.unwrap();
        assert_eq!(out, ConnReqOutcome::Accepted);
        assert_eq!(cpe.requests.load(Ordering::SeqCst), 2);
        let seen = cpe.authorizations.lock().unwrap().clone();
        assert_eq!(seen.len(), 1);
        assert!(seen[0].starts_with("Digest username=\"cr-user\""), "{}", seen[0]);
        assert!(seen[0].contains("qop=auth, nc=00000001"), "{}", seen[0]);
        assert!(seen[0].contains("uri=\"/cr\""), "{}", seen[0]);
        assert!(seen[0].contains("opaque="), "{}", seen[0]);
    }

    #[tokio::test]
    async fn digest_rfc2069_without_qop() {
        let cpe = spawn_cpe(Style::Digest2069, "/").await;
        let url = format!("http://{}", cpe.addr);
        let out = connection_request(&url, "cr-user", "cr pass", T).await.unwrap();
        assert_eq!(out, ConnReqOutcome::Accepted);
        let seen = cpe.authorizations.lock().unwrap().clone();
        assert!(!seen[0].contains("qop"), "{}", seen[0]);
        assert!(!seen[0].contains("cnonce"), "{}", seen[0]);
    }

    #[tokio::test]
    async fn digest_sha256() {
        let cpe = spawn_cpe(Style::DigestSha256, "/x").await;
        let url = format!("http://{}/x?k=v", cpe.addr);
        let out = connection_request(&url, "cr-user", "cr pass", T).await.unwrap();
        assert_eq!(out, ConnReqOutcome::Accepted);
        let seen = cpe.authorizations.lock().unwrap().clone();
        assert!(seen[0].contains("algorithm=SHA-256"), "{}", seen[0]);
        assert!(seen[0].contains("uri=\"/x?k=v\""), "{}", seen[0]);
    }

    #[tokio::test]
    async fn basic() {
        let cpe = spawn_cpe(Style::Basic, "/").await;
        let url = format!("http://{}/", cpe.addr);
        let out = connection_request(&url, "cr-user", "cr pass", T).await.unwrap();
        assert_eq!(out, ConnReqOutcome::Accepted);
        let seen = cpe.authorizations.lock().unwrap().clone();
        assert_eq!(seen, vec!["Basic Y3ItdXNlcjpjciBwYXNz".to_owned()]);
    }

    #[tokio::test]
    async fn wrong_password_is_rejected() {
        for style in [Style::DigestQop, Style::Digest2069, Style::Basic] {
            let cpe = spawn_cpe(style, "/").await;
            let url = format!("http://{}/", cpe.addr);
            let err = connection_request(&url, "cr-user", "wrong", T).await.unwrap_err();
            assert!(matches!(err, AcsError::ConnReqAuthRejected), "{style:?}: {err:?}");
            assert_eq!(cpe.requests.load(Ordering::SeqCst), 2, "{style:?}");
        }
    }

    #[tokio::test]
    async fn busy_with_retry_after() {
        let cpe = spawn_cpe(Style::Busy, "/").await;
        let url = format!("http://{}/", cpe.addr);
        let out = connection_request(&url, "u", "p", T).await.unwrap();
        assert_eq!(out, ConnReqOutcome::Busy { retry_after: Some(Duration::from_secs(120)) });
    }

    #[tokio::test]
    async fn open_device_and_limiter() {
        let cpe = spawn_cpe(Style::Open, "/").await;
        let url = format!("http://{}/", cpe.addr);
        let limiter = ConnReqLimiter::new(2, T);
        assert_eq!(limiter.available(), 2);
        let (a, b, c) = tokio::join!(
            limiter.connection_request(&url, "u", "p"),
            limiter.connection_request(&url, "u", "p"),
            limiter.connection_request(&url, "u", "p"),
        );
        for r in [a, b, c] {
            assert_eq!(r.unwrap(), ConnReqOutcome::Accepted);
        }
        assert_eq!(limiter.available(), 2);
        assert_eq!(cpe.requests.load(Ordering::SeqCst), 3);
        assert_eq!(ConnReqLimiter::new(0, T).available(), 1);
    }

    #[tokio::test]
    async fn silent_device_times_out() {
        let cpe = spawn_cpe(Style::Silent, "/").await;
        let url = format!("http://{}/", cpe.addr);
        let err = connection_request(&url, "u", "p", Duration::from_millis(100)).await.unwrap_err();
        assert!(matches!(err, AcsError::ConnReqTimeout(_)), "{err:?}");
    }

    #[tokio::test]
    async fn refused_connection() {
        // Bind then drop to get a port nobody listens on.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = connection_request(&format!("http://127.0.0.1:{port}/"), "u", "p", T)
            .await
            .unwrap_err();
        assert!(matches!(err, AcsError::ConnReqConnect { .. }), "{err:?}");
    }

    #[test]
    fn url_parsing() {
        let t = parse_target("http://10.0.0.1:7547/abc?x=1").unwrap();
        assert_eq!(t.connect, "10.0.0.1:7547");
        assert_eq!(t.host_header, "10.0.0.1:7547");
        assert_eq!(t.path_and_query, "/abc?x=1");
        let t = parse_target("HTTP://[2001:db8::1]/").unwrap();
        assert_eq!(t.connect, "[2001:db8::1]:80");
        assert_eq!(t.path_and_query, "/");
        let t = parse_target("http://cpe.example").unwrap();
        assert_eq!(t.connect, "cpe.example:80");
        assert_eq!(t.path_and_query, "/");
        assert!(matches!(
            parse_target("https://10.0.0.1/"),
            Err(AcsError::UnsupportedConnReqScheme(_))
        ));
        assert!(matches!(
            parse_target("10.0.0.1:7547"),
            Err(AcsError::InvalidConnReqUrl { .. }) | Err(AcsError::UnsupportedConnReqScheme(_))
        ));
        assert!(matches!(parse_target("not a url"), Err(AcsError::InvalidConnReqUrl { .. })));
        assert!(matches!(parse_target(""), Err(AcsError::InvalidConnReqUrl { .. })));
        assert!(parse_target("http://u:p@h/").is_err());
    }

    #[test]
    fn challenge_selection() {
        let ch = parse_challenges(
            "Basic realm=\"r\", Digest realm=\"r\", nonce=\"n1\", qop=\"auth\", Digest realm=\"r\", nonce=\"n2\", algorithm=SHA-256, qop=\"auth\"",
        );
        let h = authorization_for(&ch, "u", "p", "/").unwrap();
        let s = h.to_str().unwrap();
        assert!(s.starts_with("Digest "), "{s}");
        assert!(s.contains("nonce=\"n2\"") && s.contains("algorithm=SHA-256"), "{s}");
        let ch = parse_challenges("Negotiate, NTLM");
        assert!(matches!(
            authorization_for(&ch, "u", "p", "/"),
            Err(AcsError::ConnReqBadChallenge(_))
        ));
        assert!(authorization_for(&[], "u", "p", "/").is_err());
        let ch = parse_challenges("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"");
        assert!(authorization_for(&ch, "u", "p", "/").is_err());
        let ch = parse_challenges("Digest realm=\"r\"");
        assert!(authorization_for(&ch, "u", "p", "/").is_err());
        // MD5-sess carries a cnonce even without qop.
        let ch = parse_challenges("Digest realm=\"r\", nonce=\"n\", algorithm=MD5-sess");
        let s = authorization_for(&ch, "u", "p", "/").unwrap();
        assert!(s.to_str().unwrap().contains("cnonce="));
        // Quotes in the username are escaped.
        let ch = parse_challenges("Digest realm=\"r\", nonce=\"n\"");
        let s = authorization_for(&ch, "a\"b", "p", "/").unwrap();
        assert!(s.to_str().unwrap().contains("username=\"a\\\"b\""));
    }

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("30"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(30)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        let future = SystemTime::now() + Duration::from_secs(3600);
        h.insert(RETRY_AFTER, HeaderValue::from_str(&httpdate::fmt_http_date(future)).unwrap());
        let d = retry_after(&h).unwrap();
        assert!(d > Duration::from_secs(3500) && d <= Duration::from_secs(3600));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn udp_message_format() {
        let msg = udp_connection_request_message(
            "192.0.2.1:7547",
            "user",
            "pass",
            1_700_000_000,
            42,
            "c0ffee",
        );
        let sig = udp_signature("pass", 1_700_000_000, 42, "user", "c0ffee");
        assert_eq!(sig.len(), 40);
        assert_eq!(
            msg,
            format!(
                "GET http://192.0.2.1:7547?ts=1700000000&id=42&un=user&cn=c0ffee&sig={sig} HTTP/1.1\r\nHost: 192.0.2.1:7547\r\n\r\n"
            )
        );
        // Independent check of the HMAC: RFC 2202 test case 2 for HMAC-SHA1.
        let mut mac = Hmac::<Sha1>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        // ts ‖ id ‖ un ‖ cn is what is signed.
        let mut mac = Hmac::<Sha1>::new_from_slice(b"pass").unwrap();
        mac.update(b"170000000042userc0ffee");
        assert_eq!(hex::encode(mac.finalize().into_bytes()), sig);
        // Awkward usernames are escaped in the URL, not in the signature.
        let msg = udp_connection_request_message("h:1", "a b&c", "p", 1, 2, "n");
        assert!(msg.contains("un=a%20b%26c&"), "{msg}");
    }

    #[tokio::test]
    async fn udp_request_is_received_and_verifies() {
        let cpe = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = cpe.local_addr().unwrap().to_string();
        send_udp_connection_request_with(
            &addr,
            "cr-user",
            "cr pass",
            UdpOptions { repeats: 2, interval: Duration::ZERO },
        )
        .await
        .unwrap();
        let mut buf = [0u8; 1500];
        let mut copies = Vec::new();
        for _ in 0..2 {
            let (n, _) = tokio::time::timeout(T, cpe.recv_from(&mut buf)).await.unwrap().unwrap();
            copies.push(String::from_utf8(buf[..n].to_vec()).unwrap());
        }
        assert_eq!(copies[0], copies[1], "every copy is the same message");
        let msg = &copies[0];
        let line = msg.lines().next().unwrap();
        let url = line.strip_prefix("GET ").and_then(|l| l.strip_suffix(" HTTP/1.1")).unwrap();
        let query = url.strip_prefix(&format!("http://{addr}?")).unwrap();
        let params: std::collections::HashMap<&str, &str> =
            query.split('&').filter_map(|kv| kv.split_once('=')).collect();
        let ts: u64 = params["ts"].parse().unwrap();
        let id: u32 = params["id"].parse().unwrap();
        assert_eq!(params["un"], "cr-user");
        assert_eq!(params["sig"], udp_signature("cr pass", ts, id, "cr-user", params["cn"]));
        assert!(msg.ends_with("\r\n\r\n"));
    }

    #[tokio::test]
    async fn udp_bad_address() {
        let err = send_udp_connection_request("no-port-here", "u", "p").await.unwrap_err();
        assert!(matches!(err, AcsError::InvalidUdpAddress { .. }), "{err:?}");
    }
}
