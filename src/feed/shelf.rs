//! The latest listing of one object type through one identity, and the versions pushed since.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::diff::changed_names;
use crate::vault::{LISTING_PAGE_SIZE, Listed};

/// A listing as a reconcile sees it: the objects listed, and versions pushed since the listing
/// was made (lowercased name → version) that the listing cannot know yet.
#[derive(Clone, Debug)]
pub struct Listing<T> {
    /// The objects listed, sorted by name, case-insensitively (the shared vault keeps every
    /// listing so).
    pub items: Arc<Vec<T>>,
    /// Versions announced by push after the listing was made.
    pub pushed: Arc<BTreeMap<String, String>>,
}

impl<T: Listed> Listing<T> {
    /// A listing with nothing pushed since.
    pub fn plain(items: Arc<Vec<T>>) -> Self {
        Listing {
            items,
            pushed: Arc::default(),
        }
    }

    /// The listed object named `name` (case-insensitive).
    pub fn find(&self, name: &str) -> Option<&T> {
        let at = self
            .items
            .binary_search_by(|item| crate::vault::compare_names(item.name(), name))
            .ok()?;
        self.items.get(at)
    }

    /// The version pushed for `name` since the listing, if any.
    pub fn pushed_version(&self, name: &str) -> Option<&str> {
        self.pushed
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// What one pushed event tells a shelf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PushNews {
    /// The listing holds the object.
    pub listed: bool,
    /// The same version was already announced since the listing: followers were woken for it.
    pub repeat: bool,
}

/// A version announced by push, and when.
#[derive(Clone, Debug)]
struct Pushed {
    version: String,
    at: Instant,
}

/// The latest listing of one type and what was pushed since.
pub struct Shelf<T> {
    snapshot: Option<(Instant, Arc<Vec<T>>)>,
    pushed: BTreeMap<String, Pushed>,
}

impl<T> Default for Shelf<T> {
    fn default() -> Self {
        Shelf {
            snapshot: None,
            pushed: BTreeMap::new(),
        }
    }
}

impl<T: Listed> Shelf<T> {
    /// The listing, when it was made less than `max_age` ago.
    pub fn usable(&self, max_age: Duration) -> Option<Listing<T>> {
        let (taken, items) = self.snapshot.as_ref()?;
        (taken.elapsed() < max_age).then(|| Listing {
            items: items.clone(),
            pushed: Arc::new(
                self.pushed
                    .iter()
                    .map(|(name, p)| (name.clone(), p.version.clone()))
                    .collect(),
            ),
        })
    }

    /// How long ago the listing was made (`None`: never).
    pub fn age(&self) -> Option<Duration> {
        self.snapshot.as_ref().map(|(taken, _)| taken.elapsed())
    }

    /// Listing pages one scan costs, as far as the last listing tells (one when unknown).
    pub fn pages(&self) -> usize {
        self.snapshot.as_ref().map_or(1, |(_, items)| {
            items.len().div_ceil(LISTING_PAGE_SIZE).max(1)
        })
    }

    /// Keeps a listing started at `started`; returns the names changed since the previous one
    /// (`None` for the first listing, or one older than the listing kept).
    pub fn store(&mut self, started: Instant, items: Arc<Vec<T>>) -> Option<BTreeSet<String>> {
        if self
            .snapshot
            .as_ref()
            .is_some_and(|(taken, _)| *taken > started)
        {
            return None;
        }
        let previous = self.snapshot.replace((started, items.clone()));
        // What was pushed before this listing started, the listing knows.
        self.pushed.retain(|_, pushed| pushed.at > started);
        previous.map(|(_, before)| changed_names(&before, &items))
    }

    /// Remembers a pushed version of `name` (lowercased).
    pub fn push(&mut self, name: &str, version: Option<&str>) -> PushNews {
        // Event Grid delivers at least once, and a subscription per schema delivers each event
        // again: the same version announced twice since the listing is no news.
        let repeat = version.is_some_and(|version| {
            self.pushed
                .get(name)
                .is_some_and(|pushed| pushed.version == version)
        });
        if let Some(version) = version
            && !repeat
        {
            self.pushed.insert(
                name.to_string(),
                Pushed {
                    version: version.to_string(),
                    at: Instant::now(),
                },
            );
        }
        let listed = self.snapshot.as_ref().is_some_and(|(_, items)| {
            items
                .binary_search_by(|item| crate::vault::compare_names(item.name(), name))
                .is_ok()
        });
        PushNews { listed, repeat }
    }

    /// Forgets the listing, so the next reconcile lists again (a pushed object the listing does
    /// not hold may newly match a bulk selector).
    pub fn discard(&mut self) {
        self.snapshot = None;
    }
}
