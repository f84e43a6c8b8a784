//! May vaultsync write this Secret? A pure decision from the existing Secret's metadata, the
//! resource's uid and its creation policy.

use k8s_openapi::api::core::v1::Secret;

use crate::crd::CreationPolicy;
use crate::desired::{MANAGED_BY_LABEL, MANAGED_BY_VALUE, OWNER_ANNOTATION, OWNER_UID_LABEL};

/// The outcome of the ownership check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// No Secret of that name: create it.
    Create,
    /// The Secret is already this resource's.
    Update,
    /// Someone else's Secret, and the spec asks to adopt it.
    Adopt,
    /// Someone else's Secret; leave it alone. The message says whose and how to resolve it.
    Conflict(String),
}

/// Decides what may happen to `existing` for resource `uid` (`Kind/name` in `owner_label`).
pub fn decide(
    existing: Option<&Secret>,
    uid: &str,
    owner_label: &str,
    policy: CreationPolicy,
) -> Decision {
    let Some(existing) = existing else {
        return Decision::Create;
    };
    let labels = existing.metadata.labels.clone().unwrap_or_default();
    let managed = labels.get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY_VALUE);
    let owner_uid = labels.get(OWNER_UID_LABEL);
    let name = existing.metadata.name.clone().unwrap_or_default();
    if managed && owner_uid.map(String::as_str) == Some(uid) {
        return Decision::Update;
    }
    if managed && owner_uid.is_some() {
        let other = existing
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(OWNER_ANNOTATION))
            .cloned()
            .unwrap_or_else(|| "another vaultsync resource".into());
        // Another live vaultsync resource writes it: adopting would make two resources fight.
        let controlled_by_other = existing
            .metadata
            .owner_references
            .as_ref()
            .is_some_and(|refs| {
                refs.iter()
                    .any(|r| r.controller == Some(true) && r.uid != uid)
            });
        if controlled_by_other || policy == CreationPolicy::Owner {
            return Decision::Conflict(format!(
                "Secret {name} is managed by {other}; choose another target.name{}",
                if controlled_by_other {
                    ""
                } else {
                    " or set target.creationPolicy: Adopt to take it over"
                }
            ));
        }
        return Decision::Adopt;
    }
    match policy {
        CreationPolicy::Adopt => Decision::Adopt,
        CreationPolicy::Owner => Decision::Conflict(format!(
            "Secret {name} exists and is not managed by vaultsync ({owner_label} will not overwrite it); \
             choose another target.name or set target.creationPolicy: Adopt to take it over"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

    fn secret(labels: &[(&str, &str)], controller_uid: Option<&str>) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some("s".into()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                owner_references: controller_uid.map(|uid| {
                    vec![OwnerReference {
                        uid: uid.into(),
                        controller: Some(true),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    const MANAGED: (&str, &str) = (MANAGED_BY_LABEL, MANAGED_BY_VALUE);

    #[test]
    fn absent_secret_is_created() {
        assert_eq!(
            decide(None, "u1", "VaultSecret/a", CreationPolicy::Owner),
            Decision::Create
        );
    }

    #[test]
    fn own_secret_is_updated() {
        let s = secret(&[MANAGED, (OWNER_UID_LABEL, "u1")], Some("u1"));
        assert_eq!(
            decide(Some(&s), "u1", "VaultSecret/a", CreationPolicy::Owner),
            Decision::Update
        );
    }

    #[test]
    fn foreign_secret_is_refused_unless_adoption_is_asked() {
        let s = secret(&[("app", "x")], None);
        assert!(
            matches!(decide(Some(&s), "u1", "VaultSecret/a", CreationPolicy::Owner), Decision::Conflict(m) if m.contains("creationPolicy: Adopt"))
        );
        assert_eq!(
            decide(Some(&s), "u1", "VaultSecret/a", CreationPolicy::Adopt),
            Decision::Adopt
        );
    }

    #[test]
    fn secret_controlled_by_another_live_resource_is_never_adopted() {
        let s = secret(&[MANAGED, (OWNER_UID_LABEL, "u2")], Some("u2"));
        assert!(matches!(
            decide(Some(&s), "u1", "VaultSecret/a", CreationPolicy::Adopt),
            Decision::Conflict(_)
        ));
    }

    #[test]
    fn retained_secret_of_a_deleted_resource_can_be_adopted() {
        let s = secret(&[MANAGED, (OWNER_UID_LABEL, "gone")], None);
        assert!(matches!(
            decide(Some(&s), "u1", "VaultSecret/a", CreationPolicy::Owner),
            Decision::Conflict(_)
        ));
        assert_eq!(
            decide(Some(&s), "u1", "VaultSecret/a", CreationPolicy::Adopt),
            Decision::Adopt
        );
    }
}
