//! The SDK's own retries: a couple of quick ones for transient transport and server errors,
//! never for throttling. A 429 (or a 503, which Key Vault pairs with Retry-After) goes straight
//! back to the operator, whose limiter pauses the vault and whose reconciles requeue: the SDK's
//! default policy would sleep out a Retry-After inside the call, holding a reconcile worker.

use azure_core::http::StatusCode;
use azure_core::http::policies::{RetryHeaders, RetryPolicy};
use azure_core::time::Duration;

/// Retries the SDK makes after the first attempt.
const MAX_RETRIES: u32 = 2;
/// Longest the SDK keeps retrying one call.
const MAX_ELAPSED_SECONDS: i64 = 20;
/// Statuses worth a quick retry; not 429 or 503 (see the module documentation).
const RETRIED: [StatusCode; 4] = [
    StatusCode::RequestTimeout,
    StatusCode::InternalServerError,
    StatusCode::BadGateway,
    StatusCode::GatewayTimeout,
];

/// See the module documentation.
#[derive(Debug)]
pub struct QuickRetries;

impl RetryPolicy for QuickRetries {
    fn is_expired(&self, since_start: Duration, retries: u32) -> bool {
        retries >= MAX_RETRIES || since_start > Duration::seconds(MAX_ELAPSED_SECONDS)
    }

    fn retry_headers(&self) -> Option<&RetryHeaders> {
        None
    }

    fn retry_status_codes(&self) -> &[StatusCode] {
        &RETRIED
    }

    fn sleep_duration(&self, retries: u32) -> Duration {
        Duration::milliseconds(200 * 2i64.pow(retries.saturating_sub(1).min(4)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_is_never_retried_by_the_sdk() {
        let retried = QuickRetries.retry_status_codes();
        assert!(!retried.contains(&StatusCode::TooManyRequests));
        assert!(!retried.contains(&StatusCode::ServiceUnavailable));
        assert!(
            !retried.is_empty(),
            "an empty list means the SDK's defaults, 429 included"
        );
        assert!(QuickRetries.retry_headers().is_none());
    }

    #[test]
    fn two_quick_retries_at_most() {
        assert!(!QuickRetries.is_expired(Duration::seconds(1), 1));
        assert!(QuickRetries.is_expired(Duration::seconds(1), 2));
        assert!(QuickRetries.is_expired(Duration::seconds(21), 0));
        assert_eq!(QuickRetries.sleep_duration(1), Duration::milliseconds(200));
        assert_eq!(QuickRetries.sleep_duration(2), Duration::milliseconds(400));
    }
}
