//! Pods for real: the operator image, built from this build's binary, installed with `helm install`
//! on two local kubelet nodes; application pods read what it syncs; rotation, leader handover, the
//! PodDisruptionBudget and TLS are observed on running containers; teardown leaves nothing.
//!
//! Needs root, containerd and runc (hack/test.sh runs hack/ensure-node.sh, which installs them).
//! Every wait is bounded and names its step and the logs to read.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{DeleteParams, EvictParams};
use kube::{Api, Client};
use serde_json::Value;
use vaultsync_emulator::{CertificateImport, Permission, SecretOptions};

use support::node::{
    APP_IMAGE, Cluster, NS, OPERATOR_IMAGE, OPERATOR_PODS, ScratchDir, TENANT, build_images,
    describe, eventually, http_get, pods, read_in_container,
};

const APP_NS: &str = "shop";
const VAULT: &str = "shop";
const CLIENT_ID: &str = "5e1f0000-0000-4000-8000-000000000001";
const SERVER_NAME: &str = "web.shop.test";
const TLS_PORT: u16 = 18443;

/// The operator image has the contract of the Dockerfile's final stage: same user, entrypoint and
/// command; the same base facts (uid/gid 65532 in /etc/passwd, a CA bundle, no shell).
#[test]
fn operator_image_matches_the_dockerfile_contract() {
    let images = build_images(operator_binary());
    let dockerfile = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile"))
        .expect("Dockerfile");
    let final_stage = dockerfile
        .rsplit_once("\nFROM ")
        .map(|(_, stage)| stage)
        .expect("a final stage");
    let instruction = |name: &str| -> String {
        final_stage
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("the final stage has no {name}"))
            .trim()
            .to_string()
    };
    for from in dockerfile.lines().filter_map(|l| l.strip_prefix("FROM ")) {
        let image = from.split_whitespace().next().unwrap_or_default();
        let digest = image.split_once("@sha256:").map(|(_, d)| d);
        assert!(
            digest.is_some_and(|d| d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit())),
            "base image not pinned by digest: {from}"
        );
    }
    assert!(
        final_stage.starts_with("gcr.io/distroless/static") && final_stage.contains(":nonroot"),
        "the contract below is distroless/static:nonroot's: {}",
        final_stage.lines().next().unwrap_or_default()
    );

    let layout = ScratchDir::new("image-layout");
    untar(&images.operator, layout.path());
    let blob = |digest: &str| {
        layout
            .path()
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    };
    let json = |path: std::path::PathBuf| -> Value {
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let index = json(layout.path().join("index.json"));
    assert_eq!(
        index["manifests"][0]["annotations"]["io.containerd.image.name"],
        OPERATOR_IMAGE
    );
    let manifest = json(blob(index["manifests"][0]["digest"].as_str().unwrap()));
    let config = json(blob(manifest["config"]["digest"].as_str().unwrap()));
    let parse = |text: String| -> Value { serde_json::from_str(&text).unwrap() };
    assert_eq!(config["config"]["User"], instruction("USER"));
    assert_eq!(
        config["config"]["Entrypoint"],
        parse(instruction("ENTRYPOINT"))
    );
    assert_eq!(config["config"]["Cmd"], parse(instruction("CMD")));
    assert_eq!(config["config"]["User"], "65532:65532");

    let rootfs = ScratchDir::new("image-rootfs");
    for layer in manifest["layers"].as_array().unwrap() {
        untar(&blob(layer["digest"].as_str().unwrap()), rootfs.path());
    }
    let root = rootfs.path();
    let entrypoint = config["config"]["Entrypoint"][0].as_str().unwrap();
    let binary = root.join(entrypoint.trim_start_matches('/'));
    assert!(
        binary.is_file(),
        "the entrypoint {entrypoint} is in the image"
    );
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    assert!(passwd.contains("nonroot:x:65532:65532:"), "{passwd}");
    let group = std::fs::read_to_string(root.join("etc/group")).unwrap();
    assert!(group.contains("nonroot:x:65532:"), "{group}");
    let bundle = std::fs::read_to_string(root.join("etc/ssl/certs/ca-certificates.crt")).unwrap();
    assert!(
        bundle.matches("BEGIN CERTIFICATE").count() > 10,
        "a CA bundle"
    );
    for shell in [
        "bin/sh",
        "bin/bash",
        "bin/dash",
        "bin/busybox",
        "usr/bin/sh",
    ] {
        assert!(
            !root.join(shell).exists(),
            "no shell: {shell} is in the image"
        );
    }
}

