//! Apply step: server-side apply of the desired Secret with one field manager, and no request at
//! all when the Secret already matches.

use k8s_openapi::api::core::v1::Secret;
use kube::api::{PatchParams, PostParams};

use super::SyncError;
use super::target::TargetApi;
use crate::crd::TargetObject;
use crate::desired::OBSERVED_HASH_ANNOTATION;
use crate::desired::secret::DesiredSecret;

/// Field manager of every vaultsync write.
pub const FIELD_MANAGER: &str = "vaultsync";

/// Most data one Secret may hold: the API server refuses larger Secrets.
pub const MAX_SECRET_DATA_BYTES: usize = 1024 * 1024;

/// Bytes of the Secret's data as the API server counts them (keys and values).
fn data_size(desired: &DesiredSecret) -> usize {
    desired
        .data
        .iter()
        .map(|(key, value)| key.len() + value.expose().len())
        .sum()
}

/// What the apply step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Nothing to do: the Secret already matched.
    Unchanged,
    /// The Secret was created.
    Created,
    /// The Secret was updated.
    Updated,
}

/// Writes `desired` unless `existing` already matches it. Adoption replaces the whole Secret once,
/// so keys written by its previous owner do not linger beside vaultsync's.
pub async fn apply(
    client: &kube::Client,
    namespace: &str,
    desired: &DesiredSecret,
    existing: Option<&Secret>,
    adopt: bool,
) -> Result<Applied, SyncError> {
    if existing.is_some_and(|e| desired.is_satisfied_by(e)) {
        return Ok(Applied::Unchanged);
    }
    let size = data_size(desired);
    if size > MAX_SECRET_DATA_BYTES {
        return Err(SyncError::SecretTooLarge {
            name: desired.name.clone(),
            bytes: size,
        });
    }
    let secrets = TargetApi::new(client, namespace, desired.object);
    if let Some((replacement, action)) = replacement(namespace, desired, existing, adopt) {
        let action = action.action(desired.object);
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.to_string()),
            ..Default::default()
        };
        secrets
            .replace(&desired.name, &params, &replacement)
            .await
            .map_err(|source| SyncError::ApplySecret {
                name: desired.name.clone(),
                action,
                source,
            })?;
        return Ok(Applied::Updated);
    }
    if existing.is_none() {
        return create(&secrets, namespace, desired).await;
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    secrets
        .apply(&desired.name, &params, &desired.to_secret(namespace))
        .await
        .map_err(|source| SyncError::ApplySecret {
            name: desired.name.clone(),
            action: Write::Apply.action(desired.object),
            source,
        })?;
    Ok(Applied::Updated)
}

/// Which write the apply step makes, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Write {
    Create,
    Apply,
    Adopt,
    RemoveForeignKeys,
}

impl Write {
    /// The write as an action on `object`.
    fn action(self, object: TargetObject) -> &'static str {
        match (self, object) {
            (Write::Create, TargetObject::Secret) => "create Secret",
            (Write::Create, TargetObject::ConfigMap) => "create ConfigMap",
            (Write::Apply, TargetObject::Secret) => "apply Secret",
            (Write::Apply, TargetObject::ConfigMap) => "apply ConfigMap",
            (Write::Adopt, TargetObject::Secret) => "adopt Secret",
            (Write::Adopt, TargetObject::ConfigMap) => "adopt ConfigMap",
            (Write::RemoveForeignKeys, TargetObject::Secret) => "remove foreign keys from Secret",
            (Write::RemoveForeignKeys, TargetObject::ConfigMap) => {
                "remove foreign keys from ConfigMap"
            }
        }
    }
}

/// Creates the Secret: a create call, unlike an apply, fails when a Secret of that name appeared
/// since the guard looked, so one created concurrently is never taken over.
async fn create(
    secrets: &TargetApi,
    namespace: &str,
    desired: &DesiredSecret,
) -> Result<Applied, SyncError> {
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..Default::default()
    };
    match secrets.create(&params, &desired.to_secret(namespace)).await {
        Ok(()) => Ok(Applied::Created),
        Err(kube::Error::Api(status)) if status.code == 409 => Err(SyncError::TargetAppeared {
            kind: desired.object.kind(),
            name: desired.name.clone(),
        }),
        Err(source) => Err(SyncError::ApplySecret {
            name: desired.name.clone(),
            action: Write::Create.action(desired.object),
            source,
        }),
    }
}

/// The whole Secret to write (with the existing `resourceVersion`) when server-side apply cannot
/// reach the desired state, and the action for errors; `None` when a patch will do.
fn replacement(
    namespace: &str,
    desired: &DesiredSecret,
    existing: Option<&Secret>,
    adopt: bool,
) -> Option<(Secret, Write)> {
    let existing = existing?;
    let mut wanted = desired.to_secret(namespace);
    if adopt {
        wanted.metadata.resource_version = existing.metadata.resource_version.clone();
        return Some((wanted, Write::Adopt));
    }
    if !has_foreign_keys(existing, desired) {
        return None;
    }
    // Server-side apply never removes keys another manager added (kubectl edit, say): the Secret
    // would never match. Write the exact data once, keeping others' metadata.
    let mut replacement = existing.clone();
    replacement.data = wanted.data;
    replacement.string_data = None;
    let meta = &mut replacement.metadata;
    meta.labels
        .get_or_insert_with(Default::default)
        .extend(desired.labels.clone());
    meta.annotations
        .get_or_insert_with(Default::default)
        .extend(desired.annotations.clone());
    meta.owner_references = wanted.metadata.owner_references;
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove(OBSERVED_HASH_ANNOTATION);
    }
    Some((replacement, Write::RemoveForeignKeys))
}

/// Whether `existing` holds keys the desired Secret does not.
fn has_foreign_keys(existing: &Secret, desired: &DesiredSecret) -> bool {
    existing
        .data
        .iter()
        .flatten()
        .any(|(key, _)| !desired.data.contains_key(key))
}
