//! Prometheus metrics of the operator, encoded as OpenMetrics text.
//!
//! Metrics live in a private [`Registry`] owned by [`Metrics`] rather than a process-global one,
//! so tests can build independent instances and the HTTP server encodes exactly what the
//! controller records.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Outcome label of one reconcile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReconcileOutcome<'a> {
    /// The object was brought in sync.
    Success,
    /// The reconcile failed; `reason` should be a short, stable code (it becomes a label value,
    /// so free-form error text would explode series cardinality).
    Failure {
        /// Short machine-readable failure reason, e.g. `"vault_forbidden"`.
        reason: &'a str,
    },
}

/// Reconcile duration buckets: from cache-only no-ops (milliseconds) up to slow vault round trips.
const DURATION_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)] // Variant names are the exported label values.
enum ResultLabel {
    success,
    error,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileLabels {
    kind: String,
    result: ResultLabel,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VaultLabels {
    operation: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ObjectLabels {
    kind: String,
    namespace: String,
    name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CertLabels {
    namespace: String,
    name: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

struct Inner {
    registry: Registry,
    reconciles: Family<ReconcileLabels, Counter>,
    reconcile_duration: HistogramFamily<KindLabels>,
    vault_requests: Family<VaultLabels, Counter>,
    managed_secrets: Family<KindLabels, Gauge>,
    last_sync: Family<ObjectLabels, Gauge>,
    since_last_sync: Family<ObjectLabels, Gauge>,
    cert_expiry: Family<CertLabels, Gauge>,
    leader: Gauge,
    insecure: Gauge,
    /// Source of truth for `since_last_sync` (families cannot be iterated); its lock also keeps
    /// the two per-object sync families consistent with each other.
    sync_times: Mutex<HashMap<ObjectLabels, i64>>,
}

/// A metric's name, help text and unit metadata.
struct Description {
    name: &'static str,
    help: &'static str,
    unit: Option<Unit>,
}

// Encoding appends `_total` to counters, so the registered name omits it.
const RECONCILES: Description = Description {
    name: "vaultsync_reconciles",
    help: "Reconciles finished, by kind, result and failure reason",
    unit: None,
};

const RECONCILE_DURATION: Description = Description {
    name: "vaultsync_reconcile_duration",
    help: "Wall-clock duration of one reconcile",
    unit: Some(Unit::Seconds),
};

const VAULT_REQUESTS: Description = Description {
    name: "vaultsync_vault_requests",
    help: "Requests to Azure Key Vault, by operation and outcome",
    unit: None,
};

const MANAGED_SECRETS: Description = Description {
    name: "vaultsync_managed_secrets",
    help: "Kubernetes Secrets currently managed, by source kind",
    unit: None,
};

const LAST_SYNC: Description = Description {
    name: "vaultsync_last_sync_timestamp",
    help: "Unix time of the last successful sync of an object",
    unit: Some(Unit::Seconds),
};

// Registered without unit metadata: OpenMetrics would then demand a `_seconds` suffix, and the
// name the issue asks for puts the unit first.
const SINCE_LAST_SYNC: Description = Description {
    name: "vaultsync_seconds_since_last_sync",
    help: "Seconds elapsed since the last successful sync of an object, computed at scrape time",
    unit: None,
};

const CERT_EXPIRY: Description = Description {
    name: "vaultsync_certificate_expiry_timestamp",
    help: "Unix time at which a synced certificate stops being valid (notAfter)",
    unit: Some(Unit::Seconds),
};

const LEADER: Description = Description {
    name: "vaultsync_leader",
    help: "1 while this process may reconcile (it holds the leader-election Lease, or leader \
             election is off), 0 otherwise",
    unit: None,
};

const INSECURE: Description = Description {
    name: "vaultsync_insecure_challenge_verification_disabled",
    help: "1 when Key Vault challenge-resource verification is turned off (emulators only)",
    unit: None,
};

/// Registers `metric` as `description` says and returns it.
fn register<M>(registry: &mut Registry, description: &Description, metric: M) -> M
where
    M: prometheus_client::registry::Metric + Clone,
{
    let Description { name, help, unit } = description;
    match unit {
        Some(unit) => registry.register_with_unit(*name, *help, unit.clone(), metric.clone()),
        None => registry.register(*name, *help, metric.clone()),
    }
    metric
}

/// The operator's metrics; cheap to clone (shared state behind an `Arc`).
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Creates a fresh registry with every vaultsync metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let r = &mut registry;
        let reconciles = register(r, &RECONCILES, Family::default());
        let reconcile_duration = register(
            r,
            &RECONCILE_DURATION,
            HistogramFamily::new_with_constructor(|| Histogram::new(DURATION_BUCKETS)),
        );
        let vault_requests = register(r, &VAULT_REQUESTS, Family::default());
        let managed_secrets = register(r, &MANAGED_SECRETS, Family::default());
        let last_sync = register(r, &LAST_SYNC, Family::default());
        let since_last_sync = register(r, &SINCE_LAST_SYNC, Family::default());
        let cert_expiry = register(r, &CERT_EXPIRY, Family::default());
        let leader = register(r, &LEADER, Gauge::default());
        let insecure = register(r, &INSECURE, Gauge::default());
        Self {
            inner: Arc::new(Inner {
                registry,
                reconciles,
                reconcile_duration,
                vault_requests,
                managed_secrets,
                last_sync,
                since_last_sync,
                cert_expiry,
                leader,
                insecure,
                sync_times: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Records one finished reconcile of an object of `kind`: bumps
    /// `vaultsync_reconciles_total{kind,result,reason}` and observes
    /// `vaultsync_reconcile_duration_seconds{kind}`.
    pub fn reconcile_finished(
        &self,
        kind: &str,
        outcome: ReconcileOutcome<'_>,
        duration: Duration,
    ) {
        let (result, reason) = match outcome {
            ReconcileOutcome::Success => (ResultLabel::success, ""),
            ReconcileOutcome::Failure { reason } => (ResultLabel::error, reason),
        };
        let labels = ReconcileLabels {
            kind: kind.to_owned(),
            result,
            reason: reason.to_owned(),
        };
        self.inner.reconciles.get_or_create(&labels).inc();
        let kind = KindLabels {
            kind: kind.to_owned(),
        };
        let histogram = self.inner.reconcile_duration.get_or_create(&kind);
        histogram.observe(duration.as_secs_f64());
    }

    /// Counts one Key Vault request in `vaultsync_vault_requests_total{operation,outcome}`.
    pub fn vault_request(&self, operation: &str, outcome: &str) {
        let labels = VaultLabels {
            operation: operation.to_owned(),
            outcome: outcome.to_owned(),
        };
        self.inner.vault_requests.get_or_create(&labels).inc();
    }

    /// Sets `vaultsync_managed_secrets{kind}` to the current number of managed Secrets.
    pub fn set_managed_secrets(&self, kind: &str, count: i64) {
        let labels = KindLabels {
            kind: kind.to_owned(),
        };
        self.inner.managed_secrets.get_or_create(&labels).set(count);
    }

    /// Records a successful sync of one object at `unix_seconds`
    /// (`vaultsync_last_sync_timestamp_seconds{kind,namespace,name}`).
    pub fn record_sync(&self, kind: &str, namespace: &str, name: &str, unix_seconds: i64) {
        let labels = object_labels(kind, namespace, name);
        let mut times = self.sync_times();
        self.inner
            .last_sync
            .get_or_create(&labels)
            .set(unix_seconds);
        times.insert(labels, unix_seconds);
    }

    /// Removes the per-object series of a deleted object so stale objects do not linger in
    /// scrapes: its sync timestamp and age, and the certificate expiry for its namespace/name.
    pub fn forget_object(&self, kind: &str, namespace: &str, name: &str) {
        // Only certificates have an expiry series; a VaultSecret of the same name keeps it.
        if kind == "VaultCertificate" {
            self.inner.cert_expiry.remove(&CertLabels {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            });
        }
        let labels = object_labels(kind, namespace, name);
        let mut times = self.sync_times();
        times.remove(&labels);
        self.inner.last_sync.remove(&labels);
        self.inner.since_last_sync.remove(&labels);
    }

    /// Sets `vaultsync_certificate_expiry_timestamp_seconds{namespace,name}` to the notAfter time.
    pub fn set_certificate_expiry(&self, namespace: &str, name: &str, not_after_unix: i64) {
        let labels = CertLabels {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        };
        self.inner
            .cert_expiry
            .get_or_create(&labels)
            .set(not_after_unix);
    }

    /// Sets `vaultsync_leader` to 1 when this process may reconcile, else 0.
    pub fn set_leader(&self, leading: bool) {
        self.inner.leader.set(i64::from(leading));
    }

    /// Sets `vaultsync_insecure_challenge_verification_disabled`.
    pub fn set_challenge_verification_disabled(&self, disabled: bool) {
        self.inner.insecure.set(i64::from(disabled));
    }

    /// Encodes every metric in the OpenMetrics text format (ending in `# EOF`).
    pub fn encode(&self) -> String {
        // A clock before 1970 is a broken host; an age of "now = 0" is as good as any answer.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.encode_at(now)
    }

    /// [`Metrics::encode`] with an explicit clock, so tests can check the computed ages.
    fn encode_at(&self, now_unix: i64) -> String {
        {
            let times = self.sync_times();
            for (labels, &at) in times.iter() {
                let age = now_unix.saturating_sub(at).max(0);
                self.inner.since_last_sync.get_or_create(labels).set(age);
            }
        }
        let mut out = String::new();
        // Writing into a String cannot fail, and the encoder only errors on writer failure.
        text::encode(&mut out, &self.inner.registry).expect("encoding into a String never fails");
        out
    }

    fn sync_times(&self) -> std::sync::MutexGuard<'_, HashMap<ObjectLabels, i64>> {
        // The map holds plain integers, so a panic elsewhere cannot leave it half-updated.
        self.inner
            .sync_times
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

fn object_labels(kind: &str, namespace: &str, name: &str) -> ObjectLabels {
    ObjectLabels {
        kind: kind.to_owned(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    }
}

#[cfg(test)]
mod tests;
