//! The one-command demo: a local control plane, the Key Vault emulator with a seeded vault,
//! certificate and identity, the operator (in this process), and `examples/vaultsecret.yaml` and
//! `examples/vaultcertificate.yaml` synced.
//!
//! `hack/demo.sh` (add `--exit` to stop after showing the result).

mod common;

use std::time::{Duration, Instant};

use clap::Parser;
use common::{fail, seed_demo_vault, set_demo_secret};
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
    // Event Grid push: the emulator delivers the vault's events here, with this shared secret.
    let push_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|e| fail(&e.to_string()))
        .to_string();
    let push_secret = format!("demo-push-{:016x}", rand::random::<u64>());
    let push_secret_file = dir.join("push-secret");
    std::fs::write(&push_secret_file, &push_secret).unwrap();
    let push_secret_path = push_secret_file.to_string_lossy().into_owned();
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
        "--push-addr",
        &push_addr,
        "--push-shared-secret-file",
        &push_secret_path,
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
    subscribe_push(control, &push_addr, &push_secret).await;
    let rotated = Instant::now();
    set_demo_secret(control, "db-password", "pushed-demo-password");
    let read_password = || {
        kubectl(&[
            "get",
            "secret",
            "app-secrets",
            "-n",
            "demo",
            "-o",
            "go-template={{index .data \"DB_PASSWORD\" | base64decode}}",
        ])
    };
    while read_password() != "pushed-demo-password" {
        if rotated.elapsed() > Duration::from_secs(30) {
            fail("the pushed rotation did not arrive within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "\nrotated db-password in the vault: Event Grid pushed it, the Secret changed {:.0?} later \
         (refreshInterval is 1m)",
        rotated.elapsed()
    );
    println!("\nRotate it yourself and watch the Secret follow within about a second:");
    println!(
        "  curl -s --cacert {ca} -X PUT {}/vaults/demo/secrets/db-password -d '{{\"value\":\"my-new-password\"}}'",
        emulator.control_url().trim_end_matches('/')
    );
    println!(
        "  {} --kubeconfig {kubeconfig} get secret app-secrets -n demo -o go-template='{{{{index .data \"DB_PASSWORD\" | base64decode}}}}'",
        plane.tools().binary("kubectl").display()
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

/// Subscribes the operator's push endpoint to vault `demo` (CloudEvents) and waits for the
/// validation handshake.
async fn subscribe_push(control: &vaultsync_emulator::Control, addr: &str, secret: &str) {
    let mut subscription =
        vaultsync_emulator::EventSubscription::new("demo", &format!("http://{addr}/"));
    subscription.schema = vaultsync_emulator::EventSchema::CloudEvents;
    subscription.retry = vaultsync_emulator::RetryPolicy::quick();
    subscription.delivery_headers.insert(
        vaultsync::push::DEFAULT_SECRET_HEADER.to_string(),
        secret.to_string(),
    );
    let id = control
        .subscribe_events(subscription)
        .unwrap_or_else(|e| fail(&e.to_string()));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let state = control.event_subscription(&id).map(|s| s.state);
        if state == Some(vaultsync_emulator::SubscriptionState::Active) {
            return;
        }
        if Instant::now() > deadline {
            fail(&format!(
                "the push subscription did not validate: {state:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
