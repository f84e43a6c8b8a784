//! One emulator and one operator process per test binary, on the shared control plane; each test
//! gets its own namespace, vault, Entra application and ServiceAccount.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use vaultsync::crd::{Synced, VaultSecret};
use vaultsync_emulator::{Control, Emulator, EmulatorConfig, Permission, SecretOptions};
use vaultsync_testenv::{Watchdog, guard_pid, shared, unique_namespace};

use super::eventually::eventually;
use super::install_crds;

/// TestNamespace every test identity lives in.
pub const ENTRA_TENANT_ID: &str = "00000000-0000-0000-0000-0000000000aa";

/// The emulator of this test binary, without any operator process.
pub struct Backdrop {
    /// The emulator (served by its own runtime thread).
    pub emulator: Emulator,
    /// The emulator's CA certificate (PEM), for `--extra-ca-file`.
    pub ca_file: PathBuf,
    /// This test binary's scratch directory.
    pub dir: PathBuf,
}

static BACKDROP: OnceLock<Backdrop> = OnceLock::new();

/// Starts (once) the emulator and trusts the cluster's token issuer; starts no operator. Tests
/// that run operator processes of their own use this with [`test_namespace_without_operator`].
pub fn backdrop() -> &'static Backdrop {
    BACKDROP.get_or_init(|| {
        install_crds();
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
        Backdrop {
            emulator,
            ca_file,
            dir,
        }
    })
}

/// A free `127.0.0.1:PORT` for an operator's `--metrics-addr`.
pub fn free_metrics_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

/// The arguments every operator under test runs with, `run` included: the shared control
/// plane's admin kubeconfig, `metrics_addr`, the test tenant and the emulator as authority and CA.
pub fn operator_args(metrics_addr: &str) -> Vec<String> {
    operator_args_as(shared().kubeconfig_path(), metrics_addr)
}

/// As [`operator_args`], authenticated by `kubeconfig` instead of the admin one.
pub fn operator_args_as(kubeconfig: &Path, metrics_addr: &str) -> Vec<String> {
    let backdrop = backdrop();
    [
        "run",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--metrics-addr",
        metrics_addr,
        "--tenant-id",
        ENTRA_TENANT_ID,
        "--authority-host",
        &backdrop.emulator.authority_host(),
        "--extra-ca-file",
        backdrop.ca_file.to_str().unwrap(),
        "--allowed-vault-hosts",
        ".vault.localhost",
        "--allow-loopback-hosts",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Spawns the operator binary with [`operator_args`] plus `extra` and the environment `envs`
/// (which may override the default `RUST_LOG`), stdout and stderr appended to `log`.
pub fn spawn_operator(
    metrics_addr: &str,
    extra: &[&str],
    envs: &[(&str, &str)],
    log: &Path,
) -> Child {
    spawn_operator_as(shared().kubeconfig_path(), metrics_addr, extra, envs, log)
}

/// As [`spawn_operator`], authenticated by `kubeconfig`.
pub fn spawn_operator_as(
    kubeconfig: &Path,
    metrics_addr: &str,
    extra: &[&str],
    envs: &[(&str, &str)],
    log: &Path,
) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_vaultsync"))
        .args(operator_args_as(kubeconfig, metrics_addr))
        .args(extra)
        .env("RUST_LOG", "info,kube=warn")
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("operator starts")
}

/// The emulator's control surface, without starting the world's operator.
pub fn world_control() -> &'static Control {
    backdrop().emulator.control()
}

/// The per-binary world.
pub struct World {
    /// The emulator (served by its own runtime thread).
    pub emulator: &'static Emulator,
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
        let backdrop = backdrop();
        let operator_log = backdrop.dir.join("operator.log");
        let metrics_addr = free_metrics_addr();
        std::fs::File::create(&operator_log).unwrap();
        let operator = spawn_operator(&metrics_addr, &[], &[], &operator_log);
        let guard = guard_pid(operator.id()).expect("operator guard");
        World {
            emulator: &backdrop.emulator,
            operator_log,
            metrics_addr,
            _operator: operator,
            _guard: guard,
        }
    })
}

impl World {
    /// The operator process's id.
    pub fn operator_pid(&self) -> u32 {
        self._operator.id()
    }

    /// The emulator's control surface.
    pub fn control(&self) -> &Control {
        self.emulator.control()
    }

    /// Everything the operator has logged so far.
    pub fn operator_log(&self) -> String {
        std::fs::read_to_string(&self.operator_log).unwrap_or_default()
    }

