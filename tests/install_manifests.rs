//! The install artefacts derived from other files do not drift from them: the chart's CRDs are
//! `crds/vaultsync.yaml` byte for byte, and `deploy/` is exactly what `hack/render-deploy.sh`
//! renders from the chart (the script `hack/generate.sh` uses to write it). Both are fixed by
//! running `hack/generate.sh`. And `deploy/` installs as documented, with `kubectl apply -f` (and
//! renders with kustomize).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const FIX: &str = "run hack/generate.sh to regenerate crds/, the chart's CRDs and deploy/";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Every file of a directory (not recursive), by name.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_file())
        .map(|path| {
            let name = path
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(&path).expect("read file"))
        })
        .collect()
}

#[test]
fn chart_crds_are_the_generated_crds() {
    let generated = std::fs::read(repo("crds/vaultsync.yaml")).expect("crds/vaultsync.yaml");
    let chart = files(&repo("charts/vaultsync/crds"));
    assert_eq!(
        chart.keys().collect::<Vec<_>>(),
        ["vaultsync.yaml"],
        "charts/vaultsync/crds/ must hold exactly vaultsync.yaml: {FIX}"
    );
    assert!(
        chart["vaultsync.yaml"] == generated,
        "charts/vaultsync/crds/vaultsync.yaml differs from crds/vaultsync.yaml: {FIX}"
    );
}

#[test]
fn deploy_is_the_chart_rendered_with_default_values() {
    let tools = vaultsync_testenv::ensure_tools().expect("hack/ensure-tools.sh provides helm");
    let fresh =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("deploy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&fresh);
    let out = Command::new("bash")
        .arg(repo("hack/render-deploy.sh"))
        .arg(&fresh)
        .env("HELM", tools.binary("helm"))
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "hack/render-deploy.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (fresh, committed) = (files(&fresh), files(&repo("deploy")));
    let mut stale: Vec<String> = Vec::new();
    for (name, content) in &fresh {
        match committed.get(name) {
            None => stale.push(format!("deploy/{name} is missing")),
            Some(old) if old != content => stale.push(format!("deploy/{name} differs")),
            Some(_) => {}
        }
    }
    stale.extend(
        committed
            .keys()
            .filter(|name| !fresh.contains_key(*name))
            .map(|name| format!("deploy/{name} is no longer rendered")),
    );
    assert!(stale.is_empty(), "{}: {FIX}", stale.join("; "));
}

#[test]
fn deploy_installs_with_kubectl_apply_f_and_is_a_kustomization() {
    let plane = vaultsync_testenv::shared();
    let deploy = repo("deploy");
    let out = plane
        .kubectl()
        .args(["apply", "-f"])
        .arg(&deploy)
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl apply -f deploy/: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = plane
        .kubectl()
        .args(["kustomize"])
        .arg(&deploy)
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl kustomize deploy/: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("kind: Deployment"));
    for args in [
        ["get", "namespace", "vaultsync-system"].as_slice(),
        &["get", "crd", "vaultsecrets.vaultsync.dev"],
        &["get", "clusterrole,clusterrolebinding", "vaultsync"],
        &[
            "-n",
            "vaultsync-system",
            "get",
            "deployment,serviceaccount,poddisruptionbudget",
            "vaultsync",
        ],
        &[
            "-n",
            "vaultsync-system",
            "get",
            "service",
            "vaultsync-metrics",
        ],
        &[
            "-n",
            "vaultsync-system",
            "get",
            "role,rolebinding",
            "vaultsync-leader-election",
        ],
    ] {
        let out = plane.kubectl().args(args).output().expect("kubectl runs");
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
