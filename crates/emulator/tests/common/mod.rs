//! Shared fixture: an emulator with two vaults in two tenants, apps, federated credentials and
//! roles, plus SDK and raw HTTP clients wired to it (CA trusted, hosts resolved to 127.0.0.1).
#![allow(dead_code)]

pub mod webhook;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::TokenCredential;
use azure_core::http::{
    ClientMethodOptions, ClientOptions, ExponentialRetryOptions, RetryOptions, Transport,
};
use azure_core::time::Duration;
use azure_identity::{
    ClientAssertion, ClientAssertionCredential, ClientAssertionCredentialOptions,
};
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
use std::net::SocketAddr;
use std::sync::Arc;
use vaultsync_emulator::{Control, Emulator, EmulatorConfig, Permission};

pub const TENANT: &str = "tenant-a";
pub const OTHER_TENANT: &str = "tenant-b";
pub const CLIENT: &str = "app-1";
pub const NO_ROLE_CLIENT: &str = "app-norole";
pub const SUBJECT: &str = "system:serviceaccount:ns:sa";
pub const EXCHANGE_AUD: &str = "api://AzureADTokenExchange";

/// Installs ring as the process-wide rustls provider (reqwest is built without one).
pub fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A running emulator with vault `v1` (tenant-a) and `v2` (tenant-b).
pub struct Fixture {
    pub emu: Emulator,
    pub http: reqwest::Client,
}

impl Fixture {
    pub fn control(&self) -> &Control {
        self.emu.control()
    }
}

pub async fn fixture() -> Fixture {
    install_provider();
    let emu = Emulator::start(EmulatorConfig {
        port: 0,
        test_issuer: true,
    })
    .await
    .expect("emulator starts");
    let c = emu.control();
    c.create_vault("v1", TENANT);
    c.create_vault("v2", OTHER_TENANT);
    c.register_app(TENANT, CLIENT);
    c.register_app(TENANT, NO_ROLE_CLIENT);
    c.add_federated_credential(CLIENT, c.test_issuer(), SUBJECT);
    c.add_federated_credential(NO_ROLE_CLIENT, c.test_issuer(), SUBJECT);
    let all = [
        Permission::SecretsRead,
        Permission::CertificatesRead,
        Permission::List,
        Permission::SecretsWrite,
        Permission::CertificatesWrite,
    ];
    c.assign_role(CLIENT, "v1", &all);
    c.assign_role(CLIENT, "v2", &all);
    let http = http_client(&emu, &["v1", "v2", "nosuchvault"]);
    Fixture { emu, http }
}

/// reqwest client trusting the emulator CA and resolving its host names to 127.0.0.1.
pub fn http_client(emu: &Emulator, vaults: &[&str]) -> reqwest::Client {
    let addr: SocketAddr = ([127, 0, 0, 1], emu.port()).into();
    let ca = reqwest::Certificate::from_pem(emu.ca_pem().as_bytes()).expect("CA PEM");
    let mut b = reqwest::Client::builder()
        .tls_certs_merge([ca])
        .resolve("login.localhost", addr)
        .timeout(std::time::Duration::from_secs(30));
    for v in vaults {
        b = b.resolve(&format!("{v}.vault.localhost"), addr);
    }
    b.build().expect("reqwest client")
}

/// Client assertion from the emulator's test issuer.
#[derive(Debug)]
pub struct TestAssertion {
    pub control: Control,
    pub subject: String,
}

#[async_trait::async_trait]
impl ClientAssertion for TestAssertion {
    async fn secret(&self, _: Option<ClientMethodOptions<'_>>) -> azure_core::Result<String> {
        Ok(self
            .control
            .mint_test_token(&self.subject, EXCHANGE_AUD, 600))
    }
}

/// Client options: the emulator transport, the emulator authority, quick retries.
pub fn client_options(fx: &Fixture) -> ClientOptions {
    let mut cloud = CustomConfiguration::default();
    cloud.authority_host = fx.emu.authority_host();
    let retry = ExponentialRetryOptions {
        initial_delay: Duration::milliseconds(50),
        max_retries: 3,
        max_delay: Duration::seconds(3),
        ..Default::default()
    };
    ClientOptions {
        transport: Some(Transport::new(Arc::new(fx.http.clone()))),
        cloud: Some(Arc::new(CloudConfiguration::Custom(cloud))),
        retry: RetryOptions::exponential(retry),
        ..Default::default()
    }
}

pub fn credential(fx: &Fixture, tenant: &str, client_id: &str) -> Arc<dyn TokenCredential> {
    let assertion = TestAssertion {
        control: fx.control().clone(),
        subject: SUBJECT.to_owned(),
    };
    let options = ClientAssertionCredentialOptions {
        client_options: client_options(fx),
    };
    ClientAssertionCredential::new(tenant.into(), client_id.into(), assertion, Some(options))
        .expect("credential")
}

/// A SecretClient for `vault` (challenge resource verification left on, as by default).
pub fn secret_client(fx: &Fixture, vault: &str, tenant: &str, client_id: &str) -> SecretClient {
    let options = SecretClientOptions {
        client_options: client_options(fx),
        ..Default::default()
    };
    SecretClient::new(
        &fx.emu.vault_url(vault),
        credential(fx, tenant, client_id),
        Some(options),
    )
    .expect("secret client")
}

/// Raw token request to the emulator's Entra endpoint; returns (status, JSON body).
pub async fn raw_token(
    fx: &Fixture,
    tenant: &str,
    client_id: &str,
    assertion: &str,
    scope: &str,
) -> (u16, serde_json::Value) {
    let url = format!("{}/{tenant}/oauth2/v2.0/token", fx.emu.authority_host());
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("scope", scope),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion),
    ];
    let r = fx
        .http
        .post(url)
        .form(&form)
        .send()
        .await
        .expect("token request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

/// A vault access token for CLIENT in TENANT.
pub async fn access_token(fx: &Fixture) -> String {
    let a = fx.control().mint_test_token(SUBJECT, EXCHANGE_AUD, 600);
    let (status, body) =
        raw_token(fx, TENANT, CLIENT, &a, "https://vault.localhost/.default").await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// First AADSTS code of an Entra error body.
pub fn aadsts(body: &serde_json::Value) -> i64 {
    body["error_codes"][0].as_i64().unwrap_or(-1)
}

/// An authenticated data-plane call to vault `v1` as CLIENT; returns (status, JSON body).
pub async fn rest(
    fx: &Fixture,
    token: &str,
    method: reqwest::Method,
    path_query: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let url = format!("{}{path_query}", fx.emu.vault_url("v1"));
    let mut rb = fx.http.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.expect("data-plane request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

/// The `error.code` of a Key Vault error body.
pub fn kv_code(b: &serde_json::Value) -> &str {
    b["error"]["code"].as_str().unwrap_or("")
}
