//! The HTTPS listener: a tokio-rustls accept loop (SNI read first, so a vault's connections can be
//! refused), hyper's auto (HTTP/1.1 + HTTP/2) connection builder, and dispatch by Host header.

use crate::kv;
use crate::state::State;
use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rustls::ServerConfig;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::LazyConfigAcceptor;
use tower::ServiceExt;

/// Deadline for a TLS handshake, so stray plain-HTTP or idle sockets never pin a task.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const VAULT_SUFFIX: &str = ".vault.localhost";
/// The host MSAL sends instance discovery to (also named in the serving certificate).
pub(crate) const WORLDWIDE_LOGIN_HOST: &str = "login.microsoftonline.com";

/// Stops the server on [`ServerHandle::shutdown`] or on drop.
pub(crate) struct ServerHandle {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl ServerHandle {
    /// Signals every task to stop and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// Where a request goes, from its host name.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    Vault(String),
    Login,
    Unknown,
}

/// The vault name of a `{vault}.vault.localhost` host (lowercase, port stripped).
fn vault_of(host: &str) -> Option<&str> {
    let name = host.strip_suffix(VAULT_SUFFIX)?;
    (!name.is_empty() && !name.contains('.')).then_some(name)
}

fn target(host: &str) -> Target {
    let host = host.to_ascii_lowercase();
    // Strip a port; IPv6 literals are not served so a plain rsplit is enough.
    let host = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
    if let Some(v) = vault_of(host) {
        return Target::Vault(v.to_owned());
    }
    match host {
        // MSAL asks the worldwide host for instance discovery of any authority it does not
        // know; a client that routes it here gets the emulator's answer.
        "login.localhost" | "localhost" | "127.0.0.1" | WORLDWIDE_LOGIN_HOST => Target::Login,
        _ => Target::Unknown,
    }
}

/// Starts the accept loop on `listener`.
pub(crate) fn spawn(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    state: Arc<State>,
    router: Router,
) -> ServerHandle {
    let (stop, rx) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, config, state, router, rx));
    ServerHandle {
        stop,
        task: Some(task),
    }
}

async fn accept_loop(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    state: Arc<State>,
    router: Router,
    mut rx: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = rx.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    let conn = connection(tcp, config.clone(), state.clone(), router.clone(), rx.clone());
                    tokio::spawn(conn);
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
}

async fn connection(
    tcp: TcpStream,
    config: Arc<ServerConfig>,
    state: Arc<State>,
    router: Router,
    mut rx: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let acceptor = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp);
    let Ok(Ok(start)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor).await else {
        return;
    };
    let sni = start
        .client_hello()
        .server_name()
        .map(str::to_ascii_lowercase);
    if let Some(v) = sni.as_deref().and_then(vault_of)
        && state.faults.refuses(v)
    {
        return; // dropping the socket: the client sees the handshake fail
    }
    let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, start.into_stream(config)).await
    else {
        return;
    };
    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        let (state, router) = (state.clone(), router.clone());
        async move { serve(state, router, req).await }
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(TokioIo::new(tls), svc);
    tokio::select! {
        _ = conn => {}
        _ = rx.changed() => {}
    }
}

async fn serve(
    state: Arc<State>,
    router: Router,
    req: Request<Incoming>,
) -> Result<Response, std::io::Error> {
    // HTTP/2 carries the host in :authority (the URI), HTTP/1.1 in the Host header.
    let host = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            req.headers()
                .get(axum::http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let req = req.map(Body::new);
    match target(&host) {
        Target::Vault(v) => {
            if state.faults.refuses(&v) {
                // An error aborts the connection: clients see a connection failure.
                return Err(std::io::Error::other(
                    "connections to this vault are refused",
                ));
            }
            Ok(kv::handle(state, &v, req).await)
        }
        Target::Login => Ok(router.oneshot(req).await.unwrap_or_else(|e| match e {})),
        Target::Unknown => Ok(crate::errors::kv_error(
            404,
            "NotFound",
            &format!("No such host is known ({host})."),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            target("v1.vault.localhost:8443"),
            Target::Vault("v1".into())
        );
        assert_eq!(target("V1.Vault.Localhost"), Target::Vault("v1".into()));
        assert_eq!(target("a.b.vault.localhost"), Target::Unknown);
        assert_eq!(target("vault.localhost"), Target::Unknown);
        assert_eq!(target("login.localhost:1"), Target::Login);
        assert_eq!(target("127.0.0.1:1"), Target::Login);
        assert_eq!(target("example.com"), Target::Unknown);
        assert_eq!(target("login.microsoftonline.com"), Target::Login);
    }
}
