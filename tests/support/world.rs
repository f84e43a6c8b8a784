//! One emulator and one operator process per test binary, on the shared control plane; each test
//! gets its own namespace, vault, Entra application and ServiceAccount.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use vaultsync::crd::VaultSecret;
use vaultsync_emulator::{Control, Emulator, EmulatorConfig, Permission, SecretOptions};
use vaultsync_testenv::{Watchdog, guard_pid, shared, unique_namespace};

use super::install_crds;

/// Tenant every test identity lives in.
pub const TENANT: &str = "00000000-0000-0000-0000-0000000000aa";

/// The per-binary world.
pub struct World {
    /// The emulator (served by its own runtime thread).
    pub emulator: Emulator,
    /// The operator's combined stdout and stderr.
    pub operator_log: PathBuf,
    /// The operator's metrics address.
    pub metrics_addr: String,
    _operator: Child,
    _guard: Watchdog,
}

static WORLD: OnceLock<World> = OnceLock::new();

/// Starts (once) the emulator, trusts the cluster's token issuer, and runs the operator binary.
pub fn world() -> &'static World {
    WORLD.get_or_init(|| {
        install_crds();
        let plane = shared();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let emulator = Emulator::start(EmulatorConfig::default())
                    .await
                    .expect("emulator starts");
                let jwks = shared().jwks().await.expect("cluster JWKS");
                emulator
                    .control()
                    .trust_issuer(shared().issuer(), &jwks)
                    .expect("issuer trusted");
                tx.send(emulator).unwrap();
                futures::future::pending::<()>().await;
            });
        });
        let emulator = rx.recv().expect("emulator thread");
        let dir = std::env::temp_dir().join(format!("vaultsync-it-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_file = dir.join("emulator-ca.pem");
        std::fs::write(&ca_file, emulator.ca_pem()).unwrap();
        let operator_log = dir.join("operator.log");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let metrics_addr = format!("127.0.0.1:{port}");
        let log = std::fs::File::create(&operator_log).unwrap();
        let operator = Command::new(env!("CARGO_BIN_EXE_vaultsync"))
            .arg("run")
            .args(["--kubeconfig", plane.kubeconfig_path().to_str().unwrap()])
            .args(["--metrics-addr", &metrics_addr])
            .args(["--tenant-id", TENANT])
            .args(["--authority-host", &emulator.authority_host()])
            .args(["--extra-ca-file", ca_file.to_str().unwrap()])
            .env("RUST_LOG", "info,kube=warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("operator starts");
        let guard = guard_pid(operator.id()).expect("operator guard");
        World {
            emulator,
            operator_log,
            metrics_addr,
            _operator: operator,
            _guard: guard,
        }
    })
}

impl World {
    /// The emulator's control surface.
    pub fn control(&self) -> &Control {
        self.emulator.control()
    }

    /// Everything the operator has logged so far.
    pub fn operator_log(&self) -> String {
        std::fs::read_to_string(&self.operator_log).unwrap_or_default()
    }
}

/// One test's isolated slice of the world.
pub struct Tenant {
    /// Admin client.
    pub client: Client,
    /// Namespace.
    pub ns: String,
    /// Vault name in the emulator.
    pub vault: String,
    /// Vault URL.
    pub vault_url: String,
    /// Entra client id of the ServiceAccount `app`.
    pub client_id: String,
}

/// A namespace with ServiceAccount `app` federated to a fresh Entra app with read and list roles
/// on a fresh vault.
pub async fn tenant(prefix: &str) -> Tenant {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let world = world();
    let client = shared().client().await.unwrap();
    let ns = unique_namespace(&client, prefix).await.unwrap();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let vault = format!("{prefix}{n}p{}", std::process::id());
    let client_id = format!("{:08x}-0000-4000-8000-{:012x}", std::process::id(), n);
    let control = world.control();
    control.create_vault(&vault, TENANT);
    control.register_app(TENANT, &client_id);
    control.add_federated_credential(
        &client_id,
        shared().issuer(),
        &format!("system:serviceaccount:{ns}:app"),
    );
    control.assign_role(
        &client_id,
        &vault,
        &[
            Permission::SecretsRead,
            Permission::CertificatesRead,
            Permission::List,
        ],
    );
    service_account(&client, &ns, "app", Some(&client_id)).await;
    Tenant {
        client,
        ns,
        vault_url: world.emulator.vault_url(&vault),
        vault,
        client_id,
    }
}

