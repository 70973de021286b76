//! Random distributions of the workload: session lengths, connections per
//! session, reconnect delays.
//!
//! Written as inline tables whose `dist` key picks the kind:
//! `{ dist = "fixed", value = X }`, `{ dist = "uniform", min = X, max = X }`,
//! `{ dist = "exponential", mean = X }`,
//! `{ dist = "lognormal", median = X, sigma = F }`,
//! `{ dist = "pareto", scale = X, shape = F }`. X is a duration string
//! (`"8h"`) for durations and a number for counts; F is a plain number.
//! Parameters are kept as `f64` (milliseconds for durations), so sampling
//! never needs to know the unit. Sampling only uses the RNG it is handed:
//! runs are reproducible from their seed.

use rand::{Rng, RngExt};
use rand_distr::{Distribution, Exp, LogNormal, Pareto};
use serde_spanned::Spanned;

use super::duration::{format_duration_ms, parse_duration_ms};
use super::error::{ScenarioError, Source};
use super::limits::{MAX_CONNECTIONS_PER_SESSION, MAX_DURATION_MS, MAX_LOGNORMAL_SIGMA};
use super::schema::RawDist;

/// A distribution of non-negative values (milliseconds or counts).
#[derive(Clone, Debug, PartialEq)]
pub enum Dist {
    /// Always `value`.
    Fixed {
        /// The value.
        value: f64,
    },
    /// Uniform on `[min, max]`, both ends included. [`Dist::sample`] gives
    /// a real number; for counts use [`Dist::sample_count`], which picks each
    /// integer in `min..=max` equally often (rounding a real sample would
    /// make the two ends half as likely as the integers between them).
    Uniform {
        /// Lower end.
        min: f64,
        /// Upper end.
        max: f64,
    },
    /// Exponential (memoryless waits, e.g. reconnect delays).
    Exponential {
        /// The mean.
        mean: f64,
    },
    /// Log-normal, `mu = ln(median)`: the usual shape of session lengths.
    LogNormal {
        /// The median (`exp(mu)`).
        median: f64,
        /// Standard deviation of the logarithm.
        sigma: f64,
    },
    /// Pareto: heavy-tailed, never below `scale`.
    Pareto {
        /// The minimum value.
        scale: f64,
        /// The tail index (> 0); the mean is finite only when it is > 1.
        shape: f64,
    },
}

/// Whether a distribution's X parameters are durations or counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unit {
    /// Duration strings, stored in milliseconds.
    Duration,
    /// Plain numbers.
    Count,
}

impl Dist {
    /// Draws one value. Uniform includes both ends; rounding counts (to an
    /// integer ≥ 1) or durations (to whole ms) is the caller's job, see
    /// [`Dist::sample_count`] and [`Dist::sample_ms`].
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match *self {
            Dist::Fixed { value } => value,
            Dist::Uniform { min, max } if min < max => rng.random_range(min..=max),
            Dist::Uniform { min, .. } => min,
            Dist::Exponential { mean } => match Exp::new(1.0 / mean) {
                Ok(d) => d.sample(rng),
                Err(_) => self.mean(),
            },
            Dist::LogNormal { median, sigma } => match LogNormal::new(median.ln(), sigma) {
                Ok(d) => d.sample(rng),
                Err(_) => median,
            },
            Dist::Pareto { scale, shape } => match Pareto::new(scale, shape) {
                Ok(d) => d.sample(rng),
                Err(_) => scale,
            },
        }
    }

    /// A count such as connections per session: an integer ≥ 1. Uniform
    /// picks an integer in `min..=max` (each equally likely); the others
    /// round their sample to the nearest integer.
    pub fn sample_count<R: Rng + ?Sized>(&self, rng: &mut R) -> u32 {
        // `as` saturates (NaN → 0), so huge draws cannot wrap.
        let n = match *self {
            Dist::Uniform { min, max } if min.ceil() <= max.floor() => {
                rng.random_range(min.ceil() as u32..=max.floor() as u32)
            }
            _ => self.sample(rng).round() as u32,
        };
        n.max(1)
    }

    /// A sample rounded to whole milliseconds: a duration.
    pub fn sample_ms<R: Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        self.sample(rng).round() as u64
    }

    /// The expected value (infinite for a Pareto with shape ≤ 1), for
    /// reports and sanity checks of the workload's size.
    pub fn mean(&self) -> f64 {
        match *self {
            Dist::Fixed { value } => value,
            Dist::Uniform { min, max } => (min + max) / 2.0,
            Dist::Exponential { mean } => mean,
            Dist::LogNormal { median, sigma } => median * (sigma * sigma / 2.0).exp(),
            Dist::Pareto { scale, shape } if shape > 1.0 => scale * shape / (shape - 1.0),
            Dist::Pareto { .. } => f64::INFINITY,
        }
    }
}

