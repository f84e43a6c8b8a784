//! Entra ID as the SDKs see it: the token endpoint (client credentials with a federated client
//! assertion), instance discovery and the tenant's OpenID configuration.

mod assertion;
mod discovery;
mod refusal;
mod scope;
pub(crate) mod signing;
mod token;

pub(crate) use assertion::EXCHANGE_AUDIENCE;
pub(crate) use token::DEFAULT_TOKEN_LIFETIME;

use crate::state::State;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::response::Response;
use axum::routing::{get, post};
use std::sync::Arc;

/// The Entra routes of the login host.
pub(crate) fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token_route))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(openid_route),
        )
        .route("/common/discovery/instance", get(instance_route))
        .route("/{tenant}/discovery/v2.0/keys", get(keys_route))
        .with_state(state)
}

async fn token_route(
    AxState(s): AxState<Arc<State>>,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Response {
    token::token(&s, &tenant, &body)
}

async fn openid_route(AxState(s): AxState<Arc<State>>, Path(tenant): Path<String>) -> Response {
    discovery::openid_configuration(&s, &tenant)
}

async fn instance_route(AxState(s): AxState<Arc<State>>, RawQuery(q): RawQuery) -> Response {
    discovery::instance(&s, q.as_deref().unwrap_or(""))
}

/// The signing keys of a tenant (the `jwks_uri` of its OpenID configuration). Counted as
/// operation "Keys".
async fn keys_route(AxState(s): AxState<Arc<State>>, Path(tenant): Path<String>) -> Response {
    let state = s.clone();
    // The key is generated on first use, which takes a while: keep it off the async workers.
    let jwks = tokio::task::spawn_blocking(move || state.entra_key().jwks()).await;
    let resp = match jwks {
        Ok(jwks) => discovery::keys(&s, &tenant, &jwks),
        Err(_) => crate::errors::kv_error(500, "InternalError", "key generation failed"),
    };
    s.count("", "Keys", "", resp.status().as_u16());
    resp
}
