//! Credentials and SDK clients: one credential per identity, one set of clients per (identity,
//! vault), both built on first use and replaced when a vault rejects the identity's token.

use std::sync::Arc;
use std::time::Instant;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, RetryOptions, Transport};
use azure_identity::{ClientAssertionCredential, ClientAssertionCredentialOptions};
use azure_security_keyvault_certificates::{CertificateClient, CertificateClientOptions};
use azure_security_keyvault_keys::{KeyClient, KeyClientOptions};
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};

use super::assertion::ServiceAccountAssertion;
use super::warm_up::WarmUp;
use super::{AzureVault, REPLACE_REJECTED_AT_MOST_EVERY, classify, exchanges, last_good, retry};
use crate::vault::{Identity, VaultAccess, VaultError};

/// The SDK clients of one (identity, vault).
pub(super) struct Clients {
    pub(super) secrets: Arc<SecretClient>,
    pub(super) certificates: Arc<CertificateClient>,
    pub(super) keys: Arc<KeyClient>,
    /// Each client's warm-up (see [`warm_up`]).
    pub(super) secrets_warm_up: WarmUp,
    pub(super) certificates_warm_up: WarmUp,
    pub(super) keys_warm_up: WarmUp,
}

impl AzureVault {
    fn client_options(&self) -> ClientOptions {
        let mut options = ClientOptions {
            transport: Some(self.transport.clone()),
            // A couple of quick retries inside the SDK; longer waits belong to the operator's
            // per-object backoff and per-vault limiter, which see every resource at once.
            retry: RetryOptions::custom(Arc::new(retry::QuickRetries)),
            ..Default::default()
        };
        if let Some(host) = &self.options.authority_host {
            let mut custom = CustomConfiguration::default();
            custom.authority_host = host.clone();
            options.cloud = Some(Arc::new(CloudConfiguration::from(custom)));
        }
        options
    }

    /// Runs one vault request through `warm_up`; when the vault rejects the token (401 after the
    /// challenge), the identity's credential and clients are replaced, so the next request
    /// carries a token fresh from Entra instead of the one the credential would keep handing
    /// out until it nears expiry (a token the vault no longer accepts is not renewed early).
    pub(super) async fn send<T>(
        &self,
        access: &VaultAccess,
        warm_up: &WarmUp,
        call: impl std::future::Future<Output = Result<T, VaultError>>,
    ) -> Result<T, VaultError> {
        let result = warm_up.run(call).await;
        if let Err(err) = &result
            && classify::vault_rejected_token(err)
        {
            self.replace_credential(&access.identity);
        }
        result
    }

    /// Drops the credential and clients of `identity` (at most every
    /// [`REPLACE_REJECTED_AT_MOST_EVERY`]); the next request builds them anew.
    fn replace_credential(&self, identity: &Identity) {
        {
            let mut replaced = self.replaced.lock().expect("poisoned");
            if replaced
                .get(identity)
                .is_some_and(|at| at.elapsed() < REPLACE_REJECTED_AT_MOST_EVERY)
            {
                return;
            }
            replaced.insert(identity.clone(), Instant::now());
        }
        tracing::info!(
            service_account = %format!("{}/{}", identity.namespace, identity.service_account),
            "the vault rejected the identity's token; getting a new one"
        );
        self.credentials.lock().expect("poisoned").remove(identity);
        self.clients
            .lock()
            .expect("poisoned")
            .retain(|access, _| access.identity != *identity);
    }

