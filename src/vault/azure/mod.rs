//! The Azure Key Vault implementation of [`VaultProvider`]: the only place Azure SDK types
//! appear. Credentials are cached per identity and clients per (identity, vault), so tokens are
//! exchanged only when the cached Entra token nears expiry, never per reconcile.

mod assertion;
mod classify;
mod exchanges;
mod keys;
mod last_good;
mod retry;
mod transport;
mod warm_up;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, HttpClient, RetryOptions, Transport};
use azure_identity::{ClientAssertionCredential, ClientAssertionCredentialOptions};
use azure_security_keyvault_certificates::{CertificateClient, CertificateClientOptions};
use azure_security_keyvault_keys::{KeyClient, KeyClientOptions};
use azure_security_keyvault_secrets::models::SecretClientGetSecretOptions;
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
use futures::{StreamExt, TryStreamExt};

pub use assertion::TOKEN_EXCHANGE_AUDIENCE;
pub use exchanges::ExchangeObserver;
pub use transport::{TransportError, http_client};

use self::assertion::ServiceAccountAssertion;
use self::classify::classify;
use self::warm_up::WarmUp;
use super::{
    CertificateBundle, CertificateProperties, Collection, Identity, KeyBundle, KeyProperties,
    PageGate, SecretBundle, SecretProperties, SecretValue, VaultAccess, VaultError, VaultProvider,
};

/// Most pages of one listing followed (Key Vault pages hold 25 secrets).
const MAX_LISTING_PAGES: usize = 2_000;
/// Most objects one listing may hold.
const MAX_LISTED_ITEMS: usize = 50_000;

/// Settings of the Azure provider.
#[derive(Clone, Debug, Default)]
pub struct AzureOptions {
    /// Entra authority host, for example `https://login.microsoftonline.com` (the default).
    pub authority_host: Option<String>,
    /// Extra PEM roots trusted for the vault and the authority, added to the system's.
    pub extra_ca_pem: Option<String>,
    /// Turn off the SDK's challenge-resource verification. For emulators only.
    pub disable_challenge_resource_verification: bool,
    /// Key Vault REST api-version; the SDK's default when unset.
    pub api_version: Option<String>,
    /// Resolve `*.localhost` to 127.0.0.1 (emulators only).
    pub loopback_hosts: bool,
}

struct Clients {
    secrets: Arc<SecretClient>,
    certificates: Arc<CertificateClient>,
    keys: Arc<KeyClient>,
    /// Each client's warm-up (see [`warm_up`]).
    secrets_warm_up: WarmUp,
    certificates_warm_up: WarmUp,
    keys_warm_up: WarmUp,
}

/// Reads Azure Key Vault with per-namespace workload identities.
pub struct AzureVault {
    kube: kube::Client,
    options: AzureOptions,
    transport: Transport,
    /// What `transport` sends through, for the credentials' own observed transport.
    http: Arc<dyn HttpClient>,
    exchange_observer: Option<ExchangeObserver>,
    credentials: Mutex<HashMap<Identity, Arc<dyn TokenCredential>>>,
    clients: Mutex<HashMap<VaultAccess, Arc<Clients>>>,
    /// When each identity's credential was last replaced because a vault rejected its token.
    replaced: Mutex<HashMap<Identity, Instant>>,
}

/// Least time between two replacements of one identity's credential after rejected tokens:
/// a vault that keeps refusing (a role in another tenant, say) costs Entra one exchange per
/// interval, not one per request.
const REPLACE_REJECTED_AT_MOST_EVERY: Duration = Duration::from_secs(10);

impl AzureVault {
    /// Builds the provider; `kube` mints ServiceAccount tokens.
    pub fn new(kube: kube::Client, options: AzureOptions) -> Result<Self, TransportError> {
        let http = transport::http_client(options.extra_ca_pem.as_deref(), options.loopback_hosts)?;
        let http: Arc<dyn HttpClient> = Arc::new(transport::BoundedBodies::new(
            Arc::new(http),
            transport::MAX_RESPONSE_BYTES,
        ));
        Ok(AzureVault {
            kube,
            options,
            transport: Transport::new(http.clone()),
            http,
            exchange_observer: None,
            credentials: Mutex::default(),
            clients: Mutex::default(),
            replaced: Mutex::default(),
        })
    }

