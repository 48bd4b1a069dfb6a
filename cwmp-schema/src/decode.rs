//! The tolerant decoder.
//!
//! Decoding runs in three steps:
//! 1. **Text**: the body is checked against [`MAX_BODY_BYTES`] and turned into UTF-8
//!    (borrowed when it already is; ISO-8859-1 and other charsets are transcoded).
//! 2. **Tree**: quick-xml's event reader walks the text once and builds a flat arena of
//!    element nodes that borrow their local name, attributes and raw content from the text.
//!    Nothing is unescaped or allocated per event. Depth, element count and DOCTYPE are
//!    checked here; namespace declarations are tracked only to learn the SOAP envelope
//!    namespace and the `cwmp-1-N` version.
//! 3. **Mapping**: the tree is mapped onto the typed messages by local name (any prefix, any
//!    case, any child order). Text is unescaped only when it contains `&`, `<` or `\r`.

use std::borrow::Cow;

use memchr::{memchr, memchr3, memmem};
use quick_xml::events::Event;
use quick_xml::Reader;

use crate::codes::{parse_bool, CwmpVersion, EventCode, FaultCode, ValueType};
use crate::datetime::{self, DateTimeCheck};
use crate::error::DecodeError;
use crate::limits::{
    MAX_BODY_BYTES, MAX_DEPTH, MAX_ELEMENTS, MAX_LIST_ENTRIES, MAX_NAMESPACE_BINDINGS,
    MAX_STRING_BYTES, MAX_WARNINGS,
};
use crate::types::*;
use crate::warning::Warning;

const SOAP_ENV_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const SOAP_ENC_NS: &str = "http://schemas.xmlsoap.org/soap/encoding/";
const XSD_1999_PREFIX: &str = "http://www.w3.org/1999/XMLSchema";
const NONE: u32 = u32::MAX;

/// A decoded envelope with what the decoder learned about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The message.
    pub envelope: Envelope,
    /// The `cwmp-1-N` namespace the message used (answer in the same one).
    pub version: CwmpVersion,
    /// Quirks that were tolerated.
    pub warnings: Vec<Warning>,
}

impl Decoded {
    /// The header `ID`, if any.
    pub fn id(&self) -> Option<&str> {
        self.envelope.header.id.as_deref()
    }
}

/// Decode a CWMP SOAP envelope. The charset comes from the XML declaration (UTF-8 if none).
pub fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    decode_with_charset(bytes, None)
}

/// Decode a CWMP SOAP envelope, using `http_charset` (the `charset` parameter of the HTTP
/// `Content-Type`, quotes allowed) in preference to the XML declaration.
pub fn decode_with_charset(
    bytes: &[u8],
    http_charset: Option<&str>,
) -> Result<Decoded, DecodeError> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(DecodeError::TooLarge { size: bytes.len(), limit: MAX_BODY_BYTES });
    }
    let mut warnings = Warnings::default();
    let text = to_text(bytes, http_charset, &mut warnings)?;
    let tree = build_tree(&text, &mut warnings)?;
    let mut mapper =
        Mapper { nodes: tree.nodes, w: warnings, sanitize: may_contain_forbidden(&text) };
    let version = match (tree.method_version, tree.first_cwmp) {
        (Some(v), _) => v,
        (None, Some(v)) => v,
        (None, None) => {
            mapper.w.push(Warning::MissingCwmpNamespace);
            CwmpVersion::default()
        }
    };
    let envelope = mapper.envelope(tree.root, version)?;
    Ok(Decoded { envelope, version, warnings: mapper.w.finish() })
}

// ---------------------------------------------------------------------------------------
// Warnings
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct Warnings {
    list: Vec<Warning>,
    dropped: usize,
    whitespace_reported: bool,
}

impl Warnings {
    fn push(&mut self, w: Warning) {
        if self.list.len() < MAX_WARNINGS {
            self.list.push(w);
        } else {
            self.dropped += 1;
        }
    }

    fn finish(mut self) -> Vec<Warning> {
        if self.dropped > 0 {
            self.list.push(Warning::Truncated { dropped: self.dropped });
        }
        self.list
    }
}

// ---------------------------------------------------------------------------------------
// Step 1: bytes -> UTF-8 text
// ---------------------------------------------------------------------------------------

fn clean_label(label: &str) -> &str {
    label.trim().trim_matches(|c| c == '"' || c == '\'').trim()
}

/// The `encoding` pseudo-attribute of a leading XML declaration.
fn xml_decl_encoding(bytes: &[u8]) -> Option<&str> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = &bytes[start..];
    if !rest.starts_with(b"<?xml") {
        return None;
    }
    let head = &rest[..rest.len().min(256)];
    let end = memmem::find(head, b"?>")?;
    let decl = &head[..end];
    let at = memmem::find(decl, b"encoding")?;
    let after = &decl[at + "encoding".len()..];
    let eq = after.iter().position(|&b| b == b'=')?;
    let after = &after[eq + 1..];
    let q = after.iter().position(|&b| b == b'"' || b == b'\'')?;
    let quote = after[q];
    let value = &after[q + 1..];
    let close = memchr(quote, value)?;
    std::str::from_utf8(&value[..close]).ok()
}

fn to_text<'a>(
    bytes: &'a [u8],
    http_charset: Option<&str>,
    w: &mut Warnings,
) -> Result<Cow<'a, str>, DecodeError> {
    use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8};

    // A byte-order mark decides.
    if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        let body = &bytes[bom_len..];
        if enc == UTF_8 {
            return std::str::from_utf8(body)
                .map(Cow::Borrowed)
                .map_err(|_| DecodeError::InvalidEncoding { charset: "UTF-8".to_owned() });
        }
        let (text, had_errors) = enc.decode_without_bom_handling(body);
        if had_errors {
            return Err(DecodeError::InvalidEncoding { charset: enc.name().to_owned() });
        }
        w.push(Warning::Transcoded { charset: enc.name().to_owned() });
        return Ok(Cow::Owned(text.into_owned()));
    }

    let http_label = http_charset.map(clean_label).filter(|l| !l.is_empty());
    let decl_label = xml_decl_encoding(bytes).map(clean_label);
    let lookup = |label: &str| -> Result<&'static Encoding, DecodeError> {
        let enc = Encoding::for_label(label.as_bytes())
            .ok_or_else(|| DecodeError::UnsupportedCharset { charset: label.to_owned() })?;
        // Without a BOM, a "UTF-16" label on ASCII-compatible bytes is a lie: read as UTF-8.
        Ok(if enc == UTF_16LE || enc == UTF_16BE { UTF_8 } else { enc })
    };
    let primary = match http_label.or(decl_label) {
        Some(label) => lookup(label)?,
        None => UTF_8,
    };

    if primary == UTF_8 {
        match std::str::from_utf8(bytes) {
            Ok(s) => return Ok(Cow::Borrowed(s)),
            Err(_) => {
                // HTTP said UTF-8 (or nothing) but the XML declaration names a single-byte
                // charset: believe the document.
                let alt = decl_label
                    .and_then(|l| lookup(l).ok())
                    .filter(|e| *e != UTF_8 && e.is_single_byte());
                match (alt, decl_label) {
                    (Some(enc), Some(label)) => return Ok(transcode(enc, label, bytes, w)),
                    _ => return Err(DecodeError::InvalidEncoding { charset: "UTF-8".to_owned() }),
                }
            }
        }
    }
    if !primary.is_single_byte() {
        let (text, had_errors) = primary.decode_without_bom_handling(bytes);
        if had_errors {
            return Err(DecodeError::InvalidEncoding { charset: primary.name().to_owned() });
        }
        w.push(Warning::Transcoded { charset: primary.name().to_owned() });
        return Ok(Cow::Owned(text.into_owned()));
    }
    let label = http_label.or(decl_label).unwrap_or("");
    Ok(transcode(primary, label, bytes, w))
}

fn transcode<'a>(
    enc: &'static encoding_rs::Encoding,
    label: &str,
    bytes: &'a [u8],
    w: &mut Warnings,
) -> Cow<'a, str> {
    // Single-byte decoders never fail; pure ASCII comes back borrowed.
    let (text, _) = enc.decode_without_bom_handling(bytes);
    if matches!(text, Cow::Owned(_)) {
        w.push(Warning::Transcoded { charset: label.to_owned() });
    }
    text
}

// ---------------------------------------------------------------------------------------
// Step 2: text -> element tree
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Node<'a> {
    local: &'a str,
    attrs: &'a str,
    content: &'a str,
    first_child: u32,
    next_sibling: u32,
}

struct Tree<'a> {
    nodes: Vec<Node<'a>>,
    root: u32,
    method_version: Option<CwmpVersion>,
    first_cwmp: Option<CwmpVersion>,
}

struct Open {
    node: u32,
    last_child: u32,
    content_start: usize,
    ns_mark: usize,
}

fn xml_error(position: u64, message: impl Into<String>) -> DecodeError {
    DecodeError::Xml { position, message: message.into() }
}

