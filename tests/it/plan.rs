//! `dirsim plan` end to end: a recommended script, the emitted scenario
//! replaying the predicted tables exactly, and bad input.

use std::path::Path;

use crate::util::dirsim;

const STATUS: &str = "mail server ip\ttag\tvhosts\tstate\tstate changed\tusers\n\
    10.0.0.1\t\t100\tup\t-\t80\n10.0.0.2\t\t100\tup\t-\t70\n10.0.0.3\t\t100\tup\t-\t60\n\
    10.0.0.4\t\t100\tup\t-\t10\n10.0.0.5\t\t100\tup\t-\t10\n";

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A map of 230 named users, skewed the same way as STATUS.
fn skewed_map() -> String {
    let mut s = String::from("user\thash\tmail server ip\texpire time\n");
    let mut n = 0;
    for (ip, count) in [
        ("10.0.0.1", 80),
        ("10.0.0.2", 70),
        ("10.0.0.3", 60),
        ("10.0.0.4", 10),
        ("10.0.0.5", 10),
    ] {
        for _ in 0..count {
            n += 1;
            let name = format!("mail{n:04}@example.com");
            let hash = dirsim::director::hash::user_hash(&name);
            s.push_str(&format!("{name}\t{hash}\t{ip}\t2025-01-01 00:15:00\n"));
        }
    }
    s
}

fn plan(args: &[&str]) -> (String, String, i32) {
    let out = dirsim().arg("plan").args(args).output().unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code().unwrap_or(-1),
    )
}

/// The tables part of the plan's output.
fn tables(text: &str) -> String {
    let start = text.find("step 0 at").expect("tables");
    let end = text.find("\n# All candidates").expect("candidates");
    text[start..end].trim_end().to_string()
}

