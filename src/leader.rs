//! Leader election on a `coordination.k8s.io/v1` Lease, so that of several replicas only one
//! reconciles.
//!
//! The rules are those of client-go's `leaderelection` package:
//!
//! - A replica takes the Lease when it has no holder, or when the holder's record has not changed
//!   for its `leaseDurationSeconds`, timed on this replica's own monotonic clock from the moment it
//!   first saw that record, so clock skew between nodes does not matter.
//! - Every write replaces the whole Lease with the `resourceVersion` that was read: of replicas
//!   racing for a free or expired Lease exactly one wins, the others get 409 Conflict.
//! - The leader renews every retry period. When no renewal has succeeded for the renew deadline
//!   (counted from when the last successful renewal was sent), or the Lease names another holder,
//!   leadership is lost. As the renew deadline is shorter than the lease duration, the old leader
//!   has given up before any other replica can consider the Lease expired.
//! - On graceful shutdown the leader clears `holderIdentity`, so a standby takes over at its next
//!   attempt instead of waiting out the lease.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use rand::Rng;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::RunConfig;
use crate::telemetry::Metrics;

/// Field manager of the Lease writes.
const FIELD_MANAGER: &str = "vaultsync-leader-election";

/// Settings of one election.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElectionConfig {
    /// Name of the Lease.
    pub lease_name: String,
    /// Namespace of the Lease.
    pub namespace: String,
    /// This process's `holderIdentity`, unique among the candidates.
    pub identity: String,
    /// How long a Lease holds without renewal before another candidate may take it.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up.
    pub renew_deadline: Duration,
    /// Interval between attempts to acquire or renew.
    pub retry_period: Duration,
}

impl ElectionConfig {
    /// The election `vaultsync run` asks for, or `None` when `--leader-elect` is off.
    ///
    /// # Errors
    /// When leader election is on but no namespace is given, or the timings are inconsistent.
    pub fn from_run_config(config: &RunConfig) -> Result<Option<Self>, String> {
        if !config.leader_elect {
            return Ok(None);
        }
        let namespace = config
            .leader_election_namespace
            .clone()
            .filter(|ns| !ns.is_empty())
            .ok_or_else(|| {
                "leader election needs --leader-election-namespace or the POD_NAMESPACE \
                 environment variable"
                    .to_owned()
            })?;
        let election = Self {
            lease_name: config.leader_election_lease_name.clone(),
            namespace,
            identity: default_identity(),
            lease_duration: config.leader_election_lease_duration,
            renew_deadline: config.leader_election_renew_deadline,
            retry_period: config.leader_election_retry_period,
        };
        election.validate()?;
        Ok(Some(election))
    }

    /// Checks that the timings can keep two leaders from overlapping:
    /// `retry period < renew deadline < lease duration`, with a lease duration of at least 1 s
    /// (the Lease records whole seconds).
    ///
    /// # Errors
    /// A message naming the offending setting.
    pub fn validate(&self) -> Result<(), String> {
        if self.lease_name.is_empty() {
            return Err("the leader-election lease name is empty".into());
        }
        if self.identity.is_empty() {
            return Err("the leader-election identity is empty".into());
        }
        if self.lease_duration < Duration::from_secs(1) {
            return Err("the leader-election lease duration must be at least 1s".into());
        }
        if self.renew_deadline >= self.lease_duration {
            return Err(format!(
                "the leader-election renew deadline ({:?}) must be shorter than the lease \
                 duration ({:?})",
                self.renew_deadline, self.lease_duration
            ));
        }
        if self.retry_period.is_zero() || self.retry_period >= self.renew_deadline {
            return Err(format!(
                "the leader-election retry period ({:?}) must be positive and shorter than the \
                 renew deadline ({:?})",
                self.retry_period, self.renew_deadline
            ));
        }
        Ok(())
    }

    /// `leaseDurationSeconds` to record: the lease duration rounded up to whole seconds.
    fn lease_seconds(&self) -> i32 {
        let seconds =
            self.lease_duration.as_secs() + u64::from(self.lease_duration.subsec_nanos() > 0);
        i32::try_from(seconds).unwrap_or(i32::MAX)
    }

    fn lease_ref(&self) -> String {
        format!("{}/{}", self.namespace, self.lease_name)
    }
}

/// This process's identity: env `POD_NAME`, else the host name, then `_` and a random suffix, so
/// a restarted process never mistakes its predecessor's Lease for its own.
pub fn default_identity() -> String {
    let pod_name = std::env::var("POD_NAME").ok();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok());
    let suffix: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(8)
        .map(|b| char::from(b).to_ascii_lowercase())
        .collect();
    identity_from(pod_name.as_deref(), host.as_deref(), &suffix)
}

