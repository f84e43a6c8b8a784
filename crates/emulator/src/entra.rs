//! Entra ID token endpoint (`POST /{tenant}/oauth2/v2.0/token`): the client-credentials grant
//! with a federated client assertion (a Kubernetes ServiceAccount token), answered and refused
//! the way Entra does, with its AADSTS codes.

use crate::clock::format_utc;
use crate::errors::json;
use crate::jwt::{self, Jwt, SigError};
use crate::state::State;
use crate::urlenc;
use axum::response::Response;
use serde_json::json;

/// Audience a federated assertion must carry.
pub(crate) const EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";
/// The resource (token audience) of Key Vault in this emulator.
pub(crate) const VAULT_RESOURCE: &str = "https://vault.localhost";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Lifetime of issued access tokens, as Entra reports it.
const TOKEN_TTL: i64 = 3599;

/// A refusal: HTTP status, OAuth error, AADSTS code, description.
struct Refusal(u16, &'static str, u32, String);

fn refuse(state: &State, r: Refusal) -> Response {
    let Refusal(status, error, code, desc) = r;
    let now = state.clock.now();
    let trace = crate::kv::store::new_version();
    let corr = crate::kv::store::new_version();
    let ts = format_utc(now);
    json(
        status,
        &json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {desc} Trace ID: {trace} Correlation ID: {corr} Timestamp: {ts}"),
            "error_codes": [code],
            "timestamp": ts,
            "trace_id": trace,
            "correlation_id": corr,
            "error_uri": format!("{}/error?code={code}", state.authority()),
        }),
    )
}

fn missing(param: &str) -> Refusal {
    Refusal(
        400,
        "invalid_request",
        900144,
        format!("The request body must contain the following parameter: '{param}'."),
    )
}

