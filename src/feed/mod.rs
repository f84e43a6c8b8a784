//! The vault change feed. One scanner per (identity, vault) pages the vault's listings once per
//! scan period — the shortest refresh interval among the resources that use it — and wakes only
//! the resources whose sources changed; their reconciles read values only for what changed.
//! Pushed events (Event Grid) wake the followers of one object at once, each to re-read through
//! its own identity.
//!
//! A listing made with one identity never serves another: Azure RBAC differs per identity.
//! A listing is only made when it costs less than reading each followed object (or a bulk
//! selector needs it); otherwise resources read their objects at their own refresh times.
//! Scanners come with the first resource that follows something in a vault through an identity
//! and go with the last; each holds one listing per object type (secrets, certificates, keys).

mod catalogue;
mod demand;
mod diff;
mod followers;
mod interest;
mod push;
mod scanner;
mod shelf;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

pub use interest::{Follow, Interest};
pub use push::{PushedChange, vault_name};
pub use shelf::Listing;

use crate::reconcile::ObjectKey;
use crate::telemetry::Metrics;
use crate::vault::shared::SharedVault;
use crate::vault::{
    CertificateProperties, KeyProperties, SecretProperties, VaultAccess, VaultError,
};
use catalogue::Catalogue;
use scanner::Scanner;

/// Wakes one resource's controller.
pub type Wake = Arc<dyn Fn(&ObjectKey) + Send + Sync>;

/// Secret, certificate or key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectType {
    /// A Key Vault secret.
    Secret,
    /// A Key Vault certificate.
    Certificate,
    /// A Key Vault key.
    Key,
}

/// How old a listing asked for with [`Need::Fresh`] may be: listings made within it are shared
/// by every reconcile that asks at once (a storm of new resources lists once, not each).
const FRESH: Duration = Duration::from_secs(5);

/// What a reconcile needs from a listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Only if listing costs less than reading each followed object.
    IfCheaper,
    /// Always (a bulk selector), the scanner's if recent.
    Required,
    /// Always, made within the last few seconds: a new or changed bulk selector, or a force
    /// refresh, must see what the vault holds now, not what it held a scan period ago.
    Fresh,
}

/// Settings of the feed.
#[derive(Clone, Debug)]
pub struct FeedOptions {
    /// How much longer the scan period is while push is healthy (1: no change).
    pub push_stretch: u32,
}

impl Default for FeedOptions {
    fn default() -> Self {
        FeedOptions { push_stretch: 10 }
    }
}

/// The change feed shared by every reconcile. Cheap to clone.
#[derive(Clone)]
pub struct ChangeFeed {
    inner: Arc<Inner>,
}

struct Inner {
    vault: SharedVault,
    metrics: Metrics,
    options: FeedOptions,
    state: Mutex<State>,
    wake: OnceLock<Wake>,
}

#[derive(Default)]
struct State {
    scanners: HashMap<VaultAccess, Scanner>,
    /// Which scanner each following resource is registered with; keys shared with the scanner.
    followers: HashMap<Arc<ObjectKey>, Arc<VaultAccess>>,
    /// Resources woken by a change and not yet reconciled.
    woken: HashSet<ObjectKey>,
    /// Whether push delivers events (then polling slows down).
    push_healthy: bool,
    /// Refresh demand over budget per vault (lowercased URL), and when it was computed.
    overruns: Option<(Instant, Arc<HashMap<String, f64>>)>,
}

impl ChangeFeed {
    /// A feed reading through `vault`, reporting to `metrics`.
    pub fn new(vault: SharedVault, options: FeedOptions, metrics: Metrics) -> Self {
        ChangeFeed {
            inner: Arc::new(Inner {
                vault,
                metrics,
                options,
                state: Mutex::default(),
                wake: OnceLock::new(),
            }),
        }
    }

    /// Sets how resources are woken (once; the controllers exist after the context does).
    pub fn set_wake(&self, wake: Wake) {
        let _ = self.inner.wake.set(wake);
    }

    /// Registers what `key` follows through `access`, replacing what it followed before (in
    /// this vault or another). Following nothing (everything pinned) unregisters it.
    pub fn follow(&self, key: &ObjectKey, access: &VaultAccess, interest: Interest) {
        let mut state = self.inner.lock();
        let (shared_key, before) = match state.followers.remove_entry(key) {
            Some((shared_key, before)) => (shared_key, Some(before)),
            None => (Arc::new(key.clone()), None),
        };
        if let Some(before) = before
            && *before != *access
        {
            state.unfollow(key, &before);
        }
        if interest.is_empty() {
            state.unfollow(key, access);
            let count = state.scanners.len();
            drop(state);
            self.inner.metrics.set_vault_scanners(count);
            return;
        }
        let scanner = state
            .scanners
            .entry(access.clone())
            .or_insert_with(|| Scanner::start(Arc::downgrade(&self.inner), access.clone()));
        scanner.followers.insert(shared_key.clone(), interest);
        // Key and access shared with the scanner: a copy of each per follower cost hundreds of
        // bytes.
        let shared_access = scanner.access.clone();
        state.followers.insert(shared_key, shared_access);
        let count = state.scanners.len();
        drop(state);
        self.inner.metrics.set_vault_scanners(count);
    }

