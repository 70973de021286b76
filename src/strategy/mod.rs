//! Rebalancing strategies: policies that look at what an admin can see
//! (`doveadm director status` and `map`) and decide which `doveadm director`
//! commands to run, and when. The engine asks a strategy for its next
//! [`Action`] at its start time and again each time the previous command has
//! settled (or a requested wait is over).
//!
//! `scripted` is not a strategy object: it is the engine's own replay of the
//! scenario's `[[step]]` list.

mod basic;
mod documented;
mod drain;
mod greedy;
mod tune;

use std::fmt;

use crate::director::{Director, HostId};
use crate::sim::{BackendInfo, BackendRow};

pub use basic::{FlushAll, NoOp};
pub use documented::Documented;
pub use drain::DrainOverloaded;
pub use greedy::MoveGreedy;
pub use tune::TuneVhosts;

/// What a strategy wants next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Run this `doveadm director` command line (backend names or IPs).
    Run(String),
    /// Ask again after this many milliseconds (at least 1).
    Wait(u64),
    /// Nothing more to do.
    Done,
}

/// What a strategy can observe: the state an admin reads off `status` and
/// `map`, plus the user population's hashes (dirsim knows every user).
pub struct View<'a> {
    /// Simulated time after t=0.
    pub now_ms: u64,
    /// Per backend (same order as `backends`): vhosts, state, users,
    /// connections, shares.
    pub rows: &'a [BackendRow],
    /// Names and IPs.
    pub backends: &'a [BackendInfo],
    /// Each backend's director host id.
    pub hosts: &'a [HostId],
    /// The director, read-only (records via [`Director::records`]).
    pub dir: &'a Director,
    /// The hash of every user of the workload (hash collisions included).
    pub users: &'a [u32],
    /// User `i`'s name (`users[i]` is its hash): `move` takes a name.
    pub names: &'a dyn Fn(usize) -> String,
}

impl View<'_> {
    /// Live backends' indices.
    pub fn live(&self) -> impl Iterator<Item = usize> + '_ {
        self.rows.iter().filter(|r| !r.removed).map(|r| r.backend)
    }

    /// Total records.
    pub fn total_users(&self) -> u64 {
        self.rows
            .iter()
            .filter(|r| !r.removed)
            .map(|r| r.users as u64)
            .sum()
    }

    /// A backend's fair share of users: total × its capacity share.
    pub fn fair_share(&self, b: usize) -> f64 {
        self.total_users() as f64 * self.rows[b].capacity_share
    }

    /// Imbalance the way metrics define it (max users / fair share).
    pub fn imbalance(&self) -> f64 {
        crate::sim::metrics::vhost_imbalance(self.rows)
    }
}

/// A rebalancing policy.
pub trait Strategy: Send {
    /// The strategy's name with its parameters, for tables.
    fn label(&self) -> String;
    /// The next action, given what the admin sees now.
    fn next(&mut self, view: &View<'_>) -> Action;
}

/// Parameters every strategy understands (`name:key=value,key=value`).
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// Accepted imbalance: within `1 + tolerance` of fair share is balanced.
    pub tolerance: f64,
    /// Pause between commands, ms.
    pub pause_ms: u64,
    /// `--max-parallel` for the flushes it issues (None: the director's).
    pub max_parallel: Option<u32>,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            tolerance: 0.1,
            pause_ms: 60_000,
            max_parallel: None,
        }
    }
}

impl Params {
    /// The flush command for a backend (name) or `all`.
    pub fn flush(&self, target: &str) -> String {
        match self.max_parallel {
            Some(n) => format!("doveadm director flush --max-parallel {n} {target}"),
            None => format!("doveadm director flush {target}"),
        }
    }
}

/// A strategy as named on the command line: `name[:key=value,...]`.
#[derive(Clone, Debug, PartialEq)]
pub struct StrategySpec {
    /// `scripted`, `none`, `flush-all`, `documented`, `drain-overloaded`,
    /// `move-greedy` or `tune-vhosts`.
    pub name: String,
    /// Its parameters.
    pub params: Params,
}

/// The strategy names, for help and errors.
pub const STRATEGIES: &[&str] = &[
    "scripted",
    "none",
    "flush-all",
    "documented",
    "drain-overloaded",
    "move-greedy",
    "tune-vhosts",
];

