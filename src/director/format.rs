//! What `doveadm director status` / `status <user>` / `map` print (spec §7),
//! built on doveadm's own table and tab formatters ([`super::print`]).
//! Times print in UTC (doveadm uses local time; dirsim fixes the zone).

use std::io::{self, Write};

use rustc_hash::FxHashMap;
use time::OffsetDateTime;
use time::macros::format_description;

use super::print::{Header, PrintFormat, Printer};
use super::{Director, HostId, UserLookup};

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
        let h = d.host(id);
        let changed = if h.last_updown_change() <= 0 {
            "-".to_string()
        } else {
            unixdate(h.last_updown_change())
        };
        p.row(&[
            h.ip_text(),
            d.tag_name(h.tag()),
            &h.vhosts().to_string(),
            if h.is_down() { "down" } else { "up" },
            &changed,
            &h.user_count().to_string(),
        ])?;
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
    let mut rows: Vec<(u32, u32, HostId)> = Vec::new();
    d.user_list(only, |hash, expire, host| rows.push((hash, expire, host)));
    let mut p = Printer::new(out, format, headers);
    for (hash, expire, host) in rows {
        let hs = hash.to_string();
        let ip = d.host(host).ip_text();
        let exp = unixdate(expire as i64);
        if !names.contains(hash) {
            p.row(&["<unknown>", &hs, ip, &exp])?;
        }
        for name in names.names(hash) {
            p.row(&[name, &hs, ip, &exp])?;
        }
    }
    p.finish()
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
}
