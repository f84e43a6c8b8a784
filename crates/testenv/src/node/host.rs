//! What a node needs from the machine: containerd, runc and ctr (Debian packages installed by
//! `hack/ensure-node.sh`), the pause image archive, and a cgroup subtree of its own.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::StartError;

/// The machine's container runtime pieces, as `hack/ensure-node.sh --check` found them.
#[derive(Debug, Clone)]
pub struct NodeHost {
    pub containerd: PathBuf,
    pub runc: PathBuf,
    pub ctr: PathBuf,
    /// Reference of the sandbox image (containerd's `sandbox_image`).
    pub pause_image: String,
    /// Its archive, imported into every node before the kubelet starts.
    pub pause_archive: PathBuf,
}

/// The repository's `hack/ensure-node.sh`.
pub fn ensure_node_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hack/ensure-node.sh")
}

/// Runs `hack/ensure-node.sh --check`: it installs nothing (`hack/test.sh` runs it without
/// `--check` first), so a missing containerd or runc is an error that says how to fix it.
pub(crate) fn ensure_node() -> Result<NodeHost, StartError> {
    let step = "ensure node prerequisites (containerd, runc, pause image)";
    let script = ensure_node_script();
    let output = Command::new("bash")
        .arg(&script)
        .arg("--check")
        .output()
        .map_err(|e| {
            StartError::prepare(step, format!("could not run {}: {e}", script.display()))
        })?;
    if !output.status.success() {
        return Err(StartError::prepare(
            step,
            format!(
                "{} --check exited with {}: {}",
                script.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let value = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(str::to_owned)
            .ok_or_else(|| {
                StartError::prepare(step, format!("{} printed no {key}=", script.display()))
            })
    };
    Ok(NodeHost {
        containerd: value("containerd")?.into(),
        runc: value("runc")?.into(),
        ctr: value("ctr")?.into(),
        pause_image: value("pause_image")?,
        pause_archive: value("pause_archive")?.into(),
    })
}

/// The v1 hierarchies mounted under /sys/fs/cgroup (named ones included), or the v2 root.
fn hierarchies() -> Vec<PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    if root.join("cgroup.controllers").exists() {
        return vec![root.to_path_buf()];
    }
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("cgroup.procs").exists())
        .collect();
    dirs.sort();
    dirs
}

/// `<hierarchy>/<root>` for every hierarchy where it exists.
pub(crate) fn cgroup_dirs(root: &str) -> Vec<PathBuf> {
    hierarchies()
        .into_iter()
        .map(|h| h.join(root.trim_start_matches('/')))
        .filter(|d| d.exists())
        .collect()
}

/// Creates the kubelet's `cgroupRoot` in every v1 hierarchy (the kubelet refuses a root that does
/// not exist). A new cpuset cgroup starts with no CPUs and no memory nodes, so it gets its
/// parent's; the unified (v2) hierarchy of a hybrid machine is left alone, as runc leaves it.
pub(crate) fn create_cgroup_root(root: &str) -> std::io::Result<()> {
    for hierarchy in hierarchies() {
        if hierarchy.ends_with("unified") {
            continue;
        }
        let dir = hierarchy.join(root.trim_start_matches('/'));
        std::fs::create_dir_all(&dir)?;
        if hierarchy.join("cgroup.subtree_control").exists() {
            // cgroup v2 only (untested on the project's v1 machines): hand the controllers the
            // root delegates on to the node's subtree.
            let enabled = std::fs::read_to_string(hierarchy.join("cgroup.subtree_control"))?;
            for controller in enabled.split_whitespace() {
                let _ =
                    std::fs::write(dir.join("cgroup.subtree_control"), format!("+{controller}"));
            }
        }
        if hierarchy.ends_with("cpuset") {
            for file in ["cpuset.cpus", "cpuset.mems"] {
                let parent = std::fs::read_to_string(hierarchy.join(file))?;
                std::fs::write(dir.join(file), parent.trim())?;
            }
        }
    }
    Ok(())
}
