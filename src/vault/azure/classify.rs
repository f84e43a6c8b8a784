//! Turns Azure SDK errors into [`VaultError`]s: status and service codes only, never bodies
//! that could echo request data.

use std::time::Duration;

use azure_core::error::ErrorKind;

use super::transport::RESPONSE_TOO_LARGE;
use crate::vault::VaultError;

/// Classifies one failed call to the vault at `vault_url`.
pub fn classify(err: &azure_core::Error, vault_url: &str) -> VaultError {
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
                404 => VaultError::NotFound,
                403 if inner.as_deref() == Some("SecretDisabled")
                    || message.contains("disabled") =>
                {
                    VaultError::Disabled
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
        _ if chain(err).iter().any(|l| l.contains(RESPONSE_TOO_LARGE)) => VaultError::TooLarge {
            detail: format!("the vault's {}", first_line(&err.to_string())),
        },
        ErrorKind::Credential => VaultError::Authentication {
            detail: root_cause(err, vault_url),
        },
        _ => VaultError::Unavailable {
            detail: root_cause(err, vault_url),
        },
    }
}

/// Whether the vault itself refused the request's token (HTTP 401 after the challenge), as
/// opposed to Entra refusing to issue one.
pub fn vault_rejected_token(err: &VaultError) -> bool {
    matches!(err, VaultError::Authentication { detail } if detail.starts_with("HTTP 401"))
}

/// Wrappers that say a failure happened without saying which: dropped from messages.
const UNINFORMATIVE: [&str; 3] = [
    "retry policy expired and the request will no longer be retried",
    "non-transport error occurred which will not be retried",
    "client error (Connect)",
];

/// Longest detail kept: a condition message names the cause once and whole, within what an Event
/// note holds.
const MAX_DETAIL_BYTES: usize = 900;

/// The root cause of `err` in one sentence: a network failure names the host and port it could
/// not reach; otherwise the messages of the error and its sources, each said once.
fn root_cause(err: &azure_core::Error, vault_url: &str) -> String {
    let lines = chain(err);
    let endpoint = lines
        .iter()
        .find_map(|line| endpoint_in(line))
        .or_else(|| endpoint_of(vault_url))
        .unwrap_or_else(|| vault_url.to_string());
    let said = |needle: &str| {
        lines
            .iter()
            .any(|l| l.to_ascii_lowercase().contains(needle))
    };
    let detail = if said("connection refused") {
        format!("the connection to {endpoint} was refused")
    } else if said("dns error") || said("failed to lookup address") {
        format!("the host of {endpoint} could not be resolved")
    } else if said("timed out") {
        format!("the connection to {endpoint} timed out")
    } else if said("connection reset") {
        format!("the connection to {endpoint} was reset")
    } else {
        distinct(lines).join(": ")
    };
    cut(detail, MAX_DETAIL_BYTES)
}

/// The messages of an error and its sources, without the uninformative ones.
fn chain(err: &azure_core::Error) -> Vec<String> {
    let mut lines = vec![err.to_string()];
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        lines.push(inner.to_string());
        source = inner.source();
    }
    lines
        .into_iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty() && !UNINFORMATIVE.contains(&l.as_str()))
        .collect()
}

/// Drops every message another one already contains (SDKs repeat an inner error's text in the
/// outer one).
fn distinct(lines: Vec<String>) -> Vec<String> {
    lines
        .iter()
        .enumerate()
        .filter(|(i, line)| {
            !lines.iter().enumerate().any(|(j, other)| {
                *i != j && other.contains(line.as_str()) && (other.len() > line.len() || j < *i)
            })
        })
        .map(|(_, line)| line.clone())
        .collect()
}

/// `host:port` of the URL in a transport message such as `error sending request for url (…)`.
fn endpoint_in(line: &str) -> Option<String> {
    let start = line.find("https://").or_else(|| line.find("http://"))?;
    let url = line[start..].split([' ', ')', '"']).next()?;
    endpoint_of(url)
}

/// `host:port` of `url` (the scheme's port when none is given); never its path or query.
fn endpoint_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    Some(format!(
        "{}:{}",
        parsed.host_str()?,
        parsed.port_or_known_default()?
    ))
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    fn error(kind: ErrorKind, outer: &'static str, inner: Layer) -> azure_core::Error {
        azure_core::Error::with_error(kind, inner, outer)
    }

    #[test]
    fn a_refused_connection_names_host_and_port() {
        let inner = Layer(
            "error sending request for url (https://127.0.0.1:4443/secrets/db?api-version=7.6)",
            Some(Box::new(Layer(
                "tcp connect error: Connection refused (os error 111)",
                None,
            ))),
        );
        let err = error(
            ErrorKind::Io,
            "retry policy expired and the request will no longer be retried",
            inner,
        );
        let VaultError::Unavailable { detail } = classify(&err, "https://v.vault.azure.net/")
        else {
            panic!("a refused connection is unavailability");
        };
        assert_eq!(detail, "the connection to 127.0.0.1:4443 was refused");
    }

    #[test]
    fn a_token_exchange_failure_says_the_aadsts_text_once_and_whole() {
        let aadsts = "AADSTS70021: No matching federated identity record found for presented assertion subject 'system:serviceaccount:a:b'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation Trace ID: 0000 Correlation ID: 1111 Timestamp: 2026-11-30 00:00:00Z";
        let err = error(
            ErrorKind::Credential,
            "ClientAssertionCredential authentication failed",
            Layer(aadsts, None),
        );
        let VaultError::Authentication { detail } = classify(&err, "https://v.vault.azure.net/")
        else {
            panic!("a refused exchange is an authentication failure");
        };
        assert_eq!(detail.matches("AADSTS70021").count(), 1, "{detail}");
        assert!(
            detail.ends_with("Timestamp: 2026-11-30 00:00:00Z"),
            "{detail}"
        );
    }

    #[test]
    fn only_a_401_from_the_vault_is_a_rejected_token() {
        let unauthorized = azure_core::Error::with_message(
            ErrorKind::HttpResponse {
                status: azure_core::http::StatusCode::Unauthorized,
                error_code: Some("Unauthorized".into()),
                raw_response: None,
            },
            "401",
        );
        let rejected = classify(&unauthorized, "https://v.vault.azure.net/");
        assert!(vault_rejected_token(&rejected), "{rejected:?}");
        let exchange = error(
            ErrorKind::Credential,
            "ClientAssertionCredential authentication failed",
            Layer(
                "AADSTS70021: No matching federated identity record found",
                None,
            ),
        );
        let refused = classify(&exchange, "https://v.vault.azure.net/");
        assert!(
            matches!(refused, VaultError::Authentication { .. }) && !vault_rejected_token(&refused),
            "Entra refusing to issue a token is not the vault rejecting one"
        );
        assert!(!vault_rejected_token(&VaultError::NotFound));
    }

    #[test]
    fn messages_contained_in_others_are_said_once() {
        let lines = vec![
            "outer: AADSTS1 text".to_string(),
            "AADSTS1 text".to_string(),
        ];
        assert_eq!(distinct(lines), vec!["outer: AADSTS1 text".to_string()]);
        let same = vec!["x".to_string(), "x".to_string()];
        assert_eq!(distinct(same), vec!["x".to_string()]);
    }
}
