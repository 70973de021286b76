//! How much memory a run will need, estimated before it starts, and the
//! budget it must fit in: a simulation that cannot fit is refused with the
//! estimate (exit 2) instead of being killed by the kernel half-way.
//!
//! The estimate is a sum of counts times per-item costs. The costs are
//! calibrated from the peak resident memory (`/usr/bin/time -f %M`, which
//! also covers writing the outputs) of release builds, fitted over
//! `scenarios/bench-100k.toml`, `scenarios/scale-1m.toml` and generated
//! scenarios that vary one count at a time (1-4 M users with no sessions;
//! 1 M users with 0.5-1 M open sessions of 1 or 4 connections; 2 M users
//! all connected at t=0; 700 simulated days; 8.6 M time-series rows);
//! bench-100k and scale-1m come out within 10 %. They are the engine's
//! sizes as of this writing: whoever changes the engine's data structures
//! re-measures and updates them (see README, Exit codes and errors).

use std::ops::Range;

use bytesize::ByteSize;

use super::error::{ScenarioError, line_col};
use super::{Initial, Scenario};

/// The process before any simulation state: code, fonts, the scenario.
pub const BASE_BYTES: u64 = 8 << 20;
/// One user: its runtime entry, its director record slot and hash index
/// entry, its hash.
pub const BYTES_PER_USER: u64 = 84;
/// One open session (slab entry, free list, growth slack).
pub const BYTES_PER_SESSION: u64 = 28;
/// One open proxied connection (slab entry, its 4-byte keep-alive
/// generation, growth slack, and what its keep-alive on the FIFO lane costs
/// beyond an ordinary pending event: a 40-byte entry instead of 20, shared
/// by the connections a session opens together). Checked again after those
/// last changes: bench-100k 22 MiB estimated vs 21 measured, scale-1m 146
/// vs 150, scale-10m 1386 vs 1218 (on the safe side).
pub const BYTES_PER_CONNECTION: u64 = 42;
/// One pending event in the queue (arrival, session end, refresh).
pub const BYTES_PER_PENDING_EVENT: u64 = 21;
/// Extra for each connection open at t=0: their keep-alives all fall due
/// in the same millisecond, and one queue bucket holds them all at once.
pub const BYTES_PER_INITIAL_CONNECTION: u64 = 80;
/// One row (sample × backend) of the time series, in memory and as CSV
/// and chart text while the outputs are written.
pub const BYTES_PER_SAMPLE_ROW: u64 = 128;
/// The event queue keeps an index entry per span (2^20 ms, about 17.5
/// minutes) of simulated time up to its latest pending event (24 bytes
/// each).
pub const BYTES_PER_QUEUE_HOUR: u64 = 83;
/// One imbalance sample of one run that `compare` and `plan` keep for
/// their tables, CSV files and charts.
pub const BYTES_PER_COMPARE_SAMPLE: u64 = 96;

/// Share of the available memory that the default budget allows.
pub const DEFAULT_SHARE: f64 = 0.8;
/// The budget when /proc/meminfo cannot be read (not Linux, no /proc).
pub const FALLBACK_BUDGET: u64 = 4 << 30;
/// Latest time the event queue indexes densely (about 795 days); later
/// events go to a heap that costs nothing per hour.
const DENSE_QUEUE_MS: u64 = 1 << 36;

/// The memory a run may use.
#[derive(Clone, Debug, PartialEq)]
pub enum Budget {
    /// `--memory-budget none`: no check.
    Unlimited,
    /// At most `bytes`; `origin` says where the number came from, for the
    /// message (e.g. "80% of available memory").
    Bytes {
        /// The budget.
        bytes: u64,
        /// Where it came from.
        origin: String,
    },
}

