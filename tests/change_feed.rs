//! The vault change feed end to end, each test with its own operator watching only its
//! namespaces: idle refresh cycles cost listings, not per-resource reads; a rotation wakes only
//! its followers within one interval; a restarted operator is Ready again without reading a
//! value; scanners come and go with the resources that use them.
//!
//! The world's own operator is never started in this binary (every namespace comes from
//! `test_namespace_without_operator`), so whatever reads the vault here is one of these.

mod support;

use std::time::Duration;

use support::eventually::{check, eventually};
use support::operator::Operator;
use support::pki::{self, Alg, pem_bundle};
use support::world::{TestNamespace, test_namespace_without_operator, world_control};
use vaultsync::crd::VaultSecret;
use vaultsync_emulator::Permission;

const SYNC: Duration = Duration::from_secs(60);

fn single(name: &str, interval: &str) -> String {
    format!("  refreshInterval: {interval}\n  data:\n  - key: value\n    name: {name}\n")
}

/// An operator watching only `namespaces`.
fn operator(name: &str, namespaces: &[&TestNamespace]) -> Operator {
    let list: Vec<&str> = namespaces.iter().map(|t| t.ns.as_str()).collect();
    let joined = list.join(",");
    Operator::start(name, list[0], &["--namespace", &joined])
}

/// Requests of `operation` the emulator answered for `t`'s vault, without the unauthenticated
/// one that meets the vault's challenge (the first request, whatever its operation: a first sync
/// reads before anything lists).
fn served(t: &TestNamespace, operation: &str) -> u64 {
    let counters = world_control().counters();
    counters.by_op(&t.vault, operation) - counters.by_op_status(&t.vault, operation, 401)
}

#[tokio::test]
async fn idle_cycles_list_and_a_rotation_wakes_only_its_follower() {
    let t = test_namespace_without_operator("feedpoll").await;
    let _operator = operator("feed-poll", &[&t]);
    for i in 0..8 {
        t.set(&format!("s{i}"), &format!("poll-value-{i}"));
    }
    // Written a second before the first read: see `idle_refreshes_write_nothing_to_the_api_server`.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for i in 0..8 {
        t.apply(&format!("vs{i}"), &single(&format!("s{i}"), "30s"));
    }
    for i in 0..8 {
        t.wait_reason(&format!("vs{i}"), "Synced", SYNC).await;
    }
    let (reads, lists) = (served(&t, "GetSecret"), served(&t, "ListSecrets"));
    assert_eq!(reads, 8, "one read per resource for the first sync");
    let vault = t.vault.to_ascii_lowercase();
    let challenges = world_control()
        .counters()
        .sum_where(|k| k.vault == vault && k.status == 401);
    assert_eq!(
        challenges, 1,
        "one unauthenticated request meets the vault's challenge; the rest wait for it"
    );

    // Two scan periods of 30 s: listings only.
    tokio::time::sleep(Duration::from_secs(65)).await;
    assert_eq!(served(&t, "GetSecret"), reads, "idle cycles read no value");
    let idle_lists = served(&t, "ListSecrets") - lists;
    assert!(
        (2..=3).contains(&idle_lists),
        "one listing per scan period for all eight resources, not one each: {idle_lists}"
    );

    t.set("s3", "poll-value-3-rotated");
    eventually(
        "the rotation within one interval",
        Duration::from_secs(40),
        || async {
            let value = t.secret_data("vs3").await.unwrap_or_default();
            check(value["value"] == "poll-value-3-rotated", value)
        },
    )
    .await;
    // A whole interval more: every resource's own refresh came and went.
    tokio::time::sleep(Duration::from_secs(32)).await;
    assert_eq!(
        served(&t, "GetSecret"),
        reads + 1,
        "only the rotated secret is read again"
    );
    t.assert_no_leak(&["poll-value-3", "poll-value-3-rotated"])
        .await;
}

