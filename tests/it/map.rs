//! `dirsim map` end to end, against fixtures computed independently by
//! `tests/fixtures/gen_map_fixture.py` (python hashlib, written from the spec).

use crate::util::dirsim;

const USERS: &str = "tests/fixtures/map-users.txt";

fn map_tab(args: &[&str]) -> String {
    let out = dirsim()
        .arg("map")
        .args(args)
        .args(["--users-file", USERS, "-f", "tab"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn expected(fixture: &str) -> String {
    let body = std::fs::read_to_string(format!("tests/fixtures/{fixture}")).unwrap();
    format!("user\thash\tmail server ip\n{body}")
}

#[test]
fn five_hosts_match_the_python_reference() {
    let hosts = ["--host", "10.0.0.1", "--host", "10.0.0.2", "--host", "10.0.0.3"];
    let more = ["--host", "10.0.0.4", "--host", "10.0.0.5"];
    let args: Vec<&str> = hosts.iter().chain(&more).copied().collect();
    assert_eq!(map_tab(&args), expected("map-5x100.tsv"));
}

#[test]
fn vhost_counts_zero_and_down_match_the_python_reference() {
    let args = [
        "--host",
        "10.0.0.1",
        "--host",
        "10.0.0.2:50",
        "--host",
        "10.0.0.3:1000",
        "--host",
        "10.0.0.4:0",
        "--host",
        "10.0.0.5",
        "--down",
        "10.0.0.5",
    ];
    assert_eq!(map_tab(&args), expected("map-mixed.tsv"));
}

#[test]
fn table_and_csv_formats() {
    let out = dirsim()
        .args([
            "map", "--host", "10.0.0.1", "--host", "10.0.0.2", "--host", "10.0.0.3", "user1", "user3",
        ])
        .output()
        .unwrap();
    // 80 columns: user 5, hash 10, ip 14 → T = 31, user grows by 24.
    let want = "user                          hash       mail server ip\n\
                user1                         617210206  10.0.0.3      \n\
                user3                         2458352375 10.0.0.2      \n";
    assert_eq!(String::from_utf8(out.stdout).unwrap(), want);
    let out = dirsim()
        .args(["map", "--host", "10.0.0.1", "-f", "csv", "a,b"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("user,hash,mail server ip\n\"a,b\","), "{text}");
}

#[test]
fn no_usable_host_prints_an_empty_ip() {
    let out = dirsim()
        .args([
            "map", "--host", "10.0.0.1", "--down", "10.0.0.1", "-f", "tab", "user1",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "user\thash\tmail server ip\nuser1\t617210206\t\n"
    );
}

#[test]
fn bad_arguments_exit_2() {
    for (args, words) in [
        (vec!["map", "--host", "10.0.0.1:1001", "u"], "above the maximum"),
        (vec!["map", "--host", "nonsense", "u"], "invalid host"),
        (
            vec!["map", "--host", "10.0.0.1", "--down", "10.0.0.2", "u"],
            "no such --host",
        ),
        (
            vec!["map", "--host", "10.0.0.1", "--host", "10.0.0.1", "u"],
            "given twice",
        ),
        (vec!["map", "--host", "10.0.0.1"], "required"),
        (
            vec!["map", "--host", "10.0.0.1", "--users-file", "/nonexistent/x"],
            "/nonexistent/x",
        ),
        (
            vec!["map", "--host", "10.0.0.1", "--username-hash", "%q", "u"],
            "unknown variable",
        ),
    ] {
        let out = dirsim().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(words), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
