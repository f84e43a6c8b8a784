//! Waiting for the cluster to converge: one polling helper instead of hand-written deadline
//! loops. A probe returns `Ok(value)` when the condition holds, or `Err(what it saw)`, which the
//! failure message shows.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often a condition is polled.
const POLL: Duration = Duration::from_millis(250);

/// Polls `probe` until it returns `Ok`, for at most `within`; then fails naming `what` and the
/// last observation.
pub async fn eventually<T, Fut>(what: &str, within: Duration, probe: impl FnMut() -> Fut) -> T
where
    Fut: Future<Output = Result<T, String>>,
{
    eventually_every(what, within, POLL, probe).await
}

/// [`eventually`], polling every `every` (for tests that measure how soon something happens).
pub async fn eventually_every<T, Fut>(
    what: &str,
    within: Duration,
    every: Duration,
    mut probe: impl FnMut() -> Fut,
) -> T
where
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + within;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(seen) => assert!(
                Instant::now() < deadline,
                "{what} did not happen within {within:?}; last seen: {seen}"
            ),
        }
        tokio::time::sleep(every).await;
    }
}

/// [`eventually`] for tests that are not async.
pub fn eventually_blocking<T>(
    what: &str,
    within: Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        match probe() {
            Ok(value) => return value,
            Err(seen) => assert!(
                Instant::now() < deadline,
                "{what} did not happen within {within:?}; last seen: {seen}"
            ),
        }
        std::thread::sleep(POLL);
    }
}

/// `Ok(())` when `holds`, else `Err(seen)`: the usual probe answer.
pub fn check(holds: bool, seen: impl std::fmt::Debug) -> Result<(), String> {
    if holds {
        Ok(())
    } else {
        Err(format!("{seen:?}"))
    }
}

/// Polls `probe` for `period` and fails at the first `Err`: something that must not happen
/// does not happen while the operator has every chance to do it.
pub async fn always<Fut>(what: &str, period: Duration, mut probe: impl FnMut() -> Fut)
where
    Fut: Future<Output = Result<(), String>>,
{
    let end = Instant::now() + period;
    while Instant::now() < end {
        if let Err(seen) = probe().await {
            panic!("{what} stopped holding; seen: {seen}");
        }
        tokio::time::sleep(POLL).await;
    }
}
