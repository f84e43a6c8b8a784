//! The demo on real pods (`hack/demo.sh`, its default mode): a local control plane with two kubelet
//! nodes, the operator image built from this build's binary and installed with `helm install
//! charts/vaultsync`, the Key Vault emulator on the host, `examples/vaultsecret.yaml` and
//! `examples/vaultcertificate.yaml` synced, and an application pod that prints its mounted secret
//! before and after a rotation in the vault.
//!
//! Needs root, containerd and runc (`hack/demo.sh` runs `hack/ensure-node.sh`, which installs
//! them). `--exit` stops after showing the result.

#[allow(dead_code)]
#[path = "../tests/support/node.rs"]
mod cluster;
mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{fail, seed_demo_vault, set_demo_secret};

const TENANT: &str = cluster::TENANT;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let exit_after = std::env::args().any(|a| a == "--exit");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let root = env!("CARGO_MANIFEST_DIR");
    // target/<profile>/examples/demo_node -> target/<profile>/vaultsync (hack/demo.sh builds it).
    let binary: PathBuf = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("vaultsync")))
        .filter(|p| p.exists())
        .unwrap_or_else(|| fail("the vaultsync binary is not built: run hack/demo.sh"));

    println!(
        "building the operator image (from {}) and the app image...",
        binary.display()
    );
    let images = cluster::build_images(&binary);
    println!("starting a control plane and two kubelet nodes with containerd...");
    let cluster = cluster::Cluster::start(images, Duration::from_secs(2)).await;
    let client = cluster.client().await;

    let control = &cluster.emulator.control;
    seed_demo_vault(control, TENANT, cluster.plane.issuer());

    println!(
        "\n$ helm install vaultsync charts/vaultsync -n vaultsync-system -f <local image, hostNetwork>"
    );
    cluster.install_chart(&format!("{root}/charts/vaultsync"));
    cluster
        .ready_operator_pods(&client, "operator pods Ready")
        .await;
    println!("\n$ kubectl get pods -n vaultsync-system -o wide");
    print!(
        "{}",
        cluster.kubectl_ok(
            "list",
            &["get", "pods", "-n", cluster::NS, "-o", "wide"],
            ""
        )
    );

    cluster.kubectl_ok("create namespace", &["create", "namespace", "demo"], "");
    for name in ["vaultsecret.yaml", "vaultcertificate.yaml"] {
        let example = std::fs::read_to_string(format!("{root}/examples/{name}")).unwrap();
        let example = example.replace("VAULT_URL", &cluster.emulator.vault_url("demo"));
        print!(
            "{}",
            cluster.kubectl_ok("apply example", &["apply", "-f", "-"], &example)
        );
    }
    let hint = cluster.logs_hint();
    for (kind, name) in [
        ("vaultsecret", "app-secrets"),
        ("vaultcertificate", "web-tls"),
    ] {
        cluster::eventually(
            &format!("{kind}/{name} synced"),
            Duration::from_secs(60),
            &hint,
            || async {
                let reason = cluster.kubectl_ok(
                    "read status",
                    &[
                        "get",
                        kind,
                        name,
                        "-n",
                        "demo",
                        "-o",
                        "jsonpath={.status.conditions[?(@.type==\"Ready\")].reason}",
                    ],
                    "",
                );
                if reason == "Synced" {
                    Ok(())
                } else {
                    Err(format!("Ready reason {reason:?}"))
                }
            },
        )
        .await;
    }
    println!("\n$ kubectl get vaultsecrets,vaultcertificates -n demo");
    print!(
        "{}",
        cluster.kubectl_ok(
            "list",
            &["get", "vaultsecrets,vaultcertificates", "-n", "demo"],
            ""
        )
    );

    // The application: prints its mounted secret every second.
    let app = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "demo-app", "namespace": "demo"},
        "spec": {
            "hostNetwork": true,
            "securityContext": {"runAsNonRoot": true, "runAsUser": 65532},
            "containers": [{
                "name": "app", "image": cluster::APP_IMAGE, "imagePullPolicy": "Never",
                "command": ["/bin/sh", "-c",
                    "while true; do echo \"$(date +%T) DB_PASSWORD=$(cat /secrets/DB_PASSWORD)\"; sleep 1; done"],
                "volumeMounts": [{"name": "secrets", "mountPath": "/secrets"}],
            }],
            "volumes": [{"name": "secrets", "secret": {"secretName": "app-secrets"}}],
        }
    });
    cluster.kubectl_ok("start the app", &["apply", "-f", "-"], &app.to_string());
    let logs = || {
        let out = cluster.kubectl(&["logs", "-n", "demo", "demo-app", "--tail", "3"], "");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    cluster::eventually(
        "the app prints its secret",
        Duration::from_secs(60),
        &hint,
        || async {
            let text = logs();
            if text.contains("DB_PASSWORD=s3cr3t-demo-password") {
                Ok(())
            } else {
                Err(format!("app log: {text:?}"))
            }
        },
    )
    .await;
    println!("\n$ kubectl logs -n demo demo-app --tail 3");
    print!("{}", logs());

    println!("\nrotating db-password in the vault (and asking for a refresh now)...");
    let rotated = Instant::now();
    set_demo_secret(control, "db-password", "r0tated-demo-password");
    cluster.kubectl_ok(
        "force a refresh",
        &[
            "annotate",
            "--overwrite",
            "vaultsecret",
            "app-secrets",
            "-n",
            "demo",
            "vaultsync.dev/force-refresh=demo",
        ],
        "",
    );
    cluster::eventually(
        "the app sees the rotation",
        Duration::from_secs(60),
        &hint,
        || async {
            let text = logs();
            if text.contains("DB_PASSWORD=r0tated-demo-password") {
                Ok(())
            } else {
                Err(format!("app log: {text:?}"))
            }
        },
    )
    .await;
    println!(
        "$ kubectl logs -n demo demo-app --tail 3   # {:.1?} after the rotation, same pod, no restart",
        rotated.elapsed()
    );
    print!("{}", logs());

    println!("\nKUBECONFIG={}", cluster.plane.kubeconfig_path().display());
    println!(
        "kubectl: {}",
        cluster.plane.tools().binary("kubectl").display()
    );
    if !exit_after {
        println!("The demo keeps running; press Ctrl-C to stop and clean up.");
        let _ = tokio::signal::ctrl_c().await;
    }
    println!("stopping: pods, containerd, kubelets and the control plane are removed");
    drop(cluster);
}
