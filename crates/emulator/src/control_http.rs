//! Routes of the login host: the Entra endpoints and the HTTP control surface under
//! `/_emulator/`, which mirrors [`crate::Control`].

use crate::control::{Control, ControlError};
use crate::control_http_objects::{
    clear_faults, delete_secret, enable_secret, import_cert, set_fault, set_secret,
};
use crate::entra;
use crate::errors::{json, kv_error};
use crate::seed::{self, AppSpec, FederatedSpec, IssuerSpec, RoleSpec, Seed, VaultSpec};
use crate::state::State;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// State of the login-host routes.
#[derive(Clone)]
pub(crate) struct Api {
    state: Arc<State>,
    pub control: Control,
    ca_pem: Arc<str>,
}

/// Builds the router of the login host.
pub(crate) fn router(state: Arc<State>, control: Control, ca_pem: &str) -> Router {
    let api = Api {
        state,
        control,
        ca_pem: Arc::from(ca_pem),
    };
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(openid),
        )
        .route("/_emulator/health", get(|| async { "ok" }))
        .route("/_emulator/ca", get(ca))
        .route("/_emulator/seed", post(seed_all))
        .route("/_emulator/vaults", post(create_vault))
        .route("/_emulator/issuers", post(trust_issuer))
        .route("/_emulator/apps", post(register_app))
        .route("/_emulator/federated-credentials", post(federated))
        .route("/_emulator/role-assignments", post(role).delete(revoke))
        .route(
            "/_emulator/vaults/{vault}/secrets/{name}",
            put(set_secret)
                .post(set_secret)
                .patch(enable_secret)
                .delete(delete_secret),
        )
        .route(
            "/_emulator/vaults/{vault}/certificates/{name}",
            post(import_cert),
        )
        .route(
            "/_emulator/vaults/{vault}/faults",
            post(set_fault).delete(clear_faults),
        )
        .route("/_emulator/counters", get(counters).delete(reset_counters))
        .route("/_emulator/clock", post(clock))
        .route("/_emulator/challenge", post(challenge))
        .route("/_emulator/test-issuer/token", post(mint))
        .route("/_emulator/test-issuer/enable", post(enable_test_issuer))
        .route("/_emulator/test-issuer/jwks", get(test_jwks))
        .fallback(|| async { kv_error(404, "NotFound", "No such endpoint.") })
        .with_state(api)
}

/// A refusal response, boxed because `Response` is large.
pub(crate) type Fail = Box<Response>;

pub(crate) fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Fail> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(kv_error(
            400,
            "BadParameter",
            &format!("invalid JSON body: {e}"),
        ))
    })
}

pub(crate) fn control_error(e: ControlError) -> Fail {
    let (status, code) = match &e {
        ControlError::VaultNotFound(_) => (404, "VaultNotFound"),
        ControlError::NotFound(_) => (404, "NotFound"),
        ControlError::BadParameter(_) => (400, "BadParameter"),
    };
    Box::new(kv_error(status, code, &e.to_string()))
}

pub(crate) fn ok() -> Response {
    json(200, &json!({"ok": true}))
}

/// Turns a handler result into a response either way.
pub(crate) fn done(r: Result<Response, Fail>) -> Response {
    r.unwrap_or_else(|e| *e)
}

async fn token(AxState(a): AxState<Api>, Path(tenant): Path<String>, body: Bytes) -> Response {
    entra::token(&a.state, &tenant, &body)
}

async fn openid(AxState(a): AxState<Api>, Path(tenant): Path<String>) -> Response {
    entra::openid_configuration(&a.state, &tenant)
}

async fn ca(AxState(a): AxState<Api>) -> Response {
    a.ca_pem.to_string().into_response()
}

async fn seed_all(AxState(a): AxState<Api>, body: Bytes) -> Response {
    done((|| {
        let s: Seed = parse(&body)?;
        seed::apply_seed(&a.control, &s).map_err(control_error)?;
        Ok(ok())
    })())
}

async fn create_vault(AxState(a): AxState<Api>, body: Bytes) -> Response {
    done(parse::<VaultSpec>(&body).map(|v| {
        a.control.create_vault(&v.name, &v.tenant);
        ok()
    }))
}

async fn trust_issuer(AxState(a): AxState<Api>, body: Bytes) -> Response {
    done((|| {
        let i: IssuerSpec = parse(&body)?;
        let jwks = seed::jwks_text(&i.jwks);
        a.control
            .trust_issuer(&i.issuer, &jwks)
            .map_err(control_error)?;
        Ok(ok())
    })())
}

async fn register_app(AxState(a): AxState<Api>, body: Bytes) -> Response {
    done(parse::<AppSpec>(&body).map(|s| {
        a.control.register_app(&s.tenant, &s.client_id);
        ok()
    }))
}

async fn federated(AxState(a): AxState<Api>, body: Bytes) -> Response {
    done(parse::<FederatedSpec>(&body).map(|f| {
        let issuer = f
            .issuer
            .unwrap_or_else(|| a.control.test_issuer().to_owned());
        a.control
            .add_federated_credential(&f.client_id, &issuer, &f.subject);
        ok()
    }))
}

async fn role(AxState(a): AxState<Api>, body: Bytes) -> Response {
    done(parse::<RoleSpec>(&body).map(|r| {
        a.control
            .assign_role(&r.client_id, &r.vault, &r.permissions);
        ok()
    }))
}

async fn revoke(AxState(a): AxState<Api>, body: Bytes) -> Response {
    done(parse::<RoleSpec>(&body).map(|r| {
        a.control.revoke_roles(&r.client_id, &r.vault);
        ok()
    }))
}

async fn counters(AxState(a): AxState<Api>) -> Response {
    json(200, &a.control.counters().to_json())
}

async fn reset_counters(AxState(a): AxState<Api>) -> Response {
    a.control.reset_counters();
    ok()
}

#[derive(Deserialize)]
struct ClockIn {
    advance_secs: i64,
}

async fn clock(AxState(a): AxState<Api>, body: Bytes) -> Response {
    done(parse::<ClockIn>(&body).map(|c| {
        let offset = a.control.advance_clock(c.advance_secs);
        json(200, &json!({"offset": offset, "now": a.control.now()}))
    }))
}

#[derive(Deserialize)]
struct ChallengeIn {
    include_port: bool,
}

async fn challenge(AxState(a): AxState<Api>, body: Bytes) -> Response {
    done(parse::<ChallengeIn>(&body).map(|c| {
        a.control.set_challenge_resource_port(c.include_port);
        ok()
    }))
}

#[derive(Deserialize)]
struct MintIn {
    subject: String,
    audience: Option<String>,
    expires_in: Option<i64>,
}

async fn mint(AxState(a): AxState<Api>, body: Bytes) -> Response {
    done(parse::<MintIn>(&body).map(|m| {
        let aud = m
            .audience
            .unwrap_or_else(|| entra::EXCHANGE_AUDIENCE.to_owned());
        let t = a
            .control
            .mint_test_token(&m.subject, &aud, m.expires_in.unwrap_or(3600));
        json(200, &json!({"token": t, "issuer": a.control.test_issuer()}))
    }))
}

async fn enable_test_issuer(AxState(a): AxState<Api>) -> Response {
    a.control.enable_test_issuer();
    json(200, &json!({"issuer": a.control.test_issuer()}))
}

async fn test_jwks(AxState(a): AxState<Api>) -> Response {
    json(
        200,
        &serde_json::from_str(&a.control.test_issuer_jwks()).unwrap_or_default(),
    )
}