/// Split the inside of a tag (`prefix:local attr="v"`) into prefix, local name (after the
/// last colon) and attributes, in one pass over the name.
fn split_tag(inner: &str) -> (&str, &str, &str) {
    let b = inner.as_bytes();
    let mut colon = None;
    let mut end = b.len();
    for (i, &c) in b.iter().enumerate() {
        if c == b':' {
            colon = Some(i);
        } else if c.is_ascii_whitespace() || c == b'/' {
            end = i;
            break;
        }
    }
    match colon {
        Some(c) => (&inner[..c], &inner[c + 1..end], &inner[end..]),
        None => ("", &inner[..end], &inner[end..]),
    }
}

/// `prefix:local` -> (`prefix`, `local`) split at the last colon; no colon -> (`""`, name).
fn split_qname(qname: &str) -> (&str, &str) {
    match qname.bytes().rposition(|b| b == b':') {
        Some(i) => (&qname[..i], &qname[i + 1..]),
        None => ("", qname),
    }
}

/// A forgiving attribute iterator: `name = "value"` or `name='value'`; stops at the first
/// malformed attribute. Yields the qualified name and the raw (still escaped) value.
struct Attrs<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Attrs<'a> {
    fn new(s: &'a str) -> Self {
        Attrs { s, pos: 0 }
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.s.as_bytes();
        let mut i = self.pos;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let name_start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' && b[i] != b'/' {
            i += 1;
        }
        if i == name_start {
            return None;
        }
        let name = self.s.get(name_start..i)?;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            return None;
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let quote = *b.get(i)?;
        if quote != b'"' && quote != b'\'' {
            return None;
        }
        let value_start = i + 1;
        let len = memchr(quote, &b[value_start..])?;
        let value = self.s.get(value_start..value_start + len)?;
        self.pos = value_start + len + 1;
        Some((name, value))
    }
}

fn local_of(qname: &str) -> &str {
    split_qname(qname).1
}

fn same_ns(a: &str, b: &str) -> bool {
    a.trim().trim_end_matches('/') == b.trim_end_matches('/')
}

fn build_tree<'a>(text: &'a str, w: &mut Warnings) -> Result<Tree<'a>, DecodeError> {
    let mut reader = Reader::from_str(text);
    {
        let cfg = reader.config_mut();
        // Whitespace-only text between tags produces no event (fewer events, same tree):
        // element content is taken from tag positions, not from text events, so values keep
        // their whitespace.
        cfg.trim_text_start = true;
        cfg.trim_text_end = false;
        cfg.allow_dangling_amp = true;
        // End tags are matched below by local name (cheaper, and tolerant of a prefix
        // that differs between start and end tag).
        cfg.check_end_names = false;
        cfg.allow_unmatched_ends = false;
        cfg.expand_empty_elements = false;
    }
    // Real envelopes average 40-60 bytes per element; over-reserving a little is cheap.
    let estimate = text.len() / 32 + 8;
    let mut nodes: Vec<Node<'a>> = Vec::with_capacity(estimate.min(MAX_ELEMENTS + 1));
    let mut stack: Vec<Open> = Vec::with_capacity(16);
    let mut ns: Vec<(&'a str, &'a str)> = Vec::new();
    let mut root = NONE;
    let mut method_version = None;
    let mut method_seen = false;
    let mut first_cwmp = None;
    let mut saw_1999 = false;
    let bytes = text.as_bytes();

    loop {
        let event =
            reader.read_event().map_err(|e| xml_error(reader.error_position(), e.to_string()))?;
        let p1 = reader.buffer_position();
        let end = p1 as usize;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                // The tag is `<` + raw + (`/`) + `>` and ends at `end`.
                let start = end.saturating_sub(e.len() + if empty { 3 } else { 2 });
                if nodes.len() >= MAX_ELEMENTS {
                    return Err(DecodeError::TooManyElements { limit: MAX_ELEMENTS });
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(DecodeError::TooDeep { limit: MAX_DEPTH });
                }
                let inner_end = end.saturating_sub(if empty { 2 } else { 1 });
                if bytes.get(start) != Some(&b'<') || inner_end < start + 1 {
                    return Err(xml_error(start as u64, "unexpected tag position"));
                }
                let inner = text
                    .get(start + 1..inner_end)
                    .ok_or_else(|| xml_error(start as u64, "tag is not on a character boundary"))?;
                let (prefix, local, attrs) = split_tag(inner);

                let ns_mark = ns.len();
                if !attrs.is_empty() && declares_namespace(attrs) {
                    for (name, value) in Attrs::new(attrs) {
                        let declared = if name == "xmlns" {
                            ""
                        } else if let Some(p) = name.strip_prefix("xmlns:") {
                            p
                        } else {
                            continue;
                        };
                        if ns.len() >= MAX_NAMESPACE_BINDINGS {
                            return Err(xml_error(start as u64, "too many namespace declarations"));
                        }
                        let value = value.trim();
                        ns.push((declared, value));
                        if first_cwmp.is_none() {
                            first_cwmp = CwmpVersion::from_namespace(value);
                        }
                        if !saw_1999 && value.starts_with(XSD_1999_PREFIX) {
                            saw_1999 = true;
                            w.push(Warning::Xsd1999Namespace);
                        }
                    }
                }
                let resolve = |ns: &[(&'a str, &'a str)]| -> Option<&'a str> {
                    ns.iter().rev().find(|(p, _)| *p == prefix).map(|(_, u)| *u)
                };

                let idx = nodes.len() as u32;
                nodes.push(Node {
                    local,
                    attrs,
                    content: "",
                    first_child: NONE,
                    next_sibling: NONE,
                });
                match stack.last_mut() {
                    Some(parent) => {
                        if parent.last_child == NONE {
                            nodes[parent.node as usize].first_child = idx;
                        } else {
                            nodes[parent.last_child as usize].next_sibling = idx;
                        }
                        parent.last_child = idx;
                    }
                    None if root == NONE => {
                        root = idx;
                        if !local.eq_ignore_ascii_case("Envelope") {
                            return Err(DecodeError::NotAnEnvelope { found: local.to_owned() });
                        }
                        match resolve(&ns) {
                            Some(uri) if same_ns(uri, SOAP_ENV_NS) => {}
                            Some(uri) if same_ns(uri, SOAP_ENC_NS) => {
                                w.push(Warning::EnvelopeInEncodingNamespace)
                            }
                            Some(uri) => {
                                return Err(DecodeError::WrongEnvelopeNamespace {
                                    found: uri.to_owned(),
                                })
                            }
                            None => w.push(Warning::UndeclaredEnvelopeNamespace),
                        }
                    }
                    None => return Err(xml_error(start as u64, "more than one root element")),
                }
                // The method element: the first child of Body (depth 3).
                if !method_seen
                    && stack.len() == 2
                    && nodes[stack[1].node as usize].local.eq_ignore_ascii_case("Body")
                {
                    method_seen = true;
                    method_version = resolve(&ns).and_then(CwmpVersion::from_namespace);
                }
                if empty {
                    ns.truncate(ns_mark);
                } else {
                    stack.push(Open { node: idx, last_child: NONE, content_start: end, ns_mark });
                }
            }
            Event::End(e) => {
                // The closing tag holds no `<` (nor quotes): its `<` is the last one before `end`.
                let start = memchr::memrchr(b'<', &bytes[..end.min(bytes.len())]).unwrap_or(0);
                let open =
                    stack.pop().ok_or_else(|| xml_error(start as u64, "unmatched end tag"))?;
                let local = nodes[open.node as usize].local;
                let end_name = e.name();
                let end_name = end_name.as_ref();
                // `</local>` or `</any:local>`: compare the tail instead of scanning.
                let matches = end_name.len() >= local.len()
                    && short_eq(&end_name[end_name.len() - local.len()..], local.as_bytes())
                    && (end_name.len() == local.len()
                        || end_name[end_name.len() - local.len() - 1] == b':');
                if !matches {
                    return Err(xml_error(
                        start as u64,
                        format!(
                            "end tag </{}> does not match <{local}>",
                            String::from_utf8_lossy(e.name().as_ref())
                        ),
                    ));
                }
                let content = text.get(open.content_start..start).ok_or_else(|| {
                    xml_error(start as u64, "content is not on a character boundary")
                })?;
                nodes[open.node as usize].content = content;
                ns.truncate(open.ns_mark);
            }
            Event::DocType(_) => return Err(DecodeError::Doctype),
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(xml_error(text.len() as u64, "unexpected end of document (unclosed elements)"));
    }
    if root == NONE {
        return Err(DecodeError::NotAnEnvelope { found: String::new() });
    }
    Ok(Tree { nodes, root, method_version, first_cwmp })
}

// ---------------------------------------------------------------------------------------
// Text helpers
// ---------------------------------------------------------------------------------------

fn is_xml_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// How to treat whitespace around a leaf's text.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Trim {
    /// Remove all surrounding whitespace (names, numbers, codes, identifiers).
    Full,
    /// Remove a leading/trailing whitespace run only if it contains a line break (free text:
    /// pretty-printing is undone, but `" my wifi "` keeps its spaces).
    LineBreaks,
}

