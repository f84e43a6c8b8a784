//! The VaultCertificate kind: reads certificate metadata on each refresh, reads and converts the
//! key and chain only when the version (or the spec, or the keystore password) changed, and
//! reports the certificate's facts, `ExpiringSoon` and `ChainValid` (see
//! [`super::certificate_report`]).

use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;

use super::certificate_report::{CertificateReport, Converted};
use super::clock::Now;
use super::kind::{Extension, Kind, Refresh, Written};
use super::plan::Plan;
use super::steps;
use super::{Context, SyncError};
use crate::crd::{
    SyncStatus, Synced, SyncedVersion, VaultCertificate, VaultCertificateSpec,
    VaultCertificateStatus,
};
use crate::desired::certificate::{self as cert, BUILD_ANNOTATION, reusable_data};
use crate::desired::content_key::ContentKey;
use crate::desired::secret::{DesiredSecret, desired_secret};
use crate::feed::{Follow, Interest, Need};
use crate::vault::{
    CertificateBundle, CertificateProperties, SecretBundle, VaultAccess, VaultError,
};
use vaultsync_tls::{TlsBundle, TlsError};

mod attempt;
mod conversion;
mod password;

use attempt::Attempt;

#[async_trait::async_trait]
impl Kind for VaultCertificate {
    type Learned = Converted;

    fn spec_problem(&self) -> Option<String> {
        self.spec
            .renew_before
            .get()
            .err()
            .map(|problem| format!("renewBefore: {problem}"))
    }

    async fn sync(
        &self,
        ctx: &Context,
        plan: &Plan<Self>,
    ) -> Result<Written<Converted>, SyncError> {
        let attempt = Attempt::begin(self, ctx, plan).await?;
        if let Some(written) = attempt.unchanged().await? {
            return Ok(written);
        }
        if let Some(written) = attempt.first_from_listing().await? {
            return Ok(written);
        }
        attempt.read().await
    }

    fn refresh(
        &self,
        interval: Duration,
        previous: &VaultCertificateStatus,
        learned: Option<&Converted>,
        now: Now,
    ) -> Refresh {
        let facts = learned
            .map(|c| &c.certificate)
            .or(previous.certificate.as_ref());
        let not_after = facts.and_then(cert::not_after_unix);
        let deadline = cert::refresh_delay(interval, now.unix, not_after, self.renew_before());
        if deadline < interval {
            Refresh::Exact(deadline)
        } else {
            Refresh::Spread(interval)
        }
    }

    fn extend(
        &self,
        sync: SyncStatus,
        previous: &VaultCertificateStatus,
        learned: Option<&Converted>,
        now: Now,
    ) -> Extension<VaultCertificateStatus> {
        CertificateReport {
            renew_before: (self.spec.renew_before.as_str(), self.renew_before()),
            generation: self.metadata.generation,
            previous,
            converted: learned,
            now,
        }
        .extend(sync)
    }
}

impl VaultCertificate {
    /// What the change feed watches for this resource: its certificate, unless pinned.
    fn interest(&self, plan: &Plan<Self>) -> Interest {
        let reference = &self.spec.certificate;
        let followed = reference
            .version
            .is_none()
            .then_some(reference.name.as_str());
        Interest {
            interval: plan.interval.clone().unwrap_or_default(),
            secrets: Follow::default(),
            certificates: Follow::names(followed),
            keys: Follow::default(),
        }
    }

