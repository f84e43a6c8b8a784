//! The VaultSecret kind: reads only what changed (listing-based change detection, values read
//! again only when their `updated` time moved) and builds one Secret from the values, one key
//! per source or shaped by the spec's template.

use std::collections::BTreeMap;

use futures::future::join_all;
use k8s_openapi::api::core::v1::Secret;

use super::clock::Now;
use super::kind::{Extension, Kind, Written};
use super::plan::Plan;
use super::reason;
use super::report::Note;
use super::{Context, SyncError, steps};
use crate::crd::{SyncStatus, Synced, SyncedVersion, VaultRemovalPolicy, VaultSecret};
use crate::desired::secret::desired_secret;
use crate::desired::select::{self, Source};
use crate::desired::shape::shape;
use crate::desired::{decoding, public_key};
use crate::feed::{Follow, Interest, Listing, Need};
use crate::vault::{
    KeyBundle, KeyProperties, Listed, SecretBundle, SecretProperties, SecretValue, VaultAccess,
    VaultError,
};

#[async_trait::async_trait]
impl Kind for VaultSecret {
    type Learned = Vec<RemovedKey>;

    async fn sync(
        &self,
        ctx: &Context,
        plan: &Plan<Self>,
    ) -> Result<Written<Vec<RemovedKey>>, SyncError> {
        let start = steps::start(self, ctx, plan).await?;
        ctx.feed
            .follow(&plan.key, &start.access, self.interest(plan));
        let listings = Listings {
            secrets: listing(self, ctx, plan, &start.access).await?,
            keys: key_listing(self, ctx, &start.access).await?,
        };
        let sources = select::sources(
            &self.spec,
            listings.secrets.as_ref().map(|l| l.items.as_slice()),
        )
        .map_err(SyncError::InvalidSpec)?;
        let current = values_now(self, ctx, plan, &start).await?;
        let previous = plan.previous.as_ref();
        let (mut gathered, to_fetch) = split_kept_and_stale(
            &sources,
            &listings,
            previous,
            &current,
            plan.force.is_some() || plan.entry.reread,
        );
        let policy = self.spec.on_vault_removal;
        gathered
            .fetch(ctx, &start.access, &to_fetch, &current, policy)
            .await?;
        // Bulk keys whose vault secret left the selection (deleted or disabled) while the spec
        // stayed as it was: kept or removed by the same rule as explicit items.
        if plan.entry.generation == self.metadata.generation {
            gathered.carry_vanished(&sources, previous, &current, policy);
        }
        let reread = gathered.fetched_within(plan.now.unix);
        ctx.schedule
            .update(&plan.key, |entry| entry.reread = reread);
        gathered.write(self, ctx, plan, &start).await
    }

    fn extend(
        &self,
        sync: SyncStatus,
        _previous: &SyncStatus,
        learned: Option<&Vec<RemovedKey>>,
        _now: Now,
    ) -> Extension<SyncStatus> {
        let notes = learned
            .filter(|removed| !removed.is_empty())
            .map(|removed| {
                let keys: Vec<String> = removed
                    .iter()
                    .map(|r| format!("{} (vault secret {})", r.key, r.name))
                    .collect();
                vec![Note::warning(
                    reason::VAULT_SECRET_REMOVED,
                    format!(
                        "removed key(s) {} from the Secret: deleted or disabled in the vault \
                         (onVaultRemoval: Remove)",
                        keys.join(", ")
                    ),
                )]
            })
            .unwrap_or_default();
        Extension {
            status: sync,
            notes,
            expiry: None,
        }
    }
}

/// What a sync puts into the Secret, and the keys it removed.
#[derive(Default)]
struct Gathered {
    data: BTreeMap<String, SecretValue>,
    versions: Vec<SyncedVersion>,
    removed: Vec<RemovedKey>,
    /// `updated` of each value read by this sync.
    fetched_updated: Vec<Option<i64>>,
    /// Keys of bulk matches found gone or disabled when read.
    unmatched: Vec<String>,
}

impl Gathered {
    /// Whether a value read by this sync had its version written in the second the sync
    /// started, or later (see [`super::schedule::Entry::reread`]).
    fn fetched_within(&self, start_unix: i64) -> bool {
        self.fetched_updated
            .iter()
            .any(|updated| updated.is_some_and(|u| u >= start_unix))
    }

