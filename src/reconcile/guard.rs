//! May vaultsync write this Secret? A pure decision from the existing Secret's metadata, the
//! resource's uid and its creation policy. A Secret another controller owns, a Secret of a
//! protected type, or a foreign Secret whose owner did not consent is never taken over.

use k8s_openapi::api::core::v1::Secret;

use crate::crd::{CreationPolicy, TargetObject};
use crate::desired::{
    ADOPT_ANNOTATION, MANAGED_BY_LABEL, MANAGED_BY_VALUE, OWNER_ANNOTATION, OWNER_UID_LABEL,
    PROTECTED_SECRET_TYPES,
};

/// The outcome of the ownership check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// No Secret of that name: create it.
    Create,
    /// The Secret is already this resource's.
    Update,
    /// Someone else's Secret, and both the spec and the Secret's owner ask to adopt it.
    Adopt,
    /// Someone else's Secret; leave it alone. The message says whose and how to resolve it.
    Conflict(String),
}

/// Decides what may happen to `existing` (a `object`, seen in the Secret shape) for resource
/// `uid` (`Kind/name` in `owner_label`).
pub fn decide(
    existing: Option<&Secret>,
    uid: &str,
    owner_label: &str,
    policy: CreationPolicy,
    object: TargetObject,
) -> Decision {
    let Some(existing) = existing else {
        return Decision::Create;
    };
    let labels = existing.metadata.labels.clone().unwrap_or_default();
    let managed = labels.get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY_VALUE);
    let owner_uid = labels.get(OWNER_UID_LABEL);
    let name = format!(
        "{} {}",
        object.kind(),
        existing.metadata.name.clone().unwrap_or_default()
    );
    if managed && owner_uid.map(String::as_str) == Some(uid) {
        return Decision::Update;
    }
    if let Some(refusal) = never_taken(existing, uid, &name) {
        return Decision::Conflict(refusal);
    }
    if managed && owner_uid.is_some() {
        return retained(existing, &name, policy);
    }
    let consented = existing
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ADOPT_ANNOTATION))
        .is_some_and(|v| v.trim() == owner_label);
    match (policy, consented) {
        (CreationPolicy::Adopt, true) => Decision::Adopt,
        (CreationPolicy::Adopt, false) => Decision::Conflict(format!(
            "{name} is not managed by vaultsync and its owner has not consented to \
             adoption: annotate it with {ADOPT_ANNOTATION}={owner_label} to hand it over"
        )),
        (CreationPolicy::Owner, _) => Decision::Conflict(format!(
            "{name} exists and is not managed by vaultsync ({owner_label} will not overwrite it); \
             choose another target.name, or set target.creationPolicy: Adopt and annotate the \
             {kind} with {ADOPT_ANNOTATION}={owner_label}",
            kind = object.kind()
        )),
    }
}

/// Why `existing` can never be written by resource `uid`, whatever the policy: another
/// controller owns it, or its type is protected.
fn never_taken(existing: &Secret, uid: &str, name: &str) -> Option<String> {
    let controller = existing
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true) && r.uid != uid);
    if let Some(controller) = controller {
        let managed_by = existing
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(OWNER_ANNOTATION))
            .cloned()
            .unwrap_or_else(|| format!("{} {}", controller.kind, controller.name));
        return Some(format!(
            "{name} is controlled by {managed_by}; choose another target.name"
        ));
    }
    let type_ = existing.type_.as_deref().unwrap_or("Opaque");
    PROTECTED_SECRET_TYPES.contains(&type_).then(|| {
        format!(
            "{name} has type {type_}, which vaultsync never writes; choose another \
             target.name"
        )
    })
}