/// A stable object id for an app in a tenant, formatted as a GUID.
pub(crate) fn object_id(tenant: &str, client_id: &str) -> String {
    let d = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{tenant}/{client_id}").as_bytes(),
    );
    let h = hex::encode(&d.as_ref()[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Handles a token request; counts it as operation "Token".
pub(crate) fn token(state: &State, tenant: &str, body: &[u8]) -> Response {
    let form = urlenc::pairs(&String::from_utf8_lossy(body));
    let client_id = urlenc::get(&form, "client_id").unwrap_or("").to_owned();
    let resp = match exchange(state, tenant, &form) {
        Ok(token) => json(
            200,
            &json!({"token_type": "Bearer", "expires_in": TOKEN_TTL,
                "ext_expires_in": TOKEN_TTL, "access_token": token}),
        ),
        Err(r) => refuse(state, r),
    };
    state.count("", "Token", &client_id, resp.status().as_u16());
    resp
}

fn exchange(state: &State, tenant: &str, form: &[(String, String)]) -> Result<String, Refusal> {
    let now = state.clock.now();
    if !state.dir().tenants.contains(tenant) {
        return Err(Refusal(
            400,
            "invalid_request",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        ));
    }
    let param = |k: &str| urlenc::get(form, k).filter(|v| !v.is_empty());
    let grant = param("grant_type").ok_or_else(|| missing("grant_type"))?;
    if grant != "client_credentials" {
        return Err(Refusal(
            400,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant}'."),
        ));
    }
    let client_id = param("client_id").ok_or_else(|| missing("client_id"))?;
    let scope = param("scope").ok_or_else(|| missing("scope"))?;
    let resource = scope.strip_suffix("/.default").unwrap_or("");
    if !state.is_vault_audience(resource) || resource.ends_with('/') {
        return Err(match scope.strip_suffix("/.default") {
            Some(resource) => Refusal(
                400,
                "invalid_resource",
                500011,
                format!(
                    "The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."
                ),
            ),
            None => Refusal(
                400,
                "invalid_scope",
                70011,
                format!(
                    "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
                ),
            ),
        });
    }
    if state.dir().apps.get(client_id).map(String::as_str) != Some(tenant) {
        return Err(Refusal(
            400,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        ));
    }
    let assertion = param("client_assertion").ok_or_else(|| Refusal(401, "invalid_client", 7000216,
        "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.".into()))?;
    let atype = param("client_assertion_type").ok_or_else(|| missing("client_assertion_type"))?;
    if atype != ASSERTION_TYPE {
        return Err(Refusal(
            400,
            "invalid_request",
            50027,
            format!("Invalid client_assertion_type '{atype}'; expected '{ASSERTION_TYPE}'."),
        ));
    }
    let jwt = Jwt::parse(assertion).ok_or_else(|| {
        Refusal(
            400,
            "invalid_request",
            50027,
            "JWT token is invalid or malformed.".into(),
        )
    })?;
    verify_assertion(state, client_id, &jwt, now)?;
    let oid = object_id(tenant, client_id);
    let claims = json!({
        "aud": resource, "iss": format!("{}/{tenant}/v2.0", state.authority()),
        "iat": now, "nbf": now, "exp": now + TOKEN_TTL,
        "tid": tenant, "appid": client_id, "azp": client_id, "oid": oid, "sub": oid,
        "ver": "2.0", "uti": crate::kv::store::new_version(),
    });
    Ok(jwt::sign_hs256(&state.token_key, &claims))
}

fn verify_assertion(state: &State, client_id: &str, jwt: &Jwt, now: i64) -> Result<(), Refusal> {
    let iss = jwt.claim_str("iss").unwrap_or("");
    let sub = jwt.claim_str("sub").unwrap_or("");
    let auds = jwt.audiences();
    let dir = state.dir();
    let fic = (client_id.to_owned(), iss.to_owned(), sub.to_owned());
    let jwks = dir.issuers.get(iss);
    if jwks.is_none() || !dir.federated.contains(&fic) {
        return Err(Refusal(
            400,
            "invalid_request",
            70021,
            format!(
                "No matching federated identity record found for presented assertion. Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: '{}'. https://learn.microsoft.com/entra/workload-id/workload-identity-federation",
                auds.join(",")
            ),
        ));
    }
    if !auds.iter().any(|a| a == EXCHANGE_AUDIENCE) {
        return Err(Refusal(
            400,
            "invalid_request",
            700212,
            format!(
                "No matching federated identity record found for presented assertion audience '{}'. Please note that the matching is done using a case-sensitive comparison. Check your federated identity credential Audience property.",
                auds.join(",")
            ),
        ));
    }
    let jwk = jwks
        .and_then(|j| jwt::find_jwk(j, jwt.kid()))
        .ok_or_else(|| {
            Refusal(
                401,
                "invalid_client",
                700027,
                "Client assertion failed signature validation. (Reason - The key was not found.)"
                    .into(),
            )
        })?;
    match jwt.verify_jwk(jwk) {
        Ok(()) => {}
        Err(SigError::UnsupportedKey) => {
            return Err(Refusal(
                401,
                "invalid_client",
                700027,
                format!(
                    "Client assertion failed signature validation. (Reason - The key or algorithm '{}' is not supported.)",
                    jwt.alg()
                ),
            ));
        }
        Err(SigError::BadSignature) => {
            return Err(Refusal(
                401,
                "invalid_client",
                50012,
                "Client assertion contains an invalid signature.".into(),
            ));
        }
    }
    let exp = jwt.claim_i64("exp");
    let nbf = jwt.claim_i64("nbf").unwrap_or(i64::MIN);
    if exp.is_none_or(|e| e <= now) || nbf > now {
        return Err(Refusal(
            401,
            "invalid_client",
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}.",
                format_utc(now),
                if nbf == i64::MIN {
                    "unset".into()
                } else {
                    format_utc(nbf)
                },
                exp.map_or("unset".into(), format_utc),
            ),
        ));
    }
    Ok(())
}

/// OpenID discovery document for a tenant (clients that do tenant discovery read it).
pub(crate) fn openid_configuration(state: &State, tenant: &str) -> Response {
    let base = format!("{}/{tenant}", state.authority());
    json(
        200,
        &json!({
            "issuer": format!("{base}/v2.0"),
            "token_endpoint": format!("{base}/oauth2/v2.0/token"),
            "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
            "device_authorization_endpoint": format!("{base}/oauth2/v2.0/devicecode"),
            "jwks_uri": format!("{base}/discovery/v2.0/keys"),
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "tenant_region_scope": "EU",
        }),
    )
}