    /// Reads the stale sources; under `Remove`, a deleted or disabled one leaves the Secret.
    async fn fetch(
        &mut self,
        ctx: &Context,
        access: &VaultAccess,
        to_fetch: &[&Source],
        current: &BTreeMap<String, SecretValue>,
        policy: VaultRemovalPolicy,
    ) -> Result<(), SyncError> {
        let fetched = join_all(
            to_fetch
                .iter()
                .map(|source| read_source(ctx, access, source)),
        )
        .await;
        for (source, result) in to_fetch.iter().zip(fetched) {
            let read = match result {
                Ok(read) => read,
                // Matched by a bulk selector in a listing made before it went: it no longer
                // matches; kept or removed below like any key that left the selection.
                Err(err) if source.bulk && removed_in_vault(&err) => {
                    self.unmatched.push(source.key.clone());
                    continue;
                }
                Err(err) if policy == VaultRemovalPolicy::Remove && removed_in_vault(&err) => {
                    // Said once, when the key leaves the Secret; later refreshes skip it quietly.
                    if current.contains_key(&source.key) {
                        self.removed.push(RemovedKey::of(source));
                    }
                    continue;
                }
                Err(err) => return Err(err),
            };
            self.fetched_updated.push(read.updated);
            self.versions.push(SyncedVersion {
                key: source.key.clone(),
                name: source.name.clone(),
                version: read.version,
                updated: read.updated,
                decoding: source.decoding,
                public_key: source.public_key,
            });
            self.data.insert(source.key.clone(), read.value);
        }
        Ok(())
    }

    /// Builds the Secret from what was gathered and applies it.
    async fn write(
        self,
        resource: &VaultSecret,
        ctx: &Context,
        plan: &Plan<VaultSecret>,
        start: &steps::Start,
    ) -> Result<Written<Vec<RemovedKey>>, SyncError> {
        let owner = steps::owner::<VaultSecret>(&plan.key);
        let template = resource.spec.template.as_ref();
        // Admission keeps target.type equal to the template's type when both are given.
        let default_type = template.and_then(|t| t.secret_type()).unwrap_or("Opaque");
        let type_ = resource
            .spec
            .target
            .type_
            .as_deref()
            .unwrap_or(default_type);
        let data = shape(template, type_, self.data.clone())?;
        let mut desired = desired_secret(
            &owner,
            &resource.spec.target,
            &resource.target_name(),
            default_type,
            data,
            self.versions,
            &ctx.settings.content_key,
        );
        if template.is_some() {
            desired.sources = Some(self.data);
        }
        let applied =
            steps::write_target(resource, ctx, &plan.key.namespace, &desired, start).await?;
        Ok(Written {
            desired,
            applied,
            learned: (!self.removed.is_empty()).then_some(self.removed),
        })
    }

    /// Keys synced before whose vault secret no longer is among the sources: kept with their
    /// last value, or removed, per `policy`.
    fn carry_vanished(
        &mut self,
        sources: &[Source],
        previous: Option<&SyncStatus>,
        current: &BTreeMap<String, SecretValue>,
        policy: VaultRemovalPolicy,
    ) {
        for recorded in previous.iter().flat_map(|s| s.versions.iter()) {
            let selected = sources.iter().any(|s| s.key == recorded.key);
            if selected && !self.unmatched.contains(&recorded.key) {
                continue;
            }
            match (policy, current.get(&recorded.key)) {
                (VaultRemovalPolicy::Keep, Some(value)) => {
                    self.data.insert(recorded.key.clone(), value.clone());
                    self.versions.push(recorded.clone());
                }
                (VaultRemovalPolicy::Remove, Some(_)) => self.removed.push(RemovedKey {
                    key: recorded.key.clone(),
                    name: recorded.name.clone(),
                }),
                (_, None) => {}
            }
        }
    }
}

/// A key removed from the Secret because its vault secret was deleted or disabled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemovedKey {
    /// The Secret key.
    pub key: String,
    /// The vault secret's name.
    pub name: String,
}

impl RemovedKey {
    fn of(source: &Source) -> Self {
        RemovedKey {
            key: source.key.clone(),
            name: source.name.clone(),
        }
    }
}

