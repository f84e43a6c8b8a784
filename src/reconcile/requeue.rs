//! When to look again: the refresh interval with jitter after success, exponential backoff with
//! jitter after transient failures, the vault's Retry-After when it gave one.

use std::time::Duration;

use rand::Rng;

use super::error::Retry;

/// First backoff step after a failure.
const BACKOFF_BASE: Duration = Duration::from_secs(5);
/// Longest backoff.
const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// Safety recheck while waiting for a spec change.
const WAIT_FOR_CHANGE_RECHECK: Duration = Duration::from_secs(1800);

/// Parses `1h30m`, `15m`, `90s` (the CRD pattern guarantees this shape).
pub fn parse_interval(text: &str) -> Option<Duration> {
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let value: u64 = number.parse().ok()?;
        number.clear();
        total += match c {
            'h' => value * 3600,
            'm' => value * 60,
            's' => value,
            _ => return None,
        };
    }
    (number.is_empty() && total > 0).then(|| Duration::from_secs(total))
}

/// `base` spread by ±`fraction` so that many resources do not act in lockstep.
pub fn jitter(base: Duration, fraction: f64) -> Duration {
    let factor = 1.0 + rand::rng().random_range(-fraction..=fraction);
    base.mul_f64(factor.max(0.0))
}

/// Delay after the `failures`-th consecutive failure (1-based).
pub fn after_failure(retry: Retry, failures: u32) -> Duration {
    let exponential = BACKOFF_BASE
        .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1).min(10)))
        .min(BACKOFF_MAX);
    match retry {
        Retry::Backoff => jitter(exponential, 0.2),
        Retry::After(after) => after
            .clamp(Duration::from_secs(1), BACKOFF_MAX)
            .saturating_add(jitter(Duration::from_secs(1), 0.5)),
        Retry::WaitForChange => WAIT_FOR_CHANGE_RECHECK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse() {
        assert_eq!(parse_interval("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_interval("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_interval("10"), None);
        assert_eq!(parse_interval("0s"), None);
    }

    #[test]
    fn backoff_grows_and_caps_with_bounded_jitter() {
        let first = after_failure(Retry::Backoff, 1);
        assert!(first >= Duration::from_secs(4) && first <= Duration::from_secs(6));
        let later = after_failure(Retry::Backoff, 4);
        assert!(later >= Duration::from_secs(32) && later <= Duration::from_secs(48));
        assert!(after_failure(Retry::Backoff, 50) <= Duration::from_secs(360));
        assert!(after_failure(Retry::After(Duration::from_secs(7)), 1) >= Duration::from_secs(7));
        let absurd = after_failure(Retry::After(Duration::MAX), 1);
        assert!(absurd <= BACKOFF_MAX + Duration::from_secs(2), "{absurd:?}");
    }
}
