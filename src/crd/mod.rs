//! The custom resources vaultsync serves: `VaultSecret` and `VaultCertificate` (API group
//! `vaultsync.dev`, version `v1alpha1`) and the spec and status pieces they share.

mod common;
mod shape;
mod status;
mod vault_certificate;
mod vault_secret;

pub use common::{CreationPolicy, DeletionPolicy, TargetSecret, VaultSource};
pub use shape::{
    BASIC_AUTH_TYPE, BasicAuth, DOCKER_CONFIG_JSON_TYPE, Decoding, DockerConfigJson,
    MAX_FIELD_TEMPLATE_LEN, MAX_TEMPLATE_LEN, RegistryAuth, SSH_AUTH_TYPE, SecretTemplate, SshAuth,
    TEMPLATE_PATTERN, TemplateText,
};
pub use status::{Condition, ConditionStatus, SyncStatus, SyncedVersion};
pub use vault_certificate::{
    CaOutput, CertificateOutput, CertificateRef, CertificateStatus, Pkcs12Output, PrivateKeyFormat,
    SecretKeyRef, TargetObject, TrustBundleOutput, TruststoreOutput, VaultCertificate,
    VaultCertificateSpec, VaultCertificateStatus,
};
pub use vault_secret::{
    BulkSelector, KeyFormat, KeyItem, KeyNaming, SecretItem, VaultRemovalPolicy, VaultSecret,
    VaultSecretSpec,
};

/// API group of every vaultsync resource.
pub const GROUP: &str = "vaultsync.dev";
/// Annotation whose new value forces an immediate re-read of every vault object.
pub const FORCE_REFRESH_ANNOTATION: &str = "vaultsync.dev/force-refresh";

/// What both kinds share: a vault read as a ServiceAccount, a target Secret, a refresh interval
/// and the common sync status. The reconcile pipeline is written once against this.
pub trait Synced: kube::Resource<DynamicType = ()> {
    /// Kind name used in keys, owner annotations, Events and metrics.
    const KIND: &'static str;
    /// The whole status of this kind.
    type Status: Clone
        + Default
        + PartialEq
        + std::fmt::Debug
        + serde::Serialize
        + serde::de::DeserializeOwned
        + Send
        + Sync;
    /// The vault and the reading ServiceAccount.
    fn vault(&self) -> &VaultSource;
    /// The Secret to write.
    fn target(&self) -> &TargetSecret;
    /// The refresh interval of the spec.
    fn refresh_interval(&self) -> &crate::duration::SpecDuration;
    /// The status as stored on the object.
    fn status(&self) -> Option<&Self::Status>;
    /// The shared part of a status.
    fn sync_part(status: &Self::Status) -> &SyncStatus;
    /// The shared part of a status, to change it.
    fn sync_part_mut(status: &mut Self::Status) -> &mut SyncStatus;
    /// Removes the status from the object and returns it.
    fn take_status(&mut self) -> Option<Self::Status>;

    /// The shared part of the status as stored on the object.
    fn sync_status(&self) -> Option<&SyncStatus> {
        self.status().map(Self::sync_part)
    }

    /// The kind of object this resource writes.
    fn target_object(&self) -> TargetObject {
        TargetObject::Secret
    }

    /// Name of the Secret this resource writes (defaults to the resource's name).
    fn target_name(&self) -> String {
        self.target()
            .name
            .clone()
            .unwrap_or_else(|| self.meta().name.clone().unwrap_or_default())
    }
}

/// Every CRD as one multi-document YAML stream, exactly as committed under `crds/`.
pub fn render_crds() -> String {
    use kube::CustomResourceExt;
    let crds = [VaultSecret::crd(), VaultCertificate::crd()];
    crds.iter()
        .map(|crd| {
            format!(
                "---\n{}",
                serde_saphyr::to_string(crd).expect("a CRD always serialises")
            )
        })
        .collect()
}
