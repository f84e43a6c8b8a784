//! Control-surface handlers for Event Grid subscriptions (mirrors of the `Control` methods), and
//! the `validationUrl` a subscriber may GET to validate an Event Grid schema subscription.

use super::reply::{Api, control_error, done, ok, parse};
use crate::errors::{json, kv_error};
use crate::events::spec::EventSubscription;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxState};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;

pub(crate) async fn subscribe(AxState(a): AxState<Api>, body: Bytes) -> Response {
    done((|| {
        let spec: EventSubscription = parse(&body)?;
        let id = a.control.subscribe_events(spec).map_err(control_error)?;
        Ok(json(200, &json!({"id": id})))
    })())
}

pub(crate) async fn status(AxState(a): AxState<Api>, Path(id): Path<String>) -> Response {
    match a.control.event_subscription(&id) {
        Some(s) => json(200, &serde_json::to_value(s).unwrap_or_default()),
        None => not_found(&id),
    }
}

pub(crate) async fn unsubscribe(AxState(a): AxState<Api>, Path(id): Path<String>) -> Response {
    if a.control.unsubscribe_events(&id) {
        ok()
    } else {
        not_found(&id)
    }
}

#[derive(Deserialize)]
struct DuplicatesIn {
    extra_copies: u32,
}

pub(crate) async fn duplicates(
    AxState(a): AxState<Api>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    done((|| {
        let d: DuplicatesIn = parse(&body)?;
        a.control
            .set_event_duplicates(&id, d.extra_copies)
            .map_err(control_error)?;
        Ok(ok())
    })())
}

pub(crate) async fn validate(
    AxState(a): AxState<Api>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let code = q.get("code").map(String::as_str).unwrap_or("");
    if a.control.validate_event_subscription(&id, code) {
        json(
            200,
            &json!("Webhook successfully validated as a subscription endpoint."),
        )
    } else {
        kv_error(
            400,
            "BadRequest",
            "The validation code is wrong or the validation window has passed.",
        )
    }
}

fn not_found(id: &str) -> Response {
    kv_error(404, "NotFound", &format!("No event subscription {id}."))
}
