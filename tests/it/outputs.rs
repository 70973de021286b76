//! Output directories: whole or not at all, never someone else's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::util::dirsim;

/// Every file under `dir` (hidden ones too) with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    v.sort();
    v
}

fn run(args: &[&str]) -> (i32, String) {
    let out = dirsim().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Fast to simulate (2000 users), slow to write (17 281 samples × 40
/// backends of time series and charts: seconds in a debug build).
const SLOW_TO_WRITE: &str = r#"
name = "slow to write"
duration = "2d"
sample_every = "10s"
[workload]
users = 2000
sessions_per_day = 48
session_length = { dist = "fixed", value = "30m" }
connections_per_session = { dist = "fixed", value = 2 }
"#;

fn slow_scenario(dir: &Path) -> PathBuf {
    let mut text = SLOW_TO_WRITE.to_string();
    for i in 1..=40 {
        text.push_str(&format!("[[backend]]\nname = \"b{i}\"\nip = \"10.1.0.{i}\"\n"));
    }
    let p = dir.join("slow.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// Sends `signal` to the child (SIGINT is what Ctrl-C sends).
fn signal(child: &std::process::Child, signal: &str) {
    let ok = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// A run killed while simulating, and one killed while writing its files
/// (its staging directory already there), leave the previous results
/// byte-identical and no partial target; the next run cleans up and needs
/// no --force.
#[test]
fn a_killed_run_leaves_the_previous_results_untouched() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let out_s = out.to_str().unwrap();
    let (code, err) = run(&["run", "-o", out_s]);
    assert_eq!(code, 0, "{err}");
    let before = snapshot(&out);
    assert!(before.contains_key(Path::new(".dirsim")), "{:?}", before.keys());
    let slow = slow_scenario(t.path());
    let bin = assert_cmd::cargo::cargo_bin("dirsim");
    for (kill, while_writing) in [("-KILL", false), ("-KILL", true), ("-INT", true)] {
        let mut child = std::process::Command::new(&bin)
            .args(["run", slow.to_str().unwrap(), "-o", out_s])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let staging = t.path().join(format!(".out.tmp-{}", child.id()));
        let started = Instant::now();
        if while_writing {
            // Wait for the staging directory and a first file in it.
            while !(staging.is_dir() && std::fs::read_dir(&staging).unwrap().next().is_some()) {
                assert!(
                    child.try_wait().unwrap().is_none(),
                    "finished before it could be killed"
                );
                assert!(
                    started.elapsed() < Duration::from_secs(120),
                    "never started writing"
                );
                std::thread::sleep(Duration::from_millis(2));
            }
        } else {
            std::thread::sleep(Duration::from_millis(50));
            assert!(!staging.exists(), "already writing after 50 ms");
        }
        signal(&child, kill);
        let status = child.wait().unwrap();
        assert!(!status.success(), "{kill}: not killed");
        assert_eq!(snapshot(&out), before, "{kill}: previous results changed");
        assert_eq!(staging.exists(), while_writing, "{kill}: staging directory");
    }
    // The next run replaces the results and removes the killed runs' leftovers.
    let (code, err) = run(&["run", "--seed", "3", "--no-charts", "-o", out_s]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(names(t.path()), ["out", "slow.toml"]);
    let after = snapshot(&out);
    assert_ne!(after, before);
    assert!(
        !after.contains_key(Path::new("report.html")),
        "no stale files from the previous run"
    );
}

#[test]
fn a_foreign_directory_is_replaced_only_with_force() {
    let t = tempfile::tempdir().unwrap();
    let mine = t.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("thesis.tex"), "precious").unwrap();
    let m = mine.to_str().unwrap();
    for cmd in [
        vec!["run", "--no-charts", "-o", m],
        vec![
            "compare",
            "--strategy",
            "flush-all",
            "--replications",
            "1",
            "-o",
            m,
        ],
    ] {
        let (code, err) = run(&cmd);
        assert_eq!(code, 2, "{cmd:?}: {err}");
        assert!(err.contains("--force") && err.contains(m), "{err}");
        assert_eq!(names(&mine), ["thesis.tex"]);
    }
    let (code, err) = run(&["run", "--no-charts", "--force", "-o", m]);
    assert_eq!(code, 0, "{err}");
    assert!(!mine.join("thesis.tex").exists());
    assert!(
        std::fs::read_to_string(mine.join(".dirsim"))
            .unwrap()
            .starts_with("dirsim ")
    );
    // Now it is dirsim's: no --force needed.
    let (code, err) = run(&["run", "--no-charts", "-o", m]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(names(t.path()), ["mine"]);
}

/// `compare` writes into `output/<name>/compare/`, inside `run`'s
/// directory: each keeps the other's files.
#[test]
fn run_and_compare_keep_each_others_files() {
    let t = tempfile::tempdir().unwrap();
    let cwd = |args: &[&str]| {
        let out = dirsim().current_dir(t.path()).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let scn = std::fs::canonicalize("scenarios/documented-procedure.toml").unwrap();
    let scn = scn.to_str().unwrap();
    let dir = t
        .path()
        .join("output/rebalancing-backends-the-documented-procedure");
    cwd(&[
        "compare",
        scn,
        "--strategy",
        "flush-all",
        "--replications",
        "2",
        "--no-charts",
    ]);
    let compared = snapshot(&dir.join("compare"));
    cwd(&["run", scn, "--no-charts"]);
    assert_eq!(snapshot(&dir.join("compare")), compared, "run kept compare/");
    assert!(dir.join("steps.txt").is_file());
    cwd(&["run", scn, "--no-charts", "--seed", "9"]);
    assert_eq!(
        snapshot(&dir.join("compare")),
        compared,
        "a second run kept compare/ too"
    );
    let run_files = |d: &Path| -> BTreeMap<PathBuf, Vec<u8>> {
        snapshot(d)
            .into_iter()
            .filter(|(p, _)| !p.starts_with("compare"))
            .collect()
    };
    let ran = run_files(&dir);
    assert!(ran.contains_key(Path::new("steps.txt")));
    cwd(&[
        "compare",
        scn,
        "--strategy",
        "none",
        "--replications",
        "1",
        "--no-charts",
    ]);
    assert_ne!(
        snapshot(&dir.join("compare")),
        compared,
        "compare replaced its own files"
    );
    assert_eq!(run_files(&dir), ran, "compare kept run's files");
    assert_eq!(
        names(&t.path().join("output")),
        ["rebalancing-backends-the-documented-procedure"]
    );
}
