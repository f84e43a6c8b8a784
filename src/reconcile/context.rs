//! What every reconcile shares: the clients, caches, schedule, settings and clock.

use std::sync::Arc;

use crate::telemetry::events::Events;

use super::Schedule;
use super::clock::{Clock, SystemClock};
use super::fairness::NamespaceSlots;
use super::identity::IdentityCache;
use super::secret_cache::SecretCache;
use crate::desired::content_key::ContentKey;
use crate::feed::{ChangeFeed, FeedOptions};
use crate::telemetry::Metrics;
use crate::vault::host::HostPolicy;
use crate::vault::shared::SharedVault;

/// Operator-wide settings the reconcilers need.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Tenant used when a ServiceAccount has no `azure.workload.identity/tenant-id`.
    pub default_tenant: Option<String>,
    /// The vault hosts resources may name.
    pub vault_hosts: HostPolicy,
    /// Longest a due sync may take before it is abandoned (and retried with backoff).
    pub reconcile_timeout: std::time::Duration,
    /// Reconciles of one namespace that may always run at once (its share).
    pub namespace_concurrency: usize,
    /// Reconciles of one kind run at once; a namespace may borrow idle ones beyond its share.
    pub concurrency: usize,
    /// The change feed's settings.
    pub feed: FeedOptions,
    /// The key content hashes are computed under.
    pub content_key: ContentKey,
}

/// Everything a reconcile needs, shared by all of them.
pub struct Context {
    /// API client.
    pub client: kube::Client,
    /// The shared, rate-limited vault.
    pub vault: SharedVault,
    /// The change feed: listings shared per (identity, vault), and wake-ups on change.
    pub feed: ChangeFeed,
    /// Cache of the Secrets vaultsync manages (label-selected; nothing else is cached), holding
    /// their metadata, key names and a content hash, never their values.
    pub secrets: SecretCache,
    /// Publishes Events.
    pub events: Events,
    /// Metrics.
    pub metrics: Metrics,
    /// Settings.
    pub settings: Settings,
    /// Per-object schedule and last writes.
    pub schedule: Arc<Schedule>,
    /// Where reconciles read the time.
    pub clock: Arc<dyn Clock>,
    /// Reconcile slots per namespace.
    pub slots: NamespaceSlots,
    /// ServiceAccount identities resolved in the last few seconds.
    pub identities: IdentityCache,
}

impl Context {
    /// A context reading the system's clocks.
    pub fn new(
        client: kube::Client,
        vault: SharedVault,
        secrets: SecretCache,
        events: Events,
        metrics: Metrics,
        settings: Settings,
    ) -> Self {
        let slots = NamespaceSlots::new(settings.namespace_concurrency, settings.concurrency);
        let feed = ChangeFeed::new(vault.clone(), settings.feed.clone(), metrics.clone());
        Context {
            client,
            feed,
            vault,
            secrets,
            events,
            metrics,
            settings,
            schedule: Arc::default(),
            clock: Arc::new(SystemClock),
            slots,
            identities: IdentityCache::default(),
        }
    }

    /// Reads the time from `clock` instead.
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        Context { clock, ..self }
    }
}
