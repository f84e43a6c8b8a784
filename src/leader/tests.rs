use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::ObjectMeta;
use kube::core::Status;
use tokio::time::Instant;

use super::config::identity_from;
use super::rules::{Observation, Plan, plan, released};
use super::store::LeaseStore;
use super::{Attempt, ElectionConfig, Elector};
use crate::telemetry::Metrics;

const LEASE: Duration = Duration::from_secs(4);
const RENEW: Duration = Duration::from_secs(3);
const RETRY: Duration = Duration::from_millis(500);

fn config(identity: &str) -> ElectionConfig {
    ElectionConfig {
        lease_name: "vaultsync-leader".into(),
        namespace: "ops".into(),
        identity: identity.into(),
        lease_duration: LEASE,
        renew_deadline: RENEW,
        retry_period: RETRY,
    }
}

fn api_error(code: u16, reason: &str) -> kube::Error {
    kube::Error::Api(Status::failure(reason, reason).with_code(code).boxed())
}

/// An in-memory Lease with resourceVersion checks, an outage switch, and a yield after `get`
/// reads, so that concurrent candidates interleave between their read and their write.
#[derive(Default)]
struct FakeLeases {
    lease: Mutex<Option<Lease>>,
    version: AtomicU64,
    down: AtomicBool,
}

impl FakeLeases {
    fn check_up(&self) -> Result<(), kube::Error> {
        if self.down.load(Ordering::SeqCst) {
            Err(api_error(503, "ServiceUnavailable"))
        } else {
            Ok(())
        }
    }

    fn stored(&self, mut lease: Lease) -> Lease {
        let version = self.version.fetch_add(1, Ordering::SeqCst) + 1;
        lease.metadata.resource_version = Some(version.to_string());
        *self.lease.lock().unwrap() = Some(lease.clone());
        lease
    }

    fn holder(&self) -> Option<String> {
        self.lease
            .lock()
            .unwrap()
            .as_ref()
            .and_then(|l| l.spec.as_ref()?.holder_identity.clone())
    }

    fn spec(&self) -> LeaseSpec {
        self.lease
            .lock()
            .unwrap()
            .as_ref()
            .and_then(|l| l.spec.clone())
            .unwrap()
    }

    /// Overwrites the holder as another process would.
    fn steal(&self, holder: &str) {
        let mut lease = self.lease.lock().unwrap().clone().unwrap();
        let spec = lease.spec.as_mut().unwrap();
        spec.holder_identity = Some(holder.into());
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        self.stored(lease);
    }
}

#[async_trait]
impl LeaseStore for FakeLeases {
    async fn get(&self) -> Result<Option<Lease>, kube::Error> {
        self.check_up()?;
        let current = self.lease.lock().unwrap().clone();
        tokio::task::yield_now().await;
        Ok(current)
    }

    async fn create(&self, lease: &Lease) -> Result<Lease, kube::Error> {
        self.check_up()?;
        if self.lease.lock().unwrap().is_some() {
            return Err(api_error(409, "AlreadyExists"));
        }
        Ok(self.stored(lease.clone()))
    }

    async fn replace(&self, lease: &Lease) -> Result<Lease, kube::Error> {
        self.check_up()?;
        let current = self.lease.lock().unwrap().clone();
        let current_version = current.and_then(|l| l.metadata.resource_version);
        if current_version.is_none() || current_version != lease.metadata.resource_version {
            return Err(api_error(409, "Conflict"));
        }
        Ok(self.stored(lease.clone()))
    }
}

fn elector(store: &Arc<FakeLeases>, identity: &str) -> (Elector, Metrics) {
    let metrics = Metrics::new();
    let store: Arc<dyn LeaseStore> = store.clone();
    (
        Elector::with_store(store, config(identity), metrics.clone()),
        metrics,
    )
}

fn leader_gauge(metrics: &Metrics) -> String {
    metrics
        .encode()
        .lines()
        .find_map(|line| line.strip_prefix("vaultsync_leader "))
        .unwrap()
        .to_owned()
}

fn lease_with(spec: LeaseSpec) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some("vaultsync-leader".into()),
            resource_version: Some("7".into()),
            ..Default::default()
        },
        spec: Some(spec),
    }
}

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + second).unwrap()
}

