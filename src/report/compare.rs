//! The comparison report: `compare.html` (and, with the charts, the
//! imbalance-over-time and moved-vs-imbalance figures).

use std::fmt::Write as _;
use std::io;

use crate::compare::io::{METRICS, pm};
use crate::compare::stats::Estimate;
use crate::compare::{RunMetrics, Study};
use crate::report::html::escape;

/// Every file of the comparison report: (file name, bytes).
pub fn render(
    name: &str,
    study: &Study,
    runs: &[RunMetrics],
    sum: &[Vec<(Estimate, usize)>],
) -> io::Result<Vec<(&'static str, Vec<u8>)>> {
    let _ = runs;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/><title>{t}: comparison</title></head><body>\n<h1>{t}: comparison</h1>\n<table>\n<tr><th>strategy</th>",
        t = escape(name)
    );
    for (_, title) in METRICS {
        let _ = write!(h, "<th>{}</th>", escape(title));
    }
    h.push_str("</tr>\n");
    for (p, metrics) in sum.iter().enumerate() {
        let _ = write!(h, "<tr><td>{}</td>", escape(&study.pairs[p].label()));
        for (e, never) in metrics {
            let _ = write!(h, "<td>{}</td>", escape(&pm(e, *never, 3)));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n</body></html>\n");
    Ok(vec![("compare.html", h.into_bytes())])
}
