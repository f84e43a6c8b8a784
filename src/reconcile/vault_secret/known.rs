//! What a VaultSecret sync knows before reading any value: the listings it decides with, which
//! sources are still current and which to read again, and the values the Secret holds now.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;

use super::super::plan::Plan;
use super::super::{Context, SyncError, steps};
use super::Gathered;
use crate::crd::{SyncStatus, SyncedVersion, VaultSecret};
use crate::desired::select::{self, Source};
use crate::feed::{Listing, Need};
use crate::vault::{KeyProperties, Listed, SecretProperties, SecretValue, VaultAccess};

/// The vault's secret listing, when bulk selection needs it or the change feed finds it cheaper
/// than reading each item.
pub(super) async fn listing(
    resource: &VaultSecret,
    ctx: &Context,
    plan: &Plan<VaultSecret>,
    access: &VaultAccess,
) -> Result<Option<Listing<SecretProperties>>, SyncError> {
    // What bulk selection matches comes from the listing alone: a force refresh must match
    // what the vault holds now. Otherwise the scanner's listing serves (what it misses, its
    // next scan finds, and what it still shows after a deletion reads as vanished).
    let need = match (select::needs_listing(&resource.spec), plan.force.is_some()) {
        (false, _) if synced_nothing(plan) => return Ok(None),
        (false, _) => Need::IfCheaper,
        (true, false) => Need::Required,
        (true, true) => Need::Fresh,
    };
    ctx.feed
        .secrets(access, need)
        .await
        .map_err(SyncError::ListSecrets)
}

/// The vault's key listing, when the resource reads keys and the change feed finds listing
/// cheaper than reading each key.
pub(super) async fn key_listing(
    resource: &VaultSecret,
    ctx: &Context,
    plan: &Plan<VaultSecret>,
    access: &VaultAccess,
) -> Result<Option<Listing<KeyProperties>>, SyncError> {
    if resource.spec.keys.is_empty() || synced_nothing(plan) {
        return Ok(None);
    }
    ctx.feed
        .keys(access, Need::IfCheaper)
        .await
        .map_err(SyncError::ListKeys)
}

/// Whether the resource has no synced version on record. A listing only spares the reads of
/// values already held, so such a sync reads every source anyway; waiting for the first listing
/// of a large vault (hundreds of pages, seconds) would only hold its worker.
fn synced_nothing(plan: &Plan<VaultSecret>) -> bool {
    plan.previous
        .as_ref()
        .is_none_or(|status| status.versions.is_empty())
}

/// The listings a sync decides with: secrets (bulk selection and change detection) and keys.
pub(super) struct Listings {
    pub(super) secrets: Option<Listing<SecretProperties>>,
    pub(super) keys: Option<Listing<KeyProperties>>,
}

impl Listings {
    /// What the listing of `source`'s object type says about its object, and the version
    /// pushed for it since that listing.
    fn about(&self, source: &Source) -> (Option<&dyn Listed>, Option<&str>) {
        fn look<'a, T: Listed>(
            listing: Option<&'a Listing<T>>,
            name: &str,
        ) -> (Option<&'a dyn Listed>, Option<&'a str>) {
            let Some(listing) = listing else {
                return (None, None);
            };
            let listed = listing.find(name).map(|l| l as &dyn Listed);
            (listed, listing.pushed_version(name))
        }
        if source.public_key.is_some() {
            look(self.keys.as_ref(), &source.name)
        } else {
            look(self.secrets.as_ref(), &source.name)
        }
    }
}

/// Sources whose value in the Secret is still current (kept, with their recorded version) and
/// those to read again.
pub(super) fn split_kept_and_stale<'a>(
    sources: &'a [Source],
    listings: &Listings,
    previous: Option<&SyncStatus>,
    current: &BTreeMap<String, SecretValue>,
    force: bool,
) -> (Gathered, Vec<&'a Source>) {
    let recorded: BTreeMap<&str, &SyncedVersion> = previous
        .map(|s| s.versions.iter().map(|v| (v.key.as_str(), v)).collect())
        .unwrap_or_default();
    let mut kept = Gathered::default();
    let mut to_fetch = Vec::new();
    for source in sources {
        // Keys come from the key listing (a key's name may be a secret's too).
        let (listed, pushed) = listings.about(source);
        let recorded = recorded.get(source.key.as_str()).copied();
        let value = current.get(&source.key);
        let pushed = pushed.filter(|_| source.version.is_none());
        let stale = match pushed {
            // Pushed since the listing: the listing cannot tell yet, the synced version can.
            // (A second delivery of a rotation already read finds it synced: no read.)
            Some(version) => {
                force
                    || value.is_none()
                    || recorded.is_none_or(|r| {
                        r.version != version || !r.name.eq_ignore_ascii_case(&source.name)
                    })
            }
            None => select::needs_fetch(source, listed, recorded, value.is_some(), force),
        };
        if stale {
            to_fetch.push(source);
        } else if let (Some(value), Some(recorded)) = (value, recorded) {
            kept.data.insert(source.key.clone(), value.clone());
            kept.versions.push(recorded.clone());
        }
    }
    (kept, to_fetch)
}

/// The values each source has now without reading the vault: what the last sync read when a
/// template built the Secret from them, else what the Secret holds (none when it is adopted or
/// absent).
pub(super) async fn values_now(
    resource: &VaultSecret,
    ctx: &Context,
    plan: &Plan<VaultSecret>,
    start: &steps::Start,
) -> Result<BTreeMap<String, SecretValue>, SyncError> {
    if resource.spec.template.is_some() {
        // The Secret holds what the template wrote, not the sources: only memory has them
        // (after a restart every source is read once).
        let last = plan.entry.last_desired.as_ref();
        return Ok(last.and_then(|l| l.sources.clone()).unwrap_or_default());
    }
    let Some(existing) = start.existing.as_ref().filter(|_| !start.adopt) else {
        return Ok(BTreeMap::new());
    };
    let last = plan.entry.last_desired.as_ref();
    let full = steps::with_values(ctx, &plan.key.namespace, existing, last).await?;
    Ok(current_values(&full))
}

/// The values `secret` holds.
pub(super) fn current_values(secret: &Secret) -> BTreeMap<String, SecretValue> {
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
