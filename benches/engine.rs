//! A full engine run of `scenarios/bench-100k.toml` (100,000 users, 20
//! backends × 100 vhosts, one simulated day, a raise and a flush at
//! midday). `cargo bench --bench engine`.

use std::path::Path;

fn main() {
    divan::main();
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn run_100k_users_1_day(b: divan::Bencher) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/bench-100k.toml");
    let scenario = dirsim::scenario::load(&path).expect("bench scenario");
    b.bench_local(|| {
        let r = dirsim::sim::run(&scenario, scenario.seed, &mut dirsim::sim::Quiet).expect("run");
        r.summary.events
    });
}