fn trim_raw(raw: &str, mode: Trim) -> &str {
    let b = raw.as_bytes();
    let is_ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r');
    // Fast path: nothing to trim (the common case for machine-written XML).
    match (b.first(), b.last()) {
        (Some(f), Some(l)) if !is_ws(f) && !is_ws(l) => return raw,
        (None, _) | (_, None) => return raw,
        _ => {}
    }
    let lead = b.iter().take_while(|c| is_ws(c)).count();
    let trail = b[lead..].iter().rev().take_while(|c| is_ws(c)).count();
    let (mut start, mut end) = (lead, b.len() - trail);
    if mode == Trim::LineBreaks {
        let has_break = |s: &[u8]| s.iter().any(|&c| c == b'\n' || c == b'\r');
        if !has_break(&b[..lead]) {
            start = 0;
        }
        if !has_break(&b[b.len() - trail..]) {
            end = b.len();
        }
    }
    // Only ASCII whitespace was skipped, so both ends are character boundaries.
    &raw[start..end]
}

/// Characters XML 1.0 does not allow (the encoder writes U+FFFD for them, and so does the
/// decoder, so that decoded values always re-encode to themselves).
fn is_forbidden_char(c: char) -> bool {
    (c < '\u{20}' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFE}' || c == '\u{FFFF}'
}

/// True when `text` may contain a forbidden character (a cheap over-approximation: any C0
/// control other than tab/LF/CR, or any 0xEF lead byte).
fn may_contain_forbidden(text: &str) -> bool {
    // Branch-free inner loop so it vectorises; checked a chunk at a time.
    text.as_bytes().chunks(512).any(|chunk| {
        chunk.iter().fold(false, |bad, &b| {
            bad | ((b < 0x20) & (b != b'\t') & (b != b'\n') & (b != b'\r')) | (b == 0xEF)
        })
    })
}

/// True if `b` contains `&`, `<` or `\r` (short inputs are scanned inline: cheaper than
/// setting up a SIMD search).
fn needs_unescape(b: &[u8]) -> bool {
    if b.len() < 48 {
        b.iter().any(|&c| c == b'&' || c == b'<' || c == b'\r')
    } else {
        memchr3(b'&', b'<', b'\r', b).is_some()
    }
}

/// True if the raw attribute text declares a namespace.
fn declares_namespace(attrs: &str) -> bool {
    let b = attrs.as_bytes();
    (0..b.len().saturating_sub(4)).any(|i| {
        b[i] == b'x' && b[i + 1] == b'm' && b[i + 2] == b'l' && b[i + 3] == b'n' && b[i + 4] == b's'
    })
}

/// Byte equality for short slices, inlined (a libc `memcmp` call costs more than the compare
/// for names of a few bytes).
#[inline]
fn short_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

fn replace_forbidden(s: Cow<'_, str>) -> Cow<'_, str> {
    if s.chars().any(is_forbidden_char) {
        Cow::Owned(s.chars().map(|c| if is_forbidden_char(c) { '\u{FFFD}' } else { c }).collect())
    } else {
        s
    }
}

fn resolve_entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let num = name.strip_prefix('#')?;
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse::<u32>().ok()?,
            };
            char::from_u32(code).map(|c| if is_forbidden_char(c) { '\u{FFFD}' } else { c })
        }
    }
}

