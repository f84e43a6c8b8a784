//! Entra's error responses: an OAuth error, an AADSTS code and its description, wrapped the way
//! Entra wraps them (trace id, correlation id, timestamp).

use crate::clock::format_utc;
use crate::errors::json;
use crate::ids::new_version;
use crate::state::State;
use axum::response::Response;
use serde_json::json;

/// A refusal: HTTP status, OAuth error, AADSTS code, description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: u16,
    pub error: &'static str,
    pub code: u32,
    pub description: String,
}

impl Refusal {
    /// A 400 refusal.
    pub fn bad(error: &'static str, code: u32, description: impl Into<String>) -> Refusal {
        Refusal {
            status: 400,
            error,
            code,
            description: description.into(),
        }
    }

    /// A 401 `invalid_client` refusal.
    pub fn client(code: u32, description: impl Into<String>) -> Refusal {
        Refusal {
            status: 401,
            ..Refusal::bad("invalid_client", code, description)
        }
    }

    /// AADSTS900144: a required form parameter is missing.
    pub fn missing(param: &str) -> Refusal {
        Refusal::bad(
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{param}'."),
        )
    }

    /// AADSTS90002: unknown tenant.
    pub fn unknown_tenant(error: &'static str, tenant: &str) -> Refusal {
        Refusal::bad(
            error,
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        )
    }

    /// The response Entra sends, stamped with the emulator's clock.
    pub fn into_response(self, state: &State) -> Response {
        let (trace, corr, ts) = (new_version(), new_version(), format_utc(state.clock.now()));
        let code = self.code;
        json(
            self.status,
            &json!({
                "error": self.error,
                "error_description": format!("AADSTS{code}: {} Trace ID: {trace} Correlation ID: {corr} Timestamp: {ts}", self.description),
                "error_codes": [code],
                "timestamp": ts,
                "trace_id": trace,
                "correlation_id": corr,
                "error_uri": format!("{}/error?code={code}", state.authority()),
            }),
        )
    }
}
