//! The one-command demo: a local control plane, the Key Vault emulator with a seeded vault and
//! identity, the operator (in this process), and `examples/vaultsecret.yaml` synced.
//!
//! `hack/demo.sh` (add `--exit` to stop after showing the result).

use std::time::{Duration, Instant};

use vaultsync::config::{LogFormatArg, RunConfig};
use vaultsync_emulator::{Emulator, EmulatorConfig, Permission, SecretOptions};
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
    control.create_vault("demo", TENANT);
    control.register_app(TENANT, "demo-app");
    control.add_federated_credential("demo-app", plane.issuer(), "system:serviceaccount:demo:app");
    control.assign_role(
        "demo-app",
        "demo",
        &[Permission::SecretsRead, Permission::List],
    );
    for (name, value) in [
        ("db-password", "s3cr3t-demo-password"),
        ("app-api-key", "demo-api-key"),
        ("app-region", "westeurope"),
    ] {
        control
            .set_secret(
                "demo",
                name,
                value,
                SecretOptions {
                    enabled: true,
                    ..Default::default()
                },
            )
            .unwrap_or_else(|e| fail(&e.to_string()));
    }

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
    let example = std::fs::read_to_string(format!("{root}/examples/vaultsecret.yaml")).unwrap();
    let example_file = dir.join("vaultsecret.yaml");
    std::fs::write(
        &example_file,
        example.replace("VAULT_URL", &emulator.vault_url("demo")),
    )
    .unwrap();

    println!("starting the operator...");
    let config = RunConfig {
        kubeconfig: Some(plane.kubeconfig_path().to_path_buf()),
        namespaces: Vec::new(),
        metrics_addr: "127.0.0.1:0".parse().unwrap(),
        tenant_id: Some(TENANT.into()),
        authority_host: Some(emulator.authority_host()),
        extra_ca_file: Some(ca_file.clone()),
        insecure_disable_challenge_resource_verification: false,
        vault_requests_per_second: 100.0,
        concurrency: 4,
        log_format: LogFormatArg::Text,
        leader_elect: false,
        leader_election_lease_name: "vaultsync-leader".into(),
        leader_election_namespace: None,
        leader_election_lease_duration: Duration::from_secs(15),
        leader_election_renew_deadline: Duration::from_secs(10),
        leader_election_retry_period: Duration::from_secs(2),
    };
    vaultsync::telemetry::init_logging(vaultsync::telemetry::LogFormat::Text, "warn");
    let operator = tokio::spawn(vaultsync::controller::run(config));

    // The CRD may take a moment to be served.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = plane
            .kubectl()
            .args(["apply", "-f", example_file.to_str().unwrap()])
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
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reason = kubectl(&[
            "get",
            "vaultsecret",
            "app-secrets",
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
                "the example did not sync (Ready reason: {reason:?})"
            ));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    println!("\n$ kubectl get vaultsecrets -n demo");
    print!("{}", kubectl(&["get", "vaultsecrets", "-n", "demo"]));
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

fn fail(message: &str) -> ! {
    eprintln!("demo failed: {message}");
    std::process::exit(1);
}
