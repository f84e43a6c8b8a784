//! Entra as MSAL reads it: the scope rules of the client-credentials grant (OIDC scopes beside
//! exactly one `<resource>/.default`), instance discovery and the tenant's OpenID configuration.

mod common;

use common::*;
use serde_json::Value;

const VAULT_SCOPE: &str = "https://vault.localhost/.default";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_as_entra_reads_them() {
    let fx = fixture().await;
    let good = fx.control().mint_test_token(SUBJECT, EXCHANGE_AUD, 600);
    let token = |scope: String| {
        let (fx, good) = (&fx, good.clone());
        async move { raw_token(fx, TENANT, CLIENT, &good, &scope).await }
    };

    // What MSAL (Go, Python, .NET, Java) sends for a client-credentials request.
    let (s, b) = token(format!("{VAULT_SCOPE} openid offline_access profile")).await;
    assert_eq!(s, 200, "{b}");
    let fields: Vec<&str> = b.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        fields,
        ["access_token", "expires_in", "ext_expires_in", "token_type"]
    );
    assert_eq!(
        (b["expires_in"].as_i64(), b["ext_expires_in"].as_i64()),
        (Some(3599), Some(3599))
    );

    let (s, b) = token(format!(
        "{VAULT_SCOPE} https://graph.microsoft.com/.default"
    ))
    .await;
    assert_eq!(
        (s, aadsts(&b), b["error"].as_str()),
        (400, 70011, Some("invalid_scope")),
        "{b}"
    );
    let description = b["error_description"].as_str().unwrap();
    assert!(description.contains("The scope https://vault.localhost/.default https://graph.microsoft.com/.default is not valid."), "{description}");

    let (s, b) = token("openid offline_access profile".into()).await;
    assert_eq!((s, aadsts(&b)), (400, 70011), "{b}");

    let (s, b) = token("https://vault.localhost/user_impersonation openid".into()).await;
    assert_eq!(
        (s, aadsts(&b), b["error"].as_str()),
        (400, 1002012, Some("invalid_scope")),
        "{b}"
    );

    let (s, b) = token("https://storage.localhost/.default".into()).await;
    assert_eq!(
        (s, aadsts(&b), b["error"].as_str()),
        (400, 500011, Some("invalid_resource")),
        "{b}"
    );
}

async fn get(fx: &Fixture, url: &str) -> (u16, Value) {
    let r = fx.http.get(url).send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_discovery_and_openid_configuration() {
    let fx = fixture().await;
    let authority = fx.emu.authority_host();
    let host = authority.trim_start_matches("https://");
    let discovery = |endpoint: &str| {
        format!(
            "{authority}/common/discovery/instance?api-version=1.1&authorization_endpoint={}",
            url_encode(endpoint)
        )
    };

    let (s, b) = get(
        &fx,
        &discovery(&format!("{authority}/{TENANT}/oauth2/v2.0/authorize")),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let tenant_doc = format!("{authority}/{TENANT}/v2.0/.well-known/openid-configuration");
    assert_eq!(b["tenant_discovery_endpoint"], tenant_doc.as_str());
    assert_eq!(b["api-version"], "1.1");
    assert_eq!(b["metadata"][0]["aliases"][0], host);
    assert_eq!(b["metadata"][0]["preferred_network"], host);

    // Entra knows no other instance.
    let (s, b) = get(
        &fx,
        &discovery("https://login.example.test/t/oauth2/v2.0/authorize"),
    )
    .await;
    assert_eq!(
        (s, aadsts(&b), b["error"].as_str()),
        (400, 50049, Some("invalid_instance")),
        "{b}"
    );

    let (s, b) = get(&fx, &tenant_doc).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["issuer"], format!("{authority}/{TENANT}/v2.0").as_str());
    assert_eq!(
        b["token_endpoint"],
        format!("{authority}/{TENANT}/oauth2/v2.0/token").as_str()
    );
    assert_eq!(
        b["authorization_endpoint"],
        format!("{authority}/{TENANT}/oauth2/v2.0/authorize").as_str()
    );

    let (s, b) = get(
        &fx,
        &format!("{authority}/common/v2.0/.well-known/openid-configuration"),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["issuer"],
        format!("{authority}/{{tenantid}}/v2.0").as_str()
    );

    let (s, b) = get(
        &fx,
        &format!("{authority}/no-such-tenant/v2.0/.well-known/openid-configuration"),
    )
    .await;
    assert_eq!(
        (s, aadsts(&b), b["error"].as_str()),
        (400, 90002, Some("invalid_tenant")),
        "{b}"
    );
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entra_outage_and_short_token_lifetimes_on_request() {
    let fx = fixture().await;
    let assertion = fx.control().mint_test_token(SUBJECT, EXCHANGE_AUD, 600);
    let token = || raw_token(&fx, TENANT, CLIENT, &assertion, VAULT_SCOPE);

    fx.control().set_token_lifetime(120);
    let (s, b) = token().await;
    assert_eq!((s, b["expires_in"].as_i64()), (200, Some(120)), "{b}");

    fx.control().set_entra_unavailable(true);
    let (s, b) = token().await;
    assert_eq!(
        (s, aadsts(&b), b["error"].as_str()),
        (503, 90033, Some("temporarily_unavailable")),
        "{b}"
    );

    fx.control().set_entra_unavailable(false);
    let (s, b) = token().await;
    assert_eq!(s, 200, "{b}");
    let counted = fx.control().counters();
    assert_eq!(
        counted.sum_where(|k| k.operation == "Token" && k.status == 503),
        1
    );
}
