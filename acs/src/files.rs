//! Serving stored files (firmware, configuration) to CPEs.
//!
//! * Signed, expiring URLs: [`sign_file_url`] / [`verify`]. The signature is
//!   HMAC-SHA256(secret, `"file:" name "\n" expires`) in hex, compared in constant time. CPEs
//!   cannot add credentials to a Download URL reliably, so the URL itself is the credential.
//! * HTTP range requests: [`parse_range`] handles one range (`bytes=a-b`, `bytes=a-`,
//!   `bytes=-n`). **Several ranges in one request are answered with the whole file (200)**,
//!   which RFC 9110 allows and every download client handles; a syntactically invalid `Range`
//!   is ignored the same way. A single range that starts past the end gets 416.
//! * [`file_response`] builds the response for a file on disk: strong `ETag` from the caller's
//!   SHA-256, `Last-Modified`, `Accept-Ranges`, `Content-Length`, 206 + `Content-Range`, 304 for
//!   `If-None-Match` / `If-Modified-Since`, `If-Range`, 416. The body ([`FileBody`]) streams
//!   the file in 64 KiB chunks and never holds it in memory.
//! * [`serve_signed`] glues these to the engine: it checks the signature, looks the file up in
//!   the store and serves it from the files directory.

use std::io::SeekFrom;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::header::{
    ACCEPT_RANGES, ALLOW, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE,
    IF_NONE_MATCH, IF_RANGE, LAST_MODIFIED, RANGE,
};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncSeekExt, ReadBuf};

use crate::engine::Acs;
use crate::error::AcsError;
use crate::server::RespBody;

type HmacSha256 = Hmac<Sha256>;

/// Path prefix under which the CWMP listener serves files.
pub const FILES_PATH_PREFIX: &str = "/files/";

/// Size of one streamed chunk.
const CHUNK: usize = 64 * 1024;

/// Characters escaped in a file name used as a URL path segment (all but RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn file_mac(name: &str, expires_unix: u64, secret: &[u8]) -> HmacSha256 {
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        // HMAC takes keys of any length; unreachable, but an empty key is a safe fallback.
        Err(_) => <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default()),
    };
    mac.update(b"file:");
    mac.update(name.as_bytes());
    mac.update(b"\n");
    mac.update(expires_unix.to_string().as_bytes());
    mac
}

/// The hex signature of `name` valid until `expires_unix`.
pub fn file_signature(name: &str, expires_unix: u64, secret: impl AsRef<[u8]>) -> String {
    hex::encode(file_mac(name, expires_unix, secret.as_ref()).finalize().into_bytes())
}

/// A URL for `name` under `base_url` (the ACS's public URL, e.g. `http://acs.example:7547`),
/// valid until `expires_unix`: `<base>/files/<name>?expires=<unix>&sig=<hex>`.
pub fn sign_file_url(
    base_url: &str,
    name: &str,
    expires_unix: u64,
    secret: impl AsRef<[u8]>,
) -> String {
    format!(
        "{}{}{}?expires={}&sig={}",
        base_url.trim_end_matches('/'),
        FILES_PATH_PREFIX,
        utf8_percent_encode(name, SEGMENT),
        expires_unix,
        file_signature(name, expires_unix, secret)
    )
}

/// Whether `sig` is the signature of `name` until `expires`, and `now` is not past `expires`.
/// Constant-time in the signature comparison.
pub fn verify(name: &str, expires: u64, sig: &str, now: u64, secret: impl AsRef<[u8]>) -> bool {
    if now > expires {
        return false;
    }
    let Ok(raw) = hex::decode(sig.trim()) else {
        return false;
    };
    file_mac(name, expires, secret.as_ref()).verify_slice(&raw).is_ok()
}

/// Extracts `expires` and `sig` from a query string.
pub fn signed_query(query: &str) -> Option<(u64, &str)> {
    let mut expires = None;
    let mut sig = None;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("expires", v)) => expires = v.parse::<u64>().ok(),
            Some(("sig", v)) => sig = Some(v),
            _ => {}
        }
    }
    Some((expires?, sig?))
}

/// The outcome of interpreting a `Range` header against a file length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// Serve the whole file (no Range, several ranges, or an invalid header).
    Full,
    /// Serve bytes `start..=end`.
    Partial {
        /// First byte.
        start: u64,
        /// Last byte (inclusive).
        end: u64,
    },
    /// 416 Range Not Satisfiable.
    Unsatisfiable,
}

