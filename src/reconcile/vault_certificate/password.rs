//! The password of the keystore or truststore a VaultCertificate writes, read from the Secret
//! its spec names.

use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use super::super::{Context, SyncError};
use crate::crd::VaultCertificate;

/// The keystore password and the version of the Secret holding it.
pub(super) struct Password {
    pub(super) value: String,
    pub(super) version: String,
}

/// The keystore password named by `output.pkcs12`, or the truststore password named by
/// `output.trustBundle.truststore`, if any.
pub(super) async fn keystore_password(
    ctx: &Context,
    resource: &VaultCertificate,
) -> Result<Option<Password>, SyncError> {
    let output = &resource.spec.output;
    let named = match (&output.pkcs12, &output.trust_bundle) {
        (Some(pkcs12), _) => Some((&pkcs12.password_secret_ref, "output.pkcs12")),
        (None, Some(trust)) => trust
            .truststore
            .as_ref()
            .map(|t| (&t.password_secret_ref, "output.trustBundle.truststore")),
        (None, None) => None,
    };
    let Some((reference, field)) = named else {
        return Ok(None);
    };
    let namespace = resource.metadata.namespace.clone().unwrap_or_default();
    let secret = Api::<Secret>::namespaced(ctx.client.clone(), &namespace)
        .get_opt(&reference.name)
        .await
        .map_err(|source| SyncError::ReadKeystorePassword {
            name: reference.name.clone(),
            source,
        })?
        .ok_or_else(|| {
            SyncError::KeystorePassword(format!(
                "Secret {namespace}/{} named in {field}.passwordSecretRef does not exist",
                reference.name
            ))
        })?;
    let value = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&reference.key))
        .ok_or_else(|| {
            SyncError::KeystorePassword(format!(
                "Secret {namespace}/{} has no key {}",
                reference.name, reference.key
            ))
        })?;
    let value = String::from_utf8(value.0.clone()).map_err(|_| {
        SyncError::KeystorePassword(format!(
            "key {} of Secret {namespace}/{} is not UTF-8 text",
            reference.key, reference.name
        ))
    })?;
    let version = format!(
        "{}/{}",
        secret.metadata.uid.unwrap_or_default(),
        secret.metadata.resource_version.unwrap_or_default()
    );
    Ok(Some(Password { value, version }))
}
