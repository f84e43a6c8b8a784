//! `POST /{tenant}/oauth2/v2.0/token`: the client-credentials grant with a federated client
//! assertion, answered the way Entra answers it.

use super::refusal::Refusal;
use super::{assertion, scope};
use crate::errors::json;
use crate::ids::{new_version, object_id};
use crate::jwt;
use crate::state::State;
use crate::urlenc;
use axum::response::Response;
use serde_json::json;
use std::sync::atomic::Ordering;

/// Lifetime of issued access tokens, as Entra reports it, unless a test sets another.
pub(crate) const DEFAULT_TOKEN_LIFETIME: i64 = 3599;

/// Handles a token request; counts it as operation "Token".
pub(crate) fn token(state: &State, tenant: &str, body: &[u8]) -> Response {
    let form = urlenc::pairs(&String::from_utf8_lossy(body));
    let client_id = urlenc::get(&form, "client_id").unwrap_or("").to_owned();
    let lifetime = state.token_lifetime.load(Ordering::Relaxed);
    let resp = if state.entra_unavailable.load(Ordering::Relaxed) {
        json(
            503,
            &json!({"error": "temporarily_unavailable",
                "error_description": "AADSTS90033: A transient error has occurred. Please try again.",
                "error_codes": [90033]}),
        )
    } else {
        match exchange(state, tenant, &form, lifetime) {
            Ok(token) => json(
                200,
                &json!({"token_type": "Bearer", "expires_in": lifetime,
                    "ext_expires_in": lifetime, "access_token": token}),
            ),
            Err(r) => r.into_response(state),
        }
    };
    state.count("", "Token", &client_id, resp.status().as_u16());
    resp
}

/// The form fields of a client-assertion request, checked for presence in Entra's order.
struct TokenRequest<'a> {
    client_id: &'a str,
    scope: &'a str,
}

impl<'a> TokenRequest<'a> {
    fn read(form: &'a [(String, String)]) -> Result<TokenRequest<'a>, Refusal> {
        let param = |k: &str| urlenc::get(form, k).filter(|v| !v.is_empty());
        let grant = param("grant_type").ok_or_else(|| Refusal::missing("grant_type"))?;
        if grant != "client_credentials" {
            return Err(Refusal::bad(
                "unsupported_grant_type",
                70003,
                format!("The app requested an unsupported grant type '{grant}'."),
            ));
        }
        Ok(TokenRequest {
            client_id: param("client_id").ok_or_else(|| Refusal::missing("client_id"))?,
            scope: param("scope").ok_or_else(|| Refusal::missing("scope"))?,
        })
    }
}

fn exchange(
    state: &State,
    tenant: &str,
    form: &[(String, String)],
    lifetime: i64,
) -> Result<String, Refusal> {
    let now = state.clock.now();
    if !state.dir().tenants.contains(tenant) {
        return Err(Refusal::unknown_tenant("invalid_request", tenant));
    }
    let req = TokenRequest::read(form)?;
    let resource = scope::resource(req.scope)?;
    if !state.is_vault_audience(resource) || resource.ends_with('/') {
        return Err(Refusal::bad(
            "invalid_resource",
            500011,
            format!(
                "The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."
            ),
        ));
    }
    check_app(state, tenant, req.client_id)?;
    let param = |k: &str| urlenc::get(form, k).filter(|v| !v.is_empty());
    let presented = param("client_assertion").ok_or_else(|| Refusal::client(7000216,
        "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type."))?;
    let atype =
        param("client_assertion_type").ok_or_else(|| Refusal::missing("client_assertion_type"))?;
    let jwt = assertion::parse(presented, atype)?;
    assertion::verify(&state.dir(), req.client_id, &jwt, now)?;
    let valid = (now, now + lifetime);
    Ok(issue(state, tenant, req.client_id, resource, valid))
}

fn check_app(state: &State, tenant: &str, client_id: &str) -> Result<(), Refusal> {
    if state.dir().apps.get(client_id).map(String::as_str) == Some(tenant) {
        return Ok(());
    }
    Err(Refusal::bad(
        "unauthorized_client",
        700016,
        format!(
            "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
        ),
    ))
}

/// Signs the access token for `resource`, valid from `now` until `exp`.
fn issue(
    state: &State,
    tenant: &str,
    client_id: &str,
    resource: &str,
    (now, exp): (i64, i64),
) -> String {
    let oid = object_id(tenant, client_id);
    let claims = json!({
        "aud": resource, "iss": format!("{}/{tenant}/v2.0", state.authority()),
        "iat": now, "nbf": now, "exp": exp,
        "tid": tenant, "appid": client_id, "azp": client_id, "oid": oid, "sub": oid,
        "ver": "2.0", "uti": new_version(),
    });
    jwt::sign_hs256(&state.token_key, &claims)
}
