//! VaultSecret end to end: kubectl → operator binary → workload identity at the emulator's Entra
//! → vault → Secret, on the real control plane.

mod support;

use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use support::eventually::{check, eventually};
use support::kubectl;
use support::world::{service_account, test_namespace, world};
use vaultsync::crd::VaultSecret;
use vaultsync_emulator::Fault;

const SYNC: Duration = Duration::from_secs(60);

fn items(pairs: &[(&str, &str)]) -> String {
    let mut out = String::from("  data:\n");
    for (key, name) in pairs {
        out.push_str(&format!("  - key: '{key}'\n    name: '{name}'\n"));
    }
    out
}

#[tokio::test]
async fn applied_vault_secret_becomes_ready_with_exact_values() {
    let t = test_namespace("sync").await;
    let v1 = t.set("db-password", "pw-alpha-7f3");
    t.set("api-key", "key-beta-19c");
    t.apply(
        "app",
        &items(&[("password", "db-password"), ("API_KEY", "api-key")]),
    );
    let ready = t.wait_reason("app", "Synced", SYNC).await;
    let data = t.secret_data("app").await.expect("Secret exists");
    assert_eq!(data.len(), 2);
    assert_eq!(data["password"], "pw-alpha-7f3");
    assert_eq!(data["API_KEY"], "key-beta-19c");
    let status = ready.status.unwrap();
    assert_eq!(status.observed_generation, ready.metadata.generation);
    assert!(
        status
            .versions
            .iter()
            .any(|v| v.key == "password" && v.version == v1)
    );
    let secret = Api::<Secret>::namespaced(t.client.clone(), &t.ns)
        .get("app")
        .await
        .unwrap();
    let labels = secret.metadata.labels.unwrap();
    assert_eq!(labels["app.kubernetes.io/managed-by"], "vaultsync");
    assert!(
        secret
            .metadata
            .annotations
            .unwrap()
            .contains_key("vaultsync.dev/content-hash")
    );
    assert_eq!(
        secret.metadata.owner_references.unwrap()[0].kind,
        "VaultSecret"
    );

    // Someone edits a value and adds a key with another field manager (kubectl): vaultsync puts
    // back exactly what it wrote, without reading the vault, and keeps no foreign key.
    let out = kubectl(
        &[
            "patch",
            "secret",
            "app",
            "-n",
            &t.ns,
            "--type=merge",
            "-p",
            r#"{"data":{"password":"ZWRpdGVk","extra":"eA=="},"metadata":{"annotations":{"team/note":"kept"}}}"#,
        ],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eventually(
        "the edited Secret being restored",
        Duration::from_secs(30),
        || async {
            let data = t.secret_data("app").await.unwrap();
            let restored = data.len() == 2 && data["password"] == "pw-alpha-7f3";
            check(restored, data.keys().collect::<Vec<_>>())
        },
    )
    .await;
    let restored = Api::<Secret>::namespaced(t.client.clone(), &t.ns)
        .get("app")
        .await
        .unwrap();
    assert_eq!(
        restored.metadata.annotations.unwrap()["team/note"],
        "kept",
        "others' metadata stays"
    );
    t.assert_no_leak(&["pw-alpha-7f3", "key-beta-19c"]).await;
}

#[tokio::test]
async fn rotation_reaches_secret_within_interval_and_force_refresh_is_immediate() {
    let t = test_namespace("rotate").await;
    t.set("token", "tok-v1-aa11");
    t.apply(
        "app",
        &format!("  refreshInterval: 30s\n{}", items(&[("token", "token")])),
    );
    t.wait_reason("app", "Synced", SYNC).await;
    let v2 = t.set("token", "tok-v2-bb22");
    // Within one refresh interval (30 s ± 10 % jitter) plus slack for the reconcile itself.
    eventually(
        "the rotation within one interval",
        Duration::from_secs(45),
        || async {
            let arrived = t.secret_data("app").await.unwrap()["token"] == "tok-v2-bb22";
            check(arrived, "the old value")
        },
    )
    .await;
    // The Secret is written before the status that records its version.
    t.wait_for(
        "app",
        "the rotated version in status",
        SYNC,
        |vs: &VaultSecret| {
            vs.status
                .as_ref()
                .is_some_and(|s| s.versions.iter().any(|v| v.version == v2))
        },
    )
    .await;

    t.set("token", "tok-v3-cc33");
    t.force_refresh("vaultsecret", "app", "1");
    eventually("the force refresh", Duration::from_secs(10), || async {
        let arrived = t.secret_data("app").await.unwrap()["token"] == "tok-v3-cc33";
        check(arrived, "the old value")
    })
    .await;
    t.assert_no_leak(&["tok-v1-aa11", "tok-v2-bb22", "tok-v3-cc33"])
        .await;
}

#[tokio::test]
async fn vault_outage_keeps_data_reports_reason_and_recovers() {
    let t = test_namespace("outage").await;
    t.set("conn", "conn-good-1");
    t.apply("app", &items(&[("conn", "conn")]));
    t.wait_reason("app", "Synced", SYNC).await;
    let control = world().control();

    for (n, (fault, reason)) in [
        (
            Fault::Status {
                code: 503,
                remaining: None,
            },
            "VaultUnavailable",
        ),
        (
            Fault::Throttle {
                retry_after: Some(2),
                remaining: None,
            },
            "Throttled",
        ),
        (Fault::RefuseConnections, "VaultUnavailable"),
    ]
    .into_iter()
    .enumerate()
    {
        control.set_fault(&t.vault, fault);
        t.set("conn", &format!("conn-new-{n}"));
        t.force_refresh("vaultsecret", "app", &format!("outage-{n}"));
        let failed = t.wait_reason("app", reason, SYNC).await;
        let ready = failed
            .status
            .unwrap()
            .conditions
            .into_iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert!(
            ready.message.contains("keeps its last synced data"),
            "{}",
            ready.message
        );
        let data = t.secret_data("app").await.unwrap();
        assert!(
            data["conn"].starts_with("conn-"),
            "the Secret kept data during the outage"
        );
        assert_eq!(data.len(), 1);
        if n == 0 {
            // Deleted during the outage: put back from the last sync, without the vault.
            Api::<Secret>::namespaced(t.client.clone(), &t.ns)
                .delete("app", &DeleteParams::default())
                .await
                .unwrap();
            let what = "the Secret deleted during the outage being restored";
            eventually(what, Duration::from_secs(45), || async {
                let now = t.secret_data("app").await;
                check(now.as_ref() == Some(&data), now.map(|d| d.len()))
            })
            .await;
            t.wait_reason("app", reason, SYNC).await;
        }
        control.clear_faults(&t.vault);
        t.wait_reason("app", "Synced", SYNC).await;
        assert_eq!(
            t.secret_data("app").await.unwrap()["conn"],
            format!("conn-new-{n}")
        );
    }
    t.assert_no_leak(&["conn-good-1", "conn-new-0", "conn-new-1", "conn-new-2"])
        .await;
}

#[tokio::test]
async fn each_failure_has_its_own_reason_and_loses_nothing() {
    let t = test_namespace("reasons").await;
    t.set("present", "present-val-1");
    t.apply("missing", &items(&[("a", "does-not-exist")]));
    t.wait_reason("missing", "SecretNotFound", SYNC).await;

    t.set("off", "off-val-1");
    world()
        .control()
        .set_secret_enabled(&t.vault, "off", None, false)
        .unwrap();
    t.apply("disabled", &items(&[("a", "off")]));
    t.wait_reason("disabled", "SecretDisabled", SYNC).await;

    // A second ServiceAccount without the annotation.
    service_account(&t.client, &t.ns, "plain", None).await;
    let yaml = format!(
        "apiVersion: vaultsync.dev/v1alpha1\nkind: VaultSecret\nmetadata: {{name: noanno, namespace: {}}}\nspec:\n  vault: {{url: '{}', serviceAccountName: plain}}\n{}",
        t.ns,
        t.vault_url,
        items(&[("a", "present")])
    );
    assert!(support::kubectl_apply(&yaml).status.success());
    t.wait_reason("noanno", "IdentityAnnotationMissing", SYNC)
        .await;

    // A ServiceAccount whose client id has no federated credential for its subject.
    let stranger = format!("{}-stranger", t.client_id);
    world()
        .control()
        .register_app(support::world::ENTRA_TENANT_ID, &stranger);
    service_account(&t.client, &t.ns, "stranger", Some(&stranger)).await;
    let yaml = yaml
        .replace("serviceAccountName: plain", "serviceAccountName: stranger")
        .replace("noanno", "nofed");
    assert!(support::kubectl_apply(&yaml).status.success());
    let failed = t.wait_reason("nofed", "TokenExchangeFailed", SYNC).await;
    let message = &failed.status.unwrap().conditions[0].message;
    assert!(
        message.contains("AADSTS70021") || message.contains("70021"),
        "{message}"
    );

    // Synced first, then the role is revoked: Forbidden, and the Secret keeps its data.
    t.apply("revoked", &items(&[("a", "present")]));
    t.wait_reason("revoked", "Synced", SYNC).await;
    world().control().revoke_roles(&t.client_id, &t.vault);
    t.force_refresh("vaultsecret", "revoked", "after-revoke");
    t.wait_reason("revoked", "Forbidden", SYNC).await;
    assert_eq!(
        t.secret_data("revoked").await.unwrap()["a"],
        "present-val-1"
    );
    t.assert_no_leak(&["present-val-1", "off-val-1"]).await;
}

#[tokio::test]
async fn other_namespaces_identity_and_unassigned_identity_read_nothing() {
    let a = test_namespace("tenanta").await;
    a.set("only-a", "a-secret-val");
    let b = test_namespace("tenantb").await;
    // b names a ServiceAccount that exists only in a's namespace.
    let yaml = format!(
        "apiVersion: vaultsync.dev/v1alpha1\nkind: VaultSecret\nmetadata: {{name: steal, namespace: {}}}\nspec:\n  vault: {{url: '{}', serviceAccountName: other}}\n{}",
        b.ns,
        a.vault_url,
        items(&[("x", "only-a")])
    );
    service_account(&a.client, &a.ns, "other", Some(&a.client_id)).await;
    assert!(support::kubectl_apply(&yaml).status.success());
    b.wait_reason("steal", "ServiceAccountNotFound", SYNC).await;
    // b's own identity has no role on a's vault.
    let yaml = yaml
        .replace("serviceAccountName: other", "serviceAccountName: app")
        .replace("steal", "borrow");
    assert!(support::kubectl_apply(&yaml).status.success());
    b.wait_reason("borrow", "Forbidden", SYNC).await;
    assert!(b.secret_data("steal").await.is_none());
    assert!(b.secret_data("borrow").await.is_none());
}

#[tokio::test]
async fn foreign_secret_is_not_overwritten_unless_adoption_is_requested() {
    let t = test_namespace("owner").await;
    t.set("v", "vault-val-9");
    let secrets: Api<Secret> = Api::namespaced(t.client.clone(), &t.ns);
    let foreign = Secret {
        metadata: ObjectMeta {
            name: Some("theirs".into()),
            ..Default::default()
        },
        string_data: Some([("mine".to_string(), "keep-me".to_string())].into()),
        ..Default::default()
    };
    secrets
        .create(&PostParams::default(), &foreign)
        .await
        .unwrap();
    t.apply("theirs", &items(&[("v", "v")]));
    t.wait_reason("theirs", "OwnershipConflict", SYNC).await;
    assert_eq!(t.secret_data("theirs").await.unwrap()["mine"], "keep-me");
    // Consent on the Secret's side: its owner hands it over to exactly this resource.
    let consent = serde_json::json!({
        "metadata": {"annotations": {"vaultsync.dev/adopt": "VaultSecret/theirs"}}
    });
    secrets
        .patch(
            "theirs",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&consent),
        )
        .await
        .unwrap();
    t.apply(
        "theirs",
        &format!(
            "{}  target:\n    creationPolicy: Adopt\n",
            items(&[("v", "v")])
        ),
    );
    t.wait_reason("theirs", "Synced", SYNC).await;
    let data = t.secret_data("theirs").await.unwrap();
    assert_eq!(data.get("v").map(String::as_str), Some("vault-val-9"));
    assert!(
        !data.contains_key("mine"),
        "adoption replaces the previous owner's keys"
    );
}