#[tokio::test]
async fn idle_key_refreshes_list_keys_and_a_new_key_version_is_found() {
    let t = test_namespace_without_operator("feedkeys").await;
    let control = world_control();
    control.assign_role(&t.client_id, &t.vault, &[Permission::KeysRead]);
    control
        .create_key(&t.vault, "signer", "RSA", Some(2048))
        .unwrap();
    control.create_key(&t.vault, "device", "EC", None).unwrap();
    // Written a second before the first read: a version read within the second it was written
    // is read once more at the next refresh (see `idle_refreshes_write_nothing_to_the_api_server`).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let operator = operator("feed-keys", &[&t]);
    let key = |name: &str, format: &str| {
        format!(
            "  refreshInterval: 30s\n  keys:\n  - key: public\n    name: {name}\n    format: {format}\n"
        )
    };
    t.apply("signer-pem", &key("signer", "PEM"));
    t.apply("device-pem", &key("device", "PEM"));
    t.apply("device-jwk", &key("device", "JWK"));
    for name in ["signer-pem", "device-pem", "device-jwk"] {
        t.wait_reason(name, "Synced", SYNC).await;
    }
    let reads = served(&t, "GetKey");
    assert!(
        (2..=3).contains(&reads),
        "one read per key, or per resource, for the first syncs: {reads}"
    );
    let lists = served(&t, "ListKeys");

    // Two scan periods of 30 s: key listings only.
    tokio::time::sleep(Duration::from_secs(65)).await;
    assert_eq!(served(&t, "GetKey"), reads, "idle cycles read no key");
    let idle_lists = served(&t, "ListKeys") - lists;
    assert!(
        (2..=3).contains(&idle_lists),
        "one key listing per scan period for all three resources: {idle_lists}"
    );

    // Audit lines, one per resource that read the key (a shared request logs for each).
    let device_reads = || {
        operator
            .log()
            .lines()
            .filter(|l| l.contains("\"vault read\"") && l.contains("\"object\":\"device\""))
            .count()
    };
    let device_reads_before = device_reads();
    let rotated = control
        .create_key(&t.vault, "signer", "RSA", Some(2048))
        .unwrap();
    t.wait_for(
        "signer-pem",
        "the new key version within one interval",
        Duration::from_secs(45),
        |vs: &VaultSecret| {
            vs.status
                .as_ref()
                .is_some_and(|s| s.versions.iter().all(|v| v.version == rotated))
        },
    )
    .await;
    // A whole interval more: every resource's own refresh came and went.
    tokio::time::sleep(Duration::from_secs(32)).await;
    let read_again = served(&t, "GetKey") - reads;
    // Twice when the new version was first read within the second it was written (that read is
    // made once more): never the unchanged key.
    assert!(
        (1..=2).contains(&read_again),
        "the key with a new version is read again: {read_again}"
    );
    assert_eq!(
        device_reads(),
        device_reads_before,
        "the unchanged key is not read again"
    );
}

#[tokio::test]
async fn a_restarted_operator_is_ready_again_without_reading_a_value() {
    let t = test_namespace_without_operator("feedrestart").await;
    t.set("lone", "restart-lone");
    t.set("pair-a", "restart-a");
    t.set("pair-b", "restart-b");
    t.set("bulk-x", "restart-x");
    t.apply("lone", &single("lone", "1h"));
    t.apply(
        "pair",
        "  data:\n  - key: a\n    name: pair-a\n  - key: b\n    name: pair-b\n",
    );
    t.apply("bulk", "  dataFrom:\n  - namePrefix: bulk-\n");
    world_control().assign_role(&t.client_id, &t.vault, &[Permission::KeysRead]);
    world_control()
        .create_key(&t.vault, "restart-key", "EC", None)
        .unwrap();
    t.apply(
        "keyed",
        "  keys:\n  - key: public.jwk\n    name: restart-key\n    format: JWK\n",
    );
    let chain = pki::chain(Alg::Ec, "Restart Root", -1, 365);
    t.import_pem(
        "site",
        &pem_bundle(
            Some(&chain.key_pem),
            &[&chain.leaf, &chain.inter, &chain.root],
        ),
        true,
    );
    t.apply_certificate("site", "  certificate:\n    name: site\n");
    // Written a second before the first read: a value read within the second its version was
    // written is read once more, by a restarted operator too (the status says so).
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let mut first = operator("feed-restart-1", &[&t]);
    for name in ["lone", "pair", "bulk", "keyed"] {
        t.wait_reason(name, "Synced", SYNC).await;
    }
    t.wait_certificate_reason("site", "Synced", SYNC).await;
    first.signal("-TERM");
    first.wait_exit(SYNC).await;

    let reads = || served(&t, "GetSecret") + served(&t, "GetCertificate") + served(&t, "GetKey");
    let reads_before = reads();
    let second = operator("feed-restart-2", &[&t]);
    second.wait_serving().await;
    eventually("five syncs by the new operator", SYNC, || async {
        let synced = second.metric_sum("vaultsync_last_sync_timestamp_seconds");
        let count = second
            .get("/metrics")
            .1
            .lines()
            .filter(|l| l.starts_with("vaultsync_last_sync_timestamp_seconds{"))
            .count();
        check(count == 5 && synced > 0.0, count)
    })
    .await;
    assert_eq!(
        reads(),
        reads_before,
        "values, certificates and keys unchanged in the vault are not read again"
    );
    for name in ["lone", "pair", "bulk", "keyed"] {
        let vs = t.wait_reason(name, "Synced", SYNC).await;
        assert!(vs.status.is_some());
    }
    assert!(
        served(&t, "ListSecrets") > 0
            && served(&t, "ListCertificates") > 0
            && served(&t, "ListKeys") > 0
    );
}

