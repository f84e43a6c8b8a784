//! What the chart's ServiceAccount may and may not do, proven with its own token against the
//! installed releases: exactly the requests the operator makes succeed, everything else is 403.

use k8s_openapi::ByteString;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{ObjectReference, Pod, Secret, ServiceAccount};
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::api::rbac::v1::{ClusterRole, RoleBinding, RoleRef};
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, ObjectMeta, Patch,
    PatchParams, PostParams, WatchParams,
};
use kube::{Api, Client};
use serde_json::json;
use vaultsync::telemetry::events::{EventType, Events, Occurrence};
use vaultsync_testenv::shared;

use super::install::{cluster_wide, kubectl, kubectl_ok, restricted};
use super::{kubeconfig_for_service_account, text};

/// A client authenticated as `namespace/name` with a TokenRequest token.
pub(super) async fn client_as(namespace: &str, name: &str) -> Client {
    let admin = shared().client().await.expect("admin client");
    let request = TokenRequest {
        spec: TokenRequestSpec {
            expiration_seconds: Some(3600),
            ..Default::default()
        },
        ..Default::default()
    };
    let response = Api::<ServiceAccount>::namespaced(admin, namespace)
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .expect("TokenRequest as admin");
    let token = response.status.expect("a token").token;
    shared()
        .client_with_token(&token)
        .await
        .expect("token client")
}

fn assert_forbidden<T: std::fmt::Debug>(what: &str, result: Result<T, kube::Error>) {
    match result {
        Err(kube::Error::Api(status)) if status.is_forbidden() => {}
        other => panic!("{what}: expected 403 Forbidden, got {other:?}"),
    }
}

/// vaultsync.dev/v1alpha1 resources of `kind` (plural: lowercase + "s"), untyped.
fn own_resources(client: Client, namespace: &str, kind: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("vaultsync.dev", "v1alpha1", kind);
    let plural = format!("{}s", kind.to_lowercase());
    Api::namespaced_with(
        client,
        namespace,
        &ApiResource::from_gvk_with_plural(&gvk, &plural),
    )
}

fn vault_secrets(client: Client, namespace: &str) -> Api<DynamicObject> {
    own_resources(client, namespace, "VaultSecret")
}

fn managed_secret(name: &str, value: &str) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(
                [(
                    "app.kubernetes.io/managed-by".to_string(),
                    "vaultsync".to_string(),
                )]
                .into(),
            ),
            ..Default::default()
        },
        data: Some([("KEY".to_string(), ByteString(value.as_bytes().to_vec()))].into()),
        ..Default::default()
    }
}

fn lease(name: &str, holder: &str) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(holder.into()),
            ..Default::default()
        }),
    }
}

