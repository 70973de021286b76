//! Checks a [`RawScenario`] and builds the [`Scenario`]: required keys,
//! ranges, cross-references (backend names in `counts`), the files the
//! scenario refers to; steps are checked in [`super::steps`]. The first problem found is returned, with
//! its position taken from the value's span.

use std::path::{Path, PathBuf};

use serde_spanned::Spanned;

use super::dist::{self, Dist, Unit};
use super::duration::{format_duration_ms, parse_duration_ms};
use super::error::{ScenarioError, Source};
use super::import::{self, Imported};
use super::limits::{
    CLOCK_END_UNIX, MAX_BACKENDS, MAX_DURATION_MS, MAX_SAMPLES, MAX_SESSIONS_PER_DAY, MAX_VHOSTS,
};
use super::schema::{RawBackend, RawDirector, RawInitial, RawScenario, RawWorkload};
use super::{Backend, Initial, Scenario, Users, Workload};
use crate::director::Settings;
use crate::director::format::parse_unixdate;
use crate::director::hash::HashFormat;
use crate::director::ip::HostIp;

/// `start` when not given: 2025-01-01 00:00:00 UTC.
const DEFAULT_START: i64 = 1_735_689_600;

/// Parses and checks a whole scenario.
pub(super) fn scenario(text: &str, file: &Path) -> Result<Scenario, ScenarioError> {
    let src = Source { file, text };
    let raw: RawScenario = toml::from_str(text).map_err(|e| src.toml_error(&e))?;
    let Some(name) = raw.name else {
        return Err(src.error_nowhere("name", "missing: expected name = \"...\" at the top of the file"));
    };
    if name.get_ref().trim().is_empty() {
        return Err(src.error(name.span(), "name", "is empty: expected a name for the scenario"));
    }
    let Some(duration) = raw.duration else {
        let msg = "missing: expected the simulated time after t=0, e.g. duration = \"2h\"";
        return Err(src.error_nowhere("duration", msg));
    };
    let duration_ms = positive_duration(&src, &duration, "duration")?;
    let sample_every_ms = match &raw.sample_every {
        None => 10_000.min(duration_ms),
        Some(s) => {
            let ms = positive_duration(&src, s, "sample_every")?;
            if ms > duration_ms {
                let msg = format!(
                    "{:?} is longer than duration ({:?})",
                    s.get_ref(),
                    duration.get_ref()
                );
                return Err(src.error(s.span(), "sample_every", msg));
            }
            ms
        }
    };
    let samples = duration_ms / sample_every_ms + 1;
    if samples > MAX_SAMPLES {
        let why = "each sample keeps a row per backend";
        let d = format_duration_ms(duration_ms);
        let every = format_duration_ms(sample_every_ms);
        return Err(match &raw.sample_every {
            Some(s) => {
                let msg = format!(
                    "duration {d} / sample_every {every} gives {samples} samples, more than the limit of \
                     {MAX_SAMPLES} ({why}): raise sample_every"
                );
                src.error(s.span(), "sample_every", msg)
            }
            None => {
                let msg = format!(
                    "{d} at the default sample_every of {every} gives {samples} samples, more than the limit \
                     of {MAX_SAMPLES} ({why}): set sample_every"
                );
                src.error(duration.span(), "duration", msg)
            }
        });
    }
    let start_unix = match &raw.start {
        None => DEFAULT_START,
        Some(s) => parse_unixdate(s.get_ref()).ok_or_else(|| {
            let msg = format!(
                "invalid date {:?}: expected \"YYYY-MM-DD HH:MM:SS\" (UTC)",
                s.get_ref()
            );
            src.error(s.span(), "start", msg)
        })?,
    };
    let director = director(&src, raw.director.unwrap_or_default())?;
    let backends = backends(&src, &raw.backend)?;
    let Some(workload_raw) = &raw.workload else {
        let msg = "missing [workload] table: expected at least users = N or users_file = \"users.txt\"";
        return Err(src.error_nowhere("workload", msg));
    };
    let workload = workload(&src, workload_raw)?;
    let initial = initial(&src, raw.initial.as_ref(), &backends, workload.users.len())?;
    check_clock(&src, raw.start.as_ref(), start_unix, &initial, duration_ms)?;
    let steps = super::steps::steps(&src, &raw.step, &backends, duration_ms)?;
    Ok(Scenario {
        name: name.into_inner(),
        description: raw.description,
        seed: raw.seed.unwrap_or(0),
        duration_ms,
        sample_every_ms,
        start_unix,
        director,
        backends,
        workload,
        initial,
        steps,
        source: text.to_string(),
        path: file.to_path_buf(),
    })
}

