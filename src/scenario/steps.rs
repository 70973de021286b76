//! Checks the `[[step]]`s: each `run` must parse as a doveadm director
//! command whose hosts exist (a backend's name or IP, or a host an earlier
//! `add` introduced), and the timing must fit in the run.

use std::ops::Range;

use serde_spanned::Spanned;

use super::duration::format_duration_ms;
use super::error::{ScenarioError, Source, line_col};
use super::limits::{MAX_BACKENDS, MAX_STEPS, MAX_VHOSTS};
use super::schema::RawStep;
use super::validate::{duration, name_problem};
use super::{Backend, Step, StepTiming};
use crate::director::doveadm::{Command, FlushTarget, HostRef, MapMode, parse_line};
use crate::director::ip::HostIp;

/// The host references of a command; `true` marks `add`'s host, which may
/// be a new IP.
fn host_refs(cmd: &Command) -> Vec<(&HostRef, bool)> {
    match cmd {
        Command::Add { host, .. } => vec![(host, true)],
        Command::Update { host, .. } | Command::Up(host) | Command::Down(host) | Command::Remove(host) => {
            vec![(host, false)]
        }
        Command::Move { host, .. } => vec![(host, false)],
        Command::Flush {
            target: FlushTarget::Host(host),
            ..
        } => vec![(host, false)],
        Command::Map {
            mode: MapMode::Records(Some(host)),
            ..
        } => vec![(host, false)],
        _ => Vec::new(),
    }
}

/// Span of `host` inside the `run` value, when the TOML string holds the
/// text verbatim (no escapes); else the value's own span.
fn host_span(src: &Source<'_>, run: &Spanned<String>, host: &str) -> Range<usize> {
    let span = run.span();
    let raw = src.text.get(span.clone()).unwrap_or("");
    let body = raw.get(1..raw.len().saturating_sub(1)).unwrap_or("");
    if body != run.get_ref() || host.is_empty() {
        return span;
    }
    // The last whitespace-separated word holding the host, exact words first.
    let words: Vec<(usize, &str)> = body
        .split(' ')
        .scan(0, |pos, w| {
            let at = *pos;
            *pos += w.len() + 1;
            Some((at, w.trim_matches(['"', '\''])))
        })
        .collect();
    let exact = words
        .iter()
        .rev()
        .find(|(_, w)| *w == host)
        .map(|(at, w)| (at, w.find(host)));
    let loose = words
        .iter()
        .rev()
        .find(|(_, w)| w.contains(host))
        .map(|(at, w)| (at, w.find(host)));
    match exact.or(loose) {
        Some((at, Some(off))) => {
            let quote = body[*at..].starts_with(['"', '\'']) as usize;
            let start = span.start + 1 + at + quote + off;
            start..start + host.len()
        }
        _ => span,
    }
}

