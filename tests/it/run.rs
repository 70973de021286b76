//! `dirsim run` and `dirsim validate` end to end.

use std::path::Path;

use crate::util::dirsim;

/// Runs `dirsim run ARGS -o DIR`; returns (stdout, stderr, exit code).
fn run_to(dir: &Path, args: &[&str]) -> (String, String, i32) {
    let out = dirsim()
        .arg("run")
        .args(args)
        .arg("-o")
        .arg(dir)
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code().unwrap_or(-1),
    )
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// One steps.csv row.
struct StepRow {
    step: usize,
    command: String,
    backend: String,
    vhosts: u32,
    users: u32,
}

fn steps_csv(text: &str) -> Vec<StepRow> {
    let mut r = ::csv::Reader::from_reader(text.as_bytes());
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            StepRow {
                step: rec[0].parse().unwrap(),
                command: rec[3].to_string(),
                backend: rec[4].to_string(),
                vhosts: rec[6].parse().unwrap(),
                users: rec[8].parse().unwrap(),
            }
        })
        .collect()
}

/// A scenario file in a temp dir.
fn scenario(dir: &Path, text: &str) -> std::path::PathBuf {
    let p = dir.join("s.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn same_seed_gives_byte_identical_files() {
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    let (out_a, _, code) = run_to(&a, &["scenarios/add-backend.toml", "--seed", "5"]);
    assert_eq!(code, 0);
    let (out_b, _, _) = run_to(&b, &["scenarios/add-backend.toml", "--seed", "5"]);
    assert_eq!(out_a, out_b);
    for f in ["steps.txt", "steps.csv", "timeseries.csv", "summary.csv"] {
        assert_eq!(read(&a, f), read(&b, f), "{f}");
    }
    let c = t.path().join("c");
    run_to(&c, &["scenarios/add-backend.toml", "--seed", "6"]);
    assert_ne!(
        read(&a, "timeseries.csv"),
        read(&c, "timeseries.csv"),
        "another seed, another run"
    );
}

#[test]
fn default_run_prints_and_writes_every_step() {
    let t = tempfile::tempdir().unwrap();
    let (stdout, _, code) = run_to(t.path(), &["--check"]);
    assert_eq!(code, 0);
    let txt = read(t.path(), "steps.txt");
    assert_eq!(stdout, txt, "the terminal shows what steps.txt holds");
    // the start + 14 steps of the seed document
    assert_eq!(
        txt.matches("\nbackend     vhosts  users  connections  hash share\n")
            .count(),
        15
    );
    assert!(txt.starts_with("step 0 at 00:00:00  start\n"));
    assert!(txt.contains("step 3 at 00:11:00  doveadm director flush backend-01\n"));
}

/// The documented procedure (spec §8.2): after every flush only the flushed
/// backend loses users; 0-vhost backends never gain; the total is constant
/// (nobody disconnects); the document's idealized table is not reproduced.
#[test]
fn documented_procedure_invariants() {
    let t = tempfile::tempdir().unwrap();
    let (_, _, code) = run_to(t.path(), &[]);
    assert_eq!(code, 0);
    let rows = steps_csv(&read(t.path(), "steps.csv"));
    let users = |step: usize| -> Vec<(String, u32, u32)> {
        rows.iter()
            .filter(|r| r.step == step)
            .map(|r| (r.backend.clone(), r.vhosts, r.users))
            .collect()
    };
    let start = users(0);
    assert_eq!(
        start.iter().map(|r| r.2).collect::<Vec<_>>(),
        [80, 70, 60, 10, 10]
    );
    for step in 1..=14 {
        let (before, after) = (users(step - 1), users(step));
        let cmd = &rows.iter().find(|r| r.step == step).unwrap().command;
        assert_eq!(after.iter().map(|r| r.2).sum::<u32>(), 230, "step {step}: total");
        let flushed = cmd.strip_prefix("doveadm director flush ");
        for (b, a) in before.iter().zip(&after) {
            if Some(a.0.as_str()) != flushed {
                assert!(a.2 >= b.2, "step {step} ({cmd}): {} lost users", a.0);
            }
            if a.1 == 0 {
                assert!(a.2 <= b.2, "step {step}: 0-vhost {} gained users", a.0);
            }
        }
        if flushed.is_none() {
            let counts = |v: &[(String, u32, u32)]| v.iter().map(|r| r.2).collect::<Vec<_>>();
            assert_eq!(
                counts(&before),
                counts(&after),
                "step {step} ({cmd}) changed no record"
            );
        }
    }
    let t1: Vec<u32> = users(3).iter().map(|r| r.2).collect();
    assert_ne!(t1, [34, 70, 60, 33, 33], "the document's idealized T1");
}

const SMALL: &str = r#"
name = "small"
duration = "40m"
sample_every = "1m"
[[backend]]
name = "b1"
ip = "10.0.0.1"
[[backend]]
name = "b2"
ip = "10.0.0.2"
[workload]
users = 50
session_length = { dist = "fixed", value = "10m" }
connections_per_session = { dist = "fixed", value = 2 }
[initial]
counts = { b1 = 30, b2 = 20 }
"#;

/// timeseries.csv: (time_s, total_users, total_connections) per sample.
fn totals(text: &str) -> Vec<(f64, u64, u64)> {
    let mut r = ::csv::Reader::from_reader(text.as_bytes());
    let mut out: Vec<(f64, u64, u64)> = Vec::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        let row = (
            rec[0].parse().unwrap(),
            rec[7].parse().unwrap(),
            rec[8].parse().unwrap(),
        );
        if out.last() != Some(&row) {
            out.push(row);
        }
    }
    out
}