#[tokio::test]
async fn deletion_policies_delete_or_retain_the_secret() {
    let t = test_namespace("deletion").await;
    t.set("v", "del-val-1");
    t.apply("deleted", &items(&[("v", "v")]));
    t.apply(
        "retained",
        &format!(
            "{}  target:\n    deletionPolicy: Retain\n",
            items(&[("v", "v")])
        ),
    );
    t.wait_reason("deleted", "Synced", SYNC).await;
    t.wait_reason("retained", "Synced", SYNC).await;
    let api: Api<VaultSecret> = Api::namespaced(t.client.clone(), &t.ns);
    api.delete("deleted", &DeleteParams::default())
        .await
        .unwrap();
    api.delete("retained", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the owned Secret being collected", SYNC, || async {
        check(t.secret_data("deleted").await.is_none(), "still there")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(t.secret_data("retained").await.unwrap()["v"], "del-val-1");
}

#[tokio::test]
async fn idle_refreshes_write_nothing_to_the_api_server() {
    let t = test_namespace("idle").await;
    t.set("a", "idle-a");
    t.set("b", "idle-b");
    // Listings tell versions apart by their second: a value first read within the second it
    // was written is read once more at the next refresh. Start a second later, so every idle
    // refresh here can be served by the listing alone.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    t.apply(
        "app",
        &format!(
            "  refreshInterval: 30s\n{}",
            items(&[("a", "a"), ("b", "b")])
        ),
    );
    t.wait_reason("app", "Synced", SYNC).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let secrets: Api<Secret> = Api::namespaced(t.client.clone(), &t.ns);
    let vs: Api<VaultSecret> = Api::namespaced(t.client.clone(), &t.ns);
    let secret_rv = secrets.get("app").await.unwrap().metadata.resource_version;
    let vs_rv = vs.get("app").await.unwrap().metadata.resource_version;
    let lists_before = world().control().counters().by_op(&t.vault, "ListSecrets");
    // More than two refresh intervals (30 s each, ±10 % jitter).
    tokio::time::sleep(Duration::from_secs(70)).await;
    let lists_after = world().control().counters().by_op(&t.vault, "ListSecrets");
    assert!(
        lists_after >= lists_before + 2,
        "the operator kept refreshing ({lists_before} → {lists_after} listings)"
    );
    assert_eq!(
        secrets.get("app").await.unwrap().metadata.resource_version,
        secret_rv,
        "the Secret was written while idle"
    );
    assert_eq!(
        vs.get("app").await.unwrap().metadata.resource_version,
        vs_rv,
        "the status was written while idle"
    );
    assert_eq!(
        world()
            .control()
            .counters()
            .by_op_status(&t.vault, "GetSecret", 200),
        2,
        "idle refreshes list, they do not re-read values"
    );
}
