//! Reading a CPE's request body with hard limits.
//!
//! [`read_body`] enforces, in this order:
//! 1. an early rejection when `Content-Length` already exceeds the cap;
//! 2. the cap while streaming (so chunked bodies without a length are bounded too);
//! 3. an overall read timeout;
//! 4. `gzip` / `deflate` decoding (`Content-Encoding`), with the same cap applied to the
//!    **decompressed** size, so a small compressed bomb cannot expand past it.
//!
//! `deflate` is decoded as zlib (RFC 1950, what the HTTP spec means) or, when the data has no
//! zlib header, as raw deflate (RFC 1951, what some implementations send).

use std::cell::Cell;
use std::io::Write;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH};
use http::HeaderMap;
use http_body::Body;
use http_body_util::BodyExt;

use crate::error::AcsError;

/// A `Content-Encoding` we can undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Gzip,
    Deflate,
}

/// Parses the `Content-Encoding` headers into the codings to undo, in the order they were
/// applied. `identity` is dropped.
fn codings(headers: &HeaderMap) -> Result<Vec<Coding>, AcsError> {
    let mut out = Vec::new();
    for value in headers.get_all(CONTENT_ENCODING) {
        let text = String::from_utf8_lossy(value.as_bytes());
        for item in text.split(',') {
            let item = item.trim();
            if item.is_empty() || item.eq_ignore_ascii_case("identity") {
                continue;
            }
            if item.eq_ignore_ascii_case("gzip") || item.eq_ignore_ascii_case("x-gzip") {
                out.push(Coding::Gzip);
            } else if item.eq_ignore_ascii_case("deflate") {
                out.push(Coding::Deflate);
            } else {
                return Err(AcsError::UnsupportedEncoding(item.chars().take(64).collect()));
            }
        }
    }
    Ok(out)
}

/// A `Vec` that refuses to grow past `cap` bytes, recording the refusal in `overflowed`.
struct CappedWriter<'a> {
    buf: Vec<u8>,
    cap: usize,
    overflowed: &'a Cell<bool>,
}

