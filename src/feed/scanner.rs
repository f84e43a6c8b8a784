//! One scanner: the followers of one vault through one identity, the listings kept for them,
//! and the task that renews those listings once per scan period.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::followers::Followers;
use super::shelf::Shelf;
use super::{Catalogue, Inner, ObjectType};
use crate::reconcile::ObjectKey;
use crate::vault::{CertificateProperties, KeyProperties, SecretProperties, VaultAccess};

/// The followers and listings of one (identity, vault). Dropping it stops its task.
pub struct Scanner {
    /// What each following resource follows.
    pub followers: Followers,
    /// The latest secret listing.
    pub secrets: Shelf<SecretProperties>,
    /// The latest certificate listing.
    pub certificates: Shelf<CertificateProperties>,
    /// The latest key listing.
    pub keys: Shelf<KeyProperties>,
    /// When the last scan failed.
    pub(super) failed_at: Option<Instant>,
    /// Scans failed in a row (the next comes sooner than a period: see [`retry_after_failure`]).
    pub(super) failed_scans: u32,
    /// Until when this identity reads objects of a type one by one: it may not list them.
    pub(super) unlisted_until: HashMap<ObjectType, Instant>,
    /// The identity and vault scanned, shared with the feed's index of followers.
    pub(super) access: Arc<VaultAccess>,
    task: AbortHandle,
}

impl Drop for Scanner {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the scan task does next.
enum Next {
    /// Sleep this long, then ask again.
    Wait(Duration),
    /// List these types now.
    Scan(Vec<ObjectType>),
}

impl Scanner {
    /// A scanner for `access` with its task running (on the current tokio runtime).
    pub fn start(feed: Weak<Inner>, access: VaultAccess) -> Self {
        let task = tokio::spawn(run(feed, access.clone())).abort_handle();
        Scanner {
            followers: Followers::default(),
            secrets: Shelf::default(),
            certificates: Shelf::default(),
            keys: Shelf::default(),
            failed_at: None,
            failed_scans: 0,
            unlisted_until: HashMap::new(),
            access: Arc::new(access),
            task,
        }
    }

    /// The shortest refresh interval among the followers.
    pub fn shortest_interval(&self) -> Duration {
        self.followers
            .shortest_interval()
            .unwrap_or(Duration::from_secs(3600))
    }

    /// Whether a listing of `T` costs less than reading each followed object once, or a bulk
    /// selector needs it; never while the identity may not list.
    pub fn worthwhile<T: Catalogue>(&self) -> bool {
        let unlisted = self.unlisted_until.get(&T::TYPE);
        if unlisted.is_some_and(|until| Instant::now() < *until) {
            return false;
        }
        if self.followers.any_in_bulk(T::TYPE) {
            return true;
        }
        let names = self.followers.distinct_names(T::TYPE);
        names > 0 && T::shelf(self).pages() <= names
    }

