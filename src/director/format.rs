//! What `doveadm director status` / `status <user>` / `map` print (spec §7),
//! built on doveadm's own table and tab formatters ([`super::print`]), and
//! the same through doveadm's `json` formatter (`doveadm -f json`, the form
//! the doveadm HTTP API also returns). Times print in UTC (doveadm uses local
//! time; dirsim fixes the zone).
//!
//! The JSON form, byte for byte as Dovecot 2.3.19.1 prints it
//! (`doveadm-print-json.c`, checked against a real director): `[`, then one
//! object per row joined by `,`, then `]`, with no spaces and no trailing
//! newline (`[]` when there are no rows). Keys are the header keys, which
//! differ from the table titles only in `state-changed`; every value is a
//! string, escaped as `json_append_escaped()` does (see [`json_escape`]), e.g.
//!
//! ```text
//! [{"mail server ip":"127.0.0.12","tag":"","vhosts":"100","state":"down","state-changed":"2026-12-04 22:45:24","users":"0"}]
//! ```

use std::io::{self, Write};

use rustc_hash::FxHashMap;
use time::OffsetDateTime;
use time::macros::format_description;

use super::print::{Header, PrintFormat, Printer};
use super::{Director, HostId, UserLookup};

/// `doveadm director dump`: an `add` line per live host (IP order), then a
/// `remove` line for each configured host (`director_mail_servers`) that is
/// gone (spec §4.12).
pub fn dump_lines(d: &Director, configured: &[crate::director::ip::HostIp]) -> Vec<String> {
    let mut lines = Vec::new();
    for &id in d.hosts_in_order() {
        let h = d.host(id);
        let tag = d.tag_name(h.tag());
        let at = if tag.is_empty() {
            String::new()
        } else {
            format!("@{tag}")
        };
        lines.push(format!("doveadm director add {}{at} {}", h.ip_text(), h.vhosts()));
    }
    for ip in configured {
        if d.find_host(*ip).is_none() {
            lines.push(format!("doveadm director remove {ip}"));
        }
    }
    lines
}

/// `unixdate2str()`: `YYYY-MM-DD HH:MM:SS`, here in UTC.
pub fn unixdate(t: i64) -> String {
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    match OffsetDateTime::from_unix_timestamp(t) {
        Ok(dt) => dt.format(&fmt).unwrap_or_else(|_| t.to_string()),
        Err(_) => t.to_string(),
    }
}

/// Parses `YYYY-MM-DD HH:MM:SS` (UTC) back to unix seconds.
pub fn parse_unixdate(s: &str) -> Option<i64> {
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(s.trim(), &fmt)
        .ok()
        .map(|dt| dt.assume_utc().unix_timestamp())
}

/// The keys of `doveadm -f json director status` objects, in print order
/// (the table titles, but `state changed` is keyed `state-changed`).
pub const STATUS_JSON_KEYS: [&str; 6] = [
    "mail server ip",
    "tag",
    "vhosts",
    "state",
    "state-changed",
    "users",
];

/// The keys of `doveadm -f json director map` objects, in print order.
pub const MAP_JSON_KEYS: [&str; 4] = ["user", "hash", "mail server ip", "expire time"];

/// The values of one `status` row, in column order.
fn status_row(d: &Director, id: HostId) -> [String; 6] {
    let h = d.host(id);
    let changed = if h.last_updown_change() <= 0 {
        "-".to_string()
    } else {
        unixdate(h.last_updown_change())
    };
    [
        h.ip_text().to_string(),
        d.tag_name(h.tag()).to_string(),
        h.vhosts().to_string(),
        (if h.is_down() { "down" } else { "up" }).to_string(),
        changed,
        h.user_count().to_string(),
    ]
}

/// `doveadm director status`: one row per live host in IP order.
pub fn write_status<W: Write>(d: &Director, format: PrintFormat, out: W) -> io::Result<W> {
    let headers = [
        "mail server ip",
        "tag",
        "vhosts",
        "state",
        "state changed",
        "users",
    ]
    .map(Header::new)
    .to_vec();
    let mut p = Printer::new(out, format, headers);
    for &id in d.hosts_in_order() {
        let row = status_row(d, id);
        p.row(&row.each_ref().map(String::as_str))?;
    }
    p.finish()
}

