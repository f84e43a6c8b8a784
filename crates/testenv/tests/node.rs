//! The node mode: a kubelet with its own containerd registers as a Ready node, runs a pod, and
//! leaves nothing behind; each way it can fail to start names the step and the log to read.
//! Needs root, containerd and runc (`hack/ensure-node.sh` installs them; `hack/test.sh` runs it).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::PostParams;
use vaultsync_testenv::{
    ControlPlane, ControlPlaneOptions, Footprint, Node, NodeOptions, StartError,
    ensure_node_script, loopback_address, wait_pods_ready,
};

/// One control plane that accepts nodes, shared by this binary's tests (its watchdog removes it).
fn plane() -> &'static ControlPlane {
    static PLANE: OnceLock<Result<ControlPlane, String>> = OnceLock::new();
    let result = PLANE.get_or_init(|| {
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime
                .block_on(ControlPlane::start(ControlPlaneOptions {
                    nodes: true,
                    ..Default::default()
                }))
                .map_err(|e| e.to_string())
        })
        .join()
        .unwrap_or_else(|_| Err("the control plane start thread panicked".into()))
    });
    match result {
        Ok(plane) => plane,
        Err(message) => panic!("control plane with nodes unavailable: {message}"),
    }
}

/// A host-network pod with a secret volume; kube-scheduler picks its node.
fn pod(name: &str, image: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "hostNetwork": true,
            "automountServiceAccountToken": false,
            "containers": [{
                "name": "main",
                "image": image,
                "imagePullPolicy": "Never",
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            }],
            "volumes": [{"name": "data", "secret": {"secretName": name}}],
        }
    }))
    .unwrap()
}

