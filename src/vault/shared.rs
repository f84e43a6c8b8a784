//! A [`VaultProvider`] wrapper that makes the vault cheap to use from many resources at once:
//! identical in-flight requests are made once, and every request to one vault passes that vault's
//! rate limiter, which also honours Retry-After. Keeping listings between requests is the change
//! feed's job (`crate::feed`).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use tokio::time::Instant;

use super::{
    CertificateBundle, CertificateProperties, Collection, KeyBundle, KeyProperties, Listed,
    PageGate, SecretBundle, SecretProperties, VaultAccess, VaultError, VaultProvider,
    compare_names,
};

/// Limits for [`SharedVault`].
#[derive(Clone, Debug)]
pub struct SharingOptions {
    /// Sustained requests per second to one vault (Azure allows 4,000 per 10 s per vault; the
    /// default leaves room for the vault's other clients).
    pub requests_per_second: f64,
    /// Burst allowance above the sustained rate.
    pub burst: f64,
    /// Pause applied after a 429 without a Retry-After hint.
    pub default_throttle_pause: Duration,
}

impl Default for SharingOptions {
    fn default() -> Self {
        SharingOptions {
            requests_per_second: 100.0,
            burst: 50.0,
            default_throttle_pause: Duration::from_secs(2),
        }
    }
}

/// One object read: its name (case-insensitive in Key Vault) and pinned version.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ObjectRead {
    access: VaultAccess,
    name: String,
    version: Option<String>,
}

impl ObjectRead {
    fn new(access: &VaultAccess, name: &str, version: Option<&str>) -> Self {
        ObjectRead {
            access: access.clone(),
            name: name.to_ascii_lowercase(),
            version: version.map(str::to_string),
        }
    }
}

/// Requests in flight of one kind, by what they ask; each answer type stays typed.
type InFlight<K, T> = Arc<Mutex<HashMap<K, Shared<BoxFuture<'static, Result<T, VaultError>>>>>>;

/// Receives (operation, outcome) for each request sent to a vault; used for metrics.
pub type Observer = Arc<dyn Fn(&'static str, &'static str) + Send + Sync>;

/// Longest a request waits for the vault's token bucket before the reconcile gives its worker
/// back and requeues: beyond it, demand exceeds the budget anyway.
const MAX_BUDGET_WAIT: Duration = Duration::from_secs(2);

/// What the limiter says to one request.
enum Permit {
    /// Send it now.
    Go,
    /// A token is free after this long.
    Wait(Duration),
    /// The vault asked for a pause (Retry-After) that ends after this long.
    Closed(Duration),
}

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
    secret_listings: InFlight<VaultAccess, Arc<Vec<SecretProperties>>>,
    certificate_listings: InFlight<VaultAccess, Arc<Vec<CertificateProperties>>>,
    key_listings: InFlight<VaultAccess, Arc<Vec<KeyProperties>>>,
    secret_reads: InFlight<ObjectRead, SecretBundle>,
    certificate_reads: InFlight<ObjectRead, CertificateBundle>,
    key_reads: InFlight<ObjectRead, KeyBundle>,
    limiters: Arc<Mutex<HashMap<String, Limiter>>>,
    observer: Option<Observer>,
}

/// A listing as the change feed keeps it until the next scan: sorted by name (see
/// [`compare_names`]) so each reconcile finds its objects by binary search (a walk of a 12,000
/// item listing per reconcile made 10,000 first syncs quadratic), and exactly sized (a listing is
/// gathered page by page and converted from the SDK's larger items, and either can leave spare
/// capacity behind for as long as the listing is kept).
fn kept<T: Listed>(mut listing: Vec<T>) -> Arc<Vec<T>> {
    listing.sort_by(|a, b| compare_names(a.name(), b.name()));
    listing.shrink_to_fit();
    Arc::new(listing)
}

