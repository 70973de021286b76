//! JSON input for [`super::import`]: `doveadm -f json director status|map`
//! output and doveadm HTTP API responses (spec §7, §8.1), auto-detected by
//! [`is_json`] (the first non-blank character is `[` or `{`).
//!
//! Accepted documents:
//! * what `doveadm -f json` prints: one array of objects keyed like the
//!   table titles, but `state changed` is `state-changed` (see
//!   [`STATUS_JSON_KEYS`], [`MAP_JSON_KEYS`]). Every value is a string there;
//!   JSON numbers are accepted too;
//! * an HTTP API response, `[["doveadmResponse", [{...}, ...], "tag"]]`. An
//!   `["error", {...}, "tag"]` entry is an error. With several responses in
//!   one file (a batch request), the one whose objects have the keys of the
//!   output asked for is used, so one saved response can feed both
//!   `status_file` and `map_file`;
//! * objects one after another (`jq -c '.[]'` output), or one lone object.
//!
//! Values: `mail server ip` an IP; `tag` a string (missing or `null`: the
//! default tag); `vhosts`, `users`, `hash` non-negative integers, as strings
//! of digits or JSON integers; `state` `up` or `down` (missing: `up`);
//! `state-changed` (also read as `state changed`) is `-`, empty, `null` or
//! missing for "never", a date `YYYY-MM-DD HH:MM:SS`, or unix seconds (a
//! number or a string of digits; 0 or less means never, as doveadm prints
//! `-` for those); `expire time` a date or unix seconds; `user` a name, or
//! `<unknown>` for a record no name matches. Dates are read as UTC, like
//! the table's. Keys that are not listed are ignored.
//!
//! Errors name the file and the JSON line and column: of the syntax error,
//! or of the bad value (or of its object, for a missing key), with the path
//! to it, e.g. `status.json:1:245: [3]."vhosts": "x" is not a number
//! (expected a vhost count)`. Rows are reported on the line their object
//! starts on. Parsing streams: rows are converted as they are read, so a
//! large map costs about what its rows do, not a JSON tree.

use std::cell::RefCell;
use std::fmt;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::error::{ScenarioError, line_col};
use super::import::{MapRow, StatusRow};
use crate::director::format::{MAP_JSON_KEYS, STATUS_JSON_KEYS, parse_unixdate};
use crate::director::ip::HostIp;

/// Whether `text` looks like JSON: its first non-blank character is `[` or `{`.
pub fn is_json(text: &str) -> bool {
    matches!(text.trim_start().chars().next(), Some('[' | '{'))
}

/// [`super::import::parse_status`] for JSON, each row with its 1-based line.
pub(crate) fn parse_status_lines(text: &str, file: &Path) -> Result<Vec<(usize, StatusRow)>, ScenarioError> {
    parse(text, file, &STATUS, status_row)
}

/// [`super::import::parse_map`] for JSON, each row with its 1-based line.
pub(crate) fn parse_map_lines(text: &str, file: &Path) -> Result<Vec<(usize, MapRow)>, ScenarioError> {
    parse(text, file, &MAP, map_row)
}

/// What one kind of output looks like.
struct Kind {
    /// `doveadm director status`, for messages.
    what: &'static str,
    /// The keys doveadm prints, in order.
    keys: &'static [&'static str],
}

const STATUS: Kind = Kind {
    what: "doveadm director status",
    keys: &STATUS_JSON_KEYS,
};

const MAP: Kind = Kind {
    what: "doveadm director map",
    keys: &MAP_JSON_KEYS,
};

/// One step of a path into the document.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    Index(usize),
    Key(String),
}

/// A path as `[0][1][3]."vhosts"`.
struct PathDisplay<'a>(&'a [Seg]);

impl fmt::Display for PathDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in self.0 {
            match s {
                Seg::Index(i) => write!(f, "[{i}]")?,
                Seg::Key(k) => write!(f, ".{}", quote(k))?,
            }
        }
        Ok(())
    }
}

/// `s` as a JSON string, for messages.
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// A problem found in a well-formed document, located by its path.
#[derive(Debug)]
struct Problem {
    path: Vec<Seg>,
    message: String,
    /// A required key is missing (the object may be of another kind).
    missing_key: bool,
}

impl Problem {
    fn new(path: Vec<Seg>, message: impl Into<String>) -> Self {
        Problem {
            path,
            message: message.into(),
            missing_key: false,
        }
    }
}

/// A JSON value as read, without nesting.
#[derive(Clone, Debug)]
enum Scalar {
    Str(String),
    UInt(u64),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    Array,
    Object,
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Str(s) => f.write_str(&quote(s)),
            Scalar::UInt(n) => write!(f, "{n}"),
            Scalar::Int(n) => write!(f, "{n}"),
            Scalar::Float(x) => write!(f, "{x}"),
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Null => f.write_str("null"),
            Scalar::Array => f.write_str("an array"),
            Scalar::Object => f.write_str("an object"),
        }
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar::UInt(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Object)
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

/// A flat object: its keys in order with their values (nested values are
/// kept as [`Scalar::Array`] / [`Scalar::Object`]). `dup` is the first key
/// given twice.
#[derive(Debug, Default)]
struct Object {
    fields: Vec<(String, Scalar)>,
    dup: Option<String>,
}

impl Object {
    fn get(&self, key: &str) -> Option<&Scalar> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn read<'de, A: MapAccess<'de>>(mut map: A) -> Result<Object, A::Error> {
        let mut o = Object::default();
        while let Some(k) = map.next_key::<String>()? {
            let v = map.next_value::<Scalar>()?;
            if o.dup.is_none() && o.get(&k).is_some() {
                o.dup = Some(k.clone());
            }
            o.fields.push((k, v));
        }
        Ok(o)
    }
}

/// An array element that should be an object (a row).
enum Elem {
    Obj(Object),
    Other(Scalar),
}

