//! A real Kubernetes control plane on loopback for vaultsync's integration tests, benchmarks and
//! demo: etcd + kube-apiserver + kube-controller-manager, built from the Kubernetes Go modules by
//! `hack/ensure-tools.sh` and started on free 127.0.0.1 ports. Opt-in node mode
//! ([`ControlPlaneOptions::nodes`] and [`Node`]): kube-scheduler, and kubelets with a private
//! containerd each, on loopback addresses, for tests that run real pods.
//!
//! # Guarantees
//! - Every start either returns a ready control plane (readyz green, namespace `default` present,
//!   the ServiceAccount controller running) or one [`StartError`] naming the failed step and the
//!   log file to read; every wait is bounded.
//! - Child processes and the temporary directory are removed when the [`ControlPlane`] is dropped,
//!   and, through a watchdog process, also when the owning process panics, is interrupted or is
//!   killed (statics are never dropped, so the shared control plane relies on the watchdog).

mod control_plane;
mod error;
mod node;
mod pki;
mod process;
mod shared;
mod tools;

pub use control_plane::{Component, ControlPlane, ControlPlaneOptions};
pub use error::StartError;
pub use node::{
    Footprint, Node, NodeHost, NodeOptions, describe_pods, ensure_node_script, loopback_address,
    pod_is_ready, wait_pods_ready,
};
pub use process::{Watchdog, guard_pid, is_alive};
pub use shared::{shared, unique_namespace};
pub use tools::{ToolPaths, ensure_tools, ensure_tools_script};
