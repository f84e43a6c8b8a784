//! Invalid specs are refused by the real API server at `kubectl apply`, with actionable messages.

mod support;

use support::{install_crds, kubectl_apply};
use vaultsync_testenv::{shared, unique_namespace};

fn vault_secret(ns: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: vaultsync.dev/v1alpha1\nkind: VaultSecret\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n{spec}"
    )
}

const GOOD_VAULT: &str =
    "  vault:\n    url: https://v1.vault.azure.net/\n    serviceAccountName: app\n";

async fn namespace() -> String {
    install_crds();
    let client = shared().client().await.unwrap();
    unique_namespace(&client, "admission").await.unwrap()
}

fn assert_rejected(ns: &str, spec: &str, expected: &str) {
    assert_refused(&vault_secret(ns, "bad", spec), spec, expected);
}

/// `manifest` (made from `spec`) is refused with a message containing `expected`.
fn assert_refused(manifest: &str, spec: &str, expected: &str) {
    let out = kubectl_apply(manifest);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "accepted an invalid spec:\n{spec}");
    assert!(
        stderr.contains(expected),
        "message for\n{spec}\nwas: {stderr}\nexpected to contain: {expected}"
    );
}

#[tokio::test]
async fn valid_spec_is_accepted_with_defaults() {
    let ns = namespace().await;
    let spec = format!("{GOOD_VAULT}  data:\n  - key: password\n    name: db-password\n");
    let out = kubectl_apply(&vault_secret(&ns, "good", &spec));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = support::kubectl(
        &[
            "get",
            "vaultsecret",
            "good",
            "-n",
            &ns,
            "-o",
            "jsonpath={.spec.refreshInterval} {.spec.target.creationPolicy} {.spec.target.deletionPolicy}",
        ],
        "",
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1h Owner Delete");
}

#[tokio::test]
async fn http_vault_url_is_rejected() {
    let ns = namespace().await;
    let spec = "  vault:\n    url: http://v1.vault.azure.net/\n    serviceAccountName: app\n  data:\n  - key: a\n    name: a\n";
    assert_rejected(&ns, spec, "vault.url must be an https URL");
}

#[tokio::test]
async fn invalid_vault_secret_name_is_rejected() {
    let ns = namespace().await;
    let spec = format!("{GOOD_VAULT}  data:\n  - key: a\n    name: 1_bad_name\n");
    assert_rejected(&ns, &spec, "spec.data[0].name");
}

#[tokio::test]
async fn duplicate_secret_keys_are_rejected() {
    let ns = namespace().await;
    let spec =
        format!("{GOOD_VAULT}  data:\n  - key: a\n    name: one\n  - key: a\n    name: two\n");
    assert_rejected(&ns, &spec, "every data[].key must be unique");
}

#[tokio::test]
async fn invalid_secret_key_is_rejected() {
    let ns = namespace().await;
    let spec = format!("{GOOD_VAULT}  data:\n  - key: has/slash\n    name: one\n");
    assert_rejected(&ns, &spec, "spec.data[0].key");
    let spec = format!("{GOOD_VAULT}  data:\n  - key: ..\n    name: one\n");
    assert_rejected(&ns, &spec, "cannot be '.' or '..'");
}

#[tokio::test]
async fn bad_refresh_intervals_are_rejected() {
    let ns = namespace().await;
    for interval in ["5s", "1000h", "soon", "1d"] {
        let spec = format!(
            "{GOOD_VAULT}  refreshInterval: {interval}\n  data:\n  - key: a\n    name: a\n"
        );
        assert_rejected(&ns, &spec, "spec.refreshInterval");
    }
}

#[tokio::test]
async fn mutually_exclusive_and_required_fields_are_enforced() {
    let ns = namespace().await;
    assert_rejected(&ns, GOOD_VAULT, "give at least one entry in data");
    let both = format!("{GOOD_VAULT}  dataFrom:\n  - namePrefix: app-\n    namePattern: 'app-*'\n");
    assert_rejected(&ns, &both, "either namePrefix or namePattern");
    let neither = format!("{GOOD_VAULT}  dataFrom:\n  - keys:\n      lowercase: true\n");
    assert_rejected(&ns, &neither, "would select the whole vault");
}

#[tokio::test]
async fn reserved_label_prefix_is_rejected() {
    let ns = namespace().await;
    let spec = format!(
        "{GOOD_VAULT}  data:\n  - key: a\n    name: a\n  target:\n    labels:\n      vaultsync.dev/managed-by: me\n"
    );
    assert_rejected(&ns, &spec, "reserved prefix");
}

fn vault_certificate(ns: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: vaultsync.dev/v1alpha1\nkind: VaultCertificate\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n{GOOD_VAULT}{spec}"
    )
}

fn assert_certificate_rejected(ns: &str, spec: &str, expected: &str) {
    assert_refused(&vault_certificate(ns, "bad", spec), spec, expected);
}

