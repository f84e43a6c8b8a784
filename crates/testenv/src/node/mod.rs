//! A worker node of the local cluster: a private containerd (Debian's, with runc) and a kubelet
//! built from the pinned Kubernetes module, registered with a [`ControlPlane`] started with
//! [`ControlPlaneOptions::nodes`](crate::ControlPlaneOptions::nodes).
//!
//! # Networking
//! The test machines have no network beyond loopback and tests may only talk to 127.0.0.0/8, so a
//! node is named after a loopback address ([`loopback_address`]) and the kubelet is
//! started with `--hostname-override` set to it: for a hostname that is an IP, the kubelet uses
//! it as the node's InternalIP without the non-loopback check it applies to `--node-ip`. Pods use
//! `hostNetwork: true`, so a pod's IP is its node's address: probes, the pod's own servers and
//! clients all stay on 127.0.0.0/8, and two nodes let two pods bind the same port.
//!
//! # Guarantees
//! - [`Node::start`] returns a node whose Node object is `Ready`, or one [`StartError`] naming the
//!   step and the log file (containerd or runc missing, containerd not serving, an image import
//!   failure, a kubelet that exits or never gets Ready); every wait is bounded.
//! - Dropping the node stops the kubelet, removes every container and task, stops containerd, and
//!   sweeps what may remain: processes in the node's cgroups and its containerd shims, mounts
//!   under its directory (secret volumes, rootfs overlays), its cgroups, and its files. A
//!   watchdog runs the same sweep when the owning process dies without running destructors.
//!   [`Footprint::leftovers`] checks that nothing remains.

mod config;
mod host;
mod pods;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::api::core::v1::Node as NodeObject;
use kube::Api;

use crate::control_plane::{free_port, kubeconfig_json};
use crate::process::{ManagedProcess, Watchdog};
use crate::{ControlPlane, StartError, pki};
pub use host::{NodeHost, ensure_node_script};
pub use pods::{describe_pods, pod_is_ready, wait_pods_ready};

/// The bash sweep run at teardown and by the watchdog.
const SWEEP: &str = include_str!("sweep.sh");

/// `127.X.Y.host`, with X.Y taken from this process's id: two test runs on one machine (their
/// host-network pods bind ports on their node's address) do not collide, and `127.0.0.1` stays
/// the control plane's.
pub fn loopback_address(host: u8) -> Ipv4Addr {
    let pid = std::process::id();
    Ipv4Addr::new(
        127,
        ((pid >> 8) & 0xff) as u8,
        (pid & 0xff) as u8,
        host.max(2),
    )
}

/// How to start a node.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// The node's name and address, on loopback (default: [`loopback_address`]`(2)`).
    pub address: Ipv4Addr,
    /// The kubelet's pod sync period, which is also how often secret volumes are refreshed.
    pub sync_frequency: Duration,
    /// Image archives (`ctr images import` format) imported before the kubelet starts.
    pub images: Vec<PathBuf>,
    /// Bound on each wait (containerd serving, the Node becoming Ready).
    pub ready_timeout: Duration,
    /// Use this containerd binary instead of the one on PATH (tests of the missing-binary error).
    pub containerd: Option<PathBuf>,
    /// Extra kubelet flags (tests of the kubelet-start error).
    pub extra_kubelet_args: Vec<String>,
}

impl Default for NodeOptions {
    fn default() -> Self {
        NodeOptions {
            address: loopback_address(2),
            sync_frequency: Duration::from_secs(2),
            images: Vec::new(),
            ready_timeout: Duration::from_secs(90),
            containerd: None,
            extra_kubelet_args: Vec::new(),
        }
    }
}

/// A running containerd + kubelet registered as a Ready node.
pub struct Node {
    name: String,
    dir: PathBuf,
    log_dir: PathBuf,
    cgroup_root: String,
    ctr: PathBuf,
    containerd: Option<ManagedProcess>,
    kubelet: Option<ManagedProcess>,
    watchdog: Option<Watchdog>,
    started: Duration,
}

