//! The VaultSecret kind: reads only what changed (listing-based change detection, values read
//! again only when their `updated` time moved) and builds one Secret from the values, one key
//! per source or shaped by the spec's template.

use std::collections::BTreeMap;

use futures::StreamExt;

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
use crate::feed::{Follow, Interest};
use crate::vault::{SecretValue, VaultAccess, VaultError};

mod known;
mod read;

use known::{Listings, key_listing, listing, split_kept_and_stale, values_now};
use read::read_source;

/// Most reads of one resource in flight at once.
const READS_AT_ONCE: usize = 4;

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
            keys: key_listing(self, ctx, plan, &start.access).await?,
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
            plan.force.is_some() || plan.reread(),
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
        // A few at a time: each request may wait for the vault's budget only so long, and a
        // resource with dozens of items sent all at once outwaited it under contention, failed,
        // and read everything again on its next attempt, never finishing.
        // Collected first: a lazy map over borrowed sources does not satisfy the Send bound
        // of the trait's boxed future.
        let reads: Vec<_> = to_fetch
            .iter()
            .map(|source| read_source(ctx, access, source))
            .collect();
        let fetched: Vec<_> = futures::stream::iter(reads)
            .buffered(READS_AT_ONCE)
            .collect()
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

#[cfg(test)]
mod tests;
