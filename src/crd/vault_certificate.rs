use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::duration::SpecDuration;

use super::{SyncStatus, TargetSecret, VaultSource};

/// Syncs one Key Vault certificate (key and chain) into a TLS Secret.
// Each printcolumn repeats `type_`; clippy reads that as a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "vaultsync.dev",
    version = "v1alpha1",
    kind = "VaultCertificate",
    namespaced,
    doc = "VaultCertificate syncs an Azure Key Vault certificate, with its private key and issuing chain, into a Kubernetes TLS Secret, reading the vault as the workload identity of a ServiceAccount in the same namespace.",
    status = "Box<VaultCertificateStatus>",
    shortname = "vcert",
    category = "vaultsync",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(name = "Secret", type_ = "string", json_path = ".status.secretName"),
    printcolumn(
        name = "Not After",
        type_ = "string",
        json_path = ".status.certificate.notAfter"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = Rule::new("!has(self.output) || !has(self.output.trustBundle) || !has(self.target) || !has(self.target.type) || self.target.type == 'Opaque'").message("output.trustBundle writes no private key, so target.type must be Opaque (the default for a trust bundle), not a type that needs tls.key"))]
#[x_kube(validation = Rule::new("!has(self.output) || !has(self.output.trustBundle) || !has(self.output.trustBundle.writeTo) || self.output.trustBundle.writeTo != 'ConfigMap' || !has(self.target) || !has(self.target.type)").message("output.trustBundle.writeTo: ConfigMap writes a ConfigMap, which has no type: remove target.type"))]
#[serde(rename_all = "camelCase")]
pub struct VaultCertificateSpec {
    /// The vault to read and the ServiceAccount whose identity reads it.
    pub vault: VaultSource,
    /// The Key Vault certificate to sync.
    pub certificate: CertificateRef,
    /// The Secret to write; its type defaults to `kubernetes.io/tls`.
    #[serde(default)]
    pub target: TargetSecret,
    /// What the Secret contains besides `tls.crt` and `tls.key`.
    #[serde(default)]
    pub output: CertificateOutput,
    /// How often to check the vault for a new certificate version (Key Vault auto-renewal), as a
    /// Go-style duration between 30s and 168h. The check reads certificate metadata only; key and
    /// chain are read again only when the version changed.
    #[serde(default = "super::common::default_refresh_interval")]
    #[schemars(
        regex(pattern = r"^([0-9]+h)?([0-9]+m)?([0-9]+s)?$"),
        length(min = 2, max = 16)
    )]
    #[x_kube(validation = Rule::new("self != '' && duration(self) >= duration('30s') && duration(self) <= duration('168h')").message("refreshInterval must be a duration between 30s and 168h, for example 1h or 15m"))]
    pub refresh_interval: SpecDuration,
    /// How long before the certificate's notAfter the `ExpiringSoon` condition turns True (and a
    /// Warning Event is emitted), as a Go-style duration between 1m and 8760h. vaultsync also
    /// checks the vault at that moment and at notAfter, whatever the refresh interval.
    #[serde(default = "default_renew_before")]
    #[schemars(
        regex(pattern = r"^([0-9]+h)?([0-9]+m)?([0-9]+s)?$"),
        length(min = 2, max = 16)
    )]
    #[x_kube(validation = Rule::new("self != '' && duration(self) >= duration('1m') && duration(self) <= duration('8760h')").message("renewBefore must be a duration between 1m and 8760h, for example 720h (30 days)"))]
    pub renew_before: SpecDuration,
}

fn default_renew_before() -> SpecDuration {
    SpecDuration::new("720h")
}

/// A certificate in the vault.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateRef {
    /// Name of the certificate in the vault (1-127 letters, digits and '-', starting with a
    /// letter).
    #[schemars(regex(pattern = r"^[a-zA-Z][a-zA-Z0-9-]{0,126}$"))]
    pub name: String,
    /// Pin a certificate version (32 lowercase hex characters); omit to follow the latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9a-f]{32}$"))]
    pub version: Option<String>,
}

/// The shape of the TLS Secret.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[x_kube(validation = Rule::new("!has(self.trustBundle) || !has(self.pkcs12)").message("output.trustBundle writes no private key: remove output.pkcs12 (a keystore holds the key), or use output.trustBundle.truststore for a PKCS#12 of the CA certificates"))]
#[serde(rename_all = "camelCase")]
pub struct CertificateOutput {
    /// Encoding of `tls.key`: PKCS8 (default, any key), PKCS1 (RSA keys only) or SEC1 (EC keys
    /// only).
    #[serde(default)]
    pub key_format: PrivateKeyFormat,
    /// What `ca.crt` holds: Chain (default: the intermediates, then the root when the vault has
    /// it) or Root (only the self-signed root).
    #[serde(default)]
    pub ca: CaOutput,
    /// Also write a PKCS#12 keystore (key, leaf and chain) protected by a password read from
    /// another Secret in this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkcs12: Option<Pkcs12Output>,
    /// Write only the CA certificates of the chain, for clients that must trust a private CA:
    /// `ca.crt` holds the certificate itself when it is a CA (or self-signed), then its issuers
    /// up to the root when the vault has it (only the root with `ca: Root`). No `tls.crt`, no
    /// `tls.key`; the Secret's type defaults to Opaque.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_bundle: Option<TrustBundleOutput>,
}