/// Creates Secret and Pod `name` (a sleeping container with the Secret as a volume) and waits
/// until the pod runs on `node`, placed there by kube-scheduler, with the node's address.
async fn run_sleeper(plane: &ControlPlane, node: &Node, name: &str) {
    let client = plane.client().await.unwrap();
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), "default");
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({
                "metadata": {"name": name},
                "stringData": {"k": "v"},
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client, "default");
    // The pause image is on every node: it serves as a container that only sleeps.
    pods.create(
        &PostParams::default(),
        &pod(name, "localhost/vaultsync-testenv/pause:1"),
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let current = pods.get(name).await.unwrap();
        let status = current.status.unwrap_or_default();
        if status.phase.as_deref() == Some("Running") {
            assert_eq!(status.pod_ip.as_deref(), Some(node.name()), "host network");
            let scheduled = current.spec.unwrap_or_default().node_name;
            assert_eq!(
                scheduled.as_deref(),
                Some(node.name()),
                "kube-scheduler placed it"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "pod never Running: {status:?}; read {}",
            node.kubelet_log().display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn node_gets_ready_runs_a_pod_and_teardown_leaves_nothing() {
    let plane = plane();
    let node = Node::start(plane, NodeOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("node Ready in {:?}", node.start_duration());
    run_sleeper(plane, &node, "sleeper").await;

    // A pod whose image was never imported: the bounded wait says why and names the kubelet log.
    let client = plane.client().await.unwrap();
    Api::<k8s_openapi::api::core::v1::Secret>::namespaced(client.clone(), "default")
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({"metadata": {"name": "stuck"}})).unwrap(),
        )
        .await
        .unwrap();
    let mut stuck = pod("stuck", "localhost/never-imported:1");
    stuck.metadata.labels = Some([("app".to_string(), "stuck".to_string())].into());
    Api::<Pod>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &stuck)
        .await
        .unwrap();
    let started = Instant::now();
    let err = wait_pods_ready(
        &client,
        "default",
        "app=stuck",
        1,
        &[&node],
        Duration::from_secs(8),
    )
    .await
    .expect_err("a pod without its image never gets Ready");
    assert!(started.elapsed() < Duration::from_secs(20), "bounded");
    let message = err.to_string();
    assert!(message.contains("wait for pods Ready"), "{message}");
    assert!(message.contains("ErrImageNeverPull"), "{message}");
    assert_eq!(err.log(), Some(node.kubelet_log().as_path()), "{message}");

    // An archive that is not an image: the error names the step and the import log.
    let bogus = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(bogus.path(), b"not a tar").unwrap();
    match node.import_image(bogus.path()) {
        Err(StartError::Failed { step, log, .. }) => {
            assert_eq!(step, "import image");
            assert!(log.exists(), "the named log exists");
        }
        other => panic!("expected an import failure, got {other:?}"),
    }

    let footprint = node.footprint();
    // The check below is not vacuous: the pod's processes, containers, mounts and cgroups exist.
    assert!(footprint.containers.len() >= 2, "{footprint:?}");
    assert!(footprint.pids.len() >= 5, "{footprint:?}");
    assert!(!footprint.cgroups.is_empty());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = footprint.dirs[0].display().to_string();
    assert!(
        mounts.lines().filter(|l| l.contains(&dir)).count() >= 3,
        "volume, rootfs and shm mounts under {dir}"
    );
    assert!(footprint.leftovers().len() > 5);

    let stopped = Instant::now();
    node.stop();
    eprintln!("node stopped in {:?}", stopped.elapsed());
    assert_eq!(footprint.leftovers(), Vec::<String>::new());
}

#[tokio::test]
async fn a_kubelet_that_cannot_start_names_the_step_and_its_log() {
    let options = NodeOptions {
        address: loopback_address(3),
        extra_kubelet_args: vec!["--no-such-flag".into()],
        ..Default::default()
    };
    let err = match Node::start(plane(), options).await {
        Err(err) => err,
        Ok(_) => panic!("a kubelet with an unknown flag started"),
    };
    let message = err.to_string();
    match &err {
        StartError::Exited { step, log, .. } => {
            assert_eq!(*step, "wait for node Ready", "{message}");
            assert!(log.ends_with("kubelet.log"), "{message}");
            let text = std::fs::read_to_string(log).unwrap();
            assert!(text.contains("no-such-flag"), "the log explains: {text}");
            assert!(message.contains(&log.display().to_string()));
            let _ = std::fs::remove_dir_all(log.parent().unwrap());
        }
        other => panic!("expected an Exited error, got {other}"),
    }
}

#[tokio::test]
async fn a_missing_containerd_names_the_step() {
    let options = NodeOptions {
        address: loopback_address(4),
        containerd: Some("/nonexistent/containerd".into()),
        ..Default::default()
    };
    match Node::start(plane(), options).await {
        Err(StartError::Spawn { step, binary, .. }) => {
            assert_eq!(step, "start containerd");
            assert_eq!(binary, std::path::Path::new("/nonexistent/containerd"));
        }
        Err(other) => panic!("expected a spawn error, got {other}"),
        Ok(_) => panic!("a node started without containerd"),
    }
}

#[tokio::test]
async fn a_control_plane_without_node_support_is_refused() {
    let plane = ControlPlane::start(ControlPlaneOptions::default())
        .await
        .unwrap();
    match Node::start(&plane, NodeOptions::default()).await {
        Err(StartError::Prepare { step, message }) => {
            assert_eq!(step, "check the control plane");
            assert!(message.contains("nodes: true"), "{message}");
        }
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("a node joined a control plane without the Node authorizer"),
    }
}

/// Run only as a child of `killed_owner_leaves_no_node_behind`.
#[tokio::test]
#[ignore = "helper process for the node watchdog test"]
async fn helper_start_a_node_and_wait_to_be_killed() {
    use std::io::Write;
    let plane = plane();
    let options = NodeOptions {
        address: loopback_address(5),
        ..Default::default()
    };
    let node = Node::start(plane, options).await.unwrap();
    run_sleeper(plane, &node, "orphan").await;
    let footprint = node.footprint();
    let join = |items: Vec<String>| items.join(",");
    println!(
        "PIDS {}",
        join(footprint.pids.iter().map(u32::to_string).collect())
    );
    println!(
        "CGROUPS {}",
        join(
            footprint
                .cgroups
                .iter()
                .map(|d| d.display().to_string())
                .collect()
        )
    );
    println!(
        "DIRS {}",
        join(
            footprint
                .dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect()
        )
    );
    std::io::stdout().flush().unwrap();
    tokio::time::sleep(Duration::from_secs(600)).await;
}

#[test]
fn killed_owner_leaves_no_node_behind() {
    use std::io::BufRead;
    use std::path::PathBuf;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "helper_start_a_node_and_wait_to_be_killed",
            "--nocapture",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let mut footprint = Footprint {
        pids: Vec::new(),
        dirs: Vec::new(),
        cgroups: Vec::new(),
        containers: Vec::new(),
    };
    for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(list) = line.strip_prefix("PIDS ") {
            footprint.pids = list.split(',').map(|p| p.parse().unwrap()).collect();
        }
        if let Some(list) = line.strip_prefix("CGROUPS ") {
            footprint.cgroups = list.split(',').map(PathBuf::from).collect();
        }
        if let Some(list) = line.strip_prefix("DIRS ") {
            footprint.dirs = list.split(',').map(PathBuf::from).collect();
            break;
        }
    }
    assert!(
        footprint.pids.len() >= 5 && !footprint.cgroups.is_empty(),
        "the helper did not report its node: {footprint:?}"
    );
    assert!(!footprint.leftovers().is_empty());
    child.kill().unwrap(); // SIGKILL: no destructor runs
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let left = footprint.leftovers();
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the watchdog left {left:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `hack/ensure-node.sh --check` on a machine without runc: one error naming the step and the fix.
#[test]
fn a_missing_runc_is_one_clear_error() {
    let bin = tempfile::tempdir().unwrap();
    // Everything the script uses, except runc.
    for tool in [
        "bash",
        "env",
        "id",
        "ldd",
        "cat",
        "sha256sum",
        "cut",
        "tar",
        "grep",
        "mkdir",
        "flock",
        "containerd",
        "ctr",
        "busybox",
        "openssl",
    ] {
        let path = std::process::Command::new("bash")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .unwrap();
        let path = String::from_utf8_lossy(&path.stdout).trim().to_string();
        assert!(!path.is_empty(), "{tool} is on this machine");
        std::os::unix::fs::symlink(&path, bin.path().join(tool)).unwrap();
    }
    let out = std::process::Command::new(bin.path().join("bash"))
        .arg(ensure_node_script())
        .arg("--check")
        .env("PATH", bin.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("step 'find"), "{stderr}");
    assert!(stderr.contains("missing runc"), "{stderr}");
    assert!(stderr.contains("run hack/ensure-node.sh"), "{stderr}");
}