    /// The certificate version last synced, when the vault cannot have moved since: pinned, or
    /// following the latest and the change feed's listing shows it as synced. `None` when only
    /// a read can tell (no listing, changed, forced, or never synced).
    async fn unchanged(
        &self,
        ctx: &Context,
        access: &VaultAccess,
        previous: &VaultCertificateStatus,
        plan: &Plan<Self>,
    ) -> Result<Option<CertificateBundle>, SyncError> {
        let reference = &self.spec.certificate;
        let Some(recorded) = previous
            .sync
            .versions
            .iter()
            .find(|v| v.name.eq_ignore_ascii_case(&reference.name))
            .filter(|_| plan.force.is_none() && !plan.reread())
        else {
            return Ok(None);
        };
        let current = match &reference.version {
            Some(pinned) => pinned == &recorded.version,
            None => {
                let listing = ctx
                    .feed
                    .certificates(access, Need::IfCheaper)
                    .await
                    .map_err(|source| SyncError::ReadCertificate {
                        name: reference.name.clone(),
                        source,
                    })?;
                listing.is_some_and(|l| match l.pushed_version(&reference.name) {
                    // Pushed since the listing: the listing cannot tell yet, the synced
                    // version can (a second delivery of one rotation reads nothing).
                    Some(pushed) => pushed == recorded.version,
                    None => l.find(&reference.name).is_some_and(|c| {
                        c.enabled && c.updated.is_some() && c.updated == recorded.updated
                    }),
                })
            }
        };
        Ok(current.then(|| CertificateBundle {
            name: recorded.name.clone(),
            version: recorded.version.clone(),
            // Only a conversion needs the backing secret, and a conversion reads afresh.
            secret_name: String::new(),
            secret_version: String::new(),
            enabled: true,
            updated: recorded.updated,
        }))
    }

    /// The listed certificate when this resource never synced, follows the latest version and
    /// the change feed's listing shows it enabled; `None` when the metadata must be read.
    async fn listed_first_sync(
        &self,
        ctx: &Context,
        access: &VaultAccess,
        previous: &VaultCertificateStatus,
    ) -> Result<Option<CertificateProperties>, SyncError> {
        let reference = &self.spec.certificate;
        if reference.version.is_some() || !previous.sync.versions.is_empty() {
            return Ok(None);
        }
        let listing = ctx
            .feed
            .certificates(access, Need::IfCheaper)
            .await
            .map_err(|source| SyncError::ReadCertificate {
                name: reference.name.clone(),
                source,
            })?;
        Ok(listing.and_then(|l| {
            // A version pushed since the listing is not the one it describes.
            if l.pushed_version(&reference.name).is_some() {
                return None;
            }
            l.find(&reference.name)
                .filter(|c| c.enabled && c.updated.is_some())
                .cloned()
        }))
    }

    /// Writes the TLS Secret built from a converted `bundle`.
    async fn write_converted(
        &self,
        ctx: &Context,
        plan: &Plan<Self>,
        start: &steps::Start,
        found: &CertificateBundle,
        stamp: &str,
        bundle: &TlsBundle,
    ) -> Result<Written<Converted>, SyncError> {
        let converted = Converted {
            certificate: cert::certificate_status(&bundle.info, &found.version),
            warnings: bundle.warnings.clone(),
        };
        let data = cert::secret_data(&self.spec, bundle);
        self.write(ctx, plan, start, found, stamp, data, Some(converted))
            .await
    }

    /// Builds the TLS Secret and applies it.
    #[allow(clippy::too_many_arguments)]
    async fn write(
        &self,
        ctx: &Context,
        plan: &Plan<Self>,
        start: &steps::Start,
        found: &CertificateBundle,
        stamp: &str,
        data: std::collections::BTreeMap<String, crate::vault::SecretValue>,
        learned: Option<Converted>,
    ) -> Result<Written<Converted>, SyncError> {
        let desired = self.desired(plan, found, stamp, data, &ctx.settings.content_key);
        let applied = steps::write_target(self, ctx, &plan.key.namespace, &desired, start).await?;
        Ok(Written {
            desired,
            applied,
            learned,
        })
    }

    /// `renewBefore`; an unusable value stops the reconcile earlier ([`Kind::spec_problem`]).
    fn renew_before(&self) -> Duration {
        self.spec.renew_before.get().unwrap_or_default()
    }

