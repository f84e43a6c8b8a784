//! One vault's objects: secrets (with versions), certificates (whose key material lives in a
//! managed secret of the same name and version) and keys, each with soft delete, with the input
//! rules Key Vault enforces, certificate import and key arithmetic. Pure data, no HTTP: the data
//! plane (`kv`) and the control handle both work on it.

pub(crate) mod certs;
pub(crate) mod crypto;
pub(crate) mod keys;
pub(crate) mod objects;
mod pem;
pub(crate) mod types;
pub(crate) mod validate;

use crate::ids::new_version;
use keys::KeyVersion;
use objects::{Deleted, Entry, Objects, Versioned};
use serde_json::Value;
use std::collections::BTreeMap;
pub(crate) use types::{Kind, SecretMeta, StoreError};

/// One version of a secret.
#[derive(Debug, Clone)]
pub(crate) struct SecretVersion {
    pub version: String,
    pub value: String,
    pub meta: SecretMeta,
    pub created: i64,
    pub updated: i64,
    /// Certificate-backed (`managed: true`, has a `kid`).
    pub managed: bool,
}

/// A secret: original-case name and its versions, oldest first (latest = last).
pub(crate) type SecretEntry = Entry<SecretVersion>;

/// One version of a certificate.
#[derive(Debug, Clone)]
pub(crate) struct CertVersion {
    pub version: String,
    /// DER of the leaf.
    pub cer: Vec<u8>,
    /// base64url SHA-1 of the leaf DER.
    pub x5t: String,
    pub nbf: i64,
    pub exp: i64,
    pub enabled: bool,
    pub created: i64,
    pub updated: i64,
    pub tags: BTreeMap<String, String>,
    /// The policy as returned by the REST API (without `id`, which depends on the URL).
    pub policy: Value,
    /// Public JWK of the certificate's key (without `kid`).
    pub jwk: Value,
    pub preserve_order: bool,
}

/// A certificate: original-case name and versions, oldest first.
pub(crate) type CertEntry = Entry<CertVersion>;

impl Versioned for SecretVersion {
    fn version(&self) -> &str {
        &self.version
    }
}

impl Versioned for CertVersion {
    fn version(&self) -> &str {
        &self.version
    }
}

/// All objects of a vault.
#[derive(Debug)]
pub(crate) struct VaultData {
    pub secrets: Objects<SecretVersion>,
    pub certs: Objects<CertVersion>,
    pub keys: Objects<KeyVersion>,
}

impl Default for VaultData {
    fn default() -> Self {
        VaultData {
            secrets: Objects::new(Kind::Secret),
            certs: Objects::new(Kind::Certificate),
            keys: Objects::new(Kind::Key),
        }
    }
}

impl VaultData {
    /// Adds a new version of a secret; returns its version id.
    pub fn set_secret(
        &mut self,
        name: &str,
        value: String,
        meta: SecretMeta,
        now: i64,
    ) -> Result<String, StoreError> {
        validate::name(name)?;
        validate::value(&value)?;
        validate::meta(&meta)?;
        self.secrets.check_writable(name)?;
        if self.certs.live.contains_key(&name.to_ascii_lowercase()) {
            // Azure refuses to write a secret that backs a certificate.
            return Err(StoreError::BadParameter(format!(
                "Secret {name} is managed by a certificate and cannot be set directly."
            )));
        }
        Ok(self.push_version(name, value, meta, now, false, None))
    }

    /// Appends a version (also used for certificate-backed secrets with a given version id).
    pub fn push_version(
        &mut self,
        name: &str,
        value: String,
        meta: SecretMeta,
        now: i64,
        managed: bool,
        version: Option<String>,
    ) -> String {
        let version = version.unwrap_or_else(new_version);
        let v = SecretVersion {
            version: version.clone(),
            value,
            meta,
            created: now,
            updated: now,
            managed,
        };
        self.secrets.push(name, v);
        version
    }

    /// Finds a secret version (latest when `version` is `None`) without checking `enabled`.
    pub fn find_secret(
        &self,
        name: &str,
        version: Option<&str>,
    ) -> Result<(&SecretEntry, &SecretVersion), StoreError> {
        self.secrets.find(name, version)
    }

    /// Finds a secret version for a value read: refuses disabled versions.
    pub fn get_secret(
        &self,
        name: &str,
        version: Option<&str>,
    ) -> Result<(&SecretEntry, &SecretVersion), StoreError> {
        let (e, v) = self.find_secret(name, version)?;
        if !v.meta.enabled {
            return Err(StoreError::SecretDisabled);
        }
        Ok((e, v))
    }

