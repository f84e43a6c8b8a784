//! Events on restarted and skipped workloads, naming the Secrets and the vault versions behind
//! them (never a value).

use k8s_openapi::api::core::v1::{ObjectReference, Secret};
use kube::{Api, Client, ResourceExt};

use crate::crd::{Synced, SyncedVersion, VaultCertificate, VaultSecret};
use crate::desired::OWNER_ANNOTATION;
use crate::telemetry::events::{EventType, Events, Occurrence};

/// Event reason of a restart.
pub const RESTARTED: &str = "RolloutRestarted";
/// Event reason of a restart skipped because the Deployment is paused.
pub const SKIPPED_PAUSED: &str = "RestartSkippedPaused";

/// How one Secret came to be: its managing resource and the vault versions of its keys.
pub async fn provenance(client: &Client, secret: &Secret) -> String {
    let name = secret.name_any();
    let Some(owner) = secret.annotations().get(OWNER_ANNOTATION) else {
        return format!("Secret {name}");
    };
    let namespace = secret.namespace().unwrap_or_default();
    let versions = match owner.split_once('/') {
        Some((VaultSecret::KIND, resource)) => {
            versions::<VaultSecret>(client, &namespace, resource).await
        }
        Some((VaultCertificate::KIND, resource)) => {
            versions::<VaultCertificate>(client, &namespace, resource).await
        }
        _ => None,
    };
    match versions {
        Some(versions) if !versions.is_empty() => {
            let listed: Vec<String> = versions
                .iter()
                .map(|v| format!("{}={}@{}", v.key, v.name, v.version))
                .collect();
            format!("Secret {name} ({owner}: {})", listed.join(", "))
        }
        _ => format!("Secret {name} ({owner})"),
    }
}

async fn versions<K>(client: &Client, namespace: &str, name: &str) -> Option<Vec<SyncedVersion>>
where
    K: Synced
        + kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let resource = api.get_opt(name).await.ok()??;
    Some(resource.sync_status()?.versions.clone())
}

/// Publishes an Event on a workload, logging (not failing) when the API refuses it.
pub async fn publish(
    events: &Events,
    workload: &ObjectReference,
    type_: EventType,
    reason: &str,
    note: &str,
) {
    let occurrence = Occurrence {
        type_,
        action: "Restart",
        reason,
        note,
    };
    events.publish(workload, &occurrence).await;
}
