//! Rebalancing strategies driven through the library (`sim::run_with`), on
//! the documented procedure's start state (230 users at 80/70/60/10/10 with
//! sessions that never end, so only commands change the records) and on a
//! tiny inline scenario for `move-greedy`'s optimality.

use std::collections::{HashSet, VecDeque};
use std::path::Path;

use dirsim::director::hash::user_hash;
use dirsim::director::host::ring_point;
use dirsim::director::ring::{Point, Ring};
use dirsim::scenario::{self, Scenario};
use dirsim::sim::{self, BackendRow, Quiet, RunOptions, RunResult};

const IPS: [&str; 5] = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"];
const STRATEGIES: [&str; 5] = [
    "flush-all",
    "documented",
    "drain-overloaded",
    "move-greedy",
    "tune-vhosts",
];

fn documented_scenario() -> Scenario {
    scenario::load(Path::new("scenarios/documented-procedure.toml")).expect("bundled scenario loads")
}

fn run(scn: &Scenario, strategy: &str, seed: u64) -> RunResult {
    let opts = RunOptions {
        seed,
        check: true,
        strategy: Some(strategy.parse().expect("strategy")),
    };
    sim::run_with(scn, opts, &mut Quiet).expect("run completes")
}

/// The commands the strategy issued, in order.
fn commands(r: &RunResult) -> Vec<&str> {
    r.steps[1..].iter().map(|s| s.command.as_str()).collect()
}

fn final_rows(r: &RunResult) -> &[BackendRow] {
    &r.samples.last().expect("samples").rows
}

fn users(rows: &[BackendRow]) -> Vec<u32> {
    rows.iter().map(|r| r.users).collect()
}

/// Whether every backend holds at most fair share × (1 + tolerance).
fn within(rows: &[BackendRow], tolerance: f64) -> bool {
    let total: u32 = rows.iter().map(|r| r.users).sum();
    rows.iter()
        .all(|r| r.users as f64 <= total as f64 * r.capacity_share * (1.0 + tolerance) + 1e-9)
}

/// How the documented scenario's 230 users (`user0001`..) spread over the
/// Dovecot ring of backends 10.0.0.1..5 with these vhost counts.
fn hashed_counts(vhosts: &[u32]) -> Vec<u32> {
    let mut pts = Vec::new();
    for (b, &n) in vhosts.iter().enumerate() {
        pts.extend((0..n).map(|i| Point {
            hash: ring_point(IPS[b], i),
            host: b,
        }));
    }
    let ring = Ring::from_points(pts, |a: usize, b: usize| a.cmp(&b)); // IPs sort like indices
    let hashes: HashSet<u32> = (1..=230).map(|n| user_hash(&format!("user{n:04}"))).collect();
    let mut out = vec![0; vhosts.len()];
    for h in hashes {
        out[ring.lookup(h).expect("a host")] += 1;
    }
    out
}

fn max_over_mean(counts: &[u32]) -> f64 {
    let total: u32 = counts.iter().sum();
    *counts.iter().max().expect("backends") as f64 * counts.len() as f64 / total as f64
}

#[test]
fn flush_all_leaves_every_record_on_its_hashed_host() {
    let r = run(&documented_scenario(), "flush-all", 42);
    assert_eq!(commands(&r), ["doveadm director flush all"]);
    assert_eq!(users(final_rows(&r)), hashed_counts(&[100; 5]));
}

#[test]
fn documented_issues_the_documented_sequence() {
    let r = run(&documented_scenario(), "documented", 42);
    let mut want = vec![
        "doveadm director update backend-02 0",
        "doveadm director update backend-03 0",
        "doveadm director flush backend-01",
        "doveadm director update backend-02 100",
        "doveadm director flush backend-02",
        "doveadm director update backend-03 100",
        "doveadm director flush backend-03",
    ];
    let last_round: Vec<String> = (1..=5)
        .map(|b| format!("doveadm director flush backend-0{b}"))
        .collect();
    want.extend(last_round.iter().map(String::as_str));
    assert_eq!(commands(&r), want);
    // It starts at the scenario's first step (10m) and pauses 1m between
    // commands, each counted from the previous one's settling.
    assert_eq!(r.steps[1].at_ms, 600_000);
    for w in r.steps[1..].windows(2) {
        assert!(
            w[1].at_ms >= w[0].settled_ms + 60_000,
            "{} then {}",
            w[0].command,
            w[1].command
        );
    }
    assert!(r.steps.iter().all(|s| s.error.is_none()));
    // Everything was flushed on the final ring: the ring's spread.
    assert_eq!(users(final_rows(&r)), hashed_counts(&[100; 5]));
}

#[test]
fn drain_overloaded_stops_within_tolerance_or_when_nothing_moves() {
    let r = run(&documented_scenario(), "drain-overloaded", 42);
    let cmds = commands(&r);
    assert!(!cmds.is_empty());
    assert!(
        cmds.iter()
            .all(|c| c.starts_with("doveadm director flush backend-")),
        "{cmds:?}"
    );
    // The ring never changes, so no backend is flushed twice.
    assert_eq!(cmds.iter().collect::<HashSet<_>>().len(), cmds.len(), "{cmds:?}");
    // The first flush is the most loaded backend.
    assert_eq!(cmds[0], "doveadm director flush backend-01");
    let last = r.steps.last().expect("steps");
    let total: u32 = last.rows.iter().map(|r| r.users).sum();
    let still_over: Vec<String> = last
        .rows
        .iter()
        .filter(|row| row.users as f64 > total as f64 * row.capacity_share * 1.1)
        .map(|row| format!("doveadm director flush {}", r.backends[row.backend].name))
        .collect();
    assert!(
        still_over.is_empty() || last.moved == 0 || still_over.iter().all(|c| cmds.contains(&c.as_str())),
        "stopped early: over {still_over:?} after {cmds:?}"
    );
}