/// `doveadm -f json director status`: the rows of [`write_status`] as one
/// JSON array of objects keyed by [`STATUS_JSON_KEYS`].
pub fn write_status_json<W: Write>(d: &Director, out: W) -> io::Result<W> {
    let mut p = JsonPrinter::new(out, &STATUS_JSON_KEYS)?;
    for &id in d.hosts_in_order() {
        let row = status_row(d, id);
        p.row(&row.each_ref().map(String::as_str))?;
    }
    p.finish()
}

/// `doveadm director status <user>`: the three lines of spec §7.3.
pub fn write_user_lookup<W: Write>(d: &Director, l: &UserLookup, mut out: W) -> io::Result<W> {
    match l.current {
        Some((host, expire)) => writeln!(
            out,
            "Current: {} (expires {})",
            d.host(host).ip_text(),
            unixdate(expire as i64)
        )?,
        None => writeln!(out, "Current: n/a (expires -1)")?,
    }
    let ip = |h: Option<HostId>| h.map(|h| d.host(h).ip_text().to_string()).unwrap_or_default();
    writeln!(out, "Hashed: {}", ip(l.hashed))?;
    let init = l.initial.map(|i| i.canonical_text()).unwrap_or_default();
    writeln!(out, "Initial config: {init}")?;
    Ok(out)
}

/// `doveadm -f json director status <user>`: not the three lines of
/// [`write_user_lookup`] (their template belongs to the `formatted` printer,
/// which `-f` replaces) but one object keyed `status` (the current IP or
/// `n/a`), `expires` (a date, or `-1` with no record), `hashed` and
/// `initial-config` (empty when there is none).
pub fn write_user_lookup_json<W: Write>(d: &Director, l: &UserLookup, out: W) -> io::Result<W> {
    let (status, expires) = match l.current {
        Some((host, expire)) => (d.host(host).ip_text().to_string(), unixdate(expire as i64)),
        None => ("n/a".to_string(), "-1".to_string()),
    };
    let hashed = l
        .hashed
        .map(|h| d.host(h).ip_text().to_string())
        .unwrap_or_default();
    let init = l.initial.map(|i| i.canonical_text()).unwrap_or_default();
    let mut p = JsonPrinter::new(out, &["status", "expires", "hashed", "initial-config"])?;
    p.row(&[&status, &expires, &hashed, &init])?;
    p.finish()
}

/// The names doveadm knows (userdb list or `-f` file), by hash. Colliding
/// names print in reverse order of appearance, as doveadm prepends them.
#[derive(Clone, Debug, Default)]
pub struct NameIndex {
    by_hash: FxHashMap<u32, Vec<Box<str>>>,
}

impl NameIndex {
    /// Adds a name with its hash.
    pub fn add(&mut self, hash: u32, name: &str) {
        self.by_hash.entry(hash).or_default().push(name.into());
    }
    /// The names with this hash, newest first.
    pub fn names(&self, hash: u32) -> impl Iterator<Item = &str> {
        self.by_hash
            .get(&hash)
            .into_iter()
            .flat_map(|v| v.iter().rev().map(|s| &**s))
    }
    /// Whether any name has this hash.
    pub fn contains(&self, hash: u32) -> bool {
        self.by_hash.contains_key(&hash)
    }
}

/// `doveadm director map [<host>]`: every record (or one host's), one row
/// per matching name, `<unknown>` when no name matches (spec §4.4, §7.2).
pub fn write_map<W: Write>(
    d: &mut Director,
    names: &NameIndex,
    only: Option<HostId>,
    format: PrintFormat,
    out: W,
) -> io::Result<W> {
    let headers = vec![
        Header::new("user").expand(),
        Header::new("hash"),
        Header::new("mail server ip"),
        Header::new("expire time"),
    ];
    let mut p = Printer::new(out, format, headers);
    map_rows(d, names, only, |row| p.row(row))?;
    p.finish()
}

/// `doveadm -f json director map [<host>]`: the rows of [`write_map`] as
/// one JSON array of objects keyed by [`MAP_JSON_KEYS`].
pub fn write_map_json<W: Write>(
    d: &mut Director,
    names: &NameIndex,
    only: Option<HostId>,
    out: W,
) -> io::Result<W> {
    let mut p = JsonPrinter::new(out, &MAP_JSON_KEYS)?;
    map_rows(d, names, only, |row| p.row(row))?;
    p.finish()
}