fn operator_binary() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_BIN_EXE_vaultsync"))
}

fn untar(archive: &std::path::Path, into: &std::path::Path) {
    let status = std::process::Command::new("tar")
        .arg("-xf")
        .arg(archive)
        .arg("-C")
        .arg(into)
        .status()
        .unwrap();
    assert!(status.success(), "untar {}", archive.display());
}

fn pod_name(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

fn pod_ip(pod: &Pod) -> String {
    pod.status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .unwrap_or_default()
}

/// The pod holding the Lease (the holder identity is `POD_NAME_<random>`).
async fn lease_holder(client: &Client) -> Option<String> {
    let identity = Api::<Lease>::namespaced(client.clone(), NS)
        .get_opt("vaultsync-leader")
        .await
        .ok()??
        .spec?
        .holder_identity?;
    let pod = identity
        .rsplit_once('_')
        .map_or(identity.as_str(), |(pod, _)| pod);
    (!pod.is_empty()).then(|| pod.to_string())
}

/// The `vaultsync_leader` gauge of a pod, read from its metrics endpoint on its node's address.
fn leader_gauge(pod: &Pod) -> Option<String> {
    let body = http_get(&format!("{}:8080", pod_ip(pod)), "/metrics").ok()?;
    body.lines()
        .find_map(|l| l.strip_prefix("vaultsync_leader "))
        .map(str::to_owned)
}

/// The single leader: the Lease holder is one of `pods`, its gauge says 1, every other pod's 0.
async fn the_leader(cluster: &Cluster, client: &Client, pods: &[Pod], step: &str) -> Pod {
    let hint = cluster.logs_hint();
    eventually(step, Duration::from_secs(60), &hint, || async {
        let holder = lease_holder(client).await.ok_or("no Lease holder yet")?;
        let leader = pods
            .iter()
            .find(|p| pod_name(p) == holder)
            .ok_or(format!("Lease held by {holder}, not one of the pods"))?;
        for pod in pods {
            let expected = if pod_name(pod) == holder { "1" } else { "0" };
            let gauge = leader_gauge(pod);
            if gauge.as_deref() != Some(expected) {
                return Err(format!(
                    "{} reports vaultsync_leader {gauge:?}, expected {expected}",
                    pod_name(pod)
                ));
            }
        }
        Ok(leader.clone())
    })
    .await
}

async fn secret_value(client: &Client, name: &str, key: &str) -> Option<Vec<u8>> {
    let secret = Api::<Secret>::namespaced(client.clone(), APP_NS)
        .get_opt(name)
        .await
        .ok()??;
    Some(secret.data?.get(key)?.0.clone())
}

async fn wait_secret(cluster: &Cluster, client: &Client, step: &str, expected: &str) {
    let hint = cluster.logs_hint();
    eventually(step, Duration::from_secs(60), &hint, || async {
        match secret_value(client, "db", "password").await {
            Some(v) if v == expected.as_bytes() => Ok(()),
            other => Err(format!(
                "Secret db has {} bytes, not the vault's value",
                other.map(|v| v.len()).unwrap_or(0)
            )),
        }
    })
    .await
}

/// Waits until the file `path` in the container of `pod` holds `expected`.
async fn wait_file(cluster: &Cluster, pod: &Pod, path: &str, expected: &str, step: &str) {
    let pid = cluster.container_pid(pod);
    let hint = cluster.logs_hint();
    eventually(step, Duration::from_secs(60), &hint, || async {
        match read_in_container(pid, path) {
            Ok(v) if v == expected.as_bytes() => Ok(()),
            Ok(_) => Err(format!("{path} still holds the old value")),
            Err(e) => Err(format!("{path}: {e}")),
        }
    })
    .await
}

fn consumer(name: &str, container: Value, volumes: Value) -> String {
    serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": APP_NS},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "hostNetwork": true,
                    "securityContext": {"runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532},
                    "containers": [container],
                    "volumes": volumes,
                }
            }
        }
    })
    .to_string()
}

