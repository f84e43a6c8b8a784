//! The chart's ValidatingAdmissionPolicy on the real API server, proven with the chart
//! ServiceAccount's own token: it mints ServiceAccount tokens only for the Entra ID exchange
//! audience and for at most 10 minutes, and writes no Secret that Kubernetes fills with API
//! credentials. Every refusal is checked to come from the policy (its name and message), and a
//! release with the policy turned off shows the same requests succeed without it.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use k8s_openapi::ByteString;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use serde_json::Value;
use vaultsync_testenv::shared;

use super::install::{Release, cluster_wide, helm_install, kubectl_ok, new_namespace, restricted};
use super::rbac::client_as;
use super::support::eventually::eventually;

const AZURE: &str = "api://AzureADTokenExchange";
/// How long a new policy may take to be enforced (the API server loads it from a watch).
const EFFECTIVE_WITHIN: Duration = Duration::from_secs(30);

fn object_name<'a>(release: &'a Release, kind: &str) -> &'a str {
    release
        .objects
        .iter()
        .find(|o| o["kind"] == kind)
        .and_then(|o| o["metadata"]["name"].as_str())
        .unwrap_or_else(|| panic!("release {} has no {kind}", release.name))
}

fn policy_name(release: &Release) -> &str {
    object_name(release, "ValidatingAdmissionPolicy")
}

/// A ServiceAccount named `name` in `namespace`, created as admin.
fn service_account(namespace: &str, name: &str) {
    kubectl_ok(&["create", "serviceaccount", name, "-n", namespace], "");
}

/// A TokenRequest for `namespace/name` as `client`: `audiences` (empty: the API server's own)
/// and `expiration` seconds (None: the API server's default of one hour).
async fn mint(
    client: &Client,
    namespace: &str,
    name: &str,
    audiences: &[&str],
    expiration: Option<i64>,
) -> Result<TokenRequest, kube::Error> {
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: audiences.iter().map(|a| a.to_string()).collect(),
            expiration_seconds: expiration,
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<ServiceAccount>::namespaced(client.clone(), namespace)
        .create_token_request(name, &PostParams::default(), &request)
        .await
}

/// A result for assertion messages, without the token itself.
fn describe<T>(result: &Result<T, kube::Error>) -> String {
    match result {
        Ok(_) => "the request succeeded (a token or object was created)".into(),
        Err(e) => format!("{e}"),
    }
}

/// The request was refused (403) by ValidatingAdmissionPolicy `policy`, with a message holding
/// every fragment.
fn assert_refused_by_policy<T>(
    what: &str,
    result: &Result<T, kube::Error>,
    policy: &str,
    fragments: &[&str],
) {
    let Err(kube::Error::Api(status)) = result else {
        panic!(
            "{what}: expected a refusal by {policy}, got: {}",
            describe(result)
        );
    };
    assert_eq!(status.code, 403, "{what}: {status:?}");
    let message = &status.message;
    assert!(
        message.contains(&format!("ValidatingAdmissionPolicy '{policy}'")),
        "{what}: not refused by the chart's policy {policy}: {message}"
    );
    for fragment in fragments {
        assert!(
            message.contains(fragment),
            "{what}: message lacks {fragment:?}: {message}"
        );
    }
}

/// The claims of a JWT (its payload, not its signature).
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    let json = URL_SAFE_NO_PAD.decode(payload).expect("base64url payload");
    serde_json::from_slice(&json).expect("JSON claims")
}

/// Waits until the policy refuses the operator a token for the API server's own audience: that
/// first refusal proves the policy is in force, so later allowed requests prove something.
async fn api_server_token_refused(operator: &Client, namespace: &str, account: &str, policy: &str) {
    let result = eventually(
        "the token policy refusing an API-server token",
        EFFECTIVE_WITHIN,
        || async {
            let result = mint(operator, namespace, account, &[], Some(600)).await;
            match &result {
                Err(kube::Error::Api(s)) if s.message.contains(policy) => Ok(result),
                _ => Err(describe(&result)),
            }
        },
    )
    .await;
    assert_refused_by_policy(
        "a token for the API server's audience",
        &result,
        policy,
        &[
            "may request ServiceAccount tokens only for the single audience api://AzureADTokenExchange",
            &format!("for ServiceAccount {namespace}/{account} asked for audiences ["),
        ],
    );
}