/// Whether `err` says the vault secret itself is gone or disabled (not that reading failed).
fn removed_in_vault(err: &SyncError) -> bool {
    matches!(
        err,
        SyncError::ReadSecret {
            source: VaultError::NotFound | VaultError::Disabled,
            ..
        }
    )
}

impl VaultSecret {
    /// What the change feed watches for this resource: items following the latest version, and
    /// everything when it selects in bulk.
    fn interest(&self, plan: &Plan<VaultSecret>) -> Interest {
        let spec = &self.spec;
        Interest {
            interval: plan.interval.clone().unwrap_or_default(),
            secrets: Follow {
                everything: select::needs_listing(spec),
                ..Follow::names(
                    spec.data
                        .iter()
                        .filter(|item| item.version.is_none())
                        .map(|item| item.name.as_str()),
                )
            },
            certificates: Follow::default(),
            keys: Follow::names(
                spec.keys
                    .iter()
                    .filter(|item| item.version.is_none())
                    .map(|item| item.name.as_str()),
            ),
        }
    }
}

/// The vault's secret listing, when bulk selection needs it or the change feed finds it cheaper
/// than reading each item.
async fn listing(
    resource: &VaultSecret,
    ctx: &Context,
    plan: &Plan<VaultSecret>,
    access: &VaultAccess,
) -> Result<Option<Listing<SecretProperties>>, SyncError> {
    // What bulk selection matches comes from the listing alone: a force refresh must match
    // what the vault holds now. Otherwise the scanner's listing serves (what it misses, its
    // next scan finds, and what it still shows after a deletion reads as vanished).
    let need = match (select::needs_listing(&resource.spec), plan.force.is_some()) {
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
async fn key_listing(
    resource: &VaultSecret,
    ctx: &Context,
    access: &VaultAccess,
) -> Result<Option<Listing<KeyProperties>>, SyncError> {
    if resource.spec.keys.is_empty() {
        return Ok(None);
    }
    ctx.feed
        .keys(access, Need::IfCheaper)
        .await
        .map_err(SyncError::ListKeys)
}

/// The listings a sync decides with: secrets (bulk selection and change detection) and keys.
struct Listings {
    secrets: Option<Listing<SecretProperties>>,
    keys: Option<Listing<KeyProperties>>,
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
fn split_kept_and_stale<'a>(
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

/// One source's value as read, decoded or converted for its Secret key.
struct Read {
    version: String,
    updated: Option<i64>,
    value: SecretValue,
}

/// Reads one source: a vault secret's value, decoded as the source says, or a vault key's
/// public part in the source's format.
async fn read_source(
    ctx: &Context,
    access: &VaultAccess,
    source: &Source,
) -> Result<Read, SyncError> {
    if let Some(format) = source.public_key {
        let bundle = read_key(ctx, access, source).await?;
        let text = public_key::render(&bundle, format).map_err(|problem| SyncError::KeyFormat {
            name: source.name.clone(),
            source: problem,
        })?;
        return Ok(Read {
            version: bundle.version,
            updated: bundle.updated,
            value: SecretValue::new(text),
        });
    }
    let bundle = read_secret(ctx, access, source).await?;
    let value = decoding::decode(
        source.decoding,
        bundle.content_type.as_deref(),
        bundle.value,
    )
    .map_err(|problem| SyncError::Decode {
        key: source.key.clone(),
        name: source.name.clone(),
        source: problem,
    })?;
    Ok(Read {
        version: bundle.version,
        updated: bundle.updated,
        value,
    })
}

/// Reads one vault secret, with its audit line.
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

/// Reads one vault key's public part, with its audit line.
async fn read_key(
    ctx: &Context,
    access: &VaultAccess,
    source: &Source,
) -> Result<KeyBundle, SyncError> {
    let result = ctx
        .vault
        .get_key(access, &source.name, source.version.as_deref())
        .await;
    match &result {
        Ok(bundle) => steps::audit(access, &source.name, Some(&bundle.version), None),
        Err(err) => steps::audit(access, &source.name, source.version.as_deref(), Some(err)),
    }
    result.map_err(|source_error| SyncError::ReadKey {
        name: source.name.clone(),
        source: source_error,
    })
}

/// The values each source has now without reading the vault: what the last sync read when a
/// template built the Secret from them, else what the Secret holds (none when it is adopted or
/// absent).
async fn values_now(
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

#[cfg(test)]
mod tests;