fn identity_from(pod_name: Option<&str>, host: Option<&str>, suffix: &str) -> String {
    let base = [pod_name, host]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|name| !name.is_empty())
        .unwrap_or("vaultsync");
    format!("{base}_{suffix}")
}

/// The Lease reads and writes an election needs; a seam so the election logic is testable
/// without an API server.
#[async_trait]
trait LeaseStore: Send + Sync {
    async fn get(&self) -> Result<Option<Lease>, kube::Error>;
    async fn create(&self, lease: &Lease) -> Result<Lease, kube::Error>;
    /// Replaces the Lease; fails with 409 Conflict when its `resourceVersion` is stale.
    async fn replace(&self, lease: &Lease) -> Result<Lease, kube::Error>;
}

struct KubeLeases {
    api: Api<Lease>,
    name: String,
}

fn post_params() -> PostParams {
    PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    }
}

#[async_trait]
impl LeaseStore for KubeLeases {
    async fn get(&self) -> Result<Option<Lease>, kube::Error> {
        self.api.get_opt(&self.name).await
    }

    async fn create(&self, lease: &Lease) -> Result<Lease, kube::Error> {
        self.api.create(&post_params(), lease).await
    }

    async fn replace(&self, lease: &Lease) -> Result<Lease, kube::Error> {
        self.api.replace(&self.name, &post_params(), lease).await
    }
}

/// The last Lease record seen and when it was first seen, on the local monotonic clock.
#[derive(Debug)]
struct Observation {
    record: Option<LeaseSpec>,
    at: Instant,
}

impl Observation {
    fn new(now: Instant) -> Self {
        Self {
            record: None,
            at: now,
        }
    }

    /// Restarts the clock only when the record changed.
    fn update(&mut self, record: Option<&LeaseSpec>, now: Instant) {
        if self.record.as_ref() != record {
            self.record = record.cloned();
            self.at = now;
        }
    }

    /// Whether the observed record has gone unchanged for its own `leaseDurationSeconds`.
    fn expired(&self, now: Instant) -> bool {
        let seconds = self
            .record
            .as_ref()
            .and_then(|r| r.lease_duration_seconds)
            .unwrap_or(0);
        let seconds = u64::try_from(seconds).unwrap_or(0);
        now >= self.at + Duration::from_secs(seconds)
    }
}

/// What one attempt does with the Lease it read.
#[derive(Debug, PartialEq)]
enum Plan {
    /// There is no Lease: create one that names us.
    Create(LeaseSpec),
    /// The Lease is free, expired or ours: replace it with this (same `resourceVersion`).
    Write(Box<Lease>),
    /// Another holder's Lease is still valid.
    HeldBy(String),
}

/// Decides one attempt: take a free or expired Lease, renew our own, or leave another's alone.
fn plan(
    current: Option<&Lease>,
    identity: &str,
    expired: bool,
    now: Timestamp,
    lease_seconds: i32,
) -> Plan {
    let Some(current) = current else {
        return Plan::Create(LeaseSpec {
            holder_identity: Some(identity.to_owned()),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            lease_duration_seconds: Some(lease_seconds),
            lease_transitions: Some(0),
            ..Default::default()
        });
    };
    let spec = current.spec.clone().unwrap_or_default();
    let holder = spec.holder_identity.as_deref().filter(|h| !h.is_empty());
    let ours = holder == Some(identity);
    if let Some(holder) = holder
        && !ours
        && !expired
    {
        return Plan::HeldBy(holder.to_owned());
    }
    let mut next = spec.clone();
    next.holder_identity = Some(identity.to_owned());
    next.renew_time = Some(MicroTime(now));
    next.lease_duration_seconds = Some(lease_seconds);
    if !ours {
        next.acquire_time = Some(MicroTime(now));
        next.lease_transitions = Some(spec.lease_transitions.unwrap_or(0).saturating_add(1));
    }
    let mut lease = current.clone();
    lease.spec = Some(next);
    Plan::Write(Box::new(lease))
}

/// The Lease with our holdership cleared, or `None` when it does not name us.
fn released(current: &Lease, identity: &str, now: Timestamp) -> Option<Lease> {
    let spec = current.spec.as_ref()?;
    if spec.holder_identity.as_deref() != Some(identity) {
        return None;
    }
    let mut lease = current.clone();
    lease.spec = Some(LeaseSpec {
        holder_identity: None,
        // Whoever reads this record next may take it without waiting.
        lease_duration_seconds: Some(1),
        acquire_time: Some(MicroTime(now)),
        renew_time: Some(MicroTime(now)),
        ..spec.clone()
    });
    Some(lease)
}