#[test]
fn move_greedy_reaches_tolerance_with_the_minimum_moves() {
    let r = run(&documented_scenario(), "move-greedy", 42);
    let cmds = commands(&r);
    assert!(
        cmds.iter().all(|c| c.starts_with("doveadm director move user")),
        "{cmds:?}"
    );
    assert!(r.steps.iter().all(|s| s.error.is_none()));
    assert!(within(final_rows(&r), 0.1), "{:?}", users(final_rows(&r)));
    // 80/70/60/10/10 with cap ⌊46 × 1.1⌋ = 50: 30 + 20 + 10 moves.
    assert_eq!(cmds.len(), 60);
    assert_eq!(r.summary.users_moved, 60);
}

/// The fewest single-user moves that bring `start` within tolerance
/// (breadth-first over count vectors).
fn fewest_moves(start: &[u32], shares: &[f64], tolerance: f64) -> usize {
    let total: u32 = start.iter().sum();
    let ok = |c: &[u32]| {
        c.iter()
            .zip(shares)
            .all(|(&u, s)| u as f64 <= total as f64 * s * (1.0 + tolerance))
    };
    let mut seen = HashSet::from([start.to_vec()]);
    let mut queue = VecDeque::from([(start.to_vec(), 0)]);
    while let Some((c, d)) = queue.pop_front() {
        if ok(&c) {
            return d;
        }
        for i in 0..c.len() {
            for j in 0..c.len() {
                if i != j && c[i] > 0 {
                    let mut n = c.clone();
                    n[i] -= 1;
                    n[j] += 1;
                    if seen.insert(n.clone()) {
                        queue.push_back((n, d + 1));
                    }
                }
            }
        }
    }
    panic!("unreachable tolerance");
}

const TINY: &str = r#"
name = "tiny"
duration = "30m"
[[backend]]
name = "a"
ip = "10.0.0.1"
[[backend]]
name = "b"
ip = "10.0.0.2"
vhosts = 200
[[backend]]
name = "c"
ip = "10.0.0.3"
[workload]
users = 12
name_pattern = "u{n}"
sessions_per_day = 0
session_length = { dist = "fixed", value = "1d" }
[initial]
counts = { a = 8, b = 1, c = 3 }
"#;

#[test]
fn move_greedy_is_optimal_on_a_tiny_cluster() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tiny.toml");
    std::fs::write(&path, TINY).expect("written");
    let scn = scenario::load(&path).expect("tiny scenario loads");
    for tolerance in [0.0, 0.1, 0.5] {
        let r = run(&scn, &format!("move-greedy:tolerance={tolerance}"), 1);
        let start = &r.steps[0].rows;
        assert_eq!(users(start), [8, 1, 3]);
        let shares: Vec<f64> = start.iter().map(|r| r.capacity_share).collect();
        let best = fewest_moves(&users(start), &shares, tolerance);
        assert_eq!(
            commands(&r).len(),
            best,
            "tolerance {tolerance}: {:?}",
            commands(&r)
        );
        assert!(within(final_rows(&r), tolerance), "{:?}", users(final_rows(&r)));
    }
}

#[test]
fn tune_vhosts_improves_the_hashed_spread() {
    let r = run(&documented_scenario(), "tune-vhosts", 42);
    let cmds = commands(&r);
    assert_eq!(cmds.last(), Some(&"doveadm director flush all"));
    assert!(
        cmds[..cmds.len() - 1]
            .iter()
            .all(|c| c.starts_with("doveadm director update backend-"))
    );
    let chosen: Vec<u32> = final_rows(&r).iter().map(|r| r.vhosts).collect();
    assert!(chosen.iter().all(|&v| (1..=1000).contains(&v)), "{chosen:?}");
    let (before, after) = (hashed_counts(&[100; 5]), hashed_counts(&chosen));
    assert!(
        max_over_mean(&after) < max_over_mean(&before),
        "{chosen:?}: {after:?} is no better than {before:?}"
    );
    // The flush put every record on its hashed host under the new counts.
    assert_eq!(users(final_rows(&r)), after);
}

#[test]
fn strategies_are_deterministic() {
    let scn = documented_scenario();
    for s in STRATEGIES {
        assert_eq!(run(&scn, s, 7), run(&scn, s, 7), "{s}");
    }
}

/// `cargo test --release --test it strategy_summaries -- --ignored --nocapture`
#[test]
#[ignore = "prints a table for humans"]
fn strategy_summaries() {
    for file in [
        "documented-procedure",
        "add-backend",
        "backend-maintenance",
        "diurnal",
    ] {
        let scn =
            scenario::load(Path::new(&format!("scenarios/{file}.toml"))).expect("bundled scenario loads");
        for s in STRATEGIES {
            let r = run(&scn, s, scn.seed);
            let (sum, rows) = (&r.summary, final_rows(&r));
            println!(
                "{file:20} {s:17} commands {:3}  errors {}  moved {:4}  kicked {:4}  final {:.3}  peak {:.3}  \
                 users {:?}  vhosts {:?}  last settled {}s",
                r.steps.len() - 1,
                r.steps.iter().filter(|s| s.error.is_some()).count(),
                sum.users_moved,
                sum.connections_kicked,
                sum.final_imbalance,
                sum.peak_imbalance,
                users(rows),
                rows.iter().map(|r| r.vhosts).collect::<Vec<_>>(),
                r.steps.last().expect("steps").settled_ms / 1000,
            );
        }
    }
}