#[test]
fn status_only_plan_and_its_scenario_replay_exactly() {
    let t = tempfile::tempdir().unwrap();
    let status = write(t.path(), "status.txt", STATUS);
    let emitted = t.path().join("plan.toml");
    let (out, err, code) = plan(&[
        "--status",
        status.to_str().unwrap(),
        "--target",
        "1.2",
        "--emit-scenario",
        emitted.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("# Status only"), "{out}");
    assert!(out.contains("# Recommended: "), "{out}");
    assert!(
        out.contains("doveadm director flush 10.0.0.1\n# wait until the flush has finished (about 2s)"),
        "{out}"
    );
    assert!(
        !out.contains("#   move-greedy"),
        "move-greedy needs the real users: {out}"
    );
    let replay = t.path().join("replay");
    let run = dirsim()
        .arg("run")
        .arg(&emitted)
        .arg("-o")
        .arg(&replay)
        .arg("--no-charts")
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let replayed = String::from_utf8(run.stdout).unwrap();
    assert_eq!(
        tables(&out),
        replayed.trim_end(),
        "the emitted scenario reproduces the predicted tables"
    );
}

#[test]
fn a_map_enables_moves_and_tuning_and_names_real_users() {
    let t = tempfile::tempdir().unwrap();
    let status = write(t.path(), "status.txt", STATUS);
    let map = write(t.path(), "map.txt", &skewed_map());
    let names = write(
        t.path(),
        "names.txt",
        "10.0.0.1=mx1\n10.0.0.2=mx2\n10.0.0.3=mx3\n10.0.0.4=mx4\n10.0.0.5=mx5\n",
    );
    let (out, err, code) = plan(&[
        "--status",
        status.to_str().unwrap(),
        "--map",
        map.to_str().unwrap(),
        "--names",
        names.to_str().unwrap(),
        "--target",
        "1.1",
        "--replications",
        "2",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("move-greedy"), "{out}");
    assert!(out.contains("tune-vhosts"), "{out}");
    assert!(out.contains("\ndoveadm director "), "a script: {out}");
    // Any user the script moves is a real one from the map.
    for line in out.lines().filter(|l| l.starts_with("doveadm director move ")) {
        let user = line.split(' ').nth(3).unwrap();
        assert!(
            user.starts_with("mail") && user.ends_with("@example.com"),
            "{line}"
        );
        assert!(
            line.split(' ').nth(4).unwrap().starts_with("10.0.0."),
            "IPs, not names: {line}"
        );
    }
    assert!(out.contains("mx1"), "tables use the names given: {out}");
}

#[test]
fn unreachable_targets_are_reported() {
    let t = tempfile::tempdir().unwrap();
    let status = write(t.path(), "status.txt", STATUS);
    let (out, err, code) = plan(&["--status", status.to_str().unwrap(), "--target", "1.0"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("# No strategy reaches imbalance 1.000"), "{out}");
    assert!(out.contains("# Not recommended:"), "{out}");
}

#[test]
fn bad_plan_input_exits_2() {
    let t = tempfile::tempdir().unwrap();
    let status = write(t.path(), "status.txt", STATUS);
    let garbage = write(t.path(), "garbage.txt", "this is not doveadm output\n");
    for (args, words) in [
        (
            vec!["--status", "/nonexistent/status.txt"],
            "/nonexistent/status.txt",
        ),
        (vec!["--status", garbage.to_str().unwrap()], "garbage.txt"),
        (
            vec!["--status", status.to_str().unwrap(), "--target", "0.5"],
            "--target",
        ),
        (
            vec!["--status", status.to_str().unwrap(), "--strategy", "move-greedy"],
            "needs --map",
        ),
        (
            vec!["--status", status.to_str().unwrap(), "--strategy", "warp"],
            "unknown strategy",
        ),
    ] {
        let (_, err, code) = plan(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(words), "{args:?}: {err}");
    }
}

/// The plan's pick moves no more users than the documented procedure would
/// (both on the documented procedure's start).
#[test]
fn the_plan_moves_no_more_than_the_documented_procedure() {
    let t = tempfile::tempdir().unwrap();
    let status = write(t.path(), "status.txt", STATUS);
    let map = write(t.path(), "map.txt", &skewed_map());
    let (out, err, code) = plan(&[
        "--status",
        status.to_str().unwrap(),
        "--map",
        map.to_str().unwrap(),
        "--target",
        "1.2",
    ]);
    assert_eq!(code, 0, "{err}");
    let moved = |label: &str| -> f64 {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("#   {label} ")))
            .expect(label);
        line.split_whitespace().nth(2).unwrap().parse().unwrap()
    };
    let best = out.lines().next().unwrap();
    let best = best
        .strip_prefix("# Recommended: ")
        .expect("a recommendation")
        .split(' ')
        .next()
        .unwrap();
    assert!(moved(best) <= moved("documented"), "{best} vs documented: {out}");
}

#[test]
fn bad_imports_exit_2_with_the_line() {
    let t = tempfile::tempdir().unwrap();
    let status = write(t.path(), "status.txt", STATUS);
    let cases = [
        (
            "truncated.txt",
            "mail server ip\ttag\tvhosts\tstate\tstate changed\tusers\n10.0.0.1\t\t100\tup",
            ":2",
        ),
        (
            "columns.txt",
            "mail server ip\tcolour\tvhosts\tusers\n10.0.0.1\tred\t100\t5\n",
            "colour",
        ),
        (
            "dupe.txt",
            "mail server ip\ttag\tvhosts\tstate\tstate changed\tusers\n10.0.0.1\t\t100\tup\t-\t1\n10.0.0.1\t\t100\tup\t-\t2\n",
            ":3",
        ),
    ];
    for (name, text, words) in cases {
        let f = write(t.path(), name, text);
        let (_, err, code) = plan(&["--status", f.to_str().unwrap()]);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(err.contains(name) && err.contains(words), "{name}: {err}");
    }
    let map = write(
        t.path(),
        "map.txt",
        "user\thash\tmail server ip\texpire time\nu1\t1\t10.9.9.9\t2025-01-01 00:15:00\n",
    );
    let (_, err, code) = plan(&[
        "--status",
        status.to_str().unwrap(),
        "--map",
        map.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("10.9.9.9"), "{err}");
}