#[tokio::test]
async fn cluster_wide_service_account_can_do_what_the_operator_does() {
    let release = cluster_wide();
    let (ns, app) = (&release.namespace, &release.app_namespaces[0]);
    kubectl_ok(&["create", "serviceaccount", "app", "-n", app], "");
    let vault_secret = format!(
        "apiVersion: vaultsync.dev/v1alpha1\nkind: VaultSecret\nmetadata: {{name: app, namespace: {app}}}\n\
         spec:\n  vault: {{url: 'https://v.vault.azure.net/', serviceAccountName: app}}\n  data: [{{key: A, name: a}}]\n"
    );
    kubectl_ok(&["apply", "-f", "-"], &vault_secret);
    let operator = client_as(ns, release.name).await;

    // Its own resources: list and watch everywhere, status writes.
    let resources = vault_secrets(operator.clone(), app);
    assert_eq!(
        resources
            .list(&ListParams::default())
            .await
            .expect("list VaultSecrets")
            .items
            .len(),
        1
    );
    own_resources(operator.clone(), app, "VaultCertificate")
        .list(&ListParams::default())
        .await
        .expect("list VaultCertificates");
    let status = json!({"status": {"observedGeneration": 1, "secretName": "app"}});
    resources
        .patch_status("app", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("patch status");
    let all: Api<Secret> = Api::all(operator.clone());
    all.list(&ListParams::default().labels("app.kubernetes.io/managed-by=vaultsync"))
        .await
        .expect("list Secrets");
    let _watch = all
        .watch(&WatchParams::default().timeout(1), "0")
        .await
        .expect("watch Secrets");

    // Secrets: server-side apply creates and updates; adoption replaces.
    let secrets: Api<Secret> = Api::namespaced(operator.clone(), app);
    let apply = PatchParams::apply("vaultsync").force();
    secrets
        .patch("app", &apply, &Patch::Apply(managed_secret("app", "v1")))
        .await
        .expect("apply creates");
    let updated = secrets
        .patch("app", &apply, &Patch::Apply(managed_secret("app", "v2")))
        .await
        .expect("apply updates");
    secrets
        .replace("app", &PostParams::default(), &updated)
        .await
        .expect("replace (adoption)");

    // The resource's identity: read the ServiceAccount, mint its token as vaultsync does (the
    // chart's token policy allows exactly this audience for at most 600 seconds).
    let accounts: Api<ServiceAccount> = Api::namespaced(operator.clone(), app);
    accounts.get("app").await.expect("get ServiceAccount");
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec!["api://AzureADTokenExchange".into()],
            expiration_seconds: Some(600),
            ..Default::default()
        },
        ..Default::default()
    };
    let minted = accounts
        .create_token_request("app", &PostParams::default(), &request)
        .await
        .expect("TokenRequest");
    assert!(minted.status.is_some_and(|s| !s.token.is_empty()));

    // Events exactly as the operator publishes them: the first creates, a repeat joins its
    // series (a patch the API server validates), another reason starts a new Event.
    let events = Events::new(operator.clone(), "vaultsync", None);
    let reference = ObjectReference {
        api_version: Some("vaultsync.dev/v1alpha1".into()),
        kind: Some("VaultSecret".into()),
        name: Some("app".into()),
        namespace: Some(app.clone()),
        uid: Some("uid-of-app".into()),
        ..Default::default()
    };
    let occurrence = |reason| Occurrence {
        type_: EventType::Warning,
        action: "Sync",
        reason,
        note: "test",
    };
    for _ in 0..3 {
        events
            .try_publish(&reference, &occurrence("VaultUnavailable"))
            .await
            .expect("create or patch Event");
    }
    events
        .try_publish(&reference, &occurrence("Forbidden"))
        .await
        .expect("create Event");
    let admin = shared().client().await.expect("admin client");
    let published: Api<K8sEvent> = Api::namespaced(admin, app);
    let mut seen: Vec<(String, i32)> = published
        .list(&Default::default())
        .await
        .expect("list Events")
        .items
        .into_iter()
        .filter(|e| e.reporting_controller.as_deref() == Some("vaultsync"))
        .map(|e| {
            let count = e.series.map_or(1, |s| s.count);
            (e.reason.unwrap_or_default(), count)
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("Forbidden".to_string(), 1),
            ("VaultUnavailable".to_string(), 3)
        ]
    );

    // The leader-election Lease in the release namespace: create, get, update.
    let leases: Api<Lease> = Api::namespaced(operator.clone(), ns);
    leases
        .create(&PostParams::default(), &lease("vaultsync-leader", "a"))
        .await
        .expect("create Lease");
    let mut current = leases.get("vaultsync-leader").await.expect("get Lease");
    current.spec = lease("vaultsync-leader", "b").spec;
    leases
        .replace("vaultsync-leader", &PostParams::default(), &current)
        .await
        .expect("update Lease");
}

#[tokio::test]
async fn cluster_wide_service_account_cannot_do_more() {
    let release = cluster_wide();
    let (ns, app) = (&release.namespace, &release.app_namespaces[0]);
    let admin = shared().client().await.expect("admin client");
    let apply = PatchParams::apply("test").force();
    Api::<Secret>::namespaced(admin, app)
        .patch(
            "victim",
            &apply,
            &Patch::Apply(managed_secret("victim", "x")),
        )
        .await
        .expect("admin creates a Secret");
    let operator = client_as(ns, release.name).await;

    let secrets: Api<Secret> = Api::namespaced(operator.clone(), app);
    assert_forbidden(
        "delete a Secret",
        secrets.delete("victim", &DeleteParams::default()).await,
    );
    let resources = vault_secrets(operator.clone(), app);
    assert_forbidden(
        "delete a VaultSecret",
        resources.delete("x", &DeleteParams::default()).await,
    );
    let spec = json!({"spec": {"refreshInterval": "1m"}});
    assert_forbidden(
        "patch a VaultSecret spec",
        resources
            .patch("x", &PatchParams::default(), &Patch::Merge(&spec))
            .await,
    );
    let leases: Api<Lease> = Api::namespaced(operator.clone(), app);
    assert_forbidden(
        "create a Lease elsewhere",
        leases
            .create(&PostParams::default(), &lease("l", "a"))
            .await,
    );
    let own_leases: Api<Lease> = Api::namespaced(operator.clone(), ns);
    assert_forbidden("get another Lease", own_leases.get("someone-else").await);
    assert_forbidden(
        "list ClusterRoles",
        Api::<ClusterRole>::all(operator.clone())
            .list(&ListParams::default())
            .await,
    );
    let binding = RoleBinding {
        metadata: ObjectMeta {
            name: Some("escalate".into()),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: "admin".into(),
        },
        subjects: None,
    };
    let bindings: Api<RoleBinding> = Api::namespaced(operator.clone(), app);
    assert_forbidden(
        "create a RoleBinding",
        bindings.create(&PostParams::default(), &binding).await,
    );
    let accounts: Api<ServiceAccount> = Api::namespaced(operator.clone(), app);
    assert_forbidden(
        "list ServiceAccounts",
        accounts.list(&ListParams::default()).await,
    );
    let pods: Api<Pod> = Api::namespaced(operator, app);
    assert_forbidden("list Pods", pods.list(&ListParams::default()).await);
}

