//! One CWMP session from the CPE side: Inform (with Digest/Basic on a 401), the CPE's own
//! TransferComplete, then empty POST and one answer per ACS request until `204 No Content`.
//! The session rides one keep-alive connection and carries the ACS's cookie, reconnecting with
//! it if the server closes the connection mid-session.

use std::net::SocketAddr;
use std::time::Duration;

use cwmp_schema::{decode, encode_into, Body, CwmpVersion, Envelope, EventStruct};

use crate::cpe::{Action, Cpe};
use crate::digest;
use crate::error::FleetError;
use crate::http::{cookie_pair, write_request, Conn, Url};

/// Most ACS requests answered in one session before the simulator gives up.
const MAX_RPCS: u32 = 1000;

/// Where and how to reach the ACS.
#[derive(Debug, Clone)]
pub struct Target {
    /// The ACS URL.
    pub url: Url,
    /// Resolved address of the URL.
    pub addr: SocketAddr,
    /// CPE username for Basic/Digest, if the ACS wants one.
    pub username: Option<String>,
    /// CPE password.
    pub password: Option<String>,
    /// Timeout of one HTTP exchange.
    pub timeout: Duration,
    /// Namespace the CPE speaks.
    pub version: CwmpVersion,
    /// Pause between the InformResponse and the next POST (holds sessions open).
    pub think: Duration,
    /// Keep each device's TCP connection open between sessions.
    pub keep_alive: bool,
}

/// What happened in one session.
#[derive(Debug, Default)]
pub struct SessionResult {
    /// HTTP requests sent.
    pub http_requests: u32,
    /// ACS requests received, by method name.
    pub acs_requests: Vec<&'static str>,
    /// Faults the CPE answered with, by code.
    pub faults_sent: Vec<u32>,
    /// Work to do after the session.
    pub actions: Vec<Action>,
}

struct Io<'a> {
    target: &'a Target,
    conn: Conn,
    cookies: Vec<String>,
    request: Vec<u8>,
    body: Vec<u8>,
    sent: u32,
}

impl Io<'_> {
    async fn post(
        &mut self,
        authorization: Option<&str>,
        soap: bool,
    ) -> Result<crate::http::Response, FleetError> {
        if self.conn.closed {
            self.conn = Conn::connect(self.target.addr, self.target.timeout).await?;
        }
        let cookie = self.cookies.join("; ");
        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(3);
        if !cookie.is_empty() {
            headers.push(("Cookie", &cookie));
        }
        if let Some(a) = authorization {
            headers.push(("Authorization", a));
        }
        if soap {
            headers.push(("SOAPAction", "\"\""));
        }
        self.request.clear();
        let ct = soap.then_some("text/xml; charset=\"utf-8\"");
        write_request(&mut self.request, "POST", &self.target.url, &headers, ct, &self.body);
        self.sent += 1;
        let resp = self.conn.roundtrip(&self.request, false, self.target.timeout).await?;
        for c in &resp.set_cookie {
            let pair = cookie_pair(c);
            let name = pair.split('=').next().unwrap_or("");
            self.cookies.retain(|old| old.split('=').next() != Some(name));
            self.cookies.push(pair.to_string());
        }
        Ok(resp)
    }
}

fn decode_body(bytes: &[u8]) -> Result<Envelope, FleetError> {
    decode(bytes).map(|d| d.envelope).map_err(|e| FleetError::Decode(e.to_string()))
}

/// Run one session for `cpe` opened for `events`. On success the CPE's bootstrap is
/// acknowledged and the returned actions are for the caller to carry out.
pub async fn run(
    target: &Target,
    cpe: &mut Cpe,
    events: Vec<EventStruct>,
) -> Result<SessionResult, FleetError> {
    run_on(target, cpe, events, &mut None).await
}

