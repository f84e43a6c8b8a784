//! The VaultCertificate reconciler: reads certificate metadata on each refresh, reads and converts
//! the key and chain only when the version (or the spec, or the keystore password) changed, and
//! adds the certificate's facts, `ExpiringSoon` and `ChainValid` to the shared status.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, Resource};

use super::apply::apply;
use super::certificate_status::{chain_condition, expiring_condition, is_true};
use super::outcome::{finish, publish};
use super::pipeline::{self, Plan};
use super::status::{condition, differs, now_rfc3339, set_condition};
use super::{Context, SyncError, reason, requeue};
use crate::crd::{
    CertificateStatus, ConditionStatus, Synced, SyncedVersion, VaultCertificate,
    VaultCertificateSpec, VaultCertificateStatus,
};
use crate::desired::certificate::{
    self as cert, BUILD_ANNOTATION, TLS_CRT, TLS_SECRET_TYPE, reusable_data,
};
use crate::desired::secret::{DesiredSecret, desired_secret};
use crate::vault::{CertificateBundle, VaultAccess, VaultError};
use vaultsync_tls::{BackingFormat, ChainWarning, TlsBundle, TlsError};

/// Kind name used in keys, labels and metrics.
pub const KIND: &str = <VaultCertificate as Synced>::KIND;

/// What a successful attempt produced.
struct Attempt {
    desired: DesiredSecret,
    applied: super::apply::Applied,
    /// Set when the key and chain were read and converted in this attempt.
    converted: Option<Converted>,
}

/// Facts from a fresh conversion.
struct Converted {
    certificate: CertificateStatus,
    warnings: Vec<ChainWarning>,
}

/// Reconciles one VaultCertificate. Failures are reported through status and Events here; the
/// returned error only covers failing to write that status.
pub async fn reconcile(
    resource: Arc<VaultCertificate>,
    ctx: Arc<Context>,
) -> Result<Action, SyncError> {
    let plan = pipeline::plan(resource.as_ref(), &ctx);
    let previous = plan.previous.clone().unwrap_or_default();
    let renew_before = requeue::parse_interval(&resource.spec.renew_before)
        .unwrap_or(Duration::from_secs(30 * 86_400));
    let result = match plan.last_if_not_due() {
        Some(last) => pipeline::recheck(resource.as_ref(), &ctx, &plan.key, last)
            .await
            .map(|(desired, applied)| Attempt {
                desired,
                applied,
                converted: None,
            }),
        None => {
            let result = sync(&resource, &ctx, &plan, &previous).await;
            if result.is_err() {
                pipeline::restore_after_failure(resource.as_ref(), &ctx, &plan).await;
            }
            result
        }
    };
    let (result, converted) = match result {
        Ok(done) => (Ok((done.desired, done.applied)), done.converted),
        Err(err) => (Err(err), None),
    };
    let certificate = converted
        .as_ref()
        .map(|c| c.certificate.clone())
        .or_else(|| previous.certificate.clone());
    let now = jiff::Timestamp::now().as_second();
    let not_after = certificate.as_ref().and_then(cert::not_after_unix);
    let interval = cert::refresh_delay(plan.interval, now, not_after, renew_before);

    let (written, action) = finish(&ctx, plan.outcome(resource.as_ref(), interval), result).await;
    let must_write = written.is_some();
    let mut status = VaultCertificateStatus {
        sync: written.unwrap_or_else(|| previous.sync.clone()),
        certificate,
    };
    let reference = resource.object_ref(&());
    let generation = resource.metadata.generation;
    let now_text = now_rfc3339();
    if let (Some(facts), Some(not_after)) = (&status.certificate, not_after) {
        ctx.metrics
            .set_certificate_expiry(&plan.key.namespace, &plan.key.name, not_after);
        let soon = cert::expiring_soon(now, not_after, renew_before);
        let expiring = expiring_condition(facts, soon, &resource.spec.renew_before);
        let was_soon = is_true(&previous.sync.conditions, reason::EXPIRING_SOON);
        set_condition(
            &mut status.sync.conditions,
            condition(
                &previous.sync.conditions,
                reason::EXPIRING_SOON,
                expiring.0,
                expiring.1,
                &expiring.2,
                generation,
                &now_text,
            ),
        );
        if soon && was_soon != Some(true) {
            publish(
                &ctx,
                &reference,
                EventType::Warning,
                expiring.1,
                &expiring.2,
            )
            .await;
        } else if !soon && was_soon == Some(true) {
            let note = format!("certificate renewed: {}", expiring.2);
            publish(
                &ctx,
                &reference,
                EventType::Normal,
                reason::CERTIFICATE_RENEWED,
                &note,
            )
            .await;
        }
    }
    if let Some(converted) = &converted {
        let (state, why, message) = chain_condition(&converted.warnings);
        let was_valid = is_true(&previous.sync.conditions, reason::CHAIN_VALID);
        set_condition(
            &mut status.sync.conditions,
            condition(
                &previous.sync.conditions,
                reason::CHAIN_VALID,
                state,
                why,
                &message,
                generation,
                &now_text,
            ),
        );
        if state == ConditionStatus::False && was_valid != Some(false) {
            publish(&ctx, &reference, EventType::Warning, why, &message).await;
        }
    }

    let changed = must_write
        || differs(Some(&previous.sync), &status.sync)
        || previous.certificate != status.certificate;
    if changed {
        pipeline::write_status::<VaultCertificate>(&ctx, &plan.key, status).await?;
    }
    Ok(action)
}