/// Result of one successful round trip.
#[derive(Debug, PartialEq)]
enum Attempt {
    /// We hold the Lease (just taken or renewed).
    Leading,
    /// Another holder's Lease is still valid.
    HeldBy(String),
    /// Someone else wrote the Lease between our read and our write.
    Conflict,
}

/// A candidate in one election; [`Elector::acquire`] turns it into the [`Leader`].
pub struct Elector {
    store: Arc<dyn LeaseStore>,
    config: ElectionConfig,
    observed: Observation,
    metrics: Metrics,
}

impl std::fmt::Debug for Elector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Elector")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Elector {
    /// A candidate for the Lease `config` names; it keeps `vaultsync_leader` in `metrics` up to
    /// date.
    pub fn new(client: Client, config: ElectionConfig, metrics: Metrics) -> Self {
        let store = KubeLeases {
            api: Api::namespaced(client, &config.namespace),
            name: config.lease_name.clone(),
        };
        Self::with_store(Arc::new(store), config, metrics)
    }

    fn with_store(store: Arc<dyn LeaseStore>, config: ElectionConfig, metrics: Metrics) -> Self {
        Self {
            store,
            config,
            observed: Observation::new(Instant::now()),
            metrics,
        }
    }

    /// Waits, however long it takes, until this process holds the Lease, trying every retry
    /// period (jittered up to +20 %); API errors are logged and retried. The returned
    /// [`Leader`] keeps renewing in the background.
    pub async fn acquire(mut self) -> Leader {
        self.metrics.set_leader(false);
        let lease = self.config.lease_ref();
        let mut last_holder: Option<String> = None;
        let mut last_error: Option<String> = None;
        loop {
            let sent = Instant::now();
            let attempt =
                tokio::time::timeout(self.config.renew_deadline, self.try_acquire_or_renew()).await;
            match attempt {
                Ok(Ok(Attempt::Leading)) => return self.lead(sent),
                Ok(Ok(Attempt::HeldBy(holder))) => {
                    last_error = None;
                    if last_holder.as_ref() != Some(&holder) {
                        tracing::info!(%lease, %holder, identity = %self.config.identity, "waiting for leadership");
                        last_holder = Some(holder);
                    }
                }
                Ok(Ok(Attempt::Conflict)) => {
                    tracing::debug!(%lease, "lost a race for the lease; retrying");
                }
                Ok(Err(error)) => {
                    let message = error.to_string();
                    if last_error.as_ref() != Some(&message) {
                        tracing::warn!(%lease, error = %message, "could not read or write the leader-election lease; retrying");
                        last_error = Some(message);
                    }
                }
                Err(_) => tracing::warn!(%lease, "leader-election request timed out; retrying"),
            }
            let jitter = rand::rng().random_range(0.0..=0.2);
            tokio::time::sleep(self.config.retry_period.mul_f64(1.0 + jitter)).await;
        }
    }

    fn lead(self, renewed_at: Instant) -> Leader {
        self.metrics.set_leader(true);
        tracing::info!(
            lease = %self.config.lease_ref(),
            identity = %self.config.identity,
            "acquired leadership"
        );
        let identity = self.config.identity.clone();
        let (lost_tx, lost_rx) = watch::channel(false);
        let (stop_tx, stop_rx) = oneshot::channel();
        let renewer = tokio::spawn(renew(self, renewed_at, stop_rx, lost_tx));
        Leader {
            identity,
            lost: lost_rx,
            stop: Some(stop_tx),
            renewer: Some(renewer),
        }
    }

    /// One read and, when the plan says so, one write.
    async fn try_acquire_or_renew(&mut self) -> Result<Attempt, kube::Error> {
        let current = self.store.get().await?;
        let now = Instant::now();
        self.observed
            .update(current.as_ref().and_then(|l| l.spec.as_ref()), now);
        let planned = plan(
            current.as_ref(),
            &self.config.identity,
            self.observed.expired(now),
            Timestamp::now(),
            self.config.lease_seconds(),
        );
        let written = match planned {
            Plan::HeldBy(holder) => return Ok(Attempt::HeldBy(holder)),
            Plan::Create(spec) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.config.lease_name.clone()),
                        namespace: Some(self.config.namespace.clone()),
                        ..Default::default()
                    },
                    spec: Some(spec),
                };
                self.store.create(&lease).await
            }
            Plan::Write(lease) => self.store.replace(&lease).await,
        };
        match written {
            Ok(lease) => {
                self.observed.update(lease.spec.as_ref(), Instant::now());
                Ok(Attempt::Leading)
            }
            Err(kube::Error::Api(status)) if status.is_conflict() || status.is_already_exists() => {
                Ok(Attempt::Conflict)
            }
            Err(error) => Err(error),
        }
    }

    /// Clears our holdership; `Ok(false)` when the Lease no longer names us.
    async fn release_lease(&self) -> Result<bool, kube::Error> {
        let Some(current) = self.store.get().await? else {
            return Ok(false);
        };
        let Some(lease) = released(&current, &self.config.identity, Timestamp::now()) else {
            return Ok(false);
        };
        match self.store.replace(&lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.is_conflict() => Ok(false),
            Err(error) => Err(error),
        }
    }

    fn lose(&self, lost: &watch::Sender<bool>, reason: &str) {
        self.metrics.set_leader(false);
        tracing::error!(
            lease = %self.config.lease_ref(),
            identity = %self.config.identity,
            %reason,
            "lost leadership"
        );
        let _ = lost.send(true);
    }
}