    /// Calls `observer(outcome)` after every token exchange sent to Entra ID.
    pub fn with_exchange_observer(mut self, observer: ExchangeObserver) -> Self {
        self.exchange_observer = Some(observer);
        self
    }

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
    async fn send<T>(
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

    fn clients(&self, access: &VaultAccess) -> Result<Arc<Clients>, VaultError> {
        if let Some(existing) = self.clients.lock().expect("poisoned").get(access) {
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
        self.clients
            .lock()
            .expect("poisoned")
            .insert(access.clone(), clients.clone());
        Ok(clients)
    }
}

/// Follows every page of a listing, refusing one that runs past [`MAX_LISTING_PAGES`] pages or
/// [`MAX_LISTED_ITEMS`] items instead of following it forever.
/// Each page after the first is fetched only once `next_page` lets it through (the pager sends
/// its request when polled, and only while the last page named a next one).
async fn all_pages<T>(
    mut pages: impl futures::Stream<Item = azure_core::Result<(Vec<T>, bool)>> + Unpin,
    vault_url: &str,
    what: &str,
    next_page: &PageGate,
) -> Result<Vec<T>, VaultError> {
    let classify_list = |e: azure_core::Error| classify(&e, vault_url);
    let mut items = Vec::new();
    let mut count = 0usize;
    loop {
        if count > 0 {
            next_page().await?;
        }
        let Some((page, more)) = pages.try_next().await.map_err(classify_list)? else {
            break;
        };
        count += 1;
        items.extend(page);
        if count > MAX_LISTING_PAGES || items.len() > MAX_LISTED_ITEMS {
            return Err(VaultError::TooLarge {
                detail: format!(
                    "the {what} listing runs past {MAX_LISTING_PAGES} pages or \
                     {MAX_LISTED_ITEMS} items; refusing the rest"
                ),
            });
        }
        if !more {
            break;
        }
    }
    Ok(items)
}

/// `https://v.vault.azure.net/secrets/NAME/VERSION` → (`NAME`, `VERSION`).
fn name_and_version(id: &str) -> (String, String) {
    let mut parts = id.trim_end_matches('/').rsplit('/');
    let last = parts.next().unwrap_or_default().to_string();
    let before = parts.next().unwrap_or_default().to_string();
    if matches!(before.as_str(), "secrets" | "certificates" | "keys") {
        (last, String::new())
    } else {
        (before, last)
    }
}

#[async_trait::async_trait]
impl VaultProvider for AzureVault {
    fn challenge_pending(&self, access: &VaultAccess, collection: Collection) -> bool {
        let clients = self.clients.lock().expect("poisoned");
        let Some(clients) = clients.get(access) else {
            return true;
        };
        let warm_up = match collection {
            Collection::Secrets => &clients.secrets_warm_up,
            Collection::Certificates => &clients.certificates_warm_up,
            Collection::Keys => &clients.keys_warm_up,
        };
        !warm_up.is_warm()
    }

    async fn list_secrets(
        &self,
        access: &VaultAccess,
        next_page: &PageGate,
    ) -> Result<Vec<SecretProperties>, VaultError> {
        let clients = self.clients(access)?;
        let classify_list = |e: azure_core::Error| classify(&e, &access.vault_url);
        let pages = clients
            .secrets
            .list_secret_properties(None)
            .map_err(classify_list)?
            .into_pages()
            .map(|page| {
                page.and_then(|p| p.into_model())
                    .map(|m| (m.value, m.next_link.is_some_and(|link| !link.is_empty())))
            });
        let items = self
            .send(
                access,
                &clients.secrets_warm_up,
                all_pages(pages, &access.vault_url, "secret", next_page),
            )
            .await?;
        Ok(items
            .into_iter()
            .map(|item| {
                let attributes = item.attributes.unwrap_or_default();
                SecretProperties {
                    name: name_and_version(item.id.as_deref().unwrap_or_default()).0,
                    enabled: attributes.enabled.unwrap_or(true),
                    updated: attributes.updated.map(|t| t.unix_timestamp()),
                    tags: item.tags.unwrap_or_default().into_iter().collect(),
                    content_type: item.content_type,
                    managed: item.managed.unwrap_or(false),
                }
            })
            .collect())
    }

    async fn list_certificates(
        &self,
        access: &VaultAccess,
        next_page: &PageGate,
    ) -> Result<Vec<CertificateProperties>, VaultError> {
        let clients = self.clients(access)?;
        let classify_list = |e: azure_core::Error| classify(&e, &access.vault_url);
        let pages = clients
            .certificates
            .list_certificate_properties(None)
            .map_err(classify_list)?
            .into_pages()
            .map(|page| {
                page.and_then(|p| p.into_model())
                    .map(|m| (m.value, m.next_link.is_some_and(|link| !link.is_empty())))
            });
        let items = self
            .send(
                access,
                &clients.certificates_warm_up,
                all_pages(pages, &access.vault_url, "certificate", next_page),
            )
            .await?;
        Ok(items
            .into_iter()
            .map(|item| {
                let attributes = item.attributes.unwrap_or_default();
                CertificateProperties {
                    name: name_and_version(item.id.as_deref().unwrap_or_default()).0,
                    enabled: attributes.enabled.unwrap_or(true),
                    updated: attributes.updated.map(|t| t.unix_timestamp()),
                }
            })
            .collect())
    }

    async fn list_keys(
        &self,
        access: &VaultAccess,
        next_page: &PageGate,
    ) -> Result<Vec<KeyProperties>, VaultError> {
        let clients = self.clients(access)?;
        let classify_list = |e: azure_core::Error| classify(&e, &access.vault_url);
        let pages = clients
            .keys
            .list_key_properties(None)
            .map_err(classify_list)?
            .into_pages()
            .map(|page| {
                page.and_then(|p| p.into_model())
                    .map(|m| (m.value, m.next_link.is_some_and(|link| !link.is_empty())))
            });
        let items = self
            .send(
                access,
                &clients.keys_warm_up,
                all_pages(pages, &access.vault_url, "key", next_page),
            )
            .await?;
        Ok(items
            .into_iter()
            .map(|item| {
                let attributes = item.attributes.unwrap_or_default();
                KeyProperties {
                    name: name_and_version(item.kid.as_deref().unwrap_or_default()).0,
                    enabled: attributes.enabled.unwrap_or(true),
                    updated: attributes.updated.map(|t| t.unix_timestamp()),
                }
            })
            .collect())
    }

    async fn get_secret(
        &self,
        access: &VaultAccess,
        name: &str,
        version: Option<&str>,
    ) -> Result<SecretBundle, VaultError> {
        let clients = self.clients(access)?;
        let options = SecretClientGetSecretOptions {
            secret_version: version.map(str::to_string),
            ..Default::default()
        };
        let call = async {
            clients
                .secrets
                .get_secret(name, Some(options))
                .await
                .map_err(|e| classify(&e, &access.vault_url))
        };
        let response = self.send(access, &clients.secrets_warm_up, call).await?;
        let secret = response
            .into_model()
            .map_err(|e| classify(&e, &access.vault_url))?;
        let attributes = secret.attributes.unwrap_or_default();
        let (found_name, found_version) =
            name_and_version(secret.id.as_deref().unwrap_or_default());
        Ok(SecretBundle {
            name: if found_name.is_empty() {
                name.to_string()
            } else {
                found_name
            },
            version: found_version,
            value: SecretValue::new(secret.value.unwrap_or_default()),
            content_type: secret.content_type,
            updated: attributes.updated.map(|t| t.unix_timestamp()),
            expires: attributes.expires.map(|t| t.unix_timestamp()),
            not_before: attributes.not_before.map(|t| t.unix_timestamp()),
        })
    }

    async fn get_certificate(
        &self,
        access: &VaultAccess,
        name: &str,
        version: Option<&str>,
    ) -> Result<CertificateBundle, VaultError> {
        let clients = self.clients(access)?;
        let options =
            azure_security_keyvault_certificates::models::CertificateClientGetCertificateOptions {
                certificate_version: version.map(str::to_string),
                ..Default::default()
            };
        let call = async {
            clients
                .certificates
                .get_certificate(name, Some(options))
                .await
                .map_err(|e| classify(&e, &access.vault_url))
        };
        let response = self
            .send(access, &clients.certificates_warm_up, call)
            .await?;
        let certificate = response
            .into_model()
            .map_err(|e| classify(&e, &access.vault_url))?;
        let attributes = certificate.attributes.unwrap_or_default();
        let (found_name, found_version) =
            name_and_version(certificate.id.as_deref().unwrap_or_default());
        let (secret_name, secret_version) =
            name_and_version(certificate.sid.as_deref().unwrap_or_default());
        Ok(CertificateBundle {
            name: if found_name.is_empty() {
                name.to_string()
            } else {
                found_name
            },
            version: found_version,
            secret_name,
            secret_version,
            enabled: attributes.enabled.unwrap_or(true),
            updated: attributes.updated.map(|t| t.unix_timestamp()),
        })
    }

    async fn get_key(
        &self,
        access: &VaultAccess,
        name: &str,
        version: Option<&str>,
    ) -> Result<KeyBundle, VaultError> {
        let clients = self.clients(access)?;
        let options = azure_security_keyvault_keys::models::KeyClientGetKeyOptions {
            key_version: version.map(str::to_string),
            ..Default::default()
        };
        let call = async {
            clients
                .keys
                .get_key(name, Some(options))
                .await
                .map_err(|e| classify(&e, &access.vault_url))
        };
        let response = self.send(access, &clients.keys_warm_up, call).await?;
        let key = response
            .into_model()
            .map_err(|e| classify(&e, &access.vault_url))?;
        let attributes = key.attributes.unwrap_or_default();
        if attributes.enabled == Some(false) {
            return Err(VaultError::Disabled);
        }
        let jwk = key.key.unwrap_or_default();
        let (found_name, found_version) = name_and_version(jwk.kid.as_deref().unwrap_or_default());
        Ok(KeyBundle {
            name: if found_name.is_empty() {
                name.to_string()
            } else {
                found_name
            },
            version: found_version,
            id: jwk.kid.clone(),
            key: keys::public_key(jwk),
            updated: attributes.updated.map(|t| t.unix_timestamp()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::name_and_version;

    #[test]
    fn ids_split_into_name_and_version() {
        assert_eq!(
            name_and_version("https://v.vault.azure.net/secrets/db/0123abcd"),
            ("db".into(), "0123abcd".into())
        );
        assert_eq!(
            name_and_version("https://v.vault.azure.net/secrets/db"),
            ("db".into(), String::new())
        );
        assert_eq!(
            name_and_version("https://v.vault.azure.net/keys/signer"),
            ("signer".into(), String::new())
        );
        assert_eq!(
            name_and_version("https://v.vault.azure.net/keys/signer/0123abcd"),
            ("signer".into(), "0123abcd".into())
        );
    }
}
