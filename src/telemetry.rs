//! Structured logging setup and the operator's Prometheus metrics.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

mod catalog;
mod census;
pub mod events;
mod metrics;

pub use catalog::MetricInfo;
pub use census::{Census, MAX_REASONS, OTHER_REASON, PENDING_REASON, Tally};
pub use metrics::{Metrics, ReconcileOutcome};

/// Log output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, for log aggregation in the cluster.
    #[default]
    Json,
    /// Human-readable lines, for local development.
    Text,
}

/// Installs the global tracing subscriber.
///
/// JSON lines carry target, level, timestamp and the fields of the current span and its parents.
/// The filter comes from `RUST_LOG` when set and valid, otherwise from `default_filter`
/// (e.g. `"info,kube=warn"`). Safe to call twice: the second call is a no-op.
pub fn init_logging(format: LogFormat, default_filter: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(default_filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    // `try_init` fails only when a global subscriber already exists; keeping the first one is
    // exactly the idempotence callers rely on, so the error is deliberately discarded.
    let _ = match format {
        LogFormat::Json => builder
            .json()
            // Event fields at the top level keep log queries short (`.secret` not `.fields.secret`).
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
        // Colour codes would corrupt logs collected from a pipe, so only use them on a terminal.
        LogFormat::Text => builder
            .with_ansi(std::io::stdout().is_terminal())
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::{LogFormat, init_logging};

    #[test]
    fn init_logging_twice_is_a_no_op() {
        init_logging(LogFormat::Json, "info,kube=warn");
        init_logging(LogFormat::Text, "not a [valid filter");
        tracing::info!(probe = true, "logging still works after the second init");
    }
}
