//! Session cookies: lenient `Cookie` parsing and the `Set-Cookie` value we send.
//!
//! CPEs send cookies in the RFC 6265 form (`a=1; b=2`) and, on older firmware, in the RFC 2109
//! form (`$Version="0"; session="abc"; $Path="/"`). Attributes starting with `$` are skipped,
//! values are unquoted, and `;` as well as `,` (outside quotes) separate cookies.

use http::header::COOKIE;
use http::HeaderMap;

/// The default name of the ACS session cookie.
pub const SESSION_COOKIE: &str = "session";

/// Splits `s` on `;` and `,` that are not inside double quotes.
fn split_outside_quotes(s: &str) -> impl Iterator<Item = &str> {
    let mut parts = Vec::new();
    let mut in_quotes = false;
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b';' | b',' if !in_quotes => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts.into_iter()
}

fn unquote(v: &str) -> &str {
    let v = v.trim();
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        &v[1..v.len() - 1]
    } else {
        v
    }
}

/// Parses one `Cookie` header value into `(name, value)` pairs, skipping RFC 2109 `$`
/// attributes and malformed pieces. Values are returned without surrounding quotes.
pub fn parse_cookie_header(header: &str) -> Vec<(&str, &str)> {
    split_outside_quotes(header)
        .filter_map(|piece| {
            let (name, value) = piece.split_once('=')?;
            let name = name.trim();
            if name.is_empty() || name.starts_with('$') {
                return None;
            }
            Some((name, unquote(value)))
        })
        .collect()
}

/// Finds the cookie `name` across all `Cookie` headers (the first occurrence wins).
/// Names are compared exactly (cookie names are case-sensitive).
pub fn find_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| parse_cookie_header(h).into_iter().find(|(n, _)| *n == name).map(|(_, v)| v))
        .filter(|v| !v.is_empty())
}

fn is_cookie_octet(b: u8) -> bool {
    // RFC 6265 cookie-octet: visible ASCII except DQUOTE, comma, semicolon, backslash.
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

/// The `Set-Cookie` value for a session id: `name=value; Path=/`.
///
/// No `Expires`/`Max-Age` (a session cookie) and no `HttpOnly`/`SameSite` (some CPE cookie
/// parsers reject unknown attributes). Bytes of `value` that are not RFC 6265 cookie-octets
/// are dropped, so the result is always a valid header value; session ids we generate
/// ([`new_session_id`]) are plain hex and pass through unchanged.
pub fn set_cookie_value(name: &str, value: &str) -> String {
    let clean_name: String = name
        .bytes()
        .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        .map(char::from)
        .collect();
    let clean_value: String =
        value.bytes().filter(|b| is_cookie_octet(*b)).map(char::from).collect();
    format!("{clean_name}={clean_value}; Path=/")
}

/// A new random session id: 128 bits as 32 lower-case hex characters.
pub fn new_session_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use http::HeaderValue;

    #[test]
    fn plain_cookies() {
        assert_eq!(
            parse_cookie_header("a=1; session=abc;b=2"),
            vec![("a", "1"), ("session", "abc"), ("b", "2")]
        );
        assert_eq!(parse_cookie_header(""), vec![]);
        assert_eq!(parse_cookie_header(";;=x; novalue; =; y="), vec![("y", "")]);
    }

    #[test]
    fn rfc2109_form() {
        let v = parse_cookie_header(r#"$Version="0"; session="abc"; $Path="/""#);
        assert_eq!(v, vec![("session", "abc")]);
        let v = parse_cookie_header(r#"$Version=1; session=abc; $Path=/; $Domain=x, other="q;,v""#);
        assert_eq!(v, vec![("session", "abc"), ("other", "q;,v")]);
    }

    #[test]
    fn find_across_headers() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("x=1"));
        h.append(COOKIE, HeaderValue::from_static(r#"$Version="0"; session="s1"; $Path=/"#));
        assert_eq!(find_cookie(&h, "session"), Some("s1"));
        assert_eq!(find_cookie(&h, "Session"), None);
        assert_eq!(find_cookie(&h, "x"), Some("1"));
        assert_eq!(find_cookie(&HeaderMap::new(), "session"), None);
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("session="));
        assert_eq!(find_cookie(&h, "session"), None);
    }

    #[test]
    fn set_cookie() {
        let id = new_session_id();
        assert_eq!(id.len(), 32);
        assert_ne!(id, new_session_id());
        let v = set_cookie_value(SESSION_COOKIE, &id);
        assert_eq!(v, format!("session={id}; Path=/"));
        assert!(HeaderValue::from_str(&v).is_ok());
        assert_eq!(set_cookie_value("s", "a b;\"c\r\n"), "s=abc; Path=/");
        // Round trip.
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_str(&format!("session={id}")).unwrap());
        assert_eq!(find_cookie(&h, SESSION_COOKIE), Some(id.as_str()));
    }
}
