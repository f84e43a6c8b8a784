//! Events on restarted and skipped workloads, naming the Secrets and the vault versions behind
//! them (never a value).

use k8s_openapi::api::core::v1::{ObjectReference, Secret};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Api, Client, ResourceExt};

use crate::crd::{Synced, SyncedVersion, VaultCertificate, VaultSecret};
use crate::desired::OWNER_ANNOTATION;

/// Event reason of a restart.
pub const RESTARTED: &str = "RolloutRestarted";
/// Event reason of a restart skipped because the Deployment is paused.
pub const SKIPPED_PAUSED: &str = "RestartSkippedPaused";
/// The API limits an Event note to 1 KiB.
const MAX_NOTE_BYTES: usize = 1024;

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
    recorder: &Recorder,
    workload: &ObjectReference,
    type_: EventType,
    reason: &str,
    note: &str,
) {
    let event = Event {
        type_,
        reason: reason.to_string(),
        note: Some(truncate(note, MAX_NOTE_BYTES).to_string()),
        action: "Restart".to_string(),
        secondary: None,
    };
    if let Err(err) = recorder.publish(&event, workload).await {
        tracing::warn!(error = %err, "failed to publish an Event");
    }
}

fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    #[test]
    fn notes_are_cut_at_a_character_boundary() {
        assert_eq!(super::truncate("aé", 2), "a");
        assert_eq!(super::truncate("abc", 10), "abc");
    }
}
