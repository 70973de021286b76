//! Property tests of every parser (the fuzz targets in `fuzz/` explore the
//! same entry points for much longer): no input panics, and what dirsim
//! prints reads back as it was.

use std::path::Path;

use dirsim::director::doveadm::{parse_line, parse_words, split_words};
use dirsim::director::format::{NameIndex, write_map, write_map_json, write_status, write_status_json};
use dirsim::director::ip::HostIp;
use dirsim::director::print::PrintFormat;
use dirsim::director::{Director, Settings};
use dirsim::scenario::duration::{format_duration_ms, parse_duration_ms};
use dirsim::scenario::import::{MapRow, StatusRow, parse_map, parse_status, text_from_bytes};
use dirsim::scenario::parse;
use dirsim::shell::{Session, ShellOptions};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn file() -> &'static Path {
    Path::new("prop.txt")
}

/// `word` quoted for [`split_words`]: double quotes around everything but
/// `"` itself, which goes in single quotes. Adjacent quoted parts join into
/// one word, so any text survives, the empty word too.
fn quote(word: &str) -> String {
    let mut out = String::from("\"");
    for c in word.chars() {
        if c == '"' {
            out.push_str("\"'\"'\"");
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// A scenario around one workload distribution line.
fn scenario_with(key: &str, value: &str) -> String {
    format!(
        "name = \"p\"\nduration = \"1h\"\n[[backend]]\nname = \"b1\"\nip = \"10.0.0.1\"\n\
         [workload]\nusers = 10\n{key} = {value}\n"
    )
}

/// A distribution parameter as TOML: durations, numbers, junk.
fn param() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            0u64..1_000_000,
            prop::sample::select(vec!["ms", "s", "m", "h", "d"])
        )
            .prop_map(|(n, u)| format!("\"{n}{u}\"")),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        prop::sample::select(vec![
            "nan", "inf", "-inf", "1e308", "\"\"", "\"-5s\"", "true", "[]"
        ])
        .prop_map(str::to_string),
    ]
}

fn dist_value() -> impl Strategy<Value = String> {
    let kinds = vec!["fixed", "uniform", "exponential", "lognormal", "pareto", "other"];
    let keys = vec![
        "value", "min", "max", "mean", "median", "sigma", "scale", "shape", "x",
    ];
    (
        prop::sample::select(kinds),
        prop::collection::btree_map(prop::sample::select(keys), param(), 0..4),
    )
        .prop_map(|(kind, params)| {
            let mut s = format!("{{ dist = \"{kind}\"");
            for (k, v) in params {
                s.push_str(&format!(", {k} = {v}"));
            }
            s.push_str(" }");
            s
        })
}

