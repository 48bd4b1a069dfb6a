//! The WebSocket MTP served by `acsd`: agents connect to `ws://<host>:<port>/usp` with
//! `Sec-WebSocket-Protocol: v1.usp` and exchange Records in binary frames.
//!
//! The agent is identified by its WebSocketConnect Record or the `from_id` of its first Record;
//! an `?eid=` query is accepted (logged) but never required. A frame that is not a USP Record
//! closes the connection with 1003. Pings go out every [`PING_INTERVAL`]; tungstenite answers
//! the agent's pings.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;

use crate::codec::limits::MAX_RECORD_BYTES;
use crate::engine::{Origin, RecordOutcome, Usp, WsLink, WsOut};

/// The HTTP path agents connect to.
pub const WS_PATH: &str = "/usp";
/// The WebSocket subprotocol USP requires.
pub const SUBPROTOCOL: &str = "v1.usp";
/// How often the controller pings an idle connection.
pub const PING_INTERVAL: Duration = Duration::from_secs(30);
/// How long the opening handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// The frame and message limits used on both ends.
#[must_use]
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_RECORD_BYTES))
        .max_frame_size(Some(MAX_RECORD_BYTES))
}

fn reject(status: u16, why: &str) -> ErrorResponse {
    let mut resp = ErrorResponse::new(Some(why.to_owned()));
    *resp.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_REQUEST);
    resp
}

/// Whether a `Sec-WebSocket-Protocol` header value offers `v1.usp`.
#[must_use]
pub fn offers_usp(header: &str) -> bool {
    header.split(',').any(|p| p.trim().eq_ignore_ascii_case(SUBPROTOCOL))
}

/// Serve USP agents on `listener` (plain TCP) until `shutdown` turns true.
///
/// # Errors
/// Only if accepting fails for good.
pub async fn serve(
    listener: TcpListener,
    usp: Usp,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    serve_with(listener, usp, shutdown, |s| async move { Ok::<_, std::io::Error>(s) }).await
}

/// Like [`serve`], wrapping each accepted stream first (e.g. a TLS acceptor).
///
/// # Errors
/// Only if accepting fails for good.
pub async fn serve_with<W, Fut, S, E>(
    listener: TcpListener,
    usp: Usp,
    mut shutdown: watch::Receiver<bool>,
    wrap: W,
) -> std::io::Result<()>
where
    W: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<S, E>> + Send + 'static,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let mut conns = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = crate::mtp::stopped(&mut shutdown) => break,
            a = listener.accept() => a,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "usp websocket accept failed");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let usp = usp.clone();
        let rx = shutdown.clone();
        let wrapped = wrap(stream);
        conns.spawn(async move {
            let stream = match wrapped.await {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "usp websocket tls handshake failed");
                    return;
                }
            };
            connection(stream, usp, rx, peer).await;
        });
    }
    // Connections see the same shutdown signal and close with 1001.
    while conns.join_next().await.is_some() {}
    Ok(())
}

async fn connection<S>(
    stream: S,
    usp: Usp,
    mut shutdown: watch::Receiver<bool>,
    peer: std::net::SocketAddr,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // The Err type is fixed by tungstenite's Callback trait.
    #[allow(clippy::result_large_err)]
    let callback = |req: &Request, mut resp: Response| {
        if req.uri().path() != WS_PATH {
            return Err(reject(404, "USP is served on /usp"));
        }
        let offered = req
            .headers()
            .get_all(http::header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(offers_usp);
        if !offered {
            return Err(reject(400, "Sec-WebSocket-Protocol must offer v1.usp"));
        }
        if let Some(eid) =
            req.uri().query().and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("eid=")))
        {
            tracing::debug!(%peer, eid, "usp websocket agent announced itself");
        }
        resp.headers_mut().insert(
            http::header::SEC_WEBSOCKET_PROTOCOL,
            http::HeaderValue::from_static(SUBPROTOCOL),
        );
        Ok(resp)
    };
    let handshake =
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(ws_config()));
    let ws = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "usp websocket handshake refused");
            return;
        }
        Err(_) => return,
    };
    let conn = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(%peer, conn, "usp websocket connected");
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::channel::<WsOut>(64);
    let link = WsLink { conn, tx: tx.clone() };
    let writer = tokio::spawn(async move {
        let mut ping = tokio::time::interval(PING_INTERVAL);
        ping.reset();
        loop {
            let out = tokio::select! {
                out = rx.recv() => out,
                _ = ping.tick() => {
                    if sink.send(Message::Ping(Vec::new().into())).await.is_err() {
                        break;
                    }
                    continue;
                }
            };
            match out {
                Some(WsOut::Record(bytes)) => {
                    if sink.send(Message::Binary(bytes.into())).await.is_err() {
                        break;
                    }
                }
                Some(WsOut::Close(code, reason)) => {
                    let frame = CloseFrame { code: CloseCode::from(code), reason: reason.into() };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    break;
                }
                None => break,
            }
        }
        let _ = sink.close().await;
    });
    loop {
        let frame = tokio::select! {
            _ = crate::mtp::stopped(&mut shutdown) => {
                let _ = tx.send(WsOut::Close(1001, "controller shutting down")).await;
                break;
            }
            f = stream.next() => f,
        };
        match frame {
            Some(Ok(Message::Binary(bytes))) => {
                let origin = Origin::WebSocket(link.clone());
                if usp.handle_record(&bytes, origin).await == RecordOutcome::Undecodable {
                    let _ = tx.send(WsOut::Close(1003, "unparsable usp record")).await;
                    break;
                }
            }
            Some(Ok(Message::Text(_))) => {
                usp.metrics().dropped("text_frame");
                let _ = tx.send(WsOut::Close(1003, "usp records travel in binary frames")).await;
                break;
            }
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
            Some(Ok(_)) => {}
        }
    }
    usp.connection_closed(conn);
    drop(link);
    let _ = tx.try_send(WsOut::Close(1000, "closing"));
    drop(tx);
    if tokio::time::timeout(HANDSHAKE_TIMEOUT, writer).await.is_err() {
        tracing::debug!(%peer, conn, "usp websocket writer did not finish");
    }
    tracing::debug!(%peer, conn, "usp websocket closed");
}