    /// The last lines the operator logged, for failure messages.
    pub fn operator_log_tail(&self) -> String {
        tail(&self.operator_log())
    }
}

/// One test's isolated slice of the world.
pub struct TestNamespace {
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
pub async fn test_namespace(prefix: &str) -> TestNamespace {
    world();
    test_namespace_without_operator(prefix).await
}

/// [`tenant`] without starting the world's operator process, for tests that run their own.
pub async fn test_namespace_without_operator(prefix: &str) -> TestNamespace {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let world = backdrop();
    let client = shared().client().await.unwrap();
    let ns = unique_namespace(&client, prefix).await.unwrap();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let vault = format!("{prefix}{n}p{}", std::process::id());
    let client_id = format!("{:08x}-0000-4000-8000-{:012x}", std::process::id(), n);
    let control = world.emulator.control();
    control.create_vault(&vault, ENTRA_TENANT_ID);
    control.register_app(ENTRA_TENANT_ID, &client_id);
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
    TestNamespace {
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

impl TestNamespace {
    /// Sets a secret in this tenant's vault; returns the version.
    pub fn set(&self, name: &str, value: &str) -> String {
        backdrop()
            .emulator
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

    /// Deletes resource `name` of kind `K` in this namespace.
    pub async fn delete<K>(&self, name: &str)
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        Api::<K>::namespaced(self.client.clone(), &self.ns)
            .delete(name, &Default::default())
            .await
            .expect("delete");
    }

    /// Applies a VaultSecret with kubectl; `body` is the YAML under `spec:` after `vault:`.
    pub fn apply(&self, name: &str, body: &str) {
        self.apply_kind("VaultSecret", name, body);
    }

    /// Applies a resource of `kind` reading this tenant's vault as ServiceAccount `app`; `body`
    /// is the YAML under `spec:` after `vault:`.
    pub fn apply_kind(&self, kind: &str, name: &str, body: &str) {
        let yaml = format!(
            "apiVersion: vaultsync.dev/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\n  namespace: {}\nspec:\n  vault:\n    url: {}\n    serviceAccountName: app\n{body}",
            self.ns, self.vault_url
        );
        let out = super::kubectl_apply(&yaml);
        assert!(
            out.status.success(),
            "apply failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Waits until `check` holds for resource `name` of kind `K` (and returns it).
    pub async fn wait_for<K>(
        &self,
        name: &str,
        what: &str,
        timeout: Duration,
        check: impl Fn(&K) -> bool,
    ) -> K
    where
        K: Synced
            + kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        let api: Api<K> = Api::namespaced(self.client.clone(), &self.ns);
        let goal = format!("{name} reaching {what}");
        eventually(&goal, timeout, || async {
            let current = api.get(name).await.unwrap();
            if check(&current) {
                return Ok(current);
            }
            Err(format!(
                "status {:?}\noperator log tail:\n{}",
                current.sync_status(),
                world_log_tail()
            ))
        })
        .await
    }

    /// Waits until the VaultSecret's Ready condition has `reason` (and returns it).
    pub async fn wait_reason(&self, name: &str, reason: &str, timeout: Duration) -> VaultSecret {
        self.wait_for(name, reason, timeout, |v: &VaultSecret| {
            ready_reason(v) == Some(reason)
        })
        .await
    }

    /// Sets the force-refresh annotation of `kind` (`vaultsecret`, `vaultcertificate`) `name`.
    pub fn force_refresh(&self, kind: &str, name: &str, value: &str) {
        let out = super::kubectl(
            &[
                "annotate",
                "--overwrite",
                kind,
                name,
                "-n",
                &self.ns,
                &format!("vaultsync.dev/force-refresh={value}"),
            ],
            "",
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
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

    /// Fails if any of `values` appears in the operator log, this namespace's Events, or the
    /// status of any vaultsync resource in it.
    pub async fn assert_no_leak(&self, values: &[&str]) {
        let log = WORLD.get().map(World::operator_log).unwrap_or_default();
        let events = super::kubectl(&["get", "events", "-n", &self.ns, "-o", "json"], "");
        let statuses = super::kubectl(
            &[
                "get",
                "vaultsecrets,vaultcertificates",
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

/// The reason of a resource's Ready condition.
pub fn ready_reason<K: Synced>(resource: &K) -> Option<&str> {
    resource
        .sync_status()?
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.reason.as_str())
}

/// The world operator's last lines, or nothing when this binary never started it.
fn world_log_tail() -> String {
    WORLD
        .get()
        .map(World::operator_log_tail)
        .unwrap_or_default()
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}
