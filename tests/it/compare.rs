//! `dirsim compare` end to end: determinism across thread counts, shards
//! merged equal to one machine's run, and bad arguments.

use std::path::Path;

use crate::util::dirsim;

const SCN: &str = "scenarios/documented-procedure.toml";

fn compare(dir: &Path, extra: &[&str]) -> (String, String, i32) {
    let out = dirsim()
        .args([
            "compare",
            SCN,
            "--strategy",
            "flush-all",
            "--strategy",
            "drain-overloaded",
            "--strategy",
            "none",
        ])
        .args(["--replications", "5", "-o"])
        .arg(dir)
        .args(extra)
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code().unwrap_or(-1),
    )
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn three_strategies_five_replications() {
    let t = tempfile::tempdir().unwrap();
    let (stdout, err, code) = compare(t.path(), &["--no-charts"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].contains("3 strategies × 5 replications (seeds 42..46)"),
        "{stdout}"
    );
    assert!(lines[1].starts_with("strategy"), "{stdout}");
    for (row, name) in lines[2..].iter().zip(["flush-all", "drain-overloaded", "none"]) {
        assert!(row.starts_with(name), "{stdout}");
    }
    let csv = std::fs::read_to_string(t.path().join("compare.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 15);
    // `none` issues no command and moves nobody.
    assert!(
        csv.lines()
            .filter(|l| l.contains(",none,"))
            .all(|l| l.split(',').nth(5) == Some("0"))
    );
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    assert_eq!(compare(&a, &["--jobs", "1", "--no-charts"]).2, 0);
    assert_eq!(compare(&b, &["--jobs", "2", "--no-charts"]).2, 0);
    assert_eq!(files(&a), files(&b));
}

#[test]
fn merged_shards_equal_one_machine_byte_for_byte() {
    let t = tempfile::tempdir().unwrap();
    let (whole, s1, s2, merged) = (
        t.path().join("whole"),
        t.path().join("s1"),
        t.path().join("s2"),
        t.path().join("merged"),
    );
    assert_eq!(compare(&whole, &[]).2, 0);
    assert_eq!(compare(&s1, &["--shard", "1/2"]).2, 0);
    assert_eq!(compare(&s2, &["--shard", "2/2"]).2, 0);
    let c1 = std::fs::read_to_string(s1.join("compare.csv")).unwrap();
    let c2 = std::fs::read_to_string(s2.join("compare.csv")).unwrap();
    assert_eq!(
        c1.lines().count() + c2.lines().count(),
        2 + 15,
        "the shards split the 15 runs"
    );
    let out = dirsim()
        .args(["compare", "--merge"])
        .arg(&s2)
        .arg(&s1)
        .arg("-o")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(files(&whole), files(&merged));
    // A shard missing: refused.
    let out = dirsim()
        .args(["compare", "--merge"])
        .arg(&s1)
        .arg("-o")
        .arg(t.path().join("m2"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is in no shard"));
}

#[test]
fn bad_compare_arguments_exit_2() {
    let t = tempfile::tempdir().unwrap();
    for (args, words) in [
        (vec!["compare", SCN, "--strategy", "teleport"], "unknown strategy"),
        (vec!["compare", SCN], "at least one --strategy"),
        (
            vec!["compare", SCN, "--strategy", "none", "--placement", "magic"],
            "--placement",
        ),
        (
            vec!["compare", SCN, "--strategy", "none", "--shard", "3/2"],
            "--shard",
        ),
        (
            vec!["compare", SCN, "--strategy", "none", "--replications", "0"],
            "--replications",
        ),
        (
            vec!["compare", SCN, "--strategy", "none:tolerance=-1"],
            "tolerance",
        ),
    ] {
        let out = dirsim()
            .args(&args)
            .arg("-o")
            .arg(t.path().join("x"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(words), "{args:?}: {err}");
        assert!(!t.path().join("x").exists());
    }
}
