//! doveadm's `table` and `tab` output formatters, reproduced byte for byte
//! (spec §7 "Exact output formats").
//!
//! Output is diffed against real `doveadm director status` / `map` output
//! and parsed by scripts, so widths, padding and trailing spaces follow
//! Dovecot 2.3's `doveadm-print-table.c` / `doveadm-print-tab.c`, quirks
//! included: table widths come from the titles and the first 100 rows only
//! (later rows overflow, nothing is truncated); titles count bytes, values
//! UTF-8 characters; the shrink pass never lowers its running total; a hidden
//! title still sizes its column and is printed unless all titles are hidden;
//! the last column is padded too. The tab format ignores per-header
//! `hide_title`, escapes nothing, and prints its title line even with no
//! rows. The title line goes to the same writer as the rows, first.

use std::io::{self, ErrorKind::InvalidInput, Write};

/// Rows buffered to compute table widths (`MAX_BUFFER_LINES`).
const MAX_BUFFER_LINES: usize = 100;
/// Padding source, written in chunks so padding never allocates.
const SPACES: [u8; 64] = [b' '; 64];

/// Per-column flags (`DOVEADM_PRINT_HEADER_FLAG_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct HeaderFlags {
    /// The first column with this flag receives the table's spare width.
    pub expand: bool,
    /// Title omitted, but only when every header has this flag (table only).
    pub hide_title: bool,
    /// Pad on the left instead of the right (table only).
    pub right_justify: bool,
}

/// One column: its title and flags.
#[derive(Clone, Debug)]
pub struct Header {
    /// Column title; its byte length is the column's starting width.
    pub title: String,
    /// Layout flags.
    pub flags: HeaderFlags,
}

impl Header {
    /// A column titled `title`, without flags.
    pub fn new(title: &str) -> Self {
        Header {
            title: title.to_owned(),
            flags: HeaderFlags::default(),
        }
    }

    /// Sets [`HeaderFlags::expand`].
    pub fn expand(mut self) -> Self {
        self.flags.expand = true;
        self
    }

    /// Sets [`HeaderFlags::hide_title`].
    pub fn hide_title(mut self) -> Self {
        self.flags.hide_title = true;
        self
    }

    /// Sets [`HeaderFlags::right_justify`].
    pub fn right_justify(mut self) -> Self {
        self.flags.right_justify = true;
        self
    }
}

/// Which doveadm formatter to reproduce (`doveadm -f`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrintFormat {
    /// Aligned columns fitted to `columns` (doveadm: 80 when stdout is not a
    /// terminal, else the terminal width but at least 30; used as given).
    Table {
        /// Target line width.
        columns: usize,
    },
    /// Tab-separated values, a title line first.
    Tab,
}

/// Streaming printer: rows are pushed one at a time; memory stays bounded
/// (only the first 100 rows are ever buffered), so printing 10 million rows
/// is fine.
///
/// Output is written in many small pieces: hand it a buffered writer.
pub struct Printer<W: Write> {
    out: W,
    format: PrintFormat,
    headers: Vec<Header>,
    hide_titles: bool,
    /// Table: buffered values, row after row, until widths are fixed.
    buffered: Vec<String>,
    /// Table: final column widths, once computed.
    widths: Option<Vec<usize>>,
    /// Tab: the title line has been dealt with.
    tab_started: bool,
}

impl<W: Write> Printer<W> {
    /// A printer writing to `out` in `format`, one column per header.
    pub fn new(out: W, format: PrintFormat, headers: Vec<Header>) -> Self {
        Printer {
            out,
            format,
            headers,
            hide_titles: false,
            buffered: Vec::new(),
            widths: None,
            tab_started: false,
        }
    }

    /// doveadm's global "hide titles" (`doveadm -h`): no title line at all.
    pub fn hide_titles(mut self, yes: bool) -> Self {
        self.hide_titles = yes;
        self
    }

