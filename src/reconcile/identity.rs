//! Resolve step: the resource's ServiceAccount → the workload identity that reads the vault.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Api;

use super::SyncError;
use crate::vault::Identity;

/// Annotation naming the Entra application (client) id, as AKS workload identity defines it.
pub const CLIENT_ID_ANNOTATION: &str = "azure.workload.identity/client-id";
/// Annotation naming the Entra tenant id.
pub const TENANT_ID_ANNOTATION: &str = "azure.workload.identity/tenant-id";

/// Reads `namespace/service_account` and builds its identity. Only the resource's own namespace
/// is ever consulted, so one namespace can never read as another's identity.
pub async fn resolve_identity(
    client: &kube::Client,
    namespace: &str,
    service_account: &str,
    default_tenant: Option<&str>,
) -> Result<Identity, SyncError> {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let account = accounts
        .get_opt(service_account)
        .await
        .map_err(|source| SyncError::ReadServiceAccount {
            namespace: namespace.to_string(),
            name: service_account.to_string(),
            source,
        })?
        .ok_or_else(|| SyncError::ServiceAccountNotFound {
            namespace: namespace.to_string(),
            name: service_account.to_string(),
        })?;
    identity_from(&account, namespace, service_account, default_tenant)
}

/// How long a resolved identity serves before its ServiceAccount is read again: every resource
/// of a namespace shares few ServiceAccounts, and a storm of first syncs or refreshes would
/// otherwise read the same one thousands of times. An annotation edit takes effect within it.
const IDENTITY_TTL: Duration = Duration::from_secs(10);

/// Identities resolved within [`IDENTITY_TTL`], by namespace and ServiceAccount. Only successes
/// are kept: a missing ServiceAccount or annotation is looked up again at once.
#[derive(Default)]
pub struct IdentityCache {
    resolved: Mutex<HashMap<(String, String), (Instant, Identity)>>,
}

impl IdentityCache {
    /// The identity of `namespace/service_account`, from the cache or [`resolve_identity`].
    pub async fn resolve(
        &self,
        client: &kube::Client,
        namespace: &str,
        service_account: &str,
        default_tenant: Option<&str>,
    ) -> Result<Identity, SyncError> {
        let key = (namespace.to_string(), service_account.to_string());
        if let Some((at, identity)) = self.lock().get(&key)
            && at.elapsed() < IDENTITY_TTL
        {
            return Ok(identity.clone());
        }
        let identity = resolve_identity(client, namespace, service_account, default_tenant).await?;
        let mut resolved = self.lock();
        // Expired entries go as new ones come: the map holds only what is fresh.
        resolved.retain(|_, (at, _)| at.elapsed() < IDENTITY_TTL);
        resolved.insert(key, (Instant::now(), identity.clone()));
        Ok(identity)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), (Instant, Identity)>> {
        self.resolved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The pure part of [`resolve_identity`].
pub fn identity_from(
    account: &ServiceAccount,
    namespace: &str,
    service_account: &str,
    default_tenant: Option<&str>,
) -> Result<Identity, SyncError> {
    let annotations = account.metadata.annotations.clone().unwrap_or_default();
    let missing = |problem: String| SyncError::IdentityAnnotationMissing {
        namespace: namespace.to_string(),
        name: service_account.to_string(),
        problem,
    };
    let client_id = annotations
        .get(CLIENT_ID_ANNOTATION)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            missing(format!(
                "has no {CLIENT_ID_ANNOTATION} annotation naming the Entra application"
            ))
        })?;
    let tenant_id = annotations
        .get(TENANT_ID_ANNOTATION)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .or_else(|| default_tenant.map(str::to_string))
        .ok_or_else(|| {
            missing(format!(
                "has no {TENANT_ID_ANNOTATION} annotation and the operator has no default tenant (--tenant-id)"
            ))
        })?;
    Ok(Identity {
        namespace: namespace.to_string(),
        service_account: service_account.to_string(),
        client_id,
        tenant_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn account(annotations: &[(&str, &str)]) -> ServiceAccount {
        ServiceAccount {
            metadata: ObjectMeta {
                annotations: Some(
                    annotations
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn annotations_name_the_identity_and_tenant_falls_back_to_default() {
        let id = identity_from(
            &account(&[(CLIENT_ID_ANNOTATION, "c1")]),
            "ns",
            "sa",
            Some("t0"),
        )
        .unwrap();
        assert_eq!((id.client_id.as_str(), id.tenant_id.as_str()), ("c1", "t0"));
        let id = identity_from(
            &account(&[(CLIENT_ID_ANNOTATION, "c1"), (TENANT_ID_ANNOTATION, "t1")]),
            "ns",
            "sa",
            Some("t0"),
        )
        .unwrap();
        assert_eq!(id.tenant_id, "t1");
    }

    #[test]
    fn missing_client_id_or_tenant_is_reported() {
        let err = identity_from(&account(&[]), "ns", "sa", Some("t0")).unwrap_err();
        assert_eq!(
            err.reason(),
            crate::reconcile::reason::IDENTITY_ANNOTATION_MISSING
        );
        let err =
            identity_from(&account(&[(CLIENT_ID_ANNOTATION, "c1")]), "ns", "sa", None).unwrap_err();
        assert!(err.to_string().contains("default tenant"));
    }
}
