//! One vault's objects: secrets (with versions) and certificates (whose key material lives in a
//! managed secret of the same name and version). Pure data, no HTTP.

pub(crate) use super::types::{SecretMeta, StoreError};
use super::validate;
use crate::ids::new_version;
use serde_json::Value;
use std::collections::BTreeMap;

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
#[derive(Debug, Clone)]
pub(crate) struct SecretEntry {
    pub name: String,
    pub versions: Vec<SecretVersion>,
}

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
#[derive(Debug, Clone)]
pub(crate) struct CertEntry {
    pub name: String,
    pub versions: Vec<CertVersion>,
}

/// All objects of a vault, keyed by lowercase name.
#[derive(Debug, Default)]
pub(crate) struct VaultData {
    pub secrets: BTreeMap<String, SecretEntry>,
    pub certs: BTreeMap<String, CertEntry>,
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
        let key = name.to_ascii_lowercase();
        if self.certs.contains_key(&key) {
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
        let entry = self
            .secrets
            .entry(name.to_ascii_lowercase())
            .or_insert_with(|| SecretEntry {
                name: name.to_owned(),
                versions: Vec::new(),
            });
        entry.versions.push(SecretVersion {
            version: version.clone(),
            value,
            meta,
            created: now,
            updated: now,
            managed,
        });
        version
    }

    /// Finds a secret version (latest when `version` is `None`) without checking `enabled`.
    pub fn find_secret(
        &self,
        name: &str,
        version: Option<&str>,
    ) -> Result<(&SecretEntry, &SecretVersion), StoreError> {
        let not_found = || StoreError::SecretNotFound(name.to_owned());
        let entry = self
            .secrets
            .get(&name.to_ascii_lowercase())
            .ok_or_else(not_found)?;
        let v = match version {
            None => entry.versions.last(),
            Some(v) => entry.versions.iter().find(|x| x.version == v),
        };
        Ok((entry, v.ok_or_else(not_found)?))
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
        let not_found = || StoreError::SecretNotFound(name.to_owned());
        let entry = self
            .secrets
            .get_mut(&name.to_ascii_lowercase())
            .ok_or_else(not_found)?;
        let v = match version {
            None => entry.versions.last_mut(),
            Some(id) => entry.versions.iter_mut().find(|x| x.version == id),
        }
        .ok_or_else(not_found)?;
        let mut meta = v.meta.clone();
        update(&mut meta);
        validate::meta(&meta)?;
        v.meta = meta;
        v.updated = now;
        Ok((entry.name.clone(), v.clone()))
    }

    /// Removes a secret with all versions; returns what was removed.
    pub fn delete_secret(&mut self, name: &str) -> Result<SecretEntry, StoreError> {
        self.secrets
            .remove(&name.to_ascii_lowercase())
            .ok_or_else(|| StoreError::SecretNotFound(name.to_owned()))
    }

    /// Finds a certificate version (latest when `None`).
    pub fn find_cert(
        &self,
        name: &str,
        version: Option<&str>,
    ) -> Result<(&CertEntry, &CertVersion), StoreError> {
        let not_found = || StoreError::CertificateNotFound(name.to_owned());
        let entry = self
            .certs
            .get(&name.to_ascii_lowercase())
            .ok_or_else(not_found)?;
        let v = match version {
            None => entry.versions.last(),
            Some(v) => entry.versions.iter().find(|x| x.version == v),
        };
        Ok((entry, v.ok_or_else(not_found)?))
    }

    /// Records a certificate version and its backing managed secret under the same version id.
    pub fn add_cert(
        &mut self,
        name: &str,
        cert: CertVersion,
        secret_value: String,
        meta: SecretMeta,
    ) {
        let key = name.to_ascii_lowercase();
        self.push_version(
            name,
            secret_value,
            meta,
            cert.created,
            true,
            Some(cert.version.clone()),
        );
        self.certs
            .entry(key)
            .or_insert_with(|| CertEntry {
                name: name.to_owned(),
                versions: Vec::new(),
            })
            .versions
            .push(cert);
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
            Err(StoreError::SecretNotFound(_))
        ));
        d.update_secret("db-pass", None, 3, |m| m.enabled = false)
            .unwrap();
        assert_eq!(
            d.get_secret("db-pass", None).unwrap_err(),
            StoreError::SecretDisabled
        );
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
