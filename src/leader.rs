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
//!
//! The configuration and identity live in `config`, the pure takeover and renewal rules in
//! `rules`, and the Lease reads and writes in `store`; this module runs the election on them.

mod config;
mod rules;
mod store;

use std::sync::Arc;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::ObjectMeta;
use rand::Rng;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use self::rules::{Observation, Plan, plan, released};
use self::store::{KubeLeases, LeaseStore};
use crate::telemetry::Metrics;

pub use self::config::{ElectionConfig, default_identity};

/// Result of one successful round trip.
#[derive(Debug, PartialEq)]
enum Attempt {
    /// We hold the Lease (just taken or renewed).
    Leading,
    /// Another holder's Lease is still valid.
    HeldBy(String),
    /// Someone else wrote the Lease between our read and our write.
    Conflict,
    /// The Lease was deleted while we led: another replica may already have created its own.
    Gone,
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
        let store = KubeLeases::new(client, &config.namespace, &config.lease_name);
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
                // Acquiring creates a missing Lease, so it is never gone here; retry if it were.
                Ok(Ok(Attempt::Conflict | Attempt::Gone)) => {
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
        self.attempt(true).await
    }

    /// One renewal while leading: as [`Self::try_acquire_or_renew`], but a missing Lease means
    /// leadership is lost, not that it is free to create.
    async fn try_renew(&mut self) -> Result<Attempt, kube::Error> {
        self.attempt(false).await
    }

    async fn attempt(&mut self, may_create: bool) -> Result<Attempt, kube::Error> {
        let current = self.store.get().await?;
        if current.is_none() && !may_create {
            return Ok(Attempt::Gone);
        }
        let now = Instant::now();
        self.observed
            .update(current.as_ref().and_then(|l| l.spec.as_ref()), now);
        let planned = plan(
            current.as_ref(),
            &self.config.identity,
            self.observed.expired(now, self.config.lease_duration),
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
            attempt = tokio::time::timeout_at(deadline, elector.try_renew()) => attempt,
        };
        match attempt {
            Ok(Ok(Attempt::Leading)) => renewed_at = sent,
            Ok(Ok(Attempt::HeldBy(holder))) => {
                elector.lose(&lost, &format!("the lease is now held by {holder}"));
                return elector;
            }
            Ok(Ok(Attempt::Gone)) => {
                elector.lose(&lost, "the lease was deleted");
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