/// The accepted forms, for error messages.
fn forms(unit: Unit) -> &'static str {
    match unit {
        Unit::Duration => {
            "{ dist = \"fixed\", value = \"8h\" }, { dist = \"uniform\", min = \"1h\", max = \"9h\" }, \
             { dist = \"exponential\", mean = \"5s\" }, { dist = \"lognormal\", median = \"8h\", sigma = 1.0 }, \
             { dist = \"pareto\", scale = \"1h\", shape = 1.5 }"
        }
        Unit::Count => {
            "{ dist = \"fixed\", value = 1 }, { dist = \"uniform\", min = 1, max = 3 }, \
             { dist = \"exponential\", mean = 2 }, { dist = \"lognormal\", median = 2, sigma = 0.5 }, \
             { dist = \"pareto\", scale = 1, shape = 2.5 }"
        }
    }
}

/// Checks a distribution table and converts it; `field` is its key path.
pub(crate) fn from_raw(
    src: &Source<'_>,
    raw: &Spanned<RawDist>,
    unit: Unit,
    field: &str,
) -> Result<Dist, ScenarioError> {
    let table = raw.get_ref();
    let Some(kind) = table.get("dist") else {
        let msg = format!("missing `dist`: expected one of {}", forms(unit));
        return Err(src.error(raw.span(), field, msg));
    };
    let kind_field = format!("{field}.dist");
    let kind_span = kind.span();
    let Some(kind) = kind.get_ref().as_str() else {
        let msg = format!(
            "expected a distribution name, found {}: accepted forms: {}",
            kind.get_ref(),
            forms(unit)
        );
        return Err(src.error(kind.span(), kind_field, msg));
    };
    let wanted: &[&str] = match kind {
        "fixed" => &["value"],
        "uniform" => &["min", "max"],
        "exponential" => &["mean"],
        "lognormal" => &["median", "sigma"],
        "pareto" => &["scale", "shape"],
        other => {
            let msg = format!("unknown distribution {other:?}: expected one of {}", forms(unit));
            return Err(src.error(kind_span, kind_field, msg));
        }
    };
    let mut keys: Vec<&Spanned<String>> = table.keys().collect();
    keys.sort_by_key(|k| k.span().start);
    if let Some(extra) = keys
        .iter()
        .find(|k| *k.get_ref() != "dist" && !wanted.contains(&k.get_ref().as_str()))
    {
        let msg = format!(
            "`{}` is not a parameter of {kind}, which takes {}: accepted forms: {}",
            extra.get_ref(),
            wanted.join(" and "),
            forms(unit)
        );
        return Err(src.error(extra.span(), format!("{field}.{}", extra.get_ref()), msg));
    }
    // A parameter: X in the distribution's unit (`plain`: F, a number).
    let get = |name: &str, plain: bool| -> Result<f64, ScenarioError> {
        let key = format!("{field}.{name}");
        let Some(v) = table.get(name) else {
            let msg = format!("{kind} needs `{name}`: accepted forms: {}", forms(unit));
            return Err(src.error(raw.span(), key, msg));
        };
        let x = param_value(v.get_ref(), if plain { Unit::Count } else { unit })
            .map_err(|m| src.error(v.span(), key.clone(), m))?;
        if !x.is_finite() || x < 0.0 {
            return Err(src.error(
                v.span(),
                key,
                format!("{x} is out of range: expected a value >= 0"),
            ));
        }
        let (max, expected) = match (plain, unit) {
            (true, _) if name == "sigma" => (MAX_LOGNORMAL_SIGMA, MAX_LOGNORMAL_SIGMA.to_string()),
            (true, _) => (f64::INFINITY, String::new()),
            (false, Unit::Duration) => (
                MAX_DURATION_MS as f64,
                format!("{} (ten years)", format_duration_ms(MAX_DURATION_MS)),
            ),
            (false, Unit::Count) => (
                MAX_CONNECTIONS_PER_SESSION,
                format!("{MAX_CONNECTIONS_PER_SESSION} connections (real clients open a handful)"),
            ),
        };
        if x > max {
            let shown = match (v.get_ref(), plain) {
                (toml::Value::String(t), false) => format!("{t:?}"),
                _ => x.to_string(),
            };
            return Err(src.error(
                v.span(),
                key,
                format!("{shown} is out of range: expected at most {expected}"),
            ));
        }
        Ok(x)
    };
    let positive = |name: &str, plain: bool| -> Result<f64, ScenarioError> {
        let x = get(name, plain)?;
        if x > 0.0 {
            return Ok(x);
        }
        let span = table.get(name).map_or(raw.span(), |v| v.span());
        let msg = format!("{kind}'s `{name}` must be greater than 0");
        Err(src.error(span, format!("{field}.{name}"), msg))
    };
    Ok(match kind {
        "fixed" => Dist::Fixed {
            value: get("value", false)?,
        },
        "uniform" => {
            let (min, max) = (get("min", false)?, get("max", false)?);
            if min > max {
                let span = table.get("min").map_or(raw.span(), |v| v.span());
                let msg = format!("uniform's min ({min}) is greater than its max ({max})");
                return Err(src.error(span, format!("{field}.min"), msg));
            }
            Dist::Uniform { min, max }
        }
        "exponential" => Dist::Exponential {
            mean: positive("mean", false)?,
        },
        "lognormal" => Dist::LogNormal {
            median: positive("median", false)?,
            sigma: get("sigma", true)?,
        },
        _ => Dist::Pareto {
            scale: positive("scale", false)?,
            shape: positive("shape", true)?,
        },
    })
}

