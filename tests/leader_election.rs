//! Leader election end to end: operator processes with `--leader-elect` on one Lease, on the real
//! control plane. Only the Lease holder reconciles; when it is killed the standby takes over
//! after the lease expires, when it is terminated the standby takes over at once, and a leader
//! that loses its Lease exits non-zero.
//!
//! The world's own operator (no leader election) is never started in this binary: every tenant
//! comes from `test_namespace_without_operator`, so whatever reconciles here is one of these operators.

mod support;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use support::eventually::{check, eventually, eventually_every};
use support::kubectl;
use support::operator::{Operator, tail};
use support::pki::{self, Alg};
use support::world::{TestNamespace, test_namespace_without_operator, world_control};
use vaultsync_emulator::Fault;

/// The tests measure failover times, so they run one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const SYNC: Duration = Duration::from_secs(60);
const LEASE_NAME: &str = "vaultsync-leader";

/// Leader-election timings of one test's operators.
struct Timings {
    lease: &'static str,
    renew: &'static str,
    retry: &'static str,
}

const SHORT: Timings = Timings {
    lease: "4s",
    renew: "3s",
    retry: "500ms",
};

/// A lease long enough that a takeover well within it can only come from a release.
const LONG: Timings = Timings {
    lease: "15s",
    renew: "10s",
    retry: "500ms",
};

/// One operator with leader election on `timings`, watching only the tenant's namespace.
fn start(name: &str, t: &TestNamespace, timings: &Timings) -> Operator {
    Operator::start(
        name,
        &t.ns,
        &[
            "--namespace",
            &t.ns,
            "--leader-elect",
            "--leader-election-namespace",
            &t.ns,
            "--leader-election-lease-name",
            LEASE_NAME,
            "--leader-election-lease-duration",
            timings.lease,
            "--leader-election-renew-deadline",
            timings.renew,
            "--leader-election-retry-period",
            timings.retry,
        ],
    )
}

fn logs(operators: &[&Operator]) -> String {
    operators
        .iter()
        .map(|op| format!("--- {} ---\n{}", op.name, tail(&op.log())))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The Lease's current `holderIdentity` ("" when free or absent).
async fn holder(t: &TestNamespace) -> String {
    Api::<Lease>::namespaced(t.client.clone(), &t.ns)
        .get_opt(LEASE_NAME)
        .await
        .unwrap()
        .and_then(|lease| lease.spec?.holder_identity)
        .unwrap_or_default()
}

/// Waits until one of `operators` holds the Lease; returns its index.
async fn wait_leader(t: &TestNamespace, operators: &[&Operator]) -> usize {
    eventually_every(
        "a replica acquiring the lease",
        SYNC,
        Duration::from_millis(50),
        || async {
            let holder = holder(t).await;
            operators
                .iter()
                .position(|op| op.is(&holder))
                .ok_or_else(|| format!("holder {holder:?}\n{}", logs(operators)))
        },
    )
    .await
}

fn apply_secret(t: &TestNamespace, name: &str) {
    t.apply(name, "  data:\n  - key: password\n    name: db-password\n");
}

fn force_refresh(t: &TestNamespace, name: &str) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    t.force_refresh("vaultsecret", name, &now.to_string());
}

/// Two operators on one Lease with `app` synced: asserts that exactly the holder reconciled and
/// returns (leader, standby).
async fn two_operators_one_reconciling(
    t: &TestNamespace,
    timings: &Timings,
) -> (Operator, Operator) {
    t.set("db-password", "pw-one");
    let a = start("op-a", t, timings);
    let b = start("op-b", t, timings);
    a.wait_serving().await;
    b.wait_serving().await;
    let leader_index = wait_leader(t, &[&a, &b]).await;
    let (leader, standby) = if leader_index == 0 { (a, b) } else { (b, a) };

    apply_secret(t, "app");
    t.wait_reason("app", "Synced", SYNC).await;
    assert_eq!(
        t.secret_data("app").await.expect("Secret exists")["password"],
        "pw-one"
    );
    // Give a misbehaving standby every chance to show up in the counters.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let both = logs(&[&leader, &standby]);
    assert!(leader.is(&holder(t).await), "{both}");
    assert!(leader.reconciles() > 0.0, "{both}");
    assert!(leader.vault_requests() > 0.0, "{both}");
    assert!(leader.audit_lines() > 0, "{both}");
    assert_eq!(leader.leader_gauge(), 1.0);
    assert_eq!(standby.reconciles(), 0.0, "the standby reconciled\n{both}");
    assert_eq!(
        standby.vault_requests(),
        0.0,
        "the standby read the vault\n{both}"
    );
    assert_eq!(
        standby.audit_lines(),
        0,
        "the standby read the vault\n{both}"
    );
    assert_eq!(standby.leader_gauge(), 0.0);
    assert!(standby.log().contains("waiting for leadership"), "{both}");
    // A standby is healthy and ready: it only waits for the Lease.
    assert_eq!(standby.get("/readyz"), (200, "ok".to_owned()));
    assert_eq!(leader.get("/readyz"), (200, "ok".to_owned()));
    (leader, standby)
}

