//! Entra ID as the SDKs see it: the token endpoint (client credentials with a federated client
//! assertion), instance discovery and the tenant's OpenID configuration.

mod assertion;
mod discovery;
mod refusal;
mod scope;
mod token;

pub(crate) use assertion::EXCHANGE_AUDIENCE;

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
