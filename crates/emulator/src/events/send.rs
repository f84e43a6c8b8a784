//! One HTTP request to a subscriber, with the headers Event Grid sends: its `aeg-*` headers, the
//! subscription's delivery attributes and, with Entra authentication, a bearer token.

use super::spec::EventSchema;
use super::subscription::Subscription;
use crate::ids::object_id;
use crate::state::State;
use reqwest::Method;
use serde_json::json;
use std::sync::Arc;

/// Event Grid's first-party application id (`azp`/`appid` of its tokens).
const EVENT_GRID_APP_ID: &str = "4962773b-9cdb-44cf-a8bf-237846a00ab7";
/// Lifetime of the tokens sent to webhooks.
const TOKEN_TTL: i64 = 3600;

/// The request kinds Event Grid makes.
pub(crate) enum Request {
    /// Event Grid schema validation event (`aeg-event-type: SubscriptionValidation`).
    Validation(Vec<u8>),
    /// CloudEvents abuse-protection preflight.
    Preflight,
    /// An event; `delivery_count` is the number of earlier attempts.
    Notification { body: Vec<u8>, delivery_count: u32 },
}

/// The answer: status, headers and body.
pub(crate) struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

/// Why no answer came.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    /// Connecting, TLS, timeout or reading the answer failed.
    #[error("{0}")]
    Transport(String),
}

/// An Entra token for the subscription's audience, cached until 5 minutes before expiry.
async fn entra_token(state: &Arc<State>, sub: &Subscription) -> Option<String> {
    let entra = sub.spec.entra.as_ref()?;
    let now = state.clock.now();
    if let Some(t) = sub.cached_token(now) {
        return Some(t);
    }
    let claims = json!({
        "aud": entra.audience,
        "iss": format!("{}/{}/v2.0", state.authority(), entra.tenant),
        "iat": now, "nbf": now, "exp": now + TOKEN_TTL,
        "tid": entra.tenant, "azp": EVENT_GRID_APP_ID, "appid": EVENT_GRID_APP_ID,
        "oid": object_id(&entra.tenant, EVENT_GRID_APP_ID),
        "sub": object_id(&entra.tenant, EVENT_GRID_APP_ID),
        "roles": ["AzureEventGridSecureWebhookSubscriber"], "ver": "2.0",
    });
    let st = state.clone();
    // Signing (and the first key generation) is CPU work: keep it off the async workers.
    let token = tokio::task::spawn_blocking(move || st.entra_key().sign(&claims))
        .await
        .ok()?;
    sub.cache_token(token.clone(), now + TOKEN_TTL);
    Some(token)
}

/// Sends one request to the subscription's endpoint.
pub(crate) async fn send(
    state: &Arc<State>,
    sub: &Subscription,
    request: Request,
) -> Result<Answer, SendError> {
    let c = &sub.client;
    let endpoint = sub.spec.endpoint.as_str();
    let content_type = match sub.spec.schema {
        EventSchema::EventGrid => "application/json",
        EventSchema::CloudEvents => "application/cloudevents+json; charset=utf-8",
    };
    let mut rb = match request {
        Request::Validation(body) => c
            .post(endpoint)
            .header("aeg-event-type", "SubscriptionValidation")
            .header("aeg-delivery-count", "0")
            .header("content-type", content_type)
            .body(body),
        Request::Preflight => c
            .request(Method::OPTIONS, endpoint)
            .header("WebHook-Request-Origin", "eventgrid.azure.net")
            .header("WebHook-Request-Rate", "120"),
        Request::Notification {
            body,
            delivery_count,
        } => c
            .post(endpoint)
            .header("aeg-event-type", "Notification")
            .header("aeg-delivery-count", delivery_count.to_string())
            .header("content-type", content_type)
            .body(body),
    };
    rb = rb
        .header("aeg-subscription-name", sub.id.as_str())
        .header("aeg-metadata-version", "1")
        .header("aeg-data-version", "1");
    for (k, v) in &sub.spec.delivery_headers {
        rb = rb.header(k.as_str(), v.as_str());
    }
    if let Some(token) = entra_token(state, sub).await {
        rb = rb.bearer_auth(token);
    }
    let resp = rb
        .send()
        .await
        .map_err(|e| SendError::Transport(error_chain(&e)))?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp
        .bytes()
        .await
        .map_err(|e| SendError::Transport(error_chain(&e)))?
        .to_vec();
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// An error with its sources, so "error sending request" says why.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}