/// One parameter: a duration string (→ ms) or a number.
fn param_value(v: &toml::Value, unit: Unit) -> Result<f64, String> {
    match (unit, v) {
        (Unit::Duration, toml::Value::String(s)) => parse_duration_ms(s)
            .map(|ms| ms as f64)
            .map_err(|e| e.to_string()),
        (Unit::Duration, other) => Err(format!(
            "expected a duration string such as \"90s\", \"15m\" or \"8h\", found {other}"
        )),
        (Unit::Count, toml::Value::Integer(i)) => Ok(*i as f64),
        (Unit::Count, toml::Value::Float(f)) => Ok(*f),
        (Unit::Count, other) => Err(format!("expected a number, found {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn all() -> Vec<Dist> {
        vec![
            Dist::Fixed { value: 3.0 },
            Dist::Uniform { min: 1.0, max: 3.0 },
            Dist::Exponential { mean: 5000.0 },
            Dist::LogNormal {
                median: 1000.0,
                sigma: 0.5,
            },
            Dist::Pareto {
                scale: 100.0,
                shape: 3.0,
            },
        ]
    }

    #[test]
    fn deterministic_for_a_seed() {
        for d in all() {
            let draw = |seed| {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                (0..20).map(|_| d.sample(&mut rng)).collect::<Vec<_>>()
            };
            assert_eq!(draw(7), draw(7), "{d:?}");
        }
    }

    #[test]
    fn sample_means_match() {
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        for d in all() {
            let n = 10_000;
            let sum: f64 = (0..n).map(|_| d.sample(&mut rng)).sum();
            let got = sum / n as f64;
            let want = d.mean();
            assert!(
                (got - want).abs() <= 0.05 * want,
                "{d:?}: sample mean {got}, mean {want}"
            );
        }
    }

    #[test]
    fn ranges_and_rounding() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let u = Dist::Uniform { min: 1.0, max: 3.0 };
        let mut seen = [0u32; 4];
        for _ in 0..3000 {
            let c = u.sample_count(&mut rng);
            assert!((1..=3).contains(&c));
            seen[c as usize] += 1;
        }
        assert!(seen[1..].iter().all(|&n| (900..=1100).contains(&n)), "{seen:?}");
        assert_eq!(Dist::Fixed { value: 0.0 }.sample_count(&mut rng), 1);
        assert!(
            Dist::Pareto {
                scale: 1.0,
                shape: 0.5
            }
            .mean()
            .is_infinite()
        );
        // Invalid parameters built by hand never panic.
        let bad = Dist::Exponential { mean: -1.0 };
        assert_eq!(bad.sample(&mut rng), -1.0);
    }
}
