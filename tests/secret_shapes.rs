//! Shapes of Secret on the real control plane with the emulator: templates over several vault
//! secrets, typed Secrets the API server validates, template errors that name a position and
//! never a value, and binary values stored base64-encoded.

mod support;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use support::eventually::{check, eventually};
use support::world::{TestNamespace, test_namespace, world_control};
use vaultsync::crd::{Decoding, VaultSecret};
use vaultsync_emulator::SecretOptions;

const SYNC: Duration = Duration::from_secs(60);
/// One refresh interval (30 s, jittered) plus the reconcile itself.
const ROTATION: Duration = Duration::from_secs(60);

/// Items for the `(key, vault name)` pairs, as YAML under `spec:`.
fn items(pairs: &[(&str, &str)]) -> String {
    let mut out = String::from("  data:\n");
    for (key, name) in pairs {
        out.push_str(&format!("  - key: '{key}'\n    name: '{name}'\n"));
    }
    out
}

/// Waits until key `key` of Secret `name` reads `expected`.
async fn wait_value(t: &TestNamespace, name: &str, key: &str, expected: &str) {
    eventually(
        &format!("{name}/{key} becoming the expected text"),
        ROTATION,
        || async {
            let data = t.secret_data(name).await.unwrap_or_default();
            check(
                data.get(key).map(String::as_str) == Some(expected),
                data.keys().collect::<Vec<_>>(),
            )
        },
    )
    .await;
}

/// The message of the Ready condition.
fn ready_message(resource: &VaultSecret) -> String {
    let status = resource.status.as_ref().expect("a status");
    let ready = status.conditions.iter().find(|c| c.type_ == "Ready");
    ready.expect("a Ready condition").message.clone()
}