/// A duration string in ms, at most [`MAX_DURATION_MS`].
pub(super) fn duration(src: &Source<'_>, s: &Spanned<String>, field: &str) -> Result<u64, ScenarioError> {
    let ms = parse_duration_ms(s.get_ref()).map_err(|e| src.error(s.span(), field, e.to_string()))?;
    if ms > MAX_DURATION_MS {
        let msg = format!(
            "{:?} is too long: expected at most {} (ten years)",
            s.get_ref(),
            format_duration_ms(MAX_DURATION_MS)
        );
        return Err(src.error(s.span(), field, msg));
    }
    Ok(ms)
}

/// The director counts 32-bit unix seconds: the run, warm-up included,
/// must lie between 1970 and 2106.
fn check_clock(
    src: &Source<'_>,
    start: Option<&Spanned<String>>,
    start_unix: i64,
    initial: &Initial,
    duration_ms: u64,
) -> Result<(), ScenarioError> {
    let warmup_s = match initial {
        Initial::Warmup(ms) => ms.div_ceil(1000) as i64,
        _ => 0,
    };
    let end_s = duration_ms.div_ceil(1000) as i64;
    let problem = if start_unix - warmup_s < 0 {
        Some(if warmup_s > 0 {
            "is too early: start minus the warm-up falls before 1970-01-01 00:00:00"
        } else {
            "is too early: expected 1970-01-01 00:00:00 or later"
        })
    } else if start_unix + end_s > CLOCK_END_UNIX {
        Some(
            "is too late: the run must end by 2106-02-07 06:28:15 UTC, where the director's \
             32-bit clock ends",
        )
    } else {
        None
    };
    match (problem, start) {
        (None, _) => Ok(()),
        (Some(p), Some(s)) => Err(src.error(s.span(), "start", format!("{:?} {p}", s.get_ref()))),
        (Some(p), None) => Err(src.error_nowhere("start", format!("the default start {p}"))),
    }
}

fn positive_duration(src: &Source<'_>, s: &Spanned<String>, field: &str) -> Result<u64, ScenarioError> {
    match duration(src, s, field)? {
        0 => Err(src.error(
            s.span(),
            field,
            format!("{:?}: expected a duration > 0", s.get_ref()),
        )),
        ms => Ok(ms),
    }
}

/// A duration that must be whole seconds (the director's clock ticks in s).
fn whole_seconds(src: &Source<'_>, s: &Spanned<String>, field: &str, min: u64) -> Result<u32, ScenarioError> {
    let ms = duration(src, s, field)?;
    if ms % 1000 != 0 || ms / 1000 > u64::from(u32::MAX) {
        let msg = format!(
            "{:?}: expected whole seconds (the director counts in seconds)",
            s.get_ref()
        );
        return Err(src.error(s.span(), field, msg));
    }
    if ms < min * 1000 {
        let msg = format!(
            "{:?} is too short: expected at least {min}s (Dovecot refuses less)",
            s.get_ref()
        );
        return Err(src.error(s.span(), field, msg));
    }
    Ok((ms / 1000) as u32)
}

/// An integer in `lo..=hi`.
fn int_in(src: &Source<'_>, v: &Spanned<i64>, field: &str, lo: i64, hi: i64) -> Result<u32, ScenarioError> {
    let x = *v.get_ref();
    if x < lo || x > hi {
        return Err(src.error(
            v.span(),
            field,
            format!("{x} is out of range: expected {lo}..={hi}"),
        ));
    }
    Ok(x as u32)
}

fn director(src: &Source<'_>, d: RawDirector) -> Result<Settings, ScenarioError> {
    let mut s = Settings::default();
    let max = i64::from(u32::MAX);
    if let Some(v) = &d.user_expire {
        s.user_expire_secs = whole_seconds(src, v, "director.user_expire", 10)?;
    }
    if let Some(v) = &d.user_kick_delay {
        s.user_kick_delay_secs = whole_seconds(src, v, "director.user_kick_delay", 0)?;
    }
    if let Some(v) = &d.max_parallel_moves {
        s.max_parallel_moves = int_in(src, v, "director.max_parallel_moves", 1, max)?;
    }
    if let Some(v) = &d.max_parallel_kicks {
        s.max_parallel_kicks = int_in(src, v, "director.max_parallel_kicks", 1, max)?;
    }
    if let Some(v) = &d.username_hash {
        s.username_hash = HashFormat::parse(v.get_ref())
            .map_err(|e| src.error(v.span(), "director.username_hash", e.to_string()))?;
    }
    if let Some(v) = &d.kick_latency {
        // (At most ten years, well inside the director's 32-bit clock.)
        s.kick_latency_ms = duration(src, v, "director.kick_latency")?;
    }
    Ok(s)
}