impl SharedVault {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn VaultProvider>, options: SharingOptions) -> Self {
        SharedVault {
            inner,
            options,
            secret_listings: Arc::default(),
            certificate_listings: Arc::default(),
            key_listings: Arc::default(),
            secret_reads: Arc::default(),
            certificate_reads: Arc::default(),
            key_reads: Arc::default(),
            limiters: Arc::default(),
            observer: None,
        }
    }

    /// Lists the vault's secrets; concurrent listings by the same identity share one.
    pub async fn list_secrets(
        &self,
        access: &VaultAccess,
    ) -> Result<Arc<Vec<SecretProperties>>, VaultError> {
        let this = self.clone();
        let owned = access.clone();
        coalesce(&self.secret_listings, access.clone(), async move {
            let gate = this.page_gate(&owned, "ListSecrets");
            let call = this.inner.list_secrets(&owned, gate.as_ref());
            let listing = this
                .limited(&owned, Collection::Secrets, "ListSecrets", call)
                .await?;
            Ok(kept(listing))
        })
        .await
    }

    /// Lists the vault's certificates; concurrent listings by the same identity share one.
    pub async fn list_certificates(
        &self,
        access: &VaultAccess,
    ) -> Result<Arc<Vec<CertificateProperties>>, VaultError> {
        let this = self.clone();
        let owned = access.clone();
        coalesce(&self.certificate_listings, access.clone(), async move {
            let gate = this.page_gate(&owned, "ListCertificates");
            let call = this.inner.list_certificates(&owned, gate.as_ref());
            let listing = this
                .limited(&owned, Collection::Certificates, "ListCertificates", call)
                .await?;
            Ok(kept(listing))
        })
        .await
    }

    /// Lists the vault's keys; concurrent listings by the same identity share one.
    pub async fn list_keys(
        &self,
        access: &VaultAccess,
    ) -> Result<Arc<Vec<KeyProperties>>, VaultError> {
        let this = self.clone();
        let owned = access.clone();
        coalesce(&self.key_listings, access.clone(), async move {
            let gate = this.page_gate(&owned, "ListKeys");
            let call = this.inner.list_keys(&owned, gate.as_ref());
            let listing = this
                .limited(&owned, Collection::Keys, "ListKeys", call)
                .await?;
            Ok(kept(listing))
        })
        .await
    }

    /// The sustained request budget per vault.
    pub fn requests_per_second(&self) -> f64 {
        self.options.requests_per_second
    }

    /// Calls `observer(operation, outcome)` after every request that reaches the vault.
    pub fn with_observer(mut self, observer: Observer) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Reads a secret; concurrent identical reads share one request.
    pub async fn get_secret(
        &self,
        access: &VaultAccess,
        name: &str,
        version: Option<&str>,
    ) -> Result<SecretBundle, VaultError> {
        let read = ObjectRead::new(access, name, version);
        let this = self.clone();
        let owned = read.clone();
        let (name, version) = (name.to_string(), version.map(str::to_string));
        coalesce(&self.secret_reads, read, async move {
            let call = this
                .inner
                .get_secret(&owned.access, &name, version.as_deref());
            this.limited(&owned.access, Collection::Secrets, "GetSecret", call)
                .await
        })
        .await
    }

    /// Reads a certificate; concurrent identical reads share one request.
    pub async fn get_certificate(
        &self,
        access: &VaultAccess,
        name: &str,
        version: Option<&str>,
    ) -> Result<CertificateBundle, VaultError> {
        let read = ObjectRead::new(access, name, version);
        let this = self.clone();
        let owned = read.clone();
        let (name, version) = (name.to_string(), version.map(str::to_string));
        coalesce(&self.certificate_reads, read, async move {
            let call = this
                .inner
                .get_certificate(&owned.access, &name, version.as_deref());
            this.limited(
                &owned.access,
                Collection::Certificates,
                "GetCertificate",
                call,
            )
            .await
        })
        .await
    }

    /// Reads a key's public part; concurrent identical reads share one request.
    pub async fn get_key(
        &self,
        access: &VaultAccess,
        name: &str,
        version: Option<&str>,
    ) -> Result<KeyBundle, VaultError> {
        let read = ObjectRead::new(access, name, version);
        let this = self.clone();
        let owned = read.clone();
        let (name, version) = (name.to_string(), version.map(str::to_string));
        coalesce(&self.key_reads, read, async move {
            let call = this.inner.get_key(&owned.access, &name, version.as_deref());
            this.limited(&owned.access, Collection::Keys, "GetKey", call)
                .await
        })
        .await
    }

    /// Lets each page of a listing after the first through the vault's limiter, waiting for a
    /// token as long as it takes: a listing is one operation whose pages share its worker, and
    /// sending them unchecked would let one listing of a large vault burst past the budget. A
    /// vault's Retry-After pause ends the listing as throttled.
    fn page_gate(&self, access: &VaultAccess, operation: &'static str) -> Arc<PageGate> {
        let this = self.clone();
        let vault = access.vault_url.to_ascii_lowercase();
        Arc::new(move || {
            let this = this.clone();
            let vault = vault.clone();
            Box::pin(async move {
                this.token(&vault, None).await?;
                if let Some(observer) = &this.observer {
                    observer(operation, "success");
                }
                Ok(())
            })
        })
    }

    /// Takes a token from `vault`'s bucket, waiting for one at most `patience` (without limit
    /// when `None`). A vault's Retry-After pause is `Throttled`: the caller requeues rather than
    /// holding a reconcile worker asleep; a longer wait than `patience` is `OverBudget`.
    async fn token(&self, vault: &str, patience: Option<Duration>) -> Result<(), VaultError> {
        let mut waited = Duration::ZERO;
        loop {
            match self.reserve(vault) {
                Permit::Go => return Ok(()),
                Permit::Closed(remaining) => {
                    return Err(VaultError::Throttled {
                        retry_after: Some(remaining),
                    });
                }
                Permit::Wait(wait) if patience.is_some_and(|p| waited + wait > p) => {
                    return Err(VaultError::OverBudget {
                        retry_after: wait.max(Duration::from_secs(1)),
                    });
                }
                Permit::Wait(wait) => {
                    tokio::time::sleep(wait).await;
                    waited += wait;
                }
            }
        }
    }

    /// Waits for the vault's limiter, runs `call`, and closes the limiter on throttling.
    async fn limited<T>(
        &self,
        access: &VaultAccess,
        collection: Collection,
        operation: &'static str,
        call: impl Future<Output = Result<T, VaultError>>,
    ) -> Result<T, VaultError> {
        let vault = access.vault_url.to_ascii_lowercase();
        self.token(&vault, Some(MAX_BUDGET_WAIT)).await?;
        // A client that has not met the vault's challenge sends the request twice.
        if self.inner.challenge_pending(access, collection) {
            self.token(&vault, Some(MAX_BUDGET_WAIT)).await?;
        }
        let result = call.await;
        if let Some(observer) = &self.observer {
            let outcome = result
                .as_ref()
                .err()
                .map_or("success", |e| e.kind().label());
            observer(operation, outcome);
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

    /// Takes a token if one is available now; otherwise says how long to wait, or that the
    /// vault is paused.
    fn reserve(&self, vault: &str) -> Permit {
        let now = Instant::now();
        let mut limiters = self.limiters.lock().expect("poisoned");
        let limiter = limiters.entry(vault.to_string()).or_insert(Limiter {
            tokens: self.options.burst,
            refilled: now,
            closed_until: None,
        });
        if let Some(until) = limiter.closed_until {
            if until > now {
                return Permit::Closed(until - now);
            }
            limiter.closed_until = None;
        }
        let elapsed = now.duration_since(limiter.refilled).as_secs_f64();
        limiter.tokens =
            (limiter.tokens + elapsed * self.options.requests_per_second).min(self.options.burst);
        limiter.refilled = now;
        if limiter.tokens >= 1.0 {
            limiter.tokens -= 1.0;
            Permit::Go
        } else {
            let wait = (1.0 - limiter.tokens) / self.options.requests_per_second;
            Permit::Wait(Duration::from_secs_f64(wait))
        }
    }
}

/// Runs `work` unless an identical request is in flight, in which case its answer is shared.
async fn coalesce<K, T>(
    in_flight: &InFlight<K, T>,
    key: K,
    work: impl Future<Output = Result<T, VaultError>> + Send + 'static,
) -> Result<T, VaultError>
where
    K: Clone + Eq + std::hash::Hash,
    T: Clone + Send + Sync + 'static,
{
    let shared = {
        let mut requests = in_flight.lock().expect("poisoned");
        requests
            .entry(key.clone())
            .or_insert_with(|| work.boxed().shared())
            .clone()
    };
    let answer = shared.clone().await;
    let mut requests = in_flight.lock().expect("poisoned");
    if requests.get(&key).is_some_and(|f| f.ptr_eq(&shared)) {
        requests.remove(&key);
    }
    answer
}

#[cfg(test)]
mod tests;