#[tokio::test]
async fn cluster_wide_operator_mints_only_short_lived_azure_tokens() {
    let release = cluster_wide();
    let app = &release.app_namespaces[0];
    let policy = policy_name(release);
    service_account(app, "minted");
    let operator = client_as(&release.namespace, release.name).await;

    api_server_token_refused(&operator, app, "minted", policy).await;

    assert_refused_by_policy(
        "an Azure token for an hour",
        &mint(&operator, app, "minted", &[AZURE], Some(3600)).await,
        policy,
        &["at most 600 seconds (10 minutes)", "asked for 3600 seconds"],
    );
    // Without expirationSeconds the API server defaults it to an hour, which is refused too.
    assert_refused_by_policy(
        "an Azure token without expirationSeconds",
        &mint(&operator, app, "minted", &[AZURE], None).await,
        policy,
        &["at most 600 seconds (10 minutes)", "asked for 3600 seconds"],
    );
    let both = [AZURE, shared().issuer()];
    assert_refused_by_policy(
        "a token for the Azure and the API server's audiences",
        &mint(&operator, app, "minted", &both, Some(600)).await,
        policy,
        &[&format!(
            "asked for audiences [{AZURE}, {}]",
            shared().issuer()
        )],
    );
    // In every namespace, kube-system included.
    service_account("kube-system", "minted-by-helm-test");
    assert_refused_by_policy(
        "an API-server token in kube-system",
        &mint(
            &operator,
            "kube-system",
            "minted-by-helm-test",
            &[],
            Some(600),
        )
        .await,
        policy,
        &["for ServiceAccount kube-system/minted-by-helm-test asked for audiences ["],
    );

    // What vaultsync itself asks for is allowed, and the token is what was asked.
    let minted = mint(&operator, app, "minted", &[AZURE], Some(600)).await;
    let token = match minted {
        Ok(TokenRequest {
            status: Some(status),
            ..
        }) => status.token,
        other => panic!(
            "the Azure token for 600 s was refused: {}",
            describe(&other)
        ),
    };
    let claims = claims(&token);
    assert_eq!(claims["aud"], serde_json::json!([AZURE]));
    assert_eq!(
        claims["sub"],
        format!("system:serviceaccount:{app}:minted").as_str()
    );
    let lifetime = claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat");
    assert!(lifetime <= 600, "the token lives {lifetime} s");

    // Only the operator is limited: the admin still mints an API-server token.
    let admin = shared().client().await.expect("admin client");
    let allowed = mint(&admin, app, "minted", &[], Some(3600)).await;
    assert!(allowed.is_ok(), "admin refused: {}", describe(&allowed));
}

