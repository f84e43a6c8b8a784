//! The restart controller: notices changes of managed Secrets and of opted-in workloads, waits
//! out the debounce window, and patches the pod templates of the workloads whose digest changed,
//! never more at once than the caps allow.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use crate::telemetry::events::{EventType, Events};
use futures::StreamExt;
use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender};
use futures::future::BoxFuture;
use kube::Client;
use kube::ResourceExt;
use tokio::time::Instant;

use super::digest::{DigestInput, digest};
use super::gate::{Admission, InProgress};
use super::plan::{Decision, decide};
use super::progress::Progress;
use super::report::{self, RESTARTED, SKIPPED_PAUSED};
use super::settings::RestartSettings;
use super::watches::Workloads;
use super::workload::{self, WorkloadKey, WorkloadKind, WorkloadView};
use crate::controller::watches::{Scope, SecretEvents};
use crate::desired::OWNER_ANNOTATION;
use crate::desired::secret::cached_hash;
use crate::reconcile::SecretCache;
use crate::telemetry::Metrics;

/// How often deferred restarts look at the caps again when nothing else happens.
const RECHECK: Duration = Duration::from_secs(1);
/// How long a restart whose patch failed waits before it is tried again.
const RETRY_AFTER_FAILED_PATCH: Duration = Duration::from_secs(5);

/// What wakes the controller.
enum Trigger {
    /// A managed Secret changed (or was listed).
    Secret { namespace: String, name: String },
    /// An opted-in workload changed (or was listed).
    Workload(WorkloadKey),
}

/// Copies the managed-Secret changes the operator already watches into the restart controller;
/// it opens no watch of its own.
#[derive(Clone)]
pub struct SecretTap {
    triggers: UnboundedSender<Trigger>,
}

impl SecretTap {
    /// `events`, with every Secret it yields also sent to the restart controller.
    pub fn observe(&self, events: SecretEvents) -> SecretEvents {
        let triggers = self.triggers.clone();
        events
            .inspect(move |event| {
                if let Ok(secret) = event {
                    // A closed channel means the restart controller stopped; shutdown is under way.
                    let _ = triggers.unbounded_send(Trigger::Secret {
                        namespace: secret.namespace().unwrap_or_default(),
                        name: secret.name_any(),
                    });
                }
            })
            .boxed()
    }
}

