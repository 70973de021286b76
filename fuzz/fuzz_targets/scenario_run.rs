//! Scenario files that parse are simulated: values the parser accepts must
//! not make the run panic (overflowing clocks, absurd distributions,
//! steps). Scenarios too big to simulate in a few milliseconds are skipped.
#![no_main]

use std::path::Path;

use dirsim::scenario::{Initial, Users, parse};
use dirsim::sim::{Quiet, run};
use libfuzzer_sys::fuzz_target;

const HOUR_MS: u64 = 3_600_000;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // No files: users_file, status_file and map_file are the import targets'.
    if text.contains("_file") {
        return;
    }
    let Ok(s) = parse(text, Path::new("fuzz.toml")) else {
        return;
    };
    let warmup = match s.initial {
        Initial::Warmup(ms) => ms,
        Initial::Imported(_) => return,
        _ => 0,
    };
    let w = &s.workload;
    let small = matches!(w.users, Users::Generated { count, .. } if count <= 50)
        && s.duration_ms.saturating_add(warmup) <= 6 * HOUR_MS
        && s.duration_ms / s.sample_every_ms <= 2000
        && w.sessions_per_day <= 100.0
        && w.connections_per_session.mean() <= 10.0;
    if small {
        let _ = run(&s, s.seed, &mut Quiet);
    }
});
