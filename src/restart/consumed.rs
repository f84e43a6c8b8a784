//! Which Secrets a pod template consumes: env, envFrom, secret volumes and projected volumes, or
//! the explicit list a workload gives in its annotation.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Container, PodSpec};

/// The names of the Secrets `pod` reads, from every container and init container: env
/// `valueFrom.secretKeyRef`, `envFrom.secretRef`, `secret` volumes and `projected` volume
/// sources. Image pull Secrets are not consumed by the application and are left out.
pub fn consumed_secrets(pod: &PodSpec) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let containers = pod
        .containers
        .iter()
        .chain(pod.init_containers.iter().flatten());
    for container in containers {
        from_container(container, &mut names);
    }
    for volume in pod.volumes.iter().flatten() {
        if let Some(name) = volume.secret.as_ref().and_then(|s| s.secret_name.clone()) {
            names.insert(name);
        }
        let projected = volume
            .projected
            .iter()
            .flat_map(|p| p.sources.iter().flatten());
        for source in projected {
            if let Some(secret) = &source.secret {
                names.insert(secret.name.clone());
            }
        }
    }
    names.retain(|name| !name.is_empty());
    names
}

fn from_container(container: &Container, names: &mut BTreeSet<String>) {
    for env in container.env.iter().flatten() {
        let reference = env
            .value_from
            .as_ref()
            .and_then(|v| v.secret_key_ref.as_ref());
        if let Some(reference) = reference {
            names.insert(reference.name.clone());
        }
    }
    for source in container.env_from.iter().flatten() {
        if let Some(reference) = &source.secret_ref {
            names.insert(reference.name.clone());
        }
    }
}

/// The Secret names of a [`super::SECRETS_ANNOTATION`] value: comma-separated, blanks ignored.
pub fn explicit_secrets(annotation: &str) -> BTreeSet<String> {
    annotation
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> PodSpec {
        serde_json::from_value(spec).expect("a pod spec")
    }

    #[test]
    fn every_kind_of_reference_is_found() {
        let spec = pod(json!({
            "initContainers": [{"name": "init", "envFrom": [{"secretRef": {"name": "init-env"}}]}],
            "containers": [{
                "name": "app",
                "env": [
                    {"name": "A", "valueFrom": {"secretKeyRef": {"name": "env-key", "key": "k"}}},
                    {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "a-config-map", "key": "k"}}},
                    {"name": "C", "value": "literal"}
                ],
                "envFrom": [{"secretRef": {"name": "env-from"}}, {"configMapRef": {"name": "cm"}}]
            }],
            "volumes": [
                {"name": "v1", "secret": {"secretName": "volume"}},
                {"name": "v2", "projected": {"sources": [
                    {"secret": {"name": "projected"}},
                    {"configMap": {"name": "cm2"}},
                    {"serviceAccountToken": {"path": "token"}}
                ]}},
                {"name": "v3", "emptyDir": {}}
            ],
            "imagePullSecrets": [{"name": "registry"}]
        }));
        let found: Vec<String> = consumed_secrets(&spec).into_iter().collect();
        assert_eq!(
            found,
            ["env-from", "env-key", "init-env", "projected", "volume"]
        );
    }

    #[test]
    fn a_pod_without_secret_references_consumes_none() {
        let spec =
            pod(json!({"containers": [{"name": "app", "env": [{"name": "A", "value": "x"}]}]}));
        assert!(consumed_secrets(&spec).is_empty());
    }

    #[test]
    fn the_explicit_list_is_comma_separated_and_trimmed() {
        let names: Vec<String> = explicit_secrets(" db , api-key,,").into_iter().collect();
        assert_eq!(names, ["api-key", "db"]);
        assert!(explicit_secrets(" , ").is_empty());
    }
}
