//! CPE → ACS HTTP authentication (server side): Basic and Digest.
//!
//! * [`Authenticator`] issues `WWW-Authenticate` challenges and verifies `Authorization` headers
//!   against a [`CredentialSource`] (username → password).
//! * Digest nonces are stateless: `timestamp ‖ random ‖ HMAC-SHA256(secret, …)`, all hex. A nonce
//!   with a valid signature that is older than the nonce lifetime gets `stale=true`, so the CPE
//!   retries with a fresh nonce instead of asking its user for a password. Because no state is
//!   kept, nonce counts are not tracked (a captured request can be replayed until the nonce
//!   expires); the lifetime is therefore short by default ([`DEFAULT_NONCE_TTL`]).
//! * Both RFC 2069 (no `qop`) and RFC 2617/7616 (`qop=auth` with `nc`/`cnonce`) responses are
//!   accepted, with `MD5`, `MD5-sess`, `SHA-256` and `SHA-256-sess`; the challenge offers MD5,
//!   which every CPE implements.
//! * The digest `uri` must name the request target; absolute-URI and origin (path) forms are
//!   treated as equal.
//! * [`parse_challenges`] and [`parse_authorization`] are lenient parsers (quoted or bare
//!   values, stray spaces, commas inside quotes, several challenges in one header) shared with
//!   the connection-request client.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue, Method, Uri};
use md5::Md5;
use sha2::{Digest as _, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// How long a Digest nonce stays fresh by default.
pub const DEFAULT_NONCE_TTL: Duration = Duration::from_secs(300);

/// How far in the future a nonce timestamp may be (clock steps) before it is rejected.
const NONCE_FUTURE_SLACK_SECS: u64 = 60;

/// Longest `Authorization` header we bother to parse.
const MAX_AUTH_HEADER_LEN: usize = 8 * 1024;

/// Which authentication CPEs must present to the ACS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CpeAuthMode {
    /// No authentication.
    None,
    /// HTTP Basic (only sensible over TLS).
    Basic,
    /// HTTP Digest.
    #[default]
    Digest,
}

impl CpeAuthMode {
    /// The lower-case name used in configuration (`none`, `basic`, `digest`).
    pub fn as_str(self) -> &'static str {
        match self {
            CpeAuthMode::None => "none",
            CpeAuthMode::Basic => "basic",
            CpeAuthMode::Digest => "digest",
        }
    }
}

impl fmt::Display for CpeAuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error returned when parsing a [`CpeAuthMode`] from text fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseCpeAuthModeError(String);

impl fmt::Display for ParseCpeAuthModeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown cpe auth mode {:?} (expected none, basic or digest)", self.0)
    }
}

impl std::error::Error for ParseCpeAuthModeError {}

impl FromStr for CpeAuthMode {
    type Err = ParseCpeAuthModeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "off" => Ok(CpeAuthMode::None),
            "basic" => Ok(CpeAuthMode::Basic),
            "digest" => Ok(CpeAuthMode::Digest),
            _ => Err(ParseCpeAuthModeError(s.to_owned())),
        }
    }
}

/// Looks up the password of a CPE by the username it presented.
///
/// Implemented for closures `Fn(&str) -> Option<String>` and for [`Credentials`]. The lookup
/// is synchronous: callers with asynchronous storage read the username first with
/// [`authorization_username`], fetch the password, then pass a closure.
pub trait CredentialSource {
    /// The password for `username`, or `None` if the user is unknown.
    fn password(&self, username: &str) -> Option<String>;
}

impl<F> CredentialSource for F
where
    F: Fn(&str) -> Option<String>,
{
    fn password(&self, username: &str) -> Option<String> {
        self(username)
    }
}

/// Global credentials plus per-device overrides, keyed by username.
///
/// A per-device entry wins over the global pair when both use the same username.
#[derive(Clone, Default)]
pub struct Credentials {
    global: Option<(String, String)>,
    per_device: HashMap<String, String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("global_username", &self.global.as_ref().map(|g| &g.0))
            .field("per_device", &self.per_device.len())
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// No credentials at all.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the global username/password pair.
    pub fn with_global(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.global = Some((username.into(), password.into()));
        self
    }

    /// Adds (or replaces) a per-device username/password pair.
    pub fn insert_device(&mut self, username: impl Into<String>, password: impl Into<String>) {
        self.per_device.insert(username.into(), password.into());
    }

    /// Removes a per-device pair.
    pub fn remove_device(&mut self, username: &str) {
        self.per_device.remove(username);
    }
}

