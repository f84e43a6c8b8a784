//! The HTTP side of the push endpoint: handshakes, authentication, size limits and rate limits,
//! then parsing and handing [`ObjectChanged`] values to the sink.
//!
//! Order of checks on every request: per-sender rate limit (429; only refused requests charge
//! it), then for a POST the declared size (413), the credentials (401: nothing of the body is
//! read before), the body within the size limit (413), its JSON (400). A CloudEvents `OPTIONS` handshake is answered without
//! credentials because it reads nothing and triggers nothing; only authenticated requests count
//! towards [`PushHealth`].

use super::entra::{EntraCheck, TokenRejection};
use super::event::{ObjectChanged, Parsed, parse_body};
use super::health::PushHealth;
use super::rate::RateLimiter;
use super::secret::SecretCheck;
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The peer address of a connection, set by the listener.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// Everything a request needs.
pub(crate) struct Endpoint {
    pub secret: Option<SecretCheck>,
    pub entra: Option<EntraCheck>,
    pub rate: RateLimiter,
    pub max_body_bytes: usize,
    pub sink: mpsc::Sender<ObjectChanged>,
    pub sink_timeout: Duration,
    pub health: PushHealth,
}

/// The router: every path answers, so the subscription's endpoint URL may use any path.
pub(crate) fn router(endpoint: Arc<Endpoint>) -> Router {
    Router::new().fallback(handle).with_state(endpoint)
}

fn status(code: StatusCode) -> Response {
    code.into_response()
}

async fn handle(State(ep): State<Arc<Endpoint>>, req: Request) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<PeerAddr>>()
        .map(|c| c.0.0.ip());
    if !ep.rate.admits(peer, Instant::now()) {
        let mut r = status(StatusCode::TOO_MANY_REQUESTS);
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    }
    let resp = match *req.method() {
        Method::OPTIONS => preflight(&ep, req.headers()).await,
        Method::POST => delivery(&ep, req).await,
        _ => status(StatusCode::METHOD_NOT_ALLOWED),
    };
    if resp.status().is_client_error() {
        ep.rate.charge(peer, Instant::now());
    }
    resp
}

/// The CloudEvents abuse-protection handshake: allow the requesting origin.
async fn preflight(ep: &Endpoint, headers: &HeaderMap) -> Response {
    let Some(origin) = headers.get("webhook-request-origin").cloned() else {
        return status(StatusCode::BAD_REQUEST);
    };
    if authenticate(ep, headers).await.is_ok() {
        ep.health.record();
    }
    let mut r = status(StatusCode::OK);
    r.headers_mut().insert("webhook-allowed-origin", origin);
    r.headers_mut()
        .insert("webhook-allowed-rate", HeaderValue::from_static("*"));
    r
}

/// Checks every configured credential; the status to answer when one fails.
async fn authenticate(ep: &Endpoint, headers: &HeaderMap) -> Result<(), StatusCode> {
    if let Some(secret) = &ep.secret
        && !secret.verify(headers)
    {
        tracing::debug!("push request refused: shared secret missing or wrong");
        return Err(StatusCode::UNAUTHORIZED);
    }
    if let Some(entra) = &ep.entra {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            });
        let Some(bearer) = bearer else {
            tracing::debug!("push request refused: no bearer token");
            return Err(StatusCode::UNAUTHORIZED);
        };
        match entra.verify(bearer.trim()).await {
            Ok(()) => {}
            Err(e @ TokenRejection::Invalid(_)) => {
                tracing::debug!(reason = %e, "push request refused");
                return Err(StatusCode::UNAUTHORIZED);
            }
            // Event Grid retries a 503 later; a 401 would make it drop the event.
            Err(e @ TokenRejection::KeysUnavailable(_)) => {
                tracing::warn!(error = %e, "push request not verified");
                return Err(StatusCode::SERVICE_UNAVAILABLE);
            }
        }
    }
    Ok(())
}

fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

async fn delivery(ep: &Endpoint, req: Request) -> Response {
    if declared_length(req.headers()).is_some_and(|n| n > ep.max_body_bytes) {
        return status(StatusCode::PAYLOAD_TOO_LARGE);
    }
    if let Err(code) = authenticate(ep, req.headers()).await {
        return status(code);
    }
    let json_like = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| ct.to_ascii_lowercase().contains("json"));
    if !json_like {
        return status(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
    let Ok(body) = to_bytes(req.into_body(), ep.max_body_bytes).await else {
        return status(StatusCode::PAYLOAD_TOO_LARGE);
    };
    let Some(events) = parse_body(&body) else {
        return status(StatusCode::BAD_REQUEST);
    };
    ep.health.record();
    for event in events {
        match event {
            Parsed::Validation(code) => {
                let body = json!({"validationResponse": code}).to_string();
                let mut r = Response::new(Body::from(body));
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                return r;
            }
            Parsed::Changed(change) => {
                if ep.sink.send_timeout(change, ep.sink_timeout).await.is_err() {
                    // Full for too long or closed: Event Grid delivers again later.
                    return status(StatusCode::SERVICE_UNAVAILABLE);
                }
            }
            Parsed::Ignored => {}
        }
    }
    status(StatusCode::OK)
}