/// The trust-bundle output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrustBundleOutput {
    /// The object the bundle is written to: a Secret (default) or a ConfigMap, for consumers
    /// that read CA bundles from ConfigMaps (CA certificates are public). `target.name`,
    /// labels, annotations, creationPolicy and deletionPolicy apply to either.
    #[serde(default, skip_serializing_if = "TargetObject::is_secret")]
    pub write_to: TargetObject,
    /// Also write a PKCS#12 truststore of the same certificates (trusted-certificate entries
    /// `ca-1`, `ca-2`, …, which Java reads as the `PKCS12` keystore type) protected by a
    /// password read from another Secret in this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truststore: Option<TruststoreOutput>,
}

/// The kind of object vaultsync writes.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum TargetObject {
    /// A Secret.
    #[default]
    Secret,
    /// A ConfigMap (trust bundles only: it holds no secret). Text keys go to `data`, the
    /// truststore to `binaryData`.
    ConfigMap,
}

impl TargetObject {
    /// Whether this is the default, a Secret.
    pub fn is_secret(&self) -> bool {
        *self == TargetObject::Secret
    }

    /// The kind's name, as messages say it.
    pub fn kind(self) -> &'static str {
        match self {
            TargetObject::Secret => "Secret",
            TargetObject::ConfigMap => "ConfigMap",
        }
    }
}

/// A PKCS#12 truststore output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TruststoreOutput {
    /// Secret key that receives the truststore.
    #[serde(default = "default_truststore_key")]
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    #[x_kube(validation = Rule::new("!(self in ['ca.crt', '.', '..'])").message("trustBundle.truststore.key must not be ca.crt, '.' or '..'"))]
    pub key: String,
    /// The Secret in this namespace, and the key in it, holding the truststore password. A
    /// change of that Secret is picked up at the next refresh.
    pub password_secret_ref: SecretKeyRef,
}

fn default_truststore_key() -> String {
    "truststore.p12".to_string()
}

/// Encoding of the private key in `tls.key`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum PrivateKeyFormat {
    /// `-----BEGIN PRIVATE KEY-----`, for RSA and EC keys.
    #[default]
    PKCS8,
    /// `-----BEGIN RSA PRIVATE KEY-----`, RSA keys only.
    PKCS1,
    /// `-----BEGIN EC PRIVATE KEY-----`, EC keys only.
    SEC1,
}

/// Content of `ca.crt`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum CaOutput {
    /// The issuing chain: intermediates issuer-first, then the root when present.
    #[default]
    Chain,
    /// Only the self-signed root (no `ca.crt`, and a ChainIncomplete condition, without one).
    Root,
}

/// A PKCS#12 keystore output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pkcs12Output {
    /// Secret key that receives the keystore.
    #[serde(default = "default_keystore_key")]
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    #[x_kube(validation = Rule::new("!(self in ['tls.crt', 'tls.key', 'ca.crt', '.', '..'])").message("pkcs12.key must not be tls.crt, tls.key, ca.crt, '.' or '..'"))]
    pub key: String,
    /// The Secret in this namespace, and the key in it, holding the keystore password. A change
    /// of that Secret is picked up at the next refresh.
    pub password_secret_ref: SecretKeyRef,
}

fn default_keystore_key() -> String {
    "keystore.p12".to_string()
}

/// A key of a Secret in the resource's namespace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Secret name.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    )]
    pub name: String,
    /// Key within the Secret.
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub key: String,
}

/// Observed state of a VaultCertificate: the shared sync status plus facts about the certificate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultCertificateStatus {
    /// Conditions (`Ready`, `ExpiringSoon`, `ChainValid`), versions and sync times.
    #[serde(flatten)]
    pub sync: SyncStatus,
    /// The certificate now in the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateStatus>,
}

/// Facts about the leaf certificate in the Secret. Public data only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateStatus {
    /// Subject distinguished name.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// DNS names from the subjectAltName extension.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_names: Vec<String>,
    /// Serial number, upper-case hex.
    pub serial_number: String,
    /// SHA-1 thumbprint, upper-case hex (Key Vault's `x5t`).
    pub sha1_thumbprint: String,
    /// SHA-256 thumbprint, upper-case hex.
    pub sha256_thumbprint: String,
    /// Start of validity (RFC 3339).
    pub not_before: String,
    /// End of validity (RFC 3339).
    pub not_after: String,
    /// Key algorithm and size, for example `RSA-2048` or `EC-P256`.
    pub key_algorithm: String,
    /// The vault certificate version in the Secret.
    pub version: String,
}

impl super::Synced for VaultCertificate {
    const KIND: &'static str = "VaultCertificate";
    type Status = VaultCertificateStatus;

    fn vault(&self) -> &VaultSource {
        &self.spec.vault
    }

    fn target(&self) -> &TargetSecret {
        &self.spec.target
    }

    fn refresh_interval(&self) -> &SpecDuration {
        &self.spec.refresh_interval
    }

    fn status(&self) -> Option<&VaultCertificateStatus> {
        self.status.as_deref()
    }

    fn take_status(&mut self) -> Option<VaultCertificateStatus> {
        self.status.take().map(|status| *status)
    }

    fn sync_part(status: &VaultCertificateStatus) -> &SyncStatus {
        &status.sync
    }

    fn sync_part_mut(status: &mut VaultCertificateStatus) -> &mut SyncStatus {
        &mut status.sync
    }

    fn target_object(&self) -> TargetObject {
        self.spec
            .output
            .trust_bundle
            .as_ref()
            .map(|bundle| bundle.write_to)
            .unwrap_or_default()
    }
}
