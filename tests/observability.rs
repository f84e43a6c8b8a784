//! Observability on a real Prometheus: the operator scraped every second, the chart's alert rules
//! (with 2 s `for:`) evaluated every second. A vault outage makes `VaultsyncSyncFailing` fire and
//! recovery resolves it; a certificate inside its renewal window makes
//! `VaultsyncCertificateExpiringSoon` fire and its renewal resolves it. Every panel of the chart's
//! dashboard returns data, and every exported metric passes the hygiene checks.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::eventually::eventually;
use support::metric_hygiene::{catalog_problems, exposition_problems};
use support::pki::{self, Alg, pem_bundle};
use support::prometheus::{JOB, Prometheus, chart_rule_file};
use support::world::{TestNamespace, ready_reason, test_namespace, world};
use vaultsync::crd::{ConditionStatus, Synced, VaultCertificate, VaultSecret};
use vaultsync::telemetry::Metrics;
use vaultsync_emulator::Fault;

const WAIT: Duration = Duration::from_secs(60);

/// The chart's rules with every `for:` shortened to 2 s.
fn test_rules() -> String {
    chart_rule_file(
        "vaultsync",
        &[
            "notReconcilingFor=2s",
            "syncFailingFor=2s",
            "secretStaleFor=2s",
            "certificateExpiringFor=2s",
        ],
    )
}

/// The operator's `/metrics` page.
fn scrape_operator() -> String {
    use std::io::{Read, Write};
    let mut socket = std::net::TcpStream::connect(&world().metrics_addr).unwrap();
    socket
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut page = String::new();
    socket.read_to_string(&mut page).unwrap();
    page.split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or(page)
}

/// Waits until `expr` returns at least one series in Prometheus; returns them.
async fn wait_series(prometheus: &Prometheus, expr: &str) -> Vec<Value> {
    eventually(&format!("series for {expr}"), WAIT, || async {
        let result = prometheus.query(expr).await?;
        if result.is_empty() {
            return Err("no series".into());
        }
        Ok(result)
    })
    .await
}

