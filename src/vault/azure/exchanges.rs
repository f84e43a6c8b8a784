//! Counts the workload-identity token exchanges the credentials send to Entra ID, by outcome,
//! where they really happen: the credentials cache tokens, so a vault request says nothing about
//! whether a token was exchanged for it.

use std::sync::Arc;

use azure_core::http::{AsyncRawResponse, HttpClient, Method, Request};

/// Receives the outcome (`success`, `throttled`, `rejected`, `unavailable`) of each exchange.
pub type ExchangeObserver = Arc<dyn Fn(&'static str) + Send + Sync>;

/// The path Entra's v2 token endpoint ends with.
const TOKEN_PATH_SUFFIX: &str = "/oauth2/v2.0/token";

/// An [`HttpClient`] for credentials that reports each token request to an observer.
pub struct ObservedExchanges {
    inner: Arc<dyn HttpClient>,
    observer: ExchangeObserver,
}

impl ObservedExchanges {
    /// Sends through `inner`, reporting token requests to `observer`.
    pub fn new(inner: Arc<dyn HttpClient>, observer: ExchangeObserver) -> Self {
        ObservedExchanges { inner, observer }
    }
}

impl std::fmt::Debug for ObservedExchanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObservedExchanges")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl HttpClient for ObservedExchanges {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let exchange =
            request.method() == Method::Post && request.url().path().ends_with(TOKEN_PATH_SUFFIX);
        let result = self.inner.execute_request(request).await;
        if exchange {
            (self.observer)(outcome(result.as_ref().map(|r| u16::from(r.status())).ok()));
        }
        result
    }
}

/// The outcome label of an exchange answered with `status` (`None`: no answer).
fn outcome(status: Option<u16>) -> &'static str {
    match status {
        Some(200..=299) => "success",
        Some(429) => "throttled",
        Some(400..=499) => "rejected",
        Some(_) | None => "unavailable",
    }
}

#[cfg(test)]
mod tests {
    use super::outcome;

    #[test]
    fn answers_map_to_a_small_set_of_outcomes() {
        assert_eq!(outcome(Some(200)), "success");
        assert_eq!(outcome(Some(429)), "throttled");
        assert_eq!(outcome(Some(400)), "rejected");
        assert_eq!(outcome(Some(401)), "rejected");
        assert_eq!(outcome(Some(503)), "unavailable");
        assert_eq!(outcome(Some(302)), "unavailable");
        assert_eq!(outcome(None), "unavailable");
    }
}
