//! Importing a real cluster's state: `doveadm director status` and
//! `doveadm director map` output (spec §7.1, §7.2), in doveadm's default
//! table layout or in `-f tab` layout.
//!
//! Table output is left-justified columns separated by spaces, and cells can
//! be empty (the `tag` column usually is), so rows are cut at the character
//! offsets of the header titles. A value wider than its column (widths come
//! from the first 100 rows only, and shrink to fit 80 columns) pushes the rest
//! of its row to the right; such rows are split on whitespace instead,
//! anchored on the values whose shape is known (`up`/`down`, the date).
//! Dates are `YYYY-MM-DD HH:MM:SS`, read as UTC (dirsim prints UTC).
//!
//! JSON is accepted too, detected by its first non-blank character (`[` or
//! `{`): `doveadm -f json` output and doveadm HTTP API responses; see
//! [`super::import_json`] for the forms and values accepted.

use std::path::Path;

use super::error::{ScenarioError, line_col};
use super::import_json;
use crate::director::format::parse_unixdate;
use crate::director::ip::HostIp;

/// One row of `doveadm director status`: a backend as the director sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusRow {
    /// `mail server ip`.
    pub ip: HostIp,
    /// `tag` (empty for the default tag).
    pub tag: String,
    /// `vhosts`.
    pub vhosts: u32,
    /// `state` is `down`.
    pub down: bool,
    /// `state changed` as unix seconds; `None` for `-`.
    pub state_changed: Option<i64>,
    /// `users`: the number of user records on the backend.
    pub users: u32,
}

/// One row of `doveadm director map`: a user record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapRow {
    /// `user`; `None` for `<unknown>` (no known name has this hash).
    pub user: Option<String>,
    /// `hash`: the user hash the record is keyed by.
    pub hash: u32,
    /// `mail server ip`: the record's backend.
    pub ip: HostIp,
    /// `expire time` as unix seconds.
    pub expire_unix: i64,
}

/// The files of `[initial]`, parsed. At least one of them is present.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    /// Rows of `status_file`, in file order.
    pub status: Option<Vec<StatusRow>>,
    /// Rows of `map_file`, in file order.
    pub map: Option<Vec<MapRow>>,
}

const STATUS_TITLES: [&str; 6] = [
    "mail server ip",
    "tag",
    "vhosts",
    "state",
    "state changed",
    "users",
];
const STATUS_REQUIRED: [&str; 3] = ["mail server ip", "vhosts", "users"];
const MAP_TITLES: [&str; 4] = ["user", "hash", "mail server ip", "expire time"];

/// Parses `doveadm director status` output (table, `-f tab` or JSON).
pub fn parse_status(text: &str, file: &Path) -> Result<Vec<StatusRow>, ScenarioError> {
    Ok(parse_status_lines(text, file)?
        .into_iter()
        .map(|(_, r)| r)
        .collect())
}

/// Parses `doveadm director map` output (table, `-f tab` or JSON).
pub fn parse_map(text: &str, file: &Path) -> Result<Vec<MapRow>, ScenarioError> {
    Ok(parse_map_lines(text, file)?.into_iter().map(|(_, r)| r).collect())
}

/// Reads an imported file as text. Refuses bytes that are not UTF-8 (as
/// doveadm prints), naming the offset of the first bad byte.
pub fn read_text(path: &Path) -> Result<String, ScenarioError> {
    let bytes = std::fs::read(path)
        .map_err(|e| ScenarioError::in_file(path, format!("cannot read the file: {e}")))?;
    text_from_bytes(bytes, path)
}

/// `bytes` as text, or an error at the first byte that is not UTF-8 (its
/// byte offset, line and column).
pub fn text_from_bytes(bytes: Vec<u8>, file: &Path) -> Result<String, ScenarioError> {
    String::from_utf8(bytes).map_err(|e| {
        let off = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let valid = std::str::from_utf8(&bytes[..off]).unwrap_or_default();
        let (line, col) = line_col(valid, off);
        let byte = bytes.get(off).map_or(String::new(), |b| format!(" 0x{b:02x}"));
        let msg = format!(
            "not UTF-8 text: invalid byte{byte} at byte offset {off}; doveadm prints UTF-8, so convert \
             the file (e.g. iconv -f latin1 -t utf-8)"
        );
        ScenarioError::at_line(file, line, Some(col), msg)
    })
}

