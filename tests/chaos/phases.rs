//! The run: start-up, the rotation stream, each disruption in turn with the convergence after
//! it, and the final checks.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{DeleteParams, ListParams};
use rand::Rng;
use rand::rngs::StdRng;
use tokio::task::JoinHandle;
use vaultsync::crd::{VaultCertificate, VaultSecret};
use vaultsync_emulator::Fault;
use vaultsync_testenv::{Component, shared};

use crate::bad_inputs::{self, Outcome};
use crate::entra;
use crate::fleet::{Fleet, REFRESH_SECS};
use crate::leaks;
use crate::ledger::Delivery;
use crate::observer::{self, Sightings};
use crate::rate::{self, Counted, Samples};
use crate::replicas::Replicas;
use crate::report::Figures;
use crate::scale::Scale;
use crate::support::kubectl;
use crate::support::world::world_control;

const REFRESH: Duration = Duration::from_secs(REFRESH_SECS);
/// The Retry-After of every 429 of the storm.
const RETRY_AFTER: Duration = Duration::from_secs(4);
/// The vault clock moves this far during the outage: ten minutes of vault time.
const OUTAGE_VAULT_TIME: i64 = 600;

pub struct Run {
    fleet: Arc<Fleet>,
    scale: Scale,
    replicas: Replicas,
    sightings: Arc<Mutex<Sightings>>,
    samples: Samples,
    answered: Samples,
    rss_start_kib: u64,
    kills_during_writes: usize,
    /// (what, how long everything took to converge after it).
    convergence: Vec<(String, Duration)>,
    control_plane_exits: Vec<String>,
    outage_reported_after: Option<Duration>,
    outage_recovery: Duration,
    storm: (usize, Vec<String>),
    bad: Vec<Outcome>,
    bad_input_exits: Vec<String>,
    orphans: Vec<String>,
    entra: entra::Outage,
}

impl Run {
    /// Starts the watch, the rate sampler and both replicas, creates the fleet and waits until
    /// every resource is synced.
    pub async fn start(fleet: Arc<Fleet>, scale: Scale) -> Self {
        let sightings = observer::watch(fleet.t.client.clone(), &fleet.t.ns, fleet.ledger.clone());
        let samples = rate::sample(&fleet.t.vault, Duration::from_secs(1), Counted::Sent).0;
        let answered = rate::sample(&fleet.t.vault, Duration::from_secs(1), Counted::Answered).0;
        let replicas = Replicas::start(&fleet.t, scale.budget).await;
        let mut run = Run {
            fleet,
            scale,
            replicas,
            sightings,
            samples,
            answered,
            rss_start_kib: 0,
            kills_during_writes: 0,
            convergence: vec![],
            control_plane_exits: vec![],
            outage_reported_after: None,
            outage_recovery: Duration::ZERO,
            storm: (0, vec![]),
            bad: vec![],
            bad_input_exits: vec![],
            orphans: vec![],
            entra: entra::Outage::default(),
        };
        let created = Instant::now();
        run.fleet.create_resources().await;
        run.converge("first sync", created, Duration::from_secs(600))
            .await;
        let leader = run.replicas.leader().await;
        run.rss_start_kib = run.replicas.rss_kib(leader);
        run
    }

