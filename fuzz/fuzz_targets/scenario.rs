//! Whole scenario files through `dirsim::scenario::parse` (TOML syntax,
//! schema, durations, distributions, steps with doveadm lines, workload,
//! initial state), then a few samples of each parsed distribution.
#![no_main]

use std::path::Path;

use dirsim::scenario::{Dist, parse};
use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// `parse` reads the files a scenario names (`users_file`, `status_file`,
/// `map_file`). Inputs naming anything but a small regular file (say
/// /dev/zero or a FIFO) are skipped: reading those is not the parser's job.
fn names_only_small_files(text: &str) -> bool {
    let Ok(doc) = text.parse::<toml::Table>() else {
        return true; // parse fails before reading any file
    };
    let paths = [
        ("workload", "users_file"),
        ("initial", "status_file"),
        ("initial", "map_file"),
    ];
    paths.iter().all(|(table, key)| {
        let Some(v) = doc.get(*table).and_then(|t| t.get(*key)) else {
            return true;
        };
        let Some(p) = v.as_str() else {
            return true;
        };
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.len() < 1 << 20)
    })
}

fn sample(d: &Dist) {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let _ = d.mean();
    for _ in 0..4 {
        let _ = d.sample(&mut rng);
        let _ = d.sample_ms(&mut rng);
        let _ = d.sample_count(&mut rng);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if !names_only_small_files(text) {
        return;
    }
    if let Ok(s) = parse(text, Path::new("fuzz.toml")) {
        let w = &s.workload;
        for d in [
            &w.session_length,
            &w.connections_per_session,
            &w.reconnect_after_kick,
        ] {
            sample(d);
        }
    }
});