/// A Secret vaultsync wrote for a resource that is gone (deletionPolicy Retain): adoptable on
/// request, since it was vaultsync's.
fn retained(existing: &Secret, name: &str, policy: CreationPolicy) -> Decision {
    let other = existing
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(OWNER_ANNOTATION))
        .cloned()
        .unwrap_or_else(|| "another vaultsync resource".into());
    match policy {
        CreationPolicy::Adopt => Decision::Adopt,
        CreationPolicy::Owner => Decision::Conflict(format!(
            "{name} is managed by {other}; choose another target.name or set \
             target.creationPolicy: Adopt to take it over"
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
            decide(
                None,
                "u1",
                "VaultSecret/a",
                CreationPolicy::Owner,
                TargetObject::Secret
            ),
            Decision::Create
        );
    }

    #[test]
    fn own_secret_is_updated() {
        let s = secret(&[MANAGED, (OWNER_UID_LABEL, "u1")], Some("u1"));
        assert_eq!(
            decide(
                Some(&s),
                "u1",
                "VaultSecret/a",
                CreationPolicy::Owner,
                TargetObject::Secret
            ),
            Decision::Update
        );
    }

    fn consenting(mut s: Secret, to: &str) -> Secret {
        s.metadata.annotations = Some([(ADOPT_ANNOTATION.to_string(), to.to_string())].into());
        s
    }

    #[test]
    fn foreign_secret_is_adopted_only_when_asked_and_consented() {
        let s = secret(&[("app", "x")], None);
        assert!(
            matches!(decide(Some(&s), "u1", "VaultSecret/a", CreationPolicy::Owner, TargetObject::Secret), Decision::Conflict(m) if m.contains("creationPolicy: Adopt"))
        );
        let refused = decide(
            Some(&s),
            "u1",
            "VaultSecret/a",
            CreationPolicy::Adopt,
            TargetObject::Secret,
        );
        assert!(
            matches!(&refused, Decision::Conflict(m) if m.contains("vaultsync.dev/adopt=VaultSecret/a")),
            "{refused:?}"
        );
        let wrong = consenting(s.clone(), "VaultSecret/b");
        assert!(matches!(
            decide(
                Some(&wrong),
                "u1",
                "VaultSecret/a",
                CreationPolicy::Adopt,
                TargetObject::Secret
            ),
            Decision::Conflict(_)
        ));
        let consented = consenting(s, "VaultSecret/a");
        assert_eq!(
            decide(
                Some(&consented),
                "u1",
                "VaultSecret/a",
                CreationPolicy::Adopt,
                TargetObject::Secret
            ),
            Decision::Adopt
        );
        assert!(matches!(
            decide(
                Some(&consented),
                "u1",
                "VaultSecret/a",
                CreationPolicy::Owner,
                TargetObject::Secret
            ),
            Decision::Conflict(_)
        ));
    }

    #[test]
    fn another_controllers_secret_is_never_adopted_even_with_consent() {
        let s = consenting(secret(&[("app", "x")], Some("other")), "VaultSecret/a");
        let decision = decide(
            Some(&s),
            "u1",
            "VaultSecret/a",
            CreationPolicy::Adopt,
            TargetObject::Secret,
        );
        assert!(
            matches!(&decision, Decision::Conflict(m) if m.contains("controlled by")),
            "{decision:?}"
        );
    }

    #[test]
    fn protected_types_are_never_adopted() {
        for type_ in PROTECTED_SECRET_TYPES {
            let mut s = consenting(secret(&[], None), "VaultSecret/a");
            s.type_ = Some(type_.to_string());
            let decision = decide(
                Some(&s),
                "u1",
                "VaultSecret/a",
                CreationPolicy::Adopt,
                TargetObject::Secret,
            );
            assert!(
                matches!(&decision, Decision::Conflict(m) if m.contains(type_)),
                "{decision:?}"
            );
        }
    }

    #[test]
    fn secret_controlled_by_another_live_resource_is_never_adopted() {
        let s = secret(&[MANAGED, (OWNER_UID_LABEL, "u2")], Some("u2"));
        assert!(matches!(
            decide(
                Some(&s),
                "u1",
                "VaultSecret/a",
                CreationPolicy::Adopt,
                TargetObject::Secret
            ),
            Decision::Conflict(_)
        ));
    }

    #[test]
    fn retained_secret_of_a_deleted_resource_can_be_adopted() {
        let s = secret(&[MANAGED, (OWNER_UID_LABEL, "gone")], None);
        assert!(matches!(
            decide(
                Some(&s),
                "u1",
                "VaultSecret/a",
                CreationPolicy::Owner,
                TargetObject::Secret
            ),
            Decision::Conflict(_)
        ));
        assert_eq!(
            decide(
                Some(&s),
                "u1",
                "VaultSecret/a",
                CreationPolicy::Adopt,
                TargetObject::Secret
            ),
            Decision::Adopt
        );
    }
}