/// Runs `action` while polling the state of `alert` until it is `goal`; returns every state
/// seen from before `action` on (consecutive repeats collapsed).
async fn watch_alert(
    prometheus: &Prometheus,
    alert: &str,
    goal: &str,
    action: impl std::future::Future<Output = ()>,
) -> Vec<String> {
    let mut seen = vec![prometheus.alert_state(alert).await.unwrap()];
    let watch = async {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let state = prometheus.alert_state(alert).await.unwrap();
            if seen.last() != Some(&state) {
                seen.push(state.clone());
            }
            if state == goal {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{alert} did not become {goal} within {WAIT:?}; states seen: {seen:?}; \
                 operator log:\n{}",
                world().operator_log_tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    futures::join!(action, watch);
    seen
}

/// The active alert `alert` whose labels include `labels`.
async fn active_alert(prometheus: &Prometheus, alert: &str, labels: &[(&str, &str)]) -> Value {
    let alerts = prometheus.alerts(alert).await.unwrap();
    alerts
        .into_iter()
        .find(|a| labels.iter().all(|(k, v)| a["labels"][*k] == *v))
        .unwrap_or_else(|| panic!("no active {alert} with {labels:?}"))
}

async fn assert_inactive(prometheus: &Prometheus, alerts: &[&str]) {
    for alert in alerts {
        let state = prometheus.alert_state(alert).await.unwrap();
        assert_eq!(state, "inactive", "{alert}");
    }
}

/// A vault outage makes the sync-failing alert fire; recovery resolves it.
async fn sync_failing_fires_and_resolves(t: &TestNamespace, prometheus: &Prometheus) {
    let alert = "VaultsyncSyncFailing";
    let outage = async {
        world().control().set_fault(
            &t.vault,
            Fault::Status {
                code: 503,
                remaining: None,
            },
        );
        t.apply(
            "outage",
            "  data:\n  - key: DB_PASSWORD\n    name: db-password\n",
        );
        t.wait_reason("outage", "VaultUnavailable", WAIT).await;
    };
    let states = watch_alert(prometheus, alert, "firing", outage).await;
    assert_eq!(states, ["inactive", "pending", "firing"], "{alert}");
    let firing = active_alert(
        prometheus,
        alert,
        &[("kind", "VaultSecret"), ("reason", "VaultUnavailable")],
    )
    .await;
    assert_eq!(firing["state"], "firing");
    assert_eq!(firing["labels"]["severity"], "warning");
    let summary = firing["annotations"]["summary"].as_str().unwrap();
    assert_eq!(
        summary,
        "1 VaultSecret resources fail to sync: VaultUnavailable"
    );

    let recovery = async {
        world().control().clear_faults(&t.vault);
        t.wait_reason("outage", "Synced", WAIT).await;
    };
    let states = watch_alert(prometheus, alert, "inactive", recovery).await;
    assert_eq!(states, ["firing", "inactive"], "{alert}");
    assert!(
        prometheus.alerts(alert).await.unwrap().is_empty(),
        "{alert} resolved"
    );
}

/// A certificate that expires in 2 days (inside its renewal window) makes the expiry alert fire;
/// a renewed version resolves it.
async fn certificate_expiry_fires_and_resolves(t: &TestNamespace, prometheus: &Prometheus) {
    let alert = "VaultsyncCertificateExpiringSoon";
    let expiring = pki::chain(Alg::Ec, "Expiring Root", -1, 2);
    let sync_expiring = async {
        let certs = [&expiring.leaf, &expiring.inter, &expiring.root];
        t.import_pem("web", &pem_bundle(Some(&expiring.key_pem), &certs), true);
        t.apply_certificate("web", "  certificate:\n    name: web\n");
        let synced = t.wait_certificate_reason("web", "Synced", WAIT).await;
        let soon = synced.status.iter().flat_map(|s| &s.sync.conditions);
        let soon = soon
            .clone()
            .find(|c| c.type_ == "ExpiringSoon")
            .map(|c| c.status);
        assert_eq!(
            soon,
            Some(ConditionStatus::True),
            "inside renewBefore (720h)"
        );
    };
    let states = watch_alert(prometheus, alert, "firing", sync_expiring).await;
    assert_eq!(states, ["inactive", "pending", "firing"], "{alert}");
    let firing = active_alert(prometheus, alert, &[("namespace", &t.ns), ("name", "web")]).await;
    let summary = firing["annotations"]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with(&format!(
            "Certificate synced by VaultCertificate {}/web expires in 1d 23h",
            t.ns
        )),
        "{summary}"
    );

    let renewed = pki::chain(Alg::Ec, "Renewed Root", -1, 365);
    let renewal = async {
        let certs = [&renewed.leaf, &renewed.inter, &renewed.root];
        let version = t.import_pem("web", &pem_bundle(Some(&renewed.key_pem), &certs), true);
        t.force_refresh("vaultcertificate", "web", "renewed");
        t.wait_for(
            "web",
            "the renewed version",
            WAIT,
            |c: &VaultCertificate| {
                let facts = c.status.as_ref().and_then(|s| s.certificate.as_ref());
                facts.is_some_and(|f| f.version == version)
            },
        )
        .await;
    };
    let states = watch_alert(prometheus, alert, "inactive", renewal).await;
    assert_eq!(states, ["firing", "inactive"], "{alert}");
    assert!(
        prometheus.alerts(alert).await.unwrap().is_empty(),
        "{alert} resolved"
    );
}

/// One 429 from the vault, so the throttling panel has a series.
async fn vault_throttles_once(t: &TestNamespace, prometheus: &Prometheus) {
    world().control().set_fault(
        &t.vault,
        Fault::Throttle {
            retry_after: Some(1),
            remaining: Some(1),
        },
    );
    t.force_refresh("vaultsecret", "app", "throttled");
    let throttled = format!(r#"vaultsync_vault_requests_total{{job="{JOB}",outcome="throttled"}}"#);
    wait_series(prometheus, &throttled).await;
    world().control().clear_faults(&t.vault);
    // The 429 made `app` Ready=False (Throttled) until its retry: wait until it is Synced again
    // and the sync-failing alert has settled, so the outage below starts from a quiet alert.
    t.wait_for("app", "Synced after the 429", WAIT, |v: &VaultSecret| {
        let status = v.sync_status();
        status.is_some_and(|s| s.last_force_refresh.as_deref() == Some("throttled"))
            && ready_reason(v) == Some("Synced")
    })
    .await;
    eventually(
        "VaultsyncSyncFailing inactive after the 429",
        WAIT,
        || async {
            let state = prometheus.alert_state("VaultsyncSyncFailing").await?;
            if state == "inactive" {
                Ok(())
            } else {
                Err(state)
            }
        },
    )
    .await;
}

/// Every target of every panel of the chart's dashboard, with Grafana's variables filled in.
fn dashboard_queries() -> Vec<(String, String)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/charts/vaultsync/dashboards/vaultsync.json"
    );
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        let title = panel["title"].as_str().unwrap_or_default();
        let targets = panel["targets"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        assert!(!targets.is_empty(), "panel {title:?} has no query");
        for target in targets {
            let expr = target["expr"].as_str().expect("a PromQL target");
            let filled = expr.replace("$__rate_interval", "1m").replace("$job", JOB);
            assert!(
                !filled.contains('$'),
                "panel {title:?} uses an unknown variable: {expr}"
            );
            queries.push((format!("{title} ({})", target["refId"]), filled));
        }
    }
    queries
}

