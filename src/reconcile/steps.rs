//! The I/O steps both kinds' syncs share, written once against [`Synced`]: who reads the vault,
//! whether the Secret may be written, restoring the Secret without the vault, and the audit
//! trail of vault reads.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;

use super::apply::{Applied, apply};
use super::guard::{Decision, decide};
use super::kind::Written;
use super::plan::Plan;
use super::target::TargetApi;
use super::{Context, ObjectKey, SyncError};
use crate::crd::{Synced, TargetObject};
use crate::desired::secret::{
    DesiredSecret, Owner, distrust_observed_hash, is_fingerprint, observed_hash,
};
use crate::vault::host::VaultUrl;
use crate::vault::{VaultAccess, VaultError};
use k8s_openapi::ByteString;

/// The owner recorded on the Secret.
pub fn owner<K: Synced>(key: &ObjectKey) -> Owner {
    Owner {
        kind: K::KIND,
        api_version: K::api_version(&()).into_owned(),
        name: key.name.clone(),
        namespace: key.namespace.clone(),
        uid: key.uid.clone(),
    }
}

/// Not due at the vault: make sure the Secret still is what was last written; restore it from
/// memory if someone changed or deleted it. No vault request.
pub async fn recheck<K: Synced, L>(
    resource: &K,
    ctx: &Context,
    key: &ObjectKey,
    last: &DesiredSecret,
) -> Result<Written<L>, SyncError> {
    let existing = find_target(ctx, &key.namespace, &last.name, last.object).await?;
    let adopt = may_write(resource, existing.as_ref())?;
    let applied = apply(&ctx.client, &key.namespace, last, existing.as_ref(), adopt).await?;
    Ok(Written {
        desired: last.clone(),
        applied,
        learned: None,
    })
}

/// After a failed sync: if the Secret was deleted or edited meanwhile, put back what was last
/// written (from memory, no vault read), so a vault or identity outage never leaves it gone.
/// Only while the spec is the one that write was made for.
pub async fn restore_after_failure<K: Synced>(resource: &K, ctx: &Context, plan: &Plan<K>) {
    let Some(last) = plan.entry.last_desired.as_ref() else {
        return;
    };
    if plan.entry.generation != resource.meta().generation {
        return;
    }
    match recheck::<K, ()>(resource, ctx, &plan.key, last).await {
        Ok(Written {
            applied: Applied::Unchanged,
            ..
        }) => {}
        Ok(_) => tracing::info!(
            kind = K::KIND,
            namespace = %plan.key.namespace,
            name = %plan.key.name,
            secret = %last.name,
            "restored the Secret from the last sync while the sync is failing"
        ),
        Err(err) => tracing::debug!(error = %err, "could not restore the Secret"),
    }
}

/// What a due sync starts from: the reader, the existing Secret, and whether writing it adopts
/// a foreign Secret. Ownership is checked before any vault read: a Secret vaultsync may not
/// write is not worth a request.
pub struct Start {
    /// The identity and vault to read.
    pub access: VaultAccess,
    /// The Secret as it is now, if any.
    pub existing: Option<Secret>,
    /// Whether `existing` was not read but assumed absent (see [`start`]); a create that meets
    /// a Secret then reads it and runs the guard ([`write_target`]).
    pub assumed_absent: bool,
    /// Whether the write takes over a Secret vaultsync did not manage.
    pub adopt: bool,
}

/// Resolves the ServiceAccount's identity, reads the existing Secret and runs the guard.
///
/// For a resource never attempted (`plan.never_attempted()`) whose Secret is not among the
/// managed ones, the Secret is assumed absent rather than read: on a first sync of thousands of
/// resources that read is a GET answered 404 for each. A foreign Secret of that name is then
/// met by the create, which fails, and [`write_target`] reads it and runs the guard.
pub async fn start<K: Synced>(
    resource: &K,
    ctx: &Context,
    plan: &Plan<K>,
) -> Result<Start, SyncError> {
    let key = &plan.key;
    let vault = resource.vault();
    // Before any token is minted or connection made: a refused host costs nothing.
    let vault_url = VaultUrl::parse(&vault.url).map_err(SyncError::InvalidSpec)?;
    ctx.settings
        .vault_hosts
        .check(&vault_url)
        .map_err(SyncError::VaultHostNotAllowed)?;
    let identity = ctx
        .identities
        .resolve(
            &ctx.client,
            &key.namespace,
            &vault.service_account_name,
            ctx.settings.default_tenant.as_deref(),
        )
        .await?;
    let name = resource.target_name();
    let object = resource.target_object();
    let may_assume_absent = plan.never_attempted() && object == TargetObject::Secret;
    let existing = if may_assume_absent {
        cached_secret(ctx, &key.namespace, &name)
    } else {
        find_target(ctx, &key.namespace, &name, object).await?
    };
    let assumed_absent = may_assume_absent && existing.is_none();
    let adopt = may_write(resource, existing.as_ref())?;
    Ok(Start {
        access: VaultAccess {
            vault_url: vault_url.as_str().to_string(),
            identity,
        },
        existing,
        assumed_absent,
        adopt,
    })
}