/// Like [`run`], starting on `pooled` when it holds an open connection; with
/// [`Target::keep_alive`] the connection is left in `pooled` for the device's next session
/// (a measurement aid: real CPEs open a new connection per session).
pub async fn run_on(
    target: &Target,
    cpe: &mut Cpe,
    events: Vec<EventStruct>,
    pooled: &mut Option<Conn>,
) -> Result<SessionResult, FleetError> {
    let mut result = SessionResult::default();
    let conn = match pooled.take() {
        Some(c) if !c.closed => c,
        _ => Conn::connect(target.addr, target.timeout).await?,
    };
    let mut io = Io {
        target,
        conn,
        cookies: Vec::new(),
        request: Vec::with_capacity(4096),
        body: Vec::with_capacity(4096),
        sent: 0,
    };

    let pending_events_backup = cpe.pending_events.clone();
    let inform = cpe.inform(events);
    let env = Envelope::new(Some("1".into()), Body::Inform(inform));
    encode_into(&env, target.version, &mut io.body);
    let mut resp = io.post(None, true).await?;
    if resp.status == 401 {
        if let (Some(user), Some(pass), Some(ch)) = (
            &target.username,
            &target.password,
            resp.www_authenticate.as_deref().and_then(digest::parse_challenge),
        ) {
            let cnonce = format!("{:016x}", rand::random::<u64>());
            let auth = digest::authorization(&ch, user, pass, "POST", &target.url.path, 1, &cnonce);
            resp = io.post(Some(&auth), true).await?;
        }
    }
    let outcome = async {
        match resp.status {
            200 => {}
            503 => return Err(FleetError::Busy),
            s => return Err(FleetError::Protocol(format!("inform answered with status {s}"))),
        }
        match decode_body(&resp.body)?.body {
            Body::InformResponse { .. } => {}
            other => {
                return Err(FleetError::Protocol(format!(
                    "inform answered with {}",
                    other.method_name()
                )))
            }
        }
        if let Some(tc) = cpe.pending_transfer.clone() {
            io.body.clear();
            encode_into(
                &Envelope::new(Some("2".into()), Body::TransferComplete(tc)),
                target.version,
                &mut io.body,
            );
            let r = io.post(None, true).await?;
            if r.status != 200 {
                return Err(FleetError::Protocol(format!(
                    "TransferComplete answered with status {}",
                    r.status
                )));
            }
            match decode_body(&r.body)?.body {
                Body::TransferCompleteResponse => cpe.pending_transfer = None,
                other => {
                    return Err(FleetError::Protocol(format!(
                        "TransferComplete answered with {}",
                        other.method_name()
                    )))
                }
            }
        }
        if !target.think.is_zero() {
            tokio::time::sleep(target.think).await;
        }
        io.body.clear();
        for _ in 0..MAX_RPCS {
            let soap = !io.body.is_empty();
            let r = io.post(None, soap).await?;
            match r.status {
                204 => return Ok(()),
                200 if r.body.iter().all(u8::is_ascii_whitespace) => return Ok(()),
                200 => {}
                s => return Err(FleetError::Protocol(format!("status {s} inside a session"))),
            }
            let env = decode_body(&r.body)?;
            let name = env.body.method_name();
            result.acs_requests.push(name);
            let (reply, action) = cpe.handle(&env.body);
            if let Body::Fault(f) = &reply {
                result.faults_sent.push(f.detail.code.code());
            }
            if let Some(a) = action {
                result.actions.push(a);
            }
            io.body.clear();
            encode_into(&Envelope::new(env.header.id, reply), target.version, &mut io.body);
        }
        Err(FleetError::Protocol(format!("more than {MAX_RPCS} requests in one session")))
    }
    .await;
    result.http_requests = io.sent;
    if target.keep_alive && outcome.is_ok() && !io.conn.closed {
        *pooled = Some(io.conn);
    }
    match outcome {
        Ok(()) => {
            cpe.session_completed();
            Ok(result)
        }
        Err(e) => {
            // The events were not delivered: report them again next time.
            if cpe.pending_events.is_empty() {
                cpe.pending_events = pending_events_backup;
            }
            Err(e)
        }
    }
}