    /// The TLS Secret holding `data`, stamped with what it was built from.
    fn desired(
        &self,
        plan: &Plan<Self>,
        found: &CertificateBundle,
        stamp: &str,
        data: std::collections::BTreeMap<String, crate::vault::SecretValue>,
        content_key: &ContentKey,
    ) -> DesiredSecret {
        let mut target = self.spec.target.clone();
        target
            .annotations
            .insert(BUILD_ANNOTATION.to_string(), stamp.to_string());
        let versions = vec![SyncedVersion {
            key: cert::version_key(&self.spec).to_string(),
            name: found.name.clone(),
            version: found.version.clone(),
            updated: found.updated,
            decoding: Default::default(),
            public_key: None,
        }];
        let owner = steps::owner::<VaultCertificate>(&plan.key);
        let mut desired = desired_secret(
            &owner,
            &target,
            &self.target_name(),
            cert::default_type(&self.spec),
            data,
            versions,
            content_key,
        );
        desired.object = self.target_object();
        desired
    }
}

/// Notes whether `found` was read within the second its version was written: a later version of
/// the same second would look unchanged in listings (see `Entry::reread`).
fn note_reread(ctx: &Context, plan: &Plan<VaultCertificate>, found: &CertificateBundle) {
    let reread = found.updated.is_some_and(|u| u >= plan.now.unix);
    ctx.schedule
        .update(&plan.key, |entry| entry.reread = reread);
}

/// Reads the certificate's metadata (never its key), with its audit line; a disabled certificate
/// is an error.
async fn read_certificate(
    ctx: &Context,
    access: &VaultAccess,
    spec: &VaultCertificateSpec,
) -> Result<CertificateBundle, SyncError> {
    let name = &spec.certificate.name;
    let version = spec.certificate.version.as_deref();
    let found = ctx.vault.get_certificate(access, name, version).await;
    steps::audit(
        access,
        &format!("certificate/{name}"),
        found.as_ref().map(|c| c.version.as_str()).ok().or(version),
        found.as_ref().err(),
    );
    let failed = |source| SyncError::ReadCertificate {
        name: name.clone(),
        source,
    };
    let found = found.map_err(failed)?;
    if !found.enabled {
        return Err(failed(VaultError::Disabled));
    }
    Ok(found)
}

/// The Secret's data when it already holds this build of this certificate, untouched, and the
/// status facts describe this version too; `None` when the key and chain must be read again.
fn reusable(
    current: Option<&Secret>,
    previous: &VaultCertificateStatus,
    found: &CertificateBundle,
    stamp: &str,
    required: &[&str],
    plan: &Plan<VaultCertificate>,
    ctx: &Context,
) -> Result<Option<std::collections::BTreeMap<String, crate::vault::SecretValue>>, SyncError> {
    let facts_current = previous
        .certificate
        .as_ref()
        .is_some_and(|c| c.version == found.version);
    let reused = current.filter(|_| facts_current).and_then(|secret| {
        reusable_data(
            secret,
            stamp,
            required,
            plan.force.is_some(),
            &ctx.settings.content_key,
        )
    });
    // Same build: the Secret already holds this certificate. It may have expired since it was
    // written; the Secret keeps it, the status says so.
    if reused.is_some()
        && let Some(not_after) = previous.certificate.as_ref().and_then(cert::not_after_unix)
        && plan.now.unix > not_after
    {
        return Err(TlsError::Expired {
            not_after_unix: not_after,
        }
        .into());
    }
    Ok(reused)
}

/// Reads the certificate's backing secret (key and chain): `version`, or the latest (whose version
/// then is the certificate's latest).
async fn read_backing(
    ctx: &Context,
    access: &VaultAccess,
    secret_name: &str,
    version: Option<&str>,
    certificate: &str,
) -> Result<SecretBundle, SyncError> {
    let backing = ctx.vault.get_secret(access, secret_name, version).await;
    steps::audit(
        access,
        secret_name,
        backing
            .as_ref()
            .map(|b| b.version.as_str())
            .ok()
            .or(version),
        backing.as_ref().err(),
    );
    backing.map_err(|source| SyncError::ReadCertificateKey {
        name: certificate.to_string(),
        source,
    })
}