    /// Push one row; values.len() must equal the number of headers
    /// (panic-free: return an io::Error of kind InvalidInput otherwise).
    pub fn row(&mut self, values: &[&str]) -> io::Result<()> {
        let n = self.headers.len();
        if values.len() != n {
            return Err(io::Error::new(InvalidInput, "value count != header count"));
        }
        if n == 0 {
            return Ok(());
        }
        match self.format {
            PrintFormat::Tab => {
                self.start_tab()?;
                write_tab_line(&mut self.out, values.iter().copied())
            }
            PrintFormat::Table { columns } => {
                if self.widths.is_none() {
                    if self.buffered.len() < MAX_BUFFER_LINES * n {
                        self.buffered.extend(values.iter().map(|v| (*v).to_owned()));
                        return Ok(());
                    }
                    self.flush_table(columns)?;
                }
                let widths = self.widths.as_deref().unwrap_or_default();
                write_row(&mut self.out, &self.headers, widths, values)
            }
        }
    }

    /// Flush buffered rows (and the title line if nothing printed yet). Must
    /// be called at the end; returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        match self.format {
            PrintFormat::Tab => self.start_tab()?,
            PrintFormat::Table { columns } => {
                if self.widths.is_none() && !self.headers.is_empty() {
                    self.flush_table(columns)?;
                }
            }
        }
        self.out.flush()?;
        Ok(self.out)
    }

    /// Tab: writes the title line once (titles, then "\n" before any value).
    fn start_tab(&mut self) -> io::Result<()> {
        if self.tab_started {
            return Ok(());
        }
        self.tab_started = true;
        if self.hide_titles {
            return Ok(());
        }
        let titles = self.headers.iter().map(|h| h.title.as_str());
        write_tab_line(&mut self.out, titles)
    }

    /// Table: fixes the widths, writes the title line and the buffered rows.
    fn flush_table(&mut self, columns: usize) -> io::Result<()> {
        let n = self.headers.len();
        let buffered = std::mem::take(&mut self.buffered);
        let widths = compute_widths(&self.headers, &buffered, columns);
        let all_hidden = self.headers.iter().all(|h| h.flags.hide_title);
        if !self.hide_titles && !all_hidden {
            for (i, (header, &width)) in self.headers.iter().zip(&widths).enumerate() {
                if i > 0 {
                    self.out.write_all(b" ")?;
                }
                // Titles go through a plain `%-*s`: padded by bytes.
                let title = &header.title;
                let pad = width.saturating_sub(title.len());
                write_padded(&mut self.out, title, pad, header.flags.right_justify)?;
            }
            self.out.write_all(b"\n")?;
        }
        for row in buffered.chunks(n) {
            write_row(&mut self.out, &self.headers, &widths, row)?;
        }
        self.widths = Some(widths);
        Ok(())
    }
}

/// Column widths from the titles and the buffered rows (`buffered` holds
/// whole rows, `headers.len()` values each), fitted to `columns`.
fn compute_widths(headers: &[Header], buffered: &[String], columns: usize) -> Vec<usize> {
    let mut length: Vec<usize> = headers.iter().map(|h| h.title.len()).collect();
    let mut min_length = length.clone();
    let mut max_length = length.clone();
    for row in buffered.chunks(headers.len()) {
        for (i, value) in row.iter().enumerate() {
            let len = value.chars().count();
            min_length[i] = min_length[i].min(len);
            if len > max_length[i] {
                max_length[i] = len;
                length[i] = len;
            }
        }
    }
    // +1 for the space between fields.
    let mut total = max_length.iter().map(|m| m + 1).sum::<usize>() - 1;
    while total > columns {
        let orig_total = total;
        for i in (0..headers.len()).rev() {
            let diff = length[i] - min_length[i];
            if total - diff <= columns {
                length[i] -= total - columns;
                total = columns;
                break;
            }
            // Dovecot leaves `total` alone here: reproduced on purpose.
            if diff > 0 {
                length[i] -= if diff == 1 { 1 } else { diff / 2 };
            }
        }
        if total == orig_total {
            break;
        }
    }
    if total < columns {
        let last = headers.len() - 1;
        let i = headers.iter().position(|h| h.flags.expand).unwrap_or(last);
        length[i] += (columns - total) / 2;
    }
    length
}

/// Writes `items` separated by tabs, unescaped, then "\n".
fn write_tab_line<'a, W: Write>(out: &mut W, items: impl Iterator<Item = &'a str>) -> io::Result<()> {
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.write_all(b"\t")?;
        }
        out.write_all(item.as_bytes())?;
    }
    out.write_all(b"\n")
}