#[test]
fn records_expire_within_user_expire_after_everyone_leaves() {
    let t = tempfile::tempdir().unwrap();
    let s = scenario(t.path(), SMALL);
    let (_, err, code) = run_to(&t.path().join("o"), &[s.to_str().unwrap(), "--check"]);
    assert_eq!(code, 0, "{err}");
    let ts = totals(&read(&t.path().join("o"), "timeseries.csv"));
    for (time, users, conns) in ts {
        match time as u64 {
            0..600 => assert_eq!((users, conns), (50, 100), "t={time}"),
            // sessions end at 10m; the last keep-alive was at 7m30s, so the
            // records die at 22m30s (spec §3.3: 900 − (600 mod 450) = 750 s)
            600..1350 => assert_eq!((users, conns), (50, 0), "t={time}"),
            _ => assert_eq!((users, conns), (0, 0), "t={time}"),
        }
    }
}

#[test]
fn flush_pacing_follows_the_parallel_cap() {
    // 500 users on b1, b1 drained: waves of 100 every 2 s → settled at 10 s.
    let text = r#"
name = "pacing"
duration = "10m"
[[backend]]
name = "b1"
ip = "10.0.0.1"
[[backend]]
name = "b2"
ip = "10.0.0.2"
[workload]
users = 500
session_length = { dist = "fixed", value = "1d" }
[initial]
counts = { b1 = 500 }
[[step]]
at = "1m"
run = "update b1 0"
[[step]]
run = "flush b1"
[[step]]
after = "1m"
run = "flush --max-parallel 30 b2"
"#;
    let t = tempfile::tempdir().unwrap();
    let s = scenario(t.path(), text);
    let (stdout, err, code) = run_to(&t.path().join("o"), &[s.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        stdout.contains(
            "step 2 at 00:01:00  flush b1\n  moved 500 users, kicked 500 connections, settled after 10s\n"
        ),
        "{stdout}"
    );
    let summary = read(&t.path().join("o"), "summary.csv");
    assert!(summary.contains("flush_duration_s.step2,10.000"), "{summary}");
}

#[test]
fn bad_scenarios_exit_2_naming_line_and_field_and_write_nothing() {
    let base = SMALL.to_string();
    let cases: Vec<(String, &str)> = vec![
        (
            base.replace("duration = \"40m\"", "duration = \"-5m\""),
            "duration",
        ),
        (base.replace("ip = \"10.0.0.2\"", "ip = \"10.0.0.1\""), "ip"),
        (
            base.replace("name = \"b2\"\nip", "name = \"b2\"\nvhosts = 1001\nip"),
            "vhosts",
        ),
        (base.replace("b2 = 20", "b9 = 20"), "b9"),
        (base.replace("b2 = 20", "b2 = 200"), "counts"),
        (
            base.replace(
                "dist = \"fixed\", value = \"10m\"",
                "dist = \"gauss\", value = \"10m\"",
            ),
            "gauss",
        ),
        (format!("{base}\n[[step]]\nrun = \"flush b7\"\n"), "b7"),
        (
            format!("{base}\n[[step]]\nrun = \"frobnicate b1\"\n"),
            "frobnicate",
        ),
        (
            base.replace("[workload]", "[workload]\ncolour = \"blue\""),
            "colour",
        ),
        (base.replace("users = 50", "users = \"many\""), "users"),
        (base.replace("name = \"small\"", "name = \"small"), "s.toml:2:"),
        (
            format!("{base}\n[director]\nuser_expire = \"5s\"\n"),
            "user_expire",
        ),
        (
            format!("{base}\n[[step]]\nat = \"1m\"\nafter = \"1m\"\nrun = \"flush b1\"\n"),
            "after",
        ),
    ];
    for (i, (text, word)) in cases.iter().enumerate() {
        let t = tempfile::tempdir().unwrap();
        let s = scenario(t.path(), text);
        let out_dir = t.path().join("out");
        let (stdout, err, code) = run_to(&out_dir, &[s.to_str().unwrap()]);
        assert_eq!(code, 2, "case {i}: {err}");
        assert!(err.contains("s.toml:"), "case {i}: no file:line in {err:?}");
        assert!(err.contains(word), "case {i}: {word:?} not in {err:?}");
        assert!(stdout.is_empty(), "case {i}");
        assert!(!out_dir.exists(), "case {i}: output directory created");
        assert_eq!(err.lines().count(), 1, "case {i}: one message: {err}");
    }
}

#[test]
fn validate_reports_ok_or_the_error() {
    let out = dirsim()
        .args(["validate", "scenarios/diurnal.toml"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok (4 backends, 4000 users, 2 steps)"));
    let out = dirsim().args(["validate", "no/such/file.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Golden output of the default run: any change in results shows up here.
/// Regenerate with `DIRSIM_BLESS=1 cargo test golden`.
#[test]
fn golden_default_steps_txt() {
    let t = tempfile::tempdir().unwrap();
    run_to(t.path(), &[]);
    let got = read(t.path(), "steps.txt");
    let golden = Path::new("tests/golden/documented-procedure.steps.txt");
    if std::env::var_os("DIRSIM_BLESS").is_some() {
        std::fs::write(golden, &got).unwrap();
    }
    let want = std::fs::read_to_string(golden).expect("golden file (DIRSIM_BLESS=1 to create)");
    assert_eq!(
        got, want,
        "steps.txt changed; if intended, DIRSIM_BLESS=1 cargo test golden"
    );
}

/// `status_file` and `map_file`: a real cluster's doveadm output as the
/// start state.
#[test]
fn initial_state_from_doveadm_status_and_map_files() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(
        t.path().join("status.txt"),
        "mail server ip tag vhosts state state changed       users           \n\
         10.0.0.1           100    up    -                   7               \n\
         10.0.0.2           50     down  2024-03-01 12:00:00 3               \n",
    )
    .unwrap();
    std::fs::write(
        t.path().join("map.txt"),
        "user\thash\tmail server ip\texpire time\n\
         user1\t617210206\t10.0.0.2\t2024-03-01 12:15:00\n\
         <unknown>\t2458352375\t10.0.0.1\t2024-03-01 12:16:40\n",
    )
    .unwrap();
    let body = |initial: &str| {
        format!(
            "name = \"import\"\nduration = \"1m\"\n[[backend]]\nname = \"a\"\nip = \"10.0.0.1\"\n\
             [[backend]]\nname = \"b\"\nip = \"10.0.0.2\"\n[workload]\nusers = 20\n\
             session_length = {{ dist = \"fixed\", value = \"1h\" }}\n[initial]\n{initial}\n"
        )
    };
    let s = scenario(t.path(), &body("status_file = \"status.txt\""));
    let (stdout, err, code) = run_to(&t.path().join("o1"), &[s.to_str().unwrap(), "--check"]);
    assert_eq!(code, 0, "{err}");
    let words = |line: &str| line.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    let table: Vec<Vec<String>> = stdout.lines().skip(2).take(2).map(words).collect();
    assert_eq!(table[0], ["a", "100", "7", "7", "100.0%"], "{stdout}");
    assert_eq!(table[1], ["b", "50", "down", "3", "3", "0.0%"], "{stdout}");
    let s = scenario(t.path(), &body("map_file = \"map.txt\""));
    let (stdout, err, code) = run_to(&t.path().join("o2"), &[s.to_str().unwrap(), "--check"]);
    assert_eq!(code, 0, "{err}");
    // user1's record sits on b (as imported, not where it hashes: 10.0.0.1),
    // and the <unknown> hash is a record on a.
    let table: Vec<Vec<String>> = stdout.lines().skip(2).take(2).map(words).collect();
    assert_eq!(table[0][..3], ["a", "100", "1"], "{stdout}");
    assert_eq!(table[1][..3], ["b", "100", "1"], "{stdout}");
}

/// `--stats` adds stats.csv and a stderr line, and changes nothing in the
/// files a run compares byte for byte.
#[test]
fn stats_go_to_their_own_file() {
    let plain = tempfile::tempdir().unwrap();
    let with = tempfile::tempdir().unwrap();
    let (_, _, code) = run_to(plain.path(), &["--no-charts"]);
    assert_eq!(code, 0);
    let (_, err, code) = run_to(with.path(), &["--no-charts", "--stats"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("dirsim: stats: events="), "{err}");
    for f in ["steps.txt", "steps.csv", "timeseries.csv", "summary.csv"] {
        assert_eq!(read(plain.path(), f), read(with.path(), f), "{f}");
    }
    assert!(!plain.path().join("stats.csv").exists());
    let stats = read(with.path(), "stats.csv");
    let keys: Vec<&str> = stats.lines().map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "key",
            "events",
            "events_per_sec",
            "queue_takes",
            "peak_queue",
            "peak_memory_mib",
            "wall_s"
        ]
    );
    // Sessions of 1-3 connections: their keep-alive copies leave in
    // batches, so the queue is taken from fewer times than events happen.
    let value = |k: &str| -> u64 {
        let line = stats.lines().find(|l| l.starts_with(&format!("{k},"))).unwrap();
        line.split(',').nth(1).unwrap().parse().unwrap()
    };
    assert!(
        value("queue_takes") > 0 && value("queue_takes") < value("events"),
        "{stats}"
    );
    let summary = read(with.path(), "summary.csv");
    assert!(
        summary.contains(&format!("events,{}", value("events"))),
        "{summary}"
    );
}

/// Runs a bundled scenario (or a copy with `edits` applied) with --check:
/// every invariant holds after every event (a broken one exits 1 naming it).
/// Then without: the results are byte-identical, so the engine's shortcuts
/// (a session's keep-alive copies counted together, which --check turns
/// off to look after each one) change nothing.
fn keeps_the_invariants(file: &str, edits: &[(&str, &str)]) {
    let t = tempfile::tempdir().unwrap();
    let mut text = std::fs::read_to_string(Path::new("scenarios").join(file)).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{file}: {from:?}");
        text = text.replacen(from, to, 1);
    }
    let s = scenario(t.path(), &text);
    let (stdout, err, code) = run_to(
        &t.path().join("o"),
        &[s.to_str().unwrap(), "--check", "--no-charts"],
    );
    assert_eq!(code, 0, "{file}: {err}");
    let steps = text.matches("[[step]]").count();
    assert_eq!(stdout.matches("\nstep ").count(), steps, "{file}: every step ran");
    let (_, err, code) = run_to(&t.path().join("fast"), &[s.to_str().unwrap(), "--no-charts"]);
    assert_eq!(code, 0, "{file}: {err}");
    for f in ["steps.txt", "steps.csv", "timeseries.csv", "summary.csv"] {
        let checked = std::fs::read(t.path().join("o").join(f)).unwrap();
        let fast = std::fs::read(t.path().join("fast").join(f)).unwrap();
        assert!(checked == fast, "{file}: {f} differs with and without --check");
    }
}

#[test]
fn add_backend_keeps_the_invariants() {
    keeps_the_invariants("add-backend.toml", &[]);
}

#[test]
fn backend_maintenance_keeps_the_invariants() {
    keeps_the_invariants("backend-maintenance.toml", &[]);
}

#[test]
fn diurnal_keeps_the_invariants() {
    keeps_the_invariants("diurnal.toml", &[]);
}

/// bench-100k in full takes hours under --check in a debug build (the
/// check walks every connection after every event), so: 5000 of its
/// users, until just after its two steps (12:00 and 12:10).
#[test]
fn bench_100k_shortened_keeps_the_invariants() {
    keeps_the_invariants(
        "bench-100k.toml",
        &[
            ("users = 100000", "users = 5000"),
            ("duration = \"1d\"", "duration = \"13h\""),
        ],
    );
}

/// Every bundled scenario has a --check run above (the default one in
/// `default_run_prints_and_writes_every_step`); the scale-* ones, minutes
/// long even without the check, are only validated.
#[test]
fn every_bundled_scenario_is_checked() {
    let mut files: Vec<String> = std::fs::read_dir("scenarios")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    files.sort();
    let checked = [
        "add-backend.toml",
        "backend-maintenance.toml",
        "bench-100k.toml",
        "diurnal.toml",
        "documented-procedure.toml",
    ];
    for f in &files {
        if f.starts_with("scale-") {
            let out = dirsim()
                .args(["validate", &format!("scenarios/{f}")])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{f}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        } else {
            assert!(checked.contains(&f.as_str()), "{f}: add a --check run for it");
        }
    }
}
