//! USP path names (TR-369 "Path Names" and "Data Model Path Grammar"): a parser into a typed
//! AST, canonical display, and a matcher of concrete paths against patterns.
//!
//! Three flavours are parsed:
//! - [`Path::parse`]: paths of the *instantiated* data model as a controller sends them —
//!   instance numbers, `*`, unique-key and search expressions `[A==1&&B!="x"]` with
//!   `== != ~= < > <= >=`, reference following `Ref+`, `Ref#2+`, `Ref#*+`;
//! - [`Path::parse_supported`]: *supported* data model paths with `{i}` placeholders;
//! - [`Path::parse_concrete`]: paths an agent reports (names and instance numbers only).
//!
//! Object paths end in `.`, commands in `()`, events in `!`, anything else is a parameter.
//!
//! # Error codes
//! - **7008 Invalid path syntax**: everything the grammar rejects, and inputs over the limits in
//!   [`limits`](super::limits) (the path is not understood).
//! - **7026 Invalid path**: a well-formed path that cannot name what the context needs — a
//!   parameter path where an object path is required ([`Path::expect_kind`]), or a root other
//!   than the data model's ([`Path::expect_root`]). TR-369 defines 7026 as a path that "does not
//!   match any Objects or Parameters in the Agent's Supported Data Model".
//!
//! Search expressions are kept as typed [`Condition`]s; [`Condition::eval`] compares a value the
//! caller read from its data, so a test agent or the engine can evaluate searches the same way.

use std::cmp::Ordering;
use std::fmt::{self, Write as _};
use std::str::FromStr;

use super::codes::ErrorCode;
use super::error::UspError;
use super::limits::{
    MAX_EXPRESSION_COMPONENTS, MAX_NAME_BYTES, MAX_PATH_BYTES, MAX_PATH_EXPRESSIONS,
    MAX_PATH_SEGMENTS,
};

/// What a path addresses, from how it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathKind {
    /// Ends in `.`: an object, object instance or table.
    Object,
    /// Ends in a name: a parameter.
    Parameter,
    /// Ends in `()`: a command.
    Command,
    /// Ends in `!`: an event.
    Event,
}

impl fmt::Display for PathKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Object => "object path",
            Self::Parameter => "parameter path",
            Self::Command => "command path",
            Self::Event => "event path",
        })
    }
}

/// Which list item reference following takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefItem {
    /// `Ref+`: the first item (same as `Ref#1+`, kept apart so display round-trips).
    First,
    /// `Ref#n+`: item `n` (1-based).
    Index(u32),
    /// `Ref#*+`: every item.
    All,
}

/// One dot-separated part of a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// An object, parameter, command or event name. For command and event paths the last
    /// segment holds the name without `()` / `!`.
    Name(String),
    /// A reference parameter to follow: `Name+`, `Name#n+`, `Name#*+`.
    Reference {
        /// The reference parameter's name.
        name: String,
        /// Which list item to follow.
        item: RefItem,
    },
    /// An instance number (≥ 1).
    Instance(u32),
    /// `*`: every instance.
    Wildcard,
    /// `[...]`: unique-key addressing or a search expression (same syntax).
    Expression(Expression),
    /// `{i}`: instance placeholder of a supported data model path.
    Placeholder,
}

impl Segment {
    /// True for segments that select instances of a table.
    #[must_use]
    pub fn is_instance_selector(&self) -> bool {
        matches!(self, Self::Instance(_) | Self::Wildcard | Self::Expression(_) | Self::Placeholder)
    }
}

/// A bracketed expression: components joined by `&&` (a comma is accepted as in TR-369 1.0
/// compound keys and displayed as `&&`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Expression {
    /// The components; all must hold.
    pub conditions: Vec<Condition>,
}

impl Expression {
    /// True if every component uses `==`, as unique-key addressing does. Whether it is an
    /// address (at most one match) or a search depends on the table's unique keys.
    #[must_use]
    pub fn is_key_like(&self) -> bool {
        self.conditions.iter().all(|c| c.op == Operator::Eq)
    }
}

/// One expression component: `param op value`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Condition {
    /// Parameter relative to the instance being tested.
    pub param: RelPath,
    /// Comparison.
    pub op: Operator,
    /// The constant compared against.
    pub value: Value,
}

/// A relative parameter path inside an expression, e.g. `Stats.ErrorsSent` or `SSIDReference+.SSID`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RelPath {
    /// The dot-separated parts; only the last has no reference following.
    pub parts: Vec<RelPart>,
}

/// One part of a [`RelPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RelPart {
    /// Object or parameter name.
    pub name: String,
    /// Reference following after the name, if any.
    pub follow: Option<RefItem>,
}

/// Expression operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `~=`: a comma-separated list contains the value.
    Contains,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
}

impl Operator {
    /// The operator as written in a path.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::Contains => "~=",
            Self::Lt => "<",
            Self::Gt => ">",
            Self::Le => "<=",
            Self::Ge => ">=",
        }
    }
}

/// An expression constant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// A double-quoted string, with `%22` and `%25` already decoded to `"` and `%`.
    Quoted(String),
    /// An unquoted constant: number, boolean, dateTime, hex … exactly as written.
    Bare(String),
}

impl Value {
    /// The constant's text (decoded for quoted strings).
    #[must_use]
    pub fn text(&self) -> &str {
        match self {
            Self::Quoted(s) | Self::Bare(s) => s,
        }
    }
}

/// What is wrong with a path; see [`PathErrorKind::code`] for the USP error code.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathErrorKind {
    /// The path is empty.
    Empty,
    /// Longer than [`MAX_PATH_BYTES`].
    TooLong {
        /// The limit.
        max: usize,
    },
    /// More than [`MAX_PATH_SEGMENTS`] segments.
    TooManySegments {
        /// The limit.
        max: usize,
    },
    /// More than [`MAX_PATH_EXPRESSIONS`] bracketed expressions.
    TooManyExpressions {
        /// The limit.
        max: usize,
    },
    /// More than [`MAX_EXPRESSION_COMPONENTS`] components in one expression.
    TooManyComponents {
        /// The limit.
        max: usize,
    },
    /// A name longer than [`MAX_NAME_BYTES`].
    NameTooLong {
        /// The limit.
        max: usize,
    },
    /// A character the grammar does not allow here.
    UnexpectedChar(char),
    /// The path ends where more is required.
    UnexpectedEnd,
    /// Two dots in a row, or a leading dot.
    EmptySegment,
    /// Instance number 0, with a leading zero, or too large.
    InvalidInstanceNumber,
    /// An instance identifier not directly after a table name, or a path not starting with a name.
    MisplacedInstance,
    /// Reference following at the end of the path, or not followed by a name.
    DanglingReference,
    /// An instance identifier at the end of a path without the closing `.`.
    MissingTrailingDot,
    /// `[]`.
    EmptyExpression,
    /// No valid operator in an expression component.
    InvalidOperator,
    /// No valid constant in an expression component.
    InvalidValue,
    /// A string constant without its closing quote.
    UnterminatedString,
    /// An expression without its closing `]`.
    UnterminatedExpression,
    /// `{i}` outside a supported data model path.
    PlaceholderNotAllowed,
    /// Wildcards, expressions or reference following where only plain paths are allowed.
    SearchNotAllowed,
    /// A well-formed path of the wrong kind for its use (7026).
    WrongKind {
        /// What the use requires (the first allowed kind).
        expected: PathKind,
        /// What the path is.
        found: PathKind,
    },
    /// A well-formed path outside the data model's root (7026).
    WrongRoot {
        /// The root required.
        expected: String,
    },
}