/// Reads the certificate's metadata; reads and converts its key and chain only when something
/// that shapes the Secret changed; applies.
async fn sync(
    resource: &VaultCertificate,
    ctx: &Context,
    plan: &Plan<VaultCertificate>,
    previous: &VaultCertificateStatus,
) -> Result<Attempt, SyncError> {
    let spec = &resource.spec;
    let key = &plan.key;
    let start = pipeline::start(resource, ctx, key).await?;
    let access = &start.access;
    let name = &spec.certificate.name;
    let version = spec.certificate.version.as_deref();
    let found = ctx.vault.get_certificate(access, name, version).await;
    pipeline::audit(
        access,
        &format!("certificate/{name}"),
        found.as_ref().map(|c| c.version.as_str()).ok().or(version),
        found.as_ref().err(),
    );
    let found = found.map_err(SyncError::CertificateRead)?;
    if !found.enabled {
        return Err(SyncError::CertificateRead(VaultError::Disabled {
            object: format!("certificate {name}"),
        }));
    }
    let password = keystore_password(ctx, resource).await?;
    let stamp = cert::build_stamp(
        &found.version,
        spec,
        password.as_ref().map(|p| p.version.as_str()),
    );
    let mut target = spec.target.clone();
    target
        .annotations
        .insert(BUILD_ANNOTATION.to_string(), stamp.clone());
    let owner = pipeline::owner::<VaultCertificate>(key);
    let secret_name = resource.target_name();
    let versions = vec![SyncedVersion {
        key: TLS_CRT.to_string(),
        name: found.name.clone(),
        version: found.version.clone(),
        updated: found.updated,
    }];
    let now = jiff::Timestamp::now().as_second();

    let current = start.existing.as_ref().filter(|_| !start.adopt);
    // The status facts must describe this version too, or they are rebuilt from the key and chain.
    let facts_current = previous
        .certificate
        .as_ref()
        .is_some_and(|c| c.version == found.version);
    let reused = current
        .filter(|_| facts_current)
        .and_then(|secret| reusable_data(secret, &stamp, plan.force.is_some()));
    let (data, converted) = match reused {
        Some(data) => {
            // Same build: the Secret already holds this certificate. It may have expired since
            // it was written; the Secret keeps it, the status says so.
            if let Some(not_after) = previous.certificate.as_ref().and_then(cert::not_after_unix)
                && now > not_after
            {
                return Err(TlsError::Expired {
                    not_after_unix: not_after,
                }
                .into());
            }
            (data, None)
        }
        None => {
            let password = password.map(|p| p.value);
            let bundle = read_and_convert(ctx, access, &found, spec, now, password).await?;
            let keystore_key = spec.output.pkcs12.as_ref().map(|p| p.key.as_str());
            let converted = Converted {
                certificate: cert::certificate_status(&bundle.info, &found.version),
                warnings: bundle.warnings.clone(),
            };
            (cert::tls_data(&bundle, keystore_key), Some(converted))
        }
    };
    let desired = desired_secret(
        &owner,
        &target,
        &secret_name,
        TLS_SECRET_TYPE,
        data,
        versions,
    );
    let applied = apply(
        &ctx.client,
        &key.namespace,
        &desired,
        start.existing.as_ref(),
        start.adopt,
    )
    .await?;
    Ok(Attempt {
        desired,
        applied,
        converted,
    })
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
    pipeline::audit(
        access,
        &found.secret_name,
        Some(&found.secret_version),
        backing.as_ref().err(),
    );
    let backing = backing.map_err(SyncError::CertificateRead)?;
    let format = backing
        .content_type
        .as_deref()
        .and_then(BackingFormat::from_content_type)
        .ok_or_else(|| SyncError::CertificateFormat(backing.content_type.clone()))?;
    let text = backing
        .value
        .expose_str()
        .ok_or_else(|| SyncError::CertificateFormat(backing.content_type.clone()))?;
    let options = cert::convert_options(spec, now, password);
    Ok(vaultsync_tls::convert(text, format, &options)?)
}

/// The keystore password and the version of the Secret holding it.
struct Password {
    value: String,
    version: String,
}

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
        .map_err(|source| SyncError::Kubernetes {
            action: "read the keystore password Secret",
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
