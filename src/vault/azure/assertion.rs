//! The client assertion for Entra's workload-identity exchange: a ServiceAccount token minted on
//! demand through the TokenRequest API, for the resource's own ServiceAccount only.

use azure_core::error::ErrorKind;
use azure_core::http::ClientMethodOptions;
use azure_identity::ClientAssertion;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Api;
use kube::api::PostParams;

/// Audience Entra expects on federated tokens.
pub const TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

/// Lifetime requested for ServiceAccount tokens; Entra only checks them at exchange time.
const TOKEN_LIFETIME_SECONDS: i64 = 600;

/// Mints `system:serviceaccount:NAMESPACE:NAME` tokens. Debug never shows a token.
pub struct ServiceAccountAssertion {
    pub(crate) client: kube::Client,
    pub(crate) namespace: String,
    pub(crate) service_account: String,
}

impl std::fmt::Debug for ServiceAccountAssertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountAssertion")
            .field("namespace", &self.namespace)
            .field("service_account", &self.service_account)
            .finish()
    }
}

#[async_trait::async_trait]
impl ClientAssertion for ServiceAccountAssertion {
    async fn secret(
        &self,
        _options: Option<ClientMethodOptions<'_>>,
    ) -> azure_core::Result<String> {
        let accounts: Api<ServiceAccount> = Api::namespaced(self.client.clone(), &self.namespace);
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: vec![TOKEN_EXCHANGE_AUDIENCE.to_string()],
                expiration_seconds: Some(TOKEN_LIFETIME_SECONDS),
                ..Default::default()
            },
            ..Default::default()
        };
        let response = accounts
            .create_token_request(&self.service_account, &PostParams::default(), &request)
            .await
            .map_err(|e| {
                azure_core::Error::with_message(
                    ErrorKind::Credential,
                    format!(
                        "failed to request a token for ServiceAccount {}/{}: {e}",
                        self.namespace, self.service_account
                    ),
                )
            })?;
        response.status.map(|s| s.token).ok_or_else(|| {
            azure_core::Error::with_message(
                ErrorKind::Credential,
                "the TokenRequest answer carried no token",
            )
        })
    }
}
