//! The VaultSecret reconciler: decides whether the vault is due, reads only what changed, and
//! hands the result to the shared apply and status steps.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::join_all;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::controller::Action;

use super::apply::{Applied, apply};
use super::outcome::finish;
use super::{Context, ObjectKey, SyncError, pipeline};
use crate::crd::{SyncStatus, Synced, SyncedVersion, VaultSecret};
use crate::desired::secret::{DesiredSecret, desired_secret};
use crate::desired::select::{self, Source};
use crate::vault::{SecretBundle, SecretValue, VaultAccess, VaultError};

/// Kind name used in keys, labels and metrics.
pub const KIND: &str = <VaultSecret as Synced>::KIND;

/// Reconciles one VaultSecret. Failures are reported through status and Events here; the
/// returned error only covers failing to write that status.
pub async fn reconcile(resource: Arc<VaultSecret>, ctx: Arc<Context>) -> Result<Action, SyncError> {
    let plan = pipeline::plan(resource.as_ref(), &ctx);
    let result = match plan.last_if_not_due() {
        Some(last) => pipeline::recheck(resource.as_ref(), &ctx, &plan.key, last).await,
        None => {
            let previous = plan.previous.as_ref();
            let result = sync(&resource, previous, &ctx, &plan.key, plan.force.is_some()).await;
            if result.is_err() {
                pipeline::restore_after_failure(resource.as_ref(), &ctx, &plan).await;
            }
            result
        }
    };
    let outcome = plan.outcome(resource.as_ref(), plan.interval);
    let (status, action) = finish(&ctx, outcome, result).await;
    if let Some(status) = status {
        pipeline::write_status::<VaultSecret>(&ctx, &plan.key, status).await?;
    }
    Ok(action)
}

/// Reads the vault (only what changed), builds the desired Secret and applies it.
async fn sync(
    resource: &VaultSecret,
    previous: Option<&SyncStatus>,
    ctx: &Context,
    key: &ObjectKey,
    force: bool,
) -> Result<(DesiredSecret, Applied), SyncError> {
    let spec = &resource.spec;
    let pipeline::Start {
        access,
        existing,
        adopt,
    } = pipeline::start(resource, ctx, key).await?;

    let following_latest = spec.data.iter().filter(|i| i.version.is_none()).count();
    let listing = if select::needs_listing(spec)
        || following_latest >= 2
        || ctx.vault.has_fresh_listing(&access)
    {
        let listing = ctx.vault.list_secrets(&access).await;
        pipeline::audit(&access, "*", None, listing.as_ref().err());
        Some(listing?)
    } else {
        None
    };
    let sources = select::sources(spec, listing.as_deref().map(Vec::as_slice))
        .map_err(SyncError::InvalidSpec)?;
    let recorded: BTreeMap<&str, &SyncedVersion> = previous
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

    let owner = pipeline::owner::<VaultSecret>(key);
    let secret_name = resource.target_name();
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
        Ok(bundle) => pipeline::audit(access, &source.name, Some(&bundle.version), None),
        Err(err) => pipeline::audit(access, &source.name, source.version.as_deref(), Some(err)),
    }
    result
}

fn current_values(secret: &Secret) -> BTreeMap<String, SecretValue> {
    secret
        .data
        .as_ref()
        .map(|data| {
            data.iter()
                .map(|(k, v)| (k.clone(), SecretValue::new(v.0.clone())))
                .collect()
        })
        .unwrap_or_default()
}
