//! Micro-benchmarks of the director core and the event queue (divan).
//! `cargo bench --bench core`; on a shared 2-core machine expect several
//! per cent of noise, so compare ratios within one run.

use std::hint::black_box;

use dirsim::director::hash::user_hash;
use dirsim::director::host::ring_point;
use dirsim::director::ring::{Point, Ring};
use dirsim::sim::{Event, EventQueue};

fn main() {
    divan::main();
}

/// `user_hash` (MD5 of the name, first 4 bytes big-endian) of one name.
#[divan::bench]
fn user_hash_one(b: divan::Bencher) {
    let names: Vec<String> = (0..1024).map(|i| format!("u{i:08}@example.org")).collect();
    let mut i = 0;
    b.bench_local(|| {
        i = (i + 1) & 1023;
        user_hash(black_box(&names[i]))
    });
}

/// Ring points of 100 hosts × 1000 vhosts.
fn points() -> Vec<Point<u32>> {
    let mut pts = Vec::with_capacity(100_000);
    for h in 0..100u32 {
        let ip = format!("10.0.{}.{}", h / 250, h % 250 + 1);
        for v in 0..1000 {
            pts.push(Point {
                hash: ring_point(&ip, v),
                host: h,
            });
        }
    }
    pts
}

/// Sorting 100 × 1000 points into a ring (the hashing is done before).
#[divan::bench]
fn ring_build_100x1000(b: divan::Bencher) {
    let pts = points();
    b.with_inputs(|| pts.clone())
        .bench_local_values(|p| Ring::from_points(p, |a, b| a.cmp(&b)));
}

/// One lookup in a 100 × 1000 ring.
#[divan::bench]
fn ring_lookup_100x1000(b: divan::Bencher) {
    let ring = Ring::from_points(points(), |a, b| a.cmp(&b));
    let mut h: u32 = 0x9e37_79b9;
    b.bench_local(|| {
        h = h.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        ring.lookup(black_box(h))
    });
}

/// Hold model: with `n` events pending, one pop then one push at the
/// popped time plus a random delay (up to about 2 h, like session and
/// arrival gaps), so the queue stays at `n`.
#[divan::bench(args = [1_000, 100_000, 10_000_000], sample_count = 10, sample_size = 100_000)]
fn queue_hold(b: divan::Bencher, n: usize) {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % 7_200_000
    };
    let mut q = EventQueue::default();
    for i in 0..n {
        q.push(rnd(), Event::Step { index: i as u32 });
    }
    b.bench_local(|| {
        let (t, ev) = q.pop().expect("pending");
        q.push(t + 1 + rnd(), ev);
    });
}

/// Hold model on the fixed-delay lane (keep-alives): `n` pending, each pop
/// followed by a push 450 s after the popped time.
#[divan::bench(args = [1_000, 100_000, 10_000_000], sample_count = 10, sample_size = 100_000)]
fn queue_hold_fixed(b: divan::Bencher, n: usize) {
    const PERIOD: u64 = 450_000;
    let mut q = EventQueue::default();
    for i in 0..n {
        q.push_fixed(i as u64 * PERIOD / n as u64, Event::Step { index: i as u32 }, 0);
    }
    b.bench_local(|| {
        let (t, ev) = q.pop().expect("pending");
        q.push_fixed(t + PERIOD, ev, 0);
    });
}