/// Unescape raw element content: entity and character references, CDATA sections,
/// comments, line-ending normalisation; stray child markup is dropped.
fn unescape<'a>(raw: &'a str, w: &mut Warnings) -> Cow<'a, str> {
    let bytes = raw.as_bytes();
    if !needs_unescape(bytes) {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = memchr3(b'&', b'<', b'\r', rest.as_bytes()) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let rb = rest.as_bytes();
        match rb[0] {
            b'\r' => {
                out.push('\n');
                rest = if rb.get(1) == Some(&b'\n') { &rest[2..] } else { &rest[1..] };
            }
            b'&' => {
                let window = &rb[1..rb.len().min(16)];
                match memchr(b';', window) {
                    Some(semi) => {
                        let name = &rest[1..1 + semi];
                        match resolve_entity(name) {
                            Some(c) => out.push(c),
                            None => {
                                out.push_str(&rest[..semi + 2]);
                                w.push(Warning::UnknownEntity { entity: name.to_owned() });
                            }
                        }
                        rest = &rest[semi + 2..];
                    }
                    None => {
                        out.push('&');
                        rest = &rest[1..];
                    }
                }
            }
            _ => {
                // '<': CDATA, comment, processing instruction or a child element tag.
                let (skip_to, keep) = if let Some(body) = rest.strip_prefix("<![CDATA[") {
                    match memmem::find(body.as_bytes(), b"]]>") {
                        Some(e) => (9 + e + 3, Some(&body[..e])),
                        None => (rest.len(), Some(body)),
                    }
                } else if rest.starts_with("<!--") {
                    match memmem::find(rest.as_bytes(), b"-->") {
                        Some(e) => (e + 3, None),
                        None => (rest.len(), None),
                    }
                } else {
                    match memchr(b'>', rb) {
                        Some(e) => (e + 1, None),
                        None => (rest.len(), None),
                    }
                };
                if let Some(k) = keep {
                    out.push_str(k);
                }
                rest = &rest[skip_to..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

// ---------------------------------------------------------------------------------------
// Step 3: tree -> typed messages
// ---------------------------------------------------------------------------------------

struct Mapper<'a> {
    nodes: Vec<Node<'a>>,
    w: Warnings,
    /// The text may hold characters XML forbids; replace them when reading values.
    sanitize: bool,
}

type R<T> = Result<T, DecodeError>;

impl<'a> Mapper<'a> {
    fn local(&self, n: u32) -> &'a str {
        self.nodes[n as usize].local
    }

    fn children(&self, n: u32) -> Vec<u32> {
        let mut out = Vec::new();
        let mut c = self.nodes[n as usize].first_child;
        while c != NONE {
            out.push(c);
            c = self.nodes[c as usize].next_sibling;
        }
        out
    }

    fn child_count(&self, n: u32) -> usize {
        let mut count = 0;
        let mut c = self.nodes[n as usize].first_child;
        while c != NONE {
            count += 1;
            c = self.nodes[c as usize].next_sibling;
        }
        count
    }

    fn find_child(&self, n: u32, name: &str) -> Option<u32> {
        let mut c = self.nodes[n as usize].first_child;
        while c != NONE {
            if self.nodes[c as usize].local.eq_ignore_ascii_case(name) {
                return Some(c);
            }
            c = self.nodes[c as usize].next_sibling;
        }
        None
    }

    /// Depth-first search below `n` (not `n` itself) for an element named `name`.
    fn find_descendant(&self, n: u32, name: &str) -> Option<u32> {
        let mut todo = vec![self.nodes[n as usize].first_child];
        while let Some(mut c) = todo.pop() {
            while c != NONE {
                let node = &self.nodes[c as usize];
                if node.local.eq_ignore_ascii_case(name) {
                    return Some(c);
                }
                if node.first_child != NONE {
                    todo.push(node.first_child);
                }
                c = node.next_sibling;
            }
        }
        None
    }

    fn attr(&self, n: u32, local: &str) -> Option<&'a str> {
        let attrs = self.nodes[n as usize].attrs;
        if attrs.is_empty() {
            return None;
        }
        Attrs::new(attrs).find(|(q, _)| local_of(q).eq_ignore_ascii_case(local)).map(|(_, v)| v)
    }

    /// The text of a leaf, trimmed and unescaped.
    fn text(&mut self, n: u32, mode: Trim) -> R<Cow<'a, str>> {
        let node = self.nodes[n as usize];
        if node.content.len() > MAX_STRING_BYTES {
            return Err(DecodeError::StringTooLong {
                element: node.local.to_owned(),
                len: node.content.len(),
                limit: MAX_STRING_BYTES,
            });
        }
        let trimmed = trim_raw(node.content, mode);
        if trimmed.len() != node.content.len()
            && !self.w.whitespace_reported
            && node.content.contains('\n')
            && mode == Trim::LineBreaks
        {
            self.w.whitespace_reported = true;
            self.w.push(Warning::WhitespaceTrimmed { element: node.local.to_owned() });
        }
        let mut value = unescape(trimmed, &mut self.w);
        if mode == Trim::Full {
            if let Cow::Owned(owned) = &value {
                // Character references may have produced whitespace at the edges.
                let t = owned.trim_matches(is_xml_ws);
                if t.len() != owned.len() {
                    value = Cow::Owned(t.to_owned());
                }
            }
        }
        if self.sanitize {
            value = replace_forbidden(value);
        }
        Ok(value)
    }

    /// An attribute value, unescaped.
    fn attr_value(&mut self, raw: &'a str) -> Cow<'a, str> {
        let value = unescape(raw, &mut self.w);
        if self.sanitize {
            replace_forbidden(value)
        } else {
            value
        }
    }

    fn string(&mut self, n: u32, mode: Trim) -> R<String> {
        Ok(self.text(n, mode)?.into_owned())
    }

    /// Locate the children of `parent` named in `names` (schema order). Reports children out
    /// of order and unknown children.
    fn fields<const N: usize>(&mut self, parent: u32, names: [&str; N]) -> [Option<u32>; N] {
        let mut slots = [None; N];
        let mut last = 0;
        let mut out_of_order = false;
        let mut c = self.nodes[parent as usize].first_child;
        while c != NONE {
            let local = self.nodes[c as usize].local;
            match names.iter().position(|n| n.eq_ignore_ascii_case(local)) {
                Some(i) => {
                    if slots[i].is_none() {
                        if i < last {
                            out_of_order = true;
                        }
                        last = i;
                        slots[i] = Some(c);
                    }
                }
                None => self.w.push(Warning::UnexpectedElement {
                    parent: self.local(parent).to_owned(),
                    element: local.to_owned(),
                }),
            }
            c = self.nodes[c as usize].next_sibling;
        }
        if out_of_order {
            self.w.push(Warning::OutOfOrder { element: self.local(parent).to_owned() });
        }
        slots
    }

    fn missing(&mut self, parent: &str, element: &str) {
        self.w.push(Warning::MissingElement {
            parent: parent.to_owned(),
            element: element.to_owned(),
        });
    }

    fn req_string(&mut self, slot: Option<u32>, parent: &str, name: &str, mode: Trim) -> R<String> {
        match slot {
            Some(n) => self.string(n, mode),
            None => {
                self.missing(parent, name);
                Ok(String::new())
            }
        }
    }

    fn opt_string(&mut self, slot: Option<u32>, mode: Trim) -> R<Option<String>> {
        slot.map(|n| self.string(n, mode)).transpose()
    }

    fn number<T: std::str::FromStr + Default>(&mut self, n: u32) -> R<T> {
        let text = self.text(n, Trim::Full)?;
        let digits = text.strip_prefix(['+', '-']).unwrap_or(&text);
        if digits.len() > 1 && digits.starts_with('0') {
            self.w.push(Warning::ZeroPaddedNumber { element: self.local(n).to_owned() });
        }
        match text.parse::<T>() {
            Ok(v) => Ok(v),
            Err(_) => {
                self.w.push(Warning::InvalidNumber {
                    element: self.local(n).to_owned(),
                    raw: text.into_owned(),
                });
                Ok(T::default())
            }
        }
    }

    fn req_number<T: std::str::FromStr + Default>(
        &mut self,
        slot: Option<u32>,
        parent: &str,
        name: &str,
    ) -> R<T> {
        match slot {
            Some(n) => self.number(n),
            None => {
                self.missing(parent, name);
                Ok(T::default())
            }
        }
    }

    fn boolean(&mut self, n: u32) -> R<bool> {
        let text = self.text(n, Trim::Full)?;
        match parse_bool(&text) {
            Some(b) => Ok(b),
            None => {
                self.w.push(Warning::InvalidBoolean {
                    element: self.local(n).to_owned(),
                    raw: text.into_owned(),
                });
                Ok(false)
            }
        }
    }

    fn req_bool(&mut self, slot: Option<u32>, parent: &str, name: &str) -> R<bool> {
        match slot {
            Some(n) => self.boolean(n),
            None => {
                self.missing(parent, name);
                Ok(false)
            }
        }
    }

    fn datetime(&mut self, n: u32) -> R<String> {
        let text = self.string(n, Trim::Full)?;
        match datetime::check(&text) {
            DateTimeCheck::Valid => {}
            DateTimeCheck::NoZone => self.w.push(Warning::DateTimeWithoutZone {
                element: self.local(n).to_owned(),
                raw: text.clone(),
            }),
            DateTimeCheck::Invalid => self.w.push(Warning::InvalidDateTime {
                element: self.local(n).to_owned(),
                raw: text.clone(),
            }),
        }
        Ok(text)
    }

    fn req_datetime(&mut self, slot: Option<u32>, parent: &str, name: &str) -> R<String> {
        match slot {
            Some(n) => self.datetime(n),
            None => {
                self.missing(parent, name);
                Ok(String::new())
            }
        }
    }

    /// A parameter path: fully trimmed, a leading `.` stripped with a warning.
    fn name(&mut self, n: u32) -> R<String> {
        let text = self.text(n, Trim::Full)?;
        if !text.starts_with('.') {
            return Ok(text.into_owned());
        }
        let mut s: &str = &text;
        loop {
            let next = s.trim_start_matches('.').trim_matches(is_xml_ws);
            if next.len() == s.len() {
                break;
            }
            s = next;
        }
        if s.is_empty() {
            return Ok(text.into_owned());
        }
        let stripped = s.to_owned();
        self.w.push(Warning::LeadingDotName { name: text.into_owned() });
        Ok(stripped)
    }

    fn req_name(&mut self, slot: Option<u32>, parent: &str, field: &str) -> R<String> {
        match slot {
            Some(n) => self.name(n),
            None => {
                self.missing(parent, field);
                Ok(String::new())
            }
        }
    }

    /// The entries of a SOAP-encoded array, checking `arrayType` against what is present.
    fn array(&mut self, n: u32) -> R<Vec<u32>> {
        let count = self.child_count(n);
        if count > MAX_LIST_ENTRIES {
            return Err(DecodeError::TooManyParameters {
                element: self.local(n).to_owned(),
                count,
                limit: MAX_LIST_ENTRIES,
            });
        }
        let mut declared: Option<&str> = None;
        let attrs = self.nodes[n as usize].attrs;
        for (q, v) in Attrs::new(attrs) {
            let local = local_of(q);
            if local.eq_ignore_ascii_case("arrayType") {
                declared = Some(v);
            } else if local.eq_ignore_ascii_case("type") && local_of(v.trim()) == "Array" {
                self.w.push(Warning::SoapEncArrayTyped { element: self.local(n).to_owned() });
            }
        }
        let inner = declared.and_then(|v| {
            let open = v.rfind('[')?;
            let close = v.rfind(']')?;
            v.get(open + 1..close).map(str::trim)
        });
        match inner.filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())) {
            Some(digits) => {
                if digits.len() > 1 && digits.starts_with('0') {
                    self.w.push(Warning::ZeroPaddedCount { element: self.local(n).to_owned() });
                }
                // Counts too large for usize certainly mismatch.
                let declared_count = digits.parse::<usize>().unwrap_or(usize::MAX);
                if declared_count != count {
                    self.w.push(Warning::ArrayCountMismatch {
                        element: self.local(n).to_owned(),
                        declared: declared_count,
                        actual: count,
                    });
                }
            }
            None => self.w.push(Warning::MissingArrayType { element: self.local(n).to_owned() }),
        }
        Ok(self.children(n))
    }

    fn check_list_len(&self, n: u32, count: usize) -> R<()> {
        if count > MAX_LIST_ENTRIES {
            return Err(DecodeError::TooManyParameters {
                element: self.local(n).to_owned(),
                count,
                limit: MAX_LIST_ENTRIES,
            });
        }
        Ok(())
    }

    fn string_array(
        &mut self,
        slot: Option<u32>,
        parent: &str,
        field: &str,
        names: bool,
    ) -> R<Vec<String>> {
        let Some(n) = slot else {
            self.missing(parent, field);
            return Ok(Vec::new());
        };
        let entries = self.array(n)?;
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            out.push(if names { self.name(e)? } else { self.string(e, Trim::Full)? });
        }
        Ok(out)
    }

    // ---- envelope ---------------------------------------------------------------------

    fn envelope(&mut self, root: u32, version: CwmpVersion) -> R<Envelope> {
        let header_node = self.find_child(root, "Header");
        let header = match header_node {
            Some(h) => self.header(h)?,
            None => {
                self.w.push(Warning::MissingHeader);
                Header::default()
            }
        };
        let body_node = self.find_child(root, "Body").ok_or(DecodeError::NoBody)?;
        let mut methods = self.children(body_node).into_iter();
        let Some(method) = methods.next() else {
            return Err(DecodeError::EmptyBody { id: header.id.clone(), version: Some(version) });
        };
        if methods.next().is_some() {
            self.w.push(Warning::ExtraBodyElements);
        }
        let body = self.body(method, &header, version)?;
        Ok(Envelope { header, body })
    }

    fn header(&mut self, h: u32) -> R<Header> {
        let mut header = Header::default();
        for c in self.children(h) {
            let local = self.local(c);
            if local.eq_ignore_ascii_case("ID") {
                header.id = Some(self.string(c, Trim::Full)?);
            } else if local.eq_ignore_ascii_case("HoldRequests") {
                header.hold_requests = Some(self.boolean(c)?);
            } else if local.eq_ignore_ascii_case("NoMoreRequests") {
                header.no_more_requests = Some(self.boolean(c)?);
            } else if local.eq_ignore_ascii_case("SessionTimeout") {
                header.session_timeout = Some(self.number(c)?);
            } else if local.eq_ignore_ascii_case("SupportedCWMPVersions") {
                header.supported_cwmp_versions = Some(self.string(c, Trim::Full)?);
            } else if local.eq_ignore_ascii_case("UseCWMPVersion") {
                header.use_cwmp_version = Some(self.string(c, Trim::Full)?);
            } else {
                self.w.push(Warning::UnexpectedElement {
                    parent: "Header".to_owned(),
                    element: local.to_owned(),
                });
            }
        }
        if header.id.is_none() {
            self.w.push(Warning::MissingId);
        }
        Ok(header)
    }

    fn body(&mut self, m: u32, header: &Header, version: CwmpVersion) -> R<Body> {
        let name = self.local(m);
        let lower = name.to_ascii_lowercase();
        let body = match lower.as_str() {
            "inform" => Body::Inform(self.inform(m, header, version)?),
            "informresponse" => {
                let [me] = self.fields(m, ["MaxEnvelopes"]);
                Body::InformResponse {
                    max_envelopes: self.req_number(me, "InformResponse", "MaxEnvelopes")?,
                }
            }
            "transfercomplete" => Body::TransferComplete(self.transfer_complete(m)?),
            "transfercompleteresponse" => Body::TransferCompleteResponse,
            "autonomoustransfercomplete" => {
                Body::AutonomousTransferComplete(self.autonomous_transfer_complete(m)?)
            }
            "autonomoustransfercompleteresponse" => Body::AutonomousTransferCompleteResponse,
            "dustatechangecomplete" => {
                Body::DuStateChangeComplete(self.du_state_change_complete(m)?)
            }
            "dustatechangecompleteresponse" => Body::DuStateChangeCompleteResponse,
            "autonomousdustatechangecomplete" => {
                Body::AutonomousDuStateChangeComplete(self.autonomous_du_state_change_complete(m)?)
            }
            "autonomousdustatechangecompleteresponse" => {
                Body::AutonomousDuStateChangeCompleteResponse
            }
            "requestdownload" => {
                let p = "RequestDownload";
                let [ft, args] = self.fields(m, ["FileType", "FileTypeArg"]);
                let file_type = self.req_string(ft, p, "FileType", Trim::Full)?;
                let mut file_type_arg = Vec::new();
                match args {
                    Some(a) => {
                        for e in self.array(a)? {
                            let [n, v] = self.fields(e, ["Name", "Value"]);
                            let name = self.req_string(n, "ArgStruct", "Name", Trim::Full)?;
                            let value =
                                self.req_string(v, "ArgStruct", "Value", Trim::LineBreaks)?;
                            file_type_arg.push((name, value));
                        }
                    }
                    None => self.missing(p, "FileTypeArg"),
                }
                Body::RequestDownload { file_type, file_type_arg }
            }
            "requestdownloadresponse" => Body::RequestDownloadResponse,
            "kicked" => {
                let p = "Kicked";
                let [c, r, a, n] = self.fields(m, ["Command", "Referer", "Arg", "Next"]);
                Body::Kicked {
                    command: self.req_string(c, p, "Command", Trim::Full)?,
                    referer: self.req_string(r, p, "Referer", Trim::Full)?,
                    arg: self.req_string(a, p, "Arg", Trim::LineBreaks)?,
                    next: self.req_string(n, p, "Next", Trim::Full)?,
                }
            }
            "kickedresponse" => {
                let [n] = self.fields(m, ["NextURL"]);
                Body::KickedResponse {
                    next_url: self.req_string(n, "KickedResponse", "NextURL", Trim::Full)?,
                }
            }
            "getrpcmethods" => Body::GetRpcMethods,
            "getrpcmethodsresponse" => {
                let [ml] = self.fields(m, ["MethodList"]);
                Body::GetRpcMethodsResponse {
                    method_list: self.string_array(
                        ml,
                        "GetRPCMethodsResponse",
                        "MethodList",
                        false,
                    )?,
                }
            }
            "setparametervalues" => {
                let p = "SetParameterValues";
                let [pl, pk] = self.fields(m, ["ParameterList", "ParameterKey"]);
                Body::SetParameterValues {
                    parameter_list: self.parameter_values(pl, p)?,
                    parameter_key: self.req_string(pk, p, "ParameterKey", Trim::LineBreaks)?,
                }
            }
            "setparametervaluesresponse" => {
                let [s] = self.fields(m, ["Status"]);
                Body::SetParameterValuesResponse {
                    status: self.req_number(s, "SetParameterValuesResponse", "Status")?,
                }
            }
            "getparametervalues" => {
                let [pn] = self.fields(m, ["ParameterNames"]);
                Body::GetParameterValues {
                    parameter_names: self.string_array(
                        pn,
                        "GetParameterValues",
                        "ParameterNames",
                        true,
                    )?,
                }
            }
            "getparametervaluesresponse" => {
                let [pl] = self.fields(m, ["ParameterList"]);
                Body::GetParameterValuesResponse {
                    parameter_list: self.parameter_values(pl, "GetParameterValuesResponse")?,
                }
            }
            "getparameternames" => {
                let p = "GetParameterNames";
                let [pp, nl] = self.fields(m, ["ParameterPath", "NextLevel"]);
                let parameter_path = match pp {
                    Some(n) => self.name(n)?,
                    None => {
                        self.missing(p, "ParameterPath");
                        String::new()
                    }
                };
                Body::GetParameterNames {
                    parameter_path,
                    next_level: self.req_bool(nl, p, "NextLevel")?,
                }
            }
            "getparameternamesresponse" => {
                let p = "GetParameterNamesResponse";
                let [pl] = self.fields(m, ["ParameterList"]);
                let mut parameter_list = Vec::new();
                match pl {
                    Some(pl) => {
                        let entries = self.array(pl)?;
                        parameter_list.reserve(entries.len());
                        for e in entries {
                            let [n, wr] = self.fields(e, ["Name", "Writable"]);
                            parameter_list.push(ParameterInfo {
                                name: self.req_name(n, "ParameterInfoStruct", "Name")?,
                                writable: self.req_bool(wr, "ParameterInfoStruct", "Writable")?,
                            });
                        }
                    }
                    None => self.missing(p, "ParameterList"),
                }
                Body::GetParameterNamesResponse { parameter_list }
            }
            "setparameterattributes" => {
                let p = "SetParameterAttributes";
                let s = "SetParameterAttributesStruct";
                let [pl] = self.fields(m, ["ParameterList"]);
                let mut parameter_list = Vec::new();
                match pl {
                    Some(pl) => {
                        for e in self.array(pl)? {
                            let [n, nc, no, ac, al] = self.fields(
                                e,
                                [
                                    "Name",
                                    "NotificationChange",
                                    "Notification",
                                    "AccessListChange",
                                    "AccessList",
                                ],
                            );
                            parameter_list.push(SetParameterAttributesStruct {
                                name: self.req_name(n, s, "Name")?,
                                notification_change: self.req_bool(nc, s, "NotificationChange")?,
                                notification: self.req_number(no, s, "Notification")?,
                                access_list_change: self.req_bool(ac, s, "AccessListChange")?,
                                access_list: self.string_array(al, s, "AccessList", false)?,
                            });
                        }
                    }
                    None => self.missing(p, "ParameterList"),
                }
                Body::SetParameterAttributes { parameter_list }
            }
            "setparameterattributesresponse" => Body::SetParameterAttributesResponse,
            "getparameterattributes" => {
                let [pn] = self.fields(m, ["ParameterNames"]);
                Body::GetParameterAttributes {
                    parameter_names: self.string_array(
                        pn,
                        "GetParameterAttributes",
                        "ParameterNames",
                        true,
                    )?,
                }
            }
            "getparameterattributesresponse" => {
                let p = "GetParameterAttributesResponse";
                let s = "ParameterAttributeStruct";
                let [pl] = self.fields(m, ["ParameterList"]);
                let mut parameter_list = Vec::new();
                match pl {
                    Some(pl) => {
                        for e in self.array(pl)? {
                            let [n, no, al] =
                                self.fields(e, ["Name", "Notification", "AccessList"]);
                            parameter_list.push(ParameterAttributeStruct {
                                name: self.req_name(n, s, "Name")?,
                                notification: self.req_number(no, s, "Notification")?,
                                access_list: self.string_array(al, s, "AccessList", false)?,
                            });
                        }
                    }
                    None => self.missing(p, "ParameterList"),
                }
                Body::GetParameterAttributesResponse { parameter_list }
            }
            "addobject" | "deleteobject" => {
                let p = if lower == "addobject" { "AddObject" } else { "DeleteObject" };
                let [on, pk] = self.fields(m, ["ObjectName", "ParameterKey"]);
                let object_name = match on {
                    Some(n) => self.name(n)?,
                    None => {
                        self.missing(p, "ObjectName");
                        String::new()
                    }
                };
                let parameter_key = self.req_string(pk, p, "ParameterKey", Trim::LineBreaks)?;
                if lower == "addobject" {
                    Body::AddObject { object_name, parameter_key }
                } else {
                    Body::DeleteObject { object_name, parameter_key }
                }
            }
            "addobjectresponse" => {
                let p = "AddObjectResponse";
                let [i, s] = self.fields(m, ["InstanceNumber", "Status"]);
                Body::AddObjectResponse {
                    instance_number: self.req_number(i, p, "InstanceNumber")?,
                    status: self.req_number(s, p, "Status")?,
                }
            }
            "deleteobjectresponse" => {
                let [s] = self.fields(m, ["Status"]);
                Body::DeleteObjectResponse {
                    status: self.req_number(s, "DeleteObjectResponse", "Status")?,
                }
            }
            "reboot" => {
                let [ck] = self.fields(m, ["CommandKey"]);
                Body::Reboot {
                    command_key: self.req_string(ck, "Reboot", "CommandKey", Trim::LineBreaks)?,
                }
            }
            "rebootresponse" => Body::RebootResponse,
            "download" => Body::Download(self.download(m)?),
            "downloadresponse" | "uploadresponse" => {
                let p =
                    if lower == "downloadresponse" { "DownloadResponse" } else { "UploadResponse" };
                let [s, st, ct] = self.fields(m, ["Status", "StartTime", "CompleteTime"]);
                let status = self.req_number(s, p, "Status")?;
                let start_time = self.req_datetime(st, p, "StartTime")?;
                let complete_time = self.req_datetime(ct, p, "CompleteTime")?;
                if lower == "downloadresponse" {
                    Body::DownloadResponse { status, start_time, complete_time }
                } else {
                    Body::UploadResponse { status, start_time, complete_time }
                }
            }
            "upload" => {
                let p = "Upload";
                let [ck, ft, url, user, pass, delay] = self.fields(
                    m,
                    ["CommandKey", "FileType", "URL", "Username", "Password", "DelaySeconds"],
                );
                Body::Upload(Upload {
                    command_key: self.req_string(ck, p, "CommandKey", Trim::LineBreaks)?,
                    file_type: self.req_string(ft, p, "FileType", Trim::Full)?,
                    url: self.req_string(url, p, "URL", Trim::Full)?,
                    username: self.req_string(user, p, "Username", Trim::LineBreaks)?,
                    password: self.req_string(pass, p, "Password", Trim::LineBreaks)?,
                    delay_seconds: self.req_number(delay, p, "DelaySeconds")?,
                })
            }
            "factoryreset" => Body::FactoryReset,
            "factoryresetresponse" => Body::FactoryResetResponse,
            "getqueuedtransfers" => Body::GetQueuedTransfers,
            "getqueuedtransfersresponse" => {
                let p = "GetQueuedTransfersResponse";
                let s = "QueuedTransferStruct";
                let [tl] = self.fields(m, ["TransferList"]);
                let mut transfer_list = Vec::new();
                match tl {
                    Some(tl) => {
                        for e in self.array(tl)? {
                            let [ck, st] = self.fields(e, ["CommandKey", "State"]);
                            transfer_list.push(QueuedTransferStruct {
                                command_key: self.req_string(
                                    ck,
                                    s,
                                    "CommandKey",
                                    Trim::LineBreaks,
                                )?,
                                state: self.req_number(st, s, "State")?,
                            });
                        }
                    }
                    None => self.missing(p, "TransferList"),
                }
                Body::GetQueuedTransfersResponse { transfer_list }
            }
            "getallqueuedtransfers" => Body::GetAllQueuedTransfers,
            "getallqueuedtransfersresponse" => {
                let p = "GetAllQueuedTransfersResponse";
                let s = "AllQueuedTransferStruct";
                let [tl] = self.fields(m, ["TransferList"]);
                let mut transfer_list = Vec::new();
                match tl {
                    Some(tl) => {
                        for e in self.array(tl)? {
                            let [ck, st, dl, ft, fs, tf] = self.fields(
                                e,
                                [
                                    "CommandKey",
                                    "State",
                                    "IsDownload",
                                    "FileType",
                                    "FileSize",
                                    "TargetFileName",
                                ],
                            );
                            transfer_list.push(AllQueuedTransferStruct {
                                command_key: self.req_string(
                                    ck,
                                    s,
                                    "CommandKey",
                                    Trim::LineBreaks,
                                )?,
                                state: self.req_number(st, s, "State")?,
                                is_download: self.req_bool(dl, s, "IsDownload")?,
                                file_type: self.req_string(ft, s, "FileType", Trim::Full)?,
                                file_size: self.req_number(fs, s, "FileSize")?,
                                target_file_name: self.req_string(
                                    tf,
                                    s,
                                    "TargetFileName",
                                    Trim::LineBreaks,
                                )?,
                            });
                        }
                    }
                    None => self.missing(p, "TransferList"),
                }
                Body::GetAllQueuedTransfersResponse { transfer_list }
            }
            "scheduleinform" => {
                let p = "ScheduleInform";
                let [d, ck] = self.fields(m, ["DelaySeconds", "CommandKey"]);
                Body::ScheduleInform {
                    delay_seconds: self.req_number(d, p, "DelaySeconds")?,
                    command_key: self.req_string(ck, p, "CommandKey", Trim::LineBreaks)?,
                }
            }
            "scheduleinformresponse" => Body::ScheduleInformResponse,
            "scheduledownload" => Body::ScheduleDownload(self.schedule_download(m)?),
            "scheduledownloadresponse" => Body::ScheduleDownloadResponse,
            "canceltransfer" => {
                let [ck] = self.fields(m, ["CommandKey"]);
                Body::CancelTransfer {
                    command_key: self.req_string(
                        ck,
                        "CancelTransfer",
                        "CommandKey",
                        Trim::LineBreaks,
                    )?,
                }
            }
            "canceltransferresponse" => Body::CancelTransferResponse,
            "changedustate" => Body::ChangeDuState(self.change_du_state(m)?),
            "changedustateresponse" => Body::ChangeDuStateResponse,
            "fault" => Body::Fault(self.soap_fault(m)?),
            _ => {
                return Err(DecodeError::UnknownMethod {
                    name: name.to_owned(),
                    id: header.id.clone(),
                    version: Some(version),
                })
            }
        };
        Ok(body)
    }

    // ---- messages ---------------------------------------------------------------------

    fn inform(&mut self, m: u32, header: &Header, version: CwmpVersion) -> R<Inform> {
        let p = "Inform";
        let [dev, ev, me, ct, rc, pl] = self.fields(
            m,
            ["DeviceId", "Event", "MaxEnvelopes", "CurrentTime", "RetryCount", "ParameterList"],
        );
        let missing_id =
            || DecodeError::MissingDeviceId { id: header.id.clone(), version: Some(version) };
        let dev = dev.ok_or_else(missing_id)?;
        let d = "DeviceId";
        let [man, oui, pc, sn] =
            self.fields(dev, ["Manufacturer", "OUI", "ProductClass", "SerialNumber"]);
        let device_id = DeviceIdStruct {
            manufacturer: self.req_string(man, d, "Manufacturer", Trim::Full)?,
            oui: match oui {
                Some(n) => self.string(n, Trim::Full)?,
                None => String::new(),
            },
            product_class: self.req_string(pc, d, "ProductClass", Trim::Full)?,
            serial_number: match sn {
                Some(n) => self.string(n, Trim::Full)?,
                None => String::new(),
            },
        };
        if device_id.oui.is_empty() || device_id.serial_number.is_empty() {
            return Err(missing_id());
        }

        let mut events = Vec::new();
        match ev {
            Some(ev) => {
                let entries = self.array(ev)?;
                events.reserve(entries.len());
                for e in entries {
                    let [code, ck] = self.fields(e, ["EventCode", "CommandKey"]);
                    let raw_code = self.req_string(code, "EventStruct", "EventCode", Trim::Full)?;
                    let event_code = EventCode::parse(&raw_code);
                    let command_key = match ck {
                        Some(n) => self.string(n, Trim::LineBreaks)?,
                        None => String::new(),
                    };
                    if matches!(event_code, EventCode::Method(_)) && command_key.is_empty() {
                        self.w.push(Warning::EmptyCommandKey { event: raw_code });
                    }
                    events.push(EventStruct { event_code, command_key });
                }
            }
            None => self.missing(p, "Event"),
        }
        Ok(Inform {
            device_id,
            events,
            max_envelopes: self.req_number(me, p, "MaxEnvelopes")?,
            current_time: self.req_datetime(ct, p, "CurrentTime")?,
            retry_count: self.req_number(rc, p, "RetryCount")?,
            parameter_list: self.parameter_values(pl, p)?,
        })
    }

    fn parameter_values(&mut self, slot: Option<u32>, parent: &str) -> R<Vec<ParameterValue>> {
        let Some(pl) = slot else {
            self.missing(parent, "ParameterList");
            return Ok(Vec::new());
        };
        let entries = self.array(pl)?;
        let mut out = Vec::with_capacity(entries.len());
        let s = "ParameterValueStruct";
        for e in entries {
            // Fast path for the usual `<Name/><Value/>` pair; anything else goes through the
            // general (order- and case-tolerant) lookup.
            let first = self.nodes[e as usize].first_child;
            let second = if first == NONE { NONE } else { self.nodes[first as usize].next_sibling };
            let [n, v] = if second != NONE
                && short_eq(self.nodes[first as usize].local.as_bytes(), b"Name")
                && short_eq(self.nodes[second as usize].local.as_bytes(), b"Value")
                && self.nodes[second as usize].next_sibling == NONE
            {
                [Some(first), Some(second)]
            } else {
                self.fields(e, ["Name", "Value"])
            };
            let name = self.req_name(n, s, "Name")?;
            let (value, value_type) = match v {
                Some(v) => {
                    let value_type = match self.attr(v, "type") {
                        Some(t) => ValueType::parse(&self.attr_value(t)),
                        None => {
                            self.w.push(Warning::MissingValueType { name: name.clone() });
                            ValueType::String
                        }
                    };
                    let mode = if value_type.is_textual() { Trim::LineBreaks } else { Trim::Full };
                    (self.string(v, mode)?, value_type)
                }
                None => {
                    self.missing(s, "Value");
                    (String::new(), ValueType::String)
                }
            };
            out.push(ParameterValue { name, value, value_type });
        }
        Ok(out)
    }

    fn fault_struct(&mut self, slot: Option<u32>, parent: &str, field: &str) -> R<FaultStruct> {
        let Some(n) = slot else {
            self.missing(parent, field);
            return Ok(FaultStruct::default());
        };
        let [fc, fs] = self.fields(n, ["FaultCode", "FaultString"]);
        let code: u32 = self.req_number(fc, field, "FaultCode")?;
        Ok(FaultStruct {
            fault_code: FaultCode::from_code(code),
            fault_string: match fs {
                Some(s) => self.string(s, Trim::LineBreaks)?,
                None => String::new(),
            },
        })
    }

    fn transfer_complete(&mut self, m: u32) -> R<TransferComplete> {
        let p = "TransferComplete";
        let [ck, fs, st, ct] =
            self.fields(m, ["CommandKey", "FaultStruct", "StartTime", "CompleteTime"]);
        Ok(TransferComplete {
            command_key: self.req_string(ck, p, "CommandKey", Trim::LineBreaks)?,
            fault_struct: self.fault_struct(fs, p, "FaultStruct")?,
            start_time: self.req_datetime(st, p, "StartTime")?,
            complete_time: self.req_datetime(ct, p, "CompleteTime")?,
        })
    }

    fn autonomous_transfer_complete(&mut self, m: u32) -> R<AutonomousTransferComplete> {
        let p = "AutonomousTransferComplete";
        let [au, tu, dl, ft, fsz, tf, fs, st, ct] = self.fields(
            m,
            [
                "AnnounceURL",
                "TransferURL",
                "IsDownload",
                "FileType",
                "FileSize",
                "TargetFileName",
                "FaultStruct",
                "StartTime",
                "CompleteTime",
            ],
        );
        Ok(AutonomousTransferComplete {
            announce_url: self.req_string(au, p, "AnnounceURL", Trim::Full)?,
            transfer_url: self.req_string(tu, p, "TransferURL", Trim::Full)?,
            is_download: self.req_bool(dl, p, "IsDownload")?,
            file_type: self.req_string(ft, p, "FileType", Trim::Full)?,
            file_size: self.req_number(fsz, p, "FileSize")?,
            target_file_name: self.req_string(tf, p, "TargetFileName", Trim::LineBreaks)?,
            fault_struct: self.fault_struct(fs, p, "FaultStruct")?,
            start_time: self.req_datetime(st, p, "StartTime")?,
            complete_time: self.req_datetime(ct, p, "CompleteTime")?,
        })
    }

    /// `Results` entries: each is an OpResultStruct, or (tolerated) a wrapper of them.
    fn result_nodes(&mut self, m: u32) -> R<(Vec<u32>, Option<u32>)> {
        let mut results = Vec::new();
        let mut command_key = None;
        for c in self.children(m) {
            let local = self.local(c);
            if local.eq_ignore_ascii_case("Results") {
                if self.find_child(c, "UUID").is_some()
                    || self.nodes[c as usize].first_child == NONE
                {
                    results.push(c);
                } else {
                    results.extend(self.children(c));
                }
            } else if local.eq_ignore_ascii_case("CommandKey") {
                command_key = Some(c);
            } else {
                self.w.push(Warning::UnexpectedElement {
                    parent: self.local(m).to_owned(),
                    element: local.to_owned(),
                });
            }
            self.check_list_len(m, results.len())?;
        }
        Ok((results, command_key))
    }

    fn op_result(&mut self, n: u32) -> R<(OpResult, Option<u32>)> {
        let s = "OpResultStruct";
        let [uuid, du, ver, cs, res, eul, st, ct, fault, op] = self.fields(
            n,
            [
                "UUID",
                "DeploymentUnitRef",
                "Version",
                "CurrentState",
                "Resolved",
                "ExecutionUnitRefList",
                "StartTime",
                "CompleteTime",
                "Fault",
                "OperationPerformed",
            ],
        );
        let result = OpResult {
            uuid: self.req_string(uuid, s, "UUID", Trim::Full)?,
            deployment_unit_ref: self.req_string(du, s, "DeploymentUnitRef", Trim::Full)?,
            version: self.req_string(ver, s, "Version", Trim::Full)?,
            current_state: self.req_string(cs, s, "CurrentState", Trim::Full)?,
            resolved: self.req_bool(res, s, "Resolved")?,
            execution_unit_ref_list: self.req_string(eul, s, "ExecutionUnitRefList", Trim::Full)?,
            start_time: self.req_datetime(st, s, "StartTime")?,
            complete_time: self.req_datetime(ct, s, "CompleteTime")?,
            fault: self.fault_struct(fault, s, "Fault")?,
        };
        Ok((result, op))
    }

    fn du_state_change_complete(&mut self, m: u32) -> R<DuStateChangeComplete> {
        let (nodes, ck) = self.result_nodes(m)?;
        let mut results = Vec::with_capacity(nodes.len());
        for n in nodes {
            results.push(self.op_result(n)?.0);
        }
        Ok(DuStateChangeComplete {
            results,
            command_key: self.opt_string(ck, Trim::LineBreaks)?.unwrap_or_default(),
        })
    }

    fn autonomous_du_state_change_complete(
        &mut self,
        m: u32,
    ) -> R<AutonomousDuStateChangeComplete> {
        let (nodes, _) = self.result_nodes(m)?;
        let mut results = Vec::with_capacity(nodes.len());
        for n in nodes {
            let (result, op) = self.op_result(n)?;
            let operation_performed =
                self.req_string(op, "AutonOpResultStruct", "OperationPerformed", Trim::Full)?;
            results.push(AutonOpResult { result, operation_performed });
        }
        Ok(AutonomousDuStateChangeComplete { results })
    }

    fn download(&mut self, m: u32) -> R<Download> {
        let p = "Download";
        let [ck, ft, url, user, pass, fs, tf, delay, su, fu] = self.fields(
            m,
            [
                "CommandKey",
                "FileType",
                "URL",
                "Username",
                "Password",
                "FileSize",
                "TargetFileName",
                "DelaySeconds",
                "SuccessURL",
                "FailureURL",
            ],
        );
        Ok(Download {
            command_key: self.req_string(ck, p, "CommandKey", Trim::LineBreaks)?,
            file_type: self.req_string(ft, p, "FileType", Trim::Full)?,
            url: self.req_string(url, p, "URL", Trim::Full)?,
            username: self.req_string(user, p, "Username", Trim::LineBreaks)?,
            password: self.req_string(pass, p, "Password", Trim::LineBreaks)?,
            file_size: self.req_number(fs, p, "FileSize")?,
            target_file_name: self.req_string(tf, p, "TargetFileName", Trim::LineBreaks)?,
            delay_seconds: self.req_number(delay, p, "DelaySeconds")?,
            success_url: self.req_string(su, p, "SuccessURL", Trim::Full)?,
            failure_url: self.req_string(fu, p, "FailureURL", Trim::Full)?,
        })
    }

    fn schedule_download(&mut self, m: u32) -> R<ScheduleDownload> {
        let p = "ScheduleDownload";
        let [ck, ft, url, user, pass, fs, tf, tw] = self.fields(
            m,
            [
                "CommandKey",
                "FileType",
                "URL",
                "Username",
                "Password",
                "FileSize",
                "TargetFileName",
                "TimeWindowList",
            ],
        );
        let mut time_window_list = Vec::new();
        match tw {
            Some(tw) => {
                let s = "TimeWindowStruct";
                for e in self.array(tw)? {
                    let [ws, we, wm, um, mr] = self.fields(
                        e,
                        ["WindowStart", "WindowEnd", "WindowMode", "UserMessage", "MaxRetries"],
                    );
                    time_window_list.push(TimeWindow {
                        window_start: self.req_number(ws, s, "WindowStart")?,
                        window_end: self.req_number(we, s, "WindowEnd")?,
                        window_mode: self.req_string(wm, s, "WindowMode", Trim::Full)?,
                        user_message: self.req_string(um, s, "UserMessage", Trim::LineBreaks)?,
                        max_retries: self.req_number(mr, s, "MaxRetries")?,
                    });
                }
            }
            None => self.missing(p, "TimeWindowList"),
        }
        Ok(ScheduleDownload {
            command_key: self.req_string(ck, p, "CommandKey", Trim::LineBreaks)?,
            file_type: self.req_string(ft, p, "FileType", Trim::Full)?,
            url: self.req_string(url, p, "URL", Trim::Full)?,
            username: self.req_string(user, p, "Username", Trim::LineBreaks)?,
            password: self.req_string(pass, p, "Password", Trim::LineBreaks)?,
            file_size: self.req_number(fs, p, "FileSize")?,
            target_file_name: self.req_string(tf, p, "TargetFileName", Trim::LineBreaks)?,
            time_window_list,
        })
    }

    fn change_du_state(&mut self, m: u32) -> R<ChangeDuState> {
        let mut operations = Vec::new();
        let mut command_key = String::new();
        for c in self.children(m) {
            let local = self.local(c);
            if local.eq_ignore_ascii_case("Operations") {
                // Tolerate `<Operations><InstallOpStruct>…</InstallOpStruct></Operations>`.
                let (container, kind) = match self.attr(c, "type") {
                    Some(t) => (c, local_of(self.attr_value(t).trim()).to_ascii_lowercase()),
                    None => {
                        let wrapped = self
                            .children(c)
                            .into_iter()
                            .find(|&k| self.local(k).to_ascii_lowercase().ends_with("opstruct"));
                        match wrapped {
                            Some(k) => (k, self.local(k).to_ascii_lowercase()),
                            None => {
                                self.missing("Operations", "xsi:type");
                                let guess = if self.find_child(c, "Version").is_some()
                                    || self.find_child(c, "URL").is_none()
                                {
                                    if self.find_child(c, "URL").is_some()
                                        || self.find_child(c, "Username").is_some()
                                    {
                                        "updateopstruct"
                                    } else {
                                        "uninstallopstruct"
                                    }
                                } else {
                                    "installopstruct"
                                };
                                (c, guess.to_owned())
                            }
                        }
                    }
                };
                operations.push(self.du_operation(container, &kind)?);
                self.check_list_len(m, operations.len())?;
            } else if local.eq_ignore_ascii_case("CommandKey") {
                command_key = self.string(c, Trim::LineBreaks)?;
            } else {
                self.w.push(Warning::UnexpectedElement {
                    parent: "ChangeDUState".to_owned(),
                    element: local.to_owned(),
                });
            }
        }
        Ok(ChangeDuState { operations, command_key })
    }

    fn du_operation(&mut self, n: u32, kind: &str) -> R<DuOperation> {
        Ok(match kind {
            "updateopstruct" => {
                let [uuid, ver, url, user, pass] =
                    self.fields(n, ["UUID", "Version", "URL", "Username", "Password"]);
                DuOperation::Update(UpdateOp {
                    uuid: self.opt_string(uuid, Trim::Full)?,
                    version: self.opt_string(ver, Trim::Full)?,
                    url: self.opt_string(url, Trim::Full)?,
                    username: self.opt_string(user, Trim::LineBreaks)?,
                    password: self.opt_string(pass, Trim::LineBreaks)?,
                })
            }
            "uninstallopstruct" => {
                let [uuid, ver, ee] = self.fields(n, ["UUID", "Version", "ExecutionEnvRef"]);
                DuOperation::Uninstall(UninstallOp {
                    uuid: self.req_string(uuid, "UninstallOpStruct", "UUID", Trim::Full)?,
                    version: self.opt_string(ver, Trim::Full)?,
                    execution_env_ref: self.opt_string(ee, Trim::Full)?,
                })
            }
            _ => {
                if kind != "installopstruct" {
                    self.w.push(Warning::UnexpectedElement {
                        parent: "Operations".to_owned(),
                        element: kind.to_owned(),
                    });
                }
                let [url, uuid, user, pass, ee] =
                    self.fields(n, ["URL", "UUID", "Username", "Password", "ExecutionEnvRef"]);
                DuOperation::Install(InstallOp {
                    url: self.req_string(url, "InstallOpStruct", "URL", Trim::Full)?,
                    uuid: self.opt_string(uuid, Trim::Full)?,
                    username: self.opt_string(user, Trim::LineBreaks)?,
                    password: self.opt_string(pass, Trim::LineBreaks)?,
                    execution_env_ref: self.opt_string(ee, Trim::Full)?,
                })
            }
        })
    }

    fn soap_fault(&mut self, m: u32) -> R<SoapFault> {
        let p = "Fault";
        let fc = self.find_child(m, "faultcode");
        let fs = self.find_child(m, "faultstring");
        let faultcode = match fc {
            Some(n) => {
                let raw = self.text(n, Trim::Full)?;
                local_of(&raw).trim_matches(is_xml_ws).to_owned()
            }
            None => {
                self.missing(p, "faultcode");
                String::new()
            }
        };
        let faultstring = match fs {
            Some(n) => self.string(n, Trim::LineBreaks)?,
            None => {
                self.missing(p, "faultstring");
                String::new()
            }
        };
        // The CWMP Fault normally sits in detail/Fault; real CPEs put it elsewhere, so look
        // for it anywhere below the SOAP Fault, and fall back to the SOAP Fault itself.
        let detail = self.find_child(m, "detail");
        let cwmp = detail
            .and_then(|d| self.find_descendant(d, "Fault"))
            .or_else(|| self.find_descendant(m, "Fault"))
            .or_else(|| detail.filter(|&d| self.find_child(d, "FaultCode").is_some()))
            .unwrap_or(m);
        let code_node =
            self.find_child(cwmp, "FaultCode").or_else(|| self.find_descendant(cwmp, "FaultCode"));
        let code: u32 = self.req_number(code_node, "Fault", "FaultCode")?;
        let string = match self.find_child(cwmp, "FaultString") {
            Some(n) => self.string(n, Trim::LineBreaks)?,
            None => String::new(),
        };
        let mut spv = Vec::new();
        for c in self.children(cwmp) {
            if !self.local(c).eq_ignore_ascii_case("SetParameterValuesFault") {
                continue;
            }
            let s = "SetParameterValuesFault";
            let [pn, fc, fs] = self.fields(c, ["ParameterName", "FaultCode", "FaultString"]);
            let parameter_name = self.req_name(pn, s, "ParameterName")?;
            let code: u32 = self.req_number(fc, s, "FaultCode")?;
            let string = match fs {
                Some(n) => self.string(n, Trim::LineBreaks)?,
                None => String::new(),
            };
            spv.push(SetParameterValuesFault {
                parameter_name,
                code: FaultCode::from_code(code),
                string,
            });
            self.check_list_len(cwmp, spv.len())?;
        }
        Ok(SoapFault {
            faultcode,
            faultstring,
            detail: CwmpFault {
                code: FaultCode::from_code(code),
                string,
                set_parameter_values_faults: spv,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn trims() {
        assert_eq!(trim_raw("  a b  ", Trim::LineBreaks), "  a b  ");
        assert_eq!(trim_raw("\n  a b \r\n ", Trim::LineBreaks), "a b");
        assert_eq!(trim_raw("\n  a b  ", Trim::Full), "a b");
    }

    #[test]
    fn unescapes() {
        let mut w = Warnings::default();
        assert_eq!(unescape("a &amp; b", &mut w), "a & b");
        assert_eq!(unescape("AT&T", &mut w), "AT&T");
        assert_eq!(unescape("&#65;&#x42;&lt;", &mut w), "AB<");
        assert_eq!(unescape("x<![CDATA[<y>]]>z", &mut w), "x<y>z");
        assert_eq!(unescape("x<!-- c -->z", &mut w), "xz");
        assert_eq!(unescape("a\r\nb\rc", &mut w), "a\nb\nc");
        assert_eq!(unescape("&bogus;", &mut w), "&bogus;");
        assert_eq!(w.list.len(), 1);
    }

    #[test]
    fn attrs() {
        let got: Vec<_> = Attrs::new(r#" a="1"  b = '2' xmlns:c="u" "#).collect();
        assert_eq!(got, vec![("a", "1"), ("b", "2"), ("xmlns:c", "u")]);
        assert_eq!(Attrs::new(" broken").count(), 0);
    }

    #[test]
    fn charset_from_declaration() {
        let body = b"<?xml version='1.0' encoding='ISO-8859-1'?><x/>";
        assert_eq!(xml_decl_encoding(body), Some("ISO-8859-1"));
        assert_eq!(xml_decl_encoding(b"<x/>"), None);
    }
}
