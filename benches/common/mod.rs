//! What the benchmarks share: a private control plane with the CRDs, the vault emulator with a
//! secret vault and a certificate vault readable by ServiceAccount `bench/app`, and the
//! operator binary started against them as it runs in a cluster: as its own ServiceAccount with
//! the RBAC of `deploy/`, authenticated by a token.
#![allow(dead_code)] // Each benchmark uses part of it.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{ListParams, ObjectMeta, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use vaultsync::crd::Synced;
use vaultsync_emulator::{Control, Emulator, EmulatorConfig, Permission};
use vaultsync_testenv::{ControlPlane, ControlPlaneOptions, Watchdog, guard_pid};

/// The namespace the resources live in.
pub const NAMESPACE: &str = "bench";
/// The vault holding the secrets.
pub const SECRET_VAULT: &str = "bench";
/// The vault holding the certificates.
pub const CERT_VAULT: &str = "benchcerts";
const TENANT: &str = "bench-tenant";
const CLIENT_ID: &str = "bench-client";

/// `name` from the environment, else `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A `/proc/<pid>/status` figure in KiB (`VmRSS:`, `VmHWM:`).
pub fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// CPU time `pid` has used so far (user + system), in seconds.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may contain spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name; in clock
    // ticks, 100 per second on Linux.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i).and_then(|v| v.parse::<u64>().ok()))
        .sum();
    ticks as f64 / 100.0
}

/// The operator's namespace and ServiceAccount, as `deploy/` installs them.
const OPERATOR_NAMESPACE: &str = "vaultsync-system";
const OPERATOR_ACCOUNT: &str = "vaultsync";
/// The parts of `deploy/` the operator's identity needs (not its Deployment: it runs here).
const OPERATOR_IDENTITY: [&str; 5] = [
    "00-namespace.yaml",
    "serviceaccount.yaml",
    "rbac.yaml",
    "leader-election-rbac.yaml",
    "content-hash-key-rbac.yaml",
];

/// The control plane, the emulator and the bench namespace.
pub struct Bench {
    plane: ControlPlane,
    emulator: Emulator,
    client: Client,
    dir: PathBuf,
    operator_kubeconfig: PathBuf,
}

impl Bench {
    /// Starts everything and waits until the CRDs are served.
    pub async fn start() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let plane = ControlPlane::start(ControlPlaneOptions::default())
            .await
            .expect("control plane");
        let client = plane.client().await.unwrap();
        let crds = concat!(env!("CARGO_MANIFEST_DIR"), "/crds/vaultsync.yaml");
        let applied = plane
            .kubectl()
            .args(["apply", "-f", crds])
            .status()
            .unwrap();
        assert!(applied.success());
        let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
        let control = emulator.control();
        control
            .trust_issuer(plane.issuer(), &plane.jwks().await.unwrap())
            .unwrap();
        control.register_app(TENANT, CLIENT_ID);
        control.add_federated_credential(
            CLIENT_ID,
            plane.issuer(),
            &format!("system:serviceaccount:{NAMESPACE}:app"),
        );
        for vault in [SECRET_VAULT, CERT_VAULT] {
            control.create_vault(vault, TENANT);
            control.assign_role(
                CLIENT_ID,
                vault,
                &[
                    Permission::SecretsRead,
                    Permission::CertificatesRead,
                    Permission::List,
                ],
            );
        }
        for namespace in [NAMESPACE, "unrelated"] {
            let ns = Namespace {
                metadata: ObjectMeta {
                    name: Some(namespace.into()),
                    ..Default::default()
                },
                ..Default::default()
            };
            Api::<Namespace>::all(client.clone())
                .create(&PostParams::default(), &ns)
                .await
                .unwrap();
        }
        let sa = ServiceAccount {
            metadata: ObjectMeta {
                name: Some("app".into()),
                annotations: Some(BTreeMap::from([(
                    "azure.workload.identity/client-id".to_string(),
                    CLIENT_ID.to_string(),
                )])),
                ..Default::default()
            },
            ..Default::default()
        };
        Api::<ServiceAccount>::namespaced(client.clone(), NAMESPACE)
            .create(&PostParams::default(), &sa)
            .await
            .unwrap();
        let served: Api<vaultsync::crd::VaultSecret> = Api::namespaced(client.clone(), NAMESPACE);
        while served.list(&ListParams::default()).await.is_err() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let dir = std::env::temp_dir().join(format!("vaultsync-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ca.pem"), emulator.ca_pem()).unwrap();
        let operator_kubeconfig = operator_identity(&plane);
        // Like the operator, the benchmark's own client presents a token: a client certificate
        // costs the API server a chain verification on every request, taking CPU from what is
        // measured.
        let client = admin_token_client(&plane).await;
        Bench {
            plane,
            emulator,
            client,
            dir,
            operator_kubeconfig,
        }
    }

    /// A scratch directory for this run.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// CPU seconds used so far by the control plane's processes (etcd, kube-apiserver,
    /// kube-controller-manager and the watchdog) and by this process (the emulator and the
    /// benchmark's own client).
    pub fn cpu_elsewhere(&self) -> (f64, f64) {
        let plane = self.plane.pids().into_iter().map(cpu_seconds).sum();
        (plane, cpu_seconds(std::process::id()))
    }

    /// An admin client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The emulator's control surface.
    pub fn control(&self) -> &Control {
        self.emulator.control()
    }

    /// The URL of `vault`.
    pub fn vault_url(&self, vault: &str) -> String {
        self.emulator.vault_url(vault)
    }

    /// Starts the operator binary with a per-vault budget of `rps` requests per second.
    pub fn operator(&self, rps: f64) -> Operator {
        self.operator_with(rps, &[])
    }

    /// [`Bench::operator`] with `extra` flags.
    pub fn operator_with(&self, rps: f64, extra: &[&str]) -> Operator {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let metrics_addr = format!("127.0.0.1:{port}");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("operator.log"))
            .unwrap();
        // VAULTSYNC_BENCH_WRAP runs the operator under another command (a heap profiler, say).
        let wrap = std::env::var("VAULTSYNC_BENCH_WRAP").unwrap_or_default();
        let mut wrap = wrap.split_whitespace();
        let mut command = match wrap.next() {
            Some(program) => {
                let mut command = Command::new(program);
                command.args(wrap).arg(env!("CARGO_BIN_EXE_vaultsync"));
                // Its own process group: a wrapper may not pass a signal on to the operator, so
                // `stop` signals the whole group.
                std::os::unix::process::CommandExt::process_group(&mut command, 0);
                command
            }
            None => Command::new(env!("CARGO_BIN_EXE_vaultsync")),
        };
        let child = command
            .args(["run", "--kubeconfig"])
            .arg(&self.operator_kubeconfig)
            .env("POD_NAMESPACE", OPERATOR_NAMESPACE)
            .args(["--metrics-addr", &metrics_addr, "--tenant-id", TENANT])
            .args(["--authority-host", &self.emulator.authority_host()])
            .arg("--extra-ca-file")
            .arg(self.dir.join("ca.pem"))
            .args([
                "--allowed-vault-hosts",
                ".vault.localhost",
                "--allow-loopback-hosts",
            ])
            .args(["--vault-requests-per-second", &rps.to_string()])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let guard = guard_pid(child.id()).unwrap();
        std::thread::sleep(Duration::from_secs(2));
        Operator {
            child,
            metrics_addr,
            _guard: guard,
        }
    }

    /// Waits until `count` resources of kind `K` in the bench namespace are Ready (Synced).
    ///
    /// Follows a watch rather than listing: a list of 10,000 resources every quarter second
    /// would take CPU from the operator and the API server being measured.
    pub async fn wait_ready<K>(&self, api: &Api<K>, count: usize, what: &str)
    where
        K: Synced + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
    {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(900);
        let mut ready = HashSet::new();
        let mut events = watcher(api.clone(), watcher::Config::default())
            .default_backoff()
            .boxed();
        while ready.len() < count {
            let event = tokio::time::timeout_at(deadline, events.next())
                .await
                .unwrap_or_else(|_| panic!("{what}: not all Ready in 15 minutes"))
                .expect("the watch goes on");
            match event {
                Ok(watcher::Event::Init) => ready.clear(),
                Ok(watcher::Event::Apply(resource) | watcher::Event::InitApply(resource)) => {
                    if is_ready(&resource) {
                        ready.insert(resource.name_any());
                    } else {
                        ready.remove(&resource.name_any());
                    }
                }
                Ok(watcher::Event::Delete(resource)) => {
                    ready.remove(&resource.name_any());
                }
                Ok(watcher::Event::InitDone) | Err(_) => {}
            }
        }
    }
}

