use std::time::Duration;

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
fn seconds_since_last_sync_is_computed_at_encode_time() {
    let metrics = Metrics::new();
    metrics.record_sync("VaultSecret", "team-a", "db", 1_000);
    let labels = r#"kind="VaultSecret",namespace="team-a",name="db""#;

    let first = metrics.encode_at(1_030);
    let stamp = sample_value(&first, "vaultsync_last_sync_timestamp_seconds", labels);
    assert_eq!(stamp, Some("1000"), "{first}");
    let age = sample_value(&first, "vaultsync_seconds_since_last_sync", labels);
    assert_eq!(age, Some("30"), "{first}");

    let later = metrics.encode_at(1_100);
    let age = sample_value(&later, "vaultsync_seconds_since_last_sync", labels);
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
    let age = sample_value(&after, "vaultsync_seconds_since_last_sync", kept);
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
    let text = metrics.encode();
    for name in [
        "vaultsync_reconciles",
        "vaultsync_reconcile_duration_seconds",
        "vaultsync_vault_requests",
        "vaultsync_managed_secrets",
        "vaultsync_last_sync_timestamp_seconds",
        "vaultsync_seconds_since_last_sync",
        "vaultsync_certificate_expiry_timestamp_seconds",
        "vaultsync_leader",
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
