//! Randomness of the workload: one ChaCha stream per purpose, so changing
//! one part of a scenario (say, session lengths) does not reshuffle the
//! others (arrivals, reconnects); and the session arrival process.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::scenario::{Dist, Workload};

const DAY_MS: f64 = 86_400_000.0;
const HOUR_MS: u64 = 3_600_000;

/// The run's random streams.
pub(crate) struct Streams {
    pub arrivals: ChaCha8Rng,
    pub lengths: ChaCha8Rng,
    pub connections: ChaCha8Rng,
    pub reconnects: ChaCha8Rng,
}

fn stream(seed: u64, n: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(n);
    r
}

impl Streams {
    pub fn new(seed: u64) -> Self {
        Streams {
            arrivals: stream(seed, 1),
            lengths: stream(seed, 2),
            connections: stream(seed, 3),
            reconnects: stream(seed, 4),
        }
    }
}

/// Poisson session arrivals per user, modulated by a 24-hour profile
/// (thinning: candidates at the peak rate, kept with probability
/// factor/peak).
pub(crate) struct Arrivals {
    /// Peak rate, arrivals per ms per user.
    peak_rate: f64,
    /// Acceptance probability per hour of day.
    accept: [f64; 24],
    /// Simulated wall-clock hour at engine time 0, in ms into the day.
    day_offset_ms: u64,
}

impl Arrivals {
    pub fn new(w: &Workload, day_offset_ms: u64) -> Self {
        let factors = w.daily_profile.unwrap_or([1.0; 24]);
        let peak = factors.iter().copied().fold(0.0, f64::max);
        let mut accept = [0.0; 24];
        if peak > 0.0 {
            for (a, f) in accept.iter_mut().zip(factors) {
                *a = f / peak;
            }
        }
        Arrivals {
            peak_rate: w.sessions_per_day / DAY_MS * peak,
            accept,
            day_offset_ms,
        }
    }

    /// The next session arrival after engine time `now`, if any.
    pub fn next(&self, rng: &mut ChaCha8Rng, now: u64) -> Option<u64> {
        if self.peak_rate <= 0.0 {
            return None;
        }
        let mut t = now as f64;
        loop {
            let u: f64 = rng.random();
            t += -(1.0 - u).ln() / self.peak_rate;
            if t > 1e15 {
                return None;
            }
            let hour = (((t as u64) + self.day_offset_ms) / HOUR_MS % 24) as usize;
            let keep = self.accept[hour];
            if keep >= 1.0 || rng.random::<f64>() < keep {
                return Some((t as u64).max(now + 1));
            }
        }
    }
}

/// A duration sample in whole ms (at least `min`).
pub(crate) fn sample_ms(d: &Dist, rng: &mut ChaCha8Rng, min: u64) -> u64 {
    let v = d.sample(rng);
    if v.is_finite() && v > 0.0 {
        (v.round() as u64).max(min)
    } else {
        min
    }
}

/// A count sample (uniform counts are even over `min..=max`), 1..=65535.
pub(crate) fn sample_count(d: &Dist, rng: &mut ChaCha8Rng) -> u32 {
    d.sample_count(rng).min(u16::MAX as u32)
}
