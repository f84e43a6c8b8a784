//! The VaultSecret kind: reads only what changed (listing-based change detection, values read
//! again only when their `updated` time moved) and builds one Opaque Secret.

use std::collections::BTreeMap;

use futures::future::join_all;
use k8s_openapi::api::core::v1::Secret;

use super::apply::apply;
use super::clock::Now;
use super::kind::{Extension, Kind, Written};
use super::plan::Plan;
use super::reason;
use super::report::Note;
use super::{Context, SyncError, steps};
use crate::crd::{SyncStatus, Synced, SyncedVersion, VaultRemovalPolicy, VaultSecret};
use crate::desired::secret::desired_secret;
use crate::desired::select::{self, Source};
use crate::vault::{SecretBundle, SecretProperties, SecretValue, VaultAccess, VaultError};

#[async_trait::async_trait]
impl Kind for VaultSecret {
    type Learned = Vec<RemovedKey>;

    async fn sync(
        &self,
        ctx: &Context,
        plan: &Plan<Self>,
    ) -> Result<Written<Vec<RemovedKey>>, SyncError> {
        let start = steps::start(self, ctx, &plan.key).await?;
        let listing = listing_if_useful(self, ctx, &start.access).await?;
        let sources = select::sources(&self.spec, listing.as_deref().map(Vec::as_slice))
            .map_err(SyncError::InvalidSpec)?;
        let current = values_now(ctx, plan, &start).await?;
        let previous = plan.previous.as_ref();
        let (mut gathered, to_fetch) = split_kept_and_stale(
            &sources,
            listing.as_deref().map(Vec::as_slice),
            previous,
            &current,
            plan.force.is_some(),
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
}

impl Gathered {
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
                .map(|source| read_secret(ctx, access, source)),
        )
        .await;
        for (source, result) in to_fetch.iter().zip(fetched) {
            let bundle = match result {
                Ok(bundle) => bundle,
                Err(err) if policy == VaultRemovalPolicy::Remove && removed_in_vault(&err) => {
                    // Said once, when the key leaves the Secret; later refreshes skip it quietly.
                    if current.contains_key(&source.key) {
                        self.removed.push(RemovedKey::of(source));
                    }
                    continue;
                }
                Err(err) => return Err(err),
            };
            self.versions.push(SyncedVersion {
                key: source.key.clone(),
                name: source.name.clone(),
                version: bundle.version.clone(),
                updated: bundle.updated,
            });
            self.data.insert(source.key.clone(), bundle.value);
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
        let desired = desired_secret(
            &owner,
            &resource.spec.target,
            &resource.target_name(),
            "Opaque",
            self.data,
            self.versions,
        );
        let existing = start.existing.as_ref();
        let namespace = &plan.key.namespace;
        let applied = apply(&ctx.client, namespace, &desired, existing, start.adopt).await?;
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
            if sources.iter().any(|s| s.key == recorded.key) {
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
) -> (Gathered, Vec<&'a Source>) {
    let recorded: BTreeMap<&str, &SyncedVersion> = previous
        .map(|s| s.versions.iter().map(|v| (v.key.as_str(), v)).collect())
        .unwrap_or_default();
    let mut kept = Gathered::default();
    let mut to_fetch = Vec::new();
    for source in sources {
        let listed =
            listing.and_then(|l| l.iter().find(|p| p.name.eq_ignore_ascii_case(&source.name)));
        let recorded = recorded.get(source.key.as_str()).copied();
        let value = current.get(&source.key);
        if select::needs_fetch(source, listed, recorded, value.is_some(), force) {
            to_fetch.push(source);
        } else if let (Some(value), Some(recorded)) = (value, recorded) {
            kept.data.insert(source.key.clone(), value.clone());
            kept.versions.push(recorded.clone());
        }
    }
    (kept, to_fetch)
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

/// The values this resource's Secret holds now (none when it is adopted or absent).
async fn values_now(
    ctx: &Context,
    plan: &Plan<VaultSecret>,
    start: &steps::Start,
) -> Result<BTreeMap<String, SecretValue>, SyncError> {
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
