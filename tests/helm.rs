//! The Helm chart `charts/vaultsync`: it lints, renders what its values ask for, refuses bad values
//! through its schema, installs every object into a real control plane, and gives the operator's
//! ServiceAccount exactly the access the operator needs.
//!
//! `render` needs only the helm binary; `install`, `rbac`, `token_policy` and `operator` use this
//! test binary's shared control plane.

#[path = "helm/install.rs"]
mod install;
#[path = "helm/operator.rs"]
mod operator;
#[path = "helm/rbac.rs"]
mod rbac;
#[path = "helm/render.rs"]
mod render;
#[path = "helm/restarts.rs"]
mod restarts;
mod support;
#[path = "helm/token_policy.rs"]
mod token_policy;

use std::path::{Path, PathBuf};

use serde_json::Value;
use vaultsync_testenv::shared;

/// Non-default values: restricted namespaces, no leader election, monitoring and identity on.
pub fn restricted_values() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helm/restricted-values.yaml")
}

pub use support::chart::{chart_dir, find, helm, of_kind, parse_objects, render, temp_dir, text};

/// The operator container's args.
pub fn container_args(deployment: &Value) -> Vec<String> {
    deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .expect("the container has args")
        .iter()
        .map(|a| a.as_str().expect("args are strings").to_string())
        .collect()
}

/// Writes a kubeconfig for the shared control plane (its server and CA) that authenticates as
/// ServiceAccount `namespace/name` with a token from the TokenRequest API valid for one hour, so
/// the operator binary or kubectl can run with exactly that ServiceAccount's permissions.
pub fn kubeconfig_for_service_account(namespace: &str, name: &str) -> PathBuf {
    let plane = shared();
    let token = plane
        .service_account_token(namespace, name, "1h")
        .unwrap_or_else(|err| panic!("{err}"));
    plane
        .write_token_kubeconfig(&format!("sa-{namespace}-{name}"), &token)
        .expect("write the ServiceAccount kubeconfig")
}
