//! The caps on rollouts in progress, cluster-wide and per namespace. Pure.

use std::collections::HashMap;

/// How many rollouts may be in progress at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caps {
    /// In the whole cluster (all watched namespaces).
    pub cluster: usize,
    /// In one namespace.
    pub per_namespace: usize,
}

/// The rollouts in progress now, counted per namespace.
#[derive(Clone, Debug, Default)]
pub struct InProgress {
    total: usize,
    by_namespace: HashMap<String, usize>,
}

/// Whether a restart may start now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// It may.
    Admit,
    /// The cluster-wide cap is reached.
    ClusterCapReached,
    /// The cap of its namespace is reached.
    NamespaceCapReached,
}

impl InProgress {
    /// Counts one more rollout in progress in `namespace`.
    pub fn add(&mut self, namespace: &str) {
        self.total += 1;
        *self.by_namespace.entry(namespace.to_string()).or_default() += 1;
    }

    /// Rollouts in progress in the cluster.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Whether one more rollout in `namespace` stays within `caps`.
    pub fn admit(&self, caps: Caps, namespace: &str) -> Admission {
        if self.total >= caps.cluster {
            Admission::ClusterCapReached
        } else if self.by_namespace.get(namespace).copied().unwrap_or(0) >= caps.per_namespace {
            Admission::NamespaceCapReached
        } else {
            Admission::Admit
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_caps_hold() {
        let caps = Caps {
            cluster: 3,
            per_namespace: 2,
        };
        let mut running = InProgress::default();
        assert_eq!(running.admit(caps, "a"), Admission::Admit);
        running.add("a");
        running.add("a");
        assert_eq!(running.admit(caps, "a"), Admission::NamespaceCapReached);
        assert_eq!(running.admit(caps, "b"), Admission::Admit);
        running.add("b");
        assert_eq!(running.total(), 3);
        assert_eq!(running.admit(caps, "c"), Admission::ClusterCapReached);
    }
}
