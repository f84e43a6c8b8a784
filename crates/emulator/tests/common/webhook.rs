//! A scripted webhook on 127.0.0.1 (plain HTTP) for the Event Grid tests: it records every
//! request and answers handshakes and notifications as told.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// One request the webhook received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: Method,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    pub fn is_notification(&self) -> bool {
        self.method == Method::POST && self.header("aeg-event-type") == Some("Notification")
    }
}

/// How the webhook answers.
#[derive(Debug, Clone)]
pub struct Script {
    /// Echo the validationCode (true) or answer 200 with an empty object (false).
    pub echo_validation_code: bool,
    /// `WebHook-Allowed-Origin` to answer an OPTIONS preflight with (none: omit the header).
    pub allowed_origin: Option<String>,
    /// Statuses for the next notifications, in order; 200 once exhausted.
    pub statuses: VecDeque<u16>,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            echo_validation_code: true,
            allowed_origin: Some("eventgrid.azure.net".into()),
            statuses: VecDeque::new(),
        }
    }
}

/// A running webhook.
pub struct Webhook {
    pub url: String,
    pub script: Arc<Mutex<Script>>,
    received: mpsc::UnboundedReceiver<Received>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Webhook {
    pub async fn start(script: Script) -> Webhook {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let script = Arc::new(Mutex::new(script));
        let (tx, received) = mpsc::unbounded_channel();
        let s = script.clone();
        let task = tokio::spawn(async move {
            // Owned here so that stopping the webhook also closes its open connections.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (s, tx) = (s.clone(), tx.clone());
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let (s, tx) = (s.clone(), tx.clone());
                    async move { Ok::<_, std::io::Error>(answer(req, &s, &tx).await) }
                });
                connections.spawn(async move {
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tcp), svc)
                        .await;
                });
            }
        });
        Webhook {
            url,
            script,
            received,
            task,
        }
    }

    /// The next request, waiting up to 10 s.
    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(10), self.received.recv())
            .await
            .expect("a request within 10 s")
            .expect("webhook running")
    }

    /// The next notification (skipping handshakes).
    pub async fn next_notification(&mut self) -> Received {
        loop {
            let r = self.next().await;
            if r.is_notification() {
                return r;
            }
        }
    }

    /// Whatever arrives within `wait`.
    pub async fn drain(&mut self, wait: Duration) -> Vec<Received> {
        let mut out = Vec::new();
        while let Ok(Some(r)) = tokio::time::timeout(wait, self.received.recv()).await {
            out.push(r);
        }
        out
    }
}

async fn answer(
    req: Request<Incoming>,
    script: &Mutex<Script>,
    tx: &mpsc::UnboundedSender<Received>,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(Body::new(body), 1 << 20)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let got = Received {
        method: parts.method.clone(),
        headers: parts.headers.clone(),
        body,
    };
    let _ = tx.send(got.clone());
    let mut script = script.lock().unwrap();
    let mut resp = Response::new(Body::empty());
    if got.method == Method::OPTIONS {
        if let Some(o) = &script.allowed_origin {
            resp.headers_mut()
                .insert("WebHook-Allowed-Origin", o.parse().unwrap());
        }
        return resp;
    }
    if got.header("aeg-event-type") == Some("SubscriptionValidation") {
        let code = got.json()[0]["data"]["validationCode"].clone();
        let answer = if script.echo_validation_code {
            serde_json::json!({"validationResponse": code})
        } else {
            serde_json::json!({})
        };
        *resp.body_mut() = Body::from(answer.to_string());
        return resp;
    }
    let status = script.statuses.pop_front().unwrap_or(200);
    *resp.status_mut() = StatusCode::from_u16(status).unwrap();
    resp
}