/// Calls `f` with each `map` row: user, hash, ip, expire time.
fn map_rows(
    d: &mut Director,
    names: &NameIndex,
    only: Option<HostId>,
    mut f: impl FnMut(&[&str]) -> io::Result<()>,
) -> io::Result<()> {
    let mut rows: Vec<(u32, u32, HostId)> = Vec::new();
    d.user_list(only, |hash, expire, host| rows.push((hash, expire, host)));
    for (hash, expire, host) in rows {
        let hs = hash.to_string();
        let ip = d.host(host).ip_text();
        let exp = unixdate(expire as i64);
        if !names.contains(hash) {
            f(&["<unknown>", &hs, ip, &exp])?;
        }
        for name in names.names(hash) {
            f(&[name, &hs, ip, &exp])?;
        }
    }
    Ok(())
}

/// `map -u <name>`: just the hash, in a hidden-title column.
pub fn write_map_user<W: Write>(hash: u32, format: PrintFormat, out: W) -> io::Result<W> {
    let mut p = Printer::new(out, format, vec![Header::new("hash").hide_title()]);
    p.row(&[&hash.to_string()])?;
    p.finish()
}

/// `map -h <hash>`: the known names with this hash.
pub fn write_map_hash<W: Write>(names: &NameIndex, hash: u32, format: PrintFormat, out: W) -> io::Result<W> {
    let mut p = Printer::new(out, format, vec![Header::new("user").hide_title()]);
    for n in names.names(hash) {
        p.row(&[n])?;
    }
    p.finish()
}

/// `-f json director map -u <name>`: `[{"hash":"..."}]`.
pub fn write_map_user_json<W: Write>(hash: u32, out: W) -> io::Result<W> {
    let mut p = JsonPrinter::new(out, &["hash"])?;
    p.row(&[&hash.to_string()])?;
    p.finish()
}

/// `-f json director map -h <hash>`: one `{"user":"..."}` per known name.
pub fn write_map_hash_json<W: Write>(names: &NameIndex, hash: u32, out: W) -> io::Result<W> {
    let mut p = JsonPrinter::new(out, &["user"])?;
    for n in names.names(hash) {
        p.row(&[n])?;
    }
    p.finish()
}

/// Appends `s` as Dovecot's `json_append_escaped()` does: `"` and `\` and
/// the controls `\b \f \n \r \t` get their short escapes, other
/// characters below U+0020 and U+2028/U+2029 become `\u00xx`/`\u2028`
/// (lowercase hex), everything else (DEL, `/`, non-ASCII) is copied as is.
pub fn json_escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
}

/// doveadm's `json` formatter: `[`, objects joined by `,`, `]`; rows are
/// written as they come.
struct JsonPrinter<'k, W: Write> {
    out: W,
    keys: &'k [&'k str],
    rows: usize,
    buf: String,
}