/// Applies `desired` as the guard allowed at [`start`]. When the Secret was assumed absent and
/// the create met one, reads it, runs the guard on it and applies once more.
pub async fn write_target<K: Synced>(
    resource: &K,
    ctx: &Context,
    namespace: &str,
    desired: &DesiredSecret,
    start: &Start,
) -> Result<Applied, SyncError> {
    let first = apply(
        &ctx.client,
        namespace,
        desired,
        start.existing.as_ref(),
        start.adopt,
    )
    .await;
    match first {
        Err(SyncError::TargetAppeared { .. }) if start.assumed_absent => {
            let existing = read_target(ctx, namespace, &desired.name, desired.object).await?;
            let adopt = may_write(resource, existing.as_ref())?;
            apply(&ctx.client, namespace, desired, existing.as_ref(), adopt).await
        }
        other => other,
    }
}

/// Runs the ownership guard; returns whether this write adopts a foreign Secret.
pub fn may_write<K: Synced>(resource: &K, existing: Option<&Secret>) -> Result<bool, SyncError> {
    let owner_label = format!("{}/{}", K::KIND, resource.name_any());
    match decide(
        existing,
        &resource.uid().unwrap_or_default(),
        &owner_label,
        resource.target().creation_policy,
        resource.target_object(),
    ) {
        Decision::Create | Decision::Update => Ok(false),
        Decision::Adopt => Ok(true),
        Decision::Conflict(message) => Err(SyncError::OwnershipConflict(message)),
    }
}

/// One structured audit line per vault read: who, which vault, what, which version, outcome.
/// Never a value.
pub fn audit(
    access: &VaultAccess,
    object: &str,
    version: Option<&str>,
    error: Option<&VaultError>,
) {
    let outcome = error.map_or_else(|| "success".to_string(), |e| e.to_string());
    tracing::info!(
        target: "vaultsync::audit",
        identity = %access.identity.client_id,
        service_account = %format!("{}/{}", access.identity.namespace, access.identity.service_account),
        vault = %access.vault_url,
        object = %object,
        version = %version.unwrap_or("latest"),
        outcome = %outcome,
        "vault read"
    );
}

/// The managed Secret from the cache, or from the API when the cache does not hold it (it may
/// exist without vaultsync's label, which the guard must see). A ConfigMap target is always
/// read from the API (few resources write one, and none is cached), in the Secret shape.
pub async fn find_target(
    ctx: &Context,
    namespace: &str,
    name: &str,
    object: TargetObject,
) -> Result<Option<Secret>, SyncError> {
    if object == TargetObject::Secret
        && let Some(cached) = cached_secret(ctx, namespace, name)
    {
        return Ok(Some(cached));
    }
    read_target(ctx, namespace, name, object).await
}

/// The managed Secret `namespace/name` from the cache (values empty), if it holds it.
fn cached_secret(ctx: &Context, namespace: &str, name: &str) -> Option<Secret> {
    ctx.secrets.get(namespace, name).map(Arc::unwrap_or_clone)
}

/// The Secret (or ConfigMap) as the API server holds it, values included.
async fn read_target(
    ctx: &Context,
    namespace: &str,
    name: &str,
    object: TargetObject,
) -> Result<Option<Secret>, SyncError> {
    let mut found = TargetApi::new(&ctx.client, namespace, object)
        .get_opt(name)
        .await
        .map_err(|source| SyncError::ReadTargetSecret {
            name: name.to_string(),
            source,
        })?;
    if let Some(secret) = found.as_mut() {
        distrust_observed_hash(secret);
    }
    Ok(found)
}

/// `existing` with its values: the cache keeps none (see `desired::secret::fingerprint`). They
/// are what this process last wrote when the Secret still holds exactly that, else read from
/// the API server (after a restart, or when someone changed the Secret).
pub async fn with_values(
    ctx: &Context,
    namespace: &str,
    existing: &Secret,
    last: Option<&DesiredSecret>,
) -> Result<Secret, SyncError> {
    if !is_fingerprint(existing) {
        return Ok(existing.clone());
    }
    let name = existing.metadata.name.clone().unwrap_or_default();
    if let Some(last) = last.filter(|l| {
        l.name == name && l.content_hash == observed_hash(existing, &ctx.settings.content_key)
    }) {
        let mut full = existing.clone();
        full.data = Some(
            last.data
                .iter()
                .map(|(k, v)| (k.clone(), ByteString(v.expose().to_vec())))
                .collect(),
        );
        distrust_observed_hash(&mut full);
        return Ok(full);
    }
    Ok(read_target(ctx, namespace, &name, TargetObject::Secret)
        .await?
        .unwrap_or_else(|| existing.clone()))
}