    /// Applies an update to a version (latest when `None`); returns the updated version.
    pub fn update_secret(
        &mut self,
        name: &str,
        version: Option<&str>,
        now: i64,
        update: impl FnOnce(&mut SecretMeta),
    ) -> Result<(String, SecretVersion), StoreError> {
        let (ename, v) = self.secrets.find_mut(name, version)?;
        let mut meta = v.meta.clone();
        update(&mut meta);
        validate::meta(&meta)?;
        v.meta = meta;
        v.updated = now;
        Ok((ename.to_owned(), v.clone()))
    }

    /// Moves a secret with all its versions to the deleted state; refuses certificate-backed
    /// secrets, which go with their certificate.
    pub fn delete_secret(
        &mut self,
        name: &str,
        now: i64,
    ) -> Result<&Deleted<SecretVersion>, StoreError> {
        if self.certs.live.contains_key(&name.to_ascii_lowercase()) {
            return Err(StoreError::BadParameter(format!(
                "Secret {name} is managed by a certificate and cannot be deleted directly."
            )));
        }
        self.secrets.delete(name, now)
    }

    /// Finds a certificate version (latest when `None`).
    pub fn find_cert(
        &self,
        name: &str,
        version: Option<&str>,
    ) -> Result<(&CertEntry, &CertVersion), StoreError> {
        self.certs.find(name, version)
    }

    /// Records a certificate version and its backing managed secret under the same version id.
    pub fn add_cert(
        &mut self,
        name: &str,
        cert: CertVersion,
        secret_value: String,
        meta: SecretMeta,
    ) {
        let (version, created) = (cert.version.clone(), cert.created);
        self.push_version(name, secret_value, meta, created, true, Some(version));
        self.certs.push(name, cert);
    }

    /// Refuses an import when the certificate's name, or its backing secret's, is deleted.
    pub fn check_cert_writable(&self, name: &str) -> Result<(), StoreError> {
        self.certs.check_writable(name)?;
        self.secrets.check_writable(name)
    }

    /// Moves a certificate and its backing secret to the deleted state.
    pub fn delete_cert(
        &mut self,
        name: &str,
        now: i64,
    ) -> Result<&Deleted<CertVersion>, StoreError> {
        self.certs.entry(name)?;
        // The backing secret exists unless a fault injection removed it.
        let _ = self.secrets.delete(name, now);
        self.certs.delete(name, now)
    }

    /// Recovers a deleted certificate and its backing secret.
    pub fn recover_cert(&mut self, name: &str) -> Result<&CertEntry, StoreError> {
        self.certs.get_deleted(name)?;
        let _ = self.secrets.recover(name);
        self.certs.recover(name)
    }

    /// Purges a deleted certificate and its backing secret.
    pub fn purge_cert(&mut self, name: &str) -> Result<(), StoreError> {
        self.certs.get_deleted(name)?;
        let _ = self.secrets.purge(name);
        self.certs.purge(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> SecretMeta {
        SecretMeta {
            enabled: true,
            ..Default::default()
        }
    }

    #[test]
    fn versions_and_case_insensitive_names() {
        let mut d = VaultData::default();
        let v1 = d.set_secret("Db-Pass", "a".into(), meta(), 1).unwrap();
        let v2 = d.set_secret("db-pass", "b".into(), meta(), 2).unwrap();
        assert_ne!(v1, v2);
        assert_eq!(v1.len(), 32);
        let (e, v) = d.get_secret("DB-PASS", None).unwrap();
        assert_eq!((e.name.as_str(), v.value.as_str()), ("Db-Pass", "b"));
        assert_eq!(d.get_secret("db-pass", Some(&v1)).unwrap().1.value, "a");
        assert!(matches!(
            d.get_secret("db-pass", Some("00")),
            Err(StoreError::NotFound(Kind::Secret, _))
        ));
        d.update_secret("db-pass", None, 3, |m| m.enabled = false)
            .unwrap();
        assert_eq!(
            d.get_secret("db-pass", None).unwrap_err(),
            StoreError::SecretDisabled
        );
    }

    #[test]
    fn deleted_name_refuses_new_values_until_purged() {
        let mut d = VaultData::default();
        d.set_secret("s", "a".into(), meta(), 1).unwrap();
        d.delete_secret("s", 2).unwrap();
        let held = StoreError::DeletedButRecoverable(Kind::Secret, "s".into());
        assert_eq!(d.set_secret("s", "b".into(), meta(), 3), Err(held));
        d.secrets.purge("s").unwrap();
        assert!(d.set_secret("s", "b".into(), meta(), 4).is_ok());
    }

    #[test]
    fn refuses_bad_input() {
        let mut d = VaultData::default();
        assert!(d.set_secret("1abc", "x".into(), meta(), 1).is_err());
        assert!(d.set_secret("a_b", "x".into(), meta(), 1).is_err());
        assert!(d.set_secret("ok", "x".repeat(25_601), meta(), 1).is_err());
        assert!(d.set_secret("ok", "x".repeat(25_600), meta(), 1).is_ok());
    }
}
