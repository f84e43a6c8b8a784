//! The configuration files of one node: containerd's, the kubelet's, and the CNI config that makes
//! the runtime report its network ready. Pure text builders, so every flag is visible in one place.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

/// Where one node keeps its files (all under its own directory).
pub(crate) struct Layout<'a> {
    pub dir: &'a Path,
}

impl Layout<'_> {
    pub fn socket(&self) -> std::path::PathBuf {
        self.dir.join("containerd.sock")
    }
    pub fn cni_bin(&self) -> std::path::PathBuf {
        self.dir.join("cni/bin")
    }
    pub fn cni_conf(&self) -> std::path::PathBuf {
        self.dir.join("cni/net.d")
    }
    pub fn kubelet_root(&self) -> std::path::PathBuf {
        self.dir.join("kubelet")
    }
    pub fn pod_logs(&self) -> std::path::PathBuf {
        self.dir.join("pod-logs")
    }
    pub fn static_pods(&self) -> std::path::PathBuf {
        self.dir.join("manifests")
    }
}

/// containerd 1.6 (Debian's), config version 2, private to this node: its own root, state, socket
/// and runc state, so two nodes (or a host containerd) never see each other's containers.
pub(crate) fn containerd_toml(layout: &Layout<'_>, runc: &Path, pause_image: &str) -> String {
    let dir = layout.dir.display();
    format!(
        r#"version = 2
root = "{dir}/containerd/root"
state = "{dir}/containerd/state"
# Plugins that would touch /opt or need kernel features this machine lacks.
disabled_plugins = [
  "io.containerd.internal.v1.opt",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.internal.v1.tracing",
  "io.containerd.tracing.processor.v1.otlp",
]

[grpc]
  address = "{socket}"

[ttrpc]
  address = "{socket}.ttrpc"

[plugins."io.containerd.grpc.v1.cri"]
  # Built locally by hack/build-images.sh and imported before the kubelet starts: never pulled.
  sandbox_image = "{pause_image}"
  # kubectl logs/exec streams, on loopback only.
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  # This machine's root lacks CAP_SYS_RESOURCE, so runc cannot lower a process's oom_score_adj
  # below containerd's (the kubelet asks -998 for sandboxes): clamp it instead of failing.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "{runc}"
        # runc's state under the node's directory, not the host-wide /run/containerd/runc.
        Root = "{dir}/runc"
        # The kubelet's cgroupDriver is cgroupfs (cgroup v1 here).
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_bin}"
    conf_dir = "{cni_conf}"
"#,
        socket = layout.socket().display(),
        runc = runc.display(),
        cni_bin = layout.cni_bin().display(),
        cni_conf = layout.cni_conf().display(),
    )
}

/// The CNI network config. Every pod of the test node uses `hostNetwork: true` (the test machines
/// have no network beyond loopback, and tests may only talk to 127.0.0.0/8), and containerd never
/// calls CNI for host-network pods. Without any config, though, containerd reports
/// `NetworkReady=false` and the node never becomes Ready. A config with only the `loopback` plugin
/// satisfies that check without creating any pod network; its binary is deliberately absent from
/// the node's empty CNI bin dir, so a pod without hostNetwork fails loudly at sandbox creation
/// instead of getting an address on some other range.
pub(crate) const LOOPBACK_CNI: &str = r#"{"cniVersion": "0.4.0", "name": "vaultsync-loopback-only", "plugins": [{"type": "loopback"}]}"#;

/// Settings of one kubelet.
pub(crate) struct Kubelet<'a> {
    pub address: Ipv4Addr,
    pub port: u16,
    pub healthz_port: u16,
    pub client_ca: &'a Path,
    pub cgroup_root: &'a str,
    pub sync_frequency: Duration,
}

/// The KubeletConfiguration (v1beta1) of one kubelet.
pub(crate) fn kubelet_yaml(layout: &Layout<'_>, kubelet: &Kubelet<'_>) -> String {
    let sync = kubelet.sync_frequency.as_millis();
    format!(
        r#"apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# The kubelet serves on the node's own loopback address (the node's InternalIP, see Node).
address: {address}
port: {port}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: {healthz_port}
# kube-apiserver calls the kubelet (logs, exec) with a client certificate of the cluster CA.
authentication:
  anonymous: {{enabled: false}}
  webhook: {{enabled: false}}
  x509: {{clientCAFile: "{client_ca}"}}
authorization: {{mode: AlwaysAllow}}
# cgroup v1 on this machine kind: Kubernetes 1.34 still runs on it (with a warning); 1.35 turns
# failCgroupV1 on by default, so moving the pinned version past 1.34 needs cgroup v2 here.
cgroupDriver: cgroupfs
# The node's own subtree in every hierarchy, so teardown can find and remove exactly its cgroups.
cgroupRoot: {cgroup_root}
failSwapOn: false
# Secret volumes are refreshed on the pod sync period: short, so a rotation reaches files quickly.
syncFrequency: {sync}ms
fileCheckFrequency: 5s
staticPodPath: "{static_pods}"
podLogsDir: "{pod_logs}"
containerRuntimeEndpoint: "unix://{socket}"
# A shared test machine's disk is not this node's: never evict pods or delete images for space.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {{memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}}
localStorageCapacityIsolation: false
serializeImagePulls: false
resolvConf: /etc/resolv.conf
"#,
        address = kubelet.address,
        port = kubelet.port,
        healthz_port = kubelet.healthz_port,
        client_ca = kubelet.client_ca.display(),
        cgroup_root = kubelet.cgroup_root,
        static_pods = layout.static_pods().display(),
        pod_logs = layout.pod_logs().display(),
        socket = layout.socket().display(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containerd_config_keeps_everything_under_the_node_directory() {
        let layout = Layout {
            dir: Path::new("/tmp/vaultsync-node-x"),
        };
        let text = containerd_toml(&layout, Path::new("/usr/sbin/runc"), "localhost/p:1");
        for line in text.lines().filter(|l| l.contains(" = \"/")) {
            assert!(
                line.contains("\"/tmp/vaultsync-node-x/") || line.contains("/usr/sbin/runc"),
                "{line}"
            );
        }
        assert!(text.contains("sandbox_image = \"localhost/p:1\""));
        assert!(text.contains("restrict_oom_score_adj = true"));
    }

    #[test]
    fn kubelet_config_serves_on_the_node_address_with_a_short_sync() {
        let layout = Layout {
            dir: Path::new("/tmp/vaultsync-node-x"),
        };
        let text = kubelet_yaml(
            &layout,
            &Kubelet {
                address: Ipv4Addr::new(127, 0, 0, 2),
                port: 1234,
                healthz_port: 1235,
                client_ca: Path::new("/ca.crt"),
                cgroup_root: "/vaultsync-node-1",
                sync_frequency: Duration::from_secs(2),
            },
        );
        assert!(text.contains("address: 127.0.0.2\n"));
        assert!(text.contains("syncFrequency: 2000ms\n"));
        assert!(text.contains("cgroupRoot: /vaultsync-node-1\n"));
        assert!(text.contains("unix:///tmp/vaultsync-node-x/containerd.sock"));
    }
}
