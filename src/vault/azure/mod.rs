//! The Azure Key Vault implementation of [`VaultProvider`]: the only place Azure SDK types
//! appear. Credentials are cached per identity and clients per (identity, vault), so tokens are
//! exchanged only when the cached Entra token nears expiry, never per reconcile.

mod assertion;
mod classify;
mod clients;
mod exchanges;
mod keys;
mod last_good;
mod paging;
mod retry;
mod transport;
mod warm_up;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use azure_core::credentials::TokenCredential;
use azure_core::http::{HttpClient, Transport};
use azure_security_keyvault_secrets::models::SecretClientGetSecretOptions;
use futures::StreamExt;

pub use assertion::TOKEN_EXCHANGE_AUDIENCE;
pub use exchanges::ExchangeObserver;
pub use transport::{TransportError, http_client};

use self::classify::classify;
use self::clients::Clients;
use self::paging::{all_pages, name_and_version};
use super::{
    CertificateBundle, CertificateProperties, Collection, Identity, KeyBundle, KeyProperties,
    PageGate, SecretBundle, SecretProperties, SecretValue, VaultAccess, VaultError, VaultProvider,
};

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