impl Budget {
    /// Parses `none` or a size such as `8GiB`, `500MiB`, `2GB` (SI units are
    /// powers of 1000, IEC units powers of 1024) or a plain byte count.
    pub fn parse(text: &str, origin: &str) -> Result<Budget, String> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("none") {
            return Ok(Budget::Unlimited);
        }
        // ByteSize takes "-1" or "" as errors, but also "1.5.5GiB" as 1.5: so
        // check the shape first.
        let digits = t.trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == ' ');
        if digits.is_empty()
            || digits.matches('.').count() > 1
            || !digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        {
            return Err(format!(
                "invalid memory budget {text:?}: expected a size such as 8GiB, 500MiB or 2GB, or none"
            ));
        }
        match t.parse::<ByteSize>() {
            Ok(b) => Ok(Budget::Bytes {
                bytes: b.as_u64(),
                origin: origin.to_string(),
            }),
            Err(e) => Err(format!(
                "invalid memory budget {text:?}: {e}; expected a size such as 8GiB, 500MiB or 2GB, or none"
            )),
        }
    }

    /// The budget from `--memory-budget`, else from `DIRSIM_MEMORY_BUDGET`,
    /// else [`Budget::from_system`]. Errors name the flag or variable.
    pub fn resolve(flag: Option<&str>) -> Result<Budget, String> {
        if let Some(f) = flag {
            return Budget::parse(f, "--memory-budget").map_err(|e| format!("--memory-budget: {e}"));
        }
        match std::env::var("DIRSIM_MEMORY_BUDGET") {
            Ok(v) => {
                Budget::parse(&v, "DIRSIM_MEMORY_BUDGET").map_err(|e| format!("DIRSIM_MEMORY_BUDGET: {e}"))
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                Err("DIRSIM_MEMORY_BUDGET: not valid UTF-8: expected a size such as 8GiB, or none".into())
            }
            Err(std::env::VarError::NotPresent) => Ok(Budget::from_system()),
        }
    }

    /// 80% of MemAvailable in /proc/meminfo (memory the kernel can give
    /// without swapping); 80% of MemTotal when MemAvailable is missing
    /// (kernels before 3.14); [`FALLBACK_BUDGET`] when neither is readable.
    pub fn from_system() -> Budget {
        let info = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        Budget::from_meminfo(&info)
    }

    /// [`Budget::from_system`] on the text of a /proc/meminfo.
    pub fn from_meminfo(info: &str) -> Budget {
        let kib = |key: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
                .and_then(|v| v.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
        };
        let share = |kib: u64| (kib as f64 * 1024.0 * DEFAULT_SHARE) as u64;
        let pct = (DEFAULT_SHARE * 100.0).round();
        if let Some(k) = kib("MemAvailable") {
            Budget::Bytes {
                bytes: share(k),
                origin: format!("{pct}% of available memory"),
            }
        } else if let Some(k) = kib("MemTotal") {
            Budget::Bytes {
                bytes: share(k),
                origin: format!("{pct}% of total memory; MemAvailable is not in /proc/meminfo"),
            }
        } else {
            Budget::Bytes {
                bytes: FALLBACK_BUDGET,
                origin: "the fixed default; /proc/meminfo is not readable".into(),
            }
        }
    }
}

/// How a command runs simulations of one scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Load {
    /// Simulations in memory at once (`compare --jobs`).
    pub parallel: u64,
    /// Runs whose imbalance series are kept until the end (`compare`,
    /// `plan`); 0 for `run`.
    pub kept_runs: u64,
}

impl Load {
    /// One run, as `dirsim run` does.
    pub const SINGLE: Load = Load {
        parallel: 1,
        kept_runs: 0,
    };
}

/// The parts of an estimate: counts and their bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// Total bytes.
    pub bytes: u64,
    /// Users.
    pub users: u64,
    /// Sessions open at once at the busiest hour.
    pub sessions: u64,
    /// Connections open at once.
    pub connections: u64,
    /// Connections open at t=0.
    pub initial_connections: u64,
    /// Time-series rows (samples × (backends + 1)).
    pub sample_rows: u64,
    /// Each term and the scenario setting that drives it, largest first.
    pub terms: Vec<(Driver, u64)>,
}

/// What a share of the memory is for, and which setting to lower.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    /// The users.
    Users,
    /// Sessions, connections and their events.
    Sessions,
    /// Connections open at t=0.
    Initial,
    /// The time series.
    Samples,
    /// The queue's index over simulated time.
    Span,
    /// Runs kept by compare/plan.
    KeptRuns,
}