    /// Writes new versions at the scale's rate until aborted.
    pub fn rotate_throughout(&self, mut rng: StdRng) -> JoinHandle<()> {
        let fleet = self.fleet.clone();
        let every = Duration::from_secs_f64(1.0 / self.scale.rotations_per_second);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                fleet.rotate_random(&mut rng);
            }
        })
    }

    /// SIGKILLs the leader at random moments; every other kill lands right after a batch of
    /// forced refreshes, while Secrets and statuses are being written.
    pub async fn kills(&mut self, rng: &mut StdRng) {
        for k in 0..self.scale.kills {
            tokio::time::sleep(Duration::from_millis(rng.random_range(1500..5000))).await;
            self.replicas.revive();
            let leader = self.replicas.leader().await;
            if k % 2 == 1 {
                let some: Vec<usize> = (0..10)
                    .map(|_| rng.random_range(0..self.fleet.secrets))
                    .collect();
                self.force_refresh(some.into_iter(), &format!("kill-{k}"));
                tokio::time::sleep(Duration::from_millis(rng.random_range(0..600))).await;
                self.kills_during_writes += 1;
            }
            self.replicas.kill(leader).await;
        }
        self.converge("kills", Instant::now(), REFRESH * 3).await;
    }

    /// Sets the force-refresh annotation of VaultSecrets `vs{i}` for each `i` to `value`.
    fn force_refresh(&self, indices: impl Iterator<Item = usize>, value: &str) {
        let mut args = vec![
            "annotate",
            "--overwrite",
            "vaultsecret",
            "-n",
            &self.fleet.t.ns,
        ];
        let names: Vec<String> = indices.map(|i| format!("vs{i}")).collect();
        args.extend(names.iter().map(String::as_str));
        let annotation = format!("vaultsync.dev/force-refresh={value}");
        args.push(&annotation);
        let out = kubectl(&args, "");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Restarts kube-apiserver, then etcd; the replicas must reconnect and miss no rotation. A
    /// leader that cannot renew its Lease meanwhile stops by design and is started again.
    pub async fn control_plane_restarts(&mut self) {
        let exits_before = self.replicas.exits.len();
        for component in [Component::ApiServer, Component::Etcd] {
            shared()
                .restart(component, Duration::from_secs(120))
                .await
                .unwrap_or_else(|e| panic!("{component:?} restart: {e}"));
            self.converge(
                &format!("{component:?} restart"),
                Instant::now(),
                REFRESH * 3,
            )
            .await;
        }
        self.control_plane_exits = self.replicas.exits[exits_before..].to_vec();
    }

    /// The vault answers 503 while its clock moves ten minutes; every resource must report
    /// VaultUnavailable, and all must recover within one refresh interval of its return.
    pub async fn vault_outage(&mut self) {
        let control = world_control();
        let vault = self.fleet.t.vault.clone();
        let down = Instant::now();
        control.set_fault(
            &vault,
            Fault::Status {
                code: 503,
                remaining: None,
            },
        );
        let step = self.scale.outage / 10;
        let mut moved = 0;
        let give_up = self.scale.outage + REFRESH * 3;
        loop {
            tokio::time::sleep(step).await;
            self.replicas.revive();
            if moved < OUTAGE_VAULT_TIME {
                control.advance_clock(OUTAGE_VAULT_TIME / 10);
                moved += OUTAGE_VAULT_TIME / 10;
            }
            let reasons = self.fleet.ready_reasons().await;
            let all_report = reasons.len() == self.fleet_size()
                && reasons
                    .iter()
                    .all(|(_, r)| r.as_deref() == Some("VaultUnavailable"));
            if all_report && self.outage_reported_after.is_none() {
                self.outage_reported_after = Some(down.elapsed());
            }
            let over = down.elapsed() >= self.scale.outage && moved >= OUTAGE_VAULT_TIME;
            if (over && all_report) || down.elapsed() > give_up {
                break;
            }
        }
        // Back to the cluster's time before the vault returns: Entra checks the ServiceAccount
        // assertions (valid ten minutes by the cluster's clock) against the emulator's clock, and
        // only the vault, not the cluster, saw the ten minutes pass. Its change listing compares
        // timestamps for change, not order, so stamps from the future do no harm.
        control.advance_clock(-moved);
        control.clear_faults(&vault);
        let back = Instant::now();
        self.outage_recovery = self.converge("vault outage", back, REFRESH * 4).await;
    }

    /// Every request to the vault is answered 429 with a Retry-After for a while; the operator
    /// must pause for it and stay within its budget.
    pub async fn throttling_storm(&mut self) {
        let control = world_control();
        let vault = self.fleet.t.vault.clone();
        let (fine, sampler) = rate::sample(&vault, Duration::from_millis(100), Counted::Sent);
        control.set_fault(
            &vault,
            Fault::Throttle {
                retry_after: Some(RETRY_AFTER.as_secs() as u32),
                remaining: None,
            },
        );
        // Reads at once, whatever the scanners' phase.
        self.force_refresh(0..10, "storm");
        tokio::time::sleep(self.scale.storm).await;
        control.clear_faults(&vault);
        sampler.abort();
        let samples = fine.lock().unwrap().clone();
        self.storm = rate::retry_after_violations(&samples, RETRY_AFTER);
        self.converge("429 storm", Instant::now(), REFRESH * 3)
            .await;
    }

    /// Entra down while tokens are valid (see [`entra::outage`]); then all must converge.
    pub async fn entra_outage(&mut self) {
        let down = Instant::now();
        self.entra = entra::outage(&self.fleet, &mut self.replicas).await;
        self.converge("Entra outage", down, entra::OUTAGE + REFRESH * 2)
            .await;
    }

    /// The bad-input table, while the replicas run; none of it may stop either replica.
    pub async fn bad_inputs(&mut self) {
        self.replicas.revive();
        let exits_before = self.replicas.exits.len();
        let norole = bad_inputs::prepare(&self.fleet.t, &self.fleet.ledger).await;
        let rows = bad_inputs::rows(&self.fleet.t, &norole);
        self.bad = bad_inputs::run(&self.fleet.t, &rows).await;
        self.replicas.revive();
        self.bad_input_exits = self.replicas.exits[exits_before..].to_vec();
    }

    /// With the rotations stopped: every Secret holds its latest revision; then every 20th
    /// VaultSecret is deleted and no Secret may outlive its resource.
    pub async fn finish(&mut self, within: Duration) {
        self.converge("the end", Instant::now(), within).await;
        let started = Instant::now();
        loop {
            let stale = self.fleet.ledger.lock().unwrap().stale();
            if stale.is_empty() {
                break;
            }
            assert!(
                started.elapsed() < within,
                "never converged: {stale:?}\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let client = &self.fleet.t.client;
        let ns = &self.fleet.t.ns;
        let secrets: Api<VaultSecret> = Api::namespaced(client.clone(), ns);
        for i in (19..self.fleet.secrets).step_by(20) {
            secrets
                .delete(&format!("vs{i}"), &DeleteParams::default())
                .await
                .unwrap();
        }
        let started = Instant::now();
        loop {
            self.orphans = orphans(&self.fleet).await;
            if self.orphans.is_empty() || started.elapsed() > Duration::from_secs(60) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Waits until every fleet resource is Synced and every revision written before `since`
    /// is in its Secret (or superseded there); returns how long that took.
    async fn converge(&mut self, what: &str, since: Instant, within: Duration) -> Duration {
        loop {
            self.replicas.revive();
            let uncovered = self.fleet.ledger.lock().unwrap().uncovered_before(since);
            let reasons = self.fleet.ready_reasons().await;
            let not_synced: Vec<_> = reasons
                .iter()
                .filter(|(_, r)| r.as_deref() != Some("Synced"))
                .take(5)
                .collect();
            if uncovered.is_empty() && not_synced.is_empty() && reasons.len() == self.fleet_size() {
                let took = since.elapsed();
                println!(
                    "chaos: converged after {what} in {:.1} s",
                    took.as_secs_f64()
                );
                self.convergence.push((what.to_owned(), took));
                return took;
            }
            assert!(
                since.elapsed() < within,
                "{what}: not converged within {within:?}; stale {uncovered:?}, not synced \
                 {not_synced:?} ({} of {} listed)\n{}",
                reasons.len(),
                self.fleet_size(),
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    fn fleet_size(&self) -> usize {
        self.fleet.secrets + self.fleet.certificates
    }

    fn log_tail(&self) -> String {
        let logs = self.replicas.logs();
        let lines: Vec<&str> = logs.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Everything the table shows.
    pub async fn figures(&mut self, elapsed: Duration) -> Figures {
        self.replicas.revive();
        let leader = self.replicas.leader().await;
        let logs = self.replicas.logs();
        let material = self.fleet.ledger.lock().unwrap().secret_material().to_vec();
        let leaked = leaks::scan(&material, &logs, &self.replicas.metrics(), &self.fleet.t.ns);
        let delivery: Delivery = self.fleet.ledger.lock().unwrap().delivery();
        let samples = self.samples.lock().unwrap().clone();
        let (budget_violations, max_rate) = rate::budget_violations(&samples, self.scale.budget);
        let answered = self.answered.lock().unwrap().clone();
        let (answered_over_budget, max_answered_rate) =
            rate::budget_violations(&answered, self.scale.budget);
        let sightings = std::mem::take(&mut *self.sightings.lock().unwrap());
        Figures {
            elapsed,
            kills: self.replicas.kills,
            kills_during_writes: self.kills_during_writes,
            delivery,
            sightings,
            budget_violations,
            max_rate,
            answered_over_budget: answered_over_budget.len(),
            max_answered_rate,
            storm_bursts: self.storm.0,
            retry_after_violations: self.storm.1.clone(),
            outage_reported_after: self.outage_reported_after,
            outage_recovery: self.outage_recovery,
            convergence: self.convergence.clone(),
            control_plane_exits: self.control_plane_exits.clone(),
            bad_input_exits: self.bad_input_exits.clone(),
            all_exits: self.replicas.exits.clone(),
            panics: logs.matches("panicked").count(),
            bad: self.bad.clone(),
            leaked,
            orphans: self.orphans.clone(),
            events_per_resource: events_per_resource(&self.fleet.t.ns),
            rss_start_kib: self.rss_start_kib,
            rss_end_kib: self.replicas.rss_kib(leader),
            vault_requests: world_control().counters().by_vault(&self.fleet.t.vault),
            token_exchanges: world_control()
                .counters()
                .sum_where(|k| k.operation == "Token" && k.status == 200),
            entra: std::mem::take(&mut self.entra),
        }
    }
}

/// Managed Secrets (`vs*`, `vc*`) whose resource no longer exists.
async fn orphans(fleet: &Fleet) -> Vec<String> {
    let client = &fleet.t.client;
    let ns = &fleet.t.ns;
    let params = ListParams::default();
    let names = |list: Vec<String>| list.into_iter().collect::<std::collections::BTreeSet<_>>();
    let secrets = Api::<VaultSecret>::namespaced(client.clone(), ns)
        .list(&params)
        .await
        .unwrap();
    let certificates = Api::<VaultCertificate>::namespaced(client.clone(), ns)
        .list(&params)
        .await
        .unwrap();
    let owners = names(
        secrets
            .items
            .iter()
            .map(|r| r.metadata.name.clone().unwrap_or_default())
            .chain(
                certificates
                    .items
                    .iter()
                    .map(|r| r.metadata.name.clone().unwrap_or_default()),
            )
            .collect(),
    );
    Api::<Secret>::namespaced(client.clone(), ns)
        .list(&params)
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|s| s.metadata.name)
        .filter(|name| name.starts_with("vs") || name.starts_with("vc"))
        .filter(|name| !owners.contains(name))
        .collect()
}

/// The resource with the most Event objects in the namespace, and how many.
fn events_per_resource(ns: &str) -> (String, usize) {
    let out = kubectl(
        &[
            "get",
            "events",
            "-n",
            ns,
            "-o",
            "jsonpath={range .items[*]}{.involvedObject.name}{\"\\n\"}{end}",
        ],
        "",
    );
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for name in String::from_utf8_lossy(&out.stdout).lines() {
        *counts.entry(name.to_owned()).or_default() += 1;
    }
    counts
        .into_iter()
        .filter(|(name, _)| !name.starts_with("bad"))
        .max_by_key(|(_, n)| *n)
        .unwrap_or_default()
}
