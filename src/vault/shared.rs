//! A [`VaultProvider`] wrapper that makes the vault cheap to use from many resources at once:
//! identical in-flight reads are made once, a listing is shared for a short window, and every
//! request to one vault passes that vault's rate limiter, which also honours Retry-After.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

use super::{
    CertificateBundle, SecretBundle, SecretProperties, VaultAccess, VaultError, VaultProvider,
};

/// Limits for [`SharedVault`].
#[derive(Clone, Debug)]
pub struct SharingOptions {
    /// Sustained requests per second to one vault (Azure allows 4,000 per 10 s per vault; the
    /// default leaves room for the vault's other clients).
    pub requests_per_second: f64,
    /// Burst allowance above the sustained rate.
    pub burst: f64,
    /// How long one listing of a vault serves every resource of the same identity.
    pub listing_ttl: Duration,
    /// Pause applied after a 429 without a Retry-After hint.
    pub default_throttle_pause: Duration,
}

impl Default for SharingOptions {
    fn default() -> Self {
        SharingOptions {
            requests_per_second: 100.0,
            burst: 50.0,
            listing_ttl: Duration::from_secs(5),
            default_throttle_pause: Duration::from_secs(2),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Request {
    List,
    Secret(String, Option<String>),
    Certificate(String, Option<String>),
}

#[derive(Clone)]
enum Answer {
    List(Result<Arc<Vec<SecretProperties>>, VaultError>),
    Secret(Result<SecretBundle, VaultError>),
    Certificate(Result<CertificateBundle, VaultError>),
}

/// A listing and when it was made.
type CachedListing = (Instant, Arc<Vec<SecretProperties>>);

type InFlight = Shared<BoxFuture<'static, Answer>>;

/// Receives (operation, outcome) for each request sent to a vault; used for metrics.
pub type Observer = Arc<dyn Fn(&'static str, &'static str) + Send + Sync>;

/// Token bucket plus a "closed until" instant set by throttling answers.
struct Limiter {
    tokens: f64,
    refilled: Instant,
    closed_until: Option<Instant>,
}

/// The sharing, coalescing, rate-limited vault. Cheap to clone.
#[derive(Clone)]
pub struct SharedVault {
    inner: Arc<dyn VaultProvider>,
    options: SharingOptions,
    in_flight: Arc<Mutex<HashMap<(VaultAccess, Request), InFlight>>>,
    listings: Arc<Mutex<HashMap<VaultAccess, CachedListing>>>,
    limiters: Arc<Mutex<HashMap<String, Limiter>>>,
    observer: Option<Observer>,
}

impl SharedVault {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn VaultProvider>, options: SharingOptions) -> Self {
        SharedVault {
            inner,
            options,
            in_flight: Arc::default(),
            listings: Arc::default(),
            limiters: Arc::default(),
            observer: None,
        }
    }

    /// Lists the vault's secrets, reusing a listing made by the same identity within the TTL.
    pub async fn list_secrets(
        &self,
        access: &VaultAccess,
    ) -> Result<Arc<Vec<SecretProperties>>, VaultError> {
        if let Some((at, listing)) = self.listings.lock().expect("poisoned").get(access)
            && at.elapsed() < self.options.listing_ttl
        {
            return Ok(listing.clone());
        }
        let this = self.clone();
        let owned = access.clone();
        let answer = self
            .coalesce(access, Request::List, async move {
                let result = this
                    .limited(&owned, "ListSecrets", this.inner.list_secrets(&owned))
                    .await;
                Answer::List(result.map(Arc::new))
            })
            .await;
        let Answer::List(result) = answer else {
            unreachable!("list request, list answer")
        };
        if let Ok(listing) = &result {
            self.listings
                .lock()
                .expect("poisoned")
                .insert(access.clone(), (Instant::now(), listing.clone()));
        }
        result
    }

    /// Whether a listing by this identity is fresh enough to reuse (free to consult).
    pub fn has_fresh_listing(&self, access: &VaultAccess) -> bool {
        self.listings
            .lock()
            .expect("poisoned")
            .get(access)
            .is_some_and(|(at, _)| at.elapsed() < self.options.listing_ttl)
    }

    /// Calls `observer(operation, outcome)` after every request that reaches the vault.
    pub fn with_observer(mut self, observer: Observer) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Forgets the cached listing so the next read sees the vault's current state.
    pub fn invalidate_listing(&self, access: &VaultAccess) {
        self.listings.lock().expect("poisoned").remove(access);
    }

    /// Reads a secret; concurrent identical reads share one request.
    pub async fn get_secret(
        &self,
        access: &VaultAccess,
        name: &str,
        version: Option<&str>,
    ) -> Result<SecretBundle, VaultError> {
        let key = Request::Secret(name.to_ascii_lowercase(), version.map(str::to_string));
        let (this, owned, name, version) = (
            self.clone(),
            access.clone(),
            name.to_string(),
            version.map(str::to_string),
        );
        let answer = self
            .coalesce(access, key, async move {
                let call = this.inner.get_secret(&owned, &name, version.as_deref());
                Answer::Secret(this.limited(&owned, "GetSecret", call).await)
            })
            .await;
        let Answer::Secret(result) = answer else {
            unreachable!("secret request, secret answer")
        };
        result
    }

    /// Reads a certificate; concurrent identical reads share one request.
    pub async fn get_certificate(
        &self,
        access: &VaultAccess,
        name: &str,
        version: Option<&str>,
    ) -> Result<CertificateBundle, VaultError> {
        let key = Request::Certificate(name.to_ascii_lowercase(), version.map(str::to_string));
        let (this, owned, name, version) = (
            self.clone(),
            access.clone(),
            name.to_string(),
            version.map(str::to_string),
        );
        let answer = self
            .coalesce(access, key, async move {
                let call = this
                    .inner
                    .get_certificate(&owned, &name, version.as_deref());
                Answer::Certificate(this.limited(&owned, "GetCertificate", call).await)
            })
            .await;
        let Answer::Certificate(result) = answer else {
            unreachable!("certificate request, certificate answer")
        };
        result
    }

    async fn coalesce(
        &self,
        access: &VaultAccess,
        request: Request,
        work: impl Future<Output = Answer> + Send + 'static,
    ) -> Answer {
        let key = (access.clone(), request);
        let shared = {
            let mut in_flight = self.in_flight.lock().expect("poisoned");
            match in_flight.get(&key) {
                Some(existing) => existing.clone(),
                None => {
                    let fresh = work.boxed().shared();
                    in_flight.insert(key.clone(), fresh.clone());
                    fresh
                }
            }
        };
        let answer = shared.clone().await;
        let mut in_flight = self.in_flight.lock().expect("poisoned");
        if in_flight.get(&key).is_some_and(|f| f.ptr_eq(&shared)) {
            in_flight.remove(&key);
        }
        answer
    }

    /// Waits for the vault's limiter, runs `call`, and closes the limiter on throttling.
    async fn limited<T>(
        &self,
        access: &VaultAccess,
        operation: &'static str,
        call: BoxFuture<'_, Result<T, VaultError>>,
    ) -> Result<T, VaultError> {
        let vault = access.vault_url.to_ascii_lowercase();
        loop {
            let wait = self.reserve(&vault);
            if wait.is_zero() {
                break;
            }
            tokio::time::sleep(wait).await;
        }
        let result = call.await;
        if let Some(observer) = &self.observer {
            observer(operation, outcome_label(&result));
        }
        if let Err(VaultError::Throttled { retry_after }) = &result {
            let pause = retry_after
                .unwrap_or(self.options.default_throttle_pause)
                .min(Duration::from_secs(300));
            let mut limiters = self.limiters.lock().expect("poisoned");
            if let Some(limiter) = limiters.get_mut(&vault) {
                limiter.closed_until = Instant::now().checked_add(pause);
            }
        }
        result
    }

    /// Takes a token if one is available now; otherwise returns how long to wait.
    fn reserve(&self, vault: &str) -> Duration {
        let now = Instant::now();
        let mut limiters = self.limiters.lock().expect("poisoned");
        let limiter = limiters.entry(vault.to_string()).or_insert(Limiter {
            tokens: self.options.burst,
            refilled: now,
            closed_until: None,
        });
        if let Some(until) = limiter.closed_until {
            if until > now {
                return until - now;
            }
            limiter.closed_until = None;
        }
        let elapsed = now.duration_since(limiter.refilled).as_secs_f64();
        limiter.tokens =
            (limiter.tokens + elapsed * self.options.requests_per_second).min(self.options.burst);
        limiter.refilled = now;
        if limiter.tokens >= 1.0 {
            limiter.tokens -= 1.0;
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - limiter.tokens) / self.options.requests_per_second)
        }
    }
}

fn outcome_label<T>(result: &Result<T, VaultError>) -> &'static str {
    match result {
        Ok(_) => "success",
        Err(VaultError::NotFound { .. }) => "not_found",
        Err(VaultError::Disabled { .. }) => "disabled",
        Err(VaultError::Forbidden { .. }) => "forbidden",
        Err(VaultError::Authentication { .. }) => "authentication_failed",
        Err(VaultError::Throttled { .. }) => "throttled",
        Err(VaultError::Unavailable { .. }) => "unavailable",
        Err(VaultError::Invalid { .. }) => "invalid",
    }
}
