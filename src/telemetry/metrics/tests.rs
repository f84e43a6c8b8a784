use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::crd::ConditionStatus;

use super::{Metrics, ReconcileOutcome};

/// The sample line of `metric` with exactly `labels`, without its value.
fn sample_value<'a>(text: &'a str, metric: &str, labels: &str) -> Option<&'a str> {
    let prefix = format!("{metric}{{{labels}}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
}

#[test]
fn reconcile_counters_carry_kind_result_and_reason() {
    let metrics = Metrics::new();
    let ms = Duration::from_millis(20);
    metrics.reconcile_finished("VaultSecret", ReconcileOutcome::Success, ms);
    metrics.reconcile_finished("VaultSecret", ReconcileOutcome::Success, ms);
    let failure = ReconcileOutcome::Failure {
        reason: "vault_forbidden",
    };
    metrics.reconcile_finished("VaultSecret", failure, Duration::from_secs(2));

    let text = metrics.encode();
    let total = "vaultsync_reconciles_total";
    let ok = sample_value(
        &text,
        total,
        r#"kind="VaultSecret",result="success",reason="""#,
    );
    assert_eq!(ok, Some("2"), "{text}");
    let err = r#"kind="VaultSecret",result="error",reason="vault_forbidden""#;
    assert_eq!(sample_value(&text, total, err), Some("1"), "{text}");
    let count = sample_value(
        &text,
        "vaultsync_reconcile_duration_seconds_count",
        r#"kind="VaultSecret""#,
    );
    assert_eq!(count, Some("3"), "{text}");
    let bucket = r#"le="0.025",kind="VaultSecret""#;
    let in_bucket = sample_value(&text, "vaultsync_reconcile_duration_seconds_bucket", bucket);
    assert_eq!(in_bucket, Some("2"), "{text}");
}