/// Whether a backend name can be typed in a doveadm command line as is.
pub(super) fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name.chars().any(|c| c.is_whitespace() || "=@\"'".contains(c)) {
        Some("it contains a space, '=', '@' or a quote")
    } else if name == "all" {
        Some("`flush all` would be ambiguous")
    } else if name.starts_with('-') {
        Some("it starts with '-', like an option")
    } else {
        None
    }
}

fn backends(src: &Source<'_>, raw: &[Spanned<RawBackend>]) -> Result<Vec<Backend>, ScenarioError> {
    if let Some(extra) = raw.get(MAX_BACKENDS) {
        let msg = format!("{} backends: expected at most {MAX_BACKENDS}", raw.len());
        return Err(src.error(extra.span(), format!("backend[{MAX_BACKENDS}]"), msg));
    }
    let mut out: Vec<Backend> = Vec::with_capacity(raw.len());
    for (i, rb) in raw.iter().enumerate() {
        let b = rb.get_ref();
        let f = |k: &str| format!("backend[{i}].{k}");
        let Some(name) = &b.name else {
            return Err(src.error(rb.span(), f("name"), "missing: expected name = \"backend-01\""));
        };
        let Some(ip_text) = &b.ip else {
            return Err(src.error(rb.span(), f("ip"), "missing: expected ip = \"10.0.0.1\""));
        };
        let ip = HostIp::parse(ip_text.get_ref())
            .map_err(|e| src.error(ip_text.span(), f("ip"), e.to_string()))?;
        let n = name.get_ref();
        if let Some(why) = name_problem(n) {
            let msg = format!("invalid backend name {n:?}: {why}; expected a word such as backend-01");
            return Err(src.error(name.span(), f("name"), msg));
        }
        if HostIp::parse(n).is_ok_and(|other| other != ip) {
            let msg = format!("backend name {n:?} is a different IP than the backend's own ip {ip}");
            return Err(src.error(name.span(), f("name"), msg));
        }
        if let Some(j) = out.iter().position(|o| o.name == *n) {
            let msg = format!("duplicate backend name {n:?}: backend[{j}] already has it");
            return Err(src.error(name.span(), f("name"), msg));
        }
        if let Some(j) = out.iter().position(|o| o.ip == ip) {
            let msg = format!(
                "duplicate ip {:?}: backend[{j}] ({}) already has it",
                ip_text.get_ref(),
                out[j].name
            );
            return Err(src.error(ip_text.span(), f("ip"), msg));
        }
        let vhosts = match &b.vhosts {
            Some(v) => int_in(src, v, &f("vhosts"), 0, i64::from(MAX_VHOSTS))?,
            None => 100,
        };
        let capacity = match &b.capacity {
            Some(c) => int_in(src, c, &f("capacity"), 1, i64::from(MAX_VHOSTS))?,
            None if vhosts > 0 => vhosts,
            None => 100,
        };
        out.push(Backend {
            name: n.clone(),
            ip,
            vhosts,
            tag: b.tag.clone().unwrap_or_default(),
            down: b.down.unwrap_or(false),
            capacity,
        });
    }
    if out.is_empty() {
        let msg = "no backends: expected at least one [[backend]] table with name and ip";
        return Err(src.error_nowhere("backend", msg));
    }
    Ok(out)
}

/// A few backend names, for "expected one of" messages.
fn backend_names(backends: &[Backend]) -> String {
    let mut s: Vec<&str> = backends.iter().take(8).map(|b| b.name.as_str()).collect();
    if backends.len() > 8 {
        s.push("...");
    }
    s.join(", ")
}

