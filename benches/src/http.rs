//! A small HTTP/1.1 client, just enough for a CPE: keep-alive POSTs with cookies, Digest
//! retries, GET for downloads. Written by hand (httparse for the head) so that thousands of
//! simulated CPEs cost little CPU beside the server under test.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::FleetError;

/// Largest response body accepted (downloads included).
pub const MAX_BODY: usize = 64 * 1024 * 1024;
const MAX_HEAD: usize = 64 * 1024;

/// A parsed `http://host:port/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// `host:port` as written (for the Host header).
    pub authority: String,
    /// Path and query, at least `/`.
    pub path: String,
}

impl Url {
    /// Parse an `http://` URL (no TLS in the simulator).
    pub fn parse(raw: &str) -> Result<Url, FleetError> {
        let rest = raw.strip_prefix("http://").ok_or_else(|| {
            FleetError::Argument(format!("{raw}: only http:// URLs are supported"))
        })?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() {
            return Err(FleetError::Argument(format!("{raw}: no host")));
        }
        let authority =
            if authority.contains(':') { authority.to_string() } else { format!("{authority}:80") };
        Ok(Url { authority, path: path.to_string() })
    }

    /// Resolve the authority to a socket address.
    pub async fn resolve(&self) -> Result<SocketAddr, FleetError> {
        tokio::net::lookup_host(&self.authority)
            .await?
            .next()
            .ok_or_else(|| FleetError::Argument(format!("{}: does not resolve", self.authority)))
    }
}

/// A response with the few headers a CPE cares about.
#[derive(Debug, Default)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Body bytes (de-chunked).
    pub body: Vec<u8>,
    /// `Set-Cookie` values, in order.
    pub set_cookie: Vec<String>,
    /// `WWW-Authenticate`, if any.
    pub www_authenticate: Option<String>,
    /// The server will close the connection after this response.
    pub close: bool,
}

/// One client connection.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Set when the server announced or performed a close.
    pub closed: bool,
}

/// Append an HTTP/1.1 request to `out`.
pub fn write_request(
    out: &mut Vec<u8>,
    method: &str,
    url: &Url,
    headers: &[(&str, &str)],
    content_type: Option<&str>,
    body: &[u8],
) {
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(url.path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(url.authority.as_bytes());
    out.extend_from_slice(b"\r\nUser-Agent: acs-fleet/0.1\r\n");
    for (k, v) in headers {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if let Some(ct) = content_type {
        out.extend_from_slice(b"Content-Type: ");
        out.extend_from_slice(ct.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if method != "GET" || !body.is_empty() {
        out.extend_from_slice(b"Content-Length: ");
        out.extend_from_slice(body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

enum Framing {
    Empty,
    Length(usize),
    Chunked,
    UntilClose,
}

impl Conn {
    /// Connect (with `TCP_NODELAY`).
    pub async fn connect(addr: SocketAddr, timeout: Duration) -> Result<Conn, FleetError> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| FleetError::Timeout("connect"))??;
        stream.set_nodelay(true)?;
        Ok(Conn { stream, buf: Vec::with_capacity(4096), closed: false })
    }

    /// Send a complete request and read the response.
    pub async fn roundtrip(
        &mut self,
        request: &[u8],
        head_request: bool,
        timeout: Duration,
    ) -> Result<Response, FleetError> {
        tokio::time::timeout(timeout, async {
            self.stream.write_all(request).await?;
            self.read_response(head_request).await
        })
        .await
        .map_err(|_| FleetError::Timeout("response"))?
    }

    async fn fill(&mut self) -> Result<usize, FleetError> {
        if self.buf.capacity() - self.buf.len() < 2048 {
            self.buf.reserve(8192);
        }
        let n = self.stream.read_buf(&mut self.buf).await?;
        if n == 0 {
            self.closed = true;
        }
        Ok(n)
    }

    async fn read_response(&mut self, head_request: bool) -> Result<Response, FleetError> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut parsed = httparse::Response::new(&mut headers);
            let status = parsed.parse(&self.buf).map_err(|e| FleetError::Http(e.to_string()))?;
            let httparse::Status::Complete(head_len) = status else {
                if self.buf.len() > MAX_HEAD {
                    return Err(FleetError::Http("response head too large".into()));
                }
                if self.fill().await? == 0 {
                    return Err(FleetError::Http("connection closed before a response".into()));
                }
                continue;
            };
            let code = parsed.code.unwrap_or(0);
            let mut resp = Response { status: code, ..Default::default() };
            let mut framing = Framing::UntilClose;
            for h in parsed.headers.iter() {
                let name = h.name;
                let value = String::from_utf8_lossy(h.value);
                if name.eq_ignore_ascii_case("content-length") {
                    let n: usize = value
                        .trim()
                        .parse()
                        .map_err(|_| FleetError::Http("bad content-length".into()))?;
                    framing = Framing::Length(n);
                } else if name.eq_ignore_ascii_case("transfer-encoding")
                    && value.to_ascii_lowercase().contains("chunked")
                {
                    framing = Framing::Chunked;
                } else if name.eq_ignore_ascii_case("set-cookie") {
                    resp.set_cookie.push(value.into_owned());
                } else if name.eq_ignore_ascii_case("www-authenticate") {
                    resp.www_authenticate = Some(value.into_owned());
                } else if name.eq_ignore_ascii_case("connection")
                    && value.to_ascii_lowercase().contains("close")
                {
                    resp.close = true;
                }
            }
            if (100..200).contains(&code) {
                self.buf.drain(..head_len);
                continue;
            }
            if code == 204 || code == 304 || head_request {
                framing = Framing::Empty;
            }
            self.buf.drain(..head_len);
            resp.body = match framing {
                Framing::Empty => Vec::new(),
                Framing::Length(n) => {
                    if n > MAX_BODY {
                        return Err(FleetError::Http("response body too large".into()));
                    }
                    while self.buf.len() < n {
                        if self.fill().await? == 0 {
                            return Err(FleetError::Http("connection closed mid-body".into()));
                        }
                    }
                    self.buf.drain(..n).collect()
                }
                Framing::Chunked => self.read_chunked().await?,
                Framing::UntilClose => {
                    while self.fill().await? > 0 {
                        if self.buf.len() > MAX_BODY {
                            return Err(FleetError::Http("response body too large".into()));
                        }
                    }
                    resp.close = true;
                    std::mem::take(&mut self.buf)
                }
            };
            if resp.close {
                self.closed = true;
            }
            return Ok(resp);
        }
    }

    async fn read_line(&mut self) -> Result<String, FleetError> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 2);
                return Ok(line);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(FleetError::Http("chunk line too long".into()));
            }
            if self.fill().await? == 0 {
                return Err(FleetError::Http("connection closed mid-chunk".into()));
            }
        }
    }

    async fn read_chunked(&mut self) -> Result<Vec<u8>, FleetError> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line().await?;
            let size_text = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| FleetError::Http(format!("bad chunk size {size_text:?}")))?;
            if size == 0 {
                // Trailers until an empty line.
                while !self.read_line().await?.is_empty() {}
                return Ok(body);
            }
            if body.len() + size > MAX_BODY {
                return Err(FleetError::Http("response body too large".into()));
            }
            while self.buf.len() < size + 2 {
                if self.fill().await? == 0 {
                    return Err(FleetError::Http("connection closed mid-chunk".into()));
                }
            }
            body.extend_from_slice(&self.buf[..size]);
            self.buf.drain(..size + 2);
        }
    }
}

