//! Carries a workload identity through an Entra outage. `azure_identity` refreshes a cached token
//! from 5 minutes before it expires, and when Entra fails then it returns the error, although
//! the token it holds is good for minutes more: every vault request of that identity would fail
//! with `TokenExchangeFailed` for no reason a vault would give. This wrapper hands out the last
//! token Entra issued while it stays valid, and asks Entra again at most every
//! [`RETRY_EVERY`] meanwhile.
//!
//! # Guarantees
//! - A token is handed out only while it is valid for more than [`MARGIN`].
//! - Without a still-valid token, Entra's error is returned unchanged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::time::OffsetDateTime;

/// A token closer to its expiry than this is not handed out: a request may take this long.
const MARGIN: Duration = Duration::from_secs(30);
/// While Entra fails and a valid token remains, it is asked again this often.
const RETRY_EVERY: Duration = Duration::from_secs(10);

/// The last token issued for one set of scopes, and when Entra may be asked again.
struct Held {
    token: AccessToken,
    retry_at: Option<Instant>,
}

/// A credential that falls back to its last good token while Entra fails.
pub struct LastGoodToken {
    inner: Arc<dyn TokenCredential>,
    held: Mutex<HashMap<Vec<String>, Held>>,
}

impl LastGoodToken {
    pub fn new(inner: Arc<dyn TokenCredential>) -> Self {
        LastGoodToken {
            inner,
            held: Mutex::default(),
        }
    }

    /// The held token for `scopes` if it is still valid for more than [`MARGIN`]; with
    /// `only_while_waiting`, only while Entra is not to be asked again yet.
    fn valid(&self, scopes: &[String], only_while_waiting: bool) -> Option<AccessToken> {
        let held = self.held.lock().expect("poisoned");
        let held = held.get(scopes)?;
        let waiting = held.retry_at.is_some_and(|at| Instant::now() < at);
        let fresh = held.token.expires_on > OffsetDateTime::now_utc() + MARGIN;
        (fresh && (waiting || !only_while_waiting)).then(|| held.token.clone())
    }
}

impl std::fmt::Debug for LastGoodToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LastGoodToken").finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl TokenCredential for LastGoodToken {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let key: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        if let Some(token) = self.valid(&key, true) {
            return Ok(token);
        }
        match self.inner.get_token(scopes, options).await {
            Ok(token) => {
                let held = Held {
                    token: token.clone(),
                    retry_at: None,
                };
                self.held.lock().expect("poisoned").insert(key, held);
                Ok(token)
            }
            Err(err) => {
                let Some(token) = self.valid(&key, false) else {
                    return Err(err);
                };
                tracing::warn!(
                    error = %err,
                    expires_on = %token.expires_on,
                    "token renewal failed; using the current token while it is valid"
                );
                if let Some(held) = self.held.lock().expect("poisoned").get_mut(&key) {
                    held.retry_at = Some(Instant::now() + RETRY_EVERY);
                }
                Ok(token)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use azure_core::credentials::Secret;
    use azure_core::error::{Error, ErrorKind};

    use super::*;

    /// Issues tokens valid for `lifetime` while `up`, fails otherwise; counts calls.
    #[derive(Debug)]
    struct Entra {
        up: std::sync::atomic::AtomicBool,
        lifetime: Duration,
        calls: AtomicU32,
    }

    #[async_trait::async_trait]
    impl TokenCredential for Entra {
        async fn get_token(
            &self,
            _: &[&str],
            _: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            if self.up.load(Ordering::SeqCst) {
                let expires = OffsetDateTime::now_utc() + self.lifetime;
                Ok(AccessToken::new(Secret::new(format!("t{n}")), expires))
            } else {
                Err(Error::with_message(ErrorKind::Credential, "AADSTS90033"))
            }
        }
    }

    fn entra(lifetime: Duration) -> (Arc<Entra>, LastGoodToken) {
        let entra = Arc::new(Entra {
            up: true.into(),
            lifetime,
            calls: AtomicU32::new(0),
        });
        (entra.clone(), LastGoodToken::new(entra))
    }

    const SCOPES: &[&str] = &["https://vault.azure.net/.default"];

    #[tokio::test]
    async fn a_valid_token_carries_on_while_entra_fails_and_entra_is_asked_again_later() {
        let (entra, credential) = entra(Duration::from_secs(300));
        let first = credential.get_token(SCOPES, None).await.unwrap();
        entra.up.store(false, Ordering::SeqCst);
        let during = credential.get_token(SCOPES, None).await.unwrap();
        assert_eq!(during.token.secret(), first.token.secret());
        // Within RETRY_EVERY of the failure Entra is not asked again.
        credential.get_token(SCOPES, None).await.unwrap();
        assert_eq!(entra.calls.load(Ordering::SeqCst), 2);
        // Once Entra serves again, the next attempt renews.
        entra.up.store(true, Ordering::SeqCst);
        credential
            .held
            .lock()
            .unwrap()
            .values_mut()
            .for_each(|h| h.retry_at = None);
        let renewed = credential.get_token(SCOPES, None).await.unwrap();
        assert_eq!(renewed.token.secret(), "t2");
    }

    #[tokio::test]
    async fn without_a_valid_token_the_failure_is_returned() {
        // Valid for less than the margin: never handed out after a failure.
        let (entra_short, credential) = entra(Duration::from_secs(10));
        credential.get_token(SCOPES, None).await.unwrap();
        entra_short.up.store(false, Ordering::SeqCst);
        let failed = credential.get_token(SCOPES, None).await;
        assert!(failed.is_err());
        // Other scopes never borrow a token.
        let (entra, other) = entra(Duration::from_secs(300));
        other.get_token(SCOPES, None).await.unwrap();
        entra.up.store(false, Ordering::SeqCst);
        assert!(
            other
                .get_token(&["https://other/.default"], None)
                .await
                .is_err()
        );
    }
}