/// Interprets a `Range` header value for a file of `len` bytes. See the module docs.
pub fn parse_range(header: Option<&str>, len: u64) -> ByteRange {
    let Some(h) = header else {
        return ByteRange::Full;
    };
    let h = h.trim();
    let Some((unit, spec)) = h.split_once('=') else {
        return ByteRange::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return ByteRange::Full;
    }
    let spec = spec.trim();
    if spec.contains(',') {
        return ByteRange::Full;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return ByteRange::Full;
    };
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())).then(|| s.parse().ok()).flatten()
    };
    match (a.is_empty(), b.is_empty()) {
        // bytes=-n: the last n bytes.
        (true, false) => match num(b) {
            Some(0) => ByteRange::Unsatisfiable,
            Some(_) if len == 0 => ByteRange::Unsatisfiable,
            Some(n) => ByteRange::Partial { start: len.saturating_sub(n), end: len - 1 },
            None => ByteRange::Full,
        },
        // bytes=a-
        (false, true) => match num(a) {
            Some(start) if start >= len => ByteRange::Unsatisfiable,
            Some(start) => ByteRange::Partial { start, end: len - 1 },
            None => ByteRange::Full,
        },
        // bytes=a-b
        (false, false) => match (num(a), num(b)) {
            (Some(start), Some(end)) if end < start => ByteRange::Full,
            (Some(start), Some(_)) if start >= len => ByteRange::Unsatisfiable,
            (Some(start), Some(end)) => ByteRange::Partial { start, end: end.min(len - 1) },
            _ => ByteRange::Full,
        },
        (true, true) => ByteRange::Full,
    }
}

/// What the caller knows about a file besides its bytes.
#[derive(Debug, Clone, Default)]
pub struct FileInfo {
    /// Lower-case hex SHA-256 of the content (becomes the strong ETag).
    pub sha256: String,
    /// MIME type; `application/octet-stream` when absent.
    pub content_type: Option<String>,
    /// Modification time; the file system's when absent.
    pub last_modified: Option<SystemTime>,
}

/// A response body streaming (part of) a file, or nothing.
#[derive(Debug)]
pub struct FileBody {
    file: Option<tokio::fs::File>,
    remaining: u64,
    buf: Vec<u8>,
}

impl FileBody {
    /// An empty body (for 304, 416, HEAD).
    pub fn empty() -> Self {
        FileBody { file: None, remaining: 0, buf: Vec::new() }
    }

    /// Streams `len` bytes from the current position of `file`.
    pub fn new(file: tokio::fs::File, len: u64) -> Self {
        FileBody { file: Some(file), remaining: len, buf: Vec::new() }
    }
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        if this.remaining == 0 {
            this.file = None;
            return Poll::Ready(None);
        }
        let Some(file) = this.file.as_mut() else {
            return Poll::Ready(None);
        };
        let want = usize::try_from(this.remaining).unwrap_or(CHUNK).min(CHUNK);
        if this.buf.len() < want {
            this.buf.resize(want, 0);
        }
        let mut rb = ReadBuf::new(&mut this.buf[..want]);
        match Pin::new(file).poll_read(cx, &mut rb) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => {
                this.file = None;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(Ok(())) => {
                let filled = rb.filled();
                if filled.is_empty() {
                    // The file shrank under us: end with an error rather than a short body
                    // that would contradict Content-Length.
                    this.file = None;
                    this.remaining = 0;
                    return Poll::Ready(Some(Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "file shorter than its recorded length",
                    ))));
                }
                let chunk = Bytes::copy_from_slice(filled);
                this.remaining = this.remaining.saturating_sub(chunk.len() as u64);
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn header_str<'a>(headers: &'a HeaderMap, name: &http::HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `If-None-Match` matching (weak comparison, as RFC 9110 requires for this header).
fn none_match(header: &str, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let ours = bare(etag);
    header.split(',').any(|t| t.trim() == "*" || bare(t) == ours)
}

/// Whether an `If-Range` precondition allows serving the range.
fn if_range_allows(value: &str, etag: &str, last_modified: SystemTime) -> bool {
    let v = value.trim();
    if v.starts_with('"') {
        v == etag
    } else if v.starts_with("W/") {
        false
    } else {
        httpdate::parse_http_date(v)
            .map(|d| unix_secs(d) == unix_secs(last_modified))
            .unwrap_or(false)
    }
}

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

/// Builds the response for `path` (see the module docs). A missing file is
/// [`AcsError::FileNotFound`]; other I/O failures are [`AcsError::Io`].
pub async fn file_response(
    path: &Path,
    info: &FileInfo,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Response<FileBody>, AcsError> {
    let mut resp = Response::new(FileBody::empty());
    if method != Method::GET && method != Method::HEAD {
        *resp.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        resp.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Ok(resp);
    }
    let mut file = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(AcsError::FileNotFound(path.display().to_string()))
        }
        Err(e) => return Err(AcsError::Io(e)),
    };
    let meta = file.metadata().await?;
    if !meta.is_file() {
        return Err(AcsError::FileNotFound(path.display().to_string()));
    }
    let len = meta.len();
    let last_modified = info.last_modified.or_else(|| meta.modified().ok()).unwrap_or(UNIX_EPOCH);
    // Second resolution, as on the wire.
    let last_modified = UNIX_EPOCH + Duration::from_secs(unix_secs(last_modified));
    let etag = format!("\"{}\"", info.sha256.trim().to_ascii_lowercase());