impl<'de> Deserialize<'de> for Elem {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Elem;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Elem, A::Error> {
                Ok(Elem::Obj(Object::read(map)?))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Elem, A::Error> {
                ScalarVisitor.visit_seq(seq).map(Elem::Other)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Elem, E> {
                Ok(Elem::Other(Scalar::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Elem, E> {
                Ok(Elem::Other(Scalar::Int(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Elem, E> {
                Ok(Elem::Other(Scalar::UInt(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Elem, E> {
                Ok(Elem::Other(Scalar::Float(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Elem, E> {
                Ok(Elem::Other(Scalar::Str(v.to_string())))
            }
            fn visit_unit<E>(self) -> Result<Elem, E> {
                Ok(Elem::Other(Scalar::Null))
            }
        }
        d.deserialize_any(V)
    }
}

/// Turns an object at a path into a row.
type Convert<R> = fn(&Object, &[Seg], &Kind) -> Result<R, Problem>;

/// State shared by the seeds: the row converter and the first problem,
/// which aborts deserialization (serde's own error is then ignored).
struct Ctx<'k, R> {
    kind: &'k Kind,
    convert: Convert<R>,
    problem: RefCell<Option<Problem>>,
}

impl<R> Ctx<'_, R> {
    fn abort<E: de::Error>(&self, p: Problem) -> E {
        *self.problem.borrow_mut() = Some(p);
        E::custom("dirsim: invalid value")
    }

    /// Converts an element at `path`; `Err` aborts with a [`Problem`].
    fn row(&self, elem: Elem, path: Vec<Seg>) -> Result<R, Problem> {
        match elem {
            Elem::Obj(o) => {
                if let Some(k) = &o.dup {
                    return Err(Problem::new(path, format!("the key {} is given twice", quote(k))));
                }
                (self.convert)(&o, &path, self.kind)
            }
            Elem::Other(v) => Err(Problem::new(
                path,
                format!(
                    "expected an object (one row of {} output), found {v}",
                    self.kind.what
                ),
            )),
        }
    }
}

/// What one entry of an HTTP API response holds.
enum Entry<R> {
    /// `["doveadmResponse", [rows], tag]`; `foreign`: its first object is
    /// not of the kind asked for (the problem is kept, rows are skipped).
    Response {
        rows: Vec<R>,
        foreign: Option<Problem>,
        tag: Option<String>,
    },
    /// `["error", {...}, tag]`.
    Error { detail: String, tag: Option<String> },
}

/// A top-level array element: a row, or an HTTP API response entry.
enum Item<R> {
    Row(R),
    Entry(Entry<R>),
}

/// The whole document as read.
enum Doc<R> {
    /// An array of rows, objects one after another, or one object.
    Rows(Vec<R>),
    /// An HTTP API response.
    Envelope(Vec<Entry<R>>),
}

struct TopSeed<'c, 'k, R>(&'c Ctx<'k, R>);

impl<'de, R> DeserializeSeed<'de> for TopSeed<'_, '_, R> {
    type Value = Doc<R>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Doc<R>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, R> Visitor<'de> for TopSeed<'_, '_, R> {
    type Value = Doc<R>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Doc<R>, A::Error> {
        let ctx = self.0;
        let mut rows = Vec::new();
        let mut entries = Vec::new();
        let mut index = 0;
        while let Some(item) = seq.next_element_seed(ItemSeed { ctx, index })? {
            let mixed = match item {
                Item::Row(r) => {
                    rows.push(r);
                    !entries.is_empty()
                }
                Item::Entry(e) => {
                    entries.push(e);
                    !rows.is_empty()
                }
            };
            if mixed {
                let msg = "objects (rows) and [\"doveadmResponse\", ...] entries are mixed in one array";
                return Err(ctx.abort(Problem::new(vec![Seg::Index(index)], msg)));
            }
            index += 1;
        }
        Ok(if entries.is_empty() {
            Doc::Rows(rows)
        } else {
            Doc::Envelope(entries)
        })
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Doc<R>, A::Error> {
        // One lone object: one row.
        let ctx = self.0;
        let o = Object::read(map)?;
        match ctx.row(Elem::Obj(o), vec![Seg::Index(0)]) {
            Ok(r) => Ok(Doc::Rows(vec![r])),
            Err(p) => Err(ctx.abort(p)),
        }
    }
}

struct ItemSeed<'c, 'k, R> {
    ctx: &'c Ctx<'k, R>,
    index: usize,
}

impl<'de, R> DeserializeSeed<'de> for ItemSeed<'_, '_, R> {
    type Value = Item<R>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Item<R>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<R> ItemSeed<'_, '_, R> {
    fn other<E: de::Error>(self, v: Scalar) -> Result<Item<R>, E> {
        match self.ctx.row(Elem::Other(v), vec![Seg::Index(self.index)]) {
            Ok(r) => Ok(Item::Row(r)),
            Err(p) => Err(self.ctx.abort(p)),
        }
    }
}

impl<'de, R> Visitor<'de> for ItemSeed<'_, '_, R> {
    type Value = Item<R>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object or a response entry")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Item<R>, A::Error> {
        let o = Object::read(map)?;
        match self.ctx.row(Elem::Obj(o), vec![Seg::Index(self.index)]) {
            Ok(r) => Ok(Item::Row(r)),
            Err(p) => Err(self.ctx.abort(p)),
        }
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Item<R>, A::Error> {
        let ctx = self.ctx;
        let at = |i: usize| vec![Seg::Index(self.index), Seg::Index(i)];
        let entry_hint = "expected a doveadm HTTP API response entry: [\"doveadmResponse\", [...], \"tag\"]";
        let kind = match seq.next_element::<Scalar>()? {
            Some(Scalar::Str(s)) => s,
            Some(v) => {
                let msg = format!("found {v}: {entry_hint}");
                return Err(ctx.abort(Problem::new(at(0), msg)));
            }
            None => {
                let msg = format!("empty array: {entry_hint}");
                return Err(ctx.abort(Problem::new(vec![Seg::Index(self.index)], msg)));
            }
        };
        let entry = match kind.as_str() {
            "doveadmResponse" => {
                let seed = RowsSeed { ctx, path: at(1) };
                let Some((rows, foreign)) = seq.next_element_seed(seed)? else {
                    let msg = "the doveadmResponse entry has no result array";
                    return Err(ctx.abort(Problem::new(vec![Seg::Index(self.index)], msg)));
                };
                Entry::Response {
                    rows,
                    foreign,
                    tag: tag(seq.next_element::<Scalar>()?),
                }
            }
            "error" => {
                let detail = seq
                    .next_element::<serde_json::Value>()?
                    .map(|v| error_detail(&v))
                    .unwrap_or_else(|| "no details".to_string());
                Entry::Error {
                    detail,
                    tag: tag(seq.next_element::<Scalar>()?),
                }
            }
            other => {
                let msg = format!(
                    "unknown response kind {}: expected \"doveadmResponse\" or \"error\"",
                    quote(other)
                );
                return Err(ctx.abort(Problem::new(at(0), msg)));
            }
        };
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Item::Entry(entry))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Item<R>, E> {
        self.other(Scalar::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Item<R>, E> {
        self.other(Scalar::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Item<R>, E> {
        self.other(Scalar::UInt(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Item<R>, E> {
        self.other(Scalar::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Item<R>, E> {
        self.other(Scalar::Str(v.to_string()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Item<R>, E> {
        self.other(Scalar::Null)
    }
}

/// The tag of a response entry, if it is a string.
fn tag(v: Option<Scalar>) -> Option<String> {
    match v {
        Some(Scalar::Str(s)) => Some(s),
        _ => None,
    }
}

/// The details of an `["error", {...}, tag]` entry, e.g.
/// `{"type":"exitCode", "exitCode":75}`, with sysexits names.
fn error_detail(v: &serde_json::Value) -> String {
    let mut s = v.to_string();
    if let Some(code) = v.get("exitCode").and_then(serde_json::Value::as_i64) {
        let name = match code {
            64 => "EX_USAGE: bad parameters",
            65 => "EX_DATAERR",
            67 => "EX_NOUSER",
            68 => "EX_NOHOST / not found",
            69 => "EX_UNAVAILABLE",
            73 => "EX_CANTCREAT",
            75 => "EX_TEMPFAIL: temporary failure",
            77 => "EX_NOPERM: permission denied",
            78 => "EX_CONFIG: configuration error",
            _ => "",
        };
        if !name.is_empty() {
            s.push_str(&format!(" (exit code {code} is {name})"));
        }
    }
    s
}

/// The result array of a `doveadmResponse` entry.
struct RowsSeed<'c, 'k, R> {
    ctx: &'c Ctx<'k, R>,
    path: Vec<Seg>,
}

impl<'de, R> DeserializeSeed<'de> for RowsSeed<'_, '_, R> {
    type Value = (Vec<R>, Option<Problem>);
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, R> Visitor<'de> for RowsSeed<'_, '_, R> {
    type Value = (Vec<R>, Option<Problem>);
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut rows = Vec::new();
        let mut i = 0;
        while let Some(elem) = seq.next_element::<Elem>()? {
            let mut path = self.path.clone();
            path.push(Seg::Index(i));
            match self.ctx.row(elem, path) {
                Ok(r) => rows.push(r),
                // Another command's result: keep the reason, skip the rest.
                Err(p) if i == 0 && p.missing_key => {
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    return Ok((rows, Some(p)));
                }
                Err(p) => return Err(self.ctx.abort(p)),
            }
            i += 1;
        }
        Ok((rows, None))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Err(self.not_array(Scalar::Object))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Err(self.not_array(Scalar::Str(v.to_string())))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Err(self.not_array(Scalar::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Err(self.not_array(Scalar::Int(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Err(self.not_array(Scalar::UInt(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Err(self.not_array(Scalar::Float(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(self.not_array(Scalar::Null))
    }
}

impl<R> RowsSeed<'_, '_, R> {
    fn not_array<E: de::Error>(&self, v: Scalar) -> E {
        let msg = format!(
            "expected the result array of {} objects, found {v}",
            self.ctx.kind.what
        );
        self.ctx.abort(Problem::new(self.path.clone(), msg))
    }
}

/// Parses a JSON document into rows with their lines.
fn parse<R>(
    text: &str,
    file: &Path,
    kind: &Kind,
    convert: Convert<R>,
) -> Result<Vec<(usize, R)>, ScenarioError> {
    let ctx = Ctx {
        kind,
        convert,
        problem: RefCell::new(None),
    };
    let located = |p: Problem| {
        let mut at = Vec::with_capacity(p.path.len() + 1);
        // Our paths leave out which top-level value (always the first in
        // an array document; the object's index for objects in a row).
        if !stream_of_objects(text) {
            at.push(Seg::Index(0));
        }
        at.extend(p.path.iter().cloned());
        let field = PathDisplay(&p.path).to_string();
        let e = match locate(text, &at) {
            Some(off) => {
                let (line, col) = line_col(text, off);
                ScenarioError::at_line(file, line, Some(col), p.message)
            }
            None => ScenarioError::in_file(file, p.message),
        };
        if field.is_empty() { e } else { e.with_field(field) }
    };
    let doc = if stream_of_objects(text) {
        let mut rows = Vec::new();
        for (i, elem) in serde_json::Deserializer::from_str(text)
            .into_iter::<Elem>()
            .enumerate()
        {
            let elem = elem.map_err(|e| syntax_error(text, file, kind, &e))?;
            if let Elem::Other(v) = &elem {
                // `{...} [...]`: objects must stay objects.
                let msg = format!("found {v} after a JSON object: expected objects one after another");
                return Err(located(Problem::new(vec![Seg::Index(i)], msg)));
            }
            rows.push(ctx.row(elem, vec![Seg::Index(i)]).map_err(located)?);
        }
        Doc::Rows(rows)
    } else {
        let mut de = serde_json::Deserializer::from_str(text);
        let r = TopSeed(&ctx)
            .deserialize(&mut de)
            .and_then(|d| de.end().map(|()| d));
        match (r, ctx.problem.borrow_mut().take()) {
            (_, Some(p)) => return Err(located(p)),
            (Err(e), None) => return Err(syntax_error(text, file, kind, &e)),
            (Ok(d), None) => d,
        }
    };
    let (rows, prefix) = match doc {
        Doc::Rows(rows) if stream_of_objects(text) => (rows, vec![]),
        Doc::Rows(rows) => (rows, vec![0]),
        Doc::Envelope(entries) => {
            let (k, rows) = pick_response(entries, kind).map_err(located)?;
            (rows, vec![0, k, 1])
        }
    };
    let offsets = element_offsets(text, &prefix);
    let mut lines = Vec::with_capacity(rows.len());
    let (mut line, mut from) = (1, 0);
    for (i, r) in rows.into_iter().enumerate() {
        if let Some(&off) = offsets.get(i).filter(|&&o| o >= from) {
            line += text.as_bytes()[from..off].iter().filter(|&&b| b == b'\n').count();
            from = off;
        }
        lines.push((line, r));
    }
    Ok(lines)
}

/// Whether the document is objects one after another (or one object)
/// rather than one array.
fn stream_of_objects(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

/// Chooses the response entry of `kind` in an HTTP API response: its index
/// in the top-level array and its rows.
fn pick_response<R>(entries: Vec<Entry<R>>, kind: &Kind) -> Result<(usize, Vec<R>), Problem> {
    let n = entries.len();
    let mut ours = Vec::new();
    let mut foreign = Vec::new();
    for (k, e) in entries.into_iter().enumerate() {
        match e {
            Entry::Error { detail, tag } => {
                let tag = tag
                    .map(|t| format!(" for the command tagged {}", quote(&t)))
                    .unwrap_or_default();
                let msg = format!(
                    "the doveadm HTTP API answered with an error{tag}: {detail}; the response holds no {} \
                     output to import",
                    kind.what
                );
                return Err(Problem::new(vec![Seg::Index(k)], msg));
            }
            Entry::Response {
                rows,
                foreign: None,
                tag,
            } => ours.push((k, rows, tag)),
            Entry::Response { foreign: Some(p), .. } => foreign.push(p),
        }
    }
    if n == 1
        && let Some(p) = foreign.pop()
    {
        return Err(p);
    }
    // Several commands: empty results fit any kind, so prefer non-empty ones.
    let nonempty: Vec<usize> = (0..ours.len()).filter(|&i| !ours[i].1.is_empty()).collect();
    let pick = match nonempty.as_slice() {
        [i] => *i,
        [] if !ours.is_empty() => 0,
        [] => {
            let p = foreign.into_iter().next().map(|p| p.message).unwrap_or_default();
            let msg = format!(
                "none of the {n} responses is {} output (the first one: {p})",
                kind.what
            );
            return Err(Problem::new(vec![], msg));
        }
        _ => {
            let tags: Vec<String> = nonempty
                .iter()
                .map(|&i| ours[i].2.as_deref().map_or("(no tag)".to_string(), quote))
                .collect();
            let msg = format!(
                "{} responses look like {} output (tags {}): expected one; save one command's response",
                nonempty.len(),
                kind.what,
                tags.join(", ")
            );
            return Err(Problem::new(vec![], msg));
        }
    };
    let (k, rows, _) = ours.swap_remove(pick);
    Ok((k, rows))
}

/// serde_json's syntax error as a [`ScenarioError`] at its line and column
/// (columns counted in characters).
fn syntax_error(text: &str, file: &Path, kind: &Kind, e: &serde_json::Error) -> ScenarioError {
    let (line, byte_col) = (e.line(), e.column());
    let full = e.to_string();
    let what = full
        .strip_suffix(&format!(" at line {line} column {byte_col}"))
        .unwrap_or(&full);
    let msg = match e.classify() {
        serde_json::error::Category::Eof => {
            format!("truncated JSON ({what}): expected {} output", kind.what)
        }
        _ => format!("invalid JSON: {what}: expected {} output", kind.what),
    };
    if line == 0 {
        return ScenarioError::in_file(file, msg);
    }
    // The byte column to a character column.
    let col = text.lines().nth(line - 1).map_or(byte_col, |l| {
        let mut b = byte_col.min(l.len());
        while !l.is_char_boundary(b) {
            b -= 1;
        }
        l[..b].chars().count().max(1)
    });
    ScenarioError::at_line(file, line, Some(col), msg)
}

// --- Converting objects to rows -------------------------------------------

/// The value of `key`, or a missing-key problem.
fn required<'o>(o: &'o Object, path: &[Seg], kind: &Kind, key: &str) -> Result<&'o Scalar, Problem> {
    o.get(key).ok_or_else(|| {
        let has: Vec<String> = o.fields.iter().take(8).map(|(k, _)| quote(k)).collect();
        let keys: Vec<String> = kind.keys.iter().map(|k| quote(k)).collect();
        let msg = format!(
            "missing key {}: expected {} output, whose objects have the keys {} (this one has {})",
            quote(key),
            kind.what,
            keys.join(", "),
            if has.is_empty() {
                "none".to_string()
            } else {
                has.join(", ")
            }
        );
        Problem {
            missing_key: true,
            ..Problem::new(path.to_vec(), msg)
        }
    })
}

/// A problem about the value of `key`.
fn bad(path: &[Seg], key: &str, msg: String) -> Problem {
    let mut p = path.to_vec();
    p.push(Seg::Key(key.to_string()));
    Problem::new(p, msg)
}

/// A string value, or what was found instead.
fn string<'v>(v: &'v Scalar, path: &[Seg], key: &str, expected: &str) -> Result<&'v str, Problem> {
    match v {
        Scalar::Str(s) => Ok(s),
        v => Err(bad(
            path,
            key,
            format!("expected a string ({expected}), found {v}"),
        )),
    }
}

fn ip(o: &Object, path: &[Seg], kind: &Kind) -> Result<HostIp, Problem> {
    let key = "mail server ip";
    let s = string(required(o, path, kind, key)?, path, key, "an IP address")?;
    HostIp::parse(s).map_err(|_| bad(path, key, format!("{} is not an IP address", quote(s))))
}

/// A non-negative integer: a JSON integer or a string of digits.
fn uint(v: &Scalar, path: &[Seg], key: &str, expected: &str, max: u64) -> Result<u64, Problem> {
    let out_of_range = |shown: String| {
        let msg = format!("{shown} is out of range (expected {expected}, at most {max})");
        Err(bad(path, key, msg))
    };
    match v {
        Scalar::UInt(n) if *n <= max => Ok(*n),
        Scalar::UInt(n) => out_of_range(n.to_string()),
        Scalar::Int(n) => Err(bad(path, key, format!("{n} is negative (expected {expected})"))),
        Scalar::Str(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => match s.parse::<u64>() {
            Ok(n) if n <= max => Ok(n),
            _ => out_of_range(quote(s)),
        },
        Scalar::Str(s) => Err(bad(
            path,
            key,
            format!("{} is not a number (expected {expected})", quote(s)),
        )),
        Scalar::Float(x) => Err(bad(
            path,
            key,
            format!("{x} is not an integer (expected {expected})"),
        )),
        v => Err(bad(
            path,
            key,
            format!("expected {expected} (a number or a string of digits), found {v}"),
        )),
    }
}

fn u32_of(o: &Object, path: &[Seg], kind: &Kind, key: &str, expected: &str) -> Result<u32, Problem> {
    let v = required(o, path, kind, key)?;
    uint(v, path, key, expected, u64::from(u32::MAX)).map(|n| n as u32)
}

/// Largest accepted unix time: 9999-12-31 23:59:59, the last date that
/// prints as `YYYY-MM-DD HH:MM:SS`.
const MAX_UNIX: i64 = 253_402_300_799;

/// A time: a date `YYYY-MM-DD HH:MM:SS` (UTC) or unix seconds, as a JSON
/// integer or a string of digits (optionally negative).
fn time(v: &Scalar, path: &[Seg], key: &str, expected: &str) -> Result<i64, Problem> {
    let range = |n: i128| -> Result<i64, Problem> {
        if n <= i128::from(MAX_UNIX) {
            Ok(n.max(i128::from(i64::MIN)) as i64)
        } else {
            Err(bad(
                path,
                key,
                format!("{n} is out of range (expected {expected}; unix seconds up to {MAX_UNIX})"),
            ))
        }
    };
    match v {
        Scalar::UInt(n) => range(i128::from(*n)),
        Scalar::Int(n) => range(i128::from(*n)),
        Scalar::Str(s) => {
            if let Some(t) = parse_unixdate(s) {
                return Ok(t);
            }
            let digits = s.strip_prefix('-').unwrap_or(s);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                return match s.parse::<i128>() {
                    Ok(n) => range(n),
                    Err(_) => range(i128::MAX),
                };
            }
            Err(bad(
                path,
                key,
                format!("{} is not a time (expected {expected})", quote(s)),
            ))
        }
        v => Err(bad(path, key, format!("expected {expected}, found {v}"))),
    }
}

fn status_row(o: &Object, path: &[Seg], kind: &Kind) -> Result<StatusRow, Problem> {
    let ip = ip(o, path, kind)?;
    let tag = match o.get("tag") {
        None | Some(Scalar::Null) => String::new(),
        Some(v) => string(v, path, "tag", "the tag, empty for the default one")?.to_string(),
    };
    let vhosts = u32_of(o, path, kind, "vhosts", "a vhost count")?;
    let down = match o.get("state") {
        None => false,
        Some(v) => match string(v, path, "state", "\"up\" or \"down\"")? {
            "up" => false,
            "down" => true,
            s => {
                let msg = format!("{} is not a state (expected \"up\" or \"down\")", quote(s));
                return Err(bad(path, "state", msg));
            }
        },
    };
    let (changed_key, changed) = match (o.get("state-changed"), o.get("state changed")) {
        (Some(v), _) => ("state-changed", Some(v)),
        (None, v) => ("state changed", v),
    };
    let state_changed = match changed {
        None | Some(Scalar::Null) => None,
        Some(Scalar::Str(s)) if s.is_empty() || s == "-" => None,
        Some(v) => {
            let expected = "\"-\", a date \"YYYY-MM-DD HH:MM:SS\" or unix seconds";
            Some(time(v, path, changed_key, expected)?).filter(|&t| t > 0)
        }
    };
    let users = u32_of(o, path, kind, "users", "a user count")?;
    Ok(StatusRow {
        ip,
        tag,
        vhosts,
        down,
        state_changed,
        users,
    })
}

fn map_row(o: &Object, path: &[Seg], kind: &Kind) -> Result<MapRow, Problem> {
    let key = "user";
    let user = match required(o, path, kind, key)? {
        Scalar::Str(s) if s.is_empty() => {
            let msg = "empty user name (expected a name, or <unknown>)".to_string();
            return Err(bad(path, key, msg));
        }
        Scalar::Str(s) => (s != "<unknown>").then(|| s.clone()),
        Scalar::UInt(n) => Some(n.to_string()),
        Scalar::Int(n) => Some(n.to_string()),
        v => {
            let msg = format!("expected a string (a user name, or <unknown>), found {v}");
            return Err(bad(path, key, msg));
        }
    };
    let hash = u32_of(o, path, kind, "hash", "a user hash (0..4294967295)")?;
    let ip = ip(o, path, kind)?;
    let v = required(o, path, kind, "expire time")?;
    let expire_unix = time(
        v,
        path,
        "expire time",
        "a date \"YYYY-MM-DD HH:MM:SS\" or unix seconds",
    )?;
    Ok(MapRow {
        user,
        hash,
        ip,
        expire_unix,
    })
}

// --- Positions --------------------------------------------------------------

/// One step of a walked path: an array index, or an object key as its raw
/// quoted source text (decoded only when compared).
#[derive(Clone, Debug)]
enum Step {
    Index(usize),
    Key(Range<usize>),
}

enum Visit {
    /// Look inside this array or object.
    Enter,
    /// Do not look inside.
    Skip,
    Stop,
}

/// Walks the values of `text` (any number of top-level values, indexed as
/// the first step), calling `visit` with each value's path and byte offset.
/// Stops at the first thing that is not JSON; never panics.
fn walk(text: &str, mut visit: impl FnMut(&[Step], usize) -> Visit) {
    let b = text.as_bytes();
    let mut i = 0;
    let mut path = vec![Step::Index(0)];
    // Open containers: true for objects.
    let mut stack: Vec<bool> = Vec::new();
    'value: loop {
        i = skip_ws(b, i);
        if i >= b.len() {
            return;
        }
        let enter = match visit(&path, i) {
            Visit::Stop => return,
            Visit::Skip => false,
            Visit::Enter => true,
        };
        match (enter, b[i]) {
            (true, open @ (b'[' | b'{')) => {
                let close = if open == b'[' { b']' } else { b'}' };
                i = skip_ws(b, i + 1);
                match b.get(i) {
                    None => return,
                    Some(&c) if c == close => i += 1,
                    Some(_) => {
                        stack.push(open == b'{');
                        if open == b'{' {
                            let Some((key, next)) = read_key(b, i) else { return };
                            i = next;
                            path.push(Step::Key(key));
                        } else {
                            path.push(Step::Index(0));
                        }
                        continue 'value;
                    }
                }
            }
            _ => match skip_value(b, i) {
                Some(next) => i = next,
                None => return,
            },
        }
        // After a value: a separator, a closer, or the next top-level value.
        loop {
            i = skip_ws(b, i);
            let Some(&is_object) = stack.last() else {
                if i >= b.len() {
                    return;
                }
                if let Some(Step::Index(n)) = path.last_mut() {
                    *n += 1;
                }
                continue 'value;
            };
            match b.get(i) {
                Some(b',') if is_object => {
                    let Some((key, next)) = read_key(b, skip_ws(b, i + 1)) else {
                        return;
                    };
                    i = next;
                    if let Some(last) = path.last_mut() {
                        *last = Step::Key(key);
                    }
                    continue 'value;
                }
                Some(b',') => {
                    i += 1;
                    if let Some(Step::Index(n)) = path.last_mut() {
                        *n += 1;
                    }
                    continue 'value;
                }
                Some(b']' | b'}') => {
                    i += 1;
                    stack.pop();
                    path.pop();
                }
                _ => return,
            }
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The end of the string starting at `i` (just past its closing quote).
fn skip_string(b: &[u8], mut i: usize) -> Option<usize> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    i += 1;
    loop {
        match b.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
}

/// `"key" :` at `i`: the key's raw range and where its value starts.
fn read_key(b: &[u8], i: usize) -> Option<(Range<usize>, usize)> {
    let end = skip_string(b, i)?;
    let colon = skip_ws(b, end);
    (b.get(colon) == Some(&b':')).then_some((i..end, colon + 1))
}

/// The end of the value starting at `i`.
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => skip_string(b, i),
        b'[' | b'{' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match b.get(j)? {
                    b'"' => {
                        j = skip_string(b, j)?;
                        continue;
                    }
                    b'[' | b'{' => depth += 1,
                    b']' | b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while let Some(c) = b.get(j) {
                if matches!(
                    c,
                    b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r' | b'"' | b'[' | b'{'
                ) {
                    break;
                }
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

/// Whether walked path `p` equals `target[..p.len()]`.
fn matches_prefix(text: &str, p: &[Step], target: &[Seg]) -> bool {
    p.len() <= target.len()
        && p.iter().zip(target).all(|(s, t)| match (s, t) {
            (Step::Index(a), Seg::Index(b)) => a == b,
            (Step::Key(r), Seg::Key(k)) => text
                .get(r.clone())
                .and_then(|raw| serde_json::from_str::<String>(raw).ok())
                .is_some_and(|raw| raw == *k),
            _ => false,
        })
}

/// The byte offset of the value at `target` (the first step indexes the
/// top-level values).
fn locate(text: &str, target: &[Seg]) -> Option<usize> {
    let mut found = None;
    walk(text, |p, at| {
        if !matches_prefix(text, p, target) {
            Visit::Skip
        } else if p.len() == target.len() {
            found = Some(at);
            Visit::Stop
        } else {
            Visit::Enter
        }
    });
    found
}

/// Byte offsets of the elements of the array at `prefix` (array indices;
/// the first indexes the top-level values; empty: the top-level values).
fn element_offsets(text: &str, prefix: &[usize]) -> Vec<usize> {
    let target: Vec<Seg> = prefix.iter().map(|&i| Seg::Index(i)).collect();
    let mut out = Vec::new();
    walk(text, |p, at| {
        if p.len() == target.len() + 1 && matches_prefix(text, &p[..target.len()], &target) {
            out.push(at);
            Visit::Skip
        } else if matches_prefix(text, p, &target) {
            Visit::Enter
        } else {
            Visit::Skip
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::super::import::{parse_map, parse_status, read_text};
    use super::*;
    use crate::shell::{Session, ShellOptions};

    fn file() -> &'static Path {
        Path::new("status.json")
    }

    /// Runs `dirsim shell` lines, returning what each of `outputs` printed.
    fn shell(setup: &[&str], outputs: &[&str]) -> Vec<String> {
        let mut s = Session::new(ShellOptions::default(), Vec::new(), Vec::new());
        for l in setup {
            s.execute(l).unwrap_or_else(|e| panic!("{l}: {e}"));
        }
        let mut printed = Vec::new();
        for l in outputs {
            let before = s.out().len();
            s.execute(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            printed.push(String::from_utf8(s.out()[before..].to_vec()).unwrap());
        }
        printed
    }

    /// Hosts with a tag, a down host with a state-changed date, an IPv6
    /// host, users logged in at different times (so expire times differ),
    /// names that need escaping, and a record no name matches.
    const SETUP: &[&str] = &[
        "add 10.0.0.1 100",
        "add 10.0.0.2 50",
        "add 10.0.0.3@east 20",
        "add 2001:db8::1234:5678:9abc 10",
        "login alice",
        "wait 1m",
        "login 'q\"uo\\te'",
        "login \"\u{fc}n\u{ef}\"",
        "login 3 4",
        "logout 3 4",
        "wait 7s",
        "move ghost 10.0.0.1",
        "login bob",
        "wait 5s",
        "down 10.0.0.2",
        "update 10.0.0.1 0",
        "wait 1s",
    ];

    #[test]
    fn round_trip_of_dirsims_status_and_map_in_every_format() {
        let out = shell(
            SETUP,
            &[
                "status",
                "-f tab status",
                "-f json status",
                "map",
                "-f tab map",
                "-f json map",
            ],
        );
        let status: Vec<Vec<StatusRow>> = out[..3]
            .iter()
            .map(|t| parse_status(t, file()).unwrap())
            .collect();
        assert_eq!(status[0], status[1], "{}\n{}", out[0], out[1]);
        assert_eq!(status[0], status[2], "{}\n{}", out[0], out[2]);
        let ip = |s: &str| HostIp::parse(s).unwrap();
        let down_at = 1_735_689_600 + 60 + 7 + 5;
        let want = [
            ("10.0.0.1", "", 0, false, None),
            ("10.0.0.2", "", 50, true, Some(down_at)),
            ("10.0.0.3", "east", 20, false, None),
            ("2001:db8::1234:5678:9abc", "", 10, false, None),
        ];
        let got: Vec<_> = status[2]
            .iter()
            .map(|r| (r.ip, r.tag.as_str(), r.vhosts, r.down, r.state_changed))
            .collect();
        let want: Vec<_> = want.iter().map(|w| (ip(w.0), w.1, w.2, w.3, w.4)).collect();
        assert_eq!(got, want);
        // alice, q"uo\te, ünï, 3 (logged out), ghost (moved), bob.
        assert_eq!(status[2].iter().map(|r| r.users).sum::<u32>(), 6);

        let map: Vec<Vec<MapRow>> = out[3..].iter().map(|t| parse_map(t, file()).unwrap()).collect();
        assert_eq!(map[0], map[1], "{}\n{}", out[3], out[4]);
        assert_eq!(map[0], map[2], "{}\n{}", out[3], out[5]);
        let rows = &map[2];
        assert_eq!(rows.len(), 6, "{}", out[5]);
        let user = |n: &str| rows.iter().find(|r| r.user.as_deref() == Some(n)).unwrap();
        assert_eq!(user("q\"uo\\te").hash, 2_335_725_651);
        assert_eq!(user("\u{fc}n\u{ef}").hash, 843_163_247);
        assert_eq!(user("alice").hash, 1_669_653_170);
        assert_eq!(rows.iter().filter(|r| r.user.is_none()).count(), 1);
        // Still connected: expires user_expire after the last login.
        assert_eq!(user("alice").expire_unix, 1_735_689_600 + 900);
        assert_eq!(user("bob").expire_unix, 1_735_689_600 + 67 + 900);
        assert_eq!(user("3").expire_unix, 1_735_689_600 + 60 + 900);
        // The escaped name is printed as doveadm escapes it.
        assert!(
            out[5].contains(r#"{"user":"q\"uo\\te","hash":"2335725651","#),
            "{}",
            out[5]
        );
        assert!(!out[5].ends_with('\n'));
    }

    #[test]
    fn http_api_envelopes_and_other_json_shapes() {
        let out = shell(SETUP, &["-f json status", "-f json map"]);
        let (status, map) = (&out[0], &out[1]);
        let want_status = parse_status(status, file()).unwrap();
        let want_map = parse_map(map, file()).unwrap();
        // The doveadm HTTP API response, as the real one is spaced.
        let env = format!("[[\"doveadmResponse\",{status},\"t1\"]]");
        assert_eq!(parse_status(&env, file()).unwrap(), want_status);
        // A batch of two commands: each parser takes its own response.
        let batch = format!("[[\"doveadmResponse\",{status},\"s\"],[\"doveadmResponse\",{map},\"m\"]]");
        assert_eq!(parse_status(&batch, file()).unwrap(), want_status);
        assert_eq!(parse_map(&batch, file()).unwrap(), want_map);
        let with_empty = format!("[[\"doveadmResponse\",[],\"x\"],[\"doveadmResponse\",{map},\"m\"]]");
        assert_eq!(parse_map(&with_empty, file()).unwrap(), want_map);
        assert_eq!(
            parse_status("[[\"doveadmResponse\",[],\"t\"]]", file()).unwrap(),
            vec![]
        );
        assert_eq!(parse_status("[]", file()).unwrap(), vec![]);
        // Pretty-printed, objects one per line, numbers instead of strings.
        let v: serde_json::Value = serde_json::from_str(status).unwrap();
        let pretty = serde_json::to_string_pretty(&v).unwrap();
        assert_eq!(parse_status(&pretty, file()).unwrap(), want_status);
        let lines: Vec<String> = v.as_array().unwrap().iter().map(|o| o.to_string()).collect();
        assert_eq!(parse_status(&lines.join("\n"), file()).unwrap(), want_status);
        let numbers = status
            .replace("\"vhosts\":\"50\"", "\"vhosts\":50")
            .replace("\"users\":\"0\"", "\"users\":0")
            .replace("\"2025-01-01 00:01:12\"", "1735689672");
        assert_ne!(&numbers, status);
        assert_eq!(parse_status(&numbers, file()).unwrap(), want_status);
        // Lines of rows: where each object starts.
        let lined = import_lines(&pretty);
        assert_eq!(lined, vec![2, 10, 18, 26]);
        // state-changed: "-", "", null, missing, 0, a date, unix seconds.
        let row = |changed: &str| {
            let t =
                format!("[{{\"mail server ip\":\"10.0.0.1\",\"vhosts\":\"1\",\"users\":\"2\"{changed}}}]");
            parse_status(&t, file()).unwrap_or_else(|e| panic!("{t}: {e}"))[0].state_changed
        };
        for never in [
            "",
            ",\"state-changed\":\"-\"",
            ",\"state-changed\":\"\"",
            ",\"state-changed\":null",
        ] {
            assert_eq!(row(never), None, "{never}");
        }
        assert_eq!(row(",\"state-changed\":0"), None);
        assert_eq!(row(",\"state-changed\":\"-1\""), None);
        assert_eq!(
            row(",\"state-changed\":\"2024-03-01 12:00:00\""),
            Some(1_709_294_400)
        );
        assert_eq!(
            row(",\"state changed\":\"2024-03-01 12:00:00\""),
            Some(1_709_294_400)
        );
        assert_eq!(row(",\"state-changed\":1709294400"), Some(1_709_294_400));
        assert_eq!(row(",\"state-changed\":\"1709294400\""), Some(1_709_294_400));
        // A map row with unix seconds and a numeric user name.
        let m = parse_map(
            r#"{"user":42,"hash":7,"mail server ip":"::1","expire time":1709294400,"extra":[1]}"#,
            file(),
        )
        .unwrap();
        assert_eq!(
            m,
            vec![MapRow {
                user: Some("42".into()),
                hash: 7,
                ip: HostIp::parse("::1").unwrap(),
                expire_unix: 1_709_294_400
            }]
        );
    }

    fn import_lines(text: &str) -> Vec<usize> {
        parse_status_lines(text, file())
            .unwrap()
            .into_iter()
            .map(|(l, _)| l)
            .collect()
    }

    const ONE: &str = r#"[{"mail server ip":"10.0.0.1","tag":"","vhosts":"100","state":"up","state-changed":"-","users":"1"},
{"mail server ip":"10.0.0.2","tag":"","vhosts":"100","state":"down","state-changed":"2024-03-01 12:00:00","users":"0"}]
"#;

    /// The error `parse_status` gives for `text`.
    fn status_error(text: &str) -> ScenarioError {
        parse_status(text, file()).unwrap_err()
    }

    #[test]
    fn errors_name_the_place_and_the_problem() {
        let check = |e: ScenarioError, line: usize, col: usize, field: Option<&str>, words: &[&str]| {
            assert_eq!(
                (e.line, e.column, e.field.as_deref()),
                (Some(line), Some(col), field),
                "{e}"
            );
            for w in words {
                assert!(e.to_string().contains(w), "{w:?} not in: {e}");
            }
        };
        // Wrong types and bad values, at the value.
        let e = status_error(
            &ONE.replacen("\"vhosts\":\"100\"", "\"vhosts\":\"x\"", 2)
                .replacen("\"vhosts\":\"x\"", "\"vhosts\":\"100\"", 1),
        );
        check(
            e,
            2,
            48,
            Some("[1].\"vhosts\""),
            &[r#"status.json:2:48: [1]."vhosts": "x" is not a number"#],
        );
        let e = status_error(&ONE.replace("\"users\":\"1\"", "\"users\":true"));
        check(
            e,
            1,
            96,
            Some("[0].\"users\""),
            &["expected a user count", "found true"],
        );
        let e = status_error(&ONE.replace("\"users\":\"1\"", "\"users\":-1"));
        check(e, 1, 96, Some("[0].\"users\""), &["-1 is negative"]);
        let e = status_error(&ONE.replace("\"users\":\"1\"", "\"users\":1.5"));
        check(e, 1, 96, Some("[0].\"users\""), &["1.5 is not an integer"]);
        let e = status_error(&ONE.replace("\"users\":\"1\"", "\"users\":\"4294967296\""));
        check(e, 1, 96, Some("[0].\"users\""), &["out of range"]);
        let e = status_error(&ONE.replace("\"10.0.0.2\"", "5"));
        check(
            e,
            2,
            19,
            Some("[1].\"mail server ip\""),
            &["expected a string (an IP address), found 5"],
        );
        let e = status_error(&ONE.replace("\"10.0.0.2\"", "\"10.0.0.x\""));
        check(
            e,
            2,
            19,
            Some("[1].\"mail server ip\""),
            &["\"10.0.0.x\" is not an IP address"],
        );
        let e = status_error(&ONE.replace("\"down\"", "\"sick\""));
        check(
            e,
            2,
            62,
            Some("[1].\"state\""),
            &["\"sick\" is not a state", "up", "down"],
        );
        let e = status_error(&ONE.replace("2024-03-01 12:00:00", "yesterday"));
        check(
            e,
            2,
            85,
            Some("[1].\"state-changed\""),
            &["\"yesterday\" is not a time"],
        );
        let e =
            status_error(&ONE.replace("\"tag\":\"\",\"vhosts\":\"100\",\"state\":\"down\"", "\"tag\":[]"));
        check(e, 2, 36, Some("[1].\"tag\""), &["found an array"]);
        // Missing keys, at the object.
        let e = status_error(&ONE.replace("\"users\":\"0\"", "\"user\":\"0\""));
        check(
            e,
            2,
            1,
            Some("[1]"),
            &["missing key \"users\"", "doveadm director status"],
        );
        let map =
            r#"[{"user":"a","hash":"1","mail server ip":"10.0.0.1","expire time":"2024-03-01 12:00:00"}]"#;
        let e = status_error(map);
        check(
            e,
            1,
            2,
            Some("[0]"),
            &["missing key \"vhosts\"", "this one has \"user\", \"hash\""],
        );
        let e = parse_map(ONE, file()).unwrap_err();
        check(
            e,
            1,
            2,
            Some("[0]"),
            &["missing key \"user\"", "doveadm director map"],
        );
        let e = parse_map(&map.replace("\"1\"", "\"x1\""), file()).unwrap_err();
        check(
            e,
            1,
            21,
            Some("[0].\"hash\""),
            &["\"x1\" is not a number", "user hash"],
        );
        let e = parse_map(&map.replace("\"a\"", "\"\""), file()).unwrap_err();
        check(e, 1, 10, Some("[0].\"user\""), &["empty user name"]);
        let e = parse_map(&map.replace("2024-03-01 12:00:00", "-"), file()).unwrap_err();
        check(e, 1, 67, Some("[0].\"expire time\""), &["\"-\" is not a time"]);
        let e = status_error(&ONE.replace("\"tag\":\"\",", "\"tag\":\"\",\"tag\":\"x\","));
        check(e, 1, 2, Some("[0]"), &["the key \"tag\" is given twice"]);
        // Not rows at all.
        check(
            status_error("[1, 2]"),
            1,
            2,
            Some("[0]"),
            &["expected an object", "found 1"],
        );
        check(status_error("[{}, \"x\"]"), 1, 2, Some("[0]"), &["missing key"]);
        check(
            status_error("{\"mail server ip\":\"10.0.0.1\",\"vhosts\":1,\"users\":1} [1]"),
            1,
            52,
            Some("[1]"),
            &["found an array"],
        );
        // Syntax errors, at serde_json's line and column.
        let e = status_error("[garbage]");
        check(
            e,
            1,
            2,
            None,
            &["invalid JSON", "expected value", "doveadm director status"],
        );
        let e = status_error("{\"mail server ip\":\"10.0.0.1\",\"vhosts\":1,\"users\":1}\n{,");
        check(e, 2, 2, None, &["invalid JSON"]);
        let e = status_error(&ONE[..150]);
        check(e, 2, 49, None, &["truncated JSON", "EOF"]);
        let e = status_error("[{\"vhosts\": \"\u{e9}\u{e9}\" x");
        check(e, 1, 18, None, &["invalid JSON"]);
        let e = status_error("[] []");
        check(e, 1, 4, None, &["trailing characters"]);
    }

    #[test]
    fn envelope_errors() {
        let e = status_error("[[\"error\",{\"type\":\"exitCode\", \"exitCode\":75},\"t3\"]]");
        assert_eq!(
            (e.line, e.column, e.field.as_deref()),
            (Some(1), Some(2), Some("[0]"))
        );
        for w in [
            "HTTP API answered with an error",
            "\"t3\"",
            "exitCode\":75",
            "EX_TEMPFAIL",
        ] {
            assert!(e.message.contains(w), "{w}: {e}");
        }
        let e = status_error("[[\"error\",{\"type\":\"unknownMethod\", \"exitCode\":0},\"t5\"]]");
        assert!(e.message.contains("unknownMethod"), "{e}");
        let e = status_error("[[\"doveadmResponse\",[],\"a\"],\n[\"error\",{},\"b\"]]");
        assert_eq!((e.line, e.column), (Some(2), Some(1)), "{e}");
        let e = status_error("[[\"doveadmReply\",[],\"a\"]]");
        assert_eq!(e.field.as_deref(), Some("[0][0]"), "{e}");
        assert!(
            e.message.contains("unknown response kind \"doveadmReply\""),
            "{e}"
        );
        let e = status_error("[[\"doveadmResponse\",{\"x\":1},\"a\"]]");
        assert_eq!(e.field.as_deref(), Some("[0][1]"), "{e}");
        assert!(e.message.contains("expected the result array"), "{e}");
        let e = status_error("[[\"doveadmResponse\"]]");
        assert!(e.message.contains("no result array"), "{e}");
        let e = status_error("[[]]");
        assert!(e.message.contains("empty array"), "{e}");
        let e = status_error("[[5]]");
        assert!(e.message.contains("response entry"), "{e}");
        let row = r#"{"mail server ip":"10.0.0.1","vhosts":"1","users":"2"}"#;
        let e = status_error(&format!("[{row},[\"doveadmResponse\",[]]]"));
        assert!(e.message.contains("mixed"), "{e}");
        // One response of the wrong kind: its missing key, with its path.
        let m = r#"{"user":"a","hash":"1","mail server ip":"10.0.0.1","expire time":"2024-03-01 12:00:00"}"#;
        let e = status_error(&format!("[[\"doveadmResponse\",[{m}],\"t\"]]"));
        assert_eq!(e.field.as_deref(), Some("[0][1][0]"), "{e}");
        assert!(e.message.contains("missing key \"vhosts\""), "{e}");
        // Several: none fits, or two do.
        let e = status_error(&format!(
            "[[\"doveadmResponse\",[{m}],\"t\"],[\"doveadmResponse\",[{m}],\"u\"]]"
        ));
        assert!(e.message.contains("none of the 2 responses"), "{e}");
        let e = status_error(&format!(
            "[[\"doveadmResponse\",[{row}],\"t\"],[\"doveadmResponse\",[{row}],\"u\"]]"
        ));
        assert!(e.message.contains("2 responses look like"), "{e}");
        assert!(e.message.contains("\"t\", \"u\""), "{e}");
        // A bad value in a response row: the full path.
        let bad = row.replace("\"1\"", "\"one\"");
        let e = status_error(&format!("[[\"doveadmResponse\",[{row},{bad}],\"t\"]]"));
        assert_eq!(e.field.as_deref(), Some("[0][1][1].\"vhosts\""), "{e}");
        assert_eq!((e.line, e.column), (Some(1), Some(115)), "{e}");
    }

    #[test]
    fn read_text_refuses_bytes_that_are_not_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("status.txt");
        std::fs::write(&p, b"mail server ip\tvhosts\tusers\n\xc3\xa9x\xff\t1\t2\n").unwrap();
        let e = read_text(&p).unwrap_err();
        assert_eq!((e.line, e.column), (Some(2), Some(3)), "{e}");
        assert!(
            e.message.contains("not UTF-8") && e.message.contains("0xff at byte offset 31"),
            "{e}"
        );
        std::fs::write(&p, ONE).unwrap();
        assert_eq!(read_text(&p).unwrap(), ONE);
        let e = read_text(&dir.path().join("missing.json")).unwrap_err();
        assert!(e.message.contains("cannot read"), "{e}");
    }

    #[test]
    fn never_panics() {
        let env = format!(
            "[[\"doveadmResponse\",{},\"t\"],[\"error\",{{\"exitCode\":75}},\"u\"]]",
            ONE.trim()
        );
        let map =
            r#"[{"user":"a\"\u00e9","hash":1,"mail server ip":"::1","expire time":"2024-03-01 12:00:00"}]"#;
        let docs = [ONE, env.as_str(), map, "{\"a\":[{\"b\":\"\\\\\"}]}\n{\"c\":1}"];
        let junk = [
            '[', ']', '{', '}', '"', ',', ':', '\\', '0', '-', ' ', 'x', '\u{e9}',
        ];
        for doc in docs {
            for cut in (0..doc.len()).filter(|&c| doc.is_char_boundary(c)) {
                let _ = parse_status(&doc[..cut], file());
                let _ = parse_map(&doc[..cut], file());
                for j in junk {
                    let mut s = doc.to_string();
                    let end = (cut + 1..=doc.len())
                        .find(|&e| doc.is_char_boundary(e))
                        .unwrap_or(cut);
                    s.replace_range(cut..end, &j.to_string());
                    let _ = parse_status(&s, file());
                    let _ = parse_map(&s, file());
                }
            }
        }
        let deep = "[".repeat(100_000);
        assert!(status_error(&deep).message.contains("JSON"));
        let _ = locate(&deep, &vec![Seg::Index(0); 5]);
        let _ = element_offsets("[[[\"\\", &[0, 0]);
    }
}
