//! Helpers shared by the integration tests: kubectl on the shared control plane and CRD install.
#![allow(dead_code)]

use std::io::Write;
use std::process::{Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use vaultsync_testenv::shared;

pub mod certs;
pub mod chart;
pub mod eventually;
pub mod metric_hygiene;
pub mod node;
pub mod operator;
pub mod pki;
pub mod prometheus;
pub mod scoped_operator;
pub mod workloads;
pub mod world;

/// Runs `kubectl ARGS` against the shared control plane with `stdin` piped in.
pub fn kubectl(args: &[&str], stdin: &str) -> Output {
    let mut child = shared()
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
        .expect("stdin is piped")
        .write_all(stdin.as_bytes())
        .expect("write to kubectl");
    child.wait_with_output().expect("kubectl finishes")
}

/// `kubectl apply -f -` of `yaml`.
pub fn kubectl_apply(yaml: &str) -> Output {
    kubectl(&["apply", "-f", "-"], yaml)
}

/// Installs the committed CRDs once per test binary and waits until they are served.
pub fn install_crds() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let crds =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/crds/vaultsync.yaml"))
                .expect("crds/vaultsync.yaml exists");
        let out = kubectl_apply(&crds);
        assert!(
            out.status.success(),
            "CRDs apply: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        eventually::eventually_blocking("the CRDs being served", Duration::from_secs(30), || {
            let out = kubectl(&["get", "vaultsecrets,vaultcertificates", "-A"], "");
            eventually::check(out.status.success(), String::from_utf8_lossy(&out.stderr))
        });
    });
}