/// A director with `hosts` (last octet, tag, vhosts, down) and some users.
fn director(hosts: &[(u8, String, u32, bool)], users: &[String]) -> (Director, NameIndex) {
    let mut d = Director::new(Settings::default(), &[]);
    d.advance_to(1_709_294_400_000);
    for (last, tag, vhosts, down) in hosts {
        let ip: HostIp = format!("10.0.0.{last}").parse().unwrap();
        d.host_set(ip, tag, Some(*vhosts), false);
        if *down {
            d.host_updown(ip, true);
        }
    }
    let mut names = NameIndex::default();
    for (i, u) in users.iter().enumerate() {
        let hash = d.hash_user(u);
        let slot = d.intern("", hash);
        d.request(slot, i as u64);
        names.add(hash, u);
    }
    (d, names)
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

fn formats() -> [PrintFormat; 3] {
    [
        PrintFormat::Table { columns: 80 },
        PrintFormat::Table { columns: 20 },
        PrintFormat::Tab,
    ]
}

proptest! {
    #[test]
    fn duration_never_panics(s in "\\PC*") {
        let _ = parse_duration_ms(&s);
    }

    #[test]
    fn duration_of_number_unit_pairs(parts in prop::collection::vec(
        (0u64..100_000, prop::sample::select(vec![("ms", 1u64), ("s", 1000), ("min", 60_000), ("h", 3_600_000), ("d", 86_400_000)])),
        1..5,
    )) {
        let text: Vec<String> = parts.iter().map(|(n, (u, _))| format!("{n}{u}")).collect();
        let want: u64 = parts.iter().map(|(n, (_, len))| n * len).sum();
        prop_assert_eq!(parse_duration_ms(&text.join(" ")), Ok(want));
        prop_assert_eq!(parse_duration_ms(&text.concat()), Ok(want));
    }

    #[test]
    fn duration_format_round_trips(ms in any::<u64>()) {
        prop_assert_eq!(parse_duration_ms(&format_duration_ms(ms)), Ok(ms));
    }

    #[test]
    fn doveadm_never_panics(s in "\\PC*") {
        let parsed = parse_line(&s);
        if let Ok(words) = split_words(&s) {
            prop_assert_eq!(parse_words(&words), parsed);
        }
    }

    #[test]
    fn doveadm_words_round_trip(words in prop::collection::vec("\\PC{0,12}", 0..6)) {
        let line: Vec<String> = words.iter().map(|w| quote(w)).collect();
        prop_assert_eq!(split_words(&line.join(" ")), Ok(words.clone()));
        // Words without quotes or spaces need no quoting.
        let plain: Vec<String> = words
            .iter()
            .filter(|w| !w.is_empty() && !w.chars().any(|c| c.is_whitespace() || c == '"' || c == '\''))
            .cloned()
            .collect();
        prop_assert_eq!(split_words(&plain.join(" ")), Ok(plain));
    }

    #[test]
    fn importers_never_panic(s in "\\PC*") {
        let _ = parse_status(&s, file());
        let _ = parse_map(&s, file());
        let json = format!("[{s}");
        let _ = parse_status(&json, file());
        let _ = parse_map(&json, file());
    }

    #[test]
    fn importers_never_panic_on_table_like_lines(lines in prop::collection::vec(
        prop::collection::vec(prop_oneof![
            Just("10.0.0.1".to_string()), Just("-".to_string()), Just("up".to_string()),
            Just("2024-03-01 12:00:00".to_string()), "[0-9]{1,11}", "\\PC{0,6}",
        ], 0..8).prop_map(|cells| cells.join(" ")),
        0..5,
    )) {
        for header in ["mail server ip tag vhosts state state changed users", "user hash mail server ip expire time"] {
            let t = format!("{header}\n{}\n", lines.join("\n"));
            let _ = parse_status(&t, file());
            let _ = parse_map(&t, file());
            let t = t.replace(' ', "\t");
            let _ = parse_status(&t, file());
            let _ = parse_map(&t, file());
        }
    }

    #[test]
    fn text_from_bytes_is_utf8_or_an_error(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let want = String::from_utf8(bytes.clone()).ok();
        prop_assert_eq!(text_from_bytes(bytes, file()).ok(), want);
    }

    #[test]
    fn scenario_never_panics(s in "\\PC*") {
        let _ = parse(&s, Path::new("prop.toml"));
    }

    #[test]
    fn distributions_parse_or_fail_and_sample(
        key in prop::sample::select(vec!["session_length", "connections_per_session", "reconnect_after_kick"]),
        value in dist_value(),
        seed in any::<u64>(),
    ) {
        let Ok(s) = parse(&scenario_with(key, &value), Path::new("prop.toml")) else {
            return Ok(());
        };
        let w = &s.workload;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for d in [&w.session_length, &w.connections_per_session, &w.reconnect_after_kick] {
            prop_assert!(d.mean() >= 0.0, "{value}: {d:?}");
            for _ in 0..4 {
                let x = d.sample(&mut rng);
                prop_assert!(!x.is_nan(), "{value}: {d:?}");
                let _ = d.sample_ms(&mut rng);
                prop_assert!(d.sample_count(&mut rng) >= 1);
            }
        }
    }

    #[test]
    fn shell_never_panics(lines in prop::collection::vec(prop_oneof![
        "\\PC{0,20}",
        prop::sample::select(vec![
            "add 10.0.0.1", "add 10.0.0.2 0", "add b3=10.0.0.3 1000", "down 10.0.0.1", "up 10.0.0.1",
            "update 10.0.0.2 100", "remove 10.0.0.2", "flush all", "flush -F 10.0.0.1", "login alice 3",
            "login bob", "logout alice", "kick bob", "move alice 10.0.0.3", "status", "status alice",
            "-f json map", "-f tab status", "map -h 1", "wait 20m", "wait 99999999999d", "time",
            "connections", "dump", "director_user_expire = 10s", "dirsim_reconnect_after_kick = 1s",
            "dirsim_kick_latency = 100ms",
        ]).prop_map(str::to_string),
    ], 0..12)) {
        let mut s = Session::new(ShellOptions::default(), Vec::new(), Vec::new());
        for l in &lines {
            let _ = s.execute(l);
        }
    }

    #[test]
    fn status_and_map_round_trip(
        hosts in prop::collection::btree_map(1u8..=254, ("[a-z0-9]{0,6}", 0u32..=1000, any::<bool>()), 1..6),
        users in prop::collection::btree_set("[a-z0-9._@-]{1,12}", 0..12),
    ) {
        let hosts: Vec<(u8, String, u32, bool)> =
            hosts.into_iter().map(|(last, (tag, vhosts, down))| (last, tag, vhosts, down)).collect();
        let users: Vec<String> = users.into_iter().collect();
        let (mut d, names) = director(&hosts, &users);
        let want: Vec<StatusRow> = d
            .hosts_in_order()
            .iter()
            .map(|&id| {
                let h = d.host(id);
                StatusRow {
                    ip: h.ip(),
                    tag: d.tag_name(h.tag()).to_string(),
                    vhosts: h.vhosts(),
                    down: h.is_down(),
                    state_changed: Some(h.last_updown_change()).filter(|&t| t > 0),
                    users: h.user_count(),
                }
            })
            .collect();
        let mut records = Vec::new();
        d.user_list(None, |hash, expire, host| records.push((hash, expire, host)));
        let want_map: Vec<MapRow> = records
            .into_iter()
            .flat_map(|(hash, expire, host)| {
                let row = MapRow { user: None, hash, ip: d.host(host).ip(), expire_unix: i64::from(expire) };
                let named: Vec<MapRow> =
                    names.names(hash).map(|n| MapRow { user: Some(n.to_string()), ..row.clone() }).collect();
                if named.is_empty() { vec![row] } else { named }
            })
            .collect();
        let mut outputs = Vec::new();
        for f in formats() {
            outputs.push((
                text(write_status(&d, f, Vec::new()).unwrap()),
                text(write_map(&mut d, &names, None, f, Vec::new()).unwrap()),
            ));
        }
        outputs.push((
            text(write_status_json(&d, Vec::new()).unwrap()),
            text(write_map_json(&mut d, &names, None, Vec::new()).unwrap()),
        ));
        for (status, map) in outputs {
            prop_assert_eq!(&parse_status(&status, file()).unwrap(), &want, "{}", status);
            prop_assert_eq!(&parse_map(&map, file()).unwrap(), &want_map, "{}", map);
        }
    }
}

/// Heavy-tailed distributions that parse may draw samples beyond the
/// clock (found by review while fuzzing: `now + length` overflowed in debug builds and
/// wrapped into the past in release ones).
#[test]
fn heavy_tailed_samples_run() {
    let text = "name = \"heavy\"\nduration = \"1h\"\n\
                [[backend]]\nname = \"b1\"\nip = \"10.0.0.1\"\n\
                [[backend]]\nname = \"b2\"\nip = \"10.0.0.2\"\n\
                [workload]\nusers = 200\nsessions_per_day = 200\n\
                session_length = { dist = \"pareto\", scale = \"1h\", shape = 0.01 }\n\
                reconnect_after_kick = { dist = \"pareto\", scale = \"1s\", shape = 0.01 }\n\
                [[step]]\nat = \"30m\"\nrun = \"kick user1\"\n\
                [[step]]\nrun = \"kick user2\"\n[[step]]\nrun = \"kick user3\"\n";
    let s = parse(text, Path::new("heavy.toml")).unwrap();
    let r = dirsim::sim::run(&s, 1, &mut dirsim::sim::Quiet).unwrap();
    assert!(
        r.summary.logins > 0 && r.summary.connections_kicked > 0,
        "{:?}",
        r.summary
    );
}
