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
mod support;
#[path = "helm/token_policy.rs"]
mod token_policy;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;
use vaultsync_testenv::{ToolPaths, shared};

/// The chart directory.
pub fn chart_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/vaultsync")
}

/// Non-default values: restricted namespaces, no leader election, monitoring and identity on.
pub fn restricted_values() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helm/restricted-values.yaml")
}

/// A fresh directory under Cargo's per-target temporary directory.
pub fn temp_dir(prefix: &str) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    dir
}

fn tools() -> &'static ToolPaths {
    static TOOLS: OnceLock<ToolPaths> = OnceLock::new();
    TOOLS.get_or_init(|| {
        vaultsync_testenv::ensure_tools().expect("hack/ensure-tools.sh provides helm")
    })
}

/// `helm ARGS` with its cache, config and data directories kept out of the user's home.
pub fn helm(args: &[&str]) -> Output {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    let home = HOME.get_or_init(|| temp_dir("helm-home"));
    Command::new(tools().binary("helm"))
        .args(args)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env_remove("KUBECONFIG")
        .output()
        .expect("helm runs")
}

/// Text of a command's stdout and stderr, for assertion messages.
pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Parses a multi-document YAML stream (helm's output) into its non-empty objects.
pub fn parse_objects(yaml: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(yaml)
        .expect("helm renders valid YAML")
        .into_iter()
        .filter(|doc| doc.is_object())
        .collect()
}

/// The objects of `helm template RELEASE charts/vaultsync --namespace NAMESPACE EXTRA...`.
pub fn render(release: &str, namespace: &str, extra: &[&str]) -> Vec<Value> {
    let chart = chart_dir();
    let mut args = vec![
        "template",
        release,
        chart.to_str().expect("utf-8 path"),
        "--namespace",
        namespace,
    ];
    args.extend_from_slice(extra);
    let out = helm(&args);
    assert!(out.status.success(), "helm template failed: {}", text(&out));
    parse_objects(&String::from_utf8_lossy(&out.stdout))
}

/// The objects of one kind.
pub fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

/// The one object of `kind` named `name` (in `namespace`, when given).
pub fn find<'a>(
    objects: &'a [Value],
    kind: &str,
    name: &str,
    namespace: Option<&str>,
) -> &'a Value {
    objects
        .iter()
        .find(|o| {
            o["kind"] == kind
                && o["metadata"]["name"] == name
                && namespace.is_none_or(|ns| o["metadata"]["namespace"] == ns)
        })
        .unwrap_or_else(|| panic!("no {kind} {name} in {namespace:?}"))
}

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
    let out = plane
        .kubectl()
        .args(["create", "token", name, "-n", namespace, "--duration=1h"])
        .output()
        .expect("kubectl runs");
    // stderr only: stdout is the token.
    assert!(
        out.status.success(),
        "TokenRequest for {namespace}/{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).expect("a token is ASCII");
    plane
        .write_token_kubeconfig(&format!("sa-{namespace}-{name}"), token.trim())
        .expect("write the ServiceAccount kubeconfig")
}