impl<'k, W: Write> JsonPrinter<'k, W> {
    fn new(mut out: W, keys: &'k [&'k str]) -> io::Result<Self> {
        out.write_all(b"[")?;
        Ok(JsonPrinter {
            out,
            keys,
            rows: 0,
            buf: String::new(),
        })
    }

    fn row(&mut self, values: &[&str]) -> io::Result<()> {
        self.buf.clear();
        if self.rows > 0 {
            self.buf.push(',');
        }
        self.buf.push('{');
        for (i, (k, v)) in self.keys.iter().zip(values).enumerate() {
            if i > 0 {
                self.buf.push(',');
            }
            self.buf.push('"');
            json_escape(&mut self.buf, k);
            self.buf.push_str("\":\"");
            json_escape(&mut self.buf, v);
            self.buf.push('"');
        }
        self.buf.push('}');
        self.rows += 1;
        self.out.write_all(self.buf.as_bytes())
    }

    fn finish(mut self) -> io::Result<W> {
        self.out.write_all(b"]")?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc() {
        assert_eq!(unixdate(0), "1970-01-01 00:00:00");
        // date -u -d @1709294400 → 2024-03-01 12:00:00
        assert_eq!(unixdate(1_709_294_400), "2024-03-01 12:00:00");
        assert_eq!(parse_unixdate("2024-03-01 12:00:00"), Some(1_709_294_400));
    }

    /// Escapes as Dovecot 2.3.19.1 printed these names in
    /// `doveadm -f json director map` (bytes copied from its output).
    #[test]
    fn json_escapes_like_doveadm() {
        let esc = |s: &str| {
            let mut o = String::new();
            json_escape(&mut o, s);
            o
        };
        assert_eq!(esc("q\"uo\\te"), r#"q\"uo\\te"#);
        assert_eq!(esc("tab\there"), r"tab\there");
        assert_eq!(esc("ctl\u{1}x"), r"ctl\u0001x");
        assert_eq!(esc("hi\u{1f}x"), r"hi\u001fx");
        assert_eq!(esc("bs\u{8}ff\u{c}cr\rx"), r"bs\bff\fcr\rx");
        assert_eq!(esc("ls\u{2028}x"), r"ls\u2028x");
        assert_eq!(esc("del\u{7f}x"), "del\u{7f}x");
        assert_eq!(esc("\u{fc}n\u{ef} sl/ash<>&"), "\u{fc}n\u{ef} sl/ash<>&");
    }

    #[test]
    fn json_output_is_doveadms_bytes() {
        use crate::director::Settings;
        let ip = |s: &str| s.parse().unwrap();
        let mut d = Director::new(Settings::default(), &[]);
        let empty = String::from_utf8(write_status_json(&d, Vec::new()).unwrap()).unwrap();
        assert_eq!(empty, "[]");
        d.advance_to(1_709_294_400_000);
        d.host_set(ip("127.0.0.11"), "", Some(100), false);
        d.host_set(ip("127.0.0.12"), "", Some(100), false);
        d.host_set(ip("::1"), "east", Some(7), false);
        d.host_updown(ip("127.0.0.12"), true);
        let mut names = NameIndex::default();
        names.add(d.hash_user("alice"), "alice");
        let slot = d.intern("", d.hash_user("alice"));
        d.request(slot, 0);
        let status = String::from_utf8(write_status_json(&d, Vec::new()).unwrap()).unwrap();
        assert_eq!(
            status,
            concat!(
                r#"[{"mail server ip":"127.0.0.11","tag":"","vhosts":"100","state":"up","state-changed":"-","#,
                r#""users":"1"},{"mail server ip":"127.0.0.12","tag":"","vhosts":"100","state":"down","#,
                r#""state-changed":"2024-03-01 12:00:00","users":"0"},{"mail server ip":"::1","tag":"east","#,
                r#""vhosts":"7","state":"up","state-changed":"-","users":"0"}]"#
            )
        );
        let map = String::from_utf8(write_map_json(&mut d, &names, None, Vec::new()).unwrap()).unwrap();
        assert_eq!(
            map,
            concat!(
                r#"[{"user":"alice","hash":"1669653170","mail server ip":"127.0.0.11","#,
                r#""expire time":"2024-03-01 12:15:00"}]"#
            )
        );
        let u = String::from_utf8(write_map_user_json(1669653170, Vec::new()).unwrap()).unwrap();
        assert_eq!(u, r#"[{"hash":"1669653170"}]"#);
        let h = String::from_utf8(write_map_hash_json(&names, 1669653170, Vec::new()).unwrap()).unwrap();
        assert_eq!(h, r#"[{"user":"alice"}]"#);
        let l = d.user_lookup(d.hash_user("alice"), "");
        let s = String::from_utf8(write_user_lookup_json(&d, &l, Vec::new()).unwrap()).unwrap();
        assert_eq!(
            s,
            concat!(
                r#"[{"status":"127.0.0.11","expires":"2024-03-01 12:15:00","hashed":"127.0.0.11","#,
                r#""initial-config":""}]"#
            )
        );
        let l = d.user_lookup(d.hash_user("nobody"), "");
        let s = String::from_utf8(write_user_lookup_json(&d, &l, Vec::new()).unwrap()).unwrap();
        assert!(
            s.starts_with(r#"[{"status":"n/a","expires":"-1","hashed":"127.0.0."#),
            "{s}"
        );
    }
}