impl Write for CappedWriter<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len().saturating_add(data.len()) > self.cap {
            self.overflowed.set(true);
            return Err(std::io::Error::other("decompressed body over the cap"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn looks_like_zlib(data: &[u8]) -> bool {
    match data {
        [cmf, flg, ..] => {
            (cmf & 0x0f) == 8
                && (cmf >> 4) <= 7
                && ((u16::from(*cmf) << 8) | u16::from(*flg)) % 31 == 0
        }
        _ => false,
    }
}

/// Runs `data` through a `flate2` write-side decoder into a capped buffer.
fn run_decoder<'a, W: Write>(
    data: &[u8],
    cap: usize,
    encoding: &'static str,
    overflowed: &'a Cell<bool>,
    make: impl FnOnce(CappedWriter<'a>) -> W,
    finish: impl FnOnce(W) -> std::io::Result<CappedWriter<'a>>,
) -> Result<Vec<u8>, AcsError> {
    let mut dec = make(CappedWriter { buf: Vec::new(), cap, overflowed });
    let result = dec.write_all(data).and_then(|()| dec.flush()).and_then(|()| finish(dec));
    match result {
        _ if overflowed.get() => Err(AcsError::BodyTooLarge { limit: cap }),
        Ok(w) => Ok(w.buf),
        Err(e) => Err(AcsError::BadCompression { encoding, reason: e.to_string() }),
    }
}

/// Decompresses `data` (one coding) into at most `cap` bytes.
fn decode(coding: Coding, data: &[u8], cap: usize) -> Result<Vec<u8>, AcsError> {
    use flate2::write::{DeflateDecoder, GzDecoder, ZlibDecoder};
    let over = Cell::new(false);
    match coding {
        Coding::Gzip => run_decoder(data, cap, "gzip", &over, GzDecoder::new, |d| d.finish()),
        Coding::Deflate if looks_like_zlib(data) => {
            run_decoder(data, cap, "deflate", &over, ZlibDecoder::new, |d| d.finish())
        }
        Coding::Deflate => {
            run_decoder(data, cap, "deflate", &over, DeflateDecoder::new, |d| d.finish())
        }
    }
}

/// Collects body frames into one buffer, failing as soon as more than `max_bytes` arrived.
async fn collect_capped<B>(body: B, max_bytes: usize) -> Result<Bytes, AcsError>
where
    B: Body,
    B::Error: std::fmt::Display,
{
    let mut body = std::pin::pin!(body);
    let mut first: Option<Bytes> = None;
    let mut rest: Option<BytesMut> = None;
    let mut total: usize = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| AcsError::BodyRead(e.to_string()))?;
        let Ok(mut data) = frame.into_data() else {
            continue; // trailers
        };
        let n = data.remaining();
        total = total.saturating_add(n);
        if total > max_bytes {
            return Err(AcsError::BodyTooLarge { limit: max_bytes });
        }
        if n == 0 {
            continue;
        }
        let chunk = data.copy_to_bytes(n);
        match (&mut first, &mut rest) {
            (None, _) => first = Some(chunk),
            (Some(f), None) => {
                let mut buf = BytesMut::with_capacity(f.len() + chunk.len());
                buf.extend_from_slice(f);
                buf.extend_from_slice(&chunk);
                rest = Some(buf);
            }
            (Some(_), Some(buf)) => buf.extend_from_slice(&chunk),
        }
    }
    Ok(match (first, rest) {
        (_, Some(buf)) => buf.freeze(),
        (Some(f), None) => f,
        (None, None) => Bytes::new(),
    })
}

/// Reads a request body completely, enforcing `max_bytes` on both the wire size and the
/// decompressed size, and `timeout` on the whole read.
///
/// Works with `hyper::body::Incoming` and any other [`Body`].
pub async fn read_body<B>(
    body: B,
    headers: &HeaderMap,
    max_bytes: usize,
    timeout: Duration,
) -> Result<Bytes, AcsError>
where
    B: Body,
    B::Error: std::fmt::Display,
{
    if let Some(len) = headers.get(CONTENT_LENGTH) {
        let declared =
            std::str::from_utf8(len.as_bytes()).ok().and_then(|s| s.trim().parse::<u64>().ok());
        if let Some(declared) = declared {
            if declared > max_bytes as u64 {
                return Err(AcsError::BodyTooLarge { limit: max_bytes });
            }
        }
    }
    let codings = codings(headers)?;
    let raw = tokio::time::timeout(timeout, collect_capped(body, max_bytes))
        .await
        .map_err(|_| AcsError::BodyTimeout(timeout))??;
    if raw.is_empty() || codings.is_empty() {
        // An empty body is empty whatever encoding the CPE claims.
        return Ok(raw);
    }
    let mut data = raw.to_vec();
    for coding in codings.iter().rev() {
        data = decode(*coding, &data, max_bytes)?;
    }
    Ok(Bytes::from(data))
}

/// Something a `Content-Type` value can be read from: a `str` holding the value itself, or a
/// [`HeaderMap`] (its `Content-Type` header).
pub trait ContentTypeSource {
    /// The `Content-Type` value, if any.
    fn content_type(&self) -> Option<&str>;
}

impl ContentTypeSource for str {
    fn content_type(&self) -> Option<&str> {
        Some(self)
    }
}

impl ContentTypeSource for String {
    fn content_type(&self) -> Option<&str> {
        Some(self.as_str())
    }
}

impl ContentTypeSource for HeaderMap {
    fn content_type(&self) -> Option<&str> {
        self.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok())
    }
}

