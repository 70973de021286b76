//! The per-step tables in the seed document's shape (design.md "Per-step
//! tables"), or doveadm's own `status` layout (`--format doveadm`).

use std::io::{self, Write};

use crate::scenario::duration::format_duration_ms;
use crate::sim::metrics::max_over_mean;
use crate::sim::{RunResult, StepRecord};

/// Which table layout to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableStyle {
    /// backend / vhosts / users / connections / hash share, by name.
    Seed,
    /// `doveadm director status` exactly (spec §7.1).
    Doveadm,
}

/// `hh:mm:ss`, or `Nd hh:mm:ss` past a day.
pub fn clock(ms: u64) -> String {
    let s = ms / 1000;
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d}d {h:02}:{m:02}:{sec:02}")
    } else {
        format!("{h:02}:{m:02}:{sec:02}")
    }
}

/// All step tables, blank-line separated.
pub fn write_steps(r: &RunResult, style: TableStyle, out: &mut impl Write) -> io::Result<()> {
    for (i, s) in r.steps.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        write_step(r, s, style, out)?;
    }
    Ok(())
}

/// One step: its header, what it did, its table.
pub fn write_step(r: &RunResult, s: &StepRecord, style: TableStyle, out: &mut impl Write) -> io::Result<()> {
    let what = if s.index == 0 {
        "start".to_string()
    } else {
        s.command.clone()
    };
    writeln!(out, "step {} at {}  {}", s.index, clock(s.at_ms), what)?;
    if s.index > 0 {
        writeln!(
            out,
            "  moved {} users, kicked {} connections, settled after {}",
            s.moved,
            s.kicked,
            format_duration_ms(s.settled_ms - s.at_ms)
        )?;
    }
    if let Some(e) = &s.error {
        writeln!(out, "  refused: {e}")?;
    }
    for line in s.output.lines() {
        writeln!(out, "  | {line}")?;
    }
    match style {
        TableStyle::Doveadm => out.write_all(s.doveadm.as_bytes()),
        TableStyle::Seed => write_seed_table(r, s, out),
    }
}

fn write_seed_table(r: &RunResult, s: &StepRecord, out: &mut impl Write) -> io::Result<()> {
    let rows: Vec<_> = s.rows.iter().filter(|row| !row.removed).collect();
    let w = rows
        .iter()
        .map(|row| r.backends[row.backend].name.len())
        .max()
        .unwrap_or(0)
        .max("backend".len());
    writeln!(out, "{:<w$}  vhosts  users  connections  hash share", "backend")?;
    for row in &rows {
        let vh = if row.down {
            format!("{} down", row.vhosts)
        } else {
            row.vhosts.to_string()
        };
        writeln!(
            out,
            "{:<w$}  {:>6}  {:>5}  {:>11}  {:>9.1}%",
            r.backends[row.backend].name,
            vh,
            row.users,
            row.connections,
            row.hash_share * 100.0
        )?;
    }
    let total: u64 = rows.iter().map(|row| row.users as u64).sum();
    let n = rows.len().max(1) as u64;
    let mean = if total.is_multiple_of(n) {
        (total / n).to_string()
    } else {
        format!("{:.1}", total as f64 / n as f64)
    };
    let owned: Vec<_> = rows.iter().map(|r| **r).collect();
    writeln!(
        out,
        "total users = {total}, {total}/{n} = {mean} per backend, max/mean = {:.2}",
        max_over_mean(&owned)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks() {
        assert_eq!(clock(0), "00:00:00");
        assert_eq!(clock(600_000), "00:10:00");
        assert_eq!(clock(90_061_000), "1d 01:01:01");
    }
}
