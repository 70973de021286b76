//! What a run produces: per-step tables, time-series samples and a summary.
//! `report/` and `compare` read only these types.

/// A backend as reports name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendInfo {
    /// Scenario name (or the IP when added by a step without a name).
    pub name: String,
    /// IP text.
    pub ip: String,
}

/// One backend's state at one instant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BackendRow {
    /// Index into [`RunResult::backends`].
    pub backend: usize,
    /// Vhost count.
    pub vhosts: u32,
    /// Down (`doveadm director down`).
    pub down: bool,
    /// Removed from the director.
    pub removed: bool,
    /// Records pointing at the backend (`users` of `status`).
    pub users: u32,
    /// Open proxied connections to the backend.
    pub connections: u32,
    /// The backend's share of the 32-bit hash space on its tag's ring.
    pub hash_share: f64,
    /// `vhosts / Σ vhosts` over backends on the ring (0 when off it).
    pub vhost_share: f64,
    /// The backend's share of the cluster's capacity (scenario `capacity`
    /// over live, up backends): its fair share of users, what imbalance is
    /// measured against. Unlike `vhost_share` it does not change when a
    /// strategy turns vhosts to 0 or tunes them.
    pub capacity_share: f64,
}

/// The state after one scenario step (index 0 is the start).
#[derive(Clone, Debug, PartialEq)]
pub struct StepRecord {
    /// 0 for the initial state, then 1.. for `[[step]]`s.
    pub index: usize,
    /// When the step ran (ms after t=0).
    pub at_ms: u64,
    /// When every move and kick it started had finished.
    pub settled_ms: u64,
    /// The command as written (`start` for index 0).
    pub command: String,
    /// Users whose record the step moved to another backend.
    pub moved: u64,
    /// Connections kicked while the step ran.
    pub kicked: u64,
    /// What the command printed (status/map steps), else empty.
    pub output: String,
    /// The director's reply if it refused the command (e.g. NOTFOUND).
    pub error: Option<String>,
    /// Backends at settle time.
    pub rows: Vec<BackendRow>,
    /// `doveadm director status` at settle time (80 columns).
    pub doveadm: String,
}

/// One time-series sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Time (ms after t=0).
    pub t_ms: u64,
    /// Per backend.
    pub rows: Vec<BackendRow>,
    /// Records in total.
    pub total_users: u64,
    /// Open connections in total.
    pub total_connections: u64,
    /// max over backends on the ring of users / (total × vhost share).
    pub imbalance: f64,
    /// Cumulative users moved.
    pub moved: u64,
    /// Cumulative connections kicked.
    pub kicked: u64,
    /// Cumulative logins that had to wait (user being moved, no host).
    pub delayed: u64,
    /// Cumulative logins that failed (no host for 30–60 s).
    pub failed: u64,
}

/// Totals of a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// Users moved by flush/move.
    pub users_moved: u64,
    /// Connections kicked.
    pub connections_kicked: u64,
    /// Logins that waited.
    pub logins_delayed: u64,
    /// Logins that failed.
    pub logins_failed: u64,
    /// Logins in total.
    pub logins: u64,
    /// Imbalance at the end.
    pub final_imbalance: f64,
    /// Highest sampled imbalance.
    pub peak_imbalance: f64,
    /// Time from each flush step's start to its settling: (step, ms).
    pub flush_durations: Vec<(usize, u64)>,
    /// Events taken from the queue (each keep-alive copy counted; see
    /// `queue_takes`).
    pub events: u64,
    /// Most events pending at once.
    pub peak_queue: usize,
    /// Takes from the queue: single events, and batches of a session's
    /// keep-alive copies taken together (`events` counts each copy). Not
    /// in `summary.csv` (a figure of the engine, not of the simulation).
    pub queue_takes: u64,
}

