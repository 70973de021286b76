//! The one error type of scenario loading: where (file, line, column, key)
//! and what (the bad value and what was expected).
//!
//! Positions come from byte spans: [`serde_spanned::Spanned`] values and
//! toml's own error spans are turned into 1-based lines and columns
//! (columns count characters, as editors do). Toml's key path is private, so
//! for toml's errors the path is rebuilt by locating the span in toml's
//! spanned document tree.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

/// A scenario (or an imported status/map/users file) that cannot be used.
///
/// Loading stops at the first error: a scenario is either fully valid or
/// not run at all. Display is `file:line:column: field: message`, with the
/// missing parts left out, so editors and terminals can jump to the spot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file at fault (the scenario, or a file it refers to).
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column in characters, when known.
    pub column: Option<usize>,
    /// Dotted key path such as `backend[2].vhosts` or `step[3].run`
    /// (0-based array indices), or a column title for imported files.
    pub field: Option<String>,
    /// What is wrong and what was expected, quoting the bad value.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ScenarioError {}

impl ScenarioError {
    /// An error about a whole file (unreadable, empty, ...).
    pub fn in_file(file: &Path, message: impl Into<String>) -> Self {
        ScenarioError {
            file: file.to_path_buf(),
            line: None,
            column: None,
            field: None,
            message: message.into(),
        }
    }

    /// An error at a 1-based line and column of `file`.
    pub fn at_line(file: &Path, line: usize, column: Option<usize>, message: impl Into<String>) -> Self {
        ScenarioError {
            line: Some(line),
            column,
            ..Self::in_file(file, message)
        }
    }

    /// Sets the key path.
    #[must_use]
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

/// 1-based (line, column) of byte `offset` in `text`; the column counts
/// characters. Offsets past the end or inside a character are clamped.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// The scenario text being checked, for turning spans into positions.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Source<'a> {
    pub file: &'a Path,
    pub text: &'a str,
}

impl Source<'_> {
    /// An error pointing at the start of `span`, about key `field`.
    pub fn error(
        &self,
        span: Range<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        let (line, col) = line_col(self.text, span.start);
        ScenarioError::at_line(self.file, line, Some(col), message).with_field(field)
    }

    /// An error about key `field` with no position (e.g. a missing key).
    pub fn error_nowhere(&self, field: impl Into<String>, message: impl Into<String>) -> ScenarioError {
        ScenarioError::in_file(self.file, message).with_field(field)
    }

    /// Converts toml's error (syntax, wrong type, unknown field, missing
    /// field), keeping its position and finding its key path.
    pub fn toml_error(&self, err: &toml::de::Error) -> ScenarioError {
        let message = friendly(err.message());
        let Some(span) = err.span() else {
            return ScenarioError::in_file(self.file, message);
        };
        let (line, col) = line_col(self.text, span.start);
        let mut e = ScenarioError::at_line(self.file, line, Some(col), message);
        // A syntax error still leaves the keys before it in the tree, but
        // a broken `[table]` header leaves a tree that misleads: there the
        // header line itself names the table.
        let line_start = self.text[..span.start.min(self.text.len())]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let mut path = String::new();
        if !self.text[line_start..].trim_start().starts_with('[') {
            let (doc, _) = DeTable::parse_recoverable(self.text);
            key_path(doc.get_ref(), span.start, &mut path);
        }
        if path.is_empty() {
            path = key_path_by_lines(self.text, span.start);
        }
        if !path.is_empty() {
            e.field = Some(path);
        }
        e
    }
}

/// Serde's type names (`i64`, ...) in words, and one line.
fn friendly(message: &str) -> String {
    let mut m = message.trim_end().replace('\n', "; ");
    for (rust, words) in [
        ("expected i64", "expected an integer"),
        ("expected u64", "expected a non-negative integer"),
        ("expected f64", "expected a number"),
    ] {
        if m.ends_with(rust) {
            m.replace_range(m.len() - rust.len().., words);
        }
    }
    m
}

/// Appends to `path` the keys leading to the innermost key or value that
/// contains byte `offset`.
fn key_path(table: &DeTable<'_>, offset: usize, path: &mut String) {
    for (key, value) in table {
        let in_key = key.span().contains(&offset);
        let in_value = value.span().contains(&offset) || value.span().start == offset;
        if !(in_key || in_value || value_contains(value.get_ref(), offset)) {
            continue;
        }
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key.get_ref());
        if !in_key {
            value_path(value.get_ref(), offset, path);
        }
        return;
    }
}

fn value_path(value: &DeValue<'_>, offset: usize, path: &mut String) {
    match value {
        DeValue::Table(t) => key_path(t, offset, path),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if item.span().contains(&offset) || value_contains(item.get_ref(), offset) {
                    path.push_str(&format!("[{i}]"));
                    value_path(item.get_ref(), offset, path);
                    return;
                }
            }
        }
        _ => {}
    }
}

/// The key path of the line holding `offset`, read off the text: the last
/// `[table]` / `[[array]]` header before it (arrays counted) and the bare
/// key the line starts with. For syntax errors, where no tree exists.
fn key_path_by_lines(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let mut table = String::new();
    let mut arrays: Vec<(String, usize)> = Vec::new();
    for line in text[..line_start].lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("[[").and_then(|l| l.split("]]").next()) {
            let name = name.trim().to_string();
            let n = match arrays.iter_mut().find(|(a, _)| *a == name) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    arrays.push((name.clone(), 0));
                    0
                }
            };
            table = format!("{name}[{n}]");
        } else if let Some(name) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
            table = name.trim().to_string();
        }
    }
    let line = text[line_start..].lines().next().unwrap_or("");
    if line.trim_start().starts_with('[') {
        // A broken header: name the table it was meant to open.
        return line.trim().trim_matches(['[', ']']).trim().to_string();
    }
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim())
        .filter(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)));
    match (table.is_empty(), key) {
        (_, None) => table,
        (true, Some(k)) => k.to_string(),
        (false, Some(k)) => format!("{table}.{k}"),
    }
}

/// Whether any key or value nested in `value` contains `offset`. Needed
/// because a `[[table]]` element's own span may cover only its header.
fn value_contains(value: &DeValue<'_>, offset: usize) -> bool {
    match value {
        DeValue::Table(t) => t.iter().any(|(k, v)| {
            k.span().contains(&offset) || v.span().contains(&offset) || value_contains(v.get_ref(), offset)
        }),
        DeValue::Array(items) => items
            .iter()
            .any(|v| v.span().contains(&offset) || value_contains(v.get_ref(), offset)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_display() {
        assert_eq!(line_col("ab\ncdé\nx", 0), (1, 1));
        assert_eq!(line_col("ab\ncdé\nx", 3), (2, 1));
        assert_eq!(line_col("ab\ncdé\nx", 8), (3, 1));
        assert_eq!(line_col("ab", 99), (1, 3));
        let e = ScenarioError::at_line(Path::new("s.toml"), 3, Some(7), "bad").with_field("backend[0].ip");
        assert_eq!(e.to_string(), "s.toml:3:7: backend[0].ip: bad");
        assert_eq!(
            ScenarioError::in_file(Path::new("s.toml"), "bad").to_string(),
            "s.toml: bad"
        );
    }
}
