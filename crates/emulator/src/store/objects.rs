//! Versioned objects of one kind with Key Vault's soft delete: a deleted object keeps its
//! versions in the deleted state, where it can be recovered or purged, and holds its name until
//! then.

use super::types::{Kind, StoreError};
use std::collections::BTreeMap;

/// Something with a version id.
pub(crate) trait Versioned {
    fn version(&self) -> &str;
}

/// An object: original-case name and its versions, oldest first (latest = last).
#[derive(Debug, Clone)]
pub(crate) struct Entry<T> {
    pub name: String,
    pub versions: Vec<T>,
}

/// An object in the deleted state.
#[derive(Debug, Clone)]
pub(crate) struct Deleted<T> {
    pub entry: Entry<T>,
    /// When it was deleted (Unix seconds).
    pub deleted_date: i64,
}

/// Live and deleted objects of one kind, keyed by lowercase name.
#[derive(Debug)]
pub(crate) struct Objects<T> {
    kind: Kind,
    pub live: BTreeMap<String, Entry<T>>,
    pub deleted: BTreeMap<String, Deleted<T>>,
}

impl<T: Versioned> Objects<T> {
    pub fn new(kind: Kind) -> Objects<T> {
        Objects {
            kind,
            live: BTreeMap::new(),
            deleted: BTreeMap::new(),
        }
    }

    fn not_found(&self, name: &str) -> StoreError {
        StoreError::NotFound(self.kind, name.to_owned())
    }

    /// Refuses a new version when the name is held by a deleted object.
    pub fn check_writable(&self, name: &str) -> Result<(), StoreError> {
        match self.deleted.get(&name.to_ascii_lowercase()) {
            Some(d) => Err(StoreError::DeletedButRecoverable(
                self.kind,
                d.entry.name.clone(),
            )),
            None => Ok(()),
        }
    }

    /// Appends a version (the entry keeps the case of its first name).
    pub fn push(&mut self, name: &str, version: T) {
        self.live
            .entry(name.to_ascii_lowercase())
            .or_insert_with(|| Entry {
                name: name.to_owned(),
                versions: Vec::new(),
            })
            .versions
            .push(version);
    }

    /// A live object by name.
    pub fn entry(&self, name: &str) -> Result<&Entry<T>, StoreError> {
        self.live
            .get(&name.to_ascii_lowercase())
            .ok_or_else(|| self.not_found(name))
    }

    /// A version (the latest when `version` is `None`) of a live object.
    pub fn find(&self, name: &str, version: Option<&str>) -> Result<(&Entry<T>, &T), StoreError> {
        let entry = self.entry(name)?;
        let v = match version {
            None => entry.versions.last(),
            Some(id) => entry.versions.iter().find(|x| x.version() == id),
        };
        Ok((entry, v.ok_or_else(|| self.not_found(name))?))
    }

    /// A mutable version (the latest when `version` is `None`) of a live object.
    pub fn find_mut(
        &mut self,
        name: &str,
        version: Option<&str>,
    ) -> Result<(&str, &mut T), StoreError> {
        let not_found = self.not_found(name);
        let entry = self
            .live
            .get_mut(&name.to_ascii_lowercase())
            .ok_or_else(|| not_found.clone())?;
        let v = match version {
            None => entry.versions.last_mut(),
            Some(id) => entry.versions.iter_mut().find(|x| x.version() == id),
        };
        Ok((&entry.name, v.ok_or(not_found)?))
    }

    /// Moves a live object to the deleted state.
    pub fn delete(&mut self, name: &str, now: i64) -> Result<&Deleted<T>, StoreError> {
        let key = name.to_ascii_lowercase();
        let entry = self.live.remove(&key).ok_or_else(|| self.not_found(name))?;
        let deleted = Deleted {
            entry,
            deleted_date: now,
        };
        self.deleted.insert(key.clone(), deleted);
        Ok(&self.deleted[&key])
    }

    /// An object in the deleted state.
    pub fn get_deleted(&self, name: &str) -> Result<&Deleted<T>, StoreError> {
        self.deleted
            .get(&name.to_ascii_lowercase())
            .ok_or_else(|| StoreError::DeletedNotFound(self.kind, name.to_owned()))
    }

    /// Brings a deleted object back with all its versions.
    pub fn recover(&mut self, name: &str) -> Result<&Entry<T>, StoreError> {
        let key = name.to_ascii_lowercase();
        let d = self
            .deleted
            .remove(&key)
            .ok_or_else(|| StoreError::DeletedNotFound(self.kind, name.to_owned()))?;
        self.live.insert(key.clone(), d.entry);
        Ok(&self.live[&key])
    }

    /// Removes a deleted object for good, freeing its name.
    pub fn purge(&mut self, name: &str) -> Result<(), StoreError> {
        self.deleted
            .remove(&name.to_ascii_lowercase())
            .map(|_| ())
            .ok_or_else(|| StoreError::DeletedNotFound(self.kind, name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Versioned for &'static str {
        fn version(&self) -> &str {
            self
        }
    }

    #[test]
    fn soft_delete_recover_purge() {
        let mut o: Objects<&'static str> = Objects::new(Kind::Secret);
        o.push("Name", "v1");
        o.push("name", "v2");
        assert_eq!(o.find("NAME", None).unwrap().1, &"v2");
        assert_eq!(o.delete("name", 7).unwrap().deleted_date, 7);
        let gone = StoreError::NotFound(Kind::Secret, "name".into());
        assert_eq!(o.find("name", None).unwrap_err(), gone);
        let held = StoreError::DeletedButRecoverable(Kind::Secret, "Name".into());
        assert_eq!(o.check_writable("name"), Err(held));
        assert_eq!(o.recover("name").unwrap().versions, ["v1", "v2"]);
        assert!(o.check_writable("name").is_ok());
        o.delete("name", 8).unwrap();
        o.purge("name").unwrap();
        assert!(o.check_writable("name").is_ok());
        let none = StoreError::DeletedNotFound(Kind::Secret, "name".into());
        assert_eq!(o.purge("name"), Err(none));
    }
}
