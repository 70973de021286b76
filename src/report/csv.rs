//! CSV exports: `steps.csv` (one row per step × backend), `timeseries.csv`
//! (one row per sample × backend) and `summary.csv` (key, value).

use std::io::{self, Write};

use crate::sim::RunResult;

fn secs(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

fn state(down: bool, removed: bool) -> &'static str {
    match (removed, down) {
        (true, _) => "removed",
        (false, true) => "down",
        _ => "up",
    }
}

/// `steps.csv`.
pub fn write_steps(r: &RunResult, out: impl Write) -> io::Result<()> {
    let mut w = ::csv::Writer::from_writer(out);
    w.write_record([
        "step",
        "time_s",
        "settled_s",
        "command",
        "backend",
        "ip",
        "vhosts",
        "state",
        "users",
        "connections",
        "moved",
        "kicked",
    ])?;
    for s in &r.steps {
        for row in &s.rows {
            let b = &r.backends[row.backend];
            w.write_record([
                s.index.to_string(),
                secs(s.at_ms),
                secs(s.settled_ms),
                if s.index == 0 {
                    "start".to_string()
                } else {
                    s.command.clone()
                },
                b.name.clone(),
                b.ip.clone(),
                row.vhosts.to_string(),
                state(row.down, row.removed).to_string(),
                row.users.to_string(),
                row.connections.to_string(),
                s.moved.to_string(),
                s.kicked.to_string(),
            ])?;
        }
    }
    w.flush()
}

/// `timeseries.csv`.
pub fn write_timeseries(r: &RunResult, out: impl Write) -> io::Result<()> {
    let mut w = ::csv::Writer::from_writer(out);
    w.write_record([
        "time_s",
        "backend",
        "ip",
        "vhosts",
        "state",
        "users",
        "connections",
        "total_users",
        "total_connections",
        "imbalance",
        "moved",
        "kicked",
        "logins_delayed",
        "logins_failed",
    ])?;
    for s in &r.samples {
        for row in &s.rows {
            let b = &r.backends[row.backend];
            w.write_record([
                secs(s.t_ms),
                b.name.clone(),
                b.ip.clone(),
                row.vhosts.to_string(),
                state(row.down, row.removed).to_string(),
                row.users.to_string(),
                row.connections.to_string(),
                s.total_users.to_string(),
                s.total_connections.to_string(),
                format!("{:.4}", s.imbalance),
                s.moved.to_string(),
                s.kicked.to_string(),
                s.delayed.to_string(),
                s.failed.to_string(),
            ])?;
        }
    }
    w.flush()
}

/// `summary.csv`.
pub fn write_summary(r: &RunResult, out: impl Write) -> io::Result<()> {
    let mut w = ::csv::Writer::from_writer(out);
    let s = &r.summary;
    let mut rows: Vec<(String, String)> = vec![
        ("scenario".into(), r.name.clone()),
        ("seed".into(), r.seed.to_string()),
        ("duration_s".into(), secs(r.duration_ms)),
        ("users_moved".into(), s.users_moved.to_string()),
        ("connections_kicked".into(), s.connections_kicked.to_string()),
        ("logins".into(), s.logins.to_string()),
        ("logins_delayed".into(), s.logins_delayed.to_string()),
        ("logins_failed".into(), s.logins_failed.to_string()),
        ("final_imbalance".into(), format!("{:.4}", s.final_imbalance)),
        ("peak_imbalance".into(), format!("{:.4}", s.peak_imbalance)),
        ("events".into(), s.events.to_string()),
        ("peak_queue".into(), s.peak_queue.to_string()),
    ];
    for (step, ms) in &s.flush_durations {
        rows.push((format!("flush_duration_s.step{step}"), secs(*ms)));
    }
    w.write_record(["key", "value"])?;
    for (k, v) in rows {
        w.write_record([k, v])?;
    }
    w.flush()
}

/// `stats.csv` (key, value): wall-clock figures, written only with
/// `dirsim run --stats`.
pub fn write_stats(s: &crate::sim::RunStats, out: impl Write) -> io::Result<()> {
    let mut w = ::csv::Writer::from_writer(out);
    w.write_record(["key", "value"])?;
    for (k, v) in s.rows() {
        w.write_record([k, v.as_str()])?;
    }
    w.flush()
}
