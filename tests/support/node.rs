//! A local cluster that runs real pods, for tests/node.rs: a control plane with node support, two
//! kubelet nodes on 127.X.Y.2 and 127.X.Y.3 (each with its own containerd, the operator and app
//! images imported), and the Key Vault + Entra emulator on the host's 127.0.0.1.
//!
//! Two nodes because every pod uses the host network (loopback only on the test machines): the
//! chart's two replicas each bind the metrics port on their own node's address.

use std::future::Future;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use kube::{Api, Client};
use vaultsync_emulator::{Control, Emulator, EmulatorConfig};
use vaultsync_testenv::{ControlPlane, ControlPlaneOptions, Node, NodeOptions};

/// The operator image hack/build-images.sh builds around this build's binary.
pub const OPERATOR_IMAGE: &str = "localhost/vaultsync/vaultsync:testenv";
/// busybox-static + openssl, for consumer pods.
pub const APP_IMAGE: &str = "localhost/vaultsync-testenv/app:1";
/// Entra tenant of the test identities.
pub const TENANT: &str = "00000000-0000-0000-0000-0000000000bb";
/// The release namespace.
pub const NS: &str = "vaultsync-system";
/// Selector of the operator pods.
pub const OPERATOR_PODS: &str = "app.kubernetes.io/name=vaultsync";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A directory under the temp dir, removed when dropped.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    pub fn new(prefix: &str) -> ScratchDir {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("vaultsync-{prefix}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        ScratchDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Image archives built for this test binary.
pub struct Images {
    pub dir: ScratchDir,
    pub operator: PathBuf,
    pub app: PathBuf,
}

/// Builds the operator image around `binary` (this build's `vaultsync`) and the app image.
pub fn build_images(binary: &Path) -> Images {
    let dir = ScratchDir::new("images");
    let build = |args: &[&str]| {
        let out = Command::new(repo().join("hack/build-images.sh"))
            .arg(dir.path())
            .args(args)
            .output()
            .expect("hack/build-images.sh runs");
        assert!(
            out.status.success(),
            "step 'build image {}' failed: {}",
            args[0],
            String::from_utf8_lossy(&out.stderr)
        );
    };
    build(&["operator", binary.to_str().expect("a UTF-8 path")]);
    build(&["app"]);
    Images {
        operator: dir.path().join("vaultsync.tar"),
        app: dir.path().join("app.tar"),
        dir,
    }
}

/// The emulator, served by a runtime on its own thread (tests block on kubectl and helm).
pub struct HostEmulator {
    pub control: Control,
    pub ca_pem: String,
    pub authority_host: String,
    vault_url_base: (String, u16),
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HostEmulator {
    fn start(issuer: String, jwks: String) -> HostEmulator {
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let emulator = Emulator::start(EmulatorConfig::default())
                    .await
                    .expect("emulator starts");
                emulator
                    .control()
                    .trust_issuer(&issuer, &jwks)
                    .expect("issuer trusted");
                tx.send((
                    emulator.control().clone(),
                    emulator.ca_pem().to_string(),
                    emulator.authority_host(),
                    emulator.port(),
                ))
                .unwrap();
                let _ = tokio::task::spawn_blocking(move || stop_rx.recv()).await;
                emulator.shutdown().await;
            });
        });
        let (control, ca_pem, authority_host, port) = rx.recv().expect("emulator thread");
        HostEmulator {
            control,
            ca_pem,
            authority_host,
            vault_url_base: ("vault.localhost".into(), port),
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// `https://NAME.vault.localhost:PORT/`.
    pub fn vault_url(&self, vault: &str) -> String {
        format!(
            "https://{vault}.{}:{}/",
            self.vault_url_base.0, self.vault_url_base.1
        )
    }
}

impl Drop for HostEmulator {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Control plane, two nodes, emulator. Dropped in reverse: nodes (swept), then the plane.
pub struct Cluster {
    pub emulator: HostEmulator,
    pub nodes: Vec<Node>,
    pub plane: ControlPlane,
    pub images: Images,
}

impl Cluster {
    /// Starts everything; node start times are printed.
    pub async fn start(images: Images, sync_frequency: Duration) -> Cluster {
        let plane = ControlPlane::start(ControlPlaneOptions {
            nodes: true,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let mut nodes = Vec::new();
        for last in [2, 3] {
            let node = Node::start(
                &plane,
                NodeOptions {
                    address: vaultsync_testenv::loopback_address(last),
                    sync_frequency,
                    images: vec![images.operator.clone(), images.app.clone()],
                    ..Default::default()
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
            eprintln!(
                "figure: node {} Ready {:?} after its start (images imported)",
                node.name(),
                node.start_duration()
            );
            nodes.push(node);
        }
        let jwks = plane.jwks().await.expect("cluster JWKS");
        let emulator = HostEmulator::start(plane.issuer().to_string(), jwks);
        Cluster {
            emulator,
            nodes,
            plane,
            images,
        }
    }

    pub async fn client(&self) -> Client {
        self.plane.client().await.unwrap()
    }

    /// The chart's values for this cluster: the local image, host network, and the emulator on
    /// the host as authority and vault (its CA from a ConfigMap), the API server on 127.0.0.1.
    pub fn chart_values(&self) -> String {
        let port = self.plane.server_url().rsplit(':').next().unwrap();
        let (repository, tag) = OPERATOR_IMAGE.rsplit_once(':').unwrap();
        serde_json::json!({
            "image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
            "hostNetwork": true,
            "tenantId": TENANT,
            "allowedVaultHosts": [".vault.localhost"],
            "logFormat": "text",
            "leaderElection": {
                "enabled": true, "leaseName": "vaultsync-leader",
                "leaseDuration": "6s", "renewDeadline": "4s", "retryPeriod": "1s",
            },
            "extraArgs": [
                format!("--authority-host={}", self.emulator.authority_host),
                "--extra-ca-file=/etc/vaultsync/emulator/ca.crt",
                "--allow-loopback-hosts",
            ],
            "extraEnv": [
                {"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"},
                {"name": "KUBERNETES_SERVICE_PORT", "value": port},
                {"name": "RUST_LOG", "value": "info,kube=warn"},
            ],
            "extraVolumes": [{"name": "emulator-ca", "configMap": {"name": "emulator-ca"}}],
            "extraVolumeMounts": [
                {"name": "emulator-ca", "mountPath": "/etc/vaultsync/emulator", "readOnly": true}
            ],
        })
        .to_string()
    }

    /// `helm install vaultsync CHART -n vaultsync-system` with [`Cluster::chart_values`], after
    /// creating the namespace and the emulator CA ConfigMap.
    pub fn install_chart(&self, chart: &str) {
        self.install_chart_with(chart, serde_json::json!({}));
    }

    /// [`Cluster::install_chart`] with the top-level values of `overrides` replacing the
    /// defaults of [`Cluster::chart_values`].
    pub fn install_chart_with(&self, chart: &str, overrides: serde_json::Value) {
        self.kubectl_ok("create namespace", &["create", "namespace", NS], "");
        let ca_file = self.images.dir.path().join("emulator-ca.crt");
        std::fs::write(&ca_file, &self.emulator.ca_pem).unwrap();
        self.kubectl_ok(
            "create the emulator CA ConfigMap",
            &[
                "create",
                "configmap",
                "emulator-ca",
                "-n",
                NS,
                &format!("--from-file=ca.crt={}", ca_file.display()),
            ],
            "",
        );
        let values_file = self.images.dir.path().join("values.json");
        let mut values: serde_json::Value =
            serde_json::from_str(&self.chart_values()).expect("chart values are JSON");
        for (key, value) in overrides.as_object().into_iter().flatten() {
            values[key] = value.clone();
        }
        std::fs::write(&values_file, values.to_string()).unwrap();
        let out = self.helm(&[
            "install",
            "vaultsync",
            chart,
            "-n",
            NS,
            "-f",
            values_file.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "step 'helm install' failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Waits until both operator pods (and no others) are Running and Ready.
    pub async fn ready_operator_pods(&self, client: &Client, step: &str) -> Vec<Pod> {
        self.ready_pods(client, NS, OPERATOR_PODS, 2, step).await
    }

    /// Waits until exactly `count` pods match `selector` and all are Ready; panics naming `step`,
    /// the pods' states and the kubelet log to read.
    pub async fn ready_pods(
        &self,
        client: &Client,
        ns: &str,
        selector: &str,
        count: usize,
        step: &str,
    ) -> Vec<Pod> {
        let nodes: Vec<&Node> = self.nodes.iter().collect();
        vaultsync_testenv::wait_pods_ready(
            client,
            ns,
            selector,
            count,
            &nodes,
            Duration::from_secs(120),
        )
        .await
        .unwrap_or_else(|e| panic!("{step}: {e}"))
    }

    /// Where to look when a step fails.
    pub fn logs_hint(&self) -> String {
        let kubelets: Vec<String> = self
            .nodes
            .iter()
            .map(|n| n.kubelet_log().display().to_string())
            .collect();
        format!(
            "kubelet logs: {}; control plane logs: {}",
            kubelets.join(", "),
            self.plane.log_dir().display()
        )
    }

    /// `kubectl ARGS` with `stdin`.
    pub fn kubectl(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .plane
            .kubectl()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl starts");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().expect("kubectl finishes")
    }

    /// `kubectl ARGS`, which must succeed in step `step`; returns stdout.
    pub fn kubectl_ok(&self, step: &str, args: &[&str], stdin: &str) -> String {
        let out = self.kubectl(args, stdin);
        assert!(
            out.status.success(),
            "step '{step}': kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `helm ARGS` against this cluster.
    pub fn helm(&self, args: &[&str]) -> Output {
        Command::new(self.plane.tools().binary("helm"))
            .args(args)
            .env("KUBECONFIG", self.plane.kubeconfig_path())
            .env("HELM_CACHE_HOME", self.images.dir.path().join("helm-cache"))
            .env(
                "HELM_CONFIG_HOME",
                self.images.dir.path().join("helm-config"),
            )
            .env("HELM_DATA_HOME", self.images.dir.path().join("helm-data"))
            .output()
            .expect("helm runs")
    }

    /// The node a pod runs on.
    pub fn node_of(&self, pod: &Pod) -> &Node {
        let name = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .expect("the pod is scheduled");
        self.nodes
            .iter()
            .find(|n| n.name() == name)
            .unwrap_or_else(|| panic!("no node {name}"))
    }

    /// The host pid of the pod's first container's init process (through the node's containerd).
    pub fn container_pid(&self, pod: &Pod) -> u32 {
        let id = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|c| c.first())
            .and_then(|c| c.container_id.clone())
            .expect("the container runs");
        let id = id.trim_start_matches("containerd://");
        let out = self
            .node_of(pod)
            .ctr()
            .args(["tasks", "list"])
            .output()
            .expect("ctr runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|line| {
                let mut cols = line.split_whitespace();
                (cols.next() == Some(id)).then(|| cols.next()?.parse().ok())?
            })
            .unwrap_or_else(|| panic!("no task for container {id}"))
    }
}

/// Polls `check` until it returns `Ok`, at most `timeout`; on timeout panics naming `step`, the
/// last problem and `hint` (the logs to read).
pub async fn eventually<T, F, Fut>(step: &str, timeout: Duration, hint: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(problem) => assert!(
                Instant::now() < deadline,
                "step '{step}' timed out after {timeout:?}: {problem}; {hint}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Pods matching `selector` in `ns`.
pub async fn pods(client: &Client, ns: &str, selector: &str) -> Vec<Pod> {
    Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(selector))
        .await
        .unwrap()
        .items
}

/// Whether the pod is Running with its Ready condition True.
pub fn is_ready(pod: &Pod) -> bool {
    vaultsync_testenv::pod_is_ready(pod)
}

/// A short description of pods for failure messages (phase, readiness, container states).
pub fn describe(pods: &[Pod]) -> String {
    vaultsync_testenv::describe_pods(pods)
}

/// `GET path` over plain HTTP/1.0 on a loopback address; returns the body.
pub fn http_get(addr: &str, path: &str) -> std::io::Result<String> {
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default())
}

/// A file as the container sees it (through its root in /proc, read by the host's root).
pub fn read_in_container(pid: u32, path: &str) -> std::io::Result<Vec<u8>> {
    std::fs::read(Path::new(&format!("/proc/{pid}/root")).join(path.trim_start_matches('/')))
}
