//! The local control plane is real: CRDs, garbage collection, TokenRequest + JWKS, RBAC, teardown.

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, DynamicObject, ListParams, ObjectMeta, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Api, Client};
use vaultsync_testenv::{
    Component, ControlPlane, ControlPlaneOptions, StartError, is_alive, shared, unique_namespace,
};

async fn admin() -> Client {
    shared().client().await.expect("admin client")
}

const WIDGET_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.testenv.vaultsync.dev
spec:
  group: testenv.vaultsync.dev
  names: {kind: Widget, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
"#;

fn kubectl_apply(yaml: &str) {
    let mut child = shared()
        .kubectl()
        .args(["apply", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kubectl");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(yaml.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "kubectl apply failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn kubectl_applies_crd_and_custom_resource_that_kube_rs_lists() {
    let client = admin().await;
    let ns = unique_namespace(&client, "crd").await.unwrap();
    kubectl_apply(WIDGET_CRD);
    // The CRD becomes established asynchronously; retry the custom resource until it is accepted.
    let resource = format!(
        "apiVersion: testenv.vaultsync.dev/v1\nkind: Widget\nmetadata: {{name: w1, namespace: {ns}}}\nspec: {{size: 3}}\n"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = shared()
            .kubectl()
            .args(["apply", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map(|mut c| {
                c.stdin
                    .take()
                    .unwrap()
                    .write_all(resource.as_bytes())
                    .unwrap();
                c.wait_with_output().unwrap()
            })
            .unwrap();
        if out.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "custom resource never accepted: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let gvk = GroupVersionKind::gvk("testenv.vaultsync.dev", "v1", "Widget");
    let widgets: Api<DynamicObject> =
        Api::namespaced_with(client, &ns, &ApiResource::from_gvk(&gvk));
    let list = widgets.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].metadata.name.as_deref(), Some("w1"));
    assert_eq!(list.items[0].data["spec"]["size"], 3);
}

#[tokio::test]
async fn garbage_collector_deletes_owned_secret_with_its_owner() {
    let client = admin().await;
    let ns = unique_namespace(&client, "gc").await.unwrap();
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let owner = maps
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: ObjectMeta {
                    name: Some("owner".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    secrets
        .create(
            &PostParams::default(),
            &Secret {
                metadata: ObjectMeta {
                    name: Some("owned".into()),
                    owner_references: Some(vec![OwnerReference {
                        api_version: "v1".into(),
                        kind: "ConfigMap".into(),
                        name: "owner".into(),
                        uid: owner.metadata.uid.clone().unwrap(),
                        ..Default::default()
                    }]),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    maps.delete("owner", &DeleteParams::default())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while secrets.get_opt("owned").await.unwrap().is_some() {
        assert!(
            Instant::now() < deadline,
            "garbage collector never deleted the owned Secret"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn service_account(client: &Client, ns: &str, name: &str) {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    accounts
        .create(
            &PostParams::default(),
            &ServiceAccount {
                metadata: ObjectMeta {
                    name: Some(name.into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

async fn token(client: &Client, ns: &str, sa: &str, audience: &str) -> String {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![audience.into()],
            expiration_seconds: Some(600),
            ..Default::default()
        },
        ..Default::default()
    };
    accounts
        .create_token_request(sa, &PostParams::default(), &request)
        .await
        .unwrap()
        .status
        .unwrap()
        .token
}

/// Verifies an ES256 JWT against a JWKS document; returns the claims when valid.
fn verify_es256(jwt: &str, jwks: &serde_json::Value) -> Option<serde_json::Value> {
    let mut parts = jwt.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    assert_eq!(
        header["alg"], "ES256",
        "the test control plane signs with P-256"
    );
    let key = jwks["keys"]
        .as_array()?
        .iter()
        .find(|k| k["kid"] == header["kid"])?;
    let mut point = vec![4u8];
    point.extend(URL_SAFE_NO_PAD.decode(key["x"].as_str()?).ok()?);
    point.extend(URL_SAFE_NO_PAD.decode(key["y"].as_str()?).ok()?);
    let signing_input = format!("{}.{}", jwt.split('.').next()?, payload);
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, point)
        .verify(signing_input.as_bytes(), &signature)
        .ok()?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

#[tokio::test]
async fn token_request_for_azure_audience_verifies_against_server_jwks() {
    let client = admin().await;
    let ns = unique_namespace(&client, "tokens").await.unwrap();
    service_account(&client, &ns, "app").await;
    let jwt = token(&client, &ns, "app", "api://AzureADTokenExchange").await;
    let jwks: serde_json::Value = serde_json::from_str(&shared().jwks().await.unwrap()).unwrap();
    let claims =
        verify_es256(&jwt, &jwks).expect("token signature verifies against /openid/v1/jwks");
    assert_eq!(claims["iss"], shared().issuer());
    assert_eq!(claims["aud"][0], "api://AzureADTokenExchange");
    assert_eq!(claims["sub"], format!("system:serviceaccount:{ns}:app"));

    // The same check refuses a token whose payload was altered.
    let mut parts: Vec<String> = jwt.split('.').map(String::from).collect();
    let mut forged = claims.clone();
    forged["sub"] = "system:serviceaccount:other:app".into();
    parts[1] = URL_SAFE_NO_PAD.encode(forged.to_string());
    assert!(verify_es256(&parts.join("."), &jwks).is_none());
}

#[tokio::test]
async fn rbac_denies_service_account_without_role() {
    let client = admin().await;
    let ns = unique_namespace(&client, "rbac").await.unwrap();
    service_account(&client, &ns, "nobody").await;
    let jwt = token(&client, &ns, "nobody", shared().issuer()).await;
    let as_sa = shared().client_with_token(&jwt).await.unwrap();
    let err = Api::<Secret>::namespaced(as_sa, &ns)
        .list(&ListParams::default())
        .await
        .expect_err("a ServiceAccount without a Role must not list Secrets");
    match err {
        kube::Error::Api(status) => assert_eq!(status.code, 403, "{status:?}"),
        other => panic!("expected 403, got {other}"),
    }
}

#[tokio::test]
async fn dropping_private_control_plane_leaves_no_process_or_directory() {
    let plane = ControlPlane::start(ControlPlaneOptions::default())
        .await
        .unwrap();
    let pids = plane.pids();
    let dirs = plane.dirs();
    assert_eq!(
        pids.len(),
        4,
        "etcd, apiserver, controller-manager, watchdog"
    );
    assert!(pids.iter().all(|p| is_alive(*p)));
    drop(plane);
    for pid in pids {
        assert!(!is_alive(pid), "process {pid} survived teardown");
    }
    for dir in dirs {
        assert!(!dir.exists(), "{} survived teardown", dir.display());
    }
}

/// A private control plane (restarts would disturb the other tests of the shared one): etcd and
/// kube-apiserver come back on the same ports with the same data, new processes.
#[tokio::test]
async fn restarted_etcd_and_apiserver_serve_the_same_data_again() {
    let plane = ControlPlane::start(ControlPlaneOptions::default())
        .await
        .unwrap();
    let client = plane.client().await.unwrap();
    let maps: Api<ConfigMap> = Api::namespaced(client, "default");
    let map = ConfigMap {
        metadata: ObjectMeta {
            name: Some("kept".into()),
            ..Default::default()
        },
        data: Some([("k".to_string(), "v".to_string())].into()),
        ..Default::default()
    };
    maps.create(&PostParams::default(), &map).await.unwrap();
    for component in [Component::Etcd, Component::ApiServer] {
        let before = plane.pids();
        plane
            .restart(component, Duration::from_secs(60))
            .await
            .unwrap_or_else(|e| panic!("{component:?} restart: {e}"));
        assert_ne!(before, plane.pids(), "{component:?} is a new process");
        let client = plane.client().await.unwrap();
        let kept = Api::<ConfigMap>::namespaced(client, "default")
            .get("kept")
            .await
            .unwrap();
        assert_eq!(
            kept.data.unwrap()["k"],
            "v",
            "after the {component:?} restart"
        );
    }
}

/// Run only as a child of `killed_owner_leaves_no_process_or_directory`.
#[tokio::test]
#[ignore = "helper process for the watchdog test"]
async fn helper_start_and_wait_to_be_killed() {
    let plane = ControlPlane::start(ControlPlaneOptions::default())
        .await
        .unwrap();
    let pids: Vec<String> = plane.pids().iter().map(u32::to_string).collect();
    let dirs: Vec<String> = plane
        .dirs()
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    println!("PIDS {}", pids.join(","));
    println!("DIRS {}", dirs.join(","));
    std::io::stdout().flush().unwrap();
    tokio::time::sleep(Duration::from_secs(600)).await;
}

#[test]
fn killed_owner_leaves_no_process_or_directory() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "helper_start_and_wait_to_be_killed",
            "--nocapture",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut pids = Vec::new();
    let mut dirs = Vec::new();
    for line in std::io::BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(list) = line.strip_prefix("PIDS ") {
            pids = list.split(',').map(|p| p.parse::<u32>().unwrap()).collect();
        }
        if let Some(list) = line.strip_prefix("DIRS ") {
            dirs = list.split(',').map(std::path::PathBuf::from).collect();
            break;
        }
    }
    assert_eq!(pids.len(), 4, "the helper did not report its control plane");
    child.kill().unwrap(); // SIGKILL: no destructor runs
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while pids.iter().any(|p| is_alive(*p)) || dirs.iter().any(|d| d.exists()) {
        assert!(
            Instant::now() < deadline,
            "watchdog left processes {pids:?} or dirs {dirs:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test]
async fn port_clash_names_the_step_and_log_file() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let options = ControlPlaneOptions {
        apiserver_port: Some(port),
        ..Default::default()
    };
    let err = match ControlPlane::start(options).await {
        Err(err) => err,
        Ok(_) => panic!("a control plane started on a port that is taken"),
    };
    let message = err.to_string();
    match &err {
        StartError::Exited { step, log, .. } => {
            assert!(step.contains("kube-apiserver"), "{message}");
            assert!(log.ends_with("kube-apiserver.log"));
            let text = std::fs::read_to_string(log).expect("the named log file exists");
            assert!(
                text.contains("address already in use"),
                "log explains: {text}"
            );
            assert!(message.contains(&log.display().to_string()));
            let _ = std::fs::remove_dir_all(log.parent().unwrap());
        }
        other => panic!("expected an Exited error, got {other}"),
    }
}

#[tokio::test]
async fn readiness_wait_is_bounded() {
    let options = ControlPlaneOptions {
        ready_timeout: Duration::from_millis(1),
        ..Default::default()
    };
    let err = match ControlPlane::start(options).await {
        Err(err) => err,
        Ok(_) => panic!("nothing can become ready within a millisecond"),
    };
    match &err {
        StartError::NotReady { step, log, .. } => {
            assert!(step.starts_with("wait for"), "{err}");
            assert!(err.to_string().contains(&log.display().to_string()));
            let _ = std::fs::remove_dir_all(log.parent().unwrap());
        }
        other => panic!("expected NotReady, got {other}"),
    }
}

#[test]
fn missing_go_is_one_clear_error() {
    let empty = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("/bin/bash")
        .arg(vaultsync_testenv::ensure_tools_script())
        .env("PATH", "/usr/bin:/bin")
        .env("VAULTSYNC_TOOLS_DIR", empty.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("step 'find go'"), "{stderr}");
}