fn held_by(holder: &str) -> LeaseSpec {
    LeaseSpec {
        holder_identity: Some(holder.into()),
        acquire_time: Some(MicroTime(at(0))),
        renew_time: Some(MicroTime(at(5))),
        lease_duration_seconds: Some(15),
        lease_transitions: Some(3),
        ..Default::default()
    }
}

fn written(planned: Plan) -> Lease {
    match planned {
        Plan::Write(lease) => *lease,
        other => panic!("expected a write, got {other:?}"),
    }
}

#[test]
fn no_lease_is_created_naming_us() {
    let Plan::Create(spec) = plan(None, "me", false, at(9), 4) else {
        panic!("expected a create");
    };
    assert_eq!(spec.holder_identity.as_deref(), Some("me"));
    assert_eq!(spec.lease_duration_seconds, Some(4));
    assert_eq!(spec.lease_transitions, Some(0));
    assert_eq!(spec.acquire_time, Some(MicroTime(at(9))));
    assert_eq!(spec.renew_time, Some(MicroTime(at(9))));
}

#[test]
fn a_valid_lease_of_another_holder_is_left_alone() {
    let lease = lease_with(held_by("other"));
    assert_eq!(
        plan(Some(&lease), "me", false, at(9), 4),
        Plan::HeldBy("other".into())
    );
}

#[test]
fn an_expired_lease_is_taken_with_one_more_transition_and_the_read_version() {
    let lease = lease_with(held_by("other"));
    let next = written(plan(Some(&lease), "me", true, at(30), 4));
    assert_eq!(next.metadata.resource_version.as_deref(), Some("7"));
    let spec = next.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("me"));
    assert_eq!(spec.lease_transitions, Some(4));
    assert_eq!(spec.acquire_time, Some(MicroTime(at(30))));
    assert_eq!(spec.renew_time, Some(MicroTime(at(30))));
    assert_eq!(spec.lease_duration_seconds, Some(4));
}

#[test]
fn a_free_or_released_lease_is_taken_at_once() {
    for holder in [None, Some(String::new())] {
        let lease = lease_with(LeaseSpec {
            holder_identity: holder,
            ..held_by("x")
        });
        let spec = written(plan(Some(&lease), "me", false, at(6), 4))
            .spec
            .unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some("me"));
        assert_eq!(spec.lease_transitions, Some(4));
    }
    let empty = Lease {
        spec: None,
        ..lease_with(LeaseSpec::default())
    };
    let spec = written(plan(Some(&empty), "me", false, at(6), 4))
        .spec
        .unwrap();
    assert_eq!(spec.lease_transitions, Some(1));
}

#[test]
fn our_own_lease_is_renewed_keeping_acquire_time_and_transitions() {
    let lease = lease_with(held_by("me"));
    let spec = written(plan(Some(&lease), "me", false, at(7), 4))
        .spec
        .unwrap();
    assert_eq!(spec.acquire_time, Some(MicroTime(at(0))));
    assert_eq!(spec.renew_time, Some(MicroTime(at(7))));
    assert_eq!(spec.lease_transitions, Some(3));
}

#[test]
fn release_clears_only_our_own_holdership() {
    let ours = lease_with(held_by("me"));
    let spec = released(&ours, "me", at(8)).unwrap().spec.unwrap();
    assert_eq!(spec.holder_identity, None);
    assert_eq!(spec.lease_duration_seconds, Some(1));
    assert_eq!(spec.lease_transitions, Some(3));
    assert!(released(&lease_with(held_by("other")), "me", at(8)).is_none());
}

#[test]
fn expiry_is_timed_from_when_the_record_last_changed_locally() {
    let start = Instant::now();
    let mut seen = Observation::new(start);
    let record = held_by("other");
    seen.update(Some(&record), start);
    assert!(!seen.expired(start + Duration::from_secs(14), Duration::from_secs(99)));
    // The same record again does not restart the clock...
    seen.update(Some(&record), start + Duration::from_secs(10));
    assert!(seen.expired(start + Duration::from_secs(15), Duration::from_secs(99)));
    // ...a renewed one does.
    let renewed = LeaseSpec {
        renew_time: Some(MicroTime(at(20))),
        ..record
    };
    seen.update(Some(&renewed), start + Duration::from_secs(15));
    assert!(!seen.expired(start + Duration::from_secs(29), Duration::from_secs(99)));
    assert!(seen.expired(start + Duration::from_secs(30), Duration::from_secs(99)));
}