/// A `--strategy` value that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid strategy {input:?}: {reason} (expected NAME[:tolerance=0.1,pause=1m,max-parallel=N] with NAME one of {names})", names = STRATEGIES.join(", "))]
pub struct StrategyError {
    /// The rejected text.
    pub input: String,
    /// What is wrong.
    pub reason: String,
}

impl std::str::FromStr for StrategySpec {
    type Err = StrategyError;
    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |reason: String| StrategyError {
            input: input.to_string(),
            reason,
        };
        let (name, rest) = input.split_once(':').unwrap_or((input, ""));
        if !STRATEGIES.contains(&name) {
            return Err(fail(format!("unknown strategy {name:?}")));
        }
        let mut params = Params::default();
        for kv in rest.split(',').filter(|s| !s.is_empty()) {
            let Some((k, v)) = kv.split_once('=') else {
                return Err(fail(format!("parameter {kv:?} has no value")));
            };
            match k {
                "tolerance" => {
                    params.tolerance = v
                        .parse::<f64>()
                        .ok()
                        .filter(|t| t.is_finite() && *t >= 0.0)
                        .ok_or_else(|| fail(format!("tolerance {v:?}: expected a number >= 0")))?;
                }
                "pause" => {
                    params.pause_ms = crate::scenario::duration::parse_duration_ms(v)
                        .map_err(|e| fail(format!("pause: {e}")))?;
                }
                "max-parallel" => {
                    params.max_parallel =
                        Some(v.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                            fail(format!("max-parallel {v:?}: expected a positive integer"))
                        })?);
                }
                _ => {
                    return Err(fail(format!(
                        "unknown parameter {k:?} (tolerance, pause, max-parallel)"
                    )));
                }
            }
        }
        Ok(StrategySpec {
            name: name.to_string(),
            params,
        })
    }
}

impl fmt::Display for StrategySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        let d = Params::default();
        let mut parts = Vec::new();
        if self.params.tolerance != d.tolerance {
            parts.push(format!("tolerance={}", self.params.tolerance));
        }
        if self.params.pause_ms != d.pause_ms {
            parts.push(format!(
                "pause={}",
                crate::scenario::duration::format_duration_ms(self.params.pause_ms)
            ));
        }
        if let Some(n) = self.params.max_parallel {
            parts.push(format!("max-parallel={n}"));
        }
        if !parts.is_empty() {
            write!(f, ":{}", parts.join(","))?;
        }
        Ok(())
    }
}

impl StrategySpec {
    /// The strategy object, or `None` for `scripted` (the scenario's steps).
    pub fn build(&self) -> Option<Box<dyn Strategy>> {
        let p = self.params.clone();
        match self.name.as_str() {
            "scripted" => None,
            "none" => Some(Box::new(NoOp)),
            "flush-all" => Some(Box::new(FlushAll::new(p))),
            "documented" => Some(Box::new(Documented::new(p))),
            "drain-overloaded" => Some(Box::new(DrainOverloaded::new(p))),
            "move-greedy" => Some(Box::new(MoveGreedy::new(p))),
            "tune-vhosts" => Some(Box::new(TuneVhosts::new(p))),
            // Names are checked when parsed; a hand-built unknown one does nothing.
            _ => Some(Box::new(NoOp)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_print() {
        let s: StrategySpec = "drain-overloaded:tolerance=0.05,pause=30s,max-parallel=20"
            .parse()
            .unwrap();
        assert_eq!(
            s.params,
            Params {
                tolerance: 0.05,
                pause_ms: 30_000,
                max_parallel: Some(20)
            }
        );
        assert_eq!(
            s.to_string(),
            "drain-overloaded:tolerance=0.05,pause=30s,max-parallel=20"
        );
        assert_eq!(
            "flush-all".parse::<StrategySpec>().unwrap().to_string(),
            "flush-all"
        );
        for bad in [
            "nope",
            "none:x=1",
            "none:tolerance=-1",
            "none:max-parallel=0",
            "none:pause=5",
            "none:tolerance",
        ] {
            assert!(bad.parse::<StrategySpec>().is_err(), "{bad}");
        }
    }
}