/// Everything a run produces.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    /// Scenario name.
    pub name: String,
    /// Seed used.
    pub seed: u64,
    /// Simulated duration (ms).
    pub duration_ms: u64,
    /// Sampling period (ms).
    pub sample_every_ms: u64,
    /// Wall-clock time of t=0 (unix seconds, UTC).
    pub start_unix: i64,
    /// Backends, including ones steps added.
    pub backends: Vec<BackendInfo>,
    /// Per-step records, index 0 = start.
    pub steps: Vec<StepRecord>,
    /// Time series.
    pub samples: Vec<Sample>,
    /// Totals.
    pub summary: Summary,
    /// The scenario's description.
    pub description: Option<String>,
    /// The director settings the run used.
    pub director: crate::director::Settings,
    /// The scenario file, verbatim (reports embed it).
    pub source: String,
}

/// `max users / mean users` over the given rows (1.0 when empty).
pub fn max_over_mean(rows: &[BackendRow]) -> f64 {
    let live: Vec<&BackendRow> = rows.iter().filter(|r| !r.removed).collect();
    let total: u64 = live.iter().map(|r| r.users as u64).sum();
    if live.is_empty() || total == 0 {
        return 1.0;
    }
    let max = live.iter().map(|r| r.users).max().unwrap_or(0) as f64;
    max / (total as f64 / live.len() as f64)
}

/// Imbalance relative to capacity: max over live, up backends of
/// `users / (total × capacity_share)` (1.0 with no users).
pub fn vhost_imbalance(rows: &[BackendRow]) -> f64 {
    let total: u64 = rows.iter().map(|r| r.users as u64).sum();
    if total == 0 {
        return 1.0;
    }
    rows.iter()
        .filter(|r| r.capacity_share > 0.0)
        .map(|r| r.users as f64 / (total as f64 * r.capacity_share))
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(users: u32, share: f64) -> BackendRow {
        BackendRow {
            backend: 0,
            vhosts: 100,
            down: false,
            removed: false,
            users,
            connections: 0,
            hash_share: share,
            vhost_share: share,
            capacity_share: share,
        }
    }

    #[test]
    fn imbalance_measures() {
        // The seed document's start: 80/70/60/10/10, mean 46.
        let rows: Vec<_> = [80, 70, 60, 10, 10].iter().map(|&u| row(u, 0.2)).collect();
        assert!((max_over_mean(&rows) - 80.0 / 46.0).abs() < 1e-12);
        assert!((vhost_imbalance(&rows) - 80.0 / 46.0).abs() < 1e-12);
        let rows = [row(30, 0.5), row(10, 0.25), row(0, 0.0)];
        // 30 / (40 × 0.5) = 1.5
        assert!((vhost_imbalance(&rows) - 1.5).abs() < 1e-12);
        assert_eq!(vhost_imbalance(&[]), 1.0);
    }
}

/// Wall-clock figures of one run (`dirsim run --stats`). They differ from
/// run to run, so they never go into the files a run compares byte for
/// byte (`summary.csv` has the deterministic `events` and `peak_queue`).
#[derive(Clone, Debug, PartialEq)]
pub struct RunStats {
    /// Events taken from the queue.
    pub events: u64,
    /// Takes from the queue (a batch of keep-alive copies is one).
    pub queue_takes: u64,
    /// Most events pending at once.
    pub peak_queue: usize,
    /// Wall time of the simulation (without writing outputs), seconds.
    pub wall_s: f64,
    /// Peak resident memory of the process (VmHWM), MiB; `None` if the OS
    /// does not say.
    pub peak_memory_mib: Option<f64>,
}

impl RunStats {
    /// Events per second of wall time.
    pub fn events_per_sec(&self) -> f64 {
        if self.wall_s > 0.0 {
            self.events as f64 / self.wall_s
        } else {
            0.0
        }
    }

    /// `(key, value)` rows, as in `stats.csv`.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        vec![
            ("events", self.events.to_string()),
            ("events_per_sec", format!("{:.0}", self.events_per_sec())),
            ("queue_takes", self.queue_takes.to_string()),
            ("peak_queue", self.peak_queue.to_string()),
            (
                "peak_memory_mib",
                self.peak_memory_mib
                    .map_or_else(|| "unknown".to_string(), |m| format!("{m:.1}")),
            ),
            ("wall_s", format!("{:.3}", self.wall_s)),
        ]
    }
}

/// The process's peak resident memory (VmHWM in /proc/self/status), MiB.
pub fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