fn consumers() -> String {
    let image = |cmd: &str| {
        serde_json::json!({
            "name": "app", "image": APP_IMAGE, "imagePullPolicy": "Never",
            "command": ["/bin/sh", "-c", cmd],
            "securityContext": {"readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false},
        })
    };
    let mut volume_reader =
        image("while true; do echo \"volume:$(cat /secret/password)\"; sleep 1; done");
    volume_reader["volumeMounts"] = serde_json::json!([{"name": "db", "mountPath": "/secret"}]);
    let mut env_reader = image("echo \"env:$PASSWORD\"; exec sleep 100000");
    env_reader["env"] = serde_json::json!([{
        "name": "PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}},
    }]);
    let mut tls_server = image(&format!(
        "exec openssl s_server -quiet -www -accept \"$POD_IP:{TLS_PORT}\" -cert /tls/tls.crt -key /tls/tls.key"
    ));
    tls_server["env"] = serde_json::json!([{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]);
    tls_server["volumeMounts"] = serde_json::json!([{"name": "web", "mountPath": "/tls"}]);
    tls_server["readinessProbe"] =
        serde_json::json!({"tcpSocket": {"port": TLS_PORT}, "periodSeconds": 1});
    [
        consumer(
            "reader-volume",
            volume_reader,
            serde_json::json!([{"name": "db", "secret": {"secretName": "db"}}]),
        ),
        consumer("reader-env", env_reader, serde_json::json!([])),
        consumer(
            "tls-server",
            tls_server,
            serde_json::json!([{"name": "web", "secret": {"secretName": "web"}}]),
        ),
    ]
    .join("\n---\n")
}

async fn ready_pod(cluster: &Cluster, client: &Client, app: &str) -> Pod {
    let step = format!("pod of Deployment {app} Ready");
    cluster
        .ready_pods(client, APP_NS, &format!("app={app}"), 1, &step)
        .await
        .remove(0)
}

fn logs(cluster: &Cluster, pod: &Pod, ns: &str) -> String {
    cluster.kubectl_ok("read pod logs", &["logs", "-n", ns, &pod_name(pod)], "")
}

/// A CA, and a server certificate for SERVER_NAME it issued, as the PEM Key Vault imports
/// (key, leaf, CA); returns (import PEM, CA PEM).
fn tls_material() -> (String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "shop test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec![SERVER_NAME.to_string()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, SERVER_NAME);
    let leaf_cert = leaf.signed_by(&key, &issuer).unwrap();
    (
        format!(
            "{}{}{}",
            key.serialize_pem(),
            leaf_cert.pem(),
            ca_cert.pem()
        ),
        ca_cert.pem(),
    )
}

/// A TLS handshake and an HTTP request to `addr`, verifying the server as `server_name` against
/// `ca_pem` only.
fn tls_get(addr: &str, server_name: &str, ca_pem: &[u8]) -> Result<String, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots
            .add(cert.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = ServerName::try_from(server_name.to_string()).map_err(|e| e.to_string())?;
    let connection =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    let socket = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let mut tls = rustls::StreamOwned::new(connection, socket);
    tls.write_all(b"GET / HTTP/1.0\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    // s_server closes without close_notify: keep what arrived before the end of the stream.
    let _ = tls.read_to_end(&mut response);
    if response.is_empty() {
        return Err("no response".into());
    }
    Ok(String::from_utf8_lossy(&response).into_owned())
}

fn since(start: Instant) -> Duration {
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_runs_on_real_nodes_and_applications_read_synced_values() {
    let began = Instant::now();
    let images = tokio::task::spawn_blocking(|| build_images(operator_binary()))
        .await
        .unwrap();
    let cluster = Cluster::start(images, Duration::from_secs(2)).await;
    let client = cluster.client().await;
    let hint = cluster.logs_hint();
    eprintln!(
        "figure: images + control plane + 2 nodes in {:?}",
        since(began)
    );

    // The vault, the identity of ServiceAccount shop/app, a secret and a certificate.
    let control = &cluster.emulator.control;
    control.create_vault(VAULT, TENANT);
    control.register_app(TENANT, CLIENT_ID);
    control.add_federated_credential(
        CLIENT_ID,
        cluster.plane.issuer(),
        &format!("system:serviceaccount:{APP_NS}:app"),
    );
    control.assign_role(
        CLIENT_ID,
        VAULT,
        &[
            Permission::SecretsRead,
            Permission::CertificatesRead,
            Permission::List,
        ],
    );
    let set = |value: &str| {
        control
            .set_secret(
                VAULT,
                "db-password",
                value,
                SecretOptions {
                    enabled: true,
                    ..Default::default()
                },
            )
            .unwrap();
    };
    let values = ["v1-first-7f3a", "v2-rotated-91c2", "v3-after-handover-5d08"];
    set(values[0]);
    let (pem, ca_pem) = tls_material();
    control
        .import_certificate(
            VAULT,
            "web",
            CertificateImport {
                pem: Some(pem),
                ..Default::default()
            },
        )
        .unwrap();

    // helm install: the local image, host network, both replicas Ready through the real probes.
    cluster.kubectl_ok("create namespace", &["create", "namespace", APP_NS], "");
    let chart = std::env::var("VAULTSYNC_NODE_TEST_CHART")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/charts/vaultsync").into());
    let installed = Instant::now();
    cluster.install_chart(&chart);
    let operators = cluster
        .ready_operator_pods(&client, "operator pods Running and Ready")
        .await;
    eprintln!(
        "figure: helm install -> both operator pods Ready in {:?}",
        since(installed)
    );
    let mut nodes: Vec<String> = operators
        .iter()
        .map(|p| p.spec.as_ref().unwrap().node_name.clone().unwrap())
        .collect();
    nodes.sort();
    let mut expected: Vec<String> = cluster.nodes.iter().map(|n| n.name().to_string()).collect();
    expected.sort();
    assert_eq!(nodes, expected, "one replica per node");
    for pod in &operators {
        assert_eq!(
            pod_ip(pod),
            pod.spec.as_ref().unwrap().node_name.clone().unwrap()
        );
        let status = pod.status.as_ref().unwrap();
        let ready = status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "Ready")
            .and_then(|c| c.last_transition_time.clone())
            .unwrap();
        let created = pod.metadata.creation_timestamp.clone().unwrap();
        eprintln!(
            "figure: operator pod {} created -> Ready {}s (API timestamps, 1 s resolution)",
            pod_name(pod),
            ready.0.as_second() - created.0.as_second()
        );
    }

    // Exactly one leader: the Lease names one pod, whose gauge is 1; the other's is 0.
    let leader = the_leader(&cluster, &client, &operators, "exactly one leader").await;

    // The securityContext, as the runtime enforces it on the running containers.
    for pod in &operators {
        let pid = cluster.container_pid(pod);
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name}:")))
                .unwrap()
                .split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(field("Uid"), ["65532"; 4], "uid of {}", pod_name(pod));
        assert_eq!(field("Gid"), ["65532"; 4], "gid of {}", pod_name(pod));
        assert_eq!(
            field("CapEff"),
            ["0000000000000000"],
            "capabilities dropped"
        );
        assert_eq!(field("NoNewPrivs"), ["1"], "no privilege escalation");
        let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
        let root = mountinfo
            .lines()
            .find(|l| l.split(' ').nth(4) == Some("/"))
            .unwrap();
        let options = root.split(' ').nth(5).unwrap();
        assert!(
            options.split(',').any(|o| o == "ro"),
            "root mounted ro: {root}"
        );
        let write = std::fs::write(format!("/proc/{pid}/root/probe"), b"x");
        assert_eq!(
            write.as_ref().err().and_then(std::io::Error::raw_os_error),
            Some(30),
            "even the host's root gets EROFS writing the container's root: {write:?}"
        );
        assert!(!std::path::Path::new(&format!("/proc/{pid}/root/bin/sh")).exists());
    }

    // The operator syncs from inside its pod (no operator process runs on the host).
    let sa = format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: app\n  namespace: {APP_NS}\n  annotations:\n    azure.workload.identity/client-id: {CLIENT_ID}\n"
    );
    let url = cluster.emulator.vault_url(VAULT);
    let resources = format!(
        "{sa}---\napiVersion: vaultsync.dev/v1alpha1\nkind: VaultSecret\nmetadata:\n  name: db\n  namespace: {APP_NS}\nspec:\n  vault:\n    url: {url}\n    serviceAccountName: app\n  data:\n  - key: password\n    name: db-password\n---\napiVersion: vaultsync.dev/v1alpha1\nkind: VaultCertificate\nmetadata:\n  name: web\n  namespace: {APP_NS}\nspec:\n  vault:\n    url: {url}\n    serviceAccountName: app\n  certificate:\n    name: web\n"
    );
    let applied = Instant::now();
    cluster.kubectl_ok(
        "apply VaultSecret and VaultCertificate",
        &["apply", "-f", "-"],
        &resources,
    );
    wait_secret(
        &cluster,
        &client,
        "first sync by the operator pod",
        values[0],
    )
    .await;
    eventually(
        "VaultCertificate synced",
        Duration::from_secs(60),
        &hint,
        || async {
            match secret_value(&client, "web", "tls.crt").await {
                Some(_) => Ok(()),
                None => Err("no Secret web yet".to_string()),
            }
        },
    )
    .await;
    eprintln!(
        "figure: apply -> both Secrets synced in {:?}",
        since(applied)
    );
    let leader_log = logs(&cluster, &leader, NS);
    assert!(
        leader_log.contains("shop") || leader_log.contains("db"),
        "the leader's own log shows the reconcile: {leader_log}"
    );

    // Consumers read exactly the vault's values, from a volume and from env; TLS from the Secret.
    cluster.kubectl_ok("apply consumers", &["apply", "-f", "-"], &consumers());
    let volume_pod = ready_pod(&cluster, &client, "reader-volume").await;
    let env_pod = ready_pod(&cluster, &client, "reader-env").await;
    let tls_pod = ready_pod(&cluster, &client, "tls-server").await;
    wait_file(
        &cluster,
        &volume_pod,
        "/secret/password",
        values[0],
        "volume holds v1",
    )
    .await;
    eventually(
        "the apps print what they read",
        Duration::from_secs(30),
        &hint,
        || async {
            let volume = logs(&cluster, &volume_pod, APP_NS);
            let env = logs(&cluster, &env_pod, APP_NS);
            if volume.lines().any(|l| l == format!("volume:{}", values[0]))
                && env.lines().any(|l| l == format!("env:{}", values[0]))
            {
                Ok(())
            } else {
                Err("the apps have not printed the synced value yet".to_string())
            }
        },
    )
    .await;

    let ca = secret_value(&client, "web", "ca.crt")
        .await
        .expect("the TLS Secret has ca.crt");
    assert_eq!(
        String::from_utf8_lossy(&ca),
        ca_pem,
        "ca.crt is the issuing CA"
    );
    let addr = format!("{}:{TLS_PORT}", pod_ip(&tls_pod));
    let response =
        tls_get(&addr, SERVER_NAME, &ca).unwrap_or_else(|e| panic!("TLS to {addr}: {e}"));
    assert!(response.starts_with("HTTP/1.0 200"), "{response}");
    let wrong = tls_get(&addr, "other.shop.test", &ca);
    assert!(wrong.is_err(), "a wrong server name is refused: {wrong:?}");
    let leaf_only = secret_value(&client, "web", "tls.crt").await.unwrap();
    let untrusted = tls_get(&addr, SERVER_NAME, &leaf_only);
    assert!(
        untrusted.is_err(),
        "the leaf alone is no trust anchor: {untrusted:?}"
    );

    // Rotation: the mounted file changes without a restart; env keeps the value it started with.
    let restarts = |pod: &Pod| {
        let s = pod
            .status
            .as_ref()
            .unwrap()
            .container_statuses
            .as_ref()
            .unwrap()[0]
            .clone();
        (s.container_id, s.restart_count)
    };
    let before = restarts(&volume_pod);
    let rotated = Instant::now();
    set(values[1]);
    cluster.kubectl_ok(
        "force a refresh",
        &[
            "annotate",
            "--overwrite",
            "vaultsecret",
            "db",
            "-n",
            APP_NS,
            "vaultsync.dev/force-refresh=1",
        ],
        "",
    );
    wait_secret(&cluster, &client, "rotation reaches the Secret", values[1]).await;
    let synced = since(rotated);
    wait_file(
        &cluster,
        &volume_pod,
        "/secret/password",
        values[1],
        "rotation reaches the mounted file",
    )
    .await;
    let mounted = since(rotated);
    eprintln!(
        "figure: rotation -> Secret {synced:?}; -> mounted file {mounted:?} (kubelet part {:?})",
        mounted - synced
    );
    let after: Pod = Api::namespaced(client.clone(), APP_NS)
        .get(&pod_name(&volume_pod))
        .await
        .unwrap();
    assert_eq!(restarts(&after), before, "same container, no restart");
    let environ =
        std::fs::read(format!("/proc/{}/environ", cluster.container_pid(&env_pod))).unwrap();
    assert!(
        environ
            .split(|b| *b == 0)
            .any(|v| v == format!("PASSWORD={}", values[0]).as_bytes()),
        "env is fixed at container start"
    );

    // PodDisruptionBudget: evicting one of two Ready replicas is allowed, the last one is refused.
    let operators = cluster
        .ready_operator_pods(&client, "both replicas Ready before eviction")
        .await;
    let leader = the_leader(&cluster, &client, &operators, "leader before eviction").await;
    let standby = operators
        .iter()
        .find(|p| pod_name(p) != pod_name(&leader))
        .unwrap()
        .clone();
    let pod_api: Api<Pod> = Api::namespaced(client.clone(), NS);
    // kube retries a 429 by default, which would wait until the budget allows the eviction.
    let mut config = cluster.plane.client_config().await.unwrap();
    config.default_retry = false;
    let evictions: Api<Pod> = Api::namespaced(Client::try_from(config).unwrap(), NS);
    eventually(
        "PDB allows one disruption",
        Duration::from_secs(30),
        &hint,
        || async {
            let pdb = Api::<PodDisruptionBudget>::namespaced(client.clone(), NS)
                .get("vaultsync")
                .await
                .map_err(|e| e.to_string())?;
            match pdb.status.map(|s| s.disruptions_allowed) {
                Some(1) => Ok(()),
                other => Err(format!("disruptionsAllowed {other:?}")),
            }
        },
    )
    .await;
    evictions
        .evict(&pod_name(&standby), &EvictParams::default())
        .await
        .unwrap_or_else(|e| panic!("step 'evict one of two replicas' refused: {e}"));
    match evictions
        .evict(&pod_name(&leader), &EvictParams::default())
        .await
    {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 429, "{status:?}");
            assert!(status.message.contains("disruption budget"), "{status:?}");
        }
        other => {
            let pdb = Api::<PodDisruptionBudget>::namespaced(client.clone(), NS)
                .get("vaultsync")
                .await
                .unwrap();
            let now = pods(&client, NS, OPERATOR_PODS).await;
            panic!(
                "evicting the last available replica was not refused: {other:?}; PDB {:?}; pods {}",
                pdb.status,
                describe(&now)
            )
        }
    }

    // Leader handover: delete the leader pod; the other replica takes over and syncs a rotation.
    let operators = cluster
        .ready_operator_pods(&client, "replacement replica Ready")
        .await;
    let leader = the_leader(&cluster, &client, &operators, "leader before deletion").await;
    let deleted = Instant::now();
    pod_api
        .delete(&pod_name(&leader), &DeleteParams::default())
        .await
        .unwrap();
    let new_leader = eventually(
        "another replica takes the Lease",
        Duration::from_secs(60),
        &hint,
        || async {
            match lease_holder(&client).await {
                Some(holder) if holder != pod_name(&leader) && !holder.is_empty() => Ok(holder),
                other => Err(format!("Lease holder {other:?}")),
            }
        },
    )
    .await;
    let took_over = since(deleted);
    // Usually the standby, which retries every second; the deleted pod's replacement may win the
    // race when it starts within that second. Either way a live replica other than the deleted
    // one leads.
    let current = pods(&client, NS, OPERATOR_PODS).await;
    assert!(
        current.iter().any(|p| pod_name(p) == new_leader),
        "a live replica leads ({new_leader}): {}",
        describe(&current)
    );
    let by = if operators.iter().any(|p| pod_name(p) == new_leader) {
        "the standby"
    } else {
        "the replacement pod"
    };
    set(values[2]);
    cluster.kubectl_ok(
        "force a refresh after handover",
        &[
            "annotate",
            "--overwrite",
            "vaultsecret",
            "db",
            "-n",
            APP_NS,
            "vaultsync.dev/force-refresh=2",
        ],
        "",
    );
    wait_secret(
        &cluster,
        &client,
        "rotation after handover reaches the Secret",
        values[2],
    )
    .await;
    let next_sync = since(deleted);
    wait_file(
        &cluster,
        &volume_pod,
        "/secret/password",
        values[2],
        "rotation after handover reaches the file",
    )
    .await;
    eprintln!(
        "figure: leader pod deleted -> new leader ({by}) {took_over:?}; -> next rotation synced {next_sync:?}"
    );

    // No synced value in any operator log.
    for pod in pods(&client, NS, OPERATOR_PODS).await {
        let out = cluster.kubectl(&["logs", "-n", NS, &pod_name(&pod)], "");
        let text = String::from_utf8_lossy(&out.stdout);
        for value in values {
            assert!(
                !text.contains(value),
                "a secret value leaked into {}'s log",
                pod_name(&pod)
            );
        }
    }

    // Teardown: nothing of either node remains.
    let footprints: BTreeMap<String, _> = cluster
        .nodes
        .iter()
        .map(|n| (n.name().to_string(), n.footprint()))
        .collect();
    for (name, footprint) in &footprints {
        assert!(
            footprint.containers.len() >= 4,
            "{name} ran the pods: {footprint:?}"
        );
    }
    let stopping = Instant::now();
    drop(cluster);
    eprintln!("figure: teardown in {:?}", since(stopping));
    for (name, footprint) in footprints {
        assert_eq!(footprint.leftovers(), Vec::<String>::new(), "node {name}");
    }
    eprintln!("figure: whole scenario {:?}", since(began));
}
