//! Reports of a run: the per-step tables (text), the CSV files, and the
//! output directory. Writers take a [`RunResult`] and an `impl Write`; only
//! [`write_outputs`] touches the file system.

pub mod charts;
pub mod compare;
pub mod csv;
pub mod html;
pub mod outdir;
pub mod table;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::sim::RunResult;

pub use table::TableStyle;

/// A file-system name for a scenario name: lowercase ASCII letters, digits
/// and dashes.
pub fn slug(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
    }
    while s.ends_with('-') {
        s.pop();
    }
    if s.is_empty() { "scenario".into() } else { s }
}

/// Writes `bytes` to `path` atomically: a temporary file next to it, then a
/// rename, so a reader never sees half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// Writes `steps.txt`, `steps.csv`, `timeseries.csv` and `summary.csv` into
/// `dir` (created if needed), and with `charts` also each chart as PNG and
/// SVG and `report.html`, and the [`outdir::MARKER`] that tells later runs
/// the directory is dirsim's. Returns the paths written. Commands write
/// into an [`outdir::Staging`] directory, so the set appears all at once.
pub fn write_outputs(
    result: &RunResult,
    style: TableStyle,
    dir: &Path,
    charts: bool,
) -> io::Result<Vec<PathBuf>> {
    fs::create_dir_all(dir)?;
    let mut files: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut txt = Vec::new();
    table::write_steps(result, style, &mut txt)?;
    files.push(("steps.txt", txt));
    let mut b = Vec::new();
    csv::write_steps(result, &mut b)?;
    files.push(("steps.csv", b));
    let mut b = Vec::new();
    csv::write_timeseries(result, &mut b)?;
    files.push(("timeseries.csv", b));
    let mut b = Vec::new();
    csv::write_summary(result, &mut b)?;
    files.push(("summary.csv", b));
    let mut named: Vec<(String, Vec<u8>)> = files.into_iter().map(|(n, b)| (n.to_string(), b)).collect();
    if charts {
        let mut svgs = Vec::new();
        for (c, png, svg) in charts::render_all(result)? {
            named.push((format!("{}.png", c.name()), png));
            named.push((format!("{}.svg", c.name()), svg.clone().into_bytes()));
            svgs.push((c, svg));
        }
        let mut b = Vec::new();
        html::write_report(result, &svgs, &mut b)?;
        named.push(("report.html".to_string(), b));
    }
    named.push((outdir::MARKER.to_string(), outdir::marker_text().into_bytes()));
    let mut written = Vec::new();
    for (name, bytes) in named {
        let p = dir.join(name);
        write_atomic(&p, &bytes)?;
        written.push(p);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(
            slug("Rebalancing backends: the documented procedure"),
            "rebalancing-backends-the-documented-procedure"
        );
        assert_eq!(slug("  ##  "), "scenario");
        assert_eq!(slug("A--b"), "a-b");
    }
}