#[tokio::test]
async fn vault_certificate_defaults_are_applied() {
    let ns = namespace().await;
    let out = kubectl_apply(&vault_certificate(
        &ns,
        "web",
        "  certificate:\n    name: web-tls\n",
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = support::kubectl(
        &[
            "get",
            "vaultcertificate",
            "web",
            "-n",
            &ns,
            "-o",
            "jsonpath={.spec.refreshInterval} {.spec.renewBefore} {.spec.output.keyFormat} {.spec.output.ca}",
        ],
        "",
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1h 720h PKCS8 Chain");
}

#[tokio::test]
async fn invalid_vault_certificate_specs_are_rejected_with_actionable_messages() {
    let ns = namespace().await;
    assert_certificate_rejected(&ns, "", "spec.certificate: Required value");
    assert_certificate_rejected(
        &ns,
        "  certificate:\n    name: 9starts-with-digit\n",
        "spec.certificate.name",
    );
    assert_certificate_rejected(
        &ns,
        "  certificate:\n    name: web\n    version: NOT-HEX\n",
        "spec.certificate.version",
    );
    assert_certificate_rejected(
        &ns,
        "  certificate:\n    name: web\n  renewBefore: 10s\n",
        "renewBefore must be a duration between 1m and 8760h",
    );
    assert_certificate_rejected(
        &ns,
        "  certificate:\n    name: web\n  output:\n    keyFormat: DER\n",
        "spec.output.keyFormat: Unsupported value: \"DER\"",
    );
    assert_certificate_rejected(
        &ns,
        "  certificate:\n    name: web\n  output:\n    pkcs12:\n      key: tls.key\n      passwordSecretRef:\n        name: pw\n        key: password\n",
        "pkcs12.key must not be tls.crt, tls.key, ca.crt",
    );
    assert_certificate_rejected(
        &ns,
        "  certificate:\n    name: web\n  output:\n    pkcs12:\n      key: keystore.p12\n",
        "passwordSecretRef: Required value",
    );
    assert_certificate_rejected(
        &ns,
        "  certificate:\n    name: ca\n  output:\n    trustBundle: {}\n  target:\n    type: kubernetes.io/tls\n",
        "output.trustBundle writes no private key, so target.type must be Opaque",
    );
    assert_certificate_rejected(
        &ns,
        "  certificate:\n    name: ca\n  output:\n    trustBundle: {}\n    pkcs12:\n      passwordSecretRef:\n        name: pw\n        key: password\n",
        "output.trustBundle writes no private key: remove output.pkcs12",
    );
    assert_certificate_rejected(
        &ns,
        "  certificate:\n    name: ca\n  output:\n    trustBundle:\n      truststore:\n        key: ca.crt\n        passwordSecretRef:\n          name: pw\n          key: password\n",
        "trustBundle.truststore.key must not be ca.crt",
    );
    assert_certificate_rejected(
        &ns,
        "  certificate:\n    name: ca\n  output:\n    trustBundle:\n      writeTo: ConfigMap\n  target:\n    type: Opaque\n",
        "output.trustBundle.writeTo: ConfigMap writes a ConfigMap, which has no type: remove target.type",
    );
    assert_certificate_rejected(
        &ns,
        "  certificate:\n    name: ca\n  output:\n    trustBundle:\n      writeTo: Deployment\n",
        "Unsupported value: \"Deployment\"",
    );
}

#[tokio::test]
async fn target_types_that_grant_access_or_belong_to_other_tools_are_refused() {
    let ns = namespace().await;
    for type_ in [
        "kubernetes.io/service-account-token",
        "bootstrap.kubernetes.io/token",
        "helm.sh/release.v1",
    ] {
        let spec =
            format!("{GOOD_VAULT}  data:\n  - key: k\n    name: s\n  target:\n    type: {type_}\n");
        assert_rejected(
            &ns,
            &spec,
            "target.type must not be a type that grants API access",
        );
    }
    let spec = format!(
        "{GOOD_VAULT}  data:\n  - key: username\n    name: s\n  target:\n    type: kubernetes.io/basic-auth\n"
    );
    let out = kubectl_apply(&vault_secret(&ns, "basic", &spec));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `spec` with two items, `user` and `password`, followed by `rest`.
fn with_sources(rest: &str) -> String {
    format!(
        "{GOOD_VAULT}  data:\n  - key: user\n    name: db-user\n  - key: password\n    name: db-password\n{rest}"
    )
}

#[tokio::test]
async fn templates_and_typed_secrets_are_accepted_when_well_formed() {
    let ns = namespace().await;
    let spec = with_sources(concat!(
        "  template:\n",
        "    data:\n",
        "      config.json: '{\"db\": {\"user\": {{ user | json }}, \"password\": {{password|json}}}}'\n",
        "      app.yaml: \"password: {{ password | trim | yaml }}\\nliteral: {{ \\\"{{\\\" }}\\n\"\n",
        "    basicAuth:\n",
        "      username: '{{ user }}'\n",
        "      password: '{{ password | trim }}'\n",
        "  target:\n",
        "    type: kubernetes.io/basic-auth\n",
    ));
    let out = kubectl_apply(&vault_secret(&ns, "templated", &spec));
    assert!(
        out.status.success(),
        "{spec}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let spec = with_sources(concat!(
        "  template:\n",
        "    dockerConfigJson:\n",
        "      registries:\n",
        "      - server: registry.example.com\n",
        "        username: '{{ user }}'\n",
        "        password: '{{ password }}'\n",
    ));
    let out = kubectl_apply(&vault_secret(&ns, "registry", &spec));
    assert!(
        out.status.success(),
        "{spec}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let spec = format!(
        "{GOOD_VAULT}  data:\n  - key: keystore\n    name: keystore\n    decoding: Base64\n  dataFrom:\n  - namePrefix: bin-\n    decoding: Auto\n"
    );
    let out = kubectl_apply(&vault_secret(&ns, "binary", &spec));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn malformed_templates_are_rejected_with_the_grammar() {
    let ns = namespace().await;
    let grammar = "a template is text with placeholders such as {{ password }}";
    for template in [
        "'{{ user | base65 }}'",
        "'{{ user'",
        "'{{ }}'",
        "'{{ user base64 }}'",
        "'{{ {user} }}'",
        "'{{ \"open }}'",
    ] {
        let spec = with_sources(&format!("  template:\n    data:\n      out: {template}\n"));
        assert_rejected(&ns, &spec, grammar);
    }
    let spec = with_sources("  template:\n    basicAuth:\n      username: '{{ user | jsn }}'\n");
    assert_rejected(&ns, &spec, grammar);
    let spec = with_sources("  template:\n    data:\n      has/slash: '{{ user }}'\n");
    assert_rejected(&ns, &spec, "template.data keys are Secret keys");
    let spec = with_sources("  template: {}\n");
    assert_rejected(&ns, &spec, "a template writes nothing");
}

#[tokio::test]
async fn typed_secret_mismatches_are_rejected_with_actionable_messages() {
    let ns = namespace().await;
    let basic = "    basicAuth:\n      username: '{{ user }}'\n";
    let ssh = "    sshAuth:\n      privateKey: '{{ password }}'\n";
    let spec = with_sources(&format!(
        "  template:\n{basic}  target:\n    type: kubernetes.io/ssh-auth\n"
    ));
    assert_rejected(&ns, &spec, "target.type does not match the template");
    let spec = with_sources(&format!("  template:\n{basic}{ssh}"));
    assert_rejected(&ns, &spec, "give at most one of template.dockerConfigJson");
    let spec = with_sources("  template:\n    basicAuth: {}\n");
    assert_rejected(&ns, &spec, "template.basicAuth needs username or password");
    let spec = with_sources(&format!(
        "  template:\n{basic}    data:\n      password: '{{{{ password }}}}'\n"
    ));
    assert_rejected(
        &ns,
        &spec,
        "template.basicAuth writes the keys username and password",
    );
    let registry =
        "      - server: r.example.com\n        username: u\n        password: '{{ password }}'\n";
    let spec = with_sources(&format!(
        "  template:\n    dockerConfigJson:\n      registries:\n{registry}{registry}"
    ));
    assert_rejected(&ns, &spec, "has the same server twice");
    let spec = with_sources("  target:\n    type: kubernetes.io/ssh-auth\n");
    assert_rejected(&ns, &spec, "target.type needs keys the spec does not write");
    let spec = with_sources(
        "  template:\n    data:\n      config: '{{ user }}'\n  target:\n    type: kubernetes.io/dockerconfigjson\n",
    );
    assert_rejected(&ns, &spec, "target.type needs keys the spec does not write");
    let spec = format!("{GOOD_VAULT}  data:\n  - key: k\n    name: s\n    decoding: Hex\n");
    assert_rejected(
        &ns,
        &spec,
        "spec.data[0].decoding: Unsupported value: \"Hex\"",
    );
}

#[tokio::test]
async fn vault_key_items_are_validated() {
    let ns = namespace().await;
    let spec = format!(
        "{GOOD_VAULT}  keys:\n  - key: signing.pem\n    name: token-signing\n  - key: signing.jwk\n    name: token-signing\n    format: JWK\n"
    );
    let out = kubectl_apply(&vault_secret(&ns, "keys-only", &spec));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let spec = format!("{GOOD_VAULT}  keys:\n  - key: a\n    name: k1\n  - key: a\n    name: k2\n");
    assert_rejected(&ns, &spec, "every keys[].key must be unique");
    let spec =
        format!("{GOOD_VAULT}  data:\n  - key: a\n    name: s\n  keys:\n  - key: a\n    name: k\n");
    assert_rejected(&ns, &spec, "a keys[].key is also a data[].key");
    let spec = format!("{GOOD_VAULT}  keys:\n  - key: a\n    name: k\n    format: DER\n");
    assert_rejected(
        &ns,
        &spec,
        "spec.keys[0].format: Unsupported value: \"DER\"",
    );
}
