//! HTTP Digest (RFC 7616 with MD5, and RFC 2069 without `qop`) and Basic authentication, both
//! as a client (a CPE logging in to the ACS) and as a server (a CPE checking the ACS's
//! connection requests).

use base64::Engine as _;
use md5::{Digest as _, Md5};

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `Basic realm=...`.
    Basic,
    /// `Digest ...`.
    Digest {
        /// `realm`.
        realm: String,
        /// `nonce`.
        nonce: String,
        /// `opaque`, echoed back.
        opaque: Option<String>,
        /// Whether `qop=auth` is offered.
        qop_auth: bool,
    },
}

fn md5_hex(parts: &[&str]) -> String {
    let mut h = Md5::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update(b":");
        }
        h.update(p.as_bytes());
    }
    hex_lower(&h.finalize())
}

fn hex_lower(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s
}

/// `key=value` / `key="value"` pairs of an auth header after its scheme.
pub fn params(rest: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        let Some(eq) = s.find('=') else { break };
        let key = s[..eq].trim().trim_start_matches(',').trim().to_ascii_lowercase();
        s = s[eq + 1..].trim_start();
        let value;
        if let Some(stripped) = s.strip_prefix('"') {
            let end = stripped.find('"').unwrap_or(stripped.len());
            value = stripped[..end].to_string();
            s = stripped.get(end + 1..).unwrap_or("");
        } else {
            let end = s.find(',').unwrap_or(s.len());
            value = s[..end].trim().to_string();
            s = &s[end..];
        }
        s = s.trim_start().trim_start_matches(',').trim_start();
        out.push((key, value));
    }
    out
}

fn get<'a>(p: &'a [(String, String)], k: &str) -> Option<&'a str> {
    p.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
}

/// Parse a `WWW-Authenticate` header.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("digest") {
        return None;
    }
    let p = params(rest);
    Some(Challenge::Digest {
        realm: get(&p, "realm")?.to_string(),
        nonce: get(&p, "nonce")?.to_string(),
        opaque: get(&p, "opaque").map(str::to_string),
        qop_auth: get(&p, "qop").is_some_and(|q| q.split(',').any(|x| x.trim() == "auth")),
    })
}

/// The `Authorization` header answering `challenge`.
pub fn authorization(
    challenge: &Challenge,
    username: &str,
    password: &str,
    method: &str,
    uri: &str,
    nc: u32,
    cnonce: &str,
) -> String {
    match challenge {
        Challenge::Basic => {
            let raw = format!("{username}:{password}");
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
        }
        Challenge::Digest { realm, nonce, opaque, qop_auth } => {
            let ha1 = md5_hex(&[username, realm, password]);
            let ha2 = md5_hex(&[method, uri]);
            let nc = format!("{nc:08x}");
            let mut h = if *qop_auth {
                let response = md5_hex(&[&ha1, nonce, &nc, cnonce, "auth", &ha2]);
                format!(
                    "Digest username=\"{username}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", qop=auth, nc={nc}, cnonce=\"{cnonce}\", response=\"{response}\", algorithm=MD5"
                )
            } else {
                let response = md5_hex(&[&ha1, nonce, &ha2]);
                format!(
                    "Digest username=\"{username}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\""
                )
            };
            if let Some(o) = opaque {
                h.push_str(&format!(", opaque=\"{o}\""));
            }
            h
        }
    }
}

/// Check an `Authorization: Digest ...` header (server side). `nonce_ok` decides whether the
/// nonce is one we issued. The `uri` must equal the request target.
pub fn verify_digest(
    header: &str,
    method: &str,
    target: &str,
    realm: &str,
    username: &str,
    password: &str,
    nonce_ok: impl Fn(&str) -> bool,
) -> bool {
    let header = header.trim();
    let Some((scheme, rest)) = header.split_once(' ') else { return false };
    if !scheme.eq_ignore_ascii_case("digest") {
        return false;
    }
    let p = params(rest);
    let (Some(user), Some(nonce), Some(uri), Some(response)) =
        (get(&p, "username"), get(&p, "nonce"), get(&p, "uri"), get(&p, "response"))
    else {
        return false;
    };
    if user != username || uri != target || get(&p, "realm") != Some(realm) || !nonce_ok(nonce) {
        return false;
    }
    let ha1 = md5_hex(&[username, realm, password]);
    let ha2 = md5_hex(&[method, uri]);
    let expected = match get(&p, "qop") {
        Some(qop) => {
            let (Some(nc), Some(cnonce)) = (get(&p, "nc"), get(&p, "cnonce")) else { return false };
            md5_hex(&[&ha1, nonce, nc, cnonce, qop, &ha2])
        }
        None => md5_hex(&[&ha1, nonce, &ha2]),
    };
    expected.eq_ignore_ascii_case(response)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rfc2617_example() {
        // The worked example of RFC 2617 section 3.5.
        let ch = parse_challenge(
            r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap();
        let h =
            authorization(&ch, "Mufasa", "Circle Of Life", "GET", "/dir/index.html", 1, "0a4f113b");
        assert!(h.contains("response=\"6629fae49393a05397450978507c4ef1\""), "{h}");
        assert!(verify_digest(
            &h,
            "GET",
            "/dir/index.html",
            "testrealm@host.com",
            "Mufasa",
            "Circle Of Life",
            |n| n == "dcd98b7102dd2f0e8b11d0f600bfb0c093"
        ));
        assert!(!verify_digest(
            &h,
            "GET",
            "/other",
            "testrealm@host.com",
            "Mufasa",
            "Circle Of Life",
            |_| true
        ));
        assert!(!verify_digest(
            &h,
            "GET",
            "/dir/index.html",
            "testrealm@host.com",
            "Mufasa",
            "wrong",
            |_| true
        ));
    }

    #[test]
    fn rfc2069_and_basic() {
        let ch = Challenge::Digest {
            realm: "r".into(),
            nonce: "n".into(),
            opaque: None,
            qop_auth: false,
        };
        let h = authorization(&ch, "u", "p", "GET", "/x", 1, "c");
        assert!(!h.contains("qop"));
        assert!(verify_digest(&h, "GET", "/x", "r", "u", "p", |_| true));
        assert_eq!(parse_challenge("Basic realm=\"x\""), Some(Challenge::Basic));
        assert_eq!(authorization(&Challenge::Basic, "a", "b", "GET", "/", 1, ""), "Basic YTpi");
        assert_eq!(parse_challenge("Bearer x"), None);
    }
}