async fn every_dashboard_panel_has_data(prometheus: &Prometheus) {
    let queries = dashboard_queries();
    assert!(queries.len() >= 11, "{queries:?}");
    let mut empty = Vec::new();
    for (panel, expr) in &queries {
        let result = prometheus
            .query(expr)
            .await
            .unwrap_or_else(|e| panic!("panel {panel}: {e}"));
        println!("panel {panel}: {} series", result.len());
        if result.is_empty() {
            empty.push(format!("{panel}: {expr}"));
        }
    }
    assert!(
        empty.is_empty(),
        "panels without data:\n{}",
        empty.join("\n")
    );
}

/// Every metric the operator exported during the run has a conventional name and only its
/// declared, bounded labels; every registered one, exported or not, passes the catalog checks.
/// (The registry's unit tests make each registered metric show its declared labels; the
/// dashboard check has already required series of everything the panels read.)
fn exported_metrics_are_hygienic() {
    let catalog = Metrics::new().catalog().to_vec();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut problems = catalog_problems(&catalog, &readme);
    let (scrape, exposition) = exposition_problems(&scrape_operator(), &catalog);
    problems.extend(exposition);
    println!("exported metrics:\n{}", scrape.listing(&catalog));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_fire_and_resolve_and_every_dashboard_panel_has_data() {
    let t = test_namespace("obs").await;
    let prometheus = Prometheus::start(&world().metrics_addr, &test_rules()).await;
    let all_alerts = [
        "VaultsyncNotReconciling",
        "VaultsyncSyncFailing",
        "VaultsyncSecretStale",
        "VaultsyncCertificateExpiringSoon",
    ];

    t.set("db-password", "obs-value-1");
    t.apply(
        "app",
        "  data:\n  - key: DB_PASSWORD\n    name: db-password\n",
    );
    t.wait_reason("app", "Synced", WAIT).await;
    let ready = format!(r#"vaultsync_resources{{job="{JOB}",ready="True"}}"#);
    wait_series(&prometheus, &ready).await;
    // Two evaluations after the first scrape: rules have seen a healthy operator.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_inactive(&prometheus, &all_alerts).await;

    vault_throttles_once(&t, &prometheus).await;
    sync_failing_fires_and_resolves(&t, &prometheus).await;
    certificate_expiry_fires_and_resolves(&t, &prometheus).await;
    assert_inactive(&prometheus, &all_alerts).await;

    every_dashboard_panel_has_data(&prometheus).await;
    exported_metrics_are_hygienic();
    t.assert_no_leak(&["obs-value-1"]).await;
    let log = prometheus.log_text();
    assert!(
        !log.contains("obs-value-1"),
        "a value reached Prometheus's log"
    );
}
