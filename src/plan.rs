//! `dirsim plan`: from a real cluster's `doveadm director status` (and
//! optionally `map`) to a recommended command script.
//!
//! The imported state becomes a scenario (the same TOML a planner could
//! write, with `status_file`/`map_file`), every candidate strategy is
//! simulated from it over several seeds, those that reach the target are
//! ranked by the objective, and the best one's commands are printed as a
//! ready-to-paste script with IPs, waits and predicted tables. The emitted
//! scenario replays that very run with `dirsim run`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::compare::{self, Pair, Study, io as cio};
use crate::director::placement::Placement;
use crate::scenario::duration::format_duration_ms;
use crate::sim::{RunOptions, RunResult};
use crate::strategy::StrategySpec;

/// What to optimise among the strategies that reach the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Objective {
    /// Fewest users moved.
    Moved,
    /// Fewest connections kicked.
    Kicked,
    /// Shortest time until the last move finished.
    Time,
}

/// A planning request.
#[derive(Clone, Debug)]
pub struct PlanRequest {
    /// `doveadm director status` output (table, `-f tab` or JSON).
    pub status: PathBuf,
    /// `doveadm director map` output, if any.
    pub map: Option<PathBuf>,
    /// `ip=name` lines naming backends.
    pub names: Option<PathBuf>,
    /// Final imbalance to reach (e.g. 1.10).
    pub target: f64,
    /// At most this many users moved.
    pub max_moved: Option<u64>,
    /// Ranking.
    pub objective: Objective,
    /// Candidates (default: every strategy but `scripted` and `none`).
    pub strategies: Vec<StrategySpec>,
    /// Seeds per strategy.
    pub replications: u32,
    /// First seed.
    pub seed: u64,
    /// A scenario whose `[director]` and `[workload]` to use.
    pub workload: Option<PathBuf>,
    /// Where the emitted scenario's `users_file` will be (the caller writes
    /// [`Plan::users_text`] there); plan itself writes nothing but a
    /// temporary file.
    pub users_out: Option<PathBuf>,
    /// The memory the simulations may use.
    pub memory_budget: crate::scenario::budget::Budget,
}

/// A bad request (file, value): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

/// The outcome of planning.
pub struct Plan {
    /// The scenario text without steps (imported start + workload).
    pub base_scenario: String,
    /// The scenario text replaying the recommended run.
    pub emitted_scenario: Option<String>,
    /// The map's user names, one a line, for [`PlanRequest::users_out`]
    /// (the emitted scenario's `users_file`), when a map named users.
    pub users_text: Option<String>,
    /// The best candidate's run (replication 0), if any reached the target.
    pub best: Option<(StrategySpec, RunResult)>,
    /// What `plan` prints.
    pub text: String,
}