/// Checks the steps in file order.
pub(super) fn steps(
    src: &Source<'_>,
    raw: &[Spanned<RawStep>],
    backends: &[Backend],
    duration_ms: u64,
) -> Result<Vec<Step>, ScenarioError> {
    // Hosts that steps may name: the backends, plus those `add` introduces.
    if let Some(extra) = raw.get(MAX_STEPS) {
        let msg = format!("{} steps: expected at most {MAX_STEPS}", raw.len());
        return Err(src.error(extra.span(), format!("step[{MAX_STEPS}]"), msg));
    }
    let mut known: Vec<(String, HostIp)> = backends.iter().map(|b| (b.name.clone(), b.ip)).collect();
    let mut out = Vec::with_capacity(raw.len());
    let mut last_at: Option<(usize, u64)> = None;
    let mut earliest = 0u64;
    for (i, rs) in raw.iter().enumerate() {
        let s = rs.get_ref();
        let f = |k: &str| format!("step[{i}].{k}");
        let Some(run) = &s.run else {
            let msg = "missing: expected run = \"doveadm director ...\"";
            return Err(src.error(rs.span(), f("run"), msg));
        };
        let invocation = parse_line(run.get_ref()).map_err(|e| src.error(run.span(), f("run"), e.message))?;
        for (host, is_add) in host_refs(&invocation.command) {
            check_host(src, run, &invocation.command, host, is_add, &mut known, &f("run"))?;
        }
        if known.len() > MAX_BACKENDS {
            let msg = format!(
                "this add makes {} backends: expected at most {MAX_BACKENDS}",
                known.len()
            );
            return Err(src.error(run.span(), f("run"), msg));
        }
        let vhosts = match &invocation.command {
            Command::Add { vhosts: Some(v), .. } | Command::Update { vhosts: v, .. } => Some(*v),
            _ => None,
        };
        if let Some(v) = vhosts.filter(|&v| v > MAX_VHOSTS) {
            let msg = format!(
                "vhost count {v} is out of range: expected 0..={MAX_VHOSTS} (doveadm refuses more: \
                 \"vhost count too large\")"
            );
            return Err(src.error(run.span(), f("run"), msg));
        }
        let timing = match (&s.at, &s.after) {
            (Some(_), Some(after)) => {
                let msg = "a step has either `at` (time after t=0) or `after` (delay after the previous step), not both";
                return Err(src.error(after.span(), f("after"), msg));
            }
            (Some(at), None) => {
                let ms = duration(src, at, &f("at"))?;
                if let Some((j, prev)) = last_at.filter(|&(_, prev)| ms < prev) {
                    let msg = format!(
                        "at = {:?} is earlier than step[{j}]'s at = {}: steps run in file order",
                        at.get_ref(),
                        format_duration_ms(prev)
                    );
                    return Err(src.error(at.span(), f("at"), msg));
                }
                last_at = Some((i, ms));
                earliest = earliest.max(ms);
                StepTiming::At(ms)
            }
            (None, Some(after)) => {
                let ms = duration(src, after, &f("after"))?;
                earliest = earliest.saturating_add(ms);
                StepTiming::After(ms)
            }
            (None, None) => StepTiming::After(0),
        };
        if earliest > duration_ms {
            let msg = format!(
                "this step cannot run before {} after t=0, past the end of the run (duration = {})",
                format_duration_ms(earliest),
                format_duration_ms(duration_ms)
            );
            let span =
                s.at.as_ref()
                    .or(s.after.as_ref())
                    .map_or(run.span(), |v| v.span());
            let key = if s.at.is_some() { "at" } else { "after" };
            return Err(src.error(span, f(key), msg));
        }
        out.push(Step {
            line: line_col(src.text, run.span().start).0,
            run: run.get_ref().clone(),
            invocation,
            timing,
        });
    }
    Ok(out)
}

/// Checks one host reference of a step, registering hosts that `add` names.
fn check_host(
    src: &Source<'_>,
    run: &Spanned<String>,
    cmd: &Command,
    host: &HostRef,
    is_add: bool,
    known: &mut Vec<(String, HostIp)>,
    field: &str,
) -> Result<(), ScenarioError> {
    let h = host.0.as_str();
    let ip = HostIp::parse(h).ok();
    let found = known.iter().position(|(n, kip)| n == h || Some(*kip) == ip);
    let err = |msg: String| Err(src.error(host_span(src, run, h), field, msg));
    if !is_add {
        if found.is_none() {
            let names: Vec<&str> = known.iter().take(8).map(|(n, _)| n.as_str()).collect();
            return err(format!(
                "unknown backend {h:?}: expected a backend name or IP ({}{}) or one added by an earlier step",
                names.join(", "),
                if known.len() > 8 { ", ..." } else { "" }
            ));
        }
        return Ok(());
    }
    let name = match cmd {
        Command::Add { name, .. } => name.as_deref(),
        _ => None,
    };
    match (name, ip, found) {
        (Some(n), Some(ip), _) => {
            if let Some((kn, kip)) = known.iter().find(|(kn, kip)| (kn == n) != (*kip == ip)) {
                return err(format!(
                    "add {n}={ip} conflicts with the existing backend {kn} ({kip})"
                ));
            }
            if let Some(why) = name_problem(n) {
                return err(format!("invalid backend name {n:?}: {why}"));
            }
            if found.is_none() {
                known.push((n.to_string(), ip));
            }
        }
        (Some(n), None, _) => {
            return err(format!(
                "add {n}={h}: expected NAME=IP with an IP address after '='"
            ));
        }
        (None, Some(ip), None) => known.push((ip.to_string(), ip)),
        (None, None, None) => {
            return err(format!(
                "unknown backend {h:?}: `add` takes an IP address, NAME=IP or a backend's name"
            ));
        }
        (None, _, Some(_)) => {}
    }
    Ok(())
}
