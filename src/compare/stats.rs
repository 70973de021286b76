//! Mean and 95% confidence interval (Student's t) of replications.

/// Two-sided 97.5% quantiles of Student's t for 1..=30 degrees of freedom.
const T975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
    2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/// The t quantile for `df` degrees of freedom (1.96 beyond 120).
pub fn t975(df: usize) -> f64 {
    match df {
        0 => f64::NAN,
        1..=30 => T975[df - 1],
        31..=40 => 2.021,
        41..=60 => 2.000,
        61..=120 => 1.980,
        _ => 1.960,
    }
}

/// Mean and the half-width of its 95% interval (NaN with one value).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// Sample mean.
    pub mean: f64,
    /// Half-width of the 95% confidence interval of the mean.
    pub ci95: f64,
    /// Values.
    pub n: usize,
}

/// The estimate of `values` (summed in order, so it is reproducible).
pub fn estimate(values: &[f64]) -> Estimate {
    let n = values.len();
    if n == 0 {
        return Estimate {
            mean: f64::NAN,
            ci95: f64::NAN,
            n,
        };
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return Estimate {
            mean,
            ci95: f64::NAN,
            n,
        };
    }
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64;
    Estimate {
        mean,
        ci95: t975(n - 1) * (var / n as f64).sqrt(),
        n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // mean 5, sd 2.138 (values 2,4,4,4,5,5,7,9), t(7) = 2.365
        let e = estimate(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(e.mean, 5.0);
        let sd = (32.0f64 / 7.0).sqrt();
        assert!((e.ci95 - 2.365 * sd / 8f64.sqrt()).abs() < 1e-12);
        assert!(estimate(&[3.0]).ci95.is_nan());
        assert_eq!(estimate(&[1.0, 1.0]).ci95, 0.0);
        assert_eq!(t975(200), 1.96);
    }
}