fn toml_str(s: &str) -> String {
    let mut q = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(q, "\\u{:04x}", c as u32);
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

fn read_names(path: &Path) -> Result<Vec<(String, String)>, PlanError> {
    let text = crate::scenario::import::read_text(path).map_err(|e| PlanError(e.to_string()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (ip, name) = line.split_once('=').ok_or_else(|| {
            PlanError(format!(
                "{}:{}: expected ip=name, found {line:?}",
                path.display(),
                i + 1
            ))
        })?;
        out.push((ip.trim().to_string(), name.trim().to_string()));
    }
    Ok(out)
}

/// The base scenario: its text, and the users file it refers to (a
/// temporary file, removed when dropped, and its text).
struct Base {
    text: String,
    users: Option<(tempfile::TempPath, String)>,
}

/// Builds the base scenario text from the imported files.
fn base_scenario(req: &PlanRequest) -> Result<Base, PlanError> {
    let abs = |p: &Path| {
        std::fs::canonicalize(p).map_err(|e| PlanError(format!("{}: cannot read the file: {e}", p.display())))
    };
    let status_path = abs(&req.status)?;
    let text = crate::scenario::import::read_text(&status_path).map_err(|e| PlanError(e.to_string()))?;
    let lines = crate::scenario::import::parse_status_lines(&text, &status_path)
        .map_err(|e| PlanError(e.to_string()))?;
    for (k, (line, row)) in lines.iter().enumerate() {
        if let Some((first, _)) = lines[..k].iter().find(|(_, r)| r.ip == row.ip) {
            return Err(PlanError(format!(
                "{}:{line}: duplicate IP {} (already on line {first})",
                status_path.display(),
                row.ip
            )));
        }
    }
    crate::scenario::import::check_status_rows(&lines, &status_path).map_err(|e| PlanError(e.to_string()))?;
    let total: u64 = lines.iter().map(|(_, r)| u64::from(r.users)).sum();
    if total > u64::from(u32::MAX) {
        return Err(PlanError(format!(
            "{}: the users column adds up to {total}, more than a simulation holds (at most {}): \
             not a real director's status",
            status_path.display(),
            u32::MAX
        )));
    }
    let rows: Vec<_> = lines.into_iter().map(|(_, r)| r).collect();
    if rows.is_empty() {
        return Err(PlanError(format!(
            "{}: no backends in the status output",
            req.status.display()
        )));
    }
    let names = match &req.names {
        Some(p) => read_names(p)?,
        None => Vec::new(),
    };
    let mut s = String::new();
    let _ = writeln!(s, "# Generated by `dirsim plan` from {}", req.status.display());
    let _ = writeln!(s, "name = \"plan\"");
    let _ = writeln!(s, "seed = {}", req.seed);
    let _ = writeln!(s, "duration = \"2h\"\nsample_every = \"10s\"\n");
    let (director, workload) = match &req.workload {
        Some(p) => {
            let scn = crate::scenario::load(p).map_err(|e| PlanError(e.to_string()))?;
            (Some(scn.director), Some(scn.workload))
        }
        None => (None, None),
    };
    if let Some(d) = &director {
        let _ = writeln!(
            s,
            "[director]\nuser_expire = \"{}s\"\nuser_kick_delay = \"{}s\"\nmax_parallel_moves = {}\n\
             max_parallel_kicks = {}\nusername_hash = {}\nkick_latency = \"{}ms\"\n",
            d.user_expire_secs,
            d.user_kick_delay_secs,
            d.max_parallel_moves,
            d.max_parallel_kicks,
            toml_str(&d.username_hash.to_string()),
            d.kick_latency_ms
        );
    }
    for r in &rows {
        let ip = r.ip.to_string();
        let name = names
            .iter()
            .find(|(i, _)| *i == ip)
            .map_or(ip.clone(), |(_, n)| n.clone());
        let _ = writeln!(
            s,
            "[[backend]]\nname = {}\nip = {}\nvhosts = {}",
            toml_str(&name),
            toml_str(&ip),
            r.vhosts
        );
        if !r.tag.is_empty() {
            let _ = writeln!(s, "tag = {}", toml_str(&r.tag));
        }
        if r.down {
            let _ = writeln!(s, "down = true");
        }
        if r.vhosts == 0 {
            let _ = writeln!(s, "capacity = 100");
        }
        s.push('\n');
    }
    s.push_str("[workload]\n");
    // With a map the population is the map's named users (a users file
    // next to the emitted scenario); without, `total` stand-ins.
    let mut users = None;
    let population = match &req.map {
        Some(m) => {
            let m = abs(m)?;
            let text = crate::scenario::import::read_text(&m).map_err(|e| PlanError(e.to_string()))?;
            let rows = crate::scenario::import::parse_map(&text, &m).map_err(|e| PlanError(e.to_string()))?;
            let mut seen = std::collections::HashSet::new();
            let names: Vec<String> = rows
                .into_iter()
                .filter_map(|r| r.user)
                .filter(|u| seen.insert(u.clone()))
                .collect();
            if names.is_empty() {
                format!("users = {}", total.max(1))
            } else {
                let mut body = names.join("\n");
                body.push('\n');
                let tmp = tempfile::Builder::new()
                    .prefix("dirsim-plan-users-")
                    .suffix(".txt")
                    .tempfile()
                    .map_err(|e| PlanError(format!("creating a temporary users file: {e}")))?
                    .into_temp_path();
                std::fs::write(&tmp, body.as_bytes())
                    .map_err(|e| PlanError(format!("writing {}: {e}", tmp.display())))?;
                let line = format!("users_file = {}", toml_str(&tmp.to_string_lossy()));
                users = Some((tmp, body));
                line
            }
        }
        None => format!("users = {}", total.max(1)),
    };
    match workload {
        Some(w) => {
            let _ = writeln!(s, "{population}");
            let _ = writeln!(s, "sessions_per_day = {}", w.sessions_per_day);
            let _ = writeln!(s, "session_length = {}", dist_toml(&w.session_length, true));
            let _ = writeln!(
                s,
                "connections_per_session = {}",
                dist_toml(&w.connections_per_session, false)
            );
            let _ = writeln!(
                s,
                "reconnect_after_kick = {}",
                dist_toml(&w.reconnect_after_kick, true)
            );
        }
        None => {
            // Long-lived IMAP sessions: everyone stays connected.
            let _ = writeln!(
                s,
                "{population}\nsessions_per_day = 0\nsession_length = {{ dist = \"fixed\", value = \"1d\" }}\n\
                 connections_per_session = {{ dist = \"uniform\", min = 1, max = 3 }}\n\
                 reconnect_after_kick = {{ dist = \"exponential\", mean = \"5s\" }}"
            );
        }
    }
    let _ = writeln!(
        s,
        "\n[initial]\nstatus_file = {}",
        toml_str(&status_path.to_string_lossy())
    );
    if let Some(m) = &req.map {
        let _ = writeln!(s, "map_file = {}", toml_str(&abs(m)?.to_string_lossy()));
    }
    Ok(Base { text: s, users })
}

fn dist_toml(d: &crate::scenario::Dist, duration: bool) -> String {
    use crate::scenario::Dist;
    let v = |x: f64| {
        if duration {
            format!("\"{}ms\"", x.round() as u64)
        } else {
            format!("{x}")
        }
    };
    match *d {
        Dist::Fixed { value } => format!("{{ dist = \"fixed\", value = {} }}", v(value)),
        Dist::Uniform { min, max } => format!("{{ dist = \"uniform\", min = {}, max = {} }}", v(min), v(max)),
        Dist::Exponential { mean } => format!("{{ dist = \"exponential\", mean = {} }}", v(mean)),
        Dist::LogNormal { median, sigma } => {
            format!(
                "{{ dist = \"lognormal\", median = {}, sigma = {sigma} }}",
                v(median)
            )
        }
        Dist::Pareto { scale, shape } => {
            format!("{{ dist = \"pareto\", scale = {}, shape = {shape} }}", v(scale))
        }
    }
}

/// Plans.
pub fn plan(req: &PlanRequest) -> Result<Plan, PlanError> {
    crate::compare::check_seeds(req.seed, req.replications).map_err(PlanError)?;
    let Base {
        text: mut base,
        users,
    } = base_scenario(req)?;
    let scn = crate::scenario::parse(&base, Path::new("plan.toml")).map_err(|e| PlanError(e.to_string()))?;
    // The names are in memory now; the emitted scenario points at
    // `users_out`, which the caller writes.
    let users_text = match users {
        Some((tmp, body)) => {
            let to = req.users_out.as_ref().map_or_else(
                || PathBuf::from("users.txt"),
                |p| std::path::absolute(p).unwrap_or_else(|_| p.clone()),
            );
            base = base.replace(
                &toml_str(&tmp.to_string_lossy()),
                &toml_str(&to.to_string_lossy()),
            );
            Some(body)
        }
        None => None,
    };
    // move-greedy names users and tune-vhosts fits the users' hashes: both
    // need the real users, which only a map gives.
    let needs_users = ["move-greedy", "tune-vhosts"];
    let strategies: Vec<StrategySpec> = if req.strategies.is_empty() {
        [
            "flush-all",
            "documented",
            "drain-overloaded",
            "move-greedy",
            "tune-vhosts",
        ]
        .iter()
        .filter(|s| req.map.is_some() || !needs_users.contains(s))
        .map(|s| s.parse().expect("built-in names parse"))
        .collect()
    } else {
        req.strategies.clone()
    };
    if req.map.is_none()
        && let Some(s) = strategies.iter().find(|s| needs_users.contains(&s.name.as_str()))
    {
        return Err(PlanError(format!(
            "--strategy {}: needs --map (the real users' names and hashes); with --status alone the users are invented",
            s.name
        )));
    }
    let study = Study {
        pairs: strategies
            .iter()
            .map(|s| Pair {
                strategy: s.clone(),
                placement: Placement::Dovecot,
            })
            .collect(),
        replications: req.replications,
        seed: req.seed,
        tolerance: req.target - 1.0,
    };
    let jobs = compare::jobs(&study);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load = crate::scenario::budget::Load {
        parallel: threads.min(jobs.len()).max(1) as u64,
        kept_runs: jobs.len() as u64,
    };
    crate::scenario::budget::check(&scn, load, &req.memory_budget).map_err(|e| {
        let from = match &req.map {
            Some(m) => format!("--status {} --map {}", req.status.display(), m.display()),
            None => format!("--status {}", req.status.display()),
        };
        PlanError(format!("{from}: {}", e.message))
    })?;
    let runs = compare::run_jobs(&scn, &study, &jobs, threads).map_err(|e| PlanError(e.to_string()))?;
    let sum = cio::summarise(&study, &runs);
    let key = match req.objective {
        Objective::Moved => 0,
        Objective::Kicked => 1,
        Objective::Time => 7,
    };
    // Which candidates reach the target, and why the others do not.
    let mut ok: Vec<usize> = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    for (p, m) in sum.iter().enumerate() {
        let (fin, moved) = (m[4].0.mean, m[0].0.mean);
        let label = study.pairs[p].label();
        if fin > req.target + 1e-9 {
            failed.push(format!(
                "{label}: ends at imbalance {fin:.3}, above the target {:.3}",
                req.target
            ));
        } else if req.max_moved.is_some_and(|mx| moved > mx as f64) {
            failed.push(format!(
                "{label}: moves {moved:.0} users, more than --max-moved {}",
                req.max_moved.unwrap_or(0)
            ));
        } else {
            ok.push(p);
        }
    }
    ok.sort_by(|&a, &b| {
        sum[a][key]
            .0
            .mean
            .total_cmp(&sum[b][key].0.mean)
            .then(sum[a][4].0.mean.total_cmp(&sum[b][4].0.mean))
    });
    let mut text = String::new();
    if req.map.is_none() {
        text.push_str(
            "# Status only: the users are stand-ins placed by the counts rule (their hashes are not the real\n\
             # ones), so the tables are estimates; give --map for the real users (and move-greedy, tune-vhosts).\n",
        );
    }
    let best = match ok.first() {
        None => None,
        Some(&p) => {
            let spec = study.pairs[p].strategy.clone();
            let opts = RunOptions {
                seed: req.seed,
                check: false,
                strategy: Some(spec.clone()),
            };
            let r = crate::sim::run_with(&scn, opts, &mut crate::sim::Quiet)
                .map_err(|e| PlanError(e.to_string()))?;
            Some((spec, r))
        }
    };
    match &best {
        Some((spec, r)) => {
            let _ = writeln!(
                text,
                "# Recommended: {spec} (imbalance target {:.2}, objective {:?})",
                req.target, req.objective
            );
            text.push_str(&script(r, &scn));
            let _ = writeln!(
                text,
                "\n# Predicted: {} users moved, {} connections kicked, done after {}\n",
                r.summary.users_moved,
                r.summary.connections_kicked,
                format_duration_ms(r.steps.last().map_or(0, |s| s.settled_ms))
            );
            let mut tables = Vec::new();
            let _ = crate::report::table::write_steps(r, crate::report::TableStyle::Seed, &mut tables);
            text.push_str(&String::from_utf8_lossy(&tables));
        }
        None => {
            let best_fin = sum
                .iter()
                .enumerate()
                .min_by(|a, b| a.1[4].0.mean.total_cmp(&b.1[4].0.mean));
            if let Some((p, m)) = best_fin {
                let _ = writeln!(
                    text,
                    "# No strategy reaches imbalance {:.3}. The best reachable is {:.3} ({}).",
                    req.target,
                    m[4].0.mean,
                    study.pairs[p].label()
                );
            }
        }
    }
    // Runners-up and failures.
    text.push_str("\n# All candidates (mean ± 95% interval over the seeds):\n");
    for line in cio::table_text("plan", &study, &sum).lines().skip(1) {
        let _ = writeln!(text, "#   {line}");
    }
    if !failed.is_empty() {
        text.push_str("# Not recommended:\n");
        for f in &failed {
            let _ = writeln!(text, "#   {f}");
        }
    }
    if req.map.is_some() {
        tune_note(&mut text, &study, &sum, &scn, req)?;
    }
    let emitted = best.as_ref().map(|(spec, r)| emitted_scenario(&base, spec, r));
    Ok(Plan {
        base_scenario: base,
        emitted_scenario: emitted,
        users_text,
        best,
        text,
    })
}

/// When hashing cannot reach the target, tune-vhosts shows the vhost counts
/// that would for this user set.
fn tune_note(
    text: &mut String,
    study: &Study,
    sum: &[Vec<(crate::compare::stats::Estimate, usize)>],
    scn: &crate::scenario::Scenario,
    req: &PlanRequest,
) -> Result<(), PlanError> {
    let hashing_only = ["flush-all", "documented", "drain-overloaded"];
    let best_hash = study
        .pairs
        .iter()
        .zip(sum)
        .filter(|(p, _)| hashing_only.contains(&p.strategy.name.as_str()))
        .map(|(_, m)| m[4].0.mean)
        .fold(f64::INFINITY, f64::min);
    if best_hash.is_finite() && best_hash > req.target {
        let _ = writeln!(
            text,
            "# Under hashing with the current vhost counts the best balance is {best_hash:.3}, above the target."
        );
        let spec: StrategySpec = "tune-vhosts".parse().expect("name parses");
        let opts = RunOptions {
            seed: req.seed,
            check: false,
            strategy: Some(spec),
        };
        let r =
            crate::sim::run_with(scn, opts, &mut crate::sim::Quiet).map_err(|e| PlanError(e.to_string()))?;
        let updates: Vec<&str> = r
            .steps
            .iter()
            .filter(|s| s.command.contains(" update "))
            .map(|s| s.command.as_str())
            .collect();
        let fin = r.summary.final_imbalance;
        let _ = writeln!(
            text,
            "# Vhost counts tuned to the actual users' hashes reach {fin:.3}{}:",
            if fin <= req.target {
                " (within target)"
            } else {
                " (still above target)"
            }
        );
        for u in updates {
            let _ = writeln!(text, "#   {}", with_ips(u, scn));
        }
    }
    Ok(())
}

/// A command line with backend names replaced by their IPs.
fn with_ips(cmd: &str, scn: &crate::scenario::Scenario) -> String {
    cmd.split(' ')
        .map(|w| {
            scn.backends
                .iter()
                .find(|b| b.name == w)
                .map_or(w.to_string(), |b| b.ip.to_string())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The ready-to-paste script: each command with IPs, and the waits.
fn script(r: &RunResult, scn: &crate::scenario::Scenario) -> String {
    let mut s = String::new();
    let mut prev_end = None;
    for step in r.steps.iter().filter(|s| s.index > 0) {
        if let Some(end) = prev_end {
            let gap = step.at_ms.saturating_sub(end);
            if gap >= 1000 {
                let _ = writeln!(s, "# then wait {}", format_duration_ms(gap / 1000 * 1000));
            }
        }
        let _ = writeln!(s, "{}", with_ips(&step.command, scn));
        let took = step.settled_ms - step.at_ms;
        if step.command.contains(" flush ") && took > 0 {
            let _ = writeln!(
                s,
                "# wait until the flush has finished (about {})",
                format_duration_ms(took.div_ceil(1000) * 1000)
            );
        } else if step.command.contains(" move ") && took > 0 {
            let _ = writeln!(
                s,
                "# the move blocks the user's logins for about {}",
                format_duration_ms(took.div_ceil(1000) * 1000)
            );
        }
        prev_end = Some(step.settled_ms);
    }
    if s.is_empty() {
        s.push_str("# (no commands needed)\n");
    }
    s
}

/// The base scenario plus the best run's commands as `[[step]]`s at the
/// exact times they ran, so `dirsim run` replays the plan.
fn emitted_scenario(base: &str, spec: &StrategySpec, r: &RunResult) -> String {
    let mut s = base.replacen("name = \"plan\"", &format!("name = \"plan: {spec}\""), 1);
    for step in r.steps.iter().filter(|s| s.index > 0) {
        let _ = writeln!(
            s,
            "\n[[step]]\nat = \"{}ms\"\nrun = {}",
            step.at_ms,
            toml_str(&step.command)
        );
    }
    s
}
