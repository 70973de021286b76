//! The scenario file: one TOML file describing a whole experiment (backends,
//! workload, initial state, and the doveadm steps to replay).
//!
//! [`load`] / [`parse`] turn the file into a checked [`Scenario`]: every
//! value is validated up front, so a run never fails half-way on bad input,
//! and every problem is reported as a [`ScenarioError`] naming the file,
//! line, column and key. The stages: `schema` mirrors the TOML with serde,
//! `validate` (and `steps`, for `[[step]]`) checks it and builds the types
//! below, [`dist`] holds the random distributions, [`import`] reads real
//! `doveadm director status` / `map` output for the initial state.

pub mod budget;
pub mod dist;
pub mod duration;
pub mod error;
pub mod import;
pub mod import_json;
pub mod limits;
pub(crate) mod schema;
mod steps;
mod validate;

use std::path::{Path, PathBuf};

use crate::director::Settings;
use crate::director::doveadm::Invocation;
use crate::director::ip::HostIp;

pub use dist::Dist;
pub use error::ScenarioError;
pub use import::{Imported, MapRow, StatusRow};

/// Reads a scenario file and checks it; relative `users_file`, `status_file`
/// and `map_file` paths are resolved against the file's directory.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let bytes = std::fs::read(path)
        .map_err(|e| ScenarioError::in_file(path, format!("cannot read the scenario file: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let off = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let (line, col) = error::line_col(std::str::from_utf8(&bytes[..off]).unwrap_or_default(), off);
        let msg = format!(
            "not UTF-8 text: invalid byte 0x{:02x}; a scenario file is UTF-8 TOML",
            bytes[off]
        );
        ScenarioError::at_line(path, line, Some(col), msg)
    })?;
    parse(&text, path)
}

/// Checks scenario `text`. `file` names it in errors and anchors relative
/// paths; it is not read.
pub fn parse(text: &str, file: &Path) -> Result<Scenario, ScenarioError> {
    validate::scenario(text, file)
}

/// A checked scenario: everything a run needs, in simulator units
/// (milliseconds, indices), with defaults filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// `name`: titles reports and names the output directory.
    pub name: String,
    /// `description`, shown in reports.
    pub description: Option<String>,
    /// `seed` of the run's RNG (default 0); `--seed` overrides it.
    pub seed: u64,
    /// `duration`: simulated time after t=0, in ms (> 0).
    pub duration_ms: u64,
    /// `sample_every`: time-series resolution in ms (default 10 s).
    pub sample_every_ms: u64,
    /// `start`: the wall-clock time of t=0 as unix seconds (UTC), so dates
    /// in tables look like a real cluster's (default 2025-01-01 00:00:00).
    pub start_unix: i64,
    /// `[director]` settings; defaults are Dovecot's.
    pub director: Settings,
    /// `[[backend]]`s in file order; indices are what [`Initial::Counts`] uses.
    pub backends: Vec<Backend>,
    /// `[workload]`: who logs in and how.
    pub workload: Workload,
    /// `[initial]`: the state at t=0.
    pub initial: Initial,
    /// `[[step]]`s in file order.
    pub steps: Vec<Step>,
    /// The file text, verbatim, so reports can embed exactly what ran.
    pub source: String,
    /// The file the scenario came from.
    pub path: PathBuf,
}

impl Scenario {
    /// The index of the backend named `host`, or whose IP is `host`: the
    /// two ways steps and `counts` refer to backends.
    pub fn find_backend(&self, host: &str) -> Option<usize> {
        let ip = HostIp::parse(host).ok();
        self.backends
            .iter()
            .position(|b| b.name == host)
            .or_else(|| ip.and_then(|ip| self.backends.iter().position(|b| b.ip == ip)))
    }
}