impl PathErrorKind {
    /// 7026 (Invalid path) for well-formed paths unfit for their use, 7008 (Invalid path
    /// syntax) for everything else.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::WrongKind { .. } | Self::WrongRoot { .. } => ErrorCode::InvalidPath,
            _ => ErrorCode::InvalidPathSyntax,
        }
    }
}

impl fmt::Display for PathErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty path"),
            Self::TooLong { max } => write!(f, "path longer than {max} bytes"),
            Self::TooManySegments { max } => write!(f, "more than {max} path segments"),
            Self::TooManyExpressions { max } => write!(f, "more than {max} expressions"),
            Self::TooManyComponents { max } => {
                write!(f, "more than {max} components in one expression")
            }
            Self::NameTooLong { max } => write!(f, "name longer than {max} bytes"),
            Self::UnexpectedChar(c) => write!(f, "unexpected character {c:?}"),
            Self::UnexpectedEnd => f.write_str("unexpected end"),
            Self::EmptySegment => f.write_str("empty segment"),
            Self::InvalidInstanceNumber => f.write_str("invalid instance number"),
            Self::MisplacedInstance => f.write_str("instance identifier must follow a table name"),
            Self::DanglingReference => f.write_str("reference following must be followed by '.'"),
            Self::MissingTrailingDot => f.write_str("object instance path must end in '.'"),
            Self::EmptyExpression => f.write_str("empty expression"),
            Self::InvalidOperator => f.write_str("invalid expression operator"),
            Self::InvalidValue => f.write_str("invalid expression value"),
            Self::UnterminatedString => f.write_str("unterminated string"),
            Self::UnterminatedExpression => f.write_str("unterminated expression"),
            Self::PlaceholderNotAllowed => f.write_str("'{i}' is only allowed in supported paths"),
            Self::SearchNotAllowed => f.write_str("search syntax is not allowed here"),
            Self::WrongKind { expected, found } => write!(f, "expected {expected}, got {found}"),
            Self::WrongRoot { expected } => write!(f, "path must start with {expected:?}"),
        }
    }
}

/// How [`Path::matches`] compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchMode {
    /// The concrete path is exactly one of the paths the pattern addresses.
    Exact,
    /// Like `Exact`, and an object pattern also matches everything below the objects it
    /// addresses (as a Get of an object path returns its whole subtree).
    Subtree,
}

/// Reads the value of a relative parameter of an object instance (see [`Path::matches_with`]).
type Lookup<'a> = dyn FnMut(&str, &RelPath) -> Option<String> + 'a;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Instantiated,
    Supported,
    Concrete,
}

/// A parsed USP path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Path {
    segments: Vec<Segment>,
    kind: PathKind,
}

impl Path {
    /// Parses a path of the instantiated data model, with search syntax allowed.
    ///
    /// # Errors
    /// [`UspError::Path`] with code 7008 on any syntax error or exceeded limit.
    pub fn parse(input: &str) -> Result<Self, UspError> {
        Parser::new(input, Flavor::Instantiated).parse()
    }

    /// Parses a supported data model path (`{i}` placeholders or instance numbers, no search).
    ///
    /// # Errors
    /// [`UspError::Path`] with code 7008 on any syntax error or exceeded limit.
    pub fn parse_supported(input: &str) -> Result<Self, UspError> {
        Parser::new(input, Flavor::Supported).parse()
    }

    /// Parses a concrete path as agents report them: names and instance numbers only.
    ///
    /// # Errors
    /// [`UspError::Path`] with code 7008 on any syntax error, search syntax, or exceeded limit.
    pub fn parse_concrete(input: &str) -> Result<Self, UspError> {
        Parser::new(input, Flavor::Concrete).parse()
    }

    /// What the path addresses.
    #[must_use]
    pub fn kind(&self) -> PathKind {
        self.kind
    }

    /// The segments, root first.
    #[must_use]
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The last segment's name (parameter, command, event or object name), if it is a name.
    #[must_use]
    pub fn last_name(&self) -> Option<&str> {
        match self.segments.last() {
            Some(Segment::Name(n) | Segment::Reference { name: n, .. }) => Some(n),
            _ => None,
        }
    }

    /// True if the path has only names and instance numbers.
    #[must_use]
    pub fn is_concrete(&self) -> bool {
        self.segments.iter().all(|s| matches!(s, Segment::Name(_) | Segment::Instance(_)))
    }

    /// True if the path can address more than one instance (wildcards, expressions, or
    /// following every item of a reference list).
    #[must_use]
    pub fn is_search(&self) -> bool {
        self.segments.iter().any(|s| {
            matches!(
                s,
                Segment::Wildcard
                    | Segment::Expression(_)
                    | Segment::Reference { item: RefItem::All, .. }
            )
        })
    }

    /// Checks the path is one of `allowed` kinds.
    ///
    /// # Errors
    /// [`UspError::Path`] with [`PathErrorKind::WrongKind`] (7026).
    pub fn expect_kind(&self, allowed: &[PathKind]) -> Result<(), UspError> {
        if allowed.contains(&self.kind) {
            return Ok(());
        }
        let expected = allowed.first().copied().unwrap_or(PathKind::Object);
        Err(self.error(PathErrorKind::WrongKind { expected, found: self.kind }))
    }

    /// Checks the path's first segment is `root` (e.g. `"Device"`).
    ///
    /// # Errors
    /// [`UspError::Path`] with [`PathErrorKind::WrongRoot`] (7026).
    pub fn expect_root(&self, root: &str) -> Result<(), UspError> {
        match self.segments.first() {
            Some(Segment::Name(n)) if n == root => Ok(()),
            _ => Err(self.error(PathErrorKind::WrongRoot { expected: format!("{root}.") })),
        }
    }

