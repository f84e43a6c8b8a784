//! Plan step, pure: what a reconcile knows before any I/O. Which object, the status to build on,
//! whether the vault is due, and whether a force refresh was asked for.

use std::time::Duration;

use kube::ResourceExt;

use super::clock::Now;
use super::schedule::Entry;
use super::{ObjectKey, SyncError};
use crate::crd::{FORCE_REFRESH_ANNOTATION, Synced};
use crate::desired::secret::DesiredSecret;

/// The facts every later step of one reconcile starts from.
pub struct Plan<K: Synced> {
    /// The object.
    pub key: ObjectKey,
    /// The status to build on: the one this process last wrote, else the object's.
    pub previous: Option<K::Status>,
    /// The spec's refresh interval, or why the spec's text is unusable.
    pub interval: Result<Duration, String>,
    /// What the schedule remembers about the object.
    pub entry: Entry,
    /// A force-refresh annotation value not yet acted upon.
    pub force: Option<String>,
    /// Whether the vault must be read now.
    pub due: bool,
    /// When the reconcile started.
    pub now: Now,
    /// How many times the refresh demand on this resource's vault exceeds its request budget,
    /// when it does (set by the caller from the change feed).
    pub overrun: Option<f64>,
}

/// Builds the plan for `resource` from what the schedule remembers about it; `woken` says the
/// change feed saw one of its sources change.
pub fn plan<K: Synced>(resource: &K, entry: Entry, now: Now, woken: bool) -> Plan<K> {
    let key = ObjectKey::of(resource);
    let interval = resource
        .refresh_interval()
        .get()
        .map_err(|problem| format!("refreshInterval: {problem}"));
    let previous: Option<K::Status> = entry
        .last_status
        .as_deref()
        .and_then(|written| serde_json::from_str(written).ok())
        .or_else(|| resource.status().cloned());
    let recorded = previous
        .as_ref()
        .map(K::sync_part)
        .and_then(|s| s.last_force_refresh.as_ref());
    let force = resource
        .annotations()
        .get(FORCE_REFRESH_ANNOTATION)
        .filter(|v| recorded != Some(*v))
        .cloned();
    let due = entry.due.is_none_or(|d| now.instant >= d)
        || entry.generation != resource.meta().generation
        || force.is_some()
        || woken;
    Plan {
        key,
        previous,
        interval,
        entry,
        force,
        due,
        now,
        overrun: None,
    }
}

impl<K: Synced> Plan<K> {
    /// Whether no attempt to sync this resource is known: no status written by anyone, no
    /// failure remembered. Its Secret almost never exists yet.
    pub fn never_attempted(&self) -> bool {
        self.previous.is_none() && self.entry.failures == 0
    }

    /// Whether this sync reads every source again, whatever the listings say: the last sync
    /// read a value within the second its version was written (see `Entry::reread`). Until
    /// this process has synced the resource, the status on record says so instead.
    pub fn reread(&self) -> bool {
        let unsynced_here = self.entry.last_desired.is_none();
        self.entry.reread
            || unsynced_here
                && self
                    .previous
                    .as_ref()
                    .is_some_and(|status| K::sync_part(status).read_within_written_second())
    }

    /// The spec error that stops this reconcile before any I/O, if any.
    pub fn spec_error(&self) -> Option<SyncError> {
        self.interval.clone().err().map(SyncError::InvalidSpec)
    }

    /// Whether the last write is known and the vault is not due: only re-check the Secret.
    pub fn last_if_not_due(&self) -> Option<&DesiredSecret> {
        self.entry.last_desired.as_ref().filter(|_| !self.due)
    }

    /// Whether this reconcile reads the vault (so the refresh schedule moves on).
    pub fn reads_vault(&self) -> bool {
        self.due || self.entry.last_desired.is_none()
    }

    /// The force-refresh value to record in status: the new one, else the one recorded.
    pub fn force_refresh_to_record(&self) -> Option<String> {
        self.force.clone().or_else(|| {
            self.previous
                .as_ref()
                .and_then(|s| K::sync_part(s).last_force_refresh.clone())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use kube::api::ObjectMeta;

    use super::*;
    use crate::crd::{VaultSecret, VaultSecretSpec, VaultSource};

    fn resource(interval: &str, force: Option<&str>) -> VaultSecret {
        let mut resource = VaultSecret::new(
            "app",
            VaultSecretSpec {
                on_vault_removal: Default::default(),
                vault: VaultSource {
                    url: "https://v.vault.azure.net/".into(),
                    service_account_name: "sa".into(),
                },
                data: vec![],
                data_from: vec![],
                keys: vec![],
                target: Default::default(),
                template: None,
                refresh_interval: interval.into(),
            },
        );
        resource.metadata = ObjectMeta {
            namespace: Some("ns".into()),
            uid: Some("u1".into()),
            generation: Some(1),
            annotations: force
                .map(|v| [(FORCE_REFRESH_ANNOTATION.to_string(), v.to_string())].into()),
            ..resource.metadata
        };
        resource
    }

    fn at(instant: Instant) -> Now {
        Now { instant, unix: 0 }
    }

    #[test]
    fn a_known_object_is_due_only_when_its_time_came() {
        let start = Instant::now();
        let entry = Entry {
            generation: Some(1),
            due: Some(start + Duration::from_secs(60)),
            ..Entry::default()
        };
        let early = plan(&resource("1m", None), entry.clone(), at(start), false);
        assert!(!early.due);
        let woken = plan(&resource("1m", None), entry.clone(), at(start), true);
        assert!(woken.due, "a change seen by the feed makes the vault due");
        assert!(!early.due);
        assert_eq!(early.interval.as_ref().ok(), Some(&Duration::from_secs(60)));
        let late = plan(
            &resource("1m", None),
            entry.clone(),
            at(start + Duration::from_secs(61)),
            false,
        );
        assert!(late.due);
        let edited = Entry {
            generation: Some(0),
            ..entry
        };
        assert!(plan(&resource("1m", None), edited, at(start), false).due);
    }

    #[test]
    fn a_new_force_refresh_value_makes_the_vault_due() {
        let start = Instant::now();
        let entry = Entry {
            generation: Some(1),
            due: Some(start + Duration::from_secs(60)),
            ..Entry::default()
        };
        let forced = plan(&resource("1m", Some("now")), entry, at(start), false);
        assert!(forced.due);
        assert_eq!(forced.force.as_deref(), Some("now"));
        assert_eq!(forced.force_refresh_to_record().as_deref(), Some("now"));
    }

    #[test]
    fn an_unusable_interval_is_an_invalid_spec_not_a_default() {
        let plan = plan(
            &resource("soon", None),
            Entry::default(),
            at(Instant::now()),
            false,
        );
        let err = plan
            .spec_error()
            .expect("an unusable interval is a spec error");
        assert_eq!(err.reason(), crate::reconcile::reason::INVALID_SPEC);
        assert!(err.to_string().contains("refreshInterval"), "{err}");
    }
}
