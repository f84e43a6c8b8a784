//! An in-memory [`VaultProvider`] for unit tests: objects to read, scripted failures, a delay
//! per request, and a count of the requests that reached it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use super::{
    CertificateBundle, SecretBundle, SecretProperties, SecretValue, VaultAccess, VaultError,
    VaultProvider,
};

/// The fake vault. Every access reads the same objects.
#[derive(Default)]
pub struct FakeVault {
    secrets: Mutex<BTreeMap<String, (String, String)>>,
    failures: Mutex<VecDeque<VaultError>>,
    delay: Mutex<Duration>,
    calls: Mutex<BTreeMap<&'static str, usize>>,
}

impl FakeVault {
    /// Stores `value` as the latest version of secret `name`.
    pub fn put_secret(&self, name: &str, version: &str, value: &str) {
        self.secrets.lock().expect("poisoned").insert(
            name.to_ascii_lowercase(),
            (version.to_string(), value.to_string()),
        );
    }

    /// The next requests fail with these errors, in order.
    pub fn fail_next(&self, errors: impl IntoIterator<Item = VaultError>) {
        self.failures.lock().expect("poisoned").extend(errors);
    }

    /// Every request takes this long (on tokio's clock).
    pub fn set_delay(&self, delay: Duration) {
        *self.delay.lock().expect("poisoned") = delay;
    }

    /// Requests of `operation` (`list`, `secret`, `certificate`) that reached the vault.
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
    async fn list_secrets(&self, _: &VaultAccess) -> Result<Vec<SecretProperties>, VaultError> {
        self.request("list").await?;
        let secrets = self.secrets.lock().expect("poisoned");
        Ok(secrets
            .keys()
            .map(|name| SecretProperties {
                name: name.clone(),
                enabled: true,
                updated: None,
                tags: BTreeMap::new(),
                content_type: None,
                managed: false,
            })
            .collect())
    }

    async fn get_secret(
        &self,
        _: &VaultAccess,
        name: &str,
        _version: Option<&str>,
    ) -> Result<SecretBundle, VaultError> {
        self.request("secret").await?;
        let secrets = self.secrets.lock().expect("poisoned");
        let (version, value) = secrets
            .get(&name.to_ascii_lowercase())
            .ok_or(VaultError::NotFound)?;
        Ok(SecretBundle {
            name: name.to_string(),
            version: version.clone(),
            value: SecretValue::new(value.clone()),
            content_type: None,
            updated: None,
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
}