impl CredentialSource for Credentials {
    fn password(&self, username: &str) -> Option<String> {
        if let Some(p) = self.per_device.get(username) {
            return Some(p.clone());
        }
        match &self.global {
            Some((u, p)) if u == username => Some(p.clone()),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Header parsing
// ---------------------------------------------------------------------------------------------

/// One parsed challenge (`WWW-Authenticate`) or credentials (`Authorization`) item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthParams {
    /// The scheme as sent (`Digest`, `basic`, …); compare case-insensitively.
    pub scheme: String,
    /// A bare token (Basic credentials), if the scheme was followed by one.
    pub token68: Option<String>,
    /// `name=value` pairs in order, names lower-cased, values unquoted.
    pub params: Vec<(String, String)>,
}

impl AuthParams {
    /// The value of parameter `name` (case-insensitive); the first one wins.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Whether the scheme is `scheme` (case-insensitive).
    pub fn is(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }
}

fn is_token68_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

fn is_ows(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ows(&mut self) {
        while self.peek().is_some_and(is_ows) {
            self.i += 1;
        }
    }

    fn skip_ows_and_commas(&mut self) {
        while self.peek().is_some_and(|c| is_ows(c) || c == b',') {
            self.i += 1;
        }
    }

    fn text(&self, from: usize, to: usize) -> String {
        String::from_utf8_lossy(&self.s[from..to]).into_owned()
    }

    /// A name: everything up to whitespace, `=` or `,`.
    fn name(&mut self) -> String {
        let start = self.i;
        while self.peek().is_some_and(|c| !is_ows(c) && c != b'=' && c != b',') {
            self.i += 1;
        }
        self.text(start, self.i)
    }

    /// A value after `=`: a quoted string (with `\` escapes) or everything up to the next comma.
    fn value(&mut self) -> String {
        self.skip_ows();
        if self.peek() == Some(b'"') {
            self.i += 1;
            let mut out = Vec::new();
            while let Some(c) = self.peek() {
                self.i += 1;
                match c {
                    b'"' => break,
                    b'\\' => {
                        if let Some(n) = self.peek() {
                            out.push(n);
                            self.i += 1;
                        }
                    }
                    _ => out.push(c),
                }
            }
            String::from_utf8_lossy(&out).into_owned()
        } else {
            let start = self.i;
            while self.peek().is_some_and(|c| c != b',') {
                self.i += 1;
            }
            self.text(start, self.i).trim().to_owned()
        }
    }

    /// If the rest up to the next comma (or the end) is a token68, consume and return it.
    fn token68(&mut self) -> Option<String> {
        let start = self.i;
        let mut j = self.i;
        while self.s.get(j).copied().is_some_and(is_token68_char) {
            j += 1;
        }
        if j == start {
            return None;
        }
        while self.s.get(j) == Some(&b'=') {
            j += 1;
        }
        let end = j;
        while self.s.get(j).copied().is_some_and(is_ows) {
            j += 1;
        }
        match self.s.get(j) {
            None | Some(b',') => {
                self.i = j;
                Some(self.text(start, end))
            }
            _ => None,
        }
    }
}

/// Parses a `WWW-Authenticate` value, which may hold several challenges
/// (`Digest realm="a", qop="auth", Basic realm="a"`).
pub fn parse_challenges(header: &str) -> Vec<AuthParams> {
    let mut out: Vec<AuthParams> = Vec::new();
    let mut c = Cursor { s: header.as_bytes(), i: 0 };
    // Set once a scheme has been read and before its first parameter.
    let mut fresh_scheme = false;
    loop {
        c.skip_ows_and_commas();
        if c.peek().is_none() {
            break;
        }
        if fresh_scheme {
            fresh_scheme = false;
            if let Some(t) = c.token68() {
                if let Some(last) = out.last_mut() {
                    last.token68 = Some(t);
                }
                continue;
            }
        }
        let name = c.name();
        if name.is_empty() {
            // A stray '=' or similar: skip one byte and go on.
            c.i += 1;
            continue;
        }
        c.skip_ows();
        match (c.peek(), out.last_mut()) {
            (Some(b'='), Some(last)) => {
                c.i += 1;
                let v = c.value();
                last.params.push((name.to_ascii_lowercase(), v));
            }
            (Some(b'='), None) => {
                // A parameter with no scheme before it: skip it.
                c.i += 1;
                let _ = c.value();
            }
            _ => {
                out.push(AuthParams { scheme: name, token68: None, params: Vec::new() });
                fresh_scheme = true;
            }
        }
    }
    out
}

/// Parses an `Authorization` value (one set of credentials).
pub fn parse_authorization(header: &str) -> Option<AuthParams> {
    if header.len() > MAX_AUTH_HEADER_LEN {
        return None;
    }
    let trimmed = header.trim();
    let (scheme, rest) = match trimmed.find([' ', '\t']) {
        Some(i) => (&trimmed[..i], trimmed[i..].trim()),
        None => (trimmed, ""),
    };
    if scheme.is_empty() {
        return None;
    }
    if scheme.eq_ignore_ascii_case("basic") {
        // The credentials are a single token68; be lenient about trailing junk.
        let token = rest.split([',', ' ']).next().unwrap_or("").to_owned();
        return Some(AuthParams {
            scheme: scheme.to_owned(),
            token68: (!token.is_empty()).then_some(token),
            params: Vec::new(),
        });
    }
    // Other schemes: the same grammar as a challenge, keep the first item.
    let mut all = parse_challenges(trimmed);
    if all.is_empty() {
        None
    } else {
        Some(all.swap_remove(0))
    }
}

/// The username carried by an `Authorization` header (Basic or Digest), without verifying it.
///
/// Lets a caller fetch per-device credentials from asynchronous storage before calling
/// [`Authenticator::authenticate`].
pub fn authorization_username(authorization: &HeaderValue) -> Option<String> {
    let text = header_text(authorization)?;
    let parsed = parse_authorization(&text)?;
    if parsed.is("basic") {
        let (user, _) = decode_basic(parsed.token68.as_deref()?)?;
        Some(user)
    } else if parsed.is("digest") {
        digest_username(&parsed)
    } else {
        None
    }
}

fn header_text(v: &HeaderValue) -> Option<String> {
    if v.len() > MAX_AUTH_HEADER_LEN {
        return None;
    }
    Some(String::from_utf8_lossy(v.as_bytes()).into_owned())
}

fn lenient_base64() -> GeneralPurpose {
    GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
}

fn decode_basic(token: &str) -> Option<(String, String)> {
    let raw = lenient_base64().decode(token.trim()).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (u, p) = text.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

fn digest_username(p: &AuthParams) -> Option<String> {
    if let Some(u) = p.get("username") {
        return Some(u.to_owned());
    }
    // RFC 7616 `username*=UTF-8''percent-encoded`.
    let ext = p.get("username*")?;
    let encoded = ext.split("''").nth(1)?;
    Some(percent_encoding::percent_decode_str(encoded).decode_utf8_lossy().into_owned())
}

// ---------------------------------------------------------------------------------------------
// Digest computation (shared with the connection-request client)
// ---------------------------------------------------------------------------------------------

/// A Digest hash algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlgorithm {
    /// `MD5` (the default when the `algorithm` parameter is absent).
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256`.
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
}

impl DigestAlgorithm {
    /// Parses the `algorithm` parameter; `None` input means MD5.
    pub fn parse(value: Option<&str>) -> Option<Self> {
        let Some(v) = value else {
            return Some(DigestAlgorithm::Md5);
        };
        match v.trim().to_ascii_uppercase().as_str() {
            "" | "MD5" => Some(DigestAlgorithm::Md5),
            "MD5-SESS" => Some(DigestAlgorithm::Md5Sess),
            "SHA-256" => Some(DigestAlgorithm::Sha256),
            "SHA-256-SESS" => Some(DigestAlgorithm::Sha256Sess),
            _ => None,
        }
    }

    /// The name as written in headers.
    pub fn as_str(self) -> &'static str {
        match self {
            DigestAlgorithm::Md5 => "MD5",
            DigestAlgorithm::Md5Sess => "MD5-sess",
            DigestAlgorithm::Sha256 => "SHA-256",
            DigestAlgorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    fn is_sess(self) -> bool {
        matches!(self, DigestAlgorithm::Md5Sess | DigestAlgorithm::Sha256Sess)
    }

    fn hash(self, data: &str) -> String {
        match self {
            DigestAlgorithm::Md5 | DigestAlgorithm::Md5Sess => hex::encode(Md5::digest(data)),
            DigestAlgorithm::Sha256 | DigestAlgorithm::Sha256Sess => {
                hex::encode(Sha256::digest(data))
            }
        }
    }
}

/// Inputs of a Digest `response` computation.
#[derive(Debug, Clone, Copy)]
pub struct DigestInput<'a> {
    /// Hash algorithm.
    pub algorithm: DigestAlgorithm,
    /// Username.
    pub username: &'a str,
    /// Realm.
    pub realm: &'a str,
    /// Password.
    pub password: &'a str,
    /// HTTP method.
    pub method: &'a str,
    /// The `uri` parameter, exactly as sent.
    pub uri: &'a str,
    /// Server nonce.
    pub nonce: &'a str,
    /// `Some((qop, nc, cnonce))` for RFC 2617 mode; `None` for RFC 2069.
    pub qop: Option<(&'a str, &'a str, &'a str)>,
    /// Client nonce for `-sess` algorithms used without qop (rare); ignored otherwise.
    pub sess_cnonce: Option<&'a str>,
}

/// Computes the Digest `response` value (lower-case hex).
pub fn digest_response(i: &DigestInput<'_>) -> String {
    let alg = i.algorithm;
    let mut ha1 = alg.hash(&format!("{}:{}:{}", i.username, i.realm, i.password));
    if alg.is_sess() {
        let cnonce = i.qop.map(|q| q.2).or(i.sess_cnonce).unwrap_or("");
        ha1 = alg.hash(&format!("{ha1}:{}:{cnonce}", i.nonce));
    }
    let ha2 = alg.hash(&format!("{}:{}", i.method, i.uri));
    match i.qop {
        Some((qop, nc, cnonce)) => {
            alg.hash(&format!("{ha1}:{}:{nc}:{cnonce}:{qop}:{ha2}", i.nonce))
        }
        None => alg.hash(&format!("{ha1}:{}:{ha2}", i.nonce)),
    }
}

/// Compares two byte strings in time independent of where they differ (and of their lengths,
/// by comparing SHA-256 digests).
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let ha = Sha256::digest(a);
    let hb = Sha256::digest(b);
    ha.iter().zip(hb.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Request-target normalisation: an absolute URI becomes its path-and-query; empty is `/`.
fn normalize_target(uri: &str) -> String {
    let uri = uri.trim();
    let rest = match uri.find("://") {
        Some(i) => {
            let after = &uri[i + 3..];
            match after.find(['/', '?']) {
                Some(j) => &after[j..],
                None => "",
            }
        }
        None => uri,
    };
    if rest.is_empty() {
        "/".to_owned()
    } else if rest.starts_with('/') {
        rest.to_owned()
    } else {
        format!("/{rest}")
    }
}

fn uri_matches(digest_uri: &str, target: &Uri) -> bool {
    let target_norm = match target.path_and_query() {
        Some(pq) => normalize_target(pq.as_str()),
        None => "/".to_owned(),
    };
    normalize_target(digest_uri) == target_norm
}

// ---------------------------------------------------------------------------------------------
// Authenticator
// ---------------------------------------------------------------------------------------------

/// Why a request was not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// No `Authorization` header.
    Missing,
    /// The header could not be parsed, or lacks required parameters.
    Malformed,
    /// The header uses a scheme other than the configured one.
    WrongScheme,
    /// The username is unknown.
    UnknownUser,
    /// The password (Basic) or digest response is wrong.
    BadCredentials,
    /// The digest `uri` does not name the request target.
    UriMismatch,
    /// The nonce was not issued by us (bad signature, future timestamp).
    BadNonce,
    /// The nonce is ours but expired; the digest itself was correct.
    StaleNonce,
    /// The algorithm or qop is not supported.
    Unsupported,
}

impl RejectReason {
    /// A short lower-case label (bounded, usable as a metrics label).
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::Missing => "missing",
            RejectReason::Malformed => "malformed",
            RejectReason::WrongScheme => "wrong_scheme",
            RejectReason::UnknownUser => "unknown_user",
            RejectReason::BadCredentials => "bad_credentials",
            RejectReason::UriMismatch => "uri_mismatch",
            RejectReason::BadNonce => "bad_nonce",
            RejectReason::StaleNonce => "stale_nonce",
            RejectReason::Unsupported => "unsupported",
        }
    }
}

/// A rejection: answer `401 Unauthorized` with these `WWW-Authenticate` headers.
#[derive(Debug, Clone)]
pub struct Challenge {
    /// Values for `WWW-Authenticate` (one header each).
    pub www_authenticate: Vec<HeaderValue>,
    /// Why the request was rejected (for logs and metrics, not for the CPE).
    pub reason: RejectReason,
}

impl Challenge {
    /// Appends the `WWW-Authenticate` headers to a response's header map.
    pub fn apply(&self, headers: &mut HeaderMap) {
        for v in &self.www_authenticate {
            headers.append(http::header::WWW_AUTHENTICATE, v.clone());
        }
    }
}

/// The result of [`Authenticator::authenticate`].
#[derive(Debug, Clone)]
pub enum AuthOutcome {
    /// Authentication is disabled ([`CpeAuthMode::None`]).
    Anonymous,
    /// The CPE proved it knows the password of `username`.
    Authenticated {
        /// The username it authenticated as.
        username: String,
    },
    /// Answer 401 with the challenge.
    Rejected(Challenge),
}

impl AuthOutcome {
    /// Whether the request may proceed.
    pub fn is_allowed(&self) -> bool {
        !matches!(self, AuthOutcome::Rejected(_))
    }
}

/// Issues challenges and verifies CPE credentials. Cheap to share behind an `Arc`.
#[derive(Clone)]
pub struct Authenticator {
    mode: CpeAuthMode,
    realm: String,
    secret: Vec<u8>,
    nonce_ttl: Duration,
    opaque: String,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("mode", &self.mode)
            .field("realm", &self.realm)
            .field("nonce_ttl", &self.nonce_ttl)
            .finish_non_exhaustive()
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn hmac_for(secret: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length; the error branch cannot happen but is handled anyway
    // by falling back to an empty key (which only makes nonces fail to verify).
    match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default()),
    }
}

/// Characters allowed in a realm inside a quoted string without escaping trouble.
fn sanitize_realm(realm: &str) -> String {
    realm.chars().filter(|c| *c != '"' && *c != '\\' && !c.is_control()).collect()
}

impl Authenticator {
    /// A new authenticator. `secret` signs nonces; use at least 32 random bytes and keep it
    /// stable across restarts if nonces should survive them.
    pub fn new(mode: CpeAuthMode, realm: impl Into<String>, secret: impl AsRef<[u8]>) -> Self {
        let secret = secret.as_ref().to_vec();
        let realm = sanitize_realm(&realm.into());
        let mut mac = hmac_for(&secret);
        mac.update(b"opaque:");
        mac.update(realm.as_bytes());
        let opaque = hex::encode(&mac.finalize().into_bytes()[..8]);
        Self { mode, realm, secret, nonce_ttl: DEFAULT_NONCE_TTL, opaque }
    }

    /// Sets how long a nonce stays fresh.
    pub fn with_nonce_ttl(mut self, ttl: Duration) -> Self {
        self.nonce_ttl = ttl;
        self
    }

    /// The configured mode.
    pub fn mode(&self) -> CpeAuthMode {
        self.mode
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    fn nonce_mac(&self, ts_hex: &str, rand_hex: &str) -> HmacSha256 {
        let mut mac = hmac_for(&self.secret);
        mac.update(b"nonce:");
        mac.update(ts_hex.as_bytes());
        mac.update(b":");
        mac.update(rand_hex.as_bytes());
        mac.update(b":");
        mac.update(self.realm.as_bytes());
        mac
    }

    /// A fresh nonce stamped with `now_unix` (seconds).
    pub fn new_nonce_at(&self, now_unix: u64) -> String {
        let ts_hex = format!("{now_unix:016x}");
        let rand_hex = format!("{:016x}", rand::random::<u64>());
        let tag = self.nonce_mac(&ts_hex, &rand_hex).finalize().into_bytes();
        format!("{ts_hex}{rand_hex}{}", hex::encode(&tag[..16]))
    }

    /// Checks a nonce: `Ok(true)` fresh, `Ok(false)` ours but stale, `Err` not ours.
    fn check_nonce(&self, nonce: &str, now_unix: u64) -> Result<bool, RejectReason> {
        if nonce.len() != 64 || !nonce.is_ascii() {
            return Err(RejectReason::BadNonce);
        }
        let (ts_hex, rest) = nonce.split_at(16);
        let (rand_hex, tag_hex) = rest.split_at(16);
        let tag = hex::decode(tag_hex).map_err(|_| RejectReason::BadNonce)?;
        self.nonce_mac(ts_hex, rand_hex)
            .verify_truncated_left(&tag)
            .map_err(|_| RejectReason::BadNonce)?;
        let ts = u64::from_str_radix(ts_hex, 16).map_err(|_| RejectReason::BadNonce)?;
        if ts > now_unix.saturating_add(NONCE_FUTURE_SLACK_SECS) {
            return Err(RejectReason::BadNonce);
        }
        Ok(now_unix.saturating_sub(ts) <= self.nonce_ttl.as_secs())
    }

    /// The `WWW-Authenticate` values for the configured mode (empty for [`CpeAuthMode::None`]).
    pub fn challenge_headers_at(&self, stale: bool, now_unix: u64) -> Vec<HeaderValue> {
        let text = match self.mode {
            CpeAuthMode::None => return Vec::new(),
            CpeAuthMode::Basic => format!("Basic realm=\"{}\"", self.realm),
            CpeAuthMode::Digest => {
                let mut s = format!(
                    "Digest realm=\"{}\", qop=\"auth\", nonce=\"{}\", opaque=\"{}\", algorithm=MD5",
                    self.realm,
                    self.new_nonce_at(now_unix),
                    self.opaque
                );
                if stale {
                    s.push_str(", stale=true");
                }
                s
            }
        };
        // The realm is sanitised and the rest is ASCII we wrote, so this cannot fail; should
        // a non-visible character slip through, send a challenge without it rather than panic.
        match HeaderValue::from_str(&text) {
            Ok(v) => vec![v],
            Err(_) => vec![HeaderValue::from_static("Digest realm=\"acs\"")],
        }
    }

    /// [`Self::challenge_headers_at`] with the current time.
    pub fn challenge_headers(&self, stale: bool) -> Vec<HeaderValue> {
        self.challenge_headers_at(stale, unix_now())
    }

    fn reject(&self, reason: RejectReason, now_unix: u64) -> AuthOutcome {
        AuthOutcome::Rejected(Challenge {
            www_authenticate: self
                .challenge_headers_at(reason == RejectReason::StaleNonce, now_unix),
            reason,
        })
    }

    /// Verifies a request's `Authorization` header.
    ///
    /// `target` is the request target as received (`req.uri()`), `authorization` the header
    /// value if any.
    pub fn authenticate(
        &self,
        method: &Method,
        target: &Uri,
        authorization: Option<&HeaderValue>,
        creds: &dyn CredentialSource,
    ) -> AuthOutcome {
        self.authenticate_at(method, target, authorization, creds, unix_now())
    }

    /// [`Self::authenticate`] at an explicit time (seconds since the Unix epoch).
    pub fn authenticate_at(
        &self,
        method: &Method,
        target: &Uri,
        authorization: Option<&HeaderValue>,
        creds: &dyn CredentialSource,
        now_unix: u64,
    ) -> AuthOutcome {
        if self.mode == CpeAuthMode::None {
            return AuthOutcome::Anonymous;
        }
        let Some(value) = authorization else {
            return self.reject(RejectReason::Missing, now_unix);
        };
        let Some(parsed) = header_text(value).and_then(|t| parse_authorization(&t)) else {
            return self.reject(RejectReason::Malformed, now_unix);
        };
        let result = match self.mode {
            CpeAuthMode::Basic if parsed.is("basic") => self.verify_basic(&parsed, creds),
            CpeAuthMode::Digest if parsed.is("digest") => {
                self.verify_digest(&parsed, method, target, creds, now_unix)
            }
            _ => Err(RejectReason::WrongScheme),
        };
        match result {
            Ok(username) => AuthOutcome::Authenticated { username },
            Err(reason) => self.reject(reason, now_unix),
        }
    }

    fn verify_basic(
        &self,
        p: &AuthParams,
        creds: &dyn CredentialSource,
    ) -> Result<String, RejectReason> {
        let token = p.token68.as_deref().ok_or(RejectReason::Malformed)?;
        let (user, pass) = decode_basic(token).ok_or(RejectReason::Malformed)?;
        let expected = creds.password(&user).ok_or(RejectReason::UnknownUser)?;
        if constant_time_eq(pass.as_bytes(), expected.as_bytes()) {
            Ok(user)
        } else {
            Err(RejectReason::BadCredentials)
        }
    }

    fn verify_digest(
        &self,
        p: &AuthParams,
        method: &Method,
        target: &Uri,
        creds: &dyn CredentialSource,
        now_unix: u64,
    ) -> Result<String, RejectReason> {
        let username = digest_username(p).ok_or(RejectReason::Malformed)?;
        let nonce = p.get("nonce").ok_or(RejectReason::Malformed)?;
        let uri = p.get("uri").ok_or(RejectReason::Malformed)?;
        let response = p.get("response").ok_or(RejectReason::Malformed)?;
        let realm = p.get("realm").unwrap_or(&self.realm);
        let algorithm =
            DigestAlgorithm::parse(p.get("algorithm")).ok_or(RejectReason::Unsupported)?;
        let qop = match p.get("qop") {
            None => None,
            Some(q) if q.trim().eq_ignore_ascii_case("auth") => {
                let nc = p.get("nc").ok_or(RejectReason::Malformed)?;
                let cnonce = p.get("cnonce").ok_or(RejectReason::Malformed)?;
                Some((q.trim(), nc, cnonce))
            }
            Some(_) => return Err(RejectReason::Unsupported),
        };
        let fresh = self.check_nonce(nonce, now_unix)?;
        if !uri_matches(uri, target) {
            return Err(RejectReason::UriMismatch);
        }
        let password = creds.password(&username).ok_or(RejectReason::UnknownUser)?;
        let expected = digest_response(&DigestInput {
            algorithm,
            username: &username,
            realm,
            password: &password,
            method: method.as_str(),
            uri,
            nonce,
            qop,
            sess_cnonce: p.get("cnonce"),
        });
        let got = response.trim().to_ascii_lowercase();
        if !constant_time_eq(got.as_bytes(), expected.as_bytes()) {
            return Err(RejectReason::BadCredentials);
        }
        if !fresh {
            return Err(RejectReason::StaleNonce);
        }
        Ok(username)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const NOW: u64 = 1_700_000_000;

    fn creds() -> Credentials {
        let mut c = Credentials::new().with_global("acs", "global-secret");
        c.insert_device("cpe1", "dev-pass");
        c
    }

    fn digest_auth() -> Authenticator {
        Authenticator::new(CpeAuthMode::Digest, "acsd", b"0123456789abcdef0123456789abcdef")
    }

    fn nonce_of(outcome: &AuthOutcome) -> String {
        let AuthOutcome::Rejected(ch) = outcome else {
            panic!("expected a challenge, got {outcome:?}")
        };
        let text = ch.www_authenticate[0].to_str().unwrap();
        let parsed = parse_challenges(text);
        parsed[0].get("nonce").unwrap().to_owned()
    }

    #[allow(clippy::too_many_arguments)]
    fn digest_header(
        alg: DigestAlgorithm,
        user: &str,
        pass: &str,
        method: &str,
        uri: &str,
        nonce: &str,
        qop: bool,
        realm: &str,
    ) -> HeaderValue {
        let resp = digest_response(&DigestInput {
            algorithm: alg,
            username: user,
            realm,
            password: pass,
            method,
            uri,
            nonce,
            qop: qop.then_some(("auth", "00000001", "0a4f113b")),
            sess_cnonce: None,
        });
        let mut s = format!(
            "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{resp}\", algorithm={}",
            alg.as_str()
        );
        if qop {
            s.push_str(", qop=auth, nc=00000001, cnonce=\"0a4f113b\"");
        }
        HeaderValue::from_str(&s).unwrap()
    }

    #[test]
    fn mode_parse_and_display() {
        assert_eq!("Digest".parse::<CpeAuthMode>().unwrap(), CpeAuthMode::Digest);
        assert_eq!(" none ".parse::<CpeAuthMode>().unwrap(), CpeAuthMode::None);
        assert_eq!("basic".parse::<CpeAuthMode>().unwrap(), CpeAuthMode::Basic);
        assert!("ntlm".parse::<CpeAuthMode>().is_err());
        assert_eq!(CpeAuthMode::default().to_string(), "digest");
    }

    #[test]
    fn rfc2617_example_response() {
        // The worked example of RFC 2617 section 3.5.
        let r = digest_response(&DigestInput {
            algorithm: DigestAlgorithm::Md5,
            username: "Mufasa",
            realm: "testrealm@host.com",
            password: "Circle Of Life",
            method: "GET",
            uri: "/dir/index.html",
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            qop: Some(("auth", "00000001", "0a4f113b")),
            sess_cnonce: None,
        });
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn rfc7616_sha256_example_response() {
        // The SHA-256 example of RFC 7616 section 3.9.1.
        let r = digest_response(&DigestInput {
            algorithm: DigestAlgorithm::Sha256,
            username: "Mufasa",
            realm: "http-auth@example.org",
            password: "Circle of Life",
            method: "GET",
            uri: "/dir/index.html",
            nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            qop: Some(("auth", "00000001", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")),
            sess_cnonce: None,
        });
        assert_eq!(r, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
    }

    #[test]
    fn parse_challenges_lenient() {
        let v = parse_challenges(
            r#"Digest realm="a, b", qop="auth,auth-int" ,nonce=abc ,algorithm=MD5, Basic realm=x"#,
        );
        assert_eq!(v.len(), 2);
        assert!(v[0].is("digest"));
        assert_eq!(v[0].get("realm"), Some("a, b"));
        assert_eq!(v[0].get("QOP"), Some("auth,auth-int"));
        assert_eq!(v[0].get("nonce"), Some("abc"));
        assert_eq!(v[0].get("algorithm"), Some("MD5"));
        assert!(v[1].is("basic"));
        assert_eq!(v[1].get("realm"), Some("x"));

        let v = parse_challenges(r#"Basic realm="r""#);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].get("realm"), Some("r"));

        let v = parse_challenges(r#"Digest  realm = "esc\"aped" , nonce="n""#);
        assert_eq!(v[0].get("realm"), Some("esc\"aped"));
        assert_eq!(v[0].get("nonce"), Some("n"));

        // Garbage never panics.
        for s in ["", ",", "=", "==,=", "\"", "Digest =\"", "Digest realm=\"unterminated"] {
            let _ = parse_challenges(s);
            let _ = parse_authorization(s);
        }
    }

    #[test]
    fn parse_basic_authorization() {
        let p = parse_authorization("Basic dXNlcjpwYXNz").unwrap();
        assert!(p.is("basic"));
        assert_eq!(p.token68.as_deref(), Some("dXNlcjpwYXNz"));
        assert_eq!(decode_basic("dXNlcjpwYXNz"), Some(("user".into(), "pass".into())));
        // Unpadded and padded forms.
        assert_eq!(decode_basic("dTpw"), Some(("u".into(), "p".into())));
        assert_eq!(decode_basic("dTpwcA"), Some(("u".into(), "pp".into())));
        assert_eq!(decode_basic("dTpwcA=="), Some(("u".into(), "pp".into())));
    }

    #[test]
    fn none_mode_allows_everything() {
        let a = Authenticator::new(CpeAuthMode::None, "r", b"k");
        let out = a.authenticate_at(&Method::POST, &Uri::from_static("/"), None, &creds(), NOW);
        assert!(matches!(out, AuthOutcome::Anonymous));
        assert!(a.challenge_headers(false).is_empty());
    }

    #[test]
    fn basic_mode() {
        let a = Authenticator::new(CpeAuthMode::Basic, "acsd", b"k");
        let target = Uri::from_static("/");
        let out = a.authenticate_at(&Method::POST, &target, None, &creds(), NOW);
        let AuthOutcome::Rejected(ch) = out else { panic!() };
        assert_eq!(ch.reason, RejectReason::Missing);
        assert_eq!(ch.www_authenticate[0], "Basic realm=\"acsd\"");

        let ok = HeaderValue::from_static("Basic Y3BlMTpkZXYtcGFzcw=="); // cpe1:dev-pass
        match a.authenticate_at(&Method::POST, &target, Some(&ok), &creds(), NOW) {
            AuthOutcome::Authenticated { username } => assert_eq!(username, "cpe1"),
            o => panic!("{o:?}"),
        }
        let bad = HeaderValue::from_static("Basic Y3BlMTp3cm9uZw=="); // cpe1:wrong
        let AuthOutcome::Rejected(ch) =
            a.authenticate_at(&Method::POST, &target, Some(&bad), &creds(), NOW)
        else {
            panic!()
        };
        assert_eq!(ch.reason, RejectReason::BadCredentials);
        let digest = HeaderValue::from_static("Digest username=\"cpe1\"");
        let AuthOutcome::Rejected(ch) =
            a.authenticate_at(&Method::POST, &target, Some(&digest), &creds(), NOW)
        else {
            panic!()
        };
        assert_eq!(ch.reason, RejectReason::WrongScheme);
        assert_eq!(authorization_username(&ok).as_deref(), Some("cpe1"));
    }

    #[test]
    fn digest_challenge_shape() {
        let a = digest_auth();
        let h = a.challenge_headers_at(false, NOW);
        let p = &parse_challenges(h[0].to_str().unwrap())[0];
        assert!(p.is("digest"));
        assert_eq!(p.get("realm"), Some("acsd"));
        assert_eq!(p.get("qop"), Some("auth"));
        assert_eq!(p.get("algorithm"), Some("MD5"));
        assert!(p.get("opaque").is_some());
        assert_eq!(p.get("nonce").map(str::len), Some(64));
        assert_eq!(p.get("stale"), None);
        let h = a.challenge_headers_at(true, NOW);
        assert!(h[0].to_str().unwrap().ends_with(", stale=true"));
    }

    #[test]
    fn digest_qop_rfc2069_and_sha256() {
        let a = digest_auth();
        let target = Uri::from_static("/acs?x=1");
        let c = creds();
        let nonce = nonce_of(&a.authenticate_at(&Method::POST, &target, None, &c, NOW));
        for (alg, qop) in [
            (DigestAlgorithm::Md5, true),
            (DigestAlgorithm::Md5, false),
            (DigestAlgorithm::Sha256, true),
            (DigestAlgorithm::Md5Sess, true),
            (DigestAlgorithm::Sha256Sess, true),
        ] {
            let h = digest_header(alg, "cpe1", "dev-pass", "POST", "/acs?x=1", &nonce, qop, "acsd");
            match a.authenticate_at(&Method::POST, &target, Some(&h), &c, NOW + 10) {
                AuthOutcome::Authenticated { username } => assert_eq!(username, "cpe1"),
                o => panic!("{alg:?} qop={qop}: {o:?}"),
            }
            assert_eq!(authorization_username(&h).as_deref(), Some("cpe1"));
        }
        // Global credentials work too.
        let h = digest_header(
            DigestAlgorithm::Md5,
            "acs",
            "global-secret",
            "POST",
            "/acs?x=1",
            &nonce,
            true,
            "acsd",
        );
        assert!(a.authenticate_at(&Method::POST, &target, Some(&h), &c, NOW).is_allowed());
    }

    #[test]
    fn digest_absolute_uri_form_is_accepted() {
        let a = digest_auth();
        let c = creds();
        let nonce = a.new_nonce_at(NOW);
        // Request target in absolute form, digest uri in path form.
        let target: Uri = "http://acs.example:7547/".parse().unwrap();
        let h = digest_header(
            DigestAlgorithm::Md5,
            "cpe1",
            "dev-pass",
            "POST",
            "/",
            &nonce,
            true,
            "acsd",
        );
        assert!(a.authenticate_at(&Method::POST, &target, Some(&h), &c, NOW).is_allowed());
        // Request target in path form, digest uri absolute.
        let target = Uri::from_static("/");
        let h = digest_header(
            DigestAlgorithm::Md5,
            "cpe1",
            "dev-pass",
            "POST",
            "http://acs.example:7547",
            &nonce,
            true,
            "acsd",
        );
        assert!(a.authenticate_at(&Method::POST, &target, Some(&h), &c, NOW).is_allowed());
    }

    #[test]
    fn digest_rejections() {
        let a = digest_auth();
        let c = creds();
        let target = Uri::from_static("/");
        let nonce = a.new_nonce_at(NOW);
        let reason = |h: &HeaderValue, now: u64| match a.authenticate_at(
            &Method::POST,
            &target,
            Some(h),
            &c,
            now,
        ) {
            AuthOutcome::Rejected(ch) => ch.reason,
            o => panic!("{o:?}"),
        };
        let wrong =
            digest_header(DigestAlgorithm::Md5, "cpe1", "nope", "POST", "/", &nonce, true, "acsd");
        assert_eq!(reason(&wrong, NOW), RejectReason::BadCredentials);
        let unknown =
            digest_header(DigestAlgorithm::Md5, "who", "x", "POST", "/", &nonce, true, "acsd");
        assert_eq!(reason(&unknown, NOW), RejectReason::UnknownUser);
        let other_uri = digest_header(
            DigestAlgorithm::Md5,
            "cpe1",
            "dev-pass",
            "POST",
            "/other",
            &nonce,
            true,
            "acsd",
        );
        assert_eq!(reason(&other_uri, NOW), RejectReason::UriMismatch);
        let last = if nonce.ends_with('0') { '1' } else { '0' };
        let forged_nonce = format!("{}{last}", &nonce[..63]);
        let forged = digest_header(
            DigestAlgorithm::Md5,
            "cpe1",
            "dev-pass",
            "POST",
            "/",
            &forged_nonce,
            true,
            "acsd",
        );
        assert_eq!(reason(&forged, NOW), RejectReason::BadNonce);
        let other_key = Authenticator::new(CpeAuthMode::Digest, "acsd", b"another secret");
        let foreign = digest_header(
            DigestAlgorithm::Md5,
            "cpe1",
            "dev-pass",
            "POST",
            "/",
            &other_key.new_nonce_at(NOW),
            true,
            "acsd",
        );
        assert_eq!(reason(&foreign, NOW), RejectReason::BadNonce);
        let basic = HeaderValue::from_static("Basic Y3BlMTpkZXYtcGFzcw==");
        assert_eq!(reason(&basic, NOW), RejectReason::WrongScheme);
        let missing = HeaderValue::from_static("Digest username=\"cpe1\", nonce=\"x\"");
        assert_eq!(reason(&missing, NOW), RejectReason::Malformed);
        let auth_int = HeaderValue::from_str(&format!(
            "Digest username=\"cpe1\", realm=\"acsd\", nonce=\"{nonce}\", uri=\"/\", response=\"00\", qop=auth-int, nc=1, cnonce=\"c\""
        ))
        .unwrap();
        assert_eq!(reason(&auth_int, NOW), RejectReason::Unsupported);
        // Future nonce.
        let future = digest_header(
            DigestAlgorithm::Md5,
            "cpe1",
            "dev-pass",
            "POST",
            "/",
            &a.new_nonce_at(NOW + 3600),
            true,
            "acsd",
        );
        assert_eq!(reason(&future, NOW), RejectReason::BadNonce);
    }

    #[test]
    fn stale_nonce_gets_stale_true() {
        let a = digest_auth().with_nonce_ttl(Duration::from_secs(60));
        let c = creds();
        let target = Uri::from_static("/");
        let nonce = a.new_nonce_at(NOW);
        let h = digest_header(
            DigestAlgorithm::Md5,
            "cpe1",
            "dev-pass",
            "POST",
            "/",
            &nonce,
            true,
            "acsd",
        );
        assert!(a.authenticate_at(&Method::POST, &target, Some(&h), &c, NOW + 60).is_allowed());
        let AuthOutcome::Rejected(ch) =
            a.authenticate_at(&Method::POST, &target, Some(&h), &c, NOW + 61)
        else {
            panic!()
        };
        assert_eq!(ch.reason, RejectReason::StaleNonce);
        assert!(ch.www_authenticate[0].to_str().unwrap().contains("stale=true"));
        let mut hm = HeaderMap::new();
        ch.apply(&mut hm);
        assert_eq!(hm.get_all(http::header::WWW_AUTHENTICATE).iter().count(), 1);
        // A stale nonce with a wrong password is not "stale", it is wrong.
        let wrong =
            digest_header(DigestAlgorithm::Md5, "cpe1", "x", "POST", "/", &nonce, true, "acsd");
        let AuthOutcome::Rejected(ch) =
            a.authenticate_at(&Method::POST, &target, Some(&wrong), &c, NOW + 61)
        else {
            panic!()
        };
        assert_eq!(ch.reason, RejectReason::BadCredentials);
    }

    #[test]
    fn closure_credential_source() {
        let src = |u: &str| (u == "x").then(|| "y".to_owned());
        assert_eq!(src.password("x").as_deref(), Some("y"));
        assert_eq!(src.password("z"), None);
        let mut c = Credentials::new().with_global("g", "gp");
        c.insert_device("g", "override");
        assert_eq!(c.password("g").as_deref(), Some("override"));
        c.remove_device("g");
        assert_eq!(c.password("g").as_deref(), Some("gp"));
    }

    #[test]
    fn constant_time_eq_works() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn username_star() {
        let p =
            parse_authorization("Digest username*=UTF-8''J%C3%A4s%C3%B8n, nonce=\"n\"").unwrap();
        assert_eq!(digest_username(&p).as_deref(), Some("Jäsøn"));
    }
}