    fn credential(&self, identity: &Identity) -> Result<Arc<dyn TokenCredential>, VaultError> {
        let mut credentials = self.credentials.lock().expect("poisoned");
        if let Some(existing) = credentials.get(identity) {
            return Ok(existing.clone());
        }
        let assertion = ServiceAccountAssertion {
            client: self.kube.clone(),
            namespace: identity.namespace.clone(),
            service_account: identity.service_account.clone(),
        };
        let mut client_options = self.client_options();
        if let Some(observer) = &self.exchange_observer {
            let observed = exchanges::ObservedExchanges::new(self.http.clone(), observer.clone());
            client_options.transport = Some(Transport::new(Arc::new(observed)));
        }
        let credential = ClientAssertionCredential::new(
            identity.tenant_id.clone(),
            identity.client_id.clone(),
            assertion,
            Some(ClientAssertionCredentialOptions { client_options }),
        )
        .map_err(|e| VaultError::Authentication {
            detail: format!("failed to build the workload identity credential: {e}"),
        })?;
        let credential: Arc<dyn TokenCredential> = credential;
        let credential: Arc<dyn TokenCredential> =
            Arc::new(last_good::LastGoodToken::new(credential));
        credentials.insert(identity.clone(), credential.clone());
        Ok(credential)
    }

    /// The clients of `access`, built on first use. Found and built under one lock: two first
    /// requests at once (a scan and a reconcile) would otherwise build two sets, each meeting
    /// the vault's challenge on its own.
    pub(super) fn clients(&self, access: &VaultAccess) -> Result<Arc<Clients>, VaultError> {
        let mut all = self.clients.lock().expect("poisoned");
        if let Some(existing) = all.get(access) {
            return Ok(existing.clone());
        }
        let credential = self.credential(&access.identity)?;
        let verify = Some(!self.options.disable_challenge_resource_verification);
        let mut secret_options = SecretClientOptions {
            client_options: self.client_options(),
            verify_challenge_resource: verify,
            ..Default::default()
        };
        let mut certificate_options = CertificateClientOptions {
            client_options: self.client_options(),
            verify_challenge_resource: verify,
            ..Default::default()
        };
        let mut key_options = KeyClientOptions {
            client_options: self.client_options(),
            verify_challenge_resource: verify,
            ..Default::default()
        };
        if let Some(version) = &self.options.api_version {
            secret_options.api_version = version.clone();
            certificate_options.api_version = version.clone();
            key_options.api_version = version.clone();
        }
        let invalid = |e: azure_core::Error| VaultError::Invalid {
            detail: format!("failed to create a client for {}: {e}", access.vault_url),
        };
        let secrets =
            SecretClient::new(&access.vault_url, credential.clone(), Some(secret_options))
                .map_err(invalid)?;
        let certificates = CertificateClient::new(
            &access.vault_url,
            credential.clone(),
            Some(certificate_options),
        )
        .map_err(invalid)?;
        let keys =
            KeyClient::new(&access.vault_url, credential, Some(key_options)).map_err(invalid)?;
        let clients = Arc::new(Clients {
            secrets: Arc::new(secrets),
            certificates: Arc::new(certificates),
            keys: Arc::new(keys),
            secrets_warm_up: WarmUp::default(),
            certificates_warm_up: WarmUp::default(),
            keys_warm_up: WarmUp::default(),
        });
        all.insert(access.clone(), clients.clone());
        Ok(clients)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use super::*;
    use crate::vault::azure::AzureOptions;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn first_requests_at_once_share_one_set_of_clients() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = kube::Config::new("http://127.0.0.1:1".parse().unwrap());
        let kube = kube::Client::try_from(config).unwrap();
        let vault = Arc::new(AzureVault::new(kube, AzureOptions::default()).unwrap());
        for round in 0..100 {
            let barrier = Arc::new(Barrier::new(2));
            let built: Vec<_> = (0..2)
                .map(|_| {
                    let (vault, barrier) = (vault.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        let access = VaultAccess::for_test(
                            &format!("https://v{round}.vault.azure.net/"),
                            "app",
                        );
                        vault.clients(&access).unwrap()
                    })
                })
                .collect();
            let built: Vec<_> = built.into_iter().map(|t| t.join().unwrap()).collect();
            assert!(
                Arc::ptr_eq(&built[0], &built[1]),
                "round {round}: two sets of clients, each to meet the challenge"
            );
        }
    }
}