/// Writes one table row: cells padded by characters, one space apart, "\n".
fn write_row<S: AsRef<str>>(
    out: &mut impl Write,
    hdrs: &[Header],
    widths: &[usize],
    values: &[S],
) -> io::Result<()> {
    for (i, ((header, &width), value)) in hdrs.iter().zip(widths).zip(values).enumerate() {
        if i > 0 {
            out.write_all(b" ")?;
        }
        let value = value.as_ref();
        let pad = width.saturating_sub(value.chars().count());
        write_padded(out, value, pad, header.flags.right_justify)?;
    }
    out.write_all(b"\n")
}

/// Writes `text` with `pad` spaces after it, or before it when `right`.
fn write_padded<W: Write>(out: &mut W, text: &str, pad: usize, right: bool) -> io::Result<()> {
    if !right {
        out.write_all(text.as_bytes())?;
    }
    for start in (0..pad).step_by(SPACES.len()) {
        out.write_all(&SPACES[..SPACES.len().min(pad - start)])?;
    }
    if right {
        out.write_all(text.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn render(format: PrintFormat, headers: Vec<Header>, rows: &[&[&str]], hide: bool) -> String {
        let mut p = Printer::new(Vec::new(), format, headers).hide_titles(hide);
        for row in rows {
            p.row(row).unwrap();
        }
        String::from_utf8(p.finish().unwrap()).unwrap()
    }

    fn table(cols: usize, headers: Vec<Header>, rows: &[&[&str]]) -> String {
        render(PrintFormat::Table { columns: cols }, headers, rows, false)
    }

    /// Flagless headers from `|`-separated titles.
    fn simple(titles: &str) -> Vec<Header> {
        titles.split('|').map(Header::new).collect()
    }

    const STATUS: &str = "mail server ip|tag|vhosts|state|state changed|users";

    #[test]
    fn status_example() {
        let rows: &[&[&str]] = &[
            &["10.0.0.1", "", "100", "up", "-", "125"],
            &["10.0.0.2", "", "0", "up", "-", "144"],
            &["10.0.0.3", "", "100", "down", "2024-03-01 12:00:00", "115"],
        ];
        assert_eq!(
            table(80, simple(STATUS), rows),
            "mail server ip tag vhosts state state changed       users           \n\
             10.0.0.1           100    up    -                   125             \n\
             10.0.0.2           0      up    -                   144             \n\
             10.0.0.3           100    down  2024-03-01 12:00:00 115             \n"
        );
    }

    #[test]
    fn map_example_expands_user() {
        // Widths 9,10,14,19: total 55, user gets (80-55)/2 = 12 more -> 21.
        let mut headers = simple("user|hash|mail server ip|expire time");
        headers[0] = Header::new("user").expand();
        let rows: &[&[&str]] = &[
            &["user1", "617210206", "10.0.0.3", "2024-03-01 12:15:00"],
            &["<unknown>", "2458352375", "10.0.0.2", "2024-03-01 12:16:40"],
        ];
        assert_eq!(
            table(80, headers, rows),
            "user                  hash       mail server ip expire time        \n\
             user1                 617210206  10.0.0.3       2024-03-01 12:15:00\n\
             <unknown>             2458352375 10.0.0.2       2024-03-01 12:16:40\n"
        );
    }

    #[test]
    fn hidden_title_single_column() {
        // `map -u`: width 9 (value; title "hash" is 4), +35 -> 44, no title line.
        let hdr = vec![Header::new("hash").hide_title()];
        let out = table(80, hdr, &[&["617210206"]]);
        assert_eq!(out, "617210206                                   \n");
        // The hidden title still counts: "mail server ip" (14) beats "1.2".
        let hdr = vec![Header::new("mail server ip").hide_title()];
        assert_eq!(table(14, hdr, &[&["1.2"]]), "1.2           \n");
        // ...and is printed when some other title is visible.
        let hdr = vec![Header::new("a").hide_title(), Header::new("b")];
        assert_eq!(table(3, hdr, &[&["x", "y"]]), "a b\nx y\n");
    }

    #[test]
    fn shrinking() {
        // min/max: id 1/2, name 4/41, description 11/33; total 78.
        let name = "a-name-that-is-exactly-forty-one-chars-xx";
        assert_eq!(name.len(), 41);
        let desc = "a very long description text here";
        assert_eq!(desc.len(), 33);
        let hdr = || simple("id|name|description");
        let rows: &[&[&str]] = &[&["1", "alice", "short description"], &["22", name, desc]];
        // 30 columns: desc 33-11 -> 22, name 41-18 -> 23, id 2-1 -> 1; the
        // total stays 78, so the pass ends and nothing more happens.
        assert_eq!(
            table(30, hdr(), rows),
            "id name                    description           \n\
             1 alice                   short description     \n\
             22 a-name-that-is-exactly-forty-one-chars-xx a very long description text here\n"
        );
        // 50 columns: desc 33 -> 22 (78-22 > 50), then name: 78-37 <= 50 so
        // name -= 78-50 -> 13, although the real width is now only 39.
        assert_eq!(
            table(50, hdr(), rows),
            "id name          description           \n\
             1  alice         short description     \n\
             22 a-name-that-is-exactly-forty-one-chars-xx a very long description text here\n"
        );
    }

    #[test]
    fn utf8_pads_by_characters() {
        // name 6 ("Jürgen"), city 6 ("Zürich"); total 13, +8 -> 14.
        let hdr = vec![Header::new("name"), Header::new("city").right_justify()];
        let rows: &[&[&str]] = &[&["Jürgen", "Köln"], &["ab", "Zürich"]];
        assert_eq!(
            table(30, hdr, rows),
            "name             city\nJürgen           Köln\nab             Zürich\n"
        );
    }

    #[test]
    fn row_101_overflows() {
        // Widths from 100 rows: id 2, v 1; total 4, +13 -> 14.
        let mut rows: Vec<&[&str]> = vec![&["r", "a"]; 100];
        rows.extend::<[&[&str]; 2]>([&["long-id", "b"], &["r", "c"]]);
        let out = table(30, simple("id|v"), &rows);
        let expected = format!(
            "id v             \n{}long-id b             \nr  c             \n",
            "r  a             \n".repeat(100)
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn tab_format() {
        let hdr = || vec![Header::new("user").expand(), Header::new("x").hide_title()];
        let rows: &[&[&str]] = &[&["user1", "617210206"], &["a b\tc", ""]];
        let out = render(PrintFormat::Tab, hdr(), rows, false);
        assert_eq!(out, "user\tx\nuser1\t617210206\na b\tc\t\n");
        let out = render(PrintFormat::Tab, hdr(), rows, true);
        assert_eq!(out, "user1\t617210206\na b\tc\t\n");
        assert_eq!(render(PrintFormat::Tab, hdr(), &[], false), "user\tx\n");
        assert_eq!(render(PrintFormat::Tab, hdr(), &[], true), "");
        let mut p = Printer::new(Vec::new(), PrintFormat::Tab, hdr());
        assert_eq!(p.row(&["x"]).unwrap_err().kind(), InvalidInput);
    }

    #[test]
    fn zero_rows() {
        // Widths 14,3,6,5,13,5: total 51, users gets +14 -> 19.
        assert_eq!(
            table(80, simple(STATUS), &[]),
            "mail server ip tag vhosts state state changed users              \n"
        );
        let hidden = PrintFormat::Table { columns: 80 };
        assert_eq!(render(hidden, simple(STATUS), &[], true), "");
        assert_eq!(table(80, vec![], &[]), "");
    }

    proptest! {
        #[test]
        fn values_survive(
            cols in 30usize..120,
            ncols in 1usize..4,
            rows in prop::collection::vec(prop::collection::vec("[a-zé]{1,12}", 4), 0..130),
        ) {
            let headers: Vec<Header> = (0..ncols).map(|i| Header::new(&format!("h{i}"))).collect();
            let rows: Vec<Vec<&str>> =
                rows.iter().map(|r| r[..ncols].iter().map(|s| s.as_str()).collect()).collect();
            let refs: Vec<&[&str]> = rows.iter().map(|r| r.as_slice()).collect();
            let out = table(cols, headers.clone(), &refs);
            let lines: Vec<&str> = out.lines().collect();
            prop_assert_eq!(lines.len(), rows.len() + 1);
            for (line, row) in lines[1..].iter().zip(&rows) {
                prop_assert_eq!(&line.split_whitespace().collect::<Vec<_>>(), row);
            }
            let tab = render(PrintFormat::Tab, headers, &refs, true);
            let parsed: Vec<Vec<&str>> = tab.lines().map(|l| l.split('\t').collect()).collect();
            prop_assert_eq!(parsed, rows);
        }
    }
}
