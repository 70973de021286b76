//! Human durations: `90s`, `15m`, `2h`, `1d`, `500ms`, or combinations such
//! as `1h30m`. A bare number is refused: the unit is never guessed.

use std::fmt;

/// A duration that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {input:?}: {reason} (expected a number with a unit: ms, s, m, h or d, e.g. 90s, 15m, 2h, 1d, 1h30m)"
)]
pub struct DurationError {
    /// The rejected text.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

/// The longest span of simulated time: the director's clock is 32-bit unix
/// seconds (about 136 years). Settings that add to the clock (warmup, kick
/// latency, reconnect delay) are refused above it, so no sum can overflow.
pub const MAX_CLOCK_MS: u64 = u32::MAX as u64 * 1000;

/// Parses a duration into milliseconds.
pub fn parse_duration_ms(input: &str) -> Result<u64, DurationError> {
    let fail = |reason: &str| DurationError {
        input: input.to_string(),
        reason: reason.to_string(),
    };
    let s = input.trim();
    if s.is_empty() {
        return Err(fail("it is empty"));
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut total: u64 = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(fail(if b[i] == b'-' {
                "negative durations are not allowed"
            } else {
                "expected a number"
            }));
        }
        let n: u64 = s[start..i].parse().map_err(|_| fail("number too large"))?;
        let ustart = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit: u64 = match &s[ustart..i] {
            "ms" => 1,
            "s" | "sec" | "secs" => 1000,
            "m" | "min" | "mins" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => return Err(fail("missing unit")),
            _ => return Err(fail(&format!("unknown unit {:?}", &s[ustart..i]))),
        };
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| fail("too large"))?;
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
    }
    Ok(total)
}

/// Formats milliseconds compactly, the inverse of [`parse_duration_ms`]
/// for whole units (`2s`, `15m`, `1h30m`, `1500ms`).
pub fn format_duration_ms(ms: u64) -> String {
    struct D(u64);
    impl fmt::Display for D {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let mut ms = self.0;
            if ms == 0 {
                return f.write_str("0s");
            }
            for (unit, len) in [
                ("d", 86_400_000),
                ("h", 3_600_000),
                ("m", 60_000),
                ("s", 1000),
                ("ms", 1),
            ] {
                if ms >= len {
                    write!(f, "{}{unit}", ms / len)?;
                    ms %= len;
                }
            }
            Ok(())
        }
    }
    D(ms).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_duration_ms("90s"), Ok(90_000));
        assert_eq!(parse_duration_ms("15m"), Ok(900_000));
        assert_eq!(parse_duration_ms("2h"), Ok(7_200_000));
        assert_eq!(parse_duration_ms("1d"), Ok(86_400_000));
        assert_eq!(parse_duration_ms("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration_ms("250ms"), Ok(250));
        for bad in ["", "5", "-5s", "5x", "s", "99999999999999999999d"] {
            assert!(parse_duration_ms(bad).is_err(), "{bad}");
        }
        assert!(parse_duration_ms("-5s").unwrap_err().reason.contains("negative"));
    }

    #[test]
    fn round_trip() {
        for ms in [0, 1, 999, 1000, 90_000, 5_400_000, 86_400_000 + 1500] {
            assert_eq!(parse_duration_ms(&format_duration_ms(ms)), Ok(ms));
        }
    }
}