/// Creates a ServiceAccount, annotated with `client_id` when given.
pub async fn service_account(client: &Client, ns: &str, name: &str, client_id: Option<&str>) {
    let annotations = client_id.map(|id| {
        BTreeMap::from([(
            "azure.workload.identity/client-id".to_string(),
            id.to_string(),
        )])
    });
    Api::<ServiceAccount>::namespaced(client.clone(), ns)
        .create(
            &PostParams::default(),
            &ServiceAccount {
                metadata: ObjectMeta {
                    name: Some(name.into()),
                    annotations,
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

impl Tenant {
    /// Sets a secret in this tenant's vault; returns the version.
    pub fn set(&self, name: &str, value: &str) -> String {
        world()
            .control()
            .set_secret(
                &self.vault,
                name,
                value,
                SecretOptions {
                    enabled: true,
                    ..Default::default()
                },
            )
            .unwrap()
    }

    /// Applies a VaultSecret with kubectl; `body` is the YAML under `spec:` after `vault:`.
    pub fn apply(&self, name: &str, body: &str) {
        let yaml = format!(
            "apiVersion: vaultsync.dev/v1alpha1\nkind: VaultSecret\nmetadata:\n  name: {name}\n  namespace: {}\nspec:\n  vault:\n    url: {}\n    serviceAccountName: app\n{body}",
            self.ns, self.vault_url
        );
        let out = super::kubectl_apply(&yaml);
        assert!(
            out.status.success(),
            "apply failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Waits until the Ready condition has `reason` (and returns the resource).
    pub async fn wait_reason(&self, name: &str, reason: &str, timeout: Duration) -> VaultSecret {
        let api: Api<VaultSecret> = Api::namespaced(self.client.clone(), &self.ns);
        let deadline = Instant::now() + timeout;
        loop {
            let current = api.get(name).await.unwrap();
            let ready = current
                .status
                .as_ref()
                .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
                .cloned();
            if ready.as_ref().is_some_and(|c| c.reason == reason) {
                return current;
            }
            assert!(
                Instant::now() < deadline,
                "{name} never reached {reason}; last Ready: {ready:?}\noperator log tail:\n{}",
                tail(&world().operator_log())
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The Secret's data as strings.
    pub async fn secret_data(&self, name: &str) -> Option<BTreeMap<String, String>> {
        let secret = Api::<Secret>::namespaced(self.client.clone(), &self.ns)
            .get_opt(name)
            .await
            .unwrap()?;
        Some(
            secret
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, String::from_utf8(v.0).unwrap()))
                .collect(),
        )
    }

    /// Fails if any of `values` appears in the operator log, this namespace's Events, or any
    /// VaultSecret status in it.
    pub async fn assert_no_leak(&self, values: &[&str]) {
        let log = world().operator_log();
        let events = super::kubectl(&["get", "events", "-n", &self.ns, "-o", "json"], "");
        let statuses = super::kubectl(
            &[
                "get",
                "vaultsecrets",
                "-n",
                &self.ns,
                "-o",
                "jsonpath={.items[*].status}",
            ],
            "",
        );
        for value in values {
            assert!(
                !log.contains(value),
                "a secret value leaked into the operator log"
            );
            assert!(
                !String::from_utf8_lossy(&events.stdout).contains(value),
                "a secret value leaked into Events"
            );
            assert!(
                !String::from_utf8_lossy(&statuses.stdout).contains(value),
                "a secret value leaked into status"
            );
        }
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}