/// What a node occupies on the machine, captured while it runs, to prove after teardown that
/// nothing of it remains.
#[derive(Debug, Clone)]
pub struct Footprint {
    /// containerd, kubelet, the watchdog, the shims and every process in the node's cgroups.
    pub pids: Vec<u32>,
    /// The node's directory and log directory.
    pub dirs: Vec<PathBuf>,
    /// The node's cgroup directories, one per hierarchy.
    pub cgroups: Vec<PathBuf>,
    /// Containers containerd knew of.
    pub containers: Vec<String>,
}

impl Footprint {
    /// Everything of the footprint still present: live processes, directories, mounts under the
    /// node's directories, cgroup directories, shims serving the node. Empty after a clean
    /// teardown.
    pub fn leftovers(&self) -> Vec<String> {
        let mut left = Vec::new();
        for pid in &self.pids {
            if crate::is_alive(*pid) {
                left.push(format!("process {pid} ({})", process_name(*pid)));
            }
        }
        for dir in &self.dirs {
            if dir.exists() {
                left.push(format!("directory {}", dir.display()));
            }
            for mount in mounts_under(dir) {
                left.push(format!("mount {mount}"));
            }
            for pid in shims_of(dir) {
                left.push(format!("containerd shim {pid}"));
            }
        }
        for cgroup in &self.cgroups {
            if cgroup.exists() {
                left.push(format!("cgroup {}", cgroup.display()));
            }
        }
        left
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Node {
    /// Starts containerd and a kubelet for `plane` and waits until the node is Ready.
    pub async fn start(plane: &ControlPlane, options: NodeOptions) -> Result<Node, StartError> {
        let began = Instant::now();
        if !plane.accepts_nodes() {
            return Err(StartError::prepare(
                "check the control plane",
                "it was started without ControlPlaneOptions { nodes: true, .. } (no Node \
                 authorizer, no kube-scheduler)",
            ));
        }
        let host = tokio::task::spawn_blocking(host::ensure_node)
            .await
            .map_err(|e| StartError::prepare("ensure node prerequisites", e))??;
        let containerd_binary = options
            .containerd
            .clone()
            .unwrap_or_else(|| host.containerd.clone());

        let step = "create node directories";
        let dir = tempfile::Builder::new()
            .prefix("vaultsync-node-")
            .tempdir()
            .map_err(|e| StartError::prepare(step, e))?
            .keep();
        let log_dir = tempfile::Builder::new()
            .prefix("vaultsync-node-logs-")
            .tempdir()
            .map_err(|e| StartError::prepare(step, e))?
            .keep();
        let cgroup_root = format!(
            "/vaultsync-node-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let pid_file = dir.join("pids");
        let watchdog =
            Watchdog::start_script(&pid_file, SWEEP, &[Path::new(&cgroup_root), &dir, &log_dir])?;
        let mut node = Node {
            name: options.address.to_string(),
            dir,
            log_dir,
            cgroup_root,
            ctr: host.ctr.clone(),
            containerd: None,
            kubelet: None,
            watchdog: Some(watchdog),
            started: Duration::ZERO,
        };
        match node.boot(plane, &options, &host, &containerd_binary).await {
            Ok(()) => {
                node.started = began.elapsed();
                Ok(node)
            }
            Err(err) => {
                // Keep the logs when the error names one of them; remove everything else.
                node.teardown(err.log().is_none());
                Err(err)
            }
        }
    }

    async fn boot(
        &mut self,
        plane: &ControlPlane,
        options: &NodeOptions,
        host: &NodeHost,
        containerd_binary: &Path,
    ) -> Result<(), StartError> {
        self.write_configuration(plane, options, host)?;
        let layout = config::Layout { dir: &self.dir };
        let pid_file = self.dir.join("pids");
        let containerd = ManagedProcess::spawn(
            "containerd",
            "start containerd",
            containerd_binary,
            &[
                "--config".into(),
                self.dir.join("containerd.toml").display().to_string(),
            ],
            &self.log_dir,
            &pid_file,
        )?;
        let containerd = self.containerd.insert(containerd);
        wait_for_containerd(
            containerd,
            &self.ctr,
            &layout.socket(),
            options.ready_timeout,
        )
        .await?;

        let mut archives = vec![host.pause_archive.clone()];
        archives.extend(options.images.iter().cloned());
        for archive in &archives {
            self.import_image(archive)?;
        }
        self.start_kubelet(plane, options, &pid_file)?;
        let client = plane
            .client()
            .await
            .map_err(|e| StartError::prepare("build client", e))?;
        self.wait_ready(&client, options.ready_timeout).await
    }

    /// Writes the node's directories, cgroups, containerd and CNI configuration, its kubeconfig
    /// (a client certificate for `system:node:NAME`) and the kubelet configuration.
    fn write_configuration(
        &self,
        plane: &ControlPlane,
        options: &NodeOptions,
        host: &NodeHost,
    ) -> Result<(), StartError> {
        let layout = config::Layout { dir: &self.dir };
        let step = "write node configuration";
        for dir in [
            layout.cni_bin(),
            layout.cni_conf(),
            layout.kubelet_root(),
            layout.pod_logs(),
            layout.static_pods(),
        ] {
            std::fs::create_dir_all(&dir).map_err(|e| StartError::prepare(step, e))?;
        }
        host::create_cgroup_root(&self.cgroup_root)
            .map_err(|e| StartError::prepare("create the node's cgroups", e))?;
        let write = |path: PathBuf, text: &str| {
            std::fs::write(&path, text).map_err(|e| StartError::prepare(step, e))
        };
        write(
            self.dir.join("containerd.toml"),
            &config::containerd_toml(&layout, &host.runc, &host.pause_image),
        )?;
        write(
            layout.cni_conf().join("10-loopback-only.conflist"),
            config::LOOPBACK_CNI,
        )?;
        write(self.dir.join("kubeconfig"), &self.node_kubeconfig(plane)?)?;
        let client_ca = self.dir.join("cluster-ca.crt");
        write(client_ca.clone(), plane.ca_pem())?;
        let kubelet_settings = config::Kubelet {
            address: options.address,
            port: free_port()?,
            healthz_port: free_port()?,
            client_ca: &client_ca,
            cgroup_root: &self.cgroup_root,
            sync_frequency: options.sync_frequency,
        };
        write(
            self.dir.join("kubelet.yaml"),
            &config::kubelet_yaml(&layout, &kubelet_settings),
        )
    }

    /// The node's identity: system:node:NAME in system:nodes, so the Node authorizer and
    /// NodeRestriction admission treat this kubelet exactly like a real one.
    fn node_kubeconfig(&self, plane: &ControlPlane) -> Result<String, StartError> {
        let ca_key = std::fs::read_to_string(plane.run_dir().join("ca.key"))
            .map_err(|e| StartError::prepare("write node configuration", e))?;
        let (cert, key) = pki::client_certificate(
            &ca_key,
            &format!("system:node:{}", self.name),
            "system:nodes",
        )
        .map_err(|e| StartError::prepare("issue the node certificate", e))?;
        Ok(kubeconfig_json(
            plane.server_url(),
            plane.ca_pem(),
            serde_json::json!({
                "client-certificate-data": STANDARD.encode(&cert),
                "client-key-data": STANDARD.encode(&key),
            }),
        ))
    }

    /// Starts the kubelet with the node's configuration.
    fn start_kubelet(
        &mut self,
        plane: &ControlPlane,
        options: &NodeOptions,
        pid_file: &Path,
    ) -> Result<(), StartError> {
        let layout = config::Layout { dir: &self.dir };
        let mut args = vec![
            format!("--config={}", self.dir.join("kubelet.yaml").display()),
            format!("--kubeconfig={}", self.dir.join("kubeconfig").display()),
            format!("--root-dir={}", layout.kubelet_root().display()),
            format!("--cert-dir={}", self.dir.join("kubelet-pki").display()),
            format!("--hostname-override={}", self.name),
            "--v=1".into(),
        ];
        args.extend(options.extra_kubelet_args.iter().cloned());
        let kubelet = ManagedProcess::spawn(
            "kubelet",
            "start kubelet",
            &plane.tools().binary("kubelet"),
            &args,
            &self.log_dir,
            pid_file,
        )?;
        self.kubelet = Some(kubelet);
        Ok(())
    }

    async fn wait_ready(
        &mut self,
        client: &kube::Client,
        timeout: Duration,
    ) -> Result<(), StartError> {
        let step = "wait for node Ready";
        let nodes: Api<NodeObject> = Api::all(client.clone());
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(containerd) = self.containerd.as_mut() {
                containerd.check_running("containerd, while waiting for node Ready")?;
            }
            let kubelet = self.kubelet.as_mut().expect("the kubelet was started");
            kubelet.check_running(step)?;
            let last = match nodes.get_opt(&self.name).await {
                Ok(Some(node)) => match ready_condition(&node) {
                    Some((status, _)) if status == "True" && !has_not_ready_taint(&node) => {
                        return Ok(());
                    }
                    Some((status, _)) if status == "True" => {
                        "Ready, the not-ready taint not lifted yet".to_string()
                    }
                    Some((status, message)) => format!("Ready={status}: {message}"),
                    None => "no Ready condition yet".to_string(),
                },
                Ok(None) => format!("node {} not registered yet", self.name),
                Err(e) => e.to_string(),
            };
            if Instant::now() > deadline {
                return Err(StartError::NotReady {
                    step,
                    seconds: timeout.as_secs(),
                    last_problem: last,
                    log: kubelet.log.clone(),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Imports an image archive into the node's containerd (namespace `k8s.io`, unpacked for the
    /// CRI's snapshotter), so pods can run it with `imagePullPolicy: Never`.
    pub fn import_image(&self, archive: &Path) -> Result<(), StartError> {
        let step = "import image";
        let file = archive
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let log = self.log_dir.join(format!("import-{file}.log"));
        let out = std::fs::File::create(&log).map_err(|e| StartError::prepare(step, e))?;
        let err = out.try_clone().map_err(|e| StartError::prepare(step, e))?;
        let status = self
            .ctr()
            .args(["images", "import"])
            .arg(archive)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .status()
            .map_err(|source| StartError::Spawn {
                step,
                binary: self.ctr.clone(),
                source,
            })?;
        if status.success() {
            Ok(())
        } else {
            Err(StartError::Failed {
                step,
                message: format!(
                    "ctr images import {} exited with {status}",
                    archive.display()
                ),
                log,
            })
        }
    }

    /// `ctr` against this node's containerd, in the CRI's namespace `k8s.io`, bounded to 60 s
    /// (a wedged containerd must not hang a test or its teardown).
    pub fn ctr(&self) -> Command {
        let mut cmd = Command::new(&self.ctr);
        cmd.arg("--address")
            .arg(self.dir.join("containerd.sock"))
            .args(["--namespace", "k8s.io", "--timeout", "60s"]);
        cmd
    }

    /// The node's name, which is also its address (`127.X.Y.2`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Directory of containerd.log, kubelet.log and the image import logs.
    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    /// The kubelet's log file.
    pub fn kubelet_log(&self) -> PathBuf {
        self.log_dir.join("kubelet.log")
    }

    /// The kubelet's root directory (pod volumes are mounted under it).
    pub fn kubelet_root(&self) -> PathBuf {
        self.dir.join("kubelet")
    }

    /// From the start call to the node being Ready.
    pub fn start_duration(&self) -> Duration {
        self.started
    }

    /// The cgroup directories of this node (`<hierarchy>/<cgroup root>`), one per hierarchy.
    pub fn cgroup_dirs(&self) -> Vec<PathBuf> {
        host::cgroup_dirs(&self.cgroup_root)
    }

    /// The ids of the containers (sandboxes included) containerd runs for this node.
    pub fn containers(&self) -> Vec<String> {
        self.ctr()
            .args(["containers", "list", "--quiet"])
            .stderr(Stdio::null())
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// What the node occupies now; check [`Footprint::leftovers`] after dropping it.
    pub fn footprint(&self) -> Footprint {
        let mut pids: Vec<u32> = [&self.containerd, &self.kubelet]
            .into_iter()
            .flatten()
            .map(ManagedProcess::pid)
            .collect();
        pids.extend(self.watchdog.as_ref().map(Watchdog::pid));
        pids.extend(shims_of(&self.dir));
        for cgroup in self.cgroup_dirs() {
            pids.extend(pids_in_cgroup_tree(&cgroup));
        }
        pids.sort_unstable();
        pids.dedup();
        Footprint {
            pids,
            dirs: vec![self.dir.clone(), self.log_dir.clone()],
            cgroups: self.cgroup_dirs(),
            containers: self.containers(),
        }
    }

    /// Stops everything now (the same as dropping it).
    pub fn stop(self) {}

    fn teardown(&mut self, remove_logs: bool) {
        if let Some(mut kubelet) = self.kubelet.take() {
            kubelet.stop(Duration::from_secs(10));
        }
        if let Some(mut containerd) = self.containerd.take() {
            self.remove_containers();
            containerd.stop(Duration::from_secs(10));
        }
        let log_dir = self.log_dir.clone();
        let mut args: Vec<&Path> = vec![Path::new(&self.cgroup_root), &self.dir];
        if remove_logs {
            args.push(&log_dir);
        }
        let _ = Command::new("bash")
            .arg("-c")
            .arg(SWEEP)
            .arg("vaultsync-node-sweep")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        self.watchdog = None;
    }

    /// Kills and deletes every task and container through containerd (bounded by ctr's own
    /// timeouts); the sweep catches whatever this misses.
    fn remove_containers(&self) {
        for id in self.containers() {
            let _ = self
                .ctr()
                .args(["tasks", "kill", "--signal", "SIGKILL", &id])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        std::thread::sleep(Duration::from_millis(200));
        for id in self.containers() {
            let _ = self
                .ctr()
                .args(["tasks", "delete", "--force", &id])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = self
                .ctr()
                .args(["containers", "delete", &id])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if self.kubelet.is_some() || self.containerd.is_some() || self.watchdog.is_some() {
            let keep_logs = std::thread::panicking();
            if keep_logs {
                eprintln!(
                    "node {}: logs kept in {}",
                    self.name,
                    self.log_dir.display()
                );
            }
            self.teardown(!keep_logs);
        }
    }
}

async fn wait_for_containerd(
    containerd: &mut ManagedProcess,
    ctr: &Path,
    socket: &Path,
    timeout: Duration,
) -> Result<(), StartError> {
    let every = Duration::from_millis(100);
    containerd
        .wait_until("wait for containerd", timeout, every, || async {
            let version = Command::new(ctr)
                .arg("--address")
                .arg(socket)
                .args(["--timeout", "2s", "version"])
                .stdin(Stdio::null())
                .output();
            match version {
                Ok(out) if out.status.success() => Ok(()),
                Ok(out) => Err(String::from_utf8_lossy(&out.stderr).trim().to_string()),
                Err(e) => Err(e.to_string()),
            }
        })
        .await
}

fn ready_condition(node: &NodeObject) -> Option<(String, String)> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| (c.status.clone(), c.message.clone().unwrap_or_default()))
}

/// The taint the kubelet registers with and kube-controller-manager lifts once the node is Ready;
/// until then nothing is scheduled there.
fn has_not_ready_taint(node: &NodeObject) -> bool {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|t| t.iter().any(|t| t.key == "node.kubernetes.io/not-ready"))
}

/// Mount points at or under `dir`, from this process's mount table.
fn mounts_under(dir: &Path) -> Vec<String> {
    let prefix = dir.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .filter(|mount| *mount == prefix || mount.starts_with(&format!("{prefix}/")))
        .map(str::to_owned)
        .collect()
}

/// containerd shims whose `-address` lies under `dir`.
fn shims_of(dir: &Path) -> Vec<u32> {
    let needle = format!("-address {}/", dir.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            comm.trim() == "containerd-shim" && cmdline.contains(&needle)
        })
        .filter(|pid| crate::is_alive(*pid))
        .collect()
}

fn pids_in_cgroup_tree(dir: &Path) -> Vec<u32> {
    let mut pids = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        if let Ok(text) = std::fs::read_to_string(d.join("cgroup.procs")) {
            pids.extend(text.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
        }
        if let Ok(entries) = std::fs::read_dir(&d) {
            stack.extend(
                entries
                    .flatten()
                    .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
                    .map(|e| e.path()),
            );
        }
    }
    pids
}

fn process_name(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}
