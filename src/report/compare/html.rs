//! `compare.html`: one self-contained page (inline CSS and SVG, no scripts,
//! nothing fetched) in the style of `report.html`, also well-formed XML.

use std::fmt::Write as _;

use super::charts::{Fig, MAX_BANDS};
use super::{decimals, short_num};
use crate::compare::io::{METRICS, pm, value};
use crate::compare::stats::Estimate;
use crate::compare::{RunMetrics, Study};
use crate::report::charts::backend_color;
use crate::report::html::escape;

const CSS: &str = "
body { font-family: 'DejaVu Sans', 'Helvetica Neue', Arial, sans-serif; color: #222; margin: 0; }
main { max-width: 1240px; margin: 0 auto; padding: 8px 20px 40px; }
h1 { font-size: 1.7em; margin: 0.6em 0 0.2em; }
h2 { font-size: 1.3em; margin-top: 1.6em; border-bottom: 2px solid #ddd; padding-bottom: 4px; }
p.lead { color: #555; margin-top: 0; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: 0.4em 0; font-size: 0.92em; }
th, td { border: 1px solid #d4d4d4; padding: 3px 9px; text-align: left; white-space: nowrap; }
th { background: #f2f2f2; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
table.grid th { white-space: normal; vertical-align: bottom; }
table.grid td.n { padding: 3px 7px; }
.never { color: #777; font-size: 0.9em; }
table.kv th { width: 12em; font-weight: normal; color: #444; }
.wide { overflow-x: auto; }
.read { max-width: 60em; line-height: 1.45; }
.read p { margin: 0.5em 0; }
figure { margin: 1.2em 0; }
figure svg { width: 100%; height: auto; border: 1px solid #e4e4e4; }
figure svg text { font-family: 'DejaVu Sans', 'Bitstream Vera Sans', Verdana, sans-serif; }
figcaption { color: #555; font-size: 0.9em; margin-top: 2px; }
.swatch { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.4em; vertical-align: -1px; }
details summary { cursor: pointer; font-weight: bold; }
";

/// The page; `svgs` are the charts as SVG documents.
pub(super) fn page(
    name: &str,
    study: &Study,
    runs: &[RunMetrics],
    sum: &[Vec<(Estimate, usize)>],
    svgs: &[(Fig, String)],
) -> String {
    let mut h =
        String::with_capacity(32 * 1024 + runs.len() * 400 + svgs.iter().map(|s| s.1.len()).sum::<usize>());
    let title = escape(name);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <title>{title}: comparison (dirsim)</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n\
         <h1>{title}</h1>\n"
    );
    let n = study.pairs.len();
    let _ = writeln!(
        h,
        "<p class=\"lead\">Comparison of {n} strateg{} × {} replication{}, mean ± 95% confidence interval.</p>",
        if n == 1 { "y" } else { "ies" },
        study.replications,
        if study.replications == 1 { "" } else { "s" },
    );
    h.push_str(
        "<nav><a href=\"#summary\">Summary</a><a href=\"#reading\">How to read this</a>\
         <a href=\"#charts\">Charts</a><a href=\"#runs\">Runs</a></nav>\n",
    );
    write_study(name, study, runs.len(), &mut h);
    write_summary(study, sum, &mut h);
    write_reading(study, &mut h);
    h.push_str("<h2 id=\"charts\">Charts</h2>\n");
    for (fig, svg) in svgs {
        let (png, file) = fig.files();
        let _ = writeln!(
            h,
            "<figure id=\"{}\">\n{}\n<figcaption>{} <a href=\"{png}\">{png}</a> <a href=\"{file}\">{file}</a>\
             </figcaption>\n</figure>",
            fig.stem(),
            svg_body(svg),
            escape(&caption(*fig, study)),
        );
    }
    write_runs(study, runs, &mut h);
    h.push_str("</main>\n</body>\n</html>\n");
    h
}

/// The SVG document without anything before its root element.
fn svg_body(svg: &str) -> &str {
    let start = svg.find("<svg").unwrap_or(0);
    svg[start..].trim_end()
}

fn seeds(study: &Study) -> String {
    match study.replications {
        0 => "none".into(),
        1 => study.seed.to_string(),
        r => format!("{}..{}", study.seed, study.seed + r as u64 - 1),
    }
}

fn kv(h: &mut String, key: &str, value: &str) {
    let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", escape(key), escape(value));
}

fn swatch(p: usize) -> String {
    let c = backend_color(p);
    format!(
        "<span class=\"swatch\" style=\"background:#{:02x}{:02x}{:02x}\"></span>",
        c.0, c.1, c.2
    )
}

fn write_study(name: &str, study: &Study, runs: usize, h: &mut String) {
    h.push_str("<h2 id=\"summary\">Summary</h2>\n<table class=\"kv\" id=\"study\">\n");
    kv(h, "scenario", name);
    kv(h, "pairs", &study.pairs.len().to_string());
    kv(h, "replications", &study.replications.to_string());
    kv(h, "seeds", &seeds(study));
    kv(h, "runs", &runs.to_string());
    kv(
        h,
        "tolerance",
        &format!(
            "{} (balanced: imbalance ≤ {})",
            study.tolerance,
            short_num(1.0 + study.tolerance)
        ),
    );
    h.push_str("</table>\n");
}

fn write_summary(study: &Study, sum: &[Vec<(Estimate, usize)>], h: &mut String) {
    h.push_str("<div class=\"wide\">\n<table class=\"grid\" id=\"summary-table\">\n<tr><th>strategy</th>");
    for (_, title) in METRICS {
        let _ = write!(h, "<th class=\"n\">{}</th>", escape(title));
    }
    h.push_str("</tr>\n");
    for (p, metrics) in sum.iter().enumerate() {
        let label = study
            .pairs
            .get(p)
            .map_or_else(|| format!("pair {p}"), |x| x.label());
        let _ = write!(h, "<tr><td>{}{}</td>", swatch(p), escape(&label));
        for ((key, _), (e, never)) in METRICS.iter().zip(metrics) {
            let cell = pm(e, *never, decimals(key).0);
            // "(k never)" on a line of its own, so the column stays narrow
            let cell = match cell.split_once(" (") {
                Some((v, n)) if e.n > 0 => {
                    format!("{}<br/><span class=\"never\">({}</span>", escape(v), escape(n))
                }
                _ => escape(&cell),
            };
            let _ = write!(h, "<td class=\"n\">{cell}</td>");
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n</div>\n");
}

fn write_reading(study: &Study, h: &mut String) {
    let limit = short_num(1.0 + study.tolerance);
    let r = study.replications;
    let text = [
        format!(
            "Each row is one strategy, run with the same scenario {r} time{} on seeds {}; a name \
             after “@” is the placement algorithm used instead of Dovecot's. Each cell is the mean over those \
             runs ± the half-width of its 95% confidence interval (Student's t), which shrinks with \
             more replications; a single run has no interval. Where two rows' intervals do not overlap \
             the difference is unlikely to be chance; where they overlap, more replications would tell.",
            if r == 1 { "" } else { "s" },
            seeds(study)
        ),
        format!(
            "Imbalance is the highest users ÷ fair share over the backends (1.00: perfectly even); \
             a run counts as balanced at ≤\u{a0}{limit}. “balanced after” is the time from the \
             strategy's start until the imbalance stayed ≤\u{a0}{limit} to the end of the run; “(k\u{a0}never)” \
             counts the runs that never got there, which its mean leaves out. “moves done” is when the \
             strategy's last moving command finished."
        ),
        "Lower is better in every column, but they trade off: moving fewer users (fewer kicked \
         connections, fewer delayed logins) usually leaves more imbalance. The second chart puts \
         the two side by side."
            .to_string(),
    ];
    h.push_str("<h2 id=\"reading\">How to read this</h2>\n<div class=\"read\">\n");
    for t in text {
        let _ = writeln!(h, "<p>{}</p>", escape(&t));
    }
    h.push_str("</div>\n");
}

fn caption(fig: Fig, study: &Study) -> String {
    let limit = short_num(1.0 + study.tolerance);
    match fig {
        Fig::Imbalance if study.pairs.len() > MAX_BANDS => format!(
            "Imbalance over simulated time: per pair, the mean over its runs at each sample. With \
             more than {MAX_BANDS} pairs the spread of the runs is left out (it would hide the \
             lines); compare-timeseries.csv has every run. Dashed: {limit}, the limit counted as \
             balanced."
        ),
        Fig::Imbalance => format!(
            "Imbalance over simulated time: per pair, the mean over its runs at each sample (line) \
             and the lowest to highest run (shaded; absent where all runs agree). Dashed: {limit}, \
             the limit counted as balanced."
        ),
        Fig::Moved => format!(
            "Users moved against final imbalance: one large dot per pair at the means, with bars \
             for their 95% intervals; the faint dots are the single runs. Down and left is better. \
             Dashed: {limit}, the limit counted as balanced."
        ),
    }
}

fn write_runs(study: &Study, runs: &[RunMetrics], h: &mut String) {
    let _ = write!(
        h,
        "<h2 id=\"runs\">Runs</h2>\n<details>\n<summary>Every run ({} rows)</summary>\n\
         <div class=\"wide\">\n<table class=\"grid\" id=\"runs-table\">\n<tr><th>strategy</th><th class=\"n\">replication</th>\
         <th class=\"n\">seed</th>",
        runs.len()
    );
    for (_, title) in METRICS {
        let _ = write!(h, "<th class=\"n\">{}</th>", escape(title));
    }
    h.push_str("</tr>\n");
    for m in runs {
        let label = study
            .pairs
            .get(m.pair)
            .map_or_else(|| format!("pair {}", m.pair), |x| x.label());
        let _ = write!(
            h,
            "<tr><td>{}{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
            swatch(m.pair),
            escape(&label),
            m.replication,
            m.seed
        );
        for (key, _) in METRICS {
            let cell = match value(m, key) {
                Some(v) => format!("{v:.*}", decimals(key).1),
                None => "never".to_string(),
            };
            let _ = write!(h, "<td class=\"n\">{cell}</td>");
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n</div>\n</details>\n");
}
