//! The time a reconcile runs at, read once per reconcile from an injectable clock so that the
//! pure steps (plan, report, certificate windows) can be tested at any instant.

use std::time::{Duration, Instant};

/// One reading of the clock: the monotonic instant (for schedules) and the wall time (for
/// status timestamps and certificate validity).
#[derive(Clone, Copy, Debug)]
pub struct Now {
    /// Monotonic time, for in-memory deadlines.
    pub instant: Instant,
    /// Wall time in Unix seconds.
    pub unix: i64,
}

impl Now {
    /// The wall time as RFC 3339 with second precision.
    pub fn rfc3339(&self) -> String {
        rfc3339(self.unix)
    }

    /// The wall time `delay` from now, as RFC 3339.
    pub fn rfc3339_after(&self, delay: Duration) -> String {
        rfc3339(self.unix.saturating_add(delay.as_secs() as i64))
    }
}

fn rfc3339(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .unwrap_or(jiff::Timestamp::MAX)
        .to_string()
}

/// Where reconciles read the time.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Now;
}

/// The system's clocks.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Now {
        Now {
            instant: Instant::now(),
            unix: jiff::Timestamp::now().as_second(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_times_are_whole_seconds() {
        let now = Now {
            instant: Instant::now(),
            unix: 1_800_000_000,
        };
        assert_eq!(now.rfc3339(), "2027-01-15T08:00:00Z");
        assert_eq!(
            now.rfc3339_after(Duration::from_millis(90_500)),
            "2027-01-15T08:01:30Z"
        );
    }
}