    /// The supported data model path of this path: every instance identifier becomes `{i}`
    /// and reference following is dropped from names.
    #[must_use]
    pub fn to_supported(&self) -> Self {
        let segments = self
            .segments
            .iter()
            .map(|s| match s {
                Segment::Reference { name, .. } => Segment::Name(name.clone()),
                s if s.is_instance_selector() => Segment::Placeholder,
                s => s.clone(),
            })
            .collect();
        Self { segments, kind: self.kind }
    }

    /// Whether the concrete path `concrete` is addressed by this pattern, for patterns made
    /// of names, instance numbers, `*` and `{i}`.
    ///
    /// # Errors
    /// - [`UspError::Path`] if `concrete` does not parse as a concrete path;
    /// - [`UspError::NeedsData`] if the pattern has expressions (use [`Path::matches_with`]) or
    ///   reference following (which only the agent's data can resolve).
    pub fn matches(&self, concrete: &str, mode: MatchMode) -> Result<bool, UspError> {
        self.match_impl(concrete, mode, None)
    }

    /// Like [`Path::matches`], evaluating expressions with `lookup(instance_path, param)`, which
    /// returns the value of the relative parameter `param` of the object instance
    /// `instance_path` (e.g. `"Device.WiFi.SSID.3."`, `Stats.ErrorsSent`), or `None` if it has
    /// none. A component whose parameter has no value does not hold.
    ///
    /// # Errors
    /// As [`Path::matches`], except that expressions are allowed.
    pub fn matches_with<F>(
        &self,
        concrete: &str,
        mode: MatchMode,
        mut lookup: F,
    ) -> Result<bool, UspError>
    where
        F: FnMut(&str, &RelPath) -> Option<String>,
    {
        self.match_impl(concrete, mode, Some(&mut lookup))
    }

    fn match_impl(
        &self,
        concrete: &str,
        mode: MatchMode,
        mut lookup: Option<&mut Lookup<'_>>,
    ) -> Result<bool, UspError> {
        let has_reference = self.segments.iter().any(|s| matches!(s, Segment::Reference { .. }));
        let has_expression = self.segments.iter().any(|s| matches!(s, Segment::Expression(_)));
        if has_reference || (has_expression && lookup.is_none()) {
            return Err(UspError::NeedsData(UspError::excerpt(&self.to_string())));
        }
        let concrete = Self::parse_concrete(concrete)?;
        let (pat, con) = (&self.segments, &concrete.segments);
        let subtree = mode == MatchMode::Subtree && self.kind == PathKind::Object;
        let shape_ok = if subtree {
            con.len() > pat.len() || (con.len() == pat.len() && concrete.kind == PathKind::Object)
        } else {
            con.len() == pat.len() && concrete.kind == self.kind
        };
        if !shape_ok {
            return Ok(false);
        }
        for (i, (p, c)) in pat.iter().zip(con.iter()).enumerate() {
            let ok = match (p, c) {
                (Segment::Name(a), Segment::Name(b)) => a == b,
                (Segment::Instance(a), Segment::Instance(b)) => a == b,
                (Segment::Wildcard | Segment::Placeholder, Segment::Instance(_)) => true,
                (Segment::Expression(expr), Segment::Instance(_)) => {
                    let mut instance_path = render_segments(&con[..=i]);
                    instance_path.push('.');
                    match lookup.as_mut() {
                        Some(lookup) => expr
                            .conditions
                            .iter()
                            .all(|cond| cond.eval(lookup(&instance_path, &cond.param).as_deref())),
                        None => false,
                    }
                }
                _ => false,
            };
            if !ok {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn error(&self, kind: PathErrorKind) -> UspError {
        UspError::Path { kind, offset: 0, path: UspError::excerpt(&self.to_string()) }
    }
}

impl FromStr for Path {
    type Err = UspError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render_segments(&self.segments))?;
        match self.kind {
            PathKind::Object => f.write_char('.'),
            PathKind::Parameter => Ok(()),
            PathKind::Command => f.write_str("()"),
            PathKind::Event => f.write_char('!'),
        }
    }
}

fn render_segments(segments: &[Segment]) -> String {
    let mut out = String::new();
    for (i, segment) in segments.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "{segment}");
    }
    out
}

impl fmt::Display for RefItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::First => f.write_char('+'),
            Self::Index(n) => write!(f, "#{n}+"),
            Self::All => f.write_str("#*+"),
        }
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(n) => f.write_str(n),
            Self::Reference { name, item } => write!(f, "{name}{item}"),
            Self::Instance(n) => write!(f, "{n}"),
            Self::Wildcard => f.write_char('*'),
            Self::Expression(e) => write!(f, "{e}"),
            Self::Placeholder => f.write_str("{i}"),
        }
    }
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('[')?;
        for (i, c) in self.conditions.iter().enumerate() {
            if i > 0 {
                f.write_str("&&")?;
            }
            write!(f, "{c}")?;
        }
        f.write_char(']')
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.param, self.op.as_str(), self.value)
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 {
                f.write_char('.')?;
            }
            f.write_str(&part.name)?;
            if let Some(item) = part.follow {
                write!(f, "{item}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bare(s) => f.write_str(s),
            Self::Quoted(s) => {
                f.write_char('"')?;
                for c in s.chars() {
                    match c {
                        '%' => f.write_str("%25")?,
                        '"' => f.write_str("%22")?,
                        c => f.write_char(c)?,
                    }
                }
                f.write_char('"')
            }
        }
    }
}

impl Condition {
    /// Evaluates the component against `actual`, the value of [`Condition::param`] in one
    /// instance (`None` if the instance has no such parameter, which never holds).
    ///
    /// Without the data model's types the comparison is by the constant's form: a quoted
    /// constant compares as a string; a bare one as an integer or decimal number when both
    /// sides are numbers, as a boolean (`true`/`false`/`1`/`0`) when both sides are booleans,
    /// and as text otherwise. `<`, `>`, `<=`, `>=` hold only for numbers and for dateTimes
    /// (compared as text, which orders same-format UTC timestamps). `~=` holds when the
    /// comma-separated list `actual` has an item equal to the constant.
    #[must_use]
    pub fn eval(&self, actual: Option<&str>) -> bool {
        let Some(actual) = actual else {
            return false;
        };
        match self.op {
            Operator::Eq => values_equal(actual, &self.value),
            Operator::Ne => !values_equal(actual, &self.value),
            Operator::Contains => {
                actual.split(',').map(str::trim).any(|item| values_equal(item, &self.value))
            }
            Operator::Lt => compare(actual, &self.value) == Some(Ordering::Less),
            Operator::Gt => compare(actual, &self.value) == Some(Ordering::Greater),
            Operator::Le => {
                matches!(compare(actual, &self.value), Some(Ordering::Less | Ordering::Equal))
            }
            Operator::Ge => {
                matches!(compare(actual, &self.value), Some(Ordering::Greater | Ordering::Equal))
            }
        }
    }
}

