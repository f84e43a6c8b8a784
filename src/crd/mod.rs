//! The custom resources vaultsync serves: `VaultSecret` and `VaultCertificate` (API group
//! `vaultsync.dev`, version `v1alpha1`) and the spec and status pieces they share.

mod common;
mod status;
mod vault_secret;

pub use common::{CreationPolicy, DeletionPolicy, TargetSecret, VaultSource};
pub use status::{Condition, ConditionStatus, SyncStatus, SyncedVersion};
pub use vault_secret::{BulkSelector, KeyNaming, SecretItem, VaultSecret, VaultSecretSpec};

/// API group of every vaultsync resource.
pub const GROUP: &str = "vaultsync.dev";
/// Annotation whose new value forces an immediate re-read of every vault object.
pub const FORCE_REFRESH_ANNOTATION: &str = "vaultsync.dev/force-refresh";

/// Every CRD as one multi-document YAML stream, exactly as committed under `crds/`.
pub fn render_crds() -> String {
    use kube::CustomResourceExt;
    let crds = [VaultSecret::crd()];
    crds.iter()
        .map(|crd| {
            format!(
                "---\n{}",
                serde_saphyr::to_string(crd).expect("a CRD always serialises")
            )
        })
        .collect()
}
