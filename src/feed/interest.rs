//! What one resource follows in one vault: the names it reads at their latest version, whether
//! it selects in bulk, and how often it wants the vault checked.

use std::time::Duration;

/// The objects of one type (secrets, certificates or keys) a resource follows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Follow {
    /// Names read at their latest version, lowercased (Key Vault names are case-insensitive).
    /// Pinned versions never change, so they are not followed. Sorted, without repeats: one
    /// exactly sized slice per follower (a set allocated a node for eleven names).
    pub names: Box<[Box<str>]>,
    /// Whether any object may matter (a bulk selector: new objects can start matching).
    pub everything: bool,
}

impl Follow {
    /// Follows these names.
    pub fn names<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut names: Vec<Box<str>> = names
            .into_iter()
            .map(|name| name.to_ascii_lowercase().into_boxed_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        Follow {
            names: names.into_boxed_slice(),
            everything: false,
        }
    }

    /// Whether a change to `name` (lowercased) concerns this follower.
    pub fn covers(&self, name: &str) -> bool {
        self.everything || self.follows_name(name)
    }

    /// Whether `name` (lowercased) is among the names followed.
    pub fn follows_name(&self, name: &str) -> bool {
        self.names.binary_search_by(|n| (**n).cmp(name)).is_ok()
    }

    /// Whether nothing is followed.
    pub fn is_empty(&self) -> bool {
        !self.everything && self.names.is_empty()
    }
}

/// What one resource follows in one vault, through one identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interest {
    /// The resource's refresh interval: its vault is scanned at least this often.
    pub interval: Duration,
    /// Secrets followed.
    pub secrets: Follow,
    /// Certificates followed.
    pub certificates: Follow,
    /// Keys followed.
    pub keys: Follow,
}

impl Interest {
    /// Whether nothing can change for this resource (everything pinned).
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty() && self.certificates.is_empty() && self.keys.is_empty()
    }
}

impl Interest {
    /// What is followed of `object_type`.
    pub fn follow(&self, object_type: super::ObjectType) -> &Follow {
        match object_type {
            super::ObjectType::Secret => &self.secrets,
            super::ObjectType::Certificate => &self.certificates,
            super::ObjectType::Key => &self.keys,
        }
    }
}