/// Renews every retry period until stopped or until leadership is lost; hands the elector back.
async fn renew(
    mut elector: Elector,
    mut renewed_at: Instant,
    mut stop: oneshot::Receiver<()>,
    lost: watch::Sender<bool>,
) -> Elector {
    let retry = elector.config.retry_period;
    loop {
        let deadline = renewed_at + elector.config.renew_deadline;
        let wake = (Instant::now() + retry).min(deadline);
        tokio::select! {
            biased;
            _ = &mut stop => return elector,
            () = tokio::time::sleep_until(wake) => {}
        }
        if Instant::now() >= deadline {
            elector.lose(&lost, "no renewal succeeded within the renew deadline");
            return elector;
        }
        let sent = Instant::now();
        let attempt = tokio::select! {
            biased;
            _ = &mut stop => return elector,
            attempt = tokio::time::timeout_at(deadline, elector.try_acquire_or_renew()) => attempt,
        };
        match attempt {
            Ok(Ok(Attempt::Leading)) => renewed_at = sent,
            Ok(Ok(Attempt::HeldBy(holder))) => {
                elector.lose(&lost, &format!("the lease is now held by {holder}"));
                return elector;
            }
            Ok(Ok(Attempt::Conflict)) => {
                tracing::debug!("the lease changed while renewing it; retrying");
            }
            Ok(Err(error)) => {
                tracing::warn!(error = %error, "failed to renew the leader-election lease; retrying");
            }
            // The deadline passed mid-request: the next turn of the loop gives up.
            Err(_) => {}
        }
    }
}

/// Proof that this process holds the Lease; renewal runs in the background until
/// [`Leader::release`] or loss. Dropping it stops renewing without releasing.
#[derive(Debug)]
pub struct Leader {
    identity: String,
    lost: watch::Receiver<bool>,
    stop: Option<oneshot::Sender<()>>,
    renewer: Option<JoinHandle<Elector>>,
}

impl Leader {
    /// The `holderIdentity` this process writes.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Resolves once leadership is lost (renewal failed past the renew deadline, or another
    /// holder took the Lease). Reconciling must stop at once.
    pub async fn lost(&self) {
        let mut lost = self.lost.clone();
        // A closed channel means the renewer is gone, so the Lease is no longer renewed either.
        let _ = lost.wait_for(|lost| *lost).await;
    }

    /// Stops renewing and clears the Lease's holder, so a standby takes over at its next
    /// attempt. Call it only after reconciling has stopped. Bounded by the renew deadline.
    pub async fn release(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let Some(renewer) = self.renewer.take() else {
            return;
        };
        let Ok(elector) = renewer.await else {
            return;
        };
        if *self.lost.borrow() {
            return;
        }
        elector.metrics.set_leader(false);
        let lease = elector.config.lease_ref();
        match tokio::time::timeout(elector.config.renew_deadline, elector.release_lease()).await {
            Ok(Ok(true)) => {
                tracing::info!(%lease, identity = %self.identity, "released leadership")
            }
            Ok(Ok(false)) => tracing::info!(%lease, "the lease no longer named this process"),
            Ok(Err(error)) => {
                tracing::warn!(%lease, error = %error, "could not release the lease; it expires on its own")
            }
            Err(_) => {
                tracing::warn!(%lease, "releasing the lease timed out; it expires on its own")
            }
        }
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        if let Some(renewer) = &self.renewer {
            renewer.abort();
        }
    }
}

#[cfg(test)]
mod tests;