#[tokio::test]
async fn cluster_wide_operator_cannot_create_credential_secrets() {
    let release = cluster_wide();
    let app = &release.app_namespaces[0];
    let policy = policy_name(release);
    service_account(app, "legacy-target");
    let operator = client_as(&release.namespace, release.name).await;
    api_server_token_refused(&operator, app, "legacy-target", policy).await;

    let secrets: Api<Secret> = Api::namespaced(operator, app);
    // A legacy token Secret: the token controller would fill it with a non-expiring API token.
    let legacy = Secret {
        metadata: ObjectMeta {
            name: Some("legacy-token".into()),
            annotations: Some(
                [(
                    "kubernetes.io/service-account.name".to_string(),
                    "legacy-target".to_string(),
                )]
                .into(),
            ),
            ..Default::default()
        },
        type_: Some("kubernetes.io/service-account-token".into()),
        ..Default::default()
    };
    assert_refused_by_policy(
        "a service-account-token Secret",
        &secrets.create(&PostParams::default(), &legacy).await,
        policy,
        &[&format!(
            "may not create or update Secret {app}/legacy-token of type kubernetes.io/service-account-token"
        )],
    );
    let bootstrap = Secret {
        metadata: ObjectMeta {
            name: Some("bootstrap-token-abcdef".into()),
            ..Default::default()
        },
        type_: Some("bootstrap.kubernetes.io/token".into()),
        data: Some(
            [
                ("token-id", "abcdef"),
                ("token-secret", "0123456789abcdef"),
                ("usage-bootstrap-authentication", "true"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
            .collect(),
        ),
        ..Default::default()
    };
    assert_refused_by_policy(
        "a bootstrap token Secret",
        &secrets.create(&PostParams::default(), &bootstrap).await,
        policy,
        &["of type bootstrap.kubernetes.io/token"],
    );
    // The Secrets vaultsync writes are still allowed.
    let opaque = Secret {
        metadata: ObjectMeta {
            name: Some("plain".into()),
            ..Default::default()
        },
        data: Some([("k".to_string(), ByteString(b"v".to_vec()))].into()),
        ..Default::default()
    };
    let created = secrets.create(&PostParams::default(), &opaque).await;
    assert!(created.is_ok(), "Opaque Secret: {}", describe(&created));
}

/// What the README says the policy leaves open in cluster-wide mode: RBAC cannot filter by label,
/// so the operator's token reads any Secret, also one vaultsync never labelled, in kube-system.
#[tokio::test]
async fn cluster_wide_operator_still_reads_every_secret() {
    let release = cluster_wide();
    kubectl_ok(
        &[
            "create",
            "secret",
            "generic",
            "not-vaultsyncs",
            "-n",
            "kube-system",
            "--from-literal=k=v",
        ],
        "",
    );
    let operator = client_as(&release.namespace, release.name).await;
    let read = Api::<Secret>::namespaced(operator, "kube-system")
        .get("not-vaultsyncs")
        .await;
    assert!(
        read.is_ok(),
        "the README documents this read as possible: {}",
        describe(&read)
    );
}

#[tokio::test]
async fn restricted_operator_is_limited_the_same_way() {
    let release = restricted();
    let watched = &release.app_namespaces[0];
    let policy = policy_name(release);
    service_account(watched, "minted");
    let account = object_name(release, "ServiceAccount");
    let operator = client_as(&release.namespace, account).await;

    api_server_token_refused(&operator, watched, "minted", policy).await;
    assert_refused_by_policy(
        "an Azure token for an hour",
        &mint(&operator, watched, "minted", &[AZURE], Some(3600)).await,
        policy,
        &["asked for 3600 seconds"],
    );
    let allowed = mint(&operator, watched, "minted", &[AZURE], Some(600)).await;
    assert!(
        allowed.is_ok(),
        "Azure token refused: {}",
        describe(&allowed)
    );
}

/// The contrast that makes the refusals above mean something: with `tokenPolicy.enabled=false`
/// the same ServiceAccount mints an hour-long API-server token, and the chart renders no policy.
#[tokio::test]
async fn without_the_policy_the_operator_mints_api_server_tokens() {
    let app = new_namespace("nopolicy");
    let watch = format!("watchNamespaces={{{app}}}");
    let release = helm_install(
        "vaultsync-np",
        &["--set", "tokenPolicy.enabled=false", "--set", &watch],
        vec![app.clone()],
    );
    assert!(
        !release
            .objects
            .iter()
            .any(|o| o["kind"] == "ValidatingAdmissionPolicy"),
        "tokenPolicy.enabled=false still installs a policy"
    );
    service_account(&app, "minted");
    let operator = client_as(&release.namespace, object_name(&release, "ServiceAccount")).await;
    let minted = mint(&operator, &app, "minted", &[], Some(3600)).await;
    let token = match minted {
        Ok(TokenRequest {
            status: Some(status),
            ..
        }) => status.token,
        other => panic!(
            "without the policy RBAC alone allows this: {}",
            describe(&other)
        ),
    };
    assert_eq!(
        claims(&token)["aud"],
        serde_json::json!([shared().issuer()])
    );
}
