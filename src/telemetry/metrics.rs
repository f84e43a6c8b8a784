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

use super::catalog::MetricInfo;
use super::census::{Census, ReadyTally};
use descriptions::*;

mod descriptions;
mod sync_times;

use sync_times::SyncTimes;

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
struct OutcomeLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResourceLabels {
    kind: String,
    ready: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WakeLabels {
    source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RestartLabels {
    kind: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CertLabels {
    namespace: String,
    name: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

struct Inner {
    registry: Registry,
    catalog: Vec<MetricInfo>,
    token_exchanges: Family<OutcomeLabels, Counter>,
    resources: Family<ResourceLabels, Gauge>,
    /// Who counts resources by Ready condition at scrape time, per kind.
    censuses: Mutex<Vec<(&'static str, Census)>>,
    reconciles: Family<ReconcileLabels, Counter>,
    reconcile_duration: HistogramFamily<KindLabels>,
    vault_requests: Family<VaultLabels, Counter>,
    managed_secrets: Family<KindLabels, Gauge>,
    cert_expiry: Family<CertLabels, Gauge>,
    leader: Gauge,
    insecure: Gauge,
    scanners: Gauge,
    demand_ratio: Gauge<f64, std::sync::atomic::AtomicU64>,
    wakeups: Family<WakeLabels, Counter>,
    restarts_triggered: Family<KindLabels, Counter>,
    restarts_deferred: Family<RestartLabels, Counter>,
    restarts_skipped: Family<RestartLabels, Counter>,
    rollouts_in_progress: Gauge,
    /// Last sync time and age per object, encoded at scrape time.
    sync_times: Arc<SyncTimes>,
}

/// A registry together with the catalog of what was registered in it.
#[derive(Default)]
struct Catalogued {
    registry: Registry,
    catalog: Vec<MetricInfo>,
}

impl Catalogued {
    /// Lists a metric of `metric_type` in the catalog, as `description` says.
    fn list(&mut self, description: &Description, metric_type: &str) {
        self.catalog.push(MetricInfo::new(
            description.name,
            description.help,
            description.unit.as_ref().map(Unit::as_str),
            metric_type,
            description.labels,
        ));
    }
}

/// Registers the per-object sync times, encoded at scrape time, and lists their two gauges.
fn register_sync_times(r: &mut Catalogued) -> Arc<SyncTimes> {
    let sync_times = Arc::new(SyncTimes::default());
    for description in [&LAST_SYNC, &LAST_SYNC_AGE] {
        r.list(description, "gauge");
    }
    r.registry.register_collector(Box::new(sync_times.clone()));
    sync_times
}

/// Registers `metric` as `description` says, lists it in the catalog and returns it.
fn register<M>(r: &mut Catalogued, description: &Description, metric: M) -> M
where
    M: prometheus_client::registry::Metric + Clone,
{
    let Description {
        name, help, unit, ..
    } = description;
    r.list(description, metric.metric_type().as_str());
    match unit {
        Some(unit) => r
            .registry
            .register_with_unit(*name, *help, unit.clone(), metric.clone()),
        None => r.registry.register(*name, *help, metric.clone()),
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
        let mut catalogued = Catalogued::default();
        let r = &mut catalogued;
        let reconciles = register(r, &RECONCILES, Family::default());
        let reconcile_duration = register(
            r,
            &RECONCILE_DURATION,
            HistogramFamily::new_with_constructor(|| Histogram::new(DURATION_BUCKETS)),
        );
        let vault_requests = register(r, &VAULT_REQUESTS, Family::default());
        let managed_secrets = register(r, &MANAGED_SECRETS, Family::default());
        let sync_times = register_sync_times(r);
        let cert_expiry = register(r, &CERT_EXPIRY, Family::default());
        let leader = register(r, &LEADER, Gauge::default());
        let insecure = register(r, &INSECURE, Gauge::default());
        let scanners = register(r, &SCANNERS, Gauge::default());
        let demand_ratio = register(r, &DEMAND_RATIO, Gauge::default());
        let wakeups = register(r, &WAKEUPS, Family::default());
        let token_exchanges = register(r, &TOKEN_EXCHANGES, Family::default());
        let resources = register(r, &RESOURCES, Family::default());
        let restarts_triggered = register(r, &RESTARTS_TRIGGERED, Family::default());
        let restarts_deferred = register(r, &RESTARTS_DEFERRED, Family::default());
        let restarts_skipped = register(r, &RESTARTS_SKIPPED, Family::default());
        let rollouts_in_progress = register(r, &ROLLOUTS_IN_PROGRESS, Gauge::default());
        let Catalogued { registry, catalog } = catalogued;
        Self {
            inner: Arc::new(Inner {
                registry,
                catalog,
                token_exchanges,
                resources,
                censuses: Mutex::default(),
                reconciles,
                reconcile_duration,
                vault_requests,
                managed_secrets,
                cert_expiry,
                leader,
                insecure,
                scanners,
                demand_ratio,
                wakeups,
                restarts_triggered,
                restarts_deferred,
                restarts_skipped,
                rollouts_in_progress,
                sync_times,
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

    /// Sets `vaultsync_vault_scanners` to the number of change scanners running.
    pub fn set_vault_scanners(&self, count: usize) {
        self.inner
            .scanners
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// Sets `vaultsync_vault_demand_ratio`.
    pub fn set_vault_demand_ratio(&self, ratio: f64) {
        self.inner.demand_ratio.set(ratio);
    }

    /// Counts `count` resources woken by a change seen by `source` (`scan` or `push`) in
    /// `vaultsync_change_wakeups_total{source}`.
    pub fn change_wakeups(&self, source: &'static str, count: usize) {
        let labels = WakeLabels {
            source: source.to_owned(),
        };
        self.inner
            .wakeups
            .get_or_create(&labels)
            .inc_by(u64::try_from(count).unwrap_or(u64::MAX));
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
    pub fn record_sync(&self, kind: &'static str, namespace: &str, name: &str, unix_seconds: i64) {
        self.inner
            .sync_times
            .record(kind, namespace, name, unix_seconds);
    }

    /// Removes the per-object series of a deleted object so stale objects do not linger in
    /// scrapes: its sync timestamp and age (`vaultsync_last_sync_age_seconds`), and the certificate expiry for its namespace/name.
    pub fn forget_object(&self, kind: &'static str, namespace: &str, name: &str) {
        // Only certificates have an expiry series; a VaultSecret of the same name keeps it.
        if kind == "VaultCertificate" {
            self.inner.cert_expiry.remove(&CertLabels {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            });
        }
        self.inner.sync_times.forget(kind, namespace, name);
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

    /// Counts one workload-identity token exchange sent to Entra ID in
    /// `vaultsync_token_exchanges_total{outcome}`.
    pub fn token_exchange(&self, outcome: &str) {
        let labels = OutcomeLabels {
            outcome: outcome.to_owned(),
        };
        self.inner.token_exchanges.get_or_create(&labels).inc();
    }

    /// Adds `census`, which counts resources of `kind` by their Ready condition, to
    /// `vaultsync_resources{kind,ready,reason}`; it runs at each scrape.
    pub fn add_census(&self, kind: &'static str, census: Census) {
        self.censuses().push((kind, census));
    }

    /// Every metric family this registry can export, with or without series.
    pub fn catalog(&self) -> &[MetricInfo] {
        &self.inner.catalog
    }

    /// Sets `vaultsync_leader` to 1 when this process may reconcile, else 0.
    pub fn set_leader(&self, leading: bool) {
        self.inner.leader.set(i64::from(leading));
    }

    /// Sets `vaultsync_insecure_challenge_verification_disabled`.
    pub fn set_challenge_verification_disabled(&self, disabled: bool) {
        self.inner.insecure.set(i64::from(disabled));
    }

    /// Counts one rollout restart of a workload of `kind` in
    /// `vaultsync_restarts_triggered_total{kind}`.
    pub fn restart_triggered(&self, kind: &str) {
        let labels = KindLabels {
            kind: kind.to_owned(),
        };
        self.inner.restarts_triggered.get_or_create(&labels).inc();
    }

    /// Counts one restart that waits for room under `cap` (`cluster` or `namespace`) in
    /// `vaultsync_restarts_deferred_total{kind,reason}`.
    pub fn restart_deferred(&self, kind: &str, cap: &str) {
        let labels = RestartLabels {
            kind: kind.to_owned(),
            reason: cap.to_owned(),
        };
        self.inner.restarts_deferred.get_or_create(&labels).inc();
    }

    /// Counts one restart not made for `reason` in `vaultsync_restarts_skipped_total{kind,reason}`.
    pub fn restart_skipped(&self, kind: &str, reason: &str) {
        let labels = RestartLabels {
            kind: kind.to_owned(),
            reason: reason.to_owned(),
        };
        self.inner.restarts_skipped.get_or_create(&labels).inc();
    }

    /// Sets `vaultsync_restart_rollouts_in_progress`.
    pub fn set_rollouts_in_progress(&self, count: i64) {
        self.inner.rollouts_in_progress.set(count);
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
        // Held while encoding, so a concurrent scrape never sees the census half rebuilt.
        let censuses = self.censuses();
        self.count_resources(&censuses);
        self.inner.sync_times.set_scrape_time(now_unix);
        let mut out = String::new();
        // Writing into a String cannot fail, and the encoder only errors on writer failure.
        text::encode(&mut out, &self.inner.registry).expect("encoding into a String never fails");
        out
    }

    /// Rebuilds `vaultsync_resources` from the censuses: kinds whose resources all went away
    /// drop their series.
    fn count_resources(&self, censuses: &[(&'static str, Census)]) {
        let mut tallies: HashMap<&'static str, ReadyTally> = HashMap::new();
        for (kind, census) in censuses {
            let tally = tallies.entry(kind).or_default();
            census(&mut |ready| tally.record(ready));
        }
        self.inner.resources.clear();
        for (kind, tally) in tallies {
            for (ready, reason, count) in tally.counts() {
                let labels = ResourceLabels {
                    kind: kind.to_owned(),
                    ready: ready.to_owned(),
                    reason: reason.to_owned(),
                };
                self.inner.resources.get_or_create(&labels).set(count);
            }
        }
    }

    fn censuses(&self) -> std::sync::MutexGuard<'_, Vec<(&'static str, Census)>> {
        // A census that panicked left the list itself intact.
        self.inner
            .censuses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests;
