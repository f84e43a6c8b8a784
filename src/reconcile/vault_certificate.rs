//! The VaultCertificate kind: reads certificate metadata on each refresh, reads and converts the
//! key and chain only when the version (or the spec, or the keystore password) changed, and
//! reports the certificate's facts, `ExpiringSoon` and `ChainValid` (see
//! [`super::certificate_report`]).

use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use super::apply::apply;
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
use crate::desired::certificate::{
    self as cert, BUILD_ANNOTATION, TLS_CRT, TLS_SECRET_TYPE, reusable_data,
};
use crate::desired::secret::{DesiredSecret, desired_secret};
use crate::vault::{CertificateBundle, VaultAccess, VaultError};
use vaultsync_tls::{BackingFormat, TlsBundle, TlsError};

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
        let start = steps::start(self, ctx, &plan.key).await?;
        let found = read_certificate(ctx, &start.access, &self.spec).await?;
        let password = keystore_password(ctx, self).await?;
        let stamp = cert::build_stamp(
            &found.version,
            &self.spec,
            password.as_ref().map(|p| p.version.as_str()),
        );
        let previous = plan.previous.clone().unwrap_or_default();
        let current = match start.existing.as_ref().filter(|_| !start.adopt) {
            Some(existing) => {
                let last = plan.entry.last_desired.as_ref();
                Some(steps::with_values(ctx, &plan.key.namespace, existing, last).await?)
            }
            None => None,
        };
        let (data, learned) = match reusable(current.as_ref(), &previous, &found, &stamp, plan)? {
            Some(data) => (data, None),
            None => {
                let password = password.map(|p| p.value);
                let bundle = read_and_convert(
                    ctx,
                    &start.access,
                    &found,
                    &self.spec,
                    plan.now.unix,
                    password,
                )
                .await?;
                let keystore_key = self.spec.output.pkcs12.as_ref().map(|p| p.key.as_str());
                let converted = Converted {
                    certificate: cert::certificate_status(&bundle.info, &found.version),
                    warnings: bundle.warnings.clone(),
                };
                (cert::tls_data(&bundle, keystore_key), Some(converted))
            }
        };
        let desired = self.desired(plan, &found, &stamp, data);
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
            learned,
        })
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
    ) -> DesiredSecret {
        let mut target = self.spec.target.clone();
        target
            .annotations
            .insert(BUILD_ANNOTATION.to_string(), stamp.to_string());
        let versions = vec![SyncedVersion {
            key: TLS_CRT.to_string(),
            name: found.name.clone(),
            version: found.version.clone(),
            updated: found.updated,
        }];
        let owner = steps::owner::<VaultCertificate>(&plan.key);
        desired_secret(
            &owner,
            &target,
            &self.target_name(),
            TLS_SECRET_TYPE,
            data,
            versions,
        )
    }
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
    plan: &Plan<VaultCertificate>,
) -> Result<Option<std::collections::BTreeMap<String, crate::vault::SecretValue>>, SyncError> {
    let facts_current = previous
        .certificate
        .as_ref()
        .is_some_and(|c| c.version == found.version);
    let reused = current
        .filter(|_| facts_current)
        .and_then(|secret| reusable_data(secret, stamp, plan.force.is_some()));
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

/// Reads the certificate's backing secret (key and chain) and converts it to TLS files.
async fn read_and_convert(
    ctx: &Context,
    access: &VaultAccess,
    found: &CertificateBundle,
    spec: &VaultCertificateSpec,
    now: i64,
    password: Option<String>,
) -> Result<TlsBundle, SyncError> {
    let backing = ctx
        .vault
        .get_secret(access, &found.secret_name, Some(&found.secret_version))
        .await;
    steps::audit(
        access,
        &found.secret_name,
        Some(&found.secret_version),
        backing.as_ref().err(),
    );
    let backing = backing.map_err(|source| SyncError::ReadCertificateKey {
        name: found.name.clone(),
        source,
    })?;
    let format = backing
        .content_type
        .as_deref()
        .and_then(BackingFormat::from_content_type)
        .ok_or_else(|| SyncError::CertificateFormat(backing.content_type.clone()))?;
    if backing.value.expose_str().is_none() {
        return Err(SyncError::CertificateFormat(backing.content_type.clone()));
    }
    let options = cert::convert_options(spec, now, password);
    convert_off_the_workers(backing.value, format, options).await
}

/// Conversions running at once: parsing and key derivation are CPU work a hostile vault can
/// make expensive, so only a few threads ever do it.
static CONVERSIONS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
/// Longest the operator waits for one conversion.
const CONVERSION_TIMEOUT: Duration = Duration::from_secs(10);

/// Converts on a blocking thread, so the async workers (and with them the leader Lease renewal)
/// never wait for it; at most [`CONVERSIONS`] at once, each waited for at most
/// [`CONVERSION_TIMEOUT`].
async fn convert_off_the_workers(
    value: crate::vault::SecretValue,
    format: BackingFormat,
    options: vaultsync_tls::ConvertOptions,
) -> Result<TlsBundle, SyncError> {
    let permit = CONVERSIONS
        .acquire()
        .await
        .map_err(|_| SyncError::ConversionTimedOut(CONVERSION_TIMEOUT))?;
    let conversion = tokio::task::spawn_blocking(move || {
        // Held until the work ends, even when the caller stopped waiting for it.
        let _permit = permit;
        let text = value.expose_str().unwrap_or_default();
        vaultsync_tls::convert(text, format, &options)
    });
    match tokio::time::timeout(CONVERSION_TIMEOUT, conversion).await {
        Ok(Ok(converted)) => Ok(converted?),
        Ok(Err(_)) | Err(_) => Err(SyncError::ConversionTimedOut(CONVERSION_TIMEOUT)),
    }
}

/// The keystore password and the version of the Secret holding it.
struct Password {
    value: String,
    version: String,
}

/// The keystore password named by `output.pkcs12`, if any.
async fn keystore_password(
    ctx: &Context,
    resource: &VaultCertificate,
) -> Result<Option<Password>, SyncError> {
    let Some(pkcs12) = &resource.spec.output.pkcs12 else {
        return Ok(None);
    };
    let reference = &pkcs12.password_secret_ref;
    let namespace = resource.metadata.namespace.clone().unwrap_or_default();
    let secret = Api::<Secret>::namespaced(ctx.client.clone(), &namespace)
        .get_opt(&reference.name)
        .await
        .map_err(|source| SyncError::ReadKeystorePassword {
            name: reference.name.clone(),
            source,
        })?
        .ok_or_else(|| {
            SyncError::KeystorePassword(format!(
                "Secret {namespace}/{} named in output.pkcs12.passwordSecretRef does not exist",
                reference.name
            ))
        })?;
    let value = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&reference.key))
        .ok_or_else(|| {
            SyncError::KeystorePassword(format!(
                "Secret {namespace}/{} has no key {}",
                reference.name, reference.key
            ))
        })?;
    let value = String::from_utf8(value.0.clone()).map_err(|_| {
        SyncError::KeystorePassword(format!(
            "key {} of Secret {namespace}/{} is not UTF-8 text",
            reference.key, reference.name
        ))
    })?;
    let version = format!(
        "{}/{}",
        secret.metadata.uid.unwrap_or_default(),
        secret.metadata.resource_version.unwrap_or_default()
    );
    Ok(Some(Password { value, version }))
}
