//! The bad-input catalogue, `tests/bad_inputs/<case>/`: each case is a
//! `case.toml` (the command line, the exit code, the words the message must
//! hold) and the input files it needs. Every case runs the real binary in a
//! fresh directory holding a copy of its files, and must exit with its code
//! (2: bad input), print one message on stderr holding every required word
//! (file:line, field, the bad value), print nothing on stdout, and leave the
//! directory exactly as it was: no output directory, no partial file, no
//! input touched.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::util::dirsim;

/// `case.toml`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// The command line after `dirsim`.
    args: Vec<String>,
    /// The exit code.
    exit: i32,
    /// Words stderr must contain.
    contains: Vec<String>,
    /// Whether stderr must be one line (clap's own usage errors are not).
    #[serde(default = "yes")]
    one_line: bool,
    /// Environment variables to set (DIRSIM_MEMORY_BUDGET is unset
    /// otherwise, so the caller's environment cannot change a case).
    #[serde(default)]
    env: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

/// Every file under `dir` with its bytes, by path relative to `dir`;
/// directories too (empty content), so a new empty directory shows.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(dir).unwrap().to_path_buf();
            if p.is_dir() {
                out.insert(rel, None);
                todo.push(p);
            } else {
                out.insert(rel, Some(std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

/// Copies the case's files (not `case.toml`) into `to`.
fn copy_inputs(from: &Path, to: &Path) {
    for (rel, content) in snapshot(from) {
        if rel == Path::new("case.toml") {
            continue;
        }
        match content {
            None => std::fs::create_dir_all(to.join(&rel)).unwrap(),
            Some(bytes) => {
                std::fs::create_dir_all(to.join(&rel).parent().unwrap()).unwrap();
                std::fs::write(to.join(&rel), bytes).unwrap();
            }
        }
    }
}

/// What is wrong with one case's outcome, if anything.
fn check(name: &str, dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("case.toml")).unwrap();
    let case: Case = toml::from_str(&text).unwrap_or_else(|e| panic!("{name}/case.toml: {e}"));
    let work = tempfile::tempdir().unwrap();
    copy_inputs(dir, work.path());
    let before = snapshot(work.path());
    let out = dirsim()
        .current_dir(work.path())
        .args(&case.args)
        .env_remove("DIRSIM_MEMORY_BUDGET")
        .envs(&case.env)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut problems = Vec::new();
    if out.status.code() != Some(case.exit) {
        problems.push(format!(
            "exit code {:?}, expected {}",
            out.status.code(),
            case.exit
        ));
    }
    for word in &case.contains {
        if !stderr.contains(word.as_str()) {
            problems.push(format!("message lacks {word:?}"));
        }
    }
    if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
        problems.push("panicked".into());
    }
    if case.one_line && stderr.trim_end().lines().count() != 1 {
        problems.push("not one line".into());
    }
    if !stdout.is_empty() {
        let start: String = stdout.chars().take(200).collect();
        problems.push(format!("stdout is not empty: {start:?}..."));
    }
    let after = snapshot(work.path());
    let created: Vec<_> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    if !created.is_empty() {
        problems.push(format!("created {created:?}"));
    }
    let changed: Vec<_> = before
        .keys()
        .filter(|k| after.get(*k) != before.get(*k))
        .collect();
    if !changed.is_empty() {
        problems.push(format!("changed or removed {changed:?}"));
    }
    if problems.is_empty() {
        return problems;
    }
    vec![format!(
        "{name} (dirsim {}): {}\n  stderr: {}",
        case.args.join(" "),
        problems.join("; "),
        stderr.trim_end().replace('\n', "\n          ")
    )]
}

#[test]
fn every_bad_input_gets_one_clear_message_and_writes_nothing() {
    let root = Path::new("tests/bad_inputs");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for dir in &cases {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        assert!(dir.join("case.toml").is_file(), "{name}: no case.toml");
        failures.extend(check(&name, dir));
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
