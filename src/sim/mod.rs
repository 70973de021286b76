//! The discrete-event engine: clock, event queue, workload, metrics.
//!
//! [`run`] simulates a [`Scenario`] with a seed and returns a
//! [`RunResult`]; an [`Observer`] hears about progress. Same scenario and
//! seed give the same result on every machine.

mod engine;
mod event;
mod initial;
pub mod metrics;
mod queue;
mod steps;
mod workload;

pub use event::Event;
pub use metrics::{
    BackendInfo, BackendRow, RunResult, RunStats, Sample, StepRecord, Summary, peak_memory_mib,
};
pub use queue::EventQueue;

use crate::scenario::Scenario;

/// Why a run could not complete.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The scenario asks for something impossible (stops the run; exit 2).
    #[error("{0}")]
    BadInput(String),
    /// A bug in dirsim (stops the run; exit 1).
    #[error("internal error: {0}")]
    Internal(String),
}

/// Hears about a run as it goes (the CLI draws a progress bar with it).
pub trait Observer {
    /// Simulated progress: `t_ms` of `total_ms`.
    fn progress(&mut self, _t_ms: u64, _total_ms: u64) {}
}

/// An observer that ignores everything.
pub struct Quiet;
impl Observer for Quiet {}

/// How to run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// The RNG seed.
    pub seed: u64,
    /// Verify the engine's invariants after every event (slow).
    pub check: bool,
    /// A strategy instead of the scenario's steps (`None` or `scripted`:
    /// the steps).
    pub strategy: Option<crate::strategy::StrategySpec>,
}

/// Simulates `scenario` with `seed`.
pub fn run(scenario: &Scenario, seed: u64, observer: &mut dyn Observer) -> Result<RunResult, SimError> {
    run_with(
        scenario,
        RunOptions {
            seed,
            ..RunOptions::default()
        },
        observer,
    )
}

/// Simulates `scenario` with explicit options.
pub fn run_with(
    scenario: &Scenario,
    opts: RunOptions,
    observer: &mut dyn Observer,
) -> Result<RunResult, SimError> {
    let mut e = engine::Engine::new(scenario, opts.seed)?;
    e.check = opts.check;
    if let Some(s) = opts.strategy.as_ref().and_then(|s| s.build()) {
        e.set_strategy(s);
    }
    e.run(observer)
}