/// Estimates the peak memory of simulating `scn` under `load`.
pub fn estimate(scn: &Scenario, load: Load) -> Estimate {
    let w = &scn.workload;
    let users = w.users.len() as u64;
    let warmup = match scn.initial {
        Initial::Warmup(ms) => ms,
        _ => 0,
    };
    let run_ms = (warmup + scn.duration_ms) as f64;
    let day_ms = 86_400_000.0;
    let peak = w
        .daily_profile
        .map_or(1.0, |p| p.iter().copied().fold(0.0, f64::max));
    // Sampling clamps a connection count at 65535, so even an infinite
    // mean is bounded.
    let conns_per_session = w.connections_per_session.mean().clamp(1.0, 65_535.0);
    let session_ms = w.session_length.mean().min(run_ms);
    let initial = initial_users(scn) as f64;
    let initial_connections = initial * conns_per_session;
    let arriving = users as f64 * w.sessions_per_day / day_ms * peak * session_ms;
    let sessions = initial + arriving;
    let connections = sessions * conns_per_session;
    let arrival_events = if w.sessions_per_day > 0.0 {
        users as f64
    } else {
        0.0
    };
    let events = arrival_events + sessions + connections;
    // The latest pending event: the end of the run, or the latest first
    // arrival (the maximum of `users` exponential waits is about ln(users)
    // mean waits), whichever is later, up to the dense part of the queue.
    let latest_arrival = if w.sessions_per_day > 0.0 && users > 1 {
        (users as f64).ln() * day_ms / w.sessions_per_day
    } else {
        0.0
    };
    let span_ms = run_ms.max(latest_arrival).min(DENSE_QUEUE_MS as f64);
    let samples = scn.duration_ms / scn.sample_every_ms.max(1) + 1;
    let sample_rows = samples * (scn.backends.len() as u64 + 1);
    let per_run = |x: f64, b: u64| (x * b as f64) as u64;
    let mut terms = vec![
        (Driver::Users, users * BYTES_PER_USER),
        (
            Driver::Sessions,
            per_run(sessions, BYTES_PER_SESSION)
                + per_run(connections, BYTES_PER_CONNECTION)
                + per_run(events, BYTES_PER_PENDING_EVENT),
        ),
        (
            Driver::Initial,
            per_run(initial_connections, BYTES_PER_INITIAL_CONNECTION),
        ),
        (Driver::Samples, sample_rows.saturating_mul(BYTES_PER_SAMPLE_ROW)),
        (Driver::Span, per_run(span_ms / 3_600_000.0, BYTES_PER_QUEUE_HOUR)),
    ];
    for t in &mut terms {
        t.1 = t.1.saturating_mul(load.parallel.max(1));
    }
    terms.push((
        Driver::KeptRuns,
        load.kept_runs
            .saturating_mul(samples)
            .saturating_mul(BYTES_PER_COMPARE_SAMPLE),
    ));
    terms.sort_by_key(|t| std::cmp::Reverse(t.1));
    let bytes = terms.iter().fold(BASE_BYTES, |a, t| a.saturating_add(t.1));
    Estimate {
        bytes,
        users,
        sessions: sessions as u64,
        connections: connections as u64,
        initial_connections: initial_connections as u64,
        sample_rows,
        terms,
    }
}

/// Users that start with a session at t=0.
fn initial_users(scn: &Scenario) -> u64 {
    match &scn.initial {
        Initial::Counts(c) => c.iter().map(|(_, n)| u64::from(*n)).sum(),
        Initial::Imported(imp) => match (&imp.map, &imp.status) {
            (Some(m), _) => m.len() as u64,
            (None, Some(s)) => s.iter().map(|r| u64::from(r.users)).sum(),
            (None, None) => 0,
        },
        Initial::Empty | Initial::Warmup(_) => 0,
    }
}

/// A run that does not fit: what drives it and the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverBudget {
    /// Key path of the scenario setting that drives the estimate most, or
    /// `None` when it is the command line (`--jobs`, `--replications`).
    pub field: Option<&'static str>,
    /// `<what> need about <N> (estimate), more than ...; lower ... or
    /// raise --memory-budget`.
    pub message: String,
}

/// `size` for messages: `190.0 GiB`.
pub fn show(bytes: u64) -> String {
    ByteSize(bytes).display().iec().to_string()
}

