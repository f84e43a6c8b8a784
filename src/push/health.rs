//! The "push is healthy" signal: when the last authenticated delivery or handshake arrived.
//! Cheap to read (one atomic load), so the scheduler can consult it on every requeue.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Shared handle on the time of the last authenticated request.
#[derive(Debug, Clone, Default)]
pub struct PushHealth {
    /// Milliseconds since the Unix epoch; 0 = never.
    last_millis: Arc<AtomicU64>,
}

impl PushHealth {
    /// Records an authenticated delivery or handshake now.
    pub(crate) fn record(&self) {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        // A lone timestamp with nothing published alongside it: atomicity is enough.
        self.last_millis.store(ms.max(1), Ordering::Relaxed);
    }

    /// When the last authenticated delivery or handshake arrived, if any.
    pub fn last_authenticated(&self) -> Option<SystemTime> {
        match self.last_millis.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(UNIX_EPOCH + Duration::from_millis(ms)),
        }
    }

    /// Whether an authenticated delivery or handshake arrived within `window`.
    pub fn is_healthy_within(&self, window: Duration) -> bool {
        self.last_authenticated()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age <= window)
    }
}
