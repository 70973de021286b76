//! `report.html`: one self-contained page (inline CSS and SVG, no scripts,
//! nothing fetched) with the run's settings, summary, charts, per-step
//! tables and the scenario file. The markup is also well-formed XML.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::charts::Chart;
use super::table::clock;
use crate::director::format::unixdate;
use crate::scenario::duration::format_duration_ms;
use crate::sim::metrics::max_over_mean;
use crate::sim::{RunResult, StepRecord};

const CSS: &str = "
body { font-family: 'DejaVu Sans', 'Helvetica Neue', Arial, sans-serif; color: #222; margin: 0; }
main { max-width: 1240px; margin: 0 auto; padding: 8px 20px 40px; }
h1 { font-size: 1.7em; margin: 0.6em 0 0.2em; }
h2 { font-size: 1.3em; margin-top: 1.6em; border-bottom: 2px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 1.05em; margin: 1.4em 0 0.3em; }
p.lead { color: #555; margin-top: 0; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: 0.4em 0; font-size: 0.92em; }
th, td { border: 1px solid #d4d4d4; padding: 3px 9px; text-align: left; white-space: nowrap; }
th { background: #f2f2f2; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.off td { color: #999; }
table.kv th { width: 16em; font-weight: normal; color: #444; }
.cols { display: flex; flex-wrap: wrap; gap: 0 40px; align-items: flex-start; }
figure { margin: 1.2em 0; }
figure svg { width: 100%; height: auto; border: 1px solid #e4e4e4; }
figure svg text { font-family: 'DejaVu Sans', 'Bitstream Vera Sans', Verdana, sans-serif; }
.steps { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 0 36px; }
figcaption { color: #555; font-size: 0.9em; margin-top: 2px; }
.step p { margin: 0.2em 0; }
.refused { color: #b00; }
.swatch { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.4em; vertical-align: -1px; }
pre { background: #f6f6f6; border: 1px solid #e2e2e2; padding: 8px 10px; overflow-x: auto; font-size: 13px; }
details summary { cursor: pointer; font-weight: bold; }
";

/// Escapes text for element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // not allowed in XML 1.0 (nor meaningful in a report)
            '\0'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' => out.push('\u{fffd}'),
            _ => out.push(c),
        }
    }
    out
}

/// What each chart shows, under it.
fn caption(c: Chart) -> &'static str {
    match c {
        Chart::Users => {
            "Records per backend over simulated time. Grey lines: steps. Dashed grey: the mean; \
             dashed in a backend's colour: its fair share (total × vhost share) where that differs \
             from the mean."
        }
        Chart::Connections => "Open proxied connections per backend, with the same markers.",
        Chart::Steps => {
            "The per-step tables: users per backend after each step settled; black ticks mark each \
             backend's fair share."
        }
        Chart::Imbalance => {
            "Red: max over backends with vhosts of users ÷ fair share (the run's imbalance). Blue: \
             max ÷ mean users over backends in the director."
        }
        Chart::Moves => "Users whose record was moved, and connections kicked, since t=0.",
    }
}

/// Writes `report.html`; `svgs` are the charts as SVG documents.
pub fn write_report(r: &RunResult, svgs: &[(Chart, String)], out: &mut impl Write) -> io::Result<()> {
    let mut h = String::with_capacity(64 * 1024 + svgs.iter().map(|s| s.1.len()).sum::<usize>());
    let name = escape(&r.name);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <title>{name} (dirsim)</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n<h1>{name}</h1>\n"
    );
    if let Some(d) = &r.description {
        let _ = writeln!(h, "<p class=\"lead\">{}</p>", escape(d));
    }
    h.push_str(
        "<nav><a href=\"#summary\">Summary</a><a href=\"#charts\">Charts</a>\
         <a href=\"#steps\">Steps</a><a href=\"#scenario\">Scenario file</a></nav>\n",
    );
    write_overview(r, &mut h);
    h.push_str("<h2 id=\"charts\">Charts</h2>\n");
    for (c, svg) in svgs {
        let n = c.name();
        let _ = writeln!(
            h,
            "<figure id=\"chart-{n}\">\n{}\n<figcaption>{} <a href=\"{n}.png\">{n}.png</a> \
             <a href=\"{n}.svg\">{n}.svg</a></figcaption>\n</figure>",
            svg_body(svg),
            escape(caption(*c))
        );
    }
    h.push_str(
        "<h2 id=\"steps\">Steps</h2>\n<p>Each backend after the step settled. Hash share: its part of \
         the hash ring; fair share: total users × its share of the vhosts on the ring.</p>\n\
         <div class=\"steps\">\n",
    );
    for s in &r.steps {
        write_step(r, s, &mut h);
    }
    h.push_str("</div>\n");
    let _ = write!(
        h,
        "<h2 id=\"scenario\">Scenario file</h2>\n<details>\n<summary>The scenario as run \
         ({} lines)</summary>\n<pre>{}</pre>\n</details>\n</main>\n</body>\n</html>\n",
        r.source.lines().count(),
        escape(&r.source)
    );
    out.write_all(h.as_bytes())
}

/// The SVG document without anything before its root element.
fn svg_body(svg: &str) -> &str {
    let start = svg.find("<svg").unwrap_or(0);
    svg[start..].trim_end()
}

fn kv(h: &mut String, key: &str, value: &str) {
    let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", escape(key), escape(value));
}

fn write_overview(r: &RunResult, h: &mut String) {
    let s = &r.summary;
    h.push_str("<h2 id=\"summary\">Summary</h2>\n<div class=\"cols\">\n<div>\n<h3>Outcome</h3>\n<table class=\"kv\">\n");
    kv(h, "users moved", &s.users_moved.to_string());
    kv(h, "connections kicked", &s.connections_kicked.to_string());
    kv(h, "logins", &s.logins.to_string());
    kv(
        h,
        "logins delayed (user being moved)",
        &s.logins_delayed.to_string(),
    );
    kv(h, "logins failed", &s.logins_failed.to_string());
    kv(h, "final imbalance", &format!("{:.2}", s.final_imbalance));
    kv(h, "peak imbalance", &format!("{:.2}", s.peak_imbalance));
    if let Some(last) = r.samples.last() {
        kv(
            h,
            "final max/mean users",
            &format!("{:.2}", max_over_mean(&last.rows)),
        );
    }
    h.push_str("</table>\n");
    if !s.flush_durations.is_empty() {
        h.push_str("<h3>Time each flush took</h3>\n<table>\n<tr><th>step</th><th>at</th><th>command</th><th>took</th></tr>\n");
        for &(step, ms) in &s.flush_durations {
            let rec = r.steps.iter().find(|x| x.index == step);
            let _ = writeln!(
                h,
                "<tr><td class=\"n\">{step}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
                rec.map_or(String::new(), |x| clock(x.at_ms)),
                escape(rec.map_or("", |x| x.command.as_str())),
                format_duration_ms(ms)
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str("</div>\n<div>\n<h3>Run</h3>\n<table class=\"kv\">\n");
    kv(h, "seed", &r.seed.to_string());
    kv(h, "simulated duration", &format_duration_ms(r.duration_ms));
    kv(h, "sampled every", &format_duration_ms(r.sample_every_ms));
    kv(h, "t=0 (wall clock)", &format!("{} UTC", unixdate(r.start_unix)));
    kv(h, "backends", &r.backends.len().to_string());
    kv(h, "steps", &r.steps.len().saturating_sub(1).to_string());
    kv(h, "events simulated", &s.events.to_string());
    kv(h, "most events pending", &s.peak_queue.to_string());
    h.push_str("</table>\n<h3>Director settings</h3>\n<table class=\"kv\">\n");
    let d = &r.director;
    let secs = |s: u32| format_duration_ms(s as u64 * 1000);
    kv(h, "director_user_expire", &secs(d.user_expire_secs));
    kv(h, "director_user_kick_delay", &secs(d.user_kick_delay_secs));
    kv(
        h,
        "director_max_parallel_moves",
        &d.max_parallel_moves.to_string(),
    );
    kv(
        h,
        "director_max_parallel_kicks",
        &d.max_parallel_kicks.to_string(),
    );
    kv(h, "director_username_hash", &d.username_hash.to_string());
    kv(h, "kick latency (dirsim)", &format_duration_ms(d.kick_latency_ms));
    h.push_str("</table>\n</div>\n</div>\n");
}

fn write_step(r: &RunResult, s: &StepRecord, h: &mut String) {
    let what = if s.index == 0 { "start" } else { s.command.as_str() };
    let _ = writeln!(
        h,
        "<section class=\"step\" id=\"step-{}\">\n<h3>Step {} at {}: <code>{}</code></h3>",
        s.index,
        s.index,
        clock(s.at_ms),
        escape(what)
    );
    if s.index > 0 {
        let _ = writeln!(
            h,
            "<p>Moved {} users, kicked {} connections, settled after {}.</p>",
            s.moved,
            s.kicked,
            format_duration_ms(s.settled_ms.saturating_sub(s.at_ms))
        );
    }
    if let Some(e) = &s.error {
        let _ = writeln!(h, "<p class=\"refused\">Refused: {}</p>", escape(e));
    }
    if !s.output.is_empty() {
        let _ = writeln!(h, "<pre>{}</pre>", escape(s.output.trim_end()));
    }
    h.push_str(
        "<table>\n<tr><th>backend</th><th>vhosts</th><th>users</th><th>connections</th>\
         <th>hash share</th><th>fair share</th></tr>\n",
    );
    let live: Vec<_> = s.rows.iter().filter(|row| !row.removed).copied().collect();
    let total: u64 = live.iter().map(|row| row.users as u64).sum();
    for row in &live {
        let color = super::charts::backend_color(row.backend);
        let vhosts = if row.down {
            format!("{} down", row.vhosts)
        } else {
            row.vhosts.to_string()
        };
        let _ = writeln!(
            h,
            "<tr{}><td><span class=\"swatch\" style=\"background:#{:02x}{:02x}{:02x}\"></span>{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{:.1}%</td><td class=\"n\">{:.1}</td></tr>",
            if row.down { " class=\"off\"" } else { "" },
            color.0,
            color.1,
            color.2,
            escape(&r.backends[row.backend].name),
            vhosts,
            row.users,
            row.connections,
            row.hash_share * 100.0,
            total as f64 * row.capacity_share
        );
    }
    let n = live.len().max(1) as f64;
    let _ = writeln!(
        h,
        "</table>\n<p>Total users {total}, mean {:.1} per backend, max/mean {:.2}.</p>\n</section>",
        total as f64 / n,
        max_over_mean(&live)
    );
}
