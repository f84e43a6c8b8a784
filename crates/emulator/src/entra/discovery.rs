//! What MSAL reads before its first token request: the instance-discovery document
//! (`GET /common/discovery/instance?api-version=1.1&authorization_endpoint=…`) and the tenant's
//! OpenID configuration, for the emulator's own authority host.
//!
//! MSAL asks the worldwide host (`login.microsoftonline.com`) for instance discovery of any
//! authority it does not know; the emulator answers that host too when a client routes it here,
//! and refuses every authority but its own with `invalid_instance` (AADSTS50049), as Entra does.

use super::refusal::Refusal;
use crate::errors::json;
use crate::state::State;
use crate::urlenc;
use axum::response::Response;
use serde_json::json;

/// Tenant aliases Entra accepts in an authority path.
const TENANT_ALIASES: &[&str] = &["common", "organizations", "consumers"];

/// The instance-discovery document for the emulator's authority; refuses foreign authorities.
/// Counted as operation "InstanceDiscovery".
pub(crate) fn instance(state: &State, query: &str) -> Response {
    let resp = match instance_document(state, &urlenc::pairs(query)) {
        Ok(doc) => json(200, &doc),
        Err(r) => r.into_response(state),
    };
    state.count("", "InstanceDiscovery", "", resp.status().as_u16());
    resp
}

fn instance_document(
    state: &State,
    query: &[(String, String)],
) -> Result<serde_json::Value, Refusal> {
    let endpoint = urlenc::get(query, "authorization_endpoint")
        .filter(|e| !e.is_empty())
        .ok_or_else(|| Refusal::missing("authorization_endpoint"))?;
    let authority = state.authority();
    let tenant = endpoint
        .strip_prefix(&format!("{authority}/"))
        .and_then(|rest| rest.split('/').next())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Refusal::bad("invalid_instance", 50049, "Unknown or invalid instance."))?;
    let host = authority.trim_start_matches("https://");
    Ok(json!({
        "tenant_discovery_endpoint": format!("{authority}/{tenant}/v2.0/.well-known/openid-configuration"),
        "api-version": "1.1",
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
    }))
}

/// OpenID configuration of a tenant (v2.0 endpoints); unknown tenants get AADSTS90002. Counted
/// as operation "OpenIdConfiguration".
pub(crate) fn openid_configuration(state: &State, tenant: &str) -> Response {
    let resp = openid_document(state, tenant);
    state.count("", "OpenIdConfiguration", "", resp.status().as_u16());
    resp
}

fn openid_document(state: &State, tenant: &str) -> Response {
    let known = TENANT_ALIASES.contains(&tenant) || state.dir().tenants.contains(tenant);
    if !known {
        return Refusal::unknown_tenant("invalid_tenant", tenant).into_response(state);
    }
    let authority = state.authority();
    let base = format!("{authority}/{tenant}");
    // Entra names the issuer with a placeholder for the multi-tenant aliases.
    let issuer_tenant = if TENANT_ALIASES.contains(&tenant) {
        "{tenantid}"
    } else {
        tenant
    };
    json(
        200,
        &json!({
            "issuer": format!("{authority}/{issuer_tenant}/v2.0"),
            "token_endpoint": format!("{base}/oauth2/v2.0/token"),
            "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
            "device_authorization_endpoint": format!("{base}/oauth2/v2.0/devicecode"),
            "end_session_endpoint": format!("{base}/oauth2/v2.0/logout"),
            "jwks_uri": format!("{base}/discovery/v2.0/keys"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "login.localhost",
        }),
    )
}

/// The JWKS of a known tenant (or alias); unknown tenants get AADSTS90002.
pub(crate) fn keys(state: &State, tenant: &str, jwks: &serde_json::Value) -> Response {
    let known = TENANT_ALIASES.contains(&tenant) || state.dir().tenants.contains(tenant);
    if !known {
        return Refusal::unknown_tenant("invalid_tenant", tenant).into_response(state);
    }
    json(200, jwks)
}