fn is_ready<K: Synced>(resource: &K) -> bool {
    resource.sync_status().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.reason == "Synced")
    })
}

/// One operator process.
pub struct Operator {
    child: Child,
    metrics_addr: String,
    _guard: Watchdog,
}

impl Operator {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops it (SIGTERM) and waits for it to exit.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        // A wrapped operator leads its own process group: stop the operator under the wrapper.
        let _ = Command::new("kill")
            .args(["--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }

    /// Waits until this process has synced `count` objects (its per-object sync-time series).
    pub async fn wait_synced(&self, count: usize) {
        let started = Instant::now();
        loop {
            let synced = metrics(&self.metrics_addr)
                .await
                .lines()
                .filter(|l| l.starts_with("vaultsync_last_sync_timestamp_seconds{"))
                .count();
            if synced >= count {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(900),
                "only {synced} of {count} synced again in 15 minutes"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// Installs the operator's ServiceAccount and RBAC from `deploy/` and returns a kubeconfig that
/// authenticates as that ServiceAccount.
fn operator_identity(plane: &ControlPlane) -> PathBuf {
    let deploy = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy");
    let mut apply = plane.kubectl();
    apply.arg("apply");
    for file in OPERATOR_IDENTITY {
        apply.arg("-f").arg(format!("{deploy}/{file}"));
    }
    let applied = apply.stdout(Stdio::null()).status().unwrap();
    assert!(applied.success(), "kubectl apply of the operator's RBAC");
    let token = plane
        .service_account_token(OPERATOR_NAMESPACE, OPERATOR_ACCOUNT, "24h")
        .unwrap();
    plane.write_token_kubeconfig("operator", &token).unwrap()
}

/// A client with cluster-admin rights that authenticates with a ServiceAccount token.
async fn admin_token_client(plane: &ControlPlane) -> Client {
    let run = |args: &[&str]| {
        let status = plane
            .kubectl()
            .args(args)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "kubectl {args:?}");
    };
    run(&[
        "create",
        "serviceaccount",
        "bench-admin",
        "-n",
        "kube-system",
    ]);
    run(&[
        "create",
        "clusterrolebinding",
        "bench-admin",
        "--clusterrole=cluster-admin",
        "--serviceaccount=kube-system:bench-admin",
    ]);
    let token = plane
        .service_account_token("kube-system", "bench-admin", "24h")
        .unwrap();
    plane.client_with_token(&token).await.unwrap()
}

/// The operator's metrics text ("" while it does not answer).
async fn metrics(addr: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return String::new();
    };
    let request = "GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).await.is_err() {
        return String::new();
    }
    let mut body = String::new();
    let _ = stream.read_to_string(&mut body).await;
    body
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