#[tokio::test]
async fn scanners_come_and_go_with_their_resources() {
    let a = test_namespace_without_operator("feedscan").await;
    let b = test_namespace_without_operator("feedscan").await;
    let operator = operator("feed-scanners", &[&a, &b]);
    a.set("db", "scan-a");
    b.set("db", "scan-b");
    a.apply("app", &single("db", "1m"));
    b.apply("app", &single("db", "1m"));
    a.wait_reason("app", "Synced", SYNC).await;
    b.wait_reason("app", "Synced", SYNC).await;
    let scanners = || operator.metric_sum("vaultsync_vault_scanners");
    assert_eq!(scanners(), 2.0, "one per identity and vault");

    b.delete::<VaultSecret>("app").await;
    eventually("b's scanner gone", SYNC, || async {
        check(scanners() == 1.0, scanners())
    })
    .await;
    // Pinned to a version: nothing can change, nothing to scan.
    let version = a.set("db", "scan-a-2");
    a.apply(
        "app",
        &format!("  data:\n  - key: value\n    name: db\n    version: {version}\n"),
    );
    eventually("a's scanner gone once pinned", SYNC, || async {
        check(scanners() == 0.0, scanners())
    })
    .await;
}

#[tokio::test]
async fn demand_beyond_the_vault_budget_is_reported_not_silent() {
    let t = test_namespace_without_operator("feedbudget").await;
    // 30 secrets: a listing is two pages, more than reading the one followed secret, so the
    // resource reads it every 30 s: 1/30 requests/s against a budget of 1/100.
    for i in 0..30 {
        t.set(&format!("s{i}"), &format!("budget-{i}"));
    }
    let operator = Operator::start(
        "feed-budget",
        &t.ns,
        &["--namespace", &t.ns, "--vault-requests-per-second", "0.01"],
    );
    t.apply("app", &single("s1", "30s"));
    t.wait_reason("app", "Synced", SYNC).await;
    let stretched = t
        .wait_for(
            "app",
            "RefreshOnSchedule False",
            Duration::from_secs(90),
            |vs: &VaultSecret| {
                vs.status.as_ref().is_some_and(|s| {
                    s.conditions.iter().any(|c| {
                        c.type_ == "RefreshOnSchedule" && c.reason == "VaultBudgetExceeded"
                    })
                })
            },
        )
        .await;
    let status = stretched.status.unwrap();
    assert_eq!(
        status.conditions[0].reason, "Synced",
        "the data stays Ready"
    );
    let ratio = operator.metric_sum("vaultsync_vault_demand_ratio");
    assert!(ratio > 3.0, "demand ratio {ratio}");
}

#[tokio::test]
async fn a_listed_certificate_is_first_synced_with_one_read_of_its_key_and_chain() {
    let t = test_namespace_without_operator("feedcert").await;
    let versions: Vec<String> = (0..3)
        .map(|i| {
            let chain = pki::chain(Alg::Ec, &format!("First Sync Root {i}"), -1, 365);
            let certs = [&chain.leaf, &chain.inter, &chain.root];
            t.import_pem(
                &format!("c{i}"),
                &pem_bundle(Some(&chain.key_pem), &certs),
                true,
            )
        })
        .collect();
    // Written a second before the first read: see `idle_refreshes_write_nothing_to_the_api_server`.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let _operator = operator("feed-cert", &[&t]);
    for i in 0..3 {
        t.apply_certificate(
            &format!("c{i}"),
            &format!("  certificate:\n    name: c{i}\n"),
        );
    }
    for (i, version) in versions.iter().enumerate() {
        let synced = t
            .wait_certificate_reason(&format!("c{i}"), "Synced", SYNC)
            .await;
        let status = synced.status.unwrap();
        assert_eq!(&status.certificate.unwrap().version, version);
        assert_eq!(&status.sync.versions[0].version, version);
    }
    assert_eq!(
        served(&t, "GetCertificate"),
        0,
        "the listing tells what the metadata read would"
    );
    // Answered reads: the secrets client's first request also meets the 401 challenge.
    let reads = world_control()
        .counters()
        .by_op_status(&t.vault, "GetSecret", 200);
    assert_eq!(reads, 3, "one read of key and chain each");
    assert!(served(&t, "ListCertificates") >= 1);
}