#[test]
fn timings_must_keep_leaders_from_overlapping() {
    assert_eq!(config("me").validate(), Ok(()));
    assert_eq!(config("me").lease_seconds(), 4);
    let with = |lease: u64, renew: u64, retry: u64| ElectionConfig {
        lease_duration: Duration::from_millis(lease),
        renew_deadline: Duration::from_millis(renew),
        retry_period: Duration::from_millis(retry),
        ..config("me")
    };
    assert!(with(10_000, 10_000, 2_000).validate().is_err());
    assert!(with(15_000, 10_000, 10_000).validate().is_err());
    assert!(with(15_000, 10_000, 0).validate().is_err());
    assert!(with(900, 500, 100).validate().is_err());
    assert_eq!(with(1_500, 1_000, 100).lease_seconds(), 2);
    let unnamed = ElectionConfig {
        lease_name: String::new(),
        ..config("me")
    };
    assert!(unnamed.validate().is_err());
}

#[test]
fn identity_prefers_pod_name_then_host_and_adds_the_suffix() {
    assert_eq!(
        identity_from(Some("pod-0"), Some("host"), "ab12"),
        "pod-0_ab12"
    );
    assert_eq!(identity_from(Some(""), Some("host\n"), "ab12"), "host_ab12");
    assert_eq!(identity_from(None, None, "ab12"), "vaultsync_ab12");
    let (a, b) = (super::default_identity(), super::default_identity());
    assert_ne!(a, b, "every process gets its own suffix");
}

#[tokio::test(start_paused = true)]
async fn racing_candidates_one_wins_the_other_conflicts() {
    let store = Arc::new(FakeLeases::default());
    let (mut a, _) = elector(&store, "a");
    let (mut b, _) = elector(&store, "b");
    // Both create: exactly one succeeds.
    let (ra, rb) = tokio::join!(a.try_acquire_or_renew(), b.try_acquire_or_renew());
    let mut outcomes = [ra.unwrap(), rb.unwrap()];
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(outcomes, [Attempt::Conflict, Attempt::Leading]);
    // Once it is released, both read it free and replace it: the stale version loses.
    let winner = store.holder().unwrap();
    let (winner, loser) = if winner == "a" {
        (&a, &mut b)
    } else {
        (&b, &mut a)
    };
    assert!(winner.release_lease().await.unwrap());
    let (mut c, _) = elector(&store, "c");
    let (rl, rc) = tokio::join!(loser.try_acquire_or_renew(), c.try_acquire_or_renew());
    let mut outcomes = [rl.unwrap(), rc.unwrap()];
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(outcomes, [Attempt::Conflict, Attempt::Leading]);
}

#[tokio::test(start_paused = true)]
async fn standby_waits_while_the_leader_renews_and_takes_over_after_it_dies() {
    let store = Arc::new(FakeLeases::default());
    let (a, metrics_a) = elector(&store, "a");
    let (b, metrics_b) = elector(&store, "b");
    let leader = a.acquire().await;
    assert_eq!(leader.identity(), "a");
    assert_eq!(leader_gauge(&metrics_a), "1");
    let standby = tokio::spawn(b.acquire());
    // Ten lease durations of renewals: the standby never gets in.
    tokio::time::sleep(LEASE * 10).await;
    assert!(!standby.is_finished());
    assert_eq!(store.holder().as_deref(), Some("a"));
    assert_eq!(leader_gauge(&metrics_b), "0");
    // The leader dies without releasing (its renewer stops with it).
    let died = Instant::now();
    drop(leader);
    let b_leader = standby.await.unwrap();
    let failover = died.elapsed();
    assert_eq!(store.holder().as_deref(), Some("b"));
    assert_eq!(leader_gauge(&metrics_b), "1");
    assert!(
        failover >= LEASE - RETRY,
        "took over too early: {failover:?}"
    );
    assert!(
        failover <= LEASE + RETRY * 3,
        "took over too late: {failover:?}"
    );
    assert_eq!(store.spec().lease_transitions, Some(1));
    drop(b_leader);
}