#[test]
fn vault_requests_and_gauges_are_labelled() {
    let metrics = Metrics::new();
    metrics.vault_request("get_secret", "ok");
    metrics.vault_request("get_secret", "ok");
    metrics.vault_request("get_secret", "throttled");
    metrics.set_managed_secrets("VaultSecret", 7);
    metrics.set_certificate_expiry("team-a", "tls", 1_900_000_000);

    let text = metrics.encode();
    let requests = "vaultsync_vault_requests_total";
    let ok = r#"operation="get_secret",outcome="ok""#;
    assert_eq!(sample_value(&text, requests, ok), Some("2"), "{text}");
    let throttled = r#"operation="get_secret",outcome="throttled""#;
    assert_eq!(sample_value(&text, requests, throttled), Some("1"));
    let managed = sample_value(&text, "vaultsync_managed_secrets", r#"kind="VaultSecret""#);
    assert_eq!(managed, Some("7"));
    let expiry = sample_value(
        &text,
        "vaultsync_certificate_expiry_timestamp_seconds",
        r#"namespace="team-a",name="tls""#,
    );
    assert_eq!(expiry, Some("1900000000"));
}

#[test]
fn last_sync_age_is_computed_at_encode_time() {
    let metrics = Metrics::new();
    metrics.record_sync("VaultSecret", "team-a", "db", 1_000);
    let labels = r#"kind="VaultSecret",namespace="team-a",name="db""#;

    let first = metrics.encode_at(1_030);
    let stamp = sample_value(&first, "vaultsync_last_sync_timestamp_seconds", labels);
    assert_eq!(stamp, Some("1000"), "{first}");
    let age = sample_value(&first, "vaultsync_last_sync_age_seconds", labels);
    assert_eq!(age, Some("30"), "{first}");

    let later = metrics.encode_at(1_100);
    let age = sample_value(&later, "vaultsync_last_sync_age_seconds", labels);
    assert_eq!(age, Some("100"));
}

#[test]
fn forget_object_removes_per_object_series() {
    let metrics = Metrics::new();
    metrics.record_sync("VaultCertificate", "team-a", "db", 1_000);
    metrics.record_sync("VaultSecret", "team-a", "db", 1_000);
    metrics.record_sync("VaultSecret", "team-a", "keep", 1_000);
    metrics.set_certificate_expiry("team-a", "db", 2_000);
    let before = metrics.encode_at(1_010);
    assert!(before.contains(r#"name="db""#), "{before}");

    // A VaultSecret of the same name goes: the certificate's series stay.
    metrics.forget_object("VaultSecret", "team-a", "db");
    let middle = metrics.encode_at(1_015);
    assert!(
        middle.contains(
            r#"vaultsync_certificate_expiry_timestamp_seconds{namespace="team-a",name="db"}"#
        ),
        "{middle}"
    );
    metrics.forget_object("VaultCertificate", "team-a", "db");
    let after = metrics.encode_at(1_020);
    assert!(!after.contains(r#"name="db""#), "{after}");
    let kept = r#"kind="VaultSecret",namespace="team-a",name="keep""#;
    let age = sample_value(&after, "vaultsync_last_sync_age_seconds", kept);
    assert_eq!(age, Some("20"), "{after}");
}

#[test]
fn encode_names_every_metric_and_ends_with_eof() {
    let metrics = Metrics::new();
    // prometheus-client omits families with no series, so give every metric one.
    metrics.reconcile_finished("VaultSecret", ReconcileOutcome::Success, Duration::ZERO);
    metrics.vault_request("get_secret", "ok");
    metrics.set_managed_secrets("VaultSecret", 1);
    metrics.record_sync("VaultSecret", "team-a", "db", 1_000);
    metrics.set_certificate_expiry("team-a", "tls", 2_000);
    metrics.token_exchange("success");
    metrics.add_census("VaultSecret", Box::new(|record| record(None)));
    let text = metrics.encode();
    for name in [
        "vaultsync_reconciles",
        "vaultsync_reconcile_duration_seconds",
        "vaultsync_vault_requests",
        "vaultsync_managed_secrets",
        "vaultsync_last_sync_timestamp_seconds",
        "vaultsync_last_sync_age_seconds",
        "vaultsync_certificate_expiry_timestamp_seconds",
        "vaultsync_leader",
        "vaultsync_token_exchanges",
        "vaultsync_resources",
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "{name} missing: {text}"
        );
    }
    assert!(text.ends_with("# EOF\n"), "{text}");
}

#[test]
fn leader_gauge_follows_leadership() {
    let metrics = Metrics::new();
    let leader = |text: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix("vaultsync_leader "))
            .map(str::to_owned)
    };
    assert_eq!(leader(&metrics.encode()).as_deref(), Some("0"));
    metrics.set_leader(true);
    assert_eq!(leader(&metrics.encode()).as_deref(), Some("1"));
    metrics.set_leader(false);
    assert_eq!(leader(&metrics.encode()).as_deref(), Some("0"));
}

#[test]
fn resources_are_counted_by_ready_condition_at_each_scrape() {
    let metrics = Metrics::new();
    let states = Arc::new(Mutex::new(vec![
        Some((ConditionStatus::True, "Synced".to_string())),
        Some((ConditionStatus::False, "VaultUnavailable".to_string())),
    ]));
    let seen = states.clone();
    metrics.add_census(
        "VaultSecret",
        Box::new(move |record| {
            for state in seen.lock().unwrap().iter() {
                record(state.as_ref().map(|(s, r)| (*s, r.as_str())));
            }
        }),
    );
    let series = |text: &str, ready: &str, reason: &str| {
        let labels = format!(r#"kind="VaultSecret",ready="{ready}",reason="{reason}""#);
        sample_value(text, "vaultsync_resources", &labels).map(str::to_owned)
    };
    let first = metrics.encode();
    assert_eq!(
        series(&first, "False", "VaultUnavailable").as_deref(),
        Some("1"),
        "{first}"
    );
    assert_eq!(series(&first, "True", "Synced").as_deref(), Some("1"));

    *states.lock().unwrap() = vec![
        Some((ConditionStatus::True, "Synced".to_string())),
        Some((ConditionStatus::True, "Synced".to_string())),
        None,
    ];
    let later = metrics.encode();
    assert_eq!(
        series(&later, "True", "Synced").as_deref(),
        Some("2"),
        "{later}"
    );
    assert_eq!(series(&later, "Unknown", "Pending").as_deref(), Some("1"));
    assert_eq!(
        series(&later, "False", "VaultUnavailable"),
        None,
        "a reason no resource has any more is gone: {later}"
    );
}

#[test]
fn token_exchanges_are_counted_by_outcome() {
    let metrics = Metrics::new();
    metrics.token_exchange("success");
    metrics.token_exchange("success");
    metrics.token_exchange("rejected");
    let text = metrics.encode();
    let total = "vaultsync_token_exchanges_total";
    assert_eq!(
        sample_value(&text, total, r#"outcome="success""#),
        Some("2"),
        "{text}"
    );
    assert_eq!(
        sample_value(&text, total, r#"outcome="rejected""#),
        Some("1")
    );
}

#[test]
fn the_catalog_names_every_family_the_encoding_shows_with_its_labels() {
    let metrics = Metrics::new();
    metrics.reconcile_finished("VaultSecret", ReconcileOutcome::Success, Duration::ZERO);
    metrics.vault_request("GetSecret", "success");
    metrics.set_managed_secrets("VaultSecret", 1);
    metrics.record_sync("VaultSecret", "team-a", "db", 1_000);
    metrics.set_certificate_expiry("team-a", "tls", 2_000);
    metrics.token_exchange("success");
    metrics.change_wakeups("scan", 1);
    metrics.restart_triggered("Deployment");
    metrics.restart_deferred("Deployment", "cluster");
    metrics.restart_skipped("Deployment", "restarts_paused");
    metrics.add_census("VaultSecret", Box::new(|record| record(None)));
    let text = metrics.encode();
    let catalog = metrics.catalog();
    for line in text.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let (family, metric_type) = line.split_once(' ').unwrap();
        let info = catalog
            .iter()
            .find(|m| m.family == family)
            .unwrap_or_else(|| panic!("{family} is exported but not in the catalog"));
        assert_eq!(info.metric_type, metric_type, "{family}");
    }
    for info in catalog {
        let names = info.sample_names();
        let sample = text
            .lines()
            .find(|l| {
                names
                    .iter()
                    .any(|n| l.starts_with(&format!("{n}{{")) || l.starts_with(&format!("{n} ")))
            })
            .unwrap_or_else(|| {
                panic!(
                    "no sample of {}: give it one above, so its declared labels are checked: {text}",
                    info.family
                )
            });
        let labels: Vec<&str> = sample
            .split_once('{')
            .map(|(_, rest)| rest.split_once('}').unwrap().0)
            .map(|body| {
                body.split(',')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, _)| k)
                    .filter(|k| *k != "le")
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            labels, info.labels,
            "{}: the declared labels are the encoded ones",
            info.family
        );
    }
}

#[test]
fn restart_counters_carry_kind_and_reason() {
    let metrics = Metrics::new();
    metrics.restart_triggered("Deployment");
    metrics.restart_triggered("Deployment");
    metrics.restart_deferred("StatefulSet", "namespace");
    metrics.restart_skipped("Deployment", "workload_paused");
    metrics.set_rollouts_in_progress(3);
    let text = metrics.encode();
    let triggered = sample_value(
        &text,
        "vaultsync_restarts_triggered_total",
        r#"kind="Deployment""#,
    );
    assert_eq!(triggered, Some("2"), "{text}");
    let deferred = sample_value(
        &text,
        "vaultsync_restarts_deferred_total",
        r#"kind="StatefulSet",reason="namespace""#,
    );
    assert_eq!(deferred, Some("1"), "{text}");
    let skipped = sample_value(
        &text,
        "vaultsync_restarts_skipped_total",
        r#"kind="Deployment",reason="workload_paused""#,
    );
    assert_eq!(skipped, Some("1"), "{text}");
    assert!(
        text.lines()
            .any(|l| l == "vaultsync_restart_rollouts_in_progress 3"),
        "{text}"
    );
}
