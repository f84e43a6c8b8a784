//! The VaultSecret reconciler: decides whether the vault is due, reads only what changed, and
//! hands the result to the shared apply and status steps.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};

use super::apply::{Applied, apply};
use super::guard::{Decision, decide};
use super::identity::resolve_identity;
use super::outcome::{Outcome, finish};
use super::{Context, ObjectKey, SyncError, requeue};
use crate::crd::{FORCE_REFRESH_ANNOTATION, SyncedVersion, VaultSecret};
use crate::desired::secret::{DesiredSecret, Owner, desired_secret};
use crate::desired::select::{self, Source};
use crate::vault::{SecretBundle, SecretValue, VaultAccess, VaultError};

/// Kind name used in keys, labels and metrics.
pub const KIND: &str = "VaultSecret";

/// Reconciles one VaultSecret. Failures are reported through status and Events here; the
/// returned error only covers failing to write that status.
pub async fn reconcile(resource: Arc<VaultSecret>, ctx: Arc<Context>) -> Result<Action, SyncError> {
    let started = Instant::now();
    let namespace = resource.namespace().unwrap_or_default();
    let key = ObjectKey {
        kind: KIND,
        namespace: namespace.clone(),
        name: resource.name_any(),
        uid: resource.uid().unwrap_or_default(),
    };
    let interval = requeue::parse_interval(&resource.spec.refresh_interval)
        .unwrap_or(Duration::from_secs(3600));
    let entry = ctx.schedule.get(&key);
    let force = resource
        .annotations()
        .get(FORCE_REFRESH_ANNOTATION)
        .filter(|v| {
            resource
                .status
                .as_ref()
                .and_then(|s| s.last_force_refresh.as_ref())
                != Some(*v)
        })
        .cloned();
    let due = entry.due.is_none_or(|d| Instant::now() >= d)
        || entry.generation != resource.metadata.generation
        || force.is_some();

    let result = match (due, &entry.last_desired) {
        (false, Some(last)) => recheck(&resource, &ctx, &key, last).await,
        _ => sync(&resource, &ctx, &key, force.is_some()).await,
    };
    let outcome = Outcome {
        kind: KIND,
        key: &key,
        generation: resource.metadata.generation,
        status: resource.status.as_ref(),
        object_ref: resource.object_ref(&()),
        secret_name: resource.target_name(),
        force_refresh: force.or_else(|| {
            resource
                .status
                .as_ref()
                .and_then(|s| s.last_force_refresh.clone())
        }),
        interval,
        started,
        vault_read: due || entry.last_desired.is_none(),
    };
    let (status, action) = finish(&ctx, outcome, result).await;
    if let Some(status) = status {
        let api: Api<VaultSecret> = Api::namespaced(ctx.client.clone(), &namespace);
        super::outcome::write_status(&api, &key.name, status).await?;
    }
    Ok(action)
}

/// Not due at the vault: make sure the Secret still is what was last written; restore it from
/// memory if someone changed or deleted it. No vault request.
async fn recheck(
    resource: &VaultSecret,
    ctx: &Context,
    key: &ObjectKey,
    last: &DesiredSecret,
) -> Result<(DesiredSecret, Applied), SyncError> {
    let existing = find_secret(ctx, &key.namespace, &last.name).await?;
    let adopt = guard(resource, existing.as_ref())?;
    let applied = apply(&ctx.client, &key.namespace, last, existing.as_ref(), adopt).await?;
    Ok((last.clone(), applied))
}

