//! The resources following one scanner, with the tallies every scan decision reads kept up to
//! date as followers come, change and go: the shortest refresh interval, and per object type
//! whether any resource selects in bulk and how many distinct names are followed. Each reconcile
//! asks whether a listing is worthwhile; walking 10,000 followers for that on every one of
//! 10,000 first syncs was quadratic, under the feed's lock.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use super::{Interest, ObjectType};
use crate::reconcile::ObjectKey;

/// Followers of one scanner and their tallies.
#[derive(Default)]
pub struct Followers {
    /// Keys shared with the feed's index of followers (one copy of each key's texts).
    by_key: HashMap<Arc<ObjectKey>, Interest>,
    /// How many followers have each refresh interval.
    intervals: BTreeMap<Duration, usize>,
    /// Per object type, in [`ObjectType`] order.
    tallies: [Tally; 3],
}

/// What the followers follow of one object type.
#[derive(Default)]
struct Tally {
    /// Followers that select in bulk.
    everything: usize,
    /// How many followers follow each name.
    names: HashMap<Box<str>, usize>,
}

const TYPES: [ObjectType; 3] = [ObjectType::Secret, ObjectType::Certificate, ObjectType::Key];

fn index(object_type: ObjectType) -> usize {
    match object_type {
        ObjectType::Secret => 0,
        ObjectType::Certificate => 1,
        ObjectType::Key => 2,
    }
}

impl Followers {
    /// Registers what `key` follows, replacing what it followed before.
    pub fn insert(&mut self, key: Arc<ObjectKey>, interest: Interest) {
        if let Some(before) = self.by_key.get(&*key) {
            if *before == interest {
                return;
            }
            let before = before.clone();
            self.count(&before, false);
        }
        self.count(&interest, true);
        self.by_key.insert(key, interest);
    }

    /// Unregisters `key`.
    pub fn remove(&mut self, key: &ObjectKey) -> Option<Interest> {
        let before = self.by_key.remove(key)?;
        self.count(&before, false);
        Some(before)
    }

    fn count(&mut self, interest: &Interest, add: bool) {
        self.intervals.adjust(interest.interval, add);
        for object_type in TYPES {
            let follow = interest.follow(object_type);
            let tally = &mut self.tallies[index(object_type)];
            if follow.everything {
                if add {
                    tally.everything += 1;
                } else {
                    tally.everything -= 1;
                }
            }
            for name in &follow.names {
                tally.names.adjust(name.clone(), add);
            }
        }
    }

    /// The shortest refresh interval among the followers, if any.
    pub fn shortest_interval(&self) -> Option<Duration> {
        self.intervals.keys().next().copied()
    }

    /// Whether any follower selects objects of `object_type` in bulk.
    pub fn any_in_bulk(&self, object_type: ObjectType) -> bool {
        self.tallies[index(object_type)].everything > 0
    }

    /// Distinct names of `object_type` followed (how many single reads a listing replaces).
    pub fn distinct_names(&self, object_type: ObjectType) -> usize {
        self.tallies[index(object_type)].names.len()
    }

    /// Every follower and its interest.
    pub fn iter(&self) -> impl Iterator<Item = (&ObjectKey, &Interest)> {
        self.by_key.iter().map(|(key, interest)| (&**key, interest))
    }

    /// Every follower.
    pub fn keys(&self) -> impl Iterator<Item = &ObjectKey> {
        self.by_key.keys().map(|key| &**key)
    }

    /// Every interest.
    pub fn values(&self) -> impl Iterator<Item = &Interest> {
        self.by_key.values()
    }

    /// Whether no resource follows this scanner.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

/// A map of counts that forgets an item whose count reaches zero.
trait Counts<K> {
    /// Counts `item` once more, or once less.
    fn adjust(&mut self, item: K, add: bool);
}

impl<K: Ord> Counts<K> for BTreeMap<K, usize> {
    fn adjust(&mut self, item: K, add: bool) {
        if add {
            *self.entry(item).or_default() += 1;
        } else if let std::collections::btree_map::Entry::Occupied(mut entry) = self.entry(item) {
            *entry.get_mut() -= 1;
            if *entry.get() == 0 {
                entry.remove();
            }
        }
    }
}

impl<K: std::hash::Hash + Eq> Counts<K> for HashMap<K, usize> {
    fn adjust(&mut self, item: K, add: bool) {
        if add {
            *self.entry(item).or_default() += 1;
        } else if let std::collections::hash_map::Entry::Occupied(mut entry) = self.entry(item) {
            *entry.get_mut() -= 1;
            if *entry.get() == 0 {
                entry.remove();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::Follow;

    fn key(name: &str) -> ObjectKey {
        ObjectKey {
            kind: "VaultSecret",
            namespace: "ns".into(),
            name: name.into(),
            uid: format!("uid-{name}"),
        }
    }

    fn interest(seconds: u64, names: &[&str], bulk: bool) -> Interest {
        Interest {
            interval: Duration::from_secs(seconds),
            secrets: Follow {
                everything: bulk,
                ..Follow::names(names.iter().copied())
            },
            certificates: Follow::default(),
            keys: Follow::default(),
        }
    }

    #[test]
    fn tallies_follow_inserts_replacements_and_removals() {
        let mut followers = Followers::default();
        followers.insert(key("a").into(), interest(60, &["db", "api"], false));
        followers.insert(key("b").into(), interest(30, &["db"], true));
        assert_eq!(followers.shortest_interval(), Some(Duration::from_secs(30)));
        assert_eq!(followers.distinct_names(ObjectType::Secret), 2);
        assert!(followers.any_in_bulk(ObjectType::Secret));
        assert!(!followers.any_in_bulk(ObjectType::Key));

        // b changes its spec: its old interval, names and bulk selector no longer count.
        followers.insert(key("b").into(), interest(120, &["cache"], false));
        assert_eq!(followers.shortest_interval(), Some(Duration::from_secs(60)));
        assert_eq!(followers.distinct_names(ObjectType::Secret), 3);
        assert!(!followers.any_in_bulk(ObjectType::Secret));

        followers.remove(&key("a"));
        assert_eq!(
            followers.shortest_interval(),
            Some(Duration::from_secs(120))
        );
        assert_eq!(followers.distinct_names(ObjectType::Secret), 1);
        followers.remove(&key("b"));
        assert!(followers.is_empty());
        assert_eq!(followers.shortest_interval(), None);
        assert_eq!(followers.distinct_names(ObjectType::Secret), 0);
        assert!(followers.intervals.is_empty());
    }

    #[test]
    fn a_name_followed_twice_counts_once_until_both_leave() {
        let mut followers = Followers::default();
        followers.insert(key("a").into(), interest(60, &["db"], false));
        followers.insert(key("b").into(), interest(60, &["db"], false));
        assert_eq!(followers.distinct_names(ObjectType::Secret), 1);
        followers.remove(&key("a"));
        assert_eq!(followers.distinct_names(ObjectType::Secret), 1);
        followers.remove(&key("b"));
        assert_eq!(followers.distinct_names(ObjectType::Secret), 0);
        // Removing an unknown follower changes nothing.
        assert!(followers.remove(&key("c")).is_none());
    }
}