/// The restart controller, wired but not running, when `--restarts` is on: the tap to put on
/// the managed-Secret events, and the future that runs it until `stop`. Nothing is watched
/// before that future runs, so a standby neither watches nor restarts.
pub fn start(
    client: &Client,
    scopes: &[Scope],
    secrets: SecretCache,
    events: Events,
    metrics: Metrics,
    settings: &RestartSettings,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Option<(SecretTap, BoxFuture<'static, ()>)> {
    if !settings.enabled {
        return None;
    }
    let (tx, rx) = futures::channel::mpsc::unbounded();
    let (workloads, changes) = Workloads::watch(client, scopes);
    let forward = {
        let tx = tx.clone();
        changes.for_each(move |key| {
            let _ = tx.unbounded_send(Trigger::Workload(key));
            futures::future::ready(())
        })
    };
    let restarter = Restarter {
        client: client.clone(),
        workloads,
        secrets,
        events,
        metrics,
        settings: settings.clone(),
        pending: HashMap::new(),
        started: HashMap::new(),
        skipped: HashMap::new(),
    };
    let run = async move {
        tokio::select! {
            () = restarter.run(rx) => {}
            () = forward => {}
            _ = stop_signal(stop) => {}
        }
    };
    Some((SecretTap { triggers: tx }, Box::pin(run)))
}

async fn stop_signal(mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// A restart waiting for its debounce window or for room under the caps.
struct Pending {
    due: Instant,
    /// The Secrets whose changes scheduled it (empty when noticed from the workload alone).
    causes: BTreeSet<String>,
    /// Already counted as deferred by a cap.
    deferred: bool,
}

struct Restarter {
    client: Client,
    workloads: Workloads,
    secrets: SecretCache,
    events: Events,
    metrics: Metrics,
    settings: RestartSettings,
    pending: HashMap<WorkloadKey, Pending>,
    /// Workloads restarted whose new generation the cache may not show yet: in progress.
    started: HashMap<WorkloadKey, i64>,
    /// The digest a workload was last skipped for, so a skip is reported once.
    skipped: HashMap<WorkloadKey, String>,
}

impl Restarter {
    async fn run(mut self, mut triggers: UnboundedReceiver<Trigger>) {
        // Decisions need the full picture: a half-filled Secret cache would compute a digest
        // over fewer Secrets than the workload consumes.
        tokio::join!(
            self.workloads.wait_until_ready(),
            self.secrets.wait_until_ready()
        );
        tracing::info!("restart controller started");
        loop {
            let wake = self.next_wake();
            tokio::select! {
                trigger = triggers.next() => match trigger {
                    Some(trigger) => self.on_trigger(trigger).await,
                    None => return,
                },
                () = tokio::time::sleep_until(wake) => {}
            }
            // Drain what else arrived, so a burst is handled before the caps are counted.
            while let Ok(trigger) = triggers.try_recv() {
                self.on_trigger(trigger).await;
            }
            self.restart_due().await;
        }
    }

    fn next_wake(&self) -> Instant {
        let recheck = Instant::now() + RECHECK;
        self.pending
            .values()
            .filter(|p| !p.deferred)
            .map(|p| p.due)
            .fold(recheck, Instant::min)
    }

    async fn on_trigger(&mut self, trigger: Trigger) {
        match trigger {
            Trigger::Secret { namespace, name } => {
                let consumers: Vec<WorkloadView> = self
                    .workloads
                    .all()
                    .into_iter()
                    .filter(|w| w.key.namespace == namespace && w.consumed.contains(&name))
                    .collect();
                for view in consumers {
                    self.consider(view, Some(&name)).await;
                }
            }
            Trigger::Workload(key) => match self.workloads.get(&key) {
                Some(view) => self.consider(view, None).await,
                // No longer opted in: whatever was pending is dropped.
                None => {
                    self.pending.remove(&key);
                    self.skipped.remove(&key);
                    self.started.remove(&key);
                }
            },
        }
    }

    /// The digest of the managed Secrets `view` consumes, `None` when it consumes none.
    fn current_digest(&self, view: &WorkloadView) -> Option<String> {
        let inputs: Vec<DigestInput> = view
            .consumed
            .iter()
            .filter_map(|name| self.secrets.get(&view.key.namespace, name))
            .filter(|secret| secret.annotations().contains_key(OWNER_ANNOTATION))
            .filter_map(|secret| {
                Some(DigestInput {
                    name: secret.name_any(),
                    uid: secret.uid().unwrap_or_default(),
                    content_hash: cached_hash(&secret)?.to_string(),
                })
            })
            .collect();
        (!inputs.is_empty()).then(|| digest(&inputs))
    }

    async fn consider(&mut self, view: WorkloadView, cause: Option<&str>) {
        let current = self.current_digest(&view);
        match decide(view.recorded_digest.as_deref(), current.as_deref()) {
            Decision::NotConsuming | Decision::Unchanged => {
                self.pending.remove(&view.key);
            }
            Decision::Baseline(digest) => {
                let patch = workload::digest_patch(&digest, None);
                match workload::patch(&self.client, &view.key, &patch).await {
                    Ok(_) => tracing::info!(workload = %view.key, "recorded the restart digest"),
                    Err(err) => {
                        tracing::warn!(workload = %view.key, error = %err, "failed to record the restart digest")
                    }
                }
            }
            Decision::Restart(_) => {
                let debounce = self.settings.debounce;
                let pending = self.pending.entry(view.key).or_insert_with(|| Pending {
                    due: Instant::now() + debounce,
                    causes: BTreeSet::new(),
                    deferred: false,
                });
                pending.causes.extend(cause.map(String::from));
            }
        }
    }

    /// Counts the rollouts in progress among the opted-in workloads, those just started
    /// included, and forgets started ones the cache caught up with.
    fn in_progress(&mut self) -> InProgress {
        let now = jiff::Timestamp::now();
        let deadline = self.settings.progress_deadline;
        let mut running = InProgress::default();
        let mut caught_up = Vec::new();
        for view in self.workloads.all() {
            let cache_behind = self
                .started
                .get(&view.key)
                .is_some_and(|generation| view.generation < *generation);
            if !cache_behind {
                caught_up.push(view.key.clone());
            }
            let rolling = match (view.progress, view.key.kind) {
                (Progress::InProgress, WorkloadKind::Deployment) => true,
                (Progress::InProgress, _) => view
                    .restarted_at
                    .is_none_or(|at| now.duration_since(at).unsigned_abs() < deadline),
                _ => false,
            };
            if cache_behind || rolling {
                running.add(&view.key.namespace);
            }
        }
        for key in caught_up {
            self.started.remove(&key);
        }
        self.metrics
            .set_rollouts_in_progress(running.total() as i64);
        running
    }

    async fn restart_due(&mut self) {
        let now = Instant::now();
        let mut due: Vec<(Instant, WorkloadKey)> = self
            .pending
            .iter()
            .filter(|(_, p)| p.due <= now)
            .map(|(key, p)| (p.due, key.clone()))
            .collect();
        if due.is_empty() {
            return;
        }
        due.sort();
        let mut running = self.in_progress();
        for (_, key) in due {
            self.restart_one(key, &mut running).await;
        }
    }

    async fn restart_one(&mut self, key: WorkloadKey, running: &mut InProgress) {
        let Some(view) = self.workloads.get(&key) else {
            self.pending.remove(&key);
            return;
        };
        let current = self.current_digest(&view);
        let Decision::Restart(digest) = decide(view.recorded_digest.as_deref(), current.as_deref())
        else {
            self.pending.remove(&key);
            return;
        };
        if self.settings.paused || view.paused {
            self.skip_paused(&key, &view, digest).await;
            return;
        }
        if self.defer_at_cap(&key, running) {
            return;
        }
        self.start_rollout(key, &view, &digest, running).await;
    }

    /// Restarts are paused, or the workload is: reported once per digest.
    async fn skip_paused(&mut self, key: &WorkloadKey, view: &WorkloadView, digest: String) {
        let kind = key.kind.as_str();
        let pending = self.pending.remove(key);
        if self.skipped.get(key) == Some(&digest) {
            return;
        }
        self.skipped.insert(key.clone(), digest);
        if self.settings.paused {
            tracing::info!(workload = %key, "restart skipped: restarts are paused (--restarts-paused)");
            self.metrics.restart_skipped(kind, "restarts_paused");
            return;
        }
        let causes = self
            .causes(view, pending.map(|p| p.causes).unwrap_or_default())
            .await;
        let note = format!("Deployment is paused; not restarted for {causes}");
        tracing::info!(workload = %key, "restart skipped: the Deployment is paused");
        self.metrics.restart_skipped(kind, "workload_paused");
        report::publish(
            &self.events,
            &view.reference,
            EventType::Warning,
            SKIPPED_PAUSED,
            &note,
        )
        .await;
    }

    /// Whether a cap on rollouts in progress holds `key` back (counted once per wait).
    fn defer_at_cap(&mut self, key: &WorkloadKey, running: &mut InProgress) -> bool {
        let cap = match running.admit(self.settings.caps(), &key.namespace) {
            Admission::Admit => return false,
            Admission::ClusterCapReached => "cluster",
            Admission::NamespaceCapReached => "namespace",
        };
        if let Some(pending) = self.pending.get_mut(key)
            && !pending.deferred
        {
            pending.deferred = true;
            tracing::info!(workload = %key, cap, "restart deferred: rollouts in progress are at the cap");
            self.metrics.restart_deferred(key.kind.as_str(), cap);
        }
        true
    }

    /// Patches the pod template's digest: the rollout starts; an Event names its causes.
    async fn start_rollout(
        &mut self,
        key: WorkloadKey,
        view: &WorkloadView,
        digest: &str,
        running: &mut InProgress,
    ) {
        let patch = workload::digest_patch(digest, Some(jiff::Timestamp::now()));
        match workload::patch(&self.client, &key, &patch).await {
            Ok(generation) => {
                let pending = self.pending.remove(&key);
                self.skipped.remove(&key);
                running.add(&key.namespace);
                self.metrics.restart_triggered(key.kind.as_str());
                let causes = self
                    .causes(view, pending.map(|p| p.causes).unwrap_or_default())
                    .await;
                tracing::info!(workload = %key, secrets = ?view.consumed, "rollout restarted");
                self.started.insert(key, generation);
                let note = format!("Rollout restarted for {causes}");
                report::publish(
                    &self.events,
                    &view.reference,
                    EventType::Normal,
                    RESTARTED,
                    &note,
                )
                .await;
            }
            Err(err) => {
                tracing::warn!(workload = %key, error = %err, "failed to restart; will retry");
                if let Some(pending) = self.pending.get_mut(&key) {
                    pending.due = Instant::now() + RETRY_AFTER_FAILED_PATCH;
                }
            }
        }
    }

    /// The Secrets and vault versions behind a restart: those whose changes scheduled it, or,
    /// when it was noticed from the workload alone, every managed Secret it consumes.
    async fn causes(&self, view: &WorkloadView, causes: BTreeSet<String>) -> String {
        let names = if causes.is_empty() {
            view.consumed.clone()
        } else {
            causes
        };
        let mut described = Vec::new();
        for name in names {
            if let Some(secret) = self.secrets.get(&view.key.namespace, &name) {
                described.push(report::provenance(&self.client, &secret).await);
            }
        }
        described.join("; ")
    }
}