#[tokio::test(start_paused = true)]
async fn release_hands_over_within_one_retry_period() {
    let store = Arc::new(FakeLeases::default());
    let (a, metrics_a) = elector(&store, "a");
    let (b, _) = elector(&store, "b");
    let leader = a.acquire().await;
    let standby = tokio::spawn(b.acquire());
    tokio::time::sleep(LEASE * 2).await;
    let released_at = Instant::now();
    leader.release().await;
    assert_eq!(leader_gauge(&metrics_a), "0");
    let _b = standby.await.unwrap();
    let handover = released_at.elapsed();
    assert!(handover <= RETRY.mul_f64(1.3), "handover took {handover:?}");
    assert_eq!(store.holder().as_deref(), Some("b"));
}

#[tokio::test(start_paused = true)]
async fn leadership_is_lost_at_the_renew_deadline_when_renewals_fail() {
    let store = Arc::new(FakeLeases::default());
    let (a, metrics) = elector(&store, "a");
    let leader = a.acquire().await;
    tokio::time::sleep(RETRY * 3).await;
    store.down.store(true, Ordering::SeqCst);
    let outage = Instant::now();
    leader.lost().await;
    let after = outage.elapsed();
    assert_eq!(leader_gauge(&metrics), "0");
    // The last renewal was sent at most one retry period before the outage.
    assert!(after <= RENEW, "gave up after {after:?}");
    assert!(after >= RENEW - RETRY, "gave up too early: {after:?}");
    // Given up strictly before anyone else could consider the lease expired.
    assert!(after < LEASE);
    // Releasing after loss writes nothing.
    store.down.store(false, Ordering::SeqCst);
    leader.release().await;
    assert_eq!(store.holder().as_deref(), Some("a"));
}

#[tokio::test(start_paused = true)]
async fn leadership_is_lost_at_once_when_another_holder_takes_the_lease() {
    let store = Arc::new(FakeLeases::default());
    let (a, metrics) = elector(&store, "a");
    let leader = a.acquire().await;
    store.steal("intruder");
    let stolen = Instant::now();
    leader.lost().await;
    assert!(stolen.elapsed() <= RETRY, "took {:?}", stolen.elapsed());
    assert_eq!(leader_gauge(&metrics), "0");
}

#[tokio::test(start_paused = true)]
async fn leadership_is_lost_when_the_lease_is_deleted_and_not_recreated_by_the_leader() {
    let store = Arc::new(FakeLeases::default());
    let (a, metrics) = elector(&store, "a");
    let leader = a.acquire().await;
    *store.lease.lock().unwrap() = None;
    let deleted = Instant::now();
    leader.lost().await;
    assert!(deleted.elapsed() <= RETRY, "took {:?}", deleted.elapsed());
    assert_eq!(leader_gauge(&metrics), "0");
    assert!(
        store.lease.lock().unwrap().is_none(),
        "a standby may create it"
    );
}

#[test]
fn a_record_without_a_duration_is_not_presumed_dead() {
    let start = Instant::now();
    let mut seen = Observation::new(start);
    let mut spec = held_by("b");
    spec.lease_duration_seconds = None;
    seen.update(Some(&spec), start);
    assert!(!seen.expired(start + Duration::from_secs(5), Duration::from_secs(15)));
    assert!(seen.expired(start + Duration::from_secs(15), Duration::from_secs(15)));
}

#[tokio::test(start_paused = true)]
async fn a_short_outage_within_the_deadline_keeps_leadership() {
    let store = Arc::new(FakeLeases::default());
    let (a, _) = elector(&store, "a");
    let leader = a.acquire().await;
    store.down.store(true, Ordering::SeqCst);
    tokio::time::sleep(RENEW / 2).await;
    store.down.store(false, Ordering::SeqCst);
    tokio::select! {
        () = leader.lost() => panic!("leadership lost during a short outage"),
        () = tokio::time::sleep(LEASE * 3) => {}
    }
    assert_eq!(store.holder().as_deref(), Some("a"));
}
