//! One request at a time through a client until it has met the vault's challenge. The SDK sends
//! every request unauthenticated until it knows the vault's scope, and sends each one again
//! after the 401: a wave of concurrent first requests (a new leader's first reconciles, say)
//! would reach the vault twice each, past the operator's rate limit, which counts one.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::vault::{VaultError, VaultErrorKind};

/// The warm-up state of one SDK client.
#[derive(Debug, Default)]
pub struct WarmUp {
    warm: AtomicBool,
    first: tokio::sync::Mutex<()>,
}

impl WarmUp {
    /// Whether an answer has taught the client the vault's challenge.
    pub fn is_warm(&self) -> bool {
        self.warm.load(Ordering::Acquire)
    }

    /// Runs `call` at once when the client is warm; otherwise alone, after any request before it.
    pub async fn run<T>(
        &self,
        call: impl Future<Output = Result<T, VaultError>>,
    ) -> Result<T, VaultError> {
        if self.warm.load(Ordering::Acquire) {
            return call.await;
        }
        let alone = self.first.lock().await;
        if self.warm.load(Ordering::Acquire) {
            drop(alone);
            return call.await;
        }
        let result = call.await;
        if taught_the_challenge(&result) {
            self.warm.store(true, Ordering::Release);
        }
        result
    }
}

/// Whether a request that ended so passed the vault's authentication challenge: it was answered
/// as an authenticated request would be. Throttling and unavailability are answered before
/// authentication, and a request that never reached the vault learned nothing.
fn taught_the_challenge<T>(result: &Result<T, VaultError>) -> bool {
    match result {
        Ok(_) => true,
        Err(err) => matches!(
            err.kind(),
            VaultErrorKind::NotFound
                | VaultErrorKind::Disabled
                | VaultErrorKind::Forbidden
                | VaultErrorKind::Authentication
                | VaultErrorKind::TooLarge
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    /// A request that notes how many run at once.
    async fn request(
        running: Arc<AtomicUsize>,
        most: Arc<AtomicUsize>,
        answer: Result<(), VaultError>,
    ) -> Result<(), VaultError> {
        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
        most.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(10)).await;
        running.fetch_sub(1, Ordering::SeqCst);
        answer
    }

    /// Eight requests at once, each answered `answer`; the most that ran at the same time.
    async fn wave(gate: &Arc<WarmUp>, answer: Result<(), VaultError>) -> usize {
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let gate = gate.clone();
            let (running, most) = (running.clone(), most.clone());
            let answer = answer.clone();
            tasks.push(tokio::spawn(async move {
                gate.run(request(running, most, answer)).await
            }));
            // The first request starts first.
            tokio::task::yield_now().await;
        }
        for task in tasks {
            let _ = task.await.unwrap();
        }
        most.load(Ordering::SeqCst)
    }

    #[tokio::test(start_paused = true)]
    async fn a_cold_client_sends_alone_until_an_answer_taught_it_the_challenge() {
        let gate = Arc::new(WarmUp::default());
        let unavailable = VaultError::Unavailable {
            detail: "HTTP 503".into(),
        };
        // 503s come before authentication: nothing learned, every request still goes alone.
        let most = wave(&gate, Err(unavailable)).await;
        assert_eq!(most, 1, "one at a time while cold");
        assert!(!gate.warm.load(Ordering::SeqCst));
        // The first answered request warms the client; the rest of the wave goes at once.
        let most = wave(&gate, Ok(())).await;
        assert!(most > 1, "at once when warm: {most}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_not_found_answer_also_warms_the_client() {
        let gate = Arc::new(WarmUp::default());
        let most = wave(&gate, Err(VaultError::NotFound)).await;
        assert!(most >= 1);
        assert!(gate.warm.load(Ordering::SeqCst));
    }
}
