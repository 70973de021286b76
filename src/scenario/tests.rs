//! Scenario-level tests: every kind of bad input names its line and key;
//! a full scenario parses to the expected values.

use super::*;
use crate::director::doveadm::Command;

/// Lines 1-14; tests append to it or replace a line in it.
const BASE: &str = r#"name = "t"
duration = "1h"

[[backend]]
name = "b1"
ip = "10.0.0.1"

[[backend]]
name = "b2"
ip = "10.0.0.2"
vhosts = 50

[workload]
users = 10
"#;

fn file() -> &'static Path {
    Path::new("dir/t.toml")
}

/// BASE with line `n` (1-based) replaced by `with` (which may hold several lines).
fn replace_line(n: usize, with: &str) -> String {
    let mut lines: Vec<&str> = BASE.lines().collect();
    lines[n - 1] = with;
    lines.join("\n") + "\n"
}

/// Asserts the error's line, key path and a piece of its message, and
/// that the display carries them too.
#[track_caller]
fn bad(text: &str, line: Option<usize>, field: &str, needle: &str) -> ScenarioError {
    let e = parse(text, file()).expect_err("scenario should be rejected");
    let shown = e.to_string();
    assert_eq!(e.line, line, "{shown}");
    assert_eq!(e.field.as_deref(), Some(field), "{shown}");
    assert!(e.message.contains(needle), "{shown}\nshould mention {needle:?}");
    let prefix = match line {
        Some(l) => format!("dir/t.toml:{l}:"),
        None => "dir/t.toml: ".to_string(),
    };
    assert!(shown.starts_with(&prefix), "{shown}");
    assert!(shown.contains(&format!(": {field}: ")), "{shown}");
    e
}

#[test]
fn base_is_valid_with_defaults() {
    let s = parse(BASE, file()).unwrap();
    assert_eq!(
        (s.name.as_str(), s.seed, s.duration_ms, s.sample_every_ms),
        ("t", 0, 3_600_000, 10_000)
    );
    assert_eq!(s.start_unix, 1_735_689_600);
    assert_eq!(s.director, Settings::default());
    assert_eq!((s.backends[0].vhosts, s.backends[1].vhosts), (100, 50));
    assert_eq!(
        s.workload.users,
        Users::Generated {
            count: 10,
            pattern: "user{n}".into()
        }
    );
    assert_eq!(s.workload.users.name(0), "user1");
    assert_eq!(s.workload.session_length, Dist::Fixed { value: 28_800_000.0 });
    assert_eq!(s.workload.connections_per_session, Dist::Fixed { value: 1.0 });
    assert_eq!(s.workload.reconnect_after_kick, Dist::Fixed { value: 0.0 });
    assert_eq!((s.initial, s.steps.len()), (Initial::Empty, 0));
    assert_eq!(s.source, BASE);
}