/// Checks that simulating `scn` under `load` fits in `budget`.
pub fn check(scn: &Scenario, load: Load, budget: &Budget) -> Result<Estimate, OverBudget> {
    let e = estimate(scn, load);
    let Budget::Bytes { bytes: limit, origin } = budget else {
        return Ok(e);
    };
    if e.bytes <= *limit {
        return Ok(e);
    }
    let w = &scn.workload;
    let raise = if origin == "DIRSIM_MEMORY_BUDGET" {
        "raise DIRSIM_MEMORY_BUDGET"
    } else {
        "raise --memory-budget"
    };
    if e.terms[0].1 < BASE_BYTES {
        // Nothing the scenario sets dominates: the budget is below what the
        // program itself takes.
        return Err(OverBudget {
            field: None,
            message: format!(
                "the run needs about {} (estimate; {} of it the program itself), more than the memory \
                 budget of {} ({origin}); {raise}",
                show(e.bytes),
                show(BASE_BYTES),
                show(*limit)
            ),
        });
    }
    let (field, what, lower) = match e.terms[0].0 {
        Driver::Users => (
            Some(match w.users {
                super::Users::Generated { .. } => "workload.users",
                super::Users::File { .. } => "workload.users_file",
            }),
            format!("{} users", e.users),
            "lower users",
        ),
        Driver::Sessions => (
            Some("workload.sessions_per_day"),
            format!(
                "about {} sessions and {} connections open at once ({} users × sessions_per_day × session_length)",
                e.sessions, e.connections, e.users
            ),
            "lower users, sessions_per_day, session_length or connections_per_session",
        ),
        Driver::Initial => (
            Some("initial"),
            format!("{} connections open at t=0", e.initial_connections),
            "start with fewer users connected",
        ),
        Driver::Samples => (
            Some("sample_every"),
            format!("{} time-series rows (samples × backends)", e.sample_rows),
            "raise sample_every",
        ),
        Driver::Span => (
            Some("duration"),
            format!(
                "{} of simulated time",
                super::duration::format_duration_ms(scn.duration_ms)
            ),
            "shorten duration",
        ),
        Driver::KeptRuns => (
            None,
            format!("{} runs' time series", load.kept_runs),
            "lower --replications or raise sample_every",
        ),
    };
    let parallel = if load.parallel > 1 {
        format!(" in each of {} parallel runs", load.parallel)
    } else {
        String::new()
    };
    let lower = if load.parallel > 1 {
        format!("lower --jobs, {}", lower.trim_start_matches("lower "))
    } else {
        lower.to_string()
    };
    Err(OverBudget {
        field,
        message: format!(
            "{what}{parallel} need about {} (estimate), more than the memory budget of {} ({origin}); \
             {lower} or {raise}",
            show(e.bytes),
            show(*limit)
        ),
    })
}

impl OverBudget {
    /// The error at the driving setting's line in the scenario file.
    pub fn in_scenario(&self, scn: &Scenario) -> ScenarioError {
        let span = self.field.and_then(|f| locate(&scn.source, f));
        let e = match span {
            Some(span) => {
                let (line, col) = line_col(&scn.source, span.start);
                ScenarioError::at_line(&scn.path, line, Some(col), self.message.clone())
            }
            None => ScenarioError::in_file(&scn.path, self.message.clone()),
        };
        match self.field {
            Some(f) => e.with_field(f),
            None => e,
        }
    }
}

