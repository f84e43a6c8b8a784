//! Malformed and hostile resources, applied with kubectl while the replicas run: each is refused
//! at admission with a message naming the field, or accepted and then reported by the operator
//! with a precise Ready reason. `tests/admission.rs` covers single rules in depth; this table
//! covers breadth, on a live operator, and checks that none of it crashes or restarts it.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};
use std::sync::Mutex;

use vaultsync_emulator::{CertificateImport, SecretOptions};

use crate::leaks::VALUE_PREFIX;
use crate::ledger::Ledger;

use crate::support::eventually::eventually;
use crate::support::kubectl_apply;
use crate::support::world::{TestNamespace, service_account, world_control};

/// What must happen to a bad resource.
#[derive(Clone, Copy)]
pub enum Expect {
    /// kubectl apply fails and its message contains this.
    Refused(&'static str),
    /// It is accepted and its Ready condition turns False with this reason.
    Reason(&'static str),
}

/// One row: the field, the bad value (as shown in the table), the resource and the outcome.
pub struct Row {
    pub kind: &'static str,
    pub field: &'static str,
    pub value: String,
    /// The YAML under `spec:`.
    pub spec: String,
    pub expect: Expect,
}

/// The outcome of one row, for the summary: (field, value, expected, what happened, passed).
pub type Outcome = (String, String, String, String, bool);

fn row(kind: &'static str, field: &'static str, value: &str, spec: String, expect: Expect) -> Row {
    Row {
        kind,
        field,
        value: value.to_owned(),
        spec,
        expect,
    }
}

/// What the rows read: good defaults to change one thing in.
struct Parts {
    vault: String,
    data: &'static str,
    cert: &'static str,
}

impl Parts {
    fn vault_as(&self, sa: &str) -> String {
        format!(
            "  vault:\n    url: {}\n    serviceAccountName: {sa}\n",
            self.vault
        )
    }

    fn vault_at(url: &str) -> String {
        format!("  vault:\n    url: {url}\n    serviceAccountName: app\n")
    }

    fn good(&self) -> String {
        format!("{}{}", self.vault_as("app"), self.data)
    }

    /// A VaultSecret spec with `extra` appended to the good one.
    fn with(&self, extra: &str) -> String {
        format!("{}{extra}", self.good())
    }

    fn one_item(&self, item: &str) -> String {
        format!("{}  data:\n{item}", self.vault_as("app"))
    }

    fn cert_with(&self, extra: &str) -> String {
        format!("{}{}{extra}", self.vault_as("app"), self.cert)
    }
}

use Expect::{Reason, Refused};

/// Every row; the runtime rows rely on what [`prepare`] puts in the vault and namespace.
pub fn rows(t: &TestNamespace, norole_url: &str) -> Vec<Row> {
    let p = Parts {
        vault: t.vault_url.clone(),
        data: "  data:\n  - key: user\n    name: u0\n",
        cert: "  certificate:\n    name: c0\n",
    };
    let long = |n: usize| "a".repeat(n);
    let many_items: String = (0..257)
        .map(|i| format!("  - key: k{i}\n    name: u0\n"))
        .collect();
    let many_selectors: String = (0..17).map(|i| format!("  - namePrefix: x{i}\n")).collect();
    let big_items: String = (0..48)
        .map(|i| format!("  - key: big{i}\n    name: big{i}\n"))
        .collect();
    let vs = "VaultSecret";
    let vc = "VaultCertificate";
    let https = "vault.url must be an https URL";
    let query = "vault.url must not carry a query or fragment";
    let interval = "refreshInterval must be a duration between 30s and 168h";
    let renew = "renewBefore must be a duration between 1m and 8760h";
    let forbidden_type = "target.type must not be a type that grants API access";
    vec![
        // Admission: the vault reference.
        row(vs, "vault.url", "http://…", format!("{}{}", Parts::vault_at("http://v1.vault.azure.net/"), p.data), Refused(https)),
        row(vs, "vault.url", "https://", format!("{}{}", Parts::vault_at("https://"), p.data), Refused(https)),
        row(vs, "vault.url", "ftp://…", format!("{}{}", Parts::vault_at("ftp://v1.vault.azure.net/"), p.data), Refused(https)),
        row(vs, "vault.url", "…?x=1", format!("{}{}", Parts::vault_at("https://v1.vault.azure.net/?x=1"), p.data), Refused(query)),
        row(vs, "vault.url", "…#frag", format!("{}{}", Parts::vault_at("https://v1.vault.azure.net/#frag"), p.data), Refused(query)),
        row(vs, "vault.url", "300 characters", format!("{}{}", Parts::vault_at(&format!("https://{}.vault.azure.net/", long(280))), p.data), Refused("spec.vault.url: Too long")),
        row(vs, "vault", "(missing)", p.data.to_owned(), Refused("spec.vault: Required value")),
        row(vs, "vault.serviceAccountName", "(missing)", format!("  vault:\n    url: {}\n{}", p.vault, p.data), Refused("spec.vault.serviceAccountName: Required value")),
        row(vs, "vault.serviceAccountName", "Bad_SA", format!("{}{}", p.vault_as("Bad_SA"), p.data), Refused("spec.vault.serviceAccountName: Invalid value")),
        row(vs, "vault.serviceAccountName", "''", format!("{}{}", p.vault_as("''"), p.data), Refused("spec.vault.serviceAccountName: Invalid value")),
        row(vs, "vault.url", "(a number)", format!("  vault:\n    url: 42\n    serviceAccountName: app\n{}", p.data), Refused("spec.vault.url: Invalid value")),
        // Admission: explicit items.
        row(vs, "data, dataFrom", "(both empty)", p.vault_as("app"), Refused("give at least one entry in data")),
        row(vs, "data[0].name", "1_bad", p.one_item("  - key: k\n    name: 1_bad\n"), Refused("spec.data[0].name: Invalid value")),
        row(vs, "data[0].name", "a_b", p.one_item("  - key: k\n    name: a_b\n"), Refused("spec.data[0].name: Invalid value")),
        row(vs, "data[0].name", "128 characters", p.one_item(&format!("  - key: k\n    name: {}\n", long(128))), Refused("spec.data[0].name: Invalid value")),
        row(vs, "data[0].name", "(missing)", p.one_item("  - key: k\n"), Refused("spec.data[0].name: Required value")),
        row(vs, "data[0].key", "(missing)", p.one_item("  - name: u0\n"), Refused("spec.data[0].key: Required value")),
        row(vs, "data[0].key", "''", p.one_item("  - key: ''\n    name: u0\n"), Refused("spec.data[0].key: Invalid value")),
        row(vs, "data[0].key", "a/b", p.one_item("  - key: a/b\n    name: u0\n"), Refused("spec.data[0].key: Invalid value")),
        row(vs, "data[0].key", ".", p.one_item("  - key: .\n    name: u0\n"), Refused("a Secret key cannot be '.' or '..'")),
        row(vs, "data[0].key", "..", p.one_item("  - key: ..\n    name: u0\n"), Refused("a Secret key cannot be '.' or '..'")),
        row(vs, "data[0].key", "254 characters", p.one_item(&format!("  - key: {}\n    name: u0\n", long(254))), Refused("spec.data[0].key: Too long")),
        row(vs, "data[0].version", "latest", p.one_item("  - key: k\n    name: u0\n    version: latest\n"), Refused("spec.data[0].version: Invalid value")),
        row(vs, "data[0].version", "32 upper-case hex", p.one_item(&format!("  - key: k\n    name: u0\n    version: {}\n", "A".repeat(32))), Refused("spec.data[0].version: Invalid value")),
        row(vs, "data[0].version", "31 hex", p.one_item(&format!("  - key: k\n    name: u0\n    version: {}\n", "a".repeat(31))), Refused("spec.data[0].version: Invalid value")),
        row(vs, "data[].key", "user twice", p.one_item("  - key: user\n    name: u0\n  - key: user\n    name: p0\n"), Refused("data has duplicate keys")),
        row(vs, "data", "257 items", p.one_item(&many_items), Refused("spec.data: Too many")),
        row(vs, "data", "a string", format!("{}  data: abc\n", p.vault_as("app")), Refused("spec.data: Invalid value")),
        row(vs, "data[0]", "a string", format!("{}  data:\n  - abc\n", p.vault_as("app")), Refused("spec.data[0]: Invalid value")),
        // Admission: bulk selectors.
        row(vs, "dataFrom[0]", "namePrefix and namePattern", format!("{}  dataFrom:\n  - namePrefix: u\n    namePattern: 'u*'\n", p.vault_as("app")), Refused("give either namePrefix or namePattern")),
        row(vs, "dataFrom[0]", "{}", format!("{}  dataFrom:\n  - {{}}\n", p.vault_as("app")), Refused("a dataFrom entry needs namePrefix, namePattern or tags")),
        row(vs, "dataFrom[0].namePattern", "a/b", format!("{}  dataFrom:\n  - namePattern: a/b\n", p.vault_as("app")), Refused("spec.dataFrom[0].namePattern: Invalid value")),
        row(vs, "dataFrom[0].namePrefix", "9x", format!("{}  dataFrom:\n  - namePrefix: 9x\n", p.vault_as("app")), Refused("spec.dataFrom[0].namePrefix: Invalid value")),
        row(vs, "dataFrom[0].keys.addPrefix", "a b", format!("{}  dataFrom:\n  - namePrefix: u\n    keys:\n      addPrefix: a b\n", p.vault_as("app")), Refused("spec.dataFrom[0].keys.addPrefix: Invalid value")),
        row(vs, "dataFrom[0].keys.lowercase", "yes please", format!("{}  dataFrom:\n  - namePrefix: u\n    keys:\n      lowercase: yes please\n", p.vault_as("app")), Refused("spec.dataFrom[0].keys.lowercase: Invalid value")),
        row(vs, "dataFrom", "17 selectors", format!("{}  dataFrom:\n{many_selectors}", p.vault_as("app")), Refused("spec.dataFrom: Too many")),
        // Admission: schedule, removal policy and target.
        row(vs, "refreshInterval", "10s", p.with("  refreshInterval: 10s\n"), Refused(interval)),
        row(vs, "refreshInterval", "169h", p.with("  refreshInterval: 169h\n"), Refused(interval)),
        row(vs, "refreshInterval", "1d", p.with("  refreshInterval: 1d\n"), Refused("spec.refreshInterval: Invalid value")),
        row(vs, "refreshInterval", "-5m", p.with("  refreshInterval: -5m\n"), Refused("spec.refreshInterval: Invalid value")),
        row(vs, "refreshInterval", "0s", p.with("  refreshInterval: 0s\n"), Refused(interval)),
        row(vs, "onVaultRemoval", "Delete", p.with("  onVaultRemoval: Delete\n"), Refused("spec.onVaultRemoval: Unsupported value")),
        row(vs, "target.creationPolicy", "Merge", p.with("  target:\n    creationPolicy: Merge\n"), Refused("spec.target.creationPolicy: Unsupported value")),
        row(vs, "target.deletionPolicy", "Orphan", p.with("  target:\n    deletionPolicy: Orphan\n"), Refused("spec.target.deletionPolicy: Unsupported value")),
        row(vs, "target.name", "Bad_Name", p.with("  target:\n    name: Bad_Name\n"), Refused("spec.target.name: Invalid value")),
        row(vs, "target.type", "kubernetes.io/service-account-token", p.with("  target:\n    type: kubernetes.io/service-account-token\n"), Refused(forbidden_type)),
        row(vs, "target.type", "bootstrap.kubernetes.io/token", p.with("  target:\n    type: bootstrap.kubernetes.io/token\n"), Refused(forbidden_type)),
        row(vs, "target.type", "helm.sh/release.v1", p.with("  target:\n    type: helm.sh/release.v1\n"), Refused(forbidden_type)),
        row(vs, "target.labels", "vaultsync.dev/managed", p.with("  target:\n    labels:\n      vaultsync.dev/managed: 'no'\n"), Refused("target.labels must not use the reserved prefix")),
        row(vs, "target.annotations", "vaultsync.dev/content-hash", p.with("  target:\n    annotations:\n      vaultsync.dev/content-hash: x\n"), Refused("target.annotations must not use the reserved prefix")),
        row(vs, "spec", "(missing)", String::new(), Refused("spec: Required value")),
        row(vs, "vault.urll", "(unknown field)", format!("  vault:\n    urll: x\n    url: {}\n    serviceAccountName: app\n{}", p.vault, p.data), Refused("unknown field \"spec.vault.urll\"")),
        // Admission: certificates.
        row(vc, "certificate", "(missing)", p.vault_as("app"), Refused("spec.certificate: Required value")),
        row(vc, "certificate.name", "1bad", p.cert_with("").replace("name: c0", "name: 1bad"), Refused("spec.certificate.name: Invalid value")),
        row(vc, "certificate.version", "abc", p.cert_with("    version: abc\n"), Refused("spec.certificate.version: Invalid value")),
        row(vc, "output.ca", "Intermediates", p.cert_with("  output:\n    ca: Intermediates\n"), Refused("spec.output.ca: Unsupported value")),
        row(vc, "output.keyFormat", "PKCS7", p.cert_with("  output:\n    keyFormat: PKCS7\n"), Refused("spec.output.keyFormat: Unsupported value")),
        row(vc, "output.pkcs12.key", "tls.key", p.cert_with("  output:\n    pkcs12:\n      key: tls.key\n      passwordSecretRef:\n        name: pw\n        key: pw\n"), Refused("pkcs12.key must not be tls.crt, tls.key, ca.crt")),
        row(vc, "output.pkcs12.passwordSecretRef", "(missing)", p.cert_with("  output:\n    pkcs12:\n      key: ks.p12\n"), Refused("spec.output.pkcs12.passwordSecretRef: Required value")),
        row(vc, "output.pkcs12.passwordSecretRef.name", "Bad", p.cert_with("  output:\n    pkcs12:\n      passwordSecretRef:\n        name: Bad\n        key: pw\n"), Refused("spec.output.pkcs12.passwordSecretRef.name: Invalid value")),
        row(vc, "renewBefore", "30s", p.cert_with("  renewBefore: 30s\n"), Refused(renew)),
        row(vc, "renewBefore", "9000h", p.cert_with("  renewBefore: 9000h\n"), Refused(renew)),
        row(vc, "refreshInterval", "5s", p.cert_with("  refreshInterval: 5s\n"), Refused(interval)),
        row(vc, "target.type", "kubernetes.io/service-account-token", p.cert_with("  target:\n    type: kubernetes.io/service-account-token\n"), Refused(forbidden_type)),
        row(vc, "vault.url", "http://…", format!("{}{}", Parts::vault_at("http://v1.vault.azure.net/"), p.cert), Refused(https)),
        // Runtime: identity.
        row(vs, "vault.serviceAccountName", "ghost (absent)", format!("{}{}", p.vault_as("ghost"), p.data), Reason("ServiceAccountNotFound")),
        row(vs, "vault.serviceAccountName", "plain (no client-id)", format!("{}{}", p.vault_as("plain"), p.data), Reason("IdentityAnnotationMissing")),
        row(vs, "vault.serviceAccountName", "stranger (unknown client-id)", format!("{}{}", p.vault_as("stranger"), p.data), Reason("TokenExchangeFailed")),
        row(vc, "vault.serviceAccountName", "ghost (absent)", format!("{}{}", p.vault_as("ghost"), p.cert), Reason("ServiceAccountNotFound")),
        // Runtime: the vault.
        row(vs, "vault.url", "https://evil.localhost:1/", format!("{}{}", Parts::vault_at("https://evil.localhost:1/"), p.data), Reason("VaultHostNotAllowed")),
        row(vs, "vault.url", "https://vault.localhost.evil.localhost:1/", format!("{}{}", Parts::vault_at("https://vault.localhost.evil.localhost:1/"), p.data), Reason("VaultHostNotAllowed")),
        row(vs, "vault.url", "a vault without a role", format!("{}{}", Parts::vault_at(norole_url), p.data), Reason("Forbidden")),
        row(vs, "data[0].name", "absent-secret", p.one_item("  - key: k\n    name: absent-secret\n"), Reason("SecretNotFound")),
        row(vs, "data[0].name", "switched-off (disabled)", p.one_item("  - key: k\n    name: switched-off\n"), Reason("SecretDisabled")),
        row(vs, "data[0].version", "32 zeros (no such version)", p.one_item(&format!("  - key: k\n    name: u0\n    version: '{}'\n", "0".repeat(32))), Reason("SecretNotFound")),
        row(vs, "data", "48 × 24 KB", p.one_item(&big_items), Reason("SecretTooLarge")),
        row(vs, "dataFrom[0].keys.stripPrefix", "strip (strips to '')", format!("{}  dataFrom:\n  - namePrefix: strip\n    keys:\n      stripPrefix: true\n", p.vault_as("app")), Reason("InvalidSpec")),
        // Runtime: the target Secret.
        row(vs, "target.name", "foreign (unmanaged Secret)", p.with("  target:\n    name: foreign\n"), Reason("OwnershipConflict")),
        row(vs, "target.creationPolicy", "Adopt without consent", p.with("  target:\n    name: foreign\n    creationPolicy: Adopt\n"), Reason("OwnershipConflict")),
        row(vs, "target.name", "vs0 (another resource's Secret)", p.with("  target:\n    name: vs0\n"), Reason("OwnershipConflict")),
        row(vs, "target.type", "kubernetes.io/tls (keys user)", p.with("  target:\n    type: kubernetes.io/tls\n"), Refused("target.type needs keys the spec does not write")),
        row(vs, "target.type", "kubernetes.io/dockerconfigjson", p.with("  target:\n    type: kubernetes.io/dockerconfigjson\n"), Refused("target.type needs keys the spec does not write")),
        // Runtime: certificates.
        row(vc, "certificate.name", "absent-cert", p.cert_with("").replace("name: c0", "name: absent-cert"), Reason("CertificateNotFound")),
        row(vc, "certificate.name", "locked (key not exportable)", p.cert_with("").replace("name: c0", "name: locked"), Reason("PrivateKeyMissing")),
        row(vc, "certificate.name", "mangled (backing secret not PEM)", p.cert_with("").replace("name: c0", "name: mangled"), Reason("PemInvalid")),
        row(vc, "output.pkcs12.passwordSecretRef", "a Secret that does not exist", p.cert_with("  output:\n    pkcs12:\n      passwordSecretRef:\n        name: no-such-secret\n        key: pw\n"), Reason("KeystorePasswordUnavailable")),
        row(vc, "certificate.version", "32 zeros (no such version)", p.cert_with(&format!("    version: '{}'\n", "0".repeat(32))), Reason("CertificateNotFound")),
    ]
}

/// Puts in place what the runtime rows need: ServiceAccounts, vault objects, a vault without a
/// role, a foreign Secret. Returns the role-less vault's URL.
pub async fn prepare(t: &TestNamespace, ledger: &Mutex<Ledger>) -> String {
    let control = world_control();
    // Values served to the operator are secrets too: the leak scan looks for them.
    let value = || {
        let value = format!("{}{:032x}", VALUE_PREFIX, rand::random::<u128>());
        ledger.lock().unwrap().remember_secret(value.clone());
        value
    };
    service_account(&t.client, &t.ns, "plain", None).await;
    service_account(
        &t.client,
        &t.ns,
        "stranger",
        Some("11111111-2222-4333-8444-555555555555"),
    )
    .await;
    let disabled = SecretOptions {
        enabled: false,
        ..Default::default()
    };
    control
        .set_secret(&t.vault, "switched-off", &value(), disabled)
        .unwrap();
    let enabled = || SecretOptions {
        enabled: true,
        ..Default::default()
    };
    for i in 0..48 {
        control
            .set_secret(&t.vault, &format!("big{i}"), &"b".repeat(24_000), enabled())
            .unwrap();
    }
    control
        .set_secret(&t.vault, "strip", &value(), enabled())
        .unwrap();
    for (name, exportable) in [("locked", false), ("mangled", true)] {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![format!("{name}.chaos.test")])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        control
            .import_certificate(
                &t.vault,
                name,
                CertificateImport {
                    pem: Some(format!("{}{}", key.serialize_pem(), cert.pem())),
                    exportable,
                    ..Default::default()
                },
            )
            .unwrap();
    }
    control
        .overwrite_certificate_secret(
            &t.vault,
            "mangled",
            "-----BEGIN CERTIFICATE-----\nnot base64!\n",
        )
        .unwrap();
    let norole = format!("{}norole", t.vault);
    control.create_vault(&norole, crate::support::world::ENTRA_TENANT_ID);
    // No role for the namespace's identity there: every request is a 403.
    let foreign = Secret {
        metadata: ObjectMeta {
            name: Some("foreign".into()),
            ..Default::default()
        },
        string_data: Some(BTreeMap::from([("mine".to_string(), "keep".to_string())])),
        ..Default::default()
    };
    Api::<Secret>::namespaced(t.client.clone(), &t.ns)
        .create(&PostParams::default(), &foreign)
        .await
        .unwrap();
    world_control_url(&norole)
}

fn world_control_url(vault: &str) -> String {
    crate::support::world::backdrop().emulator.vault_url(vault)
}

/// Applies every row as `bad{n}` and checks its outcome; runtime rows are awaited together.
pub async fn run(t: &TestNamespace, rows: &[Row]) -> Vec<Outcome> {
    let mut outcomes: Vec<Option<Outcome>> = vec![None; rows.len()];
    for (n, row) in rows.iter().enumerate() {
        let manifest = format!(
            "apiVersion: vaultsync.dev/v1alpha1\nkind: {}\nmetadata:\n  name: bad{n}\n  namespace: {}\nspec:\n{}",
            row.kind, t.ns, row.spec
        );
        let manifest = if row.spec.is_empty() {
            manifest.replace("spec:\n", "")
        } else {
            manifest
        };
        let out = kubectl_apply(&manifest);
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        let outcome = match (row.expect, out.status.success()) {
            (Refused(expected), false) => {
                let line = stderr.lines().find(|l| l.contains(expected));
                Some((line.is_some(), line.unwrap_or(&stderr).to_owned()))
            }
            (Refused(_), true) => Some((false, "accepted".to_owned())),
            (Reason(_), false) => Some((false, format!("refused: {stderr}"))),
            (Reason(_), true) => None,
        };
        if let Some((passed, seen)) = outcome {
            outcomes[n] = Some(summary(row, seen, passed));
        }
    }
    let pending: Vec<usize> = (0..rows.len()).filter(|n| outcomes[*n].is_none()).collect();
    let reasons = eventually(
        "every accepted bad resource reporting its reason",
        Duration::from_secs(90),
        || async {
            let all = ready_reasons(t);
            let mut seen = vec![];
            for n in &pending {
                let reason = all
                    .get(&(rows[*n].kind.to_owned(), format!("bad{n}")))
                    .cloned();
                let Reason(expected) = rows[*n].expect else {
                    unreachable!()
                };
                if reason.as_deref() != Some(expected) {
                    return Err(format!(
                        "bad{n} ({}): {reason:?}, expected {expected}",
                        rows[*n].field
                    ));
                }
                seen.push(reason.unwrap_or_default());
            }
            Ok(seen)
        },
    )
    .await;
    for (n, reason) in pending.iter().zip(reasons) {
        outcomes[*n] = Some(summary(&rows[*n], reason, true));
    }
    outcomes.into_iter().map(Option::unwrap).collect()
}

fn summary(row: &Row, seen: String, passed: bool) -> Outcome {
    let expected = match row.expect {
        Refused(message) => format!("refused: {message}"),
        Reason(reason) => format!("reason {reason}"),
    };
    (
        format!("{} {}", row.kind, row.field),
        row.value.clone(),
        expected,
        seen,
        passed,
    )
}

/// The Ready reason of every resource in the namespace, by (kind, name).
fn ready_reasons(t: &TestNamespace) -> BTreeMap<(String, String), String> {
    let out = crate::support::kubectl(
        &[
            "get",
            "vaultsecrets,vaultcertificates",
            "-n",
            &t.ns,
            "-o",
            "json",
        ],
        "",
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let mut reasons = BTreeMap::new();
    for item in list["items"].as_array().into_iter().flatten() {
        let ready = item["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "Ready");
        if let (Some(kind), Some(name), Some(reason)) = (
            item["kind"].as_str(),
            item["metadata"]["name"].as_str(),
            ready.and_then(|c| c["reason"].as_str()),
        ) {
            reasons.insert((kind.to_owned(), name.to_owned()), reason.to_owned());
        }
    }
    reasons
}
