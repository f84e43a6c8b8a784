//! Data-plane authentication (Bearer tokens issued by this emulator's Entra endpoint, with the
//! Key Vault challenge) and authorization (RBAC role assignments).

use super::route::Route;
use crate::errors::{json, kv_error_inner};
use crate::ids::object_id;
use crate::jwt::Jwt;
use crate::state::{State, VAULT_RESOURCE, Vault};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use serde_json::json;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub client_id: String,
    pub oid: String,
}

/// 401 with the Key Vault challenge pointing at the vault's tenant.
fn unauthorized(state: &State, vault: &Vault, message: &str) -> Response {
    let mut r = json(
        401,
        &json!({"error": {"code": "Unauthorized", "message": message}}),
    );
    let challenge = format!(
        "Bearer authorization=\"{}/{}\", resource=\"{}\"",
        state.authority(),
        vault.tenant,
        state.challenge_resource()
    );
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

/// Checks the `Authorization` header; the error is the 401 to send.
pub(crate) fn authenticate(
    state: &State,
    vault: &Vault,
    headers: &HeaderMap,
) -> Result<Caller, Box<Response>> {
    let deny = |m: &str| Box::new(unauthorized(state, vault, m));
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let token = match auth.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => {
            t.trim()
        }
        _ => return Err(deny("AKV10000: Request is missing a Bearer or PoP token.")),
    };
    let jwt = Jwt::parse(token).ok_or_else(|| {
        deny("AKV10001: Unable to parse the bearer token: it is not a well-formed JWT.")
    })?;
    if !jwt.verify_hs256(&state.token_key) {
        return Err(deny("AKV10005: Token signature validation failed."));
    }
    let aud = jwt.claim_str("aud").unwrap_or("");
    if !state.is_vault_audience(aud) {
        return Err(deny(&format!(
            "AKV10022: Invalid audience. Expected {VAULT_RESOURCE}, found: {aud}."
        )));
    }
    let expected_iss = format!("{}/{}/v2.0", state.authority(), vault.tenant);
    let iss = jwt.claim_str("iss").unwrap_or("");
    if iss != expected_iss || jwt.claim_str("tid") != Some(vault.tenant.as_str()) {
        return Err(deny(&format!(
            "AKV10032: Invalid issuer. Expected one of {expected_iss}, found {iss}."
        )));
    }
    let now = state.clock.now();
    let exp = jwt.claim_i64("exp").unwrap_or(0);
    if exp <= now {
        return Err(deny(&format!(
            "AKV10020: Token expired. Expiry: {}, current time: {}.",
            crate::clock::format_utc(exp),
            crate::clock::format_utc(now)
        )));
    }
    if jwt.claim_i64("nbf").is_some_and(|n| n > now + 300) {
        return Err(deny("AKV10021: Token is not yet valid."));
    }
    let client_id = jwt.claim_str("appid").unwrap_or("").to_owned();
    let oid = jwt
        .claim_str("oid")
        .map(str::to_owned)
        .unwrap_or_else(|| object_id(&vault.tenant, &client_id));
    Ok(Caller { client_id, oid })
}

/// Checks the caller's role assignment for the route; the error is the 403 to send.
pub(crate) fn authorize(
    state: &State,
    vault: &Vault,
    caller: &Caller,
    route: &Route,
) -> Result<(), Box<Response>> {
    let allowed = state
        .dir()
        .roles
        .get(&(caller.client_id.clone(), vault.name.clone()))
        .is_some_and(|p| route.allowed_by(p));
    if allowed {
        return Ok(());
    }
    let resource = format!(
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/vaultsync-emulator/providers/microsoft.keyvault/vaults/{}{}",
        vault.name,
        route.resource()
    );
    let message = format!(
        "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid={};oid={};iss={}/{}/v2.0\r\nAction: '{}'\r\nResource: '{resource}'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\nDecisionReason: null \r\nVault: {};location=localhost\r\n",
        caller.client_id,
        caller.oid,
        state.authority(),
        vault.tenant,
        route.action(),
        vault.name,
    );
    Err(Box::new(kv_error_inner(
        403,
        "Forbidden",
        &message,
        "ForbiddenByRbac",
    )))
}
