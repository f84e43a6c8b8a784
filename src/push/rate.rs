//! A token bucket per sender address, charged only by refused requests (bad credentials, bad
//! bodies, wrong methods): a sender whose bucket is empty is answered 429 before anything else,
//! while Event Grid's authenticated deliveries, however many, cost nothing. The table is
//! bounded: when it grows past its limit, buckets that have refilled completely (senders idle
//! long enough) are forgotten.

use super::settings::RateLimit;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Senders tracked before idle ones are pruned.
const MAX_SENDERS: usize = 10_000;

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Per-sender token buckets.
pub(crate) struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<Option<IpAddr>, Bucket>>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> RateLimiter {
        RateLimiter {
            limit,
            buckets: Mutex::default(),
        }
    }

    fn burst(&self) -> f64 {
        f64::from(self.limit.burst.max(1))
    }

    /// Refills `b` up to `now`.
    fn refill(&self, b: &mut Bucket, now: Instant) {
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.limit.per_second).min(self.burst());
        b.at = now;
    }

    /// Whether `sender` may be served at `now` (its bucket is not empty).
    pub fn admits(&self, sender: Option<IpAddr>, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        match buckets.get_mut(&sender) {
            Some(b) => {
                self.refill(b, now);
                b.tokens >= 1.0
            }
            None => true,
        }
    }

    /// Takes a token from `sender` for a refused request.
    pub fn charge(&self, sender: Option<IpAddr>, now: Instant) {
        let burst = self.burst();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_SENDERS && !buckets.contains_key(&sender) {
            let refill_secs = burst / self.limit.per_second;
            buckets.retain(|_, b| now.duration_since(b.at).as_secs_f64() < refill_secs);
        }
        let b = buckets.entry(sender).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        self.refill(b, now);
        b.tokens = (b.tokens - 1.0).max(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn each_sender_has_its_own_bucket() {
        let r = RateLimiter::new(RateLimit {
            per_second: 10.0,
            burst: 3,
        });
        let (a, b) = (Some([127, 0, 0, 2].into()), Some([127, 0, 0, 3].into()));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(r.admits(a, t0));
            r.charge(a, t0);
        }
        assert!(!r.admits(a, t0));
        assert!(r.admits(b, t0), "another sender is not slowed down");
        // 10 per second: one token back after 100 ms.
        let t1 = t0 + Duration::from_millis(100);
        assert!(r.admits(a, t1));
        r.charge(a, t1);
        assert!(!r.admits(a, t1));
    }
}
