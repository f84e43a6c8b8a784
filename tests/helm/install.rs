//! `helm install` into the shared control plane (no `--wait`: it has no scheduler, pods never
//! run) of a cluster-wide and a namespace-restricted release; every object they hold exists.

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;
use vaultsync_testenv::shared;

use super::support::eventually::{check, eventually_blocking};
use super::{chart_dir, parse_objects, restricted_values, text};

/// A release installed once per test binary, shared by the tests that inspect it.
pub struct Release {
    pub name: &'static str,
    pub namespace: String,
    pub objects: Vec<Value>,
    /// Namespaces created for the test: for the restricted release, [watched, watched, unwatched].
    pub app_namespaces: Vec<String>,
}

pub use super::support::kubectl;

pub fn kubectl_ok(args: &[&str], stdin: &str) -> String {
    let out = kubectl(args, stdin);
    assert!(out.status.success(), "kubectl {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn new_namespace(prefix: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("{prefix}-{}-{n}", std::process::id());
    kubectl_ok(&["create", "namespace", &name], "");
    name
}

/// Minimal monitoring.coreos.com CRDs, so the chart installs with monitoring on.
fn install_monitoring_crds() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        kubectl_ok(&["apply", "-f", "-"], include_str!("monitoring-crds.yaml"));
        eventually_blocking(
            "the monitoring CRDs being served",
            Duration::from_secs(60),
            || {
                let out = kubectl(&["get", "servicemonitors,prometheusrules", "-A"], "");
                check(out.status.success(), String::from_utf8_lossy(&out.stderr))
            },
        );
    });
}

/// `helm install NAME charts/vaultsync` into a new namespace; returns the release's objects.
pub fn helm_install(name: &'static str, extra: &[&str], app_namespaces: Vec<String>) -> Release {
    install_monitoring_crds();
    let namespace = format!("{name}-{}", std::process::id());
    let kubeconfig = shared()
        .kubeconfig_path()
        .to_str()
        .expect("utf-8")
        .to_string();
    let chart = chart_dir();
    let mut args = vec![
        "install",
        name,
        chart.to_str().expect("utf-8"),
        "--namespace",
        &namespace,
        "--create-namespace",
        "--kubeconfig",
        &kubeconfig,
    ];
    args.extend_from_slice(extra);
    let out = super::helm(&args);
    assert!(out.status.success(), "helm install {name}: {}", text(&out));
    let notes = String::from_utf8_lossy(&out.stdout);
    assert!(
        notes.contains("kubectl get vaultsecrets,vaultcertificates -A"),
        "NOTES.txt tells how to check the install: {notes}"
    );
    let manifest = super::helm(&[
        "get",
        "manifest",
        name,
        "-n",
        &namespace,
        "--kubeconfig",
        &kubeconfig,
    ]);
    assert!(
        manifest.status.success(),
        "helm get manifest: {}",
        text(&manifest)
    );
    let objects = parse_objects(&String::from_utf8_lossy(&manifest.stdout));
    Release {
        name,
        namespace,
        objects,
        app_namespaces,
    }
}

/// Default values with monitoring on: cluster-wide RBAC, leader election, two replicas.
pub fn cluster_wide() -> &'static Release {
    static RELEASE: OnceLock<Release> = OnceLock::new();
    RELEASE.get_or_init(|| {
        let app = new_namespace("app");
        let monitoring = [
            "--set",
            "metrics.serviceMonitor.enabled=true",
            "--set",
            "metrics.prometheusRule.enabled=true",
        ];
        helm_install("vaultsync-cw", &monitoring, vec![app])
    })
}

/// tests/helm/restricted-values.yaml, watching two fresh namespaces; a third is not watched.
pub fn restricted() -> &'static Release {
    static RELEASE: OnceLock<Release> = OnceLock::new();
    RELEASE.get_or_init(|| {
        let namespaces: Vec<String> = ["watched", "watched", "other"]
            .iter()
            .map(|p| new_namespace(p))
            .collect();
        let values = restricted_values();
        let watch = format!("watchNamespaces={{{},{}}}", namespaces[0], namespaces[1]);
        let args = ["-f", values.to_str().expect("utf-8"), "--set", &watch];
        helm_install("vaultsync-rs", &args, namespaces)
    })
}

/// `kubectl get` of every object of the release (qualified by API group) succeeds.
fn assert_every_object_exists(release: &Release, kinds: &[&str]) {
    for object in &release.objects {
        let kind = object["kind"].as_str().expect("kind");
        let api_version = object["apiVersion"].as_str().expect("apiVersion");
        let resource = match api_version.rsplit_once('/') {
            Some((group, _)) => format!("{kind}.{group}"),
            None => kind.to_string(),
        };
        let name = object["metadata"]["name"].as_str().expect("name");
        let mut args = vec!["get", resource.as_str(), name, "-o", "name"];
        if let Some(ns) = object["metadata"]["namespace"].as_str() {
            args.extend(["-n", ns]);
        }
        kubectl_ok(&args, "");
    }
    let installed: Vec<&str> = release
        .objects
        .iter()
        .filter_map(|o| o["kind"].as_str())
        .collect();
    for kind in kinds {
        assert!(
            installed.contains(kind),
            "{} has no {kind}: {installed:?}",
            release.name
        );
    }
    kubectl_ok(&["get", "crd", "vaultsecrets.vaultsync.dev"], "");
}

#[test]
fn cluster_wide_install_creates_every_object() {
    let kinds = [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Service",
        "Deployment",
        "PodDisruptionBudget",
        "ServiceMonitor",
        "PrometheusRule",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ];
    assert_every_object_exists(cluster_wide(), &kinds);
}

#[test]
fn restricted_install_creates_every_object() {
    let kinds = [
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "Service",
        "Deployment",
        "ServiceMonitor",
        "PrometheusRule",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "NetworkPolicy",
    ];
    let release = restricted();
    assert_every_object_exists(release, &kinds);
    let roles = release
        .objects
        .iter()
        .filter(|o| o["kind"] == "Role")
        .count();
    assert_eq!(
        roles, 3,
        "one Role per watched namespace and the content hash key's"
    );
}
