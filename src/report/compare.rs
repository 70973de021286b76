//! The comparison report of `dirsim compare`: `compare-imbalance.png/.svg`
//! (imbalance over simulated time, mean and min–max over replications, per
//! pair), `compare-moved.png/.svg` (users moved against final imbalance,
//! means with 95% intervals) and `compare.html` (the study, the summary
//! table, both charts inline and every run).
//!
//! The output depends only on the arguments: pairs and runs are taken in
//! the order given, sums run in that order, floats are printed with fixed
//! decimals, and each file is drawn on its own.

mod charts;
mod html;

use std::io;

use crate::compare::io::METRICS;
use crate::compare::stats::Estimate;
use crate::compare::{RunMetrics, Study};

/// Every file of the comparison report: (file name, bytes).
pub fn render(
    name: &str,
    study: &Study,
    runs: &[RunMetrics],
    sum: &[Vec<(Estimate, usize)>],
) -> io::Result<Vec<(&'static str, Vec<u8>)>> {
    let figs = charts::Figures::new(name, study, runs, sum);
    let drawn = figs.render_all()?;
    let mut files: Vec<(&'static str, Vec<u8>)> = Vec::with_capacity(5);
    let mut svgs = Vec::with_capacity(2);
    for (fig, png, svg) in drawn {
        let (png_name, svg_name) = fig.files();
        files.push((png_name, png));
        files.push((svg_name, svg.clone().into_bytes()));
        svgs.push((fig, svg));
    }
    let page = html::page(name, study, runs, sum, &svgs);
    files.push(("compare.html", page.into_bytes()));
    Ok(files)
}

/// Imbalance over time of one pair across its replications, on the union of
/// their sample times: the mean, lowest and highest value of the runs that
/// cover each time (a run holds each sample until its next one).
#[derive(Clone, Debug, Default, PartialEq)]
struct Spread {
    t: Vec<f64>,
    mean: Vec<f64>,
    lo: Vec<f64>,
    hi: Vec<f64>,
}

fn spread(runs: &[&RunMetrics]) -> Spread {
    let mut grid: Vec<f64> = runs.iter().flat_map(|r| r.series.iter().map(|p| p.0)).collect();
    grid.retain(|t| t.is_finite());
    grid.sort_by(f64::total_cmp);
    grid.dedup();
    let mut at = vec![0usize; runs.len()];
    let mut out = Spread::default();
    for &t in &grid {
        let (mut sum, mut n, mut lo, mut hi) = (0.0, 0usize, f64::INFINITY, f64::NEG_INFINITY);
        for (k, r) in runs.iter().enumerate() {
            let s = &r.series;
            let (Some(first), Some(last)) = (s.first(), s.last()) else {
                continue;
            };
            if first.0 > t || last.0 < t {
                continue;
            }
            while at[k] + 1 < s.len() && s[at[k] + 1].0 <= t {
                at[k] += 1;
            }
            let v = s[at[k]].1;
            if v.is_finite() {
                sum += v;
                n += 1;
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        if n > 0 {
            out.t.push(t);
            out.mean.push(sum / n as f64);
            out.lo.push(lo);
            out.hi.push(hi);
        }
    }
    out
}

/// Where a metric sits in [`METRICS`] (and in each row of the summary).
fn metric_index(key: &str) -> usize {
    METRICS.iter().position(|(k, _)| *k == key).unwrap_or(0)
}

/// Decimals a metric is shown with: (mean in the summary, one run).
fn decimals(key: &str) -> (usize, usize) {
    match key {
        "final_imbalance" | "peak_imbalance" => (3, 3),
        "settle_s" | "moves_done_s" => (1, 1),
        _ => (1, 0),
    }
}

/// `v` with 2 to 3 decimals (`1.10`, `1.125`).
fn short_num(v: f64) -> String {
    let mut s = format!("{v:.3}");
    if s.ends_with('0') {
        s.pop();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(series: &[(f64, f64)]) -> RunMetrics {
        RunMetrics {
            pair: 0,
            replication: 0,
            seed: 1,
            users_moved: 0,
            connections_kicked: 0,
            logins_delayed: 0,
            logins_failed: 0,
            final_imbalance: 1.0,
            peak_imbalance: 1.0,
            settle_s: None,
            moves_done_s: 0.0,
            commands: 0,
            series: series.to_vec(),
        }
    }

    #[test]
    fn spread_over_runs_with_different_sample_times() {
        let a = run(&[(0.0, 1.0), (10.0, 3.0), (20.0, 2.0)]);
        let b = run(&[(0.0, 2.0), (15.0, 4.0)]);
        let s = spread(&[&a, &b]);
        assert_eq!(s.t, [0.0, 10.0, 15.0, 20.0]);
        assert_eq!(s.mean, [1.5, 2.5, 3.5, 2.0]);
        assert_eq!(s.lo, [1.0, 2.0, 3.0, 2.0]);
        assert_eq!(s.hi, [2.0, 3.0, 4.0, 2.0]);
        assert_eq!(spread(&[]), Spread::default());
    }

    #[test]
    fn numbers() {
        assert_eq!(short_num(1.1), "1.10");
        assert_eq!(short_num(1.125), "1.125");
        assert_eq!(short_num(1.0), "1.00");
        assert_eq!(metric_index("final_imbalance"), 4);
    }
}
