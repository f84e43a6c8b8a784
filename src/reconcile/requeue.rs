//! When to look again: the refresh interval with jitter after success, exponential backoff with
//! jitter after transient failures, the vault's Retry-After when it gave one.

use std::time::Duration;

use super::error::Retry;

/// How long after this reconcile the resource is reconciled again, unless something changes
/// first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Revisit(pub Duration);

/// First backoff step after a failure.
const BACKOFF_BASE: Duration = Duration::from_secs(5);
/// Longest backoff.
const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// Safety recheck while waiting for a spec change.
const WAIT_FOR_CHANGE_RECHECK: Duration = Duration::from_secs(1800);

/// `base` spread by ±`fraction` so that many resources do not act in lockstep; `roll`, in
/// [-1, 1], says where in that range.
pub fn spread(base: Duration, fraction: f64, roll: f64) -> Duration {
    let factor = 1.0 + fraction * roll.clamp(-1.0, 1.0);
    base.mul_f64(factor.max(0.0))
}

/// Delay after the `failures`-th consecutive failure (1-based); `roll`, in [-1, 1], spreads it.
/// A backoff never exceeds `interval`, the resource's refresh interval: after an outage every
/// resource tries again within one interval of the vault's return, as a healthy one would look.
pub fn after_failure(retry: Retry, failures: u32, roll: f64, interval: Duration) -> Duration {
    let exponential = BACKOFF_BASE
        .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1).min(10)))
        .min(BACKOFF_MAX);
    match retry {
        Retry::Backoff => spread(exponential, 0.2, roll).min(interval.max(BACKOFF_BASE)),
        Retry::After(after) => after
            .clamp(Duration::from_secs(1), BACKOFF_MAX)
            .saturating_add(spread(Duration::from_secs(1), 0.5, roll)),
        Retry::WaitForChange => WAIT_FOR_CHANGE_RECHECK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn spread_stays_within_its_fraction() {
        let base = Duration::from_secs(100);
        assert_eq!(spread(base, 0.1, -1.0), Duration::from_secs(90));
        assert_eq!(spread(base, 0.1, 1.0), Duration::from_secs(110));
        assert_eq!(spread(base, 0.1, 7.0), Duration::from_secs(110));
    }

    #[test]
    fn backoff_never_exceeds_the_refresh_interval() {
        let interval = Duration::from_secs(30);
        assert_eq!(after_failure(Retry::Backoff, 50, 1.0, interval), interval);
        assert_eq!(
            after_failure(Retry::Backoff, 1, 0.0, interval),
            Duration::from_secs(5)
        );
        // A Retry-After is the vault's word, not capped.
        let hinted = after_failure(Retry::After(Duration::from_secs(60)), 1, 0.0, interval);
        assert_eq!(hinted, Duration::from_secs(61));
    }

    #[test]
    fn backoff_grows_and_caps_with_bounded_jitter() {
        assert_eq!(
            after_failure(Retry::Backoff, 1, 0.0, HOUR),
            Duration::from_secs(5)
        );
        assert_eq!(
            after_failure(Retry::Backoff, 1, -1.0, HOUR),
            Duration::from_secs(4)
        );
        assert_eq!(
            after_failure(Retry::Backoff, 4, 1.0, HOUR),
            Duration::from_secs(48)
        );
        assert_eq!(
            after_failure(Retry::Backoff, 50, 1.0, HOUR),
            Duration::from_secs(360)
        );
        let hinted = after_failure(Retry::After(Duration::from_secs(7)), 1, -1.0, HOUR);
        assert_eq!(hinted, Duration::from_millis(7500));
        let absurd = after_failure(Retry::After(Duration::MAX), 1, 1.0, HOUR);
        assert_eq!(absurd, BACKOFF_MAX + Duration::from_millis(1500));
        assert_eq!(
            after_failure(Retry::WaitForChange, 3, 1.0, HOUR),
            WAIT_FOR_CHANGE_RECHECK
        );
    }
}