/// One `[[backend]]`: a mail server the director proxies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backend {
    /// `name`: what tables show and steps may use instead of the IP.
    pub name: String,
    /// `ip`: what the ring hashes (spec §2.1).
    pub ip: HostIp,
    /// `vhosts` (default 100, at most 1000).
    pub vhosts: u32,
    /// `tag` (default `""`).
    pub tag: String,
    /// `down` (default false): the backend starts marked down.
    pub down: bool,
    /// `capacity` (default: `vhosts`, or 100 when `vhosts` is 0): the
    /// backend's intended weight, what imbalance and fair shares are measured
    /// against. Vhost counts are a routing knob strategies turn (to 0 while
    /// draining, to tuned values); capacity is what the backend can carry.
    pub capacity: u32,
}

/// `[workload]`: the users and their sessions.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    /// `users` + `name_pattern`, or `users_file`.
    pub users: Users,
    /// `tag`: the users' director tag (default `""`).
    pub tag: String,
    /// `sessions_per_day`: Poisson session arrivals per user per day (≥ 0).
    pub sessions_per_day: f64,
    /// `daily_profile`: hourly rate factors normalised to mean 1 (hour 0 is
    /// the hour of t=0); `None` means a flat rate.
    pub daily_profile: Option<[f64; 24]>,
    /// `session_length`: a duration distribution in ms (default fixed 8 h).
    pub session_length: Dist,
    /// `connections_per_session`: a count distribution; round samples to an
    /// integer ≥ 1 ([`Dist::sample_count`]). Default fixed 1.
    pub connections_per_session: Dist,
    /// `reconnect_after_kick`: a duration distribution in ms (default 0).
    pub reconnect_after_kick: Dist,
}

/// The user names: generated from a pattern, or read from a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Users {
    /// `users = N` with `name_pattern` (default `user{n}`): names are built
    /// on demand, so 10 million users cost no memory here.
    Generated {
        /// How many users.
        count: u32,
        /// The pattern, with exactly one `{n}` or `{n:0W}` placeholder.
        pattern: String,
    },
    /// `users_file`: one name per line.
    File {
        /// The resolved path of the file.
        path: PathBuf,
        /// The names, in file order, without duplicates.
        names: Vec<String>,
    },
}

impl Users {
    /// How many users there are.
    pub fn len(&self) -> usize {
        match self {
            Users::Generated { count, .. } => *count as usize,
            Users::File { names, .. } => names.len(),
        }
    }

    /// Whether there are no users at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name of user `i` (0-based; `{n}` is `i + 1`). Out-of-range
    /// indices of a file give an empty name rather than a panic.
    pub fn name(&self, i: usize) -> String {
        match self {
            Users::Generated { pattern, .. } => validate::format_name(pattern, i as u64 + 1),
            Users::File { names, .. } => names.get(i).cloned().unwrap_or_default(),
        }
    }

    /// User `i`'s name into `out` (replacing its contents), without
    /// allocating once `out` has grown.
    pub fn name_into(&self, i: usize, out: &mut String) {
        match self {
            Users::Generated { pattern, .. } => validate::format_name_into(pattern, i as u64 + 1, out),
            Users::File { names, .. } => {
                out.clear();
                out.push_str(names.get(i).map_or("", |n| n.as_str()));
            }
        }
    }
}

/// `[initial]`: what the director knows at t=0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Initial {
    /// No `[initial]` table: no user records at t=0.
    Empty,
    /// `counts`: (backend index, users) pairs in backend order; each user is
    /// placed on its hashed backend while it has room, else clockwise on.
    Counts(Vec<(usize, u32)>),
    /// `warmup`: simulate this many ms from empty before t=0.
    Warmup(u64),
    /// `status_file` and/or `map_file`: a real cluster's state.
    Imported(Imported),
}

/// One `[[step]]`: a doveadm director command and when to run it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// 1-based line of the step's `run` value, for messages and reports.
    pub line: usize,
    /// `run`, as written.
    pub run: String,
    /// `run`, parsed. Host references are checked to exist (see
    /// [`Scenario::find_backend`]), or to be introduced by an earlier `add`.
    pub invocation: Invocation,
    /// When it runs.
    pub timing: StepTiming,
}

/// When a step runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepTiming {
    /// `at`: ms after t=0 (never earlier than a previous step's `at`).
    At(u64),
    /// `after`: ms after the previous step settled (default `After(0)`).
    After(u64),
}

#[cfg(test)]
mod tests;