fn parse_int(s: &str) -> Option<i128> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.strip_prefix('+').unwrap_or(s).parse().ok()
}

fn parse_decimal(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) {
        return None;
    }
    s.parse().ok()
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

fn looks_like_datetime(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 19 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[10] == b'T'
}

fn values_equal(actual: &str, constant: &Value) -> bool {
    match constant {
        Value::Quoted(s) => actual == s,
        Value::Bare(s) => {
            if let (Some(a), Some(b)) = (parse_int(actual), parse_int(s)) {
                return a == b;
            }
            if let (Some(a), Some(b)) = (parse_bool(actual), parse_bool(s)) {
                return a == b;
            }
            if let (Some(a), Some(b)) = (parse_decimal(actual), parse_decimal(s)) {
                return a == b;
            }
            actual == s
        }
    }
}

fn compare(actual: &str, constant: &Value) -> Option<Ordering> {
    let Value::Bare(s) = constant else {
        return None;
    };
    if let (Some(a), Some(b)) = (parse_int(actual), parse_int(s)) {
        return Some(a.cmp(&b));
    }
    if let (Some(a), Some(b)) = (parse_decimal(actual), parse_decimal(s)) {
        return a.partial_cmp(&b);
    }
    if looks_like_datetime(actual) && looks_like_datetime(s) {
        return Some(actual.cmp(s));
    }
    None
}

struct Parser<'a> {
    input: &'a str,
    bytes: &'a [u8],
    pos: usize,
    flavor: Flavor,
    expressions: usize,
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

// TR-106 names also allow '-' after the first character (vendor prefixes such as X_ACME-COM_).
fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn is_bare_value_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.' | b':' | b'_')
}

impl<'a> Parser<'a> {
    fn new(input: &'a str, flavor: Flavor) -> Self {
        Self { input, bytes: input.as_bytes(), pos: 0, flavor, expressions: 0 }
    }

    fn err(&self, kind: PathErrorKind) -> UspError {
        UspError::Path { kind, offset: self.pos, path: UspError::excerpt(self.input) }
    }