/// After a failover: the new leader logged its acquisition before any vault read of its own.
fn assert_reconciled_only_after_acquiring(new_leader: &Operator) {
    let log = new_leader.log();
    let acquired = log
        .find("acquired leadership")
        .expect("the new leader logged its acquisition");
    let first_audit = log
        .find(r#""target":"vaultsync::audit""#)
        .expect("the new leader read the vault");
    assert!(
        acquired < first_audit,
        "a vault read before leadership:\n{}",
        tail(&log)
    );
}

/// Polls until the Lease names `new_leader` and `app` holds `value`; returns the elapsed times
/// (lease acquired, Secret synced) since `from`.
async fn wait_takeover(
    t: &TestNamespace,
    new_leader: &Operator,
    value: &str,
    from: Instant,
    bound: Duration,
) -> (Duration, Duration) {
    // Measured from `from`, so the bound is what is left of it.
    let within = bound.saturating_sub(from.elapsed());
    let acquired = std::sync::Mutex::new(None);
    eventually_every(
        "the takeover",
        within,
        Duration::from_millis(50),
        || async {
            let holds = new_leader.is(&holder(t).await);
            let data = t.secret_data("app").await.unwrap_or_default();
            let mut lease_at = acquired.lock().unwrap();
            if lease_at.is_none() && holds {
                *lease_at = Some(from.elapsed());
            }
            match *lease_at {
                Some(at) if data.get("password").map(String::as_str) == Some(value) => {
                    Ok((at, from.elapsed()))
                }
                at => Err(format!(
                    "lease acquired after {at:?}\n{}",
                    logs(&[new_leader])
                )),
            }
        },
    )
    .await
}

#[tokio::test]
async fn only_the_leader_reconciles_and_the_standby_takes_over_after_a_kill() {
    let _serial = SERIAL.lock().await;
    let t = test_namespace_without_operator("le-kill").await;
    let (mut leader, standby) = two_operators_one_reconciling(&t, &SHORT).await;

    leader.child.kill().expect("SIGKILL the leader");
    let killed = Instant::now();
    leader.wait_exit(Duration::from_secs(10)).await;
    t.set("db-password", "pw-two");
    force_refresh(&t, "app");
    let (acquired, synced) =
        wait_takeover(&t, &standby, "pw-two", killed, Duration::from_secs(30)).await;
    println!(
        "failover after SIGKILL (lease 4s, renew deadline 3s, retry 500ms): lease acquired after \
         {:.2}s, Secret synced after {:.2}s",
        acquired.as_secs_f64(),
        synced.as_secs_f64()
    );
    // The killed leader held the lease: the standby had to wait for it to expire.
    assert!(
        acquired >= Duration::from_secs(3),
        "took over a live lease after {acquired:?}"
    );
    assert_eq!(standby.leader_gauge(), 1.0);
    // The Secret is written before the reconcile is counted: give the counter a moment.
    eventually(
        "the new leader counting a reconcile",
        Duration::from_secs(5),
        || async { check(standby.reconciles() > 0.0, standby.reconciles()) },
    )
    .await;
    assert_reconciled_only_after_acquiring(&standby);
    // A new resource is synced by the new leader too.
    apply_secret(&t, "second");
    t.wait_reason("second", "Synced", SYNC).await;
}

#[tokio::test]
async fn terminating_the_leader_releases_the_lease_for_an_immediate_takeover() {
    let _serial = SERIAL.lock().await;
    let t = test_namespace_without_operator("le-term").await;
    let (mut leader, standby) = two_operators_one_reconciling(&t, &LONG).await;

    t.set("db-password", "pw-three");
    leader.signal("-TERM");
    let terminated = Instant::now();
    let status = leader.wait_exit(Duration::from_secs(20)).await;
    assert!(status.success(), "graceful stop exits 0: {status:?}");
    assert!(
        leader.log().contains("released leadership"),
        "{}",
        tail(&leader.log())
    );
    force_refresh(&t, "app");
    let (acquired, synced) = wait_takeover(
        &t,
        &standby,
        "pw-three",
        terminated,
        Duration::from_secs(30),
    )
    .await;
    println!(
        "failover after SIGTERM (lease 15s, renew deadline 10s, retry 500ms): lease acquired \
         after {:.2}s, Secret synced after {:.2}s",
        acquired.as_secs_f64(),
        synced.as_secs_f64()
    );
    // Without the release the standby would have waited out most of the 15 s lease.
    assert!(
        acquired < Duration::from_secs(5),
        "takeover after {acquired:?} is no faster than expiry"
    );
    assert_reconciled_only_after_acquiring(&standby);
}

#[tokio::test]
async fn a_leader_whose_lease_is_taken_stops_and_exits_non_zero() {
    let _serial = SERIAL.lock().await;
    let t = test_namespace_without_operator("le-lost").await;
    let mut leader = start("op-solo", &t, &SHORT);
    leader.wait_serving().await;
    wait_leader(&t, &[&leader]).await;
    assert_eq!(leader.leader_gauge(), 1.0);

    let out = kubectl(
        &[
            "patch",
            "lease",
            LEASE_NAME,
            "-n",
            &t.ns,
            "--type=merge",
            "-p",
            r#"{"spec":{"holderIdentity":"intruder","leaseDurationSeconds":60}}"#,
        ],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stolen = Instant::now();
    let status = leader.wait_exit(Duration::from_secs(10)).await;
    println!(
        "leader exited {:.2}s after its lease was taken",
        stolen.elapsed().as_secs_f64()
    );
    assert!(
        !status.success(),
        "losing the lease exits non-zero: {status:?}"
    );
    assert!(
        leader.log().contains("lost leadership"),
        "{}",
        tail(&leader.log())
    );
    assert_eq!(holder(&t).await, "intruder");
}

/// Lease `renewTime`s seen while watching for `during`, failing at once if the holder changes
/// or `leader` exits.
async fn renewals_while_held(
    t: &TestNamespace,
    leader: &mut Operator,
    during: Duration,
) -> Vec<Instant> {
    let leases = Api::<Lease>::namespaced(t.client.clone(), &t.ns);
    let started = Instant::now();
    let mut renewals = Vec::new();
    let mut last = None;
    while started.elapsed() < during {
        assert!(
            leader.child.try_wait().unwrap().is_none(),
            "the leader exited:\n{}",
            tail(&leader.log())
        );
        let spec = leases.get(LEASE_NAME).await.unwrap().spec.unwrap();
        let holder = spec.holder_identity.unwrap_or_default();
        assert!(leader.is(&holder), "the lease moved to {holder:?}");
        let renewed = spec.renew_time.map(|t| t.0);
        if renewed != last {
            renewals.push(Instant::now());
            last = renewed;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    renewals
}

#[tokio::test]
async fn the_leader_keeps_its_lease_while_refusing_hostile_vault_content() {
    let _serial = SERIAL.lock().await;
    let t = test_namespace_without_operator("hostile-lease").await;
    let mut leader = start("hostile", &t, &SHORT);
    wait_leader(&t, &[&leader]).await;

    let chain = pki::chain(Alg::Ec, "Lease Root", -1, 365);
    let certs = [&chain.leaf, &chain.inter, &chain.root];
    // More certificates than any chain holds (distinct, so that none is dropped as a repeat).
    let many: Vec<pki::Cert> = (0..14)
        .flat_map(|n| {
            let c = pki::chain(Alg::Ec, &format!("Many {n}"), -1, 365);
            [c.leaf, c.inter, c.root]
        })
        .collect();
    let hostile = [
        (
            "iterations",
            STANDARD.encode(pki::pfx_with_iterations(&chain.key_pem, &certs, 1_100_000)),
            "Pkcs12IterationsTooHigh",
        ),
        (
            "many",
            pki::pem_bundle(Some(&chain.key_pem), &many.iter().collect::<Vec<_>>()),
            "CertificateTooLarge",
        ),
        (
            "huge",
            "A".repeat(50 * 1024 * 1024),
            "VaultResponseTooLarge",
        ),
    ];
    for (name, value, _) in &hostile {
        // Imported whole, then its backing secret replaced: the emulator would refuse them.
        if *name == "iterations" {
            t.import_pfx(name, pki::pfx(&chain.key_pem, &certs));
        } else {
            t.import_pem(name, &pki::pem_bundle(Some(&chain.key_pem), &certs), true);
        }
        world_control()
            .overwrite_certificate_secret(&t.vault, name, value)
            .unwrap();
        t.apply_certificate(name, &format!("  certificate:\n    name: {name}\n"));
    }
    t.set("bulk-a", "a");
    world_control().set_fault(&t.vault, Fault::EndlessPaging);
    t.apply("endless", "  dataFrom:\n  - namePrefix: bulk-\n");

    // Renewals every retry period (500 ms) throughout; a blocked runtime would miss the 3 s
    // renew deadline and the leader would give up and exit.
    let renewals = renewals_while_held(&t, &mut leader, Duration::from_secs(15)).await;
    let longest = renewals
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    eprintln!(
        "{} renewals in 15 s while refusing; longest gap {longest:?}",
        renewals.len()
    );
    assert!(renewals.len() >= 10, "{} renewals", renewals.len());
    assert!(longest < Duration::from_secs(3), "renewal gap {longest:?}");

    for (name, _, reason) in &hostile {
        t.wait_certificate_reason(name, reason, SYNC).await;
    }
    t.wait_reason("endless", "VaultResponseTooLarge", SYNC)
        .await;
    world_control().clear_faults(&t.vault);
    assert!(leader.child.try_wait().unwrap().is_none());
}
