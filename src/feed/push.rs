//! Changes announced by push (Event Grid): each wakes the resources that follow the object, to
//! re-read it through their own identity.

use super::{ChangeFeed, ObjectKey, ObjectType};

/// A change announced by push: which object of which vault, and its new version if known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedChange {
    /// The vault's name: the first label of its host (`myvault` in `myvault.vault.azure.net`).
    pub vault_name: String,
    /// Secret, certificate or key.
    pub object_type: ObjectType,
    /// The object's name.
    pub object_name: String,
    /// The new version, when the event names one.
    pub version: Option<String>,
}

impl ChangeFeed {
    /// Says whether push is healthy: while it is, scanners poll `push_stretch` times less
    /// often.
    pub fn set_push_healthy(&self, healthy: bool) {
        self.inner.lock().push_healthy = healthy;
    }

    /// Wakes every resource that follows the pushed object through an identity reading that
    /// vault; each re-reads it with its own identity. Objects nobody follows cost nothing.
    pub fn pushed(&self, change: &PushedChange) {
        let name = change.object_name.to_ascii_lowercase();
        let woken = {
            let mut state = self.inner.lock();
            let mut woken = Vec::new();
            for (access, scanner) in state.scanners.iter_mut() {
                if !vault_name(&access.vault_url).eq_ignore_ascii_case(&change.vault_name) {
                    continue;
                }
                let followers: Vec<ObjectKey> = scanner
                    .followers
                    .iter()
                    .filter(|(_, i)| i.follow(change.object_type).covers(&name))
                    .map(|(k, _)| k.clone())
                    .collect();
                if followers.is_empty() {
                    continue;
                }
                // A repeated delivery wakes nobody: a follower woken by the first may not yet
                // see its own new status, and would read the version again.
                if scanner.push(change.object_type, &name, change.version.as_deref()) {
                    woken.extend(followers);
                }
            }
            state.woken.extend(woken.iter().cloned());
            woken
        };
        self.inner.wake_all("push", &woken);
    }
}

/// The vault's name: the first label of the host of its URL.
pub fn vault_name(vault_url: &str) -> &str {
    vault_url
        .split("://")
        .nth(1)
        .unwrap_or(vault_url)
        .split(['/', ':', '.'])
        .next()
        .unwrap_or_default()
}