/// The `charset` parameter of a `Content-Type` value, without quotes
/// (`text/xml; charset="ISO-8859-1"` → `ISO-8859-1`). Accepts the value itself or the request
/// headers.
pub fn charset_of<S: ContentTypeSource + ?Sized>(source: &S) -> Option<&str> {
    let content_type = source.content_type()?;
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let value = value.trim().trim_matches('"').trim();
        (!value.is_empty()).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::VecDeque;
    use std::convert::Infallible;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use http::HeaderValue;
    use http_body::Frame;
    use http_body_util::Full;

    /// A body delivering the given chunks one frame at a time, then optionally hanging.
    struct Chunks {
        chunks: VecDeque<Bytes>,
        hang: bool,
    }

    impl Chunks {
        fn new(chunks: &[&[u8]]) -> Self {
            Self { chunks: chunks.iter().map(|c| Bytes::copy_from_slice(c)).collect(), hang: false }
        }
    }

    impl Body for Chunks {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            match self.chunks.pop_front() {
                Some(c) => Poll::Ready(Some(Ok(Frame::data(c)))),
                None if self.hang => Poll::Pending,
                None => Poll::Ready(None),
            }
        }
    }

    const T: Duration = Duration::from_secs(5);

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn raw_deflate(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[tokio::test]
    async fn limit_and_limit_plus_one() {
        let data = [b'x'; 100];
        let got = read_body(Chunks::new(&[&data[..60], &data[60..]]), &HeaderMap::new(), 100, T)
            .await
            .unwrap();
        assert_eq!(got.len(), 100);
        let data = [b'x'; 101];
        let err = read_body(Chunks::new(&[&data[..60], &data[60..]]), &HeaderMap::new(), 100, T)
            .await
            .unwrap_err();
        assert!(matches!(err, AcsError::BodyTooLarge { limit: 100 }), "{err:?}");
    }

    #[tokio::test]
    async fn content_length_rejected_early() {
        // The body itself is small: only the declared length is over the cap.
        let h = headers(&[("content-length", "101")]);
        let err = read_body(Full::new(Bytes::from_static(b"x")), &h, 100, T).await.unwrap_err();
        assert!(matches!(err, AcsError::BodyTooLarge { .. }));
        let h = headers(&[("content-length", "100")]);
        let ok = read_body(Full::new(Bytes::from(vec![1u8; 100])), &h, 100, T).await.unwrap();
        assert_eq!(ok.len(), 100);
    }

    #[tokio::test]
    async fn single_and_empty_bodies() {
        let ok = read_body(Full::new(Bytes::from_static(b"<x/>")), &HeaderMap::new(), 10, T)
            .await
            .unwrap();
        assert_eq!(&ok[..], b"<x/>");
        let h = headers(&[("content-encoding", "gzip")]);
        let empty = read_body(Chunks::new(&[]), &h, 10, T).await.unwrap();
        assert!(empty.is_empty());
    }

    #[tokio::test]
    async fn gzip_body() {
        let plain = b"<soap:Envelope>hello</soap:Envelope>".repeat(10);
        let z = gzip(&plain);
        let h = headers(&[("content-encoding", "gzip")]);
        let got = read_body(Chunks::new(&[&z[..5], &z[5..]]), &h, plain.len(), T).await.unwrap();
        assert_eq!(&got[..], &plain[..]);
        let err = read_body(Chunks::new(&[&z]), &h, plain.len() - 1, T).await.unwrap_err();
        assert!(matches!(err, AcsError::BodyTooLarge { .. }), "{err:?}");
        let h = headers(&[("content-encoding", "X-GZIP")]);
        assert!(read_body(Chunks::new(&[&z]), &h, 1000, T).await.is_ok());
    }

    #[tokio::test]
    async fn deflate_zlib_and_raw() {
        let plain = b"deflated body ".repeat(20);
        let h = headers(&[("content-encoding", "deflate")]);
        for z in [zlib(&plain), raw_deflate(&plain)] {
            let got = read_body(Chunks::new(&[&z]), &h, 10_000, T).await.unwrap();
            assert_eq!(&got[..], &plain[..]);
        }
    }

    #[tokio::test]
    async fn zip_bomb_is_capped() {
        let plain = vec![0u8; 10 * 1024 * 1024];
        let z = gzip(&plain);
        assert!(z.len() < 64 * 1024);
        let h = headers(&[("content-encoding", "gzip")]);
        let err = read_body(Chunks::new(&[&z]), &h, 1024 * 1024, T).await.unwrap_err();
        assert!(matches!(err, AcsError::BodyTooLarge { limit } if limit == 1024 * 1024));
    }

    #[tokio::test]
    async fn bad_and_unknown_encodings() {
        let h = headers(&[("content-encoding", "gzip")]);
        let err = read_body(Chunks::new(&[b"not gzip at all"]), &h, 1000, T).await.unwrap_err();
        assert!(matches!(err, AcsError::BadCompression { encoding: "gzip", .. }), "{err:?}");
        let h = headers(&[("content-encoding", "br")]);
        let err = read_body(Chunks::new(&[b"x"]), &h, 1000, T).await.unwrap_err();
        assert!(matches!(err, AcsError::UnsupportedEncoding(ref e) if e == "br"));
        let h = headers(&[("content-encoding", "identity")]);
        assert_eq!(&read_body(Chunks::new(&[b"x"]), &h, 10, T).await.unwrap()[..], b"x");
    }

    #[tokio::test]
    async fn stacked_encodings() {
        let plain = b"twice".to_vec();
        let z = gzip(&zlib(&plain));
        let h = headers(&[("content-encoding", "deflate, gzip")]);
        let got = read_body(Chunks::new(&[&z]), &h, 100, T).await.unwrap();
        assert_eq!(&got[..], b"twice");
    }

    #[tokio::test]
    async fn timeout_on_a_stalled_body() {
        let mut body = Chunks::new(&[b"partial"]);
        body.hang = true;
        let err =
            read_body(body, &HeaderMap::new(), 100, Duration::from_millis(20)).await.unwrap_err();
        assert!(matches!(err, AcsError::BodyTimeout(_)));
    }

    #[tokio::test]
    async fn real_chunked_request_over_hyper() {
        use hyper::server::conn::http1;
        use hyper::service::service_fn;
        use hyper_util::rt::TokioIo;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let svc = service_fn(|req: http::Request<hyper::body::Incoming>| async move {
                let (parts, body) = req.into_parts();
                let text = match read_body(body, &parts.headers, 10, T).await {
                    Ok(b) => format!("ok {}", b.len()),
                    Err(e) => format!("err {}", e.http_status().as_u16()),
                };
                Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(text))))
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
        });
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(
            b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n\
              5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n\
              POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
              6\r\nhello!\r\n5\r\nworld\r\n0\r\n\r\n",
        )
        .await
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        assert!(out.contains("ok 10"), "{out}");
        assert!(out.contains("err 413"), "{out}");
    }

    #[test]
    fn charset() {
        assert_eq!(charset_of("text/xml; charset=\"utf-8\""), Some("utf-8"));
        assert_eq!(charset_of("text/xml;CHARSET=ISO-8859-1"), Some("ISO-8859-1"));
        assert_eq!(charset_of("text/html; boundary=x; charset = us-ascii "), Some("us-ascii"));
        assert_eq!(charset_of("text/xml"), None);
        assert_eq!(charset_of("text/xml; charset="), None);
        assert_eq!(charset_of(""), None);
        let mut h = HeaderMap::new();
        assert_eq!(charset_of(&h), None);
        h.insert("content-type", HeaderValue::from_static("text/xml; charset=ISO-8859-1"));
        assert_eq!(charset_of(&h), Some("ISO-8859-1"));
        assert_eq!(charset_of(&String::from("a/b;charset=x")), Some("x"));
    }
}
