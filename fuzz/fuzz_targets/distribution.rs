//! One workload distribution (`{ dist = "...", ... }`) inside a minimal
//! valid scenario: the first byte picks the key (a duration distribution or
//! a count one), the rest is the TOML value. Whatever parses is sampled a few
//! times with a fixed seed, as a run would: absurd but accepted parameters
//! must not panic either.
#![no_main]

use std::path::Path;

use dirsim::scenario::{Dist, parse};
use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const KEYS: [&str; 3] = [
    "session_length",
    "connections_per_session",
    "reconnect_after_kick",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(value) = std::str::from_utf8(rest) else {
        return;
    };
    let key = KEYS[usize::from(pick) % KEYS.len()];
    let text = format!(
        "name = \"fuzz\"\nduration = \"1h\"\n[[backend]]\nname = \"b1\"\nip = \"10.0.0.1\"\n\
         [workload]\nusers = 10\n{key} = {value}\n"
    );
    let Ok(s) = parse(&text, Path::new("fuzz.toml")) else {
        return;
    };
    let w = &s.workload;
    let d: &Dist = match key {
        "session_length" => &w.session_length,
        "connections_per_session" => &w.connections_per_session,
        _ => &w.reconnect_after_kick,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(u64::from(pick));
    let _ = d.mean();
    for _ in 0..8 {
        let _ = d.sample(&mut rng);
        let _ = d.sample_ms(&mut rng);
        let _ = d.sample_count(&mut rng);
    }
});
