//! The VaultSecret kind: reads only what changed (listing-based change detection, values read
//! again only when their `updated` time moved) and builds one Opaque Secret.

use std::collections::BTreeMap;

use futures::future::join_all;
use k8s_openapi::api::core::v1::Secret;

use super::apply::apply;
use super::clock::Now;
use super::kind::{Extension, Kind, Written};
use super::plan::Plan;
use super::{Context, SyncError, steps};
use crate::crd::{SyncStatus, Synced, SyncedVersion, VaultSecret};
use crate::desired::secret::desired_secret;
use crate::desired::select::{self, Source};
use crate::vault::{SecretBundle, SecretProperties, SecretValue, VaultAccess};

#[async_trait::async_trait]
impl Kind for VaultSecret {
    type Learned = ();

    async fn sync(&self, ctx: &Context, plan: &Plan<Self>) -> Result<Written<()>, SyncError> {
        let start = steps::start(self, ctx, &plan.key).await?;
        let listing = listing_if_useful(self, ctx, &start.access).await?;
        let sources = select::sources(&self.spec, listing.as_deref().map(Vec::as_slice))
            .map_err(SyncError::InvalidSpec)?;
        let current = start
            .existing
            .as_ref()
            .filter(|_| !start.adopt)
            .map(current_values)
            .unwrap_or_default();
        let previous = plan.previous.as_ref();
        let (mut data, mut versions, to_fetch) = split_kept_and_stale(
            &sources,
            listing.as_deref().map(Vec::as_slice),
            previous,
            &current,
            plan.force.is_some(),
        );
        let fetched = join_all(
            to_fetch
                .iter()
                .map(|source| read_secret(ctx, &start.access, source)),
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
        let owner = steps::owner::<VaultSecret>(&plan.key);
        let secret_name = self.target_name();
        let desired = desired_secret(
            &owner,
            &self.spec.target,
            &secret_name,
            "Opaque",
            data,
            versions,
        );
        let existing = start.existing.as_ref();
        let applied = apply(
            &ctx.client,
            &plan.key.namespace,
            &desired,
            existing,
            start.adopt,
        )
        .await?;
        Ok(Written {
            desired,
            applied,
            learned: None,
        })
    }

    fn extend(
        &self,
        sync: SyncStatus,
        _previous: &SyncStatus,
        _learned: Option<&()>,
        _now: Now,
    ) -> Extension<SyncStatus> {
        Extension {
            status: sync,
            notes: Vec::new(),
            expiry: None,
        }
    }
}

/// The vault's listing, when it tells more than it costs: bulk selectors need it, two or more
/// items following the latest version compare against it, and a fresh shared one is free.
async fn listing_if_useful(
    resource: &VaultSecret,
    ctx: &Context,
    access: &VaultAccess,
) -> Result<Option<std::sync::Arc<Vec<SecretProperties>>>, SyncError> {
    let spec = &resource.spec;
    let following_latest = spec.data.iter().filter(|i| i.version.is_none()).count();
    if !(select::needs_listing(spec)
        || following_latest >= 2
        || ctx.vault.has_fresh_listing(access))
    {
        return Ok(None);
    }
    let listing = ctx.vault.list_secrets(access).await;
    steps::audit(access, "*", None, listing.as_ref().err());
    listing.map(Some).map_err(SyncError::ListSecrets)
}

/// Sources whose value in the Secret is still current (kept, with their recorded version) and
/// those to read again.
fn split_kept_and_stale<'a>(
    sources: &'a [Source],
    listing: Option<&[SecretProperties]>,
    previous: Option<&SyncStatus>,
    current: &BTreeMap<String, SecretValue>,
    force: bool,
) -> (
    BTreeMap<String, SecretValue>,
    Vec<SyncedVersion>,
    Vec<&'a Source>,
) {
    let recorded: BTreeMap<&str, &SyncedVersion> = previous
        .map(|s| s.versions.iter().map(|v| (v.key.as_str(), v)).collect())
        .unwrap_or_default();
    let mut data = BTreeMap::new();
    let mut versions = Vec::new();
    let mut to_fetch = Vec::new();
    for source in sources {
        let listed =
            listing.and_then(|l| l.iter().find(|p| p.name.eq_ignore_ascii_case(&source.name)));
        let recorded = recorded.get(source.key.as_str()).copied();
        let value = current.get(&source.key);
        if select::needs_fetch(source, listed, recorded, value.is_some(), force) {
            to_fetch.push(source);
        } else if let (Some(value), Some(recorded)) = (value, recorded) {
            data.insert(source.key.clone(), value.clone());
            versions.push(recorded.clone());
        }
    }
    (data, versions, to_fetch)
}

/// Reads one source's value, with its audit line.
async fn read_secret(
    ctx: &Context,
    access: &VaultAccess,
    source: &Source,
) -> Result<SecretBundle, SyncError> {
    let result = ctx
        .vault
        .get_secret(access, &source.name, source.version.as_deref())
        .await;
    match &result {
        Ok(bundle) => steps::audit(access, &source.name, Some(&bundle.version), None),
        Err(err) => steps::audit(access, &source.name, source.version.as_deref(), Some(err)),
    }
    result.map_err(|source_error| SyncError::ReadSecret {
        name: source.name.clone(),
        source: source_error,
    })
}

/// The values the Secret holds now.
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
