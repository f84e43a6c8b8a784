//! The operator binary running with the chart's ServiceAccount credentials (not admin): it syncs a
//! VaultSecret and a VaultCertificate, which proves the chart's RBAC is sufficient, and those
//! credentials are refused outside what the release grants, which proves it is not excessive.

use std::process::Child;
use std::time::{Duration, Instant};

use vaultsync_emulator::{CertificateImport, Control, Permission, SecretOptions};
use vaultsync_testenv::{Watchdog, guard_pid, shared};

use super::install::{Release, helm_install, kubectl, kubectl_ok, new_namespace, restricted};
use super::support::eventually::{check, eventually_blocking};
use super::support::world::{ENTRA_TENANT_ID, backdrop, free_metrics_addr, spawn_operator_as};
use super::{kubeconfig_for_service_account, temp_dir, text};

/// An operator process; killed (with its watchdog) when dropped.
struct Operator {
    child: Child,
    log: std::path::PathBuf,
    _guard: Watchdog,
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Operator {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn service_account(release: &Release) -> String {
    release
        .objects
        .iter()
        .find(|o| o["kind"] == "ServiceAccount")
        .and_then(|o| o["metadata"]["name"].as_str())
        .expect("the chart creates a ServiceAccount")
        .to_string()
}

/// Starts the operator authenticated as the release's ServiceAccount.
fn start_operator(release: &Release, extra: &[&str]) -> Operator {
    let kubeconfig = kubeconfig_for_service_account(&release.namespace, &service_account(release));
    let log = temp_dir("chart-operator").join("operator.log");
    let mut args = vec!["--log-format", "text"];
    args.extend_from_slice(extra);
    // As in its pod: the content hash key Secret lives in the release namespace.
    let envs = [("POD_NAMESPACE", release.namespace.as_str())];
    let child = spawn_operator_as(&kubeconfig, &free_metrics_addr(), &args, &envs, &log);
    let guard = guard_pid(child.id()).expect("operator guard");
    Operator {
        child,
        log,
        _guard: guard,
    }
}

/// A vault with one secret and one certificate, readable by ServiceAccount `app` in `namespace`.
fn seed_vault(control: &Control, namespace: &str, vault: &str) -> String {
    let client_id = format!("app-{namespace}");
    control.create_vault(vault, ENTRA_TENANT_ID);
    control.register_app(ENTRA_TENANT_ID, &client_id);
    control.add_federated_credential(
        &client_id,
        shared().issuer(),
        &format!("system:serviceaccount:{namespace}:app"),
    );
    control.assign_role(
        &client_id,
        vault,
        &[Permission::SecretsRead, Permission::CertificatesRead],
    );
    control
        .set_secret(
            vault,
            "db-password",
            "chart-e2e-pw",
            SecretOptions {
                enabled: true,
                ..Default::default()
            },
        )
        .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["chart.example.test".into()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "chart.example.test");
    let cert = params.self_signed(&key).unwrap();
    control
        .import_certificate(
            vault,
            "web",
            CertificateImport {
                pem: Some(format!("{}{}", key.serialize_pem(), cert.pem())),
                ..Default::default()
            },
        )
        .unwrap();
    client_id
}

/// Applies the ServiceAccount, a VaultSecret and a VaultCertificate in `namespace`.
fn apply_resources(namespace: &str, client_id: &str, vault_url: &str) {
    let yaml = format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n  namespace: {namespace}\n  annotations:\n    azure.workload.identity/client-id: {client_id}\n---\n\
apiVersion: vaultsync.dev/v1alpha1\nkind: VaultSecret\nmetadata:\n  name: db\n  namespace: {namespace}\nspec:\n  vault:\n    url: {vault_url}\n    serviceAccountName: app\n  data:\n  - key: password\n    name: db-password\n---\n\
apiVersion: vaultsync.dev/v1alpha1\nkind: VaultCertificate\nmetadata:\n  name: web\n  namespace: {namespace}\nspec:\n  vault:\n    url: {vault_url}\n    serviceAccountName: app\n  certificate:\n    name: web\n"
    );
    kubectl_ok(&["apply", "-f", "-"], &yaml);
}

fn wait_synced(operator: &Operator, namespace: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    for kind in ["vaultsecret/db", "vaultcertificate/web"] {
        let what = format!("{kind} in {namespace} syncing");
        let within = deadline.saturating_duration_since(Instant::now());
        eventually_blocking(&what, within, || {
            let reason = kubectl_ok(
                &[
                    "get",
                    kind,
                    "-n",
                    namespace,
                    "-o",
                    "jsonpath={.status.conditions[?(@.type==\"Ready\")].reason}",
                ],
                "",
            );
            let seen = format!("reason {reason:?}; operator log:\n{}", operator.log());
            check(reason == "Synced", seen)
        });
    }
    let password = kubectl_ok(
        &[
            "get",
            "secret",
            "db",
            "-n",
            namespace,
            "-o",
            "jsonpath={.data.password}",
        ],
        "",
    );
    assert_eq!(password, "Y2hhcnQtZTJlLXB3", "base64 of the vault value");
    let tls_type = kubectl_ok(
        &[
            "get",
            "secret",
            "web",
            "-n",
            namespace,
            "-o",
            "jsonpath={.type}",
        ],
        "",
    );
    assert_eq!(tls_type, "kubernetes.io/tls");
}

/// The sync was this operator's own work, and nothing it needed was refused.
fn assert_synced_by_it_without_refusals(operator: &Operator, namespace: &str) {
    let log = operator.log();
    assert!(
        log.contains(&format!("service_account={namespace}/app")),
        "this operator did not read the vault for {namespace}:\n{log}"
    );
    assert!(
        !log.to_lowercase().contains("forbidden"),
        "the chart's RBAC refused something the operator needed:\n{log}"
    );
}

/// One operator at a time: a cluster-wide one would also serve the restricted test's namespace
/// and hide a missing permission there.
fn one_operator_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn operator_as_the_restricted_release_service_account_syncs_and_reads_nothing_else() {
    let _serial = one_operator_at_a_time();
    let release = restricted();
    // The rbac tests use the first watched namespace; this one syncs in the second.
    let (watched, unwatched) = (&release.app_namespaces[1], &release.app_namespaces[2]);
    let control = backdrop().emulator.control();
    let vault = format!("chartrs{}", std::process::id());
    let client_id = seed_vault(control, watched, &vault);
    let watch = format!(
        "{},{}",
        release.app_namespaces[0], release.app_namespaces[1]
    );
    let operator = start_operator(release, &["--namespace", &watch]);
    apply_resources(watched, &client_id, &backdrop().emulator.vault_url(&vault));
    wait_synced(&operator, watched);
    assert_synced_by_it_without_refusals(&operator, watched);

    // The same credentials may not read a Secret the release does not cover.
    kubectl_ok(
        &[
            "create",
            "secret",
            "generic",
            "chart-e2e-not-ours",
            "-n",
            unwatched,
            "--from-literal=k=v",
        ],
        "",
    );
    let kubeconfig = kubeconfig_for_service_account(&release.namespace, &service_account(release));
    let denied = kubectl(
        &[
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "get",
            "secret",
            "chart-e2e-not-ours",
            "-n",
            unwatched,
        ],
        "",
    );
    assert!(
        !denied.status.success(),
        "read a Secret outside the release's namespaces"
    );
    assert!(text(&denied).contains("Forbidden"), "{}", text(&denied));
}

#[test]
fn operator_as_the_default_release_service_account_elects_itself_and_syncs() {
    let _serial = one_operator_at_a_time();
    // Its own default release, so its Lease does not meet the rbac tests' one.
    let release = helm_install("vaultsync-e2e", &[], vec![new_namespace("e2e")]);
    let release = &release;
    let namespace = &release.app_namespaces[0];
    let control = backdrop().emulator.control();
    let vault = format!("chartcw{}", std::process::id());
    let client_id = seed_vault(control, namespace, &vault);
    let operator = start_operator(
        release,
        &[
            "--leader-elect",
            "--leader-election-namespace",
            &release.namespace,
        ],
    );
    apply_resources(
        namespace,
        &client_id,
        &backdrop().emulator.vault_url(&vault),
    );
    wait_synced(&operator, namespace);
    assert_synced_by_it_without_refusals(&operator, namespace);
    let holder = kubectl_ok(
        &[
            "get",
            "lease",
            "vaultsync-leader",
            "-n",
            &release.namespace,
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ],
        "",
    );
    assert!(!holder.is_empty(), "the operator holds the chart's Lease");
    // Secret deletion is not granted: vaultsync relies on garbage collection.
    let kubeconfig = kubeconfig_for_service_account(&release.namespace, &service_account(release));
    let denied = kubectl(
        &[
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "delete",
            "secret",
            "db",
            "-n",
            namespace,
        ],
        "",
    );
    assert!(
        !denied.status.success(),
        "deleted a Secret with the chart's credentials"
    );
}
