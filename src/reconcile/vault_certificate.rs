//! The VaultCertificate reconciler: reads certificate metadata on each refresh, reads and converts
//! the key and chain only when the version (or the spec, or the keystore password) changed, and
//! adds the certificate's facts, `ExpiringSoon` and `ChainValid` to the shared status.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, Resource};

use super::apply::apply;
use super::outcome::{finish, publish};
use super::pipeline::{self, Plan};
use super::status::{condition, differs, now_rfc3339, set_condition};
use super::{Context, SyncError, reason, requeue};
use crate::crd::{
    CertificateStatus, ConditionStatus, Synced, SyncedVersion, VaultCertificate,
    VaultCertificateStatus,
};
use crate::desired::certificate::{self as cert, TLS_CRT, TLS_KEY, TLS_SECRET_TYPE};
use crate::desired::secret::{DesiredSecret, desired_secret};
use crate::vault::{SecretValue, VaultError};
use vaultsync_tls::{BackingFormat, ChainWarning, TlsError};

/// Kind name used in keys, labels and metrics.
pub const KIND: &str = <VaultCertificate as Synced>::KIND;
/// Annotation on the Secret naming the keystore password Secret's version it was built with, so
/// a password change rebuilds the keystore. Never the password itself.
pub const KEYSTORE_PASSWORD_VERSION_ANNOTATION: &str = "vaultsync.dev/keystore-password-version";

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
        None => sync(&resource, &ctx, &plan, &previous).await,
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
    let password_version = password.as_ref().map(|p| p.version.clone());
    let mut target = spec.target.clone();
    if let Some(version) = &password_version {
        target.annotations.insert(
            KEYSTORE_PASSWORD_VERSION_ANNOTATION.to_string(),
            version.clone(),
        );
    }
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
    if let Some(data) = current.and_then(|secret| {
        reusable_data(
            secret,
            previous,
            &found.version,
            resource.metadata.generation,
            password_version.as_deref(),
            plan.force.is_some(),
        )
    }) {
        // Same version, same spec: the Secret already holds this certificate. It may have
        // expired since it was written; the Secret keeps it, the status says so.
        if let Some(not_after) = previous.certificate.as_ref().and_then(cert::not_after_unix)
            && now > not_after
        {
            return Err(TlsError::Expired {
                not_after_unix: not_after,
            }
            .into());
        }
        let desired = desired_secret(
            &owner,
            &target,
            &secret_name,
            TLS_SECRET_TYPE,
            data,
            versions,
        );
        let applied = apply(&ctx.client, &key.namespace, &desired, current, false).await?;
        return Ok(Attempt {
            desired,
            applied,
            converted: None,
        });
    }

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
    let options = cert::convert_options(spec, now, password.map(|p| p.value));
    let bundle = vaultsync_tls::convert(text, format, &options)?;
    let keystore_key = spec.output.pkcs12.as_ref().map(|p| p.key.as_str());
    let data = cert::tls_data(&bundle, keystore_key);
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
        converted: Some(Converted {
            certificate: cert::certificate_status(&bundle.info, &found.version),
            warnings: bundle.warnings.clone(),
        }),
    })
}

/// The Secret's data when it already holds version `version` built from the same spec and
/// keystore password; `None` when the key and chain must be read again.
fn reusable_data(
    secret: &Secret,
    previous: &VaultCertificateStatus,
    version: &str,
    generation: Option<i64>,
    password_version: Option<&str>,
    force: bool,
) -> Option<BTreeMap<String, SecretValue>> {
    let same_version = previous.certificate.as_ref().map(|c| c.version.as_str()) == Some(version);
    let same_spec = previous.sync.observed_generation == generation;
    let recorded_password = secret
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(KEYSTORE_PASSWORD_VERSION_ANNOTATION))
        .map(String::as_str);
    if force || !same_version || !same_spec || recorded_password != password_version {
        return None;
    }
    let data = secret.data.as_ref()?;
    if !data.contains_key(TLS_CRT) || !data.contains_key(TLS_KEY) {
        return None;
    }
    Some(
        data.iter()
            .map(|(k, v)| (k.clone(), SecretValue::new(v.0.clone())))
            .collect(),
    )
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