/// Checks a `name_pattern`: exactly one `{n}` or `{n:0W}` placeholder.
fn check_pattern(p: &str) -> Result<(), String> {
    let expect =
        "expected exactly one {n} (1, 2, ...) or {n:0W} (zero-padded to width W), e.g. \"user{n:04}\"";
    let opens = p.matches('{').count();
    let closes = p.matches('}').count();
    let Some(start) = p.find("{n") else {
        return Err(format!("no {{n}} placeholder in {p:?}: {expect}"));
    };
    if opens != 1 || closes != 1 {
        return Err(format!("{p:?} has {opens} '{{' and {closes} '}}': {expect}"));
    }
    let Some(len) = p[start..].find('}') else {
        return Err(format!("unclosed placeholder in {p:?}: {expect}"));
    };
    match &p[start + 2..start + len] {
        "" => Ok(()),
        spec if spec.len() >= 3
            && spec.starts_with(":0")
            && spec[2..].parse::<u8>().is_ok_and(|w| w <= 20) =>
        {
            Ok(())
        }
        spec => Err(format!("unsupported placeholder {{n{spec}}} in {p:?}: {expect}")),
    }
}

/// Formats user number `n` (1-based) with a checked pattern. An invalid
/// pattern (possible only when built by hand) gets `n` appended instead.
pub(super) fn format_name(pattern: &str, n: u64) -> String {
    let mut s = String::new();
    format_name_into(pattern, n, &mut s);
    s
}

/// [`format_name`] into `out` (replacing its contents): no allocation once
/// `out` is long enough, for formatting millions of names.
pub(super) fn format_name_into(pattern: &str, n: u64, out: &mut String) {
    use std::fmt::Write;
    out.clear();
    let parsed = pattern.find("{n").and_then(|s| {
        let len = pattern[s..].find('}')?;
        let spec = &pattern[s + 2..s + len];
        let width = if spec.is_empty() {
            0
        } else {
            spec.strip_prefix(":0")?
                .parse::<usize>()
                .ok()
                .filter(|w| *w <= 20)?
        };
        Some((s, s + len + 1, width))
    });
    // (Writing to a String cannot fail.)
    let _ = match parsed {
        Some((a, b, w)) => write!(out, "{}{n:0w$}{}", &pattern[..a], &pattern[b..]),
        None => write!(out, "{pattern}{n}"),
    };
}

/// Resolves a path from the scenario against the scenario's directory.
fn resolve(src: &Source<'_>, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    src.file.parent().unwrap_or(Path::new("")).join(p)
}

/// Reads a file named by key `field`; errors point at the key's value.
fn read(src: &Source<'_>, v: &Spanned<String>, field: &str) -> Result<(PathBuf, String), ScenarioError> {
    let path = resolve(src, v.get_ref());
    match std::fs::read(&path) {
        // Bytes that are not UTF-8: an error at the file's bad byte.
        Ok(bytes) => {
            let text = import::text_from_bytes(bytes, &path)?;
            Ok((path, text))
        }
        Err(e) => {
            let msg = format!(
                "cannot read {:?} (looked for {}): {e}",
                v.get_ref(),
                path.display()
            );
            Err(src.error(v.span(), field, msg))
        }
    }
}

fn users(src: &Source<'_>, w: &Spanned<RawWorkload>) -> Result<Users, ScenarioError> {
    let r = w.get_ref();
    match (&r.users, &r.users_file) {
        (Some(_), Some(f)) => {
            let msg = "give either users = N or users_file = \"...\", not both";
            Err(src.error(f.span(), "workload.users_file", msg))
        }
        (None, None) => {
            let msg =
                "missing: expected users = N (with optional name_pattern) or users_file = \"users.txt\"";
            Err(src.error(w.span(), "workload.users", msg))
        }
        (Some(n), None) => {
            let count = int_in(src, n, "workload.users", 0, i64::from(u32::MAX))?;
            let pattern = match &r.name_pattern {
                None => "user{n}".to_string(),
                Some(p) => {
                    check_pattern(p.get_ref())
                        .map_err(|m| src.error(p.span(), "workload.name_pattern", m))?;
                    p.get_ref().clone()
                }
            };
            Ok(Users::Generated { count, pattern })
        }
        (None, Some(f)) => {
            if let Some(p) = &r.name_pattern {
                let msg = "name_pattern only applies to users = N, not to users_file";
                return Err(src.error(p.span(), "workload.name_pattern", msg));
            }
            let (path, text) = read(src, f, "workload.users_file")?;
            let mut names: Vec<String> = Vec::new();
            let mut seen = std::collections::HashMap::new();
            for (i, line) in text.lines().enumerate() {
                let name = line.trim();
                if name.is_empty() {
                    continue;
                }
                if let Some(first) = seen.insert(name.to_string(), i + 1) {
                    let msg = format!(
                        "duplicate user name {name:?} (first on line {first}): expected unique names"
                    );
                    return Err(ScenarioError::at_line(&path, i + 1, Some(1), msg).with_field("users_file"));
                }
                names.push(name.to_string());
            }
            Ok(Users::File { path, names })
        }
    }
}