/// [`parse_status`], each row with its 1-based line number.
pub(crate) fn parse_status_lines(text: &str, file: &Path) -> Result<Vec<(usize, StatusRow)>, ScenarioError> {
    if import_json::is_json(text) {
        return import_json::parse_status_lines(text, file);
    }
    let what = "doveadm director status";
    let t = Table::read(text, file, what, &STATUS_TITLES, &STATUS_REQUIRED)?;
    let mut rows = Vec::new();
    for (line, raw) in t.rows() {
        let Some(cells) = t.cells(raw, |l| status_fallback(l, &t.titles)) else {
            return Err(t.short_row(line, raw));
        };
        let cell = |title: &str| t.cell(&cells, title);
        let row = StatusRow {
            ip: t.field(line, cell("mail server ip"), "an IP address", |s| {
                HostIp::parse(s).ok()
            })?,
            tag: cell("tag").map_or("", |c| c.1).to_string(),
            vhosts: t.field(line, cell("vhosts"), "a vhost count", |s| s.parse().ok())?,
            down: match cell("state") {
                None => false,
                c => t.field(line, c, "up or down", |s| match s {
                    "up" => Some(false),
                    "down" => Some(true),
                    _ => None,
                })?,
            },
            state_changed: match cell("state changed") {
                None => None,
                c => t.field(line, c, "- or a date YYYY-MM-DD HH:MM:SS", |s| match s {
                    "-" => Some(None),
                    s => parse_unixdate(s).map(Some),
                })?,
            },
            users: t.field(line, cell("users"), "a user count", |s| s.parse().ok())?,
        };
        rows.push((line, row));
    }
    Ok(rows)
}

/// Checks parsed status rows against the director's limits: a vhost count
/// above 1000 cannot come from a real director (doveadm refuses it), so the
/// file is damaged or not status output.
pub(crate) fn check_status_rows(rows: &[(usize, StatusRow)], file: &Path) -> Result<(), ScenarioError> {
    let max = super::limits::MAX_VHOSTS;
    match rows.iter().find(|(_, r)| r.vhosts > max) {
        Some((line, r)) => Err(ScenarioError::at_line(
            file,
            *line,
            None,
            format!(
                "{} is out of range: expected 0..={max} (doveadm refuses more)",
                r.vhosts
            ),
        )
        .with_field("vhosts")),
        None => Ok(()),
    }
}

/// [`parse_map`], each row with its 1-based line number.
pub(crate) fn parse_map_lines(text: &str, file: &Path) -> Result<Vec<(usize, MapRow)>, ScenarioError> {
    if import_json::is_json(text) {
        return import_json::parse_map_lines(text, file);
    }
    let t = Table::read(text, file, "doveadm director map", &MAP_TITLES, &MAP_TITLES)?;
    let mut rows = Vec::new();
    for (line, raw) in t.rows() {
        let Some(cells) = t.cells(raw, map_fallback) else {
            return Err(t.short_row(line, raw));
        };
        let cell = |title: &str| t.cell(&cells, title);
        let user = cell("user").map_or("", |c| c.1);
        if user.is_empty() {
            return Err(t.error(
                line,
                cell("user"),
                "user",
                "expected a user name or <unknown>, found nothing",
            ));
        }
        let row = MapRow {
            user: (user != "<unknown>").then(|| user.to_string()),
            hash: t.field(line, cell("hash"), "a user hash (0..4294967295)", |s| {
                s.parse().ok()
            })?,
            ip: t.field(line, cell("mail server ip"), "an IP address", |s| {
                HostIp::parse(s).ok()
            })?,
            expire_unix: t.field(
                line,
                cell("expire time"),
                "a date YYYY-MM-DD HH:MM:SS",
                parse_unixdate,
            )?,
        };
        rows.push((line, row));
    }
    Ok(rows)
}

