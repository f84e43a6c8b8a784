//! The one-command demo: a local control plane, the Key Vault emulator with a seeded vault,
//! certificate and identity, the operator (in this process), and `examples/vaultsecret.yaml` and
//! `examples/vaultcertificate.yaml` synced.
//!
//! `hack/demo.sh` (add `--exit` to stop after showing the result).

mod common;

use std::time::{Duration, Instant};

use clap::Parser;
use common::{fail, seed_demo_vault};
use vaultsync::config::RunConfig;
use vaultsync_emulator::{Emulator, EmulatorConfig};
use vaultsync_testenv::{ControlPlane, ControlPlaneOptions};

const TENANT: &str = "demo-tenant";

#[tokio::main]
async fn main() {
    let exit_after = std::env::args().any(|a| a == "--exit");
    let _ = rustls::crypto::ring::default_provider().install_default();
    println!("starting a local control plane (etcd, kube-apiserver, kube-controller-manager)...");
    let plane = ControlPlane::start(ControlPlaneOptions::default())
        .await
        .unwrap_or_else(|e| fail(&e.to_string()));
    println!("starting the Key Vault + Entra emulator...");
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .unwrap_or_else(|e| fail(&e.to_string()));
    let control = emulator.control();
    let jwks = plane.jwks().await.unwrap_or_else(|e| fail(&e.to_string()));
    control
        .trust_issuer(plane.issuer(), &jwks)
        .unwrap_or_else(|e| fail(&e.to_string()));
    seed_demo_vault(control, TENANT, plane.issuer());

    let dir = std::env::temp_dir().join(format!("vaultsync-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_file = dir.join("emulator-ca.pem");
    std::fs::write(&ca_file, emulator.ca_pem()).unwrap();
    let kubectl = |args: &[&str]| {
        let out = plane
            .kubectl()
            .args(args)
            .output()
            .unwrap_or_else(|e| fail(&e.to_string()));
        if !out.status.success() {
            fail(&format!(
                "kubectl {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let root = env!("CARGO_MANIFEST_DIR");
    kubectl(&["apply", "-f", &format!("{root}/crds/vaultsync.yaml")]);
    kubectl(&["create", "namespace", "demo"]);
    let mut example_files = Vec::new();
    for name in ["vaultsecret.yaml", "vaultcertificate.yaml"] {
        let example = std::fs::read_to_string(format!("{root}/examples/{name}")).unwrap();
        let file = dir.join(name);
        std::fs::write(
            &file,
            example.replace("VAULT_URL", &emulator.vault_url("demo")),
        )
        .unwrap();
        example_files.push(file);
    }

    println!("starting the operator...");
    let kubeconfig = plane.kubeconfig_path().to_string_lossy().into_owned();
    let authority = emulator.authority_host();
    let ca = ca_file.to_string_lossy().into_owned();
    let config = RunConfig::try_parse_from([
        "run",
        "--kubeconfig",
        &kubeconfig,
        "--metrics-addr",
        "127.0.0.1:0",
        "--tenant-id",
        TENANT,
        "--authority-host",
        &authority,
        "--extra-ca-file",
        &ca,
        // The emulator's vaults live under *.vault.localhost on loopback.
        "--allowed-vault-hosts",
        ".vault.localhost",
        "--allow-loopback-hosts",
        "--log-format",
        "text",
    ])
    .unwrap_or_else(|e| fail(&e.to_string()));
    // The control plane stops under the operator at exit: its reconnect noise is not news.
    vaultsync::telemetry::init_logging(
        vaultsync::telemetry::LogFormat::Text,
        "warn,kube_client=off",
    );
    let operator = tokio::spawn(vaultsync::controller::run(config));

    // The CRDs may take a moment to be served.
    for file in &example_files {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = plane
                .kubectl()
                .args(["apply", "-f", file.to_str().unwrap()])
                .output()
                .unwrap();
            if out.status.success() {
                print!("{}", String::from_utf8_lossy(&out.stdout));
                break;
            }
            if Instant::now() > deadline {
                fail(&format!(
                    "kubectl apply failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    for (kind, name) in [
        ("vaultsecret", "app-secrets"),
        ("vaultcertificate", "web-tls"),
    ] {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let reason = kubectl(&[
                "get",
                kind,
                name,
                "-n",
                "demo",
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Ready\")].reason}",
            ]);
            if reason == "Synced" {
                break;
            }
            if Instant::now() > deadline {
                fail(&format!(
                    "the example {kind}/{name} did not sync (Ready reason: {reason:?})"
                ));
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    println!("\n$ kubectl get vaultsecrets,vaultcertificates -n demo");
    print!(
        "{}",
        kubectl(&["get", "vaultsecrets,vaultcertificates", "-n", "demo"])
    );
    println!("\n$ kubectl get secrets -n demo -l app=demo");
    print!(
        "{}",
        kubectl(&["get", "secrets", "-n", "demo", "-l", "app=demo"])
    );
    println!("\n$ kubectl get secret app-secrets -n demo -o go-template=... (decoded)");
    print!(
        "{}",
        kubectl(&[
            "get",
            "secret",
            "app-secrets",
            "-n",
            "demo",
            "-o",
            "go-template={{range $k, $v := .data}}{{$k}}={{$v | base64decode}}\n{{end}}"
        ])
    );
    println!(
        "\n$ kubectl get vaultcertificate web-tls -n demo -o jsonpath='{{.status.certificate}}'"
    );
    println!(
        "{}",
        kubectl(&[
            "get",
            "vaultcertificate",
            "web-tls",
            "-n",
            "demo",
            "-o",
            "jsonpath={.status.certificate}"
        ])
    );
    println!("\nKUBECONFIG={}", plane.kubeconfig_path().display());
    println!("kubectl: {}", plane.tools().binary("kubectl").display());
    if !exit_after {
        println!("The demo keeps running; press Ctrl-C to stop and clean up.");
        let _ = tokio::signal::ctrl_c().await;
    }
    operator.abort();
    let _ = std::fs::remove_dir_all(&dir);
    drop(plane);
}