#[tokio::test]
async fn a_connection_string_from_two_vault_secrets_follows_either_rotation() {
    let t = test_namespace("tmpl").await;
    t.set("db-host", "db-one.internal");
    t.set("db-password", "pw-tmpl-a1x");
    t.apply(
        "conn",
        &format!(
            "  refreshInterval: 30s\n{}  template:\n    data:\n      url: 'postgres://app:{{{{ password | trim }}}}@{{{{ host }}}}:5432/app'\n      password.json: '{{\"password\": {{{{ password | json }}}}}}'\n",
            items(&[("host", "db-host"), ("password", "db-password")])
        ),
    );
    t.wait_reason("conn", "Synced", SYNC).await;
    let data = t.secret_data("conn").await.unwrap();
    assert_eq!(
        data.keys().collect::<Vec<_>>(),
        ["password.json", "url"],
        "a template writes its keys and nothing else"
    );
    assert_eq!(
        data["url"],
        "postgres://app:pw-tmpl-a1x@db-one.internal:5432/app"
    );
    assert_eq!(data["password.json"], r#"{"password": "pw-tmpl-a1x"}"#);

    t.set("db-password", "pw-tmpl-b2y\n");
    wait_value(
        &t,
        "conn",
        "url",
        "postgres://app:pw-tmpl-b2y@db-one.internal:5432/app",
    )
    .await;
    t.set("db-host", "db-two.internal");
    wait_value(
        &t,
        "conn",
        "url",
        "postgres://app:pw-tmpl-b2y@db-two.internal:5432/app",
    )
    .await;
    let data = t.secret_data("conn").await.unwrap();
    assert_eq!(data["password.json"], r#"{"password": "pw-tmpl-b2y\n"}"#);
    t.assert_no_leak(&["pw-tmpl-a1x", "pw-tmpl-b2y"]).await;
}

#[tokio::test]
async fn a_docker_config_json_secret_passes_type_validation_and_decodes_to_the_auths() {
    let t = test_namespace("docker").await;
    t.set("registry-user", "robot$ci");
    t.set("registry-token", "tok-reg-7q\"9");
    t.set("mirror-host", "mirror.internal:5000");
    t.apply(
        "pull",
        &format!(
            "{}  template:\n    dockerConfigJson:\n      registries:\n      - server: registry.example.com\n        username: '{{{{ user }}}}'\n        password: '{{{{ token }}}}'\n      - server: '{{{{ mirror }}}}'\n        username: reader\n        password: '{{{{ token }}}}'\n        email: ops@example.com\n",
            items(&[
                ("user", "registry-user"),
                ("token", "registry-token"),
                ("mirror", "mirror-host"),
            ])
        ),
    );
    t.wait_reason("pull", "Synced", SYNC).await;
    let (type_, data) = t.secret_bytes("pull").await.unwrap();
    assert_eq!(type_, "kubernetes.io/dockerconfigjson");
    assert_eq!(data.keys().collect::<Vec<_>>(), [".dockerconfigjson"]);
    let config: serde_json::Value = serde_json::from_slice(&data[".dockerconfigjson"]).unwrap();
    let auths = config["auths"].as_object().unwrap();
    assert_eq!(auths.len(), 2);
    let registry = &auths["registry.example.com"];
    assert_eq!(registry["username"], "robot$ci");
    assert_eq!(registry["password"], "tok-reg-7q\"9");
    let auth = STANDARD.decode(registry["auth"].as_str().unwrap()).unwrap();
    assert_eq!(auth, b"robot$ci:tok-reg-7q\"9");
    let mirror = &auths["mirror.internal:5000"];
    assert_eq!(mirror["username"], "reader");
    assert_eq!(mirror["email"], "ops@example.com");
    t.assert_no_leak(&["tok-reg-7q"]).await;
}

#[tokio::test]
async fn basic_auth_and_ssh_auth_secrets_carry_the_keys_their_type_requires() {
    let t = test_namespace("typed").await;
    t.set("svc-user", "svc-account");
    t.set("svc-password", "pw-basic-5k");
    t.set(
        "deploy-key",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn-ssh-9m\n-----END OPENSSH PRIVATE KEY-----\n",
    );
    t.apply(
        "basic",
        &format!(
            "{}  template:\n    basicAuth:\n      username: '{{{{ user }}}}'\n      password: '{{{{ password }}}}'\n",
            items(&[("user", "svc-user"), ("password", "svc-password")])
        ),
    );
    t.apply(
        "ssh",
        &format!(
            "{}  template:\n    sshAuth:\n      privateKey: '{{{{ key }}}}'\n  target:\n    type: kubernetes.io/ssh-auth\n",
            items(&[("key", "deploy-key")])
        ),
    );
    t.wait_reason("basic", "Synced", SYNC).await;
    t.wait_reason("ssh", "Synced", SYNC).await;
    let (type_, data) = t.secret_bytes("basic").await.unwrap();
    assert_eq!(type_, "kubernetes.io/basic-auth");
    assert_eq!(data["username"], b"svc-account");
    assert_eq!(data["password"], b"pw-basic-5k");
    let (type_, data) = t.secret_bytes("ssh").await.unwrap();
    assert_eq!(type_, "kubernetes.io/ssh-auth");
    assert!(
        data["ssh-privatekey"].ends_with(b"b3Blbn-ssh-9m\n-----END OPENSSH PRIVATE KEY-----\n")
    );
    t.assert_no_leak(&["pw-basic-5k", "b3Blbn-ssh-9m"]).await;
}

#[tokio::test]
async fn a_template_error_on_real_values_names_the_position_and_never_a_value() {
    let t = test_namespace("tmplerr").await;
    t.set("api-user", "user-err-3h");
    t.set("api-password", "pw-err-8w!not-base64");
    let sources = items(&[("user", "api-user"), ("password", "api-password")]);
    t.apply(
        "api",
        &format!("{sources}  template:\n    data:\n      credentials: '{{{{ user }}}}:{{{{ password }}}}'\n"),
    );
    t.wait_reason("api", "Synced", SYNC).await;
    let good = t.secret_data("api").await.unwrap();
    assert_eq!(good["credentials"], "user-err-3h:pw-err-8w!not-base64");

    // Line 2, column 24 is the base64decode filter, which cannot take this password.
    t.apply(
        "api",
        &format!("{sources}  template:\n    data:\n      credentials: \"user={{{{ user }}}}\\npassword={{{{ password | base64decode }}}}\"\n"),
    );
    let failed = t.wait_reason("api", "TemplateFailed", SYNC).await;
    let message = ready_message(&failed);
    assert!(
        message.contains(
            "template template.data.credentials at line 2, column 24: filter base64decode: the value is not valid base64"
        ),
        "{message}"
    );
    assert!(
        t.event_reasons("api")
            .iter()
            .any(|(type_, reason)| type_ == "Warning" && reason == "TemplateFailed"),
        "{:?}",
        t.event_reasons("api")
    );
    assert_eq!(
        t.secret_data("api").await.unwrap(),
        good,
        "a failed template leaves the Secret's last data"
    );
    t.assert_no_leak(&["user-err-3h", "pw-err-8w", "not-base64"])
        .await;
}

#[tokio::test]
async fn a_base64_stored_binary_value_arrives_byte_for_byte() {
    let t = test_namespace("binary").await;
    // Every byte value, in an order no text encoding keeps.
    let keystore: Vec<u8> = (0..=255u8)
        .rev()
        .chain(0..=255u8)
        .map(|b| b ^ 0x5a)
        .collect();
    let wrapped: String = STANDARD
        .encode(&keystore)
        .as_bytes()
        .chunks(76)
        .map(|line| format!("{}\n", std::str::from_utf8(line).unwrap()))
        .collect();
    t.set("keystore", &wrapped);
    world_control()
        .set_secret(
            &t.vault,
            "truststore",
            &STANDARD.encode(&keystore[..100]),
            SecretOptions {
                content_type: Some("application/x-pkcs12".into()),
                ..Default::default()
            },
        )
        .unwrap();
    t.set("readme", "AAAA");
    t.apply("bin", &items(&[("keystore.jks", "keystore")]));
    t.wait_reason("bin", "Synced", SYNC).await;
    let (_, data) = t.secret_bytes("bin").await.unwrap();
    assert_eq!(
        data["keystore.jks"],
        wrapped.as_bytes(),
        "no decoding: the text"
    );

    // Only the decoding changes, not the vault: the value is read again and decoded.
    t.apply(
        "bin",
        "  data:\n  - key: keystore.jks\n    name: keystore\n    decoding: Base64\n  - key: truststore.p12\n    name: truststore\n    decoding: Auto\n  - key: readme\n    name: readme\n    decoding: Auto\n",
    );
    let binary = eventually("the decoded keystore", SYNC, || async {
        let (_, data) = t.secret_bytes("bin").await.unwrap();
        check(
            data.len() == 3 && data["keystore.jks"] == keystore,
            data.keys().cloned().collect::<Vec<_>>(),
        )
        .map(|()| data)
    })
    .await;
    assert_eq!(
        binary["truststore.p12"],
        &keystore[..100],
        "Auto decodes a PKCS#12 content type"
    );
    assert_eq!(binary["readme"], b"AAAA", "Auto leaves text as it is");
    // The Secret is written before the status: wait for the status that records the decoding.
    t.wait_for(
        "bin",
        "the Base64 decoding in status.versions",
        SYNC,
        |vs: &VaultSecret| {
            vs.status.as_ref().is_some_and(|s| {
                s.versions
                    .iter()
                    .any(|v| v.key == "keystore.jks" && v.decoding == Decoding::Base64)
            })
        },
    )
    .await;

    // A value that is not base64: DecodingFailed, and the Secret keeps its bytes.
    t.set("keystore", "not base64 at all: ~~~");
    t.force_refresh("vaultsecret", "bin", "1");
    let failed = t.wait_reason("bin", "DecodingFailed", SYNC).await;
    let message = ready_message(&failed);
    assert!(
        message
            .contains("vault secret keystore for key keystore.jks: the value is not valid base64"),
        "{message}"
    );
    let (_, data) = t.secret_bytes("bin").await.unwrap();
    assert_eq!(data["keystore.jks"], keystore, "the last good bytes stay");
    t.assert_no_leak(&["~~~"]).await;
}
