//! Shared pieces of the control handlers: their state, JSON parsing and replies.

use crate::control::{Control, ControlError};
use crate::errors::{json, kv_error};
use axum::response::Response;
use serde_json::json;
use std::sync::Arc;

/// State of the control routes.
#[derive(Clone)]
pub(crate) struct Api {
    pub control: Control,
    pub ca_pem: Arc<str>,
}

/// A refusal response, boxed because `Response` is large.
pub(crate) type Fail = Box<Response>;

/// Parses a JSON body; a 400 BadParameter when it does not fit `T`.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Fail> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(kv_error(
            400,
            "BadParameter",
            &format!("invalid JSON body: {e}"),
        ))
    })
}

/// The reply to a failed control operation.
pub(crate) fn control_error(e: ControlError) -> Fail {
    let (status, code) = match &e {
        ControlError::VaultNotFound(_) => (404, "VaultNotFound"),
        ControlError::NotFound(_) => (404, "NotFound"),
        ControlError::BadParameter(_) => (400, "BadParameter"),
    };
    Box::new(kv_error(status, code, &e.to_string()))
}

/// `{"ok": true}`.
pub(crate) fn ok() -> Response {
    json(200, &json!({"ok": true}))
}

/// Turns a handler result into a response either way.
pub(crate) fn done(r: Result<Response, Fail>) -> Response {
    r.unwrap_or_else(|e| *e)
}