fn workload(src: &Source<'_>, w: &Spanned<RawWorkload>) -> Result<Workload, ScenarioError> {
    let r = w.get_ref();
    let users = users(src, w)?;
    let sessions_per_day = match &r.sessions_per_day {
        None => 0.0,
        Some(v) if (0.0..=MAX_SESSIONS_PER_DAY).contains(v.get_ref()) => *v.get_ref(),
        Some(v) => {
            let msg = format!(
                "{} is out of range: expected a rate >= 0 and <= {MAX_SESSIONS_PER_DAY} (one a second)",
                v.get_ref()
            );
            return Err(src.error(v.span(), "workload.sessions_per_day", msg));
        }
    };
    let daily_profile = match &r.daily_profile {
        None => None,
        Some(p) => Some(daily_profile(src, p)?),
    };
    let dist = |d: &Option<Spanned<super::schema::RawDist>>, unit, field: &str, default| match d {
        None => Ok(default),
        Some(d) => dist::from_raw(src, d, unit, &format!("workload.{field}")),
    };
    Ok(Workload {
        users,
        tag: r.tag.clone().unwrap_or_default(),
        sessions_per_day,
        daily_profile,
        session_length: dist(
            &r.session_length,
            Unit::Duration,
            "session_length",
            Dist::Fixed {
                value: 8.0 * 3_600_000.0,
            },
        )?,
        connections_per_session: dist(
            &r.connections_per_session,
            Unit::Count,
            "connections_per_session",
            Dist::Fixed { value: 1.0 },
        )?,
        reconnect_after_kick: dist(
            &r.reconnect_after_kick,
            Unit::Duration,
            "reconnect_after_kick",
            Dist::Fixed { value: 0.0 },
        )?,
    })
}

fn daily_profile(src: &Source<'_>, p: &Spanned<Vec<Spanned<f64>>>) -> Result<[f64; 24], ScenarioError> {
    let field = "workload.daily_profile";
    let v = p.get_ref();
    if v.len() != 24 {
        let msg = format!(
            "has {} entries: expected 24, one rate factor per hour of the day",
            v.len()
        );
        return Err(src.error(p.span(), field, msg));
    }
    let mut out = [0.0; 24];
    for (i, x) in v.iter().enumerate() {
        if !x.get_ref().is_finite() || *x.get_ref() < 0.0 {
            let msg = format!("{} is out of range: expected a factor >= 0", x.get_ref());
            return Err(src.error(x.span(), format!("{field}[{i}]"), msg));
        }
        out[i] = *x.get_ref();
    }
    let sum: f64 = out.iter().sum();
    if sum <= 0.0 {
        return Err(src.error(p.span(), field, "all 24 factors are 0: expected at least one > 0"));
    }
    out.iter_mut().for_each(|x| *x *= 24.0 / sum);
    Ok(out)
}

fn initial(
    src: &Source<'_>,
    raw: Option<&Spanned<RawInitial>>,
    backends: &[Backend],
    user_count: usize,
) -> Result<Initial, ScenarioError> {
    let Some(raw) = raw else {
        return Ok(Initial::Empty);
    };
    let r = raw.get_ref();
    let forms = [
        r.counts.as_ref().map(|c| ("counts", c.span())),
        r.warmup.as_ref().map(|w| ("warmup", w.span())),
        (r.status_file.as_ref().map(|f| ("status_file", f.span())))
            .or(r.map_file.as_ref().map(|f| ("map_file", f.span()))),
    ];
    let mut given = forms.iter().flatten();
    if let (Some((a, _)), Some((b, span))) = (given.next(), given.next()) {
        let msg =
            format!("{b} cannot be combined with {a}: give one of counts, warmup, or status_file/map_file");
        return Err(src.error(span.clone(), format!("initial.{b}"), msg));
    }
    if let Some(counts) = &r.counts {
        return counts_initial(src, counts, backends, user_count);
    }
    if let Some(w) = &r.warmup {
        let ms = positive_duration(src, w, "initial.warmup")?;
        return Ok(Initial::Warmup(ms));
    }
    if r.status_file.is_none() && r.map_file.is_none() {
        return Ok(Initial::Empty);
    }
    Ok(Initial::Imported(imported(src, r, backends, user_count)?))
}

