//! `compare`'s files: `compare.csv` (one row per run),
//! `compare-timeseries.csv` (imbalance samples per run), `compare-study.txt`
//! (what was compared, so shards can be checked before merging), and
//! `compare-summary.csv` (mean and 95% interval per metric per pair).

use std::fmt::Write as _;
use std::path::Path;

use super::stats::{Estimate, estimate};
use super::{Pair, RunMetrics, Study};

/// The metrics summarised, in column order: (key, title).
pub const METRICS: &[(&str, &str)] = &[
    ("users_moved", "users moved"),
    ("connections_kicked", "kicked"),
    ("logins_delayed", "logins delayed"),
    ("logins_failed", "logins failed"),
    ("final_imbalance", "final imbalance"),
    ("peak_imbalance", "peak imbalance"),
    ("settle_s", "balanced after (s)"),
    ("moves_done_s", "moves done (s)"),
    ("commands", "commands"),
];

/// A metric's value in one run (`None`: "never").
pub fn value(m: &RunMetrics, key: &str) -> Option<f64> {
    Some(match key {
        "users_moved" => m.users_moved as f64,
        "connections_kicked" => m.connections_kicked as f64,
        "logins_delayed" => m.logins_delayed as f64,
        "logins_failed" => m.logins_failed as f64,
        "final_imbalance" => m.final_imbalance,
        "peak_imbalance" => m.peak_imbalance,
        "settle_s" => return m.settle_s,
        "moves_done_s" => m.moves_done_s,
        "commands" => m.commands as f64,
        _ => return None,
    })
}

/// `compare-study.txt`: the study's identity (`shard` excluded).
pub fn study_text(scenario: &str, study: &Study) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "scenario = {scenario}");
    let _ = writeln!(s, "seed = {}", study.seed);
    let _ = writeln!(s, "replications = {}", study.replications);
    let _ = writeln!(s, "tolerance = {}", study.tolerance);
    for p in &study.pairs {
        let _ = writeln!(s, "pair = {} | {}", p.strategy, p.placement.name());
    }
    s
}

/// Parses `compare-study.txt` back.
pub fn parse_study(text: &str) -> Result<(String, Study), String> {
    let mut scenario = None;
    let mut study = Study {
        pairs: Vec::new(),
        replications: 0,
        seed: 0,
        tolerance: 0.1,
    };
    for (i, line) in text.lines().enumerate() {
        let Some((k, v)) = line.split_once(" = ") else {
            return Err(format!("line {}: expected `key = value`", i + 1));
        };
        let bad = |what: &str| format!("line {}: invalid {what} {v:?}", i + 1);
        match k {
            "scenario" => scenario = Some(v.to_string()),
            "seed" => study.seed = v.parse().map_err(|_| bad("seed"))?,
            "replications" => study.replications = v.parse().map_err(|_| bad("replications"))?,
            "tolerance" => study.tolerance = v.parse().map_err(|_| bad("tolerance"))?,
            "pair" => {
                let (s, p) = v.split_once(" | ").ok_or_else(|| bad("pair"))?;
                study.pairs.push(Pair {
                    strategy: s.parse().map_err(|e| format!("line {}: {e}", i + 1))?,
                    placement: crate::director::placement::Placement::parse(p)
                        .map_err(|e| format!("line {}: {e}", i + 1))?,
                });
            }
            _ => return Err(format!("line {}: unknown key {k:?}", i + 1)),
        }
    }
    Ok((scenario.ok_or("no scenario line")?, study))
}

/// `compare.csv` and `compare-timeseries.csv` text for `runs`.
pub fn runs_csv(study: &Study, runs: &[RunMetrics]) -> (String, String) {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut t = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "pair",
        "strategy",
        "placement",
        "replication",
        "seed",
        "users_moved",
        "connections_kicked",
        "logins_delayed",
        "logins_failed",
        "final_imbalance",
        "peak_imbalance",
        "settle_s",
        "moves_done_s",
        "commands",
    ]);
    let _ = t.write_record(["pair", "replication", "time_s", "imbalance"]);
    for m in runs {
        let p = &study.pairs[m.pair];
        let _ = w.write_record([
            m.pair.to_string(),
            p.strategy.to_string(),
            p.placement.name(),
            m.replication.to_string(),
            m.seed.to_string(),
            m.users_moved.to_string(),
            m.connections_kicked.to_string(),
            m.logins_delayed.to_string(),
            m.logins_failed.to_string(),
            format!("{:.6}", m.final_imbalance),
            format!("{:.6}", m.peak_imbalance),
            m.settle_s
                .map_or_else(|| "never".to_string(), |s| format!("{s:.3}")),
            format!("{:.3}", m.moves_done_s),
            m.commands.to_string(),
        ]);
        for &(time, imb) in &m.series {
            let _ = t.write_record([
                m.pair.to_string(),
                m.replication.to_string(),
                format!("{time:.3}"),
                format!("{imb:.6}"),
            ]);
        }
    }
    let text =
        |w: csv::Writer<Vec<u8>>| String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default();
    (text(w), text(t))
}

