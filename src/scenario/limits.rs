//! Upper bounds on what a scenario (or a shell script) may ask for, checked
//! before anything is allocated or simulated. Each bound is either the
//! director's own (vhosts, its 32-bit clock) or far above any real cluster,
//! there so that a typo (`1e12` connections, `1ms` samples over ten years)
//! is an error on its line instead of an out-of-memory kill hours later.
//! Memory as a whole is bounded separately, by [`super::budget`].

/// Largest vhost count doveadm accepts ("vhost count too large", spec §4.1).
pub const MAX_VHOSTS: u32 = 1000;

/// Longest simulated duration of any kind (`duration`, `warmup`, step
/// times, director timeouts, distribution values): ten years of 365 days.
pub const MAX_DURATION_MS: u64 = 10 * 365 * 86_400_000;

/// Most time-series samples per run (`duration / sample_every + 1`): every
/// sample holds a row per backend in memory and in `timeseries.csv`.
pub const MAX_SAMPLES: u64 = 1_000_000;

/// Most sessions per user per day: one a second.
pub const MAX_SESSIONS_PER_DAY: f64 = 86_400.0;

/// Most connections one session opens (the values of
/// `connections_per_session`); real IMAP clients open a handful.
pub const MAX_CONNECTIONS_PER_SESSION: f64 = 1000.0;

/// Largest `sigma` of a log-normal distribution: beyond it the samples span
/// so many orders of magnitude that they are meaningless.
pub const MAX_LOGNORMAL_SIGMA: f64 = 10.0;

/// Most `[[step]]`s in one scenario.
pub const MAX_STEPS: usize = 10_000;

/// Most backends (the scenario's plus those steps add): the engine keeps
/// backend indices in 16 bits; real director rings have dozens.
pub const MAX_BACKENDS: usize = 10_000;

/// The director's clock is 32-bit unix seconds (record timestamps, spec
/// §3): the last instant it can represent, 2106-02-07 06:28:15 UTC.
pub const CLOCK_END_UNIX: i64 = u32::MAX as i64;

/// Most connections one shell `login USER COUNT` line opens.
pub const MAX_LOGIN_COUNT: u32 = 65_535;
