//! Metric hygiene without a cluster: every metric the operator registers follows Prometheus
//! naming conventions and declares only bounded labels (object names only where the README says
//! why). `tests/observability.rs` checks the same rules against a real run's scrape.

mod support;

use support::metric_hygiene::{README_OBJECT_LABELS, catalog_problems, exposition_problems};
use vaultsync::telemetry::{MetricInfo, Metrics};

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

#[test]
fn every_registered_metric_follows_the_conventions() {
    let metrics = Metrics::new();
    for metric in metrics.catalog() {
        println!(
            "{} ({}) {:?}",
            metric.name(),
            metric.metric_type,
            metric.labels
        );
    }
    let problems = catalog_problems(metrics.catalog(), &readme());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn info(
    family: &str,
    metric_type: &str,
    unit: Option<&str>,
    labels: &'static [&'static str],
) -> MetricInfo {
    MetricInfo {
        family: family.to_string(),
        help: "help",
        unit: unit.map(str::to_string),
        metric_type: metric_type.to_string(),
        labels,
    }
}

#[test]
fn the_checks_catch_each_kind_of_problem() {
    let catalog = [
        info("vaultsync_sync_latency_ms", "histogram", None, &["kind"]),
        info("vaultsync_reads_total", "counter", None, &["secret"]),
        info(
            "vaultsync_certificate_not_after",
            "gauge",
            None,
            &["namespace", "name"],
        ),
        info(
            "vaultsync_wait_duration",
            "histogram",
            Some("seconds"),
            &["instance"],
        ),
    ];
    let readme = format!("{README_OBJECT_LABELS} Only `vaultsync_other` has them.\n\n");
    let problems = catalog_problems(&catalog, &readme).join("\n");
    for expected in [
        "vaultsync_sync_latency_ms: `ms` is not a base unit",
        "vaultsync_sync_latency_ms: a time must be in seconds",
        "vaultsync_reads_total: `_total` belongs to counter samples only",
        "vaultsync_reads_total: label `secret` has no known bounded vocabulary",
        "vaultsync_certificate_not_after: label `namespace` names objects",
        "vaultsync_wait_duration: the unit `seconds` must end the name",
        "vaultsync_wait_duration: label `instance` is reserved",
    ] {
        assert!(
            problems.contains(expected),
            "missing {expected:?} in:\n{problems}"
        );
    }

    let registered = [info(
        "vaultsync_reconciles",
        "counter",
        None,
        &["kind", "result", "reason"],
    )];
    let scrape = "# TYPE vaultsync_reconciles counter\n\
                  vaultsync_reconciles_total{kind=\"Pod\",result=\"success\",reason=\"\"} 1\n\
                  vaultsync_reconciles_total{kind=\"VaultSecret\",result=\"error\",reason=\"vault said: no\"} 1\n\
                  vaultsync_reconciles_total{kind=\"VaultSecret\",result=\"success\"} 1\n\
                  # TYPE vaultsync_unregistered gauge\n\
                  vaultsync_unregistered 1\n";
    let (_, problems) = exposition_problems(scrape, &registered);
    let problems = problems.join("\n");
    for expected in [
        "vaultsync_unregistered: exported but not registered",
        "kind=\"Pod\" is outside its vocabulary",
        "reason=\"vault said: no\" is outside its vocabulary",
        "labels [\"kind\", \"result\"], but [\"kind\", \"result\", \"reason\"] are declared",
        "vaultsync_unregistered: a sample of no registered metric",
    ] {
        assert!(
            problems.contains(expected),
            "missing {expected:?} in:\n{problems}"
        );
    }
}
