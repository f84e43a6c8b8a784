//! Response helpers: JSON bodies and Azure-shaped `{"error":{"code","message"}}` errors.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

/// A JSON response with the given status.
pub(crate) fn json(status: u16, body: &Value) -> Response {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

/// The Key Vault error envelope.
pub(crate) fn kv_error(status: u16, code: &str, message: &str) -> Response {
    json(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

/// The Key Vault error envelope with an `innererror` code (e.g. SecretDisabled, ForbiddenByRbac).
pub(crate) fn kv_error_inner(status: u16, code: &str, message: &str, inner: &str) -> Response {
    json(
        status,
        &json!({"error": {"code": code, "message": message, "innererror": {"code": inner}}}),
    )
}

/// 400 BadParameter.
pub(crate) fn bad_parameter(message: &str) -> Response {
    kv_error(400, "BadParameter", message)
}

/// A default error code for an injected status.
pub(crate) fn code_for_status(status: u16) -> &'static str {
    match status {
        400 => "BadParameter",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        429 => "Throttled",
        500 => "InternalServerError",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => "Error",
    }
}