/// A cell: (1-based column, text, title).
type Cell<'a> = (usize, &'a str, &'static str);

/// A parsed header: the layout, the titles present and where they start.
struct Table<'a> {
    file: &'a Path,
    text: &'a str,
    what: &'static str,
    tab: bool,
    /// Titles in column order, with their char offset in table layout.
    titles: Vec<(&'static str, usize)>,
    header_line: usize,
}

impl<'a> Table<'a> {
    /// Finds and checks the header line (the first non-blank line).
    fn read(
        text: &'a str,
        file: &'a Path,
        what: &'static str,
        known: &[&'static str],
        required: &[&'static str],
    ) -> Result<Self, ScenarioError> {
        let expected = format!(
            "expected {what} output, whose first line holds the titles {}",
            known.join(", ")
        );
        let Some((idx, header)) = text.lines().enumerate().find(|(_, l)| !l.trim().is_empty()) else {
            return Err(ScenarioError::in_file(
                file,
                format!("the file is empty: {expected}"),
            ));
        };
        let tab = header.contains('\t');
        let mut titles = Vec::new();
        if tab {
            for (i, t) in header.split('\t').enumerate() {
                match known.iter().find(|k| **k == t.trim()) {
                    Some(k) => titles.push((*k, i)),
                    None => {
                        let msg = format!("unknown column title {:?}: {expected}", t.trim());
                        return Err(ScenarioError::at_line(file, idx + 1, None, msg));
                    }
                }
            }
        } else {
            titles = find_titles(header, known);
        }
        if let Some(missing) = required.iter().find(|r| !titles.iter().any(|(t, _)| t == *r)) {
            let msg = format!("no {missing:?} column in {header:?}: {expected}");
            return Err(ScenarioError::at_line(file, idx + 1, Some(1), msg));
        }
        Ok(Table {
            file,
            text,
            what,
            tab,
            titles,
            header_line: idx + 1,
        })
    }

    /// The data lines after the header, blank lines skipped.
    fn rows(&self) -> impl Iterator<Item = (usize, &'a str)> + use<'a> {
        let start = self.header_line;
        self.text
            .lines()
            .enumerate()
            .skip(start)
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| (i + 1, l))
    }

    /// Cuts a row into cells: by tabs, by title offsets, or (on overflow) by
    /// `fallback` over its whitespace-separated words. `None`: too few cells.
    fn cells(
        &self,
        line: &'a str,
        fallback: impl Fn(&'a str) -> Option<Vec<Cell<'a>>>,
    ) -> Option<Vec<Cell<'a>>> {
        if self.tab {
            let parts: Vec<&str> = line.split('\t').collect();
            if parts.len() != self.titles.len() {
                return None;
            }
            let mut col = 1;
            let mut cells = Vec::new();
            for (p, (title, _)) in parts.iter().zip(&self.titles) {
                cells.push((col, *p, *title));
                col += p.chars().count() + 1;
            }
            return Some(cells);
        }
        // Byte index of each char, to slice by character offsets.
        let idx: Vec<usize> = line.char_indices().map(|(i, _)| i).chain([line.len()]).collect();
        let nchars = idx.len() - 1;
        let overflow = self
            .titles
            .iter()
            .skip(1)
            .any(|&(_, off)| off > 0 && off <= nchars && !line[idx[off - 1]..idx[off]].starts_with(' '));
        if overflow {
            return fallback(line);
        }
        // Titles wider than the terminal push the last title past the end
        // of the rows, so the offsets say nothing: cut by words if they fit.
        if self.titles.last().is_some_and(|&(_, off)| off >= nchars)
            && let Some(cells) = fallback(line)
        {
            return Some(cells);
        }
        let mut cells = Vec::new();
        for (i, &(title, off)) in self.titles.iter().enumerate() {
            let end = self.titles.get(i + 1).map_or(nchars, |t| t.1).min(nchars);
            let start = off.min(end);
            let raw = &line[idx[start]..idx[end]];
            let lead = raw.len() - raw.trim_start().len();
            cells.push((start + 1 + raw[..lead].chars().count(), raw.trim(), title));
        }
        Some(cells)
    }

    fn cell(&self, cells: &[Cell<'a>], title: &str) -> Option<Cell<'a>> {
        cells.iter().find(|c| c.2 == title).copied()
    }

    /// Parses a cell with `f`, or explains what was expected.
    fn field<T>(
        &self,
        line: usize,
        cell: Option<Cell<'_>>,
        expected: &str,
        f: impl Fn(&str) -> Option<T>,
    ) -> Result<T, ScenarioError> {
        let title = cell.map_or("", |c| c.2);
        match cell {
            Some((_, text, _)) if !text.is_empty() => f(text).ok_or_else(|| {
                self.error(line, cell, title, &format!("expected {expected}, found {text:?}"))
            }),
            _ => Err(self.error(line, cell, title, &format!("expected {expected}, found nothing"))),
        }
    }

    fn error(&self, line: usize, cell: Option<Cell<'_>>, title: &str, msg: &str) -> ScenarioError {
        ScenarioError::at_line(self.file, line, cell.map(|c| c.0), msg).with_field(title)
    }

    fn short_row(&self, line: usize, raw: &str) -> ScenarioError {
        let titles: Vec<&str> = self.titles.iter().map(|t| t.0).collect();
        let msg = format!(
            "truncated or malformed row {raw:?}: expected {} values ({}) as in {} output",
            titles.len(),
            titles.join(", "),
            self.what
        );
        ScenarioError::at_line(self.file, line, Some(1), msg)
    }
}

/// Locates known titles in a table header as whole words, longest first so
/// `state` is not found inside `state changed`. Returns them in line order
/// with their character offsets.
fn find_titles(header: &str, known: &[&'static str]) -> Vec<(&'static str, usize)> {
    let chars: Vec<char> = header.chars().collect();
    let mut taken = vec![false; chars.len()];
    let mut by_len = known.to_vec();
    by_len.sort_by_key(|t| std::cmp::Reverse(t.len()));
    let mut found = Vec::new();
    for title in by_len {
        let t: Vec<char> = title.chars().collect();
        let hit = (0..chars.len().saturating_sub(t.len() - 1)).find(|&s| {
            chars[s..s + t.len()] == t[..]
                && !taken[s..s + t.len()].contains(&true)
                && (s == 0 || chars[s - 1] == ' ')
                && chars.get(s + t.len()).is_none_or(|c| *c == ' ')
        });
        if let Some(s) = hit {
            taken[s..s + t.len()].iter_mut().for_each(|x| *x = true);
            found.push((title, s));
        }
    }
    found.sort_by_key(|t| t.1);
    found
}

/// A whitespace-separated word: 1-based character column, byte offset, text.
type Word<'a> = (usize, usize, &'a str);

/// The whitespace-separated words of a line.
fn words(line: &str) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    let mut start: Option<(usize, usize)> = None;
    for (col, (i, c)) in line.char_indices().enumerate() {
        match (c.is_whitespace(), start) {
            (true, Some((s, scol))) => {
                out.push((scol + 1, s, &line[s..i]));
                start = None;
            }
            (false, None) => start = Some((i, col)),
            _ => {}
        }
    }
    if let Some((s, scol)) = start {
        out.push((scol + 1, s, &line[s..]));
    }
    out
}

/// Words `a..b` of `line` as one cell (a date is two words).
fn join<'a>(line: &'a str, w: &[Word<'a>], a: usize, b: usize, title: &'static str) -> Option<Cell<'a>> {
    let first = w.get(a)?;
    let last = w.get(b.checked_sub(1)?)?;
    let text = line.get(first.1..last.1 + last.2.len())?;
    Some((first.0, text, title))
}

/// Status row by words: ip, [tag], vhosts, [state], [changed: - | date time], users.
fn status_fallback<'a>(line: &'a str, titles: &[(&'static str, usize)]) -> Option<Vec<Cell<'a>>> {
    let has = |t: &str| titles.iter().any(|x| x.0 == t);
    let w = words(line);
    let n = w.len();
    if n < 3 {
        return None;
    }
    let join = |a, b, title| join(line, &w, a, b, title);
    let mut cells = vec![join(0, 1, "mail server ip")?, join(n - 1, n, "users")?];
    let mut end = n - 1;
    if has("state changed") {
        let date = end >= 2 && parse_unixdate(&format!("{} {}", w[end - 2].2, w[end - 1].2)).is_some();
        let k = if date { 2 } else { 1 };
        cells.push(join(end.checked_sub(k)?, end, "state changed")?);
        end -= k;
    }
    if has("state") {
        cells.push(join(end.checked_sub(1)?, end, "state")?);
        end -= 1;
    }
    cells.push(join(end.checked_sub(1)?, end, "vhosts")?);
    end -= 1;
    if has("tag") && end == 2 {
        cells.push(join(1, 2, "tag")?);
    } else if end != 1 {
        return None;
    }
    Some(cells)
}

/// Map row by words: user (may hold spaces), hash, ip, date, time.
fn map_fallback(line: &str) -> Option<Vec<Cell<'_>>> {
    let w = words(line);
    let n = w.len();
    if n < 5 {
        return None;
    }
    Some(vec![
        join(line, &w, 0, n - 4, "user")?,
        join(line, &w, n - 4, n - 3, "hash")?,
        join(line, &w, n - 3, n - 2, "mail server ip")?,
        join(line, &w, n - 2, n, "expire time")?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> HostIp {
        s.parse().unwrap()
    }

    fn file() -> &'static Path {
        Path::new("cluster.txt")
    }

    /// Spec §7.1's example, padded to 80 columns as doveadm prints it.
    const STATUS_TABLE: &str = "\
mail server ip tag vhosts state state changed       users           
10.0.0.1           100    up    -                   125             
10.0.0.2           0      up    -                   144             
10.0.0.3           100    down  2024-03-01 12:00:00 115             
";

    fn expected_status() -> Vec<StatusRow> {
        let row = |i: &str, vhosts, down, changed, users| StatusRow {
            ip: ip(i),
            tag: String::new(),
            vhosts,
            down,
            state_changed: changed,
            users,
        };
        vec![
            row("10.0.0.1", 100, false, None, 125),
            row("10.0.0.2", 0, false, None, 144),
            row("10.0.0.3", 100, true, Some(1_709_294_400), 115),
        ]
    }

    #[test]
    fn status_table_and_tab() {
        assert_eq!(parse_status(STATUS_TABLE, file()).unwrap(), expected_status());
        let tab = "mail server ip\ttag\tvhosts\tstate\tstate changed\tusers\n\
                   10.0.0.1\t\t100\tup\t-\t125\n\
                   10.0.0.2\t\t0\tup\t-\t144\n\
                   10.0.0.3\t\t100\tdown\t2024-03-01 12:00:00\t115\n";
        assert_eq!(parse_status(tab, file()).unwrap(), expected_status());
        let with_tag = tab.replace("10.0.0.2\t\t", "10.0.0.2\teast\t");
        assert_eq!(parse_status(&with_tag, file()).unwrap()[1].tag, "east");
    }

    #[test]
    fn status_overflow_falls_back_to_words() {
        // Row 4 was printed after the widths were fixed: its values overflow.
        let text = format!(
            "{STATUS_TABLE}2001:db8::1234:5678 east 1000 down 2024-03-01 12:00:00 7\n10.0.0.5 eu 5 up - 0\n"
        );
        let rows = parse_status(&text, file()).unwrap();
        assert_eq!(rows.len(), 5);
        let r = &rows[3];
        assert_eq!(
            (r.ip, r.tag.as_str(), r.vhosts, r.down, r.users),
            (ip("2001:db8::1234:5678"), "east", 1000, true, 7)
        );
        assert_eq!(r.state_changed, Some(1_709_294_400));
        assert_eq!(
            (rows[4].tag.as_str(), rows[4].vhosts, rows[4].state_changed),
            ("eu", 5, None)
        );
    }

    #[test]
    fn map_table_and_tab() {
        let table = "\
user                  hash       mail server ip expire time        
user1                 617210206  10.0.0.3       2024-03-01 12:15:00
<unknown>             2458352375 10.0.0.2       2024-03-01 12:16:40
";
        let want = vec![
            MapRow {
                user: Some("user1".into()),
                hash: 617_210_206,
                ip: ip("10.0.0.3"),
                expire_unix: 1_709_295_300,
            },
            MapRow {
                user: None,
                hash: 2_458_352_375,
                ip: ip("10.0.0.2"),
                expire_unix: 1_709_295_400,
            },
        ];
        assert_eq!(parse_map(table, file()).unwrap(), want);
        let tab = "user\thash\tmail server ip\texpire time\n\
                   user1\t617210206\t10.0.0.3\t2024-03-01 12:15:00\n\
                   <unknown>\t2458352375\t10.0.0.2\t2024-03-01 12:16:40\n";
        assert_eq!(parse_map(tab, file()).unwrap(), want);
        // A long name overflows the user column.
        let long = format!("{table}a.very.long.user.name@example.com 1 10.0.0.1 2024-03-01 12:00:00\n");
        let rows = parse_map(&long, file()).unwrap();
        assert_eq!(rows[2].user.as_deref(), Some("a.very.long.user.name@example.com"));
        assert_eq!(
            parse_map("user hash mail server ip expire time\n", file()).unwrap(),
            vec![]
        );
    }

    #[test]
    fn errors_name_line_column_and_field() {
        let e = parse_status(&STATUS_TABLE.replace("125", "lots"), file()).unwrap_err();
        assert_eq!(
            (e.line, e.column, e.field.as_deref()),
            (Some(2), Some(53), Some("users"))
        );
        assert!(
            e.to_string()
                .starts_with("cluster.txt:2:53: users: expected a user count, found \"lots\""),
            "{e}"
        );
        let e = parse_status(&STATUS_TABLE.replace("down ", "sick "), file()).unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(4), Some("state")));
        let e = parse_status(&STATUS_TABLE.replace("10.0.0.2 ", "10.0.0.x "), file()).unwrap_err();
        assert_eq!(
            (e.line, e.column, e.field.as_deref()),
            (Some(3), Some(1), Some("mail server ip"))
        );
        // Truncated: the last row stops after its vhosts.
        let cut = &STATUS_TABLE[..STATUS_TABLE.find("100    down").unwrap() + 3];
        let e = parse_status(cut, file()).unwrap_err();
        assert_eq!((e.line, e.field.as_deref()), (Some(4), Some("state")));
        assert!(e.message.contains("found nothing"), "{e}");
        let e = parse_map("user\thash\tmail server ip\texpire time\nu1\t5\n", file()).unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("truncated"), "{e}");
        let e = parse_map(
            "user hash mail server ip expire time\nu1   5    10.0.0.1       yesterday\n",
            file(),
        )
        .unwrap_err();
        assert_eq!(
            (e.line, e.column, e.field.as_deref()),
            (Some(2), Some(26), Some("expire time"))
        );
        // Garbage and empty files.
        let e = parse_status("<html>not a status</html>\n", file()).unwrap_err();
        assert_eq!(e.line, Some(1));
        assert!(e.message.contains("mail server ip"), "{e}");
        let e = parse_map("\n\n", file()).unwrap_err();
        assert!(e.message.contains("empty"), "{e}");
        let e = parse_map(STATUS_TABLE, file()).unwrap_err();
        assert!(e.message.contains("doveadm director map"), "{e}");
    }

    /// What dirsim's own printers write (spec §7 layouts) reads back.
    #[test]
    fn round_trips_dirsims_own_output() {
        use crate::director::format::{NameIndex, write_map, write_status};
        use crate::director::print::PrintFormat;
        use crate::director::{Director, Settings};
        let mut d = Director::new(Settings::default(), &[]);
        d.advance_to(1_709_294_400_000);
        d.host_set(ip("10.0.0.1"), "", Some(100), false);
        d.host_set(ip("10.0.0.2"), "east", Some(0), false);
        d.host_set(ip("2001:db8::1234:5678:9abc"), "", Some(7), false);
        d.host_updown(ip("10.0.0.1"), true);
        let mut names = NameIndex::default();
        for u in ["alice", "bob", "carol"] {
            let slot = d.intern("", d.hash_user(u));
            d.request(slot, 0);
            names.add(d.hash_user(u), u);
        }
        let slot = d.intern("", 12345);
        d.request(slot, 0);
        for format in [PrintFormat::Table { columns: 80 }, PrintFormat::Tab] {
            let status = String::from_utf8(write_status(&d, format, Vec::new()).unwrap()).unwrap();
            let rows = parse_status(&status, file()).unwrap();
            assert_eq!(rows.len(), 3, "{status}");
            assert_eq!((rows[0].down, rows[0].state_changed), (true, Some(1_709_294_400)));
            assert_eq!((rows[1].tag.as_str(), rows[1].vhosts), ("east", 0));
            assert_eq!(rows[2].ip, ip("2001:db8::1234:5678:9abc"));
            assert_eq!(rows.iter().map(|r| r.users).sum::<u32>(), 4);
            let map =
                String::from_utf8(write_map(&mut d, &names, None, format, Vec::new()).unwrap()).unwrap();
            let rows = parse_map(&map, file()).unwrap();
            assert_eq!(rows.len(), 4, "{map}");
            assert_eq!(rows.iter().filter(|r| r.user.is_none()).count(), 1);
            assert!(
                rows.iter()
                    .any(|r| r.user.as_deref() == Some("carol") && r.hash == d.hash_user("carol"))
            );
        }
    }

    /// A table narrower than its titles: the title line overhangs the rows,
    /// so title offsets do not cut them (found by a property test).
    #[test]
    fn narrow_tables_read_back() {
        use crate::director::format::{NameIndex, write_map, write_status};
        use crate::director::print::PrintFormat;
        use crate::director::{Director, Settings};
        let mut d = Director::new(Settings::default(), &[]);
        d.host_set(ip("10.0.0.10"), "", Some(1), false);
        let mut names = NameIndex::default();
        names.add(d.hash_user("bob"), "bob");
        let slot = d.intern("", d.hash_user("bob"));
        d.request(slot, 0);
        for columns in [10, 20, 30, 40, 60] {
            let format = PrintFormat::Table { columns };
            let status = String::from_utf8(write_status(&d, format, Vec::new()).unwrap()).unwrap();
            let rows = parse_status(&status, file()).unwrap();
            let got: Vec<_> = rows
                .iter()
                .map(|r| (r.ip, r.tag.as_str(), r.vhosts, r.users))
                .collect();
            assert_eq!(got, [(ip("10.0.0.10"), "", 1, 1)], "{status}");
            let map =
                String::from_utf8(write_map(&mut d, &names, None, format, Vec::new()).unwrap()).unwrap();
            let rows = parse_map(&map, file()).unwrap();
            assert_eq!(rows.len(), 1, "{map}");
            assert_eq!(
                (rows[0].user.as_deref(), rows[0].ip),
                (Some("bob"), ip("10.0.0.10"))
            );
        }
    }

    #[test]
    fn never_panics() {
        for text in [
            STATUS_TABLE,
            "user hash mail server ip expire time\nu 1 10.0.0.1 2024-03-01 12:00:00\n",
        ] {
            for cut in 0..text.len() {
                let _ = parse_status(&text[..cut], file());
                let _ = parse_map(&text[..cut], file());
            }
        }
        let _ = parse_status(
            "mail server ip vhosts users\n\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\n",
            file(),
        );
    }
}
