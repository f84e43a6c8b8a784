//! The operator's plain-HTTP endpoints: liveness, readiness and Prometheus metrics.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;

use crate::telemetry::Metrics;

/// Content type of the OpenMetrics text exposition format that [`Metrics::encode`] produces.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Readiness flags shared between the controller and the HTTP server.
///
/// Starts not ready, so Kubernetes keeps the pod out of rotation until the controller says its
/// caches are synced.
#[derive(Clone, Debug, Default)]
pub struct Health {
    ready: Arc<AtomicBool>,
}

impl Health {
    /// Marks the operator ready (or not) for `/readyz`.
    pub fn set_ready(&self, ready: bool) {
        // A lone flag with no data published alongside it, so no ordering beyond atomicity needed.
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// Whether `/readyz` currently answers 200.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }
}

#[derive(Clone)]
struct AppState {
    metrics: Metrics,
    health: Health,
}

/// Serves the operator's HTTP endpoints on `listener` until `shutdown` resolves.
///
/// * `GET /healthz`: 200 `ok` while the process runs.
/// * `GET /readyz`: 200 `ok` when [`Health::is_ready`], else 503 `not ready`.
/// * `GET /metrics`: 200 with [`Metrics::encode`] as [`OPENMETRICS_CONTENT_TYPE`].
///
/// Shutdown is graceful: the listener stops accepting and in-flight requests finish first.
pub async fn serve(
    listener: TcpListener,
    metrics: Metrics,
    health: Health,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_handler))
        .with_state(AppState { metrics, health });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.health.is_ready() {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

async fn metrics_handler(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)],
        state.metrics.encode(),
    )
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::oneshot;

    use super::{Health, OPENMETRICS_CONTENT_TYPE, serve};
    use crate::telemetry::{Metrics, ReconcileOutcome};

    /// Sends one GET over a fresh connection and returns (status, lower-cased head, body).
    async fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut raw = String::new();
        stream.read_to_string(&mut raw).await.expect("read");
        let (head, body) = raw.split_once("\r\n\r\n").expect("header terminator");
        let status = head.split(' ').nth(1).expect("status code");
        (
            status.parse().expect("numeric status"),
            head.to_ascii_lowercase(),
            body.to_owned(),
        )
    }

    #[tokio::test]
    async fn endpoints_answer_and_shutdown_is_graceful() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let metrics = Metrics::new();
        metrics.reconcile_finished("VaultSecret", ReconcileOutcome::Success, Duration::ZERO);
        let health = Health::default();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, metrics.clone(), health.clone(), async {
            let _ = stopped.await;
        }));

        assert_eq!(get(addr, "/healthz").await.0, 200);
        let (status, _, body) = get(addr, "/readyz").await;
        assert_eq!((status, body.as_str()), (503, "not ready"));
        health.set_ready(true);
        let (status, _, body) = get(addr, "/readyz").await;
        assert_eq!((status, body.as_str()), (200, "ok"));

        let (status, head, body) = get(addr, "/metrics").await;
        assert_eq!(status, 200);
        let content_type = format!("content-type: {OPENMETRICS_CONTENT_TYPE}");
        assert!(head.contains(&content_type), "{head}");
        assert!(
            body.contains("vaultsync_reconciles_total{kind=\"VaultSecret\""),
            "{body}"
        );
        assert!(body.ends_with("# EOF\n"), "{body}");

        assert_eq!(get(addr, "/nope").await.0, 404);

        stop.send(()).expect("server still running");
        let result = tokio::time::timeout(Duration::from_secs(5), server).await;
        result
            .expect("server stops")
            .expect("task joins")
            .expect("serve ok");
    }
}