/// Reads `status_file` and `map_file`; their hosts must be the scenario's.
fn imported(
    src: &Source<'_>,
    r: &RawInitial,
    backends: &[Backend],
    user_count: usize,
) -> Result<Imported, ScenarioError> {
    let mut imported = Imported {
        status: None,
        map: None,
    };
    if let Some(f) = &r.status_file {
        let (path, text) = read(src, f, "initial.status_file")?;
        let rows = import::parse_status_lines(&text, &path)?;
        for (i, (line, row)) in rows.iter().enumerate() {
            let at =
                |msg: String| ScenarioError::at_line(&path, *line, Some(1), msg).with_field("mail server ip");
            if !backends.iter().any(|b| b.ip == row.ip) {
                let ip = row.ip;
                return Err(at(format!(
                    "backend {ip} is not in the scenario: add a [[backend]] with ip = \"{ip}\""
                )));
            }
            if let Some((first, _)) = rows[..i].iter().find(|(_, r)| r.ip == row.ip) {
                return Err(at(format!("{} is listed twice (first on line {first})", row.ip)));
            }
        }
        import::check_status_rows(&rows, &path)?;
        let total: u64 = rows.iter().map(|(_, r)| u64::from(r.users)).sum();
        // Without a map the status counts place the users (with one, the
        // map's records do, and the counts are only informative).
        if r.map_file.is_none() && total > user_count as u64 {
            let msg = format!(
                "{:?} has {total} users in all, but the workload has only {user_count}: \
                 raise workload.users",
                f.get_ref()
            );
            return Err(src.error(f.span(), "initial.status_file", msg));
        }
        if let Some(b) = backends.iter().find(|b| !rows.iter().any(|(_, r)| r.ip == b.ip)) {
            let msg = format!(
                "backend {} ({}) is not in {:?}: the status file lists every backend at t=0 \
                 (add new ones with a step)",
                b.name,
                b.ip,
                f.get_ref()
            );
            return Err(src.error(f.span(), "initial.status_file", msg));
        }
        imported.status = Some(rows.into_iter().map(|(_, r)| r).collect());
    }
    if let Some(f) = &r.map_file {
        let (path, text) = read(src, f, "initial.map_file")?;
        let rows = import::parse_map_lines(&text, &path)?;
        if let Some((line, row)) = rows.iter().find(|(_, r)| !backends.iter().any(|b| b.ip == r.ip)) {
            let msg = format!("record on {}, which is not a backend of the scenario", row.ip);
            return Err(ScenarioError::at_line(&path, *line, None, msg).with_field("mail server ip"));
        }
        imported.map = Some(rows.into_iter().map(|(_, r)| r).collect());
    }
    Ok(imported)
}

type RawCounts = Spanned<std::collections::BTreeMap<Spanned<String>, Spanned<i64>>>;

fn counts_initial(
    src: &Source<'_>,
    counts: &RawCounts,
    backends: &[Backend],
    user_count: usize,
) -> Result<Initial, ScenarioError> {
    let mut out: Vec<(usize, u32)> = Vec::new();
    let mut spans: Vec<_> = counts.get_ref().iter().collect();
    spans.sort_by_key(|(k, _)| k.span().start);
    for (key, value) in spans {
        let field = format!("initial.counts.{}", key.get_ref());
        let host = key.get_ref();
        let ip = HostIp::parse(host).ok();
        let Some(idx) = backends.iter().position(|b| b.name == *host || Some(b.ip) == ip) else {
            let msg = format!(
                "unknown backend {host:?}: expected a backend name or IP ({})",
                backend_names(backends)
            );
            return Err(src.error(key.span(), field, msg));
        };
        if out.iter().any(|(i, _)| *i == idx) {
            let msg = format!(
                "backend {} is given twice (by name and by IP)",
                backends[idx].name
            );
            return Err(src.error(key.span(), field, msg));
        }
        out.push((idx, int_in(src, value, &field, 0, i64::from(u32::MAX))?));
    }
    let total: u64 = out.iter().map(|(_, n)| u64::from(*n)).sum();
    if total > user_count as u64 {
        let msg = format!("the counts add up to {total} users, but the workload has only {user_count}");
        return Err(src.error(counts.span(), "initial.counts", msg));
    }
    out.sort_unstable();
    Ok(Initial::Counts(out))
}
