//! Helpers shared by the unit tests.

/// A tiny deterministic generator (xorshift64) for randomized tests that
/// must not depend on a crate's stream: `rnd(n)` is in `0..n`.
pub(crate) fn xorshift(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut x = seed;
    move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    }
}