#[tokio::test]
async fn restricted_service_account_reaches_only_the_watched_namespaces() {
    let release = restricted();
    let [watched_a, watched_b, other] = &release.app_namespaces[..] else {
        panic!("three namespaces")
    };
    let admin = shared().client().await.expect("admin client");
    let apply = PatchParams::apply("test").force();
    for ns in [watched_a, other] {
        Api::<Secret>::namespaced(admin.clone(), ns)
            .patch("s", &apply, &Patch::Apply(managed_secret("s", "x")))
            .await
            .expect("admin creates a Secret");
    }
    let operator = client_as(&release.namespace, "vaultsync-rs").await;

    Api::<Secret>::namespaced(operator.clone(), watched_a)
        .get("s")
        .await
        .expect("read a watched Secret");
    Api::<Secret>::namespaced(operator.clone(), watched_b)
        .list(&ListParams::default())
        .await
        .expect("list watched");
    vault_secrets(operator.clone(), watched_b)
        .list(&ListParams::default())
        .await
        .expect("list VaultSecrets");
    assert_forbidden(
        "read an unwatched Secret",
        Api::<Secret>::namespaced(operator.clone(), other)
            .get("s")
            .await,
    );
    assert_forbidden(
        "list Secrets cluster-wide",
        Api::<Secret>::all(operator.clone())
            .list(&ListParams::default())
            .await,
    );
    // In its own namespace it reads the content hash key Secret and nothing else.
    assert_forbidden(
        "read another Secret of the release namespace",
        Api::<Secret>::namespaced(operator.clone(), &release.namespace)
            .get("not-the-content-hash-key")
            .await,
    );
    let leases: Api<Lease> = Api::namespaced(operator, &release.namespace);
    let leader = lease("vaultsync-leader", "a");
    assert_forbidden(
        "create a Lease without leader election",
        leases.create(&PostParams::default(), &leader).await,
    );
}

#[test]
fn service_account_kubeconfig_runs_kubectl_as_the_operator() {
    let release = cluster_wide();
    let app = &release.app_namespaces[0];
    let kubeconfig = kubeconfig_for_service_account(&release.namespace, release.name);
    let as_operator = |args: &[&str]| {
        let mut all = vec!["--kubeconfig", kubeconfig.to_str().expect("utf-8")];
        all.extend_from_slice(args);
        kubectl(&all, "")
    };
    let whoami = as_operator(&[
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username}",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&whoami.stdout),
        format!(
            "system:serviceaccount:{}:{}",
            release.namespace, release.name
        ),
        "{}",
        String::from_utf8_lossy(&whoami.stderr)
    );
    let list = as_operator(&["auth", "can-i", "--list", "-n", app]);
    assert!(list.status.success(), "{}", text(&list));
    let list = String::from_utf8_lossy(&list.stdout);
    let row = |resource: &str| {
        list.lines()
            .find(|l| l.split_whitespace().next() == Some(resource))
            .unwrap_or_else(|| panic!("no {resource} row in:\n{list}"))
            .to_string()
    };
    assert!(
        row("secrets").ends_with("[get list watch create patch update]"),
        "{}",
        row("secrets")
    );
    assert!(row("serviceaccounts/token").ends_with("[create]"));
    assert!(row("vaultcertificates.vaultsync.dev/status").ends_with("[patch update]"));
    for (question, expected) in [
        (
            ["create", "serviceaccounts", "--subresource=token"].as_slice(),
            "yes",
        ),
        (&["delete", "secrets"], "no"),
        (&["create", "leases.coordination.k8s.io"], "no"),
    ] {
        let mut args = vec!["auth", "can-i", "-n", app];
        args.extend_from_slice(question);
        let out = as_operator(&args);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            expected,
            "{question:?}"
        );
    }
}