/// The byte span of the value at `path` (e.g. `["workload", "users"]`) in
/// TOML `text`, or of the deepest table on the path that exists.
pub fn locate(text: &str, path: &str) -> Option<Range<usize>> {
    use toml::de::{DeTable, DeValue};
    let (doc, _) = DeTable::parse_recoverable(text);
    let mut table: &DeTable<'_> = doc.get_ref();
    let mut found = None;
    for key in path.split('.') {
        let (_, v) = table.iter().find(|(k, _)| k.get_ref() == key)?;
        found = Some(v.span());
        match v.get_ref() {
            DeValue::Table(t) => table = t,
            _ => break,
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn scn(text: &str) -> Scenario {
        crate::scenario::parse(text, Path::new("t.toml")).unwrap()
    }

    #[test]
    fn sizes_parse() {
        let b = |s: &str| match Budget::parse(s, "x").unwrap() {
            Budget::Bytes { bytes, .. } => bytes,
            Budget::Unlimited => 0,
        };
        assert_eq!(b("8GiB"), 8 << 30);
        assert_eq!(b("500MiB"), 500 << 20);
        assert_eq!(b("2GB"), 2_000_000_000);
        assert_eq!(b("1.5 GiB"), 3 << 29);
        assert_eq!(b("1234"), 1234);
        assert_eq!(Budget::parse("none", "x"), Ok(Budget::Unlimited));
        for bad in ["", "-1GiB", "lots", "8 parsecs", "1.2.3GiB"] {
            assert!(Budget::parse(bad, "x").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn default_budget_reads_meminfo() {
        let info = "MemTotal:       24000000 kB\nMemFree: 1 kB\nMemAvailable:   10000000 kB\n";
        assert_eq!(
            Budget::from_meminfo(info),
            Budget::Bytes {
                bytes: 8_192_000_000,
                origin: "80% of available memory".into()
            }
        );
        let Budget::Bytes { bytes, origin } = Budget::from_meminfo("MemTotal: 1000 kB\n") else {
            panic!()
        };
        assert_eq!(bytes, 819_200);
        assert!(origin.contains("total memory"), "{origin}");
        let Budget::Bytes { bytes, origin } = Budget::from_meminfo("") else {
            panic!()
        };
        assert_eq!(bytes, FALLBACK_BUDGET);
        assert!(origin.contains("not readable"), "{origin}");
    }

    const BENCH: &str = "name = \"b\"\nduration = \"1d\"\nsample_every = \"15m\"\n\
        [[backend]]\nname = \"a\"\nip = \"10.0.0.1\"\n[workload]\nusers = 1000000\nsessions_per_day = 3\n\
        session_length = { dist = \"fixed\", value = \"1h\" }\n\
        connections_per_session = { dist = \"fixed\", value = 2 }\n";

    /// Counts by hand: 1 M users with 3 one-hour sessions a day have
    /// 125 000 sessions (250 000 connections) open at once, and 1 375 000
    /// pending events (one arrival per user, one end per session, one
    /// keep-alive per connection).
    #[test]
    fn estimate_counts() {
        let e = estimate(&scn(BENCH), Load::SINGLE);
        assert_eq!(e.users, 1_000_000);
        assert_eq!(e.sessions, 125_000);
        assert_eq!(e.connections, 250_000);
        assert_eq!(e.sample_rows, 97 * 2);
        // The latest first arrival, ln(1e6)/3 days ≈ 4.6 days, sets the span.
        let span_hours = 1e6f64.ln() / 3.0 * 24.0;
        let expect = BASE_BYTES
            + 1_000_000 * BYTES_PER_USER
            + 125_000 * BYTES_PER_SESSION
            + 250_000 * BYTES_PER_CONNECTION
            + 1_375_000 * BYTES_PER_PENDING_EVENT
            + 97 * 2 * BYTES_PER_SAMPLE_ROW
            + (span_hours * BYTES_PER_QUEUE_HOUR as f64) as u64;
        assert!(e.bytes.abs_diff(expect) < 16, "{} vs {expect}", e.bytes);
        let two = estimate(
            &scn(BENCH),
            Load {
                parallel: 2,
                kept_runs: 10,
            },
        );
        assert_eq!(
            two.bytes,
            2 * (e.bytes - BASE_BYTES) + BASE_BYTES + 10 * 97 * BYTES_PER_COMPARE_SAMPLE
        );
    }

    #[test]
    fn over_budget_names_the_setting() {
        let s = scn(&BENCH.replace("users = 1000000", "users = 2000000000"));
        let budget = Budget::Bytes {
            bytes: 1 << 30,
            origin: "test".into(),
        };
        let err = check(&s, Load::SINGLE, &budget).unwrap_err();
        assert_eq!(err.field, Some("workload.users"));
        assert!(
            err.message.starts_with("2000000000 users need about "),
            "{}",
            err.message
        );
        let shown = err.in_scenario(&s).to_string();
        assert!(
            shown.starts_with("t.toml:8:9: workload.users: 2000000000 users need"),
            "{shown}"
        );
        assert!(
            err.message
                .contains("more than the memory budget of 1.0 GiB (test)"),
            "{}",
            err.message
        );
        assert!(check(&s, Load::SINGLE, &Budget::Unlimited).is_ok());
        assert!(check(&scn(BENCH), Load::SINGLE, &budget).is_ok());
        let span = locate(&s.source, "workload.users").unwrap();
        assert_eq!(&s.source[span], "2000000000");
    }
}