#[test]
fn syntax_error() {
    bad(
        &replace_line(2, r#"duration = "1h"#),
        Some(2),
        "duration",
        "string",
    );
    bad(&replace_line(13, "[workload"), Some(13), "workload", "]");
}

#[test]
fn wrong_type() {
    bad(
        &replace_line(11, r#"vhosts = "x""#),
        Some(11),
        "backend[1].vhosts",
        "expected an integer",
    );
    bad(
        &replace_line(2, "duration = 5"),
        Some(2),
        "duration",
        "expected a string",
    );
}

#[test]
fn unknown_fields_list_the_accepted_ones() {
    bad(
        &replace_line(1, "name = \"t\"\nbogus = 1"),
        Some(2),
        "bogus",
        "`bogus`, expected one of `name`",
    );
    bad(
        &replace_line(11, "vhosts = 50\nport = 1"),
        Some(12),
        "backend[1].port",
        "`vhosts`",
    );
    bad(
        &format!("{BASE}foo = 1\n"),
        Some(15),
        "workload.foo",
        "`users_file`",
    );
    let text = format!("{BASE}[director]\nexpire = \"15m\"\n");
    bad(&text, Some(16), "director.expire", "`user_expire`");
}

#[test]
fn missing_keys() {
    bad(&replace_line(1, ""), None, "name", "expected name =");
    bad(&replace_line(2, ""), None, "duration", "duration = \"2h\"");
    bad(&replace_line(6, ""), Some(4), "backend[0].ip", "expected ip =");
    bad(&replace_line(14, ""), Some(13), "workload.users", "users_file");
    let no_backends: String = BASE
        .lines()
        .take(2)
        .chain(BASE.lines().skip(12))
        .map(|l| format!("{l}\n"))
        .collect();
    bad(&no_backends, None, "backend", "at least one [[backend]]");
}

#[test]
fn durations() {
    bad(
        &replace_line(2, r#"duration = "-5m""#),
        Some(2),
        "duration",
        "negative",
    );
    bad(&replace_line(2, r#"duration = "0s""#), Some(2), "duration", "> 0");
    bad(
        &replace_line(2, "duration = \"1h\"\nsample_every = \"2h\""),
        Some(3),
        "sample_every",
        "longer",
    );
    bad(
        &replace_line(2, "duration = \"1h\"\nstart = \"2025-13-01\""),
        Some(3),
        "start",
        "YYYY-MM-DD",
    );
    // The director's clock is 32-bit unix seconds (found by review while fuzzing: a
    // start before 1970 overflowed the run's clock, and so did a run
    // ending past 2106).
    bad(
        &replace_line(2, "duration = \"1h\"\nstart = \"1969-12-31 23:59:59\""),
        Some(3),
        "start",
        "expected 1970-01-01 00:00:00 or later",
    );
    bad(
        &replace_line(2, "duration = \"1h\"\nstart = \"2106-02-07 06:28:16\""),
        Some(3),
        "start",
        "32-bit clock",
    );
    bad(
        &replace_line(2, "duration = \"1s\"\nstart = \"2106-02-07 06:28:15\""),
        Some(3),
        "start",
        "must end by 2106-02-07 06:28:15",
    );
    bad(
        &replace_line(2, r#"duration = "213503982334d""#),
        Some(2),
        "duration",
        "too long",
    );
    let last = replace_line(2, "duration = \"1s\"\nstart = \"2106-02-07 06:28:14\"");
    assert_eq!(parse(&last, file()).unwrap().start_unix, i64::from(u32::MAX) - 1);
    let text = format!("{BASE}[initial]\nwarmup = \"213503982334d\"\n");
    bad(&text, Some(16), "initial.warmup", "too long");
    let text = format!("{BASE}[director]\nkick_latency = \"213503982334d\"\n");
    bad(&text, Some(16), "director.kick_latency", "too long");
    let text = format!("{BASE}[director]\nuser_expire = \"5s\"\n");
    bad(&text, Some(16), "director.user_expire", "at least 10s");
    let text = format!("{BASE}[director]\nuser_kick_delay = \"1500ms\"\n");
    bad(&text, Some(16), "director.user_kick_delay", "whole seconds");
    let text = format!("{BASE}[director]\nmax_parallel_moves = 0\n");
    bad(&text, Some(16), "director.max_parallel_moves", "1..=");
}

#[test]
fn backend_checks() {
    bad(
        &replace_line(11, "vhosts = 1001"),
        Some(11),
        "backend[1].vhosts",
        "0..=1000",
    );
    bad(
        &replace_line(10, r#"ip = "10.0.0.1""#),
        Some(10),
        "backend[1].ip",
        "duplicate ip",
    );
    bad(
        &replace_line(9, r#"name = "b1""#),
        Some(9),
        "backend[1].name",
        "duplicate backend name",
    );
    bad(
        &replace_line(6, r#"ip = "10.0.0.300""#),
        Some(6),
        "backend[0].ip",
        "invalid IP address",
    );
    bad(
        &replace_line(5, r#"name = "all""#),
        Some(5),
        "backend[0].name",
        "flush all",
    );
    bad(
        &replace_line(5, r#"name = "10.0.0.2""#),
        Some(5),
        "backend[0].name",
        "different IP",
    );
}

#[test]
fn workload_checks() {
    let both = format!("{BASE}users_file = \"u.txt\"\n");
    bad(&both, Some(15), "workload.users_file", "not both");
    let p = format!("{BASE}name_pattern = \"user\"\n");
    bad(&p, Some(15), "workload.name_pattern", "{n}");
    let p = format!("{BASE}name_pattern = \"u{{n}}-{{n}}\"\n");
    bad(&p, Some(15), "workload.name_pattern", "exactly one");
    let p = format!("{BASE}name_pattern = \"u{{n:4}}\"\n");
    bad(&p, Some(15), "workload.name_pattern", "unsupported");
    let profile = format!("{BASE}daily_profile = [{}]\n", ["1"; 23].join(", "));
    bad(
        &profile,
        Some(15),
        "workload.daily_profile",
        "has 23 entries: expected 24",
    );
    let zero = format!("{BASE}daily_profile = [{}]\n", ["0"; 24].join(", "));
    bad(&zero, Some(15), "workload.daily_profile", "all 24 factors are 0");
    bad(
        &format!("{BASE}sessions_per_day = -1\n"),
        Some(15),
        "workload.sessions_per_day",
        ">= 0",
    );
    // Absurd rates stalled the arrival process (steps below float
    // resolution): at most one session a second.
    bad(
        &format!("{BASE}sessions_per_day = 1e300\n"),
        Some(15),
        "workload.sessions_per_day",
        "<= 86400",
    );
    assert!(parse(&format!("{BASE}sessions_per_day = 86400\n"), file()).is_ok());
    let missing = format!("{BASE}users_file = \"nope.txt\"\n").replace("users = 10\n", "");
    bad(&missing, Some(14), "workload.users_file", "dir/nope.txt");
}

#[test]
fn distribution_checks() {
    let d = |s: &str| format!("{BASE}session_length = {s}\n");
    let e = bad(
        &d(r#"{ dist = "gauss", mean = "1h" }"#),
        Some(15),
        "workload.session_length.dist",
        "gauss",
    );
    assert!(
        e.message
            .contains(r#"{ dist = "pareto", scale = "1h", shape = 1.5 }"#),
        "{e}"
    );
    bad(
        &d(r#"{ dist = "lognormal", median = "8h" }"#),
        Some(15),
        "workload.session_length.sigma",
        "needs",
    );
    bad(
        &d(r#"{ dist = "fixed", value = "1h", mean = "2h" }"#),
        Some(15),
        "workload.session_length.mean",
        "not a parameter",
    );
    bad(
        &d(r#"{ dist = "fixed", value = 3 }"#),
        Some(15),
        "workload.session_length.value",
        "duration string",
    );
    bad(
        &d(r#"{ dist = "uniform", min = "2h", max = "1h" }"#),
        Some(15),
        "workload.session_length.min",
        "greater",
    );
    bad(
        &d(r#"{ value = "1h" }"#),
        Some(15),
        "workload.session_length",
        "missing `dist`",
    );
    let c = format!("{BASE}connections_per_session = {{ dist = \"fixed\", value = \"1h\" }}\n");
    bad(
        &c,
        Some(15),
        "workload.connections_per_session.value",
        "expected a number",
    );
    let p = format!("{BASE}connections_per_session = {{ dist = \"pareto\", scale = 1, shape = 0 }}\n");
    bad(
        &p,
        Some(15),
        "workload.connections_per_session.shape",
        "greater than 0",
    );
}

#[test]
fn initial_checks() {
    let counts = |c: &str| format!("{BASE}\n[initial]\ncounts = {{ {c} }}\n");
    let e = bad(
        &counts("b1 = 3, b9 = 4"),
        Some(17),
        "initial.counts.b9",
        "unknown backend \"b9\"",
    );
    assert_eq!(e.column, Some(20));
    bad(
        &counts("b1 = 6, \"10.0.0.2\" = 5"),
        Some(17),
        "initial.counts",
        "add up to 11",
    );
    bad(
        &counts("b1 = 1, \"10.0.0.1\" = 1"),
        Some(17),
        "initial.counts.10.0.0.1",
        "twice",
    );
    let both = format!("{BASE}\n[initial]\ncounts = {{ b1 = 1 }}\nwarmup = \"1h\"\n");
    bad(&both, Some(18), "initial.warmup", "cannot be combined");
    let ok = parse(&counts("\"10.0.0.2\" = 4, b1 = 6"), file()).unwrap();
    assert_eq!(ok.initial, Initial::Counts(vec![(0, 6), (1, 4)]));
    let warm = parse(&format!("{BASE}\n[initial]\nwarmup = \"2h\"\n"), file()).unwrap();
    assert_eq!(warm.initial, Initial::Warmup(7_200_000));
}

#[test]
fn step_checks() {
    let steps = |s: &str| format!("{BASE}{s}");
    let text = steps(
        "\n[[step]]\nrun = \"doveadm director flush b2\"\n[[step]]\nrun = \"doveadm director update b7 0\"\n",
    );
    let e = bad(&text, Some(19), "step[1].run", "unknown backend \"b7\"");
    assert_eq!(e.column, Some(32), "column of b7 in the run string");
    let both = steps("[[step]]\nat = \"1m\"\nafter = \"1m\"\nrun = \"up b1\"\n");
    bad(&both, Some(17), "step[0].after", "not both");
    let order = steps("[[step]]\nat = \"10m\"\nrun = \"up b1\"\n[[step]]\nat = \"5m\"\nrun = \"up b1\"\n");
    bad(&order, Some(19), "step[1].at", "earlier than step[0]");
    let late = steps("[[step]]\nat = \"50m\"\nrun = \"up b1\"\n[[step]]\nafter = \"20m\"\nrun = \"up b1\"\n");
    bad(&late, Some(19), "step[1].after", "past the end");
    bad(
        &steps("[[step]]\nrun = \"frobnicate\"\n"),
        Some(16),
        "step[0].run",
        "unknown command",
    );
    bad(
        &steps("[[step]]\nat = \"1m\"\n"),
        Some(15),
        "step[0].run",
        "missing",
    );
    bad(
        &steps("[[step]]\nrun = \"add b9\"\n"),
        Some(16),
        "step[0].run",
        "`add` takes an IP",
    );
    let clash = steps("[[step]]\nrun = \"add b1=10.0.0.9\"\n");
    bad(
        &clash,
        Some(16),
        "step[0].run",
        "conflicts with the existing backend b1",
    );
}

#[test]
fn steps_may_use_backends_added_earlier() {
    let text = format!(
        "{BASE}[[step]]\nat = \"10m\"\nrun = \"doveadm director add b3=10.0.0.3 50\"\n\
         [[step]]\nrun = \"update b3 0\"\n[[step]]\nafter = \"5m\"\nrun = \"add 10.0.0.4\"\n\
         [[step]]\nrun = \"flush -F 10.0.0.4\"\n[[step]]\nrun = \"status\"\n[[step]]\nrun = \"map b1\"\n"
    );
    let s = parse(&text, file()).unwrap();
    let timings: Vec<StepTiming> = s.steps.iter().map(|st| st.timing).collect();
    use StepTiming::*;
    assert_eq!(
        timings,
        [
            At(600_000),
            After(0),
            After(300_000),
            After(0),
            After(0),
            After(0)
        ]
    );
    assert_eq!(s.steps[1].line, 19);
    assert_eq!(
        s.steps[1].invocation.command,
        Command::Update {
            host: crate::director::doveadm::HostRef("b3".into()),
            vhosts: 0
        }
    );
    assert_eq!(s.find_backend("10.0.0.2"), Some(1));
    assert_eq!(s.find_backend("b1"), Some(0));
    assert_eq!(s.find_backend("b3"), None);
}

#[test]
fn full_scenario() {
    let text = r#"name = "Full"
description = "every field"
seed = 42
duration = "2h"
sample_every = "30s"
start = "2024-03-01 12:00:00"

[director]
user_expire = "10m"
user_kick_delay = "3s"
max_parallel_moves = 7
max_parallel_kicks = 9
username_hash = "%Ln"
kick_latency = "250ms"

[[backend]]
name = "backend-01"
ip = "10.0.0.1"
vhosts = 0
tag = "east"
down = true

[[backend]]
name = "backend-02"
ip = "2001:db8::2"

[workload]
users = 230
name_pattern = "user{n:04}@example.com"
tag = "east"
sessions_per_day = 3
daily_profile = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3]
session_length = { dist = "lognormal", median = "8h", sigma = 1 }
connections_per_session = { dist = "uniform", min = 1, max = 3 }
reconnect_after_kick = { dist = "exponential", mean = "5s" }

[initial]
counts = { backend-01 = 80, "2001:db8::2" = 70 }

[[step]]
at = "10m"
run = "doveadm director update backend-02 0"
[[step]]
after = "5m"
run = "doveadm -f tab director status"
"#;
    let s = parse(text, file()).unwrap();
    assert_eq!(
        (s.name.as_str(), s.description.as_deref(), s.seed),
        ("Full", Some("every field"), 42)
    );
    assert_eq!(
        (s.duration_ms, s.sample_every_ms, s.start_unix),
        (7_200_000, 30_000, 1_709_294_400)
    );
    let d = &s.director;
    assert_eq!((d.user_expire_secs, d.user_kick_delay_secs), (600, 3));
    assert_eq!(
        (d.max_parallel_moves, d.max_parallel_kicks, d.kick_latency_ms),
        (7, 9, 250)
    );
    assert_eq!(d.username_hash.to_string(), "%Ln");
    assert_eq!(
        s.backends[0],
        Backend {
            name: "backend-01".into(),
            ip: "10.0.0.1".parse().unwrap(),
            vhosts: 0,
            tag: "east".into(),
            down: true,
            capacity: 100,
        }
    );
    assert_eq!(
        (s.backends[1].ip.to_string(), s.backends[1].vhosts),
        ("2001:db8::2".into(), 100)
    );
    let w = &s.workload;
    assert_eq!(
        (w.users.len(), w.users.name(0), w.users.name(229)),
        (230, "user0001@example.com".into(), "user0230@example.com".into())
    );
    assert_eq!((w.tag.as_str(), w.sessions_per_day), ("east", 3.0));
    let p = w.daily_profile.unwrap();
    assert_eq!((p[0], p[23]), (0.5, 1.5));
    assert_eq!(
        w.session_length,
        Dist::LogNormal {
            median: 28_800_000.0,
            sigma: 1.0
        }
    );
    assert_eq!(w.connections_per_session, Dist::Uniform { min: 1.0, max: 3.0 });
    assert_eq!(w.reconnect_after_kick, Dist::Exponential { mean: 5000.0 });
    assert_eq!(s.initial, Initial::Counts(vec![(0, 80), (1, 70)]));
    assert_eq!(s.steps.len(), 2);
    assert_eq!(
        (s.steps[0].line, s.steps[0].timing),
        (42, StepTiming::At(600_000))
    );
    assert_eq!(
        (s.steps[1].line, s.steps[1].timing),
        (45, StepTiming::After(300_000))
    );
    assert_eq!(s.steps[1].run, "doveadm -f tab director status");
}

#[test]
fn name_patterns() {
    let gen_ = |p: &str| Users::Generated {
        count: 3,
        pattern: p.into(),
    };
    assert_eq!(gen_("user{n:04}").name(0), "user0001");
    assert_eq!(gen_("{n}@x").name(2), "3@x");
    assert_eq!(gen_("u{n:02}").name(122), "u123");
    assert_eq!(gen_("broken").name(0), "broken1");
    assert_eq!(gen_("u{n:099}").name(0), "u{n:099}1");
}

#[test]
fn files_next_to_the_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let status = "mail server ip\ttag\tvhosts\tstate\tstate changed\tusers\n\
                  10.0.0.1\t\t100\tup\t-\t1\n10.0.0.2\t\t50\tdown\t2024-03-01 12:00:00\t1\n";
    let map = "user  hash       mail server ip expire time\n\
               alice 1         10.0.0.1       2024-03-01 12:15:00\n";
    std::fs::write(dir.path().join("status.txt"), status).unwrap();
    std::fs::write(dir.path().join("map.txt"), map).unwrap();
    std::fs::write(dir.path().join("users.txt"), "alice\n\nbob\r\n").unwrap();
    let text = BASE.replace("users = 10", "users_file = \"users.txt\"")
        + "[initial]\nstatus_file = \"status.txt\"\nmap_file = \"map.txt\"\n";
    let path = dir.path().join("s.toml");
    std::fs::write(&path, &text).unwrap();
    let s = load(&path).unwrap();
    assert_eq!(
        s.workload.users,
        Users::File {
            path: dir.path().join("users.txt"),
            names: vec!["alice".into(), "bob".into()]
        }
    );
    let Initial::Imported(imp) = &s.initial else {
        panic!("{:?}", s.initial)
    };
    assert_eq!(imp.status.as_ref().map(Vec::len), Some(2));
    assert_eq!(imp.map.as_ref().unwrap()[0].user.as_deref(), Some("alice"));

    // A status row for a host the scenario lacks, and a duplicate user.
    std::fs::write(
        dir.path().join("status.txt"),
        status.replace("10.0.0.2", "10.0.0.9"),
    )
    .unwrap();
    let e = load(&path).unwrap_err();
    assert_eq!((e.file.clone(), e.line), (dir.path().join("status.txt"), Some(3)));
    assert!(e.message.contains("10.0.0.9"), "{e}");
    std::fs::write(dir.path().join("users.txt"), "alice\nbob\nalice\n").unwrap();
    let e = load(&path).unwrap_err();
    assert_eq!((e.line, e.file.clone()), (Some(3), dir.path().join("users.txt")));
    assert!(e.message.contains("first on line 1"), "{e}");
    let e = load(&dir.path().join("missing.toml")).unwrap_err();
    assert!(e.message.contains("cannot read"), "{e}");
}

#[test]
fn never_panics_on_mangled_input() {
    let full = BASE.to_string() + "[[step]]\nrun = \"update b1 0\"\n[initial]\ncounts = { b1 = 2 }\n";
    for cut in 0..full.len() {
        let _ = parse(&full[..cut], file());
    }
    for junk in [
        "\u{0}",
        "[[",
        "= =",
        "name = \"\u{1F600}\"\n[[backend]]\nname = \"\u{e9}\"\nip = 1",
    ] {
        let _ = parse(junk, file());
    }
}
