//! The HTTP control surface under `/_emulator/` on the login host, mirroring [`crate::Control`].

mod events;
mod objects;
mod reply;

use super::Control;
use crate::control::seed::{self, AppSpec, FederatedSpec, IssuerSpec, RoleSpec, Seed, VaultSpec};
use crate::entra::EXCHANGE_AUDIENCE;
use crate::errors::json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use objects::{clear_faults, delete_secret, enable_secret, import_cert, set_fault, set_secret};
use reply::{Api, control_error, done, ok, parse};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// Builds the control routes.
pub(crate) fn router(control: Control, ca_pem: &str) -> Router {
    let api = Api {
        control,
        ca_pem: Arc::from(ca_pem),
    };
    Router::new()
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
        .route(
            "/_emulator/eventgrid/subscriptions",
            post(events::subscribe),
        )
        .route(
            "/_emulator/eventgrid/subscriptions/{id}",
            get(events::status).delete(events::unsubscribe),
        )
        .route(
            "/_emulator/eventgrid/subscriptions/{id}/duplicates",
            post(events::duplicates),
        )
        .route(
            "/_emulator/eventgrid/subscriptions/{id}/validate",
            get(events::validate),
        )
        .route("/_emulator/counters", get(counters).delete(reset_counters))
        .route("/_emulator/clock", post(clock))
        .route("/_emulator/entra", post(entra))
        .route("/_emulator/challenge", post(challenge))
        .route("/_emulator/test-issuer/token", post(mint))
        .route("/_emulator/test-issuer/enable", post(enable_test_issuer))
        .route("/_emulator/test-issuer/jwks", get(test_jwks))
        .with_state(api)
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

/// Entra's availability and token lifetime; absent fields are left as they are.
#[derive(Deserialize)]
struct EntraIn {
    unavailable: Option<bool>,
    token_lifetime_secs: Option<i64>,
}

async fn entra(AxState(a): AxState<Api>, body: Bytes) -> Response {
    done(parse::<EntraIn>(&body).map(|e| {
        if let Some(unavailable) = e.unavailable {
            a.control.set_entra_unavailable(unavailable);
        }
        if let Some(secs) = e.token_lifetime_secs {
            a.control.set_token_lifetime(secs);
        }
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
        let aud = m.audience.unwrap_or_else(|| EXCHANGE_AUDIENCE.to_owned());
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
