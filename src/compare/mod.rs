//! `dirsim compare`: the same start, several (strategy, placement) pairs,
//! R seeds each, run in parallel; per-run metrics, mean and 95% interval per
//! pair. Work can be split into shards (`--shard I/N`) and merged later
//! (`--merge`) into exactly what one machine would have written.
//!
//! Determinism: jobs are enumerated in a fixed order (pair, replication),
//! each run owns its engine and RNG, and results are written in job order,
//! so the thread count never changes an output byte. Summaries are computed
//! from the CSV text (parsed back), so an unsharded run and a merge of shards
//! go through the very same numbers.

pub mod io;
pub mod stats;

use rayon::prelude::*;

use crate::director::placement::Placement;
use crate::scenario::{Scenario, StepTiming};
use crate::sim::{RunOptions, RunResult, SimError};
use crate::strategy::StrategySpec;

/// One (strategy, placement) pair.
#[derive(Clone, Debug, PartialEq)]
pub struct Pair {
    /// The strategy.
    pub strategy: StrategySpec,
    /// The placement algorithm.
    pub placement: Placement,
}

impl Pair {
    /// `strategy @ placement`, the pair's label in tables.
    pub fn label(&self) -> String {
        if self.placement == Placement::Dovecot {
            self.strategy.to_string()
        } else {
            format!("{} @ {}", self.strategy, self.placement.name())
        }
    }
}

/// A whole study.
#[derive(Clone, Debug)]
pub struct Study {
    /// The pairs, in the order given.
    pub pairs: Vec<Pair>,
    /// Replications per pair (seeds `seed..seed+replications`).
    pub replications: u32,
    /// The first seed.
    pub seed: u64,
    /// Imbalance counted as balanced: `≤ 1 + tolerance`.
    pub tolerance: f64,
}

/// Metrics of one run (one row of `compare.csv`).
#[derive(Clone, Debug, PartialEq)]
pub struct RunMetrics {
    /// Index into [`Study::pairs`].
    pub pair: usize,
    /// 0-based replication.
    pub replication: u32,
    /// Its seed.
    pub seed: u64,
    /// Users moved.
    pub users_moved: u64,
    /// Connections kicked.
    pub connections_kicked: u64,
    /// Logins that waited.
    pub logins_delayed: u64,
    /// Logins that failed.
    pub logins_failed: u64,
    /// Imbalance at the end.
    pub final_imbalance: f64,
    /// Highest imbalance after the strategy started.
    pub peak_imbalance: f64,
    /// Seconds after the strategy's start until the imbalance stayed within
    /// tolerance for the rest of the run (`None`: never).
    pub settle_s: Option<f64>,
    /// Seconds after the strategy's start until its last moving command
    /// finished (0 when nothing moved).
    pub moves_done_s: f64,
    /// Commands issued.
    pub commands: u64,
    /// (seconds after t=0, imbalance) samples, for the charts.
    pub series: Vec<(f64, f64)>,
}

/// When strategies start: the scenario's first step's `at`, else t=0.
pub fn strategy_start_ms(scn: &Scenario) -> u64 {
    match scn.steps.first().map(|s| &s.timing) {
        Some(StepTiming::At(t)) => *t,
        _ => 0,
    }
}

/// Extracts the metrics of one run.
pub fn metrics(
    pair: usize,
    replication: u32,
    seed: u64,
    r: &RunResult,
    start_ms: u64,
    tol: f64,
) -> RunMetrics {
    let after: Vec<_> = r.samples.iter().filter(|s| s.t_ms >= start_ms).collect();
    let limit = 1.0 + tol;
    // The first sample from which every later one is within tolerance.
    let mut settle = None;
    for s in after.iter().rev() {
        if s.imbalance <= limit + 1e-12 {
            settle = Some(s.t_ms);
        } else {
            break;
        }
    }
    let moves_done = r
        .steps
        .iter()
        .filter(|s| s.index > 0 && s.moved > 0)
        .map(|s| s.settled_ms)
        .max()
        .map_or(0, |t| t.saturating_sub(start_ms));
    RunMetrics {
        pair,
        replication,
        seed,
        users_moved: r.summary.users_moved,
        connections_kicked: r.summary.connections_kicked,
        logins_delayed: r.summary.logins_delayed,
        logins_failed: r.summary.logins_failed,
        final_imbalance: r.summary.final_imbalance,
        peak_imbalance: after.iter().map(|s| s.imbalance).fold(0.0, f64::max),
        settle_s: settle.map(|t| t.saturating_sub(start_ms) as f64 / 1000.0),
        moves_done_s: moves_done as f64 / 1000.0,
        commands: r.steps.iter().filter(|s| s.index > 0).count() as u64,
        series: r
            .samples
            .iter()
            .map(|s| (s.t_ms as f64 / 1000.0, s.imbalance))
            .collect(),
    }
}

/// Checks that the study's seeds, `seed..seed + replications`, exist:
/// at least one replication, and no seed past `u64::MAX`.
pub fn check_seeds(seed: u64, replications: u32) -> Result<(), String> {
    if replications == 0 {
        return Err("--replications: expected at least 1".into());
    }
    match seed.checked_add(u64::from(replications) - 1) {
        Some(_) => Ok(()),
        None => Err(format!(
            "--seed {seed} with --replications {replications}: the last seed would be {seed} + {}, past the \
             largest seed ({}); lower --seed",
            replications - 1,
            u64::MAX
        )),
    }
}

/// The jobs of a study in their fixed order: (pair, replication).
pub fn jobs(study: &Study) -> Vec<(usize, u32)> {
    (0..study.pairs.len())
        .flat_map(|p| (0..study.replications).map(move |r| (p, r)))
        .collect()
}

/// Which jobs shard `i` of `n` (1-based) runs: every n-th, starting at i-1.
pub fn shard_jobs(all: &[(usize, u32)], shard: Option<(u32, u32)>) -> Vec<(usize, u32)> {
    match shard {
        None => all.to_vec(),
        Some((i, n)) => all
            .iter()
            .enumerate()
            .filter(|(k, _)| *k as u32 % n == i - 1)
            .map(|(_, j)| *j)
            .collect(),
    }
}

/// Runs `jobs` of the study on `threads` threads; results in job order.
pub fn run_jobs(
    scn: &Scenario,
    study: &Study,
    jobs: &[(usize, u32)],
    threads: usize,
) -> Result<Vec<RunMetrics>, SimError> {
    let start = strategy_start_ms(scn);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| SimError::Internal(format!("thread pool: {e}")))?;
    pool.install(|| {
        jobs.par_iter()
            .map(|&(p, rep)| {
                let pair = &study.pairs[p];
                let seed = study.seed + rep as u64;
                let mut scn = scn.clone();
                scn.director.placement = pair.placement;
                let opts = RunOptions {
                    seed,
                    check: false,
                    strategy: Some(pair.strategy.clone()),
                };
                let r = crate::sim::run_with(&scn, opts, &mut crate::sim::Quiet)?;
                Ok(metrics(p, rep, seed, &r, start, study.tolerance))
            })
            .collect()
    })
}