    /// Forgets a deleted resource; its scanner goes with its last follower. With the uid the
    /// resource was followed under this is one lookup; without it, every follower is looked at
    /// (deleting 10,000 resources one by one would look 10,000 times at 10,000 followers).
    pub fn forget(&self, kind: &'static str, namespace: &str, name: &str, uid: Option<&str>) {
        let mut state = self.inner.lock();
        let gone: Vec<Arc<ObjectKey>> = match uid {
            Some(uid) => {
                let key = ObjectKey {
                    kind,
                    namespace: namespace.to_string(),
                    name: name.to_string(),
                    uid: uid.to_string(),
                };
                state.woken.remove(&key);
                state
                    .followers
                    .get_key_value(&key)
                    .map(|(key, _)| key.clone())
                    .into_iter()
                    .collect()
            }
            None => state
                .followers
                .keys()
                .filter(|k| k.kind == kind && k.namespace == namespace && k.name == name)
                .cloned()
                .collect(),
        };
        for key in gone {
            if let Some(access) = state.followers.remove(&*key) {
                state.unfollow(&key, &access);
            }
            state.woken.remove(&*key);
        }
        let count = state.scanners.len();
        drop(state);
        self.inner.metrics.set_vault_scanners(count);
    }

    /// Whether `key` was woken by a change since its last reconcile (and clears that).
    pub fn take_woken(&self, key: &ObjectKey) -> bool {
        self.inner.lock().woken.remove(key)
    }

    /// Marks `key` woken again: its reconcile was deferred before it could act on the change.
    pub fn keep_woken(&self, key: &ObjectKey) {
        self.inner.lock().woken.insert(key.clone());
    }

    /// Scanners running.
    pub fn scanner_count(&self) -> usize {
        self.inner.lock().scanners.len()
    }

    /// The secret listing for `access`: the scanner's when recent, else a new one when `need`
    /// requires one (bulk selection) or it is cheaper than reading each followed secret; `None`
    /// when reading the followed secrets one by one costs less.
    pub async fn secrets(
        &self,
        access: &VaultAccess,
        need: Need,
    ) -> Result<Option<Listing<SecretProperties>>, VaultError> {
        self.listing::<SecretProperties>(access, need).await
    }

    /// The certificate listing for `access`, by the same rule as [`Self::secrets`].
    pub async fn certificates(
        &self,
        access: &VaultAccess,
        need: Need,
    ) -> Result<Option<Listing<CertificateProperties>>, VaultError> {
        self.listing::<CertificateProperties>(access, need).await
    }

    /// The key listing for `access`, by the same rule as [`Self::secrets`].
    pub async fn keys(
        &self,
        access: &VaultAccess,
        need: Need,
    ) -> Result<Option<Listing<KeyProperties>>, VaultError> {
        self.listing::<KeyProperties>(access, need).await
    }

    async fn listing<T: Catalogue>(
        &self,
        access: &VaultAccess,
        need: Need,
    ) -> Result<Option<Listing<T>>, VaultError> {
        let required = need != Need::IfCheaper;
        let worthwhile = {
            let state = self.inner.lock();
            match state.scanners.get(access) {
                Some(scanner) => {
                    let period = self.inner.period(&state, scanner);
                    let max_age = match need {
                        Need::Fresh => FRESH.min(usable_age(period)),
                        Need::IfCheaper | Need::Required => usable_age(period),
                    };
                    if let Some(listing) = T::shelf(scanner).usable(max_age) {
                        return Ok(Some(listing));
                    }
                    required || scanner.worthwhile::<T>()
                }
                None => required,
            }
        };
        if !worthwhile {
            return Ok(None);
        }
        match self.inner.list::<T>(access).await {
            Ok(listing) => Ok(Some(listing)),
            // An identity may read objects without the right to list them (an access policy
            // with get but not list): where the listing is only an optimisation, read each
            // object instead, and stop asking for a while.
            Err(VaultError::Forbidden { .. }) if !required => {
                self.inner.listing_forbidden(access, T::TYPE);
                Ok(None)
            }
            Err(err) => Err(err),
        }
    }

    /// How many times the refresh demand on `vault_url` exceeds its request budget, when it
    /// does: refreshes then stretch by that factor. Recomputed at most every few seconds.
    pub fn overrun(&self, vault_url: &str) -> Option<f64> {
        let overruns = self.inner.overruns();
        overruns.get(&vault_key(vault_url)).copied()
    }
}