/// Status, reason and message of the ExpiringSoon condition.
fn expiring_condition(
    facts: &CertificateStatus,
    soon: bool,
    renew_before: &str,
) -> (ConditionStatus, &'static str, String) {
    if soon {
        (
            ConditionStatus::True,
            reason::CERTIFICATE_EXPIRING_SOON,
            format!(
                "certificate {} (version {}) expires at {}, within renewBefore {renew_before}; renew it in the vault and vaultsync picks up the new version at the next refresh",
                facts.subject, facts.version, facts.not_after
            ),
        )
    } else {
        (
            ConditionStatus::False,
            reason::CERTIFICATE_VALID,
            format!(
                "certificate {} (version {}) expires at {}, more than renewBefore {renew_before} away",
                facts.subject, facts.version, facts.not_after
            ),
        )
    }
}

/// Status, reason and message of the ChainValid condition.
fn chain_condition(warnings: &[ChainWarning]) -> (ConditionStatus, &'static str, String) {
    match warnings.first() {
        None => (
            ConditionStatus::True,
            reason::CHAIN_COMPLETE,
            "the chain links from the leaf to a self-signed root, signature by signature".into(),
        ),
        Some(first) => (
            ConditionStatus::False,
            first.reason(),
            format!(
                "{}; the Secret holds the certificates that verified",
                warnings
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ),
    }
}

fn is_true(conditions: &[crate::crd::Condition], type_: &str) -> Option<bool> {
    conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status == ConditionStatus::True)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn secret(keys: &[&str], password_version: Option<&str>) -> Secret {
        Secret {
            metadata: ObjectMeta {
                annotations: password_version.map(|v| {
                    [(
                        KEYSTORE_PASSWORD_VERSION_ANNOTATION.to_string(),
                        v.to_string(),
                    )]
                    .into()
                }),
                ..Default::default()
            },
            data: Some(
                keys.iter()
                    .map(|k| (k.to_string(), ByteString(b"x".to_vec())))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    fn status(version: &str, generation: i64) -> VaultCertificateStatus {
        VaultCertificateStatus {
            sync: crate::crd::SyncStatus {
                observed_generation: Some(generation),
                ..Default::default()
            },
            certificate: Some(CertificateStatus {
                version: version.into(),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn data_is_reused_only_when_nothing_that_shapes_it_changed() {
        let full = secret(&[TLS_CRT, TLS_KEY], None);
        let prev = status("v1", 2);
        assert!(reusable_data(&full, &prev, "v1", Some(2), None, false).is_some());
        assert!(reusable_data(&full, &prev, "v2", Some(2), None, false).is_none());
        assert!(reusable_data(&full, &prev, "v1", Some(3), None, false).is_none());
        assert!(reusable_data(&full, &prev, "v1", Some(2), None, true).is_none());
        assert!(reusable_data(&full, &prev, "v1", Some(2), Some("p1"), false).is_none());
        let partial = secret(&[TLS_CRT], None);
        assert!(reusable_data(&partial, &prev, "v1", Some(2), None, false).is_none());
        let with_password = secret(&[TLS_CRT, TLS_KEY], Some("p1"));
        assert!(reusable_data(&with_password, &prev, "v1", Some(2), Some("p1"), false).is_some());
        assert!(reusable_data(&with_password, &prev, "v1", Some(2), Some("p2"), false).is_none());
    }

    #[test]
    fn chain_warnings_make_a_false_condition_with_the_first_reason() {
        let (state, why, _) = chain_condition(&[]);
        assert_eq!(
            (state, why),
            (ConditionStatus::True, reason::CHAIN_COMPLETE)
        );
        let (state, why, message) = chain_condition(&[ChainWarning::ChainIncomplete {
            missing_issuer: "CN=Root".into(),
        }]);
        assert_eq!((state, why), (ConditionStatus::False, "ChainIncomplete"));
        assert!(message.contains("CN=Root"));
    }
}