    let h = resp.headers_mut();
    h.insert(ETAG, hv(&etag));
    h.insert(LAST_MODIFIED, hv(&httpdate::fmt_http_date(last_modified)));
    h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));

    // Conditional GET: If-None-Match wins over If-Modified-Since.
    let not_modified = match header_str(headers, &IF_NONE_MATCH) {
        Some(inm) => none_match(inm, &etag),
        None => header_str(headers, &IF_MODIFIED_SINCE)
            .and_then(|v| httpdate::parse_http_date(v.trim()).ok())
            .is_some_and(|since| unix_secs(last_modified) <= unix_secs(since)),
    };
    if not_modified {
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
        return Ok(resp);
    }

    let range_header = header_str(headers, &RANGE).filter(|_| {
        header_str(headers, &IF_RANGE).is_none_or(|v| if_range_allows(v, &etag, last_modified))
    });
    let (status, start, count) = match parse_range(range_header, len) {
        ByteRange::Full => (StatusCode::OK, 0, len),
        ByteRange::Partial { start, end } => {
            resp.headers_mut().insert(CONTENT_RANGE, hv(&format!("bytes {start}-{end}/{len}")));
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        ByteRange::Unsatisfiable => {
            *resp.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
            resp.headers_mut().insert(CONTENT_RANGE, hv(&format!("bytes */{len}")));
            resp.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(0u64));
            return Ok(resp);
        }
    };
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(CONTENT_LENGTH, HeaderValue::from(count));
    h.insert(CONTENT_TYPE, hv(info.content_type.as_deref().unwrap_or("application/octet-stream")));
    if method == Method::HEAD {
        return Ok(resp);
    }
    if start > 0 {
        file.seek(SeekFrom::Start(start)).await?;
    }
    *resp.body_mut() = FileBody::new(file, count);
    Ok(resp)
}

fn text_response(status: StatusCode, text: &'static str) -> Response<RespBody> {
    let body = http_body_util::Full::new(Bytes::from_static(text.as_bytes()))
        .map_err(|never: std::convert::Infallible| match never {})
        .boxed();
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

/// A stored file name must be one plain path segment.
fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
        && name.len() <= 255
}