/// How long an identity refused a listing reads object by object before listing is tried again.
const LISTING_FORBIDDEN_FOR: Duration = Duration::from_secs(600);

/// How often the demand on each vault is recomputed.
const DEMAND_RECOMPUTED_EVERY: Duration = Duration::from_secs(5);

impl Inner {
    /// Notes that `access` may not list objects of `object_type`.
    fn listing_forbidden(&self, access: &VaultAccess, object_type: ObjectType) {
        if let Some(scanner) = self.lock().scanners.get_mut(access) {
            let until = Instant::now() + LISTING_FORBIDDEN_FOR;
            scanner.unlisted_until.insert(object_type, until);
        }
    }

    /// Demand over budget per vault, recomputed when older than [`DEMAND_RECOMPUTED_EVERY`].
    fn overruns(&self) -> Arc<HashMap<String, f64>> {
        let mut state = self.lock();
        if let Some((at, overruns)) = &state.overruns
            && at.elapsed() < DEMAND_RECOMPUTED_EVERY
        {
            return overruns.clone();
        }
        let budget = self.vault.requests_per_second();
        let demand = demand::by_vault(
            state
                .scanners
                .iter()
                .map(|(access, scanner)| (access, scanner, self.period(&state, scanner))),
        );
        let highest =
            demand.values().fold(0.0_f64, |a, b| a.max(*b)) / budget.max(f64::MIN_POSITIVE);
        self.metrics.set_vault_demand_ratio(highest);
        let overruns: HashMap<String, f64> = demand
            .into_iter()
            .filter_map(|(vault, d)| demand::overrun(d, budget).map(|r| (vault, r)))
            .collect();
        let overruns = Arc::new(overruns);
        state.overruns = Some((Instant::now(), overruns.clone()));
        overruns
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The scan period of `scanner`: its followers' shortest interval, stretched while push is
    /// healthy.
    fn period(&self, state: &State, scanner: &Scanner) -> Duration {
        let base = scanner.shortest_interval();
        if state.push_healthy {
            base.saturating_mul(self.options.push_stretch.max(1))
        } else {
            base
        }
    }

    /// Lists `T` through `access`, keeps the listing and wakes the followers of what changed
    /// (all of them when the scans before had failed).
    async fn list<T: Catalogue>(&self, access: &VaultAccess) -> Result<Listing<T>, VaultError> {
        let started = Instant::now();
        let items = T::list(&self.vault, access).await;
        let object = match T::TYPE {
            ObjectType::Secret => "*",
            ObjectType::Certificate => "certificate/*",
            ObjectType::Key => "key/*",
        };
        crate::reconcile::steps::audit(access, object, None, items.as_ref().err());
        let items = items?;
        let (listing, woken) = {
            let mut state = self.lock();
            let Some(scanner) = state.scanners.get_mut(access) else {
                return Ok(Listing::plain(items));
            };
            // The vault is back after failed scans: every follower may be waiting out a long
            // failure backoff, though nothing changed for most of them. Wake them all once, so
            // that all recover within a scan period of the vault's return.
            let recovered = scanner.failed_at.take().is_some();
            scanner.failed_scans = 0;
            let changed = T::shelf_mut(scanner).store(started, items.clone());
            let woken = if recovered {
                scanner.followers.keys().cloned().collect()
            } else {
                changed
                    .map(|names| scanner.followers_of::<T>(&names))
                    .unwrap_or_default()
            };
            let listing = T::shelf(scanner)
                .usable(Duration::MAX)
                .unwrap_or_else(|| Listing::plain(items));
            state.woken.extend(woken.iter().cloned());
            (listing, woken)
        };
        self.wake_all("scan", &woken);
        Ok(listing)
    }

    fn wake_all(&self, source: &'static str, keys: &[ObjectKey]) {
        if !keys.is_empty() {
            self.metrics.change_wakeups(source, keys.len());
        }
        if let Some(wake) = self.wake.get() {
            for key in keys {
                wake(key);
            }
        }
    }
}

impl State {
    /// Removes `key` from the scanner of `access`, and the scanner when it was the last.
    fn unfollow(&mut self, key: &ObjectKey, access: &VaultAccess) {
        if let Some(scanner) = self.scanners.get_mut(access) {
            scanner.followers.remove(key);
            if scanner.followers.is_empty() {
                self.scanners.remove(access);
            }
        }
    }
}

/// How old a listing may be and still serve a reconcile: the scanner renews it every period, so
/// one older than that by half a period means the scanner could not.
fn usable_age(period: Duration) -> Duration {
    period + period / 2
}

/// A vault URL as a map key: lowercased, without the trailing slash.
fn vault_key(vault_url: &str) -> String {
    vault_url.trim_end_matches('/').to_ascii_lowercase()
}
