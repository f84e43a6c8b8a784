//! The validation handshakes Event Grid performs before a webhook subscription becomes active.
//!
//! - Event Grid schema: a POST of `Microsoft.EventGrid.SubscriptionValidationEvent`; the endpoint
//!   answers 200 with `{"validationResponse": "<validationCode>"}`, or later GETs the
//!   `validationUrl` (within 5 minutes).
//! - CloudEvents 1.0: an `OPTIONS` request with `WebHook-Request-Origin: eventgrid.azure.net`; the
//!   endpoint answers 200 with `WebHook-Allowed-Origin` naming that origin or `*`.

use super::payload::validation_event;
use super::send::{Answer, Request, send};
use super::spec::{EventSchema, SubscriptionState};
use super::subscription::Subscription;
use crate::state::State;
use std::sync::Arc;

const ORIGIN: &str = "eventgrid.azure.net";

/// Runs the handshake and records the resulting state.
pub(crate) async fn validate(state: Arc<State>, sub: Arc<Subscription>) {
    let code = sub.begin_validation();
    let outcome = match sub.spec.schema {
        EventSchema::EventGrid => {
            let url = format!(
                "https://127.0.0.1:{}/_emulator/eventgrid/subscriptions/{}/validate?code={code}",
                state.port, sub.id
            );
            let body = validation_event(&sub.spec.vault, &code, &url, state.clock.now());
            send(
                &state,
                &sub,
                Request::Validation(body.to_string().into_bytes()),
            )
            .await
            .map_err(|e| e.to_string())
            .and_then(|a| check_validation_response(&a, &code))
        }
        EventSchema::CloudEvents => send(&state, &sub, Request::Preflight)
            .await
            .map_err(|e| e.to_string())
            .and_then(|a| check_preflight(&a)),
    };
    // A GET of the validationUrl may have activated it meanwhile.
    if sub.is_active() {
        return;
    }
    sub.set_state(match outcome {
        Ok(()) => SubscriptionState::Active,
        Err(reason) => SubscriptionState::Failed(reason),
    });
}

fn check_validation_response(a: &Answer, code: &str) -> Result<(), String> {
    if a.status != 200 {
        return Err(format!(
            "validation event answered {} (expected 200 with validationResponse)",
            a.status
        ));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&a.body).map_err(|_| "validation answer is not JSON".to_owned())?;
    match v.get("validationResponse").and_then(|r| r.as_str()) {
        Some(r) if r == code => Ok(()),
        Some(_) => Err("validationResponse does not match the validationCode".into()),
        None => Err("validation answer has no validationResponse".into()),
    }
}

fn check_preflight(a: &Answer) -> Result<(), String> {
    if a.status != 200 {
        return Err(format!("OPTIONS preflight answered {}", a.status));
    }
    let allowed = a
        .headers
        .get("WebHook-Allowed-Origin")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    match allowed {
        Some(o) if o == "*" || o.eq_ignore_ascii_case(ORIGIN) => Ok(()),
        Some(_) => Err("WebHook-Allowed-Origin does not allow eventgrid.azure.net".into()),
        None => Err("OPTIONS preflight answered without WebHook-Allowed-Origin".into()),
    }
}
