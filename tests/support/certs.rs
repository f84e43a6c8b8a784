//! VaultCertificate helpers on a test [`TestNamespace`]: import into its vault, apply, wait, read back.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use vaultsync::crd::{Condition, VaultCertificate};
use vaultsync_emulator::CertificateImport;

use super::pki::{Chain, pem_bundle};
use super::world::{TestNamespace, ready_reason, world_control};

impl TestNamespace {
    /// Imports `chain` (key, leaf, intermediate, root) as certificate `name`, syncs a
    /// VaultCertificate of that name into Secret `name` and returns the Secret's data.
    pub async fn synced_certificate(&self, name: &str, chain: &Chain) -> BTreeMap<String, Vec<u8>> {
        let certs = [&chain.leaf, &chain.inter, &chain.root];
        self.import_pem(name, &pem_bundle(Some(&chain.key_pem), &certs), true);
        self.apply_certificate(name, &format!("  certificate:\n    name: {name}\n"));
        self.wait_certificate_reason(name, "Synced", Duration::from_secs(60))
            .await;
        self.secret_bytes(name).await.expect("the synced Secret").1
    }

    /// Imports a PFX (empty password) into this tenant's vault, keeping the upload's chain order;
    /// returns the certificate version.
    pub fn import_pfx(&self, name: &str, pfx: Vec<u8>) -> String {
        world_control()
            .import_certificate(
                &self.vault,
                name,
                CertificateImport {
                    pfx_der: Some(pfx),
                    preserve_order: true,
                    ..Default::default()
                },
            )
            .unwrap()
    }

    /// Imports PEM text (backing secret `application/x-pem-file`), keeping the upload's order.
    pub fn import_pem(&self, name: &str, pem: &str, exportable: bool) -> String {
        world_control()
            .import_certificate(
                &self.vault,
                name,
                CertificateImport {
                    pem: Some(pem.to_string()),
                    exportable,
                    preserve_order: true,
                    ..Default::default()
                },
            )
            .unwrap()
    }

    /// Applies a VaultCertificate; `body` is the YAML under `spec:` after `vault:`.
    pub fn apply_certificate(&self, name: &str, body: &str) {
        self.apply_kind("VaultCertificate", name, body);
    }

    /// Waits until the VaultCertificate's Ready condition has `reason`.
    pub async fn wait_certificate_reason(
        &self,
        name: &str,
        reason: &str,
        timeout: Duration,
    ) -> VaultCertificate {
        self.wait_for(name, reason, timeout, |c: &VaultCertificate| {
            ready_reason(c) == Some(reason)
        })
        .await
    }

    /// The Secret's type and raw data.
    pub async fn secret_bytes(&self, name: &str) -> Option<(String, BTreeMap<String, Vec<u8>>)> {
        let secret = Api::<Secret>::namespaced(self.client.clone(), &self.ns)
            .get_opt(name)
            .await
            .unwrap()?;
        Some((
            secret.type_.unwrap_or_default(),
            secret
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.0))
                .collect(),
        ))
    }

    /// Reasons of the Events about `kind/name` in this namespace, with their types.
    pub fn event_reasons(&self, name: &str) -> Vec<(String, String)> {
        let out = super::kubectl(
            &[
                "get",
                "events",
                "-n",
                &self.ns,
                "--field-selector",
                &format!("involvedObject.name={name}"),
                "-o",
                "jsonpath={range .items[*]}{.type} {.reason}{\"\\n\"}{end}",
            ],
            "",
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(t, r)| (t.to_string(), r.to_string()))
            .collect()
    }
}

/// The condition of `type_`, if present.
pub fn condition<'a>(resource: &'a VaultCertificate, type_: &str) -> Option<&'a Condition> {
    resource
        .status
        .as_ref()?
        .sync
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
}