    /// The followers concerned by a change to any of `names`.
    pub fn followers_of<T: Catalogue>(&self, names: &BTreeSet<String>) -> Vec<ObjectKey> {
        if names.is_empty() {
            return Vec::new();
        }
        self.followers
            .iter()
            .filter(|(_, interest)| {
                let follow = interest.follow(T::TYPE);
                follow.everything || names.iter().any(|n| follow.follows_name(n))
            })
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// Remembers a pushed version; a pushed object the listing does not hold may newly match a
    /// bulk selector, so the listing is made again. Says whether the event is news (a repeated
    /// delivery of a version already announced is not).
    pub fn push(&mut self, object_type: ObjectType, name: &str, version: Option<&str>) -> bool {
        let bulk = self.followers.any_in_bulk(object_type);
        let news = match object_type {
            ObjectType::Secret => self.secrets.push(name, version),
            ObjectType::Certificate => self.certificates.push(name, version),
            ObjectType::Key => self.keys.push(name, version),
        };
        if bulk && !news.listed {
            match object_type {
                ObjectType::Secret => self.secrets.discard(),
                ObjectType::Certificate => self.certificates.discard(),
                ObjectType::Key => self.keys.discard(),
            }
        }
        !news.repeat
    }

    /// When each followed type is due for a scan, given the scan `period`.
    fn next(&self, period: Duration) -> Next {
        if let Some(failed) = self.failed_at {
            let retry = retry_after_failure(self.failed_scans, period);
            if failed.elapsed() < retry {
                return Next::Wait(retry - failed.elapsed());
            }
        }
        let remaining =
            |age: Option<Duration>| age.map_or(Duration::ZERO, |a| period.saturating_sub(a));
        let due = [
            (
                ObjectType::Secret,
                self.worthwhile::<SecretProperties>()
                    .then(|| remaining(self.secrets.age())),
            ),
            (
                ObjectType::Certificate,
                self.worthwhile::<CertificateProperties>()
                    .then(|| remaining(self.certificates.age())),
            ),
            (
                ObjectType::Key,
                self.worthwhile::<KeyProperties>()
                    .then(|| remaining(self.keys.age())),
            ),
        ];
        let now: Vec<ObjectType> = due
            .iter()
            .filter(|(_, r)| r.is_some_and(|r| r.is_zero()))
            .map(|(t, _)| *t)
            .collect();
        if !now.is_empty() {
            return Next::Scan(now);
        }
        let wait = due
            .into_iter()
            .filter_map(|(_, r)| r)
            .min()
            .unwrap_or(period);
        // A little spread, so scanners created together do not scan together forever.
        let spread = wait.mul_f64(rand::random_range(0.0..0.05));
        Next::Wait(wait + spread)
    }
}

/// First retry of a failed scan.
const FAILED_SCAN_RETRY: Duration = Duration::from_secs(2);

/// How long after its `failures`-th failure in a row a scan is tried again: soon at first, then
/// doubling up to a sixth of the scan `period`. The first scan that succeeds wakes every
/// follower, so after an outage all resources recover within a fraction of their interval
/// instead of one whole interval after the vault's return, at the cost of one listing request
/// per retry for each (identity, vault).
pub(super) fn retry_after_failure(failures: u32, period: Duration) -> Duration {
    let doubled =
        FAILED_SCAN_RETRY.saturating_mul(2u32.saturating_pow(failures.saturating_sub(1).min(16)));
    doubled.min(period / 6).max(FAILED_SCAN_RETRY.min(period))
}

impl Inner {
    /// What the scanner of `access` does next; `None` when it is gone.
    fn next_scan(&self, access: &VaultAccess) -> Option<Next> {
        let state = self.lock();
        let scanner = state.scanners.get(access)?;
        Some(scanner.next(self.period(&state, scanner)))
    }

    /// Notes a failed scan on the scanner of `access`.
    fn scan_failed(&self, access: &VaultAccess) {
        if let Some(scanner) = self.lock().scanners.get_mut(access) {
            scanner.failed_at = Some(Instant::now());
            scanner.failed_scans = scanner.failed_scans.saturating_add(1);
        }
    }
}

/// The scan task: renews the listings of `access` once per period until the scanner is gone.
/// Failures are not reported here: the resources' own refreshes then list, fail, and say so.
async fn run(feed: Weak<Inner>, access: VaultAccess) {
    loop {
        let next = match feed.upgrade() {
            Some(inner) => inner.next_scan(&access),
            None => None,
        };
        match next {
            None => return,
            Some(Next::Wait(wait)) => tokio::time::sleep(wait).await,
            Some(Next::Scan(types)) => {
                let Some(inner) = feed.upgrade() else { return };
                let mut failed = false;
                for object_type in types {
                    let listed = match object_type {
                        ObjectType::Secret => inner.list::<SecretProperties>(&access).await.is_ok(),
                        ObjectType::Certificate => {
                            inner.list::<CertificateProperties>(&access).await.is_ok()
                        }
                        ObjectType::Key => inner.list::<KeyProperties>(&access).await.is_ok(),
                    };
                    failed |= !listed;
                }
                if failed {
                    tracing::debug!(vault = %access.vault_url, "scan failed; retrying soon");
                    inner.scan_failed(&access);
                }
            }
        }
    }
}