/// Reads `compare.csv` and `compare-timeseries.csv` back into runs.
pub fn parse_runs(runs_csv: &str, series_csv: &str, file: &Path) -> Result<Vec<RunMetrics>, String> {
    let err = |line: u64, e: String| format!("{}:{line}: {e}", file.display());
    let mut out: Vec<RunMetrics> = Vec::new();
    let mut r = csv::Reader::from_reader(runs_csv.as_bytes());
    for rec in r.records() {
        let rec = rec.map_err(|e| err(0, e.to_string()))?;
        let line = rec.position().map_or(0, |p| p.line());
        if rec.len() != 14 {
            return Err(err(line, format!("expected 14 fields, found {}", rec.len())));
        }
        let num = |i: usize| -> Result<f64, String> {
            rec[i]
                .parse::<f64>()
                .map_err(|_| err(line, format!("field {} is not a number: {:?}", i + 1, &rec[i])))
        };
        out.push(RunMetrics {
            pair: num(0)? as usize,
            replication: num(3)? as u32,
            seed: rec[4].parse().map_err(|_| err(line, "bad seed".into()))?,
            users_moved: num(5)? as u64,
            connections_kicked: num(6)? as u64,
            logins_delayed: num(7)? as u64,
            logins_failed: num(8)? as u64,
            final_imbalance: num(9)?,
            peak_imbalance: num(10)?,
            settle_s: if &rec[11] == "never" { None } else { Some(num(11)?) },
            moves_done_s: num(12)?,
            commands: num(13)? as u64,
            series: Vec::new(),
        });
    }
    let index: rustc_hash::FxHashMap<(usize, u32), usize> = out
        .iter()
        .enumerate()
        .map(|(i, m)| ((m.pair, m.replication), i))
        .collect();
    let mut t = csv::Reader::from_reader(series_csv.as_bytes());
    for rec in t.records() {
        let rec = rec.map_err(|e| err(0, e.to_string()))?;
        let line = rec.position().map_or(0, |p| p.line());
        let parse = |i: usize| {
            rec.get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .ok_or_else(|| err(line, "bad field".into()))
        };
        let (pair, rep) = (parse(0)? as usize, parse(1)? as u32);
        let i = *index.get(&(pair, rep)).ok_or_else(|| {
            err(
                line,
                format!("samples of an unknown run (pair {pair}, replication {rep})"),
            )
        })?;
        out[i].series.push((parse(2)?, parse(3)?));
    }
    Ok(out)
}

/// Per pair, per metric: the estimate, and how many runs never settled.
pub fn summarise(study: &Study, runs: &[RunMetrics]) -> Vec<Vec<(Estimate, usize)>> {
    (0..study.pairs.len())
        .map(|p| {
            let mine: Vec<&RunMetrics> = runs.iter().filter(|m| m.pair == p).collect();
            METRICS
                .iter()
                .map(|(key, _)| {
                    let vals: Vec<f64> = mine.iter().filter_map(|m| value(m, key)).collect();
                    (estimate(&vals), mine.len() - vals.len())
                })
                .collect()
        })
        .collect()
}

fn fmt_num(v: f64) -> String {
    if v.is_nan() {
        String::new()
    } else {
        format!("{v:.4}")
    }
}

/// `compare-summary.csv`.
pub fn summary_csv(study: &Study, sum: &[Vec<(Estimate, usize)>]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "pair",
        "strategy",
        "placement",
        "metric",
        "mean",
        "ci95",
        "n",
        "never",
    ]);
    for (p, metrics) in sum.iter().enumerate() {
        let pair = &study.pairs[p];
        for ((key, _), (e, never)) in METRICS.iter().zip(metrics) {
            let _ = w.write_record([
                p.to_string(),
                pair.strategy.to_string(),
                pair.placement.name(),
                key.to_string(),
                fmt_num(e.mean),
                fmt_num(e.ci95),
                e.n.to_string(),
                never.to_string(),
            ]);
        }
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// `mean ± ci` for the terminal table.
pub fn pm(e: &Estimate, never: usize, decimals: usize) -> String {
    if e.n == 0 {
        return "never".into();
    }
    let mut s = format!("{:.*}", decimals, e.mean);
    if !e.ci95.is_nan() {
        s.push_str(&format!(" ± {:.*}", decimals, e.ci95));
    }
    if never > 0 {
        s.push_str(&format!(" ({never} never)"));
    }
    s
}

/// The table printed on the terminal (and in `compare.txt`).
pub fn table_text(scenario: &str, study: &Study, sum: &[Vec<(Estimate, usize)>]) -> String {
    let cols = [
        ("users moved", 0, 1),
        ("kicked", 1, 1),
        ("final imbalance", 4, 3),
        ("peak", 5, 3),
        ("balanced after (s)", 6, 1),
        ("moves done (s)", 7, 1),
    ];
    let mut rows: Vec<Vec<String>> = vec![
        std::iter::once("strategy".to_string())
            .chain(cols.iter().map(|c| c.0.to_string()))
            .collect(),
    ];
    for (p, metrics) in sum.iter().enumerate() {
        let mut row = vec![study.pairs[p].label()];
        for &(_, i, d) in &cols {
            row.push(pm(&metrics[i].0, metrics[i].1, d));
        }
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut s = format!(
        "{scenario}: {} strateg{} × {} replications (seeds {}..{}), mean ± 95% interval\n",
        study.pairs.len(),
        if study.pairs.len() == 1 { "y" } else { "ies" },
        study.replications,
        study.seed,
        study.seed + study.replications as u64 - 1
    );
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, v)| {
                if c == 0 {
                    format!("{v:<w$}", w = widths[c])
                } else {
                    format!("{v:>w$}", w = widths[c])
                }
            })
            .collect();
        s.push_str(line.join("  ").trim_end());
        s.push('\n');
    }
    s
}
