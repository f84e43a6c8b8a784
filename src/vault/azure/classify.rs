//! Turns Azure SDK errors into [`VaultError`]s: status and service codes only, never bodies
//! that could echo request data.

use std::time::Duration;

use azure_core::error::ErrorKind;

use crate::vault::VaultError;

/// Classifies one failed call on `object` (for example `secret db-password`).
pub fn classify(err: &azure_core::Error, object: &str) -> VaultError {
    match err.kind() {
        ErrorKind::HttpResponse {
            status,
            error_code,
            raw_response,
        } => {
            let status = u16::from(*status);
            let body = raw_response
                .as_ref()
                .and_then(|r| serde_json::from_slice::<serde_json::Value>(r.body().as_ref()).ok());
            let inner = body.as_ref().and_then(|b| {
                b["error"]["innererror"]["code"]
                    .as_str()
                    .map(str::to_string)
            });
            let message = body
                .as_ref()
                .and_then(|b| b["error"]["message"].as_str().map(first_line))
                .unwrap_or_default();
            let code = error_code.clone().unwrap_or_default();
            let detail = format!("HTTP {status} {code}: {message}")
                .trim_end_matches([' ', ':'])
                .to_string();
            match status {
                404 => VaultError::NotFound {
                    object: object.to_string(),
                },
                403 if inner.as_deref() == Some("SecretDisabled")
                    || message.contains("disabled") =>
                {
                    VaultError::Disabled {
                        object: object.to_string(),
                    }
                }
                403 => VaultError::Forbidden { detail },
                401 => VaultError::Authentication { detail },
                429 => VaultError::Throttled {
                    retry_after: raw_response.as_ref().and_then(|r| retry_after(r.headers())),
                },
                400 => VaultError::Invalid { detail },
                _ => VaultError::Unavailable { detail },
            }
        }
        ErrorKind::Credential => VaultError::Authentication {
            detail: error_chain(err),
        },
        _ => VaultError::Unavailable {
            detail: first_line(&err.to_string()),
        },
    }
}

/// The messages of an error and its sources: Entra's AADSTS code sits in an inner error.
fn error_chain(err: &azure_core::Error) -> String {
    let mut parts = vec![first_line(&err.to_string())];
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        let line = first_line(&inner.to_string());
        if !parts.contains(&line) {
            parts.push(line);
        }
        source = inner.source();
    }
    parts.join(": ")
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect()
}

/// Longest Retry-After honoured: a broken or hostile header must not pause a vault for days or
/// overflow a deadline.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

fn retry_after(headers: &azure_core::http::headers::Headers) -> Option<Duration> {
    raw_retry_after(headers).map(|after| after.min(MAX_RETRY_AFTER))
}

fn raw_retry_after(headers: &azure_core::http::headers::Headers) -> Option<Duration> {
    for name in ["retry-after-ms", "x-ms-retry-after-ms"] {
        if let Some(ms) = headers
            .get_optional_str(&azure_core::http::headers::HeaderName::from_static(name))
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            return Some(Duration::from_millis(ms));
        }
    }
    headers
        .get_optional_str(&azure_core::http::headers::HeaderName::from_static(
            "retry-after",
        ))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}
