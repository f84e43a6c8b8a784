//! An in-memory [`VaultProvider`] for unit tests: objects to read, scripted failures, a delay
//! per request, and a count of the requests that reached it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use super::{
    CertificateBundle, CertificateProperties, KeyBundle, KeyProperties, LISTING_PAGE_SIZE,
    PageGate, SecretBundle, SecretProperties, SecretValue, VaultAccess, VaultError, VaultProvider,
};

/// One stored secret: its latest version, value and update time.
struct Stored {
    version: String,
    value: String,
    updated: i64,
}

/// The fake vault. Every access reads the same objects.
#[derive(Default)]
pub struct FakeVault {
    secrets: Mutex<BTreeMap<String, Stored>>,
    failures: Mutex<VecDeque<VaultError>>,
    delay: Mutex<Duration>,
    calls: Mutex<BTreeMap<&'static str, usize>>,
    challenges: Mutex<usize>,
}

impl FakeVault {
    /// Stores `value` as the latest version of secret `name`.
    pub fn put_secret(&self, name: &str, version: &str, value: &str) {
        let mut secrets = self.secrets.lock().expect("poisoned");
        // Each write moves `updated` on, as the vault's one-second clock would between writes.
        let updated = secrets
            .values()
            .map(|s| s.updated)
            .max()
            .unwrap_or(1_700_000_000)
            + 1;
        secrets.insert(
            name.to_ascii_lowercase(),
            Stored {
                version: version.to_string(),
                value: value.to_string(),
                updated,
            },
        );
    }

    /// Removes secret `name`.
    pub fn delete_secret(&self, name: &str) {
        self.secrets
            .lock()
            .expect("poisoned")
            .remove(&name.to_ascii_lowercase());
    }

    /// The next `count` requests first meet an authentication challenge (two requests each, as
    /// a cold Key Vault client sends them).
    pub fn challenge_next(&self, count: usize) {
        *self.challenges.lock().expect("poisoned") = count;
    }

    /// The next requests fail with these errors, in order.
    pub fn fail_next(&self, errors: impl IntoIterator<Item = VaultError>) {
        self.failures.lock().expect("poisoned").extend(errors);
    }

    /// Every request takes this long (on tokio's clock).
    pub fn set_delay(&self, delay: Duration) {
        *self.delay.lock().expect("poisoned") = delay;
    }

    /// Requests of `operation` (`list`, `certificate list`, `key list`, `secret`,
    /// `certificate`, `key`) that reached the vault.
    pub fn calls(&self, operation: &str) -> usize {
        self.calls
            .lock()
            .expect("poisoned")
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// Counts the request, waits the delay, and pops a scripted failure if any.
    async fn request(&self, operation: &'static str) -> Result<(), VaultError> {
        {
            let mut challenges = self.challenges.lock().expect("poisoned");
            *challenges = challenges.saturating_sub(1);
        }
        *self
            .calls
            .lock()
            .expect("poisoned")
            .entry(operation)
            .or_default() += 1;
        let delay = *self.delay.lock().expect("poisoned");
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        match self.failures.lock().expect("poisoned").pop_front() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

#[async_trait::async_trait]
impl VaultProvider for FakeVault {
    async fn list_secrets(
        &self,
        _: &VaultAccess,
        next_page: &PageGate,
    ) -> Result<Vec<SecretProperties>, VaultError> {
        self.request("list").await?;
        let count = self.secrets.lock().expect("poisoned").len();
        // Pages of LISTING_PAGE_SIZE, as Key Vault sends them: each after the first is gated.
        for _ in 1..count.div_ceil(LISTING_PAGE_SIZE) {
            next_page().await?;
        }
        let secrets = self.secrets.lock().expect("poisoned");
        Ok(secrets
            .iter()
            .map(|(name, stored)| SecretProperties {
                name: name.clone(),
                enabled: true,
                updated: Some(stored.updated),
                tags: BTreeMap::new(),
                content_type: None,
                managed: false,
            })
            .collect())
    }

    async fn list_certificates(
        &self,
        _: &VaultAccess,
        _: &PageGate,
    ) -> Result<Vec<CertificateProperties>, VaultError> {
        self.request("certificate list").await?;
        Ok(Vec::new())
    }

    fn challenge_pending(&self, _: &VaultAccess, _: super::Collection) -> bool {
        *self.challenges.lock().expect("poisoned") > 0
    }

    async fn list_keys(
        &self,
        _: &VaultAccess,
        _: &PageGate,
    ) -> Result<Vec<KeyProperties>, VaultError> {
        self.request("key list").await?;
        Ok(Vec::new())
    }

    async fn get_secret(
        &self,
        _: &VaultAccess,
        name: &str,
        _version: Option<&str>,
    ) -> Result<SecretBundle, VaultError> {
        self.request("secret").await?;
        let secrets = self.secrets.lock().expect("poisoned");
        let stored = secrets
            .get(&name.to_ascii_lowercase())
            .ok_or(VaultError::NotFound)?;
        Ok(SecretBundle {
            name: name.to_string(),
            version: stored.version.clone(),
            value: SecretValue::new(stored.value.clone()),
            content_type: None,
            updated: Some(stored.updated),
            expires: None,
            not_before: None,
        })
    }

    async fn get_certificate(
        &self,
        _: &VaultAccess,
        _name: &str,
        _version: Option<&str>,
    ) -> Result<CertificateBundle, VaultError> {
        self.request("certificate").await?;
        Err(VaultError::NotFound)
    }

    async fn get_key(
        &self,
        _: &VaultAccess,
        _name: &str,
        _version: Option<&str>,
    ) -> Result<KeyBundle, VaultError> {
        self.request("key").await?;
        Err(VaultError::NotFound)
    }
}