/// Serves `GET /files/<name>?expires=…&sig=…` for the CWMP listener: checks the signature and
/// expiry (403), looks the file up in the store (404; 503 when storage fails) and streams it
/// from the engine's files directory.
pub async fn serve_signed<B>(acs: &Acs, name: &str, req: &Request<B>) -> Response<RespBody> {
    let Ok(name) = percent_decode_str(name).decode_utf8() else {
        return text_response(StatusCode::NOT_FOUND, "no such file\n");
    };
    if !is_safe_name(&name) {
        return text_response(StatusCode::NOT_FOUND, "no such file\n");
    }
    let Some((expires, sig)) = req.uri().query().and_then(signed_query) else {
        return text_response(StatusCode::FORBIDDEN, "missing signature\n");
    };
    let now = unix_secs(SystemTime::now());
    if !verify(&name, expires, sig, now, &acs.config().secret) {
        return text_response(StatusCode::FORBIDDEN, "invalid or expired signature\n");
    }
    let meta = match acs.store().get_file(&name).await {
        Ok(Some(m)) => m,
        Ok(None) => return text_response(StatusCode::NOT_FOUND, "no such file\n"),
        Err(e) => {
            tracing::warn!(file = %name, error = %e, "file lookup failed");
            return text_response(StatusCode::SERVICE_UNAVAILABLE, "storage unavailable\n");
        }
    };
    let info = FileInfo {
        sha256: meta.sha256,
        content_type: meta.content_type,
        last_modified: Some(SystemTime::from(meta.uploaded_at)),
    };
    let path = acs.config().files_dir.join(&*name);
    match file_response(&path, &info, req.method(), req.headers()).await {
        Ok(r) => r.map(|b| b.boxed()),
        Err(e) => {
            tracing::warn!(file = %name, error = %e, "cannot serve file");
            let status = e.http_status();
            if status == StatusCode::NOT_FOUND {
                text_response(status, "no such file\n")
            } else {
                text_response(status, "cannot read file\n")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use http_body_util::BodyExt;

    const SECRET: &[u8] = b"file-secret-file-secret-file-sec";

    #[test]
    fn sign_and_verify() {
        let url = sign_file_url("http://acs.example:7547/", "fw v1.bin", 1000, SECRET);
        assert!(url.starts_with("http://acs.example:7547/files/fw%20v1.bin?expires=1000&sig="));
        let query = url.split_once('?').unwrap().1;
        let (exp, sig) = signed_query(query).unwrap();
        assert_eq!(exp, 1000);
        assert_eq!(sig.len(), 64);
        assert!(verify("fw v1.bin", 1000, sig, 999, SECRET));
        assert!(verify("fw v1.bin", 1000, sig, 1000, SECRET));
        assert!(!verify("fw v1.bin", 1000, sig, 1001, SECRET), "expired");
        assert!(!verify("fw v1.bin", 1001, sig, 999, SECRET), "expiry changed");
        assert!(!verify("fw v2.bin", 1000, sig, 999, SECRET), "name changed");
        assert!(!verify("fw v1.bin", 1000, sig, 999, b"other"), "other secret");
        assert!(!verify("fw v1.bin", 1000, "zz", 999, SECRET), "not hex");
        assert!(!verify("fw v1.bin", 1000, &sig[..62], 999, SECRET), "truncated");
        // The name/expiry boundary is unambiguous.
        assert_ne!(file_signature("a1", 23, SECRET), file_signature("a", 123, SECRET));
        assert_eq!(signed_query("sig=ab"), None);
        assert_eq!(signed_query("expires=x&sig=ab"), None);
    }

    #[test]
    fn ranges() {
        use ByteRange::*;
        assert_eq!(parse_range(None, 10), Full);
        assert_eq!(parse_range(Some("bytes=0-4"), 10), Partial { start: 0, end: 4 });
        assert_eq!(parse_range(Some("bytes=5-"), 10), Partial { start: 5, end: 9 });
        assert_eq!(parse_range(Some("bytes=-3"), 10), Partial { start: 7, end: 9 });
        assert_eq!(parse_range(Some("bytes=-30"), 10), Partial { start: 0, end: 9 });
        assert_eq!(parse_range(Some("bytes=8-100"), 10), Partial { start: 8, end: 9 });
        assert_eq!(parse_range(Some("Bytes = 9-9"), 10), Partial { start: 9, end: 9 });
        assert_eq!(parse_range(Some("bytes=10-"), 10), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=10-20"), 10), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 10), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-5"), 0), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-"), 0), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-1,4-5"), 10), Full);
        assert_eq!(parse_range(Some("bytes=5-2"), 10), Full);
        assert_eq!(parse_range(Some("items=0-1"), 10), Full);
        assert_eq!(parse_range(Some("bytes=a-b"), 10), Full);
        assert_eq!(parse_range(Some("bytes=+1-2"), 10), Full);
        assert_eq!(parse_range(Some("bytes"), 10), Full);
        assert_eq!(parse_range(Some("bytes=-"), 10), Full);
        assert_eq!(
            parse_range(Some("bytes=99999999999999999999-"), 10),
            Full,
            "overflowing numbers are invalid"
        );
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        path: std::path::PathBuf,
        data: Vec<u8>,
        info: FileInfo,
    }

    fn fixture(len: usize) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fw.bin");
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let info = FileInfo {
            sha256: "ABCDEF".into(),
            content_type: Some("application/x-firmware".into()),
            last_modified: Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
        };
        Fixture { _dir: dir, path, data, info }
    }

    async fn get(f: &Fixture, headers: &[(&'static str, &str)]) -> (Response<()>, Vec<u8>) {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        let resp = file_response(&f.path, &f.info, &Method::GET, &h).await.unwrap();
        let (parts, body) = resp.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes().to_vec();
        (Response::from_parts(parts, ()), bytes)
    }

    #[tokio::test]
    async fn whole_file_streams_in_chunks() {
        let f = fixture(3 * CHUNK + 17);
        let (r, body) = get(&f, &[]).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(body, f.data);
        let h = r.headers();
        assert_eq!(h[ETAG], "\"abcdef\"");
        assert_eq!(h[LAST_MODIFIED], "Tue, 14 Nov 2023 22:13:20 GMT");
        assert_eq!(h[ACCEPT_RANGES], "bytes");
        assert_eq!(h[CONTENT_LENGTH], (3 * CHUNK + 17).to_string().as_str());
        assert_eq!(h[CONTENT_TYPE], "application/x-firmware");
    }

    #[tokio::test]
    async fn partial_and_unsatisfiable() {
        let f = fixture(1000);
        let (r, body) = get(&f, &[("range", "bytes=100-199")]).await;
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(r.headers()[CONTENT_RANGE], "bytes 100-199/1000");
        assert_eq!(r.headers()[CONTENT_LENGTH], "100");
        assert_eq!(body, &f.data[100..200]);

        let (r, body) = get(&f, &[("range", "bytes=-10")]).await;
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(body, &f.data[990..]);

        let (r, body) = get(&f, &[("range", "bytes=1000-")]).await;
        assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(r.headers()[CONTENT_RANGE], "bytes */1000");
        assert!(body.is_empty());

        let (r, body) = get(&f, &[("range", "bytes=0-1,5-6")]).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(body.len(), 1000);
    }

    #[tokio::test]
    async fn conditional_requests() {
        let f = fixture(10);
        let (r, body) = get(&f, &[("if-none-match", "\"abcdef\"")]).await;
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        assert!(body.is_empty());
        assert_eq!(r.headers()[ETAG], "\"abcdef\"");
        let (r, _) = get(&f, &[("if-none-match", "\"x\", W/\"abcdef\"")]).await;
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        let (r, _) = get(&f, &[("if-none-match", "*")]).await;
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        let (r, _) = get(&f, &[("if-none-match", "\"other\"")]).await;
        assert_eq!(r.status(), StatusCode::OK);

        let (r, _) = get(&f, &[("if-modified-since", "Tue, 14 Nov 2023 22:13:20 GMT")]).await;
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        let (r, _) = get(&f, &[("if-modified-since", "Tue, 14 Nov 2023 22:13:19 GMT")]).await;
        assert_eq!(r.status(), StatusCode::OK);
        // If-None-Match takes precedence over If-Modified-Since.
        let (r, _) = get(
            &f,
            &[
                ("if-none-match", "\"other\""),
                ("if-modified-since", "Tue, 14 Nov 2023 22:13:20 GMT"),
            ],
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        // Garbage dates are ignored.
        let (r, _) = get(&f, &[("if-modified-since", "yesterday")]).await;
        assert_eq!(r.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn if_range() {
        let f = fixture(100);
        let (r, _) = get(&f, &[("range", "bytes=0-9"), ("if-range", "\"abcdef\"")]).await;
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        let (r, body) = get(&f, &[("range", "bytes=0-9"), ("if-range", "\"changed\"")]).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(body.len(), 100);
        let (r, _) =
            get(&f, &[("range", "bytes=0-9"), ("if-range", "Tue, 14 Nov 2023 22:13:20 GMT")]).await;
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    }

    #[tokio::test]
    async fn head_missing_and_methods() {
        let f = fixture(10);
        let r = file_response(&f.path, &f.info, &Method::HEAD, &HeaderMap::new()).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[CONTENT_LENGTH], "10");
        assert!(r.body().is_end_stream());
        let r = file_response(&f.path, &f.info, &Method::POST, &HeaderMap::new()).await.unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        let missing = f.path.with_file_name("nope.bin");
        let err =
            file_response(&missing, &f.info, &Method::GET, &HeaderMap::new()).await.unwrap_err();
        assert!(matches!(err, AcsError::FileNotFound(_)));
        assert_eq!(err.http_status(), StatusCode::NOT_FOUND);
        // A directory is not a file.
        let dir = f.path.parent().unwrap();
        assert!(file_response(dir, &f.info, &Method::GET, &HeaderMap::new()).await.is_err());
    }

    #[tokio::test]
    async fn file_shrinking_under_us_errors() {
        let f = fixture(100);
        let file = tokio::fs::File::open(&f.path).await.unwrap();
        let body = FileBody::new(file, 200);
        assert!(body.collect().await.is_err());
    }

    #[test]
    fn file_body_is_boxable() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<FileBody>();
    }

    #[test]
    fn safe_names() {
        assert!(is_safe_name("fw-1.2.bin"));
        assert!(!is_safe_name("../etc/passwd"));
        assert!(!is_safe_name("a/b"));
        assert!(!is_safe_name(".hidden"));
        assert!(!is_safe_name(""));
    }
}