    fn unexpected(&self) -> UspError {
        match self.input.get(self.pos..).and_then(|rest| rest.chars().next()) {
            Some(c) => self.err(PathErrorKind::UnexpectedChar(c)),
            None => self.err(PathErrorKind::UnexpectedEnd),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn parse(mut self) -> Result<Path, UspError> {
        if self.input.is_empty() {
            return Err(self.err(PathErrorKind::Empty));
        }
        if self.input.len() > MAX_PATH_BYTES {
            self.pos = MAX_PATH_BYTES;
            return Err(self.err(PathErrorKind::TooLong { max: MAX_PATH_BYTES }));
        }
        let mut segments: Vec<Segment> = Vec::new();
        loop {
            if segments.len() == MAX_PATH_SEGMENTS {
                return Err(self.err(PathErrorKind::TooManySegments { max: MAX_PATH_SEGMENTS }));
            }
            let start = self.pos;
            let (segment, terminal) = self.segment()?;
            let placement_ok = match (&segment, segments.last()) {
                (s, prev) if s.is_instance_selector() => matches!(prev, Some(Segment::Name(_))),
                (_, None) => matches!(segment, Segment::Name(_)),
                _ => true,
            };
            if !placement_ok {
                self.pos = start;
                return Err(self.err(if matches!(segment, Segment::Reference { .. }) {
                    PathErrorKind::DanglingReference
                } else {
                    PathErrorKind::MisplacedInstance
                }));
            }
            segments.push(segment);
            if let Some(kind) = terminal {
                if self.pos != self.bytes.len() {
                    return Err(self.unexpected());
                }
                if segments.len() < 2 {
                    return Err(self.err(PathErrorKind::UnexpectedEnd));
                }
                return Ok(Path { segments, kind });
            }
            match self.peek() {
                None => {
                    return match segments.last() {
                        Some(Segment::Name(_)) if segments.len() >= 2 => {
                            Ok(Path { segments, kind: PathKind::Parameter })
                        }
                        Some(Segment::Name(_)) => Err(self.err(PathErrorKind::UnexpectedEnd)),
                        Some(Segment::Reference { .. }) => {
                            Err(self.err(PathErrorKind::DanglingReference))
                        }
                        _ => Err(self.err(PathErrorKind::MissingTrailingDot)),
                    };
                }
                Some(b'.') => {
                    self.pos += 1;
                    if self.pos == self.bytes.len() {
                        return Ok(Path { segments, kind: PathKind::Object });
                    }
                }
                Some(_) => return Err(self.unexpected()),
            }
        }
    }

    /// One segment; the second value is set for a final command or event name.
    fn segment(&mut self) -> Result<(Segment, Option<PathKind>), UspError> {
        let search_ok = self.flavor == Flavor::Instantiated;
        match self.peek() {
            None => Err(self.err(PathErrorKind::UnexpectedEnd)),
            Some(b'.') => Err(self.err(PathErrorKind::EmptySegment)),
            Some(b'*') if search_ok => {
                self.pos += 1;
                Ok((Segment::Wildcard, None))
            }
            Some(b'[') if search_ok => Ok((Segment::Expression(self.expression()?), None)),
            Some(b'*' | b'[') => Err(self.err(PathErrorKind::SearchNotAllowed)),
            Some(b'{') if self.input[self.pos..].starts_with("{i}") => {
                if self.flavor != Flavor::Supported {
                    return Err(self.err(PathErrorKind::PlaceholderNotAllowed));
                }
                self.pos += 3;
                Ok((Segment::Placeholder, None))
            }
            Some(b'0'..=b'9') => Ok((Segment::Instance(self.posnum()?), None)),
            Some(b) if is_name_start(b) => {
                let name = self.name()?;
                match self.peek() {
                    Some(b'#' | b'+') => {
                        if !search_ok {
                            return Err(self.err(PathErrorKind::SearchNotAllowed));
                        }
                        let item = self.ref_item()?;
                        Ok((Segment::Reference { name, item }, None))
                    }
                    Some(b'(') => {
                        if self.bytes.get(self.pos + 1) != Some(&b')') {
                            self.pos += 1;
                            return Err(self.unexpected());
                        }
                        self.pos += 2;
                        Ok((Segment::Name(name), Some(PathKind::Command)))
                    }
                    Some(b'!') => {
                        self.pos += 1;
                        Ok((Segment::Name(name), Some(PathKind::Event)))
                    }
                    _ => Ok((Segment::Name(name), None)),
                }
            }
            Some(_) => Err(self.unexpected()),
        }
    }

    fn name(&mut self) -> Result<String, UspError> {
        let start = self.pos;
        if !self.peek().is_some_and(is_name_start) {
            return Err(self.unexpected());
        }
        while self.peek().is_some_and(is_name_char) {
            self.pos += 1;
        }
        if self.pos - start > MAX_NAME_BYTES {
            self.pos = start;
            return Err(self.err(PathErrorKind::NameTooLong { max: MAX_NAME_BYTES }));
        }
        Ok(self.input[start..self.pos].to_owned())
    }

    fn posnum(&mut self) -> Result<u32, UspError> {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits = &self.input[start..self.pos];
        match digits.parse::<u32>() {
            Ok(n) if n > 0 && !digits.starts_with('0') => Ok(n),
            _ => {
                self.pos = start;
                Err(self.err(PathErrorKind::InvalidInstanceNumber))
            }
        }
    }

    /// `+`, `#n+` or `#*+`, at `#` or `+`.
    fn ref_item(&mut self) -> Result<RefItem, UspError> {
        let item = if self.eat(b'#') {
            if self.eat(b'*') {
                RefItem::All
            } else if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                RefItem::Index(self.posnum()?)
            } else {
                return Err(self.unexpected());
            }
        } else {
            RefItem::First
        };
        if !self.eat(b'+') {
            return Err(self.unexpected());
        }
        Ok(item)
    }

    fn expression(&mut self) -> Result<Expression, UspError> {
        if self.expressions == MAX_PATH_EXPRESSIONS {
            return Err(self.err(PathErrorKind::TooManyExpressions { max: MAX_PATH_EXPRESSIONS }));
        }
        self.expressions += 1;
        self.pos += 1; // '['
        self.skip_ws();
        if self.peek() == Some(b']') {
            return Err(self.err(PathErrorKind::EmptyExpression));
        }
        let mut conditions = Vec::new();
        loop {
            if conditions.len() == MAX_EXPRESSION_COMPONENTS {
                return Err(
                    self.err(PathErrorKind::TooManyComponents { max: MAX_EXPRESSION_COMPONENTS })
                );
            }
            self.skip_ws();
            if self.peek().is_none() {
                return Err(self.err(PathErrorKind::UnterminatedExpression));
            }
            let param = self.rel_path()?;
            self.skip_ws();
            let op = self.operator()?;
            self.skip_ws();
            let value = self.value()?;
            self.skip_ws();
            conditions.push(Condition { param, op, value });
            match self.peek() {
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Expression { conditions });
                }
                Some(b'&') if self.bytes.get(self.pos + 1) == Some(&b'&') => self.pos += 2,
                Some(b',') => self.pos += 1,
                None => return Err(self.err(PathErrorKind::UnterminatedExpression)),
                Some(_) => return Err(self.unexpected()),
            }
        }
    }

    fn rel_path(&mut self) -> Result<RelPath, UspError> {
        let mut parts = Vec::new();
        loop {
            if parts.len() == MAX_PATH_SEGMENTS {
                return Err(self.err(PathErrorKind::TooManySegments { max: MAX_PATH_SEGMENTS }));
            }
            let name = self.name()?;
            let follow = if matches!(self.peek(), Some(b'#' | b'+')) {
                Some(self.ref_item()?)
            } else {
                None
            };
            parts.push(RelPart { name, follow });
            if !self.eat(b'.') {
                if follow.is_some() {
                    return Err(self.err(PathErrorKind::DanglingReference));
                }
                return Ok(RelPath { parts });
            }
        }
    }

    fn operator(&mut self) -> Result<Operator, UspError> {
        let two = self.bytes.get(self.pos..self.pos + 2);
        let (op, len) = match two {
            Some(b"==") => (Operator::Eq, 2),
            Some(b"!=") => (Operator::Ne, 2),
            Some(b"~=") => (Operator::Contains, 2),
            Some(b"<=") => (Operator::Le, 2),
            Some(b">=") => (Operator::Ge, 2),
            _ => match self.peek() {
                Some(b'<') => (Operator::Lt, 1),
                Some(b'>') => (Operator::Gt, 1),
                _ => return Err(self.err(PathErrorKind::InvalidOperator)),
            },
        };
        self.pos += len;
        Ok(op)
    }

    fn value(&mut self) -> Result<Value, UspError> {
        if self.eat(b'"') {
            let start = self.pos;
            let Some(len) = self.input[start..].find('"') else {
                self.pos = start - 1;
                return Err(self.err(PathErrorKind::UnterminatedString));
            };
            self.pos = start + len + 1;
            let raw = &self.input[start..start + len];
            return Ok(Value::Quoted(raw.replace("%22", "\"").replace("%25", "%")));
        }
        let start = self.pos;
        while self.peek().is_some_and(is_bare_value_char) {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.err(PathErrorKind::InvalidValue));
        }
        Ok(Value::Bare(self.input[start..self.pos].to_owned()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn kind_of(input: &str) -> PathErrorKind {
        match Path::parse(input) {
            Err(UspError::Path { kind, .. }) => kind,
            other => panic!("{input:?} should fail, got {other:?}"),
        }
    }

    fn round_trip(input: &str) -> Path {
        let path = Path::parse(input).unwrap();
        assert_eq!(path.to_string(), input, "display of {input:?}");
        assert_eq!(Path::parse(&path.to_string()).unwrap(), path);
        path
    }

    #[test]
    fn kinds() {
        assert_eq!(round_trip("Device.").kind(), PathKind::Object);
        assert_eq!(round_trip("Device.WiFi.SSID.3.SSID").kind(), PathKind::Parameter);
        assert_eq!(round_trip("Device.Reboot()").kind(), PathKind::Command);
        assert_eq!(round_trip("Device.Boot!").kind(), PathKind::Event);
        assert_eq!(round_trip("Device.WiFi.SSID.3.").kind(), PathKind::Object);
        assert_eq!(
            round_trip("Device.DeviceInfo.FirmwareImage.2.Download()").kind(),
            PathKind::Command
        );
    }

    #[test]
    fn segments() {
        let p = round_trip("Device.WiFi.SSID.*.Stats.BytesSent");
        assert_eq!(
            p.segments(),
            &[
                Segment::Name("Device".into()),
                Segment::Name("WiFi".into()),
                Segment::Name("SSID".into()),
                Segment::Wildcard,
                Segment::Name("Stats".into()),
                Segment::Name("BytesSent".into()),
            ]
        );
        assert!(p.is_search());
        assert!(!p.is_concrete());
        assert_eq!(p.last_name(), Some("BytesSent"));
        assert!(round_trip("Device.IP.Interface.12.Name").is_concrete());
    }

    #[test]
    fn expressions_and_unique_keys() {
        let p = round_trip(
            r#"Device.IP.Interface.[Name=="eth0"].IPv4Address.[Status=="Enabled"].IPAddress"#,
        );
        let Segment::Expression(e) = &p.segments()[3] else { panic!("expression expected") };
        assert!(e.is_key_like());
        assert_eq!(e.conditions[0].param.to_string(), "Name");
        assert_eq!(e.conditions[0].value, Value::Quoted("eth0".into()));

        let p = round_trip(r#"Device.IP.Interface.[Type=="Normal"&&Stats.ErrorsSent>0].Status"#);
        let Segment::Expression(e) = &p.segments()[3] else { panic!("expression expected") };
        assert!(!e.is_key_like());
        assert_eq!(e.conditions.len(), 2);
        assert_eq!(e.conditions[1].op, Operator::Gt);
        assert_eq!(e.conditions[1].param.parts.len(), 2);

        for op in ["==", "!=", "~=", "<", ">", "<=", ">="] {
            round_trip(&format!("Device.X.[A{op}1].B"));
        }
        round_trip(
            "Device.IP.Interface.*.IPv6Address.[ValidLifetime<2021-06-06T08:00:00Z].IPAddress",
        );
        round_trip("Device.USB.USBHosts.Host.*.Device.[DeviceClass==08].");
        round_trip(r#"Device.PCP.Client.*.Server.[Capabilities~="IPv6Firewall"]."#);
        round_trip(r#"Device.NAT.PortMapping.[RemoteHost==""&&ExternalPort==0&&Protocol=="TCP"]."#);
        round_trip("Device.DSL.Line.[Enable==true].CurrentProfile");
        round_trip("Device.X.[A==-5].B");
    }

    #[test]
    fn tolerated_variants_display_canonically() {
        let p = Path::parse(r#"Device.X.[ A == "b" && C>=2 ].D"#).unwrap();
        assert_eq!(p.to_string(), r#"Device.X.[A=="b"&&C>=2].D"#);
        let p = Path::parse(r#"Device.NAT.PortMapping.[RemoteHost=="",ExternalPort==0]."#).unwrap();
        assert_eq!(p.to_string(), r#"Device.NAT.PortMapping.[RemoteHost==""&&ExternalPort==0]."#);
    }

    #[test]
    fn percent_escapes_in_strings() {
        let p = Path::parse(r#"Device.X.[Name=="a%22b%25c.d]&&"].Y"#).unwrap();
        let Segment::Expression(e) = &p.segments()[2] else { panic!("expression expected") };
        assert_eq!(e.conditions[0].value.text(), r#"a"b%c.d]&&"#);
        assert_eq!(p.to_string(), r#"Device.X.[Name=="a%22b%25c.d]&&"].Y"#);
        assert_eq!(Path::parse(&p.to_string()).unwrap(), p);
    }

    #[test]
    fn reference_following() {
        let p = round_trip("Device.NAT.PortMapping.1.Interface+.Name");
        assert_eq!(
            p.segments()[4],
            Segment::Reference { name: "Interface".into(), item: RefItem::First }
        );
        let p = round_trip("Device.WiFi.SSID.1.LowerLayers#1+.Name");
        assert_eq!(
            p.segments()[4],
            Segment::Reference { name: "LowerLayers".into(), item: RefItem::Index(1) }
        );
        let p = round_trip("Device.WiFi.SSID.1.LowerLayers#*+.");
        assert!(p.is_search());
        let p = round_trip(
            r#"Device.WiFi.AccessPoint.[SSIDReference+.SSID=="MyHome"].AssociatedDevice.[OperatingStandard=="ac"].SignalStrength"#,
        );
        let Segment::Expression(e) = &p.segments()[3] else { panic!("expression expected") };
        assert_eq!(e.conditions[0].param.parts[0].follow, Some(RefItem::First));
        round_trip("Device.A.B#2+.C#*+.D");
    }

    #[test]
    fn syntax_errors() {
        use PathErrorKind as K;
        assert_eq!(kind_of(""), K::Empty);
        assert_eq!(kind_of("Device..X"), K::EmptySegment);
        assert_eq!(kind_of(".Device"), K::EmptySegment);
        assert_eq!(kind_of("Device"), K::UnexpectedEnd);
        assert_eq!(kind_of("Device.X.0."), K::InvalidInstanceNumber);
        assert_eq!(kind_of("Device.X.01."), K::InvalidInstanceNumber);
        assert_eq!(kind_of("Device.X.4294967296."), K::InvalidInstanceNumber);
        assert_eq!(kind_of("Device.X.1"), K::MissingTrailingDot);
        assert_eq!(kind_of("Device.X.*"), K::MissingTrailingDot);
        assert_eq!(kind_of("Device.X.1.2."), K::MisplacedInstance);
        assert_eq!(kind_of("1.Device."), K::MisplacedInstance);
        assert_eq!(kind_of("Device.X.1.*."), K::MisplacedInstance);
        assert_eq!(kind_of("Device.A+.1."), K::MisplacedInstance);
        assert_eq!(kind_of("A+.B"), K::DanglingReference);
        assert_eq!(kind_of("Device.A+"), K::DanglingReference);
        assert_eq!(kind_of("Device.A#+.B"), K::UnexpectedChar('+'));
        assert_eq!(kind_of("Device.A#0+.B"), K::InvalidInstanceNumber);
        assert_eq!(kind_of("Device.A#1.B"), K::UnexpectedChar('.'));
        assert_eq!(kind_of("Device.X.[]."), K::EmptyExpression);
        assert_eq!(kind_of("Device.X.[A=1]."), K::InvalidOperator);
        assert_eq!(kind_of("Device.X.[A==]."), K::InvalidValue);
        assert_eq!(kind_of(r#"Device.X.[A=="x]."#), K::UnterminatedString);
        assert_eq!(kind_of("Device.X.[A==1"), K::UnterminatedExpression);
        assert_eq!(kind_of("Device.X.[A==1&&"), K::UnterminatedExpression);
        assert_eq!(kind_of("Device.X.[A==1||B==2]."), K::UnexpectedChar('|'));
        assert_eq!(kind_of("Device.X.[A.*.B==1]."), K::UnexpectedChar('*'));
        assert_eq!(kind_of("Device.X.[A+==1]."), K::DanglingReference);
        assert_eq!(
            kind_of(r#"Device.IP.Interface.{Type=="Normal"}.Status"#),
            K::UnexpectedChar('{')
        );
        assert_eq!(kind_of("Device.X.{i}."), K::PlaceholderNotAllowed);
        assert_eq!(kind_of("Device.Reboot()x"), K::UnexpectedChar('x'));
        assert_eq!(kind_of("Device.Reboot(1)"), K::UnexpectedChar('1'));
        assert_eq!(kind_of("Device.Boot!."), K::UnexpectedChar('.'));
        assert_eq!(kind_of("Reboot()"), K::UnexpectedEnd);
        assert_eq!(kind_of("Device.Wi Fi"), K::UnexpectedChar(' '));
        assert_eq!(kind_of("Device.Wé"), K::UnexpectedChar('é'));
        assert_eq!(kind_of("Device.-X"), K::UnexpectedChar('-'));
        assert_eq!(kind_of("Device.X.1a."), K::UnexpectedChar('a'));
        for input in ["Device..X", "Device.X.[]."] {
            match Path::parse(input) {
                Err(e) => assert_eq!(e.usp_code(), ErrorCode::InvalidPathSyntax),
                Ok(p) => panic!("{p} parsed"),
            }
        }
    }

    #[test]
    fn error_reports_offset() {
        match Path::parse("Device.X..Y") {
            Err(UspError::Path { offset, path, .. }) => {
                assert_eq!(offset, 9);
                assert_eq!(path, "Device.X..Y");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn vendor_names_with_hyphens() {
        round_trip("Device.X_ACME-COM_Feature.Enable");
    }

    #[test]
    fn supported_and_concrete_flavours() {
        let p = Path::parse_supported("Device.WiFi.SSID.{i}.Stats.").unwrap();
        assert_eq!(p.to_string(), "Device.WiFi.SSID.{i}.Stats.");
        assert_eq!(p.segments()[3], Segment::Placeholder);
        assert!(Path::parse_supported("Device.WiFi.SSID.1.SSID").is_ok());
        assert!(Path::parse_supported("Device.WiFi.SSID.{i}.Reset()").is_ok());
        for bad in ["Device.WiFi.SSID.*.", "Device.X.[A==1].", "Device.A+.B"] {
            assert!(matches!(
                Path::parse_supported(bad),
                Err(UspError::Path { kind: PathErrorKind::SearchNotAllowed, .. })
            ));
            assert!(matches!(
                Path::parse_concrete(bad),
                Err(UspError::Path { kind: PathErrorKind::SearchNotAllowed, .. })
            ));
        }
        assert!(matches!(
            Path::parse_concrete("Device.X.{i}."),
            Err(UspError::Path { kind: PathErrorKind::PlaceholderNotAllowed, .. })
        ));
        let p = Path::parse(r#"Device.WiFi.SSID.[Name=="x"].AP.*.Ref+.Y"#).unwrap();
        assert_eq!(p.to_supported().to_string(), "Device.WiFi.SSID.{i}.AP.{i}.Ref.Y");
    }

    #[test]
    fn kind_and_root_checks_are_7026() {
        let p = Path::parse("Device.WiFi.SSID.1.SSID").unwrap();
        assert!(p.expect_kind(&[PathKind::Parameter]).is_ok());
        let err = p.expect_kind(&[PathKind::Object]).unwrap_err();
        assert_eq!(err.usp_code(), ErrorCode::InvalidPath);
        assert!(p.expect_root("Device").is_ok());
        let err =
            Path::parse("InternetGatewayDevice.X").unwrap().expect_root("Device").unwrap_err();
        assert_eq!(err.usp_code(), ErrorCode::InvalidPath);
        assert!(err.to_string().contains("Device."), "{err}");
    }

    fn path_of_len(len: usize) -> String {
        let mut s = String::from("Device.");
        while len - s.len() > MAX_NAME_BYTES {
            s.push_str(&"A".repeat(250));
            s.push('.');
        }
        let rest = len - s.len();
        s.push_str(&"P".repeat(rest));
        s
    }

    #[test]
    fn path_length_limit() {
        let at = path_of_len(MAX_PATH_BYTES);
        assert_eq!(at.len(), MAX_PATH_BYTES);
        assert!(Path::parse(&at).is_ok());
        let over = path_of_len(MAX_PATH_BYTES + 1);
        assert!(matches!(
            Path::parse(&over),
            Err(UspError::Path { kind: PathErrorKind::TooLong { .. }, .. })
        ));
    }

    #[test]
    fn segment_limit() {
        let at = format!("{}P", "A.".repeat(MAX_PATH_SEGMENTS - 1));
        assert_eq!(Path::parse(&at).unwrap().segments().len(), MAX_PATH_SEGMENTS);
        let at_object = "A.".repeat(MAX_PATH_SEGMENTS);
        assert!(Path::parse(&at_object).is_ok());
        let over = format!("{}P", "A.".repeat(MAX_PATH_SEGMENTS));
        assert!(matches!(
            Path::parse(&over),
            Err(UspError::Path { kind: PathErrorKind::TooManySegments { .. }, .. })
        ));
    }

    #[test]
    fn expression_count_limit() {
        let build = |n: usize| format!("Device{}.P", ".T.[A==1]".repeat(n));
        assert!(Path::parse(&build(MAX_PATH_EXPRESSIONS)).is_ok());
        assert!(matches!(
            Path::parse(&build(MAX_PATH_EXPRESSIONS + 1)),
            Err(UspError::Path { kind: PathErrorKind::TooManyExpressions { .. }, .. })
        ));
    }

    #[test]
    fn expression_component_limit() {
        let build = |n: usize| format!("Device.T.[{}].P", vec!["A==1"; n].join("&&"));
        assert!(Path::parse(&build(MAX_EXPRESSION_COMPONENTS)).is_ok());
        assert!(matches!(
            Path::parse(&build(MAX_EXPRESSION_COMPONENTS + 1)),
            Err(UspError::Path { kind: PathErrorKind::TooManyComponents { .. }, .. })
        ));
    }

    #[test]
    fn name_length_limit() {
        let at = format!("Device.{}", "N".repeat(MAX_NAME_BYTES));
        assert!(Path::parse(&at).is_ok());
        let over = format!("Device.{}", "N".repeat(MAX_NAME_BYTES + 1));
        assert!(matches!(
            Path::parse(&over),
            Err(UspError::Path { kind: PathErrorKind::NameTooLong { .. }, .. })
        ));
    }

    #[test]
    fn matcher_exact_and_subtree() {
        let p = Path::parse("Device.WiFi.SSID.*.SSID").unwrap();
        assert!(p.matches("Device.WiFi.SSID.3.SSID", MatchMode::Exact).unwrap());
        assert!(!p.matches("Device.WiFi.SSID.3.Enable", MatchMode::Exact).unwrap());
        assert!(!p.matches("Device.WiFi.SSID.3.", MatchMode::Exact).unwrap());

        let p = Path::parse("Device.WiFi.SSID.2.").unwrap();
        assert!(p.matches("Device.WiFi.SSID.2.", MatchMode::Exact).unwrap());
        assert!(!p.matches("Device.WiFi.SSID.2.SSID", MatchMode::Exact).unwrap());
        assert!(p.matches("Device.WiFi.SSID.2.SSID", MatchMode::Subtree).unwrap());
        assert!(p.matches("Device.WiFi.SSID.2.Stats.BytesSent", MatchMode::Subtree).unwrap());
        assert!(p.matches("Device.WiFi.SSID.2.", MatchMode::Subtree).unwrap());
        assert!(!p.matches("Device.WiFi.SSID.3.SSID", MatchMode::Subtree).unwrap());
        assert!(!p.matches("Device.WiFi.", MatchMode::Subtree).unwrap());

        let p = Path::parse_supported("Device.WiFi.SSID.{i}.SSID").unwrap();
        assert!(p.matches("Device.WiFi.SSID.7.SSID", MatchMode::Exact).unwrap());

        let p = Path::parse("Device.Boot!").unwrap();
        assert!(p.matches("Device.Boot!", MatchMode::Exact).unwrap());
        assert!(!p.matches("Device.Boot", MatchMode::Exact).unwrap());

        assert!(matches!(
            Path::parse("Device.WiFi.").unwrap().matches("Device.WiFi.*.", MatchMode::Exact),
            Err(UspError::Path { .. })
        ));
        assert!(matches!(
            Path::parse("Device.A+.B").unwrap().matches("Device.A.B", MatchMode::Exact),
            Err(UspError::NeedsData(_))
        ));
        assert!(matches!(
            Path::parse("Device.T.[A==1].B").unwrap().matches("Device.T.1.B", MatchMode::Exact),
            Err(UspError::NeedsData(_))
        ));
    }

    #[test]
    fn matcher_with_search_expressions() {
        let data = |inst: &str, param: &RelPath| -> Option<String> {
            let key = format!("{inst}{param}");
            let v = match key.as_str() {
                "Device.WiFi.SSID.1.Enable" => "true",
                "Device.WiFi.SSID.1.Name" => "guest",
                "Device.WiFi.SSID.1.Stats.ErrorsSent" => "0",
                "Device.WiFi.SSID.2.Enable" => "1",
                "Device.WiFi.SSID.2.Name" => "main \"5G\"",
                "Device.WiFi.SSID.2.Stats.ErrorsSent" => "12",
                "Device.WiFi.SSID.2.Standards" => "a,n, ac",
                _ => return None,
            };
            Some(v.to_owned())
        };
        let m = |pattern: &str, concrete: &str| {
            Path::parse(pattern).unwrap().matches_with(concrete, MatchMode::Exact, data).unwrap()
        };
        assert!(m(r#"Device.WiFi.SSID.[Name=="guest"].Enable"#, "Device.WiFi.SSID.1.Enable"));
        assert!(!m(r#"Device.WiFi.SSID.[Name=="guest"].Enable"#, "Device.WiFi.SSID.2.Enable"));
        assert!(m(r#"Device.WiFi.SSID.[Name=="main %225G%22"].X"#, "Device.WiFi.SSID.2.X"));
        assert!(m("Device.WiFi.SSID.[Enable==true].X", "Device.WiFi.SSID.2.X"));
        assert!(m("Device.WiFi.SSID.[Enable==1].X", "Device.WiFi.SSID.1.X"));
        assert!(m("Device.WiFi.SSID.[Stats.ErrorsSent>0].X", "Device.WiFi.SSID.2.X"));
        assert!(!m("Device.WiFi.SSID.[Stats.ErrorsSent>0].X", "Device.WiFi.SSID.1.X"));
        assert!(m(
            "Device.WiFi.SSID.[Stats.ErrorsSent<=0&&Enable==true].X",
            "Device.WiFi.SSID.1.X"
        ));
        assert!(m(r#"Device.WiFi.SSID.[Standards~="ac"].X"#, "Device.WiFi.SSID.2.X"));
        assert!(!m(r#"Device.WiFi.SSID.[Standards~="g"].X"#, "Device.WiFi.SSID.2.X"));
        assert!(m(r#"Device.WiFi.SSID.[Name!="guest"].X"#, "Device.WiFi.SSID.2.X"));
        // A parameter the instance does not have never matches, whatever the operator.
        assert!(!m(r#"Device.WiFi.SSID.[Missing!="x"].X"#, "Device.WiFi.SSID.2.X"));
        // Ordering operators do not apply to strings.
        assert!(!m(r#"Device.WiFi.SSID.[Name>"a"].X"#, "Device.WiFi.SSID.2.X"));
    }

    #[test]
    fn condition_value_semantics() {
        let cond = |s: &str| {
            let p = Path::parse(&format!("Device.T.[{s}].P")).unwrap();
            let Segment::Expression(e) = &p.segments()[2] else { panic!("expression expected") };
            e.conditions[0].clone()
        };
        assert!(cond("A==123").eval(Some("+123")));
        assert!(cond("A==123").eval(Some("0123")));
        assert!(cond("A==1.50").eval(Some("1.5")));
        assert!(cond("A==true").eval(Some("1")));
        assert!(!cond("A==true").eval(Some("false")));
        assert!(cond(r#"A=="1""#).eval(Some("1")));
        assert!(!cond(r#"A=="01""#).eval(Some("1")));
        assert!(cond("A<2021-06-06T08:00:00Z").eval(Some("2021-01-01T00:00:00Z")));
        assert!(!cond("A>2021-06-06T08:00:00Z").eval(Some("2021-01-01T00:00:00Z")));
        assert!(cond("A>=-5").eval(Some("-5")));
        assert!(cond("A~=5").eval(Some("1,5,10")));
        assert!(!cond("A~=5").eval(Some("15,50")));
        assert!(!cond("A==1").eval(None));
    }
}