/// Reads the vault (only what changed), builds the desired Secret and applies it.
async fn sync(
    resource: &VaultSecret,
    ctx: &Context,
    key: &ObjectKey,
    force: bool,
) -> Result<(DesiredSecret, Applied), SyncError> {
    let spec = &resource.spec;
    let secret_name = resource.target_name();
    let identity = resolve_identity(
        &ctx.client,
        &key.namespace,
        &spec.vault.service_account_name,
        ctx.settings.default_tenant.as_deref(),
    )
    .await?;
    let existing = find_secret(ctx, &key.namespace, &secret_name).await?;
    // Ownership is checked before any vault read: a Secret we may not write is not worth a request.
    let adopt = guard(resource, existing.as_ref())?;
    let access = VaultAccess {
        vault_url: normalise_url(&spec.vault.url),
        identity,
    };

    let following_latest = spec.data.iter().filter(|i| i.version.is_none()).count();
    let listing = if select::needs_listing(spec)
        || following_latest >= 2
        || ctx.vault.has_fresh_listing(&access)
    {
        let listing = ctx.vault.list_secrets(&access).await;
        audit(&access, "*", None, listing.as_ref().err().cloned());
        Some(listing?)
    } else {
        None
    };
    let sources = select::sources(spec, listing.as_deref().map(Vec::as_slice))
        .map_err(SyncError::InvalidSpec)?;
    let recorded: BTreeMap<&str, &SyncedVersion> = resource
        .status
        .as_ref()
        .map(|s| s.versions.iter().map(|v| (v.key.as_str(), v)).collect())
        .unwrap_or_default();
    let current = existing
        .as_ref()
        .filter(|_| !adopt)
        .map(current_values)
        .unwrap_or_default();

    let mut data = BTreeMap::new();
    let mut versions = Vec::new();
    let mut to_fetch: Vec<&Source> = Vec::new();
    for source in &sources {
        let listed = listing
            .as_ref()
            .and_then(|l| l.iter().find(|p| p.name.eq_ignore_ascii_case(&source.name)));
        let recorded = recorded.get(source.key.as_str()).copied();
        let value = current.get(&source.key);
        if select::needs_fetch(source, listed, recorded, value.is_some(), force) {
            to_fetch.push(source);
        } else if let (Some(value), Some(recorded)) = (value, recorded) {
            data.insert(source.key.clone(), value.clone());
            versions.push(recorded.clone());
        }
    }
    let fetched = join_all(
        to_fetch
            .iter()
            .map(|source| read_secret(ctx, &access, source)),
    )
    .await;
    for (source, result) in to_fetch.iter().zip(fetched) {
        let bundle = result?;
        versions.push(SyncedVersion {
            key: source.key.clone(),
            name: source.name.clone(),
            version: bundle.version.clone(),
            updated: bundle.updated,
        });
        data.insert(source.key.clone(), bundle.value);
    }

    let owner = Owner {
        kind: KIND,
        api_version: VaultSecret::api_version(&()).into_owned(),
        name: key.name.clone(),
        namespace: key.namespace.clone(),
        uid: key.uid.clone(),
    };
    let desired = desired_secret(&owner, &spec.target, &secret_name, "Opaque", data, versions);
    let applied = apply(
        &ctx.client,
        &key.namespace,
        &desired,
        existing.as_ref(),
        adopt,
    )
    .await?;
    Ok((desired, applied))
}

/// Runs the ownership guard; returns whether this write adopts a foreign Secret.
fn guard(resource: &VaultSecret, existing: Option<&Secret>) -> Result<bool, SyncError> {
    let owner_label = format!("{KIND}/{}", resource.name_any());
    match decide(
        existing,
        &resource.uid().unwrap_or_default(),
        &owner_label,
        resource.spec.target.creation_policy,
    ) {
        Decision::Create | Decision::Update => Ok(false),
        Decision::Adopt => Ok(true),
        Decision::Conflict(message) => Err(SyncError::OwnershipConflict(message)),
    }
}

async fn read_secret(
    ctx: &Context,
    access: &VaultAccess,
    source: &Source,
) -> Result<SecretBundle, VaultError> {
    let result = ctx
        .vault
        .get_secret(access, &source.name, source.version.as_deref())
        .await;
    match &result {
        Ok(bundle) => audit(access, &source.name, Some(&bundle.version), None),
        Err(err) => audit(
            access,
            &source.name,
            source.version.as_deref(),
            Some(err.clone()),
        ),
    }
    result
}

/// One structured audit line per vault read: who, which vault, what, which version, outcome.
/// Never a value.
pub(crate) fn audit(
    access: &VaultAccess,
    object: &str,
    version: Option<&str>,
    error: Option<VaultError>,
) {
    let outcome = error
        .as_ref()
        .map_or_else(|| "success".to_string(), |e| e.to_string());
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
/// exist without vaultsync's label, which the guard must see).
pub(crate) async fn find_secret(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> Result<Option<Secret>, SyncError> {
    if let Some(cached) = ctx.secrets.get(&ObjectRef::new(name).within(namespace)) {
        return Ok(Some((*cached).clone()));
    }
    Api::<Secret>::namespaced(ctx.client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|source| SyncError::Kubernetes {
            action: "read the target Secret",
            source,
        })
}

fn current_values(secret: &Secret) -> BTreeMap<String, SecretValue> {
    secret
        .data
        .as_ref()
        .map(|data| {
            data.iter()
                .filter_map(|(k, v)| {
                    String::from_utf8(v.0.clone())
                        .ok()
                        .map(|s| (k.clone(), SecretValue::new(s)))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `https://Host/path` → `https://host/` (vault clients address the vault root).
pub(crate) fn normalise_url(url: &str) -> String {
    let trimmed = url.trim();
    let (scheme, rest) = trimmed.split_once("://").unwrap_or(("https", trimmed));
    let host = rest
        .split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    format!("{scheme}://{host}/")
}

#[cfg(test)]
mod tests {
    #[test]
    fn vault_urls_are_normalised_to_the_root() {
        assert_eq!(
            super::normalise_url("https://My.Vault.Azure.net"),
            "https://my.vault.azure.net/"
        );
        assert_eq!(
            super::normalise_url("https://v.vault.azure.net/x/"),
            "https://v.vault.azure.net/"
        );
    }
}
