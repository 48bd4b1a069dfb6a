//! `bare-ceiling`: the machine's own limit for a CWMP session. A plain hyper HTTP/1.1 server
//! (the same stack and settings as acsd's CWMP listener) that answers the two POSTs of a
//! periodic session with canned bytes: an InformResponse with a session cookie for the Inform,
//! `204 No Content` for the empty POST. No parsing, no state, no storage: whatever `acsd`
//! achieves is measured against this.
//!
//! ```text
//! bare-ceiling --listen 127.0.0.1:7600
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const INFORM_RESPONSE: &str = "<soap-env:Envelope xmlns:soap-env=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:soap-enc=\"http://schemas.xmlsoap.org/soap/encoding/\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:cwmp=\"urn:dslforum-org:cwmp-1-2\"><soap-env:Header><cwmp:ID soap-env:mustUnderstand=\"1\">1</cwmp:ID></soap-env:Header><soap-env:Body><cwmp:InformResponse><MaxEnvelopes>1</MaxEnvelopes></cwmp:InformResponse></soap-env:Body></soap-env:Envelope>";

#[derive(Debug, Parser)]
#[command(name = "bare-ceiling", about = "Canned-answer CWMP server: the hardware's ceiling")]
struct Args {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:7600")]
    listen: SocketAddr,
}

async fn handle(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // Read the whole body, as a real server must, then answer by its emptiness.
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let mut r = if body.is_empty() {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::NO_CONTENT;
        r
    } else {
        let mut r = Response::new(Full::new(Bytes::from_static(INFORM_RESPONSE.as_bytes())));
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/xml; charset=\"utf-8\""),
        );
        r.headers_mut().insert(
            http::header::SET_COOKIE,
            http::HeaderValue::from_static("acsd_session=0123456789abcdef; Path=/; HttpOnly"),
        );
        r
    };
    r.headers_mut().insert(http::header::SERVER, http::HeaderValue::from_static("bare-ceiling"));
    Ok(r)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = TcpListener::bind(args.listen).await?;
    println!("bare-ceiling: listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(x) => x,
            Err(_) => continue,
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service_fn(handle))
                .await;
        });
    }
}