/// The `name=value` part of a `Set-Cookie` header.
pub fn cookie_pair(set_cookie: &str) -> &str {
    set_cookie.split(';').next().unwrap_or("").trim()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn urls_parse() {
        let u = Url::parse("http://127.0.0.1:7547/acs?x=1").unwrap();
        assert_eq!(u.authority, "127.0.0.1:7547");
        assert_eq!(u.path, "/acs?x=1");
        assert_eq!(Url::parse("http://h").unwrap().path, "/");
        assert_eq!(Url::parse("http://h").unwrap().authority, "h:80");
        assert!(Url::parse("https://h/").is_err());
        assert_eq!(cookie_pair("a=b; Path=/; HttpOnly"), "a=b");
    }

    #[tokio::test]
    async fn reads_length_chunked_and_close_framed_responses() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            for reply in [
                &b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nSet-Cookie: s=1; Path=/\r\n\r\nhello"[..],
                &b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"[..],
                &b"HTTP/1.1 204 No Content\r\n\r\n"[..],
                &b"HTTP/1.1 200 OK\r\n\r\nrest of stream"[..],
            ] {
                let _ = s.read(&mut buf).await.unwrap();
                s.write_all(reply).await.unwrap();
            }
        });
        let mut c = Conn::connect(addr, Duration::from_secs(5)).await.unwrap();
        let url = Url::parse(&format!("http://{addr}/")).unwrap();
        let mut req = Vec::new();
        write_request(&mut req, "POST", &url, &[], Some("text/xml"), b"x");
        let t = Duration::from_secs(5);
        let r = c.roundtrip(&req, false, t).await.unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"hello"[..]));
        assert_eq!(cookie_pair(&r.set_cookie[0]), "s=1");
        let r = c.roundtrip(&req, false, t).await.unwrap();
        assert_eq!(r.body, b"abcde");
        let r = c.roundtrip(&req, false, t).await.unwrap();
        assert_eq!(r.status, 204);
        let r = c.roundtrip(&req, false, t).await.unwrap();
        assert_eq!(r.body, b"rest of stream");
        assert!(c.closed);
        server.await.unwrap();
    }
}
